#!/usr/bin/perl

# Security invariant 18: a subrequest into a location (an SSI include
# here) gets that location's own policy, not only the main request's
# pass: a location with otp_max_age 5m is not included with a code
# entered an hour ago, although the including page (otp on, no
# otp_max_age) is served.  With a fresh code it is included.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpAttack qw(users);
use OtpFlow qw(totp);

my $t = OtpTest->new;
my $key = $t->secret_file;
users($t, qw(alice));
my $d = $t->dir;
mkdir "$d/$_" for qw(site ssi);
$t->write_file('site/x.html', "STRICT-SECRET\n", 0644);
$t->write_file('ssi/page.html',
               "before\n<!--# include virtual=\"/strict/x.html\" -->\n"
               . "after\n", 0644);

$t->run_redis;
$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    otp_session_recheck 0;

    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ { otp_endpoint; }

        location /page/ {
            otp on;
            ssi on;
            alias %%DIR%%/ssi/;
        }

        location /strict/ {
            otp on;
            otp_max_age 5m;
            alias %%DIR%%/site/;
        }
    }
EOF
$t->run_nginx;
$t->wait_redis_ready;

my $f = OtpFlow->new($t, user => 'alice');
$f->enroll(return => '/page/page.html');

my $r = $f->get('/page/page.html');
is($r->{status}, 200, 'a fresh code: the page');
like($r->{content}, qr/STRICT-SECRET/, '... with the strict part included');

# the code was entered an hour ago
$t->redis('HSET', $_, 'a', time - 3600)
    for @{ $t->redis('SMEMBERS', okey('su', 'alice')) };

$r = $f->get('/strict/x.html');
is($r->{status}, 302, 'an hour-old code: the strict location challenges');

$r = $f->get('/page/page.html');
is($r->{status}, 200, 'an hour-old code: the page without otp_max_age');
like($r->{content}, qr/before/, '... is served');
unlike($r->{content}, qr/STRICT-SECRET/,
       '... but the SSI include of the otp_max_age 5m location is not');

$t->stop;

like($t->error_log, qr/subrequest "\/strict\/x\.html" to a gated location refused/,
     'the refusal is logged');

done_testing();
