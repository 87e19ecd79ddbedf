#!/usr/bin/perl

# make demo: nginx with the module and a redis-server on 127.0.0.1:8080,
# using conf/demo.conf, until interrupted.

use strict;
use warnings;

use IO::Socket::INET;
use OtpTest;

my $port = $ENV{DEMO_PORT} || 8080;

# DEMO_LISTEN=0.0.0.0 makes the demo reachable from a phone
my $listen = $ENV{DEMO_LISTEN} || '127.0.0.1';

# a busy port: one clear line rather than nginx's bind errors
my $probe = IO::Socket::INET->new(LocalAddr => $listen, LocalPort => $port,
                                  Proto => 'tcp', Listen => 1,
                                  ReuseAddr => 1);
unless ($probe) {
    print STDERR "demo: port $port on $listen is in use ($!).\n"
        . "Run it on another port: make demo DEMO_PORT=8081\n";
    exit 1;
}
close $probe;

# the logs stay after Ctrl-C, for a look at what happened
$ENV{OTP_KEEP} = 1;

my $t = OtpTest->new(port => $port);

$t->secret_file;
$t->write_file('htpasswd', "alice:{PLAIN}alice\nbob:{PLAIN}bob\n", 0644);
mkdir $t->dir . '/www';
chmod 0755, $t->dir . '/www';
$t->write_file('www/index.html',
               "<!doctype html><meta name=viewport "
               . "content=\"width=device-width\"><title>demo</title>"
               . "<h1>The protected page</h1>"
               . "<p><a href=\"/_otp/logout\">Sign out</a></p>\n", 0644);

open my $fh, '<', "$t->{top}/conf/demo.conf" or die "conf/demo.conf: $!";
my $conf = do { local $/; <$fh> };
close $fh;

$conf =~ s/listen\s+127\.0\.0\.1:/listen       $listen:/;

# before anything runs: a Ctrl-C at any moment stops what did start
$SIG{INT} = $SIG{TERM} = sub {
    $t->stop_nginx;
    $t->stop_redis;
    print "\n  Stopped.  The logs are in @{[ $t->dir ]}\n";
    exit 0;
};

$t->run_redis;
$t->write_conf($conf);
$t->run_nginx;

print <<"MSG";

  ngx_http_otp_module demo

  open    http://127.0.0.1:$port/private/   (user alice, password alice)

  The first visit sets up an authenticator: scan the QR code with
  Google Authenticator, FreeOTP or Aegis (or type the key), then enter
  the code the app shows.  Later visits ask only for a code.  To reach
  the demo from a phone, run it with DEMO_LISTEN=0.0.0.0 and open the
  machine's address.

  Codes by SMS: sign in as bob (password bob), whose number the demo's
  "identity layer" knows, and press "Text me a code"; alice can add a
  number instead of an app ("Get codes by text message instead").
  The texts are not sent: they are written to

  sms     @{[ $t->dir ]}/sms.log      (tail -f it)
  logs    @{[ $t->dir ]}/error.log

  Ctrl-C stops nginx and redis; the logs stay in
  @{[ $t->dir ]}
  Another port: make demo DEMO_PORT=8081 (DEMO_LISTEN=0.0.0.0 for all
  addresses).

MSG


sleep 1 while 1;
