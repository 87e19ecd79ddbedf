#!/usr/bin/perl

# SPEC 6.21: a Redis whose eviction policy can drop user records is not
# used.  Under "allkeys-*", Redis evicts keys without an expiry when it
# runs out of memory, the user records among them, silently, and an
# enrolled user would be sent to enroll again with the password alone.
# The module checks the policy when it connects: "allkeys-lru" is
# refused (every request that needs Redis gets 503, an error log line
# says why) until the policy changes; where CONFIG is not allowed, an
# error log line says that the policy could not be checked.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpFlow;
use OtpFaults qw(gate_ready);
use OtpAttack qw(users);

sub site {
    my ($t) = @_;
    users($t, qw(alice));
    $t->write_site_conf;
}

my $json = { Accept => 'application/json',
             Authorization => OtpFlow::basic_auth('alice') };

# ------------------------------------------------------ allkeys-lru

{
    my $t = OtpTest->new;
    $t->run_redis(args => [ '--maxmemory-policy', 'allkeys-lru' ]);
    site($t);
    $t->run_nginx;

    my $r;
    for (1 .. 10) {
        $r = $t->get('/private/', %$json);
        last if $t->error_log =~ /maxmemory-policy/;
        select undef, undef, undef, 0.2;
    }
    $r = $t->get('/private/', %$json);
    is($r->{status}, 503, 'allkeys-lru: a gated request gets 503');
    like($t->error_log,
         qr/\[error\].*otp: redis maxmemory-policy "allkeys-lru" can evict/,
         '... and the error log says why');

    $t->redis('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
    my $secs = gate_ready($t, '/private/', user => 'alice', seconds => 10);
    ok(defined $secs, 'noeviction: the module uses Redis by itself');

    $t->stop;
}

# ------------------------------------------------ volatile-lru is fine

{
    my $t = OtpTest->new;
    $t->run_redis(args => [ '--maxmemory-policy', 'volatile-lru' ]);
    site($t);
    $t->run_nginx;
    ok(defined gate_ready($t, '/private/', user => 'alice', seconds => 10),
       'volatile-lru: used (user records have no expiry)');
    unlike($t->error_log, qr/maxmemory-policy/, '... without a word');
    $t->stop;
}

# ---------------------------------------------- CONFIG not allowed

{
    my $t = OtpTest->new;
    $t->run_redis(args => [ '--rename-command', 'CONFIG', '' ]);
    site($t);
    $t->run_nginx;
    ok(defined gate_ready($t, '/private/', user => 'alice', seconds => 10),
       'CONFIG renamed away: Redis is used');
    like($t->error_log,
         qr/\[error\].*otp: redis maxmemory-policy could not be checked/,
         '... and the error log says the policy could not be checked');
    $t->stop;
}

done_testing;
