#!/usr/bin/perl

# The C sources keep nginx's layout: no line over 80 columns, no tab, no
# trailing white space (in *.c and *.h at the top, in src/, t/unit/ and
# t/fuzz/).  Each offence is named file:line.

use strict;
use warnings;

use FindBin;
use Test::More;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";

my @files = sort map { glob "$top/$_/*.[ch]" } '.', qw(src t/unit t/fuzz);

BAIL_OUT("no C files under $top") unless @files;

for my $path (@files) {
    (my $name = $path) =~ s{^\Q$top\E/(?:\./)?}{};
    open my $fh, '<', $path or die "$path: $!";
    my @bad;
    while (my $line = <$fh>) {
        chomp $line;
        utf8::decode($line);
        my @what;
        push @what, 'tab' if $line =~ /\t/;
        push @what, 'trailing space' if $line =~ /[ \t\r]$/;
        push @what, length($line) . ' columns' if length $line > 80;
        push @bad, "$name:$.: " . join(', ', @what) if @what;
    }
    close $fh;
    ok(!@bad, $name) or diag(join "\n", @bad);
}

done_testing();
