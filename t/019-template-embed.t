#!/usr/bin/perl

# html/embed.sh, which compiles the pages into the module: the header it
# writes builds cleanly and holds every page byte for byte (an empty
# file and all 256 byte values too), it is left alone when nothing
# changed, and bad page names or arguments stop it.

use strict;
use warnings;

use File::Copy qw(copy);
use File::Temp qw(tempdir);
use FindBin;
use Test::More;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";
my $embed = "$top/html/embed.sh";
my $cc = $ENV{CC} // 'cc';

plan skip_all => "no C compiler ($cc)"
    unless system("command -v $cc >/dev/null 2>&1") == 0;

my $dir = tempdir('otp-embed-XXXXXX', TMPDIR => 1, CLEANUP => 1);
mkdir "$dir/html" or die;

my %pages;

for my $f (glob "$top/html/*.html") {
    (my $name = $f) =~ s{.*/}{};
    copy($f, "$dir/html/$name") or die "$f: $!";
}

spew("$dir/html/empty.html", '');
spew("$dir/html/all-bytes.html", join '', map { chr } 0 .. 255);

for my $f (glob "$dir/html/*.html") {
    (my $name = $f) =~ s{.*/}{};
    $pages{$name} = slurp($f);
}

ok(keys %pages >= 9, 'pages to embed: ' . join ' ', sort keys %pages);

is(system('sh', $embed, "$dir/html", "$dir/pages.h"), 0, 'embed.sh runs');

spew("$dir/dump.c", <<'C');
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

typedef struct {
    const char    *name;
    const u_char  *data;
    size_t         len;
} ngx_http_otp_html_file_t;

#include "pages.h"
#include "pages.h"

int
main(int argc, char **argv)
{
    const ngx_http_otp_html_file_t  *f;

    for (f = ngx_http_otp_html_files; f->name != NULL; f++) {
        if (argc == 1) {
            printf("%s\n", f->name);

        } else if (strcmp(f->name, argv[1]) == 0) {
            fwrite(f->data, 1, f->len, stdout);
        }
    }

    return 0;
}
C

is(system($cc, qw(-std=c99 -D_DEFAULT_SOURCE -W -Wall -Wextra -Werror
                  -Wpointer-arith -o), "$dir/dump", "$dir/dump.c"), 0,
   'the header compiles with -Wall -Wextra -Werror, included twice');

my @names = split /\n/, `$dir/dump`;
is_deeply(\@names, [sort keys %pages], 'a table entry for every page');

for my $name (sort keys %pages) {
    my $got = `$dir/dump $name`;
    ok($got eq $pages{$name}, "$name: " . length($pages{$name})
       . ' bytes, the same');
}

like(slurp("$dir/pages.h"),
     qr/#define NGX_HTTP_OTP_HTML_ALL_BYTES_LEN  256\n/,
     'a length per page, "-" in a name becomes "_"');

# unchanged content: the file is not rewritten (no needless rebuilds)

utime 1000000000, 1000000000, "$dir/pages.h";
system('sh', $embed, "$dir/html", "$dir/pages.h");
is((stat "$dir/pages.h")[9], 1000000000, 'unchanged output is kept');

# any POSIX sh gives the same output

SKIP: {
    skip 'no dash', 1
        unless system('command -v dash >/dev/null 2>&1') == 0;

    system('dash', $embed, "$dir/html", "$dir/dash.h");
    ok(slurp("$dir/dash.h") eq slurp("$dir/pages.h"), 'dash: the same');
}

# refusals

spew("$dir/html/bad name.html", 'x');
isnt(system("sh '$embed' '$dir/html' '$dir/bad.h' 2>/dev/null"), 0,
     'a page name with a space is refused');
ok(!-e "$dir/bad.h" && !glob("$dir/bad.h.tmp*"), '... and nothing written');
unlink "$dir/bad name.html";

spew("$dir/html/all_bytes.html", 'x');
isnt(system("sh '$embed' '$dir/html' '$dir/bad.h' 2>/dev/null"), 0,
     'two pages with one C name are refused');
unlink "$dir/html/all_bytes.html";

isnt(system("sh '$embed' 2>/dev/null"), 0, 'no arguments: usage');
isnt(system("sh '$embed' '$dir/none' '$dir/bad.h' 2>/dev/null"), 0,
     'a missing directory: usage');

done_testing();


sub slurp {
    my ($f) = @_;
    open my $fh, '<:raw', $f or die "$f: $!";
    local $/;
    return scalar <$fh>;
}

sub spew {
    my ($f, $data) = @_;
    open my $fh, '>:raw', $f or die "$f: $!";
    print $fh $data;
    close $fh or die "$f: $!";
}
