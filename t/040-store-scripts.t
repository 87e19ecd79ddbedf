#!/usr/bin/perl

# The Redis scripts in src/lua/, run against a real redis-server the way
# the module runs them (SCRIPT LOAD, EVALSHA): every status of every
# script, the attempt and lockout limits under many concurrent clients,
# one acceptance per TOTP step, and an expiry on every key but the user
# records after every case.

use strict;
use warnings;

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use OtpTest;

my $t = OtpTest->new;
$t->run_redis;

my $P = 'otp:';

my %sha = $t->load_scripts(qw(user_state challenge_new attempt enroll_begin
                               enroll_confirm session_new session_check
                               session_end revoke_user counter unlock));

sub key { $P . join ':', @_ }

sub run {
    my ($name, $keys, @argv) = @_;
    return $t->redis('EVALSHA', $sha{$name}, scalar @$keys, @$keys, @argv);
}

# attempt.lua with the default policy unless told otherwise:
# otp_max_attempts 5, otp_lockout 10 15m, steps kept 2 min
sub attempt {
    my ($id, $user, $result, $step, %o) = @_;
    return run('attempt',
        [ key(c => $id), key(f => $user), key(l => $user), key(t => $user) ],
        $user, $result, $step // '', $o{max} // 5, $o{lock_after} // 10,
        $o{lock_secs} // 900, $o{step_ttl} // 120);
}

sub challenge {
    my ($id, $user, $ttl) = @_;
    return run('challenge_new', [ key(c => $id) ], $user, $ttl // 300);
}

sub confirm {
    my ($user, $sealed, $result, $step, %o) = @_;
    return run('enroll_confirm',
        [ key(e => $user), key(u => $user), key(f => $user),
          key(l => $user), key(t => $user) ],
        $user, $sealed, $result, $step // '', $o{lock_after} // 10,
        $o{lock_secs} // 900, $o{step_ttl} // 120);
}

sub session_new {
    my ($sid, $user, $now, $idle, $ttl) = @_;
    return run('session_new',
        [ key(s => $sid), key(su => $user), key(u => $user) ],
        $user, $now, $idle, $ttl, 'totp', $now - 5);
}

sub session_check {
    my ($sid, $user, $now, $idle, $ttl) = @_;
    return run('session_check',
        [ key(s => $sid), key(u => $user), key(su => $user) ],
        $user, $now, $idle, $ttl);
}

# Every key the scripts left has the prefix and an expiry, but the user
# records, which are meant to stay.
sub keys_expire {
    my ($what) = @_;
    my ($cursor, @bad) = (0);
    do {
        my $r = $t->redis('SCAN', $cursor, 'COUNT', 1000);
        $cursor = $r->[0];
        for my $k (@{ $r->[1] }) {
            if (index($k, $P) != 0) {
                push @bad, "$k (no prefix)";
                next;
            }
            next if index($k, key('u', '')) == 0;
            my $ttl = $t->redis('TTL', $k);
            push @bad, "$k (TTL $ttl)" if $ttl == -1;
        }
    } while ($cursor ne '0');
    ok(!@bad, "$what: every key but user records expires")
        or diag("@bad");
}

sub case {
    my ($name, $code) = @_;
    subtest $name => sub {
        $code->();
        keys_expire($name);
    };
}

# Runs $n processes that start at once, each calling $code->($i) with
# connections of its own; returns every reply of every process, arrays
# joined with spaces ("wrong 4").
sub race {
    my ($n, $code) = @_;
    my @kids;

    pipe(my $gate_r, my $gate_w) or die "pipe: $!";

    for my $i (1 .. $n) {
        pipe(my $out_r, my $out_w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $gate_w;
            close $out_r;
            sysread $gate_r, my $x, 1;      # EOF: the gate is open
            my @r = eval { $code->($i) };
            push @r, "died: $@" if $@;
            print $out_w map {
                (ref $_ ? join(' ', map { $_ // 'nil' } @$_) : $_) . "\n"
            } @r;
            close $out_w;
            POSIX::_exit(0);                # no END blocks in a child
        }
        close $out_w;
        push @kids, [ $pid, $out_r ];
    }

    close $gate_r;
    close $gate_w;

    my @replies;
    for my $kid (@kids) {
        my $fh = $kid->[1];
        while (my $line = <$fh>) {
            chomp $line;
            push @replies, $line;
        }
        waitpid $kid->[0], 0;
    }
    return @replies;
}

sub tally {
    my %n;
    $n{ (split ' ', $_)[0] }++ for @_;
    return \%n;
}

# ---------------------------------------------------------------- state

case 'user_state' => sub {
    my @k = (key(u => 'us'), key(l => 'us'), key(e => 'us'));
    my $keys = $t->redis('DBSIZE');

    is_deeply(run('user_state', \@k),
              [ 'ok', undef, undef, 0, 0, 0, 0, 0, 0, undef, 0, 0,
                undef ],
              'unknown user');
    is($t->redis('DBSIZE'), $keys, 'read-only: no key created');

    my $sealed = "\x00\xff\r\n sealed \x01";
    $t->redis('HSET', $k[0], totp => $sealed, alg => 'sha256', digits => 8,
              period => 60, must_enroll => 1, gen => 3);
    $t->redis('SET', $k[1], 1, 'EX', 100);
    $t->redis('HSET', $k[2], secret => 'x', alg => 'sha1', digits => 6,
              period => 30);
    $t->redis('EXPIRE', $k[2], 600);

    is_deeply(run('user_state', \@k),
              [ 'ok', $sealed, 'sha256', 8, 60, 1, 100, 3, 1, undef, 0, 0,
                undef ],
              'enrolled, locked, pending, binary secret intact');

    $t->redis('SET', $k[1], 1, 'PX', 300);
    is(run('user_state', \@k)->[6], 1, 'a lock 300 ms from its end: 1 s');
};

case 'challenge_new' => sub {
    is_deeply(challenge('cn1', 'alice'), ['ok'], 'created');
    is_deeply($t->redis('HGETALL', key(c => 'cn1')), [ u => 'alice', a => 0 ],
              'user, no attempts');
    my $ttl = $t->redis('TTL', key(c => 'cn1'));
    ok($ttl > 295 && $ttl <= 300, "ttl $ttl");

    attempt('cn1', 'alice', 'wrong');
    is_deeply(challenge('cn1', 'alice'), ['exists'], 'id taken: exists');
    is($t->redis('HGET', key(c => 'cn1'), 'a'), 1, 'attempts not reset');

    like(challenge('cn2', 'alice', 0), qr/^-ERR challenge_new/, 'ttl 0');
    like(challenge('cn2', 'alice', 'x'), qr/^-ERR/, 'ttl not a number');
    like(challenge('cn2', '', 10), qr/^-ERR/, 'empty user');
    is($t->redis('EXISTS', key(c => 'cn2')), 0, 'nothing created');

    $t->redis('DEL', key(f => 'alice'));
};

# ---------------------------------------------------------------- attempts

case 'attempt: wrong codes burn the challenge' => sub {
    challenge('aw', 'bob');
    is_deeply(attempt('aw', 'bob', 'wrong'), [ 'wrong', 4 ], 'wrong, 4 left');
    is_deeply(attempt('aw', 'bob', 'wrong'), [ 'wrong', 3 ], 'wrong, 3 left');
    is_deeply(attempt('aw', 'bob', 'wrong'), [ 'wrong', 2 ], 'wrong, 2 left');
    is_deeply(attempt('aw', 'bob', 'wrong'), [ 'wrong', 1 ], 'wrong, 1 left');
    is_deeply(attempt('aw', 'bob', 'wrong'), ['burnt'], '5th: burnt');
    is_deeply(attempt('aw', 'bob', 'wrong'), ['burnt'], 'then burnt');
    is_deeply(attempt('aw', 'bob', 'ok', 100), ['burnt'],
              'a right code on a burnt challenge: burnt');
    is($t->redis('HGET', key(c => 'aw'), 'a'), 5, 'attempts stop at 5');
    is($t->redis('GET', key(f => 'bob')), 5, 'failures: 5');
    my $ttl = $t->redis('TTL', key(f => 'bob'));
    ok($ttl > 895 && $ttl <= 900, "failures expire with the lockout ($ttl)");
    is($t->redis('EXISTS', key(t => 'bob')), 0, 'no step recorded');
};

case 'attempt: no challenge' => sub {
    is_deeply(attempt('none', 'bob2', 'ok', 100), ['no_challenge'],
              'unknown id');
    challenge('ac', 'carol');
    is_deeply(attempt('ac', 'bob2', 'ok', 100), ['no_challenge'],
              "another user's challenge");
    is_deeply(attempt('ac', 'bob2', 'wrong'), ['no_challenge'],
              "another user's challenge, wrong code");
    is($t->redis('HGET', key(c => 'ac'), 'a'), 0, 'its attempts untouched');
    is($t->redis('EXISTS', key(f => 'bob2')), 0, 'no failure counted');
    is($t->redis('EXISTS', key(t => 'bob2')), 0, 'no step recorded');
};

case 'attempt: right codes' => sub {
    challenge('ao1', 'dave');
    attempt('ao1', 'dave', 'wrong');
    is_deeply(attempt('ao1', 'dave', 'ok', 1000), ['ok'], 'ok with a step');
    is($t->redis('EXISTS', key(c => 'ao1')), 0, 'challenge consumed');
    is($t->redis('EXISTS', key(f => 'dave')), 0, 'failures cleared');
    is($t->redis('GET', key(t => 'dave')), 1000, 'step recorded');
    my $ttl = $t->redis('TTL', key(t => 'dave'));
    ok($ttl > 115 && $ttl <= 120, "step expires ($ttl)");
    is_deeply(attempt('ao1', 'dave', 'ok', 1001), ['no_challenge'],
              'a consumed challenge cannot be used again');

    challenge('ao2', 'dave');
    is_deeply(attempt('ao2', 'dave', 'ok', ''), ['ok'],
              'ok without a step (recovery, sms)');
    is($t->redis('GET', key(t => 'dave')), 1000, 'step left as it was');

    challenge('ao3', 'dave');
    for my $bad ([ 'OK', 1002 ], [ 'ok', 'x' ], [ 'ok', -1 ], [ 'ok', 1.5 ]) {
        like(attempt('ao3', 'dave', @$bad), qr/^-ERR attempt/,
             "bad arguments: @$bad");
    }
    like(attempt('ao3', 'dave', 'wrong', '', max => 0), qr/^-ERR/,
         'max attempts 0');
    like(attempt('ao3', 'dave', 'wrong', '', lock_secs => ''), qr/^-ERR/,
         'no lock time');
    is($t->redis('HGET', key(c => 'ao3'), 'a'), 0, 'nothing counted');
    $t->redis('DEL', key(c => 'ao3'));
};

case 'attempt: TOTP steps only go forward' => sub {
    my $s = 2_000_000;
    challenge("st$_", 'erin') for 1 .. 6;

    is_deeply(attempt('st1', 'erin', 'ok', $s), ['ok'], "step s accepted");
    my $replay = attempt('st2', 'erin', 'ok', $s);
    is_deeply($replay, [ 'wrong', 4 ], 'step s again: wrong');
    is_deeply(attempt('st3', 'erin', 'ok', $s - 1), [ 'wrong', 4 ],
              'step s-1: wrong');
    is_deeply(attempt('st4', 'erin', 'wrong', $s + 1), $replay,
              'a replay looks exactly like a wrong code');
    is($t->redis('GET', key(f => 'erin')), 3, 'replays count as failures');
    is_deeply(attempt('st5', 'erin', 'ok', $s + 1), ['ok'], 'step s+1: ok');
    is($t->redis('GET', key(t => 'erin')), $s + 1, 'last step s+1');
    is_deeply(attempt('st6', 'erin', 'ok', $s + 1), [ 'wrong', 4 ],
              'step s+1 again: wrong');
    is_deeply(attempt('st2', 'erin', 'ok', $s + 2), ['ok'],
              'the same challenge takes a newer step');
    $t->redis('DEL', key(c => 'st6'), key(c => 'st3'), key(c => 'st4'));
};

case 'attempt: lockout across challenges' => sub {
    my %o = (lock_after => 3, lock_secs => 60);
    challenge("lk$_", 'frank') for 1 .. 4;

    is_deeply(attempt('lk1', 'frank', 'wrong', '', %o), [ 'wrong', 4 ],
              'failure 1');
    is_deeply(attempt('lk2', 'frank', 'ok', 5, %o), ['ok'],
              'a success resets the count');
    is($t->redis('EXISTS', key(f => 'frank')), 0, 'failures cleared');

    is_deeply(attempt('lk1', 'frank', 'wrong', '', %o), [ 'wrong', 3 ],
              'failure 1');
    is_deeply(attempt('lk3', 'frank', 'ok', 5, %o), [ 'wrong', 4 ],
              'failure 2 (a replay), another challenge');
    is_deeply(attempt('lk4', 'frank', 'wrong', '', %o),
              [ 'locked', 60, 1 ], 'failure 3: locked, by this attempt');
    my $ttl = $t->redis('TTL', key(l => 'frank'));
    ok($ttl > 55 && $ttl <= 60, "lock for the lockout time ($ttl)");
    is($t->redis('EXISTS', key(f => 'frank')), 0, 'failures restart');

    my $r = attempt('lk3', 'frank', 'ok', 6, %o);
    is($r->[0], 'locked', 'a right code while locked: locked');
    ok($r->[1] > 55 && $r->[1] <= 60, "with the time left ($r->[1])");
    is_deeply([ map { $t->redis('HGET', key(c => "lk$_"), 'a') } 1, 3, 4 ],
              [ 2, 1, 1 ], 'attempts while locked are not counted');
    is($t->redis('GET', key(t => 'frank')), 5, 'no step accepted');

    is_deeply(run('unlock', [ key(f => 'frank'), key(l => 'frank') ]),
              ['ok'], 'unlock');
    is($t->redis('EXISTS', key(l => 'frank')), 0, 'lock gone');
    is_deeply(attempt('lk3', 'frank', 'ok', 6, %o), ['ok'],
              'unlocked: the code works');

    $t->redis('SET', key(l => 'frank'), 1, 'PX', 200);
    is_deeply(attempt('lk4', 'frank', 'ok', 7, %o), [ 'locked', 1 ],
              'locked until the last millisecond');
    sleep 0.25;
    is_deeply(attempt('lk4', 'frank', 'ok', 7, %o), ['ok'],
              'and not after');
    $t->redis('DEL', key(c => 'lk1'));
};

# ---------------------------------------------------------------- races

case 'race: attempts on one challenge' => sub {
    challenge('r1', 'gina');
    my @r = race(20, sub {
        map { attempt('r1', 'gina', 'wrong', '', lock_after => 1000) } 1 .. 5
    });
    my $n = tally(@r);

    is(scalar @r, 100, '100 replies');
    is($n->{wrong}, 4, 'exactly max_attempts - 1 wrong') or diag(explain $n);
    is($n->{burnt}, 96, 'all the others burnt');
    is_deeply([ sort grep { /^wrong/ } @r ],
              [ 'wrong 1', 'wrong 2', 'wrong 3', 'wrong 4' ],
              'each count of attempts left told once');
    is($t->redis('HGET', key(c => 'r1'), 'a'), 5, 'attempts recorded: 5');
    is($t->redis('GET', key(f => 'gina')), 5, 'failures recorded: 5');
};

case 'race: lockout of one user from many challenges' => sub {
    challenge("r2-$_", 'hank') for 1 .. 60;
    my @r = race(20, sub {
        my ($i) = @_;
        map { attempt("r2-" . (($i - 1) * 3 + $_), 'hank', 'wrong', '') }
            1 .. 3
    });
    my $n = tally(@r);

    is(scalar @r, 60, '60 replies');
    is($n->{wrong}, 9, 'exactly lock_after - 1 wrong') or diag(explain $n);
    is($n->{locked}, 51, 'all the others locked');
    is(scalar(grep { $_ eq 'locked 900 1' } @r), 1,
       'one attempt says it locked the user, for 900 s');
    my $a = 0;
    $a += $t->redis('HGET', key(c => "r2-$_"), 'a') for 1 .. 60;
    is($a, 10, 'failures counted exactly: 10');
    my $ttl = $t->redis('TTL', key(l => 'hank'));
    ok($ttl > 895 && $ttl <= 900, "locked once, for 900 s ($ttl)");
    is($t->redis('EXISTS', key(f => 'hank')), 0, 'failure count restarted');
};

case 'race: one step, many submits' => sub {
    my $s = 3_000_000;

    for my $round (1 .. 5) {
        challenge("r3-$round-$_", 'ida') for 1 .. 20;
        my @r = race(20, sub {
            attempt("r3-$round-$_[0]", 'ida', 'ok', $s + $round,
                    lock_after => 1000)
        });
        my $n = tally(@r);
        is($n->{ok}, 1, "round $round: one ok of 20 challenges")
            or diag(explain $n);
        is($n->{wrong}, 19, "round $round: 19 wrong");
        is($t->redis('GET', key(t => 'ida')), $s + $round, 'step recorded');
        $t->redis('DEL', key(f => 'ida'));
    }

    challenge('r3-same', 'ida');
    my $n = tally(race(20, sub { attempt('r3-same', 'ida', 'ok', $s + 9) }));
    is($n->{ok}, 1, 'one challenge, 20 submits: one ok') or diag(explain $n);
    is($n->{no_challenge}, 19, 'the others find it consumed');
};

case 'race: enrollment confirmed once' => sub {
    run('enroll_begin', [ key(e => 'jack') ], 'S1', 'sha1', 6, 30, 600);
    my $n = tally(race(10, sub { confirm('jack', 'S1', 'ok', 4_000_000) }));
    is($n->{ok}, 1, 'one ok') or diag(explain $n);
    is($n->{no_enrollment}, 9, 'the others find it done');
};

# ---------------------------------------------------------------- enrollment

case 'enroll_begin' => sub {
    my $e = key(e => 'kim');
    my $sealed = "\x00sealed\xff";

    is_deeply(run('enroll_begin', [$e], $sealed, 'sha1', 6, 30, 600),
              [ 'ok', $sealed, 'sha1', 6, 30, 'totp' ], 'new enrollment');
    my $ttl = $t->redis('TTL', $e);
    ok($ttl > 595 && $ttl <= 600, "expires ($ttl)");

    $t->redis('EXPIRE', $e, 50);
    is_deeply(run('enroll_begin', [$e], 'other', 'sha512', 8, 60, 600),
              [ 'ok', $sealed, 'sha1', 6, 30, 'totp' ],
              'a reload: the same one');
    ok($t->redis('TTL', $e) <= 50, 'and its expiry not extended');

    like(run('enroll_begin', [ key(e => 'kim2') ], 'x', 'sha1', 6, 30, 0),
         qr/^-ERR enroll_begin/, 'ttl 0: error');
    is($t->redis('EXISTS', key(e => 'kim2')), 0, 'nothing created');
};

case 'enroll_confirm' => sub {
    my $u = key(u => 'liz');
    my $s = 5_000_000;
    my %o = (lock_after => 3, lock_secs => 60);

    is_deeply(confirm('liz', 'S1', 'ok', $s), ['no_enrollment'],
              'nothing pending');

    $t->redis('HSET', $u, must_enroll => 1, gen => 2, totp => 'OLD');
    run('enroll_begin', [ key(e => 'liz') ], 'S1', 'sha256', 8, 60, 600);

    is_deeply(confirm('liz', 'S0', 'ok', $s), ['no_enrollment'],
              'another secret pending');
    is($t->redis('EXISTS', key(f => 'liz')), 0, 'not counted');

    is_deeply(confirm('liz', 'S1', 'wrong', $s, %o), ['wrong'], 'wrong');
    is($t->redis('GET', key(f => 'liz')), 1, 'counted as a failure');
    is($t->redis('EXISTS', key(e => 'liz')), 1, 'still pending');

    $t->redis('SET', key(t => 'liz'), $s, 'EX', 120);
    is_deeply(confirm('liz', 'S1', 'ok', $s, %o), ['wrong'],
              'a step already used: wrong');

    is_deeply(confirm('liz', 'S1', 'ok', $s + 1, %o), ['ok'], 'confirmed');
    is_deeply({ @{ $t->redis('HGETALL', $u) } },
              { totp => 'S1', alg => 'sha256', digits => 8, period => 60,
                gen => 2 },
              'the secret is the user\'s, must_enroll cleared');
    is($t->redis('EXISTS', key(e => 'liz')), 0, 'no longer pending');
    is($t->redis('EXISTS', key(f => 'liz')), 0, 'failures cleared');
    is($t->redis('GET', key(t => 'liz')), $s + 1, 'step recorded');
    is_deeply(run('user_state',
                  [ $u, key(l => 'liz'), key(e => 'liz') ]),
              [ 'ok', 'S1', 'sha256', 8, 60, 0, 0, 2, 0, undef, 0, 0,
                undef ],
              'user_state');

    challenge('lz', 'liz');
    is_deeply(attempt('lz', 'liz', 'ok', $s + 1), [ 'wrong', 4 ],
              'the confirming code cannot sign in');

    run('enroll_begin', [ key(e => 'liz') ], 'S2', 'sha1', 6, 30, 600);
    confirm('liz', 'S2', 'wrong', $s + 9, %o) for 1 .. 2;
    is_deeply(confirm('liz', 'S2', 'wrong', $s + 9, %o), [ 'locked', 60 ],
              'third failure: locked');
    my $r = confirm('liz', 'S2', 'ok', $s + 9, %o);
    is($r->[0], 'locked', 'a right code while locked: locked');
    is($t->redis('HGET', $u, 'totp'), 'S1', 'enrollment not changed');

    like(confirm('liz', 'S2', 'maybe', $s, %o), qr/^-ERR enroll_confirm/,
         'bad result: error');
    $t->redis('DEL', key(c => 'lz'));
};

# ---------------------------------------------------------------- sessions

case 'sessions: lifetime and idle timeout' => sub {
    my ($now, $idle, $ttl) = (1_700_000_000, 60, 120);
    my $sk = key(s => 'sid1');

    is_deeply(session_new('sid1', 'mia', $now, $idle, $ttl), ['ok'], 'new');
    is_deeply({ @{ $t->redis('HGETALL', $sk) } },
              { u => 'mia', c => $now, a => $now - 5, m => 'totp', g => 0,
                l => $now },
              'session fields');
    my $kttl = $t->redis('TTL', $sk);
    ok($kttl > 55 && $kttl <= 60, "idle timeout ($kttl)");
    is_deeply($t->redis('SMEMBERS', key(su => 'mia')), [$sk],
              'in the user\'s set');
    $kttl = $t->redis('TTL', key(su => 'mia'));
    ok($kttl > 115 && $kttl <= 120, "set lives as long as a session ($kttl)");

    is_deeply(session_check('sid1', 'mia', $now + 10, $idle, $ttl),
              [ 'ok', $now, $now - 5, 'totp' ], 'check: ok');
    is($t->redis('HGET', $sk, 'l'), $now + 10, 'last seen');

    $t->redis('EXPIRE', $sk, 5);
    session_check('sid1', 'mia', $now + 20, $idle, $ttl);
    $kttl = $t->redis('TTL', $sk);
    ok($kttl > 55 && $kttl <= 60, "a check restarts the idle timer ($kttl)");

    session_check('sid1', 'mia', $now + 100, $idle, $ttl);
    $kttl = $t->redis('TTL', $sk);
    ok($kttl > 15 && $kttl <= 20, "but never past the lifetime ($kttl)");

    is_deeply(session_check('sid1', 'nick', $now + 101, $idle, $ttl),
              ['other_user'], 'another user: other_user');
    is($t->redis('HGET', $sk, 'l'), $now + 100, 'and left as it was');

    is_deeply(session_check('sid1', 'mia', $now + 120, $idle, $ttl),
              ['expired'], 'at its lifetime: expired');
    is($t->redis('EXISTS', $sk), 0, 'deleted');
    is($t->redis('SISMEMBER', key(su => 'mia'), $sk), 0, 'and out of the set');
    is_deeply(session_check('sid1', 'mia', $now + 121, $idle, $ttl),
              ['none'], 'then none');
    is_deeply(session_check('nosuch', 'mia', $now, $idle, $ttl), ['none'],
              'unknown session: none');

    session_new('sid2', 'mia', $now, 1, $ttl);
    is($t->redis('TTL', key(s => 'sid2')), 1, 'idle 1 s');
    sleep 1.1;
    is_deeply(session_check('sid2', 'mia', $now + 2, 1, $ttl), ['none'],
              'idle too long: none');

    session_new('sid3', 'mia', $now + 2, $idle, $ttl);
    is_deeply($t->redis('SMEMBERS', key(su => 'mia')), [ key(s => 'sid3') ],
              'a new session drops the ended ones from the set');

    is_deeply(run('session_end', [ key(s => 'sid3'), key(su => 'mia') ]),
              ['ok'], 'session_end');
    is_deeply(session_check('sid3', 'mia', $now + 3, $idle, $ttl), ['none'],
              'ended: none');
    is($t->redis('EXISTS', key(su => 'mia')), 0, 'set gone with its last');

    like(session_new('sid4', 'mia', $now, 0, $ttl), qr/^-ERR session_new/,
         'idle 0: error');
    like(session_check('sid4', 'mia', 'now', 1, 1), qr/^-ERR session_check/,
         'now not a number: error');
};

case 'sessions: revocation' => sub {
    my ($now, $idle, $ttl) = (1_700_000_000, 600, 3600);
    my $u = key(u => 'olga');

    session_new("rv$_", 'olga', $now, $idle, $ttl) for 1 .. 3;
    $t->redis('SREM', key(su => 'olga'), key(s => 'rv3'));
    is(session_check('rv1', 'olga', $now + 1, $idle, $ttl)->[0], 'ok',
       'before: ok');

    is_deeply(run('revoke_user', [ $u, key(su => 'olga') ]), [ 'ok', 2 ],
              'revoke_user: 2 sessions deleted');
    is($t->redis('HGET', $u, 'gen'), 1, 'generation 1');
    is($t->redis('EXISTS', key(su => 'olga')), 0, 'set deleted');
    is($t->redis('EXISTS', key(s => 'rv1')), 0, 'sessions deleted');

    is_deeply(session_check('rv1', 'olga', $now + 2, $idle, $ttl), ['none'],
              'a deleted session: none');
    is_deeply(session_check('rv3', 'olga', $now + 2, $idle, $ttl),
              ['revoked'], 'a session the set missed: revoked');
    is($t->redis('EXISTS', key(s => 'rv3')), 0, 'and deleted');

    session_new('rv4', 'olga', $now + 3, $idle, $ttl);
    is($t->redis('HGET', key(s => 'rv4'), 'g'), 1, 'new session: gen 1');
    is(session_check('rv4', 'olga', $now + 4, $idle, $ttl)->[0], 'ok',
       'and ok');

    is_deeply(run('revoke_user', [ key(u => 'pat'), key(su => 'pat') ]),
              [ 'ok', 0 ], 'a user with no sessions');
    $t->redis('DEL', key(s => 'rv4'), key(su => 'olga'));
};

# ---------------------------------------------------------------- counter

case 'counter' => sub {
    my $k = key(n => 'sms:quinn');

    is_deeply(run('counter', [$k], 3, 60), [ 'ok', 1, 60 ], 'first');
    is_deeply(run('counter', [$k], 3, 60), [ 'ok', 2, 60 ], 'second');
    is_deeply(run('counter', [$k], 3, 60), [ 'ok', 3, 60 ], 'at the limit');
    is_deeply(run('counter', [$k], 3, 60), [ 'over', 4, 60 ], 'over');

    $t->redis('PEXPIRE', $k, 4500);
    is_deeply(run('counter', [$k], 3, 60), [ 'over', 5, 5 ],
              'the window is not extended');

    $t->redis('SET', $k, 7);
    is_deeply(run('counter', [$k], 3, 60), [ 'over', 8, 60 ],
              'a counter without expiry gets one');

    my $k1 = key(n => 'short');
    run('counter', [$k1], 1, 1) for 1 .. 2;
    is(run('counter', [$k1], 1, 1)->[0], 'over', 'over in a 1 s window');
    sleep 1.1;
    is_deeply(run('counter', [$k1], 1, 1), [ 'ok', 1, 1 ],
              'a new window starts over');

    like(run('counter', [$k], 3, 0), qr/^-ERR counter/, 'window 0: error');
    like(run('counter', [$k], -1, 5), qr/^-ERR counter/, 'limit -1: error');
};

$t->stop_redis;

done_testing();
