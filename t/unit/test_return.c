
/*
 * The return-URI sanitizer: every hostile value of SPEC section 4 and
 * its encoded, mixed-case and nested variants falls back to "/"; good
 * paths survive with their query strings; the result is stable; the
 * "?r=" encoder round-trips through the form decoder.
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_form.h"
#include "ngx_http_otp_return.h"


typedef struct {
    const char  *in;
    const char  *out;
} test_return_case_t;


static const test_return_case_t  good[] = {
    { "/", "/" },
    { "/a", "/a" },
    { "/app/page", "/app/page" },
    { "/app/page?a=1&b=2", "/app/page?a=1&b=2" },
    { "/?", "/?" },
    { "/?x", "/?x" },
    { "/search?q=a+b&lang=en#top", "/search?q=a+b&lang=en#top" },
    { "/a?next=//evil.com", "/a?next=//evil.com" },
    { "/a?next=https://evil.com/", "/a?next=https://evil.com/" },
    { "/a//b", "/a//b" },
    { "/a/b/", "/a/b/" },
    { "/a/../b", "/a/../b" },
    { "/./a", "/./a" },
    { "/%7Euser/", "/%7Euser/" },
    { "/a%2Fb", "/a%2Fb" },
    { "/a%2fb%3fc", "/a%2fb%3fc" },
    { "/caf%C3%A9", "/caf%C3%A9" },
    { "/%E2%80%A8", "/%E2%80%A8" },
    { "/x?u=%25", "/x?u=%25" },
    { "/x?u=%2541", "/x?u=%2541" },
    { "/javascript:alert(1)", "/javascript:alert(1)" },
    { "/a:b@c", "/a:b@c" },
    { "/a;b=c", "/a;b=c" },
    { "/a!$&()*,;=~", "/a!$&()*,;=~" },
    { "/a{b}|c^d", "/a{b}|c^d" },

    /* kept, with what HTML and headers do not like escaped */
    { "/caf\xc3\xa9", "/caf%C3%A9" },
    { "/a\"b", "/a%22b" },
    { "/a'b", "/a%27b" },
    { "/<script>", "/%3Cscript%3E" },
    { "/a`b", "/a%60b" },
    { "/\xff", "/%FF" },
    { "/\"/evil", "/%22/evil" },
};


static const char  *hostile[] = {
    "",
    "//evil",
    "//evil.com/path",
    "///evil",
    "/\\evil",
    "/\\/evil",
    "\\\\evil",
    "\\/evil",
    "/\\t/evil",
    "/a\\b",
    "https:evil",
    "https://evil.com/",
    "HTTPS://evil.com/",
    "http:/evil",
    "javascript:alert(1)",
    "JavaScript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,x",
    "evil.com",
    "evil",
    "./x",
    "../x",
    "?x=1",
    "#x",
    " /a",
    "\t/a",
    "\n/a",
    "/ /evil",
    "/ ",
    "/a b",
    "/\t/evil",
    "/\t\t/evil",
    "\t//evil",
    "/\r\n/evil",
    "/\n/evil",
    "/a\r\nSet-Cookie: x=1",
    "/a\nb",
    "/a\rb",
    "/a\x0b",
    "/a\x0c",
    "/a\x1f",
    "/a\x7f",
    "/\x01",
    "/%09/evil",
    "/%0d%0a/evil",
    "/%0D%0A/evil",
    "/a%0d%0aSet-Cookie:%20x=1",
    "/a%0aLocation:x",
    "/%20/evil",
    "/a%20b",
    "/%2f/evil",
    "/%2F/evil",
    "/%2f%2fevil",
    "/%2F%2Fevil.com",
    "%2f%2fevil",
    "%2F%2Fevil",
    "%2fevil",
    "/%5cevil",
    "/%5Cevil",
    "/a%5cb",
    "%5c%5cevil",
    "/%252f/evil",
    "/%252F%252Fevil",
    "/%255cevil",
    "/%2509/evil",
    "/%250d%250a",
    "/%25252f/evil",
    "/%2525252525252f/evil",
    "/a%00b",
    "/%00",
    "/a%7f",
    "/a%1b",
    "/%",
    "/%4",
    "/a%zz",
    "/a%g1",
    "/a%%41",
    "/%%2f/evil",
    "%",
    "\\",
    ":",
};


static const char *
printable(const char *s, size_t len)
{
    char          *p;
    size_t         i;
    static char    buf[200];

    p = buf;

    for (i = 0; i < len && p < buf + sizeof(buf) - 8; i++) {
        if (s[i] >= 0x20 && s[i] < 0x7f) {
            *p++ = s[i];

        } else {
            p += sprintf(p, "\\x%02x", (unsigned char) s[i]);
        }
    }

    if (i < len) {
        p += sprintf(p, "...");
    }

    *p = '\0';

    return buf;
}


static int
sanitize(const char *s, size_t len, char *out)
{
    size_t  n;
    int     rc;

    n = 9999;
    rc = ngx_http_otp_return_sanitize(s, len, out, &n);

    if (n != strlen(out)) {
        return -100;
    }

    return rc;
}


static int
stable(const char *out)
{
    char  again[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];

    return sanitize(out, strlen(out), again) == 0
           && strcmp(out, again) == 0;
}


static void
test_good(void)
{
    int     rc;
    char    out[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    size_t  i;

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        rc = sanitize(good[i].in, strlen(good[i].in), out);

        tap_ok(rc == 0, "kept: %s", printable(good[i].in,
                                              strlen(good[i].in)));
        tap_is_str(out, good[i].out, "  as %s", good[i].out);
        tap_ok(stable(out), "  and stable");
    }
}


static void
test_hostile(void)
{
    int     rc;
    char    out[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    size_t  i;

    for (i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
        rc = sanitize(hostile[i], strlen(hostile[i]), out);

        tap_ok(rc == -1 && strcmp(out, "/") == 0, "refused: %s",
               printable(hostile[i], strlen(hostile[i])));
    }

    tap_ok(sanitize("/a\0b", 4, out) == -1 && strcmp(out, "/") == 0,
           "refused: embedded NUL");
    tap_ok(sanitize("/\0", 2, out) == -1, "refused: trailing NUL");
    tap_ok(sanitize(NULL, 0, out) == -1 && strcmp(out, "/") == 0,
           "refused: NULL");
    tap_ok(sanitize(NULL, 5, out) == -1 && strcmp(out, "/") == 0,
           "refused: NULL with a length");
}


/* every case variant of "%2f" and "%5c" after the leading slash */

static void
test_case_variants(void)
{
    int         ok;
    char        in[16], out[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    size_t      i, j;
    const char *v[] = { "2f", "2F", "5c", "5C", "09", "0a", "0A", "0d",
                        "0D", "20", "00" };

    ok = 1;

    for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        for (j = 0; j < 2; j++) {
            snprintf(in, sizeof(in), j ? "/%%25%s/evil" : "/%%%s/evil",
                     v[i]);

            if (sanitize(in, strlen(in), out) != -1) {
                ok = 0;
                tap_diag("kept %s", in);
            }
        }
    }

    tap_ok(ok, "single and double-encoded separators, both cases");
}


static void
nested(char *buf, size_t n)
{
    char  *p;

    p = buf;
    *p++ = '/';
    *p++ = 'x';
    *p++ = '%';

    while (n--) {
        *p++ = '2';
        *p++ = '5';
    }

    strcpy(p, "41");
}


static void
test_length(void)
{
    char    in[NGX_HTTP_OTP_RETURN_MAX_LEN + 8];
    char    out[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    size_t  max;

    max = NGX_HTTP_OTP_RETURN_MAX_LEN;

    memset(in, 'a', sizeof(in));
    in[0] = '/';

    tap_ok(sanitize(in, max, out) == 0 && strlen(out) == max
           && memcmp(out, in, max) == 0, "kept at the maximum length");
    tap_ok(sanitize(in, max + 1, out) == -1 && strcmp(out, "/") == 0,
           "refused one byte over the maximum");

    in[max - 1] = '"';
    tap_ok(sanitize(in, max, out) == -1,
           "refused when escaping makes it too long");

    in[max - 1] = 'a';
    in[max - 3] = '"';
    tap_ok(sanitize(in, max - 2, out) == 0 && strlen(out) == max,
           "kept when escaping just fits");

    /* "%41" wrapped in %25 n times takes n + 1 decodings to settle */

    nested(in, 14);
    tap_ok(sanitize(in, strlen(in), out) == 0 && strcmp(out, in) == 0,
           "nesting 15 deep kept");

    nested(in, 15);
    tap_ok(sanitize(in, strlen(in), out) == -1,
           "nesting 16 deep refused, not followed");

    nested(in, 500);
    tap_ok(sanitize(in, strlen(in), out) == -1, "nesting 501 deep refused");
}


static void
test_encode(void)
{
    int     rc;
    char    enc[3 * 64], dec[64], out[NGX_HTTP_OTP_RETURN_MAX_LEN + 1];
    size_t  n, m;

    const char  *uri = "/app/x?a=1&b=%2F+c#f~._-";

    n = ngx_http_otp_return_encode(uri, strlen(uri), enc);
    enc[n] = '\0';

    tap_is_str(enc, "/app/x%3Fa%3D1%26b%3D%252F%2Bc%23f~._-",
               "encoded for ?r=");

    rc = ngx_http_otp_form_decode((const uint8_t *) enc, n, dec,
                                  sizeof(dec), &m,
                                  NGX_HTTP_OTP_FORM_PLUS_SPACE);
    tap_ok(rc == 0, "form decoder reads it");
    tap_is_str(dec, uri, "round trip through the form decoder");

    tap_ok(sanitize(dec, m, out) == 0 && strcmp(out, uri) == 0,
           "the sanitizer keeps the round-tripped URI");

    n = ngx_http_otp_return_encode("\x00\xff \"<", 5, enc);
    enc[n] = '\0';
    tap_is_str(enc, "%00%FF%20%22%3C", "bytes escaped upper-case");

    n = ngx_http_otp_return_encode("", 0, enc);
    tap_ok(n == 0, "empty encodes to nothing");

    n = ngx_http_otp_return_encode("AZaz09/", 7, enc);
    enc[n] = '\0';
    tap_is_str(enc, "AZaz09/", "unreserved and '/' kept");
}


int
main(void)
{
    test_good();
    test_hostile();
    test_case_variants();
    test_length();
    test_encode();

    return tap_done();
}
