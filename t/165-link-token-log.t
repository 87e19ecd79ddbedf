#!/usr/bin/perl

# README.md's way to keep the link token out of nginx's access log (the
# map on $request_uri and the log format of the cross-device section,
# read from README.md itself): the phone's page is logged without its
# query, every other request as it came.  The combined format, logged
# alongside, has the token: what the README's format leaves out.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpFlow;
use OtpAttack qw(users);

my $t = OtpTest->new;
my $key = $t->secret_file;

open my $fh, '<', $t->top . '/README.md' or BAIL_OUT("README.md: $!");
my $readme = do { local $/; <$fh> };
close $fh;

my ($block) = grep { /\$otp_logged_uri/ } $readme =~ /^```nginx\n(.*?)^```$/msg;
ok($block, 'README.md shows the format without the token');
my ($map) = ($block // '') =~ /^(\s*map \$request_uri .*?^\s*\}\n)/ms;
my ($format) = ($block // '') =~ /^(\s*log_format\s+no_token\b.*?;\n)/ms;
ok($map && $format, 'with its map and its log_format');

users($t, qw(alice));
$t->private_site;
$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_methods totp recovery link;\n" . ($map // '')
               . ($format // ''),
    common  => OtpTest::site_locations(),
    servers => [['%%PORT%%', "access_log %%DIR%%/access.log no_token;\n"
                             . "access_log %%DIR%%/combined.log combined;"]],
));
$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $token = 'Q' x 22;
my $alice = OtpFlow->new($t, user => 'alice');
my $r = $alice->get("/_otp/link?t=$token");
is($r->{status}, 403, 'the phone\'s page without a session: refused');
$alice->get('/_otp/challenge?r=%2Fprivate%2Fkeep');

$t->stop;

my $log = $t->read_file('access.log');
my $combined = $t->read_file('combined.log');
like($combined, qr/\Q$token\E/, 'the combined format logs the token');
unlike($log, qr/\Q$token\E/, 'the README\'s format does not');
like($log, qr{"GET /_otp/link HTTP/1\.1" 403 },
     '... it logs the request without its query');
like($log, qr{"GET /_otp/challenge\?r=%2Fprivate%2Fkeep HTTP/1\.1"},
     '... and every other request as it came');

done_testing;
