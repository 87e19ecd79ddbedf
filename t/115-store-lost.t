#!/usr/bin/perl

# SPEC 6.21, lost state never lowers the bar.  A Redis that came back
# empty (FLUSHALL, a restart without persistence) sent an enrolled user
# to enrollment, where the password alone set up a new key.  Now the
# store carries a marker (P{~}:store) whose id nginx remembers in shared
# memory, across reloads; while the store is not the one known,
# enrollment answers 503 until POST store/accept-reset.  A fresh install
# needs no admin step; everything but enrollment goes on.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep);

use OtpTest;
use OtpKeys;
use OtpFlow qw(totp);
use OtpAttack qw(users);

my $t = OtpTest->new;

users($t, qw(alice bob carol dave erin));
$t->run_redis;
my $key = $t->secret_file;
$t->private_site;
$t->write_conf(OtpTest::servers_conf(
    key     => $key,
    servers => [ [ '%%PORT%%',
                   OtpTest::site_locations() . OtpTest::admin_locations()
                   . <<'EOF' ] ]));
location /optional/ {
    otp on;
    otp_enroll optional;
    alias %%DIR%%/site/;
}
EOF
$t->run_nginx;
$t->wait_redis_ready;

my $MARK = 'otp:{~}:store';

sub marker { $t->redis('HGET', $MARK, $_[0]) }

sub accept_reset {
    return $t->http->post($t->url('/_otp_admin/store/accept-reset'));
}

sub gauge {
    my ($c) = $t->get('/_otp_status')->{content} =~ /^otp_store_lost (\d+)$/m;
    return $c;
}

# a user's next visit in a new browser: the gate's answer, then the page
sub enroll_status {
    my ($user) = @_;
    my $f = OtpFlow->new($t, user => $user);
    my ($r) = $f->enroll_page('/private/');
    return $r->{status};
}

sub lost_lines {
    return scalar(() = $t->error_log =~ /the Redis store was lost/g);
}

# ------------------------------------------------------- a fresh install

my $alice = OtpFlow->new($t, user => 'alice');
my $secret = $alice->enroll(return => '/private/');
ok($secret, 'a fresh install: alice enrolls, no admin step');
like(marker('id') // '', qr/^[0-9a-f]{32}$/, '... the store is marked');
is(marker('how'), 'new', '... as a new store');
is($t->redis('TTL', $MARK), -1, '... a marker that never expires');
is(gauge(), 0, 'otp_store_lost 0');
my $id = marker('id');

# --------------------------------------------------------------- FLUSHALL

$t->redis('FLUSHALL');

my $again = OtpFlow->new($t, user => 'alice');
my $r = $again->get('/private/index.html');
is($r->{status}, 302, 'after FLUSHALL alice is sent on ...');
like($r->{headers}{location} // '', qr{/_otp/enroll\?},
     '... to enrollment (her record is gone)');
my ($page) = $again->enroll_page('/private/');
is($page->{status}, 503, '... where she does not get a new key: 503');
unlike($page->{content}, qr/secret=/, '... no secret on the page');
like($page->{content}, qr/Setup is paused/, '... "Setup is paused"');
is($t->redis('EXISTS', $MARK), 0, '... and the marker is not made anew');
my @e = grep { /:e(:|s$)/ } @{ $t->redis('KEYS', 'otp:*') };
is(scalar @e, 0, '... nor a pending enrollment');
is(enroll_status('bob'), 503, 'nobody enrolls: bob neither');
is(OtpFlow->new($t, user => 'bob')->get('/optional/index.html')->{status},
   503, 'where enrollment is optional, no pass without a factor: 503');

like($t->error_log,
     qr/\[error\].*the Redis store was lost \(its marker is gone: Redis came back empty.*POST store\/accept-reset/,
     'an error line says what happened and what to do');
is(gauge(), 1, 'otp_store_lost 1');

$r = $t->http->get($t->url('/_otp_admin/store/accept-reset'));
is($r->{status}, 405, 'accept-reset: GET is 405');

$r = accept_reset();
is($r->{status}, 200, 'an admin accepts the store as it is');
is($r->{content}, qq({"ok":true}\n), '... {"ok":true}');
is(marker('how'), 'accepted', '... a new marker, "accepted"');
isnt(marker('id'), $id, '... with a new id');
like($t->error_log, qr/\[notice\].*admin accepted the Redis store/,
     '... logged at notice');
is(gauge(), 0, 'otp_store_lost 0 again');

is(OtpFlow->new($t, user => 'bob')->get('/optional/index.html')->{status},
   200, '... and the optional location passes bob again');
$secret = $again->enroll(return => '/private/');
ok($secret, 'then alice enrolls again');
$id = marker('id');

# ------------------------------------------ a marker deleted, records kept

# the marker alone gone, alice's record there: she still signs in
$t->redis('DEL', $MARK);
is(enroll_status('carol'), 503, 'the marker deleted: carol may not enroll');
$again->set_cookie(undef);
$r = $again->verify(time => time + 30, return => '/private/');
is($r->{status}, 303, '... but alice signs in with her code as before');
is($again->get('/private/index.html')->{status}, 200, '... and passes');
is(accept_reset()->{status}, 200, 'accept-reset');
is(enroll_status('carol'), 200, '... and carol gets her setup page');
$id = marker('id');

# ----------------------------------------------- another store's marker

$t->redis('HSET', $MARK, 'id', 'f' x 32, 'how', 'new');
is(enroll_status('dave'), 503,
   'a marker this nginx does not know, made by another: 503');
like($t->error_log, qr/its marker is not the one this nginx knew/,
     '... said so');
$t->redis('HSET', $MARK, 'how', 'accepted');
is(enroll_status('dave'), 200, '... one an admin accepted elsewhere: 200');
$id = marker('id');

# ------------------------------------------------- a reload remembers

$t->reload_nginx;
sleep 1;
$t->wait_redis_ready;
$t->redis('FLUSHALL');
is(enroll_status('erin'), 503, 'after a reload, FLUSHALL still refuses');
is(accept_reset()->{status}, 200, 'accept-reset');
is(enroll_status('erin'), 200, '... erin enrolls');

# --------------------------------- Redis restarted without persistence

my $before = lost_lines();
my $port = $t->redis_port;
$t->stop_redis;
$t->run_redis(port => $port);
ok($t->wait_redis_ready, 'redis-server restarted, empty, same port');

my $deadline = time + 5;
sleep 0.1 while lost_lines() == $before && time < $deadline;
ok(lost_lines() > $before,
   'the worker noticed on reconnecting, before any enrollment');
is(gauge(), 1, '... otp_store_lost 1');
is($t->redis('EXISTS', $MARK), 0, '... and did not mark the store anew');

is(enroll_status('alice'), 503, 'alice, enrolled before: 503, not enroll');
is(accept_reset()->{status}, 200, 'accept-reset');
is(enroll_status('alice'), 200, '... then the setup page');

# ------------------------------------------ Redis stalled during the check

$t->signal_redis('STOP');
my $stalled = enroll_status('bob');
$t->signal_redis('CONT');
is($stalled, 503, 'Redis paused during the check: 503');
ok($t->wait_redis_ready, 'Redis back');
is(enroll_status('bob'), 200, '... then bob enrolls');

# ------------------------------------------------ what it costs Redis

sub scripts_run {
    my $info = $t->redis('INFO', 'commandstats');
    my $n = 0;
    $n += $1 while $info =~ /^cmdstat_eval(?:sha)?:calls=(\d+)/mg;
    return $n;
}

$t->redis('CONFIG', 'RESETSTAT');
is(enroll_status('dave'), 200, 'the enrollment page of a new user ...');
is(scripts_run(), 3, '... 3 round trips: user_state, store_check, '
                     . 'enroll_begin');

# ------------------- both restarted empty: what it cannot tell (README)

$t->stop_nginx;
$t->redis('FLUSHALL');
$t->run_nginx;
$t->wait_redis_ready;
ok(OtpFlow->new($t, user => 'bob')->enroll(return => '/private/'),
   'nginx and Redis both restarted empty: a fresh install, bob enrolls');
is(marker('how'), 'new', '... marked as new');

# ------------------------- records but no marker, nginx that saw nothing

$t->stop_nginx;
$t->redis('DEL', $MARK);
$t->run_nginx;
$t->wait_redis_ready;
is(enroll_status('carol'), 503,
   'user records without a marker, a new nginx: 503');
like($t->error_log, qr/it has user records but no marker/, '... said so');
is(accept_reset()->{status}, 200, 'accept-reset');
is(enroll_status('carol'), 200, '... then 200');

$t->stop;

done_testing;
