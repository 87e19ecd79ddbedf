#!/usr/bin/perl

# conf/demo.conf as "make demo" runs it: bob signs in with a code that
# the demo's provider location wrote to sms.log, and alice still sets
# up an authenticator app and signs in with it.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpFlow qw(form_field cookie_value);
use OtpSms qw(path_of);

my $t = OtpTest->new;
$t->secret_file;
$t->write_file('htpasswd', "alice:{PLAIN}alice\nbob:{PLAIN}bob\n", 0644);
mkdir $t->dir . '/www';
chmod 0755, $t->dir . '/www';
$t->write_file('www/index.html', "<h1>The protected page</h1>\n", 0644);

$t->run_redis;
$t->write_conf($t->read_file("$t->{top}/conf/demo.conf"));
$t->run_nginx;
$t->wait_redis_ready;

# ------------------------------------------------------------ bob: SMS

my $bob = OtpFlow->new($t, user => 'bob');
my $r = $bob->get('/private/');
like($r->{headers}{location} // '', qr{/_otp/challenge\?r=},
     'bob: the challenge (his number comes from the map)');
my $page = $bob->get(path_of($r->{headers}{location}));
like($page->{content}, qr{action="sms"}, '... offers a text');
my $csrf = form_field($page->{content}, 'csrf');

$r = $bob->post('sms', { csrf => $csrf, return => '/private/' });
is($r->{status}, 303, '... "Text me a code": 303');

my $log = '';
for (1 .. 50) {
    $log = $t->read_file('sms.log');
    last if $log =~ /#\d{6}/;
    sleep 0.05;
}
my $text = qr/Your demo\.local code is (\d{6})\n\n\@demo\.local #\1\n/;
like($log, qr/  to \+15555550123:\n$text/,
     'sms.log has the text, origin-bound last line included');
my ($code) = $log =~ /#(\d{6})/;

$page = $bob->get(path_of($r->{headers}{location}));
like($page->{content}, qr{Code sent to \+1555\*\*\*0123\.},
     '... the page says where it went');
$r = $bob->post('verify', { csrf => $csrf, code => $code // '',
                            method => 'sms', return => '/private/' });
is($r->{status}, 303, 'the code from sms.log signs bob in');
$bob->set_cookie(cookie_value($r, 'otp_session'));
like($bob->get('/private/')->{content}, qr/The protected page/,
     '... and opens the page');

# ------------------------------------------------------- alice: TOTP

my $alice = OtpFlow->new($t, user => 'alice');
$r = $alice->get('/private/');
like($r->{headers}{location} // '', qr{/_otp/enroll\?r=},
     'alice: enrollment');
my ($enroll) = $alice->enroll_page('/private/');
like($enroll->{content}, qr{Get codes by text message}, '... SMS offered');
$alice->enroll(return => '/private/');
like($alice->get('/private/')->{content}, qr/The protected page/,
     'alice enrolled an app and is in');

unlike($t->error_log, qr/\b\Q$code\E\b/, 'the code is in sms.log only');

$t->stop;

done_testing;
