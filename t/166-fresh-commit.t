#!/usr/bin/perl

# New recovery codes and another phone number (SPEC 6.14, invariant 14):
# recovery_set.lua and sms_attempt.lua (on a challenge that changes the
# number) check the browser's session themselves, in the step that
# commits.  A session revoked, of an older generation, another user's,
# expired, made by an approval, or whose code is older than otp_fresh
# by then changes nothing (and counts nothing).  Against a real
# redis-server, the scripts as the module embeds them; then over HTTP,
# with the session revoked between the page's own check and the commit
# (a relay between nginx and Redis ends it as recovery_set.lua passes).

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpRelay;
use OtpFlow qw(form_field cookie_value);

my $t = OtpTest->new;
$t->run_redis;

my %sha = $t->load_scripts(qw(recovery_set sms_attempt));

my $now = time;
my %fresh = (u => 'alice', c => $now - 60, a => $now - 60, m => 'totp',
             g => 3, l => $now);
my @cases = (
    [ 'no session (revoked, signed out)', undef ],
    [ 'a session of an older generation', { %fresh, g => 2 } ],
    [ 'another user\'s session', { %fresh, u => 'bob' } ],
    [ 'a session past otp_session_ttl', { %fresh, c => $now - 50000 } ],
    [ 'a code older than otp_fresh', { %fresh, a => $now - 301 } ],
    [ 'a session an approval made', { %fresh, m => 'link' } ]);

my $ss = okey('s', 'alice', 'b' x 64);
my $u = okey('u', 'alice');

sub user_record { my %h = @{ $t->redis('HGETALL', $u) }; \%h }

sub session {
    my ($s, @keys) = @_;
    $t->redis('DEL', $ss);
    return unless $s;
    $t->redis('HSET', $ss, %$s);
    $t->redis('EXPIRE', $ss, 600);
    $t->redis('SADD', okey('su', 'alice'), $ss);
}

sub first { my ($r) = @_; ref $r ? $r->[0] : $r }

# ------------------------------------------------ recovery_set.lua

my @rk = ($u, okey('su', 'alice'), okey('d', 'alice'), $ss);
my $codes = ('a' x 64) . ('b' x 64);

sub recovery_set {
    my (%o) = @_;
    $t->redis('DEL', @rk);
    $t->redis('HSET', $u, gen => 3, totp => 'SEALED', rc => 'c' x 64);
    $t->redis('ZADD', $rk[2], $now + 600, 'dev');
    session($o{session});
    my $before = user_record();
    my $r = $t->redis('EVALSHA', $sha{recovery_set}, 4, @rk, $codes,
                      'alice', $now, $o{fresh} // 300, 43200);
    return (first($r), $before, user_record(),
            $t->redis('EXISTS', $rk[2]));
}

my ($st, $before, $after, $dev) = recovery_set(session => \%fresh);
is($st, 'ok', 'recovery_set, a fresh session of the user: new codes');
is($after->{rc}, $codes, '... stored');
is($dev, 0, '... the remembered browsers forgotten');

for my $case (@cases) {
    ($st, $before, $after, $dev) = recovery_set(session => $case->[1]);
    is($st, 'none', "recovery_set, $case->[0]: refused");
    is_deeply($after, $before, "... the user record unchanged");
    is($dev, 1, '... the remembered browsers kept');
}

($st, $before, $after) = recovery_set(fresh => '');
is($st, 'ok', 'recovery_set without otp_fresh checks no session');

for my $bad ('x', '-1') {
    my $err = eval { $t->redis('EVALSHA', $sha{recovery_set}, 4, @rk,
                               $codes, 'alice', $now, $bad, 43200) }
              // $@;
    like(ref $err ? '' : $err, qr/ERR recovery_set: bad arguments/,
         "recovery_set, otp_fresh \"$bad\": an error");
}
my $err = eval { $t->redis('EVALSHA', $sha{recovery_set}, 3, @rk[0 .. 2],
                           $codes, 'alice', $now, 300, 43200) } // $@;
like(ref $err ? '' : $err, qr/ERR recovery_set: bad arguments/,
     'recovery_set, otp_fresh but no session key: an error');

# ------------------------------------------------ sms_attempt.lua

my @sk = (okey('c', 'alice', 'ch1'), okey('f', 'alice'), okey('l', 'alice'),
          $u, okey('s', 'alice', 'e' x 64), okey('su', 'alice'),
          okey('d', 'alice'), okey('cl', 'alice'), $ss);

sub sms_attempt {
    my (%o) = @_;
    $t->redis('DEL', @sk);
    $t->redis('HSET', $u, gen => 3, totp => 'SEALED', phone => 'OLD');
    $t->redis('HSET', $sk[0], u => 'alice', a => 0, sh => 'H',
              se => $now + 300, pp => 'NEW', pm => $o{mode} // 'change');
    $t->redis('EXPIRE', $sk[0], 600);
    session($o{session});
    my $before = user_record();
    my $r = $t->redis('EVALSHA', $sha{sms_attempt}, 9, @sk, 'alice',
                      $o{result} // 'ok', $o{result} ? '' : 'H', $now, 3,
                      10, 900, 1800, 43200, '', '', 5,
                      exists $o{fresh} ? () : 300);
    return (first($r), $before, user_record(),
            $t->redis('HGET', $sk[0], 'a'), $t->redis('GET', $sk[1]) // 0);
}

my ($a, $f);
($st, $before, $after) = sms_attempt(session => \%fresh);
is($st, 'ok', 'sms_attempt, change, a fresh session: the number stored');
is($after->{phone}, 'NEW', '... the new number');

for my $case (@cases) {
    ($st, $before, $after, $a) = sms_attempt(session => $case->[1]);
    is($st, 'none', "sms_attempt, change, $case->[0]: refused");
    is_deeply($after, $before, '... the user record unchanged');
    is($a, 0, '... the challenge not consumed, no attempt counted');
    ($st, $before, $after, $a, $f) =
        sms_attempt(session => $case->[1], result => 'wrong');
    is_deeply([ $st, $a, $f ], [ 'none', 0, 0 ],
              '... a wrong code is not counted either');
}

($st) = sms_attempt(session => \%fresh, fresh => undef);
is($st, 'none', 'sms_attempt, change, no otp_fresh given: refused');

($st) = sms_attempt(mode => 'new', fresh => undef);
is($st, 'conflict', 'sms_attempt, "new" for a user with a factor: '
                    . 'the conflict, as before (no session asked for)');

$t->redis('DEL', $sk[0]);
$t->redis('HSET', $sk[0], u => 'alice', a => 0, sh => 'H',
          se => $now + 300);
my $x = $t->redis('EVALSHA', $sha{sms_attempt}, 9, @sk, 'alice', 'ok', 'H',
                  $now, 3, 10, 900, 1800, 43200, '', '', 5, 300);
is(first($x), 'ok', 'sms_attempt, a sign-in by text: no session needed');
$t->redis('FLUSHALL');

# ------------------------------------------------ over HTTP

# Alice behind a relay between nginx and Redis: when a client's bytes
# name recovery_set.lua, once armed, it first ends every session of alice
# (a new generation), then passes the bytes on.
my ($relay, $alice) = OtpRelay->alice_site($t, $sha{recovery_set});
my $r;

$r = $alice->get('/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 200, 'recovery page with a fresh code');
my $csrf = form_field($r->{content} // '', 'csrf');
my $rec = user_record();

$relay->arm;
$r = $alice->post('recovery', { csrf => $csrf, return => '/private/' });
ok(!-e $relay->trigger,
   'the session was revoked between check and commit');
isnt($r->{status}, 200, 'no new codes shown');
like($r->{headers}{location} // '', qr{/_otp/challenge},
     '... the browser goes to the challenge');
ok(!cookie_value($r, 'otp_session'), '... and gets no new session');
my $now_rec = user_record();
delete @$_{qw(gen)} for $rec, $now_rec;
is_deeply($now_rec, $rec, 'the recovery codes unchanged');

$relay->stop;
$t->stop;
done_testing;
