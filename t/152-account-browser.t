#!/usr/bin/perl

# The account page and the pages around it in a real browser (headless
# Chromium) at a phone's width, 390 CSS pixels: no element is wider than
# the screen, with long names and every section shown.  The page is
# fetched over HTTP with its session, saved, and opened from the file
# in a frame of that width with a script that measures every element
# (the module's own pages run no script: their CSP forbids it).  Skipped without chromium.

use strict;
use warnings;

use File::Temp qw(tempdir);
use Test::More;

use OtpTest;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);

my ($chromium) = grep { -x } map { "$_/chromium" } split /:/, $ENV{PATH};
plan skip_all => 'chromium is not installed' unless $chromium;

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(alice));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

$t->run_redis;

$t->write_conf(OtpTest::servers_conf(
    workers => 1,
    key     => $key,
    http    => "otp_fresh 5m;\notp_session_recheck 0;\n"
               . "otp_remember_device 30d;\notp_totp_skew 10;",
    common  => OtpTest::site_locations(),
    servers => [['%%PORT%%', '']],
));

$t->run_nginx;
$t->wait_redis_ready(workers => 1);

my $width = 390;

my $measure = <<'EOF';
<script>
(function () {
    var w = document.documentElement.clientWidth, bad = [];
    var all = document.body.getElementsByTagName('*');
    for (var i = 0; i < all.length; i++) {
        var e = all[i], r = e.getBoundingClientRect();
        if (r.width && (r.right > w + 0.5 || r.left < -0.5)) {
            bad.push(e.tagName.toLowerCase() + '[' + Math.round(r.left)
                     + ',' + Math.round(r.right) + ']');
        }
    }
    if (document.documentElement.scrollWidth > w) {
        bad.push('page ' + document.documentElement.scrollWidth);
    }
    parent.document.body.setAttribute('data-width', w);
    parent.document.body.setAttribute('data-overflow',
                                      bad.join(' ') || 'none');
})();
</script>
EOF

# a page's HTML at the phone's width: (viewport width, what overflows)
sub at_phone_width {
    my ($name, $html) = @_;
    my $file = $t->dir . "/$name.html";
    $html =~ s{</body>}{$measure</body>};
    # a window is at least 500 pixels wide: the page is a frame of the
    # phone's size (of the same origin, so the script can tell the top)
    $html =~ s/&/&amp;/g;
    $html =~ s/"/&quot;/g;
    $t->write_file("$name.html", "<!DOCTYPE html><html><body>"
                   . "<iframe style=\"width:${width}px;height:844px;"
                   . "border:0\" srcdoc=\"$html\"></iframe>"
                   . "</body></html>", 0644);
    my $profile = tempdir('chromium-XXXXXX', TMPDIR => 1, CLEANUP => 1);
    my @cmd = ($chromium, qw(--headless --no-sandbox --disable-gpu
        --no-first-run --disable-background-networking
        --disable-component-update --disable-sync --disable-default-apps
        --hide-scrollbars --dump-dom),
        '--window-size=800,900', "--user-data-dir=$profile",
        "file://$file");
    my $pid = open(my $fh, '-|');
    die "fork: $!" unless defined $pid;
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec @cmd or exit 127;
    }
    local $/;
    my $dom = <$fh> // '';
    close $fh;
    my ($w) = $dom =~ /data-width="(\d+)"/;
    my ($o) = $dom =~ /data-overflow="([^"]*)"/;
    return ($w, $o, $dom);
}

sub check {
    my ($name, $html) = @_;
    my ($w, $o) = at_phone_width($name, $html);
    is($w, $width, "$name: laid out $width pixels wide");
    is($o, 'none', "$name: no element wider than the screen");
}

# the measure itself: a page with an element too wide is caught
my (undef, $wide) = at_phone_width('wide', '<!DOCTYPE html><html><body>'
                                   . '<p style="width:600px">x</p>'
                                   . '</body></html>');
like($wide // '', qr/^p\[/, 'an element too wide is seen');

my $now = time - 270;

my $alice = OtpFlow->new($t, user => 'alice');
my $s1 = $alice->enroll(time => $now);

# a second one with the longest name, no spaces to break it at
my $long = 'W' x 64;
my $r = $alice->get('/_otp/enroll?add=1&r=%2F_otp%2Faccount');
is($r->{status}, 200, 'enroll?add=1');
check('enroll-add', $r->{content});
my ($s2) = $r->{content} =~ /secret=([A-Z2-7]+)/;
$r = $alice->post('enroll', {
    code => totp($s2, time => $now), csrf => form_field($r->{content}, 'csrf'),
    add  => 1, name => $long, return => '/_otp/account',
});
is($r->{status}, 303, 'a second authenticator with a long name');
$alice->set_cookie(cookie_value($r, 'otp_session'));

my $other = OtpFlow->new($t, user => 'alice', secret => $s1);
$other->verify(time => $now + 30, extra => { remember => 1 });

$r = $alice->get('/_otp/account?r=%2Fprivate%2F');
is($r->{status}, 200, 'the account page');
like($r->{content}, qr/\Q$long\E/, 'with the long name');
check('account', $r->{content});

# the question before the last one goes
my ($id) = $r->{content} =~ /name="id" value="(\d+)"/;
my $csrf = form_field($r->{content}, 'csrf');
$r = $alice->post('account', { action => 'remove', id => $id,
                               csrf => $csrf });
is($r->{status}, 303, 'one removed');
$alice->set_cookie(cookie_value($r, 'otp_session'));
$r = $alice->get('/_otp/account');
($id) = $r->{content} =~ /name="id" value="(\d+)"/;
$r = $alice->post('account', { action => 'remove', id => $id,
                               csrf => form_field($r->{content}, 'csrf') });
is($r->{status}, 409, 'the last one: asked first');
check('account-confirm', $r->{content});

# the challenge page with its link to the account page
$r = $alice->get('/_otp/challenge?r=%2Fprivate%2F');
like($r->{content}, qr/href="[^"]*account[^"]*">Security settings/,
     'the challenge page links to the account page');
check('challenge', $r->{content});

$t->stop;
done_testing;
