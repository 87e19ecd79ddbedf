package OtpAttack;

# Helpers for the end-to-end and attack tests: the module's keys
# re-derived from the key file (to mint tokens that are valid but for
# their age, or cookies that are well signed but name no session), a
# browser-like reading of Location headers, and the headers every page
# carries.  Raw HTTP is OtpHttp's.

use strict;
use warnings;

use Carp qw(croak);
use Digest::SHA qw(hmac_sha256 hmac_sha256_hex);
use Exporter qw(import);
use Time::HiRes qw(sleep time);

use OtpFlow qw(totp);
use OtpHttp qw(hdr);

our @EXPORT_OK = qw(
    users site keys_from_file mint_csrf mint_cookie cookie_id
    session_key b64url_encode b64url_decode b32decode wrong_code
    location_target median fresh_step security_headers_ok
    html_unescape pct_encode pct_decode query_form
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

# --------------------------------------------------------- responses

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
        # one script at most, the built-in countdown, by its hash
        (my $rest = $csp) =~ s/script-src 'sha256-[A-Za-z0-9+\/]+={0,2}'; //;
        Test::More::unlike($rest, qr/script-src|unsafe-eval/,
                           'CSP allows no script but one by hash');
        Test::More::is(hdr($res, 'x-frame-options'), 'DENY',
                       'X-Frame-Options: DENY');
        Test::More::is(hdr($res, 'referrer-policy'), 'no-referrer',
                       'Referrer-Policy: no-referrer');
    });
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
