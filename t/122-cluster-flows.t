#!/usr/bin/perl

# Redis Cluster (SPEC 12, issue 11) with the features whose keys have a
# hash tag of their own, on three real masters: the per-number SMS cap
# (P{#<hmac>}:n) and the store's marker (P{~}:store) land in other slots
# than the users' keys, and CLUSTER KEYSLOT and the masters' keys show
# that they are on other masters than some of those users.  SMS sign-in
# and the cap across users of different masters; a fresh cluster marked
# without an admin step; FLUSHALL on every master stops enrollment (503)
# until POST store/accept-reset; a cross-device approval and an account
# page change.  Then one master is paused (SIGSTOP): its users get 503
# within the timeout, the other masters' users keep their latency, and
# all passes again after SIGCONT.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(cookie_value form_field);
use OtpAttack qw(users);
use OtpFaults qw(clients);
use OtpSms qw(code_of set_phone send_code);
use OtpScale qw(redis_at cluster_set wait_for stop_servers);

my $t = OtpTest->new;
my $key = $t->secret_file;
my @users = map { sprintf 'user%02d', $_ } 1 .. 30;
users($t, @users);
$t->private_site;

# a long node timeout: a paused master is not failed by the others
# (without replicas the whole cluster would refuse calls)
my @nodes = cluster_set($t, masters => 3, timeout => 60000);
my $prov = OtpSms->new($t)->start;

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    redis   => 0,
    http    => "otp_redis cluster=127.0.0.1:$nodes[0] timeout=500ms;\n"
               . "otp_session_recheck 0;\notp_fresh 5m;\n",
    servers => [ [ '%%PORT%%', "otp_methods totp sms link;\n"
                   . "otp_sms_provider /_otp_sms;\n"
                   . "otp_sms_resend_delay 0;\n"
                   . "otp_sms_number_limit 2;\n"
                   . OtpTest::site_locations()
                   . OtpTest::admin_locations()
                   . $prov->location(undef, read_timeout => '1s') ] ],
));
$t->run_nginx;

for my $port (@nodes) {
    local $t->{redis_port} = $port;
    ok($t->wait_redis_ready(workers => 2), "master $port: both workers");
}

sub admin {
    my ($method, $path, $body) = @_;
    return $t->http->request($method, $t->url("/_otp_admin/$path"),
        defined $body ? { content => $body, headers => {
            'Content-Type' => 'application/json' } } : {});
}

sub gated {
    my ($flow) = @_;
    return $flow->get('/private/index.html');
}

sub slot { redis_at($nodes[0], 'CLUSTER', 'KEYSLOT', $_[0]) }

# the master that serves a slot
sub owner {
    my ($slot) = @_;
    for my $range (@{ redis_at($nodes[0], 'CLUSTER', 'SLOTS') }) {
        return $range->[2][1] if $slot >= $range->[0] && $slot <= $range->[1];
    }
    return undef;
}

# the master of a user's keys, and the users of each master
my %master = map { $_ => owner(slot(okey('u', $_))) } @users;
my %of;
push @{ $of{ $master{$_} } }, $_ for @users;
is(scalar(keys %of), 3, 'the users spread over the three masters');
my @by = map { $of{$_} } @nodes;        # users of nodes[0], [1], [2]

# every key of the cluster matching a pattern: { key => master }
sub keys_like {
    my ($pattern) = @_;
    my %at;
    for my $port (@nodes) {
        $at{$_} = $port for @{ redis_at($port, 'KEYS', $pattern) || [] };
    }
    return \%at;
}

# ------------------------------------------------ a fresh cluster is marked

my $MARK = 'otp:{~}:store';
my $mark_at = owner(slot($MARK));
my $first = $by[0][0];
my $f1 = OtpFlow->new($t, user => $first);
ok(eval { $f1->enroll }, 'a fresh cluster: a user enrolls, no admin step');
is(redis_at($mark_at, 'HGET', $MARK, 'how'), 'new',
   "the marker is made, on the master of slot @{[ slot($MARK) ]}");
my @apart = grep { $master{$_} != $mark_at } @users;
ok(@apart >= 10, scalar(@apart) . ' users have their keys on another '
                 . 'master than the marker');

# ------------------------------------------------------- SMS and its cap

my $NUM = '+15555550142';
my @texted = ($by[0][1], $by[1][1], $by[2][1]);
set_phone($t, $_, $NUM, '/_otp_admin/') for @texted;
my %sf = map { $_ => OtpFlow->new($t, user => $_) } @texted;

$prov->clear;
my ($r, $csrf) = send_code($sf{ $texted[0] });
is($r->{status}, 303, "$texted[0]: a text sent");
my ($req) = $prov->wait_requests(1);
my $code = code_of($req);
like($code // '', qr/^\d+$/, '... the provider got the code');
$r = $sf{ $texted[0] }->post('verify', { csrf => $csrf, code => $code,
    method => 'sms', return => '/private/index.html' });
my $sms_cookie = cookie_value($r, 'otp_session');
ok($sms_cookie, '... and the code signs the user in');
$sf{ $texted[0] }->set_cookie($sms_cookie);
is(gated($sf{ $texted[0] })->{status}, 200, '... who passes the gate');

my $nums = keys_like('otp:{#*}:n');
is(scalar(keys %$nums), 1, 'one key for the number');
my ($nk) = keys %$nums;
my $num_at = $nums->{$nk};
is($num_at, owner(slot($nk)), '... on the master of its slot');
my @elsewhere = grep { $master{$_} != $num_at } @texted;
is(scalar @elsewhere, 2, 'two of the users with that number have their '
                         . 'keys on another master than it');

$prov->clear;
($r) = send_code($sf{ $texted[1] });
is($r->{status}, 303, "$texted[1], same number, another master: sent");
($r) = send_code($sf{ $texted[2] });
is($r->{status}, 429, "$texted[2], a third user: 429 (2 a day)");
sleep 0.3;
is(scalar $prov->requests, 1, '... only one more text reached the provider');
is(redis_at($num_at, 'ZCARD', $nk), 2, 'the number counts two texts');
my $ttl = redis_at($num_at, 'TTL', $nk);
ok($ttl > 0, "... and expires (TTL $ttl)");

# -------------------------------------------- a cross-device approval

my $lu = $by[1][2];
my $phone = OtpFlow->new($t, user => $lu);
ok(eval { $phone->enroll }, "$lu enrolls on her phone");

my $bind;
my $wait = OtpFlow->new($t, user => $lu);
my $wait_get = sub {
    my $r = $wait->get('/_otp/challenge?method=link&r=%2Fprivate%2F',
        headers => defined $bind ? { Cookie => "otp_session_link=$bind" }
                                 : {});
    my $c = cookie_value($r, 'otp_session_link');
    $bind = length $c ? $c : undef if defined $c;
    return $r;
};
$r = $wait_get->();
is($r->{status}, 200, 'another browser waits for approval');
my ($number) = ($r->{content} // '') =~ m{id="number">(\d+)<};
my ($token) = ($r->{content} // '') =~ m{/_otp/link\?t=([A-Za-z0-9_-]+)};
ok($number && $token, '... showing a number and a link');
$r = $phone->get("/_otp/link?t=$token");
is($r->{status}, 200, 'the phone opens the link');
$r = $phone->post('link', { t => $token, number => $number,
                            csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 200, '... and approves');
$r = $wait_get->();
is($r->{status}, 303, 'the waiting browser: 303');
my $linked = cookie_value($r, 'otp_session');
ok($linked, '... with a session');
$wait->set_cookie($linked);
$r = gated($wait);
is($r->{status}, 200, '... that passes the gate');
is($r->{headers}{'x-otp-method'}, 'link', '... by method link');

# ------------------------------------------------- an account page change

my $au = $by[2][2];
my $acc = OtpFlow->new($t, user => $au);
ok(eval { $acc->enroll }, "$au enrolls");
$r = $acc->get('/_otp/account?r=%2Fprivate%2F');
is($r->{status}, 200, 'her account page');
my $st = decode_json(admin(GET => "users/$au")->{content} // '{}');
my $id = $st->{authenticators}[0]{id};
$r = $acc->post('account', { action => 'rename', id => $id,
    name => 'Office', csrf => form_field($r->{content}, 'csrf'),
    return => '/private/' });
is($r->{status}, 303, 'rename: 303');
$st = decode_json(admin(GET => "users/$au")->{content} // '{}');
is($st->{authenticators}[0]{name}, 'Office', '... renamed');
is(gated($acc)->{status}, 200, '... and her session still passes');

# -------------------------------------------------- a paused master

# signed-in users on every master
my %sess;
for my $i (0 .. 2) {
    for my $u (@{ $by[$i] }[3 .. 5]) {
        my $f = OtpFlow->new($t, user => $u);
        $sess{$u} = $f if eval { $f->enroll };
    }
}
is(scalar(keys %sess), 9, 'three signed-in users on each master');

sub latency {
    my (@us) = @_;
    my ($bad, @d) = (0);
    for my $u (@us) {
        my $t0 = time;
        my $s = gated($sess{$u})->{status};
        push @d, time - $t0;
        $bad++ if $s != 200;
    }
    @d = sort { $a <=> $b } @d;
    return ($d[-1], $bad, $d[$#d / 2]);
}

# the master of the store's marker: enrollment needs it too
my $paused = $mark_at;
my @on_paused = grep { $master{$_} == $paused } sort keys %sess;
my @others = grep { $master{$_} != $paused } sort keys %sess;
my ($base) = latency((@others) x 3);

my $pname = $t->{cluster_names}{$paused};
kill 'STOP', $t->{pids}{$pname};

my (@st, $slowest);
for my $u (@on_paused) {
    my $t0 = time;
    push @st, gated($sess{$u})->{status};
    $slowest = time - $t0 if !defined $slowest || time - $t0 > $slowest;
}
is_deeply(\@st, [ (503) x @on_paused ],
          'a paused master: its users get 503');
ok($slowest < 0.8, sprintf '... within the timeout of 500 ms (slowest '
                           . '%.2f s)', $slowest);

# while its users keep asking, from another process
my $stop = time + 1.5;
my $c = clients(1, sub {
    my @s;
    while (time < $stop) {
        push @s, gated($sess{ $on_paused[@s % @on_paused] })->{status};
    }
    return @s;
})->go;
my ($max, $bad, $median) = latency((@others) x 3);
my @asked = map { @$_ } @{ $c->wait(10) };
is(scalar(grep { $_ != 503 } @asked), 0,
   scalar(@asked) . ' more requests of its users meanwhile: all 503');
is($bad, 0, 'the users of the other masters pass meanwhile');
# a worker waiting on the paused master would hold them for its 500 ms
# timeout: most would take a good part of it, so the median tells
ok($median < 0.1, sprintf '... with their latency (median %.3f s, max %.3f '
                          . 's, before %.3f s)', $median, $max, $base);
my $newbie = $of{ (grep { $_ != $paused } @nodes)[0] }[7];
my ($ep) = OtpFlow->new($t, user => $newbie)->enroll_page('/private/');
is($ep->{status}, 503, "$newbie, not enrolled, on another master: 503 "
                       . '(the marker cannot be read)');
unlike($ep->{content} // '', qr/secret=/, '... no secret');

kill 'CONT', $t->{pids}{$pname};
my $t_cont = time;
ok(wait_for(15, sub {
    !grep { gated($sess{$_})->{status} != 200 } @on_paused;
}), sprintf 'after SIGCONT its users pass again (%.2f s)', time - $t_cont);

# --------------------------------------------- FLUSHALL on every master

redis_at($_, 'FLUSHALL') for @nodes;
is(scalar(keys %{ keys_like('otp:*') }), 0, 'FLUSHALL: the cluster is empty');

# a user of each master tries to enroll
my @new = map { $by[$_][6] } 0 .. 2;
my @pages = map { (OtpFlow->new($t, user => $_)->enroll_page('/private/'))[0]
                } @new;
is_deeply([ map { $_->{status} } @pages ], [ 503, 503, 503 ],
          'enrollment refused on every master: 503');
ok(!grep({ ($_->{content} // '') =~ /secret=/ } @pages), '... no secret');
is(redis_at($mark_at, 'EXISTS', $MARK), 0, '... the marker is not remade');
like($t->error_log, qr/the Redis store was lost/, '... logged');

$r = $t->http->post($t->url('/_otp_admin/store/accept-reset'));
is($r->{status}, 200, 'POST store/accept-reset: 200');
is(redis_at($mark_at, 'HGET', $MARK, 'how'), 'accepted',
   '... a new marker, accepted');
my $ok = grep { eval { OtpFlow->new($t, user => $_)->enroll } } @new;
is($ok, 3, 'then users of every master enroll');

$prov->stop;
stop_servers($t);
$t->stop;

done_testing;
