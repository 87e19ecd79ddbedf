#!/usr/bin/perl

# SPEC 6.5: otp_max_attempts and otp_lockout hold under concurrent wrong
# submits on two workers; a lock shuts the gate, the challenge, verify
# and enrollment with 429 and Retry-After, and ends by itself; every
# counter key in Redis carries a TTL.
#
# attempt.lua, per wrong code: a challenge with a >= max attempts is
# "burnt" (not counted again); otherwise a and the user's failures f
# go up by one; f reaching the lockout count locks the user; a reaching
# max burns the challenge.  So N racing wrong codes on one challenge
# give exactly max-1 401s and N-max+1 429s, and f ends at max.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site wrong_code);
use OtpHttp qw(hdr race interleaved_conns verify_request tally
               workers_seen);

my $t = OtpTest->new;
my $key = $t->secret_file;
my %port = (lock => OtpTest::free_port(), short => OtpTest::free_port());

users($t, qw(alice bob carol dave erin));
$t->private_site;

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    common  => OtpTest::site_locations(),
    servers => [
        ['%%PORT%% reuseport', "otp_max_attempts 5;\notp_lockout 100 1m;"],
        ["$port{lock} reuseport", "otp_max_attempts 3;\notp_lockout 5 1m;"],
        [$port{short}, 'otp_lockout 2 2s;'],
    ],
));

$t->run_nginx;
$t->wait_redis_ready;

sub enrolled {
    my ($user, $p) = @_;
    my $f = OtpFlow->new($p ? site($t, $p) : $t, user => $user);
    $f->enroll;
    $f->set_cookie(undef);
    return $f;
}

sub count { my $s = shift; scalar grep { $_->{status} == $s } @_ }

# ------------------------------------ otp_max_attempts on one challenge

my $port = $t->port;
my $alice = enrolled('alice');
my (undef, $csrf) = $alice->challenge;
my ($cid) = $csrf =~ /^([^.]+)\./;
my $wrong = wrong_code($alice->secret);

my @res = race($port, [ interleaved_conns($port, per_worker => 6) ], [ map {
    verify_request($port, 'alice', csrf => $csrf, code => $wrong)
} 1 .. 12 ]);
is(count(401, @res), 4, 'max_attempts 5, 12 racing wrong codes: four 401')
    or diag(tally(@res));
is(count(429, @res), 8, 'and eight 429') or diag(tally(@res));
is(workers_seen(@res), 2, 'on both workers');
is($t->redis('HGET', okey('c', 'alice', $cid), 'a'), 5,
   'the challenge counted exactly 5 attempts');
is($t->redis('GET', okey('f', 'alice')), 5, 'the user exactly 5 failures');
my $ttl = $t->redis('TTL', okey('c', 'alice', $cid));
ok($ttl > 0 && $ttl <= 600, "challenge key has a TTL ($ttl)");
$ttl = $t->redis('TTL', okey('f', 'alice'));
ok($ttl > 86390 && $ttl <= 86400,
   "failure counter kept a day after the last failure ($ttl)");

my $r = $alice->verify(csrf => $csrf);
is($r->{status}, 429, 'the right code on a burnt challenge: 429');
is(cookie_value($r, 'otp_session'), undef, 'no cookie');

$r = $alice->verify(time => time + 30);
is($r->{status}, 303, 'a new challenge with the right code: 303');
is($t->redis('EXISTS', okey('f', 'alice')), 0, 'success clears the failures');

# ------------------------------------------ otp_lockout across challenges

my $lp = $port{lock};
my $bob = enrolled('bob', $lp);
my @csrf = map { ($bob->challenge)[1] } 1 .. 13;
my $last = pop @csrf;
$wrong = wrong_code($bob->secret);

@res = race($lp, [ interleaved_conns($lp, per_worker => 6) ], [ map {
    verify_request($lp, 'bob', csrf => $_, code => $wrong)
} @csrf ]);
is(count(401, @res), 4,
   'lockout 5, 12 racing wrong codes on 12 challenges: four 401')
    or diag(tally(@res));
is(count(429, @res), 8, 'and eight 429') or diag(tally(@res));
is(workers_seen(@res), 2, 'on both workers');
my @ra = map { hdr($_, 'retry-after') // '' }
         grep { $_->{status} == 429 } @res;
is(scalar(grep { /^\d+$/ && $_ >= 1 && $_ <= 60 } @ra), scalar @ra,
   "every 429 says Retry-After within the lock time (@ra)");

$ttl = $t->redis('TTL', okey('l', 'bob'));
ok($ttl > 0 && $ttl <= 60, "lock key has a TTL ($ttl)");

my $bs = site($t, $lp);
my %auth = (Authorization => OtpFlow::basic_auth('bob'),
            Accept => 'text/html');

$r = $bob->get('/private/index.html');
is($r->{status}, 429, 'locked: the gate answers 429');
like(hdr($r, 'retry-after') // '', qr/^[1-9]\d*$/, 'with Retry-After');
unlike($r->{content}, qr/private page/, 'no content');

$r = $bob->get('/private/index.html',
               headers => { Accept => 'application/json' });
is($r->{status}, 429, 'locked: API requests too');

$r = $bob->get('/_otp/challenge');
is($r->{status}, 429, 'locked: GET challenge 429');
like(hdr($r, 'retry-after') // '', qr/^[1-9]\d*$/, 'with Retry-After');

$r = $bob->verify(csrf => $last);
is($r->{status}, 429, 'locked: the right code gets 429 as well');
is(cookie_value($r, 'otp_session'), undef, 'and no cookie');
like(hdr($r, 'retry-after') // '', qr/^[1-9]\d*$/, 'with Retry-After');

$r = $bob->get('/_otp/enroll');
is($r->{status}, 429, 'locked: GET enroll 429');

# ---------------------------------------------------- keys carry TTLs

my $keys = $t->redis('KEYS', 'otp:*');
my @no_ttl = grep { !/^otp:\{([^}]*\}:u|~\}:store)$/ && $t->redis('TTL', $_) < 0 } @$keys;
is("@no_ttl", '', 'every key but the user records expires')
    or diag(explain $keys);

# ------------------------------------------------- a lock ends by itself

my $sp = $port{short};
my $carol = enrolled('carol', $sp);
$wrong = wrong_code($carol->secret);
$r = $carol->verify(code => $wrong);
is($r->{status}, 401, 'lockout 2 2s: first wrong code 401');
$r = $carol->verify(code => $wrong);
is($r->{status}, 429, 'second wrong code locks: 429');
my $retry = hdr($r, 'retry-after') // 0;
ok($retry >= 1 && $retry <= 2, "Retry-After $retry within 2s");
my $locked_at = time;

$r = $carol->get('/_otp/challenge');
is($r->{status}, 429, 'locked right after');

sleep($locked_at + 2.3 - time);
$r = $carol->get('/_otp/challenge');
is($r->{status}, 200, 'the lock has ended after its time');
$r = $carol->verify(time => time + 30);
is($r->{status}, 303, 'and the right code signs in');

# consecutive failures: a success starts the count again
my $dave = enrolled('dave', $sp);
$wrong = wrong_code($dave->secret);
is($dave->verify(code => $wrong)->{status}, 401, 'dave: wrong code');
is($dave->verify(time => time + 30)->{status}, 303, 'dave: right code');
$dave->set_cookie(undef);
is($dave->verify(code => $wrong)->{status}, 401,
   'dave: a wrong code after a success does not lock');

# wrong setup codes count toward the lockout too
my $erin = OtpFlow->new(site($t, $sp), user => 'erin');
my (undef, $es, $ec) = $erin->enroll_page('/');
$wrong = wrong_code($es);
is($erin->post('enroll', { code => $wrong, csrf => $ec })->{status}, 401,
   'enroll: wrong first code 401');
is($erin->post('enroll', { code => $wrong, csrf => $ec })->{status}, 429,
   'enroll: second wrong code locks');
is($erin->post('enroll', { code => totp($es), csrf => $ec })->{status},
   429, 'enroll: locked, the right code too');
is($erin->get('/_otp/enroll')->{status}, 429, 'enroll page: 429');

$t->stop;

done_testing();
