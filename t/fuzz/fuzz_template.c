
/*
 * libFuzzer target for the templates: the input is split at the first
 * two NUL bytes into a template and the values of "a" and "b" ("c" is
 * always markup to escape, "e" is NULL).  The validator runs, then the
 * renderer measures and writes; it must agree with itself, never write
 * past the size, and a truncated render must be a prefix of the full
 * one.  The full render goes into a heap block of exactly the measured
 * size, so that AddressSanitizer reports a single byte written past it.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       t/fuzz/fuzz_template.c src/ngx_http_otp_template.c
 */


#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ngx_http_otp_template.h"


#define GUARD  16


static int
fuzz_names(void *data, int type, const char *name, size_t len)
{
    size_t  *count = data;

    if (len == 0 || name == NULL) {
        abort();
    }

    (*count)++;

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                             rc;
    char                           *buf, *full;
    size_t                          i, len, n, part, start, count;
    const char                     *p[3];
    size_t                          plen[3];
    ngx_http_otp_template_var_t     vars[5];
    ngx_http_otp_template_error_t   err;

    /* template, "a", "b" */

    part = 0;
    start = 0;

    for (i = 0; i <= size && part < 3; i++) {
        if (i == size || (data[i] == '\0' && part < 2)) {
            p[part] = (const char *) data + start;
            plen[part] = i - start;
            part++;
            start = i + 1;
        }
    }

    for ( /* void */ ; part < 3; part++) {
        p[part] = "";
        plen[part] = 0;
    }

    vars[0].name = "a";
    vars[0].name_len = 1;
    vars[0].value = p[1];
    vars[0].value_len = plen[1];

    vars[1].name = "b";
    vars[1].name_len = 1;
    vars[1].value = p[2];
    vars[1].value_len = plen[2];

    vars[2].name = "c";
    vars[2].name_len = 1;
    vars[2].value = "<&'\">";
    vars[2].value_len = 5;

    vars[3].name = "e";
    vars[3].name_len = 1;
    vars[3].value = NULL;
    vars[3].value_len = 0;

    vars[4].name = NULL;
    vars[4].name_len = 0;
    vars[4].value = "x";
    vars[4].value_len = 1;

    rc = ngx_http_otp_template_check(p[0], plen[0], &err);

    if (rc == -1) {
        if (err.offset >= plen[0] || err.reason == NULL
            || memcmp(p[0] + err.offset, "{{", 2) != 0)
        {
            abort();
        }

    } else if (rc != 0) {
        abort();

    } else {
        count = 0;
        ngx_http_otp_template_names(p[0], plen[0], fuzz_names, &count);
    }

    len = ngx_http_otp_template_size(p[0], plen[0], vars, 5);

    /* exactly the measured size: AddressSanitizer sees a byte more */

    full = malloc(len);
    if (full == NULL && len > 0) {
        return 0;
    }

    n = ngx_http_otp_template_render(p[0], plen[0], vars, 5, full, len);
    if (n != len) {
        abort();
    }

    /* half of it: a prefix of the full output, and not a byte more */

    part = len / 2;

    buf = malloc(part + GUARD);
    if (buf == NULL) {
        free(full);
        return 0;
    }

    memset(buf, 0xa5, part + GUARD);

    n = ngx_http_otp_template_render(p[0], plen[0], vars, 5, buf, part);
    if (n != len || memcmp(buf, full, part) != 0) {
        abort();
    }

    for (i = part; i < part + GUARD; i++) {
        if ((unsigned char) buf[i] != 0xa5) {
            abort();
        }
    }

    if (ngx_http_otp_template_render(p[0], plen[0], vars, 5, NULL, 0)
        != len)
    {
        abort();
    }

    free(buf);
    free(full);

    return 0;
}
