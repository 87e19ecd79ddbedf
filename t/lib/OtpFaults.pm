package OtpFaults;

# Helpers for the Redis fault and load tests: many clients at once (forked,
# released together), timing, polling, a persistent Redis connection that
# can SELECT a database, the keys left without an expiry, and the nginx
# worker processes with their memory.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use File::Temp qw(tempfile);
use HTTP::Tiny;
use IO::Socket::INET;
use IO::Socket::UNIX;
use POSIX qw(WNOHANG);
use Test::More ();
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpFlow qw(totp basic_auth);

our @EXPORT_OK = qw(clients timed wait_until redis_conn keys_without_ttl
                    rss_kb wrong_code enroll_user count
                    commandstat gate_ready run_wrk case track);

# ---------------------------------------------------------------- cases

my @tracked;

# A subtest that goes on to the next one when it dies (a worker that
# crashed leaves the next request without an answer): the death is a
# failure, and the OtpTest instances it tracked are stopped, their logs
# checked.
sub case {
    my ($name, $code) = @_;
    Test::More::subtest($name => sub {
        @tracked = ();
        unless (eval { $code->(); 1 }) {
            my $err = $@;
            Test::More::fail("died: $err");
            $_->stop for grep { %{ $_->{pids} } } @tracked;
        }
        @tracked = ();
    });
}

# An OtpTest instance to stop if its case dies; returns it.
sub track {
    my ($t) = @_;
    push @tracked, $t;
    return $t;
}

# ---------------------------------------------------------------- clients

# Forks $n clients that wait at a barrier; $code->($i) runs in each and
# returns a list of result lines.  Returns a handle: go() releases them,
# wait() collects [ [lines of client 0], [lines of client 1], ... ].
sub clients {
    my ($n, $code) = @_;

    pipe(my $gate_r, my $gate_w) or croak "pipe: $!";
    my @kids;

    for my $i (0 .. $n - 1) {
        my (undef, $file) = tempfile('otp-client-XXXXXX', TMPDIR => 1,
                                     UNLINK => 1);
        my $pid = fork;
        croak "fork: $!" unless defined $pid;

        if ($pid == 0) {
            close $gate_w;
            my $start = <$gate_r>;    # EOF when released
            my @out = eval { $code->($i) };
            push @out, "died: $@" if $@;
            if (open my $fh, '>', $file) {
                print $fh "$_\n" for @out;
                close $fh;
            }
            POSIX::_exit(0);          # no END blocks in a child
        }

        push @kids, { pid => $pid, file => $file };
    }

    close $gate_r;

    return bless { kids => \@kids, gate => $gate_w }, 'OtpFaults::Clients';
}

package OtpFaults::Clients;

use Time::HiRes qw(sleep time);
use POSIX qw(WNOHANG);

sub go {
    my ($self) = @_;
    close $self->{gate} if $self->{gate};
    delete $self->{gate};
    $self->{started} = time;
    return $self;
}

sub wait {
    my ($self, $seconds) = @_;
    my $deadline = time + ($seconds || 60);
    my @results;

    for my $k (@{ $self->{kids} }) {
        while (waitpid($k->{pid}, WNOHANG) == 0) {
            if (time > $deadline) {
                kill 'KILL', $k->{pid};
                waitpid($k->{pid}, 0);
                last;
            }
            sleep 0.01;
        }
        my @lines;
        if (open my $fh, '<', $k->{file}) {
            @lines = <$fh>;
            chomp @lines;
            close $fh;
        }
        unlink $k->{file};
        push @results, \@lines;
    }

    return \@results;
}

package OtpFaults;

# ($code's result, the seconds it took)
sub timed {
    my ($code) = @_;
    my $t0 = time;
    my $r = $code->();
    return ($r, time - $t0);
}

# Polls $code until it returns true; the seconds it took, or undef.
sub wait_until {
    my ($seconds, $code, $interval) = @_;
    my $t0 = time;
    while (time - $t0 < $seconds) {
        return time - $t0 if $code->();
        sleep($interval || 0.02);
    }
    return undef;
}

# Waits until the module of every worker talks to Redis: $o{n} requests in
# a row, each on a new connection, to a gated $path that the gate answers
# from Redis (401 otp_required for a user with no session; not 503).  The
# user must pass the first factor there.  The seconds it took, or undef.
sub gate_ready {
    my ($t, $path, %o) = @_;
    my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 5,
                               keep_alive => 0);
    my $url = $t->url($path);
    my $row = 0;
    return wait_until($o{seconds} || 10, sub {
        my $r = $http->get($url, { headers => {
            Authorization => basic_auth($o{user} || 'probe'),
            Accept        => 'application/json',
        } });
        $row = ($r->{status} == 401 && $r->{content} =~ /otp_required/)
               ? $row + 1 : 0;
        return $row >= ($o{n} || 10);
    }, 0.01);
}

# Occurrences of each value: { 200 => 12, 503 => 3 }
sub count {
    my %c;
    $c{$_}++ for @_;
    return \%c;
}

# ---------------------------------------------------------------- redis

# A persistent connection (TCP, or unix:/path), authenticated and in a
# database when asked: ->cmd(@cmd) returns the reply like OtpTest::redis.
sub redis_conn {
    my ($t, %o) = @_;
    my $s;

    if ($o{unix}) {
        $s = IO::Socket::UNIX->new(Peer => $o{unix})
            or croak "redis connect $o{unix}: $!";
    } else {
        $s = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1',
            PeerPort => $o{port} || $t->redis_port,
            Timeout  => 5,
        ) or croak "redis connect: $!";
    }
    binmode $s;

    my $conn = bless { s => $s }, 'OtpFaults::Redis';
    my $password = exists $o{password} ? $o{password}
                                       : $t->{redis_password};
    $conn->cmd('AUTH', $password) if defined $password;
    $conn->cmd('SELECT', $o{db}) if $o{db};
    return $conn;
}

package OtpFaults::Redis;

sub cmd {
    my ($self, @cmd) = @_;
    my $s = $self->{s};
    print $s OtpTest::_resp(@cmd);
    return OtpTest::_resp_read($s);
}

sub close { close $_[0]{s} }

package OtpFaults;

# Every key of the database but the user records (P u:<user>) that has no
# expiry: [ key, ... ].  Also returns how many keys were looked at.
sub keys_without_ttl {
    my ($conn, %o) = @_;
    my $prefix = $o{prefix} // 'otp:';
    my ($cursor, $n, @bad) = (0, 0);

    do {
        my $r = $conn->cmd('SCAN', $cursor, 'COUNT', 1000);
        ($cursor, my $keys) = @$r;
        for my $k (@$keys) {
            $n++;
            next if $k =~ /^\Q$prefix\E\{([^}]*\}:u|~\}:store)$/;
            my $ttl = $conn->cmd('TTL', $k);
            push @bad, "$k (ttl $ttl)" if $ttl < 0;
        }
    } while ($cursor ne '0');

    return (\@bad, $n);
}

# calls of one command from INFO commandstats (0 when never called)
sub commandstat {
    my ($conn, $name) = @_;
    my $info = $conn->cmd('INFO', 'commandstats');
    return $info =~ /^cmdstat_\Q$name\E:calls=(\d+)/m ? $1 : 0;
}

# ---------------------------------------------------------------- nginx

sub rss_kb {
    my ($pid) = @_;
    open my $fh, '<', "/proc/$pid/status" or return undef;
    while (<$fh>) {
        return $1 if /^VmRSS:\s+(\d+)\s+kB/;
    }
    return undef;
}

# ---------------------------------------------------------------- wrk

# Runs wrk; returns { requests, rps, non2xx, errors (socket errors, text),
# latency_ms (average), output }.  %o: threads, connections, duration
# (wrk syntax), headers => { name => value }, script (a Lua file), args
# (after "--", for the script).
sub run_wrk {
    my ($url, %o) = @_;
    my @cmd = ('wrk', '-t', $o{threads} || 2, '-c', $o{connections} || 50,
               '-d', $o{duration} || '2s', '--latency');
    for my $h (sort keys %{ $o{headers} || {} }) {
        push @cmd, '-H', "$h: $o{headers}{$h}";
    }
    push @cmd, '-s', $o{script} if $o{script};
    push @cmd, $url;
    push @cmd, '--', @{ $o{args} } if $o{args};

    open my $fh, '-|', @cmd or croak "wrk: $!";
    local $/;
    my $out = <$fh> // '';
    close $fh;

    my %r = (output => $out);
    ($r{requests}) = $out =~ /(\d+) requests in/;
    ($r{rps}) = $out =~ /Requests\/sec:\s+([\d.]+)/;
    ($r{non2xx}) = $out =~ /Non-2xx or 3xx responses: (\d+)/;
    ($r{errors}) = $out =~ /Socket errors: (.*)/;
    if ($out =~ /Latency\s+([\d.]+)(us|ms|s)\b/) {
        $r{latency_ms} = $1 * { us => 0.001, ms => 1, s => 1000 }->{$2};
    }
    $r{non2xx} //= 0;
    return \%r;
}

# ---------------------------------------------------------------- users

# A 6-digit code that no step within two of now accepts.
sub wrong_code {
    my ($secret) = @_;
    my %near = map { totp($secret, time => time + 30 * $_) => 1 } -2 .. 2;
    my $code = '000000';
    $code = sprintf('%06d', int rand 1000000) while $near{$code};
    return $code;
}

# Enrolls $user through the pages; returns the OtpFlow holding its session.
sub enroll_user {
    my ($t, $user, %o) = @_;
    my $f = OtpFlow->new($t, user => $user, %o);
    $f->enroll;
    croak "enroll $user: no session cookie" unless defined $f->cookie;
    return $f;
}

1;
