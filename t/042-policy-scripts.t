#!/usr/bin/perl

# The store scripts of recovery codes, HOTP and remembered devices, run
# against a real redis-server the way the module runs them: attempt.lua
# with recovery codes and HOTP counters (a recovery code used up once,
# also by racing clients; an HOTP counter that only moves forward; the
# session a right one makes), recovery_set.lua, device_new.lua, the
# remembered browsers of gate.lua, the new keys and fields of
# enroll_confirm.lua, revoke_user.lua and forget_totp.lua, and an expiry
# on every key but the user records after every case.

use strict;
use warnings;

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use OtpTest;
use OtpKeys;

my $t = OtpTest->new;
$t->run_redis;

my $P = 'otp:';

my %sha = $t->load_scripts(qw(attempt recovery_set device_new gate
                               challenge_new enroll_begin enroll_confirm
                               revoke_user forget_totp session_new
                               session_check user_state));

# the scripts take "now" from the caller; devices expire with EXPIREAT,
# so it has to be the real time
my $NOW = time;

sub run {
    my ($name, $keys, @argv) = @_;
    return $t->redis('EVALSHA', $sha{$name}, scalar @$keys, @$keys, @argv);
}

sub h { sprintf '%064x', $_[0] }     # a code's hash, for the store

# attempt.lua with otp_max_attempts 5, otp_lockout 10 15m unless told
# otherwise; the session it makes is "<challenge id>-s"; an HOTP code was
# checked against $o{sealed}
sub consume {
    my ($id, $user, $kind, $proof, %o) = @_;
    return run('attempt',
        [ okey(c => $o{owner} // $user, $id), okey(f => $user),
          okey(l => $user), okey(t => $user), okey(u => $user),
          okey(s => $user, "$id-s"), okey(su => $user), okey(d => $user),
          okey(cl => $user) ],
        $user, $kind, $proof, $o{sealed} // '', $o{max} // 5,
        $o{lock_after} // 10, $o{lock_secs} // 900, 120, $NOW, 600, 3600,
        '', '', 5);
}

sub challenge {
    my ($id, $user) = @_;
    return run('challenge_new',
               [ okey(c => $user, $id), okey(u => $user), okey(l => $user),
                 okey(es => $user), okey(cl => $user),
                 okey(c => $user, $id) ],
               $user, 300, 'always', $NOW, 1000, 5, 60);
}

# the session attempt.lua made for challenge $id, or undef
sub session_of {
    my ($id, $user) = @_;
    my $s = okey(s => $user, "$id-s");
    return undef unless $t->redis('EXISTS', $s);
    return { @{ $t->redis('HGETALL', $s) },
             in_set => $t->redis('SISMEMBER', okey(su => $user), $s) };
}

sub keys_expire {
    my ($what) = @_;
    my ($cursor, @bad) = (0);
    do {
        my $r = $t->redis('SCAN', $cursor, 'COUNT', 1000);
        $cursor = $r->[0];
        for my $k (@{ $r->[1] }) {
            next if $k =~ /^\Q$P\E\{[^}]*\}:u$/;
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

case 'attempt: recovery' => sub {
    my $codes = join '', map { h($_) } 1 .. 3;
    $t->redis('HSET', okey(u => 'rc'), 'totp', 'S', 'rc', $codes, 'gen', 3);

    challenge('rc1', 'rc');
    is_deeply(consume('rc1', 'rc', 'recovery', h(2)), [ 'ok', 2 ],
              'a code of the user: ok, 2 left');
    is($t->redis('HGET', okey(u => 'rc'), 'rc'), h(1) . h(3),
       'that one is gone, the others stay in order');
    is($t->redis('EXISTS', okey(c => 'rc', 'rc1')), 0,
       'the challenge is used up');
    is_deeply(session_of('rc1', 'rc'),
              { u => 'rc', c => $NOW, a => $NOW, m => 'recovery', g => 3,
                l => $NOW, in_set => 1 },
              'a session, method recovery, in the user\'s set');

    challenge('rc2', 'rc');
    is_deeply(consume('rc2', 'rc', 'recovery', h(2)), [ 'wrong', 4 ],
              'the same code again: wrong');
    is($t->redis('GET', okey(f => 'rc')), 1, 'a failure');
    is_deeply(consume('rc2', 'rc', 'recovery', ''), [ 'wrong', 3 ],
              'no code (cannot be one): wrong');
    is(session_of('rc2', 'rc'), undef, 'no session for wrong codes');
    is_deeply(consume('rc2', 'rc', 'recovery', h(3)), [ 'ok', 1 ],
              'another code: ok, failures forgotten');
    is($t->redis('EXISTS', okey(f => 'rc')), 0, 'no failures');
    is(session_of('rc2', 'rc')->{m}, 'recovery', 'a session');

    # a hash that straddles two stored ones is not a code
    challenge('rc3', 'rc');
    $t->redis('HSET', okey(u => 'rc'), 'rc', h(7) . h(8));
    my $straddle = substr(h(7) . h(8), 32, 64);
    is_deeply(consume('rc3', 'rc', 'recovery', $straddle), [ 'wrong', 4 ],
              'only whole hashes count');

    is_deeply(consume('rc3', 'rc', 'recovery', h(7)), [ 'ok', 1 ], 'one');
    challenge('rc4', 'rc');
    is_deeply(consume('rc4', 'rc', 'recovery', h(8)), [ 'ok', 0 ], 'last');
    is($t->redis('HEXISTS', okey(u => 'rc'), 'rc'), 0,
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
    $t->redis('HSET', okey(u => 'rc'), 'rc', h(1));
    is(consume('rc6', 'rc', 'recovery', h(1))->[0], 'locked',
       'a right code while locked: locked');
    is($t->redis('HGET', okey(u => 'rc'), 'rc'), h(1), 'and not used up');
    is(session_of('rc6', 'rc'), undef, 'no session');

    is_deeply(consume('none', 'rc', 'recovery', h(1)), [ 'locked', 60 ],
              'locked before anything else');
    $t->redis('DEL', okey(l => 'rc'));
    is_deeply(consume('none', 'rc', 'recovery', h(1)), ['no_challenge'],
              'no challenge');
    challenge('rc7', 'other');
    is_deeply(consume('rc7', 'rc', 'recovery', h(1), owner => 'other'),
              ['no_challenge'], 'another user\'s challenge');
    is($t->redis('HGET', okey(u => 'rc'), 'rc'), h(1), 'not used up');

    like(consume('rc7', 'rc', 'recovery', 'XYZ'),
         qr/^-ERR attempt/, 'not a hash: error');
    like(consume('rc7', 'rc', 'recovery', uc h(0xabc)),
         qr/^-ERR attempt/, 'upper-case hex: error');
    like(consume('rc7', 'rc', 'email', h(1)),
         qr/^-ERR attempt/, 'unknown kind: error');
    like(consume('rc7', 'rc', 'recovery', h(1), max => 0),
         qr/^-ERR attempt/, 'max 0: error');
    $t->redis('DEL', okey(c => 'other', 'rc7'));
};

case 'attempt: one recovery code, 20 racing clients' => sub {
    $t->redis('HSET', okey(u => 'race'), 'totp', 'S',
              'rc', join('', map { h($_) } 1 .. 10));
    challenge("race$_", 'race') for 1 .. 20;
    my @r = race(20, sub {
        consume("race$_[0]", 'race', 'recovery', h(5), lock_after => 100);
    });
    is(scalar(grep { /^ok 9$/ } @r), 1, 'exactly one ok') or diag("@r");
    is(length $t->redis('HGET', okey(u => 'race'), 'rc'), 9 * 64,
       'one code gone');
    is($t->redis('SCARD', okey(su => 'race')), 1, 'one session made');
    $t->redis('DEL', map { okey(c => 'race', "race$_") } 1 .. 20);
    $t->redis('DEL', okey(f => 'race'));
};

# -------------------------------------------------------------------- HOTP

case 'attempt: hotp' => sub {
    $t->redis('HSET', okey(u => 'ho'), 'totp', 'SEALED', 'type', 'hotp',
              'counter', 10);
    my %s = (sealed => 'SEALED');

    challenge('ho1', 'ho');
    is_deeply(consume('ho1', 'ho', 'hotp', 12, %s),
              [ 'ok', 13 ], 'a counter ahead: ok, the counter past it');
    is($t->redis('HGET', okey(u => 'ho'), 'counter'), 13, 'counter 13');
    is_deeply(session_of('ho1', 'ho'),
              { u => 'ho', c => $NOW, a => $NOW, m => 'hotp', g => 0,
                l => $NOW, in_set => 1 },
              'a session, method hotp');

    challenge('ho2', 'ho');
    is_deeply(consume('ho2', 'ho', 'hotp', 12, %s),
              [ 'wrong', 4 ], 'the same counter again: wrong');
    is_deeply(consume('ho2', 'ho', 'hotp', 11, %s),
              [ 'wrong', 3 ], 'one behind: wrong');
    is_deeply(consume('ho2', 'ho', 'hotp', '', %s),
              [ 'wrong', 2 ], 'no match: wrong');
    is($t->redis('HGET', okey(u => 'ho'), 'counter'), 13,
       'wrong codes leave the counter');
    is_deeply(consume('ho2', 'ho', 'hotp', 13, sealed => 'OTHER'),
              ['stale'], 'checked against another secret: stale');
    is($t->redis('HGET', okey(c => 'ho', 'ho2'), 'a'), 3,
       'not counted on the challenge');
    is($t->redis('GET', okey(f => 'ho')), 3, 'nor as a failure');
    is(session_of('ho2', 'ho'), undef, 'no session so far');
    is_deeply(consume('ho2', 'ho', 'hotp', 13, %s),
              [ 'ok', 14 ], 'the expected counter: ok');
    is(session_of('ho2', 'ho')->{m}, 'hotp', 'a session');

    $t->redis('HDEL', okey(u => 'ho'), 'type');
    challenge('ho3', 'ho');
    is_deeply(consume('ho3', 'ho', 'hotp', 20, %s),
              ['stale'], 'the user is no longer HOTP: stale');
    is($t->redis('HGET', okey(c => 'ho', 'ho3'), 'a'), 0, 'not counted');

    like(consume('ho3', 'ho', 'hotp', 'x', %s),
         qr/^-ERR attempt/, 'a counter that is not a number: error');
    like(consume('ho3', 'ho', 'hotp', '1.5', %s),
         qr/^-ERR attempt/, 'a fraction: error');
    $t->redis('DEL', okey(c => 'ho', 'ho3'), okey(f => 'ho'));
};

case 'attempt: one HOTP counter, 20 racing clients' => sub {
    $t->redis('HSET', okey(u => 'hr'), 'totp', 'S', 'type', 'hotp',
              'counter', 5);
    challenge("hr$_", 'hr') for 1 .. 20;
    my @r = race(20, sub {
        consume("hr$_[0]", 'hr', 'hotp', 7, sealed => 'S',
                lock_after => 100);
    });
    is(scalar(grep { /^ok 8$/ } @r), 1, 'exactly one ok') or diag("@r");
    is($t->redis('HGET', okey(u => 'hr'), 'counter'), 8, 'counter 8');
    is($t->redis('SCARD', okey(su => 'hr')), 1, 'one session made');
    $t->redis('DEL', map { okey(c => 'hr', "hr$_") } 1 .. 20);
    $t->redis('DEL', okey(f => 'hr'));
};

# ------------------------------------------------------------ enrollment

case 'enroll_confirm: HOTP, recovery codes, devices' => sub {
    my @k = (okey(e => 'en', 'b1'), okey(es => 'en'), okey(u => 'en'),
             okey(f => 'en'), okey(l => 'en'), okey(t => 'en'),
             okey(d => 'en'));
    $t->redis('ZADD', $k[6], time + 100, 'dev1');
    $t->redis('EXPIRE', $k[6], 100);

    is_deeply(run('enroll_begin', [ @k[0, 1] ], 'S1', 'sha1', 6, 30, 600,
                  'hotp', 5),
              [ 'ok', 'S1', 'sha1', 6, 30, 'hotp', 1 ],
              'an HOTP enrollment');
    like(run('enroll_confirm', \@k, 'en', 'S1', 'ok', '', 3, 60, 120, '',
             h(1)), qr/^-ERR enroll_confirm/, 'HOTP without a counter: error');
    like(run('enroll_confirm', \@k, 'en', 'S1', 'ok', '', 3, 60, 120, 4,
             'xyz'), qr/^-ERR enroll_confirm/, 'codes not hex: error');
    is_deeply(run('enroll_confirm', \@k, 'en', 'S1', 'ok', '', 3, 60, 120,
                  4, h(1) . h(2)), ['ok'], 'confirmed');
    is_deeply({ @{ $t->redis('HGETALL', $k[2]) } },
              { totp => 'S1', alg => 'sha1', digits => 6, period => 30,
                type => 'hotp', counter => 4, rc => h(1) . h(2),
                aid => 2, anext => 2, name => 'Authenticator', added => 0,
                used => 0 },
              'HOTP, its counter and the recovery codes');
    is($t->redis('EXISTS', $k[6]), 0, 'the remembered devices are gone');
    is_deeply([ @{ run('user_state', [ @k[2, 4, 1] ]) }[9 .. 11] ],
              [ 'hotp', 4, 2 ], 'user_state: type, counter, codes');

    run('enroll_begin', [ @k[0, 1] ], 'S2', 'sha1', 6, 30, 600, 'totp', 5);
    is_deeply(run('enroll_confirm', [ @k[0 .. 5] ], 'en', 'S2', 'ok', 5,
                  3, 60, 120), ['ok'], 'then TOTP, the old way');
    is_deeply({ @{ $t->redis('HGETALL', $k[2]) } },
              { totp => 'S2', alg => 'sha1', digits => 6, period => 30,
                rc => h(1) . h(2), aid => 3, anext => 3,
                name => 'Authenticator', added => 0, used => 0 },
              'no type or counter; codes kept when none are given');
    $t->redis('DEL', $k[5]);
};

case 'recovery_set' => sub {
    is_deeply(run('recovery_set', [ okey(u => 'rs') ], h(1)), ['no_factor'],
              'no authenticator: no codes');
    is($t->redis('EXISTS', okey(u => 'rs')), 0, 'no record made');
    $t->redis('HSET', okey(u => 'rs'), 'totp', 'S', 'rc', h(9));
    is_deeply(run('recovery_set', [ okey(u => 'rs') ], h(1) . h(2)),
              [ 'ok', 2 ], 'two new codes');
    is($t->redis('HGET', okey(u => 'rs'), 'rc'), h(1) . h(2),
       'they replace the old ones');
    $t->redis('HSET', okey(u => 'rs'), 'must_enroll', 1);
    is_deeply(run('recovery_set', [ okey(u => 'rs') ], h(3)), ['no_factor'],
              'must enroll again: no codes');
    like(run('recovery_set', [ okey(u => 'rs') ], ''),
         qr/^-ERR recovery_set/, 'none: error');
    like(run('recovery_set', [ okey(u => 'rs') ], 'abc'),
         qr/^-ERR recovery_set/, 'not 64 hex digits: error');
};

# ------------------------------------------------------------- devices

case 'device_new' => sub {
    my $d = okey(d => 'dn');
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

# A remembered browser at the gate: gate.lua without a good session and
# with the device cookie's id makes the session "ds-new".
case 'gate: remembered devices' => sub {
    my $now = time;
    my ($d, $u, $l, $su) = map { okey($_ => 'ds') } qw(d u l su);
    my $new = okey(s => 'ds', 'ds-new');
    my $gate = sub {
        my ($sid, %o) = @_;
        return run('gate',
            [ okey(s => 'ds', $sid // 'absent'), $u, $su, $d, $l,
              okey(es => 'ds'), $new ],
            'ds', $now, 600, 3600, defined $sid ? 1 : 0,
            $o{device} // 'aa', $o{auth} // $now - 100);
    };
    my $state = sub { [ 'none', @{ run('user_state',
                                       [ $u, $l, okey(es => 'ds') ]) }
                                    [1 .. 12] ] };

    $t->redis('HSET', $u, 'totp', 'S', 'gen', 4);
    is_deeply($gate->(), $state->(), 'no device: none, the user\'s state');
    $t->redis('ZADD', $d, $now - 1, 'aa');
    $t->redis('ZADD', $d, $now, 'ab');
    $t->redis('EXPIRE', $d, 100);
    is_deeply($gate->(), $state->(), 'an expired device: none');
    is_deeply($gate->(undef, device => 'ab'), $state->(),
              'a device expiring this second: none');
    $t->redis('ZADD', $d, $now + 100, 'aa');
    is_deeply($gate->(undef, device => 'bb'), $state->(),
              'a device not remembered: none');
    $t->redis('SET', $l, 1, 'EX', 60);
    my $r = $gate->();
    is_deeply([ @$r[0, 6] ], [ 'none', 60 ], 'locked: none, the lock time');
    $t->redis('DEL', $l);
    $t->redis('HSET', $u, 'must_enroll', 1);
    is_deeply($gate->(), $state->(), 'must enroll: none');
    $t->redis('HDEL', $u, 'must_enroll', 'totp');
    is_deeply($gate->(), $state->(), 'no authenticator, no number: none');
    is($t->redis('EXISTS', $new), 0, 'no session made so far');

    $t->redis('HSET', $u, 'phone', "\0P");
    is_deeply($gate->(), ['device'], 'a verified number is a factor: device');
    $t->redis('DEL', $new);
    $t->redis('HDEL', $u, 'phone');

    $t->redis('HSET', $u, 'totp', 'S');
    is_deeply($gate->(), ['device'], 'device');
    is_deeply({ @{ $t->redis('HGETALL', $new) } },
              { u => 'ds', c => $now, a => $now - 100, m => 'remembered',
                g => 4, l => $now },
              'a session: method remembered, the time of the code');
    my $ttl = $t->redis('TTL', $new);
    ok($ttl > 595 && $ttl <= 600, "the idle timeout ($ttl)");
    is($t->redis('SISMEMBER', $su, $new), 1, 'in the user\'s set');
    is_deeply(run('session_check', [ $new, $u, $su ], 'ds', $now, 600, 3600),
              [ 'ok', $now, $now - 100, 'remembered' ], 'session_check');
    is_deeply($gate->('ds-new', device => 'bb'),
              [ 'ok', $now, $now - 100, 'remembered' ],
              'presented, the session comes first');

    # a session that is no good gives way to the device
    my ($old, $other) = map { okey(s => 'ds', $_) } qw(ds-old ds-other);
    run('session_new', [ $old, $su, $u ], 'ds', $now, 600, 3600, 'totp',
        $now);
    $t->redis('HSET', $u, 'gen', 5);
    is_deeply($gate->('ds-old'), ['device'],
              'a revoked session and a device: device');
    is($t->redis('EXISTS', $old), 0, 'the revoked one deleted');
    is($t->redis('HGET', $new, 'g'), 5, 'a new session, the new generation');
    $t->redis('HSET', $other, 'u', 'someone', 'c', $now, 'a', $now,
              'm', 'totp', 'g', 5, 'l', $now);
    $t->redis('EXPIRE', $other, 100);
    is_deeply($gate->('ds-other'), ['device'],
              'another user\'s session and a device: device');
    is($t->redis('HGET', $other, 'u'), 'someone', 'that one left as it was');
    is($t->redis('HGET', $new, 'u'), 'ds', 'the new session is the user\'s');
    is_deeply($t->redis('SMEMBERS', $su), [$new],
              'the new session in the set, the revoked one not');
    $t->redis('DEL', $other);

    is_deeply(run('revoke_user', [ $u, $su, $d ]), [ 'ok', 1 ],
              'revoke_user with the devices');
    is($t->redis('EXISTS', $d), 0, 'the devices are gone');
    is_deeply($gate->(), $state->(), 'the device no longer makes sessions');

    $t->redis('ZADD', $d, $now + 100, 'bb');
    $t->redis('EXPIRE', $d, 100);
    $t->redis('HSET', $u, 'rc', h(1), 'type', 'hotp', 'counter', 3);
    is_deeply(run('forget_totp', [ $u, okey(es => 'ds'), $su, $d ]),
              [ 'ok', 1, 0 ], 'forget_totp with the devices');
    is($t->redis('EXISTS', $d), 0, 'the devices are gone');
    is_deeply([ sort @{ $t->redis('HKEYS', $u) } ], ['gen'],
              'and the codes, type and counter');
    like($gate->(undef, device => 'aa', auth => ''), qr/^-ERR gate/,
         'a device without its time: error');
    like($gate->(undef, device => 'AA'), qr/^-ERR gate/,
         'a device id that is not lower-case hex: error');
};

$t->stop_redis;

done_testing;
