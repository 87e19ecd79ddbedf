
/*
 * Remembered devices: the device cookie, and the gate's use of it.
 *
 * The cookie is "<otp_cookie name>_device", with the attributes of the
 * session cookie and a Max-Age of otp_remember_device.  Its payload is
 * the id (16 random bytes), the time the code was entered and the
 * expiry (8 bytes each, big-endian) and the user name.  A cookie that is
 * forged, expired, another user's or no longer in Redis is ignored.
 */


#include "ngx_http_otp_device.h"
#include "ngx_http_otp_cookie.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_token.h"


#define NGX_HTTP_OTP_DEVICE_FIXED     (NGX_HTTP_OTP_DEVICE_ID_LEN + 16)
#define NGX_HTTP_OTP_DEVICE_MAX_USER                                          \
    (NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD - NGX_HTTP_OTP_DEVICE_FIXED)


static ngx_int_t ngx_http_otp_device_cookie_name(ngx_http_request_t *r,
    ngx_str_t *name);
static void ngx_http_otp_put_time(u_char *p, time_t t);
static time_t ngx_http_otp_get_time(u_char *p);


ngx_int_t
ngx_http_otp_device_new(ngx_http_request_t *r, ngx_str_t *user, time_t secs,
    ngx_http_otp_device_t *dev)
{
    u_char                     id[NGX_HTTP_OTP_DEVICE_ID_LEN];
    u_char                    *payload, *p;
    size_t                     len;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (user->len > NGX_HTTP_OTP_DEVICE_MAX_USER) {
        return NGX_DECLINED;
    }

    if (ngx_http_otp_random(id, sizeof(id)) != 0) {
        return NGX_ERROR;
    }

    ngx_hex_dump(dev->id, id, sizeof(id));
    dev->issued = ngx_time();
    dev->expires = dev->issued + secs;

    len = NGX_HTTP_OTP_DEVICE_FIXED + user->len;

    payload = ngx_pnalloc(r->pool, len);
    if (payload == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(payload, id, sizeof(id));
    ngx_explicit_memzero(id, sizeof(id));
    ngx_http_otp_put_time(p, dev->issued);
    ngx_http_otp_put_time(p + 8, dev->expires);
    ngx_memcpy(p + 16, user->data, user->len);

    dev->cookie.data = ngx_pnalloc(r->pool, ngx_http_otp_signed_len(len));
    if (dev->cookie.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_signed_encode(omcf->keys.cookie, "device", payload, len,
                                   (char *) dev->cookie.data,
                                   &dev->cookie.len)
        != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_device_cookie_name(ngx_http_request_t *r, ngx_str_t *name)
{
    u_char                   *p;
    ngx_http_otp_loc_conf_t  *olcf;

    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);

    p = ngx_pnalloc(r->pool, olcf->cookie.name.len + sizeof("_device") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    name->data = p;
    p = ngx_cpymem(p, olcf->cookie.name.data, olcf->cookie.name.len);
    p = ngx_cpymem(p, "_device", sizeof("_device") - 1);
    name->len = p - name->data;

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_device_set_cookie(ngx_http_request_t *r,
    ngx_http_otp_device_t *dev)
{
    ngx_str_t  suffix = ngx_string("_device");

    if (dev == NULL) {
        return ngx_http_otp_cookie_set(r, &suffix, NULL, 0, NULL, 0);
    }

    return ngx_http_otp_cookie_set(r, &suffix, dev->cookie.data,
                                   dev->cookie.len, NULL,
                                   ngx_max(dev->expires - ngx_time(), 0));
}


/* NGX_OK and dev set for an intact, unexpired device cookie of user */

ngx_int_t
ngx_http_otp_device_from_cookie(ngx_http_request_t *r, ngx_str_t *user,
    ngx_http_otp_device_t *dev)
{
    u_char                     payload[NGX_HTTP_OTP_SIGNED_MAX_PAYLOAD];
    size_t                     len;
    ngx_str_t                  name, value;
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_device_cookie_name(r, &name) != NGX_OK
        || ngx_http_otp_get_cookie(r, &name, &value) != NGX_OK
        || value.len > ngx_http_otp_signed_len(sizeof(payload)))
    {
        return NGX_DECLINED;
    }

    if (ngx_http_otp_signed_decode(omcf->keys.cookie, "device",
                                   (char *) value.data, value.len, payload,
                                   sizeof(payload), &len)
        != 0
        || len != NGX_HTTP_OTP_DEVICE_FIXED + user->len
        || ngx_memcmp(payload + NGX_HTTP_OTP_DEVICE_FIXED, user->data,
                      user->len)
           != 0)
    {
        return NGX_DECLINED;
    }

    ngx_hex_dump(dev->id, payload, NGX_HTTP_OTP_DEVICE_ID_LEN);
    dev->issued = ngx_http_otp_get_time(payload + NGX_HTTP_OTP_DEVICE_ID_LEN);
    dev->expires = ngx_http_otp_get_time(payload + NGX_HTTP_OTP_DEVICE_ID_LEN
                                         + 8);
    dev->cookie = value;

    if (dev->issued < 1 || dev->expires <= ngx_time()) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


static void
ngx_http_otp_put_time(u_char *p, time_t t)
{
    uint64_t    v;
    ngx_uint_t  i;

    v = (uint64_t) t;

    for (i = 0; i < 8; i++) {
        p[7 - i] = (u_char) (v & 0xff);
        v >>= 8;
    }
}


static time_t
ngx_http_otp_get_time(u_char *p)
{
    uint64_t    v;
    ngx_uint_t  i;

    v = 0;

    for (i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }

    return (v > (uint64_t) NGX_MAX_TIME_T_VALUE) ? 0 : (time_t) v;
}
