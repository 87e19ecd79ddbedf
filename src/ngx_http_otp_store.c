
/*
 * The store: the module's state in Redis.  Every operation is one Lua
 * script (src/lua/, compiled in), so that each is atomic and costs one
 * round trip; this file runs them on behalf of requests.
 *
 * The request is never what hiredis holds: the redis layer holds a call,
 * the call points at the request's context, and a pool cleanup detaches
 * the call when the request goes away before its reply.
 */


#include "ngx_http_otp_store.h"
#include "ngx_http_otp_redis.h"

#include "ngx_http_otp_lua.h"


/*
 * The key schema.  Every key of a user is P{tag}:kind[:id], where P is
 * otp_redis prefix= and tag the user name with every byte but letters,
 * digits and "-._@" percent-encoded: Redis Cluster hashes only what is
 * between the braces, so all of a user's keys are in one slot whatever
 * bytes the name has, and no name can close the tag early.
 */

typedef enum {
    NGX_HTTP_OTP_K_END = 0,
    NGX_HTTP_OTP_K_USER,          /* u: the user record */
    NGX_HTTP_OTP_K_LOCK,          /* l: the lock marker */
    NGX_HTTP_OTP_K_ENROLLMENTS,   /* es: the pending enrollments */
    NGX_HTTP_OTP_K_FAILURES,      /* f: consecutive failures */
    NGX_HTTP_OTP_K_STEP,          /* t: the last TOTP step accepted */
    NGX_HTTP_OTP_K_SESSIONS,      /* su: the user's sessions */
    NGX_HTTP_OTP_K_DEVICES,       /* d: remembered browsers */
    NGX_HTTP_OTP_K_SMS_DAY,       /* sd: texts of the last day */
    NGX_HTTP_OTP_K_SMS_PENDING,   /* sp: texts being sent */
    NGX_HTTP_OTP_K_CHALLENGES,    /* cl: live challenges */
    NGX_HTTP_OTP_K_CHALLENGE,     /* c:<challenge id> */
    NGX_HTTP_OTP_K_SESSION,       /* s:<hash>: the session presented */
    NGX_HTTP_OTP_K_NEW_SESSION,   /* s:<hash>: a session being made */
    NGX_HTTP_OTP_K_ENROLL,        /* e:<hash>: the browser's enrollment */
    NGX_HTTP_OTP_K_LINK,          /* lk:<hash>: a cross-device request */
    NGX_HTTP_OTP_K_LINKS,         /* ll: live cross-device requests */
    NGX_HTTP_OTP_K_LIVE,          /* c:<id>: the browser's challenge */

    /* no user's: a tag no user name can have ("~" and "#" are encoded) */
    NGX_HTTP_OTP_K_STORE,         /* P{~}:store: the store's marker */
    NGX_HTTP_OTP_K_NUMBER         /* P{#<hash>}:n: texts to one number */
} ngx_http_otp_key_e;


static const char  *ngx_http_otp_key_kinds[] = {
    "", "u", "l", "es", "f", "t", "su", "d", "sd", "sp", "cl", "c", "s", "s",
    "e", "lk", "ll", "c", "store", "n"
};


/* a reply value's place in the script's struct */

typedef enum {
    NGX_HTTP_OTP_F_END = 0,
    NGX_HTTP_OTP_F_INT,           /* a ngx_int_t; nil or not a number: 0 */
    NGX_HTTP_OTP_F_STR,           /* a ngx_str_t; nil: no data */
    NGX_HTTP_OTP_F_LIST           /* a nested array: ngx_array_t * of
                                     ngx_str_t; nil: NULL */
} ngx_http_otp_field_type_e;


typedef struct {
    ngx_uint_t                   statuses;     /* a bit per status */
    ngx_http_otp_field_type_e    type;
    size_t                       offset;
} ngx_http_otp_field_t;


typedef struct {
    ngx_http_otp_redis_script_t  redis;
    ngx_http_otp_key_e           keys[NGX_HTTP_OTP_STORE_MAX_KEYS + 1];
    ngx_uint_t                   nargs;
    ngx_uint_t                   statuses;     /* the replies it may give */
    size_t                       size;         /* its reply struct */
    ngx_http_otp_field_t        *fields;       /* in the reply's order */
} ngx_http_otp_script_t;


static void ngx_http_otp_ctx_cleanup(void *data);
static void ngx_http_otp_store_reply(void *data, redisReply *reply);
static ngx_int_t ngx_http_otp_store_keys(ngx_pool_t *pool,
    ngx_str_t *prefix, ngx_http_otp_script_t *s,
    ngx_http_otp_store_ids_t *ids, ngx_str_t *argv, ngx_uint_t *nkeys);
static ngx_int_t ngx_http_otp_store_tag_key(ngx_pool_t *pool,
    ngx_str_t *prefix, const char *tag, ngx_str_t *id, const char *kind,
    ngx_str_t *key);
static void ngx_http_otp_store_bg_reply(void *data, redisReply *reply);
static ngx_http_otp_store_reply_t *ngx_http_otp_store_parse(
    ngx_pool_t *pool, ngx_log_t *log, ngx_http_otp_script_t *s,
    redisReply *reply);
static ngx_int_t ngx_http_otp_store_value(ngx_pool_t *pool,
    redisReply *element, ngx_str_t *value);
static ngx_int_t ngx_http_otp_store_list(ngx_pool_t *pool,
    redisReply *element, ngx_array_t **list);


#define S(st)              (1 << NGX_HTTP_OTP_ST_##st)
#define ngx_http_otp_int(st, type, field)                                     \
    { st, NGX_HTTP_OTP_F_INT, offsetof(type, field) }
#define ngx_http_otp_str(st, type, field)                                     \
    { st, NGX_HTTP_OTP_F_STR, offsetof(type, field) }
#define ngx_http_otp_list(st, type, field)                                    \
    { st, NGX_HTTP_OTP_F_LIST, offsetof(type, field) }
#define ngx_http_otp_field_end   { 0, NGX_HTTP_OTP_F_END, 0 }

#define ngx_http_otp_state_fields(st, t, u)                                   \
    ngx_http_otp_str(st, t, u.secret),                                        \
    ngx_http_otp_str(st, t, u.alg),                                           \
    ngx_http_otp_int(st, t, u.digits),                                        \
    ngx_http_otp_int(st, t, u.period),                                        \
    ngx_http_otp_int(st, t, u.must_enroll),                                   \
    ngx_http_otp_int(st, t, u.lock_ttl),                                      \
    ngx_http_otp_int(st, t, u.gen),                                           \
    ngx_http_otp_int(st, t, u.pending),                                       \
    ngx_http_otp_str(st, t, u.type),                                          \
    ngx_http_otp_int(st, t, u.counter),                                       \
    ngx_http_otp_int(st, t, u.recovery),                                      \
    ngx_http_otp_str(st, t, u.phone),                                         \
    ngx_http_otp_list(st, t, u.others)


static ngx_http_otp_field_t  ngx_http_otp_gate_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_gate_reply_t, created),
    ngx_http_otp_int(S(OK), ngx_http_otp_gate_reply_t, auth_time),
    ngx_http_otp_str(S(OK), ngx_http_otp_gate_reply_t, method),
    ngx_http_otp_state_fields(S(NONE), ngx_http_otp_gate_reply_t, user),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_user_fields[] = {
    ngx_http_otp_state_fields(S(OK) | S(NONE), ngx_http_otp_user_reply_t,
                              user),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_challenge_fields[] = {
    ngx_http_otp_int(S(BUSY), ngx_http_otp_user_reply_t, secs),
    ngx_http_otp_state_fields(S(OK) | S(NONE) | S(LIVE),
                              ngx_http_otp_user_reply_t, user),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_session_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_session_reply_t, created),
    ngx_http_otp_int(S(OK), ngx_http_otp_session_reply_t, auth_time),
    ngx_http_otp_str(S(OK), ngx_http_otp_session_reply_t, method),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_attempt_fields[] = {
    ngx_http_otp_int(S(OK) | S(WRONG), ngx_http_otp_attempt_reply_t, left),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_attempt_reply_t, secs),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_attempt_reply_t, first),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_sms_attempt_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_attempt_reply_t, enrolled),
    ngx_http_otp_int(S(WRONG), ngx_http_otp_attempt_reply_t, left),
    ngx_http_otp_int(S(WRONG), ngx_http_otp_attempt_reply_t, expired),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_attempt_reply_t, secs),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_attempt_reply_t, first),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_enroll_fields[] = {
    ngx_http_otp_str(S(OK), ngx_http_otp_enroll_reply_t, sealed),
    ngx_http_otp_str(S(OK), ngx_http_otp_enroll_reply_t, alg),
    ngx_http_otp_int(S(OK), ngx_http_otp_enroll_reply_t, digits),
    ngx_http_otp_int(S(OK), ngx_http_otp_enroll_reply_t, period),
    ngx_http_otp_str(S(OK), ngx_http_otp_enroll_reply_t, type),
    ngx_http_otp_int(S(OK), ngx_http_otp_enroll_reply_t, made),
    ngx_http_otp_int(S(BUSY), ngx_http_otp_enroll_reply_t, secs),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_admin_status_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, totp),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, must_enroll),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, lock_ttl),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, sessions),
    ngx_http_otp_str(S(OK), ngx_http_otp_admin_reply_t, phone),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, hotp),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, recovery),
    ngx_http_otp_list(S(OK), ngx_http_otp_admin_reply_t, authenticators),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_authn_remove_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, count),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, sessions),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_account_state_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_account_reply_t, recovery),
    ngx_http_otp_str(S(OK), ngx_http_otp_account_reply_t, phone),
    ngx_http_otp_int(S(OK), ngx_http_otp_account_reply_t, browsers),
    ngx_http_otp_int(S(OK), ngx_http_otp_account_reply_t, sessions),
    ngx_http_otp_list(S(OK), ngx_http_otp_account_reply_t, authenticators),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_account_reply_t, secs),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_account_change_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_account_reply_t, made),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_account_reply_t, secs),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_forget_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, had_totp),
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, sessions),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_revoke_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, sessions),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_count_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_admin_reply_t, count),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_sms_state_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_sms_reply_t, own),
    ngx_http_otp_str(S(OK), ngx_http_otp_sms_reply_t, hash),
    ngx_http_otp_int(S(OK), ngx_http_otp_sms_reply_t, expires),
    ngx_http_otp_int(S(OK), ngx_http_otp_sms_reply_t, sends),
    ngx_http_otp_int(S(OK), ngx_http_otp_sms_reply_t, last),
    ngx_http_otp_str(S(OK), ngx_http_otp_sms_reply_t, pending),
    ngx_http_otp_int(S(OK), ngx_http_otp_sms_reply_t, totp),
    ngx_http_otp_str(S(OK), ngx_http_otp_sms_reply_t, phone),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_sms_reserve_fields[] = {
    ngx_http_otp_str(S(OK), ngx_http_otp_sms_reply_t, pending),
    ngx_http_otp_str(S(OK), ngx_http_otp_sms_reply_t, phone),
    ngx_http_otp_int(S(LOCKED) | S(BUSY) | S(MAX_SENDS) | S(WAIT)
                     | S(DAILY), ngx_http_otp_sms_reply_t, secs),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_link_new_fields[] = {
    ngx_http_otp_int(S(BUSY), ngx_http_otp_link_reply_t, secs),
    ngx_http_otp_state_fields(S(OK) | S(NONE), ngx_http_otp_link_reply_t,
                              user),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_store_check_fields[] = {
    ngx_http_otp_str(S(OK), ngx_http_otp_store_check_reply_t, id),
    ngx_http_otp_int(S(OK), ngx_http_otp_store_check_reply_t, made),
    ngx_http_otp_str(S(LOST), ngx_http_otp_store_check_reply_t, why),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_link_poll_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_link_reply_t, time),
    ngx_http_otp_int(S(PENDING), ngx_http_otp_link_reply_t, number),
    ngx_http_otp_int(S(PENDING) | S(LOCKED), ngx_http_otp_link_reply_t,
                     secs),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_link_show_fields[] = {
    ngx_http_otp_int(S(OK), ngx_http_otp_link_reply_t, number),
    ngx_http_otp_str(S(OK), ngx_http_otp_link_reply_t, address),
    ngx_http_otp_str(S(OK), ngx_http_otp_link_reply_t, agent),
    ngx_http_otp_int(S(OK), ngx_http_otp_link_reply_t, time),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_link_decide_fields[] = {
    ngx_http_otp_str(S(OK) | S(WRONG), ngx_http_otp_link_reply_t, address),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_link_reply_t, secs),
    ngx_http_otp_int(S(LOCKED), ngx_http_otp_link_reply_t, first),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_number_fields[] = {
    ngx_http_otp_int(S(NUMBER), ngx_http_otp_number_reply_t, secs),
    ngx_http_otp_field_end
};


static ngx_http_otp_field_t  ngx_http_otp_no_fields[] = {
    ngx_http_otp_field_end
};


#define ngx_http_otp_script(name, nargs, st, type, fields, ...)               \
    { { ngx_string(#name),                                                    \
        { sizeof(ngx_http_otp_lua_##name) - 1,                                \
          (u_char *) ngx_http_otp_lua_##name },                               \
        { 0 }, 0 },                                                           \
      { __VA_ARGS__, NGX_HTTP_OTP_K_END }, nargs, st, sizeof(type),           \
      fields }

#define U    NGX_HTTP_OTP_K_USER
#define L    NGX_HTTP_OTP_K_LOCK
#define E    NGX_HTTP_OTP_K_ENROLL
#define ES   NGX_HTTP_OTP_K_ENROLLMENTS
#define F    NGX_HTTP_OTP_K_FAILURES
#define T    NGX_HTTP_OTP_K_STEP
#define SU   NGX_HTTP_OTP_K_SESSIONS
#define D    NGX_HTTP_OTP_K_DEVICES
#define SD   NGX_HTTP_OTP_K_SMS_DAY
#define SP   NGX_HTTP_OTP_K_SMS_PENDING
#define CL   NGX_HTTP_OTP_K_CHALLENGES
#define C    NGX_HTTP_OTP_K_CHALLENGE
#define SS   NGX_HTTP_OTP_K_SESSION
#define SN   NGX_HTTP_OTP_K_NEW_SESSION
#define LK   NGX_HTTP_OTP_K_LINK
#define LL   NGX_HTTP_OTP_K_LINKS
#define ST   NGX_HTTP_OTP_K_STORE
#define LV   NGX_HTTP_OTP_K_LIVE
#define N    NGX_HTTP_OTP_K_NUMBER

/* in the order of ngx_http_otp_script_e: keys as KEYS[1..], ARGV count */

static ngx_http_otp_script_t  ngx_http_otp_scripts[] = {
    ngx_http_otp_script(gate, 7, S(OK) | S(DEVICE) | S(NONE),
                        ngx_http_otp_gate_reply_t, ngx_http_otp_gate_fields,
                        SS, U, SU, D, L, ES, SN),
    ngx_http_otp_script(user_state, 0, S(OK), ngx_http_otp_user_reply_t,
                        ngx_http_otp_user_fields, U, L, ES),
    ngx_http_otp_script(challenge_new, 7,
                        S(OK) | S(NONE) | S(EXISTS) | S(BUSY) | S(LIVE),
                        ngx_http_otp_user_reply_t,
                        ngx_http_otp_challenge_fields, C, U, L, ES, CL,
                        LV),
    ngx_http_otp_script(attempt, 15,
                        S(OK) | S(WRONG) | S(BURNT) | S(LOCKED)
                        | S(NO_CHALLENGE) | S(ENROLL) | S(STALE),
                        ngx_http_otp_attempt_reply_t,
                        ngx_http_otp_attempt_fields, C, F, L, T, U, SN, SU,
                        D, CL),
    ngx_http_otp_script(enroll_begin, 7, S(OK) | S(BUSY),
                        ngx_http_otp_enroll_reply_t,
                        ngx_http_otp_enroll_fields, E, ES),
    ngx_http_otp_script(enroll_confirm, 15,
                        S(OK) | S(WRONG) | S(LOCKED) | S(NO_ENROLLMENT)
                        | S(BUSY) | S(NONE),
                        ngx_http_otp_attempt_reply_t,
                        ngx_http_otp_attempt_fields, E, ES, U, F, L, T, D,
                        SU, SS),
    ngx_http_otp_script(session_new, 6, S(OK), ngx_http_otp_store_reply_t,
                        ngx_http_otp_no_fields, SN, SU, U),
    ngx_http_otp_script(session_check, 4,
                        S(OK) | S(NONE) | S(OTHER_USER) | S(REVOKED)
                        | S(EXPIRED),
                        ngx_http_otp_session_reply_t,
                        ngx_http_otp_session_fields, SS, U, SU),
    ngx_http_otp_script(session_end, 1, S(OK), ngx_http_otp_store_reply_t,
                        ngx_http_otp_no_fields, SS, SU, D),
    ngx_http_otp_script(revoke_user, 0, S(OK), ngx_http_otp_admin_reply_t,
                        ngx_http_otp_revoke_fields, U, SU, D),
    ngx_http_otp_script(unlock, 0, S(OK), ngx_http_otp_store_reply_t,
                        ngx_http_otp_no_fields, F, L),
    ngx_http_otp_script(admin_status, 0, S(OK) | S(UNKNOWN),
                        ngx_http_otp_admin_reply_t,
                        ngx_http_otp_admin_status_fields, U, L, SU),
    ngx_http_otp_script(forget_totp, 0, S(OK), ngx_http_otp_admin_reply_t,
                        ngx_http_otp_forget_fields, U, ES, SU, D),
    ngx_http_otp_script(require_enroll, 0, S(OK),
                        ngx_http_otp_store_reply_t, ngx_http_otp_no_fields,
                        U),
    ngx_http_otp_script(set_phone, 1, S(OK), ngx_http_otp_store_reply_t,
                        ngx_http_otp_no_fields, U),
    ngx_http_otp_script(recovery_set, 5, S(OK) | S(NO_FACTOR) | S(NONE),
                        ngx_http_otp_admin_reply_t,
                        ngx_http_otp_count_fields, U, SU, D, SS),
    ngx_http_otp_script(device_new, 4, S(OK), ngx_http_otp_admin_reply_t,
                        ngx_http_otp_count_fields, D),
    ngx_http_otp_script(sms_state, 1, S(OK), ngx_http_otp_sms_reply_t,
                        ngx_http_otp_sms_state_fields, C, U),
    ngx_http_otp_script(sms_reserve, 8,
                        S(OK) | S(LOCKED) | S(NO_CHALLENGE) | S(BURNT)
                        | S(NO_PHONE) | S(BUSY) | S(MAX_SENDS) | S(WAIT)
                        | S(DAILY),
                        ngx_http_otp_sms_reply_t,
                        ngx_http_otp_sms_reserve_fields, C, U, L, SD, SP),
    ngx_http_otp_script(sms_done, 8, S(OK) | S(NO_CHALLENGE),
                        ngx_http_otp_store_reply_t, ngx_http_otp_no_fields,
                        C, SD, SP),
    ngx_http_otp_script(sms_attempt, 13,
                        S(OK) | S(WRONG) | S(BURNT) | S(LOCKED)
                        | S(NO_CHALLENGE) | S(CONFLICT) | S(NONE),
                        ngx_http_otp_attempt_reply_t,
                        ngx_http_otp_sms_attempt_fields, C, F, L, U, SN, SU,
                        D, CL, SS),
    ngx_http_otp_script(link_new, 9,
                        S(OK) | S(NONE) | S(EXISTS) | S(BUSY),
                        ngx_http_otp_link_reply_t,
                        ngx_http_otp_link_new_fields, LK, LL, U, L, ES),
    ngx_http_otp_script(link_poll, 5,
                        S(OK) | S(PENDING) | S(DENIED) | S(EXPIRED)
                        | S(LOCKED) | S(NONE),
                        ngx_http_otp_link_reply_t,
                        ngx_http_otp_link_poll_fields, LK, LL, U, L, SN,
                        SU),
    ngx_http_otp_script(link_show, 2, S(OK) | S(NONE),
                        ngx_http_otp_link_reply_t,
                        ngx_http_otp_link_show_fields, LK),
    ngx_http_otp_script(link_decide, 7,
                        S(OK) | S(WRONG) | S(LOCKED) | S(NONE),
                        ngx_http_otp_link_reply_t,
                        ngx_http_otp_link_decide_fields, LK, U, F, L, SS),
    ngx_http_otp_script(account_state, 4, S(OK) | S(NONE) | S(LOCKED),
                        ngx_http_otp_account_reply_t,
                        ngx_http_otp_account_state_fields, SS, U, SU, D,
                        L),
    ngx_http_otp_script(account_change, 12,
                        S(OK) | S(NONE) | S(UNKNOWN) | S(NO_FACTOR)
                        | S(LOCKED),
                        ngx_http_otp_account_reply_t,
                        ngx_http_otp_account_change_fields, SS, SN, U, SU,
                        D, T, L),
    ngx_http_otp_script(authn_remove, 2, S(OK) | S(UNKNOWN),
                        ngx_http_otp_admin_reply_t,
                        ngx_http_otp_authn_remove_fields, U, T, SU, D),
    ngx_http_otp_script(store_check, 5, S(OK) | S(LOST),
                        ngx_http_otp_store_check_reply_t,
                        ngx_http_otp_store_check_fields, ST),
    ngx_http_otp_script(sms_number, 4, S(OK) | S(NUMBER),
                        ngx_http_otp_number_reply_t,
                        ngx_http_otp_number_fields, N)
};

#undef U
#undef L
#undef E
#undef ES
#undef F
#undef T
#undef SU
#undef D
#undef SD
#undef SP
#undef CL
#undef C
#undef SS
#undef SN
#undef LK
#undef LL
#undef ST
#undef LV
#undef N


/* the bytes a hash tag keeps as they are */
#define ngx_http_otp_tag_plain(c)                                             \
    (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z')                 \
     || ((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '.'                \
     || (c) == '_' || (c) == '@')


/* the redis layer's copy of the table: it keeps each script's SHA1 */
static ngx_http_otp_redis_script_t  *ngx_http_otp_redis_scripts;


/*
 * The writes a failover must not forget (otp_redis replicas=): a used
 * step or code, failures and lockouts, texts counted against the limits,
 * ended sessions and changed factors.  A lost new session or remembered
 * browser only asks for a code again.
 */

static ngx_http_otp_script_e  ngx_http_otp_security_writes[] = {
    NGX_HTTP_OTP_ATTEMPT,
    NGX_HTTP_OTP_ENROLL_CONFIRM,
    NGX_HTTP_OTP_SMS_ATTEMPT,
    NGX_HTTP_OTP_SMS_RESERVE,
    NGX_HTTP_OTP_SESSION_END,
    NGX_HTTP_OTP_REVOKE_USER,
    NGX_HTTP_OTP_FORGET_TOTP,
    NGX_HTTP_OTP_REQUIRE_ENROLL,
    NGX_HTTP_OTP_SET_PHONE,
    NGX_HTTP_OTP_RECOVERY_SET,
    NGX_HTTP_OTP_SMS_NUMBER,
    NGX_HTTP_OTP_LINK_POLL,           /* an approval redeemed once */
    NGX_HTTP_OTP_LINK_DECIDE,
    NGX_HTTP_OTP_ACCOUNT_CHANGE,
    NGX_HTTP_OTP_AUTHN_REMOVE,
    NGX_HTTP_OTP_STORE_CHECK          /* a reset accepted, a new marker */
};


/* in the order of ngx_http_otp_store_status_e */

static ngx_str_t  ngx_http_otp_statuses[] = {
    ngx_string("ok"),
    ngx_string("wrong"),
    ngx_string("burnt"),
    ngx_string("locked"),
    ngx_string("no_challenge"),
    ngx_string("exists"),
    ngx_string("none"),
    ngx_string("unknown"),
    ngx_string("no_factor"),
    ngx_string("no_enrollment"),
    ngx_string("no_phone"),
    ngx_string("busy"),
    ngx_string("max_sends"),
    ngx_string("wait"),
    ngx_string("daily"),
    ngx_string("conflict"),
    ngx_string("device"),
    ngx_string("enroll"),
    ngx_string("stale"),
    ngx_string("other_user"),
    ngx_string("revoked"),
    ngx_string("expired"),
    ngx_string("pending"),
    ngx_string("denied"),
    ngx_string("lost"),
    ngx_string("number"),
    ngx_string("live"),
    ngx_null_string
};


ngx_http_otp_ctx_t *
ngx_http_otp_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);
    if (ctx) {
        return ctx;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_otp_ctx_t));
    if (ctx == NULL) {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_otp_ctx_cleanup;
    cln->data = ctx;

    ctx->request = r;

    ngx_http_set_ctx(r, ctx, ngx_http_otp_module);

    return ctx;
}


static void
ngx_http_otp_ctx_cleanup(void *data)
{
    ngx_http_otp_ctx_t  *ctx = data;

    if (ctx->call) {
        ngx_http_otp_redis_detach(ctx->call);
        ctx->call = NULL;
    }
}


ngx_int_t
ngx_http_otp_store_init_process(ngx_cycle_t *cycle,
    ngx_http_otp_main_conf_t *omcf)
{
    ngx_uint_t                    i;
    ngx_http_otp_redis_script_t  *scripts;

    scripts = ngx_alloc(NGX_HTTP_OTP_NSCRIPTS
                        * sizeof(ngx_http_otp_redis_script_t), cycle->log);
    if (scripts == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_OTP_NSCRIPTS; i++) {
        scripts[i] = ngx_http_otp_scripts[i].redis;
    }

    for (i = 0; i < sizeof(ngx_http_otp_security_writes)
                    / sizeof(ngx_http_otp_script_e); i++)
    {
        scripts[ngx_http_otp_security_writes[i]].security = 1;
    }

    ngx_http_otp_redis_scripts = scripts;

    return ngx_http_otp_redis_init_process(cycle, &omcf->redis, scripts,
                                           NGX_HTTP_OTP_NSCRIPTS);
}


void
ngx_http_otp_store_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_redis_exit_process(cycle);

    if (ngx_http_otp_redis_scripts) {
        ngx_free(ngx_http_otp_redis_scripts);
        ngx_http_otp_redis_scripts = NULL;
    }
}


const char *
ngx_http_otp_store_script_name(ngx_http_otp_script_e script)
{
    return (const char *) ngx_http_otp_scripts[script].redis.name.data;
}


ngx_int_t
ngx_http_otp_store_key(ngx_pool_t *pool, ngx_str_t *prefix, ngx_str_t *user,
    const char *kind, ngx_str_t *id, ngx_str_t *key)
{
    u_char      *p, c;
    size_t       len, klen;
    ngx_uint_t   i;

    static u_char  hex[] = "0123456789ABCDEF";

    klen = ngx_strlen(kind);
    len = prefix->len + sizeof("{}:") - 1 + klen;

    for (i = 0; i < user->len; i++) {
        len += ngx_http_otp_tag_plain(user->data[i]) ? 1 : 3;
    }

    if (id) {
        len += 1 + id->len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    key->len = len;

    p = ngx_cpymem(p, prefix->data, prefix->len);
    *p++ = '{';

    for (i = 0; i < user->len; i++) {
        c = user->data[i];

        if (ngx_http_otp_tag_plain(c)) {
            *p++ = c;

        } else {
            *p++ = '%';
            *p++ = hex[c >> 4];
            *p++ = hex[c & 0xf];
        }
    }

    *p++ = '}';
    *p++ = ':';
    p = ngx_cpymem(p, kind, klen);

    if (id) {
        *p++ = ':';
        ngx_memcpy(p, id->data, id->len);
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_store_run(ngx_http_request_t *r, ngx_http_otp_script_e script,
    ngx_http_otp_store_ids_t *ids, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_handler_pt handler)
{
    ngx_str_t                  argv[NGX_HTTP_OTP_STORE_MAX_KEYS
                                    + NGX_HTTP_OTP_STORE_MAX_ARGS];
    ngx_uint_t                 i, nkeys;
    ngx_http_otp_ctx_t        *ctx;
    ngx_http_otp_script_t     *s;
    ngx_http_otp_main_conf_t  *omcf;

    s = &ngx_http_otp_scripts[script];

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "otp store: run %V, %ui arguments", &s->redis.name, nargs);

    ctx = ngx_http_otp_get_ctx(r);
    if (ctx == NULL || ctx->call != NULL || nargs != s->nargs
        || nargs > NGX_HTTP_OTP_STORE_MAX_ARGS)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "otp: %V called wrongly", &s->redis.name);
        return NGX_ERROR;
    }

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (ngx_http_otp_store_keys(r->pool, &omcf->redis.prefix, s, ids, argv,
                                &nkeys)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < nargs; i++) {
        argv[nkeys + i] = args[i];
    }

    ctx->call = ngx_http_otp_redis_script(r->connection->log, script,
                                          ngx_http_otp_store_reply, ctx,
                                          nkeys, nkeys + nargs, argv);
    if (ctx->call == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "otp store: %V not sent, redis not ready",
                       &s->redis.name);
        return NGX_ERROR;
    }

    ctx->script = script;
    ctx->handler = handler;

    return NGX_OK;
}


/* KEYS of s for ids, into argv; *nkeys of them */

static ngx_int_t
ngx_http_otp_store_keys(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_http_otp_script_t *s, ngx_http_otp_store_ids_t *ids,
    ngx_str_t *argv, ngx_uint_t *nkeys)
{
    ngx_int_t            rc;
    ngx_str_t           *id;
    ngx_uint_t           n;
    ngx_http_otp_key_e   kind;

    for (n = 0; s->keys[n] != NGX_HTTP_OTP_K_END; n++) {
        kind = s->keys[n];

        id = (kind == NGX_HTTP_OTP_K_CHALLENGE) ? &ids->challenge
             : (kind == NGX_HTTP_OTP_K_SESSION) ? &ids->session
             : (kind == NGX_HTTP_OTP_K_NEW_SESSION) ? &ids->new_session
             : (kind == NGX_HTTP_OTP_K_ENROLL) ? &ids->enrollment
             : (kind == NGX_HTTP_OTP_K_LINK) ? &ids->link
             : (kind == NGX_HTTP_OTP_K_NUMBER) ? &ids->number
             : (kind == NGX_HTTP_OTP_K_LIVE)
               ? (ids->live.len ? &ids->live : &ids->challenge)
             : NULL;

        if ((kind == NGX_HTTP_OTP_K_ENROLL || kind == NGX_HTTP_OTP_K_LINK
             || kind == NGX_HTTP_OTP_K_NUMBER)
            && id->len == 0)
        {
            ngx_log_error(NGX_LOG_ALERT, pool->log, 0,
                          "otp: %V called without the id of its key",
                          &s->redis.name);
            return NGX_ERROR;
        }

        if (kind == NGX_HTTP_OTP_K_STORE) {
            rc = ngx_http_otp_store_tag_key(pool, prefix, "~", NULL,
                                            ngx_http_otp_key_kinds[kind],
                                            &argv[n]);

        } else if (kind == NGX_HTTP_OTP_K_NUMBER) {
            rc = ngx_http_otp_store_tag_key(pool, prefix, "#", id,
                                            ngx_http_otp_key_kinds[kind],
                                            &argv[n]);

        } else {
            rc = ngx_http_otp_store_key(pool, prefix, &ids->user,
                                        ngx_http_otp_key_kinds[kind], id,
                                        &argv[n]);
        }

        if (rc != NGX_OK) {
            return NGX_ERROR;
        }
    }

    *nkeys = n;

    return NGX_OK;
}


/* P{<tag><id>}:kind, a key of no user: the tag's first byte says whose */

static ngx_int_t
ngx_http_otp_store_tag_key(ngx_pool_t *pool, ngx_str_t *prefix,
    const char *tag, ngx_str_t *id, const char *kind, ngx_str_t *key)
{
    u_char  *p;
    size_t   len;

    len = prefix->len + sizeof("{}:") - 1 + ngx_strlen(tag)
          + (id ? id->len : 0) + ngx_strlen(kind);

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    key->data = p;
    key->len = len;

    p = ngx_cpymem(p, prefix->data, prefix->len);
    *p++ = '{';
    p = ngx_cpymem(p, tag, ngx_strlen(tag));

    if (id) {
        p = ngx_cpymem(p, id->data, id->len);
    }

    *p++ = '}';
    *p++ = ':';
    ngx_memcpy(p, kind, ngx_strlen(kind));

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_store_records(ngx_pool_t *pool, ngx_str_t *prefix,
    ngx_str_t *pattern)
{
    u_char      *p, c;
    ngx_uint_t   i;

    p = ngx_pnalloc(pool, 2 * prefix->len + sizeof("{*}:u") - 1);
    if (p == NULL) {
        return NGX_ERROR;
    }

    pattern->data = p;

    for (i = 0; i < prefix->len; i++) {
        c = prefix->data[i];

        if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') {
            *p++ = '\\';
        }

        *p++ = c;
    }

    p = ngx_cpymem(p, "{*}:u", sizeof("{*}:u") - 1);
    pattern->len = p - pattern->data;

    return NGX_OK;
}


/* a script run for the worker itself: its pool lives until the reply */

typedef struct {
    ngx_pool_t                        *pool;
    ngx_http_otp_script_t             *script;
    ngx_http_otp_store_bg_handler_pt   handler;
    void                              *data;
} ngx_http_otp_store_bg_t;


ngx_int_t
ngx_http_otp_store_run_bg(ngx_log_t *log, ngx_http_otp_main_conf_t *omcf,
    ngx_http_otp_script_e script, ngx_str_t *args, ngx_uint_t nargs,
    ngx_http_otp_store_bg_handler_pt handler, void *data)
{
    ngx_str_t                  argv[NGX_HTTP_OTP_STORE_MAX_KEYS
                                    + NGX_HTTP_OTP_STORE_MAX_ARGS];
    ngx_uint_t                 i, nkeys;
    ngx_pool_t                *pool;
    ngx_http_otp_script_t     *s;
    ngx_http_otp_store_bg_t   *bg;
    ngx_http_otp_store_ids_t   ids;

    s = &ngx_http_otp_scripts[script];

    if (nargs != s->nargs) {
        ngx_log_error(NGX_LOG_ALERT, log, 0, "otp: %V called wrongly",
                      &s->redis.name);
        return NGX_ERROR;
    }

    pool = ngx_create_pool(1024, log);
    if (pool == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(&ids, sizeof(ngx_http_otp_store_ids_t));

    bg = ngx_palloc(pool, sizeof(ngx_http_otp_store_bg_t));
    if (bg == NULL
        || ngx_http_otp_store_keys(pool, &omcf->redis.prefix, s, &ids, argv,
                                   &nkeys)
           != NGX_OK)
    {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    for (i = 0; i < nargs; i++) {
        argv[nkeys + i] = args[i];
    }

    bg->pool = pool;
    bg->script = s;
    bg->handler = handler;
    bg->data = data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0, "otp store: run %V",
                   &s->redis.name);

    if (ngx_http_otp_redis_script(log, script, ngx_http_otp_store_bg_reply,
                                  bg, nkeys, nkeys + nargs, argv)
        == NULL)
    {
        ngx_destroy_pool(pool);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_otp_store_bg_reply(void *data, redisReply *reply)
{
    ngx_http_otp_store_bg_t *bg = data;

    ngx_pool_t                  *pool;
    ngx_http_otp_store_reply_t  *sr;

    pool = bg->pool;

    sr = ngx_http_otp_store_parse(pool, pool->log, bg->script, reply);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, pool->log, 0,
                   "otp store: %V %s", &bg->script->redis.name,
                   sr ? "replied" : "failed");

    bg->handler(bg->data, sr);

    ngx_destroy_pool(pool);
}


static void
ngx_http_otp_store_reply(void *data, redisReply *reply)
{
    ngx_http_otp_ctx_t *ctx = data;

    ngx_connection_t            *c;
    ngx_http_request_t          *r;
    ngx_http_otp_script_t       *s;
    ngx_http_otp_store_reply_t  *sr;

    r = ctx->request;
    c = r->connection;
    s = &ngx_http_otp_scripts[ctx->script];

    ctx->call = NULL;

    sr = ngx_http_otp_store_parse(r->pool, c->log, s, reply);

    if (sr == NULL) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "otp store: %V failed", &s->redis.name);

    } else {
        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "otp store: %V replied \"%V\"", &s->redis.name,
                       &ngx_http_otp_statuses[sr->status]);
    }

    ctx->handler(r, sr);

    ngx_http_run_posted_requests(c);
}


/*
 * The reply of s into its struct: a status the script may give, then
 * the values of that status, each where the script's fields put it.
 * NULL for anything else: Redis failed, or the script and this file
 * disagree (an error of ours, logged).
 */

static ngx_http_otp_store_reply_t *
ngx_http_otp_store_parse(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_otp_script_t *s, redisReply *reply)
{
    size_t                       i;
    ngx_str_t                    status, value;
    ngx_int_t                    n;
    ngx_uint_t                   st;
    ngx_http_otp_field_t        *f;
    ngx_http_otp_store_reply_t  *sr;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1)
    {
        return NULL;
    }

    if (ngx_http_otp_store_value(pool, reply->element[0], &status)
        != NGX_OK
        || status.data == NULL)
    {
        goto bad;
    }

    for (st = 0; ngx_http_otp_statuses[st].len; st++) {
        if (status.len == ngx_http_otp_statuses[st].len
            && ngx_strncmp(status.data, ngx_http_otp_statuses[st].data,
                           status.len)
               == 0)
        {
            break;
        }
    }

    if (ngx_http_otp_statuses[st].len == 0 || !(s->statuses & (1 << st))) {
        goto bad;
    }

    sr = ngx_pcalloc(pool, s->size);
    if (sr == NULL) {
        return NULL;
    }

    sr->status = st;

    /* the values of this status, in order; fewer is allowed (nil) */

    i = 1;

    for (f = s->fields; f->type != NGX_HTTP_OTP_F_END; f++) {

        if (!(f->statuses & (1 << st))) {
            continue;
        }

        if (i >= reply->elements) {
            break;
        }

        if (f->type == NGX_HTTP_OTP_F_LIST) {
            if (ngx_http_otp_store_list(pool, reply->element[i++],
                                        (ngx_array_t **)
                                        ((u_char *) sr + f->offset))
                != NGX_OK)
            {
                goto bad;
            }

            continue;
        }

        if (ngx_http_otp_store_value(pool, reply->element[i++], &value)
            != NGX_OK)
        {
            goto bad;
        }

        if (f->type == NGX_HTTP_OTP_F_STR) {
            *(ngx_str_t *) ((u_char *) sr + f->offset) = value;
            continue;
        }

        n = (value.data == NULL) ? 0 : ngx_atoi(value.data, value.len);
        *(ngx_int_t *) ((u_char *) sr + f->offset) = (n == NGX_ERROR) ? 0 : n;
    }

    if (i < reply->elements) {
        goto bad;
    }

    return sr;

bad:

    ngx_log_error(NGX_LOG_ALERT, log, 0,
                  "otp: %V gave a reply of a shape not expected",
                  &s->redis.name);

    return NULL;
}


static ngx_int_t
ngx_http_otp_store_value(ngx_pool_t *pool, redisReply *element,
    ngx_str_t *value)
{
    u_char  *p;

    switch (element->type) {

    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
        value->len = element->len;
        value->data = ngx_pnalloc(pool, element->len + 1);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(value->data, element->str, element->len);
        value->data[value->len] = '\0';
        return NGX_OK;

    case REDIS_REPLY_INTEGER:
        value->data = ngx_pnalloc(pool, NGX_INT64_LEN + 1);
        if (value->data == NULL) {
            return NGX_ERROR;
        }

        p = ngx_sprintf(value->data, "%L", (int64_t) element->integer);
        *p = '\0';
        value->len = p - value->data;
        return NGX_OK;

    case REDIS_REPLY_NIL:
        /* Lua false arrives as nil */
        ngx_str_null(value);
        return NGX_OK;

    default:
        return NGX_ERROR;
    }
}


/* a nested array of values (no deeper nesting); nil: NULL */

static ngx_int_t
ngx_http_otp_store_list(ngx_pool_t *pool, redisReply *element,
    ngx_array_t **list)
{
    size_t       i;
    ngx_str_t   *v;

    *list = NULL;

    if (element->type == REDIS_REPLY_NIL) {
        return NGX_OK;
    }

    if (element->type != REDIS_REPLY_ARRAY) {
        return NGX_ERROR;
    }

    *list = ngx_array_create(pool, ngx_max(element->elements, 1),
                             sizeof(ngx_str_t));
    if (*list == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < element->elements; i++) {
        v = ngx_array_push(*list);
        if (v == NULL
            || ngx_http_otp_store_value(pool, element->element[i], v)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_store_open(ngx_http_request_t *r, ngx_str_t *user,
    ngx_str_t *sealed, size_t max, ngx_str_t *value)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_get_module_main_conf(r, ngx_http_otp_module);

    if (sealed->data == NULL
        || sealed->len <= NGX_HTTP_OTP_SEAL_OVERHEAD
        || sealed->len > NGX_HTTP_OTP_SEAL_OVERHEAD + max)
    {
        return NGX_DECLINED;
    }

    value->len = sealed->len - NGX_HTTP_OTP_SEAL_OVERHEAD;
    value->data = ngx_pnalloc(r->pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_http_otp_open(omcf->keys.seal, user->data, user->len,
                          sealed->data, sealed->len, value->data)
        != 0)
    {
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_otp_store_num(ngx_http_request_t *r, ngx_str_t *s, int64_t n)
{
    u_char  *p;

    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    s->data = p;
    s->len = ngx_sprintf(p, "%L", n) - p;

    return NGX_OK;
}
