#!/usr/bin/perl

# SPEC 6.15: a pending enrollment belongs to the browser that started it.
# GET enroll showed the user's one pending secret to whoever opened the
# page: someone with the password who opened it first saw the secret the
# real user then enrolled, and kept a working second factor.  Now each
# browser has its own pending enrollment, named by its enroll cookie; a
# user has at most 5 pending (SPEC 6.17): past that a 429 for that user
# alone.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp cookie_value form_field);
use OtpHttp qw(hdr);
use OtpAttack qw(users);

my $t = OtpTest->new;

users($t, qw(alice bob));
$t->run_redis;
my $key = $t->write_site_conf;
$t->run_nginx;
$t->wait_redis_ready;

# the first browser opens enroll: someone who has alice's password
my $first = OtpFlow->new($t, user => 'alice');
my ($r1, $s1, $csrf1) = $first->enroll_page('/private/');
is($r1->{status}, 200, 'the first browser gets a setup page');
ok($s1, '... with a secret');

my $set = cookie_value($r1, 'otp_session_enroll');
ok(defined $set && $set =~ /^[A-Za-z0-9_-]{22}$/,
   '... and an enroll cookie of 16 random bytes');
my ($line) = grep { /^otp_session_enroll=/ }
             @{ ref $r1->{headers}{'set-cookie'}
                ? $r1->{headers}{'set-cookie'}
                : [ $r1->{headers}{'set-cookie'} // () ] };
like($line // '', qr/; Path=\/_otp\/(;|$)/, '... for the endpoint only');
like($line // '', qr/; Max-Age=900(;|$)/, '... as long as the enrollment');
like($line // '', qr/; HttpOnly/, '... HttpOnly');

# the real user, in a second browser
my $second = OtpFlow->new($t, user => 'alice');
my ($r2, $s2, $csrf2) = $second->enroll_page('/private/');
is($r2->{status}, 200, 'the second browser gets a setup page');
ok($s2 && $s2 ne $s1, 'with a secret of its own, not the first one\'s');

my (undef, $again) = $first->enroll_page('/private/');
is($again, $s1, 'a reload shows the browser its own secret again');

# the first browser's authenticator, submitted by the second browser
my $r = $second->post('enroll', {
    code => totp($s1), csrf => $csrf2, return => '/private/',
});
is($r->{status}, 401, 'a code of the first browser\'s secret fails in the '
                      . 'second');
is($t->redis('HEXISTS', okey('u', 'alice'), 'totp'), 0, '... nothing enrolled');

# and without any enroll cookie, neither
my $bare = OtpFlow->new($t, user => 'alice');
my (undef, undef, $csrf3) = $bare->enroll_page('/private/');
$bare->{enroll_cookie} = undef;
$r = $bare->post('enroll', {
    code => totp($s1), csrf => $csrf3, return => '/private/',
});
is($r->{status}, 401, 'nor from a browser without the cookie');

# the first browser's own confirmation works
$r = $first->post('enroll', {
    code => totp($s1), csrf => $csrf1, return => '/private/',
});
is($r->{status}, 200, 'the first browser confirms with its own secret');
is($t->redis('HEXISTS', okey('u', 'alice'), 'totp'), 1, '... enrolled');

my @left = grep { /:e(:|s$)/ } @{ $t->redis('KEYS', okey('*', 'alice')) };
is_deeply(\@left, [], 'every pending enrollment of alice is gone');

# SPEC 6.17: at most 5 pending enrollments per user
my @b = map { OtpFlow->new($t, user => 'bob') } 1 .. 6;
my @st = map { ($_->enroll_page('/private/'))[0]{status} } @b;
is_deeply([ @st[0 .. 4] ], [ (200) x 5 ], 'bob: 5 browsers enroll');
is($st[5], 429, 'the sixth gets 429');
my ($r6) = $b[5]->enroll_page('/private/');
ok(hdr($r6, 'retry-after'), '... with Retry-After');
is(($b[0]->enroll_page('/private/'))[0]{status}, 200,
   'a browser with a pending enrollment still sees its own');

for my $k (@{ $t->redis('KEYS', 'otp:*') }) {
    next if $k =~ /:u$|^otp:\{~\}:store$/;
    cmp_ok($t->redis('TTL', $k), '>', 0, "$k expires");
}

$t->stop;

done_testing;
