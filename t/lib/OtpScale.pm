package OtpScale;

# Redis scaled out for the tests, on loopback ports, in a test's
# directory: a master with a replica watched by three sentinels, and a
# Redis Cluster of masters.  Each server is a process of the OtpTest
# instance (stopped with it, killed at the end whatever happens).

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use OtpTest qw(free_port);

our @EXPORT_OK = qw(redis_at redis_server sentinel_set cluster_set
                    wait_for stop_servers);

# the password of the servers that have one, by port
our %password;

# One command to the server on $port over a fresh connection (AUTH first
# if it has a password); the reply as OtpTest::redis gives it, or undef
# if nothing listens.
sub redis_at {
    my ($port, @cmd) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Timeout  => 5,
    ) or return undef;
    binmode $s;
    if (defined $password{$port}) {
        print $s OtpTest::_resp('AUTH', $password{$port});
        eval { OtpTest::_resp_read($s) };
    }
    print $s OtpTest::_resp(@cmd);
    my $reply = eval { OtpTest::_resp_read($s) };
    close $s;
    return $reply;
}

# A redis-server (or, with sentinel => 1, a redis-sentinel) named $name
# on $port, with its own directory and log; @args are more settings.
sub redis_server {
    my ($t, $name, $port, %o) = @_;
    my $dir = $t->dir . "/$name";
    mkdir $dir;

    my @cmd;
    if ($o{sentinel}) {
        # a sentinel rewrites its configuration file: one of its own
        my $conf = "$dir/sentinel.conf";
        $t->write_file("$name/sentinel.conf", join('', map { "$_\n" }
            "port $port", 'bind 127.0.0.1', "dir $dir",
            "logfile $dir/log", @{ $o{conf} || [] }), 0644);
        @cmd = ('redis-sentinel', $conf);
    } else {
        @cmd = ('redis-server', '--port', $port, '--bind', '127.0.0.1',
                '--save', '', '--appendonly', 'no', '--dir', $dir,
                '--logfile', "$dir/log", @{ $o{args} || [] });
    }

    $t->{pids}{$name} = $t->spawn(@cmd);
    $t->wait_port($port)
        or croak "$name did not start: " . $t->read_file("$name/log");
    return $port;
}

# Polls $code every 50 ms for $seconds; its last result.
sub wait_for {
    my ($seconds, $code) = @_;
    my $deadline = time + $seconds;
    my $r;
    while (time < $deadline) {
        $r = eval { $code->() };
        return $r if $r;
        sleep 0.05;
    }
    return $r;
}

# A master, $o{replicas} replicas (1) and three sentinels that agree on
# them, with a fast failover (down after $o{down} ms, 300 by default);
# the sentinels want $o{sentinel_password} if given.
# The test's Redis (%%REDIS%%, $t->redis) is the master.  Returns
# { name, master, replica (the first), replicas => { port => process
# name }, sentinels => [ports] }.
sub sentinel_set {
    my ($t, %o) = @_;
    my $name = $o{name} || 'otpmaster';
    my $down = $o{down} || 300;

    my $master = redis_server($t, 'master', free_port());
    my %replicas;
    for my $i (1 .. ($o{replicas} || 1)) {
        my $name = $i == 1 ? 'replica' : "replica$i";
        $replicas{ redis_server($t, $name, free_port(), args => [
            '--replicaof', '127.0.0.1', $master ]) } = $name;
    }
    my ($replica) = sort { $replicas{$a} cmp $replicas{$b} } keys %replicas;
    $t->{redis_port} = $master;
    $t->{pids}{redis} = delete $t->{pids}{master};

    my $pass = $o{sentinel_password};
    my @sentinels;
    for my $i (1 .. 3) {
        my $port = free_port();
        $password{$port} = $pass if defined $pass;
        push @sentinels, redis_server($t, "sentinel$i", $port,
            sentinel => 1, conf => [
                (defined $pass ? "requirepass $pass" : ()),
                "sentinel monitor $name 127.0.0.1 $master 2",
                "sentinel down-after-milliseconds $name $down",
                "sentinel failover-timeout $name 3000",
                "sentinel parallel-syncs $name 1",
            ]);
    }

    # the replicas in sync, and every sentinel knowing them and the others
    for my $port (keys %replicas) {
        wait_for(15, sub {
            (redis_at($port, 'INFO', 'replication') // '')
                =~ /master_link_status:up/;
        }) or croak 'a replica did not sync';
    }
    for my $port (@sentinels) {
        wait_for(20, sub {
            my $m = redis_at($port, 'SENTINEL', 'MASTER', $name);
            my %m = @{ $m || [] };
            ($m{'num-slaves'} // 0) >= keys %replicas
                && ($m{'num-other-sentinels'} // 0) >= 2;
        }) or croak "sentinel on $port does not see the set";
    }

    return { name => $name, master => $master, replica => $replica,
             replicas => \%replicas, sentinels => \@sentinels };
}

# $n masters in a Redis Cluster ($o{replicas} replicas each, 0 by
# default; node timeout $o{timeout} ms, 2000), every slot covered, each
# node known to the others.  The test's Redis is the first.  Returns the
# ports, node1 first; $t->{cluster_names}{port} is the process name.
sub cluster_set {
    my ($t, %o) = @_;
    my $n = ($o{masters} || 3) * (1 + ($o{replicas} || 0));
    my @ports;
    for my $i (1 .. $n) {
        push @ports, redis_server($t, "node$i", free_port(), args => [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', $t->dir . "/node$i/nodes.conf",
            '--cluster-node-timeout', $o{timeout} || 2000,
        ]);
        $t->{cluster_names}{ $ports[-1] } = $i == 1 ? 'redis' : "node$i";
    }
    $t->{redis_port} = $ports[0];
    $t->{pids}{redis} = delete $t->{pids}{node1};

    my $out = `redis-cli --cluster create @{[ map { "127.0.0.1:$_" } @ports ]} --cluster-replicas @{[ $o{replicas} || 0 ]} --cluster-yes 2>&1`;
    croak "cluster create: $out" if $?;

    for my $port (@ports) {
        wait_for(20, sub {
            my $info = redis_at($port, 'CLUSTER', 'INFO') // '';
            $info =~ /cluster_state:ok/
                && $info =~ /cluster_known_nodes:$n\b/;
        }) or croak "node $port: cluster not ok";
    }
    return @ports;
}

# Stops the servers that redis_server started, besides the test's Redis.
sub stop_servers {
    my ($t) = @_;
    for my $name (grep { /^(replica\d*|sentinel\d|node\d)$/ }
                  keys %{ $t->{pids} })
    {
        $t->stop_process($name, 'TERM');
    }
}

1;
