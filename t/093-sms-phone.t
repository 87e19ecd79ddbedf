#!/usr/bin/perl

# Phone numbers (issue 5): a user with no factor enrolls a number on
# sms.html; invalid numbers are refused and nothing is sent; a valid one
# gets a code and is stored (sealed) only once that code signs in; it
# is shown masked; changing a stored number needs a session; a number
# from otp_sms_phone is a factor of its own and cannot be changed here;
# "otp_methods sms" alone sends users with nothing to sms.html;
# otp_enroll off refuses; a number confirmed after the user got another
# factor meanwhile is not stored.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field cookie_value);
use OtpAttack qw(users site html_unescape);
use OtpHttp qw(hdr);
use OtpSms qw(code_of path_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;
my %port = map { $_ => OtpTest::free_port() } qw(smsonly idp off);

users($t, qw(admin carol dave erin frank gina hank));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $prov = OtpSms->new($t)->start;
my $pp = $prov->port;

my $common = <<"EOF";
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        otp_sms_resend_delay 0;
        location /_otp/ {
            otp_endpoint;
        }
        location /_otp_admin/ {
            otp_admin;
        }
        location /private/ {
            otp on;
            alias %%DIR%%/site/;
        }
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/json;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$pp/send;
        }
EOF

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;

    map \$remote_user \$idp_phone {
        erin    "+15555550777";
        default "";
    }

    server {
        listen 127.0.0.1:%%PORT%%;
        otp_methods totp sms;
$common
    }

    server {
        listen 127.0.0.1:$port{smsonly};
        otp_methods sms;
$common
    }

    server {
        listen 127.0.0.1:$port{idp};
        otp_methods totp sms;
        otp_sms_phone \$idp_phone;
$common
    }

    server {
        listen 127.0.0.1:$port{off};
        otp_methods totp sms;
        otp_enroll off;
$common
    }
}
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $P = 'otp:';
my $ret = '/private/index.html';

sub admin_phone {
    my ($user) = @_;
    my $r = $t->get("/_otp_admin/users/$user",
                    Authorization => OtpFlow::basic_auth('admin'));
    my ($p) = $r->{content} =~ /"phone":\s*("[^"]*"|null)/;
    return $p;
}

sub follow {
    my ($f, $r) = @_;
    return $f->get(path_of($r->{headers}{location}));
}

sub verify_sms {
    my ($f, $csrf, $code) = @_;
    return $f->post('verify', { csrf => $csrf, code => $code,
                                method => 'sms', return => $ret });
}

# ----------------------------------------------------------- enrollment

my $carol = OtpFlow->new($t, user => 'carol');

my $r = $carol->get($ret);
is($r->{status}, 302, 'no factor: 302');
like($r->{headers}{location}, qr{/_otp/enroll\?r=}, '... to enrollment');

my ($page) = $carol->enroll_page($ret);
like($page->{content}, qr{<a href="sms\?r=/private/index\.html">},
     'the enrollment page offers texts instead');

$page = $carol->get("/_otp/sms?r=$ret");
is($page->{status}, 200, 'GET sms: the phone page');
like($page->{content}, qr{<form method="post" action="sms">}, '... a form');
like($page->{content}, qr{<input type="tel" id="phone" name="phone"},
     '... a tel input');
like($page->{content}, qr{<a href="enroll\?r=/private/index\.html">},
     '... and a way back to the authenticator app');
is(form_field($page->{content}, 'return'), $ret, '... the return field');
my $csrf = form_field($page->{content}, 'csrf');
like($csrf // '', qr/^[A-Za-z0-9_-]{22}\./, '... a challenge-bound token');

for my $bad ('12345', '+0123456789', '+1555abc0123', '+1234567',
             '+1234567890123456', '0044 7911 123456', '<b>+1</b>')
{
    $r = $carol->post('sms', { csrf => $csrf, return => $ret,
                               phone => $bad });
    is($r->{status}, 400, "\"$bad\": 400");
}
like($r->{content}, qr/does not look like a mobile number/,
     '... says why');
like($r->{content}, qr{value="&lt;b&gt;\+1&lt;/b&gt;"},
     '... the number shown again, escaped');
like($r->{content}, qr{aria-invalid="true"}, '... marked invalid');
is(scalar $prov->requests, 0, '... nothing sent');
is(admin_phone('carol'), undef, '... nothing stored (no user record)');

$r = $carol->post('sms', { csrf => $csrf, return => $ret,
                           phone => '+44 (7911) 123-456' });
is($r->{status}, 303, 'a valid number, written with spaces: 303');
like($r->{headers}{location}, qr{challenge\?method=sms&c=}, '... challenge');
my @req = $prov->wait_requests(1);
like($req[0]{body}, qr/"to":"\+447911123456"/,
     '... a code to the number, normalized');
is($t->redis('HEXISTS', okey('u', 'carol'), 'phone'), 0,
   '... not stored before it is confirmed');

$page = follow($carol, $r);
like($page->{content}, qr{Code sent to \+4479\*\*\*3456\.},
     'the challenge shows the number masked');
unlike($page->{content}, qr{authenticator app</a>},
       '... no authenticator to switch to');
$csrf = form_field($page->{content}, 'csrf');

my $code = code_of($req[0]);
my $w = $code eq '000000' ? '000001' : '000000';
$r = verify_sms($carol, $csrf, $w);
is($r->{status}, 401, 'a wrong code: 401');
is($t->redis('HEXISTS', okey('u', 'carol'), 'phone'), 0, '... still not stored');

$r = verify_sms($carol, $csrf, $code);
is($r->{status}, 303, 'the code: signed in');
my $cookie = cookie_value($r, 'otp_session');
ok($cookie, '... with a session');
my $sealed = $t->redis('HGET', okey('u', 'carol'), 'phone') // '';
ok(length $sealed > 29, 'the number is stored');
unlike($sealed, qr/7911123456|447911/, '... sealed, not in the clear');
is(admin_phone('carol'), '"+4479***3456"', '... the admin API shows it masked');
like($t->error_log, qr/user "carol" enrolled a phone number/,
     '... logged');

# the next sign-in: the number is a factor

$carol->set_cookie(undef);
$r = $carol->get($ret);
like($r->{headers}{location} // '', qr{/_otp/challenge\?},
     'next time: the challenge, not enrollment');
$prov->clear;
($r, $csrf) = send_code($carol);
is($r->{status}, 303, '... a text');
@req = $prov->wait_requests(1);
like($req[0]{body}, qr/"to":"\+447911123456"/, '... to the stored number');
$page = follow($carol, $r);
$csrf = form_field($page->{content}, 'csrf');
$r = verify_sms($carol, $csrf, code_of($req[0]));
is($r->{status}, 303, '... signs in');
$cookie = cookie_value($r, 'otp_session');

# ------------------------------------------------------------ changing

$carol->set_cookie(undef);
$r = $carol->get("/_otp/sms?r=$ret");
is($r->{status}, 302, 'change without a session: GET sms redirects');
like($r->{headers}{location}, qr{/_otp/challenge\?}, '... to the challenge');

(undef, $csrf) = $carol->challenge($ret);
$prov->clear;
$r = $carol->post('sms', { csrf => $csrf, return => $ret,
                           phone => '+15555550100' });
is($r->{status}, 403, 'POST sms with a new number, no session: 403');
like($r->{content}, qr/Sign in/, '... sign in first');
is(scalar $prov->requests, 0, '... nothing sent');

$carol->set_cookie($cookie);
$page = $carol->get("/_otp/sms?r=$ret");
is($page->{status}, 200, 'with a session: the phone page');
$csrf = form_field($page->{content}, 'csrf');
$r = $carol->post('sms', { csrf => $csrf, return => $ret,
                           phone => '+15555550100' });
is($r->{status}, 303, '... the new number gets a code');
@req = $prov->wait_requests(1);
like($req[0]{body}, qr/"to":"\+15555550100"/, '... at the new number');
is(admin_phone('carol'), '"+4479***3456"', '... the old one until then');
$page = follow($carol, $r);
like($page->{content}, qr{\+1555\*\*\*0100}, '... the page shows the new');

# a resend goes to the number being confirmed
$r = $carol->post('sms', { csrf => form_field($page->{content}, 'csrf'),
                           return => $ret });
is($r->{status}, 303, 'a resend');
@req = $prov->wait_requests(2);
like($req[1]{body}, qr/"to":"\+15555550100"/, '... to the same new number');
$r = verify_sms($carol, form_field($page->{content}, 'csrf'),
                code_of($req[1]));
is($r->{status}, 303, 'confirmed');
is(admin_phone('carol'), '"+1555***0100"', '... the new number is stored');

# -------------------------------------------------- otp_methods sms only

my $dave = OtpFlow->new(site($t, $port{smsonly}), user => 'dave');
$r = $dave->get($ret);
like($r->{headers}{location} // '', qr{/_otp/sms\?r=},
     'otp_methods sms, no factor: sent to the phone page');
$page = $dave->get(path_of($r->{headers}{location}));
unlike($page->{content}, qr{authenticator app}, '... without the app link');

# -------------------------------------------------------- otp_sms_phone

my $erin = OtpFlow->new(site($t, $port{idp}), user => 'erin');
$r = $erin->get($ret);
like($r->{headers}{location} // '', qr{/_otp/challenge\?},
     'otp_sms_phone: a factor, the challenge');
$prov->clear;
($r, $csrf) = send_code($erin);
is($r->{status}, 303, '... a text');
@req = $prov->wait_requests(1);
like($req[0]{body}, qr/"to":"\+15555550777"/, '... to the number it gives');
$page = follow($erin, $r);
like($page->{content}, qr{\+1555\*\*\*0777}, '... masked on the page');
$r = verify_sms($erin, $csrf, code_of($req[0]));
is($r->{status}, 303, '... signs in');
$erin->set_cookie(cookie_value($r, 'otp_session'));
$r = $erin->get('/_otp/sms');
like($r->{headers}{location} // '', qr{/_otp/challenge},
     '... the phone page is not for it');
$r = $erin->post('sms', { csrf => $csrf, return => $ret,
                          phone => '+15555550100' });
is($r->{status}, 400, '... nor is POST sms with a number');
is($t->redis('HEXISTS', okey('u', 'erin'), 'phone'), 0, '... nothing stored');

my $gina = OtpFlow->new(site($t, $port{idp}), user => 'gina');
$r = $gina->get($ret);
like($r->{headers}{location} // '', qr{/_otp/enroll\?},
     'otp_sms_phone empty for a user: no factor, enrollment');

# --------------------------------------------------------- otp_enroll off

my $frank = OtpFlow->new(site($t, $port{off}), user => 'frank');
$r = $frank->get('/_otp/sms');
is($r->{status}, 403, 'otp_enroll off: no phone page');

# ------------------------------------------- a factor arrived meanwhile

my $hank = OtpFlow->new($t, user => 'hank');
$page = $hank->get("/_otp/sms?r=$ret");
$csrf = form_field($page->{content}, 'csrf');
$prov->clear;
$r = $hank->post('sms', { csrf => $csrf, return => $ret,
                          phone => '+15555550123' });
is($r->{status}, 303, 'hank, no factor: a number to confirm');
@req = $prov->wait_requests(1);
set_phone($t, 'hank', '+15555550999');
$r = verify_sms($hank, $csrf, code_of($req[0]));
is($r->{status}, 403, 'an admin set a number meanwhile: 403');
ok(!cookie_value($r, 'otp_session'), '... no session');
is(admin_phone('hank'), '"+1555***0999"', '... the admin\'s number stays');

my $log = $t->error_log;
unlike($log, qr/447911123456|5555550100|5555550777|5555550123/,
       'no phone number in the error log');

$prov->stop;
$t->stop;

done_testing;
