#!/usr/bin/perl

# Cross-device approval in a real browser (headless Chromium): the
# challenge page with method=link shows a QR code that a scanner
# (zbarimg) reads from a screenshot as the link the phone opens; the
# phone (over HTTP, with a fresh session of the same user) approves with
# the number shown; the waiting page, which refreshes itself with no
# JavaScript (it has none, and its Content-Security-Policy allows none),
# ends on the protected page.  Skipped without chromium (Debian package
# "chromium") or zbarimg ("zbar-tools").

use strict;
use warnings;

use File::Temp qw(tempdir);
use Time::HiRes qw(sleep time);
use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field);
use OtpAttack qw(users);

my ($chromium) = grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH};
plan skip_all => 'chromium is not installed' unless $chromium;
my ($zbar) = grep { -x } map { "$_/zbarimg" } split /:/, $ENV{PATH};
plan skip_all => 'zbarimg is not installed' unless $zbar;

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice));
$t->private_site;
$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    log_format req '\$request \$status';
    otp_methods totp recovery link;
    otp_session_recheck 0;

    server {
        listen 127.0.0.1:%%PORT%%;
        access_log %%DIR%%/access.log req;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ {
            otp_endpoint;
        }

        location /private/ {
            otp on;
            alias %%DIR%%/site/;
        }
    }
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;
my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
my $wait = "http://alice:alice\@127.0.0.1:$port/_otp/challenge"
         . "?method=link&r=/private/";

# chromium on a URL, with this test's profile (its cookies stay between
# runs, as a browser's do); returns its pid, its output
# going to the file out
sub chromium {
    my ($url, $out, @args) = @_;
    my $pid = fork // die "fork: $!";
    if ($pid == 0) {
        open STDOUT, '>', $out or exit 127;
        open STDERR, '>', '/dev/null';
        exec $chromium, qw(--headless --no-sandbox --disable-gpu
            --disable-quic --no-first-run --disable-background-networking
            --disable-component-update --disable-sync
            --disable-default-apps --hide-scrollbars
            --password-store=basic),
            '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
            "--user-data-dir=$profile", @args, $url;
        exit 127;
    }
    return $pid;
}

sub finish {
    my ($pid, $secs) = @_;
    my $deadline = time + $secs;
    while (time < $deadline) {
        return 1 if waitpid($pid, 1) == $pid;   # WNOHANG
        sleep 0.1;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

# the phone: alice with a fresh session, over HTTP
my $phone = OtpFlow->new($t, user => 'alice');
$phone->enroll;

# ------------------------------------ the screenshot and the QR code

my $png = $t->dir . '/link.png';
ok(finish(chromium($wait, '/dev/null', "--screenshot=$png",
                   '--window-size=480,1200'), 60),
   'chromium takes a screenshot of the waiting page');
ok(-s $png && -s $png > 5000, 'a screenshot');

my $scan = `zbarimg --raw -q $png 2>/dev/null`;
chomp $scan;
like($scan, qr{^http://127\.0\.0\.1:$port/_otp/link\?t=[A-Za-z0-9_-]{22}$},
     'the QR code on the screen scans to the phone\'s link')
    or diag($scan);
my ($path) = $scan =~ m{^http://[^/]+(/.*)$};

my @lk = grep { /:lk:/ } @{ $t->redis('KEYS', okey('*', 'alice')) };
is(scalar @lk, 1, 'one request');
my $number = $t->redis('HGET', $lk[0], 'n');

# the phone opens what it scanned
my $r = $phone->get($path // '/_otp/link');
is($r->{status}, 200, 'the phone opens the scanned link');
like($r->{content}, qr/HeadlessChrome/, '... which names the browser');
my $csrf = form_field($r->{content}, 'csrf');
my ($t_field) = ($path // '') =~ /t=([^&]+)/;

# ---------------------------------- the waiting page, without scripts

# the same browser (its profile, its binding cookie) waits again; the
# phone approves while it does
truncate $t->dir . '/access.log', 0;
my $dom = $t->dir . '/dom.html';
my $pid = chromium($wait, $dom, '--dump-dom',
                   '--virtual-time-budget=600000');

my $poll = qr{^GET /_otp/challenge\?method=link&r=/private/ HTTP\S* 200$}m;
my $polls = 0;
my $deadline = time + 30;
while (time < $deadline) {
    $polls = () = $t->read_file('access.log') =~ /$poll/g;
    last if $polls >= 2;
    sleep 0.05;
}
cmp_ok($polls, '>=', 2, "the waiting page refreshes itself ($polls)");

$r = $phone->post('link', { t => $t_field, csrf => $csrf,
                            number => $number });
is($r->{status}, 200, 'the phone approves');

ok(finish($pid, 60), 'chromium ends');
my $html = $t->read_file('dom.html');
like($html, qr/private page/, 'the waiting browser ends on the protected page');
unlike($html, qr/<script/i, 'with no script on the way');

my $log = $t->read_file('access.log');
like($log, qr{^GET /_otp/challenge\?method=link&r=/private/ HTTP\S* 303$}m,
     'the refresh after the approval: 303');
like($log, qr{^GET /private/ HTTP\S* 200$}m, 'then the protected page');
is(scalar(grep { /:lk:/ } @{ $t->redis('KEYS', okey('*', 'alice')) }), 0,
   'the request is redeemed and gone');

$r = OtpFlow->new($t, user => 'alice')->get('/_otp/challenge?method=link');
unlike($r->{content}, qr/<script|\bon[a-z]+=/i,
       'the waiting page has no script');
my $csp = $r->{headers}{'content-security-policy'} // '';
like($csp, qr/default-src 'none'/, '... and its CSP allows none');
my ($scripts) = $csp =~ /script-src ([^;]*)/;
unlike($scripts // '', qr/'(?!sha256-)[^']*'|\bhttps?:|\*/,
       '... but the resend countdown, by its hash; nothing inline');

$t->stop;

done_testing();
