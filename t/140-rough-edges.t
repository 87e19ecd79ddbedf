#!/usr/bin/perl

# What a first-time user met, each fixed and checked here: an SMS
# challenge whose first step is sending (no code field before a text);
# the resend hint that counts down with the one script the CSP allows
# by hash, and works without it; the resend-too-early page saying the
# wait in words; a link back after a burnt challenge; "Password
# accepted" rather than "Signed in" before the second step; recovery
# codes to download as a text file, in the page itself, and printable;
# the "Temporarily unavailable" page with a link to the page wanted;
# make demo on a busy port naming DEMO_PORT, and keeping its logs.

use strict;
use warnings;

use Digest::SHA qw(sha256_base64);
use IO::Socket::INET;
use Test::More;

use OtpTest;
use OtpFlow qw(form_field totp);
use OtpAttack qw(users html_unescape pct_decode wrong_code);
use OtpSms qw(path_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(admin alice bob carol));
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
    otp_max_attempts 3;

    server {
        listen 127.0.0.1:%%PORT%%;
        server_name gate.example;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp sms recovery;
        otp_sms_provider /_otp_sms;
        otp_sms_resend_delay 30s;
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

my $ret = '/private/index.html';

set_phone($t, 'alice', '+15555550123');

# ------------------------------------------- SMS: sending is the first step

my $alice = OtpFlow->new($t, user => 'alice');
my ($page, $csrf) = $alice->challenge($ret);
my $html = $page->{content};

is($page->{status}, 200, 'SMS challenge page');
unlike($html, qr{action="verify"}, 'no code form before a text was sent');
unlike($html, qr{id="code"}, '... and no code field to focus');
like($html, qr{<button type="submit" id="sms-send" autofocus\s*>},
     'the send button has the focus and is the main button');
like($html, qr{Text me a code}, '... "Text me a code"');
like($html, qr{Password accepted for alice\.},
     'the first factor is said to be accepted');
unlike($html, qr{Signed in as}, '... not "Signed in as" before the code');
unlike($html, qr{<script}, 'no script before a countdown is needed');

# --------------------------------------------- after sending: a countdown

my ($r) = send_code($alice, csrf => $csrf, return => $ret);
is($r->{status}, 303, 'POST sms: 303');
$page = $alice->get(path_of($r->{headers}{location}));
$html = $page->{content};

like($html, qr{action="verify"}, 'after the text: the code form');
like($html, qr{id="code"[^>]*autofocus}s, '... with the focus on the code');
like($html, qr{id="sms-send"\s+class="secondary"},
     '... and sending again is secondary');
my ($wait) = $html =~ /data-wait="(\d+)"/;
ok($wait && $wait > 20 && $wait <= 30,
   'the hint knows the wait (' . ($wait // '-') . ' s)');
like($html, qr{<span>\Q@{[ $wait // 'x' ]}\E</span>}, '... and says it');

my ($script) = $html =~ m{<script>(.*?)</script>}s;
ok(defined $script, 'a script counts the wait down');
my $csp = $page->{headers}{'content-security-policy'} // '';
my $hash = sha256_base64($script // '');
$hash .= '=' x ((4 - length($hash) % 4) % 4);
like($csp, qr{script-src 'sha256-\Q$hash\E';},
     'the CSP allows exactly that script, by hash');
unlike($csp, qr{script-src[^;]*unsafe}, '... and no other');
like($script // '', qr{disabled = true}, '... which disables the button');
like($script // '', qr{disabled = false}, '... until the wait is over');

# ---------------------------------------- asked again too early: in words

$csrf = form_field($html, 'csrf');
$r = $alice->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 429, 'a text asked for too early: 429');
unlike($r->{content}, qr{Retry-After}, 'the page does not name a header');
like($r->{content}, qr{ (2\d|30) s\b}, '... it says the wait');
my ($back) = $r->{content} =~ m{<a class="button" href="([^"]+)"};
ok($back, '... and links back to the challenge');

# ------------------------------------------ a burnt challenge links back

my $carol = OtpFlow->new($t, user => 'carol');
$carol->enroll(return => $ret);
$carol->set_cookie(undef);
($page, $csrf) = $carol->challenge($ret);
for (1 .. 3) {
    $r = $carol->verify(csrf => $csrf, code => wrong_code($carol->secret),
                        return => $ret);
}
is($r->{status}, 429, 'three wrong codes burn the challenge');
like($r->{content}, qr{<a class="button" href="\Q$ret\E">},
     '... and the page links to the page wanted');

# --------------------------------------------- recovery codes to keep

my $bob = OtpFlow->new($t, user => 'bob');
my ($e, $secret, $ecsrf) = $bob->enroll_page($ret);
$r = $bob->post('enroll', { code => totp($secret), csrf => $ecsrf,
                            return => $ret });
is($r->{status}, 200, 'enrolled: the recovery codes');
my @codes = $r->{content} =~ m{<li>([A-Z0-9]{5}-[A-Z0-9]{5})</li>}g;
is(scalar @codes, 10, 'ten codes on the page');
my ($uri) = $r->{content}
    =~ m{<a href="(data:text/plain;charset=utf-8,[^"]+)" download="recovery};
ok($uri, 'a link downloads them as recovery-codes.txt, from the page');
(my $data = $uri // '') =~ s/^data:[^,]*,//;
my $text = pct_decode(html_unescape($data));
my @file = grep { /^[A-Z0-9]{5}-[A-Z0-9]{5}$/ } split /\n/, $text;
is_deeply(\@file, \@codes, '... the same ten codes, one a line');
like($text, qr{^gate\.example - bob\n}, '... under the issuer and user');
like($r->{content}, qr/\@media print \{.*\.keep[^}]*display: none/s,
     'a print layout without the links');

# ------------------------------------------------ Redis down: a way back

$t->stop_redis;
$r = $bob->get("$ret?x=1");
is($r->{status}, 503, 'Redis down: 503');
like($r->{content}, qr{Temporarily unavailable},
     '... "Temporarily unavailable"');
like($r->{content}, qr{<a class="button" href="\Q$ret\E\?x=1">},
     '... with a link to try the page again');

$r = $bob->get("/_otp/challenge?r=$ret");
is($r->{status}, 503, 'the challenge without Redis: 503');
like($r->{content}, qr{<a class="button" href="\Q$ret\E">},
     '... with a link to the page wanted');

$r = $bob->get('//evil.example/private/');
unlike($r->{content} // '', qr{href="//}, 'never a link to another host');

# -------------------------------------------------- make demo, port busy

my $busy = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                 Listen => 1, ReuseAddr => 1)
    or die "listen: $!";
my $port = $busy->sockport;
my $out = `DEMO_PORT=$port perl -I $t->{top}/t/lib $t->{top}/t/demo.pl 2>&1`;
my $demo_rc = $? >> 8;
$? = 0;
isnt($demo_rc, 0, 'demo on a busy port: fails');
like($out, qr{port $port .*in use}, '... saying the port is in use');
like($out, qr{DEMO_PORT=}, '... and that DEMO_PORT picks another');
unlike($out, qr{bind\(\)}, '... without nginx\'s bind errors');
close $busy;

# on a free port: it says how to stop it and where the logs are, and
# they are still there after Ctrl-C
$port = OtpTest::free_port();
my $pid = open(my $demo, '-|');
die "fork: $!" unless defined $pid;
if ($pid == 0) {
    $ENV{DEMO_PORT} = $port;
    open STDERR, '>&', \*STDOUT;
    exec 'perl', "-I$t->{top}/t/lib", "$t->{top}/t/demo.pl" or exit 127;
}
my ($said, $dir) = ('', undef);
while (my $line = <$demo>) {
    $said .= $line;
    ($dir) = $said =~ m{the logs stay in\s+(\S+)};
    last if $said =~ /Another port/;
}
like($said, qr{Ctrl-C stops nginx and redis}, 'the demo says how to stop it');
ok($dir && -d $dir, '... and where its logs are');
kill 'INT', $pid;
$said .= $_ while <$demo>;
close $demo;
$? = 0;
like($said, qr{Stopped\.  The logs are in \Q@{[ $dir // '-' ]}\E},
     'Ctrl-C: it says it stopped, and where the logs are');
ok($dir && -s "$dir/error.log", '... and they are still there');
like($t->read_file("$t->{top}/README.md"), qr{DEMO_PORT},
     'README names DEMO_PORT');

$sms->stop;
$t->stop;

done_testing;
