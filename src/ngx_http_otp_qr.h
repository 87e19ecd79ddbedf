
/*
 * QR code (libqrencode) rendered as a compact SVG.
 */


#ifndef _NGX_HTTP_OTP_QR_H_INCLUDED_
#define _NGX_HTTP_OTP_QR_H_INCLUDED_


#include <stddef.h>


/*
 * Error correction level M, quiet zone of 4 modules, every dark module in
 * one <path>, shape-rendering="crispEdges" and a viewBox so it scales.
 * Returns a malloc()ed NUL-terminated SVG document (caller free()s it)
 * and its length in *len, or NULL on error.
 */
char *ngx_http_otp_qr_svg(const char *text, size_t len, size_t *svg_len);


#endif /* _NGX_HTTP_OTP_QR_H_INCLUDED_ */
