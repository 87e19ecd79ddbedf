
/*
 * $otp_user, $otp_method, $otp_status and $otp_session_age.
 */


#ifndef _NGX_HTTP_OTP_VARIABLES_H_INCLUDED_
#define _NGX_HTTP_OTP_VARIABLES_H_INCLUDED_


#include "ngx_http_otp.h"


ngx_int_t ngx_http_otp_add_variables(ngx_conf_t *cf);


#endif /* _NGX_HTTP_OTP_VARIABLES_H_INCLUDED_ */
