#!/usr/bin/perl

# The store scripts of recovery codes, HOTP and remembered devices, run
# against a real redis-server the way the module runs them: every reply
# of attempt_consume.lua (a recovery code used up once, also by racing
# clients; an HOTP counter that only moves forward), recovery_set.lua,
# device_new.lua and device_session.lua, the new keys and fields of
# enroll_confirm.lua, revoke_user.lua and forget_totp.lua, and an
# expiry on every key but the user records after every case.

use strict;
use warnings;

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use OtpTest;

my $t = OtpTest->new;
$t->run_redis;

my $P = 'otp:';

my %sha = $t->load_scripts(qw(attempt_consume recovery_set device_new
                               device_session challenge_new enroll_begin
                               enroll_confirm revoke_user forget_totp
                               session_new session_check user_state));

sub key { $P . join ':', @_ }

sub run {
    my ($name, $keys, @argv) = @_;
    return $t->redis('EVALSHA', $sha{$name}, scalar @$keys, @$keys, @argv);
}

sub h { sprintf '%064x', $_[0] }     # a code's hash, for the store

sub consume {
    my ($id, $user, $kind, $proof, %o) = @_;
    return run('attempt_consume',
        [ key(c => $id), key(f => $user), key(l => $user), key(u => $user) ],
        $user, $kind, $proof, $o{max} // 5, $o{lock_after} // 10,
        $o{lock_secs} // 900, $o{sealed} // ());
}

sub challenge {
    my ($id, $user) = @_;
    return run('challenge_new', [ key(c => $id) ], $user, 300);
}

sub keys_expire {
    my ($what) = @_;
    my ($cursor, @bad) = (0);
    do {
        my $r = $t->redis('SCAN', $cursor, 'COUNT', 1000);
        $cursor = $r->[0];
        for my $k (@{ $r->[1] }) {
            next if index($k, key('u', '')) == 0;
            push @bad, $k if $t->redis('TTL', $k) == -1;
        }
    } while ($cursor ne '0');
    ok(!@bad, "$what: every key but user records expires") or diag("@bad");
}

sub case {
    my ($name, $code) = @_;
    subtest $name => sub {
        $code->();
        keys_expire($name);
    };
}

# N clients run $code->(i) at the same moment; returns their replies
sub race {
    my ($n, $code) = @_;
    my @pipes;
    my $go = time + 0.3;
    for my $i (1 .. $n) {
        pipe my $r, my $w or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $r;
            sleep 0.001 while time < $go;
            my $reply = $code->($i);
            print $w ref $reply ? join(' ', map { $_ // '' } @$reply)
                                : $reply // '';
            close $w;
            POSIX::_exit(0);
        }
        close $w;
        push @pipes, [ $pid, $r ];
    }
    my @out;
    for (@pipes) {
        my ($pid, $r) = @$_;
        local $/;
        push @out, scalar <$r>;
        waitpid $pid, 0;
    }
    return @out;
}

# ---------------------------------------------------------- recovery codes

case 'attempt_consume: recovery' => sub {
    my $codes = join '', map { h($_) } 1 .. 3;
    $t->redis('HSET', key(u => 'rc'), 'totp', 'S', 'rc', $codes);

    challenge('rc1', 'rc');
    is_deeply(consume('rc1', 'rc', 'recovery', h(2)), [ 'ok', 2 ],
              'a code of the user: ok, 2 left');
    is($t->redis('HGET', key(u => 'rc'), 'rc'), h(1) . h(3),
       'that one is gone, the others stay in order');
    is($t->redis('EXISTS', key(c => 'rc1')), 0, 'the challenge is used up');

    challenge('rc2', 'rc');
    is_deeply(consume('rc2', 'rc', 'recovery', h(2)), [ 'wrong', 4 ],
              'the same code again: wrong');
    is($t->redis('GET', key(f => 'rc')), 1, 'a failure');
    is_deeply(consume('rc2', 'rc', 'recovery', ''), [ 'wrong', 3 ],
              'no code (cannot be one): wrong');
    is_deeply(consume('rc2', 'rc', 'recovery', h(3)), [ 'ok', 1 ],
              'another code: ok, failures forgotten');
    is($t->redis('EXISTS', key(f => 'rc')), 0, 'no failures');

    # a hash that straddles two stored ones is not a code
    challenge('rc3', 'rc');
    $t->redis('HSET', key(u => 'rc'), 'rc', h(7) . h(8));
    my $straddle = substr(h(7) . h(8), 32, 64);
    is_deeply(consume('rc3', 'rc', 'recovery', $straddle), [ 'wrong', 4 ],
              'only whole hashes count');

    is_deeply(consume('rc3', 'rc', 'recovery', h(7)), [ 'ok', 1 ], 'one');
    challenge('rc4', 'rc');
    is_deeply(consume('rc4', 'rc', 'recovery', h(8)), [ 'ok', 0 ], 'last');
    is($t->redis('HEXISTS', key(u => 'rc'), 'rc'), 0,
       'the last one takes the field');

    challenge('rc5', 'rc');
    is_deeply(consume('rc5', 'rc', 'recovery', h(8), max => 2),
              [ 'wrong', 1 ], 'none left: wrong');
    is_deeply(consume('rc5', 'rc', 'recovery', h(9), max => 2), ['burnt'],
              'max attempts: burnt');
    is_deeply(consume('rc5', 'rc', 'recovery', h(8), max => 2), ['burnt'],
              'burnt stays burnt');

    challenge('rc6', 'rc');
    my @r = map { consume('rc6', 'rc', 'recovery', h(1), lock_after => 4,
                          lock_secs => 60) } 1 .. 2;
    is_deeply($r[1], [ 'locked', 60, 1 ],
              'the failure that reaches the lockout: locked, 1');
    $t->redis('HSET', key(u => 'rc'), 'rc', h(1));
    is(consume('rc6', 'rc', 'recovery', h(1))->[0], 'locked',
       'a right code while locked: locked');
    is($t->redis('HGET', key(u => 'rc'), 'rc'), h(1), 'and not used up');

    is_deeply(consume('none', 'rc', 'recovery', h(1)), [ 'locked', 60 ],
              'locked before anything else');
    $t->redis('DEL', key(l => 'rc'));
    is_deeply(consume('none', 'rc', 'recovery', h(1)), ['no_challenge'],
              'no challenge');
    challenge('rc7', 'other');
    is_deeply(consume('rc7', 'rc', 'recovery', h(1)), ['no_challenge'],
              'another user\'s challenge');

    like(consume('rc7', 'rc', 'recovery', 'XYZ'),
         qr/^-ERR attempt_consume/, 'not a hash: error');
    like(consume('rc7', 'rc', 'recovery', uc h(0xabc)),
         qr/^-ERR attempt_consume/, 'upper-case hex: error');
    like(consume('rc7', 'rc', 'email', h(1)),
         qr/^-ERR attempt_consume/, 'unknown kind: error');
    like(consume('rc7', 'rc', 'recovery', h(1), max => 0),
         qr/^-ERR attempt_consume/, 'max 0: error');
    $t->redis('DEL', key(c => 'rc7'));
};

case 'attempt_consume: one code, 20 racing clients' => sub {
    $t->redis('HSET', key(u => 'race'), 'totp', 'S',
              'rc', join('', map { h($_) } 1 .. 10));
    challenge("race$_", 'race') for 1 .. 20;
    my @r = race(20, sub {
        consume("race$_[0]", 'race', 'recovery', h(5), lock_after => 100);
    });
    is(scalar(grep { /^ok 9$/ } @r), 1, 'exactly one ok') or diag("@r");
    is(length $t->redis('HGET', key(u => 'race'), 'rc'), 9 * 64,
       'one code gone');
    $t->redis('DEL', map { key(c => "race$_") } 1 .. 20);
    $t->redis('DEL', key(f => 'race'));
};

# -------------------------------------------------------------------- HOTP

case 'attempt_consume: hotp' => sub {
    $t->redis('HSET', key(u => 'ho'), 'totp', 'SEALED', 'type', 'hotp',
              'counter', 10);

    challenge('ho1', 'ho');
    is_deeply(consume('ho1', 'ho', 'hotp', 12, sealed => 'SEALED'),
              [ 'ok', 13 ], 'a counter ahead: ok, the counter past it');
    is($t->redis('HGET', key(u => 'ho'), 'counter'), 13, 'counter 13');

    challenge('ho2', 'ho');
    is_deeply(consume('ho2', 'ho', 'hotp', 12, sealed => 'SEALED'),
              [ 'wrong', 4 ], 'the same counter again: wrong');
    is_deeply(consume('ho2', 'ho', 'hotp', 11, sealed => 'SEALED'),
              [ 'wrong', 3 ], 'one behind: wrong');
    is_deeply(consume('ho2', 'ho', 'hotp', '', sealed => 'SEALED'),
              [ 'wrong', 2 ], 'no match: wrong');
    is($t->redis('HGET', key(u => 'ho'), 'counter'), 13,
       'wrong codes leave the counter');
    is_deeply(consume('ho2', 'ho', 'hotp', 13, sealed => 'OTHER'),
              [ 'wrong', 1 ], 'checked against another secret: wrong');
    is_deeply(consume('ho2', 'ho', 'hotp', 13, sealed => 'SEALED'),
              [ 'ok', 14 ], 'the expected counter: ok');

    $t->redis('HDEL', key(u => 'ho'), 'type');
    challenge('ho3', 'ho');
    is_deeply(consume('ho3', 'ho', 'hotp', 20, sealed => 'SEALED'),
              [ 'wrong', 4 ], 'the user is no longer HOTP: wrong');

    like(consume('ho3', 'ho', 'hotp', 'x', sealed => 'SEALED'),
         qr/^-ERR attempt_consume/, 'a counter that is not a number: error');
    like(consume('ho3', 'ho', 'hotp', '1.5', sealed => 'SEALED'),
         qr/^-ERR attempt_consume/, 'a fraction: error');
    $t->redis('DEL', key(c => 'ho3'), key(f => 'ho'));
};

case 'attempt_consume: one HOTP counter, 20 racing clients' => sub {
    $t->redis('HSET', key(u => 'hr'), 'totp', 'S', 'type', 'hotp',
              'counter', 5);
    challenge("hr$_", 'hr') for 1 .. 20;
    my @r = race(20, sub {
        consume("hr$_[0]", 'hr', 'hotp', 7, sealed => 'S',
                lock_after => 100);
    });
    is(scalar(grep { /^ok 8$/ } @r), 1, 'exactly one ok') or diag("@r");
    is($t->redis('HGET', key(u => 'hr'), 'counter'), 8, 'counter 8');
    $t->redis('DEL', map { key(c => "hr$_") } 1 .. 20);
    $t->redis('DEL', key(f => 'hr'));
};

# ------------------------------------------------------------ enrollment

case 'enroll_confirm: HOTP, recovery codes, devices' => sub {
    my @k = (key(e => 'en'), key(u => 'en'), key(f => 'en'), key(l => 'en'),
             key(t => 'en'), key(d => 'en'));
    $t->redis('ZADD', $k[5], time + 100, 'dev1');
    $t->redis('EXPIRE', $k[5], 100);

    is_deeply(run('enroll_begin', [ $k[0] ], 'S1', 'sha1', 6, 30, 600,
                  'hotp'),
              [ 'ok', 'S1', 'sha1', 6, 30, 'hotp' ], 'an HOTP enrollment');
    like(run('enroll_confirm', \@k, 'en', 'S1', 'ok', '', 3, 60, 120, '',
             h(1)), qr/^-ERR enroll_confirm/, 'HOTP without a counter: error');
    like(run('enroll_confirm', \@k, 'en', 'S1', 'ok', '', 3, 60, 120, 4,
             'xyz'), qr/^-ERR enroll_confirm/, 'codes not hex: error');
    is_deeply(run('enroll_confirm', \@k, 'en', 'S1', 'ok', '', 3, 60, 120,
                  4, h(1) . h(2)), ['ok'], 'confirmed');
    is_deeply({ @{ $t->redis('HGETALL', $k[1]) } },
              { totp => 'S1', alg => 'sha1', digits => 6, period => 30,
                type => 'hotp', counter => 4, rc => h(1) . h(2) },
              'HOTP, its counter and the recovery codes');
    is($t->redis('EXISTS', $k[5]), 0, 'the remembered devices are gone');
    is_deeply([ @{ run('user_state', [ @k[1, 3, 0] ]) }[9 .. 11] ],
              [ 'hotp', 4, 2 ], 'user_state: type, counter, codes');

    run('enroll_begin', [ $k[0] ], 'S2', 'sha1', 6, 30, 600);
    is_deeply(run('enroll_confirm', [ @k[0 .. 4] ], 'en', 'S2', 'ok', 5,
                  3, 60, 120), ['ok'], 'then TOTP, the old way');
    is_deeply({ @{ $t->redis('HGETALL', $k[1]) } },
              { totp => 'S2', alg => 'sha1', digits => 6, period => 30,
                rc => h(1) . h(2) },
              'no type or counter; codes kept when none are given');
    $t->redis('DEL', $k[4]);
};

case 'recovery_set' => sub {
    is_deeply(run('recovery_set', [ key(u => 'rs') ], h(1)), ['no_factor'],
              'no authenticator: no codes');
    is($t->redis('EXISTS', key(u => 'rs')), 0, 'no record made');
    $t->redis('HSET', key(u => 'rs'), 'totp', 'S', 'rc', h(9));
    is_deeply(run('recovery_set', [ key(u => 'rs') ], h(1) . h(2)),
              [ 'ok', 2 ], 'two new codes');
    is($t->redis('HGET', key(u => 'rs'), 'rc'), h(1) . h(2),
       'they replace the old ones');
    $t->redis('HSET', key(u => 'rs'), 'must_enroll', 1);
    is_deeply(run('recovery_set', [ key(u => 'rs') ], h(3)), ['no_factor'],
              'must enroll again: no codes');
    like(run('recovery_set', [ key(u => 'rs') ], ''),
         qr/^-ERR recovery_set/, 'none: error');
    like(run('recovery_set', [ key(u => 'rs') ], 'abc'),
         qr/^-ERR recovery_set/, 'not 64 hex digits: error');
};

# ------------------------------------------------------------- devices

case 'device_new' => sub {
    my $d = key(d => 'dn');
    my $now = time;
    is_deeply(run('device_new', [$d], 'aa', $now + 100, $now, 3),
              [ 'ok', 1 ], 'one device');
    my $ttl = $t->redis('TTL', $d);
    ok($ttl > 95 && $ttl <= 100, "the set expires with it ($ttl)");
    is_deeply(run('device_new', [$d], 'bb', $now + 50, $now, 3),
              [ 'ok', 2 ], 'a second one, expiring sooner');
    $ttl = $t->redis('TTL', $d);
    ok($ttl > 95, "the set still lasts as long as the longest ($ttl)");
    run('device_new', [$d], $_, $now + 200, $now, 3) for qw(cc dd);
    is_deeply($t->redis('ZRANGE', $d, 0, -1), [qw(aa cc dd)],
              'at most 3: the one expiring first goes');
    $t->redis('ZADD', $d, $now - 1, 'old');
    run('device_new', [$d], 'ee', $now + 300, $now, 10);
    is($t->redis('ZSCORE', $d, 'old'), undef, 'expired ones are dropped');
    like(run('device_new', [$d], 'ff', $now - 1, $now, 3),
         qr/^-ERR device_new/, 'an expiry in the past: error');
    like(run('device_new', [$d], 'XY', $now + 1, $now, 3),
         qr/^-ERR device_new/, 'an id that is not hex: error');
};

case 'device_session' => sub {
    my @k = (key(d => 'ds'), key(u => 'ds'), key(l => 'ds'),
             key(s => 'ds-1'), key(su => 'ds'));
    my $now = time;
    my @a = ('ds', 'aa', $now, 600, 3600, $now - 100);

    $t->redis('HSET', $k[1], 'totp', 'S', 'gen', 4);
    is_deeply(run('device_session', \@k, @a), ['unknown'],
              'no device: unknown');
    $t->redis('ZADD', $k[0], $now - 1, 'aa');
    $t->redis('EXPIRE', $k[0], 100);
    is_deeply(run('device_session', \@k, @a), ['unknown'],
              'an expired device: unknown');
    $t->redis('ZADD', $k[0], $now + 100, 'aa');
    $t->redis('SET', $k[2], 1, 'EX', 60);
    is_deeply(run('device_session', \@k, @a), ['locked'], 'locked');
    $t->redis('DEL', $k[2]);
    $t->redis('HSET', $k[1], 'must_enroll', 1);
    is_deeply(run('device_session', \@k, @a), ['no_factor'],
              'must enroll: no_factor');
    $t->redis('HDEL', $k[1], 'must_enroll', 'totp');
    is_deeply(run('device_session', \@k, @a), ['no_factor'],
              'no authenticator: no_factor');
    is($t->redis('EXISTS', $k[3]), 0, 'no session made so far');

    $t->redis('HSET', $k[1], 'totp', 'S');
    is_deeply(run('device_session', \@k, @a), ['ok'], 'ok');
    is_deeply({ @{ $t->redis('HGETALL', $k[3]) } },
              { u => 'ds', c => $now, a => $now - 100, m => 'remembered',
                g => 4, l => $now },
              'a session: method remembered, the time of the code');
    is($t->redis('SISMEMBER', $k[4], $k[3]), 1, 'in the user\'s set');
    is_deeply(run('session_check', [ @k[3, 1, 4] ], 'ds', $now, 600, 3600),
              [ 'ok', $now, $now - 100, 'remembered' ], 'session_check');

    is_deeply(run('revoke_user', [ @k[1, 4, 0] ]), [ 'ok', 1 ],
              'revoke_user with the devices');
    is($t->redis('EXISTS', $k[0]), 0, 'the devices are gone');
    is_deeply(run('device_session', \@k, @a), ['unknown'],
              'the device no longer makes sessions');

    $t->redis('ZADD', $k[0], $now + 100, 'bb');
    $t->redis('EXPIRE', $k[0], 100);
    $t->redis('HSET', $k[1], 'rc', h(1), 'type', 'hotp', 'counter', 3);
    is_deeply(run('forget_totp', [ $k[1], key(e => 'ds'), @k[4, 0] ]),
              [ 'ok', 1, 0 ], 'forget_totp with the devices');
    is($t->redis('EXISTS', $k[0]), 0, 'the devices are gone');
    is_deeply([ sort @{ $t->redis('HKEYS', $k[1]) } ], ['gen'],
              'and the codes, type and counter');
    like(run('device_session', \@k, 'ds', 'aa', 0, 600, 3600, $now),
         qr/^-ERR device_session/, 'now 0: error');
};

$t->stop_redis;

done_testing;
