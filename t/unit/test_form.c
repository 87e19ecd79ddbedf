
/*
 * Form bodies and query strings: decoding, the fields asked for, and
 * every way a hostile body fails (bad escapes, repeats, overlong
 * values, NUL bytes, size limit).
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_form.h"


#define LIMIT  4096


static char   code[7];
static char   csrf[64];
static char   ret[256];

static ngx_http_otp_form_field_t  fields[3];


static void
setup(void)
{
    fields[0].name = "code";
    fields[0].value = code;
    fields[0].size = sizeof(code);

    fields[1].name = "csrf";
    fields[1].value = csrf;
    fields[1].size = sizeof(csrf);

    fields[2].name = "r";
    fields[2].value = ret;
    fields[2].size = sizeof(ret);
}


static int
parse(const char *body)
{
    return ngx_http_otp_form_parse((const uint8_t *) body, strlen(body),
                                   LIMIT, fields, 3);
}


static int
parse_len(const char *body, size_t len)
{
    return ngx_http_otp_form_parse((const uint8_t *) body, len, LIMIT,
                                   fields, 3);
}


static int
all_reset(void)
{
    size_t  i;

    for (i = 0; i < 3; i++) {
        if (fields[i].found || fields[i].len != 0
            || fields[i].value[0] != '\0')
        {
            return 0;
        }
    }

    return 1;
}


static void
test_basic(void)
{
    tap_ok(parse("code=123456&csrf=1.abc-_&method=totp") == 0,
           "plain body parses");
    tap_ok(fields[0].found && fields[0].len == 6, "code found");
    tap_is_str(code, "123456", "code value");
    tap_is_str(csrf, "1.abc-_", "csrf value");
    tap_ok(!fields[2].found && ret[0] == '\0', "missing field not found");

    tap_ok(parse("r=%2Fapp%2fpage%3Fa%3D1%26b%3d2") == 0
           && fields[2].found, "escaped return field");
    tap_is_str(ret, "/app/page?a=1&b=2", "escapes decoded, either case");

    tap_ok(parse("r=/a?b=c=d") == 0, "'=' inside a value");
    tap_is_str(ret, "/a?b=c=d", "value keeps its '='");

    tap_ok(parse("r=a+b%2Bc%20d") == 0, "'+' and %%20");
    tap_is_str(ret, "a b+c d", "'+' is a space, %%2B a plus");

    tap_ok(parse("r=caf%C3%A9+%E2%82%AC") == 0, "escaped UTF-8");
    tap_is_str(ret, "caf\xc3\xa9 \xe2\x82\xac", "UTF-8 bytes decoded");

    tap_ok(parse("r=caf\xc3\xa9") == 0, "raw UTF-8 bytes");
    tap_is_str(ret, "caf\xc3\xa9", "raw UTF-8 kept");

    tap_ok(parse("r=\xff\xfe\xc3") == 0, "bad UTF-8 is not this layer's job");

    tap_ok(parse("co%64e=42") == 0 && fields[0].found, "escaped name");
    tap_is_str(code, "42", "escaped name matches");

    tap_ok(parse("Code=1&CODE=2") == 0 && !fields[0].found,
           "names are case-sensitive");
}


static void
test_empty(void)
{
    tap_ok(parse("") == 0 && all_reset(), "empty body");
    tap_ok(ngx_http_otp_form_parse(NULL, 0, LIMIT, fields, 3) == 0
           && all_reset(), "NULL body of length 0");
    tap_ok(parse("&&&") == 0 && all_reset(), "only separators");
    tap_ok(parse("&&code=1&&") == 0 && fields[0].found
           && strcmp(code, "1") == 0, "empty pairs skipped");

    tap_ok(parse("code") == 0 && fields[0].found && fields[0].len == 0,
           "name without '=' is an empty value");
    tap_ok(parse("code=") == 0 && fields[0].found && fields[0].len == 0,
           "name with '=' and nothing else");
    tap_ok(parse("=1&=2") == 0 && all_reset(), "empty names ignored");
    tap_ok(parse("=") == 0 && all_reset(), "a lone '='");
}


static void
test_bad_escape(void)
{
    size_t  i;

    static const char  *bad[] = {
        "code=%", "code=%4", "code=12%", "code=%zz", "code=%g0",
        "code=%0g", "code=%%41", "code=% 41", "code=%+1", "code=%-1",
        "x=%", "x=%zz&code=1", "code=1&x=%q1", "c%=1", "%=1", "%zz",
        "r=/a%2", "r=%E2%8"
    };

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tap_ok(parse(bad[i]) == NGX_HTTP_OTP_FORM_BAD_ESCAPE,
               "bad escape rejected: %s", bad[i]);
    }

    tap_ok(parse("code=12&r=%") == NGX_HTTP_OTP_FORM_BAD_ESCAPE
           && all_reset(), "fields reset after an error");
}


static void
test_repeated(void)
{
    tap_ok(parse("code=1&code=2") == NGX_HTTP_OTP_FORM_REPEATED,
           "repeated field rejected");
    tap_ok(parse("code=1&code=1") == NGX_HTTP_OTP_FORM_REPEATED,
           "repeated field with the same value rejected");
    tap_ok(parse("code=1&co%64e=2") == NGX_HTTP_OTP_FORM_REPEATED,
           "repeated through an escaped name rejected");
    tap_ok(parse("code&code=") == NGX_HTTP_OTP_FORM_REPEATED,
           "repeated empty field rejected");
    tap_ok(parse("csrf=a&r=/&csrf=a") == NGX_HTTP_OTP_FORM_REPEATED
           && all_reset(), "repeat later in the body rejected");
    tap_ok(parse("x=1&x=2&code=3") == 0 && strcmp(code, "3") == 0,
           "repeated unknown field ignored");
}


static void
test_too_long(void)
{
    char    body[600];
    size_t  i;

    tap_ok(parse("code=123456") == 0 && fields[0].len == 6,
           "value filling its buffer");
    tap_ok(parse("code=1234567") == NGX_HTTP_OTP_FORM_TOO_LONG,
           "value one byte too long");
    tap_ok(parse("code=%31%32%33%34%35%36") == 0
           && strcmp(code, "123456") == 0,
           "length is the decoded length");
    tap_ok(parse("code=%31%32%33%34%35%36+") == NGX_HTTP_OTP_FORM_TOO_LONG,
           "decoded value one byte too long");
    tap_ok(parse("code=1234567%zz") == NGX_HTTP_OTP_FORM_BAD_ESCAPE,
           "bad escape after an overlong value still found");

    /* a name longer than any buffer never matches, but is checked */

    strcpy(body, "code");
    for (i = 0; i < 200; i++) {
        strcat(body, "e");
    }
    strcat(body, "=1");

    tap_ok(parse(body) == 0 && all_reset(), "overlong name ignored");

    strcpy(body, "code");
    for (i = 0; i < 200; i++) {
        strcat(body, "e");
    }
    strcat(body, "%zz=1");

    tap_ok(parse(body) == NGX_HTTP_OTP_FORM_BAD_ESCAPE,
           "overlong name still checked");

    strcpy(body, "x=");
    for (i = 0; i < 500; i++) {
        strcat(body, "a");
    }

    tap_ok(parse(body) == 0, "long unknown value ignored");
}


static void
test_nul(void)
{
    tap_ok(parse("code=%00") == NGX_HTTP_OTP_FORM_NUL, "%%00 rejected");
    tap_ok(parse("code=12%003") == NGX_HTTP_OTP_FORM_NUL,
           "%%00 inside a value rejected");
    tap_ok(parse("x=%00&code=1") == NGX_HTTP_OTP_FORM_NUL,
           "%%00 in an unknown field rejected");
    tap_ok(parse("co%00de=1") == NGX_HTTP_OTP_FORM_NUL,
           "%%00 in a name rejected");
    tap_ok(parse_len("code=1\0002", 8) == NGX_HTTP_OTP_FORM_NUL,
           "raw NUL byte rejected");
    tap_ok(parse_len("code=1&\0", 8) == NGX_HTTP_OTP_FORM_NUL,
           "raw NUL as a name rejected");
}


static void
test_limit(void)
{
    static char  body[LIMIT + 2];

    memset(body, 'a', sizeof(body));
    memcpy(body, "code=1&x=", 9);

    tap_ok(parse_len(body, LIMIT) == 0 && strcmp(code, "1") == 0,
           "body at the limit");
    tap_ok(parse_len(body, LIMIT + 1) == NGX_HTTP_OTP_FORM_TOO_LARGE
           && all_reset(), "body over the limit");
    tap_ok(ngx_http_otp_form_parse((const uint8_t *) "a", 1, 0, fields, 3)
           == NGX_HTTP_OTP_FORM_TOO_LARGE, "limit 0 allows only empty");
}


static void
test_args(void)
{
    char                       v[4];
    ngx_http_otp_form_field_t  f;

    tap_ok(ngx_http_otp_form_parse((const uint8_t *) "a", 1, 10, NULL, 0)
           == 0, "no fields asked for");
    tap_ok(ngx_http_otp_form_parse(NULL, 1, 10, fields, 3)
           == NGX_HTTP_OTP_FORM_ERROR, "NULL body with a length");

    f.name = "a";
    f.value = v;
    f.size = 0;
    tap_ok(ngx_http_otp_form_parse((const uint8_t *) "a=", 2, 10, &f, 1)
           == NGX_HTTP_OTP_FORM_ERROR, "field buffer of size 0");

    f.size = 1;
    tap_ok(ngx_http_otp_form_parse((const uint8_t *) "a=", 2, 10, &f, 1)
           == 0 && f.found && v[0] == '\0', "buffer of 1 holds empty");
    tap_ok(ngx_http_otp_form_parse((const uint8_t *) "a=b", 3, 10, &f, 1)
           == NGX_HTTP_OTP_FORM_TOO_LONG, "buffer of 1 holds no more");
}


static int
decode(const char *s, unsigned flags, char *out, size_t size)
{
    size_t  n;
    int     rc;

    n = 9999;
    rc = ngx_http_otp_form_decode((const uint8_t *) s, strlen(s), out, size,
                                  &n, flags);

    if (rc == 0 && n != strlen(out)) {
        return -100;
    }

    return rc;
}


static void
test_decode(void)
{
    char  out[16];

    tap_ok(decode("a+b%2f%2F", NGX_HTTP_OTP_FORM_PLUS_SPACE, out,
                  sizeof(out)) == 0, "decode with plus as space");
    tap_is_str(out, "a b//", "decoded");

    tap_ok(decode("a+b", 0, out, sizeof(out)) == 0, "decode keeping '+'");
    tap_is_str(out, "a+b", "plus kept");

    tap_ok(decode("", 0, out, sizeof(out)) == 0 && out[0] == '\0',
           "decode empty");
    tap_ok(decode("%", 0, out, sizeof(out)) == NGX_HTTP_OTP_FORM_BAD_ESCAPE
           && out[0] == '\0', "decode truncated escape");
    tap_ok(decode("%x1", 0, out, sizeof(out))
           == NGX_HTTP_OTP_FORM_BAD_ESCAPE, "decode bad hex");
    tap_ok(decode("a%00", 0, out, sizeof(out)) == NGX_HTTP_OTP_FORM_NUL
           && out[0] == '\0', "decode NUL");
    tap_ok(decode("0123456789abcdef", 0, out, sizeof(out))
           == NGX_HTTP_OTP_FORM_TOO_LONG, "decode too long");
    tap_ok(decode("0123456789abcde", 0, out, sizeof(out)) == 0,
           "decode filling the buffer");
    tap_ok(decode("%41", 0, out, 0) == NGX_HTTP_OTP_FORM_ERROR,
           "decode into nothing");
}


int
main(void)
{
    setup();

    test_basic();
    test_empty();
    test_bad_escape();
    test_repeated();
    test_too_long();
    test_nul();
    test_limit();
    test_args();
    test_decode();

    return tap_done();
}
