#!/usr/bin/perl

# otp_status: the counters are shared by the workers and exact.  Two
# workers, requests spread over both (reuseport), submits racing each
# other; every counter must equal the number of events the test made,
# no more and no fewer.  The output parses as Prometheus text, by our
# reading of the format and by the Prometheus client library's parser.

use strict;
use warnings;

use Test::More;
use POSIX ();
use Time::HiRes qw(sleep);
use HTTP::Tiny;
use OtpTest;
use OtpKeys;
use OtpFlow qw(totp);

my $t = OtpTest->new;
my $key = $t->secret_file;

my @users = qw(u1 u2 u3 u4 u5 b1 b2);
$t->write_file('htpasswd', join('', map { "$_:{PLAIN}$_\n" } @users), 0644);
mkdir $t->dir . '/www';
$t->write_file('www/index.html', "secret page\n", 0644);

# ---------------------------------------------------------------- config

{
    my $tc = OtpTest->new;
    my $conf = <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    server {
        listen 127.0.0.1:%%PORT%%;
        LOCATION
    }
}
EOF
    my %cases = (
        'otp_status alone, no key file, no Redis' =>
            [ 0, 'location = /m { otp_status; }' ],
        'an argument' => [ 1, 'location = /m { otp_status on; }' ],
        'server level' => [ 1, 'otp_status;' ],
        'twice' => [ 1, 'location = /m { otp_status; otp_status; }' ],
        'beside otp_admin' =>
            [ 1, 'location /m/ { otp_admin; otp_status; }' ],
    );
    for my $name (sort keys %cases) {
        my ($fails, $loc) = @{ $cases{$name} };
        (my $c = $conf) =~ s/LOCATION/$loc/;
        my ($rc, $out) = $tc->nginx_test($tc->write_conf($c, 'm.conf'));
        if ($fails) {
            isnt($rc, 0, "nginx -t rejects: $name");
            like($out, qr/otp_(status|admin)/, '... naming the directive');
        } else {
            is($rc, 0, "nginx -t passes: $name") or diag($out);
        }
    }
}

# ---------------------------------------------------------------- server

$t->run_redis;
my $port2 = OtpTest::free_port();

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;
events {
    accept_mutex off;
}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;
    otp_max_attempts 100;
    otp_lockout 100 15m;

    auth_basic "test";
    auth_basic_user_file %%DIR%%/htpasswd;
    add_header X-Worker \$pid always;

    server {
        listen 127.0.0.1:%%PORT%% reuseport;

        location /_otp/ {
            otp_endpoint;
        }

        location /private/ {
            otp on;
            alias %%DIR%%/www/;
        }

        location /optional/ {
            otp on;
            otp_enroll optional;
            alias %%DIR%%/www/;
        }

        location /header/ {
            auth_basic off;
            otp on;
            otp_user \$http_x_user;
            alias %%DIR%%/www/;
        }

        location = /metrics {
            auth_basic off;
            otp_status;
        }
    }

    server {
        listen 127.0.0.1:$port2 reuseport;

        otp_max_attempts 2;
        otp_lockout 3 1m;

        location /_otp/ {
            otp_endpoint;
        }
    }
}
EOF

$t->run_nginx;
ok($t->wait_redis_ready(workers => 2), 'both workers connected to Redis');

my $t2 = bless { port => $port2 }, 'OtpTest';
my %workers;

sub scrape {
    my $r = $t->get('/metrics');
    is($r->{status}, 200, 'GET /metrics: 200');
    return $r;
}

sub parse {
    my ($text) = @_;
    my %v;
    for my $line (split /\n/, $text) {
        next if $line =~ /^#/;
        my ($series, $value) = $line =~ /^(\S+) (\d+)$/ or next;
        $v{$series} = $value;
    }
    return \%v;
}

my $base = parse(scrape()->{content});

# Runs each job in its own process, all released at once; returns what
# each printed, in job order.
sub race {
    my (@jobs) = @_;
    my @kids;
    pipe(my $gate_r, my $gate_w) or die "pipe: $!";
    for my $job (@jobs) {
        pipe(my $out_r, my $out_w) or die "pipe: $!";
        my $pid = fork // die "fork: $!";
        if ($pid == 0) {
            close $gate_w;
            close $out_r;
            sysread $gate_r, my $x, 1;
            my $out = eval { $job->() } // "died: $@";
            print $out_w $out;
            close $out_w;
            POSIX::_exit(0);
        }
        close $out_w;
        push @kids, [ $pid, $out_r ];
    }
    close $gate_r;
    close $gate_w;
    my @out;
    for my $kid (@kids) {
        my $fh = $kid->[1];
        local $/;
        push @out, scalar(<$fh>) // '';
        waitpid $kid->[0], 0;
    }
    return @out;
}

sub wrong_code {
    my ($secret) = @_;
    my %right = map { totp($secret, time => time + $_) => 1 }
                (-60, -30, 0, 30, 60);
    my $c = 0;
    $c++ while $right{ sprintf '%06d', $c };
    return sprintf '%06d', $c;
}

sub seen {
    my ($r) = @_;
    $workers{ $r->{headers}{'x-worker'} }++ if $r->{headers}{'x-worker'};
    return $r;
}

# ---------------------------------------------------------------- A: enroll

my %flow;
for my $u (qw(u1 u2 u3)) {
    $flow{$u} = OtpFlow->new($t, user => $u);
    $flow{$u}->enroll;
}

# ---------------------------------------------------------------- B: verify

# challenges first, then every submit at once: 7 wrong, 3 right
my @plan = ((map { [ "u$_", 'wrong' ] } 1, 2, 3, 1, 2, 3, 1),
            (map { [ "u$_", 'right' ] } 1, 2, 3));
my @jobs;
for my $p (@plan) {
    my ($u, $kind) = @$p;
    my $f = OtpFlow->new($t, user => $u, secret => $flow{$u}->secret);
    my ($r, $csrf) = $f->challenge;
    seen($r);
    my $code = $kind eq 'right' ? totp($f->secret, time => time + 30)
                                : wrong_code($f->secret);
    push @jobs, sub {
        my $r = $f->verify(csrf => $csrf, code => $code);
        return "$r->{status} " . ($r->{headers}{'x-worker'} // '');
    };
}

my @out = race(@jobs);
my @status = map { (split ' ', $_)[0] // '' } @out;
$workers{ (split ' ', $_)[1] // '' }++ for @out;
is_deeply([ @status[0 .. 6] ], [ (401) x 7 ], '7 wrong codes: 401');
is_deeply([ @status[7 .. 9] ], [ (303) x 3 ], '3 right codes: 303');

# a challenge that expired: verified once, and shown again
{
    my $f = OtpFlow->new($t, user => 'u1', secret => $flow{u1}->secret);
    my (undef, $csrf) = $f->challenge;
    my ($id) = $csrf =~ /^([^.]+)\./;
    is($t->redis('DEL', okey('c', 'u1', $id)), 1, 'the challenge expires');
    my $r = $f->verify(csrf => $csrf, code => wrong_code($f->secret));
    is($r->{status}, 401, 'a submit for it gets a new challenge');
}

# ---------------------------------------------------------------- C: gate

my @gate;
for (1 .. 4) {
    push @gate, seen($flow{$_}->get('/private/index.html'))->{status}
        for qw(u1 u2 u3);
}
is_deeply(\@gate, [ (200) x 12 ], '12 requests with a session pass');

my $u1 = OtpFlow->new($t, user => 'u1');
is($u1->get('/private/index.html')->{status}, 302, 'no session: 302')
    for 1 .. 2;
is($u1->get('/private/index.html',
            headers => { Accept => 'application/json' })->{status}, 401,
   'no session, an API client: 401');
is($t->get('/header/index.html')->{status}, 401, 'no user: 401');

# volume: 8 clients, 50 requests each, at once
@out = race(map {
    sub {
        my $h = HTTP::Tiny->new(timeout => 10);
        my $n = 0;
        for (1 .. 50) {
            $n++ if $h->get($t->url('/header/index.html'))->{status} == 401;
        }
        return $n;
    }
} 1 .. 8);
is_deeply(\@out, [ (50) x 8 ], '400 more requests without a user: 401');

$t->redis('SET', okey('l', 'u4'), 1, 'EX', 100);
is(OtpFlow->new($t, user => 'u4')->get('/private/index.html')->{status},
   429, 'a locked user: 429');

my $u5 = OtpFlow->new($t, user => 'u5');
is($u5->get('/optional/index.html')->{status}, 200,
   'enrollment optional, none: bypassed');
is($u5->get('/private/index.html')->{status}, 302,
   'enrollment required, none: 302 to enroll');

# ---------------------------------------------------------------- D: limits

my %f2;
for my $u (qw(b1 b2)) {
    $f2{$u} = OtpFlow->new($t2, user => $u);
    $f2{$u}->enroll;
}

{
    my ($r, $csrf) = $f2{b1}->challenge;
    my $code = wrong_code($f2{b1}->secret);
    my @st = map { $f2{b1}->verify(csrf => $csrf, code => $code)->{status} }
             1 .. 3;
    is_deeply(\@st, [ 401, 429, 429 ], 'otp_max_attempts 2: then burnt');
}

@jobs = ();
for (1 .. 6) {
    my $f = OtpFlow->new($t2, user => 'b2', secret => $f2{b2}->secret);
    my (undef, $csrf) = $f->challenge;
    my $code = wrong_code($f->secret);
    push @jobs, sub {
        return $f->verify(csrf => $csrf, code => $code)->{status};
    };
}
@status = sort(race(@jobs));
is_deeply(\@status, [ 401, 401, 429, 429, 429, 429 ],
          '6 racing wrong codes, otp_lockout 3: 2 wrong, then locked');

# ---------------------------------------------------------------- E: Redis

$t->stop_redis;
sleep 0.5;
is($u1->get('/private/index.html')->{status}, 503, 'Redis down: gate 503');
is($u1->get('/_otp/challenge')->{status}, 503, 'Redis down: page 503');

$t->run_redis(port => $t->redis_port);
ok($t->wait_redis_ready(workers => 2, seconds => 15),
   'both workers reconnected');

# ---------------------------------------------------------------- counts

my $r = scrape();
like($r->{headers}{'content-type'}, qr{^text/plain; version=0\.0\.4\b},
     'Content-Type: text/plain; version=0.0.4');
is($r->{headers}{'cache-control'}, 'no-store', 'not cached');
my $text = $r->{content};
my $v = parse($text);

my %expect = (
    'otp_challenges_shown_total' => 10 + 2 + 1 + 6,
    'otp_verifications_total{method="totp",result="ok"}' => 3,
    'otp_verifications_total{method="totp",result="wrong"}' => 7 + 1 + 2,
    'otp_verifications_total{method="totp",result="burnt"}' => 2,
    'otp_verifications_total{method="totp",result="locked"}' => 4,
    'otp_verifications_total{method="totp",result="expired"}' => 1,
    'otp_enrollments_total' => 5,
    'otp_lockouts_total' => 1,
    'otp_redis_errors_total' => 2,
    'otp_redis_reconnects_total' => 2,
    'otp_gate_total{status="passed"}' => 12,
    'otp_gate_total{status="challenged"}' => 4,
    'otp_gate_total{status="bypassed"}' => 1,
    'otp_gate_total{status="denied"}' => 1 + 400,
    'otp_gate_total{status="locked"}' => 1,
    'otp_gate_total{status="error"}' => 1,
    'otp_sms_sent_total' => 0,
    'otp_sms_failed_total' => 0,
    # one Redis: no failover, no redirection
    'otp_redis_failovers_total' => 0,
    'otp_redis_redirections_total{reply="moved"}' => 0,
    'otp_redis_redirections_total{reply="ask"}' => 0,
);

# cross-device requests: none in this test (t/130-link.t counts them)
$expect{"otp_link_requests_total{result=\"$_\"}"} = 0
    for qw(created approved denied expired);

# HOTP, recovery and SMS codes: none in this test
for my $m (qw(hotp recovery sms)) {
    $expect{"otp_verifications_total{method=\"$m\",result=\"$_\"}"} = 0
        for qw(ok wrong burnt locked expired);
}

for my $series (sort keys %expect) {
    is(($v->{$series} // -1) - ($base->{$series} // 0), $expect{$series},
       "$series: $expect{$series}");
}

my $cache = $v->{'otp_sessions_checked_total{source="cache"}'} // 0;
my $redis = $v->{'otp_sessions_checked_total{source="redis"}'} // 0;
is($cache + $redis, 12, "sessions checked: 12 ($cache cache, $redis redis)");
ok($redis >= 1, 'at least one check went to Redis');

# the version, from the header that holds it
my ($version) = $t->read_file("$t->{top}/src/ngx_http_otp_version.h")
                =~ /NGX_HTTP_OTP_VERSION\s+"([^"]+)"/;
is($v->{"otp_build_info{version=\"$version\"}"}, 1,
   "otp_build_info{version=\"$version\"} 1");

is($v->{otp_store_lost}, 1,
   'otp_store_lost 1: Redis came back empty above (a gauge)');
is(scalar(keys %$v), scalar(keys %expect) + 4, 'no other series');
cmp_ok(scalar(grep { length } keys %workers), '>=', 2,
       'both workers answered: ' . join(' ', sort keys %workers));

# ---------------------------------------------------------------- format

my (%type, %help, @bad);
for my $line (split /\n/, $text) {
    if ($line =~ /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S/) {
        push @bad, "two HELP for $1" if $help{$1}++;
    } elsif ($line =~ /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) counter$/
             || $line =~ /^# TYPE (otp_build_info|otp_store_lost) gauge$/)
    {
        push @bad, "two TYPE for $1" if $type{$1}++;
    } elsif ($line =~ /^([a-zA-Z_:][a-zA-Z0-9_:]*)
                       (\{[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*"
                         (,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\\n]*")*\})?
                       \ (\d+)$/x)
    {
        push @bad, "$1 without TYPE" unless $type{$1};
        push @bad, "$1 is a counter without _total"
            unless $1 =~ /_total$/ || $1 =~ /^otp_(build_info|store_lost)$/;
    } else {
        push @bad, "bad line: $line";
    }
}
ok(!@bad, 'every line is a HELP, a TYPE or a sample') or diag(join "\n", @bad);
like($text, qr/\n\z/, 'ends with a newline');
is_deeply([ sort keys %help ], [ sort keys %type ], 'HELP and TYPE match');

SKIP: {
    skip 'no python3-prometheus-client', 2
        unless system('/usr/bin/python3', '-c',
                      'import prometheus_client.parser') == 0;
    my $txt = $t->write_file('metrics.txt', $text);
    my $py = $t->write_file('parse.py', <<'EOF');
import sys
from prometheus_client.parser import text_string_to_metric_families
n = 0
for f in text_string_to_metric_families(open(sys.argv[1]).read()):
    assert f.type == ('gauge' if f.name in ('otp_build_info',
                                            'otp_store_lost')
                      else 'counter'), f.name
    n += len(f.samples)
print(n)
EOF
    my $out = `/usr/bin/python3 $py $txt 2>&1`;
    is($?, 0, 'the Prometheus client parses it') or diag($out);
    is($out + 0, scalar(keys %$v), '... every sample');
}

# ---------------------------------------------------------------- reload

$t->reload_nginx;
sleep 1.5;
my $after = parse(scrape()->{content});
is_deeply($after, $v, 'a reload keeps the counts');

is($t->get('/header/index.html')->{status}, 401, 'one more denied');
$after = parse(scrape()->{content});
is($after->{'otp_gate_total{status="denied"}'},
   $v->{'otp_gate_total{status="denied"}'} + 1,
   'new workers count into the same counters');

is($t->http->post_form($t->url('/metrics'), {})->{status}, 405,
   'POST /metrics: 405');

$t->stop;

done_testing();
