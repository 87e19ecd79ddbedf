#!/usr/bin/perl

# SMS against those who would abuse it (SPEC 6.16, 6.17, 6.20):
#
# - the origin-bound line of a text names otp_sms_origin (by default
#   the server's first server_name), never the Host a client sends: a
#   phishing proxy cannot have a phone autofill the code on its site;
#   nginx -t refuses an origin that is not a plain host name;
# - a text whose outcome is unknown (the provider got the request, its
#   answer came after proxy_read_timeout, or the connection was reset
#   after sending) counts against the limits, and its code does not
#   work; only a send that never reached the provider is free.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field);
use OtpAttack qw(users site);
use OtpHttp qw(hdr http_request send_raw);
use OtpSms qw(text_of code_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;
my %port = map { $_ => OtpTest::free_port() } qw(origin);

users($t, qw(admin alice bob carol));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $prov = OtpSms->new($t)->start;
my $pp = $prov->port;

my $common = <<"EOF";
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp sms;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        otp_sms_resend_delay 0;
        otp_sms_template "Code {code}\\n\\n\@{host} #{code}";
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
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/json;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$pp/send;
            proxy_connect_timeout 1s;
            proxy_read_timeout 1s;
        }
EOF

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        server_name gate.example www.gate.example;
$common
    }

    server {
        listen 127.0.0.1:$port{origin};
        server_name *.example.org;
        otp_sms_origin login.example.org;
$common
    }
}
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $ret = '/private/index.html';

set_phone($t, $_, '+15555550123') for qw(alice bob);

# a POST sms with the Host header a phishing proxy would send
sub send_as_host {
    my ($port, $user, $host) = @_;
    my $f = OtpFlow->new($port == $t->port ? $t : site($t, $port),
                         user => $user);
    my (undef, $csrf) = $f->challenge($ret);
    return send_raw($port, http_request(
        port => $port, method => 'POST', path => '/_otp/sms',
        user => $user, host => $host,
        headers => [[Accept => 'text/html']],
        form => { csrf => $csrf, return => $ret }));
}

# ------------------------------------------------------------- origin

$prov->clear;
my $r = send_as_host($t->port, 'alice', 'phish.example');
is($r->{status}, 303, 'Host: phish.example, a text sent');
my @req = $prov->wait_requests(1);
my $code = code_of($req[0]) // '';
is(text_of($req[0]), "Code $code\n\n\@gate.example #$code",
   '... naming the first server_name, not the Host');

$prov->clear;
$r = send_as_host($port{origin}, 'bob', 'phish.example.org');
is($r->{status}, 303, 'otp_sms_origin: a text sent');
@req = $prov->wait_requests(1);
$code = code_of($req[0]) // '';
is(text_of($req[0]), "Code $code\n\n\@login.example.org #$code",
   '... naming otp_sms_origin, not the Host');

# nginx -t

sub nginx_t {
    my ($server) = @_;
    $t->write_conf(<<"EOF", 'test.conf');
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    server {
        listen 127.0.0.1:1;
        auth_basic "test";
        auth_basic_user_file htpasswd;
        otp_methods totp sms;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        $server
        location /_otp/ {
            otp_endpoint;
        }
        location = /_otp_sms {
            internal;
            proxy_pass http://127.0.0.1:1/;
        }
    }
}
EOF
    return $t->nginx_test($t->dir . '/test.conf');
}

my ($rc, $out) = nginx_t('otp_sms_origin www.example.com;');
is($rc, 0, 'otp_sms_origin www.example.com passes') or diag($out);

for my $bad ('https://www.example.com', 'www.example.com:8443',
             '*.example.com', 'www.example.com.', '$host', 'a_b.example',
             '-a.example', 'www..example.com')
{
    ($rc, $out) = nginx_t(qq(otp_sms_origin "$bad";));
    isnt($rc, 0, "otp_sms_origin $bad: nginx -t fails");
    like($out,
         qr/\[emerg\].*"otp_sms_origin" directive must be a plain host/,
         '... naming otp_sms_origin') or diag($out);
}

($rc, $out) = nginx_t('otp_sms_template "{code}\n@{host} #{code}";');
isnt($rc, 0, '{host} in a server without server_name: nginx -t fails');
like($out, qr/\[emerg\].*names \{host\}.*set "otp_sms_origin"/,
     '... asking for otp_sms_origin') or diag($out);

($rc, $out) = nginx_t('server_name _; '
                      . 'otp_sms_template "{code}\n@{host} #{code}";');
isnt($rc, 0, '{host} with server_name _: nginx -t fails');

($rc, $out) = nginx_t('otp_sms_origin a.example; '
                      . 'otp_sms_template "{code}\n@{host} #{code}";');
is($rc, 0, '... with otp_sms_origin it passes') or diag($out);

# nginx -t wrote its refusals to the running nginx's error log
$t->write_file('error.log', '');

# ------------------------------------------------------------ unknown

sub counted {
    my ($user, $cid) = @_;
    my $c = $t->redis('HGETALL', okey('c', $user, $cid));
    my %c = @{ ref $c ? $c : [] };
    return [ $c{sn} // 0, $t->redis('ZCARD', okey('sd', $user)),
             $t->redis('ZCARD', okey('sp', $user)) ];
}

my $carol = OtpFlow->new($t, user => 'carol');
set_phone($t, 'carol', '+15555550124');
my (undef, $csrf) = $carol->challenge($ret);
my $cid = substr($csrf, 0, 22);
my @codes;
for my $case ([ 'slow', 'ok', 2 ], [ 'reset', 'reset', 0 ],
              [ 'hang', 'hang', 0 ])
{
    my ($name, $mode, $delay) = @$case;
    $prov->clear;
    $prov->mode($mode, $delay);
    $r = $carol->post('sms', { csrf => $csrf, return => $ret });
    is($r->{status}, 502, "provider $name: 502");
    like($r->{content}, qr/could not confirm/i, '... "could not confirm"');
    @req = $prov->wait_requests(1);
    push @codes, code_of($req[0]);
}
is_deeply(counted('carol', $cid), [ 3, 3, 0 ],
          '3 unknown outcomes: 3 texts counted, for the day too');
$prov->mode('ok');
$prov->clear;
$r = $carol->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 429, 'otp_sms_max_sends 3 reached');
is(scalar $prov->requests, 0, '... nothing more sent');
sleep 2.5;   # the slow provider's answer is in by now
$r = $carol->post('verify', { csrf => $csrf, code => $codes[0] // '',
                              method => 'sms', return => $ret });
is($r->{status}, 401, 'the code of an unknown text does not work');

$prov->stop;
$t->stop;

done_testing;
