#!/usr/bin/perl

# SPEC 6.2 and 6.3: a TOTP step once accepted for a user is never
# accepted again for that user, also when the same code races on two
# workers; the clock skew window is exactly one step each way by
# default (and none with otp_totp_skew 0).  Period 10s, so that steps
# are short; codes from oathtool at chosen times.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site wrong_code fresh_step);
use OtpHttp qw(hdr http_request race interleaved_conns verify_request tally
               workers_seen);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $skew0 = OtpTest::free_port();

my @users = qw(alice bob carol dave erin frank gina hank);
users($t, @users);
$t->private_site;

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    http    => "otp_lockout 100 1m;\notp_max_attempts 20;",
    common  => "otp_totp_period 10s;\n" . OtpTest::site_locations(),
    servers => [
        ['%%PORT%% reuseport', ''],
        [$skew0, 'otp_totp_skew 0;'],
    ],
));

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my %p10 = (period => 10);

sub flow {
    my ($user, $p) = @_;
    return OtpFlow->new($p ? site($t, $p) : $t, user => $user);
}

# enrolls with the code of time $at (default now); returns the flow
sub enrolled {
    my ($user, %o) = @_;
    my $f = flow($user, $o{port});
    my ($r, $secret, $csrf) = $f->enroll_page('/private/');
    my $code = totp($secret, %p10, time => $o{at} // time);
    $r = $f->post('enroll', { code => $code, csrf => $csrf });
    die "enroll $user: $r->{status}\n" unless $r->{status} == 200;
    $f->{secret} = $secret;
    $f->{enroll_code} = $code;
    $f->set_cookie(undef);
    return $f;
}

# POST verify on a fresh challenge with the code of time $at
sub try_at {
    my ($f, $at) = @_;
    my $r = $f->verify(%p10, time => $at);
    $f->set_cookie(undef);
    return $r->{status};
}

# ---------------------------------------------------------- replay

fresh_step(10, 5);

my $alice = enrolled('alice');

my ($cp, $csrf) = $alice->challenge;
my $r = $alice->verify(csrf => $csrf, code => $alice->{enroll_code});
is($r->{status}, 401, 'the enrollment code does not sign in again');
is(cookie_value($r, 'otp_session'), undef, 'no cookie');

my $next = totp($alice->secret, %p10, time => time + 10);
$r = $alice->verify(code => $next);
is($r->{status}, 303, 'a code of a newer step signs in');
$alice->set_cookie(undef);

$r = $alice->verify(code => $next);
is($r->{status}, 401, 'the same code on a new challenge: 401');
is(cookie_value($r, 'otp_session'), undef, 'no cookie for a replay');

$r = $alice->verify(code => totp($alice->secret, %p10));
is($r->{status}, 401, 'an older step still in the window: 401');

# ------------------------------------------------ racing the same code

# 4 kept-alive connections on each worker, interleaved
fresh_step(10, 5);

# one code, eight challenges, both workers
my $bob = enrolled('bob');
my @csrf = map { ($bob->challenge)[1] } 1 .. 8;
my $code = totp($bob->secret, %p10, time => time + 10);
my @c = interleaved_conns($port);
my @res = race($port, \@c, [ map {
    verify_request($port, 'bob', csrf => $_, code => $code)
} @csrf ]);
my @ok = grep { $_->{status} == 303 } @res;
is(scalar @ok, 1, 'same code, 8 challenges, 2 workers: exactly one 303')
    or diag(tally(@res));
is(scalar(grep { $_->{status} == 401 } @res), 7, 'the others 401')
    or diag(tally(@res));
is(workers_seen(@res), 2, 'both workers answered');
is(scalar(grep { my $v = hdr($_, 'set-cookie') // '';
                 $v =~ /otp_session=[^;]/ } @res), 1,
   'exactly one session cookie handed out');

# one code, one challenge, both workers
my $carol = enrolled('carol');
my (undef, $one) = $carol->challenge;
$code = totp($carol->secret, %p10, time => time + 10);
@c = interleaved_conns($port);
@res = race($port, \@c, [ map {
    verify_request($port, 'carol', csrf => $one, code => $code)
} 1 .. 8 ]);
is(scalar(grep { $_->{status} == 303 } @res), 1,
   'same code, one challenge, 2 workers: exactly one 303')
    or diag(tally(@res));
is(scalar(grep { $_->{status} == 200 || $_->{status} >= 500 } @res), 0,
   'no 200 and no 5xx') or diag(tally(@res));

# the first code of an enrollment, confirmed 8 times at once
my $dave = flow('dave');
my (undef, $dsecret, $dcsrf) = $dave->enroll_page('/');
$code = totp($dsecret, %p10);
@c = interleaved_conns($port);
@res = race($port, \@c, [ map {
    http_request(port => $port, method => 'POST', path => '/_otp/enroll',
                 user => 'dave', headers => [[Accept => 'text/html'],
                     [Cookie => "otp_session_enroll=$dave->{enroll_cookie}"]],
                 form => { csrf => $dcsrf, code => $code })
} 1 .. 8 ]);
is(scalar(grep { $_->{status} == 200 } @res), 1,
   'same first code 8 times at once: exactly one enrollment')
    or diag(tally(@res));
is(scalar(grep { my $v = hdr($_, 'set-cookie') // '';
                 $v =~ /otp_session=[^;]/ } @res), 1,
   'exactly one session cookie');
is(scalar(grep { $_->{status} >= 500 } @res), 0, 'no 5xx')
    or diag(tally(@res));

# ------------------------------------------------------------ skew

# Enrollment took the current step; the record of the last accepted
# step lives period * (2 * skew + 2) seconds (40s here).  Dropping it
# is the same as enrolling that long ago, and lets the earlier steps of
# the window be tried.
sub forget_step {
    my ($user) = @_;
    my $ttl = $t->redis('TTL', okey('t', $user));
    ok($ttl > 0 && $ttl <= 40, "last-step record of $user has a TTL ($ttl)");
    $t->redis('DEL', okey('t', $user));
}

my $now = fresh_step(10, 5) + 5;   # the middle of a fresh step
my $erin = enrolled('erin', at => $now);
forget_step('erin');

is(try_at($erin, $now - 20), 401, 'skew: -2 steps refused');
is(try_at($erin, $now + 20), 401, 'skew: +2 steps refused');
is(try_at($erin, $now - 10), 303, 'skew: -1 step accepted');
is(try_at($erin, $now + 10), 303, 'skew: +1 step accepted');
is(try_at($erin, $now), 401, 'skew: the current step, older than +1: 401');

# enrollment has the same window
is(eval { enrolled('frank', at => $now - 10); 1 }, 1,
   'enroll: -1 step accepted');
for my $d (-20, 20) {
    my $g = flow('gina');
    my ($pg, $s, $gc) = $g->enroll_page('/');
    $r = $g->post('enroll', { code => totp($s, %p10, time => $now + $d),
                              csrf => $gc });
    is($r->{status}, 401, "enroll: $d s refused");
}

# otp_totp_skew 0: the current step only
$now = fresh_step(10, 5) + 5;
my $hank = enrolled('hank', port => $skew0, at => $now);
forget_step('hank');
is(try_at($hank, $now - 10), 401, 'skew 0: -1 step refused');
is(try_at($hank, $now + 10), 401, 'skew 0: +1 step refused');
is(try_at($hank, $now), 303, 'skew 0: current step accepted');

$t->stop;

done_testing();
