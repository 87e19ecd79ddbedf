
/*
 * Metrics: counters shared by every worker in a shared memory zone, and
 * the otp_status location that shows them in Prometheus text format.
 */


#ifndef _NGX_HTTP_OTP_METRICS_H_INCLUDED_
#define _NGX_HTTP_OTP_METRICS_H_INCLUDED_


#include "ngx_http_otp.h"


typedef enum {
    NGX_HTTP_OTP_M_CHALLENGES = 0,
    NGX_HTTP_OTP_M_TOTP_OK,
    NGX_HTTP_OTP_M_TOTP_WRONG,
    NGX_HTTP_OTP_M_TOTP_BURNT,
    NGX_HTTP_OTP_M_TOTP_LOCKED,
    NGX_HTTP_OTP_M_TOTP_EXPIRED,
    NGX_HTTP_OTP_M_ENROLLMENTS,
    NGX_HTTP_OTP_M_LOCKOUTS,
    NGX_HTTP_OTP_M_REDIS_ERRORS,
    NGX_HTTP_OTP_M_REDIS_RECONNECTS,
    NGX_HTTP_OTP_M_SESSIONS_CACHE,
    NGX_HTTP_OTP_M_SESSIONS_REDIS,
    NGX_HTTP_OTP_M_GATE_PASSED,
    NGX_HTTP_OTP_M_GATE_CHALLENGED,
    NGX_HTTP_OTP_M_GATE_BYPASSED,
    NGX_HTTP_OTP_M_GATE_DENIED,
    NGX_HTTP_OTP_M_GATE_LOCKED,
    NGX_HTTP_OTP_M_GATE_ERROR,
    NGX_HTTP_OTP_M_SMS_SENT,
    NGX_HTTP_OTP_M_SMS_FAILED,

    /* as TOTP_OK .. TOTP_EXPIRED, in the same order */
    NGX_HTTP_OTP_M_HOTP_OK,
    NGX_HTTP_OTP_M_HOTP_WRONG,
    NGX_HTTP_OTP_M_HOTP_BURNT,
    NGX_HTTP_OTP_M_HOTP_LOCKED,
    NGX_HTTP_OTP_M_HOTP_EXPIRED,
    NGX_HTTP_OTP_M_RECOVERY_OK,
    NGX_HTTP_OTP_M_RECOVERY_WRONG,
    NGX_HTTP_OTP_M_RECOVERY_BURNT,
    NGX_HTTP_OTP_M_RECOVERY_LOCKED,
    NGX_HTTP_OTP_M_RECOVERY_EXPIRED,
    NGX_HTTP_OTP_M_SMS_OK,
    NGX_HTTP_OTP_M_SMS_WRONG,
    NGX_HTTP_OTP_M_SMS_BURNT,
    NGX_HTTP_OTP_M_SMS_LOCKED,
    NGX_HTTP_OTP_M_SMS_EXPIRED,

    /* cross-device approval */
    NGX_HTTP_OTP_M_LINK_CREATED,
    NGX_HTTP_OTP_M_LINK_APPROVED,
    NGX_HTTP_OTP_M_LINK_DENIED,
    NGX_HTTP_OTP_M_LINK_EXPIRED,
    NGX_HTTP_OTP_M_STORE_LOST,            /* a gauge: 1 or 0 */
    /* Sentinel and Cluster */
    NGX_HTTP_OTP_M_REDIS_FAILOVERS,
    NGX_HTTP_OTP_M_REDIS_MOVED,
    NGX_HTTP_OTP_M_REDIS_ASK,

    NGX_HTTP_OTP_M_N
} ngx_http_otp_metric_e;


/* the zone, at configuration time; once per configuration */
ngx_int_t ngx_http_otp_metrics_add_zone(ngx_conf_t *cf);

/* the counters of this worker's configuration, or none */
void ngx_http_otp_metrics_init_process(ngx_cycle_t *cycle);

/* one more; a no-op while the zone is not there (nginx -t, the master) */
void ngx_http_otp_metric_inc(ngx_http_otp_metric_e metric);

/* a gauge's value */
void ngx_http_otp_metric_set(ngx_http_otp_metric_e metric,
    ngx_atomic_uint_t value);

/* the gate's verdict for r ($otp_status), counted once */
void ngx_http_otp_metric_gate(ngx_http_request_t *r);

/* a lockout, when a locked reply says that this attempt locked the user */
void ngx_http_otp_metric_lockout(ngx_int_t first);

/* "otp_status;" */
char *ngx_http_otp_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);


#endif /* _NGX_HTTP_OTP_METRICS_H_INCLUDED_ */
