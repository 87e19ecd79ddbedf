#!/usr/bin/perl

# Remembered devices (otp_remember_device, issue 6): the "trust this
# browser" box on the challenge; the signed device cookie; the gate
# turns it into a session with method "remembered" for that user only;
# a forged, expired, unknown or other user's device cookie is ignored;
# the admin API (DELETE sessions, DELETE totp, require-enroll) and a
# new enrollment forget the browsers; a lock still holds; otp_max_age
# still asks for a recent code; otp_remember_device off ignores them.

use strict;
use warnings;

use Digest::SHA qw(hmac_sha256);
use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site keys_from_file b64url_encode b64url_decode);
use OtpHttp qw(hdr);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %port = map { $_ => OtpTest::free_port() } qw(off);

users($t, qw(alice bob carol dave erin frank gina hank));
$t->private_site;

$t->run_redis;

my $vars = join "\n", map { "            add_header $_ always;" }
    'X-OTP-Status "$otp_status"', 'X-OTP-Method "$otp_method"',
    'X-OTP-Age "$otp_session_age"';

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    otp_totp_skew 5;
    otp_session_recheck 0;
    otp_lockout 2 1m;

    server {
        listen 127.0.0.1:%%PORT%%;
        otp_remember_device 30d;

        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;

        location /_otp/ {
            otp_endpoint;
        }

        location /private/ {
            otp on;
            alias %%DIR%%/site/;
$vars
        }

        location /strict/ {
            otp on;
            otp_remember_device off;
            alias %%DIR%%/site/;
$vars
        }

        location /admin/ {
            otp on;
            otp_max_age 3s;
            alias %%DIR%%/site/;
$vars
        }

        location /_otp_admin/ {
            auth_basic off;
            otp_admin;
        }
    }

    server {
        listen 127.0.0.1:$port{off};
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

my $keys = keys_from_file($key);

sub flow {
    my ($user, $p) = @_;
    return OtpFlow->new($p ? site($t, $p) : $t, user => $user);
}

sub enrolled {
    my ($user) = @_;
    my $f = flow($user);
    $f->enroll;
    $f->set_cookie(undef);
    return $f;
}

# a browser: the session cookie (OtpFlow's) and the device cookie
sub get {
    my ($f, $path, %o) = @_;
    my @c;
    push @c, "otp_session=$f->{cookie}" if defined $f->{cookie};
    push @c, "otp_session_device=$o{device}" if defined $o{device};
    my %h = (headers => {});
    $h{headers}{Cookie} = join '; ', @c;
    delete $h{headers}{Cookie} unless @c;
    my $save = $f->{cookie};
    $f->{cookie} = undef;
    my $r = $f->get($path, headers => $h{headers});
    $f->{cookie} = $save;
    return $r;
}

# signs in with a code, ticking "trust this browser"
sub remembered {
    my ($f, %o) = @_;
    my $r = $f->verify(time => time + ($o{at} // 30),
                       extra => { remember => 1 });
    die "verify: $r->{status}\n" unless $r->{status} == 303;
    return ($r, cookie_value($r, 'otp_session_device'));
}

sub device_cookie {
    my ($id, $issued, $expires, $user) = @_;
    my $payload = $id . pack('Q>', $issued) . pack('Q>', $expires) . $user;
    my $mac = hmac_sha256("device\0$payload", $keys->{cookie});
    return '1.' . b64url_encode($payload) . '.' . b64url_encode($mac);
}

# --------------------------------------------------------- the checkbox

my $alice = enrolled('alice');
my ($c) = $alice->challenge('/private/');
like($c->{content}, qr/name="remember" value="1"/, 'the challenge offers it');
like($c->{content}, qr/Trust this browser for 30 days/, 'for 30 days');

my $off = flow('bob', $port{off});
($c) = $off->challenge('/');
unlike($c->{content}, qr/name="remember"/,
       'not offered without otp_remember_device');

# ------------------------------------------------- trusting this browser

my $r = $alice->verify(time => time + 30);
is($r->{status}, 303, 'signed in without ticking the box');
is(cookie_value($r, 'otp_session_device'), undef, 'no device cookie');
is($t->redis('EXISTS', okey('d', 'alice')), 0, 'no device remembered');

$alice->set_cookie(undef);
($r, my $dev) = remembered($alice, at => 60);
ok($dev, 'ticking the box: a device cookie');
my ($sc) = grep { /^otp_session_device=/ } @{
    ref $r->{headers}{'set-cookie'} ? $r->{headers}{'set-cookie'}
                                    : [ $r->{headers}{'set-cookie'} ] };
like($sc, qr/; Path=\//, 'Path=/');
like($sc, qr/; Max-Age=2592000(;|$)/, 'Max-Age: 30 days');
like($sc, qr/; HttpOnly/, 'HttpOnly');
like($sc, qr/; SameSite=Lax/, 'SameSite=Lax');
ok(cookie_value($r, 'otp_session'), 'and a session cookie');
like($dev, qr/^1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/, 'a signed value');

is($t->redis('ZCARD', okey('d', 'alice')), 1, 'one device remembered in Redis');
my $ttl = $t->redis('TTL', okey('d', 'alice'));
ok($ttl > 2591990 && $ttl <= 2592000, "the set expires with it ($ttl s)");

# a new browser session: only the device cookie
$alice->set_cookie(undef);
$r = get($alice, '/private/index.html', device => $dev);
is($r->{status}, 200, 'the device cookie alone opens the gate');
is($r->{content}, "private page\n", 'content served');
is(hdr($r, 'x-otp-method'), 'remembered', '$otp_method remembered');
is(hdr($r, 'x-otp-status'), 'passed', '$otp_status passed');
ok(hdr($r, 'x-otp-age') <= 2,
   '$otp_session_age: since the code was entered on that browser');
my $s = cookie_value($r, 'otp_session');
ok($s, 'and a new session cookie');
$alice->set_cookie($s);
$r = get($alice, '/private/index.html');
is($r->{status}, 200, 'which works without the device cookie');
is(hdr($r, 'x-otp-method'), 'remembered', '... still remembered');
$alice->set_cookie(undef);

$r = get($alice, '/private/index.html', device => $dev);
is($r->{status}, 200, 'again: the device cookie works more than once');

$r = get($alice, '/private/index.html',
         device => $dev) for 1 .. 2;
is($t->redis('ZCARD', okey('d', 'alice')), 1, 'still one device');

# ---------------------------------------------------- ignored cookies

my $bob = enrolled('bob');
$r = get($bob, '/private/index.html', device => $dev);
is($r->{status}, 302, 'alice\'s device cookie for bob: 302');

my $forged = $dev;
substr($forged, 5, 1) = substr($forged, 5, 1) eq 'A' ? 'B' : 'A';
$r = get($alice, '/private/index.html', device => $forged);
is($r->{status}, 302, 'a forged device cookie: 302');

my (undef, $payload) = split /\./, $dev;
my $raw = b64url_decode($payload);
my $id = substr($raw, 0, 16);

my $minted = device_cookie($id, time - 100, time + 1000, 'alice');
$r = get($alice, '/private/index.html', device => $minted);
is($r->{status}, 200, 'a cookie minted with the keys: accepted '
                      . '(the mint is right)');

$r = get($alice, '/private/index.html',
         device => device_cookie($id, time - 100, time - 1, 'alice'));
is($r->{status}, 302, 'an expired device cookie: 302');

$r = get($alice, '/private/index.html',
         device => device_cookie("\0" x 16, time - 100, time + 1000,
                                 'alice'));
is($r->{status}, 302, 'a well-signed cookie of an unknown device: 302');

$r = get($bob, '/private/index.html',
         device => device_cookie($id, time - 100, time + 1000, 'bob'));
is($r->{status}, 302, 'alice\'s device id in a cookie for bob: 302');

$r = get($alice, '/strict/index.html', device => $dev);
is($r->{status}, 302, 'otp_remember_device off in a location: ignored');

$r = get($off, '/private/index.html', device => $dev);
is($r->{status}, 302, 'a server without otp_remember_device: ignored');

# ------------------------------------------------------- step-up

sleep 4.1;
$r = get($alice, '/admin/index.html', device => $dev);
is($r->{status}, 302, 'otp_max_age 3s: a device trusted 4s ago does not '
                      . 'do for a recent code');
like($r->{headers}{location} // '', qr{/_otp/challenge\?}, '... challenge');
$r = get($alice, '/private/index.html', device => $dev);
is($r->{status}, 200, 'it still opens the other locations');

# ----------------------------------------------------- the lockout holds

my $carol = enrolled('carol');
(undef, my $cdev) = remembered($carol);
$carol->set_cookie(undef);
$carol->verify(code => '000000') for 1 .. 2;
$r = get($carol, '/private/index.html', device => $cdev);
is($r->{status}, 429, 'a locked user: the device cookie does not pass');
$t->redis('DEL', okey('l', 'carol'));
$r = get($carol, '/private/index.html', device => $cdev);
is($r->{status}, 200, 'unlocked: it does again');

# --------------------------------------------------------- revocation

my $dave = enrolled('dave');
(undef, my $d1) = remembered($dave);
$dave->set_cookie(undef);
(undef, my $d2) = remembered($dave, at => 60);
is($t->redis('ZCARD', okey('d', 'dave')), 2, 'dave trusts two browsers');
$dave->set_cookie(undef);
$r = get($dave, '/private/index.html', device => $d1);
is($r->{status}, 200, 'the first passes');
my $from_device = cookie_value($r, 'otp_session');

$r = $t->http->request('DELETE',
                       $t->url('/_otp_admin/users/dave/sessions'));
is($r->{status}, 200, 'admin: DELETE users/dave/sessions');
is($t->redis('EXISTS', okey('d', 'dave')), 0, 'the devices are forgotten');
for my $d ($d1, $d2) {
    $r = get($dave, '/private/index.html', device => $d);
    is($r->{status}, 302, 'after the revoke, a device cookie: 302');
}
$dave->set_cookie($from_device);
$r = get($dave, '/private/index.html');
is($r->{status}, 302, 'and the session it had made is revoked too');
$dave->set_cookie(undef);

# re-enrollment
(undef, my $d3) = remembered($dave, at => 90);
$dave->set_cookie(undef);
$r = get($dave, '/private/index.html', device => $d3);
is($r->{status}, 200, 'dave trusts a browser again');
$dave->set_cookie(cookie_value($r, 'otp_session'));
my ($ep, $secret, $csrf) = $dave->enroll_page('/private/');
$r = $dave->post('enroll', { code => totp($secret, time => time + 120),
                             csrf => $csrf });
is($r->{status}, 200, 'dave enrolls a new authenticator');
$dave->set_cookie(undef);
$r = get($dave, '/private/index.html', device => $d3);
is($r->{status}, 302, 'after re-enrollment, the device cookie: 302');
is($t->redis('EXISTS', okey('d', 'dave')), 0, 'the devices are forgotten');

# require-enroll and DELETE totp
my $erin = enrolled('erin');
(undef, my $edev) = remembered($erin);
$t->http->request('POST',
                  $t->url('/_otp_admin/users/erin/require-enroll'));
$erin->set_cookie(undef);
$r = get($erin, '/private/index.html', device => $edev);
is($r->{status}, 302, 'require-enroll: the device cookie does not pass');
like($r->{headers}{location} // '', qr{/_otp/enroll\?}, '... to enroll');

my $frank = enrolled('frank');
(undef, my $fdev) = remembered($frank);
$r = $t->http->request('DELETE', $t->url('/_otp_admin/users/frank/totp'));
is($r->{status}, 200, 'admin: DELETE users/frank/totp');
is($t->redis('EXISTS', okey('d', 'frank')), 0, 'forgets the devices');
$frank->set_cookie(undef);
$r = get($frank, '/private/index.html', device => $fdev);
is($r->{status}, 302, '... the device cookie no longer passes');

# ------------------------------------------------------- sign-out

# SPEC 4 / invariant 22: signing out forgets this browser's trust (its
# cookie and its record in Redis) unless the user keeps it.

my $gina = enrolled('gina');
(undef, my $gdev) = remembered($gina);
my $both = "otp_session=$gina->{cookie}; otp_session_device=$gdev";

$r = get($gina, '/_otp/logout', device => $gdev);
is($r->{status}, 200, 'GET logout on a trusted browser');
like($r->{content}, qr/name="keep_device" value="1"/,
     '... offers to keep trusting it');
my $lcsrf = form_field($r->{content}, 'csrf');
$r = get($gina, '/_otp/logout');
unlike($r->{content}, qr/keep_device/, '... not on an untrusted one');

$r = $gina->post('logout', { csrf => $lcsrf }, headers => { Cookie => $both });
is($r->{status}, 303, 'POST logout');
my @gset = ref $r->{headers}{'set-cookie'} ? @{ $r->{headers}{'set-cookie'} }
                                           : ($r->{headers}{'set-cookie'});
ok((grep { /^otp_session_device=;.*Max-Age=0/ } @gset),
   '... clears the device cookie') or diag("@gset");
is($t->redis('ZCARD', okey('d', 'gina')), 0, '... and forgets the device');
$gina->set_cookie(undef);
$r = get($gina, '/private/index.html', device => $gdev);
is($r->{status}, 302, 'the old device cookie no longer passes');

my $hank = enrolled('hank');
(undef, my $hdev) = remembered($hank);
$r = get($hank, '/_otp/logout', device => $hdev);
$r = $hank->post('logout', { csrf => form_field($r->{content}, 'csrf'),
                             keep_device => 1 },
                 headers => { Cookie => "otp_session=$hank->{cookie}; "
                                        . "otp_session_device=$hdev" });
is($r->{status}, 303, 'POST logout with keep_device=1');
ok(!(grep { defined && /^otp_session_device=/ }
     ref $r->{headers}{'set-cookie'} ? @{ $r->{headers}{'set-cookie'} }
                                     : ($r->{headers}{'set-cookie'})),
   '... leaves the device cookie');
is($t->redis('ZCARD', okey('d', 'hank')), 1, '... and the device');
$hank->set_cookie(undef);
$r = get($hank, '/private/index.html', device => $hdev);
is($r->{status}, 200, '... which still passes');

# ------------------------------------------------------- keys, logs

my ($cursor, @no_ttl) = (0);
do {
    my $scan = $t->redis('SCAN', $cursor, 'COUNT', 1000);
    $cursor = $scan->[0];
    for my $k (@{ $scan->[1] }) {
        next if $k =~ /^otp:\{([^}]*\}:u|~\}:store)$/;
        push @no_ttl, $k if $t->redis('TTL', $k) == -1;
    }
} while ($cursor ne '0');
ok(!@no_ttl, 'every key but the user records expires') or diag("@no_ttl");

$t->stop;

my $log = $t->error_log;
unlike($log, qr/\Q$dev\E|\Q$d1\E/, 'no device cookie in the log');
like($log, qr/user "alice" passed on a remembered browser/, 'logged');

done_testing;
