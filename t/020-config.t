#!/usr/bin/perl

# nginx -t with the module loaded: a good configuration passes, each
# invalid value fails with a message that names its directive.

use strict;
use warnings;

use Test::More;
use OtpTest;

my $t = OtpTest->new;
my $key = $t->secret_file;

sub conf {
    my (%o) = @_;
    my $http = $o{http} // '';
    my $loc = $o{location} // '';
    my $secret = exists $o{secret} ? $o{secret} : "otp_secret_file $key;";
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    $secret
    $http
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file htpasswd;
        location / {
            otp on;
            $loc
        }
    }
}
EOF
}

sub nginx_t {
    my (%o) = @_;
    $t->write_conf(conf(%o), 'test.conf');
    return $t->nginx_test($t->dir . '/test.conf');
}

# good configurations

my ($rc, $out) = nginx_t();
is($rc, 0, 'minimal configuration passes') or diag($out);

($rc, $out) = nginx_t(
    http => 'otp_redis 127.0.0.1:6380 db=3 prefix=gate: '
            . 'connect_timeout=250ms timeout=2s;',
    location => 'otp_user $http_x_user; otp_totp_digits 8; '
                . 'otp_totp_period 60s; otp_totp_algorithm sha512; '
                . 'otp_totp_skew 2; otp_hotp_window 20;',
);
is($rc, 0, 'every directive with a valid value passes') or diag($out);

($rc, $out) = nginx_t(http => 'otp_redis unix:/run/redis/redis.sock;');
is($rc, 0, 'unix socket address passes') or diag($out);

($rc, $out) = nginx_t(http => 'otp_redis localhost:6379;');
is($rc, 0, 'host name resolved at configuration time') or diag($out);

my $pw = $t->write_file('redis.pw', "s3cret\n", 0600);
($rc, $out) = nginx_t(http => "otp_redis 127.0.0.1 password_file=$pw;");
is($rc, 0, 'password_file passes') or diag($out);

($rc, $out) = nginx_t(secret => '', location => '');
like($out, qr/otp_secret_file/, 'otp on without otp_secret_file names it');
isnt($rc, 0, 'otp on without otp_secret_file fails');

# invalid values: [description, directive, http snippet, location snippet]

my @bad = (
    ['digits 7', 'otp_totp_digits', '', 'otp_totp_digits 7;'],
    ['digits not a number', 'otp_totp_digits', '', 'otp_totp_digits six;'],
    ['period 0', 'otp_totp_period', '', 'otp_totp_period 0;'],
    ['period 2h', 'otp_totp_period', '', 'otp_totp_period 2h;'],
    ['period garbage', 'otp_totp_period', '', 'otp_totp_period soon;'],
    ['algorithm md5', 'otp_totp_algorithm', '', 'otp_totp_algorithm md5;'],
    ['skew 11', 'otp_totp_skew', '', 'otp_totp_skew 11;'],
    ['skew negative', 'otp_totp_skew', '', 'otp_totp_skew -1;'],
    ['hotp window 1000', 'otp_hotp_window', '', 'otp_hotp_window 1000;'],
    ['otp maybe', 'otp', '', 'otp maybe;'],
    ['otp_fresh 0', 'otp_fresh', '', 'otp_fresh 0;'],
    ['otp_fresh soon', 'otp_fresh', 'otp_fresh soon;', ''],
    ['otp_user twice', 'otp_user', '', 'otp_user $a; otp_user $b;'],
    ['redis bad port', 'otp_redis', 'otp_redis 127.0.0.1:99999;', ''],
    ['redis unknown host', 'otp_redis',
        'otp_redis no-such-host.invalid:6379;', ''],
    ['redis path', 'otp_redis', 'otp_redis 127.0.0.1:6379/x;', ''],
    ['redis db', 'otp_redis', 'otp_redis 127.0.0.1 db=x;', ''],
    ['redis db too big', 'otp_redis', 'otp_redis 127.0.0.1 db=5000;', ''],
    ['redis timeout', 'otp_redis', 'otp_redis 127.0.0.1 timeout=0;', ''],
    ['redis connect_timeout', 'otp_redis',
        'otp_redis 127.0.0.1 connect_timeout=fast;', ''],
    ['redis prefix with space', 'otp_redis',
        'otp_redis 127.0.0.1 "prefix=a b";', ''],
    ['redis prefix with a hash tag', 'otp_redis',
        'otp_redis 127.0.0.1 "prefix=otp{x}:";', ''],
    ['redis unknown option', 'otp_redis', 'otp_redis 127.0.0.1 tls=on;', ''],
    ['redis two passwords', 'otp_redis',
        "otp_redis 127.0.0.1 password=a password_file=$pw;", ''],
    ['redis missing password file', 'otp_redis',
        'otp_redis 127.0.0.1 password_file=/nonexistent/pw;', ''],
    ['redis twice', 'otp_redis',
        'otp_redis 127.0.0.1; otp_redis 127.0.0.2;', ''],
    ['redis in location', 'otp_redis', '', 'otp_redis 127.0.0.1;'],
);

for my $case (@bad) {
    my ($name, $directive, $http, $loc) = @$case;
    ($rc, $out) = nginx_t(http => $http, location => $loc);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, qr/"\Q$directive\E"/, "$name: message names $directive")
        or diag($out);
}

# the Redis password never reaches the output, even when it is refused

($rc, $out) = nginx_t(
    http => "otp_redis 127.0.0.1 \"password=hunter2\x01\";",
);
isnt($rc, 0, 'password with a control character fails');
unlike($out, qr/hunter2/, 'refused password is not printed');

# the key file: missing, short, not private

my $short = $t->secret_file(name => 'short.key', len => 31);
my $open = $t->secret_file(name => 'open.key', mode => 0644);
my $group = $t->secret_file(name => 'group.key', mode => 0640);

for my $case (
    ['missing', $t->dir . '/none.key', qr/No such file/],
    ['31 bytes', $short, qr/31 bytes/],
    ['world-readable', $open, qr/group or others.*0644/],
    ['group-readable', $group, qr/group or others.*0640/],
    ['a directory', $t->dir, qr/not a regular file/],
)
{
    my ($name, $path, $why) = @$case;
    ($rc, $out) = nginx_t(secret => "otp_secret_file $path;");
    isnt($rc, 0, "key file $name: nginx -t fails");
    like($out, qr/"otp_secret_file"/, "key file $name: names the directive");
    like($out, $why, "key file $name: says why") or diag($out);
}

($rc, $out) = nginx_t(secret => "otp_secret_file $key; otp_secret_file $key;");
like($out, qr/"otp_secret_file" directive is duplicate/, 'key file twice');

done_testing();
