#!/usr/bin/perl

# The admin API's Redis scripts (src/lua/), run against a real
# redis-server the way the module runs them: every reply, what each one
# leaves behind, and an expiry on every key but the user records.  And
# the lockout flag of enroll_confirm.lua's "locked" reply, which the
# metrics count.

use strict;
use warnings;

use Test::More;
use OtpTest;
use OtpKeys;

my $t = OtpTest->new;
$t->run_redis;

my $P = 'otp:';

my %sha = $t->load_scripts(qw(admin_status forget_totp require_enroll
                               set_phone revoke_user session_new
                               enroll_begin enroll_confirm));

sub run {
    my ($name, $keys, @argv) = @_;
    return $t->redis('EVALSHA', $sha{$name}, scalar @$keys, @$keys, @argv);
}

sub status {
    my ($user) = @_;
    return run('admin_status',
               [ okey(u => $user), okey(l => $user), okey(su => $user) ]);
}

sub forget {
    my ($user) = @_;
    return run('forget_totp',
               [ okey(u => $user), okey(es => $user), okey(su => $user) ]);
}

sub session {
    my ($sid, $user) = @_;
    return run('session_new',
               [ okey(s => $user, $sid), okey(su => $user), okey(u => $user) ],
               $user, time, 600, 3600, 'totp', time);
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

case 'admin_status' => sub {
    my $keys = $t->redis('DBSIZE');
    is_deeply(status('nobody'), ['unknown'], 'no keys at all: unknown');
    is($t->redis('DBSIZE'), $keys, 'read-only: no key created');

    $t->redis('SET', okey(l => 'lo'), 1, 'EX', 100);
    my $r = status('lo');
    is_deeply([ @$r[0 .. 2, 4, 5] ], [ 'ok', 0, 0, 0, undef ],
              'a lock alone makes a user known');
    ok($r->[3] > 95 && $r->[3] <= 100, "lock time left ($r->[3])");

    $t->redis('HSET', okey(u => 'st'), 'totp', "\0\1sealed", 'alg', 'sha1',
              'digits', 6, 'period', 30, 'must_enroll', 1,
              'phone', "\0phone\xff");
    is_deeply(status('st'), [ 'ok', 1, 1, 0, 0, "\0phone\xff", 0, 0,
                              [ 1, undef, 0, 0, 'totp' ] ],
              'enrolled, must enroll, binary phone intact');

    session('st-1', 'st');
    session('st-2', 'st');
    $t->redis('SADD', okey(su => 'st'), okey(s => 'st', 'st-gone'));
    is(status('st')->[4], 2, 'sessions: only those that exist');

    $t->redis('HINCRBY', okey(u => 'st'), 'gen', 1);
    session('st-3', 'st');
    is(status('st')->[4], 1, 'sessions: only the current generation');

    $t->redis('DEL', okey(u => 'st'));
    is(status('st')->[0], 'ok', 'a session set alone makes a user known');
};

case 'forget_totp' => sub {
    my $keys = $t->redis('DBSIZE');
    is_deeply(forget('nobody'), [ 'ok', 0, 0 ], 'unknown user: nothing');
    is($t->redis('DBSIZE'), $keys, 'no record created for it');

    $t->redis('HSET', okey(u => 'fo'), 'totp', 'S', 'alg', 'sha1',
              'digits', 6, 'period', 30, 'phone', 'P');
    for my $b (qw(b1 b2)) {
        $t->redis('HSET', okey(e => 'fo', $b), 'secret', 'S2');
        $t->redis('EXPIRE', okey(e => 'fo', $b), 100);
        $t->redis('SADD', okey(es => 'fo'), okey(e => 'fo', $b));
    }
    $t->redis('EXPIRE', okey(es => 'fo'), 100);
    session('fo-1', 'fo');
    session('fo-2', 'fo');

    is_deeply(forget('fo'), [ 'ok', 1, 2 ], 'had a secret, two sessions');
    is_deeply({ @{ $t->redis('HGETALL', okey(u => 'fo')) } },
              { phone => 'P', gen => 1 },
              'secret gone, phone kept, a new generation');
    is($t->redis('EXISTS', okey(e => 'fo', 'b1'), okey(e => 'fo', 'b2'),
                 okey(es => 'fo'), okey(s => 'fo', 'fo-1'),
                 okey(s => 'fo', 'fo-2'), okey(su => 'fo')), 0,
       'pending enrollments, their set, sessions and their set gone');

    is_deeply(forget('fo'), [ 'ok', 0, 0 ], 'again: nothing to forget');
    is($t->redis('HGET', okey(u => 'fo'), 'gen'), 2, 'generation moves on');

    # a record with nothing but the secret: the generation must survive
    $t->redis('HSET', okey(u => 'bare'), 'totp', 'S', 'alg', 'sha1',
              'digits', 6, 'period', 30);
    session('bare-1', 'bare');
    is_deeply(forget('bare'), [ 'ok', 1, 1 ], 'bare record');
    is($t->redis('HGET', okey(u => 'bare'), 'gen'), 1,
       'the record stays, with its generation');
};

case 'require_enroll' => sub {
    is_deeply(run('require_enroll', [ okey(u => 're') ]), ['ok'], 'ok');
    is($t->redis('HGET', okey(u => 're'), 'must_enroll'), 1, 'flag set');
    is_deeply(status('re'), [ 'ok', 0, 1, 0, 0, undef, 0, 0, [] ],
              'status shows it');
};

case 'set_phone' => sub {
    is_deeply(run('set_phone', [ okey(u => 'ph') ], "\0sealed\xff"), ['ok'],
              'ok');
    is($t->redis('HGET', okey(u => 'ph'), 'phone'), "\0sealed\xff",
       'stored as given, binary');
    like(run('set_phone', [ okey(u => 'ph') ], ''), qr/^-ERR set_phone/,
         'empty: error');
    is($t->redis('HGET', okey(u => 'ph'), 'phone'), "\0sealed\xff",
       'and nothing changed');
};

case 'enroll_confirm: the attempt that locks says so' => sub {
    my @k = (okey(e => 'lk', 'b1'), okey(es => 'lk'), okey(u => 'lk'),
             okey(f => 'lk'), okey(l => 'lk'), okey(t => 'lk'));
    run('enroll_begin', [ @k[0, 1] ], 'S', 'sha1', 6, 30, 600, 'totp', 5);
    my @r = map { run('enroll_confirm', \@k, 'lk', 'S', 'wrong', '', 3, 60,
                      120) } 1 .. 4;
    is_deeply(\@r, [ ['wrong'], ['wrong'], [ 'locked', 60, 1 ],
                     [ 'locked', 60 ] ],
              'wrong, wrong, locked by this one, locked');
    $t->redis('DEL', @k[0, 1]);
};

$t->stop;

done_testing();
