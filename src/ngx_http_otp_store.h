
/*
 * The store: the module's state in Redis, one atomic Lua script per step
 * (src/lua/), run on behalf of a request.
 *
 * This is the only place that knows the key schema and the shape of the
 * scripts' replies: a caller names a script, the ids its keys are built
 * from and its arguments; its handler gets the reply parsed into that
 * script's struct.  src/lua/README.md documents the schema.
 */


#ifndef _NGX_HTTP_OTP_STORE_H_INCLUDED_
#define _NGX_HTTP_OTP_STORE_H_INCLUDED_


#include "ngx_http_otp.h"


#define NGX_HTTP_OTP_STORE_MAX_KEYS     10
#define NGX_HTTP_OTP_STORE_MAX_ARGS     16


typedef enum {
    NGX_HTTP_OTP_GATE = 0,
    NGX_HTTP_OTP_USER_STATE,
    NGX_HTTP_OTP_CHALLENGE_NEW,
    NGX_HTTP_OTP_ATTEMPT,
    NGX_HTTP_OTP_ENROLL_BEGIN,
    NGX_HTTP_OTP_ENROLL_CONFIRM,
    NGX_HTTP_OTP_SESSION_NEW,
    NGX_HTTP_OTP_SESSION_CHECK,
    NGX_HTTP_OTP_SESSION_END,
    NGX_HTTP_OTP_REVOKE_USER,
    NGX_HTTP_OTP_UNLOCK,
    NGX_HTTP_OTP_ADMIN_STATUS,
    NGX_HTTP_OTP_FORGET_TOTP,
    NGX_HTTP_OTP_REQUIRE_ENROLL,
    NGX_HTTP_OTP_SET_PHONE,
    NGX_HTTP_OTP_RECOVERY_SET,
    NGX_HTTP_OTP_DEVICE_NEW,
    NGX_HTTP_OTP_SMS_STATE,
    NGX_HTTP_OTP_SMS_RESERVE,
    NGX_HTTP_OTP_SMS_DONE,
    NGX_HTTP_OTP_SMS_ATTEMPT,
    NGX_HTTP_OTP_LINK_NEW,
    NGX_HTTP_OTP_LINK_POLL,
    NGX_HTTP_OTP_LINK_SHOW,
    NGX_HTTP_OTP_LINK_DECIDE,
    NGX_HTTP_OTP_ACCOUNT_STATE,
    NGX_HTTP_OTP_ACCOUNT_CHANGE,
    NGX_HTTP_OTP_AUTHN_REMOVE,
    NGX_HTTP_OTP_STORE_CHECK,
    NGX_HTTP_OTP_SMS_NUMBER,
    NGX_HTTP_OTP_NSCRIPTS
} ngx_http_otp_script_e;


/* a reply's status word, read once by the store */
typedef enum {
    NGX_HTTP_OTP_ST_OK = 0,
    NGX_HTTP_OTP_ST_WRONG,
    NGX_HTTP_OTP_ST_BURNT,
    NGX_HTTP_OTP_ST_LOCKED,
    NGX_HTTP_OTP_ST_NO_CHALLENGE,
    NGX_HTTP_OTP_ST_EXISTS,
    NGX_HTTP_OTP_ST_NONE,
    NGX_HTTP_OTP_ST_UNKNOWN,
    NGX_HTTP_OTP_ST_NO_FACTOR,
    NGX_HTTP_OTP_ST_NO_ENROLLMENT,
    NGX_HTTP_OTP_ST_NO_PHONE,
    NGX_HTTP_OTP_ST_BUSY,
    NGX_HTTP_OTP_ST_MAX_SENDS,
    NGX_HTTP_OTP_ST_WAIT,
    NGX_HTTP_OTP_ST_DAILY,
    NGX_HTTP_OTP_ST_CONFLICT,
    NGX_HTTP_OTP_ST_DEVICE,
    NGX_HTTP_OTP_ST_ENROLL,
    NGX_HTTP_OTP_ST_STALE,
    NGX_HTTP_OTP_ST_OTHER_USER,
    NGX_HTTP_OTP_ST_REVOKED,
    NGX_HTTP_OTP_ST_EXPIRED,
    NGX_HTTP_OTP_ST_PENDING,
    NGX_HTTP_OTP_ST_DENIED,
    NGX_HTTP_OTP_ST_LOST,
    NGX_HTTP_OTP_ST_NUMBER,
    NGX_HTTP_OTP_ST_LIVE
} ngx_http_otp_store_status_e;


/*
 * What a script's keys are built from: the user always (every key of a
 * user carries the user's hash tag), a challenge id, a session's hash,
 * the hash of a session being made, the hash of the browser's
 * pending enrollment and the hash of a cross-device request's token
 * where the script needs them; the challenge the browser's cookie
 * names (the challenge's own id when none); a phone number's keyed
 * hash for the key of that number (a tag of its own).
 */
typedef struct {
    ngx_str_t                   user;
    ngx_str_t                   challenge;
    ngx_str_t                   session;
    ngx_str_t                   new_session;
    ngx_str_t                   enrollment;
    ngx_str_t                   link;
    ngx_str_t                   number;
    ngx_str_t                   live;         /* the browser's challenge */
} ngx_http_otp_store_ids_t;


/* every reply starts so; the script's own struct follows it */
struct ngx_http_otp_store_reply_s {
    ngx_http_otp_store_status_e  status;
};


/* what user_state.lua says of a user (also after gate.lua's "none") */
typedef struct {
    ngx_str_t                   secret;       /* sealed; no data: none */
    ngx_str_t                   alg;          /* "sha1", ..., or no data */
    ngx_int_t                   digits;
    ngx_int_t                   period;
    ngx_int_t                   must_enroll;  /* 1: asked to enroll again */
    ngx_int_t                   lock_ttl;     /* > 0: locked this long */
    ngx_int_t                   gen;
    ngx_int_t                   pending;      /* 1: an enrollment waits */
    ngx_str_t                   type;         /* "hotp", or no data */
    ngx_int_t                   counter;      /* the next HOTP counter */
    ngx_int_t                   recovery;     /* recovery codes left */
    ngx_str_t                   phone;        /* sealed; no data: none */
    ngx_array_t                *others;       /* ngx_str_t: the other
                                                 authenticators, seven
                                                 values each; or NULL */
} ngx_http_otp_user_state_t;


/*
 * user_state.lua, challenge_new.lua (secs: "busy", until one expires;
 * "live": the browser's challenge is shown again)
 */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_http_otp_user_state_t   user;
    ngx_int_t                   secs;
} ngx_http_otp_user_reply_t;


/* gate.lua: ok (a session), device (one made), none (the user's state) */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   created;
    ngx_int_t                   auth_time;
    ngx_str_t                   method;
    ngx_http_otp_user_state_t   user;         /* none */
} ngx_http_otp_gate_reply_t;


/* session_check.lua */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   created;
    ngx_int_t                   auth_time;
    ngx_str_t                   method;
} ngx_http_otp_session_reply_t;


/*
 * attempt.lua (with the session it makes), enroll_confirm.lua,
 * sms_attempt.lua: left is the attempts left after "wrong", or the
 * recovery codes or HOTP counter after "ok"; secs the lock time
 */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   left;
    ngx_int_t                   secs;
    ngx_int_t                   first;        /* this attempt locked */
    ngx_int_t                   enrolled;     /* sms: a number enrolled */
    ngx_int_t                   expired;      /* sms: the code expired */
} ngx_http_otp_attempt_reply_t;


/* enroll_begin.lua (secs: "busy", until a pending one expires) */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_str_t                   sealed;
    ngx_str_t                   alg;
    ngx_int_t                   digits;
    ngx_int_t                   period;
    ngx_str_t                   type;
    ngx_int_t                   made;         /* 1: a new one */
    ngx_int_t                   secs;
} ngx_http_otp_enroll_reply_t;


/* admin_status.lua, forget_totp.lua, revoke_user.lua, recovery_set.lua */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   totp;
    ngx_int_t                   must_enroll;
    ngx_int_t                   lock_ttl;
    ngx_int_t                   sessions;
    ngx_str_t                   phone;
    ngx_int_t                   hotp;
    ngx_int_t                   recovery;
    ngx_int_t                   had_totp;
    ngx_int_t                   count;        /* codes, devices */
    ngx_array_t                *authenticators; /* ngx_str_t, 5 each */
} ngx_http_otp_admin_reply_t;


/* account_state.lua and account_change.lua (the account page) */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   recovery;
    ngx_str_t                   phone;        /* sealed; no data: none */
    ngx_int_t                   browsers;
    ngx_int_t                   sessions;
    ngx_array_t                *authenticators; /* ngx_str_t, 5 each */
    ngx_int_t                   made;         /* a new session made */
    ngx_int_t                   secs;         /* locked: seconds left */
} ngx_http_otp_account_reply_t;


/* sms_state.lua and sms_reserve.lua */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   own;
    ngx_str_t                   hash;
    ngx_int_t                   expires;
    ngx_int_t                   sends;
    ngx_int_t                   last;
    ngx_str_t                   pending;
    ngx_int_t                   totp;
    ngx_str_t                   phone;
    ngx_int_t                   secs;
} ngx_http_otp_sms_reply_t;


/* link_new.lua, link_poll.lua, link_show.lua, link_decide.lua */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_http_otp_user_state_t   user;         /* link_new.lua */
    ngx_int_t                   number;
    ngx_int_t                   secs;         /* left, or locked */
    ngx_int_t                   first;        /* this answer locked */
    ngx_int_t                   time;         /* created, approved */
    ngx_str_t                   address;      /* of the waiting browser */
    ngx_str_t                   agent;
} ngx_http_otp_link_reply_t;


/* store_check.lua: ok (id, made) or lost (why) */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_str_t                   id;
    ngx_int_t                   made;
    ngx_str_t                   why;
} ngx_http_otp_store_check_reply_t;


/* sms_number.lua: secs, at the limit, until a text leaves the window */
typedef struct {
    ngx_http_otp_store_reply_t  reply;
    ngx_int_t                   secs;
} ngx_http_otp_number_reply_t;


/* the reply of a script run for no request, in a pool freed after it */
typedef void (*ngx_http_otp_store_bg_handler_pt)(void *data,
    ngx_http_otp_store_reply_t *reply);


ngx_http_otp_ctx_t *ngx_http_otp_get_ctx(ngx_http_request_t *r);

ngx_int_t ngx_http_otp_store_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_main_conf_t *omcf);
void ngx_http_otp_store_exit_process(ngx_cycle_t *cycle);

/*
 * Runs a script for r: its keys are built from ids, args are its ARGV
 * in order.  NGX_OK: the handler will be called (unless r goes away
 * first) with the parsed reply, or NULL where Redis failed or the reply
 * is not of the script's shape; NGX_ERROR: Redis is not available and
 * nothing was sent, answer 503.
 */
ngx_int_t ngx_http_otp_store_run(ngx_http_request_t *r,
    ngx_http_otp_script_e script, ngx_http_otp_store_ids_t *ids,
    ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt handler);

/*
 * As ngx_http_otp_store_run(), for the worker itself (no request):
 * handler gets data and the reply, or NULL.  Only for scripts whose
 * keys need no user (the store's marker).
 */
ngx_int_t ngx_http_otp_store_run_bg(ngx_log_t *log,
    ngx_http_otp_main_conf_t *omcf, ngx_http_otp_script_e script,
    ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_bg_handler_pt handler, void *data);

/* the glob pattern that matches every user record: "P{*}:u", escaped */
ngx_int_t ngx_http_otp_store_records(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *pattern);

/* a key's name, for a script that keeps names in a value (tests, docs) */
ngx_int_t ngx_http_otp_store_key(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *user, const char *kind, ngx_str_t *id, ngx_str_t *key);

/* a script's name, for logs */
const char *ngx_http_otp_store_script_name(ngx_http_otp_script_e script);

/*
 * A value sealed to a user (an enrolled secret, a phone number), opened
 * into r's pool.  NGX_DECLINED: none, longer than max, or not sealed for
 * this user under this key; NGX_ERROR: no memory.
 */
ngx_int_t ngx_http_otp_store_open(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *sealed, size_t max, ngx_str_t *value);

/* a decimal string in r's pool */
ngx_int_t ngx_http_otp_store_num(ngx_http_request_t *r, ngx_str_t *s,
    int64_t n);


#endif /* _NGX_HTTP_OTP_STORE_H_INCLUDED_ */
