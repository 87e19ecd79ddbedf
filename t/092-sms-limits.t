#!/usr/bin/perl

# The send limits under racing sends on two workers, counted by what
# the provider received: otp_sms_max_sends per challenge and
# otp_sms_daily_limit per user hold however many sends race (one send
# per challenge at a time; a reservation per send while the provider is
# asked); sends the provider refused count for nothing, racing or not;
# every counter key has an expiry.

use strict;
use warnings;

use Test::More;
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpKeys;
use OtpFlow qw(form_field);
use OtpAttack qw(users site);
use OtpHttp qw(hdr http_request worker_conns race);
use OtpSms qw(code_of set_phone);

my $t = OtpTest->new;
my $key = $t->secret_file;
my $daily = OtpTest::free_port();

users($t, qw(admin alice bob carol));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

my $prov = OtpSms->new($t)->start;
my $pp = $prov->port;

my $server = <<"EOF";
        otp_methods totp sms;
        otp_sms_provider /_otp_sms;
        otp_sms_number_limit 10000;
        otp_sms_resend_delay 0;
        location = /_pid {
            return 200 "\$pid";
        }
        location /_otp/ {
            auth_basic "test";
            auth_basic_user_file %%DIR%%/htpasswd;
            otp_endpoint;
            add_header X-Worker \$pid always;
        }
        location /_otp_admin/ {
            otp_admin;
        }
        location = /_otp_sms {
            internal;
            proxy_set_header Content-Type application/json;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:$pp/send;
        }
EOF

$t->write_conf(<<"EOF");
%%TEST_GLOBALS%%
worker_processes 2;
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;

    server {
        listen 127.0.0.1:%%PORT%%;
        otp_sms_max_sends 3;
        otp_sms_daily_limit 100;
$server
    }

    server {
        listen 127.0.0.1:$daily;
        otp_sms_max_sends 10;
        otp_sms_daily_limit 4;
$server
    }
}
EOF

$t->run_nginx;
$t->wait_redis_ready(workers => 2);

my $P = 'otp:';

set_phone($t, $_, '+15555550123') for qw(alice bob carol);

# kept-alive connections on each worker, interleaved
sub conns {
    my ($port, $n) = @_;
    my $by = worker_conns($port, per_worker => $n / 2);
    my @pids = sort keys %$by;
    my @c;
    while (grep { @{ $by->{$_} } } @pids) {
        push @c, shift @{ $by->{$_} } for grep { @{ $by->{$_} } } @pids;
    }
    return @c;
}

sub send_req {
    my ($port, $user, $csrf) = @_;
    return http_request(
        port => $port, method => 'POST', path => '/_otp/sms',
        user => $user, headers => [[Accept => 'text/html']],
        form => { csrf => $csrf, return => '/private/' });
}

sub tally {
    my %n;
    $n{ $_->{status} }++ for @_;
    return join ' ', map { "$_:$n{$_}" } sort keys %n;
}

sub workers_seen {
    my %w = map { (hdr($_, 'x-worker') // '') => 1 } @_;
    return scalar grep { length } keys %w;
}

# ------------------------------------------------------------ max_sends

my $port = $t->port;
my $alice = OtpFlow->new($t, user => 'alice');
my (undef, $csrf) = $alice->challenge('/private/');
my $cid = substr($csrf, 0, 22);

# each send takes a while at the provider, so that sends overlap
$prov->mode('ok', 0.3);

my (@all, @seen);
for my $round (1 .. 5) {
    my @res = race($port, [ conns($port, 10) ],
                   [ map { send_req($port, 'alice', $csrf) } 1 .. 10 ]);
    push @all, @res;
    push @seen, workers_seen(@res);
}

is(scalar $prov->requests, 3,
   'max_sends 3, 5 rounds of 10 racing sends: the provider got 3 texts');
is(scalar(grep { $_->{status} == 303 } @all), 3, '... three 303')
    or diag(tally(@all));
is(scalar(grep { $_->{status} == 429 } @all), 47, '... the others 429')
    or diag(tally(@all));
ok((grep { $_ == 2 } @seen) >= 1, '... both workers answered');
ok((grep { $_->{body} =~ /on its way/ } @all) > 0,
   '... a send under way holds the others back (busy)');
ok((grep { $_->{body} =~ /No more codes/ } @all) > 0,
   '... then the limit ("No more codes")');
my @retry = map { hdr($_, 'retry-after') // 0 }
            grep { $_->{status} == 429 } @all;
is(scalar(grep { $_ < 1 } @retry), 0, '... every 429 has a Retry-After');
is($t->redis('HGET', okey('c', 'alice', $cid), 'sn'), 3, 'the challenge counted 3');
my $page = $alice->get("/_otp/challenge?method=sms&c=$cid&r=/private/");
like($page->{content}, qr{Code sent to}, 'the page after the last text');
unlike($page->{content}, qr{action="sms"}, '... offers no more texts');
is($t->redis('HEXISTS', okey('c', 'alice', $cid), 'sr'), 0, '... no send held');

# the last code is the one that works
my @req = $prov->requests;
my $last = code_of((sort { $a->{time} <=> $b->{time} } @req)[-1]);
my $r = $alice->post('verify', { csrf => $csrf, code => $last,
                                 method => 'sms', return => '/private/' });
is($r->{status}, 303, 'the code of the last text signs in');

# ---------------------------------------------------------- daily limit

$port = $daily;
my $site = site($t, $daily);
$prov->clear;

# the provider refuses the first wave: nothing may count
$prov->mode('500', 0.3);
my $bob = OtpFlow->new($site, user => 'bob');
my @csrf = map { ($bob->challenge('/private/'))[1] } 1 .. 10;
my @res = race($port, [ conns($port, 10) ],
               [ map { send_req($port, 'bob', $_) } @csrf ]);
my $refused = scalar $prov->requests;
ok($refused >= 1 && $refused <= 4,
   "provider down, 10 racing sends: $refused reached it (at most 4)");
is(scalar(grep { $_->{status} == 502 } @res), $refused,
   '... each one a 502') or diag(tally(@res));
is(scalar(grep { $_->{status} == 429 } @res), 10 - $refused,
   '... the others waited for a slot (429)') or diag(tally(@res));
is($t->redis('ZCARD', okey('sd', 'bob')), 0, '... none counted for the day');
is($t->redis('ZCARD', okey('sp', 'bob')), 0, '... no slot held');

$prov->clear;
$prov->mode('ok', 0.3);
@res = race($port, [ conns($port, 10) ],
            [ map { send_req($port, 'bob', $_) } @csrf ]);
is(scalar $prov->requests, 4,
   'daily_limit 4, 10 racing sends on 10 challenges: 4 texts sent');
is(scalar(grep { $_->{status} == 303 } @res), 4, '... four 303')
    or diag(tally(@res));
my @daily = grep { $_->{status} == 429 } @res;
is(scalar @daily, 6, '... six 429') or diag(tally(@res));

@res = race($port, [ conns($port, 10) ],
            [ map { send_req($port, 'bob', $_) } @csrf ]);
is(scalar $prov->requests, 4, 'another round: nothing more sent');
is(scalar(grep { $_->{status} == 429 } @res), 10, '... all 429');
my ($one) = grep { $_->{body} =~ /today/ } @res;
ok($one, '... "today"');
my $wait = $one ? hdr($one, 'retry-after') : 0;
ok($wait > 86000 && $wait <= 86400, "... Retry-After $wait (a day)");

is($t->redis('ZCARD', okey('sd', 'bob')), 4, 'sd:bob holds the 4 texts');
my $ttl = $t->redis('TTL', okey('sd', 'bob'));
ok($ttl > 86000 && $ttl <= 86400, "... with an expiry of a day ($ttl)");

# the limit is the user's: carol is not affected
my $carol = OtpFlow->new($site, user => 'carol');
(undef, $csrf) = $carol->challenge('/private/');
$r = $carol->post('sms', { csrf => $csrf, return => '/private/' });
is($r->{status}, 303, 'another user still gets texts');

my @keys = @{ $t->redis('KEYS', "${P}*") };
my @no_ttl = grep { !/^\Q$P\E\{([^}]*\}:u|~\}:store)$/ && $t->redis('TTL', $_) < 0 } @keys;
is_deeply(\@no_ttl, [], 'every key but the user records has an expiry');

$prov->stop;
$t->stop;

done_testing;
