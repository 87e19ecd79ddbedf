#!/usr/bin/perl

# Changing a factor (SPEC 6.14, issue 10 item 2): a new authenticator
# for an enrolled user, new recovery codes and another phone number need
# a code entered within otp_fresh on that session, else a step-up to the
# challenge and back; and a change ends the user's other sessions and
# remembered browsers, while the browser that made it goes on with a new
# session.  (t/020-config.t: nginx -t checks otp_fresh.)

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice bob carol));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_fresh 5m;\notp_session_recheck 0;\n"
               . "otp_remember_device 30d;\notp_totp_skew 3;",
    common  => OtpTest::site_locations(),
    servers => [['%%PORT%%', '']],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $origin = 'http://127.0.0.1:' . $t->port;

# every session of user's set: its code entered secs ago
sub age {
    my ($user, $secs) = @_;
    $t->redis('HSET', $_, 'a', time - $secs)
        for @{ $t->redis('SMEMBERS', okey('su', $user)) };
}

sub passes {
    my ($flow) = @_;
    return $flow->get('/private/index.html')->{status} == 200;
}

# ------------------------------------------------ a new authenticator

my $alice = OtpFlow->new($t, user => 'alice');
my $secret = $alice->enroll;
my $other = OtpFlow->new($t, user => 'alice', secret => $secret);
my $r = $other->verify(time => time + 30);
is($r->{status}, 303, 'alice signs in on a second browser');
ok(passes($other), 'whose session passes');

age('alice', 600);
$r = $alice->get('/_otp/enroll?r=%2Fprivate%2F');
is($r->{status}, 302, 'enroll with a code 10 minutes old: 302');
like($r->{headers}{location} // '',
     qr{^\Q$origin\E/_otp/challenge\?r=/_otp/enroll},
     '... to the challenge, and back to enroll');
unlike($r->{content} // '', qr/otpauth:/, 'no secret shown');
$r = $alice->post('enroll', { code => '123456', csrf => 'x' });
isnt($r->{status}, 200, 'POST enroll without a fresh code: refused');

# a fresh code on this browser: the step-up done
$r = $alice->verify(time => time + 60);
is($r->{status}, 303, 'alice enters a code');
ok(passes($other), 'the other browser still passes');

$r = $alice->get('/_otp/enroll?r=%2Fprivate%2F');
is($r->{status}, 200, 'enroll with a fresh code: the page');
my ($new) = ($r->{content} // '') =~ /secret=([A-Z2-7]+)/;
my $csrf = form_field($r->{content} // '', 'csrf');
$r = $alice->post('enroll', { code => totp($new, time => time + 90),
                              csrf => $csrf });
is($r->{status}, 200, 'a new authenticator confirmed');
my $cookie = cookie_value($r, 'otp_session');
ok($cookie, 'with a new session cookie');
$alice->set_cookie($cookie);
ok(passes($alice), 'this browser goes on');
ok(!passes($other), 'the other session has ended');

# ------------------------------------------------ new recovery codes

my $bob = OtpFlow->new($t, user => 'bob');
my $bsecret = $bob->enroll;
my $bob2 = OtpFlow->new($t, user => 'bob', secret => $bsecret);
$r = $bob2->verify(time => time + 30, extra => { remember => 1 });
is($r->{status}, 303, 'bob signs in on a second browser');
my $device = cookie_value($r, 'otp_session_device');
ok($device, 'which he trusts');
is($t->redis('ZCARD', okey('d', 'bob')), 1, 'a remembered browser');

$r = $bob->get('/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 200, 'recovery page with a fresh code');
$csrf = form_field($r->{content}, 'csrf');

age('bob', 600);
$r = $bob->post('recovery', { csrf => $csrf });
is($r->{status}, 302, 'new codes with a code 10 minutes old: 302');

age('bob', 60);
$r = $bob->post('recovery', { csrf => $csrf });
is($r->{status}, 200, 'new codes within otp_fresh (5m): 200');
like($r->{content}, qr/<ol>/, 'shown');
$cookie = cookie_value($r, 'otp_session');
ok($cookie, 'with a new session cookie');
$bob->set_cookie($cookie);
ok(passes($bob), 'this browser goes on');
ok(!passes($bob2), 'the other session has ended');
is($t->redis('EXISTS', okey('d', 'bob')), 0,
   'the remembered browsers are forgotten');

$t->stop;
done_testing;
