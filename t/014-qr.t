#!/usr/bin/perl

# QR codes: runs the TAP checks of t/unit/test_qr.c, then renders the SVG
# of a few otpauth:// URIs to PNG (rsvg-convert) and reads each back with
# a real scanner (zbarimg): what the phone sees must be the exact input.

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempdir);
use Test::More;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";
my $dir = $ENV{OTP_UNIT_DIR} // "$top/build/distro/unit";
my $bin = "$dir/test_qr";

if (!-x $bin && !defined $ENV{OTP_UNIT_DIR}) {
    plan skip_all => "$bin is not built (make unit)";
}

for my $tool (qw(rsvg-convert zbarimg)) {
    my $found = grep { -x "$_/$tool" } split /:/, $ENV{PATH};
    BAIL_OUT("$tool is missing (make deps)") unless $found;
}

# runs a command without a shell and returns its exit status and stdout;
# stderr is dropped for the external tools (zbarimg complains about D-Bus
# on machines without one), kept for ours (sanitizer reports)
sub run {
    my @cmd = @_;

    my $pid = open(my $fh, '-|') // die "fork: $!\n";

    if ($pid == 0) {
        open(STDERR, '>', '/dev/null') if $cmd[0] ne $bin;
        exec @cmd or exit 127;
    }

    local $/;
    my $out = <$fh>;
    close $fh;

    return ($? >> 8, $out // '');
}

sub escape {
    my ($s) = @_;
    utf8::encode($s) if utf8::is_utf8($s);
    $s =~ s/([^A-Za-z0-9\-._~])/sprintf('%%%02X', ord $1)/ge;
    return $s;
}

sub base32 {
    my ($bytes) = @_;
    my $bits = unpack('B*', $bytes);
    $bits .= '0' x ((5 - length($bits) % 5) % 5);
    return join '', map { ('A' .. 'Z', 2 .. 7)[oct "0b$_"] }
        $bits =~ /(.{5})/g;
}

# the TAP part of the C program first

subtest 'test_qr structure checks' => sub {
    my ($rc, $out) = run($bin);
    is($rc, 0, 'test_qr exits 0');
    unlike($out, qr/^not ok/m, 'no failed checks') or diag($out);
    like($out, qr/^1\.\.\d+$/m, 'a plan was printed');
};

my $issuer = "Z\x{fc}rich & Co / Ops?=+%:#";
my $account = "\x{65e5}\x{672c} user:alice\@example.com";
my $secret64 = join '', map { chr(($_ * 37 + 11) % 256) } 0 .. 63;

my @texts = (
    'otpauth://totp/Example:alice%40example.com'
        . '?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example'
        . '&algorithm=SHA1&digits=6&period=30',

    'otpauth://totp/' . escape($issuer) . ':' . escape($account)
        . '?secret=' . base32($secret64) . '&issuer=' . escape($issuer)
        . '&algorithm=SHA512&digits=8&period=60',

    'otpauth://hotp/' . escape($issuer x 4) . ':' . escape($account x 4)
        . '?secret=' . base32($secret64) . '&issuer=' . escape($issuer x 4)
        . '&algorithm=SHA256&digits=8&counter=18446744073709551615',

    'x',
);

my $tmp = tempdir(CLEANUP => 1);
my $n = 0;

for my $text (@texts) {
    $n++;

    my ($rc, $svg) = run($bin, $text);
    is($rc, 0, "uri $n: svg made (" . length($text) . ' bytes of text)');

    my @paths = $svg =~ /<path/g;
    is(scalar @paths, 1, "uri $n: one path");
    like($svg, qr/viewBox="0 0 (\d+) \1"/, "uri $n: square viewBox");

    open(my $fh, '>', "$tmp/$n.svg") or die "$tmp/$n.svg: $!\n";
    print $fh $svg;
    close $fh;

    ($rc) = run('rsvg-convert', '-w', '400', '-o', "$tmp/$n.png",
                "$tmp/$n.svg");
    is($rc, 0, "uri $n: rendered to png");

    my $read;
    ($rc, $read) = run('zbarimg', '--raw', '-q', "$tmp/$n.png");
    $read =~ s/\n\z//;
    is($rc, 0, "uri $n: zbarimg found a code");
    is($read, $text, "uri $n: scanned text is the exact input");
}

done_testing();
