#!/usr/bin/perl

# The layers of STYLE.md, checked: the graph of the source files'
# #include "..." lines has no cycle.  x.c and x.h are one node (a file
# pair is one concern); ngx_http_otp_module.c is the top.  Headers that
# are not in the tree (written at build time into objs/) are left out.
# A cycle is named file by file.

use strict;
use warnings;

use FindBin;
use Test::More;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";

my @files = (glob("$top/src/*.[ch]"), "$top/ngx_http_otp_module.c");

BAIL_OUT("no C files under $top/src") unless @files > 1;

sub node {
    my ($name) = @_;
    $name =~ s{.*/}{};
    $name =~ s{\.[ch]$}{};
    return $name;
}

my (%nodes, %edges);

for my $path (@files) {
    $nodes{node($path)} = 1;
}

for my $path (@files) {
    my $from = node($path);
    open my $fh, '<', $path or die "$path: $!";
    while (my $line = <$fh>) {
        next unless $line =~ /^\s*#\s*include\s+"([^"]+)"/;
        my $to = node($1);
        next if $to eq $from || !$nodes{$to};
        $edges{$from}{$to} = 1;
    }
    close $fh;
}

# depth first: a node met again while on the path closes a cycle

my (%state, @path, @cycles);

sub visit {
    my ($n) = @_;
    $state{$n} = 1;
    push @path, $n;
    for my $m (sort keys %{ $edges{$n} // {} }) {
        if (($state{$m} // 0) == 1) {
            my ($i) = grep { $path[$_] eq $m } 0 .. $#path;
            push @cycles, join(' -> ', @path[$i .. $#path], $m);
        } elsif (!$state{$m}) {
            visit($m);
        }
    }
    pop @path;
    $state{$n} = 2;
}

visit($_) for grep { !$state{$_} } sort keys %nodes;

ok(keys %edges > 10, 'the include graph was read');
ok(!@cycles, 'no include cycle among the source files')
    or diag(join "\n", map { "cycle: $_" } @cycles);

done_testing();
