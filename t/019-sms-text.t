#!/usr/bin/perl

# SMS codes and messages, phone numbers: runs t/unit/test_sms.c, a C unit test
# that speaks TAP itself, built by "make unit" into $OTP_UNIT_DIR.

use strict;
use warnings;

use FindBin;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";
my $dir = $ENV{OTP_UNIT_DIR} // "$top/build/distro/unit";
my $bin = "$dir/test_sms";

if (!-x $bin && !defined $ENV{OTP_UNIT_DIR}) {
    print "1..0 # SKIP $bin is not built (make unit)\n";
    exit 0;
}

exec $bin or die "cannot run $bin: $!\n";
