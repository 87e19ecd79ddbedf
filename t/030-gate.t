#!/usr/bin/perl

# The gate fails closed: a gated location never answers 200 without a
# second factor, whatever the first factor said; other locations of the
# same server are untouched.

use strict;
use warnings;

use Test::More;
use OtpTest;

my $t = OtpTest->new;
my $key = $t->secret_file;

# alice:alice
$t->write_file('htpasswd', "alice:{PLAIN}alice\n", 0644);
$t->write_file('index.html', "secret page\n", 0644);

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;

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
            location /off/inner/ {
                otp off;
                alias %%DIR%%/;
            }
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
is($r->{status}, 401, 'first factor alone: 401');
like($r->{content}, qr/"otp_required"/, 'body asks for the second factor');
unlike($r->{content}, qr/secret page/, 'protected content not served');

$r = $t->get('/header/index.html');
is($r->{status}, 401, 'empty otp_user: 401');

$r = $t->get('/header/index.html', 'X-User' => 'bob');
is($r->{status}, 401, 'otp_user from a header: still needs a code');

$r = $t->get('/off/inner/index.html');
is($r->{status}, 200, 'otp off in a nested location opens it');
is($r->{content}, "secret page\n", 'nested location serves its content');

$t->stop;

done_testing();
