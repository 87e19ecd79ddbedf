#!/usr/bin/perl

# The pages in a real browser (headless Chromium): the enrollment page
# renders a QR code that a scanner reads from the screenshot as the
# page's otpauth:// link, the challenge page renders its form on a
# phone-sized screen, and no page asks for anything but itself (no
# external resources, no favicon, nothing from another origin).
# Skipped without chromium (Debian package "chromium").

use strict;
use warnings;

use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(sleep);
use Test::More;

use OtpTest;
use OtpFlow qw(form_field);
use OtpAttack qw(users);

my ($chromium) = grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH};
plan skip_all => 'chromium is not installed' unless $chromium;
my $zbar = grep { -x "$_/zbarimg" } split /:/, $ENV{PATH};

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice bob));
$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    log_format req '\$request \$status';

    server {
        listen 127.0.0.1:%%PORT%%;
        access_log %%DIR%%/access.log req;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location /_otp/ {
            otp_endpoint;
        }
    }
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $port = $t->port;

# runs chromium on a URL; returns (stdout, the URLs of its net log)
sub browse {
    my ($url, @args) = @_;
    my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my $netlog = $t->dir . '/netlog.json';
    unlink $netlog;
    my @cmd = ($chromium, qw(--headless --no-sandbox --disable-gpu
        --disable-quic --no-first-run --disable-background-networking
        --disable-component-update --disable-sync
        --disable-default-apps --hide-scrollbars),
        '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
        "--user-data-dir=$profile", "--log-net-log=$netlog", @args, $url);
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec @cmd or exit 127;
    }
    local $/;
    my $out = <$fh> // '';
    close $fh;
    my $log = $t->read_file($netlog);
    $log =~ s/,\s*\]\s*\}\s*$/]}/;   # a log cut short at exit
    my $events = eval { JSON::PP->new->decode($log)->{events} } || [];
    my %urls;
    for my $e (@$events) {
        my $p = $e->{params} or next;
        next unless defined $p->{url} && defined $p->{initiator};
        # the browser's own requests (the navigation itself, updates,
        # autofill) have no origin; the page's requests have its origin
        next if $p->{initiator} eq 'not an origin';
        $urls{ $p->{url} } = 1;
    }
    return ($out, [ sort keys %urls ], scalar @$events);
}

# URLs in a DOM that point to another origin (the CSP would block
# them before the net log sees them, so they are looked for here)
sub external {
    my ($dom) = @_;
    my @u = $dom =~ /\b(?:src|href|action|srcset|poster|data|xlink:href)
                     \s*=\s*"((?:https?:)?\/\/[^"]*)"/gix;
    push @u, $dom =~ /url\(\s*['"]?((?:https?:)?\/\/[^'")]*)/gi;
    push @u, $dom =~ /\@import\s+['"]([^'"]+)/gi;
    return grep { !m{^(?:http:)?//(?:[a-z]+:[a-z]+\@)?127\.0\.0\.1:$port/}
                  && !m{^http://www\.w3\.org/} } @u;
}

# the requests nginx logged since the last call, but those for $page
sub requests {
    my ($page) = @_;
    sleep 0.2;
    my @l = grep { !defined $page || !/^GET \Q$page\E HTTP/ }
            split /\n/, $t->read_file('access.log');
    truncate $t->dir . '/access.log', 0;
    return @l;
}

# ------------------------------------------------------- enrollment

my $enroll = "http://alice:alice\@127.0.0.1:$port/_otp/enroll?r=/x";
my ($dom, $urls, $n) = browse($enroll, '--dump-dom');
ok($n, "enroll page: chromium's net log read ($n events)");
like($dom, qr/<svg\b/, 'enroll page: the DOM has the inline SVG');
my ($href) = $dom =~ /href="(otpauth:[^"]*)"/;
ok($href, 'enroll page: the otpauth:// link is in the DOM')
    or diag(substr($dom, 0, 500));
is("@$urls", '', 'enroll page: asks for nothing (no external resources)');
is(join(' ', external($dom)), '', 'enroll page: no reference elsewhere');
my @req = requests('/_otp/enroll?r=/x');
is("@req", '', 'enroll page: nginx saw nothing else (no favicon)');

$href //= '';
$href =~ s/&amp;/&/g;
my $png = $t->dir . '/enroll.png';
browse($enroll, "--screenshot=$png", '--window-size=480,1400');
ok(-s $png && -s $png > 5000, 'enroll page screenshot');
SKIP: {
    skip 'zbarimg missing', 1 unless $zbar;
    my $scan = `zbarimg --raw -q $png 2>/dev/null`;
    chomp $scan;
    # each run of chromium is a browser of its own, with its own pending
    # key (SPEC 6.15): the link but its secret
    (my $a = $scan) =~ s/secret=[A-Z2-7]+/secret=S/;
    (my $b = $href) =~ s/secret=[A-Z2-7]+/secret=S/;
    ok($scan =~ /secret=[A-Z2-7]{16,}/ && $a eq $b,
       'the QR code on the screen scans to the link') or diag("$scan $href");
}
requests();

# -------------------------------------------------------- challenge

# bob enrolled over HTTP, then the browser asks for his challenge
my $bob = OtpFlow->new($t, user => 'bob');
$bob->enroll;
requests();

my $challenge = "http://bob:bob\@127.0.0.1:$port/_otp/challenge?r=/x";
($dom, $urls, $n) = browse($challenge, '--dump-dom');
like($dom, qr/<form\b[^>]*action="verify"/, 'challenge page: the form');
like($dom, qr/<input\b[^>]*name="code"/, 'challenge page: the code input');
like($dom, qr/<button\b[^>]*type="submit"[^>]*>\s*Verify/,
     'challenge page: the submit button');
is("@$urls", '', 'challenge page: asks for nothing');
is(join(' ', external($dom)), '', 'challenge page: no reference elsewhere');
@req = requests('/_otp/challenge?r=/x');
is("@req", '', 'challenge page: nginx saw nothing else');

$png = $t->dir . '/challenge.png';
browse($challenge, "--screenshot=$png", '--window-size=390,844');
ok(-s $png && -s $png > 3000, 'challenge page screenshot, phone size');

$t->stop;

done_testing();
