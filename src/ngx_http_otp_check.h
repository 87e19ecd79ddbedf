
/*
 * Checks of the whole configuration at nginx -t: who names the user of
 * each gate and endpoint, and whether that name is verified.
 */


#ifndef _NGX_HTTP_OTP_CHECK_H_INCLUDED_
#define _NGX_HTTP_OTP_CHECK_H_INCLUDED_


#include "ngx_http_otp.h"


/* from the module's merge: remembers the location being merged */
ngx_int_t ngx_http_otp_check_note(ngx_conf_t *cf,
    ngx_http_otp_loc_conf_t *olcf);

/* from postconfiguration, after every location is merged */
ngx_int_t ngx_http_otp_check_all(ngx_conf_t *cf);


#endif /* _NGX_HTTP_OTP_CHECK_H_INCLUDED_ */
