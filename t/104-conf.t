#!/usr/bin/perl

# The example configurations in conf/: each passes nginx -t as it is
# (placeholders filled in), and runs the flow it is there for:
#   trusted-network.conf  otp_bypass with geo behind a load balancer
#   step-up.conf          otp_max_age for an admin area, remembered
#                         browsers everywhere else
#   auth-request.conf     an identity provider (auth_request) in front,
#                         otp_user from auth_request_set
#   demo.conf             make demo

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);
use OtpHttp qw(hdr);

my $t = OtpTest->new;
$t->secret_file;
users($t, qw(alice bob carol));
mkdir $t->dir . "/$_" for qw(www www/admin);
$t->write_file('www/index.html', "home page\n", 0644);
$t->write_file('www/admin/index.html', "admin page\n", 0644);
$t->write_file('www/health.html', "ok\n", 0644);

$t->run_redis;

# a stand-in identity provider: a second nginx, bearer token to user
my $idp = OtpTest->new;
$idp->write_conf(<<'EOF');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    map $http_authorization $sso_user {
        default                 "";
        "Bearer alice-token"    alice;
        "Bearer bob-token"      bob;
    }
    server {
        listen 127.0.0.1:%%PORT%%;
        location = /check {
            if ($sso_user = "") {
                return 401;
            }
            add_header X-User $sso_user;
            return 204;
        }
    }
}
EOF
$idp->run_nginx;

sub example {
    my ($name) = @_;
    my $conf = $t->read_file("$t->{top}/conf/$name");
    my $idp_addr = '127.0.0.1:' . $idp->port;
    $conf =~ s/%%IDP%%/$idp_addr/g;
    return $conf;
}

# ----------------------------------------------------------- nginx -t

opendir my $dh, "$t->{top}/conf" or die "conf/: $!";
my @examples = sort grep { /\.conf$/ } readdir $dh;
closedir $dh;

ok(scalar(grep { $_ eq 'trusted-network.conf' } @examples)
   && scalar(grep { $_ eq 'step-up.conf' } @examples)
   && scalar(grep { $_ eq 'auth-request.conf' } @examples),
   'the examples are there: ' . join(' ', @examples));

for my $name (@examples) {
    $t->write_conf(example($name), "example-$name");
    my ($rc, $out) = $t->nginx_test($t->dir . "/example-$name");
    is($rc, 0, "conf/$name: nginx -t passes") or diag($out);
    unlike($out, qr/\[(warn|emerg)\]/, "conf/$name: no warning")
        or diag($out);
}

sub run_example {
    my ($name) = @_;
    $t->stop_nginx;
    $t->redis('FLUSHALL');
    $t->write_conf(example($name));
    $t->run_nginx;
    $t->wait_redis_ready;
}

my $origin = 'http://127.0.0.1:' . $t->port;

# ------------------------------------------------- trusted-network.conf

run_example('trusted-network.conf');

my $alice = OtpFlow->new($t, user => 'alice');

my $r = $alice->get('/index.html',
                    headers => { 'X-Forwarded-For' => '10.20.30.40' });
is($r->{status}, 200, 'trusted-network: from the office, the password '
                      . 'alone');
is($r->{content}, "home page\n", '... the page');

$r = $alice->get('/index.html',
                 headers => { 'X-Forwarded-For' => '192.168.7.8' });
is($r->{status}, 200, 'trusted-network: from the VPN too');

$r = $alice->get('/index.html',
                 headers => { 'X-Forwarded-For' => '203.0.113.9' });
is($r->{status}, 302, 'trusted-network: from elsewhere, a second factor');
like($r->{headers}{location} // '', qr{^\Q$origin\E/_otp/enroll\?r=},
     '... enroll first');

$r = $alice->get('/index.html');
is($r->{status}, 302, 'trusted-network: the load balancer itself: 302');

$r = $t->http->get($t->url('/index.html'),
                   { headers => { 'X-Forwarded-For' => '10.0.0.1' } });
is($r->{status}, 401, 'trusted-network: the office still needs the '
                      . 'password');

$r = $t->http->get($t->url('/health.html'),
                   { headers => { 'User-Agent' => 'ELB-HealthChecker/2.0' } });
is($r->{status}, 200, 'trusted-network: the health check passes');
$r = $t->http->get($t->url('/health.html'));
is($r->{status}, 401, 'trusted-network: anyone else there: 401');

# ----------------------------------------------------------- step-up.conf

run_example('step-up.conf');

$alice = OtpFlow->new($t, user => 'alice');
my ($page, $secret, $ecsrf) = $alice->enroll_page('/');
$page = $alice->post('enroll', { code => totp($secret), csrf => $ecsrf });
is($page->{status}, 200, 'step-up: alice enrolls');
my @codes = $page->{content} =~ m{<li>([0-9A-Z]{5}-[0-9A-Z]{5})</li>}g;
$alice->{secret} = $secret;
$alice->set_cookie(cookie_value($page, 'otp_session'));

$r = $alice->get('/admin/index.html');
is($r->{status}, 200, 'step-up: right after enrolling, the admin area');
is($r->{content}, "admin page\n", '... its page');

# a session whose code was entered 6 minutes ago
$alice->set_cookie(undef);
$r = $alice->verify(time => time + 30, extra => { remember => 1 });
is($r->{status}, 303, 'step-up: signed in, trusting this browser');
my $device = cookie_value($r, 'otp_session_device');
ok($device, '... a device cookie');
$t->redis('HSET', $_, 'a', time - 360)
    for @{ $t->redis('SMEMBERS', okey('su', 'alice')) };

$r = $alice->get('/index.html');
is($r->{status}, 200, 'step-up: the code is 6 minutes old: the site opens');
$r = $alice->get('/admin/index.html');
is($r->{status}, 302, 'step-up: ... the admin area does not');
like($r->{headers}{location} // '',
     qr{^\Q$origin\E/_otp/challenge\?r=/admin/index\.html$},
     '... to the challenge, and back');
$r = $alice->get('/admin/index.html',
                 headers => { Accept => 'application/json' });
is($r->{status}, 401, 'step-up: an API call: 401');

(undef, my $csrf) = $alice->challenge('/admin/index.html');
$r = $alice->verify(csrf => $csrf, code => $codes[0],
                    extra => { method => 'recovery' },
                    return => '/admin/index.html');
is($r->{status}, 303, 'step-up: a new code (a recovery code)');
$r = $alice->get('/admin/index.html');
is($r->{status}, 200, 'step-up: the admin area opens');

# the trusted browser: a new session anywhere but in the admin area
$alice->set_cookie(undef);
$r = $alice->get('/index.html',
                 headers => { Cookie => "otp_session_device=$device" });
is($r->{status}, 200, 'step-up: a trusted browser skips the code');
$r = $alice->get('/admin/index.html',
                 headers => { Cookie => "otp_session_device=$device" });
is($r->{status}, 302, 'step-up: not in the admin area');

# ----------------------------------------------------- auth-request.conf

run_example('auth-request.conf');

{
    package SsoFlow;
    our @ISA = ('OtpFlow');

    sub headers {
        my ($self, %extra) = @_;
        my $h = $self->SUPER::headers(%extra);
        if (defined $self->{token}) {
            $h->{Authorization} = "Bearer $self->{token}";
        } else {
            delete $h->{Authorization};
        }
        return $h;
    }
}

my $anon = SsoFlow->new($t, user => 'alice', token => undef);
$r = $anon->get('/index.html');
is($r->{status}, 401, 'auth-request: no token, the identity provider '
                      . 'says 401');

my $bad = SsoFlow->new($t, user => 'alice', token => 'forged');
$r = $bad->get('/_otp/enroll');
is($r->{status}, 401, 'auth-request: a bad token: 401, no pages either');

my $sso = SsoFlow->new($t, user => 'alice', token => 'alice-token');
$r = $sso->get('/index.html');
is($r->{status}, 302, 'auth-request: alice from the identity provider, '
                      . 'no second factor yet');
like($r->{headers}{location} // '', qr{/_otp/enroll\?r=/index\.html$},
     '... to enroll');

$sso->enroll(return => '/index.html');
ok($sso->cookie, 'auth-request: enrolled, a session');
is($t->redis('HEXISTS', okey('u', 'alice'), 'totp'), 1,
   '... for the user the identity provider named');
$r = $sso->get('/index.html');
is($r->{status}, 200, 'auth-request: the page');
is($r->{content}, "home page\n", '... its content');

my $bob = SsoFlow->new($t, user => 'bob', token => 'bob-token');
$bob->set_cookie($sso->cookie);
$r = $bob->get('/index.html');
is($r->{status}, 302, 'auth-request: bob with alice\'s session: 302');

$t->stop;
$idp->stop;

done_testing;
