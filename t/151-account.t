#!/usr/bin/perl

# The account page (SPEC 10, 6.14): GET and POST account need a session
# whose code was entered within otp_fresh, else the challenge first and
# then back, and a POST from a stale session changes nothing; every
# POST needs its CSRF token, of its own session; renaming keeps the other sessions, every
# change of factor ends them and forgets the trusted browsers while this
# browser goes on; the last authenticator goes only once confirmed, and
# two browsers removing at once never leave the user with none without
# that confirmation.  Logged without a secret.

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;
use POSIX ();
use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site);

my $t = OtpTest->new;
my $key = $t->secret_file;

my @racers = map { "dave$_" } 1 .. 4;
users($t, qw(alice bob carol erin), @racers);
my $sms_port = OtpTest::free_port();
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    http    => "otp_fresh 5m;\notp_session_recheck 0;\n"
               . "otp_remember_device 30d;\notp_totp_skew 10;\n"
               . "otp_log_level notice;",
    common  => OtpTest::site_locations() . OtpTest::admin_locations(),
    servers => [['%%PORT%%', ''],
                # texts offered: a number is a factor (no text is sent)
                [$sms_port, "otp_methods totp sms recovery;\n"
                            . "otp_sms_provider /_otp_sms;\n"
                            . "location = /_otp_sms { internal; "
                            . "return 500; }"]],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 2);

my $origin = 'http://127.0.0.1:' . $t->port;
my $json = JSON::PP->new;
my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 15);

# codes of steps from 9 before now to 9 after it pass (skew 10)
my $now = time - 270;

sub admin_get {
    my ($user) = @_;
    my $r = $http->get($t->url("/_otp_admin/users/$user"));
    return eval { $json->decode($r->{content}) } || {};
}

sub names {
    return [ map { $_->{name} } @{ admin_get($_[0])->{authenticators} } ];
}

# every session of user's set: its code entered secs ago
sub age {
    my ($user, $secs) = @_;
    $t->redis('HSET', $_, 'a', time - $secs)
        for @{ $t->redis('SMEMBERS', okey('su', $user)) };
}

sub passes {
    my ($flow) = @_;
    return $flow->get('/private/index.html')->{status} == 200;
}

# the account page of flow: (response, csrf)
sub account {
    my ($flow) = @_;
    my $r = $flow->get('/_otp/account?r=%2Fprivate%2F');
    return ($r, form_field($r->{content} // '', 'csrf'));
}

# POST account; keeps a new session cookie
sub change {
    my ($flow, %form) = @_;
    my $r = $flow->post('account', \%form);
    my $c = cookie_value($r, 'otp_session');
    $flow->set_cookie($c) if defined $c && length $c;
    return $r;
}

# one more authenticator for flow (whose code is fresh)
sub add_one {
    my ($flow, $name, $at) = @_;
    my $r = $flow->get('/_otp/enroll?add=1&r=%2F_otp%2Faccount');
    my ($secret) = ($r->{content} // '') =~ /secret=([A-Z2-7]+)/;
    $r = $flow->post('enroll', {
        code => totp($secret, time => $at),
        csrf => form_field($r->{content}, 'csrf'),
        add  => 1, name => $name, return => '/_otp/account',
    });
    my $c = cookie_value($r, 'otp_session');
    $flow->set_cookie($c) if $c;
    return $secret;
}

# ------------------------------------------------- the page and its step-up

my $alice = OtpFlow->new($t, user => 'alice');
my $r = $alice->get('/_otp/account');
is($r->{status}, 302, 'no session: 302');
like($r->{headers}{location} // '',
     qr{^\Q$origin\E/_otp/challenge\?r=/_otp/account}, '... to the challenge');

my $a1 = $alice->enroll(time => $now);
my $a2 = add_one($alice, 'Tablet', $now);
my $other = OtpFlow->new($t, user => 'alice', secret => $a1);
is($other->verify(time => $now + 30, extra => { remember => 1 })->{status},
   303, 'alice on a second browser, which she trusts');
ok(passes($other), 'which passes');

my ($page, $csrf) = account($alice);
is($page->{status}, 200, 'the account page within otp_fresh');
is($page->{headers}{'cache-control'}, 'no-store', 'not cached');
like($page->{headers}{'content-security-policy'} // '', qr/default-src 'none'/,
     'under the strict CSP');
ok($csrf, 'with a CSRF token');
like($page->{content}, qr/<strong>Tablet<\/strong>/, 'the authenticators');
like($page->{content}, qr/href="[^"]*enroll\?add=1&amp;r=/,
     'a link to add another');
like($page->{content}, qr/href="[^"]*recovery\?r=/, 'to new recovery codes');
like($page->{content}, qr/\b1 browsers sign in/,
     'one trusted browser');
like($page->{content}, qr/signed in 2 times/,
     'two sessions');
like($page->{content}, qr/href="\/private\/"/, 'and back where she was');

my $ids = [ map { $_->{id} } @{ admin_get('alice')->{authenticators} } ];

# CSRF
$r = change($alice, action => 'sessions');
is($r->{status}, 403, 'POST without csrf: 403');
$r = change($alice, action => 'sessions', csrf => $csrf . 'x');
is($r->{status}, 403, 'a bad csrf: 403');
$r = change(OtpFlow->new($t, user => 'bob', cookie => $alice->cookie),
            action => 'sessions', csrf => $csrf);
is($r->{status}, 403, 'alice\'s csrf for bob: 403');
$r = change(OtpFlow->new($t, user => 'alice', cookie => $other->cookie),
            action => 'sessions', csrf => $csrf);
is($r->{status}, 403, 'alice\'s csrf with her other session: 403');
$r = change(OtpFlow->new($t, user => 'alice'), action => 'sessions',
            csrf => $csrf);
is($r->{status}, 403, '... with no session: 403');
$r = $alice->post('account', { action => 'sessions', csrf => $csrf },
                  headers => { Origin => 'http://evil.example' });
is($r->{status}, 403, 'from another origin: 403');
ok(passes($other), 'nothing changed');

$r = change($alice, action => 'nonsense', csrf => $csrf);
is($r->{status}, 400, 'an unknown action: 400');
$r = change($alice, action => 'rename', id => $ids->[1], name => '',
            csrf => $csrf);
is($r->{status}, 400, 'an empty name: 400');
$r = change($alice, action => 'remove', id => 'x', csrf => $csrf);
is($r->{status}, 400, 'an id that is no number: 400');
$r = change($alice, action => 'remove', id => 999, csrf => $csrf);
is($r->{status}, 404, 'an unknown id: 404');

# stale: the step-up first, and nothing changed
age('alice', 600);
$r = $alice->get('/_otp/account');
is($r->{status}, 302, 'GET with a code 10 minutes old: 302');
like($r->{headers}{location} // '',
     qr{^\Q$origin\E/_otp/challenge\?r=/_otp/account}, '... to the challenge');
unlike($r->{content} // '', qr/Tablet/, 'nothing shown');
for my $a ([ action => 'sessions' ], [ action => 'browsers' ],
           [ action => 'remove', id => $ids->[1] ],
           [ action => 'rename', id => $ids->[1], name => 'Stale' ])
{
    $r = change($alice, @$a, csrf => $csrf);
    is($r->{status}, 302, "POST $a->[1] when stale: 302");
    like($r->{headers}{location} // '', qr{/_otp/challenge\?r=/_otp/account},
         '... the step-up');
}
ok(passes($other), 'the other session still passes');
is($t->redis('ZCARD', okey(d => 'alice')), 1, 'the trusted browser kept');
is_deeply(names('alice'), [ 'Authenticator', 'Tablet' ],
          'both authenticators, names as they were');

# the step-up done: the change can be made
is($alice->verify(time => $now + 60)->{status}, 303, 'a fresh code');
($page, $csrf) = account($alice);
is($page->{status}, 200, 'then the page');

# rename: no change of factor
$r = change($alice, action => 'rename', id => $ids->[1],
            name => 'Work <phone>', csrf => $csrf, return => '/private/');
is($r->{status}, 303, 'rename: 303');
like($r->{headers}{location} // '', qr{/_otp/account\?r=/private/$},
     '... back to the page');
is_deeply(names('alice'), [ 'Authenticator', 'Work <phone>' ], 'renamed');
ok(passes($other), 'a new name ends no session');
ok(passes($alice), 'nor this one');

# remove one: the other sessions and trusted browsers end
my $device = OtpFlow->new($t, user => 'alice');
$r = change($alice, action => 'remove', id => $ids->[1], csrf => $csrf);
is($r->{status}, 303, 'remove: 303');
ok(cookie_value($r, 'otp_session'), 'a new session cookie');
ok(passes($alice), 'this browser goes on');
ok(!passes($other), 'the other session has ended');
is($t->redis('EXISTS', okey(d => 'alice')), 0,
   'the trusted browsers are forgotten');
is_deeply(names('alice'), ['Authenticator'], 'one left');
my $f = OtpFlow->new($t, user => 'alice', secret => $a2);
is($f->verify(time => $now + 90)->{status}, 401, 'its codes refused');

# the last one: asked first
($page, $csrf) = account($alice);
$r = change($alice, action => 'remove', id => $ids->[0], csrf => $csrf);
is($r->{status}, 409, 'the last authenticator: 409');
like($r->{content}, qr/set up two-step verification again/,
     'the page says she will have to enroll again');
like($r->{content}, qr/<input[^>]*name="confirm"[^>]*value="1"/,
     'and asks to confirm');
is_deeply(names('alice'), ['Authenticator'], 'nothing removed yet');
$r = change($alice, action => 'remove', id => $ids->[0], confirm => 1,
            csrf => form_field($r->{content}, 'csrf'));
is($r->{status}, 303, 'confirmed: removed');
is_deeply(names('alice'), [], 'none left');
ok(!admin_get('alice')->{totp}, 'no authenticator');
$r = OtpFlow->new($t, user => 'alice')->get('/private/index.html');
like($r->{headers}{location} // '', qr{/_otp/enroll}, 'she enrolls again');

# ---------------------------------------- sessions, browsers, with a phone

my $bob = OtpFlow->new($t, user => 'bob');
my $b1 = $bob->enroll(time => $now);
my $bob2 = OtpFlow->new($t, user => 'bob', secret => $b1);
$r = $bob2->verify(time => $now + 30, extra => { remember => 1 });
my $bdevice = cookie_value($r, 'otp_session_device');
ok($bdevice, 'bob trusts a second browser');

($page, $csrf) = account($bob);
$r = change($bob, action => 'sessions', csrf => $csrf);
is($r->{status}, 303, 'sign out everywhere else: 303');
ok(passes($bob), 'this browser goes on');
ok(!passes($bob2), 'the other session has ended');
is($t->redis('EXISTS', okey(d => 'bob')), 0, 'trusted browsers forgotten');

$r = $bob2->verify(time => $now + 60, extra => { remember => 1 });
ok(cookie_value($r, 'otp_session_device'), 'bob trusts it again');
($page, $csrf) = account($bob);
like($page->{content}, qr/\b1 browsers sign in/, 'shown');
$r = change($bob, action => 'browsers', csrf => $csrf);
is($r->{status}, 303, 'forget the trusted browsers: 303');
is($t->redis('EXISTS', okey(d => 'bob')), 0, 'forgotten');
ok(!passes($bob2), 'and the other session ended');
ok(passes($bob), 'this one goes on');

# a phone number is another factor: the last authenticator just goes
$t->redis('HSET', okey(u => 'carol'), 'phone', 'x');
my $carol = OtpFlow->new($t, user => 'carol');
$carol->enroll(time => $now);
($page, $csrf) = account($carol);
my ($cid) = map { $_->{id} } @{ admin_get('carol')->{authenticators} };
$r = change($carol, action => 'remove', id => $cid, csrf => $csrf);
is($r->{status}, 409,
   'with a number but no texts offered here: asked first all the same');

# where texts are offered, a number is another factor: the last
# authenticator goes without a question, and the page shows the number
my $put = $http->request('PUT', $t->url('/_otp_admin/users/erin/phone'),
                         { content => '{"phone":"+15555550123"}' });
is($put->{status}, 200, 'erin has a number');
my $erin = OtpFlow->new(site($t, $sms_port), user => 'erin');
$r = $erin->get('/_otp/enroll?r=%2F');
is($r->{status}, 302, 'with a number, setting up an app needs a code');
$t->redis('HDEL', okey(u => 'erin'), 'phone');
$erin->enroll(time => $now);
$put = $http->request('PUT', $t->url('/_otp_admin/users/erin/phone'),
                      { content => '{"phone":"+15555550123"}' });
$t->redis('HSET', $_, 'a', time)
    for @{ $t->redis('SMEMBERS', okey('su', 'erin')) };
($page, $csrf) = account($erin);
is($page->{status}, 200, 'her account page');
like($page->{content}, qr/go to \+1555\*\*\*0123\./,
     'the number, masked');
like($page->{content}, qr/href="[^"]*sms\?r=[^"]*"[^>]*>Change the phone/,
     'a link to change it');
my ($eid) = map { $_->{id} } @{ admin_get('erin')->{authenticators} };
$r = change($erin, action => 'remove', id => $eid, csrf => $csrf);
is($r->{status}, 303, 'the last authenticator, with a number: removed');
is_deeply(names('erin'), [], 'none left');
ok(passes($erin), 'she goes on');

# ------------------------------------------------------- two at once

# each racer has two authenticators and two fresh browsers; both remove
# one at the same moment: one removal is made, the other never leaves
# the user without an authenticator (its session ended, or it asks)
for my $user (@racers) {
    my $x = OtpFlow->new($t, user => $user);
    my $s1 = $x->enroll(time => $now);
    my $s2 = add_one($x, 'Second', $now);
    my $y = OtpFlow->new($t, user => $user, secret => $s1);
    $y->verify(time => $now + 30);
    my @ids = map { $_->{id} } @{ admin_get($user)->{authenticators} };
    my (undef, $cx) = account($x);
    my (undef, $cy) = account($y);

    my @kids;
    for my $job ([ $x, $cx, $ids[0] ], [ $y, $cy, $ids[1] ]) {
        pipe(my $rd, my $wr) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $rd;
            my $res = $job->[0]->post('account', { action => 'remove',
                                                   id => $job->[2],
                                                   csrf => $job->[1] });
            print $wr $res->{status};
            close $wr;
            POSIX::_exit(0);
        }
        close $wr;
        push @kids, [ $pid, $rd ];
    }
    my @st;
    for my $k (@kids) {
        my $fh = $k->[1];
        push @st, scalar <$fh>;
        waitpid $k->[0], 0;
    }
    @st = sort @st;
    my $left = scalar @{ admin_get($user)->{authenticators} };
    is($left, 1, "$user: one authenticator left (@st)");
    ok(grep({ $_ == 303 } @st) == 1, "$user: one removal made");
    ok(grep({ $_ == 302 || $_ == 409 } @st) == 1,
       "$user: the other stepped up or asked");
}

# ------------------------------------------------------------- the log

my $log = $t->error_log;
like($log, qr/user "alice" removed an authenticator on the account page/,
     'the change is logged');
like($log, qr/\[notice\].*user "bob" signed out everywhere else/,
     'at otp_log_level');
unlike($log, qr/\Q$a1\E|\Q$a2\E|\Q$b1\E/, 'no secret in the log');
unlike($log, qr/Work <phone>|Tablet/, 'nor a name');
is(join(' ', $t->keys_without_ttl), '',
   'every key but the user records has an expiry');

$t->stop;
done_testing;
