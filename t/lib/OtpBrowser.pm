package OtpBrowser;

# Headless Chromium driven over the DevTools protocol on a pipe
# (--remote-debugging-pipe: commands on fd 3, replies and events on fd
# 4, each message JSON ended by a NUL), so that a test can size the
# window, load a page, wait, and ask where an element is.  Evaluating
# an expression through the protocol is not subject to the page's CSP;
# the page's own scripts are.
#
#   my $b = OtpBrowser->new(width => 390, height => 844, mobile => 1);
#   $b->open($url);
#   my $v = $b->eval('document.title');
#   $b->screenshot("$dir/page.png");
#   $b->close;

use strict;
use warnings;

use Carp qw(croak);
use File::Temp qw(tempdir);
use IO::Handle;
use IO::Select;
use JSON::PP ();
use MIME::Base64 qw(decode_base64);
use POSIX ();
use Time::HiRes qw(time);

sub chromium {
    my ($c) = grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH};
    return $c;
}

sub new {
    my ($class, %o) = @_;
    my $chromium = chromium() or croak 'chromium is not installed';
    my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);

    my ($cmd_r, $cmd_w, $ans_r, $ans_w);
    {
        local $^F = 255;
        pipe($cmd_r, $cmd_w) or croak "pipe: $!";
        pipe($ans_r, $ans_w) or croak "pipe: $!";
    }

    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        # onto fds 3 and 4 (open across exec: $^F above)
        my ($in, $out) = (fileno $cmd_r, fileno $ans_w);
        $out = POSIX::dup($out) if $out == 3;
        POSIX::dup2($in, 3) // POSIX::_exit(126) if $in != 3;
        POSIX::dup2($out, 4) // POSIX::_exit(126) if $out != 4;
        open STDERR, '>', '/dev/null';
        open STDOUT, '>', '/dev/null';
        { exec $chromium, qw(--headless --no-sandbox --disable-gpu
            --disable-quic --no-first-run --disable-background-networking
            --disable-component-update --disable-sync --disable-default-apps
            --hide-scrollbars --remote-debugging-pipe),
            '--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1',
            "--user-data-dir=$profile", 'about:blank'; }
        POSIX::_exit(127);
    }
    close $cmd_r;
    close $ans_w;
    $cmd_w->autoflush(1);

    my $self = bless {
        pid => $pid, w => $cmd_w, r => $ans_r, id => 0, buf => '',
        events => [], json => JSON::PP->new->canonical, %o,
    }, $class;

    my $t = $self->call('Target.createTarget', { url => 'about:blank' });
    my $s = $self->call('Target.attachToTarget',
                        { targetId => $t->{targetId}, flatten => JSON::PP::true });
    $self->{session} = $s->{sessionId};
    $self->call('Page.enable', {}, 1);
    $self->call('Emulation.setDeviceMetricsOverride', {
        width => $o{width} || 1280, height => $o{height} || 800,
        deviceScaleFactor => 1,
        mobile => $o{mobile} ? JSON::PP::true : JSON::PP::false,
    }, 1);
    if ($o{lang}) {
        $self->call('Emulation.setUserAgentOverride', {
            userAgent => 'Mozilla/5.0 (X11; Linux x86_64) Chrome/120',
            acceptLanguage => $o{lang},
        }, 1);
    }
    return $self;
}

sub _read {
    my ($self, $timeout) = @_;
    my $deadline = time + ($timeout // 20);
    my $sel = IO::Select->new($self->{r});
    while (1) {
        my $i = index($self->{buf}, "\0");
        if ($i >= 0) {
            my $m = substr($self->{buf}, 0, $i);
            substr($self->{buf}, 0, $i + 1) = '';
            my $msg = $self->{json}->decode($m);
            push @{ $self->{log} }, $msg if $msg->{method};
            return $msg;
        }
        my $left = $deadline - time;
        croak 'chromium: no answer' if $left <= 0;
        next unless $sel->can_read($left);
        my $n = sysread($self->{r}, my $chunk, 65536);
        croak 'chromium: pipe closed' unless $n;
        $self->{buf} .= $chunk;
    }
}

# a command; in the page's session if $in_page; returns its result
sub call {
    my ($self, $method, $params, $in_page) = @_;
    my $id = ++$self->{id};
    my %m = (id => $id, method => $method, params => $params || {});
    $m{sessionId} = $self->{session} if $in_page;
    syswrite($self->{w}, $self->{json}->encode(\%m) . "\0")
        or croak "chromium: write: $!";
    while (1) {
        my $a = $self->_read;
        if (defined $a->{id} && $a->{id} == $id) {
            croak "$method: $a->{error}{message}" if $a->{error};
            return $a->{result};
        }
        push @{ $self->{events} }, $a if $a->{method};
    }
}

sub wait_event {
    my ($self, $method, $timeout) = @_;
    my $deadline = time + ($timeout // 20);
    while (1) {
        my @e = @{ $self->{events} };
        for my $i (0 .. $#e) {
            next unless $e[$i]{method} eq $method;
            splice @{ $self->{events} }, 0, $i + 1;
            return $e[$i];
        }
        $self->{events} = [];
        croak "chromium: no $method" if time > $deadline;
        my $a = $self->_read($deadline - time);
        push @{ $self->{events} }, $a if $a->{method};
    }
}

# loads a URL and waits for its load event
sub open {
    my ($self, $url) = @_;
    $self->{events} = [];
    $self->call('Page.navigate', { url => $url }, 1);
    $self->wait_event('Page.loadEventFired');
    return $self;
}

# the value of a JavaScript expression in the page
sub eval {
    my ($self, $expr) = @_;
    my $r = $self->call('Runtime.evaluate',
                        { expression => $expr,
                          returnByValue => JSON::PP::true }, 1);
    croak "eval: $r->{exceptionDetails}{text}" if $r->{exceptionDetails};
    return $r->{result}{value};
}

sub screenshot {
    my ($self, $path) = @_;
    my $r = $self->call('Page.captureScreenshot', { format => 'png' }, 1);
    CORE::open my $fh, '>', $path or croak "$path: $!";
    binmode $fh;
    print $fh decode_base64($r->{data});
    close $fh;
    return -s $path;
}

sub close {
    my ($self) = @_;
    return unless $self->{pid};
    eval { $self->call('Browser.close') };
    close $self->{w};
    my $deadline = time + 5;
    while (time < $deadline) {
        last if waitpid($self->{pid}, POSIX::WNOHANG()) == $self->{pid};
        select undef, undef, undef, 0.05;
    }
    kill 'KILL', $self->{pid} if kill 0, $self->{pid};
    waitpid($self->{pid}, 0);
    delete $self->{pid};
}

# what is wider than the viewport: { vw, sw (the page's own width),
# lang (of <html>), wide (the elements and runs of text out of the
# viewport, as "tag#id.class left..right"), text (the page's text) }
my $OVERFLOW = <<'JS';
(function () {
    var vw = document.documentElement.clientWidth, wide = [], w, n, r;

    function out(r) {
        return r.width > 0 && (r.right > vw + 0.5 || r.left < -0.5);
    }

    document.querySelectorAll('body *').forEach(function (e) {
        r = e.getBoundingClientRect();
        if (out(r)) {
            wide.push(e.tagName.toLowerCase()
                      + (e.id ? '#' + e.id : '')
                      + (e.className && typeof e.className === 'string'
                         ? '.' + e.className : '')
                      + ' ' + Math.round(r.left) + '..'
                      + Math.round(r.right));
        }
    });

    /* text that runs out of its box is no element of its own */

    w = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while ((n = w.nextNode())) {
        var range = document.createRange();
        range.selectNodeContents(n);
        r = range.getBoundingClientRect();
        if (out(r)) {
            wide.push('text "' + n.nodeValue.trim().slice(0, 30) + '" '
                      + Math.round(r.left) + '..' + Math.round(r.right));
        }
    }
    return { vw: vw, sw: document.documentElement.scrollWidth,
             lang: document.documentElement.lang, wide: wide,
             text: document.body.innerText };
})()
JS

sub overflow {
    my ($self) = @_;
    return $self->eval($OVERFLOW);
}

sub DESTROY { $_[0]->close }

1;
