
/*
 * What the pages of the otp_endpoint location share (see
 * ngx_http_otp_page_flow.c): the endpoint's state of a request, its
 * form, running a step's script, CSRF tokens, redirects, the arguments
 * of the attempt scripts.  The pages include this header, never the
 * router's.
 */


#ifndef _NGX_HTTP_OTP_PAGE_FLOW_H_INCLUDED_
#define _NGX_HTTP_OTP_PAGE_FLOW_H_INCLUDED_


#include "ngx_http_otp.h"
#include "ngx_http_otp_device.h"
#include "ngx_http_otp_session.h"
#include "ngx_http_otp_store.h"


#define NGX_HTTP_OTP_CHALLENGE_TTL       600
#define NGX_HTTP_OTP_ENROLL_TTL          900
#define NGX_HTTP_OTP_CHALLENGE_B64_LEN   22
#define NGX_HTTP_OTP_MAX_SECRET          64



typedef enum {
    NGX_HTTP_OTP_CHALLENGE = 0,
    NGX_HTTP_OTP_VERIFY,
    NGX_HTTP_OTP_ENROLL_FORM,
    NGX_HTTP_OTP_ENROLL_POST,
    NGX_HTTP_OTP_LOGOUT_FORM,
    NGX_HTTP_OTP_LOGOUT_POST,
    NGX_HTTP_OTP_RECOVERY_FORM,
    NGX_HTTP_OTP_RECOVERY_POST,
    NGX_HTTP_OTP_SMS_FORM,
    NGX_HTTP_OTP_SMS_POST,
    NGX_HTTP_OTP_LINK_FORM,
    NGX_HTTP_OTP_LINK_POST,
    NGX_HTTP_OTP_ACCOUNT_FORM,
    NGX_HTTP_OTP_ACCOUNT_POST
} ngx_http_otp_action_e;


/* the endpoint's state of a request (ctx->endpoint), for its pages */
typedef struct {
    ngx_http_otp_action_e       action;
    ngx_str_t                   ret;          /* where to go afterwards */

    ngx_str_t                   code;
    ngx_str_t                   csrf;
    ngx_str_t                   method;
    ngx_str_t                   challenge;    /* base64url id */
    const char                 *error;        /* shown on the page */

    ngx_str_t                   sealed;       /* the secret checked */
    ngx_uint_t                  code_ok;
    uint64_t                    step;
    ngx_str_t                   proof;        /* for attempt.lua */
    ngx_str_t                   others;       /* the other ids checked */
    ngx_str_t                   pass;         /* the challenge's key pass */
    time_t                      step_ttl;

    ngx_http_otp_sid_t          sid;
    ngx_http_otp_sid_t          old_sid;
    ngx_uint_t                  has_cookie;

    /* recovery codes, HOTP, remembered devices */
    ngx_uint_t                  factor;       /* see ..._attempt.h */
    ngx_uint_t                  hotp;         /* the key is HOTP */
    ngx_int_t                   recovery_left;
    ngx_str_t                   codes_html;   /* new codes, to show once */
    ngx_str_t                   codes_hashes; /* what the store keeps */
    ngx_http_otp_device_t       device;

    /* the reply handler of the script in flight (never given NULL) */
    ngx_http_otp_store_handler_pt   done;
    /* the page that goes on after challenge_new.lua */
    ngx_http_otp_store_handler_pt   challenge_done;
    ngx_http_otp_script_e           script;   /* for the debug log */

    unsigned                    referenced:1;
    unsigned                    remember:1;
    unsigned                    reread:1;     /* attempt.lua said stale */

    ngx_str_t                   phone;        /* POST sms */

    /* the browser's pending enrollment: its cookie, its key's id */
    ngx_str_t                   enroll_cookie;
    ngx_str_t                   enroll_hash;

    /*
     * cross-device approval: the token (base64url), its keyed hash (the
     * request's id), the binding cookie's value and its keyed hash, the
     * number to choose
     */
    ngx_str_t                   link_token;
    ngx_str_t                   link_hash;
    ngx_str_t                   link_cookie;
    ngx_str_t                   link_bind;
    ngx_str_t                   link_number;
    unsigned                    link_deny:1;  /* POST link: "not me" */

    /* the account page and enroll?add=1 */
    ngx_str_t                   act;          /* POST account's action */
    ngx_str_t                   aid;          /* an authenticator's id */
    ngx_str_t                   aname;        /* its name */
    unsigned                    add:1;        /* one more authenticator */
    unsigned                    confirm:1;    /* the last one goes */
    unsigned                    fresh:1;      /* enroll: a fresh session
                                                 needed to commit */

    /* the live challenge the browser's cookie names (challenge.c) */
    ngx_str_t                   live;

    /* the keyed hash of a text's number, its key's id (sms_number.c) */
    ngx_str_t                   number;

    /* the step store_check.lua lets go on (ngx_http_otp_lost.c) */
    ngx_int_t                 (*after_check)(ngx_http_request_t *r);
} ngx_http_otp_ep_t;


/*
 * The request's form: the query string of a GET, the body of a POST,
 * read by ngx_http_otp_ep_read_form() and taken into the endpoint's
 * state by ngx_http_otp_ep_form() in the body handler (NGX_DECLINED
 * when the page goes on, else the status to finalize the request with).
 */
ngx_int_t ngx_http_otp_ep_query(ngx_http_request_t *r);
ngx_int_t ngx_http_otp_ep_read_form(ngx_http_request_t *r,
    ngx_http_client_body_handler_pt handler);
ngx_int_t ngx_http_otp_ep_form(ngx_http_request_t *r);

/*
 * A step returns NGX_DONE while a script is in flight, or the request's
 * final status; ngx_http_otp_ep_run() runs a script whose reply handler
 * ends with ngx_http_otp_ep_finish().
 */
ngx_int_t ngx_http_otp_ep_run(ngx_http_request_t *r,
    ngx_http_otp_script_e script, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt done);
void ngx_http_otp_ep_finish(ngx_http_request_t *r, ngx_int_t rc);
/* user_state.lua for the request's user */
ngx_int_t ngx_http_otp_ep_user_state(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);
/* session_check.lua for ep->old_sid; NGX_DECLINED: no cookie */
ngx_int_t ngx_http_otp_ep_session_check(ngx_http_request_t *r,
    ngx_http_otp_store_handler_pt done);
/*
 * after session_check.lua, for a page that changes a factor: NGX_DECLINED
 * for a code entered within otp_fresh, else the step-up to the challenge
 * and back to page
 */
ngx_int_t ngx_http_otp_ep_fresh(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply, const char *page);

/* a session with a code typed on it within otp_fresh (not "link") */
ngx_uint_t ngx_http_otp_ep_code_fresh(ngx_http_request_t *r,
    ngx_http_otp_store_reply_t *reply);
ngx_int_t ngx_http_otp_step_up(ngx_http_request_t *r, const char *page);

/* a form's CSRF token bound to binding, and its check */
ngx_int_t ngx_http_otp_csrf_make(ngx_http_request_t *r,
    ngx_str_t *binding, ngx_str_t *token);
ngx_int_t ngx_http_otp_csrf_valid(ngx_http_request_t *r,
    ngx_str_t *binding, time_t max_age);
/* the form's code against a TOTP secret: ep->code_ok and ep->step */
ngx_int_t ngx_http_otp_check_totp(ngx_http_request_t *r,
    ngx_str_t *secret, ngx_http_otp_alg_e alg, ngx_uint_t digits,
    ngx_uint_t period);
/* attempt.lua's first six arguments */
ngx_int_t ngx_http_otp_attempt_args(ngx_http_request_t *r,
    ngx_str_t *args);
/* otp_max_attempts and otp_lockout for the attempt scripts: three */
ngx_int_t ngx_http_otp_limit_args(ngx_http_request_t *r, ngx_str_t *args);
ngx_int_t ngx_http_otp_redirect(ngx_http_request_t *r,
    ngx_uint_t status, ngx_str_t *location);
/* 302 to another page of the endpoint, with the return address */
ngx_int_t ngx_http_otp_redirect_page(ngx_http_request_t *r,
    const char *page);
ngx_int_t ngx_http_otp_page_url(ngx_http_request_t *r,
    const char *page, ngx_str_t *url);
ngx_uint_t ngx_http_otp_is(ngx_str_t *s, const char *word);
/* an NGX_HTTP_OTP_SHA* from "sha1", "sha256" or "sha512"; NGX_ERROR */
ngx_int_t ngx_http_otp_alg_from(ngx_str_t *s);
void ngx_http_otp_log_failure(ngx_http_request_t *r,
    const char *what);

/*
 * A cookie of the endpoint's own, "<otp_cookie name><suffix>" (the
 * enroll and challenge cookies): its name, and its Set-Cookie for the
 * endpoint's location, HttpOnly, max_age 0 clears it
 */
ngx_int_t ngx_http_otp_ep_cookie_name(ngx_http_request_t *r,
    const char *suffix, ngx_str_t *name);
ngx_int_t ngx_http_otp_ep_cookie_set(ngx_http_request_t *r,
    const char *suffix, ngx_str_t *value, time_t max_age);

/* the endpoint's state of the request (ctx->endpoint) */
ngx_http_otp_ep_t *ngx_http_otp_ep(ngx_http_request_t *r);
/* NGX_OK and ep->challenge set when the form's token is good */
ngx_int_t ngx_http_otp_ep_challenge_csrf(ngx_http_request_t *r);
/* 403 when it is not */
ngx_int_t ngx_http_otp_ep_refused(ngx_http_request_t *r);
/* "challenge", "verify"...: the request's page, for the debug log */
const char *ngx_http_otp_ep_page(ngx_http_request_t *r);
/* a token for a form bound to ep->challenge */
ngx_int_t ngx_http_otp_ep_csrf(ngx_http_request_t *r, ngx_str_t *token);


#endif /* _NGX_HTTP_OTP_PAGE_FLOW_H_INCLUDED_ */
