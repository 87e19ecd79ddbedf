
/*
 * QR code (libqrencode) rendered as a compact SVG.
 *
 * Pure C: no nginx headers.
 */


#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <qrencode.h>

#include "ngx_http_otp_qr.h"


/* the quiet zone that ISO/IEC 18004 asks for, in modules */
#define NGX_HTTP_OTP_QR_QUIET    4

/* "M185 185h185v1H185z" and more: a generous bound of one run */
#define NGX_HTTP_OTP_QR_RUN_MAX  32

/* the fixed text around the runs, with room to spare */
#define NGX_HTTP_OTP_QR_FRAME    512


typedef struct {
    char     *pos;
    size_t    left;
    int       error;
} ngx_http_otp_qr_buf_t;


static void ngx_http_otp_qr_printf(ngx_http_otp_qr_buf_t *b,
    const char *fmt, ...);


/* stops writing, and remembers it, instead of overrunning the buffer */

static void
ngx_http_otp_qr_printf(ngx_http_otp_qr_buf_t *b, const char *fmt, ...)
{
    int       n;
    va_list   args;

    if (b->error) {
        return;
    }

    va_start(args, fmt);
    n = vsnprintf(b->pos, b->left, fmt, args);
    va_end(args);

    if (n < 0 || (size_t) n >= b->left) {
        b->error = 1;
        return;
    }

    b->pos += n;
    b->left -= (size_t) n;
}


char *
ngx_http_otp_qr_svg(const char *text, size_t len, size_t *svg_len)
{
    int                     x, y, w, size, start;
    char                   *svg, *p;
    size_t                  cap, n;
    QRcode                 *qr;
    const unsigned char    *row;
    ngx_http_otp_qr_buf_t   b;

    if (text == NULL || len == 0 || len > INT_MAX) {
        return NULL;
    }

    qr = QRcode_encodeData((int) len, (const unsigned char *) text, 0,
                           QR_ECLEVEL_M);
    if (qr == NULL) {
        return NULL;
    }

    w = qr->width;
    size = w + 2 * NGX_HTTP_OTP_QR_QUIET;

    /* a row of w modules holds at most (w + 1) / 2 dark runs */
    cap = NGX_HTTP_OTP_QR_FRAME
          + (size_t) w * (size_t) ((w + 1) / 2) * NGX_HTTP_OTP_QR_RUN_MAX;

    svg = malloc(cap);
    if (svg == NULL) {
        QRcode_free(qr);
        return NULL;
    }

    b.pos = svg;
    b.left = cap;
    b.error = 0;

    ngx_http_otp_qr_printf(&b,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\""
        " shape-rendering=\"crispEdges\" role=\"img\""
        " aria-label=\"QR code\">"
        "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>"
        "<path fill=\"#000\" d=\"",
        size, size, size, size);

    /* one closed rectangle per horizontal run of dark modules */

    for (y = 0; y < w; y++) {
        row = qr->data + (size_t) y * (size_t) w;
        x = 0;

        while (x < w) {
            if (!(row[x] & 1)) {
                x++;
                continue;
            }

            start = x;

            while (x < w && (row[x] & 1)) {
                x++;
            }

            ngx_http_otp_qr_printf(&b, "M%d %dh%dv1H%dz",
                                   start + NGX_HTTP_OTP_QR_QUIET,
                                   y + NGX_HTTP_OTP_QR_QUIET,
                                   x - start,
                                   start + NGX_HTTP_OTP_QR_QUIET);
        }
    }

    ngx_http_otp_qr_printf(&b, "\"/></svg>\n");

    QRcode_free(qr);

    if (b.error) {
        free(svg);
        return NULL;
    }

    n = (size_t) (b.pos - svg);

    /* the bound is generous; give the rest back */

    p = realloc(svg, n + 1);
    if (p != NULL) {
        svg = p;
    }

    if (svg_len != NULL) {
        *svg_len = n;
    }

    return svg;
}
