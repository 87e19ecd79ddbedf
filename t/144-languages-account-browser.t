#!/usr/bin/perl

# SPEC 11 in a browser (headless Chromium, t/lib/OtpBrowser.pm) for the
# pages of cross-device approval and the account page: in German (long
# words) and Japanese (no spaces to break at) at phone width, 360 and
# 390 px, the waiting page (QR code, link, number), the phone's
# question (the other browser's address, user agent and time) and the
# account page (two authenticators, one with the longest name, recovery
# codes, trusted browsers, sessions) have no element wider than the
# viewport, do not scroll sideways, are in the language the browser
# asked for, and no English sentence is left on them.  Screenshots are
# kept in the test directory (OTP_KEEP=1) for a look.
#
# Skipped without chromium (Debian package "chromium").

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpBrowser;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

plan skip_all => 'chromium is not installed' unless OtpBrowser::chromium();

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice));
$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"CONF", key => $key));
    otp_fresh 5m;
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp recovery link;
        otp_issuer "Beispielunternehmensverwaltungsportal.example";
        location /_otp/ {
            otp_endpoint;
        }
    }
CONF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my $origin = "http://alice:alice\@127.0.0.1:$port";

# alice's phone: a session with a fresh code, and a second
# authenticator with the longest name, no space to break it at
my $phone = OtpFlow->new($t, user => 'alice');
$phone->enroll(return => '/x');
my $r = $phone->get('/_otp/enroll?add=1&r=%2Fx');
my ($s2) = $r->{content} =~ /secret=([A-Z2-7]+)/;
$r = $phone->post('enroll', { code => totp($s2), add => 1,
                              name => 'W' x 64, return => '/x',
                              csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 303, 'a second authenticator with a 64-letter name');
$phone->set_cookie(cookie_value($r, 'otp_session'));
my $session = $phone->cookie;
ok($session, 'the phone has a session');

# English a page must not show any more
my $english = qr/Approve from your phone|Waiting for your phone|On your
                 \ phone|Sign\ in\ on\ another|That's\ not\ me|Address:|
                 Security\ settings|Authenticator\ apps|Rename|Remove|
                 last\ used|Trusted\ browsers|Sign\ out\ everywhere/x;

sub measure {
    my ($b, $lang, $width, $name) = @_;
    my $v = $b->overflow;
    is($v->{lang}, $lang, "$lang $width px $name: <html lang>");
    is("@{ $v->{wide} }", '',
       "$lang $width px $name: no element wider than the viewport");
    cmp_ok($v->{sw}, '<=', $v->{vw},
           "$lang $width px $name: no sideways scrolling");
    unlike($v->{text}, $english, "$lang $width px $name: no English left");
    my $png = $t->dir . "/$name-$lang-$width.png";
    ok($b->screenshot($png) > 3000, "... screenshot $png");
    return $v;
}

# the measure itself: a page with an element too wide is caught
{
    my $b = OtpBrowser->new(width => 360, height => 844, mobile => 1);
    $b->open('data:text/html,<html lang="de"><meta name="viewport" '
             . 'content="width=device-width"><body>'
             . '<p style="width:600px">x</p></body></html>');
    my $v = $b->overflow;
    like("@{ $v->{wide} }", qr/^p /, 'an element too wide is seen');
    $b->close;
}

for my $lang (qw(de ja)) {
    for my $width (360, 390) {
        my %o = (width => $width, height => 844, mobile => 1,
                 lang => $lang);

        # the computer that waits, and the phone with alice's session
        my $pc = OtpBrowser->new(%o);
        $pc->open("$origin/_otp/challenge?method=link&r=/x");
        my $v = measure($pc, $lang, $width, 'link');
        my $url = $pc->eval('document.querySelector(".key a").href');
        like($url // '', qr{/_otp/link\?t=[A-Za-z0-9_-]+$},
             "$lang $width px: the link to open on the phone");

        my $ph = OtpBrowser->new(%o);
        $ph->call('Network.setCookie', { name => 'otp_session',
                                         value => $session,
                                         domain => '127.0.0.1',
                                         path => '/' }, 1);
        $ph->open($url =~ s{^http://}{http://alice:alice\@}r);
        $v = measure($ph, $lang, $width, 'link_approve');
        like($v->{text}, qr/Mozilla/, "$lang $width px: it shows the "
                                      . 'other browser');

        $ph->open("$origin/_otp/account?r=%2Fx");
        $v = measure($ph, $lang, $width, 'account');
        like($v->{text}, qr/W{64}/, "$lang $width px: the long name shown");

        $ph->close;
        $pc->close;
    }
}

$t->stop;

done_testing;
