
/*
 * Page templates: a small, logic-less subset of mustache.
 *
 *   {{name}}               value, HTML-escaped (& < > " ')
 *   {{{name}}}             value as is: only for markup the module builds
 *   {{#name}}..{{/name}}   rendered when the value is not empty
 *   {{^name}}..{{/name}}   rendered when the value is empty or unknown
 *   {{! text }}            comment, renders nothing
 *   {{@key}}               a text of the page's language, put in by
 *                          ngx_http_otp_lang_expand() (ngx_http_otp_lang.h)
 *
 * Names are [A-Za-z0-9_]+, optionally padded with spaces inside the
 * braces; sections nest; an unknown name is an empty value.
 *
 * Pure C: no nginx headers.
 */


#ifndef _NGX_HTTP_OTP_TEMPLATE_H_INCLUDED_
#define _NGX_HTTP_OTP_TEMPLATE_H_INCLUDED_


#include <stddef.h>


/* deeper nesting is reported by ngx_http_otp_template_check() */
#define NGX_HTTP_OTP_TEMPLATE_MAX_DEPTH  32


typedef struct {
    const char   *name;
    size_t        name_len;
    const char   *value;
    size_t        value_len;
} ngx_http_otp_template_var_t;


typedef struct {
    size_t        offset;     /* of the "{{" that starts the bad tag */
    const char   *reason;     /* static text, lower case, no period */
} ngx_http_otp_template_error_t;


/*
 * Validates tpl: every "{{" opens a well-formed tag, every section is
 * closed by a tag of the same name, nesting stays within the limit.
 * Linear in len, no allocation.  0 if valid; -1 with *err filled in.
 */
int ngx_http_otp_template_check(const char *tpl, size_t len,
    ngx_http_otp_template_error_t *err);

/*
 * Renders tpl into dst, writing at most size bytes (dst may be NULL when
 * size is 0), and returns the length of the whole output, like
 * snprintf() without the NUL: the output is complete if the result is
 * <= size.  SIZE_MAX if the length does not fit in a size_t.
 *
 * Vars are looked up by name, the first match wins.  A template that
 * did not pass the check still renders safely, within size, but the
 * result is unspecified.
 */
size_t ngx_http_otp_template_render(const char *tpl, size_t len,
    const ngx_http_otp_template_var_t *vars, size_t nvars, char *dst,
    size_t size);

/* the exact length ngx_http_otp_template_render() will produce */
size_t ngx_http_otp_template_size(const char *tpl, size_t len,
    const ngx_http_otp_template_var_t *vars, size_t nvars);

/*
 * HTML-escapes src as {{name}} does, for markup the module builds itself.
 * Writes to dst unless it is NULL; returns the escaped length.
 */
size_t ngx_http_otp_template_escape(const char *src, size_t len, char *dst);

/*
 * The length of the UTF-8 character at p (1 to 4 bytes; RFC 3629: no
 * overlong form, no surrogate, nothing beyond U+10FFFF), with its code
 * point in *cp; 0 when the n bytes at p do not start with one.
 */
size_t ngx_http_otp_utf8_char(const unsigned char *p, size_t n,
    unsigned long *cp);

/*
 * Text a client sent, for a page: its whole UTF-8 characters but the
 * control ones (C0, DEL, C1), at most max bytes of them, into dst (room
 * for max bytes); returns the length written.
 */
size_t ngx_http_otp_utf8_clean(const char *src, size_t len, size_t max,
    char *dst);

/*
 * Calls handler for every tag with a name in a template that passed the
 * check, in order; type is 0 for {{name}}, or the character after "{{":
 * '{', '#', '^', '/' or '@'.  Stops at the first non-zero return of handler
 * and returns it; 0 otherwise.
 */
int ngx_http_otp_template_names(const char *tpl, size_t len,
    int (*handler)(void *data, int type, const char *name, size_t name_len),
    void *data);


#endif /* _NGX_HTTP_OTP_TEMPLATE_H_INCLUDED_ */
