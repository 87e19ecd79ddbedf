#!/usr/bin/perl

# SPEC 6.9 for SMS: with error_log at debug (nginx logs the values of
# variables and the headers it sends upstream at debug), after texts
# sent through a JSON provider and a form provider with credentials,
# a refused send, wrong and right codes and a phone enrollment, no code,
# no provider credential and no full phone number is in the error log,
# at any level, nor in the access log.  A location that logs the text
# on purpose (log_subrequest, as the demo does) gets it there, and only
# there.

use strict;
use warnings;

use MIME::Base64 qw(encode_base64);
use Test::More;

use OtpTest;
use OtpFlow qw(form_field cookie_value);
use OtpAttack qw(users site);
use OtpSms qw(code_of path_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;
my %port = map { $_ => OtpTest::free_port() } qw(form demo);

users($t, qw(admin alice bob carol dave));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $prov = OtpSms->new($t)->start;
my $pp = $prov->port;

my $cred = encode_base64('ACsecret:provider-token-5d41402a', '');

my $common = <<'EOF';
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        access_log %%DIR%%/access.log combined;
        otp_methods totp sms;
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
EOF

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
error_log %%DIR%%/debug.log debug;
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;
    log_format sms escape=none '\$otp_sms_to \$otp_sms_text';

    server {
        listen 127.0.0.1:%%PORT%%;
$common
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/json;
            proxy_set_header X-Api-Key "$cred";
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$pp/json?text=\$otp_sms_text_escaped;
        }
    }

    server {
        listen 127.0.0.1:$port{form};
$common
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/x-www-form-urlencoded;
            proxy_set_header Authorization "Basic $cred";
            proxy_set_body
                "To=\$otp_sms_to_escaped&Body=\$otp_sms_text_escaped";
            proxy_pass http://127.0.0.1:$pp/form;
        }
    }

    server {
        listen 127.0.0.1:$port{demo};
$common
        location = /_otp_sms {
            internal;
            log_subrequest on;
            access_log %%DIR%%/sms.log sms;
            return 204;
        }
    }
}
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $ret = '/private/index.html';
my @phones = ('+15555550123', '+447911123456');
set_phone($t, $_, $phones[0]) for qw(alice bob dave);

my @codes;

sub verify_sms {
    my ($f, $csrf, $code) = @_;
    return $f->post('verify', { csrf => $csrf, code => $code,
                                method => 'sms', return => $ret });
}

# JSON and form providers: a wrong code, then the right one
for my $case ([ 'alice', $t ], [ 'bob', site($t, $port{form}) ]) {
    my ($user, $site) = @$case;
    my $f = OtpFlow->new($site, user => $user);
    $prov->clear;
    my ($r, $csrf) = send_code($f);
    is($r->{status}, 303, "$user: sent");
    my ($req) = $prov->wait_requests(1);
    my $code = code_of($req);
    push @codes, $code;
    my $w = $code eq '000000' ? '000001' : '000000';
    is(verify_sms($f, $csrf, $w)->{status}, 401, "$user: a wrong code");
    is(verify_sms($f, $csrf, $code)->{status}, 303, "$user: signed in");
}

my ($req) = $prov->requests;
is($req->{headers}{authorization}, "Basic $cred",
   'the form provider got its credentials');

# a send the provider refuses
$prov->clear;
$prov->mode('500');
my $alice = OtpFlow->new($t, user => 'alice');
my ($r) = send_code($alice);
is($r->{status}, 502, 'a refused send: 502');
($req) = $prov->wait_requests(1);
push @codes, code_of($req);
$prov->mode('ok');

# a phone number enrolled
my $carol = OtpFlow->new($t, user => 'carol');
my $page = $carol->get("/_otp/sms?r=$ret");
my $csrf = form_field($page->{content}, 'csrf');
$prov->clear;
$r = $carol->post('sms', { csrf => $csrf, return => $ret,
                           phone => $phones[1] });
is($r->{status}, 303, 'carol: a number to confirm');
($req) = $prov->wait_requests(1);
push @codes, code_of($req);
is(verify_sms($carol, $csrf, $codes[-1])->{status}, 303,
   'carol: confirmed');

# the demo's provider: the text in its own log, on purpose
my $dave = OtpFlow->new(site($t, $port{demo}), user => 'dave');
($r, $csrf) = send_code($dave);
is($r->{status}, 303, 'a location that returns 204: sent');
my $smslog = '';
for (1 .. 50) {
    $smslog = $t->read_file('sms.log');
    last if $smslog =~ /code is/;
    select undef, undef, undef, 0.05;
}
my ($demo_code) = $smslog =~ /^\+15555550123 Your \S+ code is (\d{6})\./m;
ok($demo_code, 'sms.log has the number and the text');
is(verify_sms($dave, $csrf, $demo_code // '')->{status}, 303,
   '... and its code signs in');
push @codes, $demo_code if $demo_code;

# the logs

$t->stop_nginx;

my $debug = $t->read_file('debug.log');
my $access = $t->read_file('access.log');
like($debug, qr/\[debug\]/, 'the error log is at debug');
like($debug, qr/http script var/, '... with variable values logged');
like($access, qr{POST /_otp/sms}, 'the access log has the sends');

is(scalar(grep { !defined } @codes), 0, 'every code was seen');
for my $log ([ 'error log', $debug ], [ 'access log', $access ]) {
    my ($name, $text) = @$log;
    my @found = grep { defined && $text =~ /(?<![0-9])\Q$_\E(?![0-9])/ }
                @codes;
    is_deeply(\@found, [], "no code in the $name");
    unlike($text, qr/\Q$cred\E|provider-token|ACsecret/,
           "no provider credential in the $name");
    my @ph = grep { my $d = substr $_, 1; $text =~ /\Q$d\E/ } @phones;
    is_deeply(\@ph, [], "no phone number in the $name");
    unlike($text, qr/code is|expires in/, "no message text in the $name");
}

$prov->stop;
$t->stop;

done_testing;
