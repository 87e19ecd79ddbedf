#!/usr/bin/perl

# Ordinary operator mistakes, named or made harmless:
#   - "otp on" at server level also covers the otp_endpoint location:
#     the module's own pages are not gated (no redirect loop);
#   - "otp on" in a server without otp_endpoint: nginx -t warns, naming
#     otp_endpoint;
#   - "recovery" not in otp_methods: enrollment hands out no recovery
#     codes, which could not be used.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpAttack qw(users site);
use OtpFlow qw(totp form_field cookie_value);
use OtpKeys;

my $t = OtpTest->new;
my $key = $t->secret_file;
users($t, qw(alice bob));
$t->private_site;

# ------------------------------------------------------------ nginx -t

my $tc = OtpTest->new;

sub nginx_t {
    my ($server) = @_;
    my $conf = $tc->write_conf(
        OtpTest::http_conf(<<"EOF", key => $key, redis => 0), 'check.conf');
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file ${\ $t->dir}/htpasswd;
        $server
    }
EOF
    return $tc->nginx_test($conf);
}

my ($rc, $out) = nginx_t('location /private/ { otp on; }');
is($rc, 0, 'otp on without otp_endpoint: nginx -t passes');
like($out, qr/\[warn\].*"otp on".*"otp_endpoint"/,
     '... with a warning naming otp_endpoint') or diag($out);

($rc, $out) = nginx_t('location /_otp/ { otp_endpoint; } '
                      . 'location /private/ { otp on; }');
is($rc, 0, 'with otp_endpoint: nginx -t passes');
unlike($out, qr/otp_endpoint/, '... without that warning') or diag($out);

# ------------------------------------------------------------ at run time

$t->run_redis;

my %port = (methods => OtpTest::free_port());

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));

    # otp on for the whole server, the endpoint's location included
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp on;
        location /_otp/ { otp_endpoint; }
        location /private/ { alias %%DIR%%/site/; }
    }

    # codes from an authenticator only
    server {
        listen 127.0.0.1:$port{methods};
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp;
        location /_otp/ { otp_endpoint; }
        location /private/ { otp on; alias %%DIR%%/site/; }
    }
EOF
$t->run_nginx;
$t->wait_redis_ready;

my $f = OtpFlow->new($t, user => 'alice');
my $r = $f->get('/private/index.html');
is($r->{status}, 302, 'server-wide otp on: the gate sends to a page');
like($r->{headers}{location} // '', qr{/_otp/enroll\?}, '... enroll');

$r = $f->get('/_otp/enroll?r=/private/');
is($r->{status}, 200, 'the page itself is served, not gated again')
    or diag("$r->{status} " . ($r->{headers}{location} // ''));
like($r->{content}, qr/secret=[A-Z2-7]+/, '... the enrollment page');

my $secret = eval { $f->enroll(return => '/private/index.html') };
ok($secret, 'enrolled through the server-wide gate');
is($f->get('/private/index.html')->{status}, 200, 'then signed in');

# recovery not in otp_methods: no codes at enrollment

my $site = site($t, $port{methods});
my $b = OtpFlow->new($site, user => 'bob');
my ($page, $bsecret, $csrf) = $b->enroll_page('/private/index.html');
is($page->{status}, 200, 'otp_methods totp: the enrollment page');
$r = $b->post('enroll', {
    code   => totp($bsecret),
    csrf   => $csrf,
    return => '/private/index.html',
});
unlike($r->{content} // '', qr/<ol><li>/,
       'otp_methods totp: no recovery codes handed out');
is($r->{status}, 303, '... straight on to the page asked for');
like($r->{headers}{location} // '', qr{^(?:http://[^/]+)?/private/index\.html$},
     '... that page');
ok(cookie_value($r, 'otp_session'), '... with a session');
is($t->redis('HEXISTS', okey('u', 'bob'), 'rc'), 0,
   '... and no recovery codes stored');

$t->stop;

done_testing();
