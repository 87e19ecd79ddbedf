package OtpKeys;

# The module's key schema, as src/lua/README.md gives it: every key of a
# user is P{tag}:kind[:id], the tag being the user name with every byte
# but letters, digits and "-._@" percent-encoded (upper-case hex).

use strict;
use warnings;

use Exporter 'import';
our @EXPORT = qw(okey otag);

sub otag {
    my ($user) = @_;
    (my $tag = $user) =~ s/([^A-Za-z0-9\-._\@])/sprintf('%%%02X', ord $1)/ge;
    return "{$tag}";
}

# okey(kind, user[, id[, prefix]])
sub okey {
    my ($kind, $user, $id, $prefix) = @_;
    my $k = ($prefix // 'otp:') . otag($user) . ":$kind";
    $k .= ":$id" if defined $id;
    return $k;
}

1;
