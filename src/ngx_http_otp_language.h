
/*
 * The languages of the pages: the message files compiled in from
 * html/lang/, those an otp_templates directory adds or replaces
 * (lang/<tag>.txt), "otp_language", and the choice for a request.
 */


#ifndef _NGX_HTTP_OTP_LANGUAGE_H_INCLUDED_
#define _NGX_HTTP_OTP_LANGUAGE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_otp_html.h"
#include "ngx_http_otp_lang.h"
#include "ngx_http_otp_template.h"


typedef struct {
    ngx_str_t                   tag;      /* "de", "pt", "zh" */
    ngx_http_otp_lang_msg_t    *msgs;
    size_t                      n;
} ngx_http_otp_language_t;


struct ngx_http_otp_languages_s {
    ngx_http_otp_language_t    *langs;    /* English first */
    ngx_uint_t                  n;
};


/* the built-in languages, read once; NULL if a file is broken */
ngx_http_otp_languages_t *ngx_http_otp_languages_builtin(ngx_log_t *log);

/*
 * The built-in languages with the lang/<tag>.txt files of dir (a full
 * path, NUL-terminated) in place of or beside them; each file is held
 * to English (every key, the same placeholders).  Returns like a
 * directive handler; *langs stays NULL without such files.
 */
char *ngx_http_otp_languages_load_dir(ngx_conf_t *cf, ngx_str_t *dir,
    ngx_http_otp_languages_t **langs);

/* "otp_language auto | <tag>" */
char *ngx_http_otp_language_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/*
 * The language of a page: the fixed one if not NULL, else the best
 * match of an Accept-Language header (quality values, "de-AT" for
 * "de"), English when none matches or header is NULL.
 */
ngx_http_otp_language_t *ngx_http_otp_language_pick(
    ngx_http_otp_languages_t *langs, ngx_str_t *fixed, ngx_str_t *header);

ngx_http_otp_language_t *ngx_http_otp_language_find(
    ngx_http_otp_languages_t *langs, u_char *tag, size_t len);

/*
 * A text of the module (a key, or its English text, as the pages pass
 * them) in lang, its {placeholders} filled from vars, not escaped;
 * the text as it is when it is neither.
 */
ngx_int_t ngx_http_otp_language_text(ngx_pool_t *pool,
    ngx_http_otp_language_t *lang, ngx_http_otp_languages_t *langs,
    ngx_str_t *text, ngx_http_otp_template_var_t *vars, ngx_uint_t nvars,
    ngx_str_t *out);

/* a page template's {{@key}} tags name texts of lang/en.txt */
char *ngx_http_otp_languages_check_page(ngx_conf_t *cf, const char *page,
    ngx_str_t *tpl);


#endif /* _NGX_HTTP_OTP_LANGUAGE_H_INCLUDED_ */
