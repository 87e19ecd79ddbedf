#!/usr/bin/perl

# nginx -t and the SMS directives: every one with a valid value passes;
# each invalid value fails with a message that names its directive;
# otp_sms_template's placeholders are checked; otp_sms_ttl above 10m
# warns; sms in otp_methods needs otp_sms_provider where the pages are.

use strict;
use warnings;

use Test::More;
use OtpTest;

my $t = OtpTest->new;
my $key = $t->secret_file;

sub conf {
    my (%o) = @_;
    my $srv = $o{server} // 'otp_sms_provider /_otp_sms;';
    my $loc = $o{location} // '';
    return <<"EOF";
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    server {
        listen 127.0.0.1:%%PORT%%;
        auth_basic "test";
        auth_basic_user_file htpasswd;
        otp_methods totp sms;
        $srv
        location /_otp/ {
            otp_endpoint;
        }
        location = /_otp_sms {
            internal;
            proxy_set_body \$otp_sms_json;
            proxy_pass http://127.0.0.1:1/;
        }
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

my ($rc, $out) = nginx_t();
is($rc, 0, 'otp_methods totp sms with a provider passes') or diag($out);

($rc, $out) = nginx_t(location => <<'EOF');
            otp_methods sms totp recovery;
            otp_sms_phone $http_x_phone;
            otp_sms_template "{issuer}: {code}, {minutes}m\n@{host} #{code}";
            otp_sms_origin login.example.com;
            otp_sms_code_length 10;
            otp_sms_code_charset alnum;
            otp_sms_ttl 10m;
            otp_sms_resend_delay 0;
            otp_sms_max_sends 100;
            otp_sms_daily_limit 10000;
EOF
is($rc, 0, 'every SMS directive with a valid value passes') or diag($out);
unlike($out, qr/\[warn\]/, '... without a warning');

($rc, $out) = nginx_t(location => 'otp_sms_ttl 11m;');
is($rc, 0, 'otp_sms_ttl 11m passes');
like($out, qr/\[warn\].*"otp_sms_ttl" is longer than 10m/,
     '... with a warning');

($rc, $out) = nginx_t(server => 'otp_sms_provider /sms?channel=otp;');
is($rc, 0, 'a provider URI with arguments passes') or diag($out);

($rc, $out) = nginx_t(server => '');
isnt($rc, 0, 'sms in otp_methods, pages, no provider: fails');
like($out, qr/\[emerg\].*"otp_methods" has "sms" in location "\/_otp\/"/,
     '... naming the location');
like($out, qr/but no "otp_sms_provider"/, '... and the directive');

# invalid values: [description, directive, server, location]

my @bad = (
    [ 'method unknown', 'otp_methods', undef, 'otp_methods totp email;' ],
    [ 'method twice', 'otp_methods', undef, 'otp_methods sms sms;' ],
    [ 'provider not a URI', 'otp_sms_provider',
      'otp_sms_provider sms.example.com;', '' ],
    [ 'provider with a variable', 'otp_sms_provider',
      'otp_sms_provider /sms/$host;', '' ],
    [ 'provider twice', 'otp_sms_provider',
      'otp_sms_provider /a; otp_sms_provider /b;', '' ],
    [ 'template: unknown placeholder', 'otp_sms_template', undef,
      'otp_sms_template "Your {code} for {user}";' ],
    [ 'template: no {code}', 'otp_sms_template', undef,
      'otp_sms_template "Your {issuer} code";' ],
    [ 'template: a stray brace', 'otp_sms_template', undef,
      'otp_sms_template "code: {code}}";' ],
    [ 'template: an unclosed placeholder', 'otp_sms_template', undef,
      'otp_sms_template "code: {code";' ],
    [ 'code length 3', 'otp_sms_code_length', undef,
      'otp_sms_code_length 3;' ],
    [ 'code length 11', 'otp_sms_code_length', undef,
      'otp_sms_code_length 11;' ],
    [ 'charset hex', 'otp_sms_code_charset', undef,
      'otp_sms_code_charset hex;' ],
    [ 'ttl 0', 'otp_sms_ttl', undef, 'otp_sms_ttl 0;' ],
    [ 'ttl garbage', 'otp_sms_ttl', undef, 'otp_sms_ttl soon;' ],
    [ 'resend delay garbage', 'otp_sms_resend_delay', undef,
      'otp_sms_resend_delay -1;' ],
    [ 'max sends 0', 'otp_sms_max_sends', undef, 'otp_sms_max_sends 0;' ],
    [ 'max sends 101', 'otp_sms_max_sends', undef,
      'otp_sms_max_sends 101;' ],
    [ 'daily limit 0', 'otp_sms_daily_limit', undef,
      'otp_sms_daily_limit 0;' ],
    [ 'daily limit not a number', 'otp_sms_daily_limit', undef,
      'otp_sms_daily_limit ten;' ],
);

for my $case (@bad) {
    my ($name, $directive, $srv, $loc) = @$case;
    ($rc, $out) = nginx_t(defined $srv ? (server => $srv) : (),
                          location => $loc);
    isnt($rc, 0, "$name: nginx -t fails");
    like($out, qr/\[emerg\].*\Q$directive\E/, "... naming $directive")
        or diag($out);
}

($rc, $out) = nginx_t(location => 'otp_sms_template "{code} {foo}";');
like($out, qr/unknown placeholder.*\{code\} \{issuer\} \{minutes\} \{host\}/,
     'an unknown placeholder: the message lists the known ones');

done_testing;
