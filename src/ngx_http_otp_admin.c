
/*
 * The otp_admin location: a JSON API to look at a user and to act on
 * one (paths relative to the location):
 *
 *     GET     users/<user>
 *     DELETE  users/<user>/totp
 *     DELETE  users/<user>/authenticators/<id>
 *     POST    users/<user>/require-enroll
 *     POST    users/<user>/unlock
 *     PUT     users/<user>/phone           {"phone": "+15555550123"}
 *     DELETE  users/<user>/sessions        (and remembered browsers)
 *     POST    store/accept-reset           (SPEC 6.21, ngx_http_otp_lost.c)
 *
 * Each request is one store script.  While it runs, the handler holds a
 * reference on the request (PUT: the one that reading the body took) and
 * the reply handler finalizes the request.  Who may call the API is for
 * nginx to say: allow/deny, auth_basic, auth_request in the location.
 */


#include "ngx_http_otp_admin.h"
#include "ngx_http_otp_lost.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_phone.h"
#include "ngx_http_otp_store.h"
#include "ngx_http_otp_authn.h"

#include <jansson.h>


#define NGX_HTTP_OTP_ADMIN_BODY_MAX     4096
#define NGX_HTTP_OTP_ADMIN_MAX_USER     512


typedef enum {
    NGX_HTTP_OTP_ADMIN_SHOW = 0,
    NGX_HTTP_OTP_ADMIN_FORGET,
    NGX_HTTP_OTP_ADMIN_REQUIRE,
    NGX_HTTP_OTP_ADMIN_UNLOCK,
    NGX_HTTP_OTP_ADMIN_PHONE,
    NGX_HTTP_OTP_ADMIN_REVOKE,
    NGX_HTTP_OTP_ADMIN_REMOVE,
    NGX_HTTP_OTP_ADMIN_ACCEPT_RESET
} ngx_http_otp_admin_action_e;


typedef struct {
    ngx_str_t                       path;     /* after "users/<user>" */
    ngx_uint_t                      methods;
    ngx_str_t                       allow;
    ngx_http_otp_admin_action_e     action;
} ngx_http_otp_admin_route_t;


typedef struct {
    ngx_http_otp_admin_route_t     *route;
    ngx_str_t                       user;
    ngx_str_t                       id;       /* an authenticator's */
    const char                     *error;

    unsigned                        referenced:1;
} ngx_http_otp_admin_t;


static ngx_int_t ngx_http_otp_admin_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_admin_route(ngx_http_request_t *r,
    ngx_http_otp_admin_t *ad);
static ngx_int_t ngx_http_otp_admin_user(ngx_http_request_t *r,
    ngx_str_t *in, ngx_uint_t encoded, ngx_str_t *user);
static json_t *ngx_http_otp_admin_user_json(ngx_http_request_t *r,
    ngx_str_t *user);
static ngx_int_t ngx_http_otp_admin_act(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_admin_remove(ngx_http_request_t *r);
static json_t *ngx_http_otp_admin_authenticators(ngx_array_t *list);
static void ngx_http_otp_admin_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_otp_admin_set_phone(ngx_http_request_t *r,
    u_char *body, size_t len);
static ngx_int_t ngx_http_otp_admin_run(ngx_http_request_t *r,
    ngx_http_otp_script_e script, ngx_str_t *args, ngx_uint_t nargs);
static void ngx_http_otp_admin_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_admin_show(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static ngx_int_t ngx_http_otp_admin_changed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
static json_t *ngx_http_otp_admin_phone(ngx_http_request_t *r,
    ngx_str_t *sealed);
static ngx_int_t ngx_http_otp_admin_send(ngx_http_request_t *r,
    ngx_uint_t status, json_t *json);
static ngx_int_t ngx_http_otp_admin_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *error);


static ngx_http_otp_admin_route_t  ngx_http_otp_admin_routes[] = {

    { ngx_string(""), NGX_HTTP_GET|NGX_HTTP_HEAD,
      ngx_string("GET, HEAD"), NGX_HTTP_OTP_ADMIN_SHOW },

    { ngx_string("/totp"), NGX_HTTP_DELETE,
      ngx_string("DELETE"), NGX_HTTP_OTP_ADMIN_FORGET },

    { ngx_string("/require-enroll"), NGX_HTTP_POST,
      ngx_string("POST"), NGX_HTTP_OTP_ADMIN_REQUIRE },

    { ngx_string("/unlock"), NGX_HTTP_POST,
      ngx_string("POST"), NGX_HTTP_OTP_ADMIN_UNLOCK },

    { ngx_string("/phone"), NGX_HTTP_PUT,
      ngx_string("PUT"), NGX_HTTP_OTP_ADMIN_PHONE },

    { ngx_string("/sessions"), NGX_HTTP_DELETE,
      ngx_string("DELETE"), NGX_HTTP_OTP_ADMIN_REVOKE },

    /* a path that ends with "/" takes an id: digits */
    { ngx_string("/authenticators/"), NGX_HTTP_DELETE,
      ngx_string("DELETE"), NGX_HTTP_OTP_ADMIN_REMOVE }
};


/* the store's own path, not a user's */
static ngx_http_otp_admin_route_t  ngx_http_otp_admin_accept_reset = {
    ngx_string("store/accept-reset"), NGX_HTTP_POST,
    ngx_string("POST"), NGX_HTTP_OTP_ADMIN_ACCEPT_RESET
};


char *
ngx_http_otp_admin(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t  *omcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (clcf->named || clcf->exact_match
#if (NGX_PCRE)
        || clcf->regex
#endif
        || clcf->name.len == 0
        || clcf->name.data[clcf->name.len - 1] != '/')
    {
        return "must be in a prefix location that ends with \"/\", "
               "such as \"location /_otp_admin/\"";
    }

    if (clcf->handler) {
        return "is duplicate, or the location has another content handler";
    }

    clcf->handler = ngx_http_otp_admin_handler;
    omcf->admin_used = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_admin_handler(ngx_http_request_t *r)
{
    ngx_int_t              rc;
    ngx_http_otp_ctx_t    *ctx;
    ngx_http_otp_admin_t  *ad;

    ctx = ngx_http_otp_get_ctx(r);
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ad = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_admin_t));
    if (ad == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->admin = ad;

    rc = ngx_http_otp_admin_route(r, ad);

    if (rc == NGX_HTTP_NOT_ALLOWED
        && ngx_http_otp_add_header(r, "Allow", &ad->route->allow) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (rc != NGX_OK) {
        return ngx_http_otp_admin_error(r, rc, ad->error);
    }

    if (ad->route->action != NGX_HTTP_OTP_ADMIN_PHONE) {
        rc = ngx_http_discard_request_body(r);
        if (rc != NGX_OK) {
            return rc;
        }

        return ngx_http_otp_admin_act(r);
    }

    if (r->headers_in.content_length_n > NGX_HTTP_OTP_ADMIN_BODY_MAX) {
        return ngx_http_otp_admin_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                        "body too large");
    }

    r->request_body_in_single_buf = 1;

    rc = ngx_http_read_client_request_body(r, ngx_http_otp_admin_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    return NGX_DONE;
}


/*
 * "users/<user>[/<what>]" after the location's prefix.  The user name is
 * taken from the path as the client sent it and percent-decoded here, so
 * that "%2F" in it is not a separator; after a rewrite or an internal
 * redirect only the decoded URI is left, and it is taken as it is.
 */

static ngx_int_t
ngx_http_otp_admin_route(ngx_http_request_t *r, ngx_http_otp_admin_t *ad)
{
    u_char                      *p, *last;
    ngx_str_t                    path, user, rest;
    ngx_uint_t                   i, encoded;
    ngx_http_core_loc_conf_t    *clcf;
    ngx_http_otp_admin_route_t  *route;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    path = r->unparsed_uri;
    encoded = 0;

    if (r == r->main && r->valid_unparsed_uri) {
        p = ngx_strlchr(path.data, path.data + path.len, '?');
        if (p) {
            path.len = p - path.data;
        }

        encoded = (path.len >= clcf->name.len
                   && ngx_strncmp(path.data, clcf->name.data, clcf->name.len)
                      == 0);
    }

    if (!encoded) {
        path = r->uri;
    }

    ad->error = "unknown path";

    route = &ngx_http_otp_admin_accept_reset;

    if (path.len == clcf->name.len + route->path.len
        && ngx_strncmp(path.data + clcf->name.len, route->path.data,
                       route->path.len)
           == 0)
    {
        ad->route = route;

        if (!(r->method & route->methods)) {
            ad->error = "method not allowed";
            return NGX_HTTP_NOT_ALLOWED;
        }

        return NGX_OK;
    }

    if (path.len < clcf->name.len + sizeof("users/") - 1
        || ngx_strncmp(path.data + clcf->name.len, "users/",
                       sizeof("users/") - 1)
           != 0)
    {
        return NGX_HTTP_NOT_FOUND;
    }

    p = path.data + clcf->name.len + sizeof("users/") - 1;
    last = path.data + path.len;

    user.data = p;
    p = ngx_strlchr(p, last, '/');
    if (p == NULL) {
        p = last;
    }

    user.len = p - user.data;

    rest.data = p;
    rest.len = last - p;

    route = NULL;

    for (i = 0; i < sizeof(ngx_http_otp_admin_routes)
                    / sizeof(ngx_http_otp_admin_route_t); i++)
    {
        route = &ngx_http_otp_admin_routes[i];

        if (route->path.len == rest.len
            && ngx_strncmp(route->path.data, rest.data, rest.len) == 0)
        {
            break;
        }

        if (route->path.len && route->path.data[route->path.len - 1] == '/'
            && rest.len > route->path.len
            && rest.len - route->path.len <= 10
            && ngx_strncmp(route->path.data, rest.data, route->path.len)
               == 0
            && ngx_atoi(rest.data + route->path.len,
                        rest.len - route->path.len)
               != NGX_ERROR)
        {
            ad->id.data = rest.data + route->path.len;
            ad->id.len = rest.len - route->path.len;
            break;
        }

        route = NULL;
    }

    if (route == NULL) {
        return NGX_HTTP_NOT_FOUND;
    }

    ad->route = route;

    if (!(r->method & route->methods)) {
        ad->error = "method not allowed";
        return NGX_HTTP_NOT_ALLOWED;
    }

    ad->error = "bad user name";

    if (ngx_http_otp_admin_user(r, &user, encoded, &ad->user) != NGX_OK) {
        return NGX_HTTP_BAD_REQUEST;
    }

    return NGX_OK;
}


/*
 * A user name is 1 to 512 bytes, any but NUL: every name the gate can
 * serve ($remote_user is whatever the Authorization header holds), "/"
 * and bytes that are not UTF-8 included.  Percent-encoded, "%2F" is
 * part of the name; nginx refuses "%00" in a request line itself.
 */

static ngx_int_t
ngx_http_otp_admin_user(ngx_http_request_t *r, ngx_str_t *in,
    ngx_uint_t encoded, ngx_str_t *user)
{
    u_char      *p, c;
    ngx_int_t    hi, lo;
    ngx_uint_t   i;

    if (in->len == 0) {
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, in->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    user->data = p;

    for (i = 0; i < in->len; i++) {
        c = in->data[i];

        if (c == '%' && encoded) {
            if (i + 2 >= in->len) {
                return NGX_DECLINED;
            }

            hi = ngx_hextoi(&in->data[i + 1], 1);
            lo = ngx_hextoi(&in->data[i + 2], 1);

            if (hi == NGX_ERROR || lo == NGX_ERROR) {
                return NGX_DECLINED;
            }

            c = (u_char) (hi * 16 + lo);
            i += 2;
        }

        if (c == '\0') {
            return NGX_DECLINED;
        }

        *p++ = c;
    }

    user->len = p - user->data;

    if (user->len > NGX_HTTP_OTP_ADMIN_MAX_USER) {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The name as a JSON string: as it is when it is UTF-8 (all jansson
 * takes); else percent-encoded as in the path, every byte outside
 * printable ASCII and "%" itself as %XX.
 */

static json_t *
ngx_http_otp_admin_user_json(ngx_http_request_t *r, ngx_str_t *user)
{
    u_char      *p, *q;
    json_t      *s;
    ngx_uint_t   i;

    s = json_stringn((const char *) user->data, user->len);
    if (s != NULL) {
        return s;
    }

    p = ngx_pnalloc(r->pool, 3 * user->len);
    if (p == NULL) {
        return NULL;
    }

    q = p;

    for (i = 0; i < user->len; i++) {
        if (user->data[i] <= 0x20 || user->data[i] >= 0x7f
            || user->data[i] == '%')
        {
            q = ngx_sprintf(q, "%%%02Xd", (int) user->data[i]);

        } else {
            *q++ = user->data[i];
        }
    }

    return json_stringn((const char *) p, q - p);
}


static ngx_int_t
ngx_http_otp_admin_act(ngx_http_request_t *r)
{
    ngx_str_t              args[5];
    ngx_http_otp_script_e  script;
    ngx_http_otp_ctx_t    *ctx;
    ngx_http_otp_admin_t  *ad;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;

    switch (ad->route->action) {

    case NGX_HTTP_OTP_ADMIN_ACCEPT_RESET:
        if (ngx_http_otp_lost_accept_args(r, args) != NGX_OK) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        return ngx_http_otp_admin_run(r, NGX_HTTP_OTP_STORE_CHECK, args, 5);

    case NGX_HTTP_OTP_ADMIN_SHOW:
        script = NGX_HTTP_OTP_ADMIN_STATUS;
        break;

    case NGX_HTTP_OTP_ADMIN_FORGET:
        script = NGX_HTTP_OTP_FORGET_TOTP;
        break;

    case NGX_HTTP_OTP_ADMIN_REQUIRE:
        script = NGX_HTTP_OTP_REQUIRE_ENROLL;
        break;

    case NGX_HTTP_OTP_ADMIN_UNLOCK:
        script = NGX_HTTP_OTP_UNLOCK;
        break;

    case NGX_HTTP_OTP_ADMIN_REMOVE:
        return ngx_http_otp_admin_remove(r);

    default: /* NGX_HTTP_OTP_ADMIN_REVOKE: sessions, remembered browsers */
        script = NGX_HTTP_OTP_REVOKE_USER;
        break;
    }

    return ngx_http_otp_admin_run(r, script, NULL, 0);
}


/* one authenticator goes (SPEC 5), and with it the user's sessions */

static ngx_int_t
ngx_http_otp_admin_remove(ngx_http_request_t *r)
{
    ngx_str_t                 args[2];
    ngx_http_otp_ctx_t       *ctx;
    ngx_http_otp_admin_t     *ad;
    ngx_http_otp_loc_conf_t  *olcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    olcf = ngx_http_get_module_loc_conf(r, ngx_http_otp_module);
    ad = ctx->admin;

    args[0] = ad->id;

    if (ngx_http_otp_store_num(r, &args[1], olcf->totp_period
                                            * (2 * olcf->totp_skew + 2))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_admin_run(r, NGX_HTTP_OTP_AUTHN_REMOVE, args, 2);
}


static void
ngx_http_otp_admin_body(ngx_http_request_t *r)
{
    size_t                 len;
    u_char                *body, *p;
    ngx_int_t              rc;
    ngx_chain_t           *cl;
    ngx_http_otp_ctx_t    *ctx;
    ngx_http_otp_admin_t  *ad;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;

    /* the reference read_client_request_body() took ends with us */
    ad->referenced = 1;

    if (r->request_body == NULL || r->request_body->temp_file) {
        ngx_http_finalize_request(r, ngx_http_otp_admin_error(r,
                                  NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "body too large"));
        return;
    }

    len = 0;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        len += cl->buf->last - cl->buf->pos;
    }

    if (len > NGX_HTTP_OTP_ADMIN_BODY_MAX) {
        ngx_http_finalize_request(r, ngx_http_otp_admin_error(r,
                                  NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                  "body too large"));
        return;
    }

    body = ngx_pnalloc(r->pool, len + 1);
    if (body == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    p = body;

    for (cl = r->request_body->bufs; cl; cl = cl->next) {
        if (cl->buf->last > cl->buf->pos) {
            p = ngx_cpymem(p, cl->buf->pos, cl->buf->last - cl->buf->pos);
        }
    }

    rc = ngx_http_otp_admin_set_phone(r, body, len);

    if (rc != NGX_DONE) {
        ngx_http_finalize_request(r, rc);
    }
}


static ngx_int_t
ngx_http_otp_admin_set_phone(ngx_http_request_t *r, u_char *body,
    size_t len)
{
    u_char                    *phone;
    size_t                     plen;
    json_t                    *root, *value;
    ngx_str_t                  sealed;
    json_error_t               err;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_admin_t      *ad;
    ngx_http_otp_main_conf_t  *omcf;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);
    ad = ctx->admin;

    root = json_loadb((const char *) body, len, JSON_REJECT_DUPLICATES,
                      &err);
    if (root == NULL) {
        return ngx_http_otp_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                        "malformed JSON");
    }

    value = json_is_object(root) ? json_object_get(root, "phone") : NULL;

    if (!json_is_string(value)) {
        json_decref(root);
        return ngx_http_otp_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                        "expected {\"phone\": \"+...\"}");
    }

    phone = (u_char *) json_string_value(value);
    plen = json_string_length(value);

    if (ngx_http_otp_phone_valid((char *) phone, plen) != 0) {
        json_decref(root);
        return ngx_http_otp_admin_error(r, NGX_HTTP_BAD_REQUEST,
                                        "phone must be E.164: \"+\" and "
                                        "8 to 15 digits");
    }

    sealed.len = plen + NGX_HTTP_OTP_SEAL_OVERHEAD;
    sealed.data = ngx_pnalloc(r->pool, sealed.len);

    if (sealed.data == NULL
        || ngx_http_otp_seal(omcf->keys.seal, ad->user.data, ad->user.len,
                             phone, plen, sealed.data)
           != 0)
    {
        json_decref(root);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    json_decref(root);

    return ngx_http_otp_admin_run(r, NGX_HTTP_OTP_SET_PHONE, &sealed, 1);
}


static ngx_int_t
ngx_http_otp_admin_run(ngx_http_request_t *r, ngx_http_otp_script_e script,
    ngx_str_t *args, ngx_uint_t nargs)
{
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_admin_t      *ad;
    ngx_http_otp_store_ids_t   ids;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;

    ngx_memzero(&ids, sizeof(ngx_http_otp_store_ids_t));
    ids.user = ad->user;

    if (ngx_http_otp_store_run(r, script, &ids, args, nargs,
                               ngx_http_otp_admin_done)
        != NGX_OK)
    {
        return ngx_http_otp_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "redis unavailable");
    }

    if (!ad->referenced) {
        /* held until the reply finalizes the request */
        r->main->count++;
        ad->referenced = 1;
    }

    return NGX_DONE;
}


static void
ngx_http_otp_admin_done(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    ngx_int_t              rc;
    ngx_http_otp_ctx_t    *ctx;
    ngx_http_otp_admin_t  *ad;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;

    if (reply == NULL) {
        rc = ngx_http_otp_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                      "redis unavailable");

    } else if (ad->route->action == NGX_HTTP_OTP_ADMIN_SHOW) {
        rc = ngx_http_otp_admin_show(r, reply);

    } else {
        rc = ngx_http_otp_admin_changed(r, reply);
    }

    ngx_http_finalize_request(r, rc);
}


static ngx_int_t
ngx_http_otp_admin_show(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    json_t                      *o;
    ngx_int_t                    totp, must_enroll, lock_ttl, sessions;
    ngx_int_t                    hotp, recovery;
    ngx_http_otp_ctx_t          *ctx;
    ngx_http_otp_admin_t        *ad;
    ngx_http_otp_admin_reply_t  *ar;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;
    ar = (ngx_http_otp_admin_reply_t *) reply;

    if (reply->status == NGX_HTTP_OTP_ST_UNKNOWN) {
        return ngx_http_otp_admin_error(r, NGX_HTTP_NOT_FOUND,
                                        "unknown user");
    }

    totp = ar->totp;
    must_enroll = ar->must_enroll;
    lock_ttl = ar->lock_ttl;
    sessions = ar->sessions;
    hotp = ar->hotp;
    recovery = ar->recovery;

    o = json_object();
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* "totp" and "hotp" say which kind of authenticator is enrolled */

    if (json_object_set_new(o, "user",
                            ngx_http_otp_admin_user_json(r, &ad->user))
        != 0
        || json_object_set_new(o, "totp", json_boolean(totp == 1
                                                       && hotp != 1))
           != 0
        || json_object_set_new(o, "hotp", json_boolean(hotp == 1)) != 0
        || json_object_set_new(o, "phone",
                               ngx_http_otp_admin_phone(r, &ar->phone))
           != 0
        || json_object_set_new(o, "recovery_codes_left",
                               json_integer(recovery))
           != 0
        || json_object_set_new(o, "locked_until",
                               lock_ttl > 0
                               ? json_integer(ngx_time() + lock_ttl)
                               : json_null())
           != 0
        || json_object_set_new(o, "must_enroll", json_boolean(must_enroll == 1))
           != 0
        || json_object_set_new(o, "sessions", json_integer(sessions)) != 0
        || json_object_set_new(o, "authenticators",
                               ngx_http_otp_admin_authenticators(
                                   ar->authenticators))
           != 0)
    {
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_admin_send(r, NGX_HTTP_OK, o);
}


/*
 * The authenticators: [{"id", "name", "created", "last_used", "type"}],
 * times in unix seconds (null: not known, a record of a release with
 * one authenticator), the name of one never named "Authenticator".
 * NULL on an error (jansson then refuses to set it).
 */

static json_t *
ngx_http_otp_admin_authenticators(ngx_array_t *list)
{
    json_t      *a, *o;
    ngx_int_t    t;
    ngx_str_t   *v;
    ngx_uint_t   i, j;

    a = json_array();
    if (a == NULL || list == NULL) {
        return a;
    }

    v = list->elts;

    for (i = 0; i + NGX_HTTP_OTP_AUTHN_SHOWN <= list->nelts;
         i += NGX_HTTP_OTP_AUTHN_SHOWN)
    {
        o = json_object();

        if (o == NULL || json_array_append_new(a, o) != 0
            || json_object_set_new(o, "id",
                   json_integer(ngx_atoi(v[i].data, v[i].len))) != 0
            || json_object_set_new(o, "name", v[i + 1].data
                   ? json_stringn((char *) v[i + 1].data, v[i + 1].len)
                   : json_string("Authenticator")) != 0)
        {
            json_decref(a);
            return NULL;
        }

        for (j = 2; j < 4; j++) {
            t = v[i + j].data ? ngx_atoi(v[i + j].data, v[i + j].len) : 0;

            if (json_object_set_new(o, j == 2 ? "created" : "last_used",
                                    t > 0 ? json_integer(t) : json_null())
                != 0)
            {
                json_decref(a);
                return NULL;
            }
        }

        if (json_object_set_new(o, "type",
                json_stringn((char *) v[i + 4].data, v[i + 4].len)) != 0)
        {
            json_decref(a);
            return NULL;
        }
    }

    return a;
}


/*
 * The phone number, opened and masked ("+1555***0123"): enough to tell
 * which one is set, not enough to call it.  null when none is set, or
 * when it does not open (otp_secret_file changed).
 */

static json_t *
ngx_http_otp_admin_phone(ngx_http_request_t *r, ngx_str_t *sealed)
{
    u_char                 masked[NGX_HTTP_OTP_PHONE_MASKED_MAX];
    size_t                 mlen;
    ngx_str_t              phone;
    ngx_http_otp_ctx_t    *ctx;
    ngx_http_otp_admin_t  *ad;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;

    if (sealed->data == NULL) {
        return json_null();
    }

    if (ngx_http_otp_store_open(r, &ad->user, sealed,
                                NGX_HTTP_OTP_PHONE_MAX_LEN, &phone)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "otp: the phone number of user \"%V\" does not "
                      "open; was otp_secret_file changed?", &ad->user);
        return json_null();
    }

    if (ngx_http_otp_phone_valid((char *) phone.data, phone.len) != 0) {
        return json_null();
    }

    mlen = ngx_http_otp_phone_mask((char *) phone.data, phone.len,
                                   (char *) masked);

    ngx_explicit_memzero(phone.data, phone.len);

    return json_stringn((const char *) masked, mlen);
}


/* what changed is logged, with the user and (by nginx) the client */

static ngx_int_t
ngx_http_otp_admin_changed(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply)
{
    json_t                *o;
    ngx_int_t              sessions;
    ngx_http_otp_ctx_t    *ctx;
    ngx_http_otp_admin_t  *ad;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    ad = ctx->admin;

    if (reply->status == NGX_HTTP_OTP_ST_UNKNOWN) {
        return ngx_http_otp_admin_error(r, NGX_HTTP_NOT_FOUND,
                                        "unknown authenticator");
    }

    if (reply->status != NGX_HTTP_OTP_ST_OK) {
        return ngx_http_otp_admin_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                        "redis unavailable");
    }

    sessions = -1;

    switch (ad->route->action) {

    case NGX_HTTP_OTP_ADMIN_FORGET:
        sessions = ((ngx_http_otp_admin_reply_t *) reply)->sessions;
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: admin removed the authenticator of user \"%V\" "
                      "and revoked %i sessions", &ad->user, sessions);
        break;

    case NGX_HTTP_OTP_ADMIN_REQUIRE:
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: admin requires user \"%V\" to enroll again",
                      &ad->user);
        break;

    case NGX_HTTP_OTP_ADMIN_UNLOCK:
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: admin unlocked user \"%V\"", &ad->user);
        break;

    case NGX_HTTP_OTP_ADMIN_PHONE:
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: admin set the phone number of user \"%V\"",
                      &ad->user);
        break;

    case NGX_HTTP_OTP_ADMIN_REMOVE:
        sessions = ((ngx_http_otp_admin_reply_t *) reply)->sessions;
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: admin removed authenticator %V of user \"%V\" "
                      "(%i left) and revoked %i sessions", &ad->id,
                      &ad->user, ((ngx_http_otp_admin_reply_t *) reply)->count,
                      sessions);
        break;

    case NGX_HTTP_OTP_ADMIN_ACCEPT_RESET:
        ngx_http_otp_lost_accepted(r, reply);
        break;

    default: /* NGX_HTTP_OTP_ADMIN_REVOKE */
        sessions = ((ngx_http_otp_admin_reply_t *) reply)->sessions;
        ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0,
                      "otp: admin revoked the sessions of user \"%V\" (%i)",
                      &ad->user, sessions);
        break;
    }

    o = json_object();
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (json_object_set_new(o, "ok", json_true()) != 0
        || (sessions >= 0
            && json_object_set_new(o, "sessions", json_integer(sessions))
               != 0))
    {
        json_decref(o);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_admin_send(r, NGX_HTTP_OK, o);
}


/* sends json as the body and frees it */

static ngx_int_t
ngx_http_otp_admin_send(ngx_http_request_t *r, ngx_uint_t status,
    json_t *json)
{
    char       *s;
    size_t      len;
    ngx_str_t   body;

    s = json_dumps(json, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(json);

    if (s == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    len = ngx_strlen(s);

    body.data = ngx_pnalloc(r->pool, len + 1);
    if (body.data == NULL) {
        free(s);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(body.data, s, len);
    body.data[len] = '\n';
    body.len = len + 1;

    free(s);

    return ngx_http_otp_send_json(r, status, &body);
}


static ngx_int_t
ngx_http_otp_admin_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *error)
{
    json_t  *o;

    o = json_pack("{s:s}", "error", error);
    if (o == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_otp_admin_send(r, status, o);
}
