package OtpTest;

# Test harness: a real redis-server and the real nginx binary with the
# built module, each in a private temporary directory on loopback ports,
# stopped even when a test dies.  In the style of nginx-tests: a test
# writes its own nginx.conf, starts things and talks HTTP to them.

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use File::Temp qw(tempdir);
use IO::Socket::INET;
use POSIX qw(WNOHANG);
use Time::HiRes qw(sleep time);
use HTTP::Tiny;
use Test::More;

our @EXPORT_OK = qw(free_port);

my @instances;

sub new {
    my ($class, %opts) = @_;

    my $dir = tempdir('otp-test-XXXXXX', TMPDIR => 1,
                      CLEANUP => !$ENV{OTP_KEEP});
    chmod 0755, $dir;

    my $top = $ENV{OTP_TOP} || do {
        require Cwd;
        Cwd::getcwd();
    };

    my $self = bless {
        dir        => $dir,
        top        => $top,
        nginx      => $ENV{OTP_NGINX} || '/usr/sbin/nginx',
        module     => $ENV{OTP_MODULE} || "$top/build/ngx_http_otp_module.so",
        port       => free_port(),
        pids       => {},
        %opts,
    }, $class;

    diag("test directory kept: $dir") if $ENV{OTP_KEEP};
    push @instances, $self;
    return $self;
}

sub dir  { $_[0]{dir} }
sub top  { $_[0]{top} }
sub port { $_[0]{port} }

# A port nothing listens on now, and never one handed out before in this
# process: the kernel may offer a closed port again, and two servers of
# one test on one port make nginx give up binding after it has started.
my %ports_given;

sub free_port {
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(
            LocalAddr => '127.0.0.1',
            LocalPort => 0,
            Proto     => 'tcp',
            ReuseAddr => 1,
            Listen    => 1,
        ) or croak "no free port: $!";
        my $port = $s->sockport;
        close $s;
        return $port unless $ports_given{$port}++;
    }
    croak 'no free port that was not handed out before';
}

sub write_file {
    my ($self, $name, $content, $mode) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '>', $path or croak "$path: $!";
    binmode $fh;
    print $fh $content;
    close $fh;
    chmod $mode, $path if defined $mode;
    return $path;
}

sub read_file {
    my ($self, $name) = @_;
    my $path = $name =~ m{^/} ? $name : "$self->{dir}/$name";
    open my $fh, '<', $path or return '';
    binmode $fh;
    local $/;
    my $content = <$fh>;
    close $fh;
    return $content;
}

# A key file of random bytes, private to its owner.
sub secret_file {
    my ($self, %opts) = @_;
    my $name = $opts{name} || 'otp.key';
    my $len = $opts{len} || 32;
    my $bytes = '';
    open my $r, '<', '/dev/urandom' or croak "urandom: $!";
    read $r, $bytes, $len;
    close $r;
    return $self->write_file($name, $bytes, $opts{mode} // 0600);
}

# The directory site/ in the test directory with an index.html of
# "private page\n": what the gated locations of most tests serve.
sub private_site {
    my ($self) = @_;
    mkdir "$self->{dir}/site";
    return $self->write_file('site/index.html', "private page\n", 0644);
}

# ---------------------------------------------------------------- redis

sub run_redis {
    my ($self, %opts) = @_;

    $self->{redis_port} = $opts{port} || free_port();
    my @args = (
        '--port', $self->{redis_port},
        '--bind', '127.0.0.1',
        '--save', '',
        '--appendonly', 'no',
        '--dir', $self->{dir},
        '--logfile', "$self->{dir}/redis.log",
        '--enable-debug-command', 'local',
    );
    push @args, '--requirepass', $opts{password} if defined $opts{password};
    push @args, @{ $opts{args} } if $opts{args};
    if ($opts{unix}) {
        $self->{redis_unix} = "$self->{dir}/redis.sock";
        push @args, '--unixsocket', $self->{redis_unix},
                    '--unixsocketperm', '777';
    }
    $self->{redis_password} = $opts{password};

    $self->{pids}{redis} = $self->spawn('redis-server', @args);
    $self->wait_port($self->{redis_port})
        or croak "redis-server did not start: " . $self->read_file('redis.log');
    return $self;
}

sub redis_port { $_[0]{redis_port} }

# Waits until the module's workers have (re)connected: as many clients as
# workers (besides this one), and the module's scripts loaded.
sub wait_redis_ready {
    my ($self, %o) = @_;
    my $workers = $o{workers} || 1;
    my $deadline = time + ($o{seconds} || 10);

    require Digest::SHA;
    my @sha = map { Digest::SHA::sha1_hex($self->script($_)) }
              $self->scripts;

    while (time < $deadline) {
        my $ok = eval {
            my $info = $self->redis('INFO', 'clients');
            my ($n) = $info =~ /connected_clients:(\d+)/;
            my $exists = $self->redis('SCRIPT', 'EXISTS', @sha);
            $n && $n >= $workers + 1 && !grep { !$_ } @$exists;
        };
        if ($ok) {
            # the workers read the last handshake reply in a moment
            sleep 0.2;
            return 1;
        }
        sleep 0.05;
    }
    return 0;
}

# The names of the store's scripts: src/lua/*.lua but the pieces they
# include (_*.lua), which src/embed.sh does not embed on their own.
sub scripts {
    my ($self) = @_;
    return map { m{/([^/_][^/]*)\.lua$} ? $1 : () }
           sort glob "$self->{top}/src/lua/*.lua";
}

# src/lua/<name>.lua as the module embeds it: src/embed.sh -t expands its
# "-- include:" lines the way the build does, so the tests load exactly
# the text the module loads.
sub script {
    my ($self, $name) = @_;
    my $file = "$self->{top}/src/lua/$name.lua";

    open my $fh, '-|', 'sh', "$self->{top}/src/embed.sh", '-t', $file
        or croak "embed.sh: $!";
    binmode $fh;
    local $/;
    my $text = <$fh> // '';
    close $fh or croak "embed.sh -t $file failed";
    return $text;
}

# SCRIPT LOAD of each named script, one test each; the hashes by name.
sub load_scripts {
    my ($self, @names) = @_;
    my %sha;
    for my $name (@names) {
        my $text = $self->script($name);
        BAIL_OUT("src/lua/$name.lua is missing or empty") if $text eq '';
        my $sha = $self->redis('SCRIPT', 'LOAD', $text);
        like($sha, qr/^[0-9a-f]{40}$/, "$name.lua loads") or diag($sha);
        $sha{$name} = $sha;
    }
    return %sha;
}

sub redis_addr { "127.0.0.1:$_[0]{redis_port}" }

# One command over a fresh connection, RESP encoded; returns the reply
# (arrays as array refs, errors as "ERR ..." strings prefixed with "-").
# Keys that never expire, but the user records and the store's marker,
# which live for ever by design (SPEC 6.21).
sub keys_without_ttl {
    my ($self) = @_;
    return grep { !/\}:u$|\{~\}:store$/ && $self->redis('TTL', $_) < 0 }
           @{ $self->redis('KEYS', '*') };
}

sub redis {
    my ($self, @cmd) = @_;
    my $s = IO::Socket::INET->new(
        PeerAddr => '127.0.0.1',
        PeerPort => $self->{redis_port},
        Timeout  => 5,
    ) or croak "redis connect: $!";
    binmode $s;
    if (defined $self->{redis_password}) {
        print $s _resp('AUTH', $self->{redis_password});
        _resp_read($s);
    }
    print $s _resp(@cmd);
    my $reply = _resp_read($s);
    close $s;
    return $reply;
}

sub _resp {
    my @a = @_;
    my $out = '*' . scalar(@a) . "\r\n";
    $out .= '$' . length($_) . "\r\n$_\r\n" for @a;
    return $out;
}

sub _resp_read {
    my ($s) = @_;
    my $line = <$s>;
    croak 'redis: connection closed' unless defined $line;
    $line =~ s/\r\n$//;
    my ($type, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $type eq '+' || $type eq ':';
    return "-$rest" if $type eq '-';
    if ($type eq '$') {
        return undef if $rest < 0;
        my $buf = '';
        while (length($buf) < $rest + 2) {
            my $n = read($s, $buf, $rest + 2 - length($buf), length($buf));
            croak 'redis: short read' unless $n;
        }
        return substr($buf, 0, $rest);
    }
    if ($type eq '*') {
        return undef if $rest < 0;
        return [ map { _resp_read($s) } 1 .. $rest ];
    }
    croak "redis: bad reply '$line'";
}

sub stop_redis {
    my ($self, $signal) = @_;
    $self->stop_process('redis', $signal || 'TERM');
}

sub signal_redis {
    my ($self, $signal) = @_;
    kill $signal, $self->{pids}{redis};
}

# ---------------------------------------------------------------- nginx

sub globals {
    my ($self) = @_;
    my $d = $self->{dir};
    return <<"EOF";
load_module $self->{module};
daemon off;
pid $d/nginx.pid;
error_log $d/error.log info;
EOF
}

sub globals_http {
    my ($self) = @_;
    my $d = $self->{dir};
    return <<"EOF";
access_log off;
client_body_temp_path $d/client_body_temp;
proxy_temp_path $d/proxy_temp;
fastcgi_temp_path $d/fastcgi_temp;
uwsgi_temp_path $d/uwsgi_temp;
scgi_temp_path $d/scgi_temp;
EOF
}

# Placeholders: %%TEST_GLOBALS%%, %%TEST_GLOBALS_HTTP%%, %%PORT%%,
# %%REDIS%% (host:port), %%REDIS_PORT%%, %%DIR%%, %%TOP%%.
sub write_conf {
    my ($self, $conf, $name) = @_;
    $name ||= 'nginx.conf';
    my %v = (
        TEST_GLOBALS      => $self->globals,
        TEST_GLOBALS_HTTP => $self->globals_http,
        PORT              => $self->{port},
        REDIS             => $self->{redis_port}
                             ? $self->redis_addr : '127.0.0.1:1',
        REDIS_PORT        => $self->{redis_port} || 1,
        DIR               => $self->{dir},
        TOP               => $self->{top},
    );
    $conf =~ s/%%([A-Z_]+)%%/exists $v{$1} ? $v{$1} : croak "no %%$1%%"/ge;
    $self->write_file($name, $conf);
    return "$self->{dir}/$name";
}

# The locations of a site behind the gate, as the tests of the pages
# use it: the first factor from htpasswd in the test directory, /_pid
# (the worker's pid, for sorting connections by worker), the endpoint
# at /_otp/ and the gated /private/ (site/) telling $otp_method and
# $otp_status.
sub site_locations {
    return <<'EOF';
auth_basic "test";
auth_basic_user_file %%DIR%%/htpasswd;

location = /_pid {
    auth_basic off;
    return 200 "$pid";
}

location /_otp/ {
    otp_endpoint;
    add_header X-Worker $pid always;
}

location /private/ {
    otp on;
    alias %%DIR%%/site/;
    add_header X-OTP-Method $otp_method always;
    add_header X-OTP-Status $otp_status always;
}
EOF
}

# The admin API at /_otp_admin/ and the status at /_otp_status, with
# no first factor.
sub admin_locations {
    return <<'EOF';
location /_otp_admin/ {
    auth_basic off;
    otp_admin;
}

location = /_otp_status {
    auth_basic off;
    otp_status;
}
EOF
}

# The nginx.conf of a test with one site, as most page tests have it: a
# new key, the private page, and one server on the test's port with
# site_locations; $o{http} has more lines for the http block.  Returns
# the key file.
sub write_site_conf {
    my ($self, %o) = @_;
    my $key = $self->secret_file;
    $self->private_site;
    $self->write_conf(servers_conf(key => $key, http => $o{http},
                                   servers => [ [ '%%PORT%%',
                                                  site_locations() ] ]));
    return $key;
}

# The text of an nginx.conf (for write_conf) with several servers in one
# http block: workers (1), key (otp_secret_file), http (more lines of
# the http block), servers ([ [listen, its own lines], ... ]) and
# common (the lines every server ends with).  The module talks to this
# test's Redis.
sub servers_conf {
    my (%o) = @_;
    my $indent = sub {
        my ($text, $n) = @_;
        my $pad = ' ' x $n;
        my $depth = 0;
        my $out = '';
        for my $line (split /\n/, $text // '') {
            $line =~ s/^\s+//;
            if ($line eq '') {
                $out .= "\n";
                next;
            }
            $depth-- if $line =~ /^}/;
            $out .= $pad . ('    ' x $depth) . "$line\n";
            $depth++ if $line =~ /{\s*$/;
        }
        return $out;
    };
    my $conf = $indent->($o{http}, 4);
    for my $srv (@{ $o{servers} }) {
        my ($listen, $lines) = @$srv;
        $conf .= "\n    server {\n"
               . "        listen 127.0.0.1:$listen;\n"
               . $indent->($lines, 8)
               . $indent->($o{common}, 8)
               . "    }\n";
    }
    return http_conf($conf, %o);
}

# The text of an nginx.conf (for write_conf) of one http block: the
# test's globals, workers (1), key (otp_secret_file, if given), this
# test's Redis (unless redis => 0), then $body (the rest of the block,
# indented as it stands in it).
sub http_conf {
    my ($body, %o) = @_;
    return "%%TEST_GLOBALS%%\n"
         . ($o{workers} ? "worker_processes $o{workers};\n" : '')
         . "events {}\n"
         . "http {\n"
         . "    %%TEST_GLOBALS_HTTP%%\n"
         . (defined $o{key} ? "    otp_secret_file $o{key};\n" : '')
         . (($o{redis} // 1) ? "    otp_redis %%REDIS%%;\n" : '')
         . $body
         . "}\n";
}

sub _nginx_env {
    my ($self) = @_;
    my %env;
    if ($ENV{OTP_SANITIZE} && $self->{nginx} eq '/usr/sbin/nginx') {
        # an instrumented module in the stock binary needs the runtimes
        # loaded first
        my @libs = map {
            my $p = `gcc -print-file-name=$_`;
            chomp $p;
            $p;
        } qw(libasan.so libubsan.so);
        $env{LD_PRELOAD} = join ':', @libs;
    }
    if ($ENV{OTP_SANITIZE}) {
        $env{ASAN_OPTIONS} = 'detect_leaks=0:abort_on_error=0';
        $env{UBSAN_OPTIONS} = 'print_stacktrace=1';
    }
    return %env;
}

# nginx -t on a config file; returns (exit status, output).
sub nginx_test {
    my ($self, $conf) = @_;
    $conf ||= "$self->{dir}/nginx.conf";
    my %env = $self->_nginx_env;
    local @ENV{keys %env} = values %env;
    my $out = `$self->{nginx} -t -p $self->{dir}/ -c $conf -e $self->{dir}/error.log 2>&1`;
    return ($? >> 8, $out);
}

sub run_nginx {
    my ($self, %opts) = @_;
    my $conf = $opts{conf} || "$self->{dir}/nginx.conf";
    my %env = $self->_nginx_env;
    local @ENV{keys %env} = values %env;

    # OTP_VALGRIND=1: every nginx process under memcheck, checked at stop
    my @valgrind;
    if ($ENV{OTP_VALGRIND}) {
        @valgrind = ('valgrind', '--quiet', '--vgdb=no', '--trace-children=yes',
                     '--child-silent-after-fork=no', '--num-callers=30',
                     "--log-file=$self->{dir}/valgrind.%p.log");
    }

    $self->{pids}{nginx} = $self->spawn(
        @valgrind,
        $self->{nginx}, '-p', "$self->{dir}/", '-c', $conf,
        '-e', "$self->{dir}/error.log",
    );
    my $wait = $ENV{OTP_VALGRIND} ? 60 : 10;
    unless ($self->wait_port($self->{port}, $wait)
            && $self->_wait_pid_file($conf, $wait)
            && $self->_wait_workers($conf, $wait))
    {
        croak "nginx did not start:\n" . $self->read_file('error.log')
            . $self->read_file('stderr.log');
    }
    return $self;
}

# nginx writes its pid file once every listening socket is bound: a port
# that answers may be the first of several, with a later one failing
sub _wait_pid_file {
    my ($self, $conf, $seconds) = @_;
    my ($pid_file) = $self->read_file($conf) =~ /^\s*pid\s+([^\s;]+)\s*;/m
        or return 1;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        return 1 if -s $pid_file;
        return 0 if waitpid($self->{pids}{nginx}, WNOHANG) > 0;
        sleep 0.05;
    }
    return 0;
}

# the master has forked its worker_processes workers (1 if not set), so
# that a test looking at them right away sees them all; under valgrind a
# worker's title is not in its /proc cmdline, so there is nothing to see
sub _wait_workers {
    my ($self, $conf, $seconds) = @_;
    return 1 if $ENV{OTP_VALGRIND};
    my ($n) = $self->read_file($conf)
              =~ /^\s*worker_processes\s+(\d+)\s*;/m;
    $n //= 1;
    my $deadline = time + $seconds;
    while (time < $deadline) {
        my @workers = $self->worker_pids;
        return 1 if @workers >= $n;
        return 0 if waitpid($self->{pids}{nginx}, WNOHANG) > 0;
        sleep 0.02;
    }
    return 0;
}

# the pids of the nginx master's worker processes, in order
sub worker_pids {
    my ($self) = @_;
    my $master = $self->{pids}{nginx} or return ();
    my @pids;

    opendir my $d, '/proc' or return ();
    for my $pid (grep { /^\d+$/ } readdir $d) {
        open my $fh, '<', "/proc/$pid/stat" or next;
        my $stat = <$fh>;
        close $fh;
        next unless $stat && $stat =~ /^\d+ \(.*\) \S (\d+)/;
        next unless $1 == $master;
        open my $cl, '<', "/proc/$pid/cmdline" or next;
        my $cmd = <$cl> // '';
        close $cl;
        push @pids, $pid if $cmd =~ /worker process/;
    }
    closedir $d;

    return sort { $a <=> $b } @pids;
}

sub reload_nginx {
    my ($self) = @_;
    kill 'HUP', $self->{pids}{nginx};
}

sub stop_nginx {
    my ($self) = @_;
    $self->stop_process('nginx', 'QUIT');
}

sub error_log { $_[0]->read_file('error.log') }

# ---------------------------------------------------------------- http

sub http {
    my ($self) = @_;
    $self->{http} ||= HTTP::Tiny->new(
        max_redirect => 0,
        timeout      => 10,
        keep_alive   => 0,
    );
    return $self->{http};
}

sub url {
    my ($self, $path) = @_;
    return "http://127.0.0.1:$self->{port}$path";
}

sub get {
    my ($self, $path, %headers) = @_;
    return $self->http->get($self->url($path), { headers => \%headers });
}

sub post_form {
    my ($self, $path, $form, %headers) = @_;
    return $self->http->post_form($self->url($path), $form,
                                  { headers => \%headers });
}

# ---------------------------------------------------------------- processes

sub spawn {
    my ($self, @cmd) = @_;
    my $pid = fork;
    croak "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDIN, '<', '/dev/null';
        open STDOUT, '>>', "$self->{dir}/stderr.log";
        open STDERR, '>>', "$self->{dir}/stderr.log";
        exec @cmd or POSIX::_exit(127);
    }
    return $pid;
}

sub wait_port {
    my ($self, $port, $seconds) = @_;
    my $deadline = time + ($seconds || 10);
    while (time < $deadline) {
        my $s = IO::Socket::INET->new(
            PeerAddr => '127.0.0.1',
            PeerPort => $port,
            Timeout  => 1,
        );
        if ($s) {
            close $s;
            return 1;
        }
        sleep 0.05;
    }
    return 0;
}

sub stop_process {
    my ($self, $name, $signal) = @_;
    my $pid = delete $self->{pids}{$name} or return;
    kill 'CONT', $pid;
    kill $signal, $pid;
    my $deadline = time + 10;
    while (time < $deadline) {
        return 1 if waitpid($pid, WNOHANG) == $pid;
        sleep 0.05;
    }
    kill 'KILL', $pid;
    waitpid($pid, 0);
    return 0;
}

# Stops everything and checks the logs for what must never be there:
# alerts, crashes and sanitizer reports.
sub stop {
    my ($self) = @_;
    my $stopped = $self->stop_nginx // 1;
    $self->stop_redis;

    my $log = $self->error_log . $self->read_file('stderr.log');
    unlike($log, qr/\[(alert|emerg)\]/, 'no alert in error log');
    unlike($log, qr/AddressSanitizer|LeakSanitizer|runtime error:/,
           'no sanitizer report');
    unlike($log, qr/exited on signal/, 'no worker crashed');
    ok($stopped, 'nginx stopped gracefully');

    if ($ENV{OTP_VALGRIND}) {
        my $errors = '';
        for my $f (glob "$self->{dir}/valgrind.*.log") {
            my $v = $self->read_file($f);
            # memcheck's own reports: invalid reads and writes, use of
            # uninitialised values, bad frees
            $errors .= $v if $v =~ /^==\d+== (Invalid|Conditional|Use of |Mismatched|Syscall param)/m;
        }
        is($errors, '', 'valgrind: no memory errors');
    }
}

END {
    for my $t (@instances) {
        for my $name (keys %{ $t->{pids} }) {
            my $pid = $t->{pids}{$name};
            kill 'CONT', $pid;
            kill 'KILL', $pid;
            waitpid($pid, 0);
        }
    }
}

1;
