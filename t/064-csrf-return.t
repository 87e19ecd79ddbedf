#!/usr/bin/perl

# Forms only from our own pages (CSRF token, Sec-Fetch-Site, Origin),
# and the return address (SPEC 4): whatever comes in the return field,
# the r= query of the pages or the URI of the gated request itself,
# the redirect after the code stays on this host, hostile values fall
# back to "/", and nothing breaks out of an HTML attribute or a header.
# Checked with absolute_redirect on (nginx's default) and off, where the
# Location header is the bare path the module chose.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site wrong_code keys_from_file mint_csrf
                 location_target html_unescape pct_encode);
use OtpHttp qw(hdr http_request send_raw header_values);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $keys = keys_from_file($key);
my $noabs = OtpTest::free_port();
my $hdr = OtpTest::free_port();

users($t, qw(alice bob carol dave erin frank gina));
mkdir $t->dir . '/site';
mkdir $t->dir . '/site/private';
$t->write_file('site/index.html', "root page\n", 0644);
$t->write_file('site/private/index.html', "private page\n", 0644);

$t->run_redis;

my $server = <<'EOF';
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_lockout 1000 1m;
        otp_max_attempts 100;
        location /_otp/ {
            otp_endpoint;
        }
        location / {
            otp on;
            root %%DIR%%/site;
        }
EOF

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));

    server {
        listen 127.0.0.1:%%PORT%%;
$server
    }

    server {
        listen 127.0.0.1:$noabs;
        absolute_redirect off;
$server
    }

    server {
        listen 127.0.0.1:$hdr;
        otp_user \$http_x_user;
        location /_otp/ {
            otp_endpoint;
        }
    }
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my $host = "127.0.0.1:$port";

sub enrolled {
    my ($user, $p) = @_;
    my $f = OtpFlow->new($p ? site($t, $p) : $t, user => $user);
    $f->enroll;
    $f->set_cookie(undef);
    return $f;
}

# The last accepted step is forgotten before each sign-in below, so
# that one user can sign in many times within a step (as if each
# sign-in were a minute apart).
sub signin {
    my ($f, %o) = @_;
    $t->redis('DEL', okey('t', $f->user));
    my $r = $f->verify(%o);
    $f->set_cookie(undef);
    return $r;
}

my $alice = enrolled('alice');
my $bob = enrolled('bob');

# ------------------------------------------------------------- CSRF

my (undef, $csrf) = $alice->challenge;
my ($cid) = $csrf =~ /^([^.]+)\./;
my (undef, $csrf2) = $alice->challenge;
my ($cid2, $tok2) = $csrf2 =~ /^([^.]+)\.(.*)$/;
my (undef, $bcsrf) = $bob->challenge;
my $wrong = wrong_code($alice->secret);
my $fails = $t->redis('GET', okey('f', 'alice')) // 0;

$t->redis('DEL', okey('t', 'alice'));
my $right = totp($alice->secret);

sub post_verify {
    my ($f, $form, %h) = @_;
    return $f->post('verify', { code => $right, return => '/', %$form },
                    headers => \%h);
}

my %bad = (
    'missing'             => {},
    'empty'               => { csrf => '' },
    'random'              => { csrf => 'A' x 22 . '.' . mint_csrf(
                                   { csrf => 'x' x 32 }, 'alice', 'A' x 22,
                                   time) },
    'id only'             => { csrf => "$cid." },
    'id of one challenge, token of another'
                          => { csrf => "$cid.$tok2" },
    "bob's"               => { csrf => $bcsrf },
    'expired (601s old)'  => { csrf => "$cid." . mint_csrf($keys, 'alice',
                                   $cid, time - 601) },
    'from the future (+1h)'
                          => { csrf => "$cid." . mint_csrf($keys, 'alice',
                                   $cid, time + 3600) },
    'bound to enroll'     => { csrf => "$cid." . mint_csrf($keys, 'alice',
                                   'enroll', time) },
);
for my $what (sort keys %bad) {
    my $r = post_verify($alice, $bad{$what});
    is($r->{status}, 403, "verify, CSRF $what: 403 (right code)");
    is(cookie_value($r, 'otp_session'), undef, "  no cookie");
}
is($t->redis('GET', okey('f', 'alice')) // 0, $fails,
   'refused forms are not counted as attempts');

my $r = post_verify($alice, { csrf => "$cid." . mint_csrf($keys, 'alice',
                                  $cid, time - 30), code => $wrong });
is($r->{status}, 401,
   'a minted token of the right age passes the CSRF check (sanity)');

# empty bodies: nothing to check a token against
for my $action (qw(verify enroll logout)) {
    $r = $alice->request('POST', "/_otp/$action", content => '',
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    is($r->{status}, 403, "POST $action with an empty body: 403");
}
is($alice->get('/_otp/challenge')->{status}, 200,
   'the worker still answers after the empty bodies');

# cross-site requests, with a valid token and the right code
my %xsite = (
    'Sec-Fetch-Site: cross-site' => { 'Sec-Fetch-Site' => 'cross-site' },
    'Origin: http://evil.example' => { Origin => 'http://evil.example' },
    'Origin: null'               => { Origin => 'null' },
    'Origin: other port'         => { Origin => 'http://127.0.0.1:1' },
    'Origin: suffix host'        => { Origin => "http://$host.evil.example" },
    'Origin: prefix host'        => { Origin => "http://evil.$host" },
);
for my $what (sort keys %xsite) {
    $r = post_verify($alice, { csrf => $csrf2 }, %{ $xsite{$what} });
    is($r->{status}, 403, "$what: 403");
    is(cookie_value($r, 'otp_session'), undef, "  no cookie");
}

# same-site forms go on (wrong code: 401, not 403)
my %same = (
    'Sec-Fetch-Site: same-origin' => { 'Sec-Fetch-Site' => 'same-origin' },
    'Sec-Fetch-Site: none'        => { 'Sec-Fetch-Site' => 'none' },
    'Origin: this host'           => { Origin => "http://$host" },
);
for my $what (sort keys %same) {
    $r = post_verify($alice, { csrf => $csrf2, code => $wrong },
                     %{ $same{$what} });
    is($r->{status}, 401, "$what: accepted (401 for a wrong code)");
}

$r = post_verify($alice, { csrf => $csrf2 }, Origin => "http://$host");
is($r->{status}, 303, 'the code refused with bad forms still signs in');

# logout and enroll forms
$alice->set_cookie(cookie_value($r, 'otp_session'));
my $lcsrf = form_field($alice->get('/_otp/logout')->{content}, 'csrf');
my $blcsrf = form_field($bob->get('/_otp/logout')->{content}, 'csrf');
my %lbad = (
    'missing'  => {},
    "bob's"    => { csrf => $blcsrf },
    'expired'  => { csrf => mint_csrf($keys, 'alice', 'logout',
                                      time - 3601) },
    'enroll'   => { csrf => mint_csrf($keys, 'alice', 'enroll', time) },
);
for my $what (sort keys %lbad) {
    $r = $alice->post('logout', $lbad{$what});
    is($r->{status}, 403, "logout, CSRF $what: 403");
}
$r = $alice->post('logout', { csrf => $lcsrf },
                  headers => { 'Sec-Fetch-Site' => 'cross-site' });
is($r->{status}, 403, 'logout, cross-site: 403');
is($alice->get('/private/')->{status}, 200, 'still signed in');
$r = $alice->post('logout', { csrf => mint_csrf($keys, 'alice', 'logout',
                                                time - 60) });
is($r->{status}, 303, 'logout with a minted token of the right age (sanity)');
$alice->set_cookie(undef);

my $dave = OtpFlow->new($t, user => 'dave');
my (undef, $ds, $dc) = $dave->enroll_page('/');
my (undef, undef, $bec) = OtpFlow->new($t, user => 'gina')->enroll_page('/');
my %ebad = (
    'missing'  => {},
    "gina's"   => { csrf => $bec },
    'expired'  => { csrf => mint_csrf($keys, 'dave', 'enroll',
                                      time - 901) },
    'logout'   => { csrf => mint_csrf($keys, 'dave', 'logout', time) },
);
for my $what (sort keys %ebad) {
    $r = $dave->post('enroll', { code => totp($ds), %{ $ebad{$what} } });
    is($r->{status}, 403, "enroll, CSRF $what: 403");
    is(cookie_value($r, 'otp_session'), undef, '  no cookie');
}
$r = $dave->post('enroll', { code => totp($ds), csrf => $dc },
                 headers => { Origin => 'http://evil.example' });
is($r->{status}, 403, 'enroll, foreign Origin: 403');
is($t->redis('HEXISTS', okey('u', 'dave'), 'totp'), 0, 'dave not enrolled');

# --------------------------------------------------- return addresses

my @hostile = (
    '//evil.example', '//evil.example/x', '///evil.example',
    '/\\evil.example', '/\\/evil.example', '\\/evil.example',
    '/%09/evil.example', "/\t/evil.example", '/%2F/evil.example',
    '/%2f%2fevil.example', '/%5Cevil.example', '/%255Cevil.example',
    '/%252F%252Fevil.example', '%2F%2Fevil.example',
    'https:evil.example', 'https://evil.example', 'http:/evil.example',
    'HTTPS://evil.example', 'javascript:alert(1)', 'JaVaScRiPt:alert(1)',
    'data:text/html,<script>alert(1)</script>', ' /evil',
    '/%20/evil.example', '/%00/evil', '/%0d%0aSet-Cookie:%20x=1',
    "/\r\nX-Injected: 1", '/%0aLocation:%20http://evil.example',
    "/\x{0b}/evil.example", 'evil.example', '',
);

# same-host values, odd but not hostile: must stay on this host
my @samehost = ('/..//evil.example', '/%2e%2e//evil.example',
                '/.//evil.example', '/x/..//evil.example',
                '/%E2%80%A8/evil.example');

sub where {
    my ($res, $h) = @_;
    my ($loc) = header_values($res, 'location');
    return location_target($loc, $h // $host);
}

sub show {
    my ($s) = @_;
    $s =~ s/([^\x21-\x7e])/sprintf '\\x%02x', ord $1/ge;
    return $s;
}

my $carol = enrolled('carol', $noabs);

for my $v (@hostile) {
    my $name = show($v);

    # the return field of the verify form
    $r = signin($alice, return => $v);
    is($r->{status}, 303, "form '$name': 303");
    my ($h, $p) = where($r);
    is("$h $p", "$host /", "form '$name': back to / on this host");
    is(scalar(grep { !/^otp_session=/ } header_values($r, 'set-cookie')),
       0, '  no other cookie');
    ok(!exists $r->{headers}{'x-injected'}, '  no injected header');

    # the same with absolute_redirect off: the Location itself
    $r = signin($carol, return => $v);
    my ($loc) = $r->{headers}{location};
    is($loc, '/', "form '$name', absolute_redirect off: Location: /");

    # r= of the challenge page
    my ($page, $c) = $alice->challenge(pct_encode($v));
    my $ret = form_field($page->{content}, 'return');
    is($ret, '/', "r= '$name': return field /");
    unlike($page->{content}, qr/<script>|evil\.example"|javascript:/i,
           "r= '$name': nothing of it in the page");
    $r = signin($alice, csrf => $c, return => $ret);
    ($h, $p) = where($r);
    is("$h $p", "$host /", "r= '$name': back to /");
}

for my $v (@samehost) {
    $r = signin($alice, return => $v);
    my ($h) = where($r);
    is($h, $host, "form '" . show($v) . "': stays on this host");
    $r = signin($carol, return => $v);
    ($h) = where($r, "127.0.0.1:$noabs");
    is($h, "127.0.0.1:$noabs",
       "form '" . show($v) . "', absolute_redirect off: this host");
}

# a NUL never gets as far as a redirect
$r = signin($alice, return => "\x00/evil");
ok($r->{status} == 400 || ($r->{status} == 303
                           && join(' ', where($r)) eq "$host /"),
   "form '\\x00/evil': 400 or back to / ($r->{status})");

# good values come back as they were
for my $v ('/private/', '/private/index.html?a=1&b=%2F&c=d+e',
           '/private/~user/x;y=z', '/private/%E2%9C%93')
{
    $r = signin($alice, return => $v);
    my ($h, $p) = where($r);
    is("$h $p", "$host $v", "good return '$v' kept");
    $r = signin($carol, return => $v);
    is($r->{headers}{location}, $v, "  and with absolute_redirect off");
}

# attribute escaping of what is kept
my ($page) = $alice->challenge(pct_encode('/private/?a=1&copy=2'));
like($page->{content}, qr/value="\/private\/\?a=1&amp;copy=2"/,
     '"&" escaped in the return field');
($page) = $alice->challenge(pct_encode('/x"onmouseover="alert(1)'));
unlike($page->{content}, qr/"onmouseover="/, 'no attribute injection');
like(form_field($page->{content}, 'return') // '', qr{^/},
     'the return field is one path');
($page) = $alice->challenge(pct_encode('/x"><script>alert(1)</script>'));
unlike($page->{content}, qr/<script>/, 'no element injection');

# raw, unencoded r= values
for my $q ('//evil.example', '/%09/evil.example', '/%0d%0aX-Injected:1',
           'https://evil.example', '/%5cevil.example')
{
    $r = send_raw($port, http_request(port => $port, user => 'alice',
                                      path => "/_otp/challenge?r=$q",
                                      headers => [[Accept => 'text/html']]));
    is(form_field($r->{body}, 'return'), '/', "raw r=$q: return field /");
    ok(!exists $r->{headers}{'x-injected'}, '  no injected header');
}

# the enrollment's continue link and return field
for my $u (['erin', '//evil.example'], ['frank', 'javascript:alert(1)']) {
    my ($user, $v) = @$u;
    my $f = OtpFlow->new($t, user => $user);
    my ($ep, $s, $ec) = $f->enroll_page(pct_encode($v));
    is(form_field($ep->{content}, 'return'), '/',
       "enroll r='$v': return field /");
    $r = $f->post('enroll', { code => totp($s), csrf => $ec, return => $v });
    is($r->{status}, 200, "$user enrolled");
    my @links = grep { !/^data:text\/plain;/ }     # the codes as a file
                $r->{content} =~ /<a\b[^>]*\bhref="([^"]*)"/g;
    is("@links", '/', "enroll return '$v': the continue link is /");
}

# user names are data too: escaped in the pages, encoded in the URI
{
    my $evil = q{<b>"x'&amp;</b>};
    my $get = sub {
        my ($path) = @_;
        return $t->http->get("http://127.0.0.1:$hdr$path",
            { headers => { 'X-User' => $evil, Accept => 'text/html' } });
    };
    my $ep = $get->('/_otp/enroll');
    is($ep->{status}, 200, 'enroll page for a user name with markup');
    ok($ep->{content} !~ /<b>|"x'/, 'the name is never raw in the page');
    like($ep->{content}, qr/&lt;b&gt;&quot;x&#(?:39|x27);&amp;amp;&lt;\/b&gt;/,
         'the name is HTML-escaped');
    like($ep->{content},
         qr{otpauth://totp/[^"]*:%3Cb%3E%22x%27%26amp%3B%3C%2Fb%3E\?},
         'the name is percent-encoded in the otpauth label');
}

# ------------------------------------ the original URI of the request

# a browser sent to the challenge by the gate, and back after the code
sub original {
    my ($f, $path, $p, $h) = @_;
    $p //= $port;
    $h //= "127.0.0.1:$p";
    my $g = send_raw($p, http_request(port => $p, user => $f->user,
                                      path => $path,
                                      headers => [[Accept => 'text/html']]));
    return ($g) unless $g->{status} == 302;
    my ($gh, $gp) = where($g, $h);
    my ($page, $c) = $f->challenge(
        ($gp =~ /[?&]r=([^&]*)/)[0] // '');
    my $ret = html_unescape(form_field($page->{content}, 'return'));
    $t->redis('DEL', okey('t', $f->user));
    my $v = $f->verify(csrf => $c, return => $ret);
    $f->set_cookie(undef);
    return ($g, $gh, $gp, $ret, $v);
}

for my $path ('//evil.example/x', '///evil.example', '/\\evil.example',
              '/%5Cevil.example', '/%09/evil.example',
              '/%2F%2Fevil.example', '/%0D%0AX-Injected:%201',
              '/%0d%0aSet-Cookie:%20a=b')
{
    my ($g, $gh, $gp, $ret, $v) = original($alice, $path);
    is($g->{status}, 302, "GET $path: 302 from the gate");
    ok(!exists $g->{headers}{'x-injected'}
       && !grep({ /^a=b/ } header_values($g, 'set-cookie')),
       "GET $path: no injected header");
    is($gh, $host, "GET $path: the gate redirects on this host");
    like($gp, qr{^/_otp/challenge\?r=}, "GET $path: to the challenge");
    is($ret, '/', "GET $path: return field /");
    is($v->{status}, 303, "GET $path: signed in");
    my ($h, $p) = where($v);
    is("$h $p", "$host /", "GET $path: back to / on this host");
}

for my $path ('/private/index.html?a=1&b=%2F', '/private/%7Ex/')
{
    my ($g, $gh, $gp, $ret, $v) = original($alice, $path);
    my ($h, $p) = where($v);
    is("$h $p", "$host $path", "GET $path: back where it started");
}

# the same without absolute_redirect
for my $path ('//evil.example/x', '/%5Cevil.example', '/private/?q=1') {
    my $g = send_raw($noabs, http_request(port => $noabs, user => 'carol',
                                          path => $path,
                                          headers => [[Accept => 'text/html']]));
    my ($loc) = header_values($g, 'location');
    like($loc // '', qr{^/_otp/challenge\?r=},
         "absolute_redirect off, GET $path: Location a path of ours");
}

$t->stop;

done_testing();
