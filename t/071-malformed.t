#!/usr/bin/perl

# Security invariant 12: malformed input gets a 4xx (or, for a client
# that stalls, a closed connection), never a 5xx other than 503 while
# Redis is down, never a pass, never a crash.  Form bodies (size, framing,
# escapes, NULs, repeats, content types, encodings, slow senders),
# cookies, query strings, user names from headers, GET with a body.
#
# The workers must be the same processes at the end as at the start:
# a crashed worker is replaced by the master, so its PID would change.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use IO::Socket::INET;
use MIME::Base64 qw(encode_base64);
use OtpTest;
use OtpFlow qw(basic_auth);
use OtpBypass qw(SECRET);
use OtpHttp qw(http_request send_raw hdr);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $d = $t->dir;

$t->write_file('htpasswd', "alice:{PLAIN}alice\nbob:{PLAIN}bob\n", 0644);
mkdir "$d/site";
mkdir "$d/site/private";
$t->write_file('site/private/secret.html', SECRET . "\n", 0644);

$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));

    client_header_timeout 2s;
    client_body_timeout 2s;
    # big enough that large cookies and query strings reach the module
    large_client_header_buffers 4 64k;

    otp_max_attempts 100;
    otp_lockout 1000 15m;

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/site;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ { otp_endpoint; }
        location /private/ { otp on; }

        location /hdr/ {
            auth_basic off;
            otp on;
            otp_user \$http_x_user;
            alias %%DIR%%/site/private/;
        }
    }
EOF

$t->run_nginx;
$t->wait_redis_ready or BAIL_OUT('the workers did not reach Redis');

my @workers = $t->worker_pids;
ok(@workers >= 1, 'workers running: ' . join(' ', @workers));

# alice is enrolled (her session is kept apart, for the cookie tests);
# bob is half-way through enrolling

my $alice = OtpFlow->new($t, user => 'alice', password => 'alice');
$alice->enroll;
my $session = $alice->cookie;
ok($session, 'alice has a session cookie');

my (undef, $verify_csrf) = $alice->challenge;
ok($verify_csrf, 'a CSRF token for verify');

my $bob = OtpFlow->new($t, user => 'bob', password => 'bob');
my (undef, undef, $enroll_csrf) = $bob->enroll_page;
ok($enroll_csrf, 'a CSRF token for enroll');

my $form = 'application/x-www-form-urlencoded';

# All statuses of all responses in a raw answer.
sub statuses {
    my ($raw) = @_;
    return $raw =~ m{(?:^|\r\n)HTTP/1\.[01] (\d{3}) }g;
}

# The answer is 4xx (only), or the connection was closed without one
# when close => 1; 5xx is never right here, 200 never either.
sub refused {
    my ($res, $name, %o) = @_;
    my @st = statuses($res->{raw});
    my $allow = $o{allow} || qr/^4\d\d$/;
    if (@st) {
        my @bad = grep { $_ !~ $allow } @st;
        ok(!@bad, "$name: refused (@st)");
    } else {
        ok($o{close} && ($res->{closed} || $res->{broken}),
           "$name: closed without an answer");
    }
    unlike($res->{raw}, qr/\Q${\ SECRET}\E/, "$name: nothing protected");
    unlike(hdr($res, 'set-cookie') // '', qr/otp_session=[^;]/,
           "$name: no session cookie");
    return @st;
}

sub post {
    my ($action, $body, %o) = @_;
    my @h;
    push @h, ['Content-Type', $o{type} // $form] unless $o{no_type};
    push @h, ['Content-Length', $o{length} // length $body]
        unless $o{no_length};
    push @h, @{ $o{headers} || [] };
    my $req = http_request(method => 'POST', path => "/_otp/$action",
                      user => $o{user} // 'alice', headers => \@h);
    return send_raw($t, $req . $body, %{ $o{send} || {} }) unless $o{parts};
    return send_raw($t, undef, parts => [$req, @{ $o{parts} }],
                    %{ $o{send} || {} });
}

sub chunked {
    my ($body, $size) = @_;
    my $out = '';
    while (length $body) {
        my $c = substr($body, 0, $size || 4096, '');
        $out .= sprintf("%x\r\n%s\r\n", length $c, $c);
    }
    return "${out}0\r\n\r\n";
}

sub gated {
    my ($path, %o) = @_;
    return send_raw($t, http_request(path => $path,
                                     user => $o{user} // 'alice',
                                     headers => $o{headers} || [],
                                     %{ $o{request} || {} }),
                    %{ $o{send} || {} });
}

my @actions = qw(verify enroll logout);

# ---------------------------------------------------------- body size

my $mb = 'a' x (1024 * 1024);

for my $action (@actions) {
    refused(post($action, "code=1&$mb"), "$action: 1 MB body",
            allow => qr/^413$/, close => 1);
    refused(post($action, '', no_length => 1,
                 headers => [['Transfer-Encoding', 'chunked']],
                 parts => [chunked("code=1&$mb", 65536)]),
            "$action: 1 MB chunked body", allow => qr/^413$/, close => 1);
    refused(post($action, "code=1&" . ('a' x 9000)),
            "$action: 9000 bytes", allow => qr/^413$/);
    refused(post($action, '', no_length => 1,
                 headers => [['Transfer-Encoding', 'chunked']],
                 parts => [chunked("code=1&" . ('a' x 9000), 1000)]),
            "$action: 9000 bytes chunked", allow => qr/^413$/);
}

# no length and no chunking: no body; what follows is not a request
refused(post('verify', "code=1&$mb", no_length => 1),
        'verify: 1 MB without Content-Length', close => 1);

# -------------------------------------------------------- body framing

for my $action (@actions) {
    refused(post($action, 'code=123456&csrf=', length => 100,
                 send => { shutdown => 1, timeout => 5 }),
            "$action: truncated body, half-closed", close => 1);
}

# truncated, and the client goes away without reading
for my $action (@actions) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $t->port) or die $!;
    print $s http_request(method => 'POST', path => "/_otp/$action",
                     user => 'alice',
                     headers => [['Content-Type', $form],
                                 ['Content-Length', 1000]])
             . 'code=1';
    close $s;
}
pass('truncated bodies, clients gone');

refused(post('verify', 'code=1', headers => [['Transfer-Encoding',
                                               'chunked']]),
        'verify: Content-Length and chunked together', close => 1);
refused(post('verify', '', no_length => 1,
             headers => [['Transfer-Encoding', 'chunked']],
             parts => ["zz\r\ncode=1\r\n0\r\n\r\n"]),
        'verify: bad chunk size', close => 1);
refused(post('verify', '', no_length => 1,
             headers => [['Transfer-Encoding', 'chunked']],
             parts => ["ffffffffffffffffff\r\ncode\r\n0\r\n\r\n"]),
        'verify: huge chunk size', close => 1);
# nginx itself answers 501 to a transfer coding it does not know
refused(post('verify', '', no_length => 1,
             headers => [['Transfer-Encoding', 'gzip, chunked']],
             parts => [chunked('code=1')]),
        'verify: unknown transfer coding', allow => qr/^(400|501)$/,
        close => 1);
refused(post('verify', 'code=1', length => '-1'),
        'verify: negative Content-Length', close => 1);
refused(post('verify', 'code=1', length => '6, 6'),
        'verify: list Content-Length', close => 1);
refused(post('verify', 'code=1',
             headers => [['Content-Length', 6]]),
        'verify: Content-Length twice', close => 1);

# a small chunked form is a form like any other: here without a valid
# CSRF token
for my $action (@actions) {
    refused(post($action, '', no_length => 1,
                 headers => [['Transfer-Encoding', 'chunked']],
                 parts => [chunked('code=123456&csrf=x', 3)]),
            "$action: chunked form", allow => qr/^403$/);
}

# ------------------------------------------------------- content types

for my $action (@actions) {
    for my $type ('text/plain', 'multipart/form-data; boundary=x',
                  'application/json', 'application/x-www-form-urlencodedX',
                  'application/x-www-form', '')
    {
        refused(post($action, 'code=123456&csrf=x', type => $type),
                "$action: Content-Type '$type'", allow => qr/^415$/);
    }
    refused(post($action, 'code=123456&csrf=x', no_type => 1),
            "$action: no Content-Type", allow => qr/^415$/);
    refused(post($action, 'code=123456&csrf=x',
                 type => "$form; charset=utf-8"),
            "$action: form with charset, bad CSRF", allow => qr/^403$/);
}

refused(post('verify', "--x\r\nContent-Disposition: form-data; name=code"
                       . "\r\n\r\n1\r\n--x--\r\n",
             type => 'multipart/form-data; boundary=x'),
        'verify: a multipart form', allow => qr/^415$/);

# ------------------------------------------------ form syntax: all 400

my @bad_forms = (
    ['bad escape %zz',        'code=%zz&csrf=x'],
    ['lone %',                'code=%&csrf=x'],
    ['short escape %0',       'code=%0&csrf=x'],
    ['escape at the end',     'code=1&csrf=x%'],
    ['bad escape in a name',  'co%zde=1&csrf=x'],
    ['bad escape elsewhere',  'code=1&csrf=x&other=%g0'],
    ['%00',                   'code=%00&csrf=x'],
    ['%00 in a name',         'code%00=1&csrf=x'],
    ['raw NUL',               "code=1\0&csrf=x"],
    ['NUL in another field',  "code=1&csrf=x&junk=a\0b"],
    ['code twice',            'code=1&code=2&csrf=x'],
    ['csrf twice',            'code=1&csrf=x&csrf=y'],
    ['code twice, encoded',   'code=1&%63ode=2&csrf=x'],
    ['return twice',          'code=1&csrf=x&return=/a&return=/b'],
    ['code too long',         'code=' . ('1' x 5000) . '&csrf=x'],
    ['csrf too long',         'code=1&csrf=' . ('x' x 5000)],
    ['return too long',       'code=1&csrf=x&return=/' . ('a' x 5000)],
    ['method too long',       'code=1&csrf=x&method=' . ('t' x 1000)],
);

for my $action (@actions) {
    for my $case (@bad_forms) {
        my ($name, $body) = @$case;
        refused(post($action, $body), "$action: $name",
                allow => qr/^400$/);
    }
}

# many fields: over the size limit, or within it

for my $action (@actions) {
    refused(post($action, join('&', map { "f$_=1" } 1 .. 10000)),
            "$action: 10,000 fields", allow => qr/^413$/);
    refused(post($action, ('&' x 8000) . 'code=1'),
            "$action: 8000 empty pairs", allow => qr/^403$/);
    refused(post($action, join('&', ('a=') x 2700)),
            "$action: 2700 unknown fields", allow => qr/^403$/);
    refused(post($action, ('x' x 8000) . '=1&code=1'),
            "$action: a very long field name", allow => qr/^403$/);
    refused(post($action, 'junk=' . ('%41' x 2600)),
            "$action: a long unknown value", allow => qr/^403$/);
}

# ------------------------------- well-formed forms, hostile values

# with a valid CSRF token the values reach the code check

my @codes = ("\xff\xfe\xfd", "\xc0\xaf\xc0\xaf", "12345\xe2\x80",
             "\xd9\xa1\xd9\xa2\xd9\xa3",
             '-12345', '1e5', ' 123456', '123456 ', '12 34 56', '0x1234',
             '99999999999999999999', '', '+', '%25', "123456\r\n", 'null',
             '0' x 64);

for my $code (@codes) {
    my $body = $alice->{http}->www_form_urlencode({
        code => $code, csrf => $verify_csrf, return => '/private/',
    });
    my $label = join '', map { sprintf '%02x', ord } split //, $code;
    $label = substr($label, 0, 16) . '...' if length $label > 19;
    refused(post('verify', $body), "verify: code 0x$label",
            allow => qr/^(400|401|403)$/);
    $body = $bob->{http}->www_form_urlencode({
        code => $code, csrf => $enroll_csrf,
    });
    # from bob's browser, with its enroll cookie (SPEC 6.15)
    refused(post('enroll', $body, user => 'bob', headers => [[ 'Cookie',
                 "otp_session_enroll=$bob->{enroll_cookie}" ]]),
            "enroll: code 0x$label", allow => qr/^(400|401|403)$/);
}

for my $case (['bad UTF-8', "/\xff\xfe"], ['overlong dots', "/%c0%ae%c0%ae/"],
              ['overlong slashes', "\xc0\xaf\xc0\xafevil"],
              ['U+2028', "//evil\xe2\x80\xa8"],
              ['CRLF', "/\r\nSet-Cookie: x=1"])
{
    my ($name, $ret) = @$case;
    my $body = $alice->{http}->www_form_urlencode({
        code => '000000', csrf => $verify_csrf, return => $ret,
    });
    my $res = post('verify', $body);
    refused($res, "verify: return with $name",
            allow => qr/^(400|401|403)$/);
    unlike($res->{raw}, qr/\r\nSet-Cookie: x=1/i,
           "verify: return with $name: no header injected");
}

# --------------------------------------------------------- slow clients

# The body comes at one byte a second, then stops: client_body_timeout
# (2 s) ends it about 2 s after the last byte.

{
    my $res = post('verify', '', length => 20,
                   parts => ['c', 'o', 'd'], send => { delay => 1,
                                                       timeout => 15 });
    refused($res, 'slow body', allow => qr/^408$/, close => 1);
    ok($res->{closed}, 'slow body: connection closed');
    ok($res->{elapsed} < 2 + 2 + 2.5,
       sprintf('slow body: closed in %.1f s', $res->{elapsed}));
}

# the header the same way: client_header_timeout (2 s) from the start

{
    my $head = http_request(method => 'POST', path => '/_otp/verify',
                       user => 'alice',
                       headers => [['Content-Type', $form],
                                   ['Content-Length', 6]]);
    my @parts = (substr($head, 0, 10), split //, substr($head, 10, 10));
    my $res = send_raw($t, undef, parts => \@parts, delay => 1,
                       timeout => 15);
    refused($res, 'slow header', allow => qr/^408$/, close => 1);
    ok($res->{closed}, 'slow header: connection closed');
    ok($res->{elapsed} < 2 + 2.5,
       sprintf('slow header: closed in %.1f s', $res->{elapsed}));
}

# ------------------------------------------------------------- cookies

my $b64 = sub {
    my $s = encode_base64(join('', map { chr int rand 256 } 1 .. $_[0]), '');
    $s =~ tr{+/=}{-_}d;
    return $s;
};

my $altered = $session;
substr($altered, 10, 1) = substr($altered, 10, 1) eq 'A' ? 'B' : 'A';

my @cookies = (
    ['huge Cookie header', 'otp_session=' . ('A' x 60000)],
    ['huge value of another cookie',
        'x=' . ('A' x 60000) . '; otp_session=' . ('B' x 60)],
    ['1000 cookies', join('; ', map { "c$_=v$_" } 1 .. 1000)],
    ['1000 cookies, then otp_session',
        join('; ', (map { "c$_=v$_" } 1 .. 1000), 'otp_session=x')],
    ['control characters', "otp_session=\x01\x02\x1f\x7f$session"],
    ['tab and high bytes', "otp_session=\t\xff\xfe$session"],
    ['many otp_session cookies',
        join('; ', map { 'otp_session=' . $b64->(40) } 1 .. 200)],
    ['garbage first, then a valid one',
        'otp_session=garbage; otp_session=' . $session],
    ['base64url garbage, right length',
        'otp_session=' . substr($b64->(200), 0, length $session)],
    ['base64url garbage, long', 'otp_session=' . $b64->(3000)],
    ['not base64url', 'otp_session=' . ('*!@#$' x 20)],
    ['empty', 'otp_session='],
    ['no value', 'otp_session'],
    ['only separators', ';;;;;, , ;=;=;'],
    ['altered', "otp_session=$altered"],
    ['truncated', 'otp_session=' . substr($session, 0, -1)],
    ['with trailing garbage', "otp_session=${session}x"],
    ['quoted', qq{otp_session="$session"}],
    ['percent-encoded', 'otp_session=' . join('', map { sprintf '%%%02X', ord }
                                                  split //, $session)],
);

for my $case (@cookies) {
    my ($name, $value) = @$case;
    # the cookie belongs to alice: bob's first factor never passes with it
    refused(gated('/private/secret.html', user => 'bob',
                  headers => [['Cookie', $value], ['Accept', 'text/html']]),
            "gate, bob: cookie $name", allow => qr/^(302|400)$/);
    next if $name =~ /^garbage first/;
    refused(gated('/private/secret.html',
                  headers => [['Cookie', $value], ['Accept', 'text/html']]),
            "gate, alice: cookie $name", allow => qr/^(302|400)$/);
    refused(post('logout', 'csrf=x', headers => [['Cookie', $value]]),
            "logout: cookie $name", allow => qr/^(400|403)$/);
    refused(post('enroll', 'code=1&csrf=x', headers => [['Cookie', $value]]),
            "enroll: cookie $name", allow => qr/^(400|403)$/);
}

refused(gated('/private/secret.html',
              headers => [['Cookie', 'otp_session=' . ('A' x 200000)]]),
        'Cookie over large_client_header_buffers', allow => qr/^(400|494)$/);
refused(gated('/private/secret.html',
              headers => [map { ['Cookie', "c$_=$_"] } 1 .. 500]),
        '500 Cookie headers', allow => qr/^(302|400)$/);
refused(gated('/private/secret.html',
              headers => [['Cookie', "otp_session=a\0b"]]),
        'NUL in the Cookie header', allow => qr/^400$/);

# the control: alice with her cookie is in (the cookie is not broken)
is(gated('/private/secret.html',
         headers => [['Cookie', "otp_session=$session"]])->{status},
   200, 'control: the unbroken cookie passes');

# ------------------------------------------------------- query strings

my @queries = (
    ['r=%', 'r=%'],
    ['r=%zz', 'r=%zz'],
    ['r=%00', 'r=%00'],
    ['r=%0d%0a header', 'r=/%0d%0aSet-Cookie:%20x=1'],
    ['huge r', 'r=/' . ('a' x 50000)],
    ['huge encoded r', 'r=' . ('%2f' x 15000)],
    ['many r', join('&', map { "r=/p$_" } 1 .. 3000)],
    ['r without value', 'r'],
    ['r=', 'r='],
    ['script in r', 'r=%3Cscript%3Ealert(1)%3C/script%3E'],
    ['bad UTF-8 in r', 'r=/%ff%fe%c0%af'],
    ['method=%zz', 'method=%zz&r=/'],
    ['r=//evil', 'r=//evil.example/'],
);

for my $case (@queries) {
    my ($name, $q) = @$case;
    for my $page (qw(challenge enroll logout)) {
        my $res = gated("/_otp/$page?$q", headers => [['Accept',
                                                        'text/html']]);
        my @st = statuses($res->{raw});
        ok(@st == 1 && $st[0] =~ /^(200|302|303|400|414)$/,
           "GET $page?$name: a page, a redirect or a 4xx (@st)");
        unlike($res->{raw}, qr/\r\nSet-Cookie: x=1/i,
               "GET $page?$name: no header injected");
        unlike($res->{raw}, qr/<script>/i, "GET $page?$name: no script");
        like(hdr($res, 'location') // '/', qr{^(https?://[^/]+)?/(?![/\\])},
             "GET $page?$name: redirects stay on this site")
            or diag(hdr($res, 'location'));
    }
    refused(gated("/private/secret.html?$q",
                  headers => [['Accept', 'text/html']]),
            "gate: query $name", allow => qr/^(302|400|414)$/);
}

refused(gated('/private/secret.html?' . ('a' x 70000)),
        'gate: query over the header buffers', allow => qr/^(400|414)$/);

# -------------------------------------------- user names from a header

for my $case (['huge', 'u' x 60000], ['control characters', "a\x01b\x1f"],
              ['bad UTF-8', "\xff\xfe\xc0\xaf"], ['spaces', ' a b '],
              ['key syntax', 'x}:u:alice{'], ['star', '*'])
{
    my ($name, $user) = @$case;
    refused(gated('/hdr/secret.html', user => undef,
                  headers => [['X-User', $user],
                              ['Accept', 'application/json']]),
            "gate: user from a header, $name", allow => qr/^(400|401)$/);
}

# ------------------------------------------------------- GET with a body

my $smuggled = "GET /private/secret.html HTTP/1.1\r\nHost: localhost\r\n"
               . 'Authorization: ' . basic_auth('alice') . "\r\n"
               . "Cookie: otp_session=$session\r\n\r\n";

for my $path ('/private/secret.html', '/_otp/challenge') {
    my $res = gated($path, headers => [['Content-Length', length $smuggled],
                                       ['Accept', 'text/html']],
                    request => { body => $smuggled });
    my @st = statuses($res->{raw});
    is(scalar @st, 1, "GET $path with a body: one answer (@st)");
    unlike($res->{raw}, qr/\Q${\ SECRET}\E/,
           "GET $path with a body: the body is not a request");
    ok(!grep({ /^5/ } @st), "GET $path with a body: no 5xx");

    $res = gated($path, headers => [['Transfer-Encoding', 'chunked'],
                                    ['Accept', 'text/html']],
                 request => { body => chunked($smuggled) });
    @st = statuses($res->{raw});
    is(scalar @st, 1, "GET $path with a chunked body: one answer (@st)");
    unlike($res->{raw}, qr/\Q${\ SECRET}\E/,
           "GET $path with a chunked body: the body is not a request");
}

# ------------------------------------- clients that leave while waiting

# Redis stalls for a second (longer than the module's 500 ms timeout);
# clients send requests that need it and go away before the answer, or
# wait for the 503.  The late replies must find nothing freed.

{
    my $redis = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->redis_port) or die $!;
    print $redis "*3\r\n\$5\r\nDEBUG\r\n\$5\r\nSLEEP\r\n\$3\r\n1.2\r\n";
    sleep 0.1;

    my $verify = $alice->{http}->www_form_urlencode({
        code => '000000', csrf => $verify_csrf });
    my @gone;
    for my $i (1 .. 10) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $t->port) or die $!;
        print $s ($i % 2
            ? http_request(path => '/private/secret.html', user => 'alice',
                      headers => [['Accept', 'text/html']])
            : http_request(method => 'POST', path => '/_otp/verify',
                      user => 'alice',
                      headers => [['Content-Type', $form],
                                  ['Content-Length', length $verify]])
              . $verify);
        push @gone, $s;
    }
    sleep 0.2;
    close $_ for @gone;

    refused(gated('/private/secret.html'), 'Redis stalled: the gate',
            allow => qr/^503$/);
    refused(post('verify', $verify), 'Redis stalled: verify',
            allow => qr/^503$/);

    my $reply = <$redis>;
    close $redis;
    like($reply // '', qr/^\+OK/, 'Redis woke up');
    $t->wait_redis_ready;
    sleep 0.5;

    my $res = gated('/private/secret.html',
                    headers => [['Accept', 'text/html']]);
    is($res->{status}, 302, 'after the stall the gate answers again');
}

# ---------------------------------------------- the workers survived it

is_deeply([$t->worker_pids], \@workers, 'the same workers as at the start');

# ------------------------------------------------------ Redis down: 503

$t->stop_redis;

refused(post('verify', 'code=%zz'), 'Redis down: a broken form is a 400',
        allow => qr/^400$/);
refused(post('verify', $alice->{http}->www_form_urlencode({
            code => '123456', csrf => $verify_csrf })),
        'Redis down: a good form is a 503', allow => qr/^503$/);
refused(gated('/private/secret.html', headers => [['Cookie', 'otp_session='
                                                  . ('A' x 60000)]]),
        'Redis down: the gate is a 503', allow => qr/^503$/);

is_deeply([$t->worker_pids], \@workers, 'the same workers at the end');

$t->stop;

done_testing();
