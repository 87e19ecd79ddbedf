#!/usr/bin/perl

# link_decide.lua checks the phone's session itself, in the step that
# approves (SPEC 9.2, 6.14): a session revoked, of an older generation,
# another user's, expired, or whose code is older than otp_fresh
# between the page's session check and the answer approves nothing and
# counts nothing; nor does a session that an approval made (no code was
# typed on it).  Against a real redis-server, the script as the
# module embeds it.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;

my $t = OtpTest->new;
$t->run_redis;

my %sha = $t->load_scripts('link_decide');

my $now = time;
my $req = okey('lk', 'alice', 'a' x 64);
my $u = okey('u', 'alice');
my $s = okey('s', 'alice', 'b' x 64);

sub decide {
    my (%o) = @_;
    $t->redis('DEL', $req, okey('f', 'alice'));
    $t->redis('HSET', $req, u => 'alice', b => 'c' x 64, n => 47,
              a => '192.0.2.1', ua => '', c => $now, x => $now + 120,
              st => 'pending');
    $t->redis('EXPIRE', $req, 180);
    $t->redis('HSET', $u, gen => 3);
    $t->redis('DEL', $s);
    if ($o{session}) {
        $t->redis('HSET', $s, %{ $o{session} });
        $t->redis('EXPIRE', $s, 600);
    }
    my $r = $t->redis('EVALSHA', $sha{link_decide}, 5, $req, $u,
                      okey('f', 'alice'), okey('l', 'alice'), $s,
                      'alice', $now, $o{number} // 47, 10, 900,
                      43200, 300);
    return (ref $r ? $r->[0] : $r, $t->redis('HGET', $req, 'st'),
            $t->redis('GET', okey('f', 'alice')) // 0);
}

my %fresh = (u => 'alice', c => $now - 60, a => $now - 60, m => 'totp',
             g => 3, l => $now);

is_deeply([ decide(session => \%fresh) ], [ 'ok', 'approved', 0 ],
          'a fresh session of the user, the right number: approved');

for my $case (
    [ 'no session (revoked, logged out)', undef ],
    [ 'a session of an older generation', { %fresh, g => 2 } ],
    [ 'another user\'s session', { %fresh, u => 'bob' } ],
    [ 'a session past otp_session_ttl', { %fresh, c => $now - 50000 } ],
    [ 'a code older than otp_fresh', { %fresh, a => $now - 301 } ],
    [ 'a session an approval made', { %fresh, m => 'link' } ])
{
    is_deeply([ decide(session => $case->[1]) ], [ 'none', 'pending', 0 ],
              "$case->[0]: nothing approved");
    is_deeply([ decide(session => $case->[1], number => 11) ],
              [ 'none', 'pending', 0 ],
              "$case->[0]: a wrong number denies nothing, counts nothing");
}

is_deeply([ decide(session => \%fresh, number => 11) ],
          [ 'wrong', 'denied', 1 ],
          'a fresh session, a wrong number: denied and counted');

$t->stop;
done_testing;
