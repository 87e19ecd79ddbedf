#!/usr/bin/perl

# SPEC 5: the admin API names a user with one percent-encoded path
# segment, any bytes but NUL, so that every user the gate serves can be
# managed: "dept/carol" (%2F) and a Latin-1 name (%E9, not UTF-8), each
# enrolled through the pages, then shown, unlocked and signed out
# everywhere through the API.

use strict;
use warnings;

use Test::More;
use JSON::PP;

use OtpTest;
use OtpKeys;
use OtpFlow;

my $t = OtpTest->new;
my $key = $t->secret_file;

my %users = (
    'dept/carol' => 'dept%2Fcarol',
    "\xe9mile"   => '%E9mile',
);
$t->write_file('htpasswd',
               join('', map { "$_:{PLAIN}pw\n" } sort keys %users), 0644);
$t->private_site;

$t->run_redis;
$t->write_conf(OtpTest::http_conf(<<"EOF", key => $key));
    otp_session_recheck 0;

    server {
        listen 127.0.0.1:%%PORT%%;

        location /_otp_admin/ {
            allow 127.0.0.1;
            deny all;
            otp_admin;
        }

        location / {
            auth_basic "test";
            auth_basic_user_file %%DIR%%/htpasswd;

            location /_otp/ { otp_endpoint; }
            location /private/ { otp on; alias %%DIR%%/site/; }
        }
    }
EOF
$t->run_nginx;
$t->wait_redis_ready;

my $http = HTTP::Tiny->new(max_redirect => 0, timeout => 10);

sub admin {
    my ($method, $path) = @_;
    my $r = $http->request($method, $t->url("/_otp_admin/users/$path"));
    $r->{json} = eval { JSON::PP->new->decode($r->{content}) };
    return $r;
}

for my $user (sort keys %users) {
    my $seg = $users{$user};
    (my $shown = $user) =~ s/([^\x20-\x7e])/sprintf('\\x%02x', ord $1)/ge;

    my $f = OtpFlow->new($t, user => $user, password => 'pw');
    ok(eval { $f->enroll(return => '/private/index.html'); 1 },
       "$shown: enrolled through the pages") or diag($@);
    is($f->get('/private/index.html')->{status}, 200, "$shown: signed in");

    my $r = admin(GET => $seg);
    is($r->{status}, 200, "GET users/$seg") or diag($r->{content});
    ok($r->{json} && $r->{json}{totp}, "... has an authenticator");
    is($r->{json} && $r->{json}{sessions}, 1, '... and a session');

    $t->redis('SET', okey('l', $user), 1, 'EX', 600);
    $r = admin(POST => "$seg/unlock");
    is($r->{status}, 200, "POST users/$seg/unlock");
    is($t->redis('EXISTS', okey('l', $user)), 0, '... unlocked');

    $r = admin(DELETE => "$seg/sessions");
    is($r->{status}, 200, "DELETE users/$seg/sessions");
    is($f->get('/private/index.html')->{status}, 302,
       '... the session no longer passes');
}

is(admin(GET => 'dept%2Fcarol')->{json}{user}, 'dept/carol',
   'a UTF-8 name comes back as it is');
is(admin(GET => '%E9mile')->{json}{user}, '%E9mile',
   'a name that is not UTF-8 comes back percent-encoded');

$t->stop;

done_testing();
