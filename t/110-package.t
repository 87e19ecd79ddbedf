#!/usr/bin/perl

# The Debian package and the example site it ships.
#
# Always: debian/changelog has the version of src/ngx_http_otp_version.h,
# and conf/site/otp-site.conf (ports, paths and Redis moved to the test's
# own) passes nginx -t and gates a request with the module under test.
#
# Where it can (root, Debian's nginx, dpkg-buildpackage, apt-get): make
# deb, the package's dependency on the nginx ABI and its files, lintian,
# then apt-get install into the machine's nginx, nginx -t, the system
# binary with its own -p and -c running the example site through the
# package's load snippet, and apt-get purge leaving nothing behind.  The
# machine's nginx service is never started, stopped or reloaded here.

use strict;
use warnings;

use Test::More;
use OtpTest;

my $t = OtpTest->new;
my $top = $t->{top};

# ---------------------------------------------------------------- version

my ($version) = $t->read_file("$top/src/ngx_http_otp_version.h")
                =~ /^#define\s+NGX_HTTP_OTP_VERSION\s+"([^"]+)"/m;
ok(defined $version, "src/ngx_http_otp_version.h: version $version")
    or BAIL_OUT('no NGX_HTTP_OTP_VERSION');

my ($changelog) = $t->read_file("$top/debian/changelog")
                  =~ /^libnginx-mod-http-otp \(([^)]+)\)/;
is($changelog, $version,
   'debian/changelog has the version of src/ngx_http_otp_version.h');

# ---------------------------------------------------------------- example

$t->secret_file;
$t->write_file('htpasswd', "alice:{PLAIN}alice\n", 0644);
mkdir $t->dir . '/www';
$t->write_file('www/index.html', "secret page\n", 0644);
$t->run_redis(unix => 1);

my $http_port = OtpTest::free_port();

# conf/site/otp-site.conf with the machine's paths, ports and Redis
# replaced by the test's; each replacement must find its line
sub example_site {
    my $conf = $t->read_file("$top/conf/site/otp-site.conf");
    my $d = $t->dir;
    my @edits = (
        [ 'the key file', qr{/etc/nginx/otp\.key}, sub { "$d/otp.key" } ],
        [ 'Redis', qr{^otp_redis\s+unix:/run/redis/redis-server\.sock;}m,
          sub { "otp_redis unix:$t->{redis_unix};" } ],
        [ 'the htpasswd file', qr{/etc/nginx/htpasswd},
          sub { "$d/htpasswd" } ],
        [ 'the root', qr{/var/www/html}, sub { "$d/www" } ],
        [ 'port 80', qr{^(\s*)listen\s+80;}m,
          sub { "$1listen 127.0.0.1:$http_port;" } ],
        [ 'port 443', qr{^(\s*)listen\s+443 ssl;}m,
          sub { "$1listen 127.0.0.1:$t->{port};" } ],
        [ 'IPv6', qr{^\s*listen\s+\[::\]:\d+[^;]*;\n}m, sub { '' } ],
        [ 'the certificate', qr{^\s*ssl_certificate\S*\s+[^;]+;\n}m,
          sub { '' } ],
    );
    for my $e (@edits) {
        my ($what, $re, $to) = @$e;
        my $n = $conf =~ s/$re/$to->()/ge;
        ok($n, "the example site: $what replaced") or diag($conf);
    }
    return $conf;
}

my $site = $t->write_file('otp-site.conf', example_site());

# the example site's answers: the gate, the pages, the open locations
sub check_site {
    my ($how) = @_;

    my $r = $t->get('/healthz');
    is($r->{status}, 200, "$how: otp off location: 200");

    $r = $t->get('/index.html');
    is($r->{status}, 401, "$how: no password: 401");

    $r = $t->get('/index.html', Authorization => 'Basic YWxpY2U6YWxpY2U=');
    is($r->{status}, 302, "$how: password alone: 302");
    like($r->{headers}{location} // '', qr{/_otp/(enroll|challenge)\?},
         "$how: ... to the module's pages");
    unlike($r->{content}, qr/secret page/, "$how: ... and not the page");

    $r = $t->get('/index.html', Authorization => 'Basic YWxpY2U6YWxpY2U=',
                 Accept => 'application/json');
    is($r->{status}, 401, "$how: password alone, an API call: 401");
    like($r->{headers}{'www-authenticate'} // '', qr/^OTP /,
         "$how: ... WWW-Authenticate: OTP");

    $r = $t->get('/_otp/enroll', Authorization => 'Basic YWxpY2U6YWxpY2U=');
    is($r->{status}, 200, "$how: the enrollment page");

    $r = $t->get('/otp_status');
    like($r->{content}, qr/^otp_build_info\{version="\Q$version\E"\} 1$/m,
         "$how: otp_status shows the version");

    $r = $t->http->get("http://127.0.0.1:$http_port/index.html");
    is($r->{status}, 301, "$how: plain HTTP: 301");
    like($r->{headers}{location} // '', qr{^https://},
         "$how: ... to HTTPS");
}

$t->write_conf(OtpTest::http_conf(<<"EOF", redis => 0));
    include $site;
EOF

my ($rc, $out) = $t->nginx_test;
is($rc, 0, 'the example site: nginx -t passes') or diag($out);

$t->run_nginx;
ok($t->wait_redis_ready, 'connected to Redis over its unix socket');
check_site('the example site');
$t->stop_nginx;

like($t->error_log, qr/\[notice\] .*otp module \Q$version\E/,
     "the version in the log at startup: otp module $version");

# ---------------------------------------------------------------- package

my $pkg = 'libnginx-mod-http-otp';
my $arch = `dpkg --print-architecture 2>/dev/null` // '';
chomp $arch;
my $deb = $ENV{OTP_DEB} || "$top/build/${pkg}_${version}_$arch.deb";
my $installed_here;

sub have {
    my ($bin) = @_;
    return grep { -x "$_/$bin" } split /:/, $ENV{PATH};
}

sub installed {
    my $s = `dpkg-query -W -f='\${Status}' $pkg 2>/dev/null` // '';
    return $s eq 'install ok installed';
}

sub run_log {
    my ($name, @cmd) = @_;
    my $log = $t->dir . "/$name.log";
    my $rc = system("@cmd >$log 2>&1");
    return ($rc, $t->read_file($log));
}

sub tail {
    my @l = split /\n/, $_[0];
    return join "\n", @l > 30 ? @l[-30 .. -1] : @l;
}

sub package_files {
    return grep { -e $_ || -l $_ }
           glob('/etc/nginx/modules-enabled/*mod-http-otp.conf*'),
           '/usr/lib/nginx/modules/ngx_http_otp_module.so',
           "/usr/share/nginx/modules-available/mod-http-otp.conf",
           "/usr/share/doc/$pkg";
}

SKIP: {
    my $why =
        ($ENV{OTP_NGINX} // '/usr/sbin/nginx') ne '/usr/sbin/nginx'
            ? 'the package is for Debian\'s nginx; this run uses '
              . $ENV{OTP_NGINX} . ' (make test runs it with /usr/sbin/nginx)'
        : $ENV{OTP_SANITIZE}
            ? 'a SANITIZE=1 run: the package is built with dpkg-buildflags'
              . ' and tested once, in the plain make test'
        : $> != 0 ? 'not root: installing a package needs root'
        : !-x '/usr/sbin/nginx' ? 'no Debian nginx (/usr/sbin/nginx)'
        : !have('apt-get') ? 'no apt-get'
        : !have('dpkg-buildpackage') ? 'no dpkg-buildpackage (make deps)'
        : !have('dh_nginx') ? 'no dh_nginx (nginx-dev)'
        : installed()
            ? "$pkg is installed on this machine: not touching it"
        : undef;
    skip $why, 1 if $why;

    # ------------------------------------------------------------ build

    my ($brc, $blog) = run_log('make-deb', 'make', '-C', $top,
                               '--no-print-directory', 'deb');
    is($brc, 0, 'make deb') or diag(tail($blog));
    ok(-f $deb, "built: $deb") or last;

    my ($abi) = $t->read_file('/usr/share/nginx/src/debian/'
                              . 'libnginx-mod.abisubstvars')
                =~ /^nginx:abi=(\S+)$/m;
    ok($abi, "nginx-dev's ABI: $abi");

    my $depends = `dpkg-deb -f $deb Depends`;
    like($depends, qr/(^|, )\Q$abi\E(,|$)/m,
         "the package depends on $abi") or diag($depends);
    like(`dpkg-query -W -f='\${Provides}' nginx`, qr/(^|, )\Q$abi\E(,|$)/,
         "the installed nginx provides $abi");
    like($depends, qr/libhiredis/, '... and on hiredis');

    my @files = map { m{^\S+\s+\S+\s+\d+\s+\S+\s+\S+\s+\.(/\S*)} ? $1 : () }
                split /\n/, `dpkg-deb -c $deb`;
    my %has = map { $_ => 1 } @files;
    for my $f ('/usr/lib/nginx/modules/ngx_http_otp_module.so',
               '/usr/share/nginx/modules-available/mod-http-otp.conf',
               "/usr/share/doc/$pkg/copyright",
               "/usr/share/doc/$pkg/README.md.gz",
               "/usr/share/doc/$pkg/examples/otp-site.conf",
               "/usr/share/doc/$pkg/examples/templates/challenge.html")
    {
        ok($has{$f}, "the package has $f");
    }
    my %parents = map { $_ => 1 }
                  qw(/ /usr/ /usr/lib/ /usr/lib/nginx/ /usr/share/
                     /usr/share/nginx/ /usr/share/doc/);
    my @stray = grep {
        !$parents{$_}
        && !m{^(/usr/lib/nginx/modules/|/usr/share/nginx/modules-available/
                |/usr/share/doc/\Q$pkg\E/)}x
    } @files;
    is("@stray", '', 'nothing else: no /etc, no service, no other path');

    my $ctl = $t->dir . '/control';
    system('dpkg-deb', '-e', $deb, $ctl) == 0 or die "dpkg-deb -e: $?";
    my $postinst = $t->read_file("$ctl/postinst");
    like($postinst, qr{ln -sf /usr/share/nginx/modules-available/\$from},
         'postinst enables the load snippet in modules-enabled');
    like($postinst, qr/dpkg-trigger --no-await nginx-reload/,
         '... and asks for nginx\'s reload trigger');
    unlike(join('', map { $t->read_file("$ctl/$_") }
                    qw(postinst prerm postrm)),
           qr/systemctl|invoke-rc\.d|service nginx|nginx -s/,
           'no maintainer script starts, stops or reloads nginx itself');

    SKIP: {
        skip 'lintian is not installed', 1 unless have('lintian');
        my ($lrc, $lint) = run_log('lintian', 'lintian', $deb);
        my @tags = grep { /^[EW]: / } split /\n/, $lint;
        is("@tags", '', 'lintian: no error, no warning') or diag($lint);
    }

    # ------------------------------------------------------------ install

    my ($irc, $ilog) = run_log('install',
        'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'install', '-y', '-q',
        '--no-install-recommends', '-o', 'DPkg::Lock::Timeout=300', $deb);
    $installed_here = 1;
    is($irc, 0, 'apt-get install ./' . ($deb =~ s{.*/}{}r))
        or diag(tail($ilog));
    ok(installed(), "$pkg is installed") or last;

    my $link = '/etc/nginx/modules-enabled/50-mod-http-otp.conf';
    is(readlink($link) // '',
       '/usr/share/nginx/modules-available/mod-http-otp.conf',
       "enabled: $link");
    like($t->read_file($link),
         qr{^load_module modules/ngx_http_otp_module\.so;$}m,
         '... loads modules/ngx_http_otp_module.so');

    # the machine's own configuration, with the module now loaded
    my $test = `/usr/sbin/nginx -t 2>&1`;
    is($?, 0, '/usr/sbin/nginx -t with the package enabled') or diag($test);

    # the example site again, the module loaded by the package's snippet
    my $d = $t->dir;
    $t->write_conf(<<"EOF", 'system.conf');
include /etc/nginx/modules-enabled/*.conf;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    include $site;
}
EOF
    unlink "$d/nginx.pid";

    # "load_module modules/..." is relative to the prefix, which is -p's
    symlink '/usr/lib/nginx/modules', "$d/modules"
        or die "symlink modules: $!";
    ($rc, $out) = $t->nginx_test("$d/system.conf");
    is($rc, 0, 'the example site through modules-enabled: nginx -t')
        or diag($out);

    $t->run_nginx(conf => "$d/system.conf");
    ok($t->wait_redis_ready, 'the packaged module connected to Redis');
    check_site('packaged');
    $t->stop_nginx;

    # ------------------------------------------------------------ purge

    my ($prc, $plog) = run_log('purge',
        'DEBIAN_FRONTEND=noninteractive', 'apt-get', 'purge', '-y', '-q',
        '-o', 'DPkg::Lock::Timeout=300', $pkg);
    is($prc, 0, "apt-get purge $pkg") or diag(tail($plog));
    $installed_here = 0 unless installed();
    ok(!installed(), "$pkg is gone");
    is(join(' ', package_files()), '',
       'nothing left in modules-enabled, modules, modules-available, doc');

    $test = `/usr/sbin/nginx -t 2>&1`;
    is($?, 0, '/usr/sbin/nginx -t without it') or diag($test);
}

$t->stop;

done_testing;

# a test that died between install and purge still removes the package
END {
    system("DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $pkg"
           . ' >/dev/null 2>&1')
        if $installed_here && installed();
}
