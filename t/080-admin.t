#!/usr/bin/perl

# The admin API (otp_admin) against the real nginx and a real Redis: each
# request of SPEC section 5, and that what it changes reaches the gate and
# the pages: status after enrollment, lockout and sign-ins; require-enroll
# and a forgotten authenticator send the next sign-in to enrollment;
# unlock lets a locked user in; revoked sessions stop working within
# otp_session_recheck.  Then the errors: unknown paths, wrong methods,
# user names (any bytes but NUL), malformed and oversized bodies,
# allow/deny, Redis down.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use JSON::PP;
use Time::HiRes qw(sleep);
use OtpTest;
use OtpKeys;
use OtpFlow qw(basic_auth);
use OtpHttp qw(http_request send_raw);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $json = JSON::PP->new->canonical;

my @users = qw(alice bob carol dave erin frank);
$t->write_file('htpasswd', join('', map { "$_:{PLAIN}$_\n" } @users), 0644);
mkdir $t->dir . '/www';
$t->write_file('www/index.html', "secret page\n", 0644);

# ---------------------------------------------------------------- config

# nginx -t writes to its own instance's log, which may hold [emerg] lines
my $tc = OtpTest->new;

my %bad = (
    'no trailing slash' => 'location /_admin { otp_admin; }',
    'exact location'    => 'location = /_admin/ { otp_admin; }',
    'an argument'       => 'location /_admin/ { otp_admin on; }',
    'server level'      => 'otp_admin;',
    'twice'             => 'location /_admin/ { otp_admin; otp_admin; }',
);

for my $name (sort keys %bad) {
    my $conf = $tc->write_conf(
        OtpTest::http_conf(<<"EOF", key => $key, redis => 0), 'bad.conf');
    server {
        listen 127.0.0.1:%%PORT%%;
        $bad{$name}
    }
EOF
    my ($rc, $out) = $tc->nginx_test($conf);
    isnt($rc, 0, "nginx -t rejects otp_admin: $name");
    like($out, qr/otp_admin/, "... naming the directive ($name)");
}

{
    my $conf = $tc->write_conf(
        OtpTest::http_conf(<<"EOF", redis => 0), 'nokey.conf');
    server {
        listen 127.0.0.1:%%PORT%%;
        location /_admin/ { otp_admin; }
    }
EOF
    my ($rc, $out) = $tc->nginx_test($conf);
    isnt($rc, 0, 'otp_admin without otp_secret_file: rejected');
    like($out, qr/"otp_admin" requires "otp_secret_file"/,
         '... with a clear message');
}

# ---------------------------------------------------------------- server

$t->run_redis;

$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key, workers => 2));
    otp_session_recheck 1s;
    otp_lockout 3 15m;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /_otp/ {
            auth_basic "test";
            auth_basic_user_file %%DIR%%/htpasswd;
            otp_endpoint;
        }

        location /private/ {
            auth_basic "test";
            auth_basic_user_file %%DIR%%/htpasswd;
            otp on;
            alias %%DIR%%/www/;
        }

        location /_admin/ {
            allow 127.0.0.1;
            deny all;
            otp_admin;
        }
    }
EOF

$t->run_nginx;
ok($t->wait_redis_ready(workers => 2), 'workers connected to Redis');

my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 10);

sub admin {
    my ($method, $path, %o) = @_;
    my %opts = (headers => $o{headers} || {});
    $opts{content} = $o{content} if defined $o{content};
    my $r = ($o{http} || $http)->request($method,
                                          $t->url("/_admin/$path"), \%opts);
    $r->{json} = eval { decode_json($r->{content}) };
    return $r;
}

sub status_of {
    my ($user) = @_;
    my $r = admin(GET => "users/$user");
    is($r->{status}, 200, "GET users/$user: 200") or diag($r->{content});
    return $r->{json} || {};
}

# The gated page for a flow's user: 200, or where the gate sent it.
sub gate {
    my ($flow) = @_;
    my $r = $flow->get('/private/index.html');
    return $r->{status} == 200 ? 200
         : $r->{status} == 302 && ($r->{headers}{location} // '')
               =~ m{/_otp/(challenge|enroll)\?} ? "302 $1"
         : $r->{status};
}

# ---------------------------------------------------------------- status

my $r = admin(GET => 'users/nobody');
is($r->{status}, 404, 'unknown user: 404');
is_deeply($r->{json}, { error => 'unknown user' }, 'JSON error body');
like($r->{headers}{'content-type'}, qr{^application/json},
     'application/json');
is($r->{headers}{'cache-control'}, 'no-store', 'not cached');

my $alice = OtpFlow->new($t, user => 'alice');
$alice->enroll;

my $s = status_of('alice');
is_deeply($s, {
    user => 'alice', totp => JSON::PP::true, hotp => JSON::PP::false,
    phone => undef, recovery_codes_left => 10, locked_until => undef,
    must_enroll => JSON::PP::false, sessions => 1,
    authenticators => [ { id => 2, name => 'Authenticator', type => 'totp',
                          created => $s->{authenticators}[0]{created},
                          last_used => $s->{authenticators}[0]{last_used} } ],
}, 'enrolled user: every field, one session');
ok(($s->{authenticators}[0]{created} // 0) >= time - 30,
   'the authenticator: when it was added');

my $alice2 = OtpFlow->new($t, user => 'alice', secret => $alice->secret);
$r = $alice2->verify(time => time + 30);
is($r->{status}, 303, 'alice signs in on a second browser');
is(status_of('alice')->{sessions}, 2, 'two sessions');

$r = admin(HEAD => 'users/alice');
is($r->{status}, 200, 'HEAD users/alice: 200');
is($r->{content} // '', '', '... without a body');

# ---------------------------------------------------------------- lockout

my $bob = OtpFlow->new($t, user => 'bob');
$bob->enroll;
is(gate($bob), 200, 'bob passes the gate');
$bob->set_cookie(undef);

my @st = map { $bob->verify(code => '000000')->{status} } 1 .. 3;
is_deeply(\@st, [ 401, 401, 429 ], 'three wrong codes lock bob');

$s = status_of('bob');
my $until = $s->{locked_until} // 0;
ok($until >= time + 890 && $until <= time + 901,
   "locked_until is the lock's end ($until)");
is($s->{totp}, JSON::PP::true, 'still enrolled');
is(gate($bob), 429, 'the gate says locked');

$r = admin(POST => 'users/bob/unlock');
is($r->{status}, 200, 'POST unlock: 200');
is_deeply($r->{json}, { ok => JSON::PP::true }, '{"ok":true}');
is(status_of('bob')->{locked_until}, undef, 'no longer locked');
is($t->redis('EXISTS', okey('f', 'bob'), okey('l', 'bob')), 0,
   'lock and failure count gone');

is(gate($bob), '302 challenge', 'unlocked: asked for a code');
$r = $bob->verify(time => time + 30);
is($r->{status}, 303, 'the right code works again');
is(gate($bob), 200, 'bob passes the gate');

# -------------------------------------------------------- require-enroll

my $carol = OtpFlow->new($t, user => 'carol');
my $carol_secret = $carol->enroll;

$r = admin(POST => 'users/carol/require-enroll');
is($r->{status}, 200, 'POST require-enroll: 200');
is_deeply($r->{json}, { ok => JSON::PP::true }, '{"ok":true}');

$s = status_of('carol');
is($s->{must_enroll}, JSON::PP::true, 'must_enroll set');
is($s->{totp}, JSON::PP::true, 'the old authenticator is still there');

is(gate($carol), 200, 'the running session goes on');

my $carol2 = OtpFlow->new($t, user => 'carol');
is(gate($carol2), '302 enroll', 'the next sign-in goes to enrollment');

my $carol_new = $carol2->enroll(time => time + 30);
isnt($carol_new, $carol_secret, 'a new authenticator');
is(status_of('carol')->{must_enroll}, JSON::PP::false,
   'must_enroll cleared by the enrollment');
is(gate($carol2), 200, 'and the user is in');

# ---------------------------------------------------------------- forget totp

my $dave = OtpFlow->new($t, user => 'dave');
$dave->enroll;
is(gate($dave), 200, 'dave passes the gate');

my $dave2 = OtpFlow->new($t, user => 'dave');
my ($page) = $dave2->enroll_page;
is($page->{status}, 302, 'an enrolled user is not shown a new key');

$r = admin(DELETE => 'users/dave/totp');
is($r->{status}, 200, 'DELETE totp: 200');
is_deeply($r->{json}, { ok => JSON::PP::true, sessions => 1 },
          'one session revoked with it');

$s = status_of('dave');
is($s->{totp}, JSON::PP::false, 'no authenticator');
is($s->{sessions}, 0, 'no session');
ok(!defined $t->redis('HGET', okey('u', 'dave'), 'totp'), 'secret deleted');

sleep 1.2;
is(gate($dave), '302 enroll', 'the old cookie no longer passes: enroll');
is(gate($dave2), '302 enroll', 'a new sign-in enrolls');

($page) = $dave2->enroll_page;
is($page->{status}, 200, 'the enrollment page shows a key');
my ($pending) = @{ $t->redis('SMEMBERS', okey('es', 'dave')) };
ok($pending && $t->redis('EXISTS', $pending), 'an enrollment pending');
admin(DELETE => 'users/dave/totp');
is($t->redis('EXISTS', okey('es', 'dave'), $pending), 0,
   'a pending enrollment goes too');

$dave2->enroll(time => time + 30);
is(gate($dave2), 200, 'dave enrolled again and is in');

$r = admin(DELETE => 'users/nobody/totp');
is($r->{status}, 200, 'DELETE totp of an unknown user: 200');
is(admin(GET => 'users/nobody')->{status}, 404, '... and still unknown');

# ---------------------------------------------------------------- sessions

my $erin = OtpFlow->new($t, user => 'erin');
$erin->enroll;
my $erin2 = OtpFlow->new($t, user => 'erin', secret => $erin->secret);
$erin2->verify(time => time + 30);
is(status_of('erin')->{sessions}, 2, 'erin has two sessions');

# both workers see (and cache) the sessions
for (1 .. 4) {
    is(gate($erin), 200, 'erin passes, first browser');
    is(gate($erin2), 200, 'erin passes, second browser');
}

$r = admin(DELETE => 'users/erin/sessions');
is($r->{status}, 200, 'DELETE sessions: 200');
is_deeply($r->{json}, { ok => JSON::PP::true, sessions => 2 },
          'two sessions revoked');
is(status_of('erin')->{sessions}, 0, 'none left');

sleep 1.2;
for (1 .. 4) {
    is(gate($erin), '302 challenge', 'first cookie revoked everywhere');
    is(gate($erin2), '302 challenge', 'second cookie revoked everywhere');
}


# ---------------------------------------------------------------- phone

sub put_phone {
    my ($user, $body) = @_;
    return admin(PUT => "users/$user/phone", content => $body,
                 headers => { 'Content-Type' => 'application/json' });
}

$r = put_phone('frank', '{"phone":"+15555550123"}');
is($r->{status}, 200, 'PUT phone: 200') or diag($r->{content});
is_deeply($r->{json}, { ok => JSON::PP::true }, '{"ok":true}');

$s = status_of('frank');
is($s->{phone}, '+1555***0123', 'shown masked');
is($s->{totp}, JSON::PP::false, 'a user known by the phone only');

my $sealed = $t->redis('HGET', okey('u', 'frank'), 'phone');
is(length $sealed, 12 + 29, 'stored sealed (AES-GCM)');
unlike($sealed, qr/5550123/, 'the number is not in Redis as text');

put_phone('alice', '{"phone":"+12345678"}');
is(status_of('alice')->{phone}, '+1***5678',
   'a short number: at least three digits hidden');
put_phone('alice', '{"phone": "+491701234567890"}');
is(status_of('alice')->{phone}, '+4917***7890', 'a long number');

$t->redis('HSET', okey('u', 'bob'), 'phone', $sealed);
is(status_of('bob')->{phone}, undef,
   'a number sealed to another user does not open');
like($t->error_log, qr/phone number of user "bob" does not open/,
     '... and that is logged');

for my $bad ('"15555550123"', '"+1234567"', '"+1234567890123456"',
             '"+1555abc0123"', '"+01555550123"', '" +15555550123"',
             '"+1555555\u00000123"', '15555550123', 'null', 'true')
{
    $r = put_phone('frank', qq({"phone":$bad}));
    is($r->{status}, 400, "phone $bad: 400");
    ok($r->{json} && $r->{json}{error}, '... with a JSON error');
}
is(status_of('frank')->{phone}, '+1555***0123', 'the number did not change');

for my $body ('', '{', '{"phone":"+15555550123"', '[]',
              '"+15555550123"', '{"phone":"+15555550123","phone":"+1"}',
              '{"Phone":"+15555550123"}', "\xff\xfe")
{
    $r = put_phone('frank', $body);
    is($r->{status}, 400, "body '$body': 400");
    ok($r->{json} && $r->{json}{error}, '... with a JSON error');
}

$r = put_phone('frank', '{"phone":"+15555550123","pad":"' . ('x' x 5000)
                        . '"}');
is($r->{status}, 413, 'a body over 4 KiB: 413');
is_deeply($r->{json}, { error => 'body too large' }, '... as JSON');

$r = send_raw($t, http_request(
    method  => 'PUT',
    path    => '/_admin/users/frank/phone',
    headers => [['Transfer-Encoding', 'chunked']],
    body    => "1000\r\n" . ('{' x 4096) . "\r\n10\r\n" . ('x' x 16)
               . "\r\n0\r\n\r\n"));
like($r->{raw}, qr{^HTTP/1\.1 413 }, 'a chunked body over 4 KiB: 413');

$r = put_phone('frank', '{"phone":"+15555550124"}' . (' ' x 4000));
is($r->{status}, 200, 'a body of just under 4 KiB is fine');

# ---------------------------------------------------------------- errors

for my $path ('', 'users', 'user/alice', 'users/alice/', 'users/alice/bogus',
              'users/alice/totp/x', 'users/alice/unlock/', 'Users/alice',
              'users/alice//totp')
{
    $r = admin(GET => $path);
    is($r->{status}, 404, "GET /_admin/$path: 404");
    is_deeply($r->{json}, { error => 'unknown path' }, '... as JSON');
}

my %allow = (
    'users/alice'                => 'GET, HEAD',
    'users/alice/totp'           => 'DELETE',
    'users/alice/require-enroll' => 'POST',
    'users/alice/unlock'         => 'POST',
    'users/alice/phone'          => 'PUT',
    'users/alice/sessions'       => 'DELETE',
);

for my $path (sort keys %allow) {
    for my $method (qw(GET POST PUT DELETE PATCH)) {
        next if $allow{$path} =~ /\b$method\b/;
        $r = admin($method => $path);
        is($r->{status}, 405, "$method $path: 405");
        is($r->{headers}{allow}, $allow{$path}, "... Allow: $allow{$path}");
        is_deeply($r->{json}, { error => 'method not allowed' },
                  '... as JSON');
    }
}
is(status_of('alice')->{totp}, JSON::PP::true,
   'no wrong method changed anything');

my $long = 'u' x 512;
is(admin(GET => "users/$long")->{status}, 404,
   'a user name of 512 bytes is fine (unknown)');
is(admin(GET => 'users/%C3%A9l%C3%A8ve%20one')->{status}, 404,
   'UTF-8 and spaces, percent-encoded, are fine');
is(admin(GET => 'users/a+b:c@d.e')->{status}, 404,
   '"+", ":", "@" and "." are fine');

for my $name ('', "u$long") {
    $r = admin(POST => "users/$name/unlock");
    is($r->{status}, 400, "user name '" . substr($name, 0, 20) . "': 400");
    is_deeply($r->{json}, { error => 'bad user name' }, '... as JSON');
}

# any bytes but NUL name a user the gate may serve (SPEC 5)
for my $name ('a%2Fb', 'a%2fb', '%0A', 'a%7Fb', 'a%1Bb', '%C3%28', '%FF',
              '%C0%AF', '%ED%A0%80')
{
    $r = admin(GET => "users/$name");
    is($r->{status}, 404, "user name '$name': a name (unknown)");
}

# what nginx itself refuses in a request line never gets here
for my $name ('a%00b', '%ZZ', 'a%2', 'a%') {
    is(admin(POST => "users/$name/unlock")->{status}, 400,
       "user name '$name': 400 (from nginx)");
}

# %2F does not split the path: "a%2Fb/unlock" is not "a" + "b/unlock"
$t->redis('SET', okey('l', 'a'), 1, 'EX', 100);
admin(POST => 'users/a%2Fb%2Funlock');
is($t->redis('EXISTS', okey('l', 'a')), 1, '%2F is no separator');
$t->redis('DEL', okey('l', 'a'));

# a user name with characters that are special in the path, encoded
$t->redis('SET', okey('l', 'x?y#z'), 1, 'EX', 100);
$r = admin(GET => 'users/x%3Fy%23z');
is($r->{status}, 200, 'an encoded "?" and "#" in a user name');
is($r->{json}{user}, 'x?y#z', '... decoded');
ok($r->{json}{locked_until}, '... and its lock found');
$r = admin(POST => 'users/x%3Fy%23z/unlock');
is($t->redis('EXISTS', okey('l', 'x?y#z')), 0, '... and unlocked');

# query strings are not part of the path
is(admin(GET => 'users/alice?x=1')->{status}, 200, 'a query is ignored');

# allow/deny decide who may call the API
my $other = HTTP::Tiny->new(max_redirect => 0, timeout => 10,
                            local_address => '127.0.0.2');
$r = admin(GET => 'users/alice', http => $other);
is($r->{status}, 403, 'a client that "deny all" matches: 403');
unlike($r->{content}, qr/totp/, '... and nothing about the user');
$r = admin(DELETE => 'users/alice/sessions', http => $other);
is($r->{status}, 403, 'denied: DELETE sessions');
is(status_of('alice')->{sessions}, 2, '... and nothing revoked');

# ---------------------------------------------------------------- logs

my $log = $t->error_log;
like($log, qr/\[notice\].*otp: admin unlocked user "bob".*client: 127\.0\.0\.1/,
     'unlock logged at notice with the client address');
like($log, qr/\[notice\].*admin requires user "carol" to enroll again/,
     'require-enroll logged');
like($log, qr/\[notice\].*admin removed the authenticator of user "dave"/,
     'forget totp logged');
like($log, qr/\[notice\].*admin revoked the sessions of user "erin" \(2\)/,
     'revoke logged');
like($log, qr/\[notice\].*admin set the phone number of user "frank"/,
     'phone logged');
unlike($log, qr/5555550123|1701234567890/, 'the phone number is not logged');

# ---------------------------------------------------------------- keys

my ($cursor, @no_ttl) = (0);
do {
    my $scan = $t->redis('SCAN', $cursor, 'COUNT', 1000);
    $cursor = $scan->[0];
    for my $k (@{ $scan->[1] }) {
        next if $k =~ /^otp:\{([^}]*\}:u|~\}:store)$/;
        push @no_ttl, $k if $t->redis('TTL', $k) == -1;
    }
} while ($cursor ne '0');
ok(!@no_ttl, 'every key but the user records expires') or diag("@no_ttl");

# ---------------------------------------------------------------- Redis down

$t->stop_redis;
sleep 0.3;

for my $req ([ GET => 'users/alice' ], [ DELETE => 'users/alice/totp' ],
             [ POST => 'users/alice/require-enroll' ],
             [ POST => 'users/alice/unlock' ],
             [ DELETE => 'users/alice/sessions' ])
{
    $r = admin(@$req);
    is($r->{status}, 503, "Redis down: $req->[0] $req->[1]: 503");
    is_deeply($r->{json}, { error => 'redis unavailable' }, '... as JSON');
}
$r = put_phone('alice', '{"phone":"+15555550123"}');
is($r->{status}, 503, 'Redis down: PUT phone: 503');
is_deeply($r->{json}, { error => 'redis unavailable' }, '... as JSON');

$t->stop;

done_testing();
