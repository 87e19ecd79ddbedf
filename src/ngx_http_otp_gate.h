
/*
 * The gate: the precontent-phase handler of every location with "otp on".
 */


#ifndef _NGX_HTTP_OTP_GATE_H_INCLUDED_
#define _NGX_HTTP_OTP_GATE_H_INCLUDED_


#include "ngx_http_otp.h"


ngx_int_t ngx_http_otp_gate_init(ngx_conf_t *cf);



#endif /* _NGX_HTTP_OTP_GATE_H_INCLUDED_ */
