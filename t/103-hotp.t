#!/usr/bin/perl

# HOTP as an enrollment type (otp_enroll_type hotp, issue 6): the
# otpauth://hotp URI with counter=0, the first code anywhere in the
# look-ahead window, sign-in with the look-ahead window of
# otp_hotp_window and the resynchronisation it brings (the counter moves
# past the code used), codes behind the counter refused, the counter
# advanced atomically and only on success (one of 8 racing submits on
# 2 workers wins), TOTP users unaffected, $otp_method hotp, the admin
# API and the metrics.  Codes come from oathtool --hotp.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site html_unescape);
use OtpHttp qw(hdr race interleaved_conns verify_request);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %port = map { $_ => OtpTest::free_port() } qw(totp eight);

users($t, qw(alice bob carol dave erin));
$t->private_site;

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    http    => "otp_lockout 100 1m;\notp_max_attempts 20;",
    common  => OtpTest::site_locations(),
    servers => [
        ['%%PORT%% reuseport',
         "otp_enroll_type hotp;\notp_hotp_window 5;\n"
         . OtpTest::admin_locations()],
        [$port{totp}, 'otp_hotp_window 5;'],
        [$port{eight}, "otp_enroll_type hotp;\notp_totp_digits 8;"],
    ],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 2);

my $port = $t->port;

sub hotp {
    my ($secret, $counter, %o) = @_;
    open my $fh, '-|', 'oathtool', '--hotp', '-b',
        '--digits=' . ($o{digits} || 6), "--counter=$counter", $secret
        or die "oathtool: $!";
    my $code = <$fh>;
    close $fh;
    die "oathtool failed\n" unless defined $code;
    chomp $code;
    return $code;
}

sub flow {
    my ($user, $p) = @_;
    return OtpFlow->new($p ? site($t, $p) : $t, user => $user);
}

sub counter_of {
    my ($user) = @_;
    return $t->redis('HGET', okey('u', $user), 'counter');
}

# a code on a new challenge, without a session
sub sign_in {
    my ($f, $code) = @_;
    $f->set_cookie(undef);
    return $f->verify(code => $code);
}

sub admin_status {
    my ($user) = @_;
    my $r = $t->http->get($t->url("/_otp_admin/users/$user"));
    require JSON::PP;
    return eval { JSON::PP::decode_json($r->{content}) } || {};
}

sub metric {
    my ($name) = @_;
    my $r = $t->http->get($t->url('/_otp_status'));
    return $r->{content} =~ /^\Q$name\E (\d+)$/m ? $1 : undef;
}

# ------------------------------------------------------------ enrollment

my $alice = flow('alice');
my ($r, $secret, $csrf) = $alice->enroll_page('/private/');
is($r->{status}, 200, 'the enrollment page');
my ($href) = $r->{content} =~ /<a[^>]*\bhref="(otpauth:[^"]*)"/;
$href = html_unescape($href // '');
like($href, qr{^otpauth://hotp/127\.0\.0\.1:alice\?secret=[A-Z2-7]+&},
     'an otpauth://hotp URI');
like($href, qr{&counter=0(&|$)}, 'with counter=0');
unlike($href, qr{period=}, 'and no period');
like($r->{content}, qr/counter-based \(HOTP\)/, 'the page says HOTP');

$r = $alice->get('/_otp/enroll?r=/private/');
my ($href2) = $r->{content} =~ /<a[^>]*\bhref="(otpauth:[^"]*)"/;
is(html_unescape($href2 // ''), $href, 'a reload shows the same key');

$r = $alice->post('enroll', { code => hotp($secret, 6), csrf => $csrf });
is($r->{status}, 401, 'the first code at counter 6, past window 5: 401');
is($t->redis('HEXISTS', okey('u', 'alice'), 'totp'), 0, 'not enrolled');

$r = $alice->post('enroll', { code => hotp($secret, 2), csrf => $csrf });
is($r->{status}, 200, 'the first code at counter 2 (in the window): 200');
like($r->{content}, qr/Save your recovery codes/, 'with recovery codes');
is($t->redis('HGET', okey('u', 'alice'), 'type'), 'hotp', 'stored as HOTP');
is(counter_of('alice'), 3, 'the counter starts after the code: 3');
$alice->{secret} = $secret;
$alice->set_cookie(undef);

my $s = admin_status('alice');
is($s->{hotp}, JSON::PP::true(), 'admin API: hotp true');
is($s->{totp}, JSON::PP::false(), '... totp false');
is($s->{recovery_codes_left}, 10, '... 10 recovery codes');

# ------------------------------------------------------------ sign-in

$r = sign_in($alice, hotp($secret, 3));
is($r->{status}, 303, 'the next code (counter 3): 303');
is(counter_of('alice'), 4, 'counter 4');
$r = $alice->get('/private/index.html');
is($r->{status}, 200, 'the session opens the gate');
is(hdr($r, 'x-otp-method'), 'hotp', '$otp_method hotp');

$r = sign_in($alice, hotp($secret, 3));
is($r->{status}, 401, 'the same code again: 401');
is(cookie_value($r, 'otp_session'), undef, 'no cookie');
$r = sign_in($alice, hotp($secret, 2));
is($r->{status}, 401, 'the code before it: 401');
is(counter_of('alice'), 4, 'the counter did not move');

# look-ahead and resynchronisation: the app was pressed 5 times unseen
$r = sign_in($alice, hotp($secret, 4 + 5));
is($r->{status}, 303, 'a code 5 ahead (the window): 303');
is(counter_of('alice'), 10, 'the counter is resynchronised past it: 10');
for my $c (4 .. 9) {
    $r = sign_in($alice, hotp($secret, $c));
    is($r->{status}, 401, "the skipped code of counter $c: 401");
}
$r = sign_in($alice, hotp($secret, 10 + 6));
is($r->{status}, 401, 'a code 6 ahead (past the window): 401');
is(counter_of('alice'), 10, 'and the counter did not move');
$r = sign_in($alice, hotp($secret, 10));
is($r->{status}, 303, 'the expected code (counter 10): 303');
$r = sign_in($alice, hotp($secret, 11 + 3));
is($r->{status}, 303, 'a code 3 ahead: 303');
is(counter_of('alice'), 15, 'counter 15');

# the window of otp_hotp_window, counted from the user's counter
$r = sign_in($alice, totp($secret));
isnt($r->{status}, 303, 'a TOTP code of the same key does not sign in');

# ---------------------------------------------------------------- race

$alice->set_cookie(undef);
my @csrf = map { ($alice->challenge)[1] } 1 .. 8;
my $code = hotp($secret, 16);
my @res = race($port, [ interleaved_conns($port) ], [ map {
    verify_request($port, 'alice', csrf => $_, code => $code)
} @csrf ]);
my %n;
$n{ $_->{status} }++ for @res;
is($n{303}, 1, 'one HOTP code, 8 challenges at once: exactly one 303')
    or diag(explain \%n);
is($n{401}, 7, 'the others 401') or diag(explain \%n);
my %w = map { (hdr($_, 'x-worker') // '') => 1 } @res;
is(scalar(grep { length } keys %w), 2, 'both workers answered');
is(counter_of('alice'), 17, 'the counter moved once: 17');

# a wrong code never moves the counter
$r = sign_in($alice, '000000') for 1 .. 3;
is(counter_of('alice'), 17, 'wrong codes leave the counter');

# ------------------------------------------------- TOTP users unaffected

my $bob = flow('bob', $port{totp});
my $bsecret = $bob->enroll;
is($t->redis('HEXISTS', okey('u', 'bob'), 'type'), 0, 'bob enrolled TOTP');
$bob = flow('bob');
$bob->{secret} = $bsecret;
$r = $bob->verify(time => time + 30);
is($r->{status}, 303,
   'a TOTP user signs in with TOTP where new users get HOTP');
$r = $bob->get('/private/index.html');
is(hdr($r, 'x-otp-method'), 'totp', '$otp_method totp');
is(admin_status('bob')->{hotp}, JSON::PP::false(), 'admin API: hotp false');

# and an HOTP user signs in where otp_enroll_type is totp
my $alice2 = flow('alice', $port{totp});
$r = sign_in($alice2, hotp($secret, 17));
is($r->{status}, 303, 'an HOTP user signs in on a totp server too');

# re-enrolling as TOTP replaces the HOTP key and its counter
my $cflow = flow('carol');
my (undef, $csecret, $ccsrf) = $cflow->enroll_page;
$cflow->post('enroll', { code => hotp($csecret, 0), csrf => $ccsrf });
is(counter_of('carol'), 1, 'carol enrolled HOTP');
$cflow = flow('carol', $port{totp});
$cflow->set_cookie(undef);
$r = $cflow->verify(code => hotp($csecret, 1));
is($r->{status}, 303, 'carol signs in');
my (undef, $tsecret, $tcsrf) = $cflow->enroll_page;
$r = $cflow->post('enroll', { code => totp($tsecret), csrf => $tcsrf });
is($r->{status}, 200, 'carol enrolls a TOTP authenticator');
is($t->redis('HEXISTS', okey('u', 'carol'), 'type'), 0, 'no longer HOTP');
is($t->redis('HEXISTS', okey('u', 'carol'), 'counter'), 0, 'no counter');
$r = sign_in($cflow, hotp($csecret, 2));
is($r->{status}, 401, 'an HOTP code of the old key: 401');

# --------------------------------------------------------- eight digits

my $dave = flow('dave', $port{eight});
my (undef, $dsecret, $dcsrf) = $dave->enroll_page;
$r = $dave->post('enroll', { code => hotp($dsecret, 0, digits => 8),
                             csrf => $dcsrf });
is($r->{status}, 200, 'an 8-digit HOTP key');
$r = sign_in($dave, hotp($dsecret, 1, digits => 8));
is($r->{status}, 303, 'signs in with 8 digits');
$r = sign_in($dave, hotp($dsecret, 2));
is($r->{status}, 401, 'a 6-digit code of it: 401');

# ------------------------------------------------------------ metrics

is(metric('otp_verifications_total{method="hotp",result="ok"}'), 8,
   'HOTP sign-ins counted: 8');
is(metric('otp_verifications_total{method="hotp",result="wrong"}'),
   2 + 6 + 1 + 1 + 7 + 3 + 1, 'wrong HOTP codes counted: 21');

$t->stop;

done_testing;
