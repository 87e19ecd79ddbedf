
/*
 * Page templates; the syntax is described in ngx_http_otp_template.h.
 *
 * One forward pass, no allocation, no recursion.  The renderer only
 * counts how deep it is inside a section it skips, so even a template
 * that was never checked cannot exhaust the stack, and the same pass
 * both measures and writes: the size it reports and the bytes it
 * writes cannot disagree.
 *
 * Pure C: no nginx headers.
 */


#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ngx_http_otp_template.h"


typedef struct {
    int           type;       /* 0, '{', '#', '^', '/', '!' or '@' */
    const char   *name;
    size_t        name_len;
    const char   *end;        /* the byte after the tag */
} ngx_http_otp_template_tag_t;


typedef struct {
    char         *dst;
    size_t        size;
    size_t        len;        /* of the whole output, written or not */
} ngx_http_otp_template_out_t;


static const char *ngx_http_otp_template_find(const char *p,
    const char *last);
static const char *ngx_http_otp_template_parse(const char *p,
    const char *last, ngx_http_otp_template_tag_t *tag);
static const ngx_http_otp_template_var_t *ngx_http_otp_template_lookup(
    const ngx_http_otp_template_var_t *vars, size_t nvars,
    ngx_http_otp_template_tag_t *tag);
static void ngx_http_otp_template_put(ngx_http_otp_template_out_t *out,
    const char *s, size_t n);
static void ngx_http_otp_template_put_escaped(
    ngx_http_otp_template_out_t *out, const char *s, size_t n);


int
ngx_http_otp_template_check(const char *tpl, size_t len,
    ngx_http_otp_template_error_t *err)
{
    size_t                        depth;
    const char                   *p, *q, *last, *reason;
    ngx_http_otp_template_tag_t   tag;
    ngx_http_otp_template_tag_t   open[NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH];
    const char                   *open_at[NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH];

    if (len == 0) {
        return 0;
    }

    p = tpl;
    last = tpl + len;
    depth = 0;

    for ( ;; ) {
        q = ngx_http_otp_template_find(p, last);
        if (q == NULL) {
            break;
        }

        reason = ngx_http_otp_template_parse(q, last, &tag);
        if (reason != NULL) {
            goto failed;
        }

        switch (tag.type) {

        case '#':
        case '^':
            if (depth == NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH) {
                reason = "sections nested too deeply";
                goto failed;
            }

            open[depth] = tag;
            open_at[depth] = q;
            depth++;
            break;

        case '/':
            if (depth == 0) {
                reason = "closing tag without an open section";
                goto failed;
            }

            depth--;

            if (tag.name_len != open[depth].name_len
                || memcmp(tag.name, open[depth].name, tag.name_len) != 0)
            {
                reason = "closing tag does not match the open section";
                goto failed;
            }

            break;

        default:
            break;
        }

        p = tag.end;
    }

    if (depth > 0) {
        q = open_at[depth - 1];
        reason = "section is not closed";
        goto failed;
    }

    return 0;

failed:

    if (err != NULL) {
        err->offset = (size_t) (q - tpl);
        err->reason = reason;
    }

    return -1;
}


size_t
ngx_http_otp_template_size(const char *tpl, size_t len,
    const ngx_http_otp_template_var_t *vars, size_t nvars)
{
    return ngx_http_otp_template_render(tpl, len, vars, nvars, NULL, 0);
}


size_t
ngx_http_otp_template_render(const char *tpl, size_t len,
    const ngx_http_otp_template_var_t *vars, size_t nvars, char *dst,
    size_t size)
{
    int                                 set;
    size_t                              skip;
    const char                         *p, *q, *last;
    ngx_http_otp_template_out_t         out;
    ngx_http_otp_template_tag_t         tag;
    const ngx_http_otp_template_var_t  *var;

    out.dst = dst;
    out.size = (dst != NULL) ? size : 0;
    out.len = 0;

    if (len == 0) {
        return 0;
    }

    p = tpl;
    last = tpl + len;

    /* the depth of nested sections being left out; 0: rendering */
    skip = 0;

    while (p < last) {
        q = ngx_http_otp_template_find(p, last);

        if (skip == 0) {
            ngx_http_otp_template_put(&out, p,
                                      (size_t) ((q ? q : last) - p));
        }

        if (q == NULL) {
            break;
        }

        if (ngx_http_otp_template_parse(q, last, &tag) != NULL) {

            /*
             * the rest is an unterminated comment: searching for its end
             * again from every later "{{" would be quadratic
             */

            if (tag.type == '!') {
                break;
            }

            /* not a tag: a literal brace, and look again after it */

            if (skip == 0) {
                ngx_http_otp_template_put(&out, q, 1);
            }

            p = q + 1;
            continue;
        }

        p = tag.end;

        switch (tag.type) {

        case '#':
        case '^':
            if (skip > 0) {
                skip++;
                break;
            }

            var = ngx_http_otp_template_lookup(vars, nvars, &tag);
            set = (var != NULL && var->value != NULL && var->value_len > 0);

            if (set != (tag.type == '#')) {
                skip = 1;
            }

            break;

        case '/':
            /* nothing to match: the check has made sure that it does */
            if (skip > 0) {
                skip--;
            }

            break;

        case '!':
        case '@':
            /* a text: ngx_http_otp_lang_expand() put it in before */
            break;

        default:
            if (skip > 0) {
                break;
            }

            var = ngx_http_otp_template_lookup(vars, nvars, &tag);
            if (var == NULL || var->value == NULL) {
                break;
            }

            if (tag.type == '{') {
                ngx_http_otp_template_put(&out, var->value, var->value_len);

            } else {
                ngx_http_otp_template_put_escaped(&out, var->value,
                                                  var->value_len);
            }

            break;
        }
    }

    return out.len;
}


size_t
ngx_http_otp_template_escape(const char *src, size_t len, char *dst)
{
    ngx_http_otp_template_out_t  out;

    out.dst = dst;
    out.size = (dst != NULL) ? SIZE_MAX : 0;
    out.len = 0;

    ngx_http_otp_template_put_escaped(&out, src, len);

    return out.len;
}


size_t
ngx_http_otp_utf8_char(const unsigned char *p, size_t n, unsigned long *cp)
{
    size_t         len, i;
    unsigned long  c, min;

    if (n == 0) {
        return 0;
    }

    c = p[0];

    if (c < 0x80) {
        len = 1;
        min = 0;

    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        c &= 0x1f;
        min = 0x80;

    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        c &= 0x0f;
        min = 0x800;

    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        c &= 0x07;
        min = 0x10000;

    } else {
        return 0;
    }

    if (n < len) {
        return 0;
    }

    for (i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = (c << 6) | (p[i] & 0x3f);
    }

    if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff) {
        return 0;
    }

    *cp = c;

    return len;
}


size_t
ngx_http_otp_utf8_clean(const char *src, size_t len, size_t max, char *dst)
{
    size_t                n, i, out;
    unsigned long         c;
    const unsigned char  *p;

    p = (const unsigned char *) src;
    out = 0;

    for (i = 0; i < len; i += n ? n : 1) {
        n = ngx_http_otp_utf8_char(p + i, len - i, &c);

        if (n == 0 || c < 0x20 || (c >= 0x7f && c < 0xa0)) {
            continue;
        }

        if (out + n > max) {
            break;
        }

        memcpy(dst + out, p + i, n);
        out += n;
    }

    return out;
}


int
ngx_http_otp_template_names(const char *tpl, size_t len,
    int (*handler)(void *data, int type, const char *name, size_t name_len),
    void *data)
{
    int                           rc;
    const char                   *p, *q, *last;
    ngx_http_otp_template_tag_t   tag;

    if (len == 0) {
        return 0;
    }

    p = tpl;
    last = tpl + len;

    for ( ;; ) {
        q = ngx_http_otp_template_find(p, last);
        if (q == NULL) {
            return 0;
        }

        if (ngx_http_otp_template_parse(q, last, &tag) != NULL) {
            return 0;
        }

        if (tag.type != '!') {
            rc = handler(data, tag.type, tag.name, tag.name_len);
            if (rc != 0) {
                return rc;
            }
        }

        p = tag.end;
    }
}


/* the next "{{" in [p, last), or NULL */

static const char *
ngx_http_otp_template_find(const char *p, const char *last)
{
    while (p < last) {
        p = memchr(p, '{', (size_t) (last - p));
        if (p == NULL) {
            return NULL;
        }

        if (last - p >= 2 && p[1] == '{') {
            return p;
        }

        p++;
    }

    return NULL;
}


/*
 * Parses the tag at p (which starts with "{{").  Returns NULL, or why it
 * is not a tag; tag->type is set in either case.
 */

static const char *
ngx_http_otp_template_parse(const char *p, const char *last,
    ngx_http_otp_template_tag_t *tag)
{
    size_t  i, n;

    p += 2;

    tag->type = 0;
    tag->name = NULL;
    tag->name_len = 0;
    tag->end = NULL;

    if (p < last
        && (*p == '{' || *p == '#' || *p == '^' || *p == '/' || *p == '!'
            || *p == '@'))
    {
        tag->type = (unsigned char) *p++;
    }

    if (tag->type == '!') {

        for ( /* void */ ; last - p >= 2; p++) {
            if (p[0] == '}' && p[1] == '}') {
                tag->end = p + 2;
                return NULL;
            }
        }

        return "comment is not terminated";
    }

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    tag->name = p;

    while (p < last
           && ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
               || (*p >= '0' && *p <= '9') || *p == '_'))
    {
        p++;
    }

    tag->name_len = (size_t) (p - tag->name);

    while (p < last && (*p == ' ' || *p == '\t')) {
        p++;
    }

    n = (tag->type == '{') ? 3 : 2;

    for (i = 0; i < n; i++, p++) {

        if (p == last) {
            return "tag is not terminated";
        }

        if (*p != '}') {
            return (i == 0) ? "invalid character in tag"
                            : "raw tag is not closed with \"}}}\"";
        }
    }

    if (tag->name_len == 0) {
        return "tag has no name";
    }

    tag->end = p;

    return NULL;
}


static const ngx_http_otp_template_var_t *
ngx_http_otp_template_lookup(const ngx_http_otp_template_var_t *vars,
    size_t nvars, ngx_http_otp_template_tag_t *tag)
{
    size_t  i;

    for (i = 0; i < nvars; i++) {
        if (vars[i].name != NULL
            && vars[i].name_len == tag->name_len
            && memcmp(vars[i].name, tag->name, tag->name_len) == 0)
        {
            return &vars[i];
        }
    }

    return NULL;
}


/* counts every byte, copies those that fit */

static void
ngx_http_otp_template_put(ngx_http_otp_template_out_t *out, const char *s,
    size_t n)
{
    size_t  room;

    if (n == 0) {
        return;
    }

    if (out->len < out->size) {
        room = out->size - out->len;
        memcpy(out->dst + out->len, s, n < room ? n : room);
    }

    out->len = (n > SIZE_MAX - out->len) ? SIZE_MAX : out->len + n;
}


static void
ngx_http_otp_template_put_escaped(ngx_http_otp_template_out_t *out,
    const char *s, size_t n)
{
    size_t       i, start;
    const char  *entity;

    start = 0;

    for (i = 0; i < n; i++) {

        switch (s[i]) {
        case '&':
            entity = "&amp;";
            break;
        case '<':
            entity = "&lt;";
            break;
        case '>':
            entity = "&gt;";
            break;
        case '"':
            entity = "&quot;";
            break;
        case '\'':
            entity = "&#39;";
            break;
        default:
            continue;
        }

        ngx_http_otp_template_put(out, s + start, i - start);
        ngx_http_otp_template_put(out, entity, strlen(entity));
        start = i + 1;
    }

    ngx_http_otp_template_put(out, s + start, n - start);
}
