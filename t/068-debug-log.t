#!/usr/bin/perl

# The module under "error_log ... debug" (Debian's nginx is built
# --with-debug, and debug logs are what ops turn on when something is
# wrong): the workers keep running, the flows work, and the module
# adds nothing secret to the log.  nginx itself logs the request headers
# at debug (the Cookie header among them): a cookie the browser sends
# back shows there.  The response headers nginx logs too, but not those
# of the module's responses that set a cookie (invariant 23): the
# session and device cookies it sets appear nowhere else.  Secrets and
# typed codes must appear nowhere.

use strict;
use warnings;

use MIME::Base64 qw(encode_base64);
use Test::More;

use OtpTest;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users wrong_code b32decode b64url_encode);
use OtpHttp qw(send_raw http_request);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice));
$t->private_site;

$t->run_redis;

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
error_log %%DIR%%/debug.log debug;
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        location /_otp/ {
            otp_endpoint;
            otp_remember_device 30d;
        }
        location /private/ {
            otp on;
            otp_remember_device 30d;
            alias %%DIR%%/site/;
        }
    }
}
EOF

$t->run_nginx;

# a worker that crashes at debug never connects: this waits in vain and
# the probe below fails; one that works is asked only once it is ready
$t->wait_redis_ready;

my $port = $t->port;
my $probe = eval {
    send_raw($port, http_request(port => $port, user => 'alice',
                                 path => '/private/index.html',
                                 headers => [[Accept => 'text/html']]),
             timeout => 3);
};
is($probe && $probe->{status}, 302,
   'error_log at debug: the gate answers (302 to enroll)');

SKIP: {
    skip 'no worker answers at debug level', 9
        unless $probe && $probe->{status} == 302;

    $t->wait_redis_ready;

    my $f = OtpFlow->new($t, user => 'alice');
    my ($r, $secret, $csrf) = $f->enroll_page('/private/');
    my $w = wrong_code($secret);
    my $c = totp($secret);
    $r = $f->post('enroll', { code => $w, csrf => $csrf });
    $r = $f->post('enroll', { code => $c, csrf => $csrf });
    is($r->{status}, 200, 'enrolled');
    my $cookie = cookie_value($r, 'otp_session') // '';
    $f->set_cookie($cookie);
    is($f->get('/private/index.html')->{status}, 200, 'signed in');

    # a second browser, ticking "trust this browser": a session cookie
    # and a device cookie
    my $g = OtpFlow->new($t, user => 'alice');
    $g->{secret} = $secret;
    $r = $g->verify(time => time + 30, extra => { remember => 1 });
    is($r->{status}, 303, 'signed in on a trusted browser');
    my $cookie2 = cookie_value($r, 'otp_session') // '';
    my $device = cookie_value($r, 'otp_session_device') // '';
    ok(length $cookie2 && length $device, '... with both cookies');

    $t->stop_nginx;

    my $log = $t->read_file('debug.log');
    like($log, qr/\[debug\]/, 'the debug log has debug lines');

    my $raw = b32decode($secret);
    (my $b64 = encode_base64($raw, '')) =~ s/=+$//;
    my %needles = (
        "secret base32"    => qr/\Q$secret\E/i,
        "secret hex"       => qr/\Q@{[unpack 'H*', $raw]}\E/i,
        "secret base64"    => qr/\Q$b64\E/,
        "secret base64url" => qr/\Q@{[b64url_encode($raw)]}\E/,
        "code $w"          => qr/(?<!\d)$w(?!\d)/,
        "code $c"          => qr/(?<!\d)$c(?!\d)/,
    );
    my @found = grep { $log =~ $needles{$_} } sort keys %needles;
    is("@found", '', 'no secret and no typed code anywhere in the log');

    my $ours = join "\n", grep { /\d+#\d+: (?:\*\d+ )?otp: / }
               split /\n/, $log;
    my (undef, $id, $mac) = split /\./, $cookie;
    my ($token) = $csrf =~ /(1\.[A-Za-z0-9_-]+)$/;
    @found = grep { index($ours, $_) >= 0 }
             grep { defined && length } $cookie, $id, $mac, $token;
    is("@found", '', "the module's own lines hold no cookie or CSRF token");
    ok(length $ours, "the module's lines were looked at")
        or diag('no line with "otp:" in the debug log');

    # nginx logs the response headers at debug, Set-Cookie among them:
    # the module's responses that set cookies are not logged at debug,
    # so a cookie shows only where the browser sent it back (nginx's
    # request header lines, README "Security model")
    my @lines;
    for my $value (grep { length } $cookie, $cookie2, $device) {
        push @lines, grep { index($_, $value) >= 0
                            && !/(?:http|parse) header: "Cookie: / }
                     split /\n/, $log;
    }
    is(join("\n", @lines), '',
       'the cookies the module sets are nowhere in the debug log');
}

$t->stop;

done_testing();
