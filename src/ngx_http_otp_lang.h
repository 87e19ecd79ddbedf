
/*
 * The texts of the pages in one language: a message file of lines
 *
 *   # a comment
 *   key = the text, with {named} placeholders
 *
 * (keys [a-z0-9_]+, the value to the end of the line, blanks around
 * it dropped; a placeholder is "{" [a-z0-9_]+ "}", and a brace is
 * nothing else).  A template names a text by {{@key}}; expanding the
 * template puts the text in its place, HTML-escaped, its placeholders
 * becoming {{name}} tags that the rendering fills in, escaped too.
 *
 * Pure C: no nginx headers.
 */


#ifndef _NGX_HTTP_OTP_LANG_H_INCLUDED_
#define _NGX_HTTP_OTP_LANG_H_INCLUDED_


#include <stddef.h>


/* more lines in a message file are refused */
#define NGX_HTTP_OTP_LANG_MAX_MSGS  512


typedef struct {
    const char   *key;
    size_t        key_len;
    const char   *value;      /* points into the file's text */
    size_t        value_len;
} ngx_http_otp_lang_msg_t;


typedef struct {
    size_t        line;       /* 1-based; 0 when about a key */
    const char   *key;        /* the key concerned, or NULL */
    size_t        key_len;
    const char   *name;       /* the placeholder concerned, or NULL */
    size_t        name_len;
    const char   *reason;     /* static text, lower case, no period */
} ngx_http_otp_lang_error_t;


/*
 * Reads a message file into msgs (at most max); values point into
 * text.  0, or -1 with *err filled in (line, key, reason).
 */
int ngx_http_otp_lang_parse(const char *text, size_t len,
    ngx_http_otp_lang_msg_t *msgs, size_t max, size_t *n,
    ngx_http_otp_lang_error_t *err);

/*
 * Holds a language to the reference one (English): every key of ref is
 * there, with the same placeholders, and no key ref lacks.  0 or -1.
 */
int ngx_http_otp_lang_check(const ngx_http_otp_lang_msg_t *msgs, size_t n,
    const ngx_http_otp_lang_msg_t *ref, size_t nref,
    ngx_http_otp_lang_error_t *err);

/* the message of that key, or NULL */
const ngx_http_otp_lang_msg_t *ngx_http_otp_lang_find(
    const ngx_http_otp_lang_msg_t *msgs, size_t n, const char *key,
    size_t key_len);

/* the message whose text is value, or NULL (an English text's key) */
const ngx_http_otp_lang_msg_t *ngx_http_otp_lang_find_text(
    const ngx_http_otp_lang_msg_t *msgs, size_t n, const char *value,
    size_t value_len);

/*
 * Expands the {{@key}} tags of tpl with msgs into dst (at most size
 * bytes, dst may be NULL when size is 0); returns the whole length,
 * like ngx_http_otp_template_render().  An unknown key expands to
 * nothing.
 */
size_t ngx_http_otp_lang_expand(const char *tpl, size_t len,
    const ngx_http_otp_lang_msg_t *msgs, size_t n, char *dst, size_t size);

/*
 * Calls handler for each placeholder of a message value, in order;
 * stops at the first non-zero return and returns it.
 */
int ngx_http_otp_lang_placeholders(const char *value, size_t len,
    int (*handler)(void *data, const char *name, size_t name_len),
    void *data);


#endif /* _NGX_HTTP_OTP_LANG_H_INCLUDED_ */
