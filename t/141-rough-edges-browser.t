#!/usr/bin/perl

# The rough edges a browser shows (headless Chromium over the DevTools
# pipe, t/lib/OtpBrowser.pm): the resend button of the SMS challenge
# is disabled while the wait lasts and the hint counts down, by the one
# script the CSP allows (no CSP violation), then it is enabled again;
# before the first text, the send button has the focus; on a 1280x800
# desktop the enrollment code field is above the fold.
#
# Skipped without chromium (Debian package "chromium").

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpBrowser;
use OtpAttack qw(users);
use OtpSms qw(set_phone);

plan skip_all => 'chromium is not installed' unless OtpBrowser::chromium();

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(admin alice bob));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $sms = OtpSms->new($t, name => 'json')->start;
my $loc = $sms->location;

$t->write_conf(<<"CONF");
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
        otp_methods totp sms;
        otp_sms_provider /_otp_sms;
        otp_sms_resend_delay 4s;
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
$loc
    }
}
CONF

$t->run_nginx;
$t->wait_redis_ready;
set_phone($t, 'alice', '+15555550123');

my $port = $t->port;

# ---------------------------------------------------- the SMS countdown

my $b = OtpBrowser->new(width => 390, height => 844, mobile => 1);
$b->call('Log.enable', {}, 1);
$b->open("http://alice:alice\@127.0.0.1:$port/_otp/challenge"
         . '?r=/private/index.html');

# the focus settles a moment after the load event
sub focused {
    my ($want) = @_;
    my $id = '';
    for (1 .. 20) {
        $id = $b->eval('document.activeElement ? document.activeElement.id'
                       . ' : ""') // '';
        last if $id eq $want;
        sleep 0.1;
    }
    return $id;
}

is(focused('sms-send'), 'sms-send',
   'before a text: the send button has the focus');
is($b->eval('document.getElementById("code")'), undef,
   '... and there is no code field');

$b->eval('document.getElementById("sms-send").click()');
$b->wait_event('Page.loadEventFired');

# the form is the browser's own, sent with "Origin: null" (no-referrer)
# and "Sec-Fetch-Site: same-origin": it is taken
like($b->eval('location.pathname + location.search'),
     qr{^/_otp/challenge\?method=sms&c=}, 'the browser\'s form sent a text');
is(focused('code'), 'code', 'after the text: the code field has the focus');
ok($b->eval('document.getElementById("sms-send").disabled'),
   'the resend button is disabled while the wait lasts');
my $n1 = $b->eval('document.querySelector("#sms-wait span").textContent');
sleep 1.6;
my $n2 = $b->eval('document.querySelector("#sms-wait span").textContent');
ok($n1 =~ /^\d+$/ && $n2 =~ /^\d+$/ && $n2 < $n1,
   "the hint counts down ($n1 s, then $n2 s)");
sleep 3.5;
ok(!$b->eval('document.getElementById("sms-send").disabled'),
   'the button is enabled once the wait is over');
like($b->eval('document.getElementById("sms-wait").textContent'),
     qr/now/, '... and the hint says so');

my @csp = grep { ($_->{params}{entry}{text} // '')
                 =~ /Content Security Policy/i } @{ $b->{log} };
is(scalar @csp, 0, 'no CSP violation reported');
$b->close;

# ---------------------------------------- enrollment, desktop 1280x800

$b = OtpBrowser->new(width => 1280, height => 800);
$b->open("http://bob:bob\@127.0.0.1:$port/_otp/enroll?r=/private/");
my $box = $b->eval('(function () { var r = document.getElementById("code")'
                   . '.getBoundingClientRect(); return [r.top, r.bottom, '
                   . 'innerHeight]; })()');
ok($box && $box->[1] <= $box->[2],
   "1280x800: the code field is above the fold "
   . "(bottom $box->[1] of $box->[2])");
my $qr = $b->eval('document.querySelector(".qr").getBoundingClientRect()'
                  . '.width');
cmp_ok($qr, '>=', 200, "... and the QR code is still large ($qr px)");
$b->screenshot($t->dir . '/enroll-1280.png');
$b->close;

$sms->stop;
$t->stop;

done_testing;
