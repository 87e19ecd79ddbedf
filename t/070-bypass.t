#!/usr/bin/perl

# Security invariant 11: a protected file under a gated location is never
# served to a client that has a valid first factor but no second factor,
# whatever way the request takes to get there: rewrite, try_files,
# error_page, named locations, satisfy any, subrequests (SSI, addition,
# auth_request, mirror, post_action), X-Accel-Redirect, index, path
# tricks, unusual methods and request lines.  nginx -t warns about
# gated locations with directives that run before the gate.
#
# Every route is checked against a control that uses the same route
# without a gate (or with a session), so that a route which would not
# serve the file at all cannot pass for a blocked one.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);
use OtpTest;
use OtpKeys;
use OtpFlow;
use OtpBypass qw(SECRET assert_blocked);
use OtpHttp qw(http_request send_raw hdr);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $d = $t->dir;

my $backend = OtpTest::free_port();
my $port2 = OtpTest::free_port();

$t->write_file('htpasswd',
               "alice:{PLAIN}alice\nbob:{PLAIN}bob\ncarol:{PLAIN}carol\n",
               0644);

# site/ is the public root of the server; site/private/ is gated.
# named/secret.html is what the named locations serve.

mkdir "$d/$_" for qw(site site/private site/pub site/ssi site/add site/idx
                     named);
my $secret = SECRET . "\n";
$t->write_file("site/private/secret.html", $secret, 0644);
$t->write_file("named/secret.html", $secret, 0644);
$t->write_file("site/pub/index.html", "public page\n", 0644);
$t->write_file("site/add/page.html", "<p>addition page</p>\n", 0644);

# SSI pages, each including one path; the control includes an ungated
# copy, so that a working include is seen to show the file
my %ssi = (
    'private'  => '/private/secret.html',
    'gep'      => '/gep/secret.html',
    'gapi'     => '/gapi/ssi-hit',
    'control'  => '/ctl/secret.html',
    'encoded'  => '/%70rivate/secret.html',
    'dot'      => '/private/./secret.html',
    'slashes'  => '/private//secret.html',
    'rewrite'  => '/r/secret.html',
    'errpage'  => '/ep/x',
    'tryfiles' => '/tf2/x',
    'lead2'    => '//private/secret.html',
    'leaddot'  => '/./private/secret.html',
);
for my $name (keys %ssi) {
    $t->write_file("site/ssi/$name.html",
                   "<p>before</p>\n<!--# include virtual=\"$ssi{$name}\" -->"
                   . "\n<p>after</p>\n", 0644);
}
mkdir "$d/site/opt";
$t->write_file("site/opt/page.html",
               "<p>before</p>\n<!--# include virtual=\"/private/secret.html\""
               . " -->\n<p>after</p>\n", 0644);

my $alias = "alias $d/site/private/;";

$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));

    # an upstream that logs what reaches it
    server {
        listen 127.0.0.1:$backend;
        access_log %%DIR%%/backend.log;

        location /idp {
            add_header X-User alice;
            return 200;
        }

        location /xa {
            add_header X-Accel-Redirect /private/secret.html;
            return 200 "accel\\n";
        }

        location / {
            return 200 "backend\\n";
        }
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        root %%DIR%%/site;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ { otp_endpoint; }

        # public, over the same tree: what path tricks would land in
        location / { }

        location /private/ { otp on; }

        # controls: the same files without a gate
        location /ctl/ { $alias }
        location /open-ctl/ { error_page 404 = \@open; }
        location /backend/ { proxy_pass http://127.0.0.1:$backend; }

        # rewrite ... last, into the gated location and out of one
        location /r/ { rewrite ^/r/(.*)\$ /private/\$1 last; }

        location /gout/ {
            otp on;
            $alias
            rewrite ^/gout/out/(.*)\$ /back/\$1 last;
            rewrite ^/gout/pub/(.*)\$ /pub/\$1 last;
            rewrite ^/gout/brk/(.*)\$ /gout/\$1 break;
        }

        location /back/ { rewrite ^/back/(.*)\$ /gout/\$1 last; }

        # try_files
        location /tf/ { try_files \$uri \@gated; }
        location /tf2/ { try_files /nonexistent /private/secret.html; }

        location \@gated {
            otp on;
            root %%DIR%%/named;
            try_files /secret.html =404;
        }

        # error_page from an ungated location
        location /ep/ { error_page 404 = /private/secret.html; }
        location /ep-plain/ { error_page 404 /private/secret.html; }
        location /ep-named/ { error_page 404 = \@gated; }

        # error_page on gated locations: their answers must not turn
        # into the content of an ungated place
        location /gep/ {
            otp on;
            $alias
            error_page 301 302 303 307 401 403 429 500 502 503 504 = \@open;
        }

        location /gep-off/ {
            otp on;
            otp_enroll off;
            $alias
            error_page 403 = \@open;
        }

        location /gep-nouser/ {
            auth_basic off;
            otp on;
            otp_user \$http_x_user;
            $alias
            error_page 401 = \@open;
        }

        location \@open {
            root %%DIR%%/named;
            try_files /secret.html =404;
        }

        # satisfy any (nginx -t refuses it with the default otp_user)
        location /sany/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            otp on;
            otp_user \$remote_user;
            $alias
        }

        location /sany-nobasic/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            auth_basic off;
            otp on;
            otp_user \$http_x_user;
            $alias
        }

        location /sany-basic/ {
            satisfy any;
            deny all;
            otp on;
            otp_user \$remote_user;
            $alias
        }

        # the first factor from an identity provider, via auth_request
        location /idp-app/ {
            auth_basic off;
            auth_request /idp;
            auth_request_set \$idp_user \$upstream_http_x_user;
            otp on;
            otp_user \$idp_user;
            $alias
        }

        location = /idp {
            internal;
            proxy_pass http://127.0.0.1:$backend;
        }

        # "if" makes a location of its own inside the gated one
        location /ifl/ {
            otp on;
            $alias
            if (\$http_x_if) {
                add_header X-If yes;
            }
        }

        # subrequests
        location /ssi/ { ssi on; }

        # a location where users without a factor pass
        location /opt/ {
            otp on;
            otp_enroll optional;
            ssi on;
        }

        location /gapi/ {
            otp on;
            proxy_pass http://127.0.0.1:$backend;
        }

        location /add/ { add_before_body /private/secret.html; }
        location /add-gep/ {
            alias %%DIR%%/site/add/;
            add_after_body /gep/secret.html;
        }

        location /ar/ { auth_request /private/secret.html; $alias }
        location /ar-gep/ { auth_request /gep/secret.html; $alias }
        location /ar-ctl/ { auth_request /pub/index.html; $alias }

        location /mir/ { mirror /gapi/mirror-hit; alias %%DIR%%/site/pub/; }
        location /mir-ctl/ {
            mirror /backend/mirror-ctl;
            alias %%DIR%%/site/pub/;
        }

        location /pa/ {
            post_action /gapi/post-action-hit;
            alias %%DIR%%/site/pub/;
        }

        location /xa { proxy_pass http://127.0.0.1:$backend; }

        location /idx/ { index /private/secret.html; }
    }

    # the same site with merge_slashes off
    server {
        listen 127.0.0.1:$port2;
        merge_slashes off;
        root %%DIR%%/site;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ { otp_endpoint; }
        location / { }
        location /private/ { otp on; }
    }
EOF

$t->run_nginx;
$t->wait_redis_ready or BAIL_OUT('the workers did not reach Redis');

# alice has an authenticator and, in $flow, a session; the requests below
# carry her password but not the session

my $flow = OtpFlow->new($t, user => 'alice', password => 'alice');
$flow->enroll;
ok($flow->cookie, 'alice enrolled, with a session');
my $cookie = 'otp_session=' . $flow->cookie;

# carol is locked
$t->redis('SET', okey('l', 'carol'), '1', 'EX', '600');

sub get {
    my ($path, %o) = @_;
    my @h = @{ $o{headers} || [] };
    push @h, ['Accept', $o{accept} // 'text/html'];
    push @h, ['Cookie', $cookie] if $o{session};
    return send_raw($t, http_request(
        method => $o{method} // 'GET',
        path   => $path,
        user   => exists $o{user} ? $o{user} : 'alice',
        password => $o{password},
        headers => \@h,
        %{ $o{request} || {} },
    ), %{ $o{send} || {} });
}

sub served {
    my ($res, $name) = @_;
    my $st = $res->{status} // 'none';
    ok($st eq '200' && index($res->{body}, SECRET) >= 0,
       "control: $name serves the file ($st)");
}

sub backend_saw {
    my ($what) = @_;
    return index($t->read_file('backend.log'), $what) >= 0;
}

# ------------------------------------------------------------- controls

served(get('/ctl/secret.html'), 'ungated alias');
served(get('/private/secret.html', session => 1), 'gated with a session');
served(get('/r/secret.html', session => 1), 'rewrite into gated, session');
served(get('/tf/secret.html', session => 1), 'try_files to @gated, session');
served(get('/open-ctl/x'), 'error_page to @open');
served(get('/xa', session => 1), 'X-Accel-Redirect, session');
served(get('/idx/', session => 1), 'index, session');
served(get('/gout/out/secret.html', session => 1),
       'rewrite out of gated and back, session');
served(get('/tf2/x', session => 1), 'try_files to a gated path, session');
served(get('/ep/x', session => 1), 'error_page to a gated path, session');
served(get('/gep/secret.html', session => 1), 'gated error_page, session');
served(get('/sany/secret.html', session => 1), 'satisfy any, session');
served(get('/ifl/secret.html', session => 1, headers => [['X-If', '1']]),
       'if block, session');
like(get('/ssi/control.html')->{body}, qr/\Q${\ SECRET}\E/,
     'control: SSI includes an ungated file');
is(get('/ar-ctl/secret.html')->{status}, 200,
   'control: auth_request to an ungated location passes');

get('/mir-ctl/index.html');
my $deadline = time + 3;
sleep 0.05 until backend_saw('mirror-ctl') || time > $deadline;
ok(backend_saw('mirror-ctl'), 'control: mirror reaches the backend');

# the plain gate, for reference
my $r = get('/private/secret.html');
is($r->{status}, 302, 'gate: a browser without a session is redirected');
assert_blocked($r, 'gate');

# ---------------------------------------------------------- rewrite last

assert_blocked(get('/r/secret.html'), 'rewrite last into gated');
assert_blocked(get('/gout/out/secret.html'),
               'rewrite last out of gated and back in');
assert_blocked(get('/gout/pub/secret.html'),
               'rewrite last out of gated to public');
assert_blocked(get('/gout/brk/secret.html'), 'rewrite break inside gated');
assert_blocked(get('/gout/secret.html'), 'gated location with rewrites');

# ------------------------------------------------------------ try_files

assert_blocked(get('/tf/secret.html'), 'try_files to gated @named');
assert_blocked(get('/tf2/x'), 'try_files to a gated path');

# ----------------------------------------------------------- error_page

assert_blocked(get('/ep/x'), 'error_page 404 = gated path');
assert_blocked(get('/ep-plain/x'), 'error_page 404 gated path');
assert_blocked(get('/ep-named/x'), 'error_page 404 = @gated');

# the gate's own answers, with error_page ... = @open on the location

$r = get('/gep/secret.html');
is($r->{status}, 302, 'gated error_page: 302 stays a redirect');
assert_blocked($r, 'gated error_page 302');

$r = get('/gep/secret.html', accept => 'application/json');
is($r->{status}, 401, 'gated error_page: 401 stays');
assert_blocked($r, 'gated error_page 401 (API)');

assert_blocked(get('/gep/secret.html', method => 'POST',
                   headers => [['Content-Length', 0]]),
               'gated error_page 401 (POST)');

$r = get('/gep/secret.html', user => 'carol');
is($r->{status}, 429, 'gated error_page: 429 for a locked user stays');
assert_blocked($r, 'gated error_page 429');

$r = get('/gep-off/secret.html', user => 'bob');
is($r->{status}, 403, 'gated error_page: 403 without a factor stays');
assert_blocked($r, 'gated error_page 403');

$r = get('/gep-nouser/secret.html', user => undef);
is($r->{status}, 401, 'gated error_page: 401 without a user stays');
assert_blocked($r, 'gated error_page 401 (no user)');

# --------------------------------------------------------- satisfy any

$r = get('/sany/secret.html');
is($r->{status}, 302, 'satisfy any with allow: the gate still applies');
assert_blocked($r, 'satisfy any, allow 127.0.0.1');

assert_blocked(get('/sany-nobasic/secret.html',
                   headers => [['X-User', 'alice']]),
               'satisfy any, allow, no auth_basic');
assert_blocked(get('/sany-nobasic/secret.html', user => undef),
               'satisfy any, allow, no user');

# The second factor adds to the first, it does not stand in for it:
# a session cookie with a wrong password is not enough, under satisfy
# any as under satisfy all.

assert_blocked(get('/private/secret.html', password => 'wrong',
                   session => 1),
               'session, wrong password');
assert_blocked(get('/sany-basic/secret.html', password => 'wrong',
                   session => 1),
               'satisfy any: session, wrong password');

# The first factor answers first: a wrong password gets auth_basic's
# 401, never a redirect that tells whether the user is enrolled.

for my $user (qw(alice bob nobody)) {
    $r = get('/private/secret.html', user => $user, password => 'wrong');
    is($r->{status}, 401, "wrong password for $user: 401 from auth_basic");
    unlike(hdr($r, 'location') // '', qr{/_otp/},
           "wrong password for $user: not sent to the second factor");
}

# The first factor from auth_request: the gate must see the user that
# auth_request named, so it has to run after it.

$r = get('/idp-app/secret.html', user => undef);
assert_blocked($r, 'auth_request first factor, no session');
is($r->{status}, 302, 'auth_request first factor, no session: challenge');
$r = get('/idp-app/secret.html', user => undef, session => 1);
ok($r->{status} eq '200' && index($r->{body}, SECRET) >= 0,
   "auth_request first factor, with a session: served ($r->{status})");

# ------------------------------------------------------------------ if

assert_blocked(get('/ifl/secret.html', headers => [['X-If', '1']]),
               'if block inside gated');

# ---------------------------------------------------------- subrequests

for my $page (sort grep { $_ ne 'control' } keys %ssi) {
    $r = get("/ssi/$page.html");
    is($r->{status}, 200, "SSI page $page is public");
    like($r->{body}, qr/before.*after/s, "SSI page $page rendered");
    assert_blocked($r, "SSI include of $ssi{$page}", any_status => 1);
}

# A main request that passed a gate lets its subrequests into gated
# locations; one that passed only because otp_enroll is optional there
# has no second factor, and must not open locations that require one.

like(get('/opt/page.html', session => 1)->{body}, qr/\Q${\ SECRET}\E/,
     'control: a passed main request includes a gated file');
$r = get('/private/secret.html', user => 'bob');
is($r->{status}, 302, 'bob, without a factor, is sent to enroll');
$r = get('/opt/page.html', user => 'bob');
is($r->{status}, 200, 'bob passes where enrolling is optional');
assert_blocked($r, 'SSI from an otp_enroll optional location',
               any_status => 1);

$r = get('/add/page.html');
like($r->{body}, qr/addition page/, 'addition: the page itself is served');
assert_blocked($r, 'add_before_body of a gated file', any_status => 1);
$r = get('/add-gep/page.html');
like($r->{body}, qr/addition page/, 'addition: the page itself is served');
assert_blocked($r, 'add_after_body of a gated file with error_page',
               any_status => 1);

assert_blocked(get('/ar/secret.html'), 'auth_request to gated');
assert_blocked(get('/ar-gep/secret.html'),
               'auth_request to gated with error_page');

get('/mir/index.html');
get('/pa/index.html');
get('/pub/index.html');    # one more request: mirror and post_action done
sleep 0.3;
ok(!backend_saw('ssi-hit'), 'SSI include did not reach a gated upstream');
ok(!backend_saw('mirror-hit'), 'mirror did not reach a gated upstream');
ok(!backend_saw('post-action-hit'),
   'post_action did not reach a gated upstream');

# ------------------------------------------------ internal redirections

assert_blocked(get('/xa'), 'X-Accel-Redirect into gated');
assert_blocked(get('/idx/'), 'index into gated');

# ---------------------------------------------------------- path tricks

my @paths = (
    '/private/../private/secret.html',
    '/pub/../private/secret.html',
    '/%70rivate/secret.html',
    '/%70%72%69%76%61%74%65/secret.html',
    '/private/%2e%2e/private/secret.html',
    '/private/%2E%2E/private/secret.html',
    '/pub/%2e%2e/private/secret.html',
    '/pub/..%2fprivate/secret.html',
    '/pub%2f..%2fprivate%2fsecret.html',
    '//private/secret.html',
    '///private/secret.html',
    '/private//secret.html',
    '/./private/secret.html',
    '/private/./secret.html',
    '/private/.%2fsecret.html',
    '/private%2fsecret.html',
    '/private%2Fsecret.html',
    '/%2fprivate/secret.html',
    '/PRIVATE/secret.html',
    '/Private/secret.html',
    '/private/SECRET.HTML',
    '/private/secret.html%00',
    '/private/secret.html%00.txt',
    '/private/secret%2ehtml',
    '/private/secret.html/',
    '/private/secret.html;x',
    '/private/secret.html?x=1',
    '/private/secret.html#frag',
    '/private\\secret.html',
    '/private/%5csecret.html',
    '/private/secret.html%20',
    '/private/secret.html.',
    '/private/secret.html::$DATA',
    '/private/%252e%252e/secret.html',
    '/ctl/../private/secret.html',
    '/r/../private/secret.html',
);

push @paths, '/private', '/private/', '/private/%2e', '/private/.';

for my $path (@paths) {
    assert_blocked(get($path), "path $path");
}

# merge_slashes off: "//private/" is not "/private/" for the locations

is(get('/private/secret.html', send => { port => $port2 })->{status}, 302,
   'merge_slashes off: the gate works on /private/');

for my $path ('//private/secret.html', '/private//secret.html',
              '///private/secret.html', '/.//private/secret.html',
              '/%2fprivate/secret.html')
{
    assert_blocked(get($path, send => { port => $port2 }),
                   "merge_slashes off: $path");
}

# -------------------------------------------- methods and request lines

for my $method (qw(HEAD OPTIONS PROPFIND PROPPATCH MKCOL COPY MOVE LOCK
                   PUT DELETE PATCH FOO))
{
    assert_blocked(get('/private/secret.html', method => $method,
                       headers => [['Content-Length', 0]]),
                   "method $method");
}

for my $override (qw(GET HEAD)) {
    assert_blocked(get('/private/secret.html', method => 'POST',
                       headers => [['X-HTTP-Method-Override', $override],
                                   ['X-Method-Override', $override],
                                   ['Content-Length', 0]]),
                   "POST with X-HTTP-Method-Override: $override");
}

assert_blocked(get('/private/secret.html',
                   headers => [['Range', 'bytes=0-9']]),
               'Range request');
assert_blocked(get('/private/secret.html',
                   headers => [['If-Modified-Since',
                                'Thu, 01 Jan 1970 00:00:00 GMT']]),
               'conditional request');
assert_blocked(get('/private/secret.html',
                   headers => [['X-Requested-With', 'XMLHttpRequest']]),
               'XHR');

assert_blocked(get('/private/secret.html',
                   request => { proto => 'HTTP/1.0', no_host => 1 }),
               'HTTP/1.0 without Host');
assert_blocked(get('/private/secret.html', request => { proto => '' }),
               'HTTP/0.9 request line');
assert_blocked(get('http://other/private/secret.html'),
               'absolute-form request line, other host');
assert_blocked(get('http://other//private/secret.html'),
               'absolute-form request line, double slash');
assert_blocked(get("http://127.0.0.1:$port2//private/secret.html"),
               'absolute-form naming the merge_slashes off server');
assert_blocked(get('/private/secret.html', request => { host => 'other' }),
               'unknown Host');

# two requests on one connection: the second one is gated as well

$r = send_raw($t, http_request(path => '/pub/index.html', user => 'alice',
                               keepalive => 1)
                  . http_request(path => '/private/secret.html',
                                 user => 'alice'));
like($r->{raw}, qr/public page/, 'pipelined: the first answer came');
assert_blocked($r, 'pipelined second request', any_status => 1);

# ------------------------------------------------- Redis down: 503 stays

$t->stop_redis;

$r = get('/gep/secret.html');
is($r->{status}, 503, 'gated error_page: 503 with Redis down stays');
assert_blocked($r, 'gated error_page 503');
assert_blocked(get('/r/secret.html'), 'rewrite into gated, Redis down');
assert_blocked(get('/ssi/private.html'), 'SSI include, Redis down',
               any_status => 1);

# ------------------------------------------------------------ nginx -t

sub nginx_t {
    my ($locations) = @_;
    $t->write_conf(
        OtpTest::http_conf(<<"EOF", key => $key, redis => 0), 'warn.conf');
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location /_otp/ { otp_endpoint; }
        $locations
    }
EOF
    return $t->nginx_test("$d/warn.conf");
}

my $warning = qr/"otp on" in location "([^"]*)", which has "return"/;

my ($rc, $out) = nginx_t(<<'EOF');
        location /ret/ { otp on; return 200 "ok"; }
        location /set/ { otp on; set $x 1; }
        location /rw/ { otp on; rewrite ^ /elsewhere last; }
        location /if/ { otp on; if ($arg_a) { return 403; } }
        location /outer/ {
            otp on;
            location /outer/inner/ { return 204; }
        }
        location @named { otp on; return 200; }
        location /clean/ { otp on; }
        location /ungated/ { return 200; }
EOF
is($rc, 0, 'nginx -t: warnings do not fail the configuration') or diag($out);
my %warned = map { $_ => 1 } $out =~ /$warning/g;
for my $loc ('/ret/', '/set/', '/rw/', '/if/', '/outer/inner/', '@named') {
    ok($warned{$loc}, "nginx -t warns about $loc") or diag($out);
}
like($out, qr/\[warn\].*"otp on" in location "\/ret\/"/,
     'the warning is a [warn]');
ok(!$warned{'/clean/'}, 'no warning for a gated location without them');
ok(!$warned{'/ungated/'}, 'no warning for an ungated location');

($rc, $out) = nginx_t(<<'EOF');
        location /clean/ { otp on; }
        location /also/ { otp on; try_files $uri =404; }
        location /ungated/ { return 200; set $x 1; }
EOF
is($rc, 0, 'nginx -t: a clean configuration passes') or diag($out);
unlike($out, qr/"otp on" in location/, 'a clean configuration: no warning');
unlike($out, qr/merge_slashes/, 'merge_slashes on: no warning about it');

# merge_slashes off: "//gated/" is not matched by "location /gated/".
# The gate refuses such URIs for gated prefixes at run time (the requests
# above); a gated regular expression location it cannot check, and nginx
# -t says so.

($rc, $out) = nginx_t(<<'EOF');
        merge_slashes off;
        location / { }
        location /gated/ { otp on; }
        location ~ ^/re/ { otp on; }
EOF
is($rc, 0, 'nginx -t: merge_slashes off passes') or diag($out);
my @slashes = grep { /merge_slashes/ } split /\n/, $out;
ok((grep { /\[warn\].*"\^\/re\/"/ } @slashes),
   'nginx -t warns about a gated regex location under merge_slashes off')
    or diag($out);
ok(!(grep { /"\/gated\/"/ } @slashes),
   'a gated prefix location needs no warning: it is checked at run time')
    or diag($out);

$t->stop;

done_testing();
