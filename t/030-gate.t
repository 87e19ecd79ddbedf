#!/usr/bin/perl

# The gate fails closed: a gated location never answers 200 without a
# second factor, whatever the first factor said, and with no Redis to ask
# it answers 503; other locations of the same server are untouched.

use strict;
use warnings;

use Test::More;
use OtpTest;

my $t = OtpTest->new;
my $key = $t->secret_file;

# a port for Redis, which starts only later in the test
$t->{redis_conf_port} = OtpTest::free_port();
$t->{redis_port} = $t->{redis_conf_port};

# alice:alice
$t->write_file('htpasswd', "alice:{PLAIN}alice\n", 0644);
$t->write_file('index.html', "secret page\n", 0644);

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key, redis => 0));
    otp_redis 127.0.0.1:%%REDIS_PORT%% connect_timeout=100ms;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /open {
            return 200 "open\\n";
        }

        location /basic/ {
            auth_basic "test";
            auth_basic_user_file %%DIR%%/htpasswd;
            otp on;
            alias %%DIR%%/;
        }

        location /header/ {
            otp on;
            otp_user \$http_x_user;
            alias %%DIR%%/;
        }

        location /off/ {
            otp on;
            otp_user \$http_x_user;
            location /off/inner/ {
                otp off;
                alias %%DIR%%/;
            }
        }
    }
EOF

$t->run_nginx;

my $r = $t->get('/open');
is($r->{status}, 200, 'ungated location answers');

$r = $t->get('/basic/index.html');
is($r->{status}, 401, 'no first factor: 401');

$r = $t->get('/basic/index.html',
             Authorization => 'Basic YWxpY2U6YWxpY2U=');
is($r->{status}, 503, 'first factor alone, no Redis: 503');
unlike($r->{content}, qr/secret page/, 'protected content not served');
is($r->{headers}{'cache-control'}, 'no-store', 'the 503 is not cached');

$r = $t->get('/header/index.html');
is($r->{status}, 401, 'empty otp_user: 401');

$r = $t->get('/header/index.html', 'X-User' => 'bob');
is($r->{status}, 503, 'otp_user from a header, no Redis: 503');

# with Redis: asked for the second factor

$t->run_redis(port => $t->{redis_conf_port});
$t->wait_redis_ready;

$r = $t->get('/basic/index.html',
             Authorization => 'Basic YWxpY2U6YWxpY2U=',
             Accept => 'application/json');
is($r->{status}, 401, 'first factor alone: 401');
like($r->{content}, qr/"error":"otp_required"/,
     'body asks for the second factor');
like($r->{headers}{'www-authenticate'} // '', qr/^OTP realm="/,
     'WWW-Authenticate: OTP');
unlike($r->{content}, qr/secret page/, 'protected content not served');

$r = $t->get('/off/inner/index.html');
is($r->{status}, 200, 'otp off in a nested location opens it');
is($r->{content}, "secret page\n", 'nested location serves its content');

$t->stop;

done_testing();
