#!/usr/bin/perl

# A locked user (SPEC 6.19) gets the locked page on the account page, GET
# and POST, as on enroll?add=1 and the rest of the endpoint, even from a
# session whose code is fresh: nothing is shown and nothing changed (no
# rename, no other session ended, no new session cookie).  Once the lock
# ends, the page is back.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice));
$t->private_site;

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_fresh 5m;\notp_session_recheck 0;",
    common  => OtpTest::site_locations(),
    servers => [['%%PORT%%', '']],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $alice = OtpFlow->new($t, user => 'alice');
$alice->enroll;
my $other = OtpFlow->new($t, user => 'alice', secret => $alice->secret);
is($other->verify(time => time + 30)->{status}, 303,
   'alice on a second browser too');

my $r = $alice->get('/_otp/account?r=%2Fprivate%2F');
is($r->{status}, 200, 'the account page within otp_fresh');
my $csrf = form_field($r->{content} // '', 'csrf');
my ($aid) = ($r->{content} // '') =~ /name="id" value="(\d+)"/;
ok($csrf && defined $aid, 'with its form');

my $u = okey('u', 'alice');
my %before = @{ $t->redis('HGETALL', $u) };
my $sessions = $t->redis('SCARD', okey('su', 'alice'));

$t->redis('SET', okey('l', 'alice'), 1, 'EX', 600);

my $enroll = $alice->get('/_otp/enroll?add=1&r=%2F_otp%2Faccount');
$r = $alice->get('/_otp/account?r=%2Fprivate%2F');
is($r->{status}, $enroll->{status},
   "GET account, locked: $enroll->{status}, as enroll?add=1");
isnt($r->{status}, 200, '... not the page');
like($r->{headers}{'retry-after'} // '', qr/^(59\d|600)$/,
     '... with the lock\'s time left');
is($r->{content}, $enroll->{content}, '... the same locked page');
unlike($r->{content} // '', qr/name="csrf"/, '... and no form');

for my $form ({ action => 'rename', id => $aid, name => 'Renamed' },
              { action => 'sessions' }, { action => 'browsers' },
              { action => 'remove', id => $aid, confirm => 1 })
{
    $r = $alice->post('account', { %$form, csrf => $csrf });
    is($r->{status}, $enroll->{status},
       "POST account $form->{action}, locked: the locked page");
    ok(!cookie_value($r, 'otp_session'), '... no new session');
}

my %after = @{ $t->redis('HGETALL', $u) };
is_deeply(\%after, \%before, 'the user record unchanged');
is($t->redis('SCARD', okey('su', 'alice')), $sessions,
   'no session ended');
is($other->get('/private/index.html')->{status}, 200,
   'the other browser still passes');

$t->redis('DEL', okey('l', 'alice'));
$r = $alice->get('/_otp/account?r=%2Fprivate%2F');
is($r->{status}, 200, 'the lock over: the account page again');

$t->stop;
done_testing;
