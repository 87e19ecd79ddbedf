#!/usr/bin/perl

# Redis Sentinel (SPEC 12, issue 11): a real master and replica watched
# by three real sentinels.  The module asks the sentinels for the master,
# and when the master is killed under load from several clients: no
# request passes the gate without a valid session, no wrong code gets a
# session, requests that need Redis get 503 (at once, never a hang)
# until the replica is promoted, then the gate recovers by itself and the
# user's enrollment and session are still there.  With replicas=1 a code
# used just before the kill stays used after it, and with the replica
# stopped a verify gets 503.  A paused master: 503 within the timeout,
# other locations keep their latency, the gate moves to the promoted
# replica; a failover asked of the sentinels (SENTINEL FAILOVER, both
# servers up) is followed too.  nginx -t refuses the options that do not
# go together.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpFlow qw(totp basic_auth cookie_value);
use OtpFaults qw(clients wrong_code);
use OtpScale qw(redis_at sentinel_set wait_for stop_servers);

# ---------------------------------------------------------------- nginx -t

{
    my $t = OtpTest->new;
    my $key = $t->secret_file;
    my %bad = (
        'sentinel= without master=' => 'sentinel=127.0.0.1:1',
        'master= without sentinel=' => '127.0.0.1:1 master=m',
        'sentinel= and cluster=' =>
            'sentinel=127.0.0.1:1 master=m cluster=127.0.0.1:2',
        'a unix socket as a sentinel' =>
            'sentinel=unix:/tmp/s.sock master=m',
        'an empty sentinel list' => 'sentinel= master=m',
        'a trailing comma' => 'sentinel=127.0.0.1:1, master=m',
        'replicas=-1' => '127.0.0.1:1 replicas=-1',
        'two sentinel passwords' =>
            'sentinel=127.0.0.1:1 master=m sentinel_password=a '
            . 'sentinel_password_file=/x',
    );
    for my $name (sort keys %bad) {
        $t->write_conf(OtpTest::http_conf(
            "    otp_redis $bad{$name};\n", key => $key, redis => 0));
        my ($rc, $out) = $t->nginx_test;
        isnt($rc, 0, "nginx -t refuses $name");
        like($out, qr/otp_redis/, '... naming otp_redis') or diag($out);
    }

    $t->write_file('sentinel.pass', "s3cret\n", 0600);
    $t->write_conf(OtpTest::http_conf(
        "    otp_redis sentinel=127.0.0.1:1,127.0.0.1:2 master=m "
        . "sentinel_password_file=%%DIR%%/sentinel.pass replicas=1 "
        . "password=x;\n", key => $key, redis => 0));
    my ($rc, $out) = $t->nginx_test;
    is($rc, 0, 'nginx -t accepts sentinel=, master=, '
               . 'sentinel_password_file=, replicas=') or diag($out);
}

# ---------------------------------------------------------------- setup

sub setup {
    my (%o) = @_;

    my $t = OtpTest->new;
    my $key = $t->secret_file;
    $t->write_file('htpasswd',
                   join('', map { "$_:{PLAIN}$_\n" } qw(alice bob carol)),
                   0644);
    mkdir $t->dir . '/site';
    $t->write_file('site/index.html', "secret page\n", 0644);

    my $set = sentinel_set($t, replicas => $o{replicas} ? 2 : 1,
                           sentinel_password => $o{sentinel_password});
    my $sentinels = join ',', map { "127.0.0.1:$_" } @{ $set->{sentinels} };
    my $pass = '';
    if (defined $o{sentinel_password}) {
        $t->write_file('sentinel.pass', "$o{sentinel_password}\n", 0600);
        $pass = ' sentinel_password_file=%%DIR%%/sentinel.pass';
    }

    $t->write_conf(OtpTest::servers_conf(
        workers => 2,
        key     => $key,
        redis   => 0,
        http    => "otp_redis sentinel=$sentinels master=$set->{name}$pass "
                   . "connect_timeout=200ms timeout=300ms"
                   . ($o{replicas} ? " replicas=$o{replicas}" : '') . ";\n"
                   . "otp_session_recheck 0;\notp_lockout 1000 1m;\n",
        servers => [ [ '%%PORT%%', OtpTest::site_locations()
                                   . OtpTest::admin_locations() ] ],
    ));
    $t->run_nginx;

    # both workers found the master through the sentinels
    ok(wait_for(10, sub {
        () = $t->error_log =~ /the sentinels name 127\.0\.0\.1:$set->{master} /g;
    }) >= 2, 'both workers asked the sentinels for the master');
    ok($t->wait_redis_ready(workers => 2), 'both workers ready');

    return ($t, $set);
}

sub gated {
    my ($t, $cookie, $user) = @_;
    my $r = $t->http->get($t->url('/private/index.html'), { headers => {
        Authorization => basic_auth($user // 'alice'),
        (defined $cookie ? (Cookie => "otp_session=$cookie") : ()),
    } });
    return $r;
}

sub metric {
    my ($t, $name) = @_;
    my $text = $t->get('/_otp_status')->{content} // '';
    return $text =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# Kills the master while clients run; returns the time of the kill and
# the clients' lines "time kind status latency cookie|-".
sub failover_under_load {
    my ($t, $set, $alice, $bob, $secs) = @_;

    my $stop = time + $secs;
    my $cookie = $alice->cookie;
    my $secret = $bob->secret;

    my $c = clients(4, sub {
        my ($i) = @_;
        my @out;
        my $f = OtpFlow->new($t, user => 'bob', secret => $secret);
        while (time < $stop) {
            my $t0 = time;
            my ($kind, $r);
            if ($i == 0 || $i == 1) {
                # the signed-in browser
                ($kind, $r) = ('valid', gated($t, $cookie));
            } elsif ($i == 2) {
                # no session, and a forged one
                my $none = int(time * 10) % 2;
                ($kind, $r) = ($none ? 'none' : 'forged',
                               gated($t, $none ? undef : 'x' x 40, 'carol'));
            } else {
                # a wrong code on a fresh challenge
                $f->set_cookie(undef);
                my ($page, $csrf) = $f->challenge;
                if ($page->{status} != 200) {
                    ($kind, $r) = ('challenge', $page);
                } else {
                    ($kind, $r) = ('wrong',
                        $f->verify(csrf => $csrf,
                                   code => wrong_code($secret)));
                }
            }
            my $set_cookie = cookie_value($r, 'otp_session');
            push @out, sprintf '%.3f %s %d %.3f %s', $t0, $kind,
                $r->{status}, time - $t0,
                (defined $set_cookie && length $set_cookie)
                    ? 'cookie' : '-';
            push @out, "$t0 $kind-content"
                if $r->{status} == 200
                   && ($r->{content} // '') =~ /secret page/
                   && $kind ne 'valid';
            sleep 0.02;
        }
        return @out;
    })->go;

    sleep 1;
    my $killed = time;
    $t->signal_redis('KILL');
    my $lines = $c->wait($secs + 30);
    return ($killed, [ map { @$_ } @$lines ]);
}

# ---------------------------------------------------------------- failover

{
    my ($t, $set) = setup();

    my $alice = OtpFlow->new($t, user => 'alice');
    $alice->enroll;
    ok(defined $alice->cookie, 'alice enrolled and has a session');
    my $bob = OtpFlow->new($t, user => 'bob');
    $bob->enroll;
    is(gated($t, $alice->cookie)->{status}, 200, 'her session passes');

    # what asynchronous replication would otherwise lose in the kill
    is(redis_at($set->{master}, 'WAIT', 1, 2000), 1,
       'the replica has her records');

    my ($killed, $lines) = failover_under_load($t, $set, $alice, $bob,
                                             12);

    my (%count, @valid_after, $first_200, $max_latency);
    for (@$lines) {
        my ($at, $kind, $status, $lat, $cookie) = split / /;
        next unless defined $cookie;
        $count{"$kind $status"}++;
        $max_latency = $lat if !defined $max_latency || $lat > $max_latency;
        if ($kind eq 'valid' && $at > $killed) {
            push @valid_after, [ $at, $status ];
        }
        if ($kind ne 'valid' && $cookie eq 'cookie') {
            fail("a session cookie for $kind ($status)");
        }
    }
    diag(join ', ', map { "$_ x$count{$_}" } sort keys %count);

    is(scalar(grep { /-content$/ } @$lines), 0,
       'no gated content without a valid session');
    is($count{'none 200'} // 0, 0, 'no pass without a session');
    is($count{'forged 200'} // 0, 0, 'no pass with a forged session');
    is(scalar(grep { / died: / } @$lines), 0, 'no client died');
    ok(($count{'valid 503'} // 0) > 0, 'the session got 503 meanwhile');
    is(scalar(grep { !/ (200|503) / } grep { / valid / } @$lines), 0,
       'the session got nothing but 200 and 503');
    ok($max_latency < 1.5, sprintf 'no request hung (slowest %.3f s)',
                                   $max_latency);

    @valid_after = sort { $a->[0] <=> $b->[0] } @valid_after;
    my $first_503 = (grep { $_->[1] == 503 } @valid_after)[0];
    ($first_200) = grep { $_->[1] == 200 && $first_503
                          && $_->[0] > $first_503->[0] } @valid_after;
    ok($first_200, 'the gate recovered by itself under load');
    diag(sprintf 'master killed; first 200 again after %.2f s',
         $first_200->[0] - $killed) if $first_200;
    my @tail = map { $_->[1] } @valid_after[-10 .. -1];
    is_deeply(\@tail, [ (200) x 10 ], 'the last 10 passed');

    my $addr = redis_at($set->{sentinels}[0], 'SENTINEL',
                        'get-master-addr-by-name', $set->{name});
    is($addr->[1], $set->{replica}, 'the sentinels promoted the replica');
    like($t->error_log,
         qr/the sentinels name 127\.0\.0\.1:$set->{replica} master/,
         'the workers follow the sentinels to it');

    # the same session, and the same enrollment
    is(gated($t, $alice->cookie)->{status}, 200, 'her session is still there');
    my ($page) = $alice->challenge;
    unlike($page->{content} // '', qr/secret=/, 'she is still enrolled');
    my $r = $alice->verify(time => time + 30);
    ok(defined cookie_value($r, 'otp_session'),
       'her authenticator still signs her in');

    ok((metric($t, 'otp_redis_failovers_total') // 0) >= 1,
       'otp_status counts the failover');
    ok((metric($t, 'otp_redis_reconnects_total') // 0) >= 1,
       '... and the reconnect');

    $t->{redis_port} = $set->{replica};
    stop_servers($t);
    $t->stop;
}

# ------------------------------------------------------------ replicas=1

{
    my ($t, $set) = setup(replicas => 1);

    my $alice = OtpFlow->new($t, user => 'alice');
    $alice->enroll;
    ok(defined $alice->cookie, 'replicas=1: alice enrolled');

    # a code used just before the kill: the replica has it
    my $used_time = time + 30;
    my $code = totp($alice->secret, time => $used_time);
    my $r = $alice->verify(code => $code);
    ok(defined cookie_value($r, 'otp_session'), 'her code is accepted');

    $t->signal_redis('KILL');
    my $back = wait_for(20, sub {
        gated($t, $alice->cookie)->{status} == 200;
    });
    ok($back, 'the gate is back after the failover');

    # the new master, with the other replica following it: the sentinels
    # reconfigure it after the promotion, and it then syncs in full,
    # which takes a while on a loaded machine
    my ($master, $other);
    ok(wait_for(60, sub {
        my $addr = redis_at($set->{sentinels}[0], 'SENTINEL',
                            'get-master-addr-by-name', $set->{name});
        $master = $addr->[1];
        ($other) = grep { $_ != $master } keys %{ $set->{replicas} };
        (redis_at($master, 'INFO', 'replication') // '')
            =~ /connected_slaves:1/
            && (redis_at($other, 'INFO', 'replication') // '')
               =~ /master_link_status:up/
            && redis_at($master, 'WAIT', 1, 100) == 1;
    }), 'the other replica follows the new master');

    my $again = OtpFlow->new($t, user => 'alice', secret => $alice->secret);
    $r = $again->verify(code => $code);
    isnt($r->{status}, 503, 'a verify is answered after the failover');
    is(cookie_value($r, 'otp_session'), undef,
       'the code used before the kill is refused after it');

    # no replica left: no write that matters is acknowledged
    $t->{redis_port} = $master;
    $t->stop_process($set->{replicas}{$other}, 'KILL');
    my $lone = OtpFlow->new($t, user => 'alice', secret => $alice->secret);
    my (undef, $csrf) = $lone->challenge;
    $r = $lone->verify(csrf => $csrf, time => time + 30);
    is($r->{status}, 503, 'without a replica to confirm it, a verify '
                          . 'gets 503');
    is(cookie_value($r, 'otp_session'), undef, '... and no session');
    like($t->error_log, qr/WAIT: 0 of 1 replicas acknowledged/,
         'the missing acknowledgement is logged');

    stop_servers($t);
    $t->stop;
}

# ------------------------------------------------ paused, then demoted

{
    # sentinels that want a password
    my ($t, $set) = setup(sentinel_password => 'Sentinel-pass-1');

    # another nginx with a wrong one: the sentinels turn it away
    {
        my $w = OtpTest->new;
        my $wkey = $w->secret_file;
        $w->write_file('htpasswd', "alice:{PLAIN}alice\n", 0644);
        my $list = join ',', map { "127.0.0.1:$_" } @{ $set->{sentinels} };
        $w->write_conf(OtpTest::servers_conf(
            key => $wkey, redis => 0,
            http => "otp_redis sentinel=$list master=$set->{name} "
                    . "sentinel_password=wrong-pass;\n",
            servers => [ [ '%%PORT%%', OtpTest::site_locations() ] ],
        ));
        $w->run_nginx;
        ok(wait_for(10, sub {
            $w->error_log =~ /otp: redis AUTH failed: WRONGPASS/;
        }), 'a wrong sentinel password: the sentinels refuse it');
        unlike($w->error_log, qr/wrong-pass/, '... never logged');
        is($w->get('/private/index.html',
                   Authorization => basic_auth('alice'))->{status}, 503,
           '... and the gate answers 503');
        $w->stop;
    }

    my $alice = OtpFlow->new($t, user => 'alice');
    $alice->enroll;
    is(redis_at($set->{master}, 'WAIT', 1, 2000), 1,
       'paused: the replica has her records');

    # the master stops answering: calls time out, the sentinels fail over
    $t->signal_redis('STOP');
    my $t0 = time;
    my $r = gated($t, $alice->cookie);
    my $secs = time - $t0;
    is($r->{status}, 503, 'a paused master: the gate answers 503');
    ok($secs < 1, sprintf '... within the timeout (%.2f s)', $secs);

    my @lat;
    for (1 .. 10) {
        my $s0 = time;
        $t->get('/_pid');
        push @lat, time - $s0;
        sleep 0.05;
    }
    my ($max) = sort { $b <=> $a } @lat;
    ok($max < 0.3, sprintf 'other locations keep their latency (max %.3f s)',
                           $max);

    ok(wait_for(20, sub { gated($t, $alice->cookie)->{status} == 200 }),
       'the gate recovers by itself on the promoted replica');

    # the old master wakes up and is made a replica of the new one
    $t->signal_redis('CONT');
    ok(wait_for(20, sub {
        (redis_at($set->{master}, 'ROLE') // [''])->[0] eq 'slave';
    }), 'the old master is demoted');

    # a failover asked of the sentinels while both stay up, once they
    # all see the old master as a good replica
    ok(wait_for(30, sub {
        !grep {
            my $port = $_;
            !grep {
                my %r = @$_;
                $r{port} == $set->{master} && $r{flags} eq 'slave'
                    && $r{'master-link-status'} eq 'ok'
            } @{ redis_at($port, 'SENTINEL', 'REPLICAS', $set->{name})
                 // [] };
        } @{ $set->{sentinels} };
    }), 'the sentinels see it as a good replica');
    my $before = (redis_at($set->{master}, 'INFO', 'commandstats') // '')
                 =~ /cmdstat_evalsha:calls=(\d+)/ ? $1 : 0;
    my $ok = redis_at($set->{sentinels}[0], 'SENTINEL', 'FAILOVER',
                      $set->{name});
    is($ok, 'OK', 'SENTINEL FAILOVER back to the first master');
    ok(wait_for(20, sub {
        my $a = redis_at($set->{sentinels}[0], 'SENTINEL',
                         'get-master-addr-by-name', $set->{name});
        $a && $a->[1] == $set->{master}
            && (redis_at($set->{master}, 'ROLE') // [''])->[0] eq 'master';
    }), '... the sentinels name it again');

    # the sentinels close the clients of the demoted master: the gate
    # follows, and its scripts run on the first master again
    my $calls = sub {
        (redis_at($set->{master}, 'INFO', 'commandstats') // '')
            =~ /cmdstat_evalsha:calls=(\d+)/ ? $1 : 0;
    };
    my $passes = wait_for(20, sub {
        gated($t, $alice->cookie)->{status} == 200
            && $calls->() > $before + 1;
    });
    ok($passes, 'the gate follows the master back');
    is(gated($t, $alice->cookie)->{status}, 200, 'her session passes');

    stop_servers($t);
    $t->stop;
}

done_testing;
