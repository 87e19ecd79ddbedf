package OtpBypass;

# Helpers for the bypass and malformed-input tests: hand-made HTTP over a
# raw socket (slow, partial or broken requests included), a parsed view
# of the answer, the "nothing protected leaked" assertion, and the PIDs
# of the nginx workers.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use IO::Select;
use IO::Socket::INET;
use Socket qw(SHUT_WR);
use Time::HiRes qw(sleep time);
use Test::More;

our @EXPORT_OK = qw(SECRET request parse_response dechunk send_raw
                    assert_blocked worker_pids basic);

# The content of every protected file; it must never reach a client that
# has no second factor.
use constant SECRET => 'TOP-SECRET-c0ffee-5a1t-4e2d';

$SIG{PIPE} = 'IGNORE';

sub basic {
    my ($user, $password) = @_;
    require MIME::Base64;
    return 'Basic '
        . MIME::Base64::encode_base64("$user:" . ($password // $user), '');
}

# A request line and headers in the usual form; extra headers are given
# as a list of [name, value] so that order and repeats are kept.
sub request {
    my (%o) = @_;
    my $method = $o{method} // 'GET';
    my $path = $o{path} // '/';
    my $proto = exists $o{proto} ? $o{proto} : 'HTTP/1.1';
    my $req = "$method $path" . (length $proto ? " $proto" : '') . "\r\n";
    $req .= "Host: " . ($o{host} // 'localhost') . "\r\n"
        unless $o{no_host};
    $req .= "Authorization: " . basic($o{user}, $o{password}) . "\r\n"
        if defined $o{user};
    $req .= "Connection: close\r\n" unless $o{keepalive};
    $req .= "$_->[0]: $_->[1]\r\n" for @{ $o{headers} || [] };
    $req .= "\r\n";
    $req .= $o{body} if defined $o{body};
    return $req;
}

# Sends a request over a new connection and reads the answer until the
# server closes or "timeout" seconds pass.  Options:
#   parts => [...]      send these pieces instead, one after the other
#   delay => s          wait this long between the pieces
#   shutdown => 1       half-close after sending (the client is done)
#   timeout => s        give up reading after this long (default 10)
# Returns a hash: status (undef if none), headers (lower-case names),
# body (de-chunked), raw, closed (1 if the server closed), broken (1 if
# the server stopped reading before all was sent), elapsed.
sub send_raw {
    my ($t, $req, %o) = @_;
    my $start = time;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $o{port} || $t->port,
        Timeout  => 5,
    ) or croak "connect: $!";
    binmode $s;
    $s->autoflush(1);

    my @parts = $o{parts} ? @{ $o{parts} } : ($req);
    my $sel = IO::Select->new($s);
    my $raw = '';
    my $closed = 0;
    my $broken = 0;

    # the server may answer (and close) before everything is sent
    for my $i (0 .. $#parts) {
        last if $closed || $broken;
        my $data = $parts[$i];
        while (length $data) {
            my $n = syswrite($s, $data, 65536);
            unless (defined $n) {
                # refused mid-way: what was answered is still readable
                $broken = 1;
                last;
            }
            substr($data, 0, $n, '');
            while ($sel->can_read(0)) {
                my $got = sysread($s, my $buf, 65536);
                if (!$got) {
                    $closed = 1;
                    last;
                }
                $raw .= $buf;
            }
            last if $closed;
        }
        if ($o{delay} && $i < $#parts && !$closed && !$broken) {
            my $until = time + $o{delay};
            while (!$closed && (my $left = $until - time) > 0) {
                next unless $sel->can_read($left);
                my $got = sysread($s, my $buf, 65536);
                if (!$got) {
                    $closed = 1;
                    last;
                }
                $raw .= $buf;
            }
        }
    }

    shutdown($s, SHUT_WR) if $o{shutdown} && !$closed && !$broken;

    my $deadline = $start + ($o{timeout} || 10);
    while (!$closed) {
        my $left = $deadline - time;
        last if $left <= 0;
        last unless $sel->can_read($left);
        my $got = sysread($s, my $buf, 65536);
        if (!$got) {
            $closed = 1;
            last;
        }
        $raw .= $buf;
    }
    close $s;

    my $res = parse_response($raw);
    $res->{closed} = $closed;
    $res->{broken} = $broken;
    $res->{elapsed} = time - $start;
    return $res;
}

# The first response in a raw byte string.
sub parse_response {
    my ($raw) = @_;
    my %res = (raw => $raw, status => undef, headers => {}, body => $raw);
    return \%res unless $raw =~ m{^HTTP/\d\.\d (\d{3})[^\r\n]*\r\n}s;
    $res{status} = $1;
    my $end = index($raw, "\r\n\r\n");
    return \%res if $end < 0;
    my $head = substr($raw, 0, $end);
    my $body = substr($raw, $end + 4);
    for my $line (split /\r\n/, $head) {
        next unless $line =~ /^([^:]+):\s*(.*)$/;
        my $k = lc $1;
        $res{headers}{$k} = exists $res{headers}{$k}
            ? "$res{headers}{$k}, $2" : $2;
    }
    if (($res{headers}{'transfer-encoding'} // '') =~ /chunked/i) {
        $body = dechunk($body);
    }
    $res{body} = $body;
    return \%res;
}

sub dechunk {
    my ($data) = @_;
    my $out = '';
    while ($data =~ s/^([0-9a-fA-F]+)[^\r\n]*\r\n//) {
        my $n = hex $1;
        last if $n == 0;
        $out .= substr($data, 0, $n, '');
        $data =~ s/^\r\n//;
    }
    return $out;
}

# Nothing protected in the answer: no 2xx status (a 304 is no better: it
# confirms a cached copy), no secret in what came back, raw bytes
# included (a 0.9 answer has no status line).
sub assert_blocked {
    my ($res, $name, %o) = @_;
    my $status = $res->{status} // 'none';
    my $ok = 1;
    unless ($o{any_status}) {
        $ok &&= ok($status !~ /^(2|304)/, "$name: not served ($status)");
    }
    $ok &&= unlike($res->{raw}, qr/\Q${\ SECRET}\E/,
                   "$name: secret not in the answer");
    return $ok;
}

# The worker processes of a running nginx master.
sub worker_pids {
    my ($t) = @_;
    my $master = $t->{pids}{nginx} or return ();
    my @pids = sort { $a <=> $b } grep { /^\d+$/ }
        split /\s+/, `pgrep -P $master`;
    return @pids;
}

1;
