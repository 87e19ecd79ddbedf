
/*
 * The module's version, written here and nowhere else in the code;
 * debian/changelog names the same one (t/110-package.t compares them).
 */


#ifndef _NGX_HTTP_OTP_VERSION_H_INCLUDED_
#define _NGX_HTTP_OTP_VERSION_H_INCLUDED_


#define NGX_HTTP_OTP_VERSION  "0.2.0"


#endif /* _NGX_HTTP_OTP_VERSION_H_INCLUDED_ */
