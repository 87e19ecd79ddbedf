#!/usr/bin/perl

# What each step costs in Redis, counted by Redis itself (INFO
# commandstats, reset before each step), not by the module's word:
#
#   a gated request with a session this worker confirmed       0 calls
#   a browser without a session, to its 302                     1
#   the challenge page                                          1
#   a right code, to the 303 with a new session                 1
#   a wrong code, to the 401 page                               1
#   a recovery code; a remembered browser without a session     1 each
#
# and what the key pass of the challenge form (the field "k") may and may
# not do: a pass of another challenge, of another user or altered is no
# pass (the code is checked against the record, read), and a pass whose
# key was replaced since is "stale" (read again, checked again).
#
# Then the key schema: every key of a user carries the user's hash tag,
# so all of them hash to one Redis Cluster slot, whatever the name.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users wrong_code);

my $t = OtpTest->new;

my $odd = "dept/carol{x}% \x{e9}";
utf8::encode($odd);

users($t, qw(alice bob dave erin frank gina), $odd);
$t->run_redis;
$t->write_site_conf(http => <<'EOF');
otp_methods totp recovery;
otp_remember_device 7d;
EOF
$t->run_nginx;
$t->wait_redis_ready;

# Redis's own count of the scripts run since the last reset.  After its
# handshake the module sends nothing but EVALSHA (EVAL once on NOSCRIPT),
# one command a round trip; the commands a script runs are counted under
# their own names and are not round trips.
sub calls {
    my $info = $t->redis('INFO', 'commandstats');
    my %n;
    $n{$1} = $2 while $info =~ /^cmdstat_(\w+):calls=(\d+)/mg;
    return \%n;
}

sub reset_stats { $t->redis('CONFIG', 'RESETSTAT') }

sub total {
    my ($n) = @_;
    return ($n->{evalsha} // 0) + ($n->{eval} // 0);
}

sub counted {
    my ($what, $want, $step) = @_;
    reset_stats();
    my $r = $step->();
    my $n = calls();
    is(total($n), $want, "$what: $want call" . ($want == 1 ? '' : 's'))
        or diag(explain($n));
    return $r;
}

my $alice = OtpFlow->new($t, user => 'alice');
my $secret = $alice->enroll(return => '/private/');

# --------------------------------------------------------------- gate

counted('gated, a session this worker confirmed', 0, sub {
    # the first request confirms it in Redis; the second is counted
    $alice->get('/private/index.html');
    reset_stats();
    my $r = $alice->get('/private/index.html');
    is($r->{status}, 200, 'the session opens the page');
    return $r;
});

$alice->set_cookie(undef);

my $r = counted('a browser without a session, to its 302', 1, sub {
    $alice->get('/private/index.html');
});
is($r->{status}, 302, '... a 302');
like($r->{headers}{location}, qr{/_otp/challenge\?r=}, '... to the challenge');

my ($page, $csrf);
counted('the challenge page', 1, sub {
    ($page, $csrf) = $alice->challenge('/private/');
    return $page;
});
is($page->{status}, 200, '... a 200');
my $pass = form_field($page->{content}, 'k');
ok(defined $pass && length $pass > 40, '... with a key pass in the form');
unlike($pass // '', qr/[^A-Za-z0-9_-]/, '... base64url');

$r = counted('a wrong code', 1, sub {
    $alice->verify(csrf => $csrf, code => wrong_code($secret));
});
is($r->{status}, 401, '... 401');
is(form_field($r->{content}, 'k'), $pass, '... the page keeps the pass');

$r = counted('a right code to the 303', 1, sub {
    $alice->verify(csrf => $csrf, time => time + 30);
});
is($r->{status}, 303, '... 303');
ok(defined cookie_value($r, 'otp_session'), '... a new session');
is($alice->get('/private/index.html')->{status}, 200, '... that opens');

# without the pass (a template of the site's own): one more trip
my $frank = OtpFlow->new($t, user => 'frank');
$frank->enroll(return => '/private/');
$frank->set_cookie(undef);
(undef, $csrf) = $frank->challenge('/private/');
$r = counted('a right code without the key pass', 2, sub {
    $frank->verify(csrf => $csrf, no_pass => 1, time => time + 30);
});
is($r->{status}, 303, '... still 303');

# a recovery code needs nothing of the record first
my $bob = OtpFlow->new($t, user => 'bob');
my $bsecret = $bob->enroll(return => '/private/');
$bob->set_cookie(undef);
(undef, $csrf) = $bob->challenge('/private/');
$r = counted('a wrong recovery code', 1, sub {
    $bob->verify(csrf => $csrf, code => 'ZZZZZ-ZZZZZ',
                 extra => { method => 'recovery' });
});
is($r->{status}, 401, '... 401');

# "trust this browser": the code, the session and the device in one trip
$bob->set_cookie(undef);
(undef, $csrf) = $bob->challenge('/private/');
$r = counted('a right code, trusting the browser', 1, sub {
    $bob->verify(csrf => $csrf, time => time + 30,
                 extra => { remember => 1 });
});
is($r->{status}, 303, '... 303');
my $device = cookie_value($r, 'otp_session_device');
ok($device, '... a device cookie');

# the remembered browser without a session: one trip to a new session
$bob->set_cookie(undef);
$r = counted('a remembered browser without a session', 1, sub {
    $bob->get('/private/index.html',
              headers => { Cookie => "otp_session_device=$device" });
});
is($r->{status}, 200, '... passes');
is($r->{headers}{'x-otp-method'}, 'remembered', '... as "remembered"');

# ----------------------------------------------------------- key pass

# a pass is bound to its challenge and its user: another one's is no
# pass, the code is checked against the record, and counts as it should
my $dave = OtpFlow->new($t, user => 'dave');
my $dsecret = $dave->enroll(return => '/private/');
$dave->set_cookie(undef);
$alice->set_cookie(undef);

my (undef, $dcsrf) = $dave->challenge('/private/');
my (undef, $acsrf) = $alice->challenge('/private/');
my $apass = $alice->{pass}{$acsrf};

$r = $dave->verify(csrf => $dcsrf, time => time + 30,
                   extra => { k => $apass });
is($r->{status}, 303, "another user's pass: dave's own code still works");

$dave->set_cookie(undef);
(undef, $dcsrf) = $dave->challenge('/private/');
$r = $dave->verify(csrf => $dcsrf,
                   code => totp($secret, time => time + 30),
                   extra => { k => $apass });
is($r->{status}, 401, "... and alice's code with her pass is wrong for dave");

my $gina = OtpFlow->new($t, user => 'gina');
$gina->enroll(return => '/private/');
$gina->set_cookie(undef);
my (undef, $gcsrf) = $gina->challenge('/private/');
my (undef, $gcsrf2) = $gina->challenge('/private/');
$r = $gina->verify(csrf => $gcsrf2, time => time + 30,
                   extra => { k => $gina->{pass}{$gcsrf} });
is($r->{status}, 303, "another challenge's pass: read again, right code");

(my $bad = $apass) =~ s/^(.)/$1 eq 'A' ? 'B' : 'A'/e;
$alice->set_cookie(undef);
my (undef, $acsrf3) = $alice->challenge('/private/');
$r = $alice->verify(csrf => $acsrf3, code => wrong_code($secret),
                    extra => { k => $bad });
is($r->{status}, 401, 'an altered pass: a wrong code is still wrong');
is($t->redis('HGET', okey('c', 'alice', substr($acsrf3, 0, 22)), 'a'), 1,
   '... and counted');

# stale: erin's key is replaced between her challenge page and her code
my $erin = OtpFlow->new($t, user => 'erin');
my $old = $erin->enroll(return => '/private/');
$erin->set_cookie(undef);
my (undef, $ecsrf) = $erin->challenge('/private/');
$t->redis('HDEL', okey('u', 'erin'), 'totp');
my $erin2 = OtpFlow->new($t, user => 'erin');
my $new = $erin2->enroll(return => '/private/', time => time + 30);

$r = counted('a code of the replaced key, with its pass', 3, sub {
    $erin->verify(csrf => $ecsrf, code => totp($old, time => time + 30));
});
is($r->{status}, 401, '... refused: the record is read and the code is wrong');
is($t->redis('HGET', okey('c', 'erin', substr($ecsrf, 0, 22)), 'a'), 1,
   '... counted once');

# the step the new key's enrollment used is spent: a later one, as if
# erin came back a little later (the last step is kept for 2 min)
$t->redis('DEL', okey('t', 'erin'));
$r = counted('a code of the new key, with the stale pass', 3, sub {
    $erin->verify(csrf => $ecsrf, code => totp($new, time => time + 30));
});
is($r->{status}, 303, '... 303: read again, checked again');

# ---------------------------------------------------------- key schema

# CRC16-CCITT (XMODEM), as Redis Cluster hashes keys
sub crc16 {
    my ($s) = @_;
    my $crc = 0;
    for my $byte (unpack 'C*', $s) {
        $crc ^= $byte << 8;
        for (1 .. 8) {
            $crc = ($crc & 0x8000) ? (($crc << 1) ^ 0x1021) : ($crc << 1);
            $crc &= 0xffff;
        }
    }
    return $crc;
}

sub slot {
    my ($k) = @_;
    if ($k =~ /\{([^}]*)\}/ && length $1) {
        $k = $1;
    }
    return crc16($k) % 16384;
}

is(slot('123456789'), 0x31c3 % 16384, 'crc16 as Redis Cluster has it');

my $o = OtpFlow->new($t, user => $odd);
$o->enroll(return => '/private/');
$o->set_cookie(undef);
(undef, my $ocsrf) = $o->challenge('/private/');
$r = $o->verify(csrf => $ocsrf, code => 'ZZZZZZ');
is($r->{status}, 401, 'a user with "/", "{", "}", "%", a space and Latin-1 bytes');

my $tag = otag($odd);
like($tag, qr/^\{[A-Za-z0-9\-._\@%]+\}$/, "... whose tag is $tag");

my %by_tag;
for my $k (@{ $t->redis('KEYS', 'otp:*') }) {
    my ($kt) = $k =~ /^otp:(\{[^}]*\}):/;
    ok(defined $kt, "$k: the user's tag after the prefix") or next;
    push @{ $by_tag{$kt} }, $k;
}
ok(@{ $by_tag{$tag} || [] } >= 4, "the odd user's keys carry one tag")
    or diag(explain(\%by_tag));
for my $kt (sort keys %by_tag) {
    my %slots = map { slot($_) => 1 } @{ $by_tag{$kt} };
    is(scalar keys %slots, 1, "$kt: every key in one slot");
}

# the sessions the set of a user names are that user's too
for my $u ('alice', $odd) {
    for my $s (@{ $t->redis('SMEMBERS', okey('su', $u)) }) {
        is(slot($s), slot(okey('u', $u)), "a session of $u in its slot");
    }
}

$t->stop;

done_testing;
