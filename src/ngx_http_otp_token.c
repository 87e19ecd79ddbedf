
/*
 * Cookie values, CSRF tokens and keyed hashes of short codes.
 *
 * Pure C: no nginx headers.  Every MAC input starts with a purpose
 * label and a NUL, so a MAC made for one use never verifies for
 * another; user names may not contain NUL, so the fields that follow
 * cannot be shifted into one another.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_crypto.h"
#include "ngx_http_otp_token.h"


/*
 * The CSRF input ("csrf\0" user "\0" binding issued_at) is the longest;
 * code and signed-value inputs are shorter, and more is refused anyway.
 */
#define NGX_HTTP_OTP_TOKEN_MSG_MAX                                            \
    (5 + NGX_HTTP_OTP_TOKEN_MAX_USER + 1 + NGX_HTTP_OTP_TOKEN_MAX_BINDING   \
     + 8)

#define NGX_HTTP_OTP_MAC_B64_LEN                                              \
    ngx_http_otp_b64url_encoded_len(NGX_HTTP_OTP_MAC_LEN)

/* issued_at and the MAC, before base64url */
#define NGX_HTTP_OTP_CSRF_RAW_LEN        (8 + NGX_HTTP_OTP_MAC_LEN)


typedef struct {
    uint8_t   buf[NGX_HTTP_OTP_TOKEN_MSG_MAX];
    size_t    len;
    int       overflow;
} ngx_http_otp_token_msg_t;


static int ngx_http_otp_b64url_value(char c);
static void ngx_http_otp_token_add(ngx_http_otp_token_msg_t *m,
    const void *p, size_t len);
static int ngx_http_otp_token_user_ok(const char *user, size_t len);
static int ngx_http_otp_signed_mac(const uint8_t *key, const char *purpose,
    const uint8_t *payload, size_t len, uint8_t *mac);
static int ngx_http_otp_csrf_mac(const uint8_t *key, const char *user,
    size_t user_len, const char *binding, size_t binding_len,
    const uint8_t *issued, uint8_t *mac);


static const char  ngx_http_otp_b64url_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";


size_t
ngx_http_otp_b64url_encode(const uint8_t *src, size_t len, char *dst)
{
    char      *p;
    size_t     i;
    unsigned   bits;
    uint32_t   acc;

    p = dst;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        acc = (acc << 8) | src[i];
        bits += 8;

        while (bits >= 6) {
            bits -= 6;
            *p++ = ngx_http_otp_b64url_alphabet[(acc >> bits) & 0x3f];
        }
    }

    if (bits > 0) {
        *p++ = ngx_http_otp_b64url_alphabet[(acc << (6 - bits)) & 0x3f];
    }

    return (size_t) (p - dst);
}


static int
ngx_http_otp_b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }

    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }

    if (c == '-') {
        return 62;
    }

    if (c == '_') {
        return 63;
    }

    return -1;
}


int
ngx_http_otp_b64url_decode(const char *src, size_t len, uint8_t *dst,
    size_t *dst_len)
{
    int        v;
    size_t     i;
    uint8_t   *p;
    unsigned   bits;
    uint32_t   acc;

    if ((src == NULL && len > 0) || dst == NULL || dst_len == NULL) {
        return -1;
    }

    /* one character alone cannot carry a byte */

    if (len % 4 == 1) {
        return -1;
    }

    p = dst;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {
        v = ngx_http_otp_b64url_value(src[i]);
        if (v < 0) {
            return -1;
        }

        acc = ((acc << 6) | (uint32_t) v) & 0xffffff;
        bits += 6;

        if (bits >= 8) {
            bits -= 8;
            *p++ = (uint8_t) (acc >> bits);
        }
    }

    /* unused bits set would give a second spelling of the same bytes */

    if ((acc & ((1u << bits) - 1)) != 0) {
        return -1;
    }

    *dst_len = (size_t) (p - dst);

    return 0;
}


static void
ngx_http_otp_token_add(ngx_http_otp_token_msg_t *m, const void *p,
    size_t len)
{
    if (m->overflow || len > sizeof(m->buf) - m->len) {
        m->overflow = 1;
        return;
    }

    if (len > 0) {
        memcpy(m->buf + m->len, p, len);
        m->len += len;
    }
}


static int
ngx_http_otp_token_user_ok(const char *user, size_t len)
{
    return user != NULL && len > 0 && len <= NGX_HTTP_OTP_TOKEN_MAX_USER
           && memchr(user, '\0', len) == NULL;
}


static int
ngx_http_otp_signed_mac(const uint8_t *key, const char *purpose,
    const uint8_t *payload, size_t len, uint8_t *mac)
{
    size_t                    n;
    ngx_http_otp_token_msg_t  m;

    if (key == NULL || purpose == NULL || (payload == NULL && len > 0)
        || len > NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD)
    {
        return -1;
    }

    n = strlen(purpose);

    if (n == 0 || n > NGX_HTTP_OTP_SIGNED_MAX_PURPOSE) {
        return -1;
    }

    m.len = 0;
    m.overflow = 0;

    ngx_http_otp_token_add(&m, purpose, n + 1);
    ngx_http_otp_token_add(&m, payload, len);

    if (m.overflow) {
        return -1;
    }

    return ngx_http_otp_hmac(key, m.buf, m.len, mac);
}


int
ngx_http_otp_signed_encode(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *purpose, const uint8_t *payload, size_t len, char *dst,
    size_t *dst_len)
{
    char     *p;
    uint8_t   mac[NGX_HTTP_OTP_MAC_LEN];

    if (dst == NULL || dst_len == NULL
        || ngx_http_otp_signed_mac(key, purpose, payload, len, mac) != 0)
    {
        return -1;
    }

    p = dst;
    *p++ = '1';
    *p++ = '.';
    p += ngx_http_otp_b64url_encode(payload, len, p);
    *p++ = '.';
    p += ngx_http_otp_b64url_encode(mac, sizeof(mac), p);

    *dst_len = (size_t) (p - dst);

    return 0;
}


int
ngx_http_otp_signed_decode(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *purpose, const char *src, size_t len, uint8_t *payload,
    size_t payload_size, size_t *payload_len)
{
    size_t       n, m, plen, mlen;
    uint8_t      buf[NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD];
    uint8_t      mac[NGX_HTTP_OTP_MAC_LEN], want[NGX_HTTP_OTP_MAC_LEN];
    const char  *dot;

    if (src == NULL || payload_len == NULL
        || (payload == NULL && payload_size > 0))
    {
        return -1;
    }

    if (len < ngx_http_otp_signed_len(0)
        || len > ngx_http_otp_signed_len(NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD)
        || src[0] != '1' || src[1] != '.')
    {
        return -1;
    }

    dot = memchr(src + 2, '.', len - 2);
    if (dot == NULL) {
        return -1;
    }

    plen = (size_t) (dot - (src + 2));
    mlen = len - 2 - plen - 1;

    if (mlen != NGX_HTTP_OTP_MAC_B64_LEN
        || plen > ngx_http_otp_b64url_encoded_len(
                      NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD))
    {
        return -1;
    }

    if (ngx_http_otp_b64url_decode(src + 2, plen, buf, &n) != 0
        || n > payload_size)
    {
        return -1;
    }

    if (ngx_http_otp_b64url_decode(dot + 1, mlen, mac, &m) != 0
        || m != NGX_HTTP_OTP_MAC_LEN)
    {
        return -1;
    }

    if (ngx_http_otp_signed_mac(key, purpose, buf, n, want) != 0) {
        return -1;
    }

    if (!ngx_http_otp_ct_equal(mac, want, NGX_HTTP_OTP_MAC_LEN)) {
        return -1;
    }

    if (n > 0) {
        memcpy(payload, buf, n);
    }

    *payload_len = n;

    return 0;
}


int
ngx_http_otp_session_id_new(uint8_t id[NGX_HTTP_OTP_SESSION_ID_LEN])
{
    return ngx_http_otp_random(id, NGX_HTTP_OTP_SESSION_ID_LEN);
}


int
ngx_http_otp_session_cookie_encode(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const uint8_t id[NGX_HTTP_OTP_SESSION_ID_LEN], char *dst)
{
    size_t  n;

    if (id == NULL) {
        return -1;
    }

    return ngx_http_otp_signed_encode(key, "session", id,
                                      NGX_HTTP_OTP_SESSION_ID_LEN, dst, &n);
}


int
ngx_http_otp_session_cookie_decode(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *src, size_t len, uint8_t id[NGX_HTTP_OTP_SESSION_ID_LEN])
{
    size_t  n;

    if (len != NGX_HTTP_OTP_SESSION_COOKIE_LEN || id == NULL) {
        return -1;
    }

    if (ngx_http_otp_signed_decode(key, "session", src, len, id,
                                   NGX_HTTP_OTP_SESSION_ID_LEN, &n)
        != 0
        || n != NGX_HTTP_OTP_SESSION_ID_LEN)
    {
        return -1;
    }

    return 0;
}


static int
ngx_http_otp_csrf_mac(const uint8_t *key, const char *user,
    size_t user_len, const char *binding, size_t binding_len,
    const uint8_t *issued, uint8_t *mac)
{
    ngx_http_otp_token_msg_t  m;

    if (key == NULL || !ngx_http_otp_token_user_ok(user, user_len)
        || (binding == NULL && binding_len > 0)
        || binding_len > NGX_HTTP_OTP_TOKEN_MAX_BINDING)
    {
        return -1;
    }

    m.len = 0;
    m.overflow = 0;

    ngx_http_otp_token_add(&m, "csrf", 5);
    ngx_http_otp_token_add(&m, user, user_len);
    ngx_http_otp_token_add(&m, "", 1);
    ngx_http_otp_token_add(&m, binding, binding_len);
    ngx_http_otp_token_add(&m, issued, 8);

    if (m.overflow) {
        return -1;
    }

    return ngx_http_otp_hmac(key, m.buf, m.len, mac);
}


int
ngx_http_otp_csrf_issue(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *binding,
    size_t binding_len, int64_t now, char *dst)
{
    int       i;
    char     *p;
    uint8_t   raw[NGX_HTTP_OTP_CSRF_RAW_LEN];
    uint64_t  t;

    if (dst == NULL || now < 0) {
        return -1;
    }

    t = (uint64_t) now;

    for (i = 7; i >= 0; i--) {
        raw[i] = (uint8_t) (t & 0xff);
        t >>= 8;
    }

    if (ngx_http_otp_csrf_mac(key, user, user_len, binding, binding_len,
                              raw, raw + 8)
        != 0)
    {
        return -1;
    }

    p = dst;
    *p++ = '1';
    *p++ = '.';
    ngx_http_otp_b64url_encode(raw, sizeof(raw), p);

    return 0;
}


int
ngx_http_otp_csrf_check(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *binding,
    size_t binding_len, const char *token, size_t token_len, int64_t now,
    int64_t max_age)
{
    int       i;
    size_t    n;
    uint8_t   raw[NGX_HTTP_OTP_CSRF_RAW_LEN];
    uint8_t   want[NGX_HTTP_OTP_MAC_LEN];
    int64_t   issued;
    uint64_t  t;

    if (token == NULL || token_len != NGX_HTTP_OTP_CSRF_LEN
        || token[0] != '1' || token[1] != '.')
    {
        return NGX_HTTP_OTP_TOKEN_BAD;
    }

    if (ngx_http_otp_b64url_decode(token + 2, token_len - 2, raw, &n) != 0
        || n != sizeof(raw))
    {
        return NGX_HTTP_OTP_TOKEN_BAD;
    }

    if (ngx_http_otp_csrf_mac(key, user, user_len, binding, binding_len,
                              raw, want)
        != 0)
    {
        return NGX_HTTP_OTP_TOKEN_BAD;
    }

    if (!ngx_http_otp_ct_equal(raw + 8, want, NGX_HTTP_OTP_MAC_LEN)) {
        return NGX_HTTP_OTP_TOKEN_BAD;
    }

    t = 0;

    for (i = 0; i < 8; i++) {
        t = (t << 8) | raw[i];
    }

    /* only a MAC made by us gets here, but the clock may be odd */

    if (t > (uint64_t) INT64_MAX || now < 0 || max_age < 0) {
        return NGX_HTTP_OTP_TOKEN_BAD;
    }

    issued = (int64_t) t;

    if (issued > now) {
        return (issued - now <= NGX_HTTP_OTP_CSRF_SLACK)
               ? NGX_HTTP_OTP_TOKEN_OK : NGX_HTTP_OTP_TOKEN_BAD;
    }

    if (now - issued > max_age) {
        return NGX_HTTP_OTP_TOKEN_EXPIRED;
    }

    return NGX_HTTP_OTP_TOKEN_OK;
}


int
ngx_http_otp_code_normalize(const char *src, size_t len, char *dst,
    size_t *dst_len)
{
    size_t   i, n;
    uint8_t  c;

    if ((src == NULL && len > 0) || dst == NULL || dst_len == NULL) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        c = (uint8_t) src[i];

        if (c == ' ' || c == '-') {
            continue;
        }

        if (c < 0x21 || c > 0x7e || n == NGX_HTTP_OTP_CODE_MAX_LEN) {
            return -1;
        }

        if (c >= 'a' && c <= 'z') {
            c -= 'a' - 'A';
        }

        dst[n++] = (char) c;
    }

    if (n == 0) {
        return -1;
    }

    dst[n] = '\0';
    *dst_len = n;

    return 0;
}


int
ngx_http_otp_code_hash(const uint8_t key[NGX_HTTP_OTP_KEY_LEN],
    const char *user, size_t user_len, const char *code, size_t code_len,
    uint8_t out[NGX_HTTP_OTP_MAC_LEN])
{
    char                      norm[NGX_HTTP_OTP_CODE_MAX_LEN + 1];
    size_t                    n;
    ngx_http_otp_token_msg_t  m;

    if (key == NULL || out == NULL
        || !ngx_http_otp_token_user_ok(user, user_len)
        || ngx_http_otp_code_normalize(code, code_len, norm, &n) != 0)
    {
        return -1;
    }

    m.len = 0;
    m.overflow = 0;

    ngx_http_otp_token_add(&m, "code", 5);
    ngx_http_otp_token_add(&m, user, user_len);
    ngx_http_otp_token_add(&m, "", 1);
    ngx_http_otp_token_add(&m, norm, n);

    if (m.overflow) {
        return -1;
    }

    return ngx_http_otp_hmac(key, m.buf, m.len, out);
}
