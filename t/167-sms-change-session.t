#!/usr/bin/perl

# Another phone number for a user with a factor (SPEC 6.14, invariant
# 14): the code texted to it is decided by sms_attempt.lua only within
# the browser's session, its code within otp_fresh, checked as the
# number is stored.  A session revoked, or gone stale, while the text
# was on its way changes nothing: the browser steps up, the old number
# stays, the challenge is not consumed, no failure is counted.  The
# same steps from a fresh session store the number.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field cookie_value);
use OtpAttack qw(users);
use OtpSms qw(code_of path_of);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice bob));
$t->private_site;
$t->run_redis;

my $prov = OtpSms->new($t)->start;

$t->write_conf(OtpTest::servers_conf(
    key     => $key,
    http    => "otp_fresh 5m;",
    common  => OtpTest::site_locations() . $prov->location,
    servers => [[ '%%PORT%%', "otp_methods totp sms;\n"
                              . "otp_sms_provider /_otp_sms;\n"
                              . "otp_sms_resend_delay 0;" ]],
));
$t->run_nginx;
$t->wait_redis_ready;

my $ret = '/private/index.html';

# a signed-in user asks for a code at another number; the challenge
# page's form token and the code texted
sub ask {
    my ($user) = @_;
    my $f = OtpFlow->new($t, user => $user);
    $f->enroll;
    my $r = $f->verify(time => time + 30);
    my $page = $f->get("/_otp/sms?r=$ret");
    is($page->{status}, 200, "$user: the phone page within the session");
    $prov->clear;
    $r = $f->post('sms', { csrf => form_field($page->{content}, 'csrf'),
                           return => $ret, phone => '+15555550100' });
    is($r->{status}, 303, "$user: the new number gets a code");
    my @req = $prov->wait_requests(1);
    $page = $f->get(path_of($r->{headers}{location}));
    return ($f, form_field($page->{content}, 'csrf'), code_of($req[0]));
}

sub verify_sms {
    my ($f, $csrf, $code) = @_;
    return $f->post('verify', { csrf => $csrf, code => $code,
                                method => 'sms', return => $ret });
}

sub challenges {
    my ($user) = @_;
    return scalar @{ $t->redis('KEYS', okey('c', $user, '*')) };
}

for my $case (
    [ 'revoked (a new generation)',
      sub { $t->redis('HINCRBY', okey('u', 'alice'), 'gen', 1) } ],
    [ 'gone stale (its code older than otp_fresh)',
      sub {
          for my $s (@{ $t->redis('SMEMBERS', okey('su', 'alice')) }) {
              $t->redis('HSET', $s, a => time - 600);
          }
      } ])
{
    my ($alice, $csrf, $code) = ask('alice');
    my $n = challenges('alice');
    $case->[1]->();
    my $r = verify_sms($alice, $csrf, $code);
    like($r->{headers}{location} // '', qr{/_otp/challenge},
         "session $case->[0] while the text was sent: step-up");
    ok(!cookie_value($r, 'otp_session'), '... no new session');
    ok(!$t->redis('HEXISTS', okey('u', 'alice'), 'phone'),
       '... no number stored');
    is(challenges('alice'), $n, '... the challenge not consumed');
    is($t->redis('GET', okey('f', 'alice')) // 0, 0,
       '... no failure counted');
    $t->redis('DEL', okey('u', 'alice'), okey('t', 'alice'));
}

my ($bob, $csrf, $code) = ask('bob');
my $r = verify_sms($bob, $csrf, $code);
is($r->{status}, 303, 'a fresh session: the code signs in');
ok(cookie_value($r, 'otp_session'), '... with a new session');
ok($t->redis('HEXISTS', okey('u', 'bob'), 'phone'),
   '... the new number stored');

$prov->stop;
$t->stop;
done_testing;
