#!/usr/bin/perl

# Policy (issue 6, SPEC section 3): otp_bypass (values like
# proxy_cache_bypass, a trusted network with geo, subrequests), the
# step-up of otp_max_age (a browser goes to the challenge, an API gets
# 401, a new code makes the location open again), the otp_enroll modes
# with recovery codes and an administrator's require-enroll, and
# nginx -t on the new directives.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site);
use OtpHttp qw(hdr);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %port = map { $_ => OtpTest::free_port() } qw(optional off);

users($t, qw(alice bob carol dave erin frank gina));
for my $d (qw(site ssi)) {
    mkdir $t->dir . "/$d";
}
$t->write_file('site/index.html', "private page\n", 0644);
$t->write_file('ssi/index.html',
               "before\n<!--# include virtual=\"/office/index.html\" -->"
               . "after\n", 0644);
$t->write_file('ssi/gated.html',
               "before\n<!--# include virtual=\"/private/index.html\" -->"
               . "after\n", 0644);

$t->run_redis;

my $vars = join "\n", map { "            add_header $_ always;" }
    'X-OTP-Status "$otp_status"', 'X-OTP-Method "$otp_method"',
    'X-OTP-Age "$otp_session_age"';

my $common = <<"EOF";
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ {
            otp_endpoint;
        }

        location /private/ {
            otp on;
            alias %%DIR%%/site/;
$vars
        }

        location /_otp_admin/ {
            auth_basic off;
            otp_admin;
        }
EOF

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    otp_totp_skew 5;

    geo \$trusted {
        default     0;
        127.0.0.1   1;
    }

    geo \$office {
        default     0;
        10.0.0.0/8  1;
    }

    server {
        listen 127.0.0.1:%%PORT%%;
$common
        # otp_bypass: values as in proxy_cache_bypass
        location /skip/ {
            otp on;
            otp_bypass \$arg_skip \$http_x_health;
            alias %%DIR%%/site/;
$vars
        }

        # a trusted network (geo), no first factor needed there: no
        # user either, so that no one else gets further than a 401
        location /office/ {
            auth_basic off;
            otp on;
            otp_user "";
            otp_bypass \$trusted;
            alias %%DIR%%/site/;
$vars
        }

        location /elsewhere/ {
            otp on;
            otp_bypass \$office;
            alias %%DIR%%/site/;
$vars
        }

        location /ssi/ {
            auth_basic off;
            ssi on;
            alias %%DIR%%/ssi/;
        }

        # step-up: a code entered within the last 2 seconds
        location /admin/ {
            otp on;
            otp_max_age 2s;
            alias %%DIR%%/site/;
$vars

            location /admin/relaxed/ {
                otp_max_age off;
                alias %%DIR%%/site/;
$vars
            }
        }
    }

    server {
        listen 127.0.0.1:$port{optional};
        otp_enroll optional;
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

sub flow {
    my ($user, $p) = @_;
    return OtpFlow->new($p ? site($t, $p) : $t, user => $user);
}

sub enrolled {
    my ($user, $p) = @_;
    my $f = flow($user, $p);
    $f->enroll;
    return $f;
}

# ------------------------------------------------------------ otp_bypass

my $alice = flow('alice');

my $r = $alice->get('/skip/index.html?skip=1');
is($r->{status}, 200, 'otp_bypass $arg_skip, skip=1: passes');
is($r->{content}, "private page\n", 'content served');
is(hdr($r, 'x-otp-status'), 'bypassed', '$otp_status bypassed');
is(hdr($r, 'x-otp-method') // '', '', '$otp_method empty');
is(cookie_value($r, 'otp_session'), undef, 'no session made');

$r = $alice->get('/skip/index.html?skip=yes');
is($r->{status}, 200, 'skip=yes (non-empty, not "0"): passes');

for my $q ('?skip=0', '?skip=', '', '?other=1') {
    $r = $alice->get("/skip/index.html$q");
    is($r->{status}, 302, "\"$q\": not bypassed, 302 to enroll");
    is(hdr($r, 'x-otp-status'), 'challenged', '... $otp_status challenged');
}

$r = $alice->get('/skip/index.html', headers => { 'X-Health' => 'check' });
is($r->{status}, 200, 'the second value (X-Health header): passes');
$r = $alice->get('/skip/index.html', headers => { 'X-Health' => '0' });
is($r->{status}, 302, 'X-Health: 0: not bypassed');

$r = $alice->get('/skip/index.html?skip=1',
                 headers => { Accept => 'application/json' });
is($r->{status}, 200, 'an API request is bypassed too');

# a trusted network with geo: the test client is 127.0.0.1
$r = $t->http->get($t->url('/office/index.html'));
is($r->{status}, 200, 'geo: 127.0.0.1 is trusted, passes');
is(hdr($r, 'x-otp-status'), 'bypassed', '$otp_status bypassed');
is($r->{content}, "private page\n", 'content served');

$r = $alice->get('/elsewhere/index.html');
is($r->{status}, 302, 'geo: 127.0.0.1 is not in 10.0.0.0/8, challenged');

# subrequests: an SSI include of a location that bypasses for it
$r = $t->http->get($t->url('/ssi/index.html'));
is($r->{content}, "before\nprivate page\nafter\n",
   'SSI include of a bypassed location is served');
$r = $t->http->get($t->url('/ssi/gated.html'));
unlike($r->{content}, qr/private page/,
       'SSI include of a gated location without bypass is not');

# --------------------------------------------------------- otp_max_age

my $bob = enrolled('bob');

$r = $bob->get('/admin/index.html');
is($r->{status}, 200, 'otp_max_age 2s: right after the code, passes');
ok(hdr($r, 'x-otp-age') <= 1, '$otp_session_age ' . hdr($r, 'x-otp-age'));

sleep 3.1;

$r = $bob->get('/admin/index.html?x=1');
is($r->{status}, 302, 'the code is 3s old: 302');
like($r->{headers}{location} // '',
     qr{^\Q$origin\E/_otp/challenge\?r=/admin/index\.html%3Fx%3D1$},
     '... to the challenge, and back');
is(hdr($r, 'x-otp-status'), 'challenged', '$otp_status challenged');
unlike($r->{content} // '', qr/private page/, 'no content');

$r = $bob->get('/admin/index.html',
               headers => { Accept => 'application/json' });
is($r->{status}, 401, 'an API request: 401');
like($r->{content}, qr/"error":"otp_required"/, 'otp_required');
like(hdr($r, 'www-authenticate') // '', qr/^OTP realm=/, 'WWW-Authenticate');

$r = $bob->get('/private/index.html');
is($r->{status}, 200, 'the same session still opens /private/');
ok(hdr($r, 'x-otp-age') >= 3, '$otp_session_age is the code\'s age');

$r = $bob->get('/admin/relaxed/index.html');
is($r->{status}, 200, 'otp_max_age off in a nested location: passes');

# again through Redis, not the worker's memory: a new worker cache slot
# would not matter; the session's record says when the code was entered
my $old = $bob->cookie;
$r = $bob->verify(time => time + 30, return => '/admin/index.html');
is($r->{status}, 303, 'a new code');
isnt($bob->cookie, $old, 'a new session');
$r = $bob->get('/admin/index.html');
is($r->{status}, 200, 'the admin area opens again');
ok(hdr($r, 'x-otp-age') <= 1, 'with a fresh $otp_session_age');

$bob->set_cookie($old);
$r = $bob->get('/admin/index.html');
is($r->{status}, 302, 'the old session still does not');

# a recovery code is a code entered too
my $carol = flow('carol');
my ($ep, $secret, $csrf) = $carol->enroll_page('/admin/');
$r = $carol->post('enroll', { code => totp($secret), csrf => $csrf });
my ($code) = $r->{content} =~ m{<li>([0-9A-Z]{5}-[0-9A-Z]{5})</li>};
$carol->set_cookie(cookie_value($r, 'otp_session'));
$t->redis('HSET', $_, 'a', time - 60)
    for @{ $t->redis('SMEMBERS', okey('su', 'carol')) };
$r = $carol->get('/admin/index.html');
is($r->{status}, 302, 'a session whose code is a minute old: 302');
(undef, $csrf) = $carol->challenge('/admin/');
$r = $carol->verify(csrf => $csrf, code => $code,
                    extra => { method => 'recovery' });
is($r->{status}, 303, 'a recovery code');
$r = $carol->get('/admin/index.html');
is($r->{status}, 200, 'opens the admin area again');

# ------------------------------------------------------------ otp_enroll

# optional: no factor passes, a factor is asked for, require-enroll holds
my $dave = flow('dave', $port{optional});
$r = $dave->get('/private/index.html');
is($r->{status}, 200, 'optional, no factor: passes');
is(hdr($r, 'x-otp-status'), 'bypassed', '... bypassed');
$r = $dave->get('/_otp/challenge?r=/private/');
is($r->{status}, 303, 'optional, no factor: the challenge sends back');
$r = $dave->get('/_otp/recovery?r=/private/');
is($r->{status}, 302, 'optional, no factor: recovery codes need one first');
like($r->{headers}{location} // '', qr{/_otp/enroll\?}, '... to enroll');

$dave->enroll;
$dave->set_cookie(undef);
$r = $dave->get('/private/index.html');
is($r->{status}, 302, 'optional, enrolled: challenged');
like($r->{headers}{location} // '', qr{/_otp/challenge\?}, '... challenge');

(undef, $csrf) = $dave->challenge('/private/');
$r = $t->http->request('POST',
                       $t->url('/_otp_admin/users/dave/require-enroll'));
is($r->{status}, 200, 'admin: dave must enroll again');
$r = $dave->get('/private/index.html');
is($r->{status}, 302, 'optional, must enroll: 302');
like($r->{headers}{location} // '', qr{/_otp/enroll\?}, '... to enroll');
$r = $dave->verify(csrf => $csrf, time => time + 30);
is($r->{status}, 302, 'optional, must enroll: verify sends to enroll');
like($r->{headers}{location} // '', qr{/_otp/enroll\?}, '... enroll');

# off: an administrator's enrollment is the only way in
my $erin = flow('erin', $port{off});
$r = $erin->get('/private/index.html');
is($r->{status}, 403, 'off, no factor: 403');
$r = $erin->get('/_otp/recovery');
is($r->{status}, 403, 'off, no factor: no recovery codes either');
$r = $erin->get('/_otp/enroll');
is($r->{status}, 403, 'off: no enroll page');

# erin enrolled elsewhere (same Redis): off lets her sign in
my $erin2 = flow('erin');
$erin2->enroll;
$erin->{secret} = $erin2->secret;
$r = $erin->get('/private/index.html');
is($r->{status}, 302, 'off, enrolled: challenged');
$r = $erin->verify(time => time + 30);
is($r->{status}, 303, 'off, enrolled: a code signs in');
$r = $erin->get('/private/index.html');
is($r->{status}, 200, '... and opens the location');

$r = $t->http->request('DELETE', $t->url('/_otp_admin/users/erin/totp'));
is($r->{status}, 200, 'admin forgets erin\'s authenticator');
$erin->set_cookie(undef);
$r = $erin->get('/private/index.html');
is($r->{status}, 403, 'off, forgotten: 403 again');

# required (the default): a recovery code is no way around enrolling
my $frank = enrolled('frank');
$frank->set_cookie(undef);
(undef, $csrf) = $frank->challenge('/private/');
$r = $t->http->request('POST',
                       $t->url('/_otp_admin/users/frank/require-enroll'));
$r = $frank->verify(csrf => $csrf, code => 'AAAAA-AAAAA',
                    extra => { method => 'recovery' });
is($r->{status}, 302, 'required, must enroll: a recovery code sends to '
                      . 'enroll');
like($r->{headers}{location} // '', qr{/_otp/enroll\?}, '... enroll');

$t->stop;

# -------------------------------------------------------------- nginx -t

sub conf {
    my ($loc, $http) = @_;
    $http //= '';
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file htpasswd;
        location / {
            otp on;
            $loc
        }
    }
}
EOF
}

sub nginx_t {
    $t->write_conf(conf(@_), 'test.conf');
    return $t->nginx_test($t->dir . '/test.conf');
}

my ($rc, $out) = nginx_t('otp_bypass $arg_a $http_b; otp_bypass $c;'
                         . ' otp_max_age 5m; otp_remember_device 30d;'
                         . ' otp_methods totp recovery sms;'
                         . ' otp_enroll_type hotp;',
                         'geo $c { default 0; }');
is($rc, 0, 'every new directive with a valid value passes') or diag($out);

($rc, $out) = nginx_t('otp_max_age off; otp_remember_device off;');
is($rc, 0, '"off" passes') or diag($out);

($rc, $out) = nginx_t('otp_methods link totp; otp_link_ttl 30s;');
is($rc, 0, 'otp_methods link passes');
unlike($out, qr/"otp_methods"|"otp_link_ttl"/, '... without a warning');

($rc, $out) = nginx_t('otp_link_ttl 2h;');
isnt($rc, 0, 'otp_link_ttl above 1h fails');
like($out, qr/"otp_link_ttl" must be at most 1h/, '... saying so');

($rc, $out) = nginx_t('otp_link_ttl 0;');
isnt($rc, 0, 'otp_link_ttl 0 fails');
like($out, qr/otp_link_ttl/, '... naming the directive');

for my $case (
    ['otp_bypass without a value', 'otp_bypass', 'otp_bypass;'],
    ['otp_max_age 0', 'otp_max_age', 'otp_max_age 0;'],
    ['otp_max_age garbage', 'otp_max_age', 'otp_max_age soon;'],
    ['otp_max_age twice', 'otp_max_age', 'otp_max_age 1m; otp_max_age 2m;'],
    ['otp_remember_device 401d', 'otp_remember_device',
        'otp_remember_device 401d;'],
    ['otp_remember_device on', 'otp_remember_device',
        'otp_remember_device on;'],
    ['otp_methods unknown', 'otp_methods', 'otp_methods totp email;'],
    ['otp_methods twice the same', 'otp_methods',
        'otp_methods totp totp;'],
    ['otp_methods twice', 'otp_methods',
        'otp_methods totp; otp_methods recovery;'],
    ['otp_enroll_type sms', 'otp_enroll_type', 'otp_enroll_type sms;'],
)
{
    my ($name, $directive, $loc) = @$case;
    ($rc, $out) = nginx_t($loc);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, qr/"\Q$directive\E"/, "$name: the message names $directive")
        or diag($out);
}

done_testing;
