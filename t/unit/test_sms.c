
/*
 * SMS codes and messages, and phone numbers: the code alphabets and
 * their uniformity, otp_sms_template's checks and rendering, the
 * percent-encoding for form bodies, the UTF-8 repair, E.164 and the
 * masked form.
 */


#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "tap.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_sms_text.h"


#define ROUNDS  20000


typedef struct {
    const char   *tpl;
    size_t        offset;
    const char   *reason;     /* a word of the reason */
} test_bad_t;


static char  out[4096];


static const char *
str(const char *p, size_t len)
{
    static char  buf[4096];

    memcpy(buf, p, len);
    buf[len] = '\0';

    return buf;
}


static void
test_codes(void)
{
    char         code[NGX_HTTP_OTP_SMS_MAX_CODE];
    size_t       i, k, len, seen[256];
    int          ok, bad;
    const char  *alnum = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

    tap_ok(ngx_http_otp_sms_code(NGX_HTTP_OTP_SMS_DIGITS, 3, code) == -1,
           "length 3 refused");
    tap_ok(ngx_http_otp_sms_code(NGX_HTTP_OTP_SMS_DIGITS, 11, code) == -1,
           "length 11 refused");
    tap_ok(ngx_http_otp_sms_code(7, 6, code) == -1, "unknown charset refused");

    for (len = NGX_HTTP_OTP_SMS_MIN_CODE; len <= NGX_HTTP_OTP_SMS_MAX_CODE;
         len++)
    {
        ok = ngx_http_otp_sms_code(NGX_HTTP_OTP_SMS_DIGITS, len, code) == 0;

        for (i = 0; ok && i < len; i++) {
            ok = (code[i] >= '0' && code[i] <= '9');
        }

        tap_ok(ok, "%zu digits", len);
    }

    /* every symbol, about equally often, and nothing else */

    memset(seen, 0, sizeof(seen));
    bad = 0;

    for (k = 0; k < ROUNDS; k++) {
        if (ngx_http_otp_sms_code(NGX_HTTP_OTP_SMS_DIGITS, 10, code) != 0) {
            bad++;
            continue;
        }

        for (i = 0; i < 10; i++) {
            seen[(uint8_t) code[i]]++;
        }
    }

    ok = (bad == 0);

    for (i = 0; i < 256; i++) {
        if (i >= '0' && i <= '9') {
            /* expected 20000, sd about 134 */
            ok = ok && seen[i] > 19000 && seen[i] < 21000;

        } else {
            ok = ok && seen[i] == 0;
        }
    }

    tap_ok(ok, "digits uniform over %d codes", ROUNDS);

    memset(seen, 0, sizeof(seen));
    bad = 0;

    for (k = 0; k < ROUNDS; k++) {
        if (ngx_http_otp_sms_code(NGX_HTTP_OTP_SMS_ALNUM, 10, code) != 0) {
            bad++;
            continue;
        }

        for (i = 0; i < 10; i++) {
            seen[(uint8_t) code[i]]++;
        }
    }

    ok = (bad == 0);

    for (i = 0; i < 256; i++) {
        if (i != 0 && strchr(alnum, (int) i)) {
            /* expected 200000 / 31 = 6452, sd about 79 */
            ok = ok && seen[i] > 6000 && seen[i] < 6900;

        } else {
            ok = ok && seen[i] == 0;
        }
    }

    tap_ok(ok, "alnum: 31 symbols, uniform, no 0 O 1 I L");
    tap_ok(seen['0'] + seen['O'] + seen['1'] + seen['I'] + seen['L'] == 0,
           "no ambiguous symbol");
}


static void
test_templates(void)
{
    size_t                     i, len, offset;
    const char                *reason;
    ngx_http_otp_sms_values_t  v;

    static const char  *good[] = {
        "{code}",
        "Your {issuer} code is {code}. It expires in {minutes} min.",
        "{code} {code}",
        "Code: {code}\n\n@{host} #{code}",
        "\"quotes\" & <b> \\ \xc3\xa9 % + = {code}",
        NULL
    };

    static const test_bad_t  bad[] = {
        { "", 0, "no {code}" },
        { "Your code", 9, "no {code}" },
        { "{issuer} only", 13, "no {code}" },
        { "{code} {foo}", 7, "unknown" },
        { "{Code}", 0, "unknown" },
        { "{ code }", 0, "unknown" },
        { "{code", 0, "unknown" },
        { "{{code}}", 0, "unknown" },
        { "{code} }", 7, "closes" },
        { "{code} {}", 7, "unknown" },
        { NULL, 0, NULL }
    };

    for (i = 0; good[i]; i++) {
        tap_ok(ngx_http_otp_sms_template_check(good[i], strlen(good[i]),
                                               &reason, &offset)
               == 0, "template %zu ok", i);
    }

    for (i = 0; bad[i].tpl; i++) {
        reason = NULL;
        offset = 999;

        tap_ok(ngx_http_otp_sms_template_check(bad[i].tpl, strlen(bad[i].tpl),
                                               &reason, &offset)
               == -1
               && offset == bad[i].offset
               && reason && strstr(reason, bad[i].reason),
               "template refused: \"%s\" (%s at %zu)", bad[i].tpl,
               reason ? reason : "-", offset);
    }

    v.code = "123456";
    v.code_len = 6;
    v.issuer = "Acme \"Q\" & Co";
    v.issuer_len = strlen(v.issuer);
    v.minutes = "5";
    v.minutes_len = 1;
    v.host = "login.example.com";
    v.host_len = strlen(v.host);

    len = ngx_http_otp_sms_template_render(good[1], strlen(good[1]), &v,
                                           NULL);
    tap_ok(len == ngx_http_otp_sms_template_render(good[1], strlen(good[1]),
                                                   &v, out),
           "measure and render agree");
    tap_is_str(str(out, len),
               "Your Acme \"Q\" & Co code is 123456. It expires in 5 min.",
               "default template rendered");

    len = ngx_http_otp_sms_template_render(good[3], strlen(good[3]), &v, out);
    tap_is_str(str(out, len),
               "Code: 123456\n\n@login.example.com #123456",
               "origin-bound form, {code} twice");

    v.issuer_len = 0;
    len = ngx_http_otp_sms_template_render(good[1], strlen(good[1]), &v, out);
    tap_is_str(str(out, len), "Your  code is 123456. It expires in 5 min.",
               "an empty value");
}


static void
test_encodings(void)
{
    size_t  len;
    char    buf[64];

    static const char  in[] = "a b&c=d+e%f/g?h#i\n\"j\\k\xc3\xa9~._-Z9";

    len = ngx_http_otp_sms_pct_encode(in, sizeof(in) - 1, out);
    tap_is_str(str(out, len),
               "a%20b%26c%3Dd%2Be%25f%2Fg%3Fh%23i%0A%22j%5Ck%C3%A9~._-Z9",
               "percent-encoding: only unreserved characters stay");
    tap_ok(len <= ngx_http_otp_sms_pct_encoded_len(sizeof(in) - 1),
           "within the bound");

    len = ngx_http_otp_sms_pct_encode("+15555550123", 12, out);
    tap_is_str(str(out, len), "%2B15555550123", "a phone number's +");

    memcpy(buf, "ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15);
    tap_ok(ngx_http_otp_sms_utf8_fix(buf, 15) == 0
           && memcmp(buf, "ok \xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", 15)
              == 0,
           "well-formed UTF-8 stays");

    memcpy(buf, "a\xff" "b\xc3" "c\xc0\xaf" "d\xed\xa0\x80" "e\xf4\x90\x80\x80",
           17);
    tap_ok(ngx_http_otp_sms_utf8_fix(buf, 17) == 11
           && memcmp(buf, "a?b?c??d???e????", 16) == 0,
           "stray, truncated, overlong, surrogate, too large: \"?\"");

    memcpy(buf, "end\xe2\x82", 5);
    tap_ok(ngx_http_otp_sms_utf8_fix(buf, 5) == 2
           && memcmp(buf, "end??", 5) == 0, "truncated at the end");
}


static void
test_phones(void)
{
    size_t       i, len;
    char         buf[NGX_HTTP_OTP_PHONE_MAX_LEN];

    static const char  *valid[] = {
        "+15555550123", "+12345678", "+123456789012345", "+447911123456",
        NULL
    };

    static const char  *invalid[] = {
        "", "+", "15555550123", "+1234567", "+1234567890123456",
        "+05555550123", "+1555555012a", "++15555550123", "+1 5555550123",
        "+1555\n5550123", NULL
    };

    for (i = 0; valid[i]; i++) {
        tap_ok(ngx_http_otp_phone_valid(valid[i], strlen(valid[i])) == 0,
               "E.164: %s", valid[i]);
    }

    for (i = 0; invalid[i]; i++) {
        tap_ok(ngx_http_otp_phone_valid(invalid[i], strlen(invalid[i])) == -1,
               "not E.164: number %zu", i);
    }

    tap_ok(ngx_http_otp_phone_normalize("+1 (555) 555-01.23", 18, buf, &len)
           == 0 && len == 12 && memcmp(buf, "+15555550123", 12) == 0,
           "spaces, dashes, dots and parentheses dropped");
    tap_ok(ngx_http_otp_phone_normalize("+1 555 555 0123 4567 8901 2345",
                                        30, buf, &len)
           == -1, "too long once normalized");
    tap_ok(ngx_http_otp_phone_normalize("0044 7911 123456", 16, buf, &len)
           == -1, "00 instead of +");
    tap_ok(ngx_http_otp_phone_normalize("+44 7911 12345x", 15, buf, &len)
           == -1, "a letter");
    tap_ok(ngx_http_otp_phone_normalize("+1/5555550123", 13, buf, &len)
           == -1, "a slash");

    len = ngx_http_otp_phone_mask("+15555550123", 12, out);
    tap_is_str(str(out, len), "+1555***0123", "masked, 11 digits");

    len = ngx_http_otp_phone_mask("+12345678", 9, out);
    tap_is_str(str(out, len), "+1***5678", "masked, 8 digits: 3 hidden");

    len = ngx_http_otp_phone_mask("+123456789012345", 16, out);
    tap_is_str(str(out, len), "+1234***2345", "masked, 15 digits");
    tap_ok(len <= NGX_HTTP_OTP_PHONE_MASKED_MAX, "within the bound");
}


int
main(void)
{
    test_codes();
    test_templates();
    test_encodings();
    test_phones();

    return tap_done();
}
