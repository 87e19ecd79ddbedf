#!/usr/bin/perl

# Every nginx configuration example in README.md (each fenced ```nginx
# block) passes nginx -t.  A whole configuration (one with "http {") is
# tested as it is, with this build's module, the test's directory in
# place of /etc/nginx/ and /srv/www, and what a test instance needs
# (pid, error log, temporary paths); a fragment is put into a server of
# a minimal configuration.  The files the examples name are made here:
# the key file, htpasswd, a certificate and its key (openssl).  Host
# names in proxy_pass become 127.0.0.1: nginx -t resolves them, and the
# tests have no DNS.

use strict;
use warnings;

use Test::More;

use OtpTest;
use OtpAttack qw(users);

my $t = OtpTest->new;
my $d = $t->dir;
my $key = $t->secret_file;
users($t, qw(alice));
mkdir "$d/www";

system("openssl req -x509 -newkey rsa:2048 -nodes -keyout $d/key.pem"
       . " -out $d/cert.pem -days 1 -subj /CN=intranet.example.com"
       . " >$d/openssl.log 2>&1") == 0
    or BAIL_OUT('openssl could not make a certificate');

open my $fh, '<', $t->top . '/README.md' or BAIL_OUT("README.md: $!");
my $readme = do { local $/; <$fh> };
close $fh;

my @examples;
while ($readme =~ /^```nginx\n(.*?)^```$/msg) {
    my $text = $1;
    my $line = 1 + (() = substr($readme, 0, $-[0]) =~ /\n/g);
    push @examples, [$line, $text];
}

cmp_ok(scalar @examples, '>=', 5, 'README.md has nginx examples')
    or diag(scalar @examples);

my $module = $t->{module};
my $globals = <<"EOF";
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
EOF

for my $ex (@examples) {
    my ($line, $text) = @$ex;
    my $conf;

    # the files an example names, in the test directory
    $text =~ s{/etc/nginx/}{$d/}g;
    $text =~ s{/srv/www}{$d/www}g;

    # nginx -t resolves proxy_pass hosts; the tests have no DNS
    $text =~ s{(proxy_pass\s+https?://)[^/;:\s]+}{${1}127.0.0.1}g;

    if ($text =~ /^\s*http\s*\{/m) {
        $text =~ s{^(\s*load_module\s+)\S+;}{$1$module;}m
            or $text = "load_module $module;\n$text";
        $text =~ s{^(\s*load_module\s+\S+;\n)}{$1$globals}m;
        $text =~ s{^(\s*http\s*\{\n)}{$1 . $t->globals_http}me;
        $text =~ s{^(\s*http\s*\{)}{events {}\n$1}m
            unless $text =~ /^\s*events\s*\{/m;
        $conf = $text;

    } elsif ($text =~ /^\s*load_module\s/m) {
        $text =~ s{^(\s*load_module\s+)\S+;}{$1$module;}m;
        $conf = "$text$globals" . "events {}\nhttp {\n"
                . $t->globals_http . "}\n";

    } else {
        $conf = "load_module $module;\n$globals"
                . "events {}\nhttp {\n" . $t->globals_http
                . "otp_secret_file $key;\n"
                . "server {\nlisten 127.0.0.1:" . $t->port . ";\n"
                . "$text\n}\n}\n";
    }

    my $file = $t->write_file("readme-$line.conf", $conf);
    my ($rc, $out) = $t->nginx_test($file);
    is($rc, 0, "README.md line $line: nginx -t passes")
        or diag("$out\n$conf");
}

done_testing();
