#!/usr/bin/perl

# SPEC 6.9 and the logging rules of STYLE.md: after enrollment, sign-in
# with right and wrong codes, a lockout, refused forms and cookies and
# sign-out, neither the error log (at info) nor an access log of the
# module's variables holds a code that was typed, a secret (base32,
# hex, base64), a session cookie or any part of it, or a CSRF token.
# Wrong codes and lockouts are logged at otp_log_level, naming the
# user and the client.

use strict;
use warnings;

use MIME::Base64 qw(encode_base64);
use Test::More;

use OtpTest;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site wrong_code b32decode b64url_encode cookie_id);
use OtpHttp qw(send_raw http_request);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $warn = OtpTest::free_port();

users($t, qw(alice bob carol));
$t->private_site;

$t->run_redis;

my $server = <<'EOF';
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        access_log %%DIR%%/access.log otp;
        location /_otp/ {
            otp_endpoint;
        }
        location /private/ {
            otp on;
            alias %%DIR%%/site/;
        }
EOF

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    log_format otp '\$remote_addr "\$request" \$status \$otp_user '
                   '\$otp_status \$otp_method \$otp_session_age '
                   '"\$http_referer"';

    server {
        listen 127.0.0.1:%%PORT%%;
$server
    }

    server {
        listen 127.0.0.1:$warn;
        otp_log_level warn;
        otp_lockout 3 1m;
$server
    }
EOF

$t->run_nginx;
$t->wait_redis_ready;

my (@codes, @secrets, @cookies, @csrf);

sub keep_cookie {
    my ($f, $r) = @_;
    my $c = cookie_value($r, 'otp_session');
    push @cookies, $c if $c;
    push @cookies, $f->cookie if $f->cookie;
}

sub csrf_of {
    my ($r) = @_;
    my $c = form_field($r->{content}, 'csrf');
    push @csrf, $c if $c;
    return $c;
}

# ------------------------------------------------------------- flows

for my $u ([ 'alice', undef ], [ 'bob', $warn ]) {
    my ($user, $port) = @$u;
    my $f = OtpFlow->new($port ? site($t, $port) : $t, user => $user);

    my ($r, $secret, $csrf) = $f->enroll_page('/private/');
    push @secrets, $secret;
    push @csrf, $csrf;

    my $w = wrong_code($secret);
    push @codes, $w;
    $r = $f->post('enroll', { code => $w, csrf => $csrf });
    is($r->{status}, 401, "$user: wrong setup code");
    csrf_of($r);

    my $c = totp($secret);
    push @codes, $c;
    $r = $f->post('enroll', { code => $c, csrf => $csrf });
    is($r->{status}, 200, "$user: enrolled");
    keep_cookie($f, $r);
    $f->set_cookie(cookie_value($r, 'otp_session'));
    $f->{secret} = $secret;

    is($f->get('/private/index.html')->{status}, 200, "$user: signed in");

    $f->set_cookie(undef);
    ($r, $csrf) = $f->challenge('%2Fprivate%2F');
    push @csrf, $csrf;
    $w = wrong_code($secret);
    push @codes, $w;
    $r = $f->verify(csrf => $csrf, code => $w);
    is($r->{status}, 401, "$user: wrong code");
    $csrf = csrf_of($r);

    $c = totp($secret, time => time + 30);
    push @codes, $c;
    $r = $f->verify(csrf => $csrf, code => $c);
    is($r->{status}, 303, "$user: right code");
    keep_cookie($f, $r);

    # a refused form and a forged cookie
    $r = $f->verify(csrf => $csrf . 'x', code => $c);
    is($r->{status}, 403, "$user: bad CSRF refused");
    my $forged = $f->cookie;
    substr($forged, 10, 1) = substr($forged, 10, 1) eq 'A' ? 'B' : 'A';
    push @cookies, $forged;
    my $g = send_raw($port // $t->port, http_request(
        port => $port // $t->port, user => $user,
        path => '/private/index.html', cookie => "otp_session=$forged"));
    is($g->{status}, 302, "$user: forged cookie refused");

    $r = $f->get('/_otp/logout');
    my $lc = csrf_of($r);
    $r = $f->post('logout', { csrf => $lc });
    is($r->{status}, 303, "$user: signed out");
}

# bob's wrong codes until he is locked (lockout 3)
my $bob = OtpFlow->new(site($t, $warn), user => 'bob');
my @st;
for (1 .. 3) {
    my ($cp, $bc) = $bob->challenge;
    push @csrf, $bc;
    my $w = wrong_code($secrets[1]);
    push @codes, $w;
    push @st, $bob->verify(csrf => $bc, code => $w)->{status};
}
is("@st", '401 401 429', 'bob: locked at the third wrong code');

# a code with the exotic characters a form allows
my $carol = OtpFlow->new($t, user => 'carol');
my ($ep, $cs, $cc) = $carol->enroll_page('/');
push @secrets, $cs;
push @csrf, $cc;
push @codes, '12-34 56';
$carol->post('enroll', { code => '12-34 56', csrf => $cc });

$t->stop_nginx;

# ------------------------------------------------------------ the logs

my $log = $t->error_log;
my $access = $t->read_file('access.log');
ok(length $log, 'there is an error log');
ok(length $access, 'there is an access log');

my %needles;
for my $c (@codes) {
    (my $digits = $c) =~ s/\D//g;
    $needles{"code $c"} = qr/(?<!\d)\Q$digits\E(?!\d)/;
}
for my $s (@secrets) {
    my $raw = b32decode($s);
    (my $grouped = $s) =~ s/(.{4})(?=.)/$1 /g;
    $needles{"secret $s"} = qr/\Q$s\E/i;
    $needles{"secret grouped $s"} = qr/\Q$grouped\E/i;
    my $hex = unpack 'H*', $raw;
    (my $b64 = encode_base64($raw, '')) =~ s/=+$//;
    my $b64u = b64url_encode($raw);
    $needles{"secret hex $s"} = qr/\Q$hex\E/i;
    $needles{"secret base64 $s"} = qr/\Q$b64\E/;
    $needles{"secret base64url $s"} = qr/\Q$b64u\E/;
}
for my $c (@cookies) {
    my (undef, $id, $mac) = split /\./, $c;
    $needles{"cookie $c"} = qr/\Q$c\E/;
    $needles{"cookie id $id"} = qr/\Q$id\E/;
    $needles{"cookie MAC $mac"} = qr/\Q$mac\E/;
    my $idhex = unpack 'H*', cookie_id($c);
    $needles{"cookie id hex $id"} = qr/\Q$idhex\E/i;
}
for my $c (@csrf) {
    my ($token) = $c =~ /(1\.[A-Za-z0-9_-]+)$/;
    $needles{"csrf $c"} = qr/\Q$c\E/;
    $needles{"csrf token $token"} = qr/\Q$token\E/;
    if ($c =~ /^([A-Za-z0-9_-]{22})\./) {
        $needles{"challenge id $1"} = qr/\Q$1\E/;
    }
}

diag(sprintf '%d codes, %d secrets, %d cookies, %d CSRF tokens looked for',
     scalar @codes, scalar @secrets, scalar @cookies, scalar @csrf);

my @in_error = grep { $log =~ $needles{$_} } sort keys %needles;
is("@in_error", '', 'nothing secret in the error log');
my @in_access = grep { $access =~ $needles{$_} } sort keys %needles;
is("@in_access", '', 'nothing secret in the access log');

# ------------------------------------------------ what is logged, how

my $client = qr/client: 127\.0\.0\.1/;

like($log, qr/\[info\] [^\n]*otp: user "alice": wrong code[^\n]*$client/,
     'wrong code at info (the default), with user and client');
like($log, qr/\[info\] [^\n]*otp: user "alice": wrong setup code/,
     'wrong setup code at info');
like($log, qr/\[warn\] [^\n]*otp: user "bob": wrong code[^\n]*$client/,
     'otp_log_level warn: wrong code at warn');
like($log, qr/\[warn\] [^\n]*otp: user "bob": wrong setup code/,
     'otp_log_level warn: wrong setup code at warn');
like($log, qr/\[warn\] [^\n]*otp: user "bob": [^\n]*locked/,
     'otp_log_level warn: the lockout at warn');
unlike($log, qr/\[info\] [^\n]*otp: user "bob": wrong/,
       'and not at info as well');
like($access, qr/ 200 alice passed totp \d+ /,
     'access log: $otp_user $otp_status $otp_method $otp_session_age');

$t->stop;

done_testing();
