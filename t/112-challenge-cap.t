#!/usr/bin/perl

# SPEC 6.17: no user can exhaust what every user needs.  Each GET
# challenge made one more challenge key that lived 10 minutes, with no
# bound: one signed-in user made thousands in seconds and filled a
# maxmemory Redis for everyone.  Now a user has at most 50 live
# challenges; the 51st page is a 429 with Retry-After, for that user
# only, and a code used frees its challenge at once.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow;
use OtpHttp qw(hdr);
use OtpAttack qw(users);

my $t = OtpTest->new;

users($t, qw(mallory alice));
$t->run_redis;
$t->write_site_conf;
$t->run_nginx;
$t->wait_redis_ready;

my $m = OtpFlow->new($t, user => 'mallory');
$m->enroll(return => '/private/');
my $a = OtpFlow->new($t, user => 'alice');
$a->enroll(return => '/private/');

my %status;
my $last;
for (1 .. 60) {
    $last = $m->get('/_otp/challenge?r=/private/');
    $status{ $last->{status} }++;
}
is($status{200}, 50, '50 challenge pages');
is($status{429}, 10, 'then 429');
my $retry = hdr($last, 'retry-after') // 0;
ok($retry > 500 && $retry <= 600, "... with Retry-After ($retry s)");
like($last->{content}, qr/Too many sign-in pages/, '... and says why');

my @keys = grep { /^otp:\{mallory\}:c:/ } @{ $t->redis('KEYS', 'otp:*') };
is(scalar @keys, 50, 'mallory holds 50 challenge keys, no more');

my ($page) = $a->challenge('/private/');
is($page->{status}, 200, 'alice is not held back');

# a code used frees its place for the next page: here one place is made
# by ending one challenge as its expiry would
$t->redis('DEL', okey('t', 'mallory'));
$t->redis('ZREMRANGEBYRANK', okey('cl', 'mallory'), 0, 0);
my ($p2, $c2) = $m->challenge('/private/');
is($p2->{status}, 200, 'a challenge ended: room for one page');
is($m->get('/_otp/challenge?r=/private/')->{status}, 429,
   '... one, the cap holds');
$m->set_cookie(undef);
my $r = $m->verify(csrf => $c2, time => time + 30);
is($r->{status}, 303, 'its code signs in');
($p2) = $m->challenge('/private/');
is($p2->{status}, 200, 'and frees its place at once');

$t->stop;

done_testing;
