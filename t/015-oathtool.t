#!/usr/bin/perl

# Codes from our HOTP/TOTP (t/unit/test_hotp.c in "batch" mode) against
# two independent implementations: oathtool (liboath) for random keys,
# times, periods, digits and algorithms, and Perl's Authen::OATH.
#
# OTP_SEED=<n> repeats a run; OTP_OATH_CASES=<n> changes the number of
# random oathtool cases (1000 by default).

use strict;
use warnings;

use FindBin;
use File::Temp qw(tempfile);
use Test::More;

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";
my $dir = $ENV{OTP_UNIT_DIR} // "$top/build/distro/unit";
my $bin = "$dir/test_hotp";

if (!-x $bin && !defined $ENV{OTP_UNIT_DIR}) {
    plan skip_all => "$bin is not built (make unit)";
}

my $have_oathtool = grep { -x "$_/oathtool" } split /:/, $ENV{PATH};
BAIL_OUT('oathtool is missing (make deps)') unless $have_oathtool;

my $have_oath = eval { require Authen::OATH; require Digest::SHA; 1 };
BAIL_OUT('Authen::OATH is missing (make deps)') unless $have_oath;

my $seed = $ENV{OTP_SEED} // (time() ^ $$);
my $ncases = $ENV{OTP_OATH_CASES} // 1000;
srand($seed);
note("OTP_SEED=$seed");

# output of a command run without a shell, stderr kept
sub run {
    my @cmd = @_;

    open(my $fh, '-|', @cmd) or die "$cmd[0]: $!\n";
    local $/;
    my $out = <$fh>;
    close $fh;

    die "@cmd: exit status " . ($? >> 8) . "\n" if $?;

    return $out // '';
}

sub random_hex {
    my ($len) = @_;
    return join '', map { sprintf '%02x', int rand 256 } 1 .. $len;
}

sub pick {
    return $_[int rand @_];
}

# our codes for many cases in one run of the C program
sub ours {
    my @lines = @_;

    my ($fh, $file) = tempfile(UNLINK => 1);
    print $fh map { "$_\n" } @lines;
    close $fh;

    my $out = run('sh', '-c', 'exec "$0" batch < "$1"', $bin, $file);
    my @codes = split /\n/, $out;

    is(scalar @codes, scalar @lines, 'one code per case');

    return @codes;
}

# random TOTP cases against oathtool

my @cases;

for my $i (1 .. $ncases) {
    my $alg = pick(qw(sha1 sha256 sha512));

    # mostly the recommended key length, sometimes any other
    my $len = rand() < 0.8 ? pick(20, 32, 64) : 1 + int rand 100;

    my $time = pick(
        int(rand(2**31)),
        int(rand(2**34)),
        int(rand(2**20)),
        0, 59, 2**31 - 1, 2**31, 2**32 + 7,
    );

    push @cases, {
        key    => random_hex($len),
        alg    => $alg,
        digits => pick(6, 7, 8),
        period => pick(30, 30, 60, 10, 1, 15, 90, 120, 3600),
        time   => $time,
    };
}

my @ours = ours(map {
    "totp $_->{key} $_->{alg} $_->{digits} $_->{period} $_->{time}"
} @cases);

my $fail = 0;

for my $i (0 .. $#cases) {
    my $c = $cases[$i];

    my $want = run('oathtool', '--totp=' . uc $c->{alg},
                   '--digits=' . $c->{digits},
                   '--time-step-size=' . $c->{period} . 's',
                   '--now=@' . $c->{time}, $c->{key});
    chomp $want;

    my $got = $ours[$i] // '(none)';

    next if $got eq $want;

    $fail++;
    diag("$c->{alg} digits=$c->{digits} period=$c->{period}"
         . " time=$c->{time} key=$c->{key}: ours $got, oathtool $want");
}

is($fail, 0, "$ncases random TOTP cases agree with oathtool");

# HOTP against oathtool (it knows SHA1 only for HOTP)

@cases = ();

for my $i (1 .. 50) {
    push @cases, {
        key     => random_hex(pick(20, 32, 64, 16)),
        digits  => pick(6, 7, 8),
        counter => pick(int rand 1000, int rand 2**40, 0),
    };
}

@ours = ours(map {
    "hotp $_->{key} sha1 $_->{digits} $_->{counter}"
} @cases);

$fail = 0;

for my $i (0 .. $#cases) {
    my $c = $cases[$i];

    my $want = run('oathtool', '--hotp', '--digits=' . $c->{digits},
                   '--counter=' . $c->{counter}, $c->{key});
    chomp $want;

    my $got = $ours[$i] // '(none)';

    next if $got eq $want;

    $fail++;
    diag("hotp digits=$c->{digits} counter=$c->{counter} key=$c->{key}:"
         . " ours $got, oathtool $want");
}

is($fail, 0, scalar(@cases) . ' random HOTP cases agree with oathtool');

# Authen::OATH: SHA1, and SHA256 through a hasher class that Digest::HMAC
# can call new() on.  Its HMAC assumes a 64-byte block, so SHA512 (128)
# cannot be checked with it.

{
    package OTPTest::SHA256;

    sub new { return Digest::SHA->new(256) }
}

@cases = ();

# the RFC 4226 counters first, then random ones
for my $counter (0 .. 9) {
    push @cases, {
        key     => unpack('H*', '12345678901234567890'),
        alg     => 'sha1',
        digits  => 6,
        counter => $counter,
    };
}

for my $i (1 .. 200) {
    my $alg = pick(qw(sha1 sha256));

    push @cases, {
        key     => random_hex($alg eq 'sha1' ? 20 : 32),
        alg     => $alg,
        digits  => pick(6, 8, 10),
        counter => pick(int rand 2**20, int rand 2**40),
    };
}

@ours = ours(map {
    "hotp $_->{key} $_->{alg} $_->{digits} $_->{counter}"
} @cases);

$fail = 0;

for my $i (0 .. $#cases) {
    my $c = $cases[$i];

    my $oath = Authen::OATH->new(
        digits => $c->{digits},
        digest => $c->{alg} eq 'sha1' ? 'Digest::SHA' : 'OTPTest::SHA256',
    );

    # 10 digits come back unpadded from Authen::OATH
    my $want = $oath->hotp(pack('H*', $c->{key}), $c->{counter});
    $want = sprintf('%010d', $want) if $c->{digits} == 10;

    my $got = $ours[$i] // '(none)';

    next if $got eq $want;

    $fail++;
    diag("$c->{alg} digits=$c->{digits} counter=$c->{counter}"
         . " key=$c->{key}: ours $got, Authen::OATH $want");
}

is($fail, 0, scalar(@cases) . ' HOTP cases agree with Authen::OATH');

# and TOTP through Authen::OATH's own step arithmetic

@cases = ();

for my $i (1 .. 100) {
    my $alg = pick(qw(sha1 sha256));

    push @cases, {
        key    => random_hex($alg eq 'sha1' ? 20 : 32),
        alg    => $alg,
        digits => pick(6, 8),
        period => pick(30, 60),
        time   => 1 + int rand 2**32,
    };
}

@ours = ours(map {
    "totp $_->{key} $_->{alg} $_->{digits} $_->{period} $_->{time}"
} @cases);

$fail = 0;

for my $i (0 .. $#cases) {
    my $c = $cases[$i];

    my $oath = Authen::OATH->new(
        digits   => $c->{digits},
        timestep => $c->{period},
        digest   => $c->{alg} eq 'sha1' ? 'Digest::SHA' : 'OTPTest::SHA256',
    );

    my $want = $oath->totp(pack('H*', $c->{key}), $c->{time});
    my $got = $ours[$i] // '(none)';

    next if $got eq $want;

    $fail++;
    diag("$c->{alg} digits=$c->{digits} period=$c->{period}"
         . " time=$c->{time} key=$c->{key}: ours $got, Authen::OATH $want");
}

is($fail, 0, scalar(@cases) . ' TOTP cases agree with Authen::OATH');

done_testing();
