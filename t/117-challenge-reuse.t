#!/usr/bin/perl

# SPEC 6.17: a browser's live challenge is shown again.  Every load of
# GET challenge made one more key that lived 10 minutes (up to the cap
# of 50 a user).  Now the challenge cookie (<otp_cookie name>_challenge,
# signed, bound to the user) names the browser's challenge, and the
# page's one trip shows it again while it is the user's, not burnt and
# lives 2 minutes more; else a new one.  Only the browser that holds the
# cookie gets it.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp cookie_value form_field);
use OtpAttack qw(users wrong_code);

my $t = OtpTest->new;

users($t, qw(alice bob));
$t->run_redis;
$t->write_site_conf(http => 'otp_max_attempts 3;');
$t->run_nginx;
$t->wait_redis_ready;

my $alice = OtpFlow->new($t, user => 'alice');
my $secret = $alice->enroll(return => '/private/');
my $bob = OtpFlow->new($t, user => 'bob');
$bob->enroll(return => '/private/');
$alice->set_cookie(undef);
$bob->set_cookie(undef);

sub challenges {
    my ($user) = @_;
    return grep { /:c:/ } @{ $t->redis('KEYS', okey('c', $user, '*')) };
}

# a browser: its own challenge cookie, kept as a browser keeps it
sub browser {
    my ($f) = @_;
    my $jar;
    return sub {
        my $r = $f->get('/_otp/challenge?r=/private/',
                        headers => { defined $jar
                                     ? (Cookie => "otp_session_challenge=$jar")
                                     : () });
        my $c = cookie_value($r, 'otp_session_challenge');
        $jar = $c if defined $c && length $c;
        my $csrf = form_field($r->{content}, 'csrf');
        my ($id) = ($csrf // '') =~ /^([A-Za-z0-9_-]{22})\./;
        return ($r, $id, $csrf, $jar);
    };
}

sub scripts_run {
    my $info = $t->redis('INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return $n;
}

my $a1 = browser($alice);
my ($r, $id, undef, $jar) = $a1->();
is($r->{status}, 200, 'the challenge page');
ok($id, "... for challenge $id");
my $line = join "\n", grep { /^otp_session_challenge=/ }
    @{ ref $r->{headers}{'set-cookie'} ? $r->{headers}{'set-cookie'}
                                       : [ $r->{headers}{'set-cookie'} ] };
like($line, qr/; Path=\/_otp\/(;|$)/m, '... a cookie for the endpoint');
like($line, qr/; HttpOnly/, '... HttpOnly');
like($line, qr/; Max-Age=600(;|$)/m, '... as long as the challenge');

$t->redis('CONFIG', 'RESETSTAT');
my %ids = ($id => 1);
my $set = 0;
for (1 .. 20) {
    my ($r2, $id2) = $a1->();
    $ids{$id2 // 'none'}++;
    $set++ if defined cookie_value($r2, 'otp_session_challenge');
    is($r2->{status}, 200, "reload $_: 200") unless $r2->{status} == 200;
}
is(scripts_run(), 20, '20 reloads: one round trip each');
is_deeply([ keys %ids ], [ $id ], '... all show the same challenge');
is($set, 0, '... and set no cookie again');
is(scalar challenges('alice'), 1, 'one challenge key in Redis');
is($t->redis('ZCARD', okey('cl', 'alice')), 1, '... one live challenge');

# the same user in another browser: its own
my $a2 = browser($alice);
my (undef, $other) = $a2->();
isnt($other, $id, 'another browser of alice gets its own challenge');
is(scalar challenges('alice'), 2, '... two keys');

# bob's browser with alice's cookie: not hers
my $b = OtpFlow->new($t, user => 'bob');
$r = $b->get('/_otp/challenge?r=/private/',
             headers => { Cookie => "otp_session_challenge=$jar" });
my ($bid) = (form_field($r->{content}, 'csrf') // '') =~ /^([^.]+)\./;
is($r->{status}, 200, "bob, sending alice's challenge cookie: a page");
isnt($bid, $id, '... with a challenge of his own');

# a forged cookie: not reused
(my $forged = $jar) =~ s/.$/$& eq 'A' ? 'B' : 'A'/e;
$r = $alice->get('/_otp/challenge?r=/private/',
                 headers => { Cookie => "otp_session_challenge=$forged" });
my ($fid) = (form_field($r->{content}, 'csrf') // '') =~ /^([^.]+)\./;
isnt($fid, $id, 'an altered cookie: a new challenge');

# the code works on the challenge shown again
my (undef, $sid, $csrf) = $a1->();
is($sid, $id, 'shown again ...');
$r = $alice->verify(csrf => $csrf, time => time + 30, return => '/private/');
is($r->{status}, 303, '... a right code on it signs in');
$alice->set_cookie(undef);

my (undef, $after) = $a1->();
isnt($after, $id, 'used up: the next page makes a new one');

# burnt: 3 wrong codes (otp_max_attempts 3), then a new one
my ($p, $burn, $bcsrf) = $a1->();
is($burn, $after, '... shown again until then');
for (1 .. 3) {
    $alice->verify(csrf => $bcsrf, code => wrong_code($secret),
                   return => '/private/');
}
my (undef, $new) = $a1->();
isnt($new, $burn, 'a burnt challenge: a new one');

# expired, or too little life left: a new one
$t->redis('EXPIRE', okey('c', 'alice', $new), 60);
my (undef, $late) = $a1->();
isnt($late, $new, 'one with a minute left: a new one');
$t->redis('DEL', okey('c', 'alice', $late));
my (undef, $gone) = $a1->();
isnt($gone, $late, 'an expired one: a new one');

# the challenge page stays one round trip, new or shown again
$t->redis('CONFIG', 'RESETSTAT');
$a2->();
is(scripts_run(), 1, 'the challenge page: one round trip');

$t->stop;

done_testing;
