#!/usr/bin/perl

# Two nginx nodes (two nginx instances, one key file) on one Sentinel
# set (SPEC 12, issue 11) are one gate: a session made on one passes on
# the other, a code used on one is refused on the other.  The master is
# killed (SIGKILL): both nodes find the promoted replica by themselves,
# the session still passes on both, and a code used on one after the
# failover is still refused on the other.  Every gated request asks
# Redis (otp_session_recheck 0), so a 200 after the kill is an answer
# of the new master.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpFlow qw(totp basic_auth cookie_value);
use OtpAttack qw(users);
use OtpScale qw(redis_at sentinel_set wait_for stop_servers);

my $t = OtpTest->new;
my $key = $t->secret_file;
users($t, qw(alice bob));
$t->private_site;

my $set = sentinel_set($t);
my $sentinels = join ',', map { "127.0.0.1:$_" } @{ $set->{sentinels} };

# one node: its own directory, the shared key file
sub node {
    my ($n) = @_;
    if ($n != $t) {
        users($n, qw(alice bob));
        $n->private_site;
    }
    $n->write_conf(OtpTest::servers_conf(
        workers => 2,
        key     => $key,
        redis   => 0,
        http    => "otp_redis sentinel=$sentinels master=$set->{name} "
                   . "connect_timeout=200ms timeout=300ms;\n"
                   . "otp_session_recheck 0;\notp_totp_skew 3;\n",
        servers => [ [ '%%PORT%%', OtpTest::site_locations() ] ],
    ));
    $n->run_nginx;
    return $n;
}

my $n1 = node($t);
my $n2 = node(OtpTest->new);
ok($t->wait_redis_ready(workers => 4), 'four workers on the master');

sub gated {
    my ($n, $cookie) = @_;
    return $n->http->get($n->url('/private/index.html'), { headers => {
        Authorization => basic_auth('alice'),
        Cookie => "otp_session=$cookie",
    } })->{status};
}

# a code of alice used on $on, then tried on $off: (cookie on, cookie off)
sub code_on_both {
    my ($on, $off, $secret, $at) = @_;
    my $code = totp($secret, time => $at);
    my @c = map {
        cookie_value(OtpFlow->new($_, user => 'alice', secret => $secret)
                     ->verify(code => $code), 'otp_session')
    } $on, $off;
    return @c;
}

# ---------------------------------------------------------------- one gate

my $alice = OtpFlow->new($n1, user => 'alice');
my $secret = $alice->enroll;
ok($secret, 'alice enrolls on node 1');
is(gated($n1, $alice->cookie), 200, '... her session passes there');
is(gated($n2, $alice->cookie), 200, '... and on node 2');

my ($on, $off) = code_on_both($n1, $n2, $secret, time + 30);
ok($on, 'a code used on node 1');
ok(!$off, '... is refused on node 2');

# --------------------------------------------------------------- failover

is(redis_at($set->{master}, 'WAIT', 1, 2000), 1,
   'the replica has her records');
my $t0 = time;
$t->signal_redis('KILL');

my %back;
ok(wait_for(30, sub {
    for my $n ([ 1, $n1 ], [ 2, $n2 ]) {
        $back{ $n->[0] } //= time - $t0
            if gated($n->[1], $alice->cookie) == 200;
    }
    return keys %back == 2;
}), sprintf 'both nodes follow the failover (node 1 after %.2f s, '
            . 'node 2 after %.2f s)', map { $back{$_} // -1 } 1, 2);
is((redis_at($set->{replica}, 'ROLE') // [''])->[0], 'master',
   'the replica is the master now');

($on, $off) = code_on_both($n2, $n1, $secret, time + 60);
ok($on, 'a code used on node 2 after the failover');
ok(!$off, '... is refused on node 1');

$n2->stop;
stop_servers($t);
$t->stop;

done_testing;
