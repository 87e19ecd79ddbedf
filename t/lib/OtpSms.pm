package OtpSms;

# A stand-in SMS provider for the tests: a small HTTP server on a
# loopback port, in a process of its own, that records every request
# it receives (method, path, headers, body) and answers as it is told:
#
#   ok      200 and a JSON body
#   NNN     that status (500, 404 ...)
#   hang    reads the request and never answers
#   reset   reads the request and resets the connection (RST)
#
# optionally after a delay.  Each connection is served by a process of
# its own, so racing sends really overlap.  Records are appended, one
# JSON line each, under a lock, before the answer.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use Fcntl qw(:flock O_WRONLY O_APPEND O_CREAT);
use IO::Select;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Socket qw(SOL_SOCKET SO_LINGER);
use Time::HiRes qw(sleep time);

use OtpTest;
use OtpFlow qw(basic_auth form_field);

our @EXPORT_OK = qw(text_of code_of path_of set_phone send_code);

# The text of a message the provider received: "text" of a JSON body,
# "Body" (or "text") of a form body.
sub text_of {
    my ($req) = @_;
    my $b = $req->{body} // '';
    if ($b =~ /^\{/) {
        return JSON::PP->new->utf8->decode($b)->{text};
    }
    my %f;
    for (split /&/, $b) {
        my ($k, $v) = map { my $x = $_; $x =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
                            $x } split /=/, $_, 2;
        $f{$k} = $v;
    }
    my $text = $f{Body} // $f{text};
    utf8::decode($text) if defined $text;
    return $text;
}

# The code in it: "code is C." (the default template), "C is your
# code", "Code C", or "#C" (the origin-bound last line).
sub code_of {
    my ($req) = @_;
    my $text = text_of($req) // return undef;
    return $1 if $text =~ /code is ([0-9A-Za-z]+)\./;
    return $1 if $text =~ /^([0-9A-Za-z]+) is your code/;
    return $1 if $text =~ /\bCode ([0-9A-Za-z]+)/;
    return $1 if $text =~ /#([0-9A-Za-z]+)\s*$/;
    return undef;
}

# The path (and query) of a Location.
sub path_of {
    my ($location) = @_;
    return undef unless defined $location;
    (my $p = $location) =~ s{^https?://[^/]+}{};
    return $p;
}

# A verified number through the admin API at $admin (a path).
sub set_phone {
    my ($t, $user, $phone, $admin) = @_;
    my $r = $t->http->request('PUT',
        $t->url(($admin // '/_otp_admin/') . "users/$user/phone"),
        { content => qq({"phone":"$phone"}),
          headers => { Authorization => basic_auth('admin'),
                       'Content-Type' => 'application/json' } });
    croak "set_phone $user: $r->{status} $r->{content}"
        unless $r->{status} == 200;
}

# GET challenge, then POST sms from it: (response of the POST, csrf).
sub send_code {
    my ($f, %o) = @_;
    my $csrf = $o{csrf};
    if (!defined $csrf) {
        my ($r, $c) = $f->challenge($o{return} // '/private/index.html');
        croak "challenge: $r->{status}" unless defined $c;
        $csrf = $c;
    }
    my $r = $f->post('sms', {
        csrf   => $csrf,
        return => $o{return} // '/private/index.html',
        %{ $o{extra} || {} },
    });
    return ($r, $csrf);
}

sub new {
    my ($class, $t, %o) = @_;
    my $self = bless {
        t    => $t,
        port => $o{port} || OtpTest::free_port(),
        name => $o{name} || 'sms',
    }, $class;
    $self->{log} = $t->dir . "/$self->{name}-provider.log";
    $self->{ctl} = $t->dir . "/$self->{name}-provider.mode";
    $self->mode('ok');
    $self->clear;
    return $self;
}

sub port { $_[0]{port} }

# The provider location of conf/sms/<file> (json.conf by default),
# pointed at this provider; read_timeout => '1s' shortens the wait for
# an answer (a provider in mode "hang").
sub location {
    my ($self, $file, %o) = @_;
    my $t = $self->{t};
    my $c = $t->read_file("$t->{top}/conf/sms/" . ($file // 'json.conf'));
    $c =~ s{proxy_pass\s+https://[^/;]+}{proxy_pass http://127.0.0.1:$self->{port}}
        or croak("conf/sms: no proxy_pass https://");
    $c =~ s{proxy_read_timeout\s+\S+;}{proxy_read_timeout $o{read_timeout};}
        if $o{read_timeout};
    return $c;
}

# What the next requests get: 'ok', a status, 'hang' or 'reset', and
# seconds to wait first.
sub mode {
    my ($self, $mode, $delay) = @_;
    $self->{t}->write_file($self->{ctl}, "$mode " . ($delay // 0) . "\n");
}

sub clear {
    my ($self) = @_;
    $self->{t}->write_file($self->{log}, '');
}

# Every request received so far: { method, path, headers => { lc name
# => value }, body, time }.
sub requests {
    my ($self) = @_;
    my $json = JSON::PP->new;
    my @r;
    for my $line (split /\n/, $self->{t}->read_file($self->{log})) {
        push @r, $json->decode($line);
    }
    return @r;
}

# Waits until at least $n requests were received; returns them.
sub wait_requests {
    my ($self, $n, $seconds) = @_;
    my $deadline = time + ($seconds || 5);
    my @r;
    while (time < $deadline) {
        @r = $self->requests;
        return @r if @r >= $n;
        sleep 0.05;
    }
    return @r;
}

sub start {
    my ($self) = @_;

    my $listen = IO::Socket::INET->new(
        LocalAddr => '127.0.0.1',
        LocalPort => $self->{port},
        Proto     => 'tcp',
        ReuseAddr => 1,
        Listen    => 128,
    ) or croak "provider: listen on $self->{port}: $!";

    my $pid = fork;
    croak "fork: $!" unless defined $pid;

    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        $SIG{TERM} = sub { POSIX::_exit(0) };
        while (1) {
            my $c = $listen->accept or next;
            my $child = fork;
            if (defined $child && $child == 0) {
                close $listen;
                eval { $self->serve($c) };
                POSIX::_exit(0);
            }
            close $c;
        }
    }

    close $listen;
    $self->{t}{pids}{"provider-$self->{port}"} = $pid;
    $self->{pid} = $pid;
    return $self;
}

sub stop {
    my ($self) = @_;
    $self->{t}->stop_process("provider-$self->{port}", 'TERM');
}

sub serve {
    my ($self, $c) = @_;
    binmode $c;

    my $sel = IO::Select->new($c);
    my $buf = '';
    my $deadline = time + 10;

    while ($buf !~ /\r\n\r\n/ && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $c, $buf, 65536, length $buf;
        return unless $n;
    }

    my ($head, $body) = split /\r\n\r\n/, $buf, 2;
    return unless defined $head;
    $body //= '';

    my @lines = split /\r\n/, $head;
    my ($method, $path) = (shift @lines // '') =~ /^(\S+) (\S+)/;
    my %h;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        $h{ lc $k } = $v;
    }

    my $len = $h{'content-length'} // 0;
    while (length $body < $len && time < $deadline) {
        last unless $sel->can_read($deadline - time);
        my $n = sysread $c, $body, $len - length $body, length $body;
        last unless $n;
    }

    my ($mode, $delay) = split ' ', $self->{t}->read_file($self->{ctl});
    $mode //= 'ok';

    my $rec = JSON::PP->new->canonical->encode({
        method  => $method,
        path    => $path,
        headers => \%h,
        body    => $body,
        time    => time,
        mode    => $mode,
    });

    sysopen my $log, $self->{log}, O_WRONLY | O_APPEND | O_CREAT
        or die "$self->{log}: $!";
    flock $log, LOCK_EX;
    syswrite $log, "$rec\n";
    close $log;

    sleep $delay if $delay;

    if ($mode eq 'hang') {
        # until nginx gives up and closes, or 20 s
        my $end = time + 20;
        while (time < $end) {
            last unless $sel->can_read($end - time);
            my $n = sysread $c, my $x, 4096;
            last unless $n;
        }
        return;
    }

    if ($mode eq 'reset') {
        setsockopt($c, SOL_SOCKET, SO_LINGER, pack('ii', 1, 0));
        close $c;
        return;
    }

    my $status = $mode eq 'ok' ? 200 : $mode;
    my $out = $status =~ /^2/ ? '{"sid":"SM1","status":"queued"}'
                              : '{"error":"provider says no"}';
    syswrite $c, "HTTP/1.1 $status X\r\nContent-Type: application/json\r\n"
                 . "Content-Length: " . length($out) . "\r\n"
                 . "Connection: close\r\n\r\n$out";
    close $c;
}

1;
