#!/usr/bin/perl

# The Redis layer under load, with one and with two workers: every
# request to a gated location with otp_session_recheck 0 asks Redis (one
# session_check per request, counted in Redis), and many concurrent ones
# with valid sessions all pass, none 503.  Many concurrent wrong codes,
# spread over the workers, never get more attempts than otp_max_attempts
# on a challenge nor more failures than otp_lockout allows; afterwards
# every key but the user records has an expiry (SPEC 6.5).

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use OtpTest;
use OtpKeys;
use OtpFlow qw(basic_auth form_field);
use OtpFaults qw(clients redis_conn keys_without_ttl commandstat count
                 wrong_code enroll_user gate_ready run_wrk
                 case track);

# freed memory is overwritten, so that a use after free shows in any
# build, not only under SANITIZE=1 (glibc; nginx inherits it)
$ENV{MALLOC_PERTURB_} //= 165;

my $CLIENTS = 20;
my $REQUESTS = 50;         # per client, on one keep-alive connection
my $WRONG = 40;            # concurrent wrong codes
my $MAX_ATTEMPTS = 5;
my $LOCK_AFTER = 10;
my $LOCK_SECS = 900;

for my $workers (1, 2) {
    case("worker_processes $workers" => sub { run_case($workers) });
}

done_testing();


sub run_case {
    my ($workers) = @_;

    my $t = track(OtpTest->new);
    my $key = $t->secret_file;
    my @load_users = map { "load$_" } 1 .. 4;

    $t->write_file('htpasswd', join('', map { "$_:{PLAIN}$_\n" }
                   @load_users, qw(carol dave probe)), 0644);
    $t->write_file('index.html', "secret page\n", 0644);

    $t->run_redis;
    $t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events { worker_connections 1024; }
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;

    log_format pids '\$pid \$request_method \$uri \$status';

    server {
        # reuseport: the kernel spreads connections over the workers
        listen 127.0.0.1:%%PORT%% reuseport;
        access_log %%DIR%%/access.log pids;

        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        otp_max_attempts $MAX_ATTEMPTS;
        otp_lockout $LOCK_AFTER ${LOCK_SECS}s;

        location /_otp/ { otp_endpoint; }

        location /private/ {
            otp on;
            otp_session_recheck 0;
            alias %%DIR%%/;
        }
    }
}
EOF
    $t->run_nginx;

    my @workers = $t->worker_pids;
    is(scalar @workers, $workers, "$workers worker processes");
    ok(defined gate_ready($t, '/private/index.html'),
       'every worker connected to Redis');

    my $redis = redis_conn($t);

    # ------------------------------------------------------------ load

    my @flows = map { enroll_user($t, $_) } @load_users;

    my $calls0 = commandstat($redis, 'evalsha');

    my $run = clients($CLIENTS, sub {
        my ($i) = @_;
        my $f = $flows[$i % @flows];
        my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 10,
                                   keep_alive => 1);
        my %h = (Authorization => basic_auth($f->user),
                 Cookie => 'otp_session=' . $f->cookie);
        my @out;
        for (1 .. $REQUESTS) {
            my $r = $http->get($t->url('/private/index.html'),
                               { headers => \%h });
            push @out, join ' ', $r->{status},
                ($r->{content} // '') eq "secret page\n" ? 'page' : 'other',
                defined $r->{headers}{'set-cookie'} ? 'cookie' : '-';
        }
        return @out;
    })->go;
    my @lines = map { @$_ } @{ $run->wait(60) };

    my $total = $CLIENTS * $REQUESTS;
    my $st = count(map { (split / /)[0] } @lines);
    is(scalar @lines, $total, "$total requests answered");
    is($st->{200} // 0, $total, 'all 200')
        or diag(explain($st));
    ok(!$st->{503}, 'none 503');
    is(scalar(grep { / page / } @lines), $total,
       'all served the protected page');
    is(scalar(grep { / cookie$/ } @lines), 0, 'no Set-Cookie on a pass');

    my $calls = commandstat($redis, 'evalsha') - $calls0;
    is($calls, $total, "one EVALSHA per request ($calls for $total)");

    # the same through wrk: a few seconds of 50 connections

    my $f = $flows[0];
    my $wrk = run_wrk($t->url('/private/index.html'), duration => '2s',
                      headers => { Authorization => basic_auth($f->user),
                                   Cookie => 'otp_session=' . $f->cookie });
    my $n = $wrk->{requests};
    ok($n && $n > 1000, 'wrk: ' . ($n // 0) . ' requests in 2s')
        or diag($wrk->{output});
    ok(!$wrk->{non2xx}, 'wrk: every response 2xx') or diag($wrk->{output});
    ok(!$wrk->{errors}, 'wrk: no socket errors') or diag($wrk->{output});
    $calls = commandstat($redis, 'evalsha') - $calls0 - $total;
    ok($n && $calls >= $n && $calls <= $n + 50,
       "wrk: one EVALSHA per request ($calls for " . ($n // 0) . ')');

    # ------------------------------------------------ attempts and lockout

    # one challenge, $WRONG wrong codes at once: exactly max - 1 pages
    # saying "wrong", then the challenge is burnt

    my $carol = enroll_user($t, 'carol');
    my (undef, $csrf) = $carol->challenge;
    my ($cid) = ($csrf // '') =~ /^([^.]+)\./;
    ok($cid, 'carol has a challenge');
    my $wrong = wrong_code($carol->secret);

    my $st_carol = count(verify_at_once($t, 'carol',
                                        [ ($csrf) x $WRONG ], $wrong));
    is($st_carol->{401} // 0, $MAX_ATTEMPTS - 1,
       "one challenge: exactly @{[ $MAX_ATTEMPTS - 1 ]} wrong-code pages");
    is($st_carol->{429} // 0, $WRONG - $MAX_ATTEMPTS + 1,
       'one challenge: all the others 429 (burnt)')
        or diag(explain($st_carol));
    is($redis->cmd('HGET', okey('c', 'carol', $cid), 'a'), $MAX_ATTEMPTS,
       "the challenge counted exactly $MAX_ATTEMPTS attempts");
    is($redis->cmd('GET', okey('f', 'carol')), $MAX_ATTEMPTS,
       "carol's failures: exactly $MAX_ATTEMPTS");
    is($redis->cmd('EXISTS', okey('l', 'carol')), 0, 'carol is not locked');

    # $WRONG challenges, one wrong code on each, at once: the lockout
    # counts exactly lock_after failures, then everything is 429

    my $dave = enroll_user($t, 'dave');
    my @csrf = map { (my $c = ($dave->challenge)[1]) } 1 .. $WRONG;
    is(scalar(grep { defined && /^[^.]+\./ } @csrf), $WRONG,
       "dave has $WRONG challenges");
    $wrong = wrong_code($dave->secret);

    my $st_dave = count(verify_at_once($t, 'dave', \@csrf, $wrong));
    is($st_dave->{401} // 0, $LOCK_AFTER - 1,
       "lockout: exactly @{[ $LOCK_AFTER - 1 ]} wrong-code pages");
    is($st_dave->{429} // 0, $WRONG - $LOCK_AFTER + 1,
       'lockout: all the others 429') or diag(explain($st_dave));

    my $sum = 0;
    for my $c (@csrf) {
        my ($id) = $c =~ /^([^.]+)\./;
        $sum += $redis->cmd('HGET', okey('c', 'dave', $id), 'a') // 0;
    }
    is($sum, $LOCK_AFTER, "exactly $LOCK_AFTER attempts counted in all");
    my $ttl = $redis->cmd('TTL', okey('l', 'dave'));
    ok($ttl > 0 && $ttl <= $LOCK_SECS, "dave is locked ($ttl s)");

    my $r = $dave->verify(csrf => $csrf[0], time => time + 30);
    is($r->{status}, 429, 'a right code while locked: 429');
    ok(!defined $r->{headers}{'set-cookie'}, 'and no cookie');
    $r = $dave->get('/_otp/challenge');
    is($r->{status}, 429, 'the challenge page while locked: 429');

    # the verifies were spread over the workers

    my %pids;
    for (split /\n/, $t->read_file('access.log')) {
        my ($pid, $method, $uri) = split / /;
        $pids{$pid}++ if $method eq 'POST' && $uri eq '/_otp/verify';
    }
    is(scalar keys %pids, $workers,
       "the verifies were answered by $workers worker(s)")
        or diag(explain(\%pids));

    # ------------------------------------------------------------ expiry

    my ($bad, $nkeys) = keys_without_ttl($redis);
    ok($nkeys > $WRONG, "$nkeys keys in Redis");
    is_deeply($bad, [], 'every key but the user records has an expiry');

    $redis->close;
    $t->stop;
}


# POSTs one wrong code per token, all at once, each on its own connection;
# the statuses.
sub verify_at_once {
    my ($t, $user, $tokens, $code) = @_;

    my $run = clients(scalar @$tokens, sub {
        my ($i) = @_;
        my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 10,
                                   keep_alive => 0);
        my $r = $http->post_form($t->url('/_otp/verify'),
            { code => $code, csrf => $tokens->[$i], return => '/' },
            { headers => { Authorization => basic_auth($user),
                           Accept => 'text/html' } });
        return $r->{status};
    })->go;

    return map { @$_ } @{ $run->wait(30) };
}
