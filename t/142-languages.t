#!/usr/bin/perl

# SPEC 11: the pages in the user's language.  The message files of
# html/lang/ each have every key of English with the same placeholders,
# and every English error text the C code passes is one of en.txt;
# otp_language auto follows Accept-Language (quality values, region
# fallback, English when none matches) with Vary, and a fixed language
# does not vary; <html lang> names the language; every page in every
# language renders without a missing text, a leftover placeholder or an
# unescaped value, the account page (and the authenticators list the
# module builds, a name with markup shown as text) and cross-device
# approval (the waiting page, the phone's question and answer, the
# refusals) too; the default text message follows the language, one
# ops wrote does not; otp_templates adds or replaces a language, and
# nginx -t names the file and key of a broken one.

use strict;
use warnings;

use File::Path qw(make_path);
use FindBin;
use Test::More;

use OtpTest;
use OtpFlow qw(totp form_field cookie_value);
use OtpAttack qw(users);
use OtpSms qw(path_of set_phone send_code text_of);

my $top = $ENV{OTP_TOP} // "$FindBin::Bin/..";

# ------------------------------------------- the files, key by key

sub read_lang {
    my ($path) = @_;
    open my $fh, '<:encoding(UTF-8)', $path or die "$path: $!";
    my (%m, @problems);
    while (my $line = <$fh>) {
        next if $line =~ /^\s*(#|$)/;
        if ($line =~ /^([a-z0-9_]+)\s*=\s*(.*?)\s*$/) {
            push @problems, "$1 twice" if exists $m{$1};
            $m{$1} = $2;
        } else {
            push @problems, "line $.: not key = text";
        }
    }
    close $fh;
    return (\%m, \@problems);
}

sub placeholders {
    my ($v) = @_;
    return join ' ', sort $v =~ /\{([a-z0-9_]+)\}/g;
}

my @files = sort glob("$top/html/lang/*.txt");
my %langs = map { m{/([a-z-]+)\.txt$}; ($1 => $_) } @files;
is_deeply([ sort keys %langs ],
          [ sort qw(en de fr es pt it nl pl ja zh) ],
          'English and the nine languages');

my ($en) = read_lang($langs{en});
for my $tag (sort keys %langs) {
    my ($m, $problems) = read_lang($langs{$tag});
    my @bad = @$problems;
    for my $k (sort keys %$en) {
        if (!exists $m->{$k}) {
            push @bad, "$k missing";
            next;
        }
        push @bad, "$k: {" . placeholders($m->{$k}) . '} for {'
                   . placeholders($en->{$k}) . '}'
            if placeholders($m->{$k}) ne placeholders($en->{$k});
        (my $rest = $m->{$k}) =~ s/\{[a-z0-9_]+\}//g;
        push @bad, "$k: a stray brace" if $rest =~ /[{}]/;
    }
    push @bad, map { "$_ not in English" } grep { !exists $en->{$_} } keys %$m;
    is("@bad", '', "$tag: every key, the same placeholders, no stray brace");
    if ($tag ne 'en') {
        my @same = grep { $m->{$_} eq $en->{$_} && $en->{$_} =~ /[a-z]{4} [a-z]{3}/ }
                   sort keys %$en;
        is("@same", '', "$tag: no sentence left in English");
    }
}

# every {{@key}} of the pages is a key of English
for my $page (sort glob("$top/html/*.html")) {
    open my $fh, '<', $page or die;
    my $html = do { local $/; <$fh> };
    my @unknown = grep { !exists $en->{$_} } $html =~ /\{\{\@([a-z0-9_]+)\}\}/g;
    my ($name) = $page =~ m{([^/]+)$};
    is("@unknown", '', "$name: every text it names exists");
}

# every English text the C code passes to the error page is a text of
# en.txt, word for word: else it is shown untranslated
my %en_text = map { ($en->{$_} => 1) } keys %$en;
my @loose;
for my $c (sort glob("$top/src/*.c")) {
    open my $fh, '<', $c or die "$c: $!";
    my $src = do { local $/; <$fh> };
    my ($name) = $c =~ m{([^/]+)$};
    my $lit = qr/(?:\s*"(?:[^"\\]|\\.)*")+/;
    while ($src =~ /ngx_http_otp_send_error(?:_back)?\s*\(\s*r\s*,
                    \s*[A-Z_]+\s*,($lit)\s*,($lit)\s*\)/gx) {
        my @texts = ($1, $2);
        for my $l (@texts) {
            my $text = join '', $l =~ /"((?:[^"\\]|\\.)*)"/g;
            push @loose, "$name: $text"
                unless $en_text{$text} || $text =~ /^[a-z0-9_]+$/;
        }
    }
}
is(join("\n", @loose), '', 'every error text of the C code is in en.txt');

# --------------------------------------------------------- the server

my $t = OtpTest->new;
my $key = $t->secret_file;

users($t, qw(admin alice carol dave erin),
      map { ("u$_", "l$_") } qw(en de fr es pt it nl pl ja zh));
mkdir $t->dir . '/site';
$t->write_file('site/index.html', "private page\n", 0644);

# an added language and a replaced one, under otp_templates
make_path($t->dir . '/tpl/lang');
my $en_text = $t->read_file($langs{en});
(my $sv = $en_text) =~ s/^challenge_title = .*$/challenge_title = Tvåstegsverifiering/m;
$t->write_file('tpl/lang/sv.txt', $sv, 0644);
my $de_text = $t->read_file($langs{de});
(my $de2 = $de_text) =~ s/^challenge_title = .*$/challenge_title = Zweiter Schritt (eigener Text)/m;
$t->write_file('tpl/lang/de.txt', $de2, 0644);

$t->run_redis;

my $sms = OtpSms->new($t, name => 'json')->start;
my $loc = $sms->location;

my %port = map { $_ => OtpTest::free_port() } qw(fixed ops custom);

my $common = <<"CONF";
        auth_basic "test";
        auth_basic_user_file %%DIR%%/htpasswd;
        otp_methods totp sms recovery link;
        otp_sms_provider /_otp_sms;
        otp_issuer "<b>\\"x'&";
        location /_otp/ {
            otp_endpoint;
        }
        location /_otp_admin/ {
            otp_admin;
        }
        location /private/ {
            otp on;
            alias %%DIR%%/site/;
        }
$loc
CONF

$t->write_conf(<<"CONF");
%%TEST_GLOBALS%%
events {}
http {
    %%TEST_GLOBALS_HTTP%%
    otp_secret_file $key;
    otp_redis %%REDIS%%;
    otp_max_attempts 3;
    otp_fresh 5m;

    server {
        listen 127.0.0.1:%%PORT%%;
$common
    }

    server {
        listen 127.0.0.1:$port{fixed};
        otp_language de;
$common
    }

    server {
        listen 127.0.0.1:$port{ops};
        otp_templates %%DIR%%/tpl;
$common
    }

    server {
        listen 127.0.0.1:$port{custom};
        otp_sms_template "{code} is the code";
$common
    }
}
CONF

$t->run_nginx;
$t->wait_redis_ready;

# ------------------------------------------------------- negotiation

my %title = (
    en => 'Two-step verification', de => 'Bestätigung in zwei Schritten',
    fr => 'Validation en deux étapes', es => 'Verificación en dos pasos',
    pt => 'Verificação em duas etapas', it => 'Verifica in due passaggi',
    nl => 'Verificatie in twee stappen', pl => 'Weryfikacja dwuetapowa',
    ja => '2 段階認証', zh => '两步验证',
);

sub page_lang {
    my ($r) = @_;
    my ($l) = ($r->{content} // '') =~ /<html lang="([^"]*)">/;
    return $l // '';
}

my $alice = OtpFlow->new($t, user => 'alice');
$alice->enroll(return => '/private/');
$alice->set_cookie(undef);

sub challenge_in {
    my ($accept, $site) = @_;
    my $f = $site ? OtpFlow->new($site, user => 'alice') : $alice;
    return $f->get('/_otp/challenge?r=/private/',
                   headers => defined $accept
                              ? { 'Accept-Language' => $accept } : {});
}

for my $case (
    [ undef,                          'en', 'no header' ],
    [ 'de',                           'de', 'de' ],
    [ 'de-AT',                        'de', 'de-AT: region fallback' ],
    [ 'pt-BR,pt;q=0.9',               'pt', 'pt-BR' ],
    [ 'sv, de;q=0.5',                 'de', 'an unknown first language' ],
    [ 'fr;q=0.4, ja;q=0.8',           'ja', 'quality values' ],
    [ 'it;q=0, nl',                   'nl', 'q=0 is not acceptable' ],
    [ 'es;q=0.5, pl;q=0.5',           'es', 'a tie: the first' ],
    [ 'zh-CN,zh;q=0.9,en;q=0.8',      'zh', 'zh-CN' ],
    [ 'sv, da',                       'en', 'none matches: English' ],
    [ '*',                            'en', 'a wildcard: English' ],
    [ 'DE-de',                        'de', 'case does not matter' ],
    [ ' ;;, ,de ;q=1, fr;q=abc',       'de', 'garbage around a tag' ],
) {
    my ($accept, $want, $what) = @$case;
    my $r = challenge_in($accept);
    is(page_lang($r), $want, "Accept-Language $what: <html lang=\"$want\">");
    ok(index($r->{content}, $title{$want}) >= 0, '... and the page is in it');
}

my $r = challenge_in('de');
like($r->{headers}{vary} // '', qr/Accept-Language/, 'auto: Vary');

my $fixed = OtpAttack::site($t, $port{fixed});
$r = challenge_in('ja', $fixed);
is(page_lang($r), 'de', 'otp_language de: German, whatever the browser asks');
unlike($r->{headers}{vary} // '', qr/Accept-Language/, '... with no Vary');

# ---------------------------------------- every page in every language

sub clean {
    my ($r, $what) = @_;
    my $c = $r->{content} // '';
    my @bad;
    push @bad, 'a {{tag}}' if $c =~ /\{\{/;
    push @bad, "a placeholder $1" if $c =~ /\{([a-z0-9_]+)\}/;
    push @bad, 'the issuer unescaped' if $c =~ /<b>/;
    push @bad, 'no escaped issuer'
        unless $c =~ /&lt;b&gt;&quot;x&#39;&amp;/;
    is("@bad", '', "$what: no leftover tag, every value escaped");
}

my $n = 0;
for my $tag (sort keys %title) {
    my %h = (headers => { 'Accept-Language' => $tag });
    my $u = OtpFlow->new($t, user => "u$tag");

    # enroll, then the recovery codes page
    my $e = $u->get('/_otp/enroll?r=/private/', %h);
    is(page_lang($e), $tag, "$tag: enroll page");
    clean($e, "$tag enroll");
    my ($secret) = $e->{content} =~ /secret=([A-Z2-7]+)/;
    my $rc = $u->post('enroll', { code => totp($secret),
                                  csrf => form_field($e->{content}, 'csrf'),
                                  return => '/private/' }, %h);
    is(page_lang($rc), $tag, "$tag: recovery codes page");
    clean($rc, "$tag recovery codes");

    # a wrong code: the error in the language
    $u->set_cookie(undef);
    my $c = $u->get('/_otp/challenge?r=/private/', %h);
    clean($c, "$tag challenge");
    $u->{secret} = $secret;
    my $w = $u->verify(csrf => form_field($c->{content}, 'csrf'),
                       code => '000000', return => '/private/', %h);
    is(page_lang($w), $tag, "$tag: a wrong code");
    unlike($w->{content}, qr/That code did not work/,
           '... the error is translated') if $tag ne 'en';

    # recovery method, logout, phone page, error page
    for my $p ('/_otp/challenge?method=recovery&r=/private/',
               '/_otp/sms?r=/private/', '/_otp/logout') {
        my $x = $u->get($p, %h);
        next unless $x->{status} == 200;
        is(page_lang($x), $tag, "$tag: $p");
        clean($x, "$tag $p");
    }
    my $bad = $u->post('verify', { csrf => 'x', code => '1' },
                       headers => { 'Accept-Language' => $tag,
                                    'Content-Type' => 'text/plain' });
    is(page_lang($bad), $tag, "$tag: a refused form ($bad->{status})");
    unlike($bad->{content}, qr/Request refused|Bad request/,
           '... refused in the language') if $tag ne 'en';

    $n++;
}
is($n, 10, 'ten languages through the pages');

# the account page and cross-device approval: the waiting page, the
# phone's question and its answers, the refusals; an authenticator
# named with markup, shown as text
my %english = (
    account => qr/Authenticator apps|>Rename<|>Remove<|last used|No phone/,
    link    => qr/Approve from your phone|On your phone|Waiting for/,
    ask     => qr/Sign in on another device|That's not me|Address:/,
    answer  => qr/Turned down|Nobody was signed in/,
    denied  => qr/Not approved|Start again/,
);
my $wait = '/_otp/challenge?method=link&r=/private/';
$n = 0;
for my $tag (sort keys %title) {
    my %h = (headers => { 'Accept-Language' => $tag });
    my $u = OtpFlow->new($t, user => "l$tag");
    $u->enroll(return => '/private/');

    my $e = $u->get('/_otp/enroll?add=1&r=/private/', %h);
    is(page_lang($e), $tag, "$tag: enroll?add=1");
    clean($e, "$tag enroll?add=1");
    my ($s2) = $e->{content} =~ /secret=([A-Z2-7]+)/;
    my $r = $u->post('enroll', { code => totp($s2), add => 1,
                                 name => '<i>"x&',
                                 csrf => form_field($e->{content}, 'csrf'),
                                 return => '/private/' }, %h);
    is($r->{status}, 303, "$tag: a second authenticator, named with markup");
    $u->set_cookie(cookie_value($r, 'otp_session'));

    my $a = $u->get('/_otp/account?r=/private/', %h);
    is($a->{status}, 200, "$tag: the account page");
    is(page_lang($a), $tag, "$tag: account page <html lang>");
    clean($a, "$tag account");
    like($a->{content}, qr/<strong>&lt;i&gt;&quot;x&amp;<\/strong>/,
         "$tag: the authenticator's name escaped");
    unlike($a->{content}, qr/<i>/, '... never markup');
    like($a->{content}, qr/\d{4}-\d\d-\d\d/, '... with its dates');
    unlike($a->{content}, $english{account}, '... in the language')
        if $tag ne 'en';

    my $bad = $u->post('account', { csrf => 'x', action => 'browsers' }, %h);
    is($bad->{status}, 403, "$tag: a refused account form");
    is(page_lang($bad), $tag, '... in the language');
    unlike($bad->{content}, qr/account page|Request refused/,
           '... with its words') if $tag ne 'en';

    # the waiting browser: a client of the same user without a session
    my $pc = OtpFlow->new($t, user => "l$tag");
    my $w = $pc->get($wait, %h);
    is($w->{status}, 200, "$tag: the waiting page");
    is(page_lang($w), $tag, "$tag: waiting page <html lang>");
    clean($w, "$tag waiting page");
    unlike($w->{content}, $english{link}, '... in the language')
        if $tag ne 'en';
    my ($tok) = $w->{content} =~ m{<a href="http://[^"]*[?&]t=([A-Za-z0-9_-]+)"};
    my $bind = cookie_value($w, 'otp_session_link');

    my $q = $u->get("/_otp/link?t=$tok", %h);
    is($q->{status}, 200, "$tag: the phone's question");
    is(page_lang($q), $tag, "$tag: the phone's page <html lang>");
    clean($q, "$tag phone's question");
    unlike($q->{content}, $english{ask}, '... in the language')
        if $tag ne 'en';

    my $no = $u->post('link', { t => $tok, deny => 1,
                                csrf => form_field($q->{content}, 'csrf') },
                      %h);
    is($no->{status}, 200, "$tag: turned down on the phone");
    is(page_lang($no), $tag, '... <html lang>');
    clean($no, "$tag turned down");
    unlike($no->{content}, $english{answer}, '... in the language')
        if $tag ne 'en';

    $w = $pc->get($wait, headers => { 'Accept-Language' => $tag,
                                      Cookie => "otp_session_link=$bind" });
    is(page_lang($w), $tag, "$tag: the waiting page, not approved "
                            . "($w->{status})");
    clean($w, "$tag not approved");
    unlike($w->{content}, $english{denied}, '... in the language')
        if $tag ne 'en';

    my $gone = $u->get('/_otp/link?t=AAAAAAAAAAAAAAAAAAAAAA', %h);
    is($gone->{status}, 403, "$tag: an unknown link refused");
    is(page_lang($gone), $tag, '... <html lang>');
    clean($gone, "$tag unknown link");
    unlike($gone->{content}, qr/cannot be used|Open it on a phone/,
           '... in the language') if $tag ne 'en';

    $n++;
}
is($n, 10, 'ten languages through the account page and approval');

# locked: carol's wrong codes in Japanese
my $carol = OtpFlow->new($t, user => 'carol');
$carol->enroll(return => '/private/');
$carol->set_cookie(undef);
my $locked;
for (1 .. 12) {
    my ($c, $csrf) = $carol->challenge('/private/');
    $locked = $carol->verify(csrf => $csrf, code => '000000',
                             return => '/private/',
                             headers => { 'Accept-Language' => 'ja' });
    last if $locked->{status} == 429 && $locked->{content} =~ /lang="ja"/
            && $locked->{content} !~ /class="button"/;
}
is(page_lang($locked), 'ja', 'the locked or burnt page in Japanese');

# --------------------------------------------------- the text message

set_phone($t, 'dave', '+15555550123');
set_phone($t, 'erin', '+15555550124');
my $dave = OtpFlow->new($t, user => 'dave');
$sms->clear;
my ($c, $csrf) = $dave->challenge('/private/');
$r = $dave->post('sms', { csrf => $csrf, return => '/private/' },
                 headers => { 'Accept-Language' => 'de-CH, en;q=0.5' });
is($r->{status}, 303, 'a text asked for in German');
$sms->wait_requests(1);
my $text = text_of(($sms->requests)[-1]) // '';
like($text, qr/^Ihr .*-Code lautet \d{6}\. Er ist 5 Min\. g\x{fc}ltig\.$/,
     "... the default text is German: $text");

# asked again at once: the wait in German words, the number filled in
$c = $dave->get(path_of($r->{headers}{location}));
$r = $dave->post('sms', { csrf => form_field($c->{content}, 'csrf'),
                          return => '/private/' },
                 headers => { 'Accept-Language' => 'de' });
is($r->{status}, 429, 'a second text at once: 429');
like($r->{content}, qr/Einen neuen k\S+nnen Sie in \d+ s anfordern/,
     '... the wait in German, with the seconds');

my $custom = OtpAttack::site($t, $port{custom});
my $erin = OtpFlow->new($custom, user => 'erin');
$sms->clear;
($c, $csrf) = $erin->challenge('/private/');
$r = $erin->post('sms', { csrf => $csrf, return => '/private/' },
                 headers => { 'Accept-Language' => 'de' });
$sms->wait_requests(1);
$text = text_of(($sms->requests)[-1]) // '';
like($text, qr/^\d{6} is the code$/, "a template ops wrote stays: $text");

# ------------------------------------------------- otp_templates/lang

my $ops = OtpAttack::site($t, $port{ops});
$r = challenge_in('sv', $ops);
is(page_lang($r), 'sv', 'a language added under otp_templates: sv');
like($r->{content}, qr/Tvåstegsverifiering/, '... with its texts');
$r = challenge_in('de', $ops);
like($r->{content}, qr/Zweiter Schritt \(eigener Text\)/,
     'a built-in language replaced there');
$r = challenge_in('fr', $ops);
like($r->{content}, qr/\Q$title{fr}\E/, 'the others stay built in');

$sms->stop;
$t->stop;

# nginx -t on broken files (after the checks of the running server's
# log, which nginx -t writes to as well)
sub conf_test {
    my ($file, $text) = @_;
    make_path($t->dir . '/bad/lang');
    unlink glob($t->dir . '/bad/lang/*');
    $t->write_file("bad/lang/$file", $text, 0644);
    my $conf = OtpTest::http_conf(<<"CONF", key => $key);
    server {
        listen 127.0.0.1:%%PORT%%;
        otp_templates %%DIR%%/bad;
        location / { otp_endpoint; }
    }
CONF
    return $t->nginx_test($t->write_conf($conf, 'bad.conf'));
}

(my $missing = $de_text) =~ s/^challenge_verify = .*\n//m;
my ($rc, $out) = conf_test('de.txt', $missing);
isnt($rc, 0, 'nginx -t: a file without a key fails');
like($out, qr{lang/de\.txt".*key "challenge_verify".*missing},
     '... naming the file and the key');

(my $broken = $de_text) =~ s/^(challenge_password_ok = .*)\{user\}/$1\{usr\}/m;
($rc, $out) = conf_test('de.txt', $broken);
isnt($rc, 0, 'nginx -t: a wrong placeholder fails');
like($out, qr{lang/de\.txt".*key "challenge_password_ok".*placeholder \{usr\}},
     '... naming the file, the key and the placeholder');

(my $brace = $de_text) =~ s/^(challenge_verify = .*)$/$1 {oops/m;
($rc, $out) = conf_test('de.txt', $brace);
isnt($rc, 0, 'nginx -t: a stray brace fails');
like($out, qr{lang/de\.txt", line \d+, key "challenge_verify"},
     '... naming the line and the key');

($rc, $out) = conf_test('Not a tag.txt', $de_text);
isnt($rc, 0, 'nginx -t: a file name that is not a language tag fails');

($rc, $out) = $t->nginx_test($t->write_conf(
    OtpTest::http_conf(<<"CONF", key => $key), 'bad.conf'));
    server {
        listen 127.0.0.1:%%PORT%%;
        otp_language klingon;
        location / { otp_endpoint; }
    }
CONF
isnt($rc, 0, 'nginx -t: otp_language with no such language fails');
like($out, qr/otp_language.*klingon/, '... naming it');

done_testing;
