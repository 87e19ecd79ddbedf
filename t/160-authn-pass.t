#!/usr/bin/perl

# Several authenticators against pages and names made before a change
# (SPEC 10, 6.2, 6.19, 6.12):
#
# - a challenge page opened while the user had one authenticator
#   carries a key pass of that one; once another is added (or one
#   removed and another added), the pass no longer describes the
#   user's authenticators: a code from the new one on that open page
#   passes, after the record is read again, and is never counted as a
#   failure; a wrong code there still counts once, and a code of a
#   removed one is refused;
# - an old record (no ids) with a used step still refuses that step
#   after another authenticator joins it and after the first is
#   removed (the second takes its place);
# - a name that is not UTF-8 is refused (400) wherever a name is
#   given, so the admin API can always list the user.
#
# Every code comes from oathtool.

use strict;
use warnings;

use HTTP::Tiny;
use JSON::PP;
use Test::More;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice bob carol dave));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_fresh 5m;\notp_session_recheck 0;\notp_totp_skew 10;",
    common  => OtpTest::site_locations() . OtpTest::admin_locations(),
    servers => [['%%PORT%%', '']],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $json = JSON::PP->new->utf8->canonical;
my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 15);

sub admin {
    my ($method, $path) = @_;
    my $r = $http->request($method, $t->url("/_otp_admin/$path"));
    $r->{json} = eval { $json->decode($r->{content}) };
    return $r;
}

sub failures {
    my ($user) = @_;
    return $t->redis('GET', okey(f => $user)) // 0;
}

# POST a form of bytes as they are (HTTP::Tiny would encode them as
# UTF-8 characters first); keeps a new session cookie
sub post_bytes {
    my ($flow, $action, %form) = @_;
    my $body = join '&', map {
        my $v = $form{$_};
        $v =~ s/([^A-Za-z0-9_.~-])/sprintf('%%%02X', ord $1)/ge;
        "$_=$v";
    } sort keys %form;
    my $r = $flow->request('POST', "/_otp/$action", content => $body,
        headers => { 'Content-Type' => 'application/x-www-form-urlencoded' });
    my $c = cookie_value($r, 'otp_session');
    $flow->set_cookie($c) if $c;
    return $r;
}

# enroll?add=1 on flow (whose code is fresh): (status, secret)
sub add_one {
    my ($flow, $name, $at) = @_;
    my $r = $flow->get('/_otp/enroll?add=1&r=%2F_otp%2Faccount');
    my ($secret) = ($r->{content} // '') =~ /secret=([A-Z2-7]+)/;
    return ($r->{status}) unless $secret;
    $r = post_bytes($flow, 'enroll',
        code => totp($secret, time => $at),
        csrf => form_field($r->{content}, 'csrf'),
        add  => 1, name => $name, return => '/_otp/account');
    return ($r->{status}, $secret);
}

# codes of steps from 9 before now to 9 after it pass (skew 10)
my $now = time - 270;

# ------------------------------- a page opened before another was added

my $alice = OtpFlow->new($t, user => 'alice');
my $a1 = $alice->enroll(time => $now);

my $open = OtpFlow->new($t, user => 'alice');
my ($page, $csrf) = $open->challenge;
ok(defined form_field($page->{content}, 'k'),
   'a challenge page of a user with one authenticator: a key pass');

my ($st, $a2) = add_one($alice, 'Tablet', $now + 30);
is($st, 303, 'meanwhile a second authenticator is added');

my $r = $open->verify(csrf => $csrf, code => totp($a2, time => $now + 60));
is($r->{status}, 303,
   'a code of the new one on the page opened before: passes')
    or diag($r->{status});
is(failures('alice'), 0, '... and no failure was counted');
is($open->get('/private/index.html')->{status}, 200, '... a session');

# a wrong code on such a page counts once, and no more than once
my $open2 = OtpFlow->new($t, user => 'alice');
my ($p2, $c2) = $open2->challenge;
my $p2k = form_field($p2->{content}, 'k');
ok(!defined $p2k, 'with two, the page has no key pass');

# a page of bob, who has one, then gets a second one
my $bob = OtpFlow->new($t, user => 'bob');
my $b1 = $bob->enroll(time => $now);
my $bopen = OtpFlow->new($t, user => 'bob');
(undef, my $bc) = $bopen->challenge;
my (undef, $b2) = add_one($bob, 'Two', $now + 30);
$r = $bopen->verify(csrf => $bc, code => '000000');
is($r->{status}, 401, 'a wrong code on the older page: 401, not 503');
is(failures('bob'), 1, '... counted once');

# ------------------- the same count of authenticators, another of them

# carol: one, a page opened; then a second added and the first removed:
# still one authenticator, not the one the pass holds
my $carol = OtpFlow->new($t, user => 'carol');
my $c1 = $carol->enroll(time => $now);
my $copen = OtpFlow->new($t, user => 'carol');
(undef, my $cc) = $copen->challenge;
my (undef, $cn) = add_one($carol, 'New', $now + 30);
my $list = admin(GET => 'users/carol')->{json}{authenticators};
is(admin(DELETE => "users/carol/authenticators/$list->[0]{id}")->{status},
   200, 'the first of carol\'s removed');
$r = $copen->verify(csrf => $cc, code => totp($cn, time => $now + 60));
is($r->{status}, 303, 'a code of the one left, on the older page: passes');
is(failures('carol'), 0, '... no failure counted');

my $copen2 = OtpFlow->new($t, user => 'carol');
(undef, $cc) = $copen2->challenge;
$r = $copen2->verify(csrf => $cc, code => totp($c1, time => $now + 90));
is($r->{status}, 401, 'a code of the removed one: refused');

# --------------------------------- invariant 2 across the upgrade

# dave's record as the release with one authenticator wrote it, with a
# step used; then a second joins, then the first goes
my $dave = OtpFlow->new($t, user => 'dave');
my $d1 = $dave->enroll(time => $now);
$t->redis('HDEL', okey(u => 'dave'), qw(aid anext name added used));
my $used = $now + 60;
my $df = OtpFlow->new($t, user => 'dave', secret => $d1);
is($df->verify(time => $used)->{status}, 303, 'dave signs in (old record)');
is(OtpFlow->new($t, user => 'dave', secret => $d1)
       ->verify(time => $used)->{status},
   401, 'the same code again: refused');
my (undef, $d2) = add_one($df, 'Second', $used);
is(OtpFlow->new($t, user => 'dave', secret => $d1)
       ->verify(time => $used)->{status},
   401, 'after a second joined: the used step of the first still refused');
my $dn = OtpFlow->new($t, user => 'dave', secret => $d2);
is($dn->verify(time => $used + 30)->{status}, 303,
   'the second signs in at a later step');
$list = admin(GET => 'users/dave')->{json}{authenticators};
admin(DELETE => "users/dave/authenticators/$list->[0]{id}");
is(OtpFlow->new($t, user => 'dave', secret => $d2)
       ->verify(time => $used + 30)->{status},
   401, 'the first removed: the second\'s used step, moved, still refused');

# ------------------------------------------------ names that are not UTF-8

my $eve = OtpFlow->new($t, user => 'alice', secret => $a1);
is($eve->verify(time => $now + 120)->{status}, 303, 'alice, fresh again');

for my $bad ("ab\xC3\xC3", "x\xE2\x82", "\xF8\x88\x80\x80", "\xC0\x80",
             "\xED\xA0\x80", "a\x80b") {
    (my $shown = $bad) =~ s/([^ -~])/sprintf('\\x%02X', ord $1)/ge;
    ($st) = add_one($eve, $bad, $now + 120);
    is($st, 400, "a new authenticator named \"$shown\": 400");

    my $ap = $eve->get('/_otp/account');
    my ($id) = $ap->{content} =~ /name="id" value="(\d+)"/;
    ok($id, 'the account page');
    $r = post_bytes($eve, 'account',
        csrf => form_field($ap->{content}, 'csrf'),
        action => 'rename', id => $id, name => $bad);
    is($r->{status}, 400, "renamed to \"$shown\": 400");
}

$r = admin(GET => 'users/alice');
is($r->{status}, 200, 'the admin API still lists alice');
is_deeply([ map { $_->{name} } @{ $r->{json}{authenticators} } ],
          [ 'Authenticator', 'Tablet' ], '... with her names as they were');

# a name in another script, of many bytes, is fine
($st) = add_one($eve, "T\xC3\xA9l\xC3\xA9phone \xF0\x9F\x93\xB1",
                $now + 150);
is($st, 303, 'a name in UTF-8 with accents and an emoji: added');
$r = admin(GET => 'users/alice');
is($r->{status}, 200, 'listed');
is($r->{json}{authenticators}[2]{name}, "T\x{e9}l\x{e9}phone \x{1F4F1}",
   '... with its name');

is(join(' ', $t->keys_without_ttl), '',
   'every key but the user records has an expiry');

$t->stop;
done_testing;
