#!/usr/bin/perl

# Recovery codes (issue 6): ten single-use codes of 50 bits shown once
# after enrollment, stored only as keyed hashes; method=recovery on the
# challenge; each code works once, also when two submits race on two
# workers; the attempt and lockout limits of TOTP; the page says how
# many are left, and the last one sends the user to make new ones;
# regeneration needs a recent code; the admin API counts them;
# otp_methods without "recovery" offers none.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site security_headers_ok html_unescape);
use OtpHttp qw(hdr race interleaved_conns verify_request);

my $t = OtpTest->new;
my $key = $t->secret_file;

my %port = map { $_ => OtpTest::free_port() } qw(strict nocodes);

my @users = qw(alice bob carol dave erin frank gina hank kim lee);
users($t, @users);
$t->private_site;

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    http    => "otp_lockout 100 1m;\notp_max_attempts 20;",
    common  => OtpTest::site_locations(),
    servers => [
        ['%%PORT%% reuseport', OtpTest::admin_locations()],
        [$port{strict}, "otp_max_attempts 2;\notp_lockout 3 1m;"],
        [$port{nocodes}, 'otp_methods totp;'],
    ],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 2);

my $port = $t->port;
my $origin = "http://127.0.0.1:$port";
my $CODE = qr/[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}/;

sub flow {
    my ($user, $p) = @_;
    return OtpFlow->new($p ? site($t, $p) : $t, user => $user);
}

sub codes_of {
    my ($html) = @_;
    my ($list) = $html =~ m{<div class="codes"><ol>(.*?)</ol></div>}s
        or return ();
    return $list =~ m{<li>([^<]*)</li>}g;
}

# enrolls; returns (flow, the page of codes, the codes)
sub enrolled {
    my ($user, $p) = @_;
    my $f = flow($user, $p);
    my ($r, $secret, $csrf) = $f->enroll_page('/private/');
    $r = $f->post('enroll', { code => totp($secret), csrf => $csrf,
                              return => '/private/' });
    # 303 straight on where otp_methods offers no recovery codes
    die "enroll $user: $r->{status}\n"
        unless $r->{status} == 200 || $r->{status} == 303;
    $f->{secret} = $secret;
    $f->set_cookie(undef);
    return ($f, $r, codes_of($r->{content}));
}

# a recovery code on a new challenge (a browser without a session)
my %tally;

sub use_code {
    my ($f, $code, %o) = @_;
    $f->set_cookie(undef);
    my ($c, $csrf) = $f->challenge('/private/');
    my $r = $f->verify(csrf => $csrf, code => $code,
                       extra => { method => 'recovery' },
                       return => $o{return} // '/private/');
    $tally{ $r->{status} }++;
    return $r;
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

# ------------------------------------------------------------ shown once

my ($alice, $page, @codes) = enrolled('alice');

like($page->{content}, qr/Save your recovery codes/, 'the codes page');
is(scalar @codes, 10, 'ten codes');
is(scalar(grep { /^$CODE$/ } @codes), 10,
   'each XXXXX-XXXXX in Crockford base32: 10 symbols of 5 bits, 50 bits')
    or diag("@codes");
my %uniq = map { $_ => 1 } @codes;
is(scalar keys %uniq, 10, 'all different');
like($page->{content}, qr{href="/private/"}, 'a continue link back');
security_headers_ok($page, 'codes page');

my $rc = $t->redis('HGET', okey('u', 'alice'), 'rc') // '';
is(length $rc, 640, 'the store keeps 10 hashes of 64 hex digits');
like($rc, qr/^[0-9a-f]+$/, '... hex only');
my $dump = join '', map { ref $_ ? "@$_" : $_ // '' }
    $t->redis('HGETALL', okey('u', 'alice'));
my @plain = grep { my $c = $_; (my $n = $c) =~ s/-//;
                   index($dump, $c) >= 0 || index($dump, $n) >= 0 } @codes;
is("@plain", '', 'no code in the store as it is, with or without its dash');

is(admin_status('alice')->{recovery_codes_left}, 10,
   'admin API: 10 recovery codes left');

# ------------------------------------------------------------ the challenge

my ($c) = $alice->challenge('/private/');
like($c->{content}, qr{href="challenge\?method=recovery&amp;r=/private/"},
     'the challenge offers a recovery code');

$c = $alice->get('/_otp/challenge?method=recovery&r=/private/');
is($c->{status}, 200, 'GET challenge?method=recovery');
is(form_field($c->{content}, 'method'), 'recovery', 'method=recovery');
like($c->{content}, qr/Recovery codes left: 10/, 'says how many are left');
unlike($c->{content}, qr/inputmode="numeric"/, 'not a digits-only field');
like($c->{content}, qr{href="challenge\?method=totp&amp;r=}, 'way back');

# --------------------------------------------------------- works once

(my $typed = lc $codes[0]) =~ s/-/ /;
my $r = use_code($alice, $typed);
is($r->{status}, 303, 'a recovery code, in lower case with a space: 303');
is($r->{headers}{location}, "$origin/private/", 'to the page asked for');
ok($alice->cookie, 'a session cookie');
$r = $alice->get('/private/index.html');
is($r->{status}, 200, 'the session opens the gate');
is(hdr($r, 'x-otp-method'), 'recovery', '$otp_method recovery');

$r = use_code($alice, $codes[0]);
is($r->{status}, 401, 'the same code again: 401');
is(cookie_value($r, 'otp_session'), undef, 'no cookie');
like($r->{content}, qr/That recovery code did not work/, 'says so');
is(form_field($r->{content}, 'method'), 'recovery', 'still on recovery');
unlike($r->{content}, qr/Recovery codes left/,
       'no count after a wrong code: the page of a user without codes');
$c = $alice->get('/_otp/challenge?method=recovery&r=/private/');
like($c->{content}, qr/Recovery codes left: 9/, 'a new challenge: 9 left');

is(admin_status('alice')->{recovery_codes_left}, 9,
   'admin API: 9 left after one was used');
is(length($t->redis('HGET', okey('u', 'alice'), 'rc')), 576, '9 hashes left');

$r = use_code($alice, 'ABCDE-FGHJK');
is($r->{status}, 401, 'a code that is not hers: 401');
$r = use_code($alice, totp($alice->secret, time => time + 30));
is($r->{status}, 401, 'a TOTP code as a recovery code: 401');
$r = use_code($alice, "$codes[1]x");
is($r->{status}, 401, 'a code with one character more: 401');

# look-alikes: O for 0, I and L for 1
my ($with) = grep { /[01]/ } @codes[1 .. 9];
SKIP: {
    skip 'no 0 or 1 in these codes', 1 unless $with;
    (my $alike = $with) =~ tr/01/OI/;
    $r = use_code($alice, $alike);
    is($r->{status}, 303, "typed with O and I for 0 and 1 ($alike): 303");
}

# a TOTP code still works alongside
$alice->set_cookie(undef);
$r = $alice->verify(time => time + 30);
is($r->{status}, 303, 'the authenticator still works');

# --------------------------------------- the same answer (SPEC 6.10)

# kim has codes; lee is unknown by the time the form comes back (a
# challenge is only handed to an enrolled user)
my ($kim, undef, @kcodes) = enrolled('kim');
my ($lee) = enrolled('lee');
my (undef, $kcsrf) = $kim->challenge('/private/');
my (undef, $lcsrf) = $lee->challenge('/private/');
$t->redis('DEL', okey('u', 'lee'), okey('su', 'lee'));

sub blank {
    my ($r, $user) = @_;
    my $b = $r->{content};
    # the form's tokens differ from one challenge to the next
    $b =~ s/(name="(?:csrf|k)" value=")[^"]*/$1/g;
    $b =~ s/\b\Q$user\E\b/USER/g;
    return "$r->{status}\n$b";
}

my %same;
for my $case ([ $kim, $kcsrf, 'ZZZZZ-ZZZZZ', 'kim: a wrong code' ],
              [ $kim, undef, $kcodes[0], 'kim: a used code' ],
              [ $lee, $lcsrf, 'ZZZZZ-ZZZZZ', 'lee: unknown' ])
{
    my ($f, $csrf, $code, $what) = @$case;
    if ($what =~ /used/) {
        is(use_code($kim, $code)->{status}, 303, 'kim uses a code');
        (undef, $csrf) = $kim->challenge('/private/');
    }
    $f->set_cookie(undef);
    $r = $f->verify(csrf => $csrf, code => $code,
                    extra => { method => 'recovery' });
    $tally{ $r->{status} }++;
    $same{$what} = blank($r, $f->user);
}
is($same{'kim: a used code'}, $same{'kim: a wrong code'},
   'a used recovery code: the answer to a wrong one');
is($same{'lee: unknown'}, $same{'kim: a wrong code'},
   'an unknown user: the answer to a wrong code');

# ------------------------------------------------- racing the same code

my ($bob, undef, @bcodes) = enrolled('bob');
my @csrf = map { ($bob->challenge)[1] } 1 .. 8;
my @res = race($port, [ interleaved_conns($port) ], [ map {
    verify_request($port, 'bob', csrf => $_, code => $bcodes[3],
                   method => 'recovery')
} @csrf ]);
my %n;
$n{ $_->{status} }++ for @res;
$tally{303}++;
$tally{401} += 7;
is($n{303}, 1, 'one recovery code, 8 challenges at once: exactly one 303')
    or diag(explain \%n);
is($n{401}, 7, 'the others 401') or diag(explain \%n);
my %w = map { (hdr($_, 'x-worker') // '') => 1 } @res;
is(scalar(grep { length } keys %w), 2, 'both workers answered');
is(admin_status('bob')->{recovery_codes_left}, 9, 'one code used');

# ------------------------------------------- attempt and lockout limits

my ($carol, undef, @ccodes) = enrolled('carol', $port{strict});
my ($cc, $ccsrf) = $carol->challenge('/private/');
my @st = map {
    $carol->verify(csrf => $ccsrf, code => 'ZZZZZ-ZZZZZ',
                   extra => { method => 'recovery' })->{status}
} 1 .. 2;
$tally{401}++;
is_deeply(\@st, [ 401, 429 ],
          'otp_max_attempts 2: the second wrong code burns the challenge');
is($t->redis('GET', okey('f', 'carol')), 2, 'two failures counted for carol');

my (undef, $later) = $carol->challenge('/private/');
$r = use_code($carol, 'ZZZZZ-ZZZZY');
is($r->{status}, 429, 'otp_lockout 3: the third failure locks carol');
ok(hdr($r, 'retry-after'), 'with Retry-After');

$r = $carol->verify(csrf => $later, code => $ccodes[0],
                    extra => { method => 'recovery' });
is($r->{status}, 429, 'a right recovery code while locked: 429');
is(admin_status('carol')->{recovery_codes_left}, 10,
   'and the code is not used up');

$t->redis('DEL', okey('l', 'carol'));
$carol->set_cookie(undef);
(undef, $ccsrf) = $carol->challenge('/private/');
$carol->verify(csrf => $ccsrf, code => '000000');
is($t->redis('GET', okey('f', 'carol')), 1,
   'a wrong TOTP code counts toward the same lockout');
$r = $carol->verify(csrf => $ccsrf, code => $ccodes[0],
                    extra => { method => 'recovery' });
is($r->{status}, 303, 'a right recovery code on the same challenge: 303');
$tally{303}++;
is($t->redis('EXISTS', okey('f', 'carol')), 0, 'and the failures are cleared');

# ------------------------------------------------------- the last one

my ($dave, undef, @dcodes) = enrolled('dave');
for my $i (0 .. 8) {
    $r = use_code($dave, $dcodes[$i]);
    is($r->{status}, 303, "dave's code " . ($i + 1) . ": 303");
    is($r->{headers}{location}, "$origin/private/",
       '... to the page asked for');
}

$r = use_code($dave, $dcodes[9]);
is($r->{status}, 303, 'the last code: 303');
is($r->{headers}{location}, "$origin/_otp/recovery?r=/private/",
   '... to the recovery codes page');
ok($dave->cookie, 'with a session');
is(admin_status('dave')->{recovery_codes_left}, 0, 'admin API: 0 left');
is($t->redis('HEXISTS', okey('u', 'dave'), 'rc'), 0, 'no hash left');

$r = $dave->get('/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 200, 'GET recovery with a fresh session: 200');
like($r->{content}, qr/You have used your last recovery code/,
     'tells dave to make new ones');
like($r->{content}, qr/<form method="post" action="recovery">/, 'a form');
like($r->{content}, qr{href="/private/"}, 'and a way on without');
security_headers_ok($r, 'recovery page');
my $dcsrf = form_field($r->{content}, 'csrf');

($c) = $dave->challenge('/private/');
unlike($c->{content}, qr/method=recovery/,
       'the challenge offers no recovery code when none is left');
$c = $dave->get('/_otp/challenge?method=recovery&r=/private/');
is(form_field($c->{content}, 'method'), 'totp',
   'method=recovery with none left: the authenticator');

# ------------------------------------------------------- regeneration

$r = $dave->post('recovery', { csrf => 'x', return => '/private/' });
is($r->{status}, 403, 'POST recovery with a bad CSRF token: 403');
$r = $dave->post('recovery', { return => '/private/' });
is($r->{status}, 403, 'POST recovery without a CSRF token: 403');
is(admin_status('dave')->{recovery_codes_left}, 0, 'nothing made');

$r = $dave->post('recovery', { csrf => $dcsrf, return => '/private/' });
is($r->{status}, 200, 'POST recovery: 200');
my @new = codes_of($r->{content});
is(scalar(grep { /^$CODE$/ } @new), 10, 'ten new codes');
like($r->{content}, qr/Your new recovery codes/, 'says they are new');
like($r->{content}, qr/old recovery codes no longer work/, 'and why');
is(admin_status('dave')->{recovery_codes_left}, 10, 'admin API: 10');

$r = use_code($dave, $new[4]);
is($r->{status}, 303, 'a new code works');
is($r->{headers}{location}, "$origin/private/", '... back to the page');

# regenerating replaces: eve's unused old codes stop working
my ($erin, undef, @ecodes) = enrolled('erin');
$r = use_code($erin, $ecodes[0], return => '/_otp/recovery');
is($r->{status}, 303, 'erin signs in with a recovery code');
$r = $erin->get('/_otp/recovery');
like($r->{content}, qr/You have 9 unused recovery codes/,
     'the page says 9 are left');
$r = $erin->post('recovery', { csrf => form_field($r->{content}, 'csrf') });
my @enew = codes_of($r->{content});
is(scalar @enew, 10, 'new codes for erin');
$r = use_code($erin, $ecodes[5]);
is($r->{status}, 401, 'an old unused code no longer works');
$r = use_code($erin, $enew[5]);
is($r->{status}, 303, 'a new one does');

# regeneration needs a session with a recent code
(my $frank, undef, my @fcodes) = enrolled('frank');
$r = $frank->get('/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 302, 'GET recovery without a session: 302');
is($r->{headers}{location},
   "$origin/_otp/challenge?r=/_otp/recovery%3Fr%3D/private/",
   '... to the challenge, and back to the recovery page after');
$r = $frank->post('recovery', { csrf => 'none' });
is($r->{status}, 403, 'POST recovery without a session or form: 403');

$r = $frank->verify(time => time + 30,
                    return => '/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 303, 'frank signs in');
is($r->{headers}{location}, "$origin/_otp/recovery?r=%2Fprivate%2F",
   '... and comes back to the recovery page');
$r = $frank->get('/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 200, 'which now shows');
my $fcsrf = form_field($r->{content}, 'csrf');

# the code of this session was entered 11 minutes ago
$t->redis('HSET', $_, 'a', time - 660)
    for @{ $t->redis('SMEMBERS', okey('su', 'frank')) };
$r = $frank->get('/_otp/recovery?r=%2Fprivate%2F');
is($r->{status}, 302, 'a session whose code is 11 minutes old: 302');
like($r->{headers}{location}, qr{^\Q$origin\E/_otp/challenge\?r=/_otp/recovery},
     '... to the challenge first');
$r = $frank->post('recovery', { csrf => $fcsrf });
is($r->{status}, 302, 'POST too: to the challenge');
is(admin_status('frank')->{recovery_codes_left}, 10, 'no new codes made');
$r = use_code($frank, $fcodes[0]);
is($r->{status}, 303, 'and the old ones still work');

# ------------------------------------------------- re-enrollment

my $gina;
($gina, undef, my @g1) = enrolled('gina');
$r = use_code($gina, $g1[0]);
is($r->{status}, 303, 'gina signs in');
my ($er, $gsecret, $gcsrf) = $gina->enroll_page('/private/');
$r = $gina->post('enroll', { code => totp($gsecret, time => time + 30),
                             csrf => $gcsrf });
is($r->{status}, 200, 'gina enrolls a new authenticator');
my @g2 = codes_of($r->{content});
is(scalar @g2, 10, 'with ten new codes');
$r = use_code($gina, $g1[1]);
is($r->{status}, 401, 'the codes of the old authenticator no longer work');
$r = use_code($gina, $g2[1]);
is($r->{status}, 303, 'the new ones do');

# admin: forgetting the authenticator forgets the codes
$r = $t->http->request('DELETE', $t->url('/_otp_admin/users/gina/totp'));
is($r->{status}, 200, 'admin forgets gina\'s authenticator');
is(admin_status('gina')->{recovery_codes_left}, 0, 'and her codes');
$r = use_code($gina, $g2[2]);
isnt($r->{status}, 303, 'a code of hers no longer signs in');

# ------------------------------------------- otp_methods without recovery

my ($hank, undef, @hcodes) = enrolled('hank', $port{nocodes});
is(scalar @hcodes, 0, 'otp_methods totp: enrollment hands out no codes');
($c) = $hank->challenge('/private/');
unlike($c->{content}, qr/method=recovery/,
       'otp_methods totp: no recovery code offered');
$c = $hank->get('/_otp/challenge?method=recovery&r=/private/');
is(form_field($c->{content}, 'method'), 'totp',
   '... not even when asked for');
$r = use_code($hank, 'abcd-efgh');
is($r->{status}, 400, 'POST verify method=recovery: 400');

# ------------------------------------------------------ metrics, logs

is(metric('otp_verifications_total{method="recovery",result="ok"}'),
   $tally{303}, "recovery codes accepted, counted ($tally{303})");
is(metric('otp_verifications_total{method="recovery",result="wrong"}'),
   $tally{401}, "wrong ones counted ($tally{401})");

$t->stop;

my $log = $t->error_log;
my @leaked = grep { my $c = $_; (my $n = $c) =~ s/-//;
                    index($log, $c) >= 0 || index($log, $n) >= 0 }
             @codes, @bcodes, @ccodes, @dcodes, @new, @ecodes, @enew;
is("@leaked", '', 'no recovery code in the error log');
like($log, qr/user "dave" made new recovery codes/, 'regeneration logged');

done_testing;
