
/*
 * Metrics: one array of counters in a shared memory zone, so that every
 * worker counts into the same numbers; increments are atomic, so the
 * numbers are exact however many workers race.  The zone lives as long
 * as the configurations that use the module: a reload keeps the counts.
 *
 * The otp_status location prints them in the Prometheus text format.
 */


#include "ngx_http_otp_metrics.h"
#include "ngx_http_otp_page.h"
#include "ngx_http_otp_version.h"


#define NGX_HTTP_OTP_METRICS_PAGES   8

/* the version as a label of a constant gauge, as exporters show theirs */
#define NGX_HTTP_OTP_BUILD_INFO                                              \
    "# HELP otp_build_info The module's version.\n"                          \
    "# TYPE otp_build_info gauge\n"                                          \
    "otp_build_info{version=\"" NGX_HTTP_OTP_VERSION "\"} 1\n"


typedef struct {
    ngx_uint_t                  n;             /* NGX_HTTP_OTP_M_N */
    ngx_atomic_t                counter[NGX_HTTP_OTP_M_N];
} ngx_http_otp_metrics_shm_t;


/* one line of the output; a family's HELP and TYPE come before its first */
typedef struct {
    ngx_str_t                   family;
    ngx_str_t                   help;
    ngx_str_t                   labels;
    ngx_http_otp_metric_e       metric;
} ngx_http_otp_sample_t;


static ngx_int_t ngx_http_otp_metrics_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_otp_status_handler(ngx_http_request_t *r);
static ngx_uint_t ngx_http_otp_gauge(ngx_http_otp_sample_t *s);
static ngx_uint_t ngx_http_otp_new_family(ngx_http_otp_sample_t *prev,
    ngx_http_otp_sample_t *s);


#define ngx_http_otp_sample(family, help, labels, metric)                    \
    { ngx_string(family), ngx_string(help), ngx_string(labels), metric }

static ngx_http_otp_sample_t  ngx_http_otp_samples[] = {

    ngx_http_otp_sample("otp_challenges_shown_total",
        "Challenges created and shown to a user.",
        "", NGX_HTTP_OTP_M_CHALLENGES),

    ngx_http_otp_sample("otp_verifications_total",
        "Codes submitted for verification, by method and result.",
        "{method=\"totp\",result=\"ok\"}", NGX_HTTP_OTP_M_TOTP_OK),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"totp\",result=\"wrong\"}", NGX_HTTP_OTP_M_TOTP_WRONG),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"totp\",result=\"burnt\"}", NGX_HTTP_OTP_M_TOTP_BURNT),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"totp\",result=\"locked\"}", NGX_HTTP_OTP_M_TOTP_LOCKED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"totp\",result=\"expired\"}", NGX_HTTP_OTP_M_TOTP_EXPIRED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"hotp\",result=\"ok\"}", NGX_HTTP_OTP_M_HOTP_OK),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"hotp\",result=\"wrong\"}", NGX_HTTP_OTP_M_HOTP_WRONG),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"hotp\",result=\"burnt\"}", NGX_HTTP_OTP_M_HOTP_BURNT),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"hotp\",result=\"locked\"}", NGX_HTTP_OTP_M_HOTP_LOCKED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"hotp\",result=\"expired\"}", NGX_HTTP_OTP_M_HOTP_EXPIRED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"recovery\",result=\"ok\"}", NGX_HTTP_OTP_M_RECOVERY_OK),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"recovery\",result=\"wrong\"}",
        NGX_HTTP_OTP_M_RECOVERY_WRONG),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"recovery\",result=\"burnt\"}",
        NGX_HTTP_OTP_M_RECOVERY_BURNT),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"recovery\",result=\"locked\"}",
        NGX_HTTP_OTP_M_RECOVERY_LOCKED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"recovery\",result=\"expired\"}",
        NGX_HTTP_OTP_M_RECOVERY_EXPIRED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"sms\",result=\"ok\"}", NGX_HTTP_OTP_M_SMS_OK),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"sms\",result=\"wrong\"}", NGX_HTTP_OTP_M_SMS_WRONG),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"sms\",result=\"burnt\"}", NGX_HTTP_OTP_M_SMS_BURNT),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"sms\",result=\"locked\"}", NGX_HTTP_OTP_M_SMS_LOCKED),
    ngx_http_otp_sample("otp_verifications_total", "",
        "{method=\"sms\",result=\"expired\"}", NGX_HTTP_OTP_M_SMS_EXPIRED),

    ngx_http_otp_sample("otp_enrollments_total",
        "Authenticators enrolled (first code confirmed).",
        "", NGX_HTTP_OTP_M_ENROLLMENTS),

    ngx_http_otp_sample("otp_lockouts_total",
        "Users locked after too many consecutive failures.",
        "", NGX_HTTP_OTP_M_LOCKOUTS),

    ngx_http_otp_sample("otp_redis_errors_total",
        "Redis commands that failed: not connected, error reply, timeout "
        "or connection lost.",
        "", NGX_HTTP_OTP_M_REDIS_ERRORS),

    ngx_http_otp_sample("otp_redis_reconnects_total",
        "Connections to Redis restored after a failure.",
        "", NGX_HTTP_OTP_M_REDIS_RECONNECTS),

    ngx_http_otp_sample("otp_redis_failovers_total",
        "Masters changed under a worker: another master named by Sentinel, "
        "or a new Redis Cluster slot map.",
        "", NGX_HTTP_OTP_M_REDIS_FAILOVERS),

    ngx_http_otp_sample("otp_redis_redirections_total",
        "Calls that Redis Cluster sent to another node, by reply.",
        "{reply=\"moved\"}", NGX_HTTP_OTP_M_REDIS_MOVED),
    ngx_http_otp_sample("otp_redis_redirections_total", "",
        "{reply=\"ask\"}", NGX_HTTP_OTP_M_REDIS_ASK),

    ngx_http_otp_sample("otp_sessions_checked_total",
        "Session cookies checked by the gate, by where the answer came "
        "from.",
        "{source=\"cache\"}", NGX_HTTP_OTP_M_SESSIONS_CACHE),
    ngx_http_otp_sample("otp_sessions_checked_total", "",
        "{source=\"redis\"}", NGX_HTTP_OTP_M_SESSIONS_REDIS),

    ngx_http_otp_sample("otp_gate_total",
        "Requests decided by the gate, by verdict ($otp_status).",
        "{status=\"passed\"}", NGX_HTTP_OTP_M_GATE_PASSED),
    ngx_http_otp_sample("otp_gate_total", "",
        "{status=\"challenged\"}", NGX_HTTP_OTP_M_GATE_CHALLENGED),
    ngx_http_otp_sample("otp_gate_total", "",
        "{status=\"bypassed\"}", NGX_HTTP_OTP_M_GATE_BYPASSED),
    ngx_http_otp_sample("otp_gate_total", "",
        "{status=\"denied\"}", NGX_HTTP_OTP_M_GATE_DENIED),
    ngx_http_otp_sample("otp_gate_total", "",
        "{status=\"locked\"}", NGX_HTTP_OTP_M_GATE_LOCKED),
    ngx_http_otp_sample("otp_gate_total", "",
        "{status=\"error\"}", NGX_HTTP_OTP_M_GATE_ERROR),

    ngx_http_otp_sample("otp_sms_sent_total",
        "SMS codes the provider accepted.",
        "", NGX_HTTP_OTP_M_SMS_SENT),

    ngx_http_otp_sample("otp_sms_failed_total",
        "SMS codes the provider did not accept.",
        "", NGX_HTTP_OTP_M_SMS_FAILED),

    ngx_http_otp_sample("otp_link_requests_total",
        "Cross-device requests, by what became of them.",
        "{result=\"created\"}", NGX_HTTP_OTP_M_LINK_CREATED),
    ngx_http_otp_sample("otp_link_requests_total", "",
        "{result=\"approved\"}", NGX_HTTP_OTP_M_LINK_APPROVED),
    ngx_http_otp_sample("otp_link_requests_total", "",
        "{result=\"denied\"}", NGX_HTTP_OTP_M_LINK_DENIED),
    ngx_http_otp_sample("otp_link_requests_total", "",
        "{result=\"expired\"}", NGX_HTTP_OTP_M_LINK_EXPIRED),

    /* a family without "_total" is a gauge */
    ngx_http_otp_sample("otp_store_lost",
        "1 while enrollment is refused because the Redis store was lost "
        "(POST store/accept-reset on otp_admin).",
        "", NGX_HTTP_OTP_M_STORE_LOST)
};


/* in the order of ngx_http_otp_status_e; NONE: the gate failed itself */

static ngx_http_otp_metric_e  ngx_http_otp_gate_metrics[] = {
    NGX_HTTP_OTP_M_GATE_ERROR,
    NGX_HTTP_OTP_M_GATE_PASSED,
    NGX_HTTP_OTP_M_GATE_CHALLENGED,
    NGX_HTTP_OTP_M_GATE_BYPASSED,
    NGX_HTTP_OTP_M_GATE_DENIED,
    NGX_HTTP_OTP_M_GATE_LOCKED,
    NGX_HTTP_OTP_M_GATE_ERROR
};


static ngx_http_otp_metrics_shm_t  *ngx_http_otp_metrics;


ngx_int_t
ngx_http_otp_metrics_add_zone(ngx_conf_t *cf)
{
    ngx_shm_zone_t            *zone;
    ngx_http_otp_main_conf_t  *omcf;

    static ngx_str_t  name = ngx_string("ngx_http_otp_metrics");

    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (omcf->metrics_zone) {
        return NGX_OK;
    }

    zone = ngx_shared_memory_add(cf, &name,
                                 NGX_HTTP_OTP_METRICS_PAGES * ngx_pagesize,
                                 &ngx_http_otp_module);
    if (zone == NULL) {
        return NGX_ERROR;
    }

    zone->init = ngx_http_otp_metrics_init_zone;

    omcf->metrics_zone = zone;

    return NGX_OK;
}


static ngx_int_t
ngx_http_otp_metrics_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_otp_metrics_shm_t *old = data;

    ngx_slab_pool_t             *shpool;
    ngx_http_otp_metrics_shm_t  *m;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    if (old == NULL && shm_zone->shm.exists) {
        old = shpool->data;
    }

    /* a reload: the counts go on, unless the set of counters changed */

    if (old && old->n == NGX_HTTP_OTP_M_N) {
        shm_zone->data = old;
        return NGX_OK;
    }

    m = ngx_slab_calloc(shpool, sizeof(ngx_http_otp_metrics_shm_t));
    if (m == NULL) {
        return NGX_ERROR;
    }

    m->n = NGX_HTTP_OTP_M_N;

    shpool->data = m;
    shm_zone->data = m;

    return NGX_OK;
}


void
ngx_http_otp_metrics_init_process(ngx_cycle_t *cycle)
{
    ngx_http_otp_main_conf_t  *omcf;

    omcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_otp_module);

    if (omcf == NULL || omcf->metrics_zone == NULL) {
        ngx_http_otp_metrics = NULL;
        return;
    }

    ngx_http_otp_metrics = omcf->metrics_zone->data;
}


void
ngx_http_otp_metric_inc(ngx_http_otp_metric_e metric)
{
    if (ngx_http_otp_metrics == NULL || metric >= NGX_HTTP_OTP_M_N) {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_otp_metrics->counter[metric], 1);
}


void
ngx_http_otp_metric_set(ngx_http_otp_metric_e metric,
    ngx_atomic_uint_t value)
{
    if (ngx_http_otp_metrics == NULL || metric >= NGX_HTTP_OTP_M_N) {
        return;
    }

    ngx_http_otp_metrics->counter[metric] = value;
}


void
ngx_http_otp_metric_gate(ngx_http_request_t *r)
{
    ngx_http_otp_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_otp_module);

    if (ctx == NULL
        || (ngx_uint_t) ctx->status >= sizeof(ngx_http_otp_gate_metrics)
                                       / sizeof(ngx_http_otp_metric_e))
    {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_GATE_ERROR);
        return;
    }

    ngx_http_otp_metric_inc(ngx_http_otp_gate_metrics[ctx->status]);
}


void
ngx_http_otp_metric_lockout(ngx_int_t first)
{
    if (first == 1) {
        ngx_http_otp_metric_inc(NGX_HTTP_OTP_M_LOCKOUTS);
    }
}


char *
ngx_http_otp_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_otp_main_conf_t  *omcf;
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    omcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_otp_module);

    if (clcf->handler) {
        return "is duplicate, or the location has another content handler";
    }

    clcf->handler = ngx_http_otp_status_handler;
    omcf->status_used = 1;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_otp_status_handler(ngx_http_request_t *r)
{
    size_t                  len;
    ngx_int_t               rc;
    ngx_buf_t              *b;
    ngx_str_t               v;
    ngx_uint_t              i, n;
    ngx_chain_t             out;
    ngx_atomic_uint_t       value;
    ngx_http_otp_sample_t  *s, *prev;

    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    n = sizeof(ngx_http_otp_samples) / sizeof(ngx_http_otp_sample_t);
    len = sizeof(NGX_HTTP_OTP_BUILD_INFO) - 1;
    prev = NULL;

    for (i = 0; i < n; i++) {
        s = &ngx_http_otp_samples[i];

        if (ngx_http_otp_new_family(prev, s)) {
            len += sizeof("# HELP  \n# TYPE  counter\n") - 1
                   + 2 * s->family.len + s->help.len;
        }

        len += s->family.len + s->labels.len + 1 + NGX_ATOMIC_T_LEN + 1;
        prev = s;
    }

    b = ngx_create_temp_buf(r->pool, len);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, NGX_HTTP_OTP_BUILD_INFO,
                         sizeof(NGX_HTTP_OTP_BUILD_INFO) - 1);

    prev = NULL;

    for (i = 0; i < n; i++) {
        s = &ngx_http_otp_samples[i];

        if (ngx_http_otp_new_family(prev, s)) {
            b->last = ngx_sprintf(b->last,
                                  "# HELP %V %V\n# TYPE %V %s\n",
                                  &s->family, &s->help, &s->family,
                                  ngx_http_otp_gauge(s) ? "gauge"
                                                        : "counter");
        }

        value = ngx_http_otp_metrics
                ? ngx_http_otp_metrics->counter[s->metric] : 0;

        b->last = ngx_sprintf(b->last, "%V%V %uA\n", &s->family, &s->labels,
                              value);
        prev = s;
    }

    ngx_str_set(&v, "no-store");

    if (ngx_http_otp_add_header(r, "Cache-Control", &v) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;
    ngx_str_set(&r->headers_out.content_type,
                "text/plain; version=0.0.4; charset=utf-8");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_uint_t
ngx_http_otp_gauge(ngx_http_otp_sample_t *s)
{
    return s->family.len < sizeof("_total") - 1
           || ngx_strncmp(s->family.data + s->family.len
                          - (sizeof("_total") - 1), "_total",
                          sizeof("_total") - 1)
              != 0;
}


static ngx_uint_t
ngx_http_otp_new_family(ngx_http_otp_sample_t *prev,
    ngx_http_otp_sample_t *s)
{
    return prev == NULL
           || prev->family.len != s->family.len
           || ngx_strncmp(prev->family.data, s->family.data, s->family.len)
              != 0;
}
