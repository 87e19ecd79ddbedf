#!/usr/bin/perl

# A new authenticator for an enrolled user (SPEC 6.14, invariant 14):
# enroll_confirm.lua checks the browser's session itself, in the step
# that commits.  A session revoked, of an older generation, another
# user's, expired, made by an approval, or whose code is older than
# otp_fresh by then changes nothing and counts nothing.  Against a real
# redis-server, the script as the module embeds it; then over HTTP, with
# the session revoked between the page's own check and the commit (a
# relay between nginx and Redis ends it as enroll_begin.lua passes).

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpRelay;
use OtpFlow qw(totp form_field cookie_value);

my $t = OtpTest->new;
$t->run_redis;

my %sha = $t->load_scripts(qw(enroll_begin enroll_confirm));

# ------------------------------------------------ the script alone

my $now = time;
my @k = (okey('e', 'alice', 'a' x 64), okey('es', 'alice'),
         okey('u', 'alice'), okey('f', 'alice'), okey('l', 'alice'),
         okey('t', 'alice'), okey('d', 'alice'), okey('su', 'alice'),
         okey('s', 'alice', 'b' x 64));
my %fresh = (u => 'alice', c => $now - 60, a => $now - 60, m => 'totp',
             g => 3, l => $now);

sub user_record { my %h = @{ $t->redis('HGETALL', $k[2]) }; \%h }

# one confirm of a pending "add" with a right code; the reply, whether
# the enrollment is still pending, the user record, the failures
sub confirm {
    my (%o) = @_;
    $t->redis('DEL', @k);
    $t->redis('HSET', $k[2], gen => 3, secret => 'OLD', alg => 'sha1',
              digits => 6, period => 30);
    $t->redis('EVALSHA', $sha{enroll_begin}, 2, @k[0, 1], 'NEW', 'sha1',
              6, 30, 600, 'totp', 5);
    if ($o{session}) {
        $t->redis('HSET', $k[8], %{ $o{session} });
        $t->redis('EXPIRE', $k[8], 600);
        $t->redis('SADD', $k[7], $k[8]);
    }
    my $before = user_record();
    my $r = $t->redis('EVALSHA', $sha{enroll_confirm}, 9, @k,
                      'alice', 'NEW', $o{result} // 'ok', $now, 10, 900,
                      120, '', '', 'add', 'phone', $now, 5,
                      $o{fresh} // 300, 43200);
    return (ref $r ? $r->[0] : $r, $t->redis('EXISTS', $k[0]),
            $before, user_record(), $t->redis('GET', $k[3]) // 0);
}

my ($st, $pending, $before, $after) = confirm(session => \%fresh);
is($st, 'ok', 'a fresh session of the user: the authenticator added');
is($pending, 0, '... the enrollment no longer pending');
isnt(scalar keys %$after, scalar keys %$before, '... the record changed');

for my $case (
    [ 'no session (revoked, signed out)', undef ],
    [ 'a session of an older generation', { %fresh, g => 2 } ],
    [ 'another user\'s session', { %fresh, u => 'bob' } ],
    [ 'a session past otp_session_ttl', { %fresh, c => $now - 50000 } ],
    [ 'a code older than otp_fresh', { %fresh, a => $now - 301 } ],
    [ 'a session an approval made', { %fresh, m => 'link' } ])
{
    my ($st, $pending, $before, $after, $f) =
        confirm(session => $case->[1]);
    is($st, 'none', "$case->[0]: refused");
    is($pending, 1, "$case->[0]: the enrollment still pending");
    is_deeply($after, $before, "$case->[0]: the user record unchanged");
    ($st, $pending, $before, $after, $f) =
        confirm(session => $case->[1], result => 'wrong');
    is_deeply([ $st, $f ], [ 'none', 0 ],
              "$case->[0]: a wrong code is not counted either");
}

($st) = confirm(fresh => '');
is($st, 'ok', 'a first enrollment (no otp_fresh given) needs no session');

my $err = eval { $t->redis('EVALSHA', $sha{enroll_confirm}, 9, @k,
                           'alice', 'NEW', 'ok', $now, 10, 900, 120, '',
                           '', 'add', 'phone', $now, 5, 'x', 43200) } // $@;
like(ref $err ? '' : $err, qr/ERR enroll_confirm: bad arguments/,
     'a bad otp_fresh argument: an error');
$t->redis('DEL', @k);

# ------------------------------------------------ over HTTP

# Alice behind a relay between nginx and Redis: when a client's bytes
# name enroll_begin.lua, once armed, it first ends every session of alice
# (a new generation), then passes the bytes on.
my ($relay, $alice) = OtpRelay->alice_site($t, $sha{enroll_begin});
my $r;

$r = $alice->get('/_otp/enroll?add=1&r=%2Fprivate%2F');
is($r->{status}, 200, 'enroll?add=1 with a fresh code: the page');
my ($new) = ($r->{content} // '') =~ /secret=([A-Z2-7]+)/;
my $csrf = form_field($r->{content} // '', 'csrf');
my $rec = user_record();

$relay->arm;
$r = $alice->post('enroll', { code => totp($new),
                              csrf => $csrf, add => 1, name => 'second',
                              return => '/private/' });
ok(!-e $relay->trigger,
   'the session was revoked between check and commit');
isnt($r->{status}, 200, 'the new authenticator is not confirmed');
like($r->{headers}{location} // '', qr{/_otp/challenge},
     '... the browser goes to the challenge');
ok(!cookie_value($r, 'otp_session'), '... and gets no new session');
my $now_rec = user_record();
delete @$_{qw(gen)} for $rec, $now_rec;
is_deeply($now_rec, $rec, 'the user\'s authenticators unchanged');
is($t->redis('SCARD', okey('es', 'alice')), 1,
   'the enrollment is still pending');
is($t->redis('GET', okey('f', 'alice')) // 0, 0, 'no failure counted');

$relay->stop;
$t->stop;
done_testing;
