package OtpRelay;

# A relay between nginx and a real redis-server, for races between two
# round trips of one request: when a client's bytes contain a needle (a
# script's SHA1) and the trigger file exists, the relay removes the
# file, runs an action against Redis, then passes the bytes on.  The
# bytes themselves are never changed.

use strict;
use warnings;

use IO::Select;
use IO::Socket::INET;

use OtpTest;
use OtpKeys;
use OtpFlow;
use OtpAttack qw(users);

# OtpRelay->start($t, needle => $sha, action => sub { ... });
# the relay's port is $relay->port, its trigger file $relay->trigger
sub start {
    my ($class, $t, %o) = @_;
    my $self = bless {
        port    => OtpTest::free_port(),
        trigger => $t->dir . '/relay-trigger',
    }, $class;
    my $redis_port = $t->redis_port;

    my $pid = fork // die "fork: $!";
    if ($pid) {
        $self->{pid} = $pid;
        return $self;
    }

    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1',
                                  LocalPort => $self->{port},
                                  Listen => 16, ReuseAddr => 1) or exit 1;
    my $sel = IO::Select->new($l);
    my %peer;
    while (1) {
        for my $fh ($sel->can_read) {
            if ($fh == $l) {
                my $c = $l->accept or next;
                my $s = IO::Socket::INET->new("127.0.0.1:$redis_port")
                    or next;
                @peer{$c, $s} = ($s, $c);
                $sel->add($c, $s);
                next;
            }
            my $buf;
            my $n = sysread($fh, $buf, 65536);
            if (!$n) {
                my $p = delete $peer{$fh};
                delete $peer{$p} if $p;
                $sel->remove($fh, $p // ());
                close $fh;
                close $p if $p;
                next;
            }
            if (index($buf, $o{needle}) >= 0 && -e $self->{trigger}) {
                unlink $self->{trigger};
                $o{action}->();
            }
            my $p = $peer{$fh} or next;
            syswrite($p, $buf);
        }
    }
}

# A site behind a relay that, once armed, ends every session of alice
# (a new generation) as the needle passes; otp_fresh 5m.  Alice is
# enrolled and signed in: (the relay, her OtpFlow, her secret).
sub alice_site {
    my ($class, $t, $needle) = @_;
    my $relay = $class->start($t, needle => $needle, action => sub {
        $t->redis('HINCRBY', okey('u', 'alice'), 'gen', 1);
    });

    users($t, qw(alice));
    $t->private_site;
    $t->write_conf(OtpTest::servers_conf(
        workers => 1,
        key     => $t->secret_file,
        redis   => 0,
        http    => "otp_redis 127.0.0.1:$relay->{port};\n"
                   . "otp_fresh 5m;\notp_session_recheck 0;",
        common  => OtpTest::site_locations(),
        servers => [['%%PORT%%', '']],
    ));
    $t->run_nginx;
    $t->wait_redis_ready(workers => 1);

    my $alice = OtpFlow->new($t, user => 'alice');
    my $secret = $alice->enroll;
    $alice->verify(time => time + 30);
    return ($relay, $alice, $secret);
}

sub port { $_[0]{port} }

sub trigger { $_[0]{trigger} }

# the next time the needle passes, the action runs
sub arm {
    my ($self) = @_;
    open(my $fh, '>', $self->{trigger}) or die "$self->{trigger}: $!";
    close $fh;
}

sub stop {
    my ($self) = @_;
    kill 'TERM', $self->{pid};
    waitpid $self->{pid}, 0;
}

1;
