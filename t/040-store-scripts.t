#!/usr/bin/perl

# The Redis scripts in src/lua/, run against a real redis-server the way
# the module runs them (SCRIPT LOAD, EVALSHA): every status of every
# script, the attempt and lockout limits under many concurrent clients,
# one acceptance per TOTP step, the session a right code makes, the
# gate's one trip, and an expiry on every key but the user records after
# every case.

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

my %sha = $t->load_scripts(qw(user_state challenge_new attempt enroll_begin
                               enroll_confirm session_new session_check
                               gate session_end revoke_user unlock));

# the scripts take "now" from the caller; devices expire with EXPIREAT,
# so it has to be the real time
my $NOW = time;

sub run {
    my ($name, $keys, @argv) = @_;
    return $t->redis('EVALSHA', $sha{$name}, scalar @$keys, @$keys, @argv);
}

# A user record with an authenticator, the sealed secret "S" unless told
# otherwise: attempt.lua only takes a right code checked against the
# user's current secret.
sub user {
    my ($user, %f) = @_;
    $t->redis('HSET', okey(u => $user), totp => 'S', %f);
}

# attempt.lua with the default policy unless told otherwise:
# otp_max_attempts 5, otp_lockout 10 15m, steps kept 2 min, sessions
# idle 10 min and 1 h at most, 5 devices.  The session it makes is
# "<challenge id>-s" unless $o{sid}; the code was checked against "S"
# (totp, hotp) unless $o{sealed}; the challenge key has the tag of
# $o{owner} if given (another user's challenge).
# the sealed secret the C side sends: the user's, as it read it, or none
# (a recovery code; an unknown user, whose code it checks against a
# random secret)
sub sealed_of {
    my ($user, $kind) = @_;
    return '' if $kind eq 'recovery';
    return $t->redis('HGET', okey(u => $user), 'totp') // '';
}

sub attempt {
    my ($id, $user, $kind, $proof, %o) = @_;
    return run('attempt',
        [ okey(c => $o{owner} // $user, $id), okey(f => $user),
          okey(l => $user),
          okey(t => $user), okey(u => $user),
          okey(s => $user, $o{sid} // "$id-s"), okey(su => $user),
          okey(d => $user), okey(cl => $user) ],
        $user, $kind, $proof // '',
        $o{sealed} // sealed_of($user, $kind),
        $o{max} // 5, $o{lock_after} // 10, $o{lock_secs} // 900,
        $o{step_ttl} // 120, $o{now} // $NOW, $o{idle} // 600,
        $o{ttl} // 3600, $o{device} // '', $o{expiry} // '',
        $o{most} // 5);
}

# a challenge made whatever the user's state unless $o{when} says; the
# browser's live one $o{live}, if any
sub challenge {
    my ($id, $user, %o) = @_;
    return run('challenge_new',
        [ okey(c => $user, $id), okey(u => $user), okey(l => $user),
          okey(es => $user), okey(cl => $user),
          okey(c => $user, $o{live} // $id) ],
        $user, $o{ttl} // 300, $o{when} // 'always', $o{now} // $NOW,
        $o{most} // 1000, $o{max} // 5, $o{least} // 60);
}

# enroll_begin.lua for the browser $o{browser} (default "b1")
sub begin {
    my ($user, $sealed, $alg, $digits, $period, $ttl, %o) = @_;
    return run('enroll_begin',
        [ okey(e => $user, $o{browser} // 'b1'), okey(es => $user) ],
        $sealed, $alg, $digits, $period, $ttl, $o{type} // 'totp',
        $o{most} // 5);
}

sub confirm {
    my ($user, $sealed, $result, $step, %o) = @_;
    return run('enroll_confirm',
        [ okey(e => $user, $o{browser} // 'b1'), okey(es => $user),
          okey(u => $user), okey(f => $user),
          okey(l => $user), okey(t => $user) ],
        $user, $sealed, $result, $step // '', $o{lock_after} // 10,
        $o{lock_secs} // 900, $o{step_ttl} // 120);
}

sub session_new {
    my ($sid, $user, $now, $idle, $ttl) = @_;
    return run('session_new',
        [ okey(s => $user, $sid), okey(su => $user), okey(u => $user) ],
        $user, $now, $idle, $ttl, 'totp', $now - 5);
}

# $owner: the user whose tag the session key has, if not $user (a
# session presented for another user than the one who made it)
sub session_check {
    my ($sid, $user, $now, $idle, $ttl, $owner) = @_;
    return run('session_check',
        [ okey(s => $owner // $user, $sid), okey(u => $user),
          okey(su => $user) ],
        $user, $now, $idle, $ttl);
}

# gate.lua: the session $sid presented (undef: no session cookie), the
# new session a remembered browser would get "<user>-new"
sub gate {
    my ($sid, $user, $now, %o) = @_;
    return run('gate',
        [ okey(s => $o{owner} // $user, $sid // 'absent'), okey(u => $user),
          okey(su => $user), okey(d => $user), okey(l => $user),
          okey(es => $user), okey(s => $user, "$user-new") ],
        $user, $now, $o{idle} // 600, $o{ttl} // 3600,
        $o{has} // (defined $sid ? 1 : 0), $o{device} // '',
        $o{auth} // '');
}

sub state_of {
    my ($user) = @_;
    return run('user_state',
               [ okey(u => $user), okey(l => $user), okey(es => $user) ]);
}

sub h { sprintf '%064x', $_[0] }     # a recovery code's hash

# Every key the scripts left has the prefix and an expiry, but the user
# records P{user}:u, which are meant to stay.
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
            next if $k =~ /^\Q$P\E\{[^}]*\}:u$/;
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
    my @k = (okey(u => 'us'), okey(l => 'us'), okey(es => 'us'));
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
    $t->redis('SADD', $k[2], okey(e => 'us', 'b1'));
    $t->redis('EXPIRE', $k[2], 600);

    is_deeply(run('user_state', \@k),
              [ 'ok', $sealed, 'sha256', 8, 60, 1, 100, 3, 1, undef, 0, 0,
                undef ],
              'enrolled, locked, pending, binary secret intact');

    $t->redis('SET', $k[1], 1, 'PX', 300);
    is(run('user_state', \@k)->[6], 1, 'a lock 300 ms from its end: 1 s');
};

case 'challenge_new' => sub {
    my $c = okey(c => 'alice', 'cn1');
    my @unknown = (undef, undef, 0, 0, 0, 0, 0, 0, undef, 0, 0, undef);

    is_deeply(challenge('cn1', 'alice'), [ 'ok', @unknown ],
              'always: created, with the user\'s state');
    is_deeply($t->redis('HGETALL', $c), [ u => 'alice', a => 0 ],
              'user, no attempts');
    my $ttl = $t->redis('TTL', $c);
    ok($ttl > 295 && $ttl <= 300, "ttl $ttl");

    attempt('cn1', 'alice', 'totp', '');
    is_deeply(challenge('cn1', 'alice'), ['exists'], 'id taken: exists');
    is($t->redis('HGET', $c, 'a'), 1, 'attempts not reset');
    is_deeply(challenge('cn1', 'alice', when => 'totp'), ['exists'],
              'exists whatever the user\'s state');

    # "totp" and "phone": only for a user who can sign in now
    is_deeply(challenge('cn2', 'alice', when => 'totp'), [ 'none', @unknown ],
              'totp, no record: none');
    is($t->redis('EXISTS', okey(c => 'alice', 'cn2')), 0, 'none made');

    user('alice', gen => 2);
    is_deeply(challenge('cn2', 'alice', when => 'totp'),
              [ 'ok', 'S', undef, 0, 0, 0, 0, 2, 0, undef, 0, 0, undef ],
              'totp, an authenticator: ok');
    is($t->redis('HGET', okey(c => 'alice', 'cn2'), 'a'), 0, 'made');
    is(challenge('cn3', 'alice', when => 'phone')->[0], 'ok',
       'phone, an authenticator: ok');

    $t->redis('SET', okey(l => 'alice'), 1, 'EX', 100);
    my $r = challenge('cn4', 'alice', when => 'totp');
    is_deeply([ @$r[0, 6] ], [ 'none', 100 ], 'locked: none, lock time');
    is(challenge('cn4', 'alice', when => 'phone')->[0], 'none',
       'locked, phone: none');
    is($t->redis('EXISTS', okey(c => 'alice', 'cn4')), 0, 'none made');
    is(challenge('cn4', 'alice')->[0], 'ok',
       'always: made for a locked user too');
    $t->redis('DEL', okey(l => 'alice'));

    $t->redis('HSET', okey(u => 'alice'), must_enroll => 1);
    is(challenge('cn5', 'alice', when => 'totp')->[0], 'none',
       'must enroll: none');
    is(challenge('cn5', 'alice', when => 'phone')->[0], 'none',
       'must enroll, phone: none');
    is($t->redis('EXISTS', okey(c => 'alice', 'cn5')), 0, 'none made');

    $t->redis('HDEL', okey(u => 'alice'), 'must_enroll', 'totp');
    $t->redis('HSET', okey(u => 'alice'), phone => "\0P\xff");
    is_deeply(challenge('cn5', 'alice', when => 'totp'),
              [ 'none', undef, undef, 0, 0, 0, 0, 2, 0, undef, 0, 0,
                "\0P\xff" ],
              'a number only, totp: none, the phone last, binary intact');
    is(challenge('cn5', 'alice', when => 'phone')->[0], 'ok',
       'a number only, phone: ok');

    like(challenge('cn6', 'alice', ttl => 0), qr/^-ERR challenge_new/,
         'ttl 0');
    like(challenge('cn6', 'alice', ttl => 'x'), qr/^-ERR/,
         'ttl not a number');
    like(challenge('cn6', '', ttl => 10), qr/^-ERR/, 'empty user');
    like(challenge('cn6', 'alice', when => 'sms'), qr/^-ERR challenge_new/,
         'unknown when');
    like(challenge('cn6', 'alice', when => ''), qr/^-ERR challenge_new/,
         'no when');
    is($t->redis('EXISTS', okey(c => 'alice', 'cn6')), 0, 'nothing created');

    $t->redis('DEL', okey(f => 'alice'));
};

# ---------------------------------------------------------------- attempts

case 'attempt: wrong codes burn the challenge' => sub {
    user('bob');
    challenge('aw', 'bob');
    is_deeply(attempt('aw', 'bob', 'totp', ''), [ 'wrong', 4 ],
              'wrong, 4 left');
    is_deeply(attempt('aw', 'bob', 'totp', ''), [ 'wrong', 3 ],
              'wrong, 3 left');
    is_deeply(attempt('aw', 'bob', 'totp', ''), [ 'wrong', 2 ],
              'wrong, 2 left');
    is_deeply(attempt('aw', 'bob', 'totp', ''), [ 'wrong', 1 ],
              'wrong, 1 left');
    is_deeply(attempt('aw', 'bob', 'totp', ''), ['burnt'], '5th: burnt');
    is_deeply(attempt('aw', 'bob', 'totp', ''), ['burnt'], 'then burnt');
    is_deeply(attempt('aw', 'bob', 'totp', 100), ['burnt'],
              'a right code on a burnt challenge: burnt');
    is_deeply(attempt('aw', 'bob', 'totp', 100, sealed => 'OLD'), ['burnt'],
              'a stale code on a burnt challenge: burnt');
    is($t->redis('HGET', okey(c => 'bob', 'aw'), 'a'), 5,
       'attempts stop at 5');
    is($t->redis('GET', okey(f => 'bob')), 5, 'failures: 5');
    my $ttl = $t->redis('TTL', okey(f => 'bob'));
    ok($ttl > 86395 && $ttl <= 86400,
       "failures are kept a day after the last ($ttl)");
    is($t->redis('EXISTS', okey(t => 'bob')), 0, 'no step recorded');
    is($t->redis('EXISTS', okey(s => 'bob', 'aw-s'), okey(su => 'bob')), 0,
       'no session');
};

# SPEC 6.19: the count does not lapse with the lockout time.  Before,
# it expired one lockout period after the first failure, so nine wrong
# codes every 15 minutes went on for ever.
# SPEC 6.17: one user cannot fill Redis with challenges.  Before, every
# GET challenge made one more key, 6,000 in 2 s from one user.
case 'challenge_new: live challenges are capped' => sub {
    user('cap');
    my %o = (most => 3, ttl => 300);

    is(challenge("cap$_", 'cap', %o)->[0], 'ok', "challenge $_") for 1 .. 3;
    is_deeply(challenge('cap4', 'cap', %o), [ 'busy', 300 ],
              'the fourth: busy, until the first expires');
    is($t->redis('EXISTS', okey(c => 'cap', 'cap4')), 0, 'not made');
    user('other');
    is(challenge('x1', 'other', %o)->[0], 'ok',
       'another user is not held back');
    $t->redis('DEL', okey(c => 'other', 'x1'));

    is(attempt('cap1', 'cap', 'totp', 7)->[0], 'ok', 'a code uses one up');
    is(challenge('cap4', 'cap', %o)->[0], 'ok', 'then there is room');

    is(challenge('cap5', 'cap', %o, now => $NOW + 301)->[0], 'ok',
       'expired ones make room');
    is($t->redis('ZCARD', okey(cl => 'cap')), 1, 'and leave the set');
    $t->redis('DEL', map { okey(c => 'cap', "cap$_") } 1 .. 5);
};

# SPEC 6.17: a reload shows the browser's live challenge again
case 'challenge_new: the browser\'s live challenge' => sub {
    user('rl');
    user('rl2');
    is(challenge('rl1', 'rl')->[0], 'ok', 'a new one');
    is(challenge('rl2', 'rl', live => 'rl1')->[0], 'live',
       'the cookie names it: shown again');
    is($t->redis('EXISTS', okey(c => 'rl', 'rl2')), 0, '... nothing made');
    is($t->redis('ZCARD', okey(cl => 'rl')), 1, '... one live challenge');
    is(challenge('rl2', 'rl2', live => 'rl1')->[0], 'ok',
       "another user's: a new one of its own");
    $t->redis('HSET', okey(c => 'rl', 'rl1'), 'a', 5);
    is(challenge('rl3', 'rl', live => 'rl1')->[0], 'ok', 'burnt: a new one');
    is(challenge('rl4', 'rl', live => 'rl3', least => 301)->[0], 'ok',
       'too little life left: a new one');
    is(challenge('rl5', 'rl', live => 'gone')->[0], 'ok', 'expired: a new one');
    $t->redis('DEL', map { okey(c => 'rl', "rl$_") } 1 .. 5);
    $t->redis('DEL', okey(c => 'rl2', 'rl2'));
};

case 'attempt: slow guessing still locks' => sub {
    my %o = (lock_after => 3, lock_secs => 60);
    user('sam');
    challenge("sl$_", 'sam') for 1 .. 3;

    is_deeply(attempt('sl1', 'sam', 'totp', '', %o), [ 'wrong', 4 ],
              'failure 1');
    ok($t->redis('TTL', okey(f => 'sam')) > 86395,
       'kept a day, not the lockout time (60 s)');

    # a lockout period later, the count is still there
    $t->redis('EXPIRE', okey(f => 'sam'), 86400 - 61);
    is_deeply(attempt('sl2', 'sam', 'totp', '', %o), [ 'wrong', 4 ],
              'failure 2, after the lockout time');
    ok($t->redis('TTL', okey(f => 'sam')) > 86395,
       'each failure keeps it a day more');
    is_deeply(attempt('sl3', 'sam', 'totp', '', %o), [ 'locked', 60, 1 ],
              'failure 3 locks');
    $t->redis('DEL', okey(l => 'sam'));
};

case 'attempt: no challenge' => sub {
    user('bob2');
    is_deeply(attempt('none', 'bob2', 'totp', 100), ['no_challenge'],
              'unknown id');
    challenge('ac', 'carol');
    my %o = (owner => 'carol');
    is_deeply(attempt('ac', 'bob2', 'totp', 100, %o), ['no_challenge'],
              "another user's challenge");
    is_deeply(attempt('ac', 'bob2', 'totp', '', %o), ['no_challenge'],
              "another user's challenge, wrong code");
    $t->redis('HSET', okey(u => 'bob2'), rc => h(1));
    is_deeply(attempt('ac', 'bob2', 'recovery', h(1), %o), ['no_challenge'],
              "another user's challenge, a recovery code");
    is($t->redis('HGET', okey(u => 'bob2'), 'rc'), h(1), 'not used up');
    is_deeply(attempt('ac', 'bob2', 'totp', 100), ['no_challenge'],
              'the same id under bob2\'s own tag');
    is($t->redis('EXISTS', okey(c => 'bob2', 'ac')), 0,
       'no challenge made for bob2');
    is($t->redis('HGET', okey(c => 'carol', 'ac'), 'a'), 0,
       'carol\'s attempts untouched');
    is($t->redis('EXISTS', okey(f => 'bob2')), 0, 'no failure counted');
    is($t->redis('EXISTS', okey(t => 'bob2')), 0, 'no step recorded');
    is($t->redis('EXISTS', okey(su => 'bob2')), 0, 'no session');
};

case 'attempt: right codes make the session' => sub {
    user('dave', gen => 2);
    my $s1 = okey(s => 'dave', 'ao1-s');

    challenge('ao1', 'dave');
    attempt('ao1', 'dave', 'totp', '');
    is_deeply(attempt('ao1', 'dave', 'totp', 1000), [ 'ok', 0 ],
              'ok with a step');
    is($t->redis('EXISTS', okey(c => 'dave', 'ao1')), 0,
       'challenge consumed');
    is($t->redis('EXISTS', okey(f => 'dave')), 0, 'failures cleared');
    is($t->redis('GET', okey(t => 'dave')), 1000, 'step recorded');
    my $ttl = $t->redis('TTL', okey(t => 'dave'));
    ok($ttl > 115 && $ttl <= 120, "step expires ($ttl)");

    is_deeply({ @{ $t->redis('HGETALL', $s1) } },
              { u => 'dave', c => $NOW, a => $NOW, m => 'totp', g => 2,
                l => $NOW },
              'the session: now, method totp, the user\'s generation');
    $ttl = $t->redis('TTL', $s1);
    ok($ttl > 595 && $ttl <= 600, "session: the idle timeout ($ttl)");
    is_deeply($t->redis('SMEMBERS', okey(su => 'dave')), [$s1],
              'in the user\'s set');
    $ttl = $t->redis('TTL', okey(su => 'dave'));
    ok($ttl > 3595 && $ttl <= 3600, "the set: the session lifetime ($ttl)");
    is($t->redis('EXISTS', okey(d => 'dave')), 0, 'no device remembered');
    is_deeply(attempt('ao1', 'dave', 'totp', 1001), ['no_challenge'],
              'a consumed challenge cannot be used again');

    # a lifetime shorter than the idle timeout bounds the session
    challenge('ao2', 'dave');
    is_deeply(attempt('ao2', 'dave', 'totp', 1001, idle => 600, ttl => 60),
              [ 'ok', 0 ], 'ok, lifetime 60 s');
    $ttl = $t->redis('TTL', okey(s => 'dave', 'ao2-s'));
    ok($ttl > 55 && $ttl <= 60, "session: the lifetime ($ttl)");
    $t->redis('DEL', okey(s => 'dave', 'ao2-s'));

    # a right code of another method leaves the TOTP step as it was
    $t->redis('HSET', okey(u => 'dave'), rc => h(1) . h(2));
    challenge('ao3', 'dave');
    is_deeply(attempt('ao3', 'dave', 'recovery', h(2)), [ 'ok', 1 ],
              'a recovery code: ok, 1 left');
    is($t->redis('GET', okey(t => 'dave')), 1001, 'step left as it was');
    is($t->redis('HGET', okey(s => 'dave', 'ao3-s'), 'm'), 'recovery',
       'session method recovery');

    # "trust this browser": the device is remembered with the session
    challenge('ao4', 'dave');
    is_deeply(attempt('ao4', 'dave', 'totp', '', device => 'ef56',
                      expiry => $NOW + 1000), [ 'wrong', 4 ],
              'a wrong code with a device');
    is($t->redis('EXISTS', okey(d => 'dave')), 0, 'remembers nothing');
    is_deeply(attempt('ao4', 'dave', 'totp', 1002, device => 'ab12',
                      expiry => $NOW + 1000), [ 'ok', 0 ],
              'a right one: ok');
    is($t->redis('ZSCORE', okey(d => 'dave'), 'ab12'), $NOW + 1000,
       'device remembered until its expiry');
    $ttl = $t->redis('TTL', okey(d => 'dave'));
    ok($ttl > 995 && $ttl <= 1000, "the devices expire with it ($ttl)");
    is($t->redis('EXISTS', okey(s => 'dave', 'ao4-s')), 1, 'and a session');

    challenge('ao5', 'dave');
    is_deeply(attempt('ao5', 'dave', 'totp', 1003, device => 'cd34',
                      expiry => $NOW + 2000, most => 1), [ 'ok', 0 ],
              'another device, at most 1');
    is_deeply($t->redis('ZRANGE', okey(d => 'dave'), 0, -1), ['cd34'],
              'the one expiring first goes');
    is_deeply([ sort @{ $t->redis('SMEMBERS', okey(su => 'dave')) } ],
              [ sort map { okey(s => 'dave', "ao$_-s") } 1, 3, 4, 5 ],
              'every session in the set, the deleted one dropped');

    challenge('ao6', 'dave');
    for my $bad ([ 'TOTP', 1004 ], [ 'email', 1004 ], [ 'totp', 'x' ],
                 [ 'totp', -1 ], [ 'totp', 1.5 ], [ 'hotp', 'x' ],
                 [ 'recovery', 'XYZ' ], [ 'recovery', uc h(0xabc) ],
                 [ 'recovery', substr(h(1), 1) ])
    {
        like(attempt('ao6', 'dave', @$bad), qr/^-ERR attempt/,
             "bad arguments: @$bad");
    }
    my %bad = (max => 0, lock_after => 0, lock_secs => '', step_ttl => 0,
               now => 0, idle => 0, ttl => 'x', most => 0);
    for my $o (sort keys %bad) {
        like(attempt('ao6', 'dave', 'totp', 1004, $o => $bad{$o}),
             qr/^-ERR attempt/, "bad arguments: $o '$bad{$o}'");
    }
    like(attempt('ao6', 'dave', 'totp', 1004, device => 'XY',
                 expiry => $NOW + 100), qr/^-ERR attempt/,
         'a device id that is not hex: error');
    like(attempt('ao6', 'dave', 'totp', 1004, device => 'ab'),
         qr/^-ERR attempt/, 'a device without an expiry: error');
    like(run('attempt',
             [ okey(c => '', 'ao6'),
               map { okey($_ => '') } qw(f l t u s su d cl) ],
             '', 'totp', 1004, 'S', 5, 10, 900, 120, $NOW, 600, 3600, '', '',
             5), qr/^-ERR attempt/, 'empty user: error');
    is($t->redis('HGET', okey(c => 'dave', 'ao6'), 'a'), 0,
       'nothing counted');
    is($t->redis('GET', okey(t => 'dave')), 1003, 'no step taken');
    is($t->redis('EXISTS', okey(s => 'dave', 'ao6-s')), 0, 'no session');
    is($t->redis('ZCARD', okey(d => 'dave')), 1, 'no device');
    $t->redis('DEL', okey(c => 'dave', 'ao6'));
};

case 'attempt: TOTP steps only go forward' => sub {
    my $s = 2_000_000;
    user('erin');
    challenge("st$_", 'erin') for 1 .. 6;

    is_deeply(attempt('st1', 'erin', 'totp', $s), [ 'ok', 0 ],
              'step s accepted');
    my $replay = attempt('st2', 'erin', 'totp', $s);
    is_deeply($replay, [ 'wrong', 4 ], 'step s again: wrong');
    is_deeply(attempt('st3', 'erin', 'totp', $s - 1), [ 'wrong', 4 ],
              'step s-1: wrong');
    is_deeply(attempt('st4', 'erin', 'totp', ''), $replay,
              'a replay looks exactly like a wrong code');
    is($t->redis('GET', okey(f => 'erin')), 3, 'replays count as failures');
    is_deeply(attempt('st5', 'erin', 'totp', $s + 1), [ 'ok', 0 ],
              'step s+1: ok');
    is($t->redis('GET', okey(t => 'erin')), $s + 1, 'last step s+1');
    is_deeply(attempt('st6', 'erin', 'totp', $s + 1), [ 'wrong', 4 ],
              'step s+1 again: wrong');
    is_deeply(attempt('st2', 'erin', 'totp', $s + 2), [ 'ok', 0 ],
              'the same challenge takes a newer step');
    is_deeply([ sort @{ $t->redis('SMEMBERS', okey(su => 'erin')) } ],
              [ sort map { okey(s => 'erin', "st$_-s") } 1, 2, 5 ],
              'a session for each accepted code, none for a replay');
    is($t->redis('EXISTS', map { okey(s => 'erin', "st$_-s") } 3, 4, 6), 0,
       'the replays made none');
    $t->redis('DEL', map { okey(c => 'erin', "st$_") } 3, 4, 6);
};

case 'attempt: HOTP counters and the secret checked' => sub {
    user('hal', type => 'hotp', counter => 10);

    challenge('hc1', 'hal');
    is_deeply(attempt('hc1', 'hal', 'hotp', 12), [ 'ok', 13 ],
              'a counter ahead: ok, the next counter');
    is($t->redis('HGET', okey(u => 'hal'), 'counter'), 13, 'counter 13');
    is($t->redis('HGET', okey(s => 'hal', 'hc1-s'), 'm'), 'hotp',
       'session method hotp');
    is($t->redis('EXISTS', okey(t => 'hal')), 0, 'no TOTP step recorded');

    challenge('hc2', 'hal');
    is_deeply(attempt('hc2', 'hal', 'hotp', 12), [ 'wrong', 4 ],
              'the same counter again: wrong');
    is_deeply(attempt('hc2', 'hal', 'totp', 20), ['stale'],
              'a TOTP code for an HOTP user: stale');
    is_deeply(attempt('hc2', 'hal', 'hotp', 20, sealed => 'OLD'), ['stale'],
              'checked against a secret no longer the user\'s: stale');
    is($t->redis('HGET', okey(c => 'hal', 'hc2'), 'a'), 1,
       'stale codes are not counted on the challenge');
    is($t->redis('GET', okey(f => 'hal')), 1, 'nor as failures');
    is($t->redis('HGET', okey(u => 'hal'), 'counter'), 13,
       'nor move the counter');
    is_deeply(attempt('hc2', 'hal', 'hotp', '', sealed => 'OLD'),
              ['stale'], 'no match against an old secret: stale too');
    is_deeply(attempt('hc2', 'hal', 'hotp', ''),
              [ 'wrong', 3 ], 'no match against the user\'s: wrong');
    is_deeply(attempt('hc2', 'hal', 'hotp', 13), [ 'ok', 14 ],
              'the expected counter: ok');
    is($t->redis('EXISTS', okey(f => 'hal')), 0, 'failures cleared');
};

case 'attempt: stale and enroll count nothing' => sub {
    user('gil');
    challenge('sg1', 'gil');

    is_deeply(attempt('sg1', 'gil', 'totp', 7, sealed => 'OLD'), ['stale'],
              'a step of an old secret: stale');
    is_deeply(attempt('sg1', 'gil', 'hotp', 7), ['stale'],
              'an HOTP counter for a TOTP user: stale');
    $t->redis('HDEL', okey(u => 'gil'), 'totp');
    is_deeply(attempt('sg1', 'gil', 'totp', 7, sealed => 'S'), ['stale'],
              'the user has no secret any more: stale');
    $t->redis('HSET', okey(u => 'gil'), totp => 'S');
    is($t->redis('HGET', okey(c => 'gil', 'sg1'), 'a'), 0,
       'the challenge counted nothing');
    is($t->redis('EXISTS', okey(f => 'gil'), okey(t => 'gil'),
                 okey(su => 'gil')), 0,
       'no failure, no step, no session');
    is_deeply(attempt('sg1', 'gil', 'totp', '', sealed => 'OLD'),
              ['stale'], 'a wrong code against an old secret: stale');
    is_deeply(attempt('sg1', 'gil', 'totp', ''),
              [ 'wrong', 4 ], 'a wrong code against the user\'s counts');

    $t->redis('HSET', okey(u => 'gil'), must_enroll => 1, rc => h(1));
    is_deeply(attempt('sg1', 'gil', 'totp', 8), ['enroll'],
              'must enroll, a right code: enroll');
    is_deeply(attempt('sg1', 'gil', 'totp', ''), ['enroll'],
              'a wrong code: enroll');
    is_deeply(attempt('sg1', 'gil', 'recovery', h(1)), ['enroll'],
              'a recovery code: enroll');
    is_deeply(attempt('sg1', 'gil', 'totp', 8, sealed => 'OLD'), ['enroll'],
              'a stale code: enroll');
    is_deeply(attempt('nosuch', 'gil', 'totp', 8), ['enroll'],
              'enroll before no_challenge');
    is($t->redis('HGET', okey(c => 'gil', 'sg1'), 'a'), 1,
       'nothing more counted on the challenge');
    is($t->redis('GET', okey(f => 'gil')), 1, 'nor as failures');
    is($t->redis('HGET', okey(u => 'gil'), 'rc'), h(1),
       'the recovery code not used up');
    is($t->redis('EXISTS', okey(t => 'gil'), okey(su => 'gil')), 0,
       'no step, no session');

    $t->redis('SET', okey(l => 'gil'), 1, 'EX', 60);
    is(attempt('sg1', 'gil', 'totp', 8)->[0], 'locked',
       'locked before enroll');
    $t->redis('DEL', okey(l => 'gil'));

    # must_enroll without an authenticator: nothing to check against but
    # the codes are still counted
    $t->redis('HDEL', okey(u => 'gil'), 'totp');
    is_deeply(attempt('sg1', 'gil', 'totp', ''), [ 'wrong', 3 ],
              'must enroll, no authenticator: a wrong code counts');
    $t->redis('DEL', okey(c => 'gil', 'sg1'), okey(f => 'gil'));
};

case 'attempt: lockout across challenges' => sub {
    my %o = (lock_after => 3, lock_secs => 60);
    user('frank');
    challenge("lk$_", 'frank') for 1 .. 4;

    is_deeply(attempt('lk1', 'frank', 'totp', '', %o), [ 'wrong', 4 ],
              'failure 1');
    is_deeply(attempt('lk2', 'frank', 'totp', 5, %o), [ 'ok', 0 ],
              'a success resets the count');
    is($t->redis('EXISTS', okey(f => 'frank')), 0, 'failures cleared');

    is_deeply(attempt('lk1', 'frank', 'totp', '', %o), [ 'wrong', 3 ],
              'failure 1');
    is_deeply(attempt('lk3', 'frank', 'totp', 5, %o), [ 'wrong', 4 ],
              'failure 2 (a replay), another challenge');
    is_deeply(attempt('lk4', 'frank', 'totp', '', %o),
              [ 'locked', 60, 1 ], 'failure 3: locked, by this attempt');
    my $ttl = $t->redis('TTL', okey(l => 'frank'));
    ok($ttl > 55 && $ttl <= 60, "lock for the lockout time ($ttl)");
    is($t->redis('EXISTS', okey(f => 'frank')), 0, 'failures restart');

    my $r = attempt('lk3', 'frank', 'totp', 6, %o);
    is($r->[0], 'locked', 'a right code while locked: locked');
    ok($r->[1] > 55 && $r->[1] <= 60, "with the time left ($r->[1])");
    is(attempt('lk3', 'frank', 'totp', 6, %o, sealed => 'OLD')->[0],
       'locked', 'a stale code while locked: locked');
    is_deeply([ map { $t->redis('HGET', okey(c => 'frank', "lk$_"), 'a') }
                    1, 3, 4 ],
              [ 2, 1, 1 ], 'attempts while locked are not counted');
    is($t->redis('GET', okey(t => 'frank')), 5, 'no step accepted');
    is($t->redis('EXISTS', okey(s => 'frank', 'lk3-s')), 0, 'no session');

    is_deeply(run('unlock', [ okey(f => 'frank'), okey(l => 'frank') ]),
              ['ok'], 'unlock');
    is($t->redis('EXISTS', okey(l => 'frank')), 0, 'lock gone');
    is_deeply(attempt('lk3', 'frank', 'totp', 6, %o), [ 'ok', 0 ],
              'unlocked: the code works');

    $t->redis('SET', okey(l => 'frank'), 1, 'PX', 200);
    is_deeply(attempt('lk4', 'frank', 'totp', 7, %o), [ 'locked', 1 ],
              'locked until the last millisecond');
    sleep 0.25;
    is_deeply(attempt('lk4', 'frank', 'totp', 7, %o), [ 'ok', 0 ],
              'and not after');
    $t->redis('DEL', okey(c => 'frank', 'lk1'));
};

# ---------------------------------------------------------------- races

case 'race: attempts on one challenge' => sub {
    challenge('r1', 'gina');
    my @r = race(20, sub {
        map { attempt('r1', 'gina', 'totp', '', lock_after => 1000) } 1 .. 5
    });
    my $n = tally(@r);

    is(scalar @r, 100, '100 replies');
    is($n->{wrong}, 4, 'exactly max_attempts - 1 wrong') or diag(explain $n);
    is($n->{burnt}, 96, 'all the others burnt');
    is_deeply([ sort grep { /^wrong/ } @r ],
              [ 'wrong 1', 'wrong 2', 'wrong 3', 'wrong 4' ],
              'each count of attempts left told once');
    is($t->redis('HGET', okey(c => 'gina', 'r1'), 'a'), 5,
       'attempts recorded: 5');
    is($t->redis('GET', okey(f => 'gina')), 5, 'failures recorded: 5');
};

case 'race: lockout of one user from many challenges' => sub {
    challenge("r2-$_", 'hank') for 1 .. 60;
    my @r = race(20, sub {
        my ($i) = @_;
        map { attempt("r2-" . (($i - 1) * 3 + $_), 'hank', 'totp', '') }
            1 .. 3
    });
    my $n = tally(@r);

    is(scalar @r, 60, '60 replies');
    is($n->{wrong}, 9, 'exactly lock_after - 1 wrong') or diag(explain $n);
    is($n->{locked}, 51, 'all the others locked');
    is(scalar(grep { $_ eq 'locked 900 1' } @r), 1,
       'one attempt says it locked the user, for 900 s');
    my $a = 0;
    $a += $t->redis('HGET', okey(c => 'hank', "r2-$_"), 'a') for 1 .. 60;
    is($a, 10, 'failures counted exactly: 10');
    my $ttl = $t->redis('TTL', okey(l => 'hank'));
    ok($ttl > 895 && $ttl <= 900, "locked once, for 900 s ($ttl)");
    is($t->redis('EXISTS', okey(f => 'hank')), 0, 'failure count restarted');
};

case 'race: one step, many submits' => sub {
    my $s = 3_000_000;
    user('ida');

    for my $round (1 .. 5) {
        challenge("r3-$round-$_", 'ida') for 1 .. 20;
        my @r = race(20, sub {
            attempt("r3-$round-$_[0]", 'ida', 'totp', $s + $round,
                    lock_after => 1000)
        });
        my $n = tally(@r);
        is($n->{ok}, 1, "round $round: one ok of 20 challenges")
            or diag(explain $n);
        is($n->{wrong}, 19, "round $round: 19 wrong");
        is($t->redis('GET', okey(t => 'ida')), $s + $round, 'step recorded');
        is($t->redis('SCARD', okey(su => 'ida')), $round,
           "round $round: one session more");
        $t->redis('DEL', okey(f => 'ida'));
    }

    challenge('r3-same', 'ida');
    my $n = tally(race(20, sub {
        attempt('r3-same', 'ida', 'totp', $s + 9, sid => "r3-same-$_[0]")
    }));
    is($n->{ok}, 1, 'one challenge, 20 submits: one ok') or diag(explain $n);
    is($n->{no_challenge}, 19, 'the others find it consumed');
    is($t->redis('SCARD', okey(su => 'ida')), 6, 'and one session');
    $t->redis('DEL', map { my $r = $_; map { okey(c => 'ida', "r3-$r-$_") }
                               1 .. 20 } 1 .. 5);
};

case 'race: enrollment confirmed once' => sub {
    begin('jack', 'S1', 'sha1', 6, 30, 600);
    my $n = tally(race(10, sub { confirm('jack', 'S1', 'ok', 4_000_000) }));
    is($n->{ok}, 1, 'one ok') or diag(explain $n);
    is($n->{no_enrollment}, 9, 'the others find it done');
};

# ---------------------------------------------------------------- enrollment

case 'enroll_begin' => sub {
    my $e = okey(e => 'kim', 'b1');
    my $es = okey(es => 'kim');
    my $sealed = "\x00sealed\xff";

    is_deeply(begin('kim', $sealed, 'sha1', 6, 30, 600),
              [ 'ok', $sealed, 'sha1', 6, 30, 'totp', 1 ], 'new enrollment');
    my $ttl = $t->redis('TTL', $e);
    ok($ttl > 595 && $ttl <= 600, "expires ($ttl)");
    is_deeply($t->redis('SMEMBERS', $es), [$e], 'in the user\'s set');
    $ttl = $t->redis('TTL', $es);
    ok($ttl > 595 && $ttl <= 600, "which expires ($ttl)");

    $t->redis('EXPIRE', $e, 50);
    is_deeply(begin('kim', 'other', 'sha512', 8, 60, 600),
              [ 'ok', $sealed, 'sha1', 6, 30, 'totp', 0 ],
              'a reload: the same one, not made');
    ok($t->redis('TTL', $e) <= 50, 'and its expiry not extended');

    # SPEC 6.15: another browser gets its own, never this one's
    is_deeply(begin('kim', 'S2', 'sha1', 6, 30, 600, browser => 'b2'),
              [ 'ok', 'S2', 'sha1', 6, 30, 'totp', 1 ],
              'another browser: its own');
    is($t->redis('SCARD', $es), 2, 'two pending');

    # SPEC 6.17: at most 5 per user; an ended one leaves room
    begin('kim', "S$_", 'sha1', 6, 30, 600, browser => "b$_") for 3 .. 5;
    my $r = begin('kim', 'S6', 'sha1', 6, 30, 600, browser => 'b6');
    is($r->[0], 'busy', 'the sixth: busy');
    ok($r->[1] > 0 && $r->[1] <= 50, "until the first ends ($r->[1] s)");
    is($t->redis('EXISTS', okey(e => 'kim', 'b6')), 0, 'nothing made');
    is_deeply(begin('kim', 'x', 'sha1', 6, 30, 600, browser => 'b3'),
              [ 'ok', 'S3', 'sha1', 6, 30, 'totp', 0 ],
              'a browser with one pending still sees it');
    $t->redis('DEL', $e);
    is(begin('kim', 'S6', 'sha1', 6, 30, 600, browser => 'b6')->[6], 1,
       'one ended: room for another');
    is($t->redis('SCARD', $es), 5, 'the set lost the one that ended');

    like(begin('kim2', 'x', 'sha1', 6, 30, 0), qr/^-ERR enroll_begin/,
         'ttl 0: error');
    like(begin('kim2', 'x', 'sha1', 6, 30, 600, most => 0),
         qr/^-ERR enroll_begin/, 'no cap: error');
    like(begin('kim2', 'x', 'sha1', 6, 30, 600, type => 'x'),
         qr/^-ERR enroll_begin/, 'bad type: error');
    is($t->redis('EXISTS', okey(e => 'kim2', 'b1'), okey(es => 'kim2')), 0,
       'nothing created');
};

case 'enroll_confirm' => sub {
    my $u = okey(u => 'liz');
    my $s = 5_000_000;
    my %o = (lock_after => 3, lock_secs => 60);

    is_deeply(confirm('liz', 'S1', 'ok', $s), ['no_enrollment'],
              'nothing pending');

    $t->redis('HSET', $u, must_enroll => 1, gen => 2, totp => 'OLD');
    begin('liz', 'S1', 'sha256', 8, 60, 600);

    is_deeply(confirm('liz', 'S0', 'ok', $s), ['no_enrollment'],
              'another secret pending');
    begin('liz', 'SX', 'sha1', 6, 30, 600, browser => 'b2');
    is_deeply(confirm('liz', 'S1', 'ok', $s, browser => 'b2'),
              ['no_enrollment'], 'another browser\'s secret: no_enrollment');
    is($t->redis('EXISTS', okey(f => 'liz')), 0, 'not counted');

    is_deeply(confirm('liz', 'S1', 'wrong', $s, %o), ['wrong'], 'wrong');
    is($t->redis('GET', okey(f => 'liz')), 1, 'counted as a failure');
    is($t->redis('EXISTS', okey(e => 'liz', 'b1')), 1, 'still pending');

    $t->redis('SET', okey(t => 'liz'), $s, 'EX', 120);
    is_deeply(confirm('liz', 'S1', 'ok', $s, %o), ['wrong'],
              'a step already used: wrong');

    is_deeply(confirm('liz', 'S1', 'ok', $s + 1, %o), ['ok'], 'confirmed');
    is_deeply({ @{ $t->redis('HGETALL', $u) } },
              { totp => 'S1', alg => 'sha256', digits => 8, period => 60,
                gen => 2, aid => 2, anext => 2, name => 'Authenticator',
                added => 0, used => 0 },
              'the secret is the user\'s, must_enroll cleared');
    is($t->redis('EXISTS', okey(e => 'liz', 'b1'), okey(e => 'liz', 'b2'),
                 okey(es => 'liz')), 0,
       'no longer pending, nor any other browser\'s');
    is($t->redis('EXISTS', okey(f => 'liz')), 0, 'failures cleared');
    is($t->redis('GET', okey(t => 'liz')), $s + 1, 'step recorded');
    is_deeply(state_of('liz'),
              [ 'ok', 'S1', 'sha256', 8, 60, 0, 0, 2, 0, undef, 0, 0,
                undef ],
              'user_state');

    challenge('lz', 'liz');
    is_deeply(attempt('lz', 'liz', 'totp', $s + 1, sealed => 'S1'),
              [ 'wrong', 4 ], 'the confirming code cannot sign in');
    is_deeply(attempt('lz', 'liz', 'totp', $s + 2, sealed => 'OLD'),
              ['stale'], 'a code of the old secret: stale');

    begin('liz', 'S2', 'sha1', 6, 30, 600);
    confirm('liz', 'S2', 'wrong', $s + 9, %o) for 1 .. 2;
    is_deeply(confirm('liz', 'S2', 'wrong', $s + 9, %o), [ 'locked', 60 ],
              'third failure: locked');
    my $r = confirm('liz', 'S2', 'ok', $s + 9, %o);
    is($r->[0], 'locked', 'a right code while locked: locked');
    is($t->redis('HGET', $u, 'totp'), 'S1', 'enrollment not changed');

    like(confirm('liz', 'S2', 'maybe', $s, %o), qr/^-ERR enroll_confirm/,
         'bad result: error');
    $t->redis('DEL', okey(c => 'liz', 'lz'));
};

# ---------------------------------------------------------------- sessions

case 'sessions: lifetime and idle timeout' => sub {
    my ($now, $idle, $ttl) = (1_700_000_000, 60, 120);
    my $sk = okey(s => 'mia', 'sid1');

    is_deeply(session_new('sid1', 'mia', $now, $idle, $ttl), ['ok'], 'new');
    is_deeply({ @{ $t->redis('HGETALL', $sk) } },
              { u => 'mia', c => $now, a => $now - 5, m => 'totp', g => 0,
                l => $now },
              'session fields');
    my $kttl = $t->redis('TTL', $sk);
    ok($kttl > 55 && $kttl <= 60, "idle timeout ($kttl)");
    is_deeply($t->redis('SMEMBERS', okey(su => 'mia')), [$sk],
              'in the user\'s set');
    $kttl = $t->redis('TTL', okey(su => 'mia'));
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

    is_deeply(session_check('sid1', 'nick', $now + 101, $idle, $ttl, 'mia'),
              ['other_user'], 'another user: other_user');
    is($t->redis('HGET', $sk, 'l'), $now + 100, 'and left as it was');

    is_deeply(session_check('sid1', 'mia', $now + 120, $idle, $ttl),
              ['expired'], 'at its lifetime: expired');
    is($t->redis('EXISTS', $sk), 0, 'deleted');
    is($t->redis('SISMEMBER', okey(su => 'mia'), $sk), 0,
       'and out of the set');
    is_deeply(session_check('sid1', 'mia', $now + 121, $idle, $ttl),
              ['none'], 'then none');
    is_deeply(session_check('nosuch', 'mia', $now, $idle, $ttl), ['none'],
              'unknown session: none');

    session_new('sid2', 'mia', $now, 1, $ttl);
    is($t->redis('TTL', okey(s => 'mia', 'sid2')), 1, 'idle 1 s');
    sleep 1.1;
    is_deeply(session_check('sid2', 'mia', $now + 2, 1, $ttl), ['none'],
              'idle too long: none');

    session_new('sid3', 'mia', $now + 2, $idle, $ttl);
    is_deeply($t->redis('SMEMBERS', okey(su => 'mia')),
              [ okey(s => 'mia', 'sid3') ],
              'a new session drops the ended ones from the set');

    $t->redis('ZADD', okey(d => 'mia'), $now + 100, 'aa01', $now + 100,
              'bb02');
    is_deeply(run('session_end',
                  [ okey(s => 'mia', 'sid3'), okey(su => 'mia'),
                    okey(d => 'mia') ], 'aa01'),
              ['ok'], 'session_end');
    is_deeply($t->redis('ZRANGE', okey(d => 'mia'), 0, -1), ['bb02'],
              'session_end: this browser forgotten, the other kept');
    is_deeply(run('session_end',
                  [ okey(s => 'mia', 'none'), okey(su => 'mia'),
                    okey(d => 'mia') ], ''),
              ['ok'], 'session_end without a device');
    is($t->redis('ZCARD', okey(d => 'mia')), 1, '... keeps the devices');
    $t->redis('DEL', okey(d => 'mia'));
    is_deeply(session_check('sid3', 'mia', $now + 3, $idle, $ttl), ['none'],
              'ended: none');
    is($t->redis('EXISTS', okey(su => 'mia')), 0, 'set gone with its last');

    like(session_new('sid4', 'mia', $now, 0, $ttl), qr/^-ERR session_new/,
         'idle 0: error');
    like(session_check('sid4', 'mia', 'now', 1, 1), qr/^-ERR session_check/,
         'now not a number: error');
};

case 'sessions: revocation' => sub {
    my ($now, $idle, $ttl) = (1_700_000_000, 600, 3600);
    my $u = okey(u => 'olga');

    session_new("rv$_", 'olga', $now, $idle, $ttl) for 1 .. 3;
    $t->redis('SREM', okey(su => 'olga'), okey(s => 'olga', 'rv3'));
    is(session_check('rv1', 'olga', $now + 1, $idle, $ttl)->[0], 'ok',
       'before: ok');

    is_deeply(run('revoke_user', [ $u, okey(su => 'olga') ]), [ 'ok', 2 ],
              'revoke_user: 2 sessions deleted');
    is($t->redis('HGET', $u, 'gen'), 1, 'generation 1');
    is($t->redis('EXISTS', okey(su => 'olga')), 0, 'set deleted');
    is($t->redis('EXISTS', okey(s => 'olga', 'rv1')), 0, 'sessions deleted');

    is_deeply(session_check('rv1', 'olga', $now + 2, $idle, $ttl), ['none'],
              'a deleted session: none');
    is_deeply(session_check('rv3', 'olga', $now + 2, $idle, $ttl),
              ['revoked'], 'a session the set missed: revoked');
    is($t->redis('EXISTS', okey(s => 'olga', 'rv3')), 0, 'and deleted');

    session_new('rv4', 'olga', $now + 3, $idle, $ttl);
    is($t->redis('HGET', okey(s => 'olga', 'rv4'), 'g'), 1,
       'new session: gen 1');
    is(session_check('rv4', 'olga', $now + 4, $idle, $ttl)->[0], 'ok',
       'and ok');

    is_deeply(run('revoke_user', [ okey(u => 'pat'), okey(su => 'pat') ]),
              [ 'ok', 0 ], 'a user with no sessions');
    $t->redis('DEL', okey(s => 'olga', 'rv4'), okey(su => 'olga'));
};

# ---------------------------------------------------------------- gate

# gate.lua's sessions; its remembered browsers are in
# t/042-policy-scripts.t
case 'gate: sessions' => sub {
    my ($now, $idle, $ttl) = (1_700_000_000, 60, 120);
    my %p = (idle => $idle, ttl => $ttl);
    my $sk = okey(s => 'quinn', 'g1');
    user('quinn', alg => 'sha1', digits => 6, period => 30, gen => 0);
    my @state = @{ state_of('quinn') }[1 .. 12];

    session_new('g1', 'quinn', $now, $idle, $ttl);
    is_deeply(gate('g1', 'quinn', $now + 10, %p),
              [ 'ok', $now, $now - 5, 'totp' ],
              'a good session: ok, created, auth time, method');
    is($t->redis('HGET', $sk, 'l'), $now + 10, 'last seen');
    $t->redis('EXPIRE', $sk, 5);
    $t->redis('EXPIRE', okey(su => 'quinn'), 5);
    gate('g1', 'quinn', $now + 20, %p);
    my $kttl = $t->redis('TTL', $sk);
    ok($kttl > 55 && $kttl <= 60, "the idle timer starts again ($kttl)");
    $kttl = $t->redis('TTL', okey(su => 'quinn'));
    ok($kttl > 115 && $kttl <= 120, "and the set's lifetime ($kttl)");
    gate('g1', 'quinn', $now + 100, %p);
    $kttl = $t->redis('TTL', $sk);
    ok($kttl > 15 && $kttl <= 20, "never past the lifetime ($kttl)");

    is_deeply(gate('g1', 'quinn', $now + 101, %p, has => 0),
              [ 'none', @state ],
              'no session cookie: the session is not looked at');
    is($t->redis('HGET', $sk, 'l'), $now + 100, 'nor touched');

    # the reply of none is user_state.lua's, whatever the user's state
    $t->redis('HSET', okey(u => 'rita'), totp => "\0S\xff", alg => 'sha256',
              digits => 8, period => 60, must_enroll => 1, gen => 4,
              phone => "\0P");
    $t->redis('SET', okey(l => 'rita'), 1, 'EX', 100);
    is_deeply(gate('g1', 'rita', $now + 101, %p, owner => 'quinn'),
              [ 'none', "\0S\xff", 'sha256', 8, 60, 1, 100, 4, 0, undef, 0,
                0, "\0P" ],
              'another user\'s session: none, and that user\'s state');
    is_deeply({ @{ $t->redis('HGETALL', $sk) } },
              { u => 'quinn', c => $now, a => $now - 5, m => 'totp',
                g => 0, l => $now + 100 },
              'the session left as it was');
    is($t->redis('SISMEMBER', okey(su => 'quinn'), $sk), 1,
       'and in its set');
    $t->redis('DEL', okey(l => 'rita'));

    is_deeply(gate('g1', 'quinn', $now + 120, %p), [ 'none', @state ],
              'at its lifetime: none');
    is($t->redis('EXISTS', $sk), 0, 'deleted');
    is($t->redis('SISMEMBER', okey(su => 'quinn'), $sk), 0,
       'and out of the set');
    is_deeply(gate('g1', 'quinn', $now + 121, %p), [ 'none', @state ],
              'then none');
    is_deeply(gate('nosuch', 'quinn', $now, %p), [ 'none', @state ],
              'unknown session: none');
    is_deeply(gate(undef, 'quinn', $now, %p), [ 'none', @state ],
              'no session cookie: none');

    session_new("g$_", 'quinn', $now, $idle, $ttl) for 2 .. 3;
    run('revoke_user', [ okey(u => 'quinn'), okey(su => 'quinn') ]);
    $t->redis('HSET', okey(s => 'quinn', 'g3'), u => 'quinn', c => $now,
              a => $now, m => 'totp', g => 0, l => $now);
    $t->redis('EXPIRE', okey(s => 'quinn', 'g3'), 60);
    $t->redis('SADD', okey(su => 'quinn'), okey(s => 'quinn', 'g3'));
    $t->redis('EXPIRE', okey(su => 'quinn'), 60);
    $state[6] = 1;
    is_deeply(gate('g3', 'quinn', $now + 1, %p), [ 'none', @state ],
              'a session of an older generation: none, the new one');
    is($t->redis('EXISTS', okey(s => 'quinn', 'g3')), 0, 'deleted');
    is($t->redis('EXISTS', okey(su => 'quinn')), 0, 'and out of the set');
    is_deeply(gate('g2', 'quinn', $now + 1, %p), [ 'none', @state ],
              'a session revoke_user deleted: none');
    is($t->redis('EXISTS', okey(s => 'quinn', 'quinn-new')), 0,
       'no session made on any of these');

    session_new('g4', 'quinn', $now, $idle, $ttl);
    my $before = $t->redis('HGET', okey(s => 'quinn', 'g4'), 'l');
    my @bad = ([ now => 0 ], [ now => 'x' ], [ idle => 0 ], [ ttl => '' ],
               [ has => 2 ], [ has => '' ], [ device => 'XY', auth => $now ],
               [ device => 'ab' ], [ device => 'ab', auth => 0 ]);
    for my $b (@bad) {
        my ($o, $v) = @$b;
        my $now1 = $o eq 'now' ? $v : $now + 1;
        like(gate('g4', 'quinn', $now1, %p, @$b), qr/^-ERR gate/,
             "bad arguments: @$b");
    }
    like(run('gate', [ map { okey($_ => '') } qw(s u su d l es s) ],
             '', $now, 600, 3600, 0, '', ''),
         qr/^-ERR gate/, 'empty user: error');
    is($t->redis('HGET', okey(s => 'quinn', 'g4'), 'l'), $before,
       'the session not touched');
    is($t->redis('EXISTS', okey(s => 'quinn', 'quinn-new')), 0,
       'none made');
    $t->redis('DEL', okey(s => 'quinn', 'g4'), okey(su => 'quinn'));
};

$t->stop_redis;

done_testing();
