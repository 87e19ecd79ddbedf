#!/usr/bin/perl

# make demo: nginx with the module and a redis-server on 127.0.0.1:8080,
# using conf/demo.conf, until interrupted.

use strict;
use warnings;

use OtpTest;

my $port = $ENV{DEMO_PORT} || 8080;
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

# DEMO_LISTEN=0.0.0.0 makes the demo reachable from a phone
my $listen = $ENV{DEMO_LISTEN} || '127.0.0.1';
$conf =~ s/listen\s+127\.0\.0\.1:/listen       $listen:/;

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

  Ctrl-C stops nginx and redis.

MSG

$SIG{INT} = $SIG{TERM} = sub {
    $t->stop_nginx;
    $t->stop_redis;
    exit 0;
};

sleep 1 while 1;
