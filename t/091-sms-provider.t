#!/usr/bin/perl

# The provider failing (issue 5): a 500, a 404 and a refused
# connection all give the user 502 "could not send", count nothing (no resend
# delay, no text for the challenge or the day), leave the previous code
# working, log at error without the code, and let the next send
# through.  otp_sms_sent_total and otp_sms_failed_total count exactly.
# An answer that never comes (past proxy_read_timeout) or a reset after
# sending count (SPEC 6.20): t/098-sms-abuse.t.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field cookie_value);
use OtpAttack qw(users site);
use OtpHttp qw(hdr);
use OtpSms qw(code_of path_of set_phone send_code);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $refused = OtpTest::free_port();

users($t, qw(admin alice bob));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $prov = OtpSms->new($t)->start;
my $pp = $prov->port;

my $common = <<'EOF';
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp sms;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
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
$common
        location = /otp_status {
            auth_basic off;
            otp_status;
        }
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/json;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$pp/send;
            proxy_connect_timeout 1s;
            proxy_read_timeout 1s;
        }
    }

    server {
        listen 127.0.0.1:$refused;
$common
        location = /_otp_sms {
            internal;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$refused/nothing-listens-here;
        }
    }
}
EOF

# the second server listens on $refused; its provider on $refused + 0
# would be nginx itself: point it at a port nobody has instead
my $conf = $t->read_file('nginx.conf');
my $dead = OtpTest::free_port();
$conf =~ s{proxy_pass http://127\.0\.0\.1:$refused/nothing}
          {proxy_pass http://127.0.0.1:$dead/nothing};
$t->write_file('nginx.conf', $conf);

$t->run_nginx;
$t->wait_redis_ready;

my $P = 'otp:';
my $ret = '/private/index.html';

set_phone($t, $_, '+15555550123') for qw(alice bob);

sub metric {
    my ($name) = @_;
    my $r = $t->get('/otp_status');
    my ($v) = $r->{content} =~ /^\Q$name\E (\d+)$/m;
    return $v // -1;
}

sub counted {
    my ($user, $cid) = @_;
    my $c = $t->redis('HGETALL', okey('c', $user, $cid));
    my %c = @{ ref $c ? $c : [] };
    return {
        sends    => $c{sn} // 0,
        reserved => defined $c{sr} ? 1 : 0,
        day      => $t->redis('ZCARD', okey('sd', $user)),
        pending  => $t->redis('ZCARD', okey('sp', $user)),
    };
}

my $alice = OtpFlow->new($t, user => 'alice');

# a first text that works: its code must survive the failures
($_, my $csrf) = send_code($alice);
my $cid = substr($csrf, 0, 22);
my @req = $prov->wait_requests(1);
my $first = code_of($req[0]);
ok($first, 'a first text, before the provider fails');
is_deeply(counted('alice', $cid),
          { sends => 1, reserved => 0, day => 1, pending => 0 },
          '... counted once');

# the resend delay would refuse the next sends: take the first text off
# the clock (the last send time) so that only the failures are tested
$t->redis('HSET', okey('c', 'alice', $cid), 'sl', time - 60);

my $sent0 = metric('otp_sms_sent_total');
my $failed0 = metric('otp_sms_failed_total');
is($sent0, 1, 'otp_sms_sent_total 1');
is($failed0, 0, 'otp_sms_failed_total 0');

my @codes = ($first);
my $failures = 0;

for my $case ([ '500', '500' ], [ '404', '404' ])
{
    my ($mode, $logged) = @$case;
    $prov->clear;
    $prov->mode($mode);
    sleep 1.1;   # the error log takes one provider failure a second

    my $t0 = time;
    my $r = $alice->post('sms', { csrf => $csrf, return => $ret });
    my $took = time - $t0;
    $failures++;

    is($r->{status}, 502, "provider $mode: 502");
    like($r->{content}, qr/could not send/i, '... "could not send"');
    my $back = "/_otp/challenge?method=sms&amp;c=$cid"
               . "&amp;r=/private/index.html";
    like($r->{content}, qr{<a class="button" href="\Q$back\E">},
         '... and a way back to the challenge');
    ok(!defined hdr($r, 'location'), '... no redirect');
    if ($mode eq 'hang') {
        ok($took >= 0.9 && $took < 5,
           sprintf('... after proxy_read_timeout (%.1fs)', $took));
    }

    @req = $prov->wait_requests(1);
    is(scalar @req, 1, '... the provider was asked once');
    my $code = code_of($req[0]);
    push @codes, $code if $code;

    is_deeply(counted('alice', $cid),
              { sends => 1, reserved => 0, day => 1, pending => 0 },
              '... nothing counted, the reservation given back');

    my $log = $t->error_log;
    my $line = qq(SMS provider "/_otp_sms" answered $logged for user )
               . qq("alice": the code was not sent,);
    like($log, qr/\[error\].*\Q$line\E/, "... logged at error ($logged)");
}

$prov->mode('ok');
$prov->clear;
my $r = $alice->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 303, 'the provider back: the next send goes through');
@req = $prov->wait_requests(1);
my $next = code_of($req[0]);
push @codes, $next;
is_deeply(counted('alice', $cid),
          { sends => 2, reserved => 0, day => 2, pending => 0 },
          '... and counts');

is(metric('otp_sms_sent_total'), $sent0 + 1, 'otp_sms_sent_total exact');
is(metric('otp_sms_failed_total'), $failed0 + $failures,
   'otp_sms_failed_total exact');

# the first code was replaced only by the text that was sent
SKIP: {
    skip 'the same code twice by chance', 1 if $first eq $next;
    $r = $alice->post('verify', { csrf => $csrf, code => $first,
                                  method => 'sms', return => $ret });
    is($r->{status}, 401, 'the code a sent text replaced fails');
}
$r = $alice->post('verify', { csrf => $csrf, code => $next,
                              method => 'sms', return => $ret });
is($r->{status}, 303, 'the sent code signs in');

# a failed send leaves the previous code as it was

my $bob = OtpFlow->new($t, user => 'bob');
$prov->clear;
($r, $csrf) = send_code($bob);
my $bob_code = code_of(($prov->wait_requests(1))[0]);
$t->redis('HSET', okey('c', 'bob', substr($csrf, 0, 22)), 'sl', time - 60);
$prov->mode('500');
$r = $bob->post('sms', { csrf => $csrf, return => $ret });
is($r->{status}, 502, 'bob: a send fails');
$prov->mode('ok');
$r = $bob->post('verify', { csrf => $csrf, code => $bob_code,
                            method => 'sms', return => $ret });
is($r->{status}, 303, '... the code of the text before it still works');

my $ok = metric('otp_verifications_total{method="sms",result="ok"}');
my $wrong = metric('otp_verifications_total{method="sms",result="wrong"}');
is($ok, 2, 'otp_verifications_total{method="sms",result="ok"} 2');
is($wrong, $first eq $next ? 0 : 1, '... result="wrong" for the replaced');

# a refused connection

my $site = site($t, $refused);
my $b2 = OtpFlow->new($site, user => 'bob');
my ($page, $c2) = $b2->challenge($ret);
sleep 1.1;
$r = $b2->post('sms', { csrf => $c2, return => $ret });
is($r->{status}, 502, 'connection refused: 502');
is_deeply(counted('bob', substr($c2, 0, 22)),
          { sends => 0, reserved => 0, day => 1, pending => 0 },
          '... nothing counted');
like($t->error_log, qr/\[error\].*answered 502 for user "bob"/,
     '... logged at error');

# no code in the log, whatever happened

my $log = $t->error_log;
my @seen = grep { $log =~ /\b\Q$_\E\b/ } @codes, $bob_code;
is_deeply(\@seen, [], 'no code in the error log');

my @keys = @{ $t->redis('KEYS', "${P}*") };
my @no_ttl = grep { !/^\Q$P\E\{([^}]*\}:u|~\}:store)$/ && $t->redis('TTL', $_) < 0 } @keys;
is_deeply(\@no_ttl, [], 'every key but the user records has an expiry');

$prov->stop;
$t->stop;

done_testing;
