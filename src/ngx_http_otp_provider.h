
/*
 * The SMS provider: the otp_sms_* directives, the message built from
 * otp_sms_template, the subrequest to the otp_sms_provider location
 * that sends it, and the $otp_sms_* variables that location reads.
 */


#ifndef _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_
#define _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_sms_text.h"


#define NGX_HTTP_OTP_SMS_MAX_TTL        600


/* one message, from the CSPRNG's code to the provider's answer */
typedef struct {
    ngx_str_t                   to;           /* E.164 */
    ngx_str_t                   text;
    ngx_str_t                   to_escaped;
    ngx_str_t                   text_escaped;
    ngx_str_t                   json;         /* {"to":..,"text":..} */

    ngx_http_request_t         *sr;
    ngx_uint_t                  log_level;    /* of r, while sending */
    ngx_int_t                   status;       /* the provider's answer */

    unsigned                    masked:1;
    unsigned                    done:1;
    unsigned                    unknown:1;    /* reached, no answer */
} ngx_http_otp_sms_message_t;


char *ngx_http_otp_sms_provider(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_sms_template(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_otp_sms_check_ttl(ngx_conf_t *cf, void *post, void *data);
char *ngx_http_otp_sms_check_origin(ngx_conf_t *cf, void *post, void *data);

void ngx_http_otp_sms_create_conf(ngx_http_otp_sms_conf_t *sc);
char *ngx_http_otp_sms_merge_conf(ngx_conf_t *cf,
    ngx_http_otp_sms_conf_t *prev, ngx_http_otp_sms_conf_t *conf);

ngx_int_t ngx_http_otp_sms_add_variables(ngx_conf_t *cf);

/* the text of otp_sms_template for code, and its encodings */
ngx_int_t ngx_http_otp_sms_message(ngx_http_request_t *r,
    ngx_http_otp_sms_message_t *msg, ngx_str_t *to, ngx_str_t *code);

/*
 * Sends msg as a subrequest to the otp_sms_provider location; r waits
 * for it and holds a reference of its own.  When the provider has
 * answered (or failed), msg->done is set, msg->status holds its status
 * (2xx: sent) and r's write_event_handler is called: set it first.
 * NGX_OK, or NGX_ERROR when no subrequest was made.
 */
ngx_int_t ngx_http_otp_sms_send(ngx_http_request_t *r,
    ngx_http_otp_sms_message_t *msg);

/*
 * After the send, when r resumes: the log level comes back and the
 * text, which holds the code, is overwritten.
 */
void ngx_http_otp_sms_finish(ngx_http_request_t *r,
    ngx_http_otp_sms_message_t *msg);


#endif /* _NGX_HTTP_OTP_PROVIDER_H_INCLUDED_ */
