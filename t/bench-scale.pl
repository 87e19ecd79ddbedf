#!/usr/bin/perl

# make bench, SPEC section 8's last line: the gate on Redis Sentinel and
# on Redis Cluster, on loopback, one worker.
#
#   (s) a master, a replica and three sentinels (down-after 300 ms);
#   (c) a Redis Cluster of three masters with a replica each (node
#       timeout 1000 ms).
#
# For each: the gated ratio as in t/bench.pl (a) (a gated location with
# a valid session over the same location without the gate, recheck 5s
# and recheck 0), medians over rounds of wrk runs; then the master that
# holds the user is killed (SIGKILL) while one client asks the gated
# location (recheck 0) every 5 ms, and the time from the kill to the
# first 200 again is printed, with what was answered meanwhile.
# Printed, not asserted.
#
# Environment: OTP_NGINX, OTP_MODULE, OTP_TOP (set by make),
#   BENCH_DURATION (2s), BENCH_ROUNDS (3).

use strict;
use warnings;

use lib 't/lib';
use HTTP::Tiny;
use Time::HiRes qw(sleep time);
use OtpTest;
use OtpKeys;
use OtpFlow qw(basic_auth);
use OtpFaults qw(run_wrk enroll_user gate_ready);
use OtpScale qw(redis_at sentinel_set cluster_set stop_servers);

$| = 1;

my $DURATION = $ENV{BENCH_DURATION} || '2s';
my $ROUNDS = $ENV{BENCH_ROUNDS} || 3;

sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

print "ngx_http_otp_module on Sentinel and Cluster: 1 worker, "
      . "wrk -t 2 -c 50 -d $DURATION, $ROUNDS rounds\n\n";

for my $topology (qw(sentinel cluster)) {
    my $t = OtpTest->new;
    my $key = $t->secret_file;
    mkdir $t->dir . '/www';
    my $page = ('x' x 63 . "\n") x 16;                        # 1 KiB
    $t->write_file('www/index.html', $page, 0644);

    my ($redis, $victim);
    if ($topology eq 'sentinel') {
        my $set = sentinel_set($t, down => 300);
        $redis = 'sentinel='
                 . join(',', map { "127.0.0.1:$_" } @{ $set->{sentinels} })
                 . " master=$set->{name}";
        $victim = sub { 'redis' };
    } else {
        my @ports = cluster_set($t, masters => 3, replicas => 1,
                                timeout => 1000);
        $redis = "cluster=127.0.0.1:$ports[0]";
        $victim = sub {
            my $slot = redis_at($ports[0], 'CLUSTER', 'KEYSLOT',
                                okey('u', 'alice'));
            for my $r (@{ redis_at($ports[0], 'CLUSTER', 'SLOTS') }) {
                return $t->{cluster_names}{ $r->[2][1] }
                    if $slot >= $r->[0] && $slot <= $r->[1];
            }
            die "no master for slot $slot\n";
        };
    }

    $t->write_conf(OtpTest::http_conf(<<"EOF", key => $key, redis => 0));
    otp_redis $redis connect_timeout=200ms timeout=300ms;
    otp_user \$remote_user;

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;

        location /_otp/ { otp_endpoint; }
        location /plain/ { alias %%DIR%%/www/; }
        location /gated/ { otp on; alias %%DIR%%/www/; }
        location /gated0/ {
            otp on;
            otp_session_recheck 0;
            alias %%DIR%%/www/;
        }
    }
EOF
    $t->run_nginx;
    my $alice = gate_ready($t, '/gated0/') && enroll_user($t, 'alice')
        or die "$topology: the module is not ready\n" . $t->error_log;
    my %hdr = (Cookie => 'otp_session=' . $alice->cookie,
               Authorization => basic_auth('alice'));

    my (@r5, @r0);
    for my $round (1 .. $ROUNDS) {
        my %rps;
        for my $loc (qw(plain gated gated0)) {
            my $r = run_wrk($t->url("/$loc/index.html"), headers => \%hdr,
                            duration => $DURATION);
            die "$topology $loc: wrk failed\n$r->{output}"
                unless $r->{rps} && !$r->{non2xx};
            $rps{$loc} = $r->{rps};
        }
        push @r5, $rps{gated} / $rps{plain};
        push @r0, $rps{gated0} / $rps{plain};
    }

    printf "  %-8s gated / ungated, recheck 5s   %.3f\n", $topology,
           median(@r5);
    printf "  %-8s gated / ungated, recheck 0    %.3f\n", $topology,
           median(@r0);

    # the master of alice's slot dies; one client at 5 ms intervals

    my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 5,
                               keep_alive => 0);
    my $url = $t->url('/gated0/index.html');
    my $name = $victim->();
    my $killed = time;
    kill 'KILL', $t->{pids}{$name};
    my (%seen, $back);
    while (time < $killed + 60) {
        my $st = $http->get($url, { headers => \%hdr })->{status};
        $seen{$st}++;
        if ($st == 200 && ($seen{503} || 0)) {
            $back = time - $killed;
            last;
        }
        sleep 0.005;
    }
    printf "  %-8s master killed: first 200 again after %s (%s)\n",
           $topology, defined $back ? sprintf('%.2f s', $back) : 'never',
           join ', ', map { "$_ x$seen{$_}" } sort keys %seen;

    $t->stop_nginx;
    stop_servers($t);
    $t->stop_redis;
}

exit 0;
