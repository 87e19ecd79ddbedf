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

use IO::Select;
use IO::Socket::INET;
use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

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

# A relay between nginx and Redis: when a client's bytes name
# enroll_begin.lua and the file "revoke" exists, it first ends every
# session of alice (a new generation), then passes the bytes on.
my $relay_port = OtpTest::free_port();
my $trigger = $t->dir . '/revoke';
my $redis_port = $t->redis_port;

my $relay = fork // die "fork: $!";
if (!$relay) {
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $relay_port, Listen => 16,
                                  ReuseAddr => 1) or exit 1;
    my $sel = IO::Select->new($l);
    my %peer;
    while (1) {
        for my $fh ($sel->can_read) {
            if ($fh == $l) {
                my $c = $l->accept or next;
                my $s = IO::Socket::INET->new("127.0.0.1:$redis_port")
                    or next;
                @peer{$c, $s} = ($s, $c);
                $sel->add($c, $s);
                next;
            }
            my $buf;
            my $n = sysread($fh, $buf, 65536);
            if (!$n) {
                my $o = delete $peer{$fh};
                delete $peer{$o} if $o;
                $sel->remove($fh, $o // ());
                close $fh;
                close $o if $o;
                next;
            }
            if (index($buf, $sha{enroll_begin}) >= 0 && -e $trigger) {
                unlink $trigger;
                $t->redis('HINCRBY', okey('u', 'alice'), 'gen', 1);
            }
            my $o = $peer{$fh} or next;
            syswrite($o, $buf);
        }
    }
}

users($t, qw(alice));
$t->private_site;
my $key = $t->secret_file;

my $conf = OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    redis   => 0,
    http    => "otp_redis 127.0.0.1:$relay_port;\notp_fresh 5m;\n"
               . "otp_session_recheck 0;",
    common  => OtpTest::site_locations(),
    servers => [['%%PORT%%', '']],
);
$t->write_conf($conf);
$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $alice = OtpFlow->new($t, user => 'alice');
my $secret = $alice->enroll;
my $r = $alice->verify(time => time + 30);

$r = $alice->get('/_otp/enroll?add=1&r=%2Fprivate%2F');
is($r->{status}, 200, 'enroll?add=1 with a fresh code: the page');
my ($new) = ($r->{content} // '') =~ /secret=([A-Z2-7]+)/;
my $csrf = form_field($r->{content} // '', 'csrf');
my $rec = user_record();

$t->write_file('revoke', '', 0644);
$r = $alice->post('enroll', { code => totp($new),
                              csrf => $csrf, add => 1, name => 'second',
                              return => '/private/' });
ok(!-e $trigger, 'the session was revoked between check and commit');
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

kill 'TERM', $relay;
waitpid $relay, 0;
$t->stop;
done_testing;
