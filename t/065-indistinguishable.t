#!/usr/bin/perl

# SPEC 6.10: POST verify gives the same answer, and takes about the
# same time, for an unknown user, a user without a factor, a wrong code
# and a reused code.
#
# A form needs a challenge, and challenges are only handed to enrolled
# users; so each user gets a challenge while enrolled, and then becomes
# what is compared: "unknown" has every key deleted (as if an admin had
# removed the user), "unenrolled" has the factor deleted and a new
# enrollment pending.  The names have the same length; bodies are
# compared with the CSRF field and the name blanked out.

use strict;
use warnings;

use List::Util qw(shuffle max min);
use Test::More;
use Time::HiRes qw(time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field);
use OtpAttack qw(users wrong_code median);
use OtpHttp qw(http_request worker_conns exchange hdr header_values);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %who = (wrong => 'userA', reused => 'userB', unknown => 'userC',
           unenrolled => 'userD', format => 'userE');
users($t, values %who);

$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    otp_lockout 1000 1m;
    otp_max_attempts 100;

    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location = /_pid {
            auth_basic off;
            return 200 "\$pid";
        }
        location /_otp/ {
            otp_endpoint;
        }
    }
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my (%flow, %csrf, %code);

for my $class (keys %who) {
    my $f = OtpFlow->new($t, user => $who{$class});
    $f->enroll;
    $f->set_cookie(undef);
    $flow{$class} = $f;
    (undef, $csrf{$class}) = $f->challenge;
    $code{$class} = wrong_code($f->secret);
}

# reused: the code of the step just accepted
my $k = totp($flow{reused}->secret, time => time + 30);
is($flow{reused}->verify(code => $k)->{status}, 303,
   'reused: the code signs in once');
$code{reused} = $k;

# unknown: nothing of the user left but the challenge
for my $kind (qw(u t f l e su)) {
    $t->redis('DEL', "otp:$kind:userC");
}
$code{unknown} = $code{wrong};

# unenrolled: no factor, an enrollment pending
$t->redis('DEL', okey('u', 'userD'));
is($flow{unenrolled}->get('/_otp/enroll')->{status}, 200,
   'unenrolled: enrollment pending');
my ($pending) = @{ $t->redis('SMEMBERS', okey('es', 'userD')) };
ok($pending && $t->redis('EXISTS', $pending), 'pending enrollment in Redis');
$code{unenrolled} = $code{wrong};

my @classes = qw(wrong reused unknown unenrolled);

sub req {
    my ($class, $code) = @_;
    return http_request(
        port => $port, method => 'POST', path => '/_otp/verify',
        user => $who{$class}, keepalive => 1,
        headers => [[Accept => 'text/html']],
        form => { csrf => $csrf{$class}, code => $code // $code{$class},
                  return => '/x' });
}

sub normal {
    my ($res, $class) = @_;
    my $b = $res->{body};
    $b =~ s/\Q$who{$class}\E/USER/g;
    $b =~ s/(name="csrf"[^>]*value=")[^"]*"/$1CSRF"/g;
    $b =~ s/(value=")[A-Za-z0-9_-]{22}\.1\.[A-Za-z0-9_-]+"/$1CSRF"/g;
    my %h = %{ $res->{headers} };
    delete @h{qw(date connection)};
    my $heads = join "\n", map { "$_: " . join(' ', header_values($res, $_)) }
                     sort keys %h;
    return "$res->{status}\n$heads\n\n$b";
}

my ($s) = @{ (values %{ worker_conns($port, workers => 1,
                                     per_worker => 1) })[0] };

my (%first, %times);
for my $round (1 .. 25) {
    for my $class (shuffle @classes) {
        my $t0 = time;
        my $res = exchange($s, req($class));
        push @{ $times{$class} }, time - $t0;
        $first{$class} //= $res;
    }
}

for my $class (@classes) {
    is($first{$class}{status}, 401, "$class: 401");
}

my $ref = normal($first{wrong}, 'wrong');
like($ref, qr/name="code"/, 'the answer is the challenge page again');
for my $class (qw(reused unknown unenrolled)) {
    my $n = normal($first{$class}, $class);
    is($n, $ref, "$class: the same headers and body as a wrong code")
        or diag("--- wrong\n$ref\n--- $class\n$n");
}

my %med = map { ($_ => median(@{ $times{$_} })) } @classes;
diag(sprintf 'median ms: %s',
     join ', ', map { sprintf '%s %.2f', $_, 1000 * $med{$_} } @classes);
my ($lo, $hi) = (min(values %med), max(values %med));
cmp_ok($hi / $lo, '<=', 3, 'medians within a factor of 3');

# malformed codes: the same generic answer
my $fs = exchange($s, req('format'));
my $fref = normal($fs, 'format');
is($fs->{status}, 401, 'format: a wrong code, 401');
for my $c ('', '12345', '1234567', 'abcdef', '12345678901234567890',
           "12\xff456")
{
    my $res = exchange($s, req('format', $c));
    (my $show = $c) =~ s/([^\x21-\x7e])/sprintf '\\x%02x', ord $1/ge;
    is(normal($res, 'format'), $fref,
       "code '$show': the same answer as a wrong code");
}

close $s;

$t->stop;

done_testing();
