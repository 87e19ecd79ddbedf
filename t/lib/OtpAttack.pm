package OtpAttack;

# Helpers for the end-to-end and attack tests: raw HTTP over sockets
# that are known to sit on a given nginx worker, races fired by the
# last byte of many requests at once, the module's keys re-derived
# from the key file (to mint tokens that are valid but for their age,
# or cookies that are well signed but name no session), and a
# browser-like reading of Location headers.

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use Exporter qw(import);
use HTTP::Tiny;
use IO::Select;
use IO::Socket::INET;
use Time::HiRes qw(sleep time);

use OtpFlow qw(totp basic_auth);

our @EXPORT_OK = qw(
    users site keys_from_file mint_csrf mint_cookie cookie_id
    session_key b64url_encode b64url_decode b32decode wrong_code
    raw_request parse_response send_raw worker_conns race
    location_target median fresh_step form_body header_values hdr
    security_headers_ok exchange html_unescape pct_encode pct_decode
    query_form
);

# ------------------------------------------------------------- setup

# An htpasswd file in the test directory: each user's password is the
# user name.
sub users {
    my ($t, @names) = @_;
    $t->write_file('htpasswd',
                   join('', map { "$_:{PLAIN}$_\n" } @names), 0644);
}

# A second (third ...) server of the same nginx on its own port, for
# OtpFlow, which only needs ->url.
sub site {
    my ($t, $port) = @_;
    return OtpAttack::Site->new($t, $port);
}

# --------------------------------------------------------- encodings

sub b64url_encode {
    my ($bytes) = @_;
    require MIME::Base64;
    my $s = MIME::Base64::encode_base64($bytes, '');
    $s =~ tr{+/}{-_};
    $s =~ s/=+$//;
    return $s;
}

sub b64url_decode {
    my ($s) = @_;
    require MIME::Base64;
    $s =~ tr{-_}{+/};
    $s .= '=' x ((4 - length($s) % 4) % 4);
    return MIME::Base64::decode_base64($s);
}

sub b32decode {
    my ($s) = @_;
    $s = uc $s;
    $s =~ s/[\s=]//g;
    my $bits = join '', map {
        my $v = index('ABCDEFGHIJKLMNOPQRSTUVWXYZ234567', $_);
        croak "not base32: $_" if $v < 0;
        sprintf '%05b', $v;
    } split //, $s;
    $bits = substr($bits, 0, length($bits) - length($bits) % 8);
    return pack 'B*', $bits;
}

# ------------------------------------------------------------- keys

# HKDF-SHA256 (RFC 5869) of the key file, one 32-byte key per purpose,
# with the salt and labels of ngx_http_otp_crypto.c.  A test that mints
# with these keys first checks that a fresh token is accepted, so a
# change of the derivation shows as such and not as a false pass.
sub keys_from_file {
    my ($path) = @_;
    open my $fh, '<', $path or croak "$path: $!";
    binmode $fh;
    local $/;
    my $ikm = <$fh>;
    close $fh;

    my $prk = hmac_sha256($ikm, 'ngx_http_otp_module hkdf salt');
    my %k;
    for (['cookie', 'ngx_http_otp cookie v1'],
         ['csrf',   'ngx_http_otp csrf v1'],
         ['code',   'ngx_http_otp code v1'],
         ['seal',   'ngx_http_otp seal v1'])
    {
        $k{ $_->[0] } = hmac_sha256($_->[1] . "\x01", $prk);
    }
    return \%k;
}

# A CSRF token for user and binding ("enroll", "logout", a challenge
# id), issued at unix time $issued.
sub mint_csrf {
    my ($keys, $user, $binding, $issued) = @_;
    my $t = pack 'Q>', $issued;
    my $mac = hmac_sha256("csrf\0$user\0$binding$t", $keys->{csrf});
    return '1.' . b64url_encode($t . $mac);
}

# A session cookie value for a 32-byte id, signed as the module signs.
sub mint_cookie {
    my ($keys, $id) = @_;
    my $mac = hmac_sha256("session\0$id", $keys->{cookie});
    return '1.' . b64url_encode($id) . '.' . b64url_encode($mac);
}

# The 32-byte id inside a cookie value.
sub cookie_id {
    my ($cookie) = @_;
    my (undef, $id) = split /\./, $cookie;
    return b64url_decode($id);
}

# The Redis key suffix of a session: hex HMAC of its id.
sub session_key {
    my ($keys, $id) = @_;
    return hmac_sha256_hex($id, $keys->{cookie});
}

# A code of the right shape that matches no step within +-$around of
# now (default 4) for the given secret and policy.
sub wrong_code {
    my ($secret, %o) = @_;
    my $digits = $o{digits} || 6;
    my $period = $o{period} || 30;
    my $around = $o{around} // 4;
    my %near = map {
        (totp($secret, %o, time => time + $_ * $period) => 1)
    } -$around .. $around;
    for my $try (0 .. 100) {
        my $c = sprintf "%0${digits}d", int rand(10**$digits);
        return $c unless $near{$c};
    }
    croak 'no wrong code found';
}

# Waits, if needed, so that at least $margin seconds remain in the
# current step; returns the step's start time.
sub fresh_step {
    my ($period, $margin) = @_;
    my $now = time;
    my $into = $now - int($now / $period) * $period;
    if ($period - $into < $margin) {
        sleep($period - $into + 0.05);
    }
    return int(time / $period) * $period;
}

# Percent-encoding of everything but unreserved characters, and its
# inverse ("+" stays "+": the values here are URI parts, not forms).
sub pct_encode {
    my ($s) = @_;
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf '%%%02X', ord $1/ge;
    return $s;
}

sub pct_decode {
    my ($s) = @_;
    return undef unless defined $s;
    $s =~ s/%([0-9A-Fa-f]{2})/chr hex $1/ge;
    return $s;
}

# The parameters of a query string, decoded.
sub query_form {
    my ($q) = @_;
    return map { pct_decode($_) } map { split /=/, $_, 2 } split /&/, $q;
}

# What a browser submits for an attribute value.
sub html_unescape {
    my ($s) = @_;
    return undef unless defined $s;
    my %e = (amp => '&', lt => '<', gt => '>', quot => '"', apos => "'");
    $s =~ s/&(?:#(\d+)|#x([0-9a-fA-F]+)|(amp|lt|gt|quot|apos));/
            defined $1 ? chr $1 : defined $2 ? chr hex $2 : $e{$3}/ge;
    return $s;
}

sub median {
    my @s = sort { $a <=> $b } @_;
    return undef unless @s;
    return @s % 2 ? $s[$#s / 2] : ($s[@s / 2 - 1] + $s[@s / 2]) / 2;
}

# --------------------------------------------------------- raw HTTP

sub form_body {
    my ($form) = @_;
    return HTTP::Tiny->new->www_form_urlencode($form);
}

# The text of one HTTP/1.1 request.  headers: an array ref of pairs,
# sent as given (duplicates and odd values included).
sub raw_request {
    my (%o) = @_;
    my $method = $o{method} || 'GET';
    my @h = ("Host: " . ($o{host} // "127.0.0.1:$o{port}"));
    push @h, 'Authorization: ' . basic_auth($o{user}) if defined $o{user};
    push @h, "Cookie: $o{cookie}" if defined $o{cookie};
    my @extra = @{ $o{headers} || [] };
    while (my ($k, $v) = splice @extra, 0, 2) {
        push @h, "$k: $v";
    }
    my $body = $o{body};
    $body = form_body($o{form}) if $o{form};
    if (defined $body) {
        push @h, 'Content-Type: application/x-www-form-urlencoded'
            unless grep { /^content-type:/i } @h;
        push @h, 'Content-Length: ' . length $body;
    }
    push @h, 'Connection: ' . ($o{keepalive} ? 'keep-alive' : 'close');
    return "$method $o{path} HTTP/1.1\r\n" . join('', map { "$_\r\n" } @h)
           . "\r\n" . ($body // '');
}

# { status, headers => { lc name => [values] }, body, raw }
sub parse_response {
    my ($raw) = @_;
    my %r = (raw => $raw, status => 0, headers => {}, body => '');
    my ($head, $body) = split /\r\n\r\n/, $raw, 2;
    return \%r unless defined $head;
    my @lines = split /\r\n/, $head;
    my $sl = shift @lines // '';
    ($r{status}) = $sl =~ m{^HTTP/1\.[01] (\d{3})};
    $r{status} //= 0;
    for (@lines) {
        my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
        push @{ $r{headers}{ lc $k } }, $v;
    }
    $r{body} = $body // '';
    return \%r;
}

sub header_values {
    my ($res, $name) = @_;
    my $h = $res->{headers}{ lc $name };
    return ref $h ? @$h : defined $h ? ($h) : ();
}

# A header of an HTTP::Tiny or a parse_response response, repeated
# values joined with ", "; undef when absent.
sub hdr {
    my ($res, $name) = @_;
    my $v = $res->{headers}{ lc $name };
    return undef unless defined $v;
    return ref $v ? join(', ', @$v) : $v;
}

# The headers every page and answer of the module carries (SPEC 7).
sub security_headers_ok {
    my ($res, $what) = @_;
    require Test::More;
    Test::More::subtest("security headers: $what" => sub {
        Test::More::is(hdr($res, 'cache-control'), 'no-store',
                       'Cache-Control: no-store');
        my $csp = hdr($res, 'content-security-policy') // '';
        Test::More::like($csp, qr/default-src 'none'/, 'CSP default-src');
        Test::More::like($csp, qr/frame-ancestors 'none'/,
                         'CSP frame-ancestors');
        Test::More::unlike($csp, qr/script-src|unsafe-eval/,
                           'CSP allows no script');
        Test::More::is(hdr($res, 'x-frame-options'), 'DENY',
                       'X-Frame-Options: DENY');
        Test::More::is(hdr($res, 'referrer-policy'), 'no-referrer',
                       'Referrer-Policy: no-referrer');
    });
}

# One request on a new connection, the whole response read to EOF.
sub send_raw {
    my ($port, $text, %o) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $port,
        Timeout  => $o{timeout} || 10,
    ) or croak "connect: $!";
    binmode $s;
    print $s $text;
    my $reply = _read_all($s, $o{timeout} || 10);
    close $s;
    return parse_response($reply);
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
        my $s = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1',
            PeerPort => $port,
            Timeout  => 5,
        ) or croak "connect: $!";
        binmode $s;
        print $s "GET $probe HTTP/1.1\r\nHost: 127.0.0.1:$port\r\n\r\n";
        my $r = _read_one($s, 5);
        my ($pid) = $r->{body} =~ /(\d+)/;
        croak "probe $probe: $r->{status}" unless $r->{status} == 200 && $pid;
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

# Sends every request but its last byte, lets nginx read them, then
# sends all the last bytes at once; returns the parsed responses in the
# order of the requests.  $socks: connections (from worker_conns, or
# undef for a new one each), $texts: the requests ("Connection: close").
sub race {
    my ($port, $socks, $texts, %o) = @_;
    my @s;
    for my $i (0 .. $#$texts) {
        my $s = $socks->[$i] || IO::Socket::INET->new(
            PeerAddr => '127.0.0.1',
            PeerPort => $port,
            Timeout  => 5,
        ) || croak "connect: $!";
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

# Where a browser goes with a response's Location, resolved against
# http://<host>/<request path>: (host, path) with the WHATWG rules that
# matter for open redirects (tabs and newlines dropped, "\" read as
# "/" in special schemes, scheme-relative "//host").  host is undef for
# a non-http(s) scheme.
sub location_target {
    my ($location, $req_host) = @_;
    return () unless defined $location;
    my $l = $location;
    $l =~ s/^[\x00-\x20]+|[\x00-\x20]+$//g;
    $l =~ s/[\t\r\n]//g;
    if ($l =~ /^([a-zA-Z][a-zA-Z0-9+.-]*):(.*)$/s) {
        my ($scheme, $rest) = (lc $1, $2);
        return (undef, $l) unless $scheme eq 'http' || $scheme eq 'https';
        $rest =~ s{\\}{/}g;
        # "http:evil" and "http:/evil" are still another host when the
        # scheme differs from the base's; same scheme: relative
        my $abs = ($rest =~ m{^//} || $scheme ne 'http');
        my ($h, $p) = $rest =~ m{^/*([^/?#]*)(.*)$}s;
        return (lc $h, $p eq '' ? '/' : $p) if $abs;
        $l = $rest;
    }
    $l =~ s{\\}{/}g;
    if (my ($h, $p) = $l =~ m{^//([^/?#]*)(.*)$}s) {
        return (lc $h, $p eq '' ? '/' : $p);
    }
    return ($req_host, $l) if $l =~ m{^/};
    return ($req_host, "/$l");
}

package OtpAttack::Site;

sub new {
    my ($class, $t, $port) = @_;
    return bless { t => $t, port => $port }, $class;
}

sub port { $_[0]{port} }

sub url {
    my ($self, $path) = @_;
    return "http://127.0.0.1:$self->{port}$path";
}

1;
