#!/usr/bin/perl

# SPEC 6.7: session cookies.  Forged, truncated, altered (every
# character of the id and of the MAC), well signed but unknown,
# expired, idle, signed out, deleted in Redis and other users' cookies
# never open a gated location; a cookie planted before the code is not
# the one after it; a worker's memory of a session never outlives
# otp_session_recheck, and never serves another user.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site keys_from_file mint_cookie cookie_id session_key
                 b64url_encode);
use OtpHttp qw(hdr header_values http_request send_raw worker_conns
               exchange);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $keys = keys_from_file($key);
my %port = map { $_ => OtpTest::free_port() } qw(ttl idle recheck);

users($t, qw(alice bob frank gina hank ivan jack kate));
$t->private_site;

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    common  => OtpTest::site_locations(),
    servers => [
        ['%%PORT%% reuseport', ''],
        ["$port{ttl} reuseport", "otp_session_ttl 2s;\notp_session_idle 1s;\n"
                                 . 'otp_session_recheck 0;'],
        ["$port{idle} reuseport",
         "otp_session_idle 1s;\notp_session_recheck 0;"],
        ["$port{recheck} reuseport", 'otp_session_recheck 1s;'],
    ],
));

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;

sub enrolled {
    my ($user, $p) = @_;
    my $f = OtpFlow->new($p ? site($t, $p) : $t, user => $user);
    $f->enroll;
    return $f;
}

# GET /private/ as $user with $cookie (undef: none) on a new connection
sub gate {
    my ($user, $cookie, $p) = @_;
    return send_raw($p || $port, http_request(
        port => $p || $port, user => $user, path => '/private/index.html',
        cookie => defined $cookie ? "otp_session=$cookie" : undef,
        headers => [[Accept => 'text/html']]));
}

sub gate_req {
    my ($user, $cookie, $p) = @_;
    return http_request(port => $p, user => $user, keepalive => 1,
                        path => '/private/index.html',
                        cookie => "otp_session=$cookie",
                        headers => [[Accept => 'text/html']]);
}

# the statuses of many cookies tried on the gate, those that opened it
sub opened {
    my ($user, @cookies) = @_;
    my @open;
    for my $c (@cookies) {
        my $r = gate($user, $c);
        push @open, $c if $r->{status} == 200
                          || $r->{body} =~ /private page/;
        push @open, "$c ($r->{status})"
            unless $r->{status} == 302 || $r->{status} == 200;
    }
    return @open;
}

my $alice = enrolled('alice');
my $good = $alice->cookie;
like($good, qr/^1\.[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/,
     'cookie: "1." id "." MAC, 256-bit id');
is(length(cookie_id($good)), 32, 'id of 32 bytes');
is(mint_cookie($keys, cookie_id($good)), $good,
   'the test re-derives the cookie key (for the minted cookies below)');
ok($t->redis('EXISTS', okey('s', 'alice', session_key($keys, cookie_id($good)))),
   'and the Redis key of a session');

is(gate('alice', $good)->{status}, 200, 'the good cookie opens the page');
is(gate('alice', undef)->{status}, 302, 'no cookie: 302');

# ---------------------------------------------------------- forged

sub rnd { my $b = ''; $b .= chr int rand 256 for 1 .. $_[0]; $b }

# the same bytes in base64's standard alphabet; a cookie with neither
# '-' nor '_' gets a '+', so this is never the good cookie itself
(my $std = $good) =~ tr/-_/+\//;
substr($std, 2, 1) = '+' if $std eq $good;

my @forged = (
    '', 'x', '1.', '1..', '1.' . ('A' x 43) . '.' . ('A' x 43),
    join('.', '1', b64url_encode(rnd(32)), b64url_encode(rnd(32))),
    join('.', '1', b64url_encode(rnd(32)), b64url_encode(rnd(32))),
    join('.', '2', b64url_encode(rnd(32)), b64url_encode(rnd(32))),
    'A' x 2000, "\"$good\"", "${good}x", "${good}.", "x$good",
    substr($good, 0, -1) . '=', $good =~ s/\./%2E/gr,
    $std,
    join('.', '1', (split /\./, $good)[2, 1]),
);
is(join(' | ', opened('alice', @forged)), '', 'forged cookies refused');

my @trunc = map { substr($good, 0, $_) } 1 .. length($good) - 1;
is(join(' | ', opened('alice', @trunc)), '',
   'every truncation refused (' . scalar(@trunc) . ')');

# every character of the id and of the MAC, changed to another
# character of the alphabet (bits that base64url leaves unused
# included)
my $abc = join '', 'A' .. 'Z', 'a' .. 'z', '0' .. '9', '-', '_';
my (@alt_id, @alt_mac);
for my $i (0 .. length($good) - 1) {
    my $ch = substr($good, $i, 1);
    next if $ch eq '.';
    for my $d (1, 32) {
        my $to = substr($abc, (index($abc, $ch) + $d) % 64, 1);
        $to = '2' if $i == 0 && $d == 1;
        my $c = $good;
        substr($c, $i, 1) = $to;
        push @{ $i < 46 ? \@alt_id : \@alt_mac }, $c;
    }
}
is(join(' | ', opened('alice', @alt_id)), '',
   'every altered character of the id refused (' . @alt_id . ')');
is(join(' | ', opened('alice', @alt_mac)), '',
   'every altered character of the MAC refused (' . @alt_mac . ')');

# well signed, but no such session
my @minted = map { mint_cookie($keys, rnd(32)) } 1 .. 3;
is(join(' | ', opened('alice', @minted)), '',
   'well-signed cookies of no session refused');

is(gate('alice', $good)->{status}, 200, 'the good cookie still works');

# ------------------------------------------------------- other users

my $bob = enrolled('bob');
my $bobs = $bob->cookie;
my $r = gate('alice', $bobs);
is($r->{status}, 302, "bob's cookie for alice: 302");
like((header_values($r, 'location'))[0] // '', qr{/_otp/challenge\?},
     'to her challenge');
# the first factor runs before the gate: a user auth_basic does not know
# never gets as far as a session check
$r = gate('mallory', $bobs);
is($r->{status}, 401, "bob's cookie for a user auth_basic refuses: 401");
is(gate('bob', $bobs)->{status}, 200, "bob's cookie still bob's");

# the same, on one connection, right after the worker confirmed bob's
# session (its memory of it is fresh)
my $by = worker_conns($port, per_worker => 1);
for my $pid (sort keys %$by) {
    my $s = $by->{$pid}[0];
    my $b1 = exchange($s, gate_req('bob', $bobs, $port));
    my $a1 = exchange($s, gate_req('alice', $bobs, $port));
    is("$b1->{status} $a1->{status}", '200 302',
       "worker $pid: bob's cached session does not serve alice");
}

# ----------------------------------------------------------- fixation

my $planted = mint_cookie($keys, rnd(32));
$alice->set_cookie($planted);
$r = $alice->verify(time => time + 30);
is($r->{status}, 303, 'sign-in with a planted cookie');
my $new = cookie_value($r, 'otp_session');
ok($new && $new ne $planted, 'a new session id, not the planted one');
is(gate('alice', $planted)->{status}, 302, 'the planted one stays dead');
is(gate('alice', $new)->{status}, 200, 'the new one works');

$bob->set_cookie($bobs);
my ($cp) = $bob->challenge;
is(cookie_value($cp, 'otp_session'), undef, 'the challenge sets no cookie');
$r = $bob->verify(time => time + 30);
is($r->{status}, 303, 'sign-in with a valid session cookie already set');
isnt(cookie_value($r, 'otp_session'), $bobs, 'still a new id');

# ------------------------------------------------- lifetime and idle

# frank on otp_session_ttl 2s (idle 1s), used every 0.4s: still ends
# at its lifetime.  gina on otp_session_idle 1s: lives while used,
# ends a second after the last use.
my $frank = enrolled('frank', $port{ttl});
my $gina = enrolled('gina', $port{idle});
my $t0 = time;
my (@fs, @gs);
while (time - $t0 < 2.6) {
    push @fs, gate('frank', $frank->cookie, $port{ttl})->{status};
    push @gs, gate('gina', $gina->cookie, $port{idle})->{status};
    sleep 0.4;
}
is($fs[0], 200, 'ttl 2s: works at first');
is($fs[-1], 302, 'ttl 2s: ended by 2.6s although in use') or diag("@fs");
my $first_end = (grep { $fs[$_] != 200 } 0 .. $#fs)[0] // -1;
is(scalar(grep { $_ == 200 } @fs[$first_end .. $#fs]), 0,
   'ttl: once ended, never back') or diag("@fs");
is("@gs", join(' ', (200) x @gs), 'idle 1s: in use for 2.6s, still open');
sleep 1.4;
is(gate('gina', $gina->cookie, $port{idle})->{status}, 302,
   'idle 1s: ended 1.4s after the last use');

# -------------------------------------------------- sign-out, recheck

# jack (recheck 0): signed out, refused at once
my $jack = enrolled('jack', $port{idle});
my $jc = $jack->cookie;
is(gate('jack', $jc, $port{idle})->{status}, 200, 'jack signed in');
$r = $jack->get('/_otp/logout');
$r = $jack->post('logout', { csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 303, 'jack signs out');
is(gate('jack', $jc, $port{idle})->{status}, 302,
   'recheck 0: the old cookie is refused at once');

# hank (recheck 1s): both workers remember the session; sign-out on
# one; after 1s neither takes it
my $rp = $port{recheck};
my $hank = enrolled('hank', $rp);
my $hc = $hank->cookie;
$by = worker_conns($rp, per_worker => 2);
my @pids = sort keys %$by;
is(scalar @pids, 2, 'connections on both workers');
my @warm = map { exchange($_, gate_req('hank', $hc, $rp))->{status} }
           map { @{ $by->{$_} } } @pids;
is("@warm", '200 200 200 200', 'both workers confirmed the session');
$r = $hank->get('/_otp/logout');
$r = $hank->post('logout', { csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 303, 'hank signs out');
sleep 1.1;
my @after = map { exchange($_, gate_req('hank', $hc, $rp))->{status} }
            map { @{ $by->{$_} } } @pids;
is("@after", '302 302 302 302',
   'after otp_session_recheck, no worker takes the signed-out cookie');

# ivan (recheck 1s): his session deleted in Redis behind the module's
# back (an admin, another node)
my $ivan = enrolled('ivan', $rp);
my $ic = $ivan->cookie;
$by = worker_conns($rp, per_worker => 2);
@warm = map { exchange($_, gate_req('ivan', $ic, $rp))->{status} }
        map { @{ $by->{$_} } } sort keys %$by;
is("@warm", '200 200 200 200', 'both workers confirmed the session');
is($t->redis('DEL', okey('s', 'ivan', session_key($keys, cookie_id($ic)))), 1,
   'session deleted in Redis');
my $d0 = time;
my @soon = map { exchange($_, gate_req('ivan', $ic, $rp))->{status} }
           map { @{ $by->{$_} } } sort keys %$by;
diag(sprintf 'within recheck (%.2fs): %s', time - $d0, "@soon");
sleep(1.1 - (time - $d0)) if time - $d0 < 1.1;
@after = map { exchange($_, gate_req('ivan', $ic, $rp))->{status} }
         map { @{ $by->{$_} } } sort keys %$by;
is("@after", '302 302 302 302', 'refused everywhere within recheck');

# kate (recheck 0): deleted in Redis, refused at the next request
my $kate = enrolled('kate', $port{idle});
is(gate('kate', $kate->cookie, $port{idle})->{status}, 200, 'kate in');
$t->redis('DEL', okey('s', 'kate', session_key($keys, cookie_id($kate->cookie))));
is(gate('kate', $kate->cookie, $port{idle})->{status}, 302,
   'recheck 0: refused at once');

$t->stop;

done_testing();
