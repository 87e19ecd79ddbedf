
/*
 * QR code SVG: structure (one path, viewBox, quiet zone) and the modules
 * drawn by the path against libqrencode's own matrix.
 *
 * "test_qr <text>" prints the SVG of text instead (t/014-qr.t renders
 * it and reads it back with a QR scanner).
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <qrencode.h>

#include "tap.h"
#include "ngx_http_otp_qr.h"


#define QUIET  4


static size_t
count(const char *s, const char *needle)
{
    size_t  n;

    n = 0;

    while ((s = strstr(s, needle)) != NULL) {
        n++;
        s += strlen(needle);
    }

    return n;
}


/* draws the "M x y h n v1 H x z" runs of the path on a grid */

static int
path_draw(const char *svg, unsigned char *grid, int size)
{
    int          x, y, n, x2, used, i;
    const char  *p, *end;

    p = strstr(svg, " d=\"");
    if (p == NULL) {
        return -1;
    }

    p += 4;
    end = strchr(p, '"');
    if (end == NULL) {
        return -1;
    }

    while (p < end) {
        used = 0;
        if (sscanf(p, "M%d %dh%dv1H%dz%n", &x, &y, &n, &x2, &used) != 4
            || used == 0 || x != x2 || n <= 0
            || x < QUIET || y < QUIET
            || x + n > size - QUIET || y >= size - QUIET)
        {
            return -1;
        }

        for (i = 0; i < n; i++) {
            if (grid[y * size + x + i]) {
                return -1;      /* runs must not overlap */
            }
            grid[y * size + x + i] = 1;
        }

        p += used;
    }

    return 0;
}


static void
test_one(const char *name, const char *text)
{
    int             size, x, y, same;
    char           *svg, want[64];
    size_t          len;
    QRcode         *qr;
    unsigned char  *grid;

    svg = ngx_http_otp_qr_svg(text, strlen(text), &len);
    tap_ok(svg != NULL, "%s: svg", name);
    if (svg == NULL) {
        return;
    }

    tap_ok(len == strlen(svg), "%s: length", name);
    tap_ok(strncmp(svg, "<svg ", 5) == 0
           && strstr(svg, "</svg>") != NULL, "%s: an svg element", name);
    tap_ok(count(svg, "<path") == 1, "%s: exactly one <path", name);
    tap_ok(strstr(svg, "shape-rendering=\"crispEdges\"") != NULL,
           "%s: crispEdges", name);
    tap_ok(strstr(svg, "<rect") != NULL
           && strstr(svg, "fill=\"#fff\"") != NULL,
           "%s: white background", name);

    /* the svg element itself has no fixed size */
    tap_ok(strstr(svg, "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox")
           == svg, "%s: no width or height on <svg>", name);

    qr = QRcode_encodeData((int) strlen(text), (const unsigned char *) text,
                           0, QR_ECLEVEL_M);
    if (qr == NULL) {
        tap_ok(0, "%s: libqrencode", name);
        free(svg);
        return;
    }

    size = qr->width + 2 * QUIET;

    snprintf(want, sizeof(want), "viewBox=\"0 0 %d %d\"", size, size);
    tap_ok(strstr(svg, want) != NULL, "%s: %s", name, want);

    grid = calloc((size_t) size * size, 1);
    tap_ok(grid != NULL && path_draw(svg, grid, size) == 0,
           "%s: path of runs parses", name);

    same = (grid != NULL);

    for (y = 0; same && y < qr->width; y++) {
        for (x = 0; x < qr->width; x++) {
            if ((qr->data[y * qr->width + x] & 1)
                != grid[(y + QUIET) * size + x + QUIET])
            {
                same = 0;
                tap_diag("module %d,%d differs", x, y);
                break;
            }
        }
    }

    tap_ok(same, "%s: path draws exactly the dark modules", name);

    free(grid);
    QRcode_free(qr);
    free(svg);
}


int
main(int argc, char **argv)
{
    int      i;
    char    *svg, big[3000];
    size_t   len;

    if (argc > 1) {
        svg = ngx_http_otp_qr_svg(argv[1], strlen(argv[1]), &len);
        if (svg == NULL) {
            fprintf(stderr, "ngx_http_otp_qr_svg failed\n");
            return 1;
        }

        fwrite(svg, 1, len, stdout);
        free(svg);

        return 0;
    }

    test_one("short", "x");
    test_one("otpauth",
             "otpauth://totp/Example:alice%40example.com"
             "?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Example"
             "&algorithm=SHA1&digits=6&period=30");

    /* a SHA512 secret and awkward names make a large symbol */

    for (i = 0; i < 600; i++) {
        big[i] = "%AZ09-._~"[i % 9];
    }
    big[600] = '\0';
    test_one("600 bytes", big);

    tap_ok(ngx_http_otp_qr_svg("", 0, &len) == NULL, "empty text: NULL");
    tap_ok(ngx_http_otp_qr_svg(NULL, 3, &len) == NULL, "NULL text: NULL");

    memset(big, 'a', sizeof(big));
    tap_ok(ngx_http_otp_qr_svg(big, sizeof(big), &len) == NULL,
           "too long for a QR code: NULL");

    svg = ngx_http_otp_qr_svg("abc", 3, NULL);
    tap_ok(svg != NULL, "svg_len may be NULL");
    free(svg);

    return tap_done();
}
