#!/usr/bin/perl

# Security invariant 13: the user is verified.  otp_user defaults to
# $remote_user, which nginx takes from the Authorization header whether
# or not auth_basic checked the password.  nginx -t refuses every
# configuration where, with that default, an unverified header can name
# the user of a gate or of the pages: "satisfy any" (an allow rule skips
# auth_basic), an endpoint with "auth_basic off", an endpoint with
# another password file than its gate, a gate whose first factor the
# module cannot see.  Each message says what to do.  An explicit
# otp_user is accepted: ops name the variable their first factor sets.
# Then, at run time, that under the refused "satisfy any" configuration
# made acceptable with otp_bypass and geo, a header from the trusted
# network names nobody.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpAttack qw(users);
use OtpKeys;
use OtpHttp qw(send_raw http_request);

my $t = OtpTest->new;
my $key = $t->secret_file;
users($t, qw(alice bob));
$t->write_file('other.htpasswd', "alice:{PLAIN}other\n", 0644);

# nginx -t writes to its own instance's log, which gets [emerg] lines
my $tc = OtpTest->new;

# a server with auth_basic (but where the server's text says "no basic")
sub conf {
    my ($server, $http) = @_;
    $http //= '';
    my $basic = $server =~ /# no basic/ ? '' : 'auth_basic "test";';
    return $tc->write_conf(
        OtpTest::http_conf(<<"EOF", key => $key, redis => 0), 'check.conf');
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        $basic
        auth_basic_user_file ${\ $t->dir}/htpasswd;
        $server
    }
EOF
}

my $endpoint = 'location /_otp/ { otp_endpoint; }';

my %refused = (
    'gate under satisfy any with allow' => [<<"EOF", qr/satisfy any.*otp_bypass.*geo.*otp_user/s],
        $endpoint
        location /private/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            otp on;
        }
EOF
    'gate under satisfy any, server level' => [<<"EOF", qr/satisfy any.*otp_user/s],
        satisfy any;
        allow 10.0.0.0/8;
        otp on;
        $endpoint
        location /private/ { }
EOF
    'endpoint under satisfy any' => [<<"EOF", qr/"otp_endpoint".*satisfy any/s],
        location /_otp/ {
            satisfy any;
            allow 127.0.0.1;
            otp_endpoint;
        }
        location /private/ { otp on; }
EOF
    'endpoint with auth_basic off' => [<<"EOF", qr/"otp_endpoint" in location "\/_otp\/".*same first factor as its gate.*otp_user/s],
        location /_otp/ {
            auth_basic off;
            otp_endpoint;
        }
        location /private/ { otp on; }
EOF
    'endpoint with "auth_basic off" in limit_except' => [<<"EOF", qr/"otp_endpoint"/],
        location /_otp/ {
            otp_endpoint;
            limit_except GET { auth_basic off; }
        }
        location /private/ { otp on; }
EOF
    'endpoint with another password file' => [<<"EOF", qr/"otp_endpoint".*other\.htpasswd.*same first factor/s],
        location /_otp/ {
            auth_basic_user_file %%DIR%%/other.htpasswd;
            otp_endpoint;
        }
        location /private/ { otp on; }
EOF
    'gate with auth_basic off' => [<<"EOF", qr/"otp on" in location "\/private\/".*auth_basic.*otp_user/s],
        $endpoint
        location /private/ {
            auth_basic off;
            otp on;
        }
EOF
    'gate behind auth_request only' => [<<"EOF", qr/"otp on" in location "\/private\/".*otp_user/s],
        $endpoint
        location /private/ {
            auth_basic off;
            auth_request /idp;
            otp on;
        }
        location = /idp { internal; return 204; }
EOF
    'gate with a realm from a variable' => [<<"EOF", qr/cannot tell.*otp_user/s],
        $endpoint
        location /private/ {
            auth_basic \$arg_realm;
            otp on;
        }
EOF
);

for my $name (sort keys %refused) {
    my ($server, $re) = @{ $refused{$name} };
    my ($rc, $out) = $tc->nginx_test(conf($server));
    isnt($rc, 0, "nginx -t refuses: $name");
    like($out, qr/\[emerg\].*$re/s, "... saying what to do ($name)")
        or diag($out);
}

my %accepted = (
    'the usual site' => <<"EOF",
        $endpoint
        location /private/ { otp on; }
EOF
    'satisfy any with an explicit otp_user' => <<"EOF",
        $endpoint
        location /private/ {
            satisfy any;
            allow 127.0.0.1;
            deny all;
            otp on;
            otp_user \$remote_user;
        }
EOF
    'auth_request with otp_user from auth_request_set' => <<"EOF",
        # no basic
        auth_request /idp;
        auth_request_set \$idp_user \$upstream_http_x_user;
        otp_user \$idp_user;
        $endpoint
        location /private/ { otp on; }
        location = /idp { internal; return 204; }
EOF
    'satisfy any elsewhere, otp_bypass with geo' => <<"EOF",
        $endpoint
        location /private/ {
            otp on;
            otp_bypass \$trusted;
        }
        location /open/ {
            satisfy any;
            allow 127.0.0.1;
        }
EOF
    'ungated location with auth_basic off' => <<"EOF",
        $endpoint
        location /private/ { otp on; }
        location /pub/ { auth_basic off; }
EOF
);

for my $name (sort keys %accepted) {
    my $http = 'geo $trusted { default 0; 10.0.0.0/8 1; }';
    my ($rc, $out) = $tc->nginx_test(conf($accepted{$name}, $http));
    is($rc, 0, "nginx -t accepts: $name") or diag($out);
}

# ---------------------------------------------------- at run time

# What "satisfy any" let through before: a client of the allowed network
# named any user in the Authorization header, without her password, and
# locked her out.  With otp_bypass and geo in its place the header names
# nobody: no password, no gate, no counter.

$t->private_site;
$t->run_redis;
$t->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file %%DIR%%/otp.key;
    otp_redis %%REDIS%%;
    geo $trusted { default 0; 10.0.0.0/8 1; }
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location /_otp/ { otp_endpoint; }
        location /private/ {
            otp on;
            otp_bypass $trusted;
            alias %%DIR%%/site/;
        }
    }
}
EOF
$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my $r = send_raw($port, http_request(port => $port, user => 'bob',
                                     password => 'not-bobs',
                                     path => '/_otp/challenge'));
is($r->{status}, 401, 'the pages: a name without its password gets 401');
$r = send_raw($port, http_request(port => $port, user => 'bob',
                                  password => 'not-bobs',
                                  path => '/private/'));
is($r->{status}, 401, 'the gate: a name without its password gets 401');
is($t->redis('EXISTS', okey('f', 'bob')), 0, 'no failure counted for bob');

$t->stop;

done_testing();
