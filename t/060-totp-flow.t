#!/usr/bin/perl

# The happy paths of TOTP end to end, as a browser and an authenticator
# app see them: redirect to enrollment, the enrollment page (QR code,
# otpauth:// link, key to type), the first code, the session cookie and
# what it opens, sign-in with a code, sign-out, re-enrollment, the
# enrollment modes, the issuer, 8-digit / SHA-256 / SHA-512 policies,
# the module's variables and the headers of every page.  Codes come
# from oathtool, not from our own HOTP code.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site security_headers_ok wrong_code b32decode
                 pct_decode query_form);
use OtpHttp qw(hdr send_raw http_request);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %port = map { $_ => OtpTest::free_port() }
           qw(issuer sha256 sha512 off);

users($t, qw(alice bob carol dave erin frank gina hank ivan));
$t->private_site;

$t->run_redis;

my $vars = join "\n", map { "        add_header $_ always;" }
    'X-OTP-Status "$otp_status"', 'X-OTP-User "$otp_user"',
    'X-OTP-Method "$otp_method"', 'X-OTP-Age "$otp_session_age"';

my $common = <<'EOF';
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location /_otp/ {
            otp_endpoint;
        }
        location /private/ {
            otp on;
            alias %%DIR%%/site/;
%%VARS%%
        }
EOF
$common =~ s/%%VARS%%/$vars/;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));

    server {
        listen 127.0.0.1:%%PORT%%;
        server_name gate.example;
$common
        location /optional/ {
            otp on;
            otp_enroll optional;
            alias %%DIR%%/site/;
$vars
        }

        location /off/ {
            otp on;
            otp_enroll off;
            alias %%DIR%%/site/;
$vars
        }
    }

    server {
        listen 127.0.0.1:$port{issuer};
        otp_issuer "Acme & Co";
$common
    }

    server {
        listen 127.0.0.1:$port{sha256};
        otp_totp_digits 8;
        otp_totp_algorithm sha256;
        otp_totp_period 60s;
$common
    }

    server {
        listen 127.0.0.1:$port{sha512};
        otp_totp_algorithm sha512;
$common
    }

    server {
        listen 127.0.0.1:$port{off};
        otp_enroll off;
$common
    }
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my $origin = "http://127.0.0.1:$port";

# the otpauth:// URI of an enrollment page, and its parts
sub otpauth {
    my ($html) = @_;
    my ($href) = $html =~ /<a[^>]*\bhref="(otpauth:[^"]*)"/ or return;
    $href =~ s/&amp;/&/g;
    my ($type, $label, $q) = $href =~ m{^otpauth://([^/?]+)/([^?]*)\?(.*)$}
        or return { uri => $href };
    return {
        uri   => $href,
        type  => $type,
        label => pct_decode($label),
        query_form($q),
    };
}

# the base32 key shown in groups for typing in
sub grouped_key {
    my ($html) = @_;
    my ($g) = $html =~ /((?:[A-Z2-7]{4} ){3,}[A-Z2-7]{1,4})/ or return;
    (my $k = $g) =~ s/ //g;
    return ($g, $k);
}

sub r_param {
    my ($location) = @_;
    my ($r) = ($location // '') =~ /[?&]r=([^&]*)/ or return;
    return pct_decode($r);
}

# ---------------------------------------------------------------- gate

my $alice = OtpFlow->new($t, user => 'alice');

my $r = $t->get('/private/index.html');
is($r->{status}, 401, 'no first factor: 401');
unlike($r->{content}, qr/private page/, 'no content without first factor');

$r = $alice->get('/private/index.html?x=1');
is($r->{status}, 302, 'browser, unenrolled user: 302');
like($r->{headers}{location} // '', qr{^\Q$origin\E/_otp/enroll\?r=[^&]*$},
   'redirect to enroll');
is(r_param($r->{headers}{location}), '/private/index.html?x=1',
   'r= carries the original URI with its query');
is(hdr($r, 'x-otp-status'), 'challenged', '$otp_status challenged');
is(hdr($r, 'x-otp-user'), 'alice', '$otp_user on the redirect');
security_headers_ok($r, 'gate redirect');

$r = $alice->request('HEAD', '/private/index.html');
is($r->{status}, 302, 'HEAD is a browser request too');

$r = send_raw($port, http_request(port => $port, user => 'alice',
                                  path => '/private/index.html'));
is($r->{status}, 302, 'no Accept header: browser');

$r = $alice->get('/private/index.html',
                 headers => { Accept => 'application/json' });
is($r->{status}, 401, 'API request: 401');
like(hdr($r, 'www-authenticate') // '', qr/^OTP realm="gate\.example"$/,
     'WWW-Authenticate names the server as realm');
like($r->{content}, qr{^\{"error":"otp_required","challenge":"([^"]*)"\}\s*$},
     'JSON body with the enrollment URL');
my ($json_url) = $r->{content} =~ /"challenge":"([^"]*)"/;
like($json_url // '', qr{^/_otp/enroll\?r=}, 'challenge URL: the enroll page');
is(r_param($json_url), '/private/index.html', 'with the original URI');

$r = $alice->get('/private/index.html',
                 headers => { 'X-Requested-With' => 'XMLHttpRequest' });
is($r->{status}, 401, 'XHR: 401');

$r = $alice->request('POST', '/private/index.html', content => 'a=b');
is($r->{status}, 401, 'POST to a gated location: 401');

$r = $t->get('/_otp/challenge');
is($r->{status}, 401, 'the endpoint needs the first factor too');

# ---------------------------------------------------------- enrollment

$r = $alice->get('/_otp/enroll?r=%2Fprivate%2Findex.html%3Fx%3D1');
is($r->{status}, 200, 'enroll page');
like(hdr($r, 'content-type'), qr{^text/html}, 'enroll page is HTML');
security_headers_ok($r, 'enroll page');
my $page = $r->{content};

like($page, qr/<svg\b/, 'inline SVG QR code');
unlike($page, qr/<(?:img|script|link)\b[^>]*\b(?:src|href)="?https?:/i,
       'no external resources');

my $oa = otpauth($page);
ok($oa, 'otpauth:// link on the page') or diag($page);
$oa ||= {};
is($oa->{type}, 'totp', 'otpauth type totp');
is($oa->{label}, 'gate.example:alice', 'label issuer:account');
is($oa->{issuer}, 'gate.example', 'issuer defaults to the server name');
is($oa->{algorithm}, 'SHA1', 'algorithm=SHA1');
is($oa->{digits}, 6, 'digits=6');
is($oa->{period}, 30, 'period=30');
like($oa->{secret} // '', qr/^[A-Z2-7]{32}$/,
     'secret: 32 base32 characters (160 bits), no padding');
my $secret = $oa->{secret} // '';

my ($grouped, $typed) = grouped_key($page);
ok($grouped, "key shown in groups: " . ($grouped // 'none'));
is($typed, $secret, 'the grouped key is the secret of the URI');

my $qr = qr_text($page);
SKIP: {
    skip 'rsvg-convert or zbarimg missing', 1 unless defined $qr;
    is($qr, $oa->{uri}, 'the QR code scans to the link');
}

is(form_field($page, 'return'), '/private/index.html?x=1',
   'return field carries the original URI');
my $csrf = form_field($page, 'csrf');
ok($csrf, 'CSRF field on the enroll form');

$r = $alice->get('/_otp/enroll');
is((otpauth($r->{content}) || {})->{secret}, $secret,
   'a reload shows the same pending secret');

$r = $alice->post('enroll', { code => wrong_code($secret), csrf => $csrf,
                              return => '/private/index.html?x=1' });
is($r->{status}, 401, 'wrong first code: 401');
is(cookie_value($r, 'otp_session'), undef, 'no cookie for a wrong code');
is((otpauth($r->{content}) || {})->{secret}, $secret,
   'enrollment still pending with the same secret');
security_headers_ok($r, 'enroll 401');

$r = $alice->post('enroll', { code => totp($secret), csrf => $csrf,
                              return => '/private/index.html' });
is($r->{status}, 200, 'right first code: 200');
security_headers_ok($r, 'enroll done');
my @sc = ref $r->{headers}{'set-cookie'} ? @{ $r->{headers}{'set-cookie'} }
                                         : ($r->{headers}{'set-cookie'} // '');
my ($sc) = grep { /^otp_session=/ } @sc;
ok($sc, 'Set-Cookie otp_session') or diag(explain \@sc);
$sc //= '';
like($sc, qr/;\s*HttpOnly(;|$)/i, 'HttpOnly');
like($sc, qr/;\s*SameSite=Lax(;|$)/i, 'SameSite=Lax');
like($sc, qr/;\s*Path=\/(;|$)/, 'Path=/');
unlike($sc, qr/;\s*Secure/i, 'no Secure on http');
like($sc, qr/;\s*Max-Age=43200(;|$)/, 'Max-Age is otp_session_ttl');
my ($enroll_cookie) = $sc =~ /^otp_session=([^;]+)/;
like($enroll_cookie // '', qr/^[A-Za-z0-9._-]{60,}$/, 'cookie value shape');
like($r->{content}, qr{href="/private/index\.html"},
     'continue link back to the original URI');
$alice->set_cookie($enroll_cookie);
$alice->{secret} = $secret;

$r = $alice->get('/private/index.html');
is($r->{status}, 200, 'the session opens the gated location');
is($r->{content}, "private page\n", 'protected content served');
is(hdr($r, 'x-otp-status'), 'passed', '$otp_status passed');
is(hdr($r, 'x-otp-user'), 'alice', '$otp_user');
is(hdr($r, 'x-otp-method'), 'totp', '$otp_method totp');
like(hdr($r, 'x-otp-age') // '', qr/^[0-5]$/, '$otp_session_age: seconds');

sleep 1.1;
$r = $alice->get('/private/index.html');
cmp_ok(hdr($r, 'x-otp-age') // -1, '>=', 1, '$otp_session_age grows');

# ------------------------------------------------------------- sign-in

$alice->set_cookie(undef);
$r = $alice->get('/private/index.html');
is($r->{status}, 302, 'enrolled user without session: 302');
like($r->{headers}{location} // '', qr{^\Q$origin\E/_otp/challenge\?r=},
     'redirect to the challenge now');
is(r_param($r->{headers}{location}), '/private/index.html', 'r=');

my ($cp, $ccsrf) = $alice->challenge('%2Fprivate%2Findex.html%3Fy%3D2');
is($cp->{status}, 200, 'challenge page');
security_headers_ok($cp, 'challenge page');
my $html = $cp->{content};
like($html, qr/<form\b[^>]*\bmethod="post"[^>]*\baction="verify"/i,
     'form posts to verify');
like($ccsrf // '', qr/^[A-Za-z0-9_-]{22}\.1\.[A-Za-z0-9_-]+$/,
     'csrf field: challenge id and token');
is(form_field($html, 'return'), '/private/index.html?y=2', 'return field');
is(form_field($html, 'method'), 'totp', 'method field');
like($html, qr/<input\b(?=[^>]*\bname="code")
                        (?=[^>]*\bautocomplete="one-time-code")
                        (?=[^>]*\binputmode="numeric")[^>]*>/x,
     'code input: one-time-code, numeric');

# what the page says about the code: a label for the input, and no
# offer to switch to the method already in use
my ($label) = $html =~ /<label\b[^>]*\bfor="code"[^>]*>(.*?)<\/label>/s;
like($label // '', qr/\w/, 'the code input has a label with text')
    or diag('label: "' . ($label // 'none') . '"');
ok($html !~ /href="challenge\?method=totp/,
   'no link to switch to TOTP while on TOTP');

$r = $alice->verify(csrf => $ccsrf, return => '/private/index.html?y=2',
                    code => wrong_code($secret));
is($r->{status}, 401, 'wrong code: 401');
security_headers_ok($r, 'verify 401');
is($alice->cookie, undef, 'no cookie for a wrong code');
my $again = form_field($r->{content}, 'csrf');
like($again // '', qr/^\Q@{[substr($ccsrf, 0, 22)]}\E\./,
     'the page comes back with the same challenge');

$r = $alice->verify(csrf => $again, return => '/private/index.html?y=2',
                    time => time + 30);
is($r->{status}, 303, 'right code: 303');
is($r->{headers}{location}, "$origin/private/index.html?y=2",
   'to the original URI');
security_headers_ok($r, 'verify 303');
my $verify_cookie = $alice->cookie;
ok($verify_cookie, 'a session cookie');
isnt($verify_cookie, $enroll_cookie, 'a new session id after the code');

$r = $alice->get('/private/index.html');
is($r->{status}, 200, 'signed in');

# ------------------------------------------------------------ sign-out

$r = $alice->get('/_otp/logout');
is($r->{status}, 200, 'logout page');
security_headers_ok($r, 'logout page');
like($r->{content}, qr/<form\b[^>]*\bmethod="post"[^>]*\baction="logout"/i,
     'sign-out form');
my $lcsrf = form_field($r->{content}, 'csrf');
ok($lcsrf, 'logout CSRF');

$r = $alice->post('logout', { csrf => $lcsrf });
is($r->{status}, 303, 'POST logout: 303');
is($r->{headers}{location}, "$origin/", 'to /');
security_headers_ok($r, 'logout 303');
my ($clear) = grep { /^otp_session=/ }
    (ref $r->{headers}{'set-cookie'} ? @{ $r->{headers}{'set-cookie'} }
                                     : ($r->{headers}{'set-cookie'} // ''));
like($clear // '', qr/^otp_session=;.*Max-Age=0/, 'cookie cleared');

$r = $alice->get('/private/index.html');
is($r->{status}, 302, 'the signed-out session no longer opens the page');
unlike($r->{content}, qr/private page/, 'no content');

# ------------------------------------------------------- re-enrollment

# bob: enrolled, then someone with his password alone tries to set up
# a new authenticator
my $bob = OtpFlow->new($t, user => 'bob');
my ($bp, $bsecret, $bcsrf) = $bob->enroll_page('/');
my $bcode = totp($bsecret);
$r = $bob->post('enroll', { code => $bcode, csrf => $bcsrf });
is($r->{status}, 200, 'bob enrolled');
$bob->{secret} = $bsecret;
$bob->set_cookie(undef);

$r = $bob->get('/_otp/enroll?r=%2Fprivate%2F');
is($r->{status}, 302, 're-enroll without session: redirected');
like($r->{headers}{location} // '', qr{/_otp/challenge\?r=},
     'to the challenge');
like(r_param($r->{headers}{location}) // '', qr{^/_otp/enroll\?r=/private/$},
     'and back to enroll afterwards, keeping r=');
unlike($r->{content}, qr/otpauth:|<svg/, 'no new secret shown');

$r = $bob->post('enroll', { code => totp($bsecret, time => time + 30),
                            csrf => $bcsrf });
is($r->{status}, 302, 'POST enroll without session: redirected too');
is(cookie_value($r, 'otp_session'), undef, 'no session');
is($t->redis('EXISTS', okey('es', 'bob')), 0, 'no enrollment pending for bob');

$r = $bob->verify(time => time + 30);
is($r->{status}, 303, "bob's authenticator still works");

# carol: re-enrolls within her session
my $carol = OtpFlow->new($t, user => 'carol');
my $csecret = $carol->enroll;
my $sealed = $t->redis('HGET', okey('u', 'carol'), 'totp');
ok($carol->cookie, 'carol enrolled with a session');

$r = $carol->get('/_otp/enroll');
is($r->{status}, 200, 're-enroll with a session: enroll page');
my $coa = otpauth($r->{content}) || {};
ok($coa->{secret} && $coa->{secret} ne $csecret, 'a new secret');
my $ccsrf2 = form_field($r->{content}, 'csrf');
$r = $carol->post('enroll', {
    code => totp($coa->{secret} // 'A', time => time + 30),
    csrf => $ccsrf2 });
is($r->{status}, 200, 'new authenticator confirmed');
ok(cookie_value($r, 'otp_session'), 'with a session');
isnt($t->redis('HGET', okey('u', 'carol'), 'totp'), $sealed,
     'the stored secret was replaced');

# ------------------------------------------------------ enroll modes

my $dave = OtpFlow->new($t, user => 'dave');
$r = $dave->get('/optional/index.html');
is($r->{status}, 200, 'otp_enroll optional: unenrolled user passes');
is($r->{content}, "private page\n", 'content served');
is(hdr($r, 'x-otp-status'), 'bypassed', '$otp_status bypassed');
is(hdr($r, 'x-otp-method') // '', '', '$otp_method empty');

$alice->set_cookie(undef);
$r = $alice->get('/optional/index.html');
is($r->{status}, 302, 'otp_enroll optional: enrolled user is challenged');

my $erin = OtpFlow->new($t, user => 'erin');
$r = $erin->get('/off/index.html');
is($r->{status}, 403, 'otp_enroll off: unenrolled user denied');
unlike($r->{content}, qr/private page/, 'no content');
is(hdr($r, 'x-otp-status'), 'denied', '$otp_status denied');
security_headers_ok($r, '403 no factor');

my $frank = OtpFlow->new(site($t, $port{off}), user => 'frank');
$r = $frank->get('/private/index.html');
is($r->{status}, 403, 'otp_enroll off server: gate 403');
$r = $frank->get('/_otp/enroll');
is($r->{status}, 403, 'otp_enroll off: no enroll page');
unlike($r->{content}, qr/otpauth:/, 'no secret handed out');
$r = $frank->get('/_otp/challenge');
is($r->{status}, 403, 'otp_enroll off: challenge of an unenrolled user');

# ------------------------------------------------------------- issuer

my $gina = OtpFlow->new(site($t, $port{issuer}), user => 'gina');
$r = $gina->get('/_otp/enroll');
is($r->{status}, 200, 'enroll page with otp_issuer');
$oa = otpauth($r->{content}) || {};
is($oa->{issuer}, 'Acme & Co', 'issuer parameter');
is($oa->{label}, 'Acme & Co:gina', 'label');
like($oa->{uri} // '', qr{^otpauth://totp/Acme%20%26%20Co:gina\?},
     'label percent-encoded');
like($r->{content}, qr/Acme &amp; Co/, 'issuer shown, HTML-escaped');
unlike($r->{content}, qr/Acme & Co/, 'never raw');
$r = $gina->get('/private/', headers => { Accept => 'application/json' });
is(hdr($r, 'www-authenticate'), 'OTP realm="Acme & Co"', 'realm');

# ------------------------------------------------ other TOTP policies

for my $case (['sha256', 'SHA256', 8, 60, 52, 'hank'],
              ['sha512', 'SHA512', 6, 30, 103, 'ivan'])
{
    my ($name, $alg, $digits, $period, $b32len, $user) = @$case;
    my $f = OtpFlow->new(site($t, $port{$name}), user => $user);
    my %pol = (alg => $alg, digits => $digits, period => $period);

    $r = $f->get('/_otp/enroll');
    $oa = otpauth($r->{content}) || {};
    is($oa->{algorithm}, $alg, "$name: algorithm=$alg");
    is($oa->{digits}, $digits, "$name: digits=$digits");
    is($oa->{period}, $period, "$name: period=$period");
    like($oa->{secret} // '', qr/^[A-Z2-7]{$b32len}$/,
         "$name: secret of $b32len base32 characters");
    is(length(b32decode($oa->{secret} // '')), $name eq 'sha256' ? 32 : 64,
       "$name: secret length in bytes");
    my $s = $oa->{secret} // 'A';
    my $fc = form_field($r->{content}, 'csrf');

    # the SHA-1 code of the same secret must not do
    $r = $f->post('enroll', { code => totp($s, digits => $digits,
                                           period => $period),
                              csrf => $fc });
    is($r->{status}, 401, "$name: a SHA-1 code is refused");

    $r = $f->post('enroll', { code => totp($s, %pol), csrf => $fc });
    is($r->{status}, 200, "$name: oathtool's code confirms");
    $f->{secret} = $s;
    $f->set_cookie(undef);

    $r = $f->verify(%pol, time => time + $period);
    is($r->{status}, 303, "$name: sign-in with the next code");
}

$t->stop;

done_testing();

# ------------------------------------------------------------ helpers

# the text a QR scanner reads from the page's inline SVG, or undef
# without the tools
sub qr_text {
    my ($html) = @_;
    for my $tool (qw(rsvg-convert zbarimg)) {
        return undef unless grep { -x "$_/$tool" } split /:/, $ENV{PATH};
    }
    # the largest inline SVG: the page may have icons too
    my ($svg) = sort { length $b <=> length $a } $html =~ /(<svg\b.*?<\/svg>)/sg
        or return '';
    my $f = $t->write_file('qr.svg', $svg);
    my $png = $t->dir . '/qr.png';
    system('rsvg-convert', '-w', '400', '-b', 'white', '-o', $png, $f) == 0
        or return '';
    my $out = `zbarimg --raw -q $png 2>/dev/null`;
    chomp $out;
    return $out;
}
