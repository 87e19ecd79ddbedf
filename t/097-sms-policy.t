#!/usr/bin/perl

# SMS with the other methods and policies: a user with only a phone
# ticks "trust this browser" and comes back with the device cookie
# alone; a user with an app, recovery codes and a phone gets the app
# first, recovery codes when asked for, the text once one was sent;
# otp_max_age asks an SMS session for a fresh code, and a text gives
# one.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site);
use OtpHttp qw(hdr);
use OtpSms qw(code_of path_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(admin alice bob carol));
mkdir $t->dir . '/site';
mkdir $t->dir . '/site/admin';
$t->write_file('site/index.html', "private page\n", 0644);
$t->write_file('site/admin/index.html', "admin page\n", 0644);

$t->run_redis;

my $prov = OtpSms->new($t)->start;
my $pp = $prov->port;

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp sms recovery;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        otp_sms_resend_delay 0;
        otp_remember_device 30d;
        location /_otp/ {
            otp_endpoint;
        }
        location /_otp_admin/ {
            otp_admin;
        }
        location /private/ {
            otp on;
            alias %%DIR%%/site/;
            add_header X-OTP-Method "\$otp_method" always;
        }
        location /private/admin/ {
            otp on;
            otp_max_age 2s;
            otp_remember_device off;
            alias %%DIR%%/site/admin/;
            add_header X-OTP-Method "\$otp_method" always;
        }
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/json;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$pp/send;
        }
    }
}
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $ret = '/private/index.html';

sub follow {
    my ($f, $r) = @_;
    return $f->get(path_of($r->{headers}{location}));
}

# sends a text from the challenge and signs in with it
sub sms_sign_in {
    my ($f, %o) = @_;
    $prov->clear;
    my ($r, $csrf) = send_code($f, return => $o{return} // $ret);
    die "send: $r->{status}\n" unless $r->{status} == 303;
    my ($req) = $prov->wait_requests(1);
    return $f->post('verify', { csrf => $csrf, code => code_of($req),
                                method => 'sms',
                                return => $o{return} // $ret,
                                %{ $o{extra} || {} } });
}

# ---------------------------------------------- trust this browser

set_phone($t, 'alice', '+15555550123');
my $alice = OtpFlow->new($t, user => 'alice');

# sending is the first step: the code form, and its box, come after
$prov->clear;
my ($sent) = send_code($alice, return => $ret);
my $page = $alice->get(path_of($sent->{headers}{location}));
like($page->{content}, qr/name="remember" value="1"/,
     'a phone-only user: "trust this browser" on offer');

my ($req) = $prov->wait_requests(1);
my $r = $alice->post('verify', {
    csrf => form_field($page->{content}, 'csrf'),
    code => code_of($req), method => 'sms', return => $ret, remember => 1,
});
is($r->{status}, 303, 'signed in by SMS, the box ticked');
my $dev = cookie_value($r, 'otp_session_device');
ok($dev, '... a device cookie');

$r = $alice->get($ret, headers => { Cookie => "otp_session_device=$dev" });
is($r->{status}, 200, 'the device cookie alone opens the gate');
is(hdr($r, 'x-otp-method'), 'remembered', '... $otp_method remembered');

# ------------------------------------ app, recovery codes and a phone

my $bob = OtpFlow->new($t, user => 'bob');
my $secret = $bob->enroll(return => $ret);
set_phone($t, 'bob', '+15555550199');
$bob->set_cookie(undef);

($page) = $bob->challenge($ret);
like($page->{content}, qr/name="method" value="totp"/, 'bob: the app first');
like($page->{content}, qr/action="sms"/, '... a text on offer');
like($page->{content}, qr/recovery\s+code/, '... and recovery codes');

$page = $bob->get("/_otp/challenge?method=recovery&r=$ret");
like($page->{content}, qr/name="method" value="recovery"/,
     'method=recovery: the recovery code it asks for');
like($page->{content}, qr/action="sms"/, '... texts still on offer');

$prov->clear;
my $csrf = form_field($page->{content}, 'csrf');
$r = $bob->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 303, 'a text from there');
$page = follow($bob, $r);
like($page->{content}, qr/name="method" value="sms"/,
     '... then the page asks for it');
like($page->{content}, qr/recovery\s+code/, '... recovery codes still there');

# ------------------------------------------------------ otp_max_age

my $carol = OtpFlow->new($t, user => 'carol');
set_phone($t, 'carol', '+15555550111');
$r = sms_sign_in($carol, return => '/private/admin/');
is($r->{status}, 303, 'carol: signed in by SMS');
$carol->set_cookie(cookie_value($r, 'otp_session'));
$r = $carol->get('/private/admin/');
is($r->{status}, 200, 'the admin area with a fresh code');
is(hdr($r, 'x-otp-method'), 'sms', '... $otp_method sms');

sleep 3;
$r = $carol->get('/private/admin/');
is($r->{status}, 302, 'after otp_max_age: back to the challenge');
like($r->{headers}{location} // '', qr{/_otp/challenge\?r=/private/admin/},
     '... which returns to the admin area');
is($carol->get($ret)->{status}, 200, '... the rest of the site still open');

$r = sms_sign_in($carol, return => '/private/admin/');
is($r->{status}, 303, 'a new text');
$carol->set_cookie(cookie_value($r, 'otp_session'));
is($carol->get('/private/admin/')->{status}, 200, '... opens it again');

$prov->stop;
$t->stop;

done_testing;
