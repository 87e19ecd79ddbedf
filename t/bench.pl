#!/usr/bin/perl

# make bench: the performance figures of SPEC section 8, from one run, on
# loopback, with wrk (keep-alive connections) and redis-benchmark.
#
#   (a) a gated location with a valid session (otp_session_recheck 5s,
#       the default) against the same location without the gate
#   (b) the same gated location against auth_request to an auth endpoint
#       over upstream keepalive (the Authelia / oauth2-proxy way): another
#       server block answering 204, keepalive 32, HTTP/1.1
#   (c) the store: a gated location with otp_session_recheck 0 (one
#       gate.lua per request) against redis-benchmark running EVALSHA of
#       the same script with the same KEYS and ARGV
#   (a2) the same ratio with worker_processes 2
#   (d) POST verify with wrong codes, 2 workers: each request checks the
#       CSRF token, opens the form's key pass, checks the TOTP code
#       against the sealed secret and counts the attempt (attempt.lua,
#       the one trip), then renders the 401 page; spread over many users
#       and challenges, with otp_max_attempts and otp_lockout raised so
#       that nothing is burnt or locked (counted: every answer must be
#       that 401)
#   (d2) POST verify with right codes, 2 workers: the same, and each one
#       a new session (attempt.lua makes it in the same trip) and a 303;
#       BENCH_RIGHT_USERS users with two challenges each (the steps of
#       now and of the next 30 s), every code used once
#   (e) the RSS of the worker before and after BENCH_REQUESTS (1M) gated
#       requests, half with otp_session_recheck 5s, half with 0
#
# (a), (b), (c), (e) run on worker_processes 1; (a), (b), (c) in rounds
# of wrk runs, every location once per round, the order reversed from one
# round to the next; a ratio is the median of its ratios within a round,
# which holds up on a machine whose speed drifts from run to run.  The
# requests name a file (/gated/index.html): a directory would add an
# internal redirect to its index, and the gate would run twice.
#
# The first factor is the Authorization header ($remote_user, no
# auth_basic, so "otp_user $remote_user" is named explicitly) on every
# location, gated or not, so that the ratios measure the gate alone.
#
# Environment: OTP_NGINX, OTP_MODULE, OTP_TOP (set by make), and
#   BENCH_DURATION   length of each wrk run (default 2s)
#   BENCH_ROUNDS     rounds of (a) (b) (c) (default 5)
#   BENCH_REQUESTS   requests for (e) (default 1000000)
#   BENCH_USERS      users for (d) (default 40)
#   BENCH_CHALLENGES challenges per user for (d) (default 50)
#   BENCH_RIGHT_USERS users for (d2) (default 1000)
#
# Exits 0; prints "BELOW TARGET" for every target that is missed.

use strict;
use warnings;

use lib 't/lib';
use HTTP::Tiny;
use POSIX qw(ceil);
use Time::HiRes qw(sleep time);
use OtpTest;
use OtpFlow qw(basic_auth totp);
use OtpFaults qw(redis_conn run_wrk rss_kb enroll_user
                 gate_ready clients);

$| = 1;

my $DURATION = $ENV{BENCH_DURATION} || '2s';
my $REQUESTS = $ENV{BENCH_REQUESTS} || 1_000_000;
my $USERS = $ENV{BENCH_USERS} || 40;
my $PER_USER = $ENV{BENCH_CHALLENGES} || 50;
my $RIGHT_USERS = $ENV{BENCH_RIGHT_USERS} || 1000;
my $ROUNDS = $ENV{BENCH_ROUNDS} || 5;
my $CONNS = 50;
my $CLK_TCK = POSIX::sysconf(POSIX::_SC_CLK_TCK()) || 100;

my @below;

sub row {
    my ($name, $value, $detail) = @_;
    printf "  %-44s %s  %s\n", $name, $value, $detail;
}

sub below {
    my ($what) = @_;
    push @below, "BELOW TARGET: $what";
}

sub wrk_or_die {
    my ($url, %o) = @_;
    my $r = run_wrk($url, threads => 2, connections => $CONNS,
                    duration => $DURATION, %o);
    die "wrk failed:\n$r->{output}" unless $r->{requests} && $r->{rps};
    if ($r->{errors} || $r->{non2xx}) {
        print "  (wrk $url: $r->{non2xx} non-2xx, socket errors: "
              . ($r->{errors} // 'none') . ")\n";
    }
    return $r;
}

my $cpus = `nproc`;
chomp $cpus;
my ($ngx_version) = `$ENV{OTP_NGINX} -v 2>&1` =~ m{nginx/(\S+)};
my ($redis_version) = `redis-server --version` =~ /v=(\S+)/;
print "ngx_http_otp_module benchmark: nginx $ngx_version, "
      . "redis $redis_version, $cpus CPUs, wrk -t 2 -c $CONNS -d $DURATION\n\n";

# ---------------------------------------------------------------- one worker

my $t = OtpTest->new;
my $key = $t->secret_file;
my $auth_port = OtpTest::free_port();
mkdir $t->dir . '/www';
my $page = ('x' x 63 . "\n") x 16;                            # 1 KiB
$t->write_file('www/index.html', $page, 0644);

$t->run_redis;
$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes 1;
events { worker_connections 4096; }
http {
    %%TEST_GLOBALS_HTTP%%
    error_log %%DIR%%/error.log warn;
    otp_secret_file $key;
    otp_redis %%REDIS%%;
    otp_user \$remote_user;

    upstream auth {
        server 127.0.0.1:$auth_port;
        keepalive 32;
    }

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096;

        location /_otp/ { otp_endpoint; }

        location /plain/ {
            alias %%DIR%%/www/;
        }

        location /gated/ {
            otp on;
            alias %%DIR%%/www/;
        }

        location /gated0/ {
            otp on;
            otp_session_recheck 0;
            alias %%DIR%%/www/;
        }

        location /authreq/ {
            auth_request /_auth;
            alias %%DIR%%/www/;
        }

        location = /_auth {
            internal;
            proxy_pass http://auth/check;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
        }
    }

    server {
        listen 127.0.0.1:$auth_port;
        keepalive_requests 100000;
        location = /check { return 204; }
    }
}
EOF
$t->run_nginx;
gate_ready($t, '/gated0/') // die "the module did not connect to Redis\n"
    . $t->error_log;

my $alice = enroll_user($t, 'alice');
my %hdr = (Authorization => basic_auth('alice'),
           Cookie => 'otp_session=' . $alice->cookie);
for my $path (qw(/plain/ /gated/ /gated0/ /authreq/)) {
    my $r = $alice->get($path);
    die "GET $path: $r->{status}\n" unless $r->{status} == 200;
}

# interleaved rounds, medians: this machine's speed drifts between runs

my %path = (
    plain   => '/plain/index.html',
    gated   => '/gated/index.html',
    authreq => '/authreq/index.html',
    gated0  => '/gated0/index.html',
);
my %label = (
    plain   => 'ungated location',
    gated   => 'gated, valid session, recheck 5s',
    authreq => 'auth_request, upstream keepalive',
    gated0  => 'gated, recheck 0 (one gate.lua)',
);
my @order = qw(plain gated authreq gated0);

my ($worker) = $t->worker_pids;
my $redis = redis_conn($t);
my (%runs, $evalshas, $gated0_requests);

run_wrk($t->url($path{$_}), headers => \%hdr, duration => '1s') for @order;

print "\n(a) (b) (c) worker_processes 1, $ROUNDS rounds of wrk "
      . "-d $DURATION, medians:\n";
printf "  %-38s %9s %19s %13s %10s\n", '', 'req/s', '(min..max)',
       'worker us/req', 'latency';

# each round in the reverse order of the one before, so that a drift of
# the machine's speed weighs alike on every location; the ratios are
# taken within each round, and their median is the figure
for my $round (1 .. $ROUNDS) {
    for my $name ($round % 2 ? @order : reverse @order) {
        my $calls0 = OtpFaults::commandstat($redis, 'evalsha');
        my $cpu0 = cpu_ticks($worker);
        my $r = wrk_or_die($t->url($path{$name}), headers => \%hdr);
        my $cpu = cpu_ticks($worker) - $cpu0;
        if ($name eq 'gated0') {
            $evalshas += OtpFaults::commandstat($redis, 'evalsha') - $calls0;
            $gated0_requests += $r->{requests};
        }
        push @{ $runs{$name} }, {
            rps => $r->{rps},
            us  => $cpu * 1e6 / $CLK_TCK / $r->{requests},
            lat => $r->{latency_ms},
        };
    }
}

my (%rps, %us);
for my $name (@order) {
    my @r = @{ $runs{$name} };
    $rps{$name} = median(map { $_->{rps} } @r);
    $us{$name} = median(map { $_->{us} } @r);
    my @all = sort { $a <=> $b } map { $_->{rps} } @r;
    printf "  %-38s %9.0f %19s %13.1f %7.2f ms\n", $label{$name},
           $rps{$name}, sprintf('(%.0f..%.0f)', $all[0], $all[-1]),
           $us{$name}, median(map { $_->{lat} } @r);
}
printf "  (recheck 0: Redis counted %d EVALSHA for %d requests)\n",
       $evalshas, $gated0_requests;

# the same script, the same keys and arguments, straight to Redis

my $sha = $redis->cmd('SCRIPT', 'LOAD', $t->script('gate'));
my $skeys = $redis->cmd('KEYS', 'otp:{alice}:s:*');
die "not one session key in Redis\n" unless @$skeys == 1;
my @eval = ('EVALSHA', $sha, 7, $skeys->[0],
            map({ "otp:{alice}:$_" } qw(u su d l e)), 'otp:{alice}:s:new',
            'alice', int(time), 1800, 43200, 1, '', '');
my $check = $redis->cmd(@eval);
die "gate.lua: " . (ref $check ? $check->[0] : $check) . "\n"
    unless ref $check && $check->[0] eq 'ok';

my $n = 10 * int($rps{gated0} || 10000);
open my $bench, '-|', 'redis-benchmark', '-p', $t->redis_port, '-c', $CONNS,
    '-n', $n, '--csv', @eval or die "redis-benchmark: $!";
my $csv = do { local $/; <$bench> } // '';
close $bench;
my ($redis_rps) = $csv =~ /^"EVALSHA[^"]*","([\d.]+)"/m;
die "redis-benchmark failed:\n$csv" unless $redis_rps;
printf "  %-38s %9.0f   (-c %d -n %d, same KEYS and ARGV)\n",
       'redis-benchmark EVALSHA gate.lua', $redis_rps, $CONNS, $n;

# ---------------------------------------------------------------- memory

print "\n(e) worker memory, $REQUESTS gated requests "
      . "(half recheck 5s, half recheck 0):\n";

my $mix = $t->write_file('mix.lua', <<'EOF');
local paths = { "/gated/index.html", "/gated0/index.html" }
local i = 0
request = function()
    i = i + 1
    return wrk.format(nil, paths[i % 2 + 1])
end
EOF

my $warm = run_wrk($t->url('/'), script => $mix, headers => \%hdr,
                   duration => '2s', connections => $CONNS);
my $rss0 = rss_kb($worker);
my ($done, $runs) = (0, 0);
my $rate = $warm->{rps} || $rps{gated0} || 10000;
while ($done < $REQUESTS && $runs < 20) {
    my $secs = ceil(($REQUESTS - $done) / $rate * 1.05) || 1;
    my $r = run_wrk($t->url('/'), script => $mix, headers => \%hdr,
                    duration => "${secs}s", connections => $CONNS);
    last unless $r->{requests};
    $done += $r->{requests};
    $rate = $r->{rps} if $r->{rps};
    $runs++;
    print "  (wrk: $r->{requests} requests, $r->{non2xx} not 2xx)\n"
        if $r->{non2xx};
}
my $rss1 = rss_kb($worker);
my $same = grep { $_ == $worker } $t->worker_pids;
row('worker RSS before, after', sprintf('%9s', "$rss0 kB, $rss1 kB"),
    sprintf('%d requests%s', $done, $same ? '' : '; THE WORKER CHANGED'));
my $growth = $rss1 - $rss0;
row('worker RSS growth', sprintf('%9s', "$growth kB"),
    sprintf('%.1f kB per 1M requests', $done ? $growth * 1e6 / $done : 0));

$redis->close;
$t->stop_nginx;
$t->stop_redis;
my $log = $t->error_log;
my @alerts = $log =~ /^(.*\[(?:alert|emerg|crit)\].*)$/mg;
print "  $_\n" for @alerts;

# ------------------------------------------------------------ two workers

print "\n(a2) worker_processes 2, $ROUNDS rounds of wrk -d $DURATION:\n";

my $w2 = OtpTest->new;
$key = $w2->secret_file;
mkdir $w2->dir . '/www';
$w2->write_file('www/index.html', $page, 0644);
$w2->run_redis;
$w2->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 4096; }
http {
    %%TEST_GLOBALS_HTTP%%
    error_log %%DIR%%/error.log warn;
    otp_secret_file $key;
    otp_redis %%REDIS%%;
    otp_user \$remote_user;

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096 reuseport;

        location /_otp/ { otp_endpoint; }

        location /plain/ {
            alias %%DIR%%/www/;
        }

        location /gated/ {
            otp on;
            alias %%DIR%%/www/;
        }
    }
}
EOF
$w2->run_nginx;
gate_ready($w2, '/gated/') // die "the module did not connect to Redis\n"
    . $w2->error_log;

my $bob = enroll_user($w2, 'bob');
my %hdr2 = (Authorization => basic_auth('bob'),
            Cookie => 'otp_session=' . $bob->cookie);
die "GET /gated/ with two workers\n"
    unless $bob->get('/gated/index.html')->{status} == 200;

my %runs2;
run_wrk($w2->url("/$_/index.html"), headers => \%hdr2, duration => '1s')
    for qw(plain gated);

for my $round (1 .. $ROUNDS) {
    for my $name ($round % 2 ? qw(plain gated) : qw(gated plain)) {
        my $r = wrk_or_die($w2->url("/$name/index.html"),
                           headers => \%hdr2);
        push @{ $runs2{$name} }, $r->{rps};
    }
}

for my $name (qw(plain gated)) {
    printf "  %-38s %9.0f\n",
           $name eq 'plain' ? 'ungated location' : $label{gated},
           median(@{ $runs2{$name} });
}

my $ra2 = median(map { $runs2{gated}[$_] / $runs2{plain}[$_] }
                 0 .. $ROUNDS - 1);

$w2->stop_nginx;
$w2->stop_redis;

# ---------------------------------------------------------------- verify

print "\n(d) POST verify, worker_processes 2, "
      . "$USERS users x $PER_USER challenges:\n";

my $v = OtpTest->new;
$key = $v->secret_file;
$v->run_redis;
$v->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;
events { worker_connections 4096; }
http {
    %%TEST_GLOBALS_HTTP%%
    error_log %%DIR%%/error.log warn;
    otp_secret_file $key;
    otp_redis %%REDIS%%;
    otp_user \$remote_user;

    server {
        listen 127.0.0.1:%%PORT%% backlog=4096 reuseport;
        otp_max_attempts 100;
        otp_lockout 1000 1s;
        otp_log_level info;
        location /_otp/ { otp_endpoint; }
    }
}
EOF
$v->run_nginx;
OtpFaults::wait_until(10, sub {
    $v->get('/_otp/challenge', Authorization => basic_auth('probe'))
        ->{status} != 503;
}) // die "the module did not connect to Redis\n" . $v->error_log;

my @users = map { "user$_" } 1 .. $USERS;
my @flows = map { enroll_user($v, $_) } @users;

# challenges from the real pages, in parallel
my $got = clients(scalar @flows, sub {
    my ($i) = @_;
    my $f = $flows[$i];
    $f->{http} = HTTP::Tiny->new(max_redirect => 0, timeout => 15);
    my $auth = basic_auth($f->user);
    return map {
        my (undef, $csrf) = $f->challenge;
        defined $csrf ? "$auth\t$csrf" : ();
    } 1 .. $PER_USER;
})->go->wait(120);
my @lines = map { @$_ } @$got;
my $pages = @lines;
die "only $pages of " . $USERS * $PER_USER . " challenges\n"
    unless $pages == $USERS * $PER_USER;

# a code that no user's authenticator shows within two steps of now
my %near = map {
    my $f = $_;
    map { totp($f->secret, time => time + 30 * $_) => 1 } -2 .. 2;
} @flows;
my $code = '000000';
$code = sprintf('%06d', int rand 1e6) while $near{$code};

my $tokens = $v->write_file('tokens.txt', join('', map { "$_\n" } @lines));
my $script = $v->write_file('verify.lua', <<'EOF');
-- POST verify with one wrong code, round robin over the challenges
local tokens = {}
local code, n, i = nil, 0, 0
local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("id", #threads)
end

function init(args)
    for line in io.lines(args[1]) do
        local auth, csrf = line:match("^(.-)\t(.*)$")
        table.insert(tokens, { auth = auth, csrf = csrf })
    end
    code = args[2]
    n = #tokens
    i = (id or 1) * 7919 % n
    s401, s429, sother = 0, 0, 0
end

function request()
    i = i % n + 1
    local tk = tokens[i]
    return wrk.format("POST", "/_otp/verify", {
        ["Authorization"] = tk.auth,
        ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "code=" .. code .. "&csrf=" .. tk.csrf .. "&return=%2F")
end

function response(status, headers, body)
    if status == 401 then
        s401 = s401 + 1
    elseif status == 429 then
        s429 = s429 + 1
    else
        sother = sother + 1
    end
end

function done(summary, latency, requests)
    local a, b, c = 0, 0, 0
    for _, t in ipairs(threads) do
        a = a + t:get("s401")
        b = b + t:get("s429")
        c = c + t:get("sother")
    end
    io.write(string.format("STATUS 401=%d 429=%d other=%d\n", a, b, c))
end
EOF

my $vr = run_wrk($v->url('/_otp/verify'), script => $script,
                 args => [ $tokens, $code ], threads => 2,
                 connections => $CONNS, duration => $DURATION);
my ($s401, $s429, $sother) =
    $vr->{output} =~ /STATUS 401=(\d+) 429=(\d+) other=(\d+)/;
die "wrk verify failed:\n$vr->{output}" unless defined $s401;
my $vsecs = $vr->{requests} / ($vr->{rps} || 1);
my $vrate = $s401 / ($vsecs || 1);
row('POST verify, wrong code (401 page)', sprintf('%9.0f', $vrate),
    sprintf('latency %.2f ms; 401 %d, 429 %d, other %d',
            $vr->{latency_ms} // 0, $s401, $s429, $sother));
if ($s429 || $sother) {
    print "  (challenges burnt or users locked: raise BENCH_CHALLENGES or "
          . "BENCH_USERS)\n";
}

my $locked = grep { $v->redis('EXISTS', "otp:{$_}:l") } @users;
print "  ($locked users locked)\n" if $locked;

# right codes: every line a user, a challenge (with its key pass) and a
# code used once; a user's code of the next step comes after all the
# codes of this one, so that none is a replay
my @right = map { "right$_" } 1 .. $RIGHT_USERS;
my $rgot = clients(10, sub {
    my ($i) = @_;
    my @out;
    for (my $u = $i; $u < @right; $u += 10) {
        my $f = enroll_user($v, $right[$u]);
        $f->{http} = HTTP::Tiny->new(max_redirect => 0, timeout => 15);
        $f->set_cookie(undef);
        for my $step (0, 1) {
            my (undef, $csrf) = $f->challenge;
            my $k = $f->{pass}{$csrf // ''};
            push @out, join("\t", $step, basic_auth($f->user), $csrf // '',
                            $k // '', $f->secret);
        }
    }
    return @out;
})->go->wait(600);
my @rlines = sort { $a->[0] <=> $b->[0] }
             map { [ split /\t/ ] } map { @$_ } @$rgot;
die "right codes: " . @rlines . " of " . 2 * $RIGHT_USERS . " challenges\n"
    unless @rlines == 2 * $RIGHT_USERS && !grep { !$_->[3] } @rlines;

# each enrollment used up the step of its time: the codes are of the
# first step after the last enrollment's and of the one after it (the
# skew accepts the next step), sent at the start of the first
my $last = int(time / 30);
sleep 1 while int(time / 30) <= $last;
my $now = time;
my $rtokens = $v->write_file('right.txt', join('', map {
    my ($step, $auth, $csrf, $k, $secret) = @$_;
    my $c = totp($secret, time => $now + 30 * $step);
    "$auth\t$csrf\t$k\t$c\n";
} @rlines));

my $rscript = $v->write_file('right.lua', <<'EOF');
-- POST verify with right codes, each line once; a thread stops when its
-- lines are used (thread i takes every n-th line)
local mine = {}
local i = 0
local threads = {}

function setup(thread)
    table.insert(threads, thread)
    thread:set("id", #threads)
end

function init(args)
    local nthreads = tonumber(args[2])
    local k = 0
    for line in io.lines(args[1]) do
        k = k + 1
        if k % nthreads == (id or 1) % nthreads then
            local auth, csrf, pass, code =
                line:match("^(.-)\t(.-)\t(.-)\t(.*)$")
            table.insert(mine, { auth = auth, csrf = csrf, k = pass,
                                 code = code })
        end
    end
    s303, sother = 0, 0
end

function request()
    i = i + 1
    local tk = mine[i]
    if not tk then
        wrk.thread:stop()
        tk = mine[#mine]
    end
    return wrk.format("POST", "/_otp/verify", {
        ["Authorization"] = tk.auth,
        ["Content-Type"] = "application/x-www-form-urlencoded",
    }, "code=" .. tk.code .. "&csrf=" .. tk.csrf .. "&k=" .. tk.k
       .. "&return=%2F")
end

function response(status, headers, body)
    if status == 303 then
        s303 = s303 + 1
    else
        sother = sother + 1
    end
end

function done(summary, latency, requests)
    local a, b = 0, 0
    for _, t in ipairs(threads) do
        a = a + t:get("s303")
        b = b + t:get("sother")
    end
    io.write(string.format("STATUS 303=%d other=%d\n", a, b))
end
EOF

my $rr = run_wrk($v->url('/_otp/verify'), script => $rscript,
                 args => [ $rtokens, 2 ], threads => 2,
                 connections => $CONNS, duration => '30s');
my ($s303, $rother) = $rr->{output} =~ /STATUS 303=(\d+) other=(\d+)/;
die "wrk right codes failed:\n$rr->{output}" unless defined $s303;
# wrk times the whole -d; the threads stopped when their lines were used,
# with every connection busy until then: the rate is connections over
# the mean time of one request (Little's law)
my $rrate = $rr->{latency_ms} ? $CONNS * 1000 / $rr->{latency_ms} : 0;
row('POST verify, right code (303, new session)', sprintf('%9.0f', $rrate),
    sprintf('latency %.2f ms; 303 %d, other %d (rate: %d connections '
            . '/ latency)', $rr->{latency_ms} // 0, $s303, $rother,
            $CONNS));
my $sessions = 0;
$sessions += scalar @{ $v->redis('SMEMBERS', "otp:{$_}:su") } for @right;
print "  ($sessions sessions in Redis for $RIGHT_USERS users)\n";

$v->stop_nginx;
$v->stop_redis;
$log = $v->error_log;
@alerts = $log =~ /^(.*\[(?:alert|emerg|crit)\].*)$/mg;
print "  $_\n" for @alerts;

# ---------------------------------------------------------------- table

sub ratio {
    my ($num, $den, $what) = @_;
    return median(map {
        my $x = $runs{$num}[$_]{$what};
        my $y = $runs{$den}[$_]{$what};
        $what eq 'us' ? $y / $x : $x / $y;
    } 0 .. $ROUNDS - 1);
}

my $ra = ratio('gated', 'plain', 'rps');
my $rb = ratio('gated', 'authreq', 'rps');
my $rc = $rps{gated0} / $redis_rps;
my $ra_cpu = ratio('gated', 'plain', 'us');
my $rb_cpu = ratio('gated', 'authreq', 'us');

print "\n";
printf "%-46s %10s %12s  %s\n", 'figure', 'req/s', 'worker CPU',
       'target';
printf "%-46s %10.3f %12.3f  %s\n", '(a) gated / ungated', $ra, $ra_cpu,
       '>= 0.95 (goal 0.98)';
printf "%-46s %10.3f %12s  %s\n", '(a2) gated / ungated, 2 workers', $ra2,
       '', '>= 0.95 (goal 0.98)';
printf "%-46s %9.2fx %11.2fx  %s\n", '(b) gated / auth_request with keepalive',
       $rb, $rb_cpu, '>= 2x';
printf "%-46s %10.3f %12s  %s\n",
       '(c) recheck 0 / redis-benchmark EVALSHA', $rc, '', '(none)';
printf "%-46s %10.0f %12s  %s\n", '(d) POST verify/s, wrong, 2 workers',
       $vrate, '', '>= 10000';
printf "%-46s %10.0f %12s  %s\n", '(d2) POST verify/s, right, 2 workers',
       $rrate, '', '>= 10000';
printf "%-46s %10s %12s  %s\n",
       "(e) worker RSS growth, $done requests", "$growth kB", '', 'none';
print "(medians of the ratios within each round; worker CPU: the same "
      . "ratios of the\n worker's CPU time per request)\n";

below(sprintf '(a) gated / ungated %.3f < 0.95', $ra) if $ra < 0.95;
below(sprintf '(a2) gated / ungated, 2 workers %.3f < 0.95', $ra2)
    if $ra2 < 0.95;
below(sprintf '(b) gated / auth_request %.2fx < 2x', $rb) if $rb < 2;
below(sprintf '(d) POST verify %.0f/s < 10000/s', $vrate) if $vrate < 10000;
below(sprintf '(d2) POST verify, right codes %.0f/s < 10000/s', $rrate)
    if $rrate < 10000;
below(sprintf '(d2) %d right codes not answered 303', $rother) if $rother;
below(sprintf '(e) worker RSS grew by %d kB over %d requests', $growth,
              $done) if $growth > 0;
printf "\ngoal missed: (a) %.3f < 0.98\n", $ra if $ra >= 0.95 && $ra < 0.98;
printf "\ngoal missed: (a2) %.3f < 0.98\n", $ra2
    if $ra2 >= 0.95 && $ra2 < 0.98;

print "\n", map { "$_\n" } @below if @below;
print "\nall targets met\n" unless @below;

exit 0;


sub median {
    my @v = sort { $a <=> $b } @_;
    return 0 unless @v;
    return @v % 2 ? $v[$#v / 2] : ($v[@v / 2 - 1] + $v[@v / 2]) / 2;
}

# user + system CPU time of a process, in clock ticks
sub cpu_ticks {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/stat" or return 0;
    my $stat = <$fh>;
    close $fh;
    $stat =~ s/^.*\) //s;
    my @f = split / /, $stat;
    return $f[11] + $f[12];
}
