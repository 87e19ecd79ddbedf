#!/usr/bin/perl

# Redis Cluster (SPEC 12, issue 11): three real masters made with
# redis-cli --cluster create.  Every key of a user is in one slot (CLUSTER
# KEYSLOT), users land on every master, and each worker sends each call
# to the master of its user's slot: enroll, sign in, lockout and the
# admin API work as on one Redis.  A slot that holds a signed-in user's
# keys moves to another master (SETSLOT IMPORTING/MIGRATING, MIGRATE,
# SETSLOT NODE) while requests run: nothing but 200 and 503 meanwhile,
# the workers follow the MOVED and ASK replies, and the session still
# passes afterwards, served by the new master.  Two nginx nodes with one
# key file on the cluster are one gate: sessions, used codes and
# lockouts hold across them.  nginx -t refuses db= and a unix socket
# with cluster=.

use strict;
use warnings;

use Test::More;
use JSON::PP;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp basic_auth cookie_value);
use OtpFaults qw(clients wrong_code);
use OtpScale qw(redis_at cluster_set wait_for stop_servers);

# ---------------------------------------------------------------- nginx -t

{
    my $t = OtpTest->new;
    my $key = $t->secret_file;
    my %bad = (
        'db= with cluster=' => 'cluster=127.0.0.1:1 db=1',
        'a unix socket as a seed' => 'cluster=unix:/tmp/c.sock',
        'an empty seed' => 'cluster=127.0.0.1:1,,127.0.0.1:2',
        'cluster= twice' => 'cluster=127.0.0.1:1 cluster=127.0.0.1:2',
    );
    for my $name (sort keys %bad) {
        $t->write_conf(OtpTest::http_conf(
            "    otp_redis $bad{$name};\n", key => $key, redis => 0));
        my ($rc, $out) = $t->nginx_test;
        isnt($rc, 0, "nginx -t refuses $name");
        like($out, qr/otp_redis/, '... naming otp_redis') or diag($out);
    }

    $t->write_conf(OtpTest::http_conf(
        "    otp_redis cluster=127.0.0.1:1,127.0.0.1:2 db=0 password=x "
        . "prefix=app: replicas=1;\n", key => $key, redis => 0));
    my ($rc, $out) = $t->nginx_test;
    is($rc, 0, 'nginx -t accepts cluster= with db=0') or diag($out);
}

# ---------------------------------------------------------------- setup

my $t = OtpTest->new;
my $key = $t->secret_file;
my @users = map { sprintf 'user%02d', $_ } 1 .. 30;
$t->write_file('htpasswd', join('', map { "$_:{PLAIN}$_\n" } @users),
               0644);
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "secret page\n", 0644);

my @nodes = cluster_set($t, masters => 3);

$t->write_conf(OtpTest::servers_conf(
    workers => 2,
    key     => $key,
    redis   => 0,
    http    => "otp_redis cluster=127.0.0.1:$nodes[1] timeout=500ms;\n"
               . "otp_session_recheck 0;\notp_lockout 3 1m;\n",
    servers => [ [ '%%PORT%%', OtpTest::site_locations()
                               . OtpTest::admin_locations() ] ],
));
$t->run_nginx;

# every worker has a connection to every master, with the scripts loaded
for my $port (@nodes) {
    local $t->{redis_port} = $port;
    ok($t->wait_redis_ready(workers => 2), "master $port: both workers");
}

sub gated {
    my ($cookie, $user) = @_;
    return $t->http->get($t->url('/private/index.html'), { headers => {
        Authorization => basic_auth($user),
        (defined $cookie ? (Cookie => "otp_session=$cookie") : ()),
    } });
}

sub metric {
    my ($name) = @_;
    my $text = $t->get('/_otp_status')->{content} // '';
    return $text =~ /^\Q$name\E (\d+)$/m ? $1 : 0;
}

sub admin {
    my ($method, $path) = @_;
    return $t->http->request($method, $t->url("/_otp_admin/$path"));
}

# the master that serves a slot now
sub owner {
    my ($slot) = @_;
    for my $range (@{ redis_at($nodes[0], 'CLUSTER', 'SLOTS') }) {
        return $range->[2][1] if $slot >= $range->[0] && $slot <= $range->[1];
    }
    return undef;
}

# ---------------------------------------------------------------- users

my %flow;
for my $user (@users) {
    $flow{$user} = OtpFlow->new($t, user => $user);
    eval { $flow{$user}->enroll };
}
is(scalar(grep { defined $flow{$_}->cookie } @users), scalar @users,
   'every user enrolled');

my (%on, $same);
$same = 0;
for my $user (@users) {
    my @slots = map { redis_at($nodes[0], 'CLUSTER', 'KEYSLOT', okey($_, $user)) }
                qw(u su t f l s:x c:y);
    $same++ if !grep { $_ != $slots[0] } @slots;
    my $owner = owner($slots[0]);
    $on{$owner}++;
    # the record is on the master of its slot
    $same-- unless redis_at($owner, 'EXISTS', okey('u', $user));
}
is($same, scalar @users, "each user's keys share one slot, on its master");
is(scalar(keys %on), 3, 'users land on every master: '
                        . join(', ', map { "$_ x$on{$_}" } sort keys %on));

# ---------------------------------------------------------------- as on one

my $passed = grep { gated($flow{$_}->cookie, $_)->{status} == 200 } @users;
is($passed, scalar @users, 'every session passes the gate');

my $signed = 0;
for my $user (@users[1 .. 6]) {
    my $f = OtpFlow->new($t, user => $user, secret => $flow{$user}->secret);
    my $r = $f->verify(time => time + 30);
    $signed++ if defined cookie_value($r, 'otp_session');
}
is($signed, 6, 'six users sign in with a code');

my $mallory = $users[7];
for (1 .. 3) {
    my $f = OtpFlow->new($t, user => $mallory,
                         secret => $flow{$mallory}->secret);
    $f->verify(code => wrong_code($flow{$mallory}->secret));
}
my $st = decode_json(admin(GET => "users/$mallory")->{content} // '{}');
ok($st->{locked_until}, 'three wrong codes lock the user');
my $f = OtpFlow->new($t, user => $mallory, secret => $flow{$mallory}->secret);
is(cookie_value($f->verify(time => time + 30), 'otp_session'), undef,
   '... and a right code does not sign her in');
is(admin(POST => "users/$mallory/unlock")->{status}, 200, 'admin unlock');
ok(defined cookie_value($f->verify(time => time + 30), 'otp_session'),
   '... then she signs in');

$st = decode_json(admin(GET => "users/$users[9]")->{content} // '{}');
ok($st->{totp} && $st->{sessions} >= 1, 'admin status of a user');
is(admin(DELETE => "users/$users[9]/sessions")->{status}, 200,
   'admin revoke');
isnt(gated($flow{$users[9]}->cookie, $users[9])->{status}, 200,
     '... the session no longer passes');

# ---------------------------------------------------------------- resharding

my $alice = $users[0];
my $slot = redis_at($nodes[0], 'CLUSTER', 'KEYSLOT', okey('u', $alice));
my $from = owner($slot);
my ($to) = grep { $_ != $from } @nodes;
my %id = map { $_ => redis_at($_, 'CLUSTER', 'MYID') } @nodes;
my $moved0 = metric('otp_redis_redirections_total{reply="moved"}');
my $ask0 = metric('otp_redis_redirections_total{reply="ask"}');
is($moved0 + $ask0, 0, 'every call so far went to the right master');
my @served = grep {
    (redis_at($_, 'INFO', 'commandstats') // '') =~ /cmdstat_evalsha:calls=[1-9]/
} @nodes;
is(scalar @served, 3, 'every master ran scripts (INFO commandstats)');

my $stop = time + 6;
my $cookie = $flow{$alice}->cookie;
my $c = clients(3, sub {
    my @out;
    while (time < $stop) {
        my $t0 = time;
        my $r = gated($cookie, $alice);
        push @out, sprintf '%.3f %d', $t0, $r->{status};
        sleep 0.01;
    }
    return @out;
})->go;

sleep 1;
my $t_move = time;
redis_at($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', $id{$from});
redis_at($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', $id{$to});
my $keys = redis_at($from, 'CLUSTER', 'GETKEYSINSLOT', $slot, 1000);
my $mig = redis_at($from, 'MIGRATE', '127.0.0.1', $to, '', 0, 5000,
                   'KEYS', @$keys);
is($mig, 'OK', scalar(@$keys) . " keys of slot $slot migrated");
sleep 0.5;      # ASK meanwhile
redis_at($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', $id{$to}) for @nodes;
my $t_done = time;

my @lines = map { @$_ } @{ $c->wait(30) };
my %count;
$count{ (split / /)[1] }++ for @lines;
diag(join ', ', map { "$_ x$count{$_}" } sort keys %count);
is(scalar(grep { !/^\S+ (200|503)$/ } @lines), 0,
   'nothing but 200 and 503 while the slot moved');
my @failed = grep { (split / /)[1] == 503 } @lines;
my @late = grep { (split / /)[0] > $t_done + 1 } @failed;
is(scalar @late, 0, 'no 503 a second after the move');
diag(sprintf '%d answers 503, from %.2f s to %.2f s after the move began',
     scalar @failed, map { (split / /)[0] - $t_move } @failed[0, -1])
    if @failed;

is(owner($slot), $to, 'the slot is served by the other master');
is(gated($cookie, $alice)->{status}, 200, 'her session passes after it');
ok(redis_at($to, 'EXISTS', okey('u', $alice)), '... its keys are there');
ok(metric('otp_redis_redirections_total{reply="moved"}') > $moved0,
   'the workers followed MOVED');
diag('ASK redirections: '
     . (metric('otp_redis_redirections_total{reply="ask"}') - $ask0));

my $g = OtpFlow->new($t, user => $alice, secret => $flow{$alice}->secret);
ok(defined cookie_value($g->verify(time => time + 30), 'otp_session'),
   'she signs in again on the new master');

# ---------------------------------------------------------------- two nodes

# a second nginx with the same key file on the same cluster: one gate
my $n2 = OtpTest->new;
$n2->write_file('htpasswd', join('', map { "$_:{PLAIN}$_\n" } @users),
                0644);
mkdir $n2->dir . '/site';
$n2->write_file('site/index.html', "secret page\n", 0644);
$n2->write_conf(OtpTest::servers_conf(
    key     => $key,
    redis   => 0,
    http    => "otp_redis cluster=127.0.0.1:$nodes[2];\n"
               . "otp_session_recheck 0;\notp_lockout 3 1m;\n",
    servers => [ [ '%%PORT%%', OtpTest::site_locations() ] ],
));
$n2->run_nginx;

my $bob = $users[11];
ok(wait_for(10, sub {
    $n2->http->get($n2->url('/private/index.html'), { headers => {
        Authorization => basic_auth($bob),
        Cookie => 'otp_session=' . $flow{$bob}->cookie,
    } })->{status} == 200;
}), 'a session made on one node passes on the other');

my $on1 = OtpFlow->new($t, user => $bob, secret => $flow{$bob}->secret);
my $code = totp($flow{$bob}->secret, time => time + 30);
ok(defined cookie_value($on1->verify(code => $code), 'otp_session'),
   'a code used on one node');
my $on2 = OtpFlow->new($n2, user => $bob, secret => $flow{$bob}->secret);
is(cookie_value($on2->verify(code => $code), 'otp_session'), undef,
   '... is refused on the other');

my $carol = $users[12];
for (1 .. 3) {
    my $w = OtpFlow->new($t, user => $carol,
                         secret => $flow{$carol}->secret);
    $w->verify(code => wrong_code($flow{$carol}->secret));
}
my $c2 = OtpFlow->new($n2, user => $carol, secret => $flow{$carol}->secret);
is(cookie_value($c2->verify(time => time + 30), 'otp_session'), undef,
   'a lockout on one node holds on the other');

$n2->stop;

stop_servers($t);
$t->stop;

done_testing;
