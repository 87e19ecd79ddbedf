
/*
 * Message files and the expansion of {{@key}} tags; the format is
 * described in ngx_http_otp_lang.h.
 *
 * Pure C: no nginx headers.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_lang.h"
#include "ngx_http_otp_template.h"


typedef struct {
    const char   *name;
    size_t        len;
    int           found;
} ngx_http_otp_lang_want_t;


typedef struct {
    char         *dst;
    size_t        size;
    size_t        len;
} ngx_http_otp_lang_out_t;


static int ngx_http_otp_lang_word(int c);
static int ngx_http_otp_lang_scan(const char *value, size_t len,
    int (*handler)(void *data, const char *name, size_t name_len),
    void *data);
static int ngx_http_otp_lang_has(void *data, const char *name,
    size_t name_len);
static int ngx_http_otp_lang_count(void *data, const char *name,
    size_t name_len);
static int ngx_http_otp_lang_same(const ngx_http_otp_lang_msg_t *a,
    const ngx_http_otp_lang_msg_t *b, ngx_http_otp_lang_error_t *err);
static void ngx_http_otp_lang_put(ngx_http_otp_lang_out_t *out,
    const char *s, size_t n);
static void ngx_http_otp_lang_put_text(ngx_http_otp_lang_out_t *out,
    const ngx_http_otp_lang_msg_t *m);


int
ngx_http_otp_lang_parse(const char *text, size_t len,
    ngx_http_otp_lang_msg_t *msgs, size_t max, size_t *n,
    ngx_http_otp_lang_error_t *err)
{
    size_t                    line, i;
    const char               *p, *e, *last, *k, *ke, *v, *ve;
    ngx_http_otp_lang_msg_t  *m;

    memset(err, 0, sizeof(ngx_http_otp_lang_error_t));

    *n = 0;
    last = text + len;
    line = 0;

    for (p = text; p < last; p = e + 1) {
        line++;

        e = memchr(p, '\n', (size_t) (last - p));
        if (e == NULL) {
            e = last;
        }

        ve = e;
        if (ve > p && ve[-1] == '\r') {
            ve--;
        }

        for (k = p; k < ve && (*k == ' ' || *k == '\t'); k++) { /* void */ }

        if (k == ve || *k == '#') {
            continue;
        }

        err->line = line;

        for (ke = k; ke < ve && ngx_http_otp_lang_word(*ke); ke++) {
            /* void */
        }

        if (ke == k) {
            err->reason = "a line must be \"key = text\"";
            return -1;
        }

        err->key = k;
        err->key_len = (size_t) (ke - k);

        for (v = ke; v < ve && (*v == ' ' || *v == '\t'); v++) { /* void */ }

        if (v == ve || *v != '=') {
            err->reason = "a key is followed by \"=\"";
            return -1;
        }

        for (v++; v < ve && (*v == ' ' || *v == '\t'); v++) { /* void */ }

        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) {
            ve--;
        }

        if (ve == v) {
            err->reason = "the text is empty";
            return -1;
        }

        if (ngx_http_otp_lang_scan(v, (size_t) (ve - v), NULL, NULL) != 0) {
            err->reason = "a \"{\" or \"}\" that is not a {placeholder}";
            return -1;
        }

        for (i = 0; i < *n; i++) {
            if (msgs[i].key_len == err->key_len
                && memcmp(msgs[i].key, k, err->key_len) == 0)
            {
                err->reason = "the key is there twice";
                return -1;
            }
        }

        if (*n == max) {
            err->reason = "too many texts";
            return -1;
        }

        m = &msgs[(*n)++];
        m->key = k;
        m->key_len = err->key_len;
        m->value = v;
        m->value_len = (size_t) (ve - v);
    }

    memset(err, 0, sizeof(ngx_http_otp_lang_error_t));

    return 0;
}


int
ngx_http_otp_lang_check(const ngx_http_otp_lang_msg_t *msgs, size_t n,
    const ngx_http_otp_lang_msg_t *ref, size_t nref,
    ngx_http_otp_lang_error_t *err)
{
    size_t                          i;
    const ngx_http_otp_lang_msg_t  *m;

    memset(err, 0, sizeof(ngx_http_otp_lang_error_t));

    for (i = 0; i < nref; i++) {
        err->key = ref[i].key;
        err->key_len = ref[i].key_len;

        m = ngx_http_otp_lang_find(msgs, n, ref[i].key, ref[i].key_len);
        if (m == NULL) {
            err->reason = "the key is missing";
            return -1;
        }

        if (ngx_http_otp_lang_same(m, &ref[i], err) != 0) {
            return -1;
        }
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_otp_lang_find(ref, nref, msgs[i].key, msgs[i].key_len)
            == NULL)
        {
            err->key = msgs[i].key;
            err->key_len = msgs[i].key_len;
            err->reason = "no page uses the key (a typo?)";
            return -1;
        }
    }

    memset(err, 0, sizeof(ngx_http_otp_lang_error_t));

    return 0;
}


const ngx_http_otp_lang_msg_t *
ngx_http_otp_lang_find(const ngx_http_otp_lang_msg_t *msgs, size_t n,
    const char *key, size_t key_len)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (msgs[i].key_len == key_len
            && memcmp(msgs[i].key, key, key_len) == 0)
        {
            return &msgs[i];
        }
    }

    return NULL;
}


const ngx_http_otp_lang_msg_t *
ngx_http_otp_lang_find_text(const ngx_http_otp_lang_msg_t *msgs, size_t n,
    const char *value, size_t value_len)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (msgs[i].value_len == value_len
            && memcmp(msgs[i].value, value, value_len) == 0)
        {
            return &msgs[i];
        }
    }

    return NULL;
}


size_t
ngx_http_otp_lang_expand(const char *tpl, size_t len,
    const ngx_http_otp_lang_msg_t *msgs, size_t n, char *dst, size_t size)
{
    const char                     *p, *q, *e, *last;
    ngx_http_otp_lang_out_t         out;
    const ngx_http_otp_lang_msg_t  *m;

    out.dst = dst;
    out.size = (dst != NULL) ? size : 0;
    out.len = 0;

    p = tpl;
    last = tpl + len;

    while (p < last) {

        /* the next "{{" */

        for (q = p; q < last; q++) {
            q = memchr(q, '{', (size_t) (last - q));
            if (q == NULL || (last - q >= 2 && q[1] == '{')) {
                break;
            }
        }

        if (q == NULL || q >= last) {
            ngx_http_otp_lang_put(&out, p, (size_t) (last - p));
            break;
        }

        ngx_http_otp_lang_put(&out, p, (size_t) (q - p));

        /* a comment is copied whole: it may mention {{@key}} */

        if (last - q >= 3 && (q[2] == '!' || q[2] == '@')) {
            for (e = q + 3; last - e >= 2; e++) {
                if (e[0] == '}' && e[1] == '}') {
                    break;
                }
            }

            if (last - e < 2) {
                ngx_http_otp_lang_put(&out, q, (size_t) (last - q));
                break;
            }

            if (q[2] == '!') {
                ngx_http_otp_lang_put(&out, q, (size_t) (e + 2 - q));

            } else {
                m = ngx_http_otp_lang_find(msgs, n, q + 3,
                                           (size_t) (e - q - 3));
                if (m != NULL) {
                    ngx_http_otp_lang_put_text(&out, m);
                }
            }

            p = e + 2;
            continue;
        }

        ngx_http_otp_lang_put(&out, q, 2);
        p = q + 2;
    }

    return out.len;
}


int
ngx_http_otp_lang_placeholders(const char *value, size_t len,
    int (*handler)(void *data, const char *name, size_t name_len),
    void *data)
{
    return ngx_http_otp_lang_scan(value, len, handler, data);
}


static int
ngx_http_otp_lang_word(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}


/* -1 for a stray brace; else like ngx_http_otp_lang_placeholders() */

static int
ngx_http_otp_lang_scan(const char *value, size_t len,
    int (*handler)(void *data, const char *name, size_t name_len),
    void *data)
{
    int          rc;
    const char  *p, *e, *last;

    last = value + len;

    for (p = value; p < last; p++) {

        if (*p == '}') {
            return -1;
        }

        if (*p != '{') {
            continue;
        }

        for (e = p + 1; e < last && ngx_http_otp_lang_word(*e); e++) {
            /* void */
        }

        if (e == p + 1 || e == last || *e != '}') {
            return -1;
        }

        if (handler != NULL) {
            rc = handler(data, p + 1, (size_t) (e - p - 1));
            if (rc != 0) {
                return rc;
            }
        }

        p = e;
    }

    return 0;
}


static int
ngx_http_otp_lang_has(void *data, const char *name, size_t name_len)
{
    ngx_http_otp_lang_want_t *want = data;

    if (name_len == want->len && memcmp(name, want->name, name_len) == 0) {
        want->found = 1;
        return 1;
    }

    return 0;
}


/* every placeholder of one is a placeholder of the other: data is it */

static int
ngx_http_otp_lang_count(void *data, const char *name, size_t name_len)
{
    const ngx_http_otp_lang_msg_t *other = data;

    ngx_http_otp_lang_want_t  want;

    want.name = name;
    want.len = name_len;
    want.found = 0;

    (void) ngx_http_otp_lang_scan(other->value, other->value_len,
                                  ngx_http_otp_lang_has, &want);

    return want.found ? 0 : 2;
}


static int
ngx_http_otp_lang_same(const ngx_http_otp_lang_msg_t *a,
    const ngx_http_otp_lang_msg_t *b, ngx_http_otp_lang_error_t *err)
{
    const char  *p, *e, *last;
    const ngx_http_otp_lang_msg_t  *from, *to;
    int          pass;

    /* a's placeholders in b (not in English), then b's in a (missing) */

    for (pass = 0; pass < 2; pass++) {
        from = (pass == 0) ? a : b;
        to = (pass == 0) ? b : a;

        last = from->value + from->value_len;

        for (p = from->value; p < last; p++) {
            if (*p != '{') {
                continue;
            }

            for (e = p + 1; e < last && *e != '}'; e++) { /* void */ }

            if (ngx_http_otp_lang_count((void *) to, p + 1,
                                        (size_t) (e - p - 1))
                != 0)
            {
                err->name = p + 1;
                err->name_len = (size_t) (e - p - 1);
                err->reason = (pass == 0)
                              ? "the placeholder is not in the English text"
                              : "the placeholder of the English text is "
                                "missing";
                return -1;
            }

            p = e;
        }
    }

    return 0;
}


static void
ngx_http_otp_lang_put(ngx_http_otp_lang_out_t *out, const char *s,
    size_t n)
{
    if (out->len < out->size) {
        memcpy(out->dst + out->len, s,
               (n < out->size - out->len) ? n : out->size - out->len);
    }

    out->len += n;
}


/* the text escaped, its placeholders as {{name}} */

static void
ngx_http_otp_lang_put_text(ngx_http_otp_lang_out_t *out,
    const ngx_http_otp_lang_msg_t *m)
{
    char         buf[256];
    size_t       n;
    const char  *p, *q, *e, *last;

    last = m->value + m->value_len;

    for (p = m->value; p < last; p = q) {

        for (q = p; q < last && *q != '{'; q++) { /* void */ }

        /* escaped a piece at a time, within a small buffer */

        while (p < q) {
            n = ((size_t) (q - p) < sizeof(buf) / 6)
                ? (size_t) (q - p) : sizeof(buf) / 6;
            ngx_http_otp_lang_put(out, buf,
                                  ngx_http_otp_template_escape(p, n, buf));
            p += n;
        }

        if (q == last) {
            break;
        }

        for (e = q + 1; e < last && *e != '}'; e++) { /* void */ }

        ngx_http_otp_lang_put(out, "{{", 2);
        ngx_http_otp_lang_put(out, q + 1, (size_t) (e - q - 1));
        ngx_http_otp_lang_put(out, "}}", 2);

        q = (e < last) ? e + 1 : last;
    }
}
