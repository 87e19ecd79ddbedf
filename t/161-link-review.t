#!/usr/bin/perl

# Cross-device approval (SPEC 9) against what changes around a request:
#
# - an administrator asks the user to enroll again ("require-enroll",
#   as when a phone is lost): a request approved before is not
#   redeemed, and a pending one can no longer be approved, as no code,
#   recovery code or remembered browser makes a session then;
# - the cap on a user's live requests (SPEC 6.17) holds across
#   locations with different otp_link_ttl: a request with a short life
#   does not shorten the life of the set that counts the long ones;
# - the user agent the phone's page shows is what the browser sent,
#   cut to whole characters and without control characters;
# - a session that an approval made has no code of its own: it opens
#   the protected pages, but changing a factor (the account page,
#   another authenticator) and approving another browser need a code
#   typed on it first (SPEC 6.14: "a code entered ... on that session").

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use IO::Socket::INET;

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice bob carol erin));
$t->private_site;
$t->run_redis;

my $long = OtpTest::free_port();
my $short = OtpTest::free_port();

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_methods totp recovery link;\notp_fresh 5m;\n"
               . "otp_session_recheck 0;\notp_totp_skew 3;",
    common  => OtpTest::site_locations() . OtpTest::admin_locations(),
    servers => [['%%PORT%%', ''], [$long, 'otp_link_ttl 1h;'],
                [$short, 'otp_link_ttl 2s;']],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 15);
my $wait_path = '/_otp/challenge?method=link&r=%2Fprivate%2F';

# a waiting browser of user on port (default: the first server)
sub waiting {
    my ($user, $port, $agent) = @_;
    return { user => $user, port => $port // $t->port, cookie => undef,
             agent => $agent // 'Test Browser' };
}

sub wait_get {
    my ($w) = @_;
    my %h = (Authorization => OtpFlow::basic_auth($w->{user}),
             Accept => 'text/html', 'User-Agent' => $w->{agent});
    $h{Cookie} = "otp_session_link=$w->{cookie}" if defined $w->{cookie};
    my $r = $http->get("http://127.0.0.1:$w->{port}$wait_path",
                       { headers => \%h });
    my $c = cookie_value($r, 'otp_session_link');
    $w->{cookie} = length $c ? $c : undef if defined $c;
    ($w->{token}) = ($r->{content} // '') =~ m{link\?t=([A-Za-z0-9_-]+)"};
    ($w->{number}) = ($r->{content} // '') =~ m{id="number">(\d+)<};
    return $r;
}

# the same over a bare socket: the user agent's bytes as they are
# (HTTP::Tiny refuses some); (status, the page)
sub wait_raw {
    my ($w) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => "127.0.0.1:$w->{port}",
                                  Timeout => 10) or die "connect: $!";
    print $s "GET $wait_path HTTP/1.0\r\nHost: 127.0.0.1\r\n"
           . 'Authorization: ' . OtpFlow::basic_auth($w->{user}) . "\r\n"
           . "Accept: text/html\r\nUser-Agent: $w->{agent}\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    my ($status) = $res =~ m{^HTTP/1\.\d (\d+)};
    ($w->{token}) = $res =~ m{link\?t=([A-Za-z0-9_-]+)"};
    return ($status // 0, $res);
}

sub approve {
    my ($phone, $w) = @_;
    my $r = $phone->get("/_otp/link?t=$w->{token}");
    return $r unless $r->{status} == 200;
    return $phone->post('link', { t => $w->{token},
                                  csrf => form_field($r->{content}, 'csrf'),
                                  number => $w->{number} });
}

sub admin {
    my ($method, $path) = @_;
    return $http->request($method, $t->url("/_otp_admin/$path"));
}

# ----------------------------------------- require-enroll meanwhile

my $phone = OtpFlow->new($t, user => 'alice');
$phone->enroll;

my $w = waiting('alice');
is(wait_get($w)->{status}, 200, 'alice\'s computer waits');
my $r = approve($phone, $w);
is($r->{status}, 200, 'her phone approves');
is(admin(POST => 'users/alice/require-enroll')->{status}, 200,
   'then an administrator asks her to enroll again');
$r = wait_get($w);
isnt($r->{status}, 303, 'the approved request is not redeemed');
ok(!cookie_value($r, 'otp_session'), '... no session');
is(OtpFlow->new($t, user => 'alice')->get('/private/index.html')
       ->{headers}{location} =~ m{/_otp/enroll} ? 1 : 0, 1,
   'alice signs in by enrolling again');

# a pending request cannot be approved then
my $bob = OtpFlow->new($t, user => 'bob');
$bob->enroll;
my $wb = waiting('bob');
is(wait_get($wb)->{status}, 200, 'bob\'s computer waits');
is(admin(POST => 'users/bob/require-enroll')->{status}, 200,
   'an administrator asks bob to enroll again');
$r = approve($bob, $wb);
isnt($t->redis('HGET', (grep { /:lk:/ }
                        @{ $t->redis('KEYS', okey('*', 'bob')) })[0] // 'x',
               'st') // '', 'approved', 'the request is not approved');
$r = wait_get($wb);
isnt($r->{status}, 303, '... nor redeemed');
ok(!cookie_value($r, 'otp_session'), '... no session');

# ------------------------------------------- the cap across link ttls

my $carol = OtpFlow->new($t, user => 'carol');
$carol->enroll;
is(wait_get(waiting('carol', $long))->{status}, 200, "carol: a request")
    for 1 .. 9;
is(wait_get(waiting('carol', $short))->{status}, 200,
   'one more where requests live 2 s');
my $ll = okey('ll', 'carol');
cmp_ok($t->redis('TTL', $ll), '>', 3000,
       'the set of her live requests lives as long as the longest');
is(wait_get(waiting('carol', $long))->{status}, 429, 'the 11th: 429');

# ------------------------------------------------- the user agent shown

$t->redis('DEL', $ll, grep { /:lk:/ } @{ $t->redis('KEYS', okey('*',
                                                                'carol')) });
my $agent = ('a' x 199) . "\xC3\xA9" . "tail";
my $wu = waiting('carol', undef, $agent);
is((wait_raw($wu))[0], 200, 'a browser with a long user agent waits');
$r = $carol->get("/_otp/link?t=$wu->{token}");
is($r->{status}, 200, 'the phone\'s page');
my ($shown) = $r->{content} =~ m{<li class="muted">Browser: ([^<]*)</li>};
is($shown, 'a' x 199, 'the agent cut before a character it cannot hold');
ok(utf8::decode(my $copy = $r->{content}), 'the page is UTF-8');

my $wc = waiting('carol', undef, "Chrome\x01\x1b[31m x");
is((wait_raw($wc))[0], 200, 'a browser whose agent has controls');
$r = $carol->get("/_otp/link?t=$wc->{token}");
($shown) = $r->{content} =~ m{<li class="muted">Browser: ([^<]*)</li>};
is($shown, 'Chrome[31m x', 'shown without the control characters');

# ------------------------------- an approval is not a code for otp_fresh

my $ephone = OtpFlow->new($t, user => 'erin');
my $esecret = $ephone->enroll;
my $we = waiting('erin');
wait_get($we);
is(approve($ephone, $we)->{status}, 200, 'erin\'s phone approves a computer');
$r = wait_get($we);
is($r->{status}, 303, 'the computer is signed in');
my $computer = OtpFlow->new($t, user => 'erin', secret => $esecret);
$computer->set_cookie(cookie_value($r, 'otp_session'));
is($computer->get('/private/index.html')->{status}, 200,
   'it opens the protected pages');

$r = $computer->get('/_otp/account');
is($r->{status}, 302, 'the account page: the challenge first');
like($r->{headers}{location} // '', qr{/_otp/challenge\?r=/_otp/account},
     '... then back');
$r = $computer->get('/_otp/enroll?add=1');
is($r->{status}, 302, 'another authenticator: the challenge first');
unlike($r->{content} // '', qr/secret=/, '... no key shown');

my $we2 = waiting('erin');
wait_get($we2);
$r = $computer->get("/_otp/link?t=$we2->{token}");
is($r->{status}, 403, 'approving a third browser from it: refused');

is($computer->verify(time => time + 30)->{status}, 303,
   'a code typed on the computer');
is($computer->get('/_otp/account')->{status}, 200,
   'then the account page opens');
is(approve($computer, $we2)->{status}, 200, 'and it can approve');

$t->stop;
done_testing;
