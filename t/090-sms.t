#!/usr/bin/perl

# SMS codes end to end (SPEC section 3 SMS, section 4 POST sms,
# invariant 4): the challenge offers a text, POST sms sends one through
# the otp_sms_provider location to a local provider (JSON and a
# Twilio-style form body with Basic auth), the code signs the user in
# and $otp_method is sms; a used code, a code a newer text replaced and
# an expired code fail; the resend delay answers 429 with Retry-After;
# wrong codes burn the challenge like TOTP codes; special characters of
# the template and the issuer reach the provider correctly escaped; an
# alphanumeric code; the provider sees none of the client's headers;
# the variables are empty outside the provider's subrequest.

use strict;
use warnings;

use JSON::PP ();
use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site wrong_code);
use OtpHttp qw(hdr);
use OtpSms qw(text_of code_of path_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %port = map { $_ => OtpTest::free_port() } qw(form special ttl alnum plain);

users($t, qw(admin alice bob carol dave erin frank gina hank));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $json = OtpSms->new($t, name => 'json')->start;
my $twilio = OtpSms->new($t, name => 'twilio')->start;
my ($jp, $tp) = ($json->port, $twilio->port);

# the provider locations of conf/: JSON, and form-encoded with Basic
# auth (Twilio-style), pointed at the local providers
sub provider_conf {
    my ($file, $port) = @_;
    my $c = $t->read_file("$t->{top}/conf/$file");
    $c =~ s{proxy_pass\s+https://[^/;]+}{proxy_pass http://127.0.0.1:$port}
        or BAIL_OUT("conf/$file: no proxy_pass https://");
    return $c;
}

my $json_loc = provider_conf('sms/json.conf', $jp);
my $form_loc = provider_conf('sms/twilio.conf', $tp);

my $common = <<'EOF';
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp sms;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        location /_otp/ {
            otp_endpoint;
        }
        location /_otp_admin/ {
            otp_admin;
        }
        location /private/ {
            otp on;
            alias %%DIR%%/site/;
            add_header X-OTP-Method "$otp_method" always;
            add_header X-SMS "[$otp_sms_text$otp_sms_to$otp_sms_json]" always;
        }
EOF

# the template and issuer with everything that needs escaping, in
# nginx's quoting: \" is ", \\ is \, \n is a newline
my $special = <<'EOF';
        otp_issuer "Acme \"Q\" \\ Co & <é>";
        otp_sms_template "{code} \"{issuer}\" 1% +=?;&\n@{host} #{code}";
EOF
my $special_issuer = "Acme \"Q\" \\ Co & <\x{e9}>";

$t->write_conf(<<"EOF");
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
        otp_sms_resend_delay 2s;
$common
$json_loc
    }

    server {
        listen 127.0.0.1:$port{form};
        server_name form.example;
$special
$common
$form_loc
    }

    server {
        listen 127.0.0.1:$port{special};
        server_name special.example;
$special
$common
$json_loc
    }

    server {
        listen 127.0.0.1:$port{ttl};
        otp_sms_ttl 2s;
        otp_sms_resend_delay 0;
$common
$json_loc
    }

    server {
        listen 127.0.0.1:$port{alnum};
        otp_sms_code_charset alnum;
        otp_sms_code_length 8;
        otp_sms_template "{code} is your code";
$common
$json_loc
    }

    server {
        listen 127.0.0.1:$port{plain};
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        location /_otp/ {
            otp_endpoint;
        }
$json_loc
    }
}
EOF

$t->run_nginx;
$t->wait_redis_ready;

my $P = 'otp:';
my $ret = '/private/index.html';

set_phone($t, $_, '+15555550123') for qw(alice bob carol dave erin frank);

# the challenge a 303 of POST sms points at
sub challenge_id {
    my ($r) = @_;
    my ($c) = ($r->{headers}{location} // '') =~ /[?&]c=([A-Za-z0-9_-]+)/;
    return $c;
}

sub follow {
    my ($f, $r) = @_;
    return $f->get(path_of($r->{headers}{location}));
}

sub verify_sms {
    my ($f, $csrf, $code) = @_;
    return $f->post('verify', { csrf => $csrf, code => $code,
                                method => 'sms', return => $ret });
}

# --------------------------------------------------- gate and challenge

my $alice = OtpFlow->new($t, user => 'alice');

my $r = $alice->get($ret);
is($r->{status}, 302, 'a user with only a phone: 302');
like($r->{headers}{location}, qr{/_otp/challenge\?r=}, '... to the challenge');

my ($page, $csrf) = $alice->challenge($ret);
is($page->{status}, 200, 'challenge page');
like($page->{content}, qr{<form method="post" action="sms">},
     'a form that sends a text');
like($page->{content}, qr{Text me a code}, '... "Text me a code"');
unlike($page->{content}, qr{Code from the text message},
       'no code field before a text was sent: sending is the step');
unlike($page->{content}, qr{action="verify"}, '... no verify form');
like($page->{content}, qr{id="sms-send" autofocus}, '... the send button');
unlike($page->{content}, qr{authenticator app</a>},
       'no authenticator to switch to');
is(scalar $json->requests, 0, 'nothing sent by a GET');

# ------------------------------------------------------ send and verify

$r = $alice->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 303, 'POST sms: 303');
my $cid = challenge_id($r);
like($r->{headers}{location},
     qr{/_otp/challenge\?method=sms&c=[A-Za-z0-9_-]{22}
        &r=/private/index\.html$}x,
     '... back to the same challenge');
is($cid, substr($csrf, 0, 22), '... the challenge of the form');

my @req = $json->wait_requests(1);
is(scalar @req, 1, 'the provider got one request');
is($req[0]{method}, 'POST', '... a POST');
is($req[0]{path}, '/v1/messages', '... to the proxied path');
is($req[0]{headers}{'content-type'}, 'application/json', '... JSON');
my $msg = eval { JSON::PP->new->utf8->decode($req[0]{body}) };
ok($msg, '... a valid JSON body') or diag($req[0]{body});
is_deeply([ sort keys %{ $msg || {} } ], [ 'text', 'to' ],
          '... {"to", "text"}');
is($msg->{to}, '+15555550123', '... to the user\'s number');
like($msg->{text},
     qr/^Your gate\.example code is \d{6}\. It expires in 5 min\.$/,
     '... the default template');
is($req[0]{headers}{authorization}, 'Bearer REPLACE-WITH-YOUR-API-KEY',
   '... with the provider\'s credentials of conf/sms/json.conf');
ok(!exists $req[0]{headers}{cookie}
   && !grep({ /YWxpY2U6YWxpY2U/ } values %{ $req[0]{headers} }),
   'none of the client\'s headers (Cookie, its Authorization) reach it');
my $code = code_of($req[0]);

my $h = $t->redis('HGETALL', okey('c', 'alice', $cid));
my %c = @{ ref $h ? $h : [] };
is(length($c{sh} // ''), 32, 'the challenge holds a 32-byte hash');
unlike(join(' ', values %c), qr/\Q$code\E/, '... never the code');
is($c{sn}, 1, '... one text counted');

$page = follow($alice, $r);
is($page->{status}, 200, 'the challenge again');
like($page->{content}, qr{Code sent to \+1555\*\*\*0123\.},
     '... says where the code went, masked');
like($page->{content}, qr{new code\s+in\s+<span>[12]</span> s},
     '... the cooldown');
like($page->{content}, qr{Code from the text message},
     'the code field asks for the texted code');
like($page->{content}, qr{name="method" value="sms"}, 'method=sms');
like($page->{content}, qr{inputmode="numeric"}, 'digits: numeric keyboard');
like($page->{content}, qr{Send a new code}, '... a resend button');
$csrf = form_field($page->{content}, 'csrf');
is(substr($csrf, 0, 22), $cid, '... for the same challenge');

my $w = $code eq '000000' ? '000001' : '000000';
$r = verify_sms($alice, $csrf, $w);
is($r->{status}, 401, 'a wrong code: 401');
like($r->{content}, qr/did not work/, '... says so');
like($r->{content}, qr{Code from the text message}, '... still asks for SMS');
is(substr(form_field($r->{content}, 'csrf'), 0, 22), $cid,
   '... same challenge');

$r = verify_sms($alice, $csrf, $code);
is($r->{status}, 303, 'the texted code: 303');
is(path_of($r->{headers}{location}), $ret, '... to the return address');
my $cookie = cookie_value($r, 'otp_session');
ok($cookie, '... and a session cookie');
$alice->set_cookie($cookie);

$r = $alice->get($ret);
is($r->{status}, 200, 'the session opens the page');
is($r->{headers}{'x-otp-method'}, 'sms', '$otp_method is sms');
is($r->{headers}{'x-sms'}, '[]', '$otp_sms_* are empty outside the send');

$alice->set_cookie(undef);
$r = verify_sms($alice, $csrf, $code);
isnt($r->{status}, 303, 'the same code again: refused');
ok(!cookie_value($r, 'otp_session'), '... no cookie');
is($t->redis('EXISTS', okey('c', 'alice', $cid)), 0, 'success deleted the challenge');

# ------------------------------------------------- bound to its challenge

my $b0 = OtpFlow->new($t, user => 'bob');
$json->clear;
($r, $csrf) = send_code($b0);
$code = code_of(($json->wait_requests(1))[0]);
my (undef, $other) = $b0->challenge($ret);
isnt(substr($other, 0, 22), substr($csrf, 0, 22), 'another challenge');
$r = verify_sms($b0, $other, $code);
is($r->{status}, 401, 'a code on another challenge of the user: 401');
ok(!cookie_value($r, 'otp_session'), '... no cookie');

# --------------------------------------------------------------- resend

my $bob = OtpFlow->new($t, user => 'bob');
$json->clear;

($r, $csrf) = send_code($bob);
is($r->{status}, 303, 'bob: first text');
my $code1 = code_of(($json->wait_requests(1))[0]);

my $t0 = time;
$r = $bob->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 429, 'resend inside the delay: 429');
my $retry = hdr($r, 'retry-after') // 0;
ok($retry >= 1 && $retry <= 2, "... Retry-After $retry");
like($r->{content}, qr/new one in [12] s/, '... says how long to wait');
like($r->{content}, qr{href="/_otp/challenge\?method=sms&amp;c=},
     '... and links back');
is(scalar $json->requests, 1, '... nothing sent');
is($t->redis('HGET', okey('c', 'bob', substr($csrf, 0, 22)), 'sn'), 1,
   '... nothing counted');

sleep(2.2 - (time - $t0));

$r = $bob->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 303, 'after the delay: sent');
my @two = $json->wait_requests(2);
is(scalar @two, 2, '... the provider got the second text');
my $code2 = code_of($two[1]);
isnt($code2, $code1, '... with a new code');
SKIP: {
    skip 'the same code twice by chance', 1 if $code1 eq $code2;
    $r = verify_sms($bob, $csrf, $code1);
    is($r->{status}, 401, 'the replaced code fails');
}
$r = verify_sms($bob, $csrf, $code2);
is($r->{status}, 303, 'the new code signs in');

# ------------------------------------------------------------- attempts

my $carol = OtpFlow->new($t, user => 'carol');
$json->clear;
($r, $csrf) = send_code($carol);
$code = code_of(($json->wait_requests(1))[0]);
my @st;
for my $i (1 .. 3) {
    $w = sprintf '%06d', ($code + $i) % 1000000;
    push @st, verify_sms($carol, $csrf, $w)->{status};
}
is_deeply(\@st, [ 401, 401, 429 ],
          'otp_max_attempts 3: two wrong codes, the third burns it');
$r = verify_sms($carol, $csrf, $code);
is($r->{status}, 429, 'the right code on a burnt challenge: 429');
ok(!cookie_value($r, 'otp_session'), '... no cookie');
$r = $carol->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 429, 'a burnt challenge sends no more texts');
is(scalar $json->requests, 1, '... nothing sent');
my $f = $t->redis('GET', okey('f', 'carol'));
is($f, 3, 'three failures toward the lockout');
ok($t->redis('TTL', okey('f', 'carol')) > 0, '... with an expiry');

# --------------------------------------------------------------- expiry

my $dave = OtpFlow->new(site($t, $port{ttl}), user => 'dave');
$json->clear;
($r, $csrf) = send_code($dave);
is($r->{status}, 303, 'otp_sms_ttl 2s: sent');
$code = code_of(($json->wait_requests(1))[0]);
like(text_of(($json->requests)[0]), qr/expires in 1 min/,
     '{minutes} rounds up');
sleep 3.1;
$r = verify_sms($dave, $csrf, $code);
is($r->{status}, 401, 'after its ttl the code fails');
like($r->{content}, qr/expired/, '... as expired');
$r = $dave->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 303, 'a new text');
$code = code_of(($json->wait_requests(2))[1]);
$r = verify_sms($dave, $csrf, $code);
is($r->{status}, 303, '... its code works');

# ------------------------------------------ form body and special text

my $erin = OtpFlow->new(site($t, $port{form}), user => 'erin');
($r, $csrf) = send_code($erin);
is($r->{status}, 303, 'form provider: sent');
@req = $twilio->wait_requests(1);
is(scalar @req, 1, '... one request');
is($req[0]{path}, '/2010-04-01/Accounts/ACtest/Messages.json',
   '... Twilio-style path');
is($req[0]{headers}{authorization}, 'Basic QUN0ZXN0OnNlY3JldA==',
   '... the provider\'s Basic auth, not the user\'s');
is($req[0]{headers}{'content-type'}, 'application/x-www-form-urlencoded',
   '... form-encoded');
my %form = map { my $x = $_; $x =~ s/%([0-9A-F]{2})/chr hex $1/ge; $x }
           map { split /=/, $_, 2 } split /&/, $req[0]{body};
is_deeply([ sort keys %form ], [ 'Body', 'From', 'To' ],
          '... From, To and Body');
is($form{To}, '+15555550123', '... To decoded');
is($form{From}, '+15550006666', '... From as configured');
unlike($req[0]{body}, qr/[^A-Za-z0-9%&=._~-]/,
       '... every special character percent-encoded');
$code = code_of($req[0]);
like($code, qr/^\d{6}$/, '... a code');
my $expect = "$code \"$special_issuer\" 1% +=?;&\n"
             . "\@form.example #$code";
utf8::decode($form{Body});
is($form{Body}, $expect, '... Body decodes to the exact text');
$r = verify_sms($erin, $csrf, $code);
is($r->{status}, 303, '... and its code signs in');

my $frank = OtpFlow->new(site($t, $port{special}), user => 'frank');
$json->clear;
($r, $csrf) = send_code($frank);
is($r->{status}, 303, 'JSON provider, special text: sent');
@req = $json->wait_requests(1);
$msg = eval { JSON::PP->new->utf8->decode($req[0]{body}) };
ok($msg, '... valid JSON') or diag($req[0]{body});
$code = code_of($req[0]);
is($msg && $msg->{text},
   "$code \"$special_issuer\" 1% +=?;&\n"
   . "\@special.example #$code",
   '... the exact text: quotes, backslash, newline, UTF-8');
like($req[0]{body}, qr/\\"Q\\" \\\\ Co/, '... escaped as JSON');

# -------------------------------------------------------------- alnum

my $gina = OtpFlow->new(site($t, $port{alnum}), user => 'gina');
set_phone($t, 'gina', '+447911123456');
$json->clear;
($page, $csrf) = $gina->challenge($ret);
unlike($page->{content}, qr{inputmode="numeric"},
       'alnum: no numeric keyboard');
($r) = send_code($gina, csrf => $csrf);
@req = $json->wait_requests(1);
$code = code_of($req[0]);
like($code // '', qr/^[2-9A-HJKMNP-Z]{8}$/,
     'alnum: 8 of the unambiguous symbols');
is(text_of($req[0]), "$code is your code", '... a template with {code} only');
$r = verify_sms($gina, $csrf, lc $code);
is($r->{status}, 303, '... typed in lower case, it signs in');

# ------------------------------------------------------ TOTP and SMS

my $hank = OtpFlow->new($t, user => 'hank');
my $secret = $hank->enroll(return => $ret);
set_phone($t, 'hank', '+15555550199');
$hank->set_cookie(undef);
($page, $csrf) = $hank->challenge($ret);
like($page->{content}, qr{name="method" value="totp"},
     'with an authenticator: TOTP first');
like($page->{content}, qr{action="sms"}, '... and a text on offer');
$json->clear;
$r = $hank->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 303, '... sent');
$page = follow($hank, $r);
like($page->{content}, qr{name="method" value="sms"},
     '... then the page asks for the texted code');
like($page->{content}, qr{authenticator app</a>},
     '... with a way back to the app');
$r = $hank->verify(csrf => form_field($page->{content}, 'csrf'),
                   code => totp($secret, time => time + 30));
is($r->{status}, 303, '... the app\'s code still works on it');

# -------------------------------------------------- not offered: plain

my $plain = site($t, $port{plain});
my $ivan = OtpFlow->new($plain, user => 'hank');
($page, $csrf) = $ivan->challenge($ret);
unlike($page->{content}, qr{action="sms"}, 'default otp_methods: no SMS');
$r = $ivan->post('sms', { csrf => $csrf // '', return => $ret });
is($r->{status}, 400, '... POST sms: 400');
$r = verify_sms($ivan, $csrf // '', '123456');
is($r->{status}, 400, '... verify with method=sms: 400');

# ----------------------------------------------------------------- keys

my @keys = @{ $t->redis('KEYS', "${P}*") };
my @no_ttl = grep { !/^\Q$P\E\{([^}]*\}:u|~\}:store)$/ && $t->redis('TTL', $_) < 0 } @keys;
is_deeply(\@no_ttl, [], 'every key but the user records has an expiry');

$json->stop;
$twilio->stop;
$t->stop;

done_testing;
