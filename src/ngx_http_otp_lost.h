
/*
 * Lost state never lowers the bar (SPEC 6.21): the store's marker, the
 * id of it each nginx remembers, and enrollment refused while Redis is
 * not the store the module knew, until an administrator accepts it.
 */


#ifndef _NGX_HTTP_OTP_LOST_H_INCLUDED_
#define _NGX_HTTP_OTP_LOST_H_INCLUDED_


#include "ngx_http_otp.h"


/* the store was found lost (by any worker) and not accepted since */
ngx_uint_t ngx_http_otp_lost_now(void);

/* the step that goes on once the store is known to be the same */
typedef ngx_int_t (*ngx_http_otp_lost_next_pt)(ngx_http_request_t *r);


/* the zone that keeps the id across reloads; once per configuration */
ngx_int_t ngx_http_otp_lost_add_zone(ngx_conf_t *cf);

void ngx_http_otp_lost_init_process(ngx_cycle_t *cycle);

/* the worker's Redis connection is ready (again): check the marker */
void ngx_http_otp_lost_connected(void);

/*
 * Before a step that enrolls a factor: store_check.lua, then next(r)
 * where the store is the one known; a 503 page where it was lost.
 */
ngx_int_t ngx_http_otp_lost_check(ngx_http_request_t *r,
    ngx_http_otp_lost_next_pt next);

/* store_check.lua's five arguments for "accept" (the admin API) */
ngx_int_t ngx_http_otp_lost_accept_args(ngx_http_request_t *r,
    ngx_str_t *args);

/* after "accept" replied ok: the new id is the one known */
void ngx_http_otp_lost_accepted(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);


#endif /* _NGX_HTTP_OTP_LOST_H_INCLUDED_ */
