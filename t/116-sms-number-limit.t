#!/usr/bin/perl

# SPEC 6.17, otp_sms_number_limit: texts to one destination number per
# day, whichever users ask.  The limits were per user only: users with
# no factor yet could have texts sent to any number, and one number
# enrolled by many users got each user's daily limit.  Now a number has
# its own count (default 5 a day) under the keyed hash of the number,
# P{#<hmac>}:n; at the limit the asking user gets a 429 and nothing goes
# to the provider.  A text is reserved for the number before it is sent;
# only one that never reached the provider (or that it refused) is given
# back, one whose outcome is unknown counts (SPEC 6.20).

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field);
use OtpAttack qw(users);
use OtpHttp qw(hdr);
use OtpSms qw(set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(admin alice bob carol dave eve));
$t->private_site;
$t->run_redis;

my $prov = OtpSms->new($t)->start;

sub conf {
    my ($limit) = @_;
    return OtpTest::servers_conf(key => $key, servers => [
        [ '%%PORT%%', <<"EOF" . $prov->location(undef, read_timeout => "1s") ] ]);
auth_basic "test";
auth_basic_user_file %%DIR%%/htpasswd;
otp_methods totp sms;
otp_sms_provider /_otp_sms;
otp_sms_resend_delay 0;
otp_sms_max_sends 100;
otp_sms_daily_limit 100;
$limit
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
EOF
}

# ---------------------------------------------------------------- nginx -t

for my $bad ('0', '-1', 'abc', '10001') {
    $t->write_conf(conf("otp_sms_number_limit $bad;"), 'bad.conf');
    my ($rc, $out) = $t->nginx_test($t->dir . '/bad.conf');
    isnt($rc, 0, "otp_sms_number_limit $bad: nginx -t fails");
    like($out, qr/otp_sms_number_limit/, '... naming the directive');
}

# the refusals above are emerg lines: not this run's
$t->write_file('error.log', '');

$t->write_conf(conf('otp_sms_number_limit 3;'));
$t->run_nginx;
$t->wait_redis_ready;

my $NUM = '+15555550123';
set_phone($t, $_, $NUM) for qw(alice bob carol);
set_phone($t, 'dave', '+15555550999');

my %f = map { $_ => OtpFlow->new($t, user => $_) } qw(alice bob carol dave);

sub number_keys {
    return grep { /^otp:\{#/ } @{ $t->redis('KEYS', 'otp:*') };
}

sub count_of {
    my @k = number_keys();
    return { map { $_ => $t->redis('ZCARD', $_) } @k };
}

# ------------------------------------------ a send the provider refused

$prov->mode(503);
$prov->clear;
my ($r) = send_code($f{alice});
is($r->{status}, 502, 'the provider refuses: 502');
is(scalar number_keys(), 0, '... the text is given back to the number');

# ------------------------------------- a send whose outcome is unknown

$prov->mode('hang');
($r) = send_code($f{alice});
$prov->mode('ok');
is($r->{status}, 502, 'no answer in time: 502');
my @k = number_keys();
is(scalar @k, 1, '... one key for the number');
my $nk = $k[0] // '';
like($nk, qr/^otp:\{#[0-9a-f]{64}\}:n$/, "... named by a keyed hash: $nk");
unlike($nk, qr/5555550123/, '... not by the number');
is($t->redis('ZCARD', $nk), 1, '... the text counts for the number');

# ---------------------------------------------- across users, to the limit

$prov->clear;
($r) = send_code($f{bob});
is($r->{status}, 303, 'bob, same number: sent');
($r) = send_code($f{alice});
is($r->{status}, 303, 'alice again: sent (3 of 3 with the unknown one)');
is(scalar $prov->wait_requests(2), 2, '... two texts reached the provider');
is($t->redis('ZCARD', $nk), 3, '... three counted for the number');
my $ttl = $t->redis('TTL', $nk);
ok($ttl > 86000 && $ttl <= 86400, "... for a day (TTL $ttl)");

$prov->clear;
($r) = send_code($f{carol});
is($r->{status}, 429, 'carol, a third user with that number: 429');
like($r->{content}, qr/This phone number has received all/,
     '... the page says why');
my $retry = hdr($r, 'retry-after') // 0;
ok($retry > 86000, "... Retry-After until the first leaves the day ($retry)");
sleep 0.3;
is(scalar $prov->requests, 0, '... nothing sent');
is($t->redis('ZCARD', okey('sd', 'carol')), 0,
   "... nor counted against carol's own day");
is($t->redis('ZCARD', okey('sp', 'carol')), 0, "... nor left reserved");
like($t->error_log,
     qr/\[notice\].*a text for user "carol" was refused: its number reached otp_sms_number_limit/,
     '... logged at notice, without the number');
unlike($t->error_log, qr/5555550123/, 'the number is in no log line');

($r) = send_code($f{alice});
is($r->{status}, 429, 'alice too: 429');

my (undef, $dcsrf) = $f{dave}->challenge('/private/index.html');
$t->redis('CONFIG', 'RESETSTAT');
($r) = send_code($f{dave}, csrf => $dcsrf);
is($r->{status}, 303, 'dave, another number: sent, untouched');
my ($trips) = $t->redis('INFO', 'commandstats')
              =~ /^cmdstat_evalsha:calls=(\d+)/m;
is($trips, 3, '... in 3 round trips: sms_reserve, sms_number, sms_done');

# ------------------------------- a user without a factor, pumping a number

my $eve = OtpFlow->new($t, user => 'eve');
my $page = $eve->get('/_otp/sms?r=/private/');
is($page->{status}, 200, 'eve, no factor: the phone page');
my $csrf = form_field($page->{content}, 'csrf');
$r = $eve->post('sms', { csrf => $csrf, return => '/private/',
                         phone => $NUM });
is($r->{status}, 429, '... asking for texts to the full number: 429');
$r = $eve->post('sms', { csrf => $csrf, return => '/private/',
                         phone => '+15555550777' });
is($r->{status}, 303, '... to another number: sent');

# -------------------------------------------------------- every key expires

for my $k (number_keys()) {
    cmp_ok($t->redis('TTL', $k), '>', 0, "$k expires");
}

$prov->stop;
$t->stop;

done_testing;
