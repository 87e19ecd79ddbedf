package OtpHttp;

# Raw HTTP for the tests, for what HTTP::Tiny would not send or would not
# show: one request builder, one sender (new connection, pieces and
# pauses, half-close), one parser, and kept-alive connections sorted by
# the worker that holds them, with races fired by the last byte of many
# requests at once.
#
# Every response here has one shape:
#   status   the status code, undef when there is no status line
#   headers  { lower-case name => value, or [values] when repeated }
#            (as HTTP::Tiny has them: hdr() and header_values() read
#            both)
#   body     de-chunked; the whole reply when there is no status line
#   raw      every byte received
# and from send_raw also closed (the server closed), broken (it stopped
# reading before all was sent) and elapsed (seconds).

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use Socket qw(SHUT_WR);
use Time::HiRes qw(sleep time);

use OtpFlow qw(basic_auth);

our @EXPORT_OK = qw(http_request send_raw parse_response dechunk exchange
                    worker_conns race hdr header_values form_body
                    interleaved_conns verify_request tally workers_seen);

$SIG{PIPE} = 'IGNORE';

sub form_body {
    my ($form) = @_;
    return HTTP::Tiny->new->www_form_urlencode($form);
}

# The text of one request.  Options:
#   method, path, proto   "GET", "/", "HTTP/1.1" ('' for none: HTTP/0.9)
#   host                  default "127.0.0.1:<port>" with port, else
#                         "localhost"; no_host => 1 sends none
#   user, password        Basic credentials (the password is the user's
#                         name unless given)
#   cookie                a Cookie header
#   keepalive             "Connection: keep-alive" instead of "close"
#   headers               [ [name, value], ... ] sent as given, in order,
#                         repeats and odd values included
#   form                  a hash: the body, urlencoded, with its type
#   body                  the body as given
# A body gets a Content-Length unless the headers have one or a
# Transfer-Encoding.
sub http_request {
    my (%o) = @_;
    my $method = $o{method} // 'GET';
    my $path = $o{path} // '/';
    my $proto = exists $o{proto} ? $o{proto} : 'HTTP/1.1';

    my @h;
    unless ($o{no_host}) {
        push @h, ['Host', $o{host} // (defined $o{port}
                                       ? "127.0.0.1:$o{port}"
                                       : 'localhost')];
    }
    push @h, ['Authorization', basic_auth($o{user}, $o{password})]
        if defined $o{user};
    push @h, ['Cookie', $o{cookie}] if defined $o{cookie};
    push @h, ['Connection', $o{keepalive} ? 'keep-alive' : 'close'];
    push @h, @{ $o{headers} || [] };

    my $body = $o{body};
    if ($o{form}) {
        $body = form_body($o{form});
        push @h, ['Content-Type', 'application/x-www-form-urlencoded']
            unless grep { lc $_->[0] eq 'content-type' } @h;
    }
    if (defined $body) {
        push @h, ['Content-Length', length $body]
            unless grep { $_->[0] =~ /^(content-length|transfer-encoding)$/i }
                   @h;
    }

    return "$method $path" . (length $proto ? " $proto" : '') . "\r\n"
           . join('', map { "$_->[0]: $_->[1]\r\n" } @h)
           . "\r\n" . ($body // '');
}

# A new connection to a loopback port, unbuffered.
sub _connect {
    my ($port) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Timeout  => 5,
    ) or croak "connect to $port: $!";
    binmode $s;
    $s->autoflush(1);
    return $s;
}

# Sends a request over a new connection and reads the answer until the
# server closes or "timeout" seconds pass.  $to: a port, or anything
# with ->port (an OtpTest, a site).  Options:
#   parts => [...]      send these pieces instead, one after the other
#   delay => s          wait this long between the pieces
#   shutdown => 1       half-close after sending (the client is done)
#   timeout => s        give up reading after this long (default 10)
sub send_raw {
    my ($to, $req, %o) = @_;
    my $port = ref $to ? $to->port : $to;
    my $start = time;
    my $s = _connect($port);

    my @parts = $o{parts} ? @{ $o{parts} } : ($req);
    my $sel = IO::Select->new($s);
    my $raw = '';
    my $closed = 0;
    my $broken = 0;

    # reads what is there now (or within $wait seconds); 0 once closed
    my $drain = sub {
        my ($wait) = @_;
        while ($sel->can_read($wait)) {
            my $got = sysread($s, my $buf, 65536);
            if (!$got) {
                $closed = 1;
                return 0;
            }
            $raw .= $buf;
            $wait = 0;
        }
        return 1;
    };

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
            last unless $drain->(0);
        }
        if ($o{delay} && $i < $#parts && !$closed && !$broken) {
            my $until = time + $o{delay};
            while (!$closed && (my $left = $until - time) > 0) {
                next unless $sel->can_read($left);
                $drain->(0);
            }
        }
    }

    shutdown($s, SHUT_WR) if $o{shutdown} && !$closed && !$broken;

    my $deadline = $start + ($o{timeout} || 10);
    while (!$closed) {
        my $left = $deadline - time;
        last if $left <= 0;
        last unless $sel->can_read($left);
        $drain->(0);
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
        my $h = \$res{headers}{ lc $1 };
        if (!defined $$h) {
            $$h = $2;
        } elsif (ref $$h) {
            push @$$h, $2;
        } else {
            $$h = [ $$h, $2 ];
        }
    }
    if ((hdr(\%res, 'transfer-encoding') // '') =~ /chunked/i) {
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

# Every value of a header, of a response of this module or of HTTP::Tiny.
sub header_values {
    my ($res, $name) = @_;
    my $h = $res->{headers}{ lc $name };
    return ref $h ? @$h : defined $h ? ($h) : ();
}

# A header's values joined with ", "; undef when absent.
sub hdr {
    my ($res, $name) = @_;
    my @v = header_values($res, $name);
    return @v ? join(', ', @v) : undef;
}

sub _read_all {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + $timeout;
    while (time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;
    }
    return $buf;
}

# Reads exactly one response with a Content-Length from a kept-alive
# connection.
sub _read_one {
    my ($s, $timeout) = @_;
    my $sel = IO::Select->new($s);
    my $buf = '';
    my $deadline = time + ($timeout || 10);
    while (time < $deadline) {
        if ($buf =~ /\r\n\r\n/) {
            my ($head, $rest) = split /\r\n\r\n/, $buf, 2;
            my ($len) = $head =~ /^content-length:\s*(\d+)/mi;
            return parse_response($buf)
                if defined $len && length($rest) >= $len;
        }
        last unless $sel->can_read($deadline - time);
        my $n = sysread $s, $buf, 65536, length $buf;
        last unless $n;
    }
    return parse_response($buf);
}

# One request and its response over a kept-alive connection (the
# request should say "Connection: keep-alive").
sub exchange {
    my ($s, $text, %o) = @_;
    syswrite $s, $text;
    return _read_one($s, $o{timeout} || 10);
}

# Kept-alive connections to nginx, sorted by the worker that holds
# them: asks $probe (a location answering "$pid") over new connections
# until $per_worker connections of each of $workers workers are known.
# Returns a hash: pid => [sockets].
sub worker_conns {
    my ($port, %o) = @_;
    my $per = $o{per_worker} || 4;
    my $workers = $o{workers} || 2;
    my $probe = $o{probe} || '/_pid';
    my %by;
    for my $try (1 .. 400) {
        my $s = _connect($port);
        print $s "GET $probe HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n\r\n";
        my $r = _read_one($s, 5);
        my ($pid) = $r->{body} =~ /(\d+)/;
        croak "probe $probe: " . ($r->{status} // 'none')
            unless ($r->{status} // 0) == 200 && $pid;
        if (@{ $by{$pid} ||= [] } < $per) {
            push @{ $by{$pid} }, $s;
        } else {
            close $s;
        }
        my @full = grep { @{ $by{$_} } >= $per } keys %by;
        last if @full >= $workers;
    }
    return \%by;
}

# The connections of worker_conns (same options) as one list that
# takes turns between the workers: a race over them reaches all of them.
sub interleaved_conns {
    my $by = worker_conns(@_);
    my @pids = sort keys %$by;
    my @c;
    while (grep { @{ $by->{$_} } } @pids) {
        push @c, shift @{ $by->{$_} } for grep { @{ $by->{$_} } } @pids;
    }
    return @c;
}

# The text of a code sent from the challenge page of /private/: a
# browser's POST to /_otp/verify as $user; %form: csrf, code and any
# more fields.
sub verify_request {
    my ($port, $user, %form) = @_;
    return http_request(
        port => $port, method => 'POST', path => '/_otp/verify',
        user => $user, headers => [[Accept => 'text/html']],
        form => { return => '/private/', %form });
}

# "200:1 401:7": how many responses had each status.
sub tally {
    my %n;
    $n{ $_->{status} }++ for @_;
    return join ' ', map { "$_:$n{$_}" } sort keys %n;
}

# How many workers answered the responses (their X-Worker header).
sub workers_seen {
    my %w = map { (hdr($_, 'x-worker') // '') => 1 } @_;
    return scalar grep { length } keys %w;
}

# Sends every request but its last byte, lets nginx read them, then
# sends all the last bytes at once; returns the parsed responses in the
# order of the requests.  $socks: connections (from worker_conns, or
# undef for a new one each), $texts: the requests ("Connection: close").
sub race {
    my ($port, $socks, $texts, %o) = @_;
    my @s;
    for my $i (0 .. $#$texts) {
        my $s = $socks->[$i] || _connect($port);
        binmode $s;
        $s->autoflush(1);
        syswrite $s, substr($texts->[$i], 0, -1);
        push @s, $s;
    }
    sleep($o{settle} // 0.2);
    syswrite $s[$_], substr($texts->[$_], -1) for 0 .. $#s;
    my @res;
    for my $s (@s) {
        push @res, parse_response(_read_all($s, $o{timeout} || 15));
        close $s;
    }
    return @res;
}

1;
