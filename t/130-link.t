#!/usr/bin/perl

# Cross-device approval (SPEC 9, issue 12), over HTTP with two clients:
# a computer that waits (GET challenge?method=link, its binding cookie,
# the refreshes) and a phone with a session of the same user (GET link?t=,
# POST link).  The whole flow through to a session of method "link"; the
# refusals (no session, a stale one, another user's, an unknown token,
# all the same page, nothing changed); a wrong number and "not me" (the
# request burnt, a failure counted); a replayed approval; a redeem by a
# browser without the binding; expiry with a short otp_link_ttl; the cap
# on live requests (429); Redis paused at each step (503, never a pass);
# the metrics and the log lines.

use strict;
use warnings;

use Test::More;
use HTTP::Tiny;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users site b64url_encode b64url_decode);

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice bob carol));
$t->private_site;
$t->run_redis;

my $short = OtpTest::free_port();
my $tls = OtpTest::free_port();
my $d = $t->dir;
system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $d/key.pem"
       . " -out $d/cert.pem -days 1 -subj /CN=localhost"
       . " >$d/openssl.log 2>&1") == 0
    or BAIL_OUT('openssl could not make a certificate');

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_methods totp recovery link;\notp_fresh 5m;\n"
               . "otp_session_recheck 0;\notp_totp_skew 3;\n"
               . "otp_lockout 10 15m;",
    common  => OtpTest::site_locations() . OtpTest::admin_locations(),
    servers => [['%%PORT%%', ''], [$short, 'otp_link_ttl 2s;'],
                ["$tls ssl", "ssl_certificate $d/cert.pem;\n"
                             . "ssl_certificate_key $d/key.pem;"]],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $origin = 'http://127.0.0.1:' . $t->port;
my $wait_path = '/_otp/challenge?method=link&r=%2Fprivate%2F';
my $agent = 'Test <b>Browser</b> "x"';

# a waiting browser: its binding cookie kept as a browser keeps it
sub waiting {
    my (%o) = @_;
    return { flow => OtpFlow->new($o{site} // $t, user => $o{user}
                                                          // 'alice'),
             cookie => undef };
}

sub wait_get {
    my ($w) = @_;
    my %h = ('User-Agent' => $agent);
    $h{Cookie} = "otp_session_link=$w->{cookie}" if defined $w->{cookie};
    my $r = $w->{flow}->get($wait_path, headers => \%h);
    my $c = cookie_value($r, 'otp_session_link');
    $w->{cookie} = length $c ? $c : undef if defined $c;
    return $r;
}

# what the page shows: the link (from the QR code's URL) and the number
sub shown {
    my ($r) = @_;
    my ($url) = ($r->{content} // '') =~ m{<a href="(http://[^"]+)">};
    my ($n) = ($r->{content} // '') =~ m{id="number">(\d+)<};
    my ($tok) = ($url // '') =~ /[?&]t=([A-Za-z0-9_-]+)/;
    return ($url, $n, $tok);
}

sub phone_get {
    my ($flow, $tok) = @_;
    return $flow->get("/_otp/link?t=$tok");
}

sub choices {
    my ($r) = @_;
    return ($r->{content} // '') =~ /name="number" value="(\d+)"/g;
}

# every session of user's set: its code entered secs ago
sub age {
    my ($user, $secs) = @_;
    $t->redis('HSET', $_, 'a', time - $secs)
        for @{ $t->redis('SMEMBERS', okey('su', $user)) };
}

sub link_keys {
    my ($user) = @_;
    return grep { /:lk:/ } @{ $t->redis('KEYS', okey('*', $user)) };
}

sub metric {
    my ($result) = @_;
    my $r = OtpFlow->new($t)->get('/_otp_status');
    my ($n) = $r->{content}
        =~ /^otp_link_requests_total\{result="$result"\} (\d+)$/m;
    return $n // -1;
}

sub evalsha {
    my ($info) = $t->redis('INFO', 'commandstats')
        =~ /cmdstat_evalsha:calls=(\d+)/;
    return $info // 0;
}

# ------------------------------------------------------------- set-up

my $phone = OtpFlow->new($t, user => 'alice');
my $secret = $phone->enroll;
ok($phone->cookie, 'alice\'s phone has a session');

my $bob = OtpFlow->new($t, user => 'bob');
$bob->enroll;

# the challenge offers it
my ($page) = OtpFlow->new($t, user => 'alice')->challenge('%2Fprivate%2F');
like($page->{content}, qr{href="challenge\?method=link&amp;r=/private/"},
     'the challenge offers approval from the phone');

# ------------------------------------------------------ the whole flow

my $pc = waiting();
my $r = wait_get($pc);
is($r->{status}, 200, 'GET challenge?method=link: 200');
my $set = join "\n", map { /^otp_session_link=/ ? $_ : () }
    @{ ref $r->{headers}{'set-cookie'} ? $r->{headers}{'set-cookie'}
                                       : [$r->{headers}{'set-cookie'}] };
like($set, qr/; HttpOnly/, 'the binding cookie is HttpOnly');
like($set, qr/; SameSite=Lax/, '... SameSite=Lax');
like($set, qr/; Path=\//, '... for the whole host');
unlike($set, qr/Domain=|Secure/, '... no Domain, not Secure on http');
like($set, qr/Max-Age=(\d+)/, '... with a lifetime');
ok($pc->{cookie}, 'the browser holds it');

my ($url, $number, $token) = shown($r);
like($url // '', qr{^\Q$origin\E/_otp/link\?t=[A-Za-z0-9_-]{22}$},
     'the page shows the absolute link');
like($number // '', qr/^[1-9]\d$/, 'and a two-digit number');
like($r->{content}, qr{<svg\b.*</svg>}s, 'an inline SVG QR code');
like($r->{content},
     qr{<meta\ http-equiv="refresh"\s+
        content="[23];\ url=challenge\?method=link&amp;r=/private/">}x,
     'the page refreshes itself every 2-3 s');
unlike($r->{content}, qr/<script/i, 'without a script');

my @lk = link_keys('alice');
is(scalar @lk, 1, 'one request in Redis');
my $ttl = $t->redis('TTL', $lk[0]);
ok($ttl > 0 && $ttl <= 180, "with a TTL ($ttl s)");
my %req = @{ $t->redis('HGETALL', $lk[0]) };
is($req{st}, 'pending', 'pending');
is($req{n}, $number, 'the number shown is the one stored');
my $cookie_raw = b64url_decode($pc->{cookie});
my $token_raw = b64url_decode($token);
ok(!grep({ index($_, $token) >= 0 || index($_, $pc->{cookie}) >= 0
           || index($_, $token_raw) >= 0
           || index($_, substr($cookie_raw, 0, 16)) >= 0 }
         %req, $lk[0]),
   'neither the token nor the binding is stored, only keyed hashes');
is($t->redis('ZCARD', okey('ll', 'alice')), 1,
   'the user\'s live requests: 1');

my $calls = evalsha();
$r = wait_get($pc);
is($r->{status}, 200, 'a refresh with the cookie: still waiting');
is(evalsha() - $calls, 1, '... one script');
my ($url2, $number2) = shown($r);
is($url2, $url, '... the same link');
is($number2, $number, '... the same number');
is(scalar(link_keys('alice')), 1, '... no new request');

# the phone's page
$calls = evalsha();
$r = phone_get($phone, $token);
is($r->{status}, 200, 'the phone opens the link: 200');
is(evalsha() - $calls, 2, '... two scripts (its session, the request)');
like($r->{content}, qr/127\.0\.0\.1/, 'it names the address that asks');
like($r->{content}, qr/Test &lt;b&gt;Browser&lt;\/b&gt; &quot;x&quot;/,
     'and its user agent, escaped');
unlike($r->{content}, qr/<b>Browser/, '... never as markup');
like($r->{content}, qr/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC/,
     'and the time');
my @choices = choices($r);
is(scalar @choices, 3, 'three numbers to choose from');
is(scalar(grep { $_ == $number } @choices), 1, 'one of them the right one');
my %seen = map { $_ => 1 } @choices;
is(scalar keys %seen, 3, 'all three differ');
like($r->{content}, qr/That's not me|That&#39;s not me/, 'a "not me" button');
my $csrf = form_field($r->{content}, 'csrf');
ok($csrf, 'a CSRF token');

# on https: a __Host- cookie, Secure, and an https link
{
    my $https = HTTP::Tiny->new(max_redirect => 0, verify_SSL => 0);
    my $res = $https->get("https://127.0.0.1:$tls$wait_path", { headers => {
        Authorization => OtpFlow::basic_auth('alice'),
        Accept => 'text/html' } });
    is($res->{status}, 200, 'on https: the waiting page');
    my $c = $res->{headers}{'set-cookie'} // '';
    like("@{[ ref $c ? @$c : $c ]}",
         qr/(?:^|\s)__Host-otp_session_link=[\w-]{43};[ ]Path=\/;
            [ ]Max-Age=\d+;[ ]HttpOnly;[ ]SameSite=Lax;[ ]Secure/x,
         '... the binding cookie is __Host-, Secure, for / alone');
    like($res->{content}, qr{<a href="https://127\.0\.0\.1:$tls/_otp/link\?t=},
         '... and the link is https');
}

# ------------------------------------------------------------ refusals

my %refusal;

$r = phone_get(OtpFlow->new($t, user => 'alice'), $token);
$refusal{'no session'} = $r;

age('alice', 600);
$r = phone_get($phone, $token);
$refusal{'a session older than otp_fresh'} = $r;
$r = $phone->verify(time => time + 30);
is($r->{status}, 303, 'alice enters a code on the phone again');

$refusal{'bob\'s session, for alice\'s request'} = phone_get($bob, $token);

my $mixed = OtpFlow->new($t, user => 'alice');
$mixed->set_cookie($bob->cookie);
$refusal{'alice with bob\'s cookie'} = phone_get($mixed, $token);

$refusal{'an unknown token'} =
    phone_get($phone, b64url_encode(pack('N4', map { rand 2**32 } 1 .. 4)));
$refusal{'a token of the wrong form'} = phone_get($phone, 'x' x 22);
$refusal{'no token'} = $phone->get('/_otp/link');

my $first;
for my $why (sort keys %refusal) {
    is($refusal{$why}{status}, 403, "refused: $why (403)");
    $first //= $refusal{$why}{content};
    is($refusal{$why}{content}, $first, "... the same page: $why");
}
my ($said) = $first =~ m{<main>(.*)</main>}s;
unlike($said, qr/number|fresh|session|another user/i,
       'the refusal does not say what was wrong');

%req = @{ $t->redis('HGETALL', $lk[0]) };
is($req{st}, 'pending', 'after the refusals the request is still pending');
is($t->redis('GET', okey('f', 'alice')), undef, 'and no failure counted');

# a form not from the page
$r = $phone->post('link', { t => $token, csrf => 'x', number => $number });
is($r->{status}, 403, 'POST link with a bad CSRF token: 403');
$r = $bob->post('link', { t => $token, csrf => $csrf, number => $number });
is($r->{status}, 403, 'POST link by bob with alice\'s form: 403');
is($t->redis('HGET', $lk[0], 'st'), 'pending', 'still pending');

# -------------------------------------------------- redeem before approval

$r = OtpFlow->new($t, user => 'alice')->get('/private/');
isnt($r->{status}, 200, 'the computer has no session yet');

# --------------------------------------------------------------- approve

my $approved = metric('approved');
$r = $phone->post('link', { t => $token, csrf => $csrf, number => $number });
is($r->{status}, 200, 'the right number: 200');
like($r->{content}, qr/Approved/, '... approved');
is($t->redis('HGET', $lk[0], 'st'), 'approved', 'the request is approved');
is(metric('approved'), $approved + 1, 'otp_link_requests_total approved');

my $log = $t->error_log;
my $lip = '127\.0\.0\.1';
like($log, qr/user "alice": cross-device request of $lip approved on $lip/,
     'the approval is logged with the user and both addresses');
unlike($log, qr/\Q$token\E/, 'no token in the log');
unlike($log, qr/\Q$pc->{cookie}\E/, 'no binding in the log');

# replay of the approval
$r = $phone->post('link', { t => $token, csrf => $csrf, number => $number });
is($r->{status}, 403, 'the approval again: refused');
is($r->{content}, $first, '... the generic refusal');
$r = phone_get($phone, $token);
is($r->{status}, 403, 'the link again: refused');

# a browser without the binding redeems nothing
my $other = waiting();
$r = wait_get($other);
is($r->{status}, 200, 'another browser of alice: a page of its own');
ok(!cookie_value($r, 'otp_session'), '... and no session');
my (undef, undef, $tok_other) = shown($r);
isnt($tok_other, $token, '... with a request of its own');

# the right token with another binding
my $forged = { flow => OtpFlow->new($t, user => 'alice'),
               cookie => b64url_encode(("\0" x 16) . $token_raw) };
$r = wait_get($forged);
is($r->{status}, 200, 'a cookie with the token but not the binding: 200');
ok(!cookie_value($r, 'otp_session'), '... no session');
is($t->redis('HGET', $lk[0], 'st'), 'approved', '... the request is left');

# the waiting browser
my $before = time;
$r = wait_get($pc);
is($r->{status}, 303, 'the next refresh: 303');
like($r->{headers}{location}, qr{^(?:\Q$origin\E)?/private/$},
     '... to the original URI');
my $session = cookie_value($r, 'otp_session');
ok($session, '... with a new session cookie');
ok(!defined $pc->{cookie}, '... and the binding cookie removed');
is(scalar(grep { $_ eq $lk[0] } link_keys('alice')), 0,
   'the request is gone');

my $computer = OtpFlow->new($t, user => 'alice');
$computer->set_cookie($session);
$r = $computer->get('/private/index.html');
is($r->{status}, 200, 'the computer passes the gate');
is($r->{headers}{'x-otp-method'}, 'link', '$otp_method is link');

# the session's code time is the approval's
my @s = grep { $t->redis('HGET', $_, 'm') eq 'link' }
        @{ $t->redis('SMEMBERS', okey('su', 'alice')) };
is(scalar @s, 1, 'one session of method link');
my $a = $t->redis('HGET', $s[0], 'a');
ok($a >= $before - 5 && $a <= time, 'its auth time is the approval\'s');

# the binding cookie replayed
$pc->{cookie} = b64url_encode($cookie_raw);
$r = wait_get($pc);
is($r->{status}, 200, 'the binding cookie replayed: no second redeem');
ok(!cookie_value($r, 'otp_session'), '... no session');

# ----------------------------------------------- wrong number, not me

my $fails = $t->redis('GET', okey('f', 'alice')) // 0;
my $denied = metric('denied');
my $pc2 = waiting();
(undef, my $n2, my $tok2) = shown(wait_get($pc2));
$r = phone_get($phone, $tok2);
is($r->{status}, 200, 'a second request, on the phone');
my ($wrong) = grep { $_ != $n2 } choices($r);
$r = $phone->post('link', { t => $tok2,
                            csrf => form_field($r->{content}, 'csrf'),
                            number => $wrong });
is($r->{status}, 403, 'a wrong number: 403');
like($r->{content}, qr/Wrong number/, '... says so');
is($t->redis('GET', okey('f', 'alice')), $fails + 1,
   'a failure of the user counted');
is(metric('denied'), $denied + 1, 'otp_link_requests_total denied');
like($t->error_log,
     qr/user[ ]"alice":[ ]cross-device[ ]request[ ]of[ ]$lip[ ]denied
        [ ]\(wrong[ ]number\)[ ]on[ ]$lip/x,
     'logged');
$r = $phone->post('link', { t => $tok2, csrf => $csrf, number => $n2 });
is($r->{status}, 403, 'the right number after: refused (burnt)');
$r = wait_get($pc2);
is($r->{status}, 403, 'the waiting browser: 403');
like($r->{content}, qr/Not approved/, '... not approved');
unlike($r->{content}, qr/http-equiv="refresh"/, '... and no more refresh');
ok(!defined $pc2->{cookie}, '... its binding cookie removed');
ok(!cookie_value($r, 'otp_session'), '... no session');

my $pc3 = waiting();
(undef, undef, my $tok3) = shown(wait_get($pc3));
$r = phone_get($phone, $tok3);
$r = $phone->post('link', { t => $tok3, deny => 1,
                            csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 200, '"That\'s not me": 200');
like($r->{content}, qr/Turned down/, '... turned down');
is($t->redis('GET', okey('f', 'alice')), $fails + 2, 'a failure counted');
like($t->error_log,
     qr/user "alice": cross-device request of $lip denied \(not me\)/,
     'logged');
$r = wait_get($pc3);
is($r->{status}, 403, 'the waiting browser: not approved');

# a code on the phone ends the failures
$phone->verify(time => time + 60);
is($t->redis('GET', okey('f', 'alice')), undef,
   'a right code clears the failures');

# ------------------------------------- sessions revoked after the approval

my $pc8 = waiting();
(undef, my $n8, my $tok8) = shown(wait_get($pc8));
$r = phone_get($phone, $tok8);
$r = $phone->post('link', { t => $tok8, number => $n8,
                            csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 200, 'approved');
$r = OtpFlow->new($t)->request('DELETE', '/_otp_admin/users/alice/sessions');
is($r->{status}, 200, 'then an administrator ends alice\'s sessions');
$r = wait_get($pc8);
is($r->{status}, 403, 'the approval is not redeemed');
ok(!cookie_value($r, 'otp_session'), '... no session');
$r = $phone->verify(time => time + 90);
is($r->{status}, 303, 'alice signs in on the phone again');

# ------------------------------------------------------------- expiry

my $expired = metric('expired');
my $slow = waiting(site => site($t, $short));
$r = wait_get($slow);
is($r->{status}, 200, 'otp_link_ttl 2s: a request');
like($r->{content}, qr/ends in [12] s/, '... which says how long it has');
(undef, undef, my $tok4) = shown($r);
sleep 2.5;
$r = phone_get($phone, $tok4);
is($r->{status}, 403, 'the phone after otp_link_ttl: refused');
$r = wait_get($slow);
is($r->{status}, 200, 'the waiting browser after otp_link_ttl');
like($r->{content}, qr/Request expired/, '... says it expired');
unlike($r->{content}, qr/http-equiv="refresh"/, '... and stops');
ok(!defined $slow->{cookie}, '... its binding cookie removed');
is(metric('expired'), $expired + 1, 'otp_link_requests_total expired');

# ----------------------------------------------------------------- cap

$t->redis('DEL', okey('ll', 'carol'));
my $carol = OtpFlow->new($t, user => 'carol');
$carol->enroll;
my @carols;
for my $i (1 .. 10) {
    my $w = waiting(user => 'carol');
    push @carols, wait_get($w)->{status};
}
is("@carols", join(' ', (200) x 10), 'carol opens 10 requests');
$r = wait_get(waiting(user => 'carol'));
is($r->{status}, 429, 'the 11th: 429');
like($r->{headers}{'retry-after'} // '', qr/^\d+$/, '... with Retry-After');
is($t->redis('ZCARD', okey('ll', 'carol')), 10, 'no more than 10 live');
$r = wait_get(waiting(user => 'bob'));
is($r->{status}, 200, 'bob is not affected');

# ----------------------------------------------------------- keys' TTLs

is(join(' ', $t->keys_without_ttl), '',
   'every key but the user records has a TTL');

# ----------------------------------------------------- Redis down: 503

# a request at each step: new, pending, its page open on the phone,
# approved; then Redis goes away
my $pc5 = waiting();
(undef, undef, my $tok5) = shown(wait_get($pc5));
$r = phone_get($phone, $tok5);
my $csrf5 = form_field($r->{content}, 'csrf');
my $pc6 = waiting();
(undef, my $n6, my $tok6) = shown(wait_get($pc6));
$r = phone_get($phone, $tok6);
$r = $phone->post('link', { t => $tok6, number => $n6,
                            csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 200, 'a request approved, not yet redeemed');
my $pc7 = waiting();

my $redis_port = $t->redis_port;
$t->stop_redis('KILL');

my %down = (
    'a new request'        => sub { wait_get($pc7) },
    'a refresh'            => sub { wait_get($pc5) },
    'the phone\'s page'    => sub { phone_get($phone, $tok5) },
    'the phone\'s answer'  => sub { $phone->post('link', { t => $tok5,
                                       csrf => $csrf5, number => 10 }) },
    'the redeem'           => sub { wait_get($pc6) },
);

for my $step (sort keys %down) {
    $r = $down{$step}->();
    is($r->{status}, 503, "Redis down, $step: 503");
    ok(!cookie_value($r, 'otp_session'), '... no session cookie');
}
ok(!defined $pc7->{cookie}, 'no binding cookie without a request');
ok(defined $pc6->{cookie}, 'the approved browser keeps its binding');

$t->run_redis(port => $redis_port);
$t->wait_redis_ready(workers => 1);

# an empty Redis: the approval is gone, nothing passes
$r = wait_get($pc6);
isnt($r->{status}, 303, 'Redis back (empty, alice unknown): no pass');
ok(!cookie_value($r, 'otp_session'), '... no session');

$t->stop;
done_testing;
