package OtpFlow;

# The end-user flows, driven over real HTTP against the module's pages:
# enroll with an authenticator, sign in with a code, and the codes
# themselves from oathtool (an implementation independent of ours).

use strict;
use warnings;

use Carp qw(croak);
use Exporter qw(import);
use HTTP::Tiny;
use MIME::Base64 qw(encode_base64);

our @EXPORT_OK = qw(totp basic_auth form_field cookie_value);

# The TOTP code of a base32 secret at unix time $t (default now).
sub totp {
    my ($secret, %o) = @_;
    my $t = $o{time} // time;
    my @args = ('--totp' . ($o{alg} ? '=' . uc $o{alg} : ''), '-b',
                '--digits=' . ($o{digits} || 6),
                '--time-step-size=' . ($o{period} || 30) . 's',
                '--now=@' . int($t));
    open my $fh, '-|', 'oathtool', @args, $secret
        or croak "oathtool: $!";
    my $code = <$fh>;
    close $fh;
    croak "oathtool failed" unless defined $code;
    chomp $code;
    return $code;
}

sub basic_auth {
    my ($user, $password) = @_;
    return 'Basic ' . encode_base64("$user:" . ($password // $user), '');
}

# The value of a hidden (or any) input field of a page.
sub form_field {
    my ($html, $name) = @_;
    return $1 if $html =~ /<input[^>]*\bname="\Q$name\E"[^>]*\bvalue="([^"]*)"/s;
    return $1 if $html =~ /<input[^>]*\bvalue="([^"]*)"[^>]*\bname="\Q$name\E"/s;
    return undef;
}

# "name=value" from the Set-Cookie headers of an HTTP::Tiny response.
sub cookie_value {
    my ($res, $name) = @_;
    my $h = $res->{headers}{'set-cookie'};
    for my $c (ref $h ? @$h : defined $h ? ($h) : ()) {
        return $1 if $c =~ /^\Q$name\E=([^;]*)/;
    }
    return undef;
}

sub new {
    my ($class, $t, %o) = @_;
    return bless {
        t        => $t,
        user     => $o{user} || 'alice',
        password => $o{password},
        endpoint => $o{endpoint} || '/_otp/',
        cookie   => undef,
        enroll_cookie => undef,
        http     => HTTP::Tiny->new(max_redirect => 0, timeout => 15),
        %o,
    }, $class;
}

sub user { $_[0]{user} }

sub headers {
    my ($self, %extra) = @_;
    my %h = (
        Authorization => basic_auth($self->{user}, $self->{password}),
        Accept        => 'text/html',
    );
    my @c;
    push @c, "otp_session=$self->{cookie}" if defined $self->{cookie};
    push @c, "otp_session_enroll=$self->{enroll_cookie}"
        if defined $self->{enroll_cookie};
    $h{Cookie} = join('; ', @c) if @c;
    return { %h, %extra };
}

sub request {
    my ($self, $method, $path, %o) = @_;
    my %opts = (headers => $self->headers(%{ $o{headers} || {} }));
    if ($o{form}) {
        $opts{content} = $self->{http}->www_form_urlencode($o{form});
        $opts{headers}{'Content-Type'} = 'application/x-www-form-urlencoded';
    }
    $opts{content} = $o{content} if defined $o{content};
    my $r = $self->{http}->request($method, $self->{t}->url($path), \%opts);
    # the enroll cookie, kept as a browser keeps it (an empty one clears)
    my $e = cookie_value($r, 'otp_session_enroll');
    $self->{enroll_cookie} = length $e ? $e : undef if defined $e;
    return $r;
}

sub get { my ($self, $path, %o) = @_; $self->request('GET', $path, %o) }

sub post {
    my ($self, $action, $form, %o) = @_;
    return $self->request('POST', "$self->{endpoint}$action",
                          form => $form, %o);
}

# GET enroll: returns (response, base32 secret, csrf).
sub enroll_page {
    my ($self, $return) = @_;
    my $r = $self->get("$self->{endpoint}enroll?r=" . ($return // '/'));
    my ($secret) = $r->{content} =~ /secret=([A-Z2-7]+)/;
    return ($r, $secret, form_field($r->{content}, 'csrf'));
}

# The whole enrollment; keeps the session cookie; returns the secret.
sub enroll {
    my ($self, %o) = @_;
    my ($r, $secret, $csrf) = $self->enroll_page($o{return});
    croak "enroll page: $r->{status}" unless $r->{status} == 200 && $secret;
    $self->{secret} = $secret;
    $r = $self->post('enroll', {
        code   => totp($secret, %o),
        csrf   => $csrf,
        return => $o{return} // '/',
    });
    # 200 with the recovery codes, or 303 on where none are offered
    croak "enroll: $r->{status}"
        unless $r->{status} == 200 || $r->{status} == 303;
    $self->{cookie} = cookie_value($r, 'otp_session');
    return $secret;
}

# GET challenge: returns (response, csrf).
sub challenge {
    my ($self, $return) = @_;
    my $path = "$self->{endpoint}challenge";
    $path .= "?r=$return" if defined $return;
    my $r = $self->get($path);
    my $csrf = form_field($r->{content}, 'csrf');

    # the key pass the verify form carries, sent back as a browser would
    my $k = form_field($r->{content}, 'k');
    $self->{pass}{$csrf} = $k if defined $csrf && defined $k;

    return ($r, $csrf);
}

# POST verify with a code (default: the code of the next unused step),
# and the key pass of the challenge page the csrf came from (no_pass:
# without it); keeps a new session cookie; returns the response.
sub verify {
    my ($self, %o) = @_;
    my $csrf = $o{csrf};
    (undef, $csrf) = $self->challenge unless defined $csrf;
    my $code = $o{code} // totp($self->{secret}, %o);
    my $pass = defined $csrf ? $self->{pass}{$csrf} : undef;
    my $r = $self->post('verify', {
        code   => $code,
        csrf   => $csrf // '',
        return => $o{return} // '/',
        (defined $pass && !$o{no_pass} ? (k => $pass) : ()),
        %{ $o{extra} || {} },
    }, %o);
    my $c = cookie_value($r, 'otp_session');
    $self->{cookie} = $c if defined $c && length $c;
    return $r;
}

sub secret { $_[0]{secret} }
sub cookie { $_[0]{cookie} }
sub set_cookie { $_[0]{cookie} = $_[1] }

1;
