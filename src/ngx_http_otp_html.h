
/*
 * The page templates: the built-in ones, compiled in from html/ by
 * html/embed.sh, and replacements read from an "otp_templates"
 * directory at configuration time.
 */


#ifndef _NGX_HTTP_OTP_HTML_H_INCLUDED_
#define _NGX_HTTP_OTP_HTML_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* larger template files are refused */
#define NGX_HTTP_OTP_HTML_MAX_SIZE  (256 * 1024)


typedef struct {
    const char                 *name;     /* "challenge.html" */
    const u_char               *data;
    size_t                      len;
} ngx_http_otp_html_file_t;


/*
 * Every page of a set: the built-in table with some entries replaced.
 */

typedef struct ngx_http_otp_languages_s  ngx_http_otp_languages_t;

typedef struct {
    ngx_str_t                   dir;      /* full path */
    ngx_http_otp_html_file_t   *files;    /* as the built-in table */
    ngx_http_otp_languages_t   *langs;    /* NULL: the built-in ones */
} ngx_http_otp_html_set_t;


/* the whole built-in table, ended by a NULL name */
const ngx_http_otp_html_file_t *ngx_http_otp_html_files_all(void);

/* the built-in template of that name, or NULL */
const ngx_http_otp_html_file_t *ngx_http_otp_html_get(const char *name);

/* the template of that name in set, or the built-in one if set is NULL */
const ngx_http_otp_html_file_t *ngx_http_otp_html_page(
    ngx_http_otp_html_set_t *set, const char *name);

/*
 * Reads the pages present in dir (relative to the configuration prefix)
 * into a new set; a page missing there stays built-in.  Each file is
 * validated by ngx_http_otp_template_check(), and against the names
 * the module sets for that page: {{{ }}} only where the built-in page
 * has it (a raw value would not be escaped), a warning for an unknown
 * name (it renders empty) and for a form field the page lacks.
 *
 * Returns like a directive handler: NGX_CONF_OK, NGX_CONF_ERROR when
 * the error is logged already, or a message for "otp_templates" to
 * return (nginx prefixes it with the directive name).
 */
char *ngx_http_otp_html_load_dir(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_http_otp_html_set_t **set);

/*
 * Reads one template file (a full path) and validates its syntax; the
 * same return values.  tpl->data is allocated from cf->pool.
 */
char *ngx_http_otp_html_load(ngx_conf_t *cf, ngx_str_t *path,
    ngx_str_t *tpl);


#endif /* _NGX_HTTP_OTP_HTML_H_INCLUDED_ */
