#!/usr/bin/perl

# Redis failing under the module, against a real redis-server (SPEC 6.6):
# killed, paused, its scripts flushed, the module's connections killed,
# busy, out of memory, a wrong password; clients that leave while their
# command waits; a unix socket and a database number; nginx reloaded and
# stopped while requests wait on a paused Redis or with Redis gone; only
# the workers hold connections.  Whatever happens a request that needs
# Redis gets 503, never 200, never a cookie; other locations of the same
# worker keep their latency; the module reconnects by itself.  No alert
# and no crashed worker in any log.

use strict;
use warnings;

use Test::More;
use Digest::SHA qw(sha1_hex);
use HTTP::Tiny;
use IO::Socket::INET;
use List::Util qw(max min sum);
use Time::HiRes qw(sleep time);
use OtpTest;
use OtpKeys;
use OtpFlow qw(basic_auth);
use OtpFaults qw(clients timed wait_until redis_conn commandstat count
                 enroll_user gate_ready case track);

# freed memory is overwritten, so that a use after free shows in any
# build, not only under SANITIZE=1 (glibc; nginx inherits it)
$ENV{MALLOC_PERTURB_} //= 165;


# An nginx with the module in front of a redis-server; $o{redis} are the
# otp_redis parameters after the address, $o{address} replaces it.
sub setup {
    my (%o) = @_;

    my $t = track(OtpTest->new);
    my $key = $t->secret_file;
    $t->write_file('htpasswd',
                   join('', map { "$_:{PLAIN}$_\n" } qw(alice bob probe)),
                   0644);
    $t->write_file('index.html', "secret page\n", 0644);

    $t->run_redis(%{ $o{run_redis} || {} });
    write_nginx_conf($t, %o, key => $key);
    $t->run_nginx;

    return $t;
}

sub write_nginx_conf {
    my ($t, %o) = @_;
    my $workers = $o{workers} || 1;
    my $address = $o{address} || '%%REDIS%%';
    my $params = $o{redis} // '';
    my $key = $o{key} || $t->dir . '/otp.key';

    $t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes $workers;
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis $address $params;

    server {
        listen 127.0.0.1:%%PORT%%;

        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ { otp_endpoint; }

        location /_otp_admin/ {
            auth_basic off;
            otp_admin;
        }

        location /private/ {
            otp on;
            otp_session_recheck 0;
            alias %%DIR%%/;
        }

        location /static/ {
            auth_basic off;
            alias %%DIR%%/;
        }
    }
}
EOF
}

sub http { HTTP::Tiny->new(max_redirect => 0, timeout => 10, keep_alive => 0) }

# A gated GET with the session of a flow: (status, set-cookie present).
sub gated {
    my ($t, $f) = @_;
    my $r = http->get($t->url('/private/index.html'), { headers => {
        Authorization => basic_auth($f->user),
        Cookie => 'otp_session=' . ($f->cookie // ''),
    } });
    return wantarray ? ($r->{status}, defined $r->{headers}{'set-cookie'})
                     : $r->{status};
}

# Gated GETs in $n clients at once, one each on a new connection:
# "status seconds cookie|-" lines.
sub gated_clients {
    my ($t, $f, $n) = @_;
    return clients($n, sub {
        my ($st, $cookie);
        my (undef, $secs) = timed(sub { ($st, $cookie) = gated($t, $f) });
        return sprintf '%d %.3f %s', $st, $secs, $cookie ? 'cookie' : '-';
    })->go;
}

# n GETs of the static location on new connections, spaced out: latencies
sub static_latencies {
    my ($t, $n, $gap) = @_;
    my @lat;
    for (1 .. $n) {
        my ($r, $secs) = timed(sub {
            http->get($t->url('/static/index.html'));
        });
        push @lat, $r->{status} == 200 ? $secs : 999;
        sleep $gap if $gap;
    }
    return @lat;
}

sub ms { sprintf '%.0f ms', 1000 * $_[0] }

# ------------------------------------------------------------ SIGKILL

case('redis killed mid-flight, restarted empty' => sub {
    my $t = setup(workers => 2);
    my $redis_port = $t->redis_port;

    ok(defined gate_ready($t, '/private/'), 'workers connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');

    my (undef, $csrf) = $alice->challenge;
    ok($csrf, 'a challenge page for later');

    # gated requests in a loop from 4 clients while Redis dies

    my $until = time + 1.5;
    my $load = clients(4, sub {
        my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 10,
                                   keep_alive => 1);
        my @out;
        while (time < $until) {
            my $t0 = time;
            my $r = $http->get($t->url('/private/index.html'), { headers => {
                Authorization => basic_auth('alice'),
                Cookie => 'otp_session=' . $alice->cookie,
            } });
            push @out, sprintf '%d %.6f %s', $r->{status}, $t0,
                defined $r->{headers}{'set-cookie'} ? 'cookie' : '-';
        }
        return @out;
    })->go;

    sleep 0.5;
    $t->stop_redis('KILL');
    my $killed = time;

    my @lines = map { @$_ } @{ $load->wait(30) };
    my $all = count(map { (split / /)[0] } @lines);
    my @after = grep { (split / /)[1] > $killed } @lines;
    my $after = count(map { (split / /)[0] } @after);

    diag('statuses around the kill: ' . join ', ',
         map { "$_ x$all->{$_}" } sort keys %$all);
    ok($all->{200}, 'requests passed before the kill');
    is_deeply([ sort keys %$all ], [ 200, 503 ], 'only 200 and 503');
    ok(@after > 10, scalar(@after) . ' requests after the kill');
    is_deeply($after, { 503 => scalar @after },
              'every request after the kill: 503');
    is(scalar(grep { /cookie$/ } @lines), 0, 'no Set-Cookie at all');

    my $r = $alice->verify(csrf => $csrf, time => time + 30);
    is($r->{status}, 503, 'verify with a right code, no Redis: 503');
    ok(!defined $r->{headers}{'set-cookie'}, 'no cookie');
    $r = $alice->get('/_otp/challenge');
    is($r->{status}, 503, 'challenge page, no Redis: 503');

    # back, empty, on the same port

    sleep 0.5;
    $t->run_redis(port => $redis_port);
    my $back = time;
    my $secs = gate_ready($t, '/private/', n => 20, seconds => 10);
    ok(defined $secs, 'the module reconnected by itself');
    diag('reconnected ' . ms($secs // 99) . ' after Redis came back');
    ok(defined $secs && $secs < 5, 'within 5 s');

    my $redis = redis_conn($t);
    my @scripts = $t->scripts;
    my @shas = map { sha1_hex($t->script($_)) } @scripts;
    is_deeply($redis->cmd('SCRIPT', 'EXISTS', @shas), [ (1) x @scripts ],
              'every script loaded again by the handshake');

    $r = $alice->get('/private/index.html');
    isnt($r->{status}, 200, 'the old session is gone with the data');
    like($r->{headers}{location} // '', qr{/_otp/enroll},
         'alice is sent to enroll again');

    # where she may not set up a new key until an admin accepts the
    # empty store (SPEC 6.21)
    my ($page) = OtpFlow->new($t, user => 'alice')->enroll_page('/');
    is($page->{status}, 503, 'enrollment refused: the store was lost');
    is(http->post($t->url('/_otp_admin/store/accept-reset'))->{status},
       200, 'an admin accepts the empty store');

    $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'enrolled again: passes');
    $alice->set_cookie(undef);
    $r = $alice->verify(time => time + 30);
    is($r->{status}, 303, 'verify works again');
    ok($alice->cookie, 'with a new session');
    is(scalar gated($t, $alice), 200, 'which passes');
    is(commandstat($redis, 'eval'), 0, 'no script had to be sent again');

    $redis->close;
    $t->stop;
});

# ------------------------------------------------------------ SIGSTOP

case('redis paused (SIGSTOP), timeout=300ms, one worker' => sub {
    my $t = setup(redis => 'timeout=300ms');

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');
    my @base = static_latencies($t, 20);
    my (undef, $csrf) = $alice->challenge;
    ok($csrf, 'a challenge page for later');

    $t->signal_redis('STOP');

    my $waiting = gated_clients($t, $alice, 5);
    my @lat = static_latencies($t, 20, 0.03);
    my @gated = map { @$_ } @{ $waiting->wait(30) };

    my @gst = map { (split / /)[0] } @gated;
    my @gsecs = map { (split / /)[1] } @gated;
    is_deeply(count(@gst), { 503 => 5 }, 'gated requests: 503')
        or diag(explain(\@gated));
    is(scalar(grep { /cookie$/ } @gated), 0, 'no cookie');
    ok(max(@gsecs) < 2, 'answered within 2 s');
    diag(sprintf 'gated 503 after %s .. %s (timeout 300 ms)',
         ms(min @gsecs), ms(max @gsecs));

    # A worker that waited on Redis would hold every request behind each
    # of the 5 gated ones for the 300 ms timeout: most static answers
    # would take a good part of that, some over a second.  A single slow
    # answer on a loaded machine (ASan) says nothing, so the median and
    # the worst case are checked with room to spare.
    my @sorted = sort { $a <=> $b } @lat;
    ok($sorted[$#sorted / 2] < 0.1,
       'static location: the median answer within 100 ms');
    ok(max(@lat) < 1, '... and none waits for the paused Redis');
    diag(sprintf 'static latency while Redis is paused: max %s, mean %s '
         . '(%d requests over %s; before: max %s)', ms(max @lat),
         ms(sum(@lat) / @lat), scalar @lat, ms(20 * 0.03 + sum @lat),
         ms(max @base));

    # still paused: the module fails fast while it cannot reconnect
    my ($st, $secs) = timed(sub { scalar gated($t, $alice) });
    is($st, 503, 'later gated request: 503');
    diag('later gated request answered in ' . ms($secs));
    ok($secs < 2, 'within 2 s');

    my $r = $alice->verify(csrf => $csrf, time => time + 30);
    is($r->{status}, 503, 'verify with a right code: 503');
    ok(!defined $r->{headers}{'set-cookie'}, 'no cookie');

    $t->signal_redis('CONT');
    my $rec = wait_until(10, sub { gated($t, $alice) == 200 });
    ok(defined $rec, 'recovers after SIGCONT');
    diag('passing again ' . ms($rec // 99) . ' after SIGCONT');
    is(scalar gated($t, $alice), 200, 'and keeps passing');

    $t->stop;
});

# ------------------------------------------------------------ SCRIPT FLUSH

case('SCRIPT FLUSH while running' => sub {
    my $t = setup;

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    my $redis = redis_conn($t);
    my $eval0 = commandstat($redis, 'eval');

    is($redis->cmd('SCRIPT', 'FLUSH'), 'OK', 'scripts flushed');
    is(scalar gated($t, $alice), 200, 'gated request passes');
    ok(commandstat($redis, 'eval') > $eval0, 'by sending the script (EVAL)');

    $alice->set_cookie(undef);
    my $r = $alice->verify(time => time + 30);
    is($r->{status}, 303, 'verify works');
    is(scalar gated($t, $alice), 200, 'with a session that passes');

    $redis->cmd('SCRIPT', 'FLUSH');
    $r = $alice->get('/_otp/challenge');
    is($r->{status}, 200, 'challenge page after another flush');

    $redis->close;
    $t->stop;
});

# ------------------------------------------------------------ CLIENT KILL

case('CLIENT KILL of the module connections' => sub {
    my $t = setup(workers => 2);

    ok(defined gate_ready($t, '/private/'), 'workers connected');
    my $alice = enroll_user($t, 'alice');
    my $redis = redis_conn($t);

    my $before = $redis->cmd('CLIENT', 'LIST');
    my $n = $redis->cmd('CLIENT', 'KILL', 'TYPE', 'normal');
    is($n, 2, 'both workers\' connections killed');

    my @st;
    my $rec = wait_until(10, sub {
        push @st, scalar gated($t, $alice);
        return @st >= 10 && !grep { $_ != 200 } @st[-10 .. -1];
    }, 0.01);
    ok(defined $rec, 'recovers');
    diag('10 passes in a row ' . ms($rec // 99) . ' after the kill; '
         . 'statuses meanwhile: ' . join ' ', map { "$_ x" . count(@st)->{$_} }
         sort keys %{ count(@st) });
    is_deeply([ grep { $_ != 200 && $_ != 503 } @st ], [],
              'only 200 and 503 meanwhile');

    my $after = $redis->cmd('CLIENT', 'LIST');
    my %old = map { /\bid=(\d+)/ ? ($1 => 1) : () } split /\n/, $before;
    my @new = grep { !$old{$_} }
              map { /\bid=(\d+)/ ? $1 : () } split /\n/, $after;
    ok(@new >= 2, 'the workers have new connections');
    like($t->error_log, qr/otp: redis connection lost/,
         'the loss is logged');

    $redis->close;
    $t->stop;
});

# ------------------------------------------------------------ DEBUG SLEEP

case('DEBUG SLEEP 1, timeout=300ms' => sub {
    my $t = setup(redis => 'timeout=300ms');

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');

    my $busy = redis_conn($t);
    my $s = $busy->{s};
    my $slept = time;
    print $s OtpTest::_resp('DEBUG', 'SLEEP', '1');
    sleep 0.05;

    my (($st, $cookie), $secs);
    (undef, $secs) = timed(sub { ($st, $cookie) = gated($t, $alice) });
    is($st, 503, 'gated request while Redis sleeps: 503');
    ok(!$cookie, 'no cookie');
    diag('answered in ' . ms($secs));
    ok($secs < 0.9, 'within the timeout, before Redis wakes up');

    is(OtpTest::_resp_read($s), 'OK', 'Redis slept');
    my $woke = time;
    $busy->close;

    my $rec = wait_until(10, sub { gated($t, $alice) == 200 });
    ok(defined $rec, 'recovers');
    diag(sprintf 'Redis slept %s; passing again %s after it woke',
         ms($woke - $slept), ms($rec // 99));

    $t->stop;
});

# ------------------------------------------------------------ OOM

case('Redis answering errors (OOM)' => sub {
    my $t = setup;

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');
    my (undef, $csrf) = $alice->challenge;
    ok($csrf, 'a challenge page for later');

    my $redis = redis_conn($t);
    $redis->cmd('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    is($redis->cmd('CONFIG', 'SET', 'maxmemory', '1'), 'OK',
       'Redis out of memory: writes fail');

    my ($st, $cookie) = gated($t, $alice);
    is($st, 503, 'gated request (its script writes): 503');
    ok(!$cookie, 'no cookie');
    my $r = $alice->verify(csrf => $csrf, time => time + 30);
    is($r->{status}, 503, 'verify with a right code: 503');
    ok(!defined $r->{headers}{'set-cookie'}, 'no cookie');
    like($t->error_log, qr/otp: redis error: .*OOM/, 'the error is logged');

    $redis->cmd('CONFIG', 'SET', 'maxmemory', '0');
    is(scalar gated($t, $alice), 200, 'memory back: alice passes');
    $r = $alice->verify(csrf => $csrf, time => time + 30);
    is($r->{status}, 303, 'and verify works on the same page');

    $redis->close;
    $t->stop;
});

# ------------------------------------------------------------ clients gone

case('clients that go away while waiting on Redis' => sub {
    my $timeout = 1;
    my $t = setup(redis => "timeout=${timeout}s");

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    my @csrf = map { ($alice->challenge)[1] } 1 .. 4;
    my @workers = $t->worker_pids;

    my $auth = basic_auth('alice');
    my $get = "GET /private/index.html HTTP/1.1\r\nHost: x\r\n"
              . "Authorization: $auth\r\n"
              . 'Cookie: otp_session=' . $alice->cookie . "\r\n\r\n";

    # the replies come after the clients left: the first round before
    # the command timeout, the second one after it

    for my $round ('reply', 'timeout') {
        $t->signal_redis('STOP');

        my @socks;
        for my $i (0 .. 5) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $t->port)
                or die "connect: $!";
            if ($i < 4) {
                print $s $get;
            } else {
                my $body = 'code=' . OtpFlow::totp($alice->secret,
                                                   time => time + 30)
                           . '&csrf=' . shift(@csrf) . '&return=%2F';
                print $s "POST /_otp/verify HTTP/1.1\r\nHost: x\r\n"
                         . "Authorization: $auth\r\n"
                         . "Content-Type: application/x-www-form-urlencoded"
                         . "\r\nContent-Length: " . length($body)
                         . "\r\n\r\n$body";
            }
            push @socks, $s;
        }

        sleep 0.3;
        close $_ for @socks;
        sleep($round eq 'reply' ? 0.2 : $timeout + 0.3);
        $t->signal_redis('CONT');

        my $rec = wait_until(5, sub { gated($t, $alice) == 200 });
        ok(defined $rec, "$round: alice passes again");
        is_deeply([ $t->worker_pids ], \@workers, "$round: same worker");
    }

    like($t->error_log, qr/client (closed|prematurely closed) connection/,
         'nginx saw the clients go');

    $t->stop;
});

# ------------------------------------------------------------ helpers

case('only workers connect to Redis, not the cache manager' => sub {
    my $t = track(OtpTest->new);
    my $key = $t->secret_file;
    $t->write_file('htpasswd', "probe:{PLAIN}probe\n", 0644);
    $t->run_redis;
    $t->write_conf(OtpTest::http_conf(<<"EOF", key => $key, workers => 1));
    proxy_cache_path %%DIR%%/cache keys_zone=one:1m;

    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location /private/ { otp on; alias %%DIR%%/; }
    }
EOF
    $t->run_nginx;

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $helpers = `ps -o cmd= --ppid $t->{pids}{nginx}`;
    like($helpers, qr/cache manager process/, 'a cache manager runs');
    sleep 0.3;

    my $redis = redis_conn($t);
    my @module = grep { !/\bcmd=client\b/ }
                 split /\n/, $redis->cmd('CLIENT', 'LIST');
    is(scalar @module, 1, 'one Redis connection: the worker\'s')
        or diag("nginx processes:\n$helpers");

    $redis->close;
    $t->stop;
});

# ------------------------------------------------------------ quit, no Redis

case('quit while Redis is gone' => sub {
    my $t = setup(workers => 2);

    ok(defined gate_ready($t, '/private/'), 'workers connected');
    $t->stop_redis('KILL');
    sleep 0.5;    # the workers are between reconnection attempts
    is(http->get($t->url('/private/index.html'), { headers => {
        Authorization => basic_auth('alice') } })->{status}, 503,
       'gated request: 503');

    my ($stopped, $secs) = timed(sub { $t->stop_process('nginx', 'QUIT') });
    ok($stopped, 'nginx quit');
    diag('quit took ' . ms($secs));
    ok($secs < 1, 'at once: reconnection timers do not hold it');

    $t->stop;
});

# ------------------------------------------------------------ AUTH

case('password' => sub {
    my $right = 'Rig9t-pass-' . int(rand 1e6);
    my $wrong = 'Wr0ng-pass-' . int(rand 1e6);

    my $t = setup(run_redis => { password => $right },
                  redis => "password=$wrong");

    my $failed = wait_until(5, sub {
        $t->error_log =~ /otp: redis AUTH failed/;
    });
    ok(defined $failed, 'AUTH failure logged');
    my ($line) = $t->error_log =~ /^(.*otp: redis AUTH failed.*)$/m;
    diag($line // 'no line');
    like($line // '', qr/WRONGPASS|invalid password|invalid username/,
         'with Redis\'s reason');

    my $r = http->get($t->url('/private/index.html'), { headers => {
        Authorization => basic_auth('alice'),
    } });
    is($r->{status}, 503, 'gated request: 503');
    ok(!defined $r->{headers}{'set-cookie'}, 'no cookie');
    $r = http->get($t->url('/static/index.html'));
    is($r->{status}, 200, 'the static location answers');

    # the right password, in the config and then in a file

    write_nginx_conf($t, redis => "password=$right");
    $t->reload_nginx;
    ok(defined gate_ready($t, '/private/'), 'password=: connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'password=: alice passes');

    $t->write_file('redis.pass', "$right\n", 0600);
    write_nginx_conf($t, redis => 'password_file=' . $t->dir . '/redis.pass');
    $t->reload_nginx;
    sleep 0.5;
    ok(defined gate_ready($t, '/private/'), 'password_file=: connected');
    my $bob = enroll_user($t, 'bob');
    is(scalar gated($t, $bob), 200, 'password_file=: bob passes');
    is(scalar gated($t, $alice), 200, 'and so does alice');

    my $log = $t->error_log . $t->read_file('stderr.log');
    unlike($log, qr/\Q$wrong\E/, 'the wrong password is not in the log');
    unlike($log, qr/\Q$right\E/, 'the right password is not in the log');

    $t->stop;
});

# ------------------------------------------------------------ unix socket

case('unix socket' => sub {
    my $t = setup(run_redis => { unix => 1 },
                  address => 'unix:%%DIR%%/redis.sock');

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');
    $alice->set_cookie(undef);
    is($alice->verify(time => time + 30)->{status}, 303, 'verify works');
    is(scalar gated($t, $alice), 200, 'with a session that passes');

    my $redis = redis_conn($t);
    my @module = grep { !/\bcmd=client\b/ }
                 split /\n/, $redis->cmd('CLIENT', 'LIST');
    ok(@module >= 1, 'the module is a client of Redis');
    is(scalar(grep { !/\baddr=\S*redis\.sock/ } @module), 0,
       'over the unix socket only') or diag(explain(\@module));

    $redis->close;
    $t->stop;
});

# ------------------------------------------------------------ db=N

case('db=5' => sub {
    my $t = setup(redis => 'db=5');

    ok(defined gate_ready($t, '/private/'), 'worker connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');

    my $db0 = redis_conn($t);
    my $db5 = redis_conn($t, db => 5);
    is($db0->cmd('DBSIZE'), 0, 'nothing in db 0');
    ok($db5->cmd('DBSIZE') > 0, 'keys in db 5');
    is($db5->cmd('EXISTS', okey('u', 'alice')), 1, 'alice\'s record in db 5');

    $db0->close;
    $db5->close;
    $t->stop;
});

# ------------------------------------------------------------ reload, quit

case('reload and quit while requests wait on paused Redis' => sub {
    my $timeout = 2;
    my $t = setup(workers => 2, redis => "timeout=${timeout}s");

    ok(defined gate_ready($t, '/private/'), 'workers connected');
    my $alice = enroll_user($t, 'alice');
    is(scalar gated($t, $alice), 200, 'alice passes');

    # reload

    my @old = $t->worker_pids;
    $t->signal_redis('STOP');
    my $waiting = gated_clients($t, $alice, 4);
    sleep 0.3;

    my $hup = time;
    $t->reload_nginx;

    my $new = wait_until(5, sub {
        my %old = map { $_ => 1 } @old;
        grep { !$old{$_} } $t->worker_pids;
    });
    ok(defined $new, 'new workers started');
    my @lat = static_latencies($t, 10, 0.02);
    # a worker waiting on Redis would hold them for the whole timeout
    ok(max(@lat) < $timeout / 2, 'the static location keeps answering')
        or diag(explain(\@lat));

    my $gone = wait_until($timeout + 5, sub { !grep { -e "/proc/$_" } @old });
    ok(defined $gone, 'old workers exited');
    diag(sprintf 'old workers exited %s after the reload (timeout %d s)',
         ms($gone // 99), $timeout);
    ok(defined $gone && $gone < $timeout + 3, "within $timeout s + 3 s");

    my @gated = map { @$_ } @{ $waiting->wait(30) };
    is_deeply(count(map { (split / /)[0] } @gated), { 503 => 4 },
              'the waiting requests got 503') or diag(explain(\@gated));

    $t->signal_redis('CONT');
    ok(defined gate_ready($t, '/private/', n => 20), 'new workers connected');
    is(scalar gated($t, $alice), 200, 'alice passes after the reload');

    # graceful quit

    $t->signal_redis('STOP');
    $waiting = gated_clients($t, $alice, 4);
    sleep 0.3;

    my ($stopped, $secs) = timed(sub { $t->stop_process('nginx', 'QUIT') });
    ok($stopped, 'nginx quit');
    diag(sprintf 'quit took %s (timeout %d s)', ms($secs), $timeout);
    ok($secs < $timeout + 3, "within $timeout s + 3 s");

    @gated = map { @$_ } @{ $waiting->wait(30) };
    is_deeply(count(map { (split / /)[0] } @gated), { 503 => 4 },
              'the waiting requests got 503') or diag(explain(\@gated));

    $t->signal_redis('CONT');
    $t->stop;
});

done_testing();
