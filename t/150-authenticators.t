#!/usr/bin/perl

# Several authenticators per user (SPEC 4 enroll?add=1, 5, 10, 6.2):
# a code from any of them passes, each keeps its own used steps (the
# same code twice from one is refused, the same step from another is
# not), a removed one is refused, the names are escaped on the page,
# the admin API lists and removes them, and a record written by the
# release with one authenticator reads as one named "Authenticator".
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

users($t, qw(alice bob carol));
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

my $json = JSON::PP->new->canonical;
my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 15);

sub admin {
    my ($method, $path) = @_;
    my $r = $http->request($method, $t->url("/_otp_admin/$path"));
    $r->{json} = eval { $json->decode($r->{content}) };
    return $r;
}

sub passes {
    my ($flow) = @_;
    return $flow->get('/private/index.html')->{status} == 200;
}

# a new browser of user signing in with a code of secret at time $at
sub sign_in {
    my ($user, $secret, $at) = @_;
    my $f = OtpFlow->new($t, user => $user, secret => $secret);
    return ($f, $f->verify(time => $at));
}

# enroll?add=1 on flow, named $name, with a code at time $at
sub add_one {
    my ($flow, $name, $at) = @_;
    my $r = $flow->get('/_otp/enroll?add=1&r=%2F_otp%2Faccount');
    return ($r) unless $r->{status} == 200;
    my ($secret) = $r->{content} =~ /secret=([A-Z2-7]+)/;
    my $post = $flow->post('enroll', {
        code   => totp($secret, time => $at),
        csrf   => form_field($r->{content}, 'csrf'),
        add    => 1,
        name   => $name,
        return => '/_otp/account',
    });
    my $c = cookie_value($post, 'otp_session');
    $flow->set_cookie($c) if $c;
    return ($r, $post, $secret);
}

# codes of steps from 9 before now to 9 after it pass (skew 10)
my $now = time - 270;

# ------------------------------------------------------- two of them

my $alice = OtpFlow->new($t, user => 'alice');
my $a1 = $alice->enroll(time => $now);

my $name = '<b>Tablet</b> & "x"';
my ($page, $r, $a2) = add_one($alice, $name, $now);
is($page->{status}, 200, 'enroll?add=1 with a fresh code: the page');
like($page->{content}, qr/<input[^>]*name="add"[^>]*value="1"/,
     'it carries add=1');
like($page->{content}, qr/<input[^>]*name="name"/, 'and asks for a name');
is($r->{status}, 303, 'the second authenticator confirmed: 303')
    or diag($r->{content});
like($r->{headers}{location} // '', qr{/_otp/account$},
     '... back to the account');
unlike($r->{content} // '', qr/<ol>/, 'no new recovery codes');
ok($a2 && $a2 ne $a1, 'a key of its own');
ok(passes($alice), 'this browser goes on with its new session');

my $st = admin(GET => 'users/alice')->{json};
is(scalar @{ $st->{authenticators} // [] }, 2, 'admin: two authenticators');
my ($first, $second) = @{ $st->{authenticators} };
is($first->{name}, 'Authenticator', 'the first has the default name');
is($second->{name}, $name, 'the second its own, as given');
ok($second->{created} && $second->{created} >= time - 5,
   'with the time it was added');
isnt($first->{id}, $second->{id}, 'ids of their own');

# a code from each passes; the same code twice from one does not
my $at = $now + 60;
my ($b1, $rb1) = sign_in('alice', $a1, $at);
is($rb1->{status}, 303, 'a code from the first authenticator passes');
ok(passes($b1), '... a session');
my ($b2, $rb2) = sign_in('alice', $a2, $at);
is($rb2->{status}, 303,
   'a code from the second, of the step the first just used, passes');
my (undef, $rb3) = sign_in('alice', $a2, $at);
is($rb3->{status}, 401, 'the same code again from the second: refused');
my (undef, $rb4) = sign_in('alice', $a1, $at);
is($rb4->{status}, 401, 'the same code again from the first: refused');
my (undef, $rb5) = sign_in('alice', $a2, $at + 30);
is($rb5->{status}, 303, 'the second\'s next step passes');
is($t->redis('HGET', okey(u => 'alice'), "step:$second->{id}"),
   int(($at + 30) / 30), 'the second keeps its own last step');

my $used = admin(GET => 'users/alice')->{json}{authenticators}[1];
ok($used->{last_used} && $used->{last_used} >= time - 5,
   'admin: the time it was last used');

# the challenge page: no key pass (it holds one key)
my ($cp) = OtpFlow->new($t, user => 'alice')->challenge;
ok(!defined form_field($cp->{content}, 'k'),
   'the challenge form has no key pass with two authenticators');

# the cost of a code, counted by Redis: one trip with one authenticator
# (the key pass), two with several (the record is read first)
sub trips {
    my ($user, $code) = @_;
    my $f = OtpFlow->new($t, user => $user);
    my (undef, $csrf) = $f->challenge;
    $t->redis('CONFIG', 'RESETSTAT');
    my $r = $f->verify(csrf => $csrf, code => $code);
    my $info = $t->redis('INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return ($n, $r->{status});
}

is_deeply([ trips('alice', '000000') ], [ 2, 401 ],
          'a code of a user with two authenticators: two trips');

# names escaped on the account page
$r = $alice->get('/_otp/account');
is($r->{status}, 200, 'the account page');
like($r->{content}, qr/&lt;b&gt;Tablet&lt;\/b&gt; &amp; &quot;x&quot;/,
     'the name escaped');
unlike($r->{content}, qr/<b>Tablet/, 'never as markup');

# a bad name: refused
($page, $r) = add_one($alice, "tab\x01", $now + 90);
is($r->{status}, 400, 'a name with a control character: 400');
($page, $r) = add_one($alice, 'x' x 70, $now + 90);
is($r->{status}, 400, 'a name too long: 400');

# the admin removes the second: its codes are refused
$r = admin(DELETE => "users/alice/authenticators/$second->{id}");
is($r->{status}, 200, 'admin: DELETE one authenticator');
ok(!passes($b2), 'it ended the sessions');
$r = admin(DELETE => "users/alice/authenticators/$second->{id}");
is($r->{status}, 404, 'again: 404, unknown');
is($r->{json}{error}, 'unknown authenticator', '... said so');
$r = admin(DELETE => 'users/alice/authenticators/x1');
is($r->{status}, 404, 'an id that is no number: 404');
my (undef, $rr) = sign_in('alice', $a2, $now + 120);
is($rr->{status}, 401, 'a code from the removed one: refused');
(undef, $rr) = sign_in('alice', $a1, $now + 120);
is($rr->{status}, 303, 'the other still passes');
is(scalar @{ admin(GET => 'users/alice')->{json}{authenticators} }, 1,
   'admin: one left');

# removing the first: the second takes its place, with its own steps
is($b1->verify(time => $now + 150)->{status}, 303,
   'a code on the first browser');
($page, $r, my $a3) = add_one($b1, 'Phone', $now + 150);
is($r->{status}, 303, 'a third one added');
$st = admin(GET => 'users/alice')->{json}{authenticators};
admin(DELETE => "users/alice/authenticators/$st->[0]{id}");
$st = admin(GET => 'users/alice')->{json}{authenticators};
is(scalar @$st, 1, 'the first removed: one left');
is($st->[0]{name}, 'Phone', 'the one added later');
(undef, $rr) = sign_in('alice', $a3, $now + 150);
is($rr->{status}, 401, 'its used step still refused after it moved');
(undef, $rr) = sign_in('alice', $a3, $now + 180);
is($rr->{status}, 303, 'its next step passes');
(undef, $rr) = sign_in('alice', $a1, $now + 210);
is($rr->{status}, 401, 'the removed first one: refused');

# DELETE totp forgets them all
my $bob = OtpFlow->new($t, user => 'bob');
my $s1 = $bob->enroll(time => $now);
add_one($bob, 'Two', $now);
is(scalar @{ admin(GET => 'users/bob')->{json}{authenticators} }, 2,
   'bob has two');
is(admin(DELETE => 'users/bob/totp')->{status}, 200, 'DELETE totp');
$st = admin(GET => 'users/bob')->{json};
is_deeply($st->{authenticators}, [], 'none left');
ok(!$st->{totp}, 'totp false');
is_deeply([ grep { /^(?:totp|step|name|added|used|ax|aid)/ }
            @{ $t->redis('HKEYS', okey(u => 'bob')) } ], [],
          'no field of either left in the record');

# ------------------------------------------- a record of the last release

# carol enrolls; her record is then put back as the release with one
# authenticator wrote it (no id, name or times)
my $carol = OtpFlow->new($t, user => 'carol');
my $c1 = $carol->enroll(time => $now);
$t->redis('HDEL', okey(u => 'carol'), qw(aid anext name added used));
my %old = @{ $t->redis('HGETALL', okey(u => 'carol')) };
is_deeply([ sort grep { !/^(?:rc|gen)$/ } keys %old ],
          [ qw(alg digits period totp) ], 'carol\'s record, the old way');

$st = admin(GET => 'users/carol')->{json};
is_deeply([ map { [ $_->{id}, $_->{name}, $_->{created} ] }
            @{ $st->{authenticators} } ],
          [ [ 1, 'Authenticator', undef ] ],
          'reads as one authenticator, id 1, named "Authenticator"');
my ($c2f, $rc) = sign_in('carol', $c1, $now + 60);
is($rc->{status}, 303, 'its codes pass');
is_deeply([ trips('carol', '000000') ], [ 1, 401 ],
          'with one authenticator, a code is still one trip');
$r = $carol->get('/_otp/account');
like($r->{content}, qr/<strong>Authenticator<\/strong>/,
     'the account page shows it');

($page, $r, my $c2) = add_one($c2f, 'New', $now + 60);
is($r->{status}, 303, 'one more added to the old record');
$st = admin(GET => 'users/carol')->{json}{authenticators};
is_deeply([ map { $_->{id} } @$st ], [ 1, 2 ], 'ids 1 and 2');
(undef, $rc) = sign_in('carol', $c1, $now + 90);
is($rc->{status}, 303, 'the old one passes');
(undef, $rc) = sign_in('carol', $c2, $now + 90);
is($rc->{status}, 303, 'the new one passes');

# no key without an expiry but the records, no secret in the log
is(join(' ', $t->keys_without_ttl), '',
   'every key but the user records has an expiry');
my $log = $t->error_log;
for my $s ($a1, $a2, $a3, $c1, $c2) {
    unlike($log, qr/\Q$s\E/, 'no secret in the log');
}

$t->stop;
done_testing;
