#!/usr/bin/perl

# The C unit tests of the pure parts (t/unit/test_*.c: HOTP and TOTP,
# base32, otpauth URIs, crypto, QR, forms, return targets, tokens,
# recovery codes, SMS texts and phone numbers, templates), each a program
# that speaks TAP itself, built by "make unit" into $OTP_UNIT_DIR: one
# subtest each.  With OTP_UNIT_DIR set (make test), a program that is
# not built fails; without it, the file is skipped when nothing is built.

use strict;
use warnings;

use FindBin;
use TAP::Parser;
use Test::More;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";
my $dir = $ENV{OTP_UNIT_DIR} // "$top/build/distro/unit";

my @names = map { m{/(test_\w+)\.c$} ? $1 : () }
            sort glob "$top/t/unit/test_*.c";

BAIL_OUT("no unit tests in $top/t/unit") unless @names;

if (!defined $ENV{OTP_UNIT_DIR} && !grep { -x "$dir/$_" } @names) {
    plan skip_all => "$dir is not built (make unit)";
}

# test_template reads the pages from $OTP_TOP/html
$ENV{OTP_TOP} = $top;

for my $name (@names) {
    subtest $name => sub {
        my $bin = "$dir/$name";
        unless (-x $bin) {
            fail("$bin is built (make unit)");
            return;
        }
        my $tap = TAP::Parser->new({ exec => [$bin] });
        while (my $r = $tap->next) {
            if ($r->is_test) {
                ok($r->is_ok, $r->description =~ s/^- //r);
            } elsif ($r->is_comment) {
                diag($r->as_string);
            } elsif ($r->is_unknown && $r->as_string ne '') {
                diag("$name: " . $r->as_string);
            }
        }
        ok($tap->tests_run > 0, "$name ran tests");
        ok($tap->is_good_plan, "$name: plan of $tap->tests_planned")
            or diag('ran ' . $tap->tests_run);
        is($tap->exit, 0, "$name exits 0");
    };
}

done_testing();
