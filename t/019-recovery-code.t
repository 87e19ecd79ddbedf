#!/usr/bin/perl

# Recovery codes: runs the C unit test t/unit/test_recovery.c (format and
# spread of new codes, canonical form of typed codes, keyed hashes).
# It is built by "make unit" into $OTP_UNIT_DIR (build/distro/unit).

use strict;
use warnings;

use FindBin;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";
my $dir = $ENV{OTP_UNIT_DIR} // "$top/build/distro/unit";
my $bin = "$dir/test_recovery";

if (!-x $bin && !defined $ENV{OTP_UNIT_DIR}) {
    print "1..0 # SKIP $bin is not built (make unit)\n";
    exit 0;
}

exec $bin or die "cannot run $bin: $!\n";
