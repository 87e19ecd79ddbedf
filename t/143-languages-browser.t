#!/usr/bin/perl

# SPEC 11 in a browser (headless Chromium, t/lib/OtpBrowser.pm): the
# pages in German (long words) and Japanese (no spaces to break at) at
# phone width, 360 and 390 px: no element is wider than the viewport,
# the page does not scroll sideways, and the browser took the language
# from its Accept-Language.  Screenshots are kept in the test directory
# (OTP_KEEP=1) for a look; Japanese needs a CJK font (Debian package
# fonts-wqy-microhei), or the glyphs are boxes of about their width.
#
# Skipped without chromium (Debian package "chromium").

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpBrowser;
use OtpFlow;
use OtpAttack qw(users);

plan skip_all => 'chromium is not installed' unless OtpBrowser::chromium();

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(admin alice bob));
$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"CONF", key => $key));
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp recovery;
        otp_issuer "Beispielunternehmensverwaltungsportal.example";
        location /_otp/ {
            otp_endpoint;
        }
    }
CONF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;

# alice has an authenticator: a browser without her session gets the
# challenge; bob has none: the enrollment page
OtpFlow->new($t, user => 'alice')->enroll(return => '/x');

for my $lang (qw(de ja)) {
    for my $width (360, 390) {
        my $b = OtpBrowser->new(width => $width, height => 844, mobile => 1,
                                lang => $lang);
        for my $page ([ 'challenge', "/_otp/challenge?r=/x" ],
                      [ 'recovery', "/_otp/challenge?method=recovery&r=/x" ],
                      [ 'enroll', "/_otp/enroll?r=/x" ]) {
            my ($name, $path) = @$page;
            my $user = $name eq 'enroll' ? 'bob' : 'alice';
            $b->open("http://$user:$user\@127.0.0.1:$port$path");
            my $v = $b->overflow;
            is($v->{lang}, $lang, "$lang $width px $name: <html lang>");
            is("@{ $v->{wide} }", '',
               "$lang $width px $name: no element wider than the viewport");
            cmp_ok($v->{sw}, '<=', $v->{vw},
                   "$lang $width px $name: no sideways scrolling");
            my $png = $t->dir . "/$name-$lang-$width.png";
            ok($b->screenshot($png) > 3000, "... screenshot $png");
        }
        $b->close;
    }
}

$t->stop;

done_testing;
