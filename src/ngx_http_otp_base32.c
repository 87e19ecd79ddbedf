
/*
 * Base32 (RFC 4648 section 6) as authenticator apps use it.
 *
 * Pure C: no nginx headers.
 */


#include <stddef.h>
#include <stdint.h>

#include "ngx_http_otp_base32.h"


static int ngx_http_otp_base32_value(char c);


static const char  ngx_http_otp_base32_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";


size_t
ngx_http_otp_base32_encode(const uint8_t *src, size_t len, char *dst)
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

        while (bits >= 5) {
            bits -= 5;
            *p++ = ngx_http_otp_base32_alphabet[(acc >> bits) & 0x1f];
        }
    }

    /* the last group is padded with zero bits on the right */

    if (bits > 0) {
        *p++ = ngx_http_otp_base32_alphabet[(acc << (5 - bits)) & 0x1f];
    }

    return (size_t) (p - dst);
}


static int
ngx_http_otp_base32_value(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }

    if (c >= 'a' && c <= 'z') {
        return c - 'a';
    }

    if (c >= '2' && c <= '7') {
        return c - '2' + 26;
    }

    return -1;
}


int
ngx_http_otp_base32_decode(const char *src, size_t len, uint8_t *dst,
    size_t *dst_len)
{
    int        v;
    size_t     i, n, pad;
    uint8_t   *p;
    unsigned   bits;
    uint32_t   acc;

    if ((src == NULL && len > 0) || dst == NULL || dst_len == NULL) {
        return -1;
    }

    p = dst;
    n = 0;
    pad = 0;
    acc = 0;
    bits = 0;

    for (i = 0; i < len; i++) {

        if (src[i] == ' ') {
            continue;
        }

        if (src[i] == '=') {
            pad++;
            continue;
        }

        /* once padding started, only more padding may follow */

        if (pad > 0) {
            return -1;
        }

        v = ngx_http_otp_base32_value(src[i]);
        if (v < 0) {
            return -1;
        }

        n++;
        acc = (acc << 5) | (uint32_t) v;
        bits += 5;

        if (bits >= 8) {
            bits -= 8;
            *p++ = (uint8_t) (acc >> bits);
        }
    }

    /* 1, 3 or 6 characters cannot end a group of 5 bytes */

    switch (n % 8) {
    case 1:
    case 3:
    case 6:
        return -1;
    }

    /* padding, when present, completes the last group of 8 */

    if (pad > 0 && (pad > 6 || (n + pad) % 8 != 0)) {
        return -1;
    }

    if ((acc & ((1u << bits) - 1)) != 0) {
        return -1;
    }

    *dst_len = (size_t) (p - dst);

    return 0;
}
