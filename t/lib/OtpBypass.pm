package OtpBypass;

# Helpers for the bypass and malformed-input tests: the content of every
# protected file and the "nothing protected leaked" assertion.  Raw HTTP
# is OtpHttp's.

use strict;
use warnings;

use Exporter qw(import);
use Test::More;

our @EXPORT_OK = qw(SECRET assert_blocked);

# The content of every protected file; it must never reach a client that
# has no second factor.
use constant SECRET => 'TOP-SECRET-c0ffee-5a1t-4e2d';

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

1;
