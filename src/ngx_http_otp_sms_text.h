
/*
 * SMS codes and messages: the code itself (CSPRNG, digits or an
 * unambiguous upper-case alphabet), the otp_sms_template with its
 * placeholders, and the encodings a provider needs.
 *
 * Pure C: no nginx headers, no allocation.
 */


#ifndef _NGX_HTTP_OTP_SMS_TEXT_H_INCLUDED_
#define _NGX_HTTP_OTP_SMS_TEXT_H_INCLUDED_


#include <stddef.h>


#define NGX_HTTP_OTP_SMS_DIGITS         0
#define NGX_HTTP_OTP_SMS_ALNUM          1

#define NGX_HTTP_OTP_SMS_MIN_CODE       4
#define NGX_HTTP_OTP_SMS_MAX_CODE       10

/* the most characters ngx_http_otp_sms_pct_encode() writes for len */
#define ngx_http_otp_sms_pct_encoded_len(len)  ((len) * 3)


typedef struct {
    const char   *code;
    size_t        code_len;
    const char   *issuer;
    size_t        issuer_len;
    const char   *minutes;
    size_t        minutes_len;
    const char   *host;
    size_t        host_len;
} ngx_http_otp_sms_values_t;


/*
 * A code of len characters (NGX_HTTP_OTP_SMS_MIN_CODE to _MAX_CODE)
 * from the CSPRNG, uniform over the charset: "0".."9", or the 31
 * upper-case letters and digits without 0, O, 1, I and L.  dst holds
 * len bytes (no NUL).  0 or -1.
 */
int ngx_http_otp_sms_code(int charset, size_t len, char *dst);

/*
 * A template for otp_sms_template: "{code}", "{issuer}", "{minutes}"
 * and "{host}" are placeholders, every other "{" or "}" is an error,
 * and "{code}" must be there.  0, or -1 with *reason (static text) and
 * *offset of the problem.
 */
int ngx_http_otp_sms_template_check(const char *tpl, size_t len,
    const char **reason, size_t *offset);

/*
 * 0 if s is a plain host name, as the origin-bound line "@host #code"
 * wants it: dot-separated labels of letters, digits and "-" (not at
 * either end of a label), 253 bytes at most; no port, no wildcard, no
 * trailing dot.  -1 otherwise.
 */
int ngx_http_otp_sms_host_check(const char *s, size_t len);

/*
 * Renders a checked template into dst, or only measures it when dst is
 * NULL; returns the length.
 */
size_t ngx_http_otp_sms_template_render(const char *tpl, size_t len,
    const ngx_http_otp_sms_values_t *values, char *dst);

/*
 * Percent-encodes everything but A-Z a-z 0-9 "-" "." "_" "~" as %XX
 * (upper-case hex; a space too): one encoding that is right both in
 * application/x-www-form-urlencoded bodies and in query strings.
 * dst holds ngx_http_otp_sms_pct_encoded_len(len); returns the length.
 */
size_t ngx_http_otp_sms_pct_encode(const char *src, size_t len, char *dst);

/*
 * Replaces, in place, every byte that is not part of well-formed UTF-8
 * (overlong forms, surrogates and code points past U+10FFFF included)
 * with "?"; returns how many were replaced.
 */
size_t ngx_http_otp_sms_utf8_fix(char *s, size_t len);


#endif /* _NGX_HTTP_OTP_SMS_TEXT_H_INCLUDED_ */
