
/*
 * One asynchronous connection to one Redis server or sentinel: hiredis on
 * nginx's event loop, its handshake, and its reconnect with backoff.  The
 * topologies (one server, Sentinel, Cluster) are built of these.
 */


#ifndef _NGX_HTTP_OTP_REDIS_NODE_H_INCLUDED_
#define _NGX_HTTP_OTP_REDIS_NODE_H_INCLUDED_


/* nginx's headers come first: they choose the feature macros */
#include "ngx_http_otp.h"

#include <hiredis/hiredis.h>
#include <hiredis/async.h>


#define NGX_HTTP_OTP_REDIS_MAX_ARGS    32


/* what a node's handshake does besides AUTH */
#define NGX_HTTP_OTP_REDIS_HS_SELECT   0x01    /* SELECT db */
#define NGX_HTTP_OTP_REDIS_HS_POLICY   0x02    /* maxmemory-policy */
#define NGX_HTTP_OTP_REDIS_HS_ROLE     0x04    /* must be a master */
#define NGX_HTTP_OTP_REDIS_HS_SCRIPTS  0x08    /* SCRIPT LOAD each */

#define NGX_HTTP_OTP_REDIS_HOST_LEN    (NGX_SOCKADDR_STRLEN + 1)


/* what the connection tells the layer that counts (the metrics) */
typedef enum {
    NGX_HTTP_OTP_REDIS_EV_ERROR = 0,      /* a call failed */
    NGX_HTTP_OTP_REDIS_EV_RECONNECT,      /* a connection came back */
    NGX_HTTP_OTP_REDIS_EV_FAILOVER,       /* another master: Sentinel said
                                             so, or the slot map changed */
    NGX_HTTP_OTP_REDIS_EV_MOVED,          /* a call redirected by MOVED */
    NGX_HTTP_OTP_REDIS_EV_ASK,            /* a call redirected by ASK */
    NGX_HTTP_OTP_REDIS_EV_READY           /* a node is ready, after every
                                             handshake */
} ngx_http_otp_redis_event_e;

typedef void (*ngx_http_otp_redis_event_pt)(ngx_http_otp_redis_event_e ev);


typedef struct {
    ngx_str_t                      name;      /* for logs */
    ngx_str_t                      source;    /* Lua */
    u_char                         sha1[40];  /* hex, set at init */
    ngx_uint_t                     security;  /* decides security: with
                                                 replicas=, WAIT after */
} ngx_http_otp_redis_script_t;


typedef enum {
    NGX_HTTP_OTP_REDIS_IDLE = 0,
    NGX_HTTP_OTP_REDIS_CONNECTING,
    NGX_HTTP_OTP_REDIS_READY
} ngx_http_otp_redis_state_e;


/* what every node of a worker shares */
typedef struct {
    ngx_http_otp_redis_conf_t      *conf;
    ngx_http_otp_redis_script_t    *scripts;
    ngx_uint_t                      nscripts;
    ngx_log_t                      *log;
    ngx_uint_t                      exiting;
} ngx_http_otp_redis_env_t;


typedef struct ngx_http_otp_redis_node_s  ngx_http_otp_redis_node_t;

typedef void (*ngx_http_otp_redis_node_pt)(ngx_http_otp_redis_node_t *node);


struct ngx_http_otp_redis_node_s {
    redisAsyncContext              *ac;
    ngx_connection_t               *conn;
    ngx_http_otp_redis_state_e      state;

    /* where: a TCP host (NUL-terminated) and port, or conf's unix path */
    u_char                          host[NGX_HTTP_OTP_REDIS_HOST_LEN];
    in_port_t                       port;
    ngx_uint_t                      unix_socket;

    ngx_uint_t                      handshake;     /* HS_* */
    ngx_str_t                      *password;      /* NULL: no AUTH */
    ngx_uint_t                      handshake_pending;
    ngx_uint_t                      handshake_failed;

    ngx_event_t                     connect_timer;
    ngx_event_t                     reconnect_timer;
    ngx_msec_t                      backoff;
    ngx_uint_t                      reconnect;     /* by itself */
    ngx_uint_t                      lost;          /* since last ready */

    ngx_uint_t                      write_wanted;
    ngx_uint_t                      writing;

    /* told when the node became ready, and when it failed or was lost */
    ngx_http_otp_redis_node_pt      on_ready;
    ngx_http_otp_redis_node_pt      on_lost;
    void                           *data;

    ngx_http_otp_redis_env_t       *env;
};


void ngx_http_otp_redis_node_init(ngx_http_otp_redis_node_t *node,
    ngx_http_otp_redis_env_t *env);
void ngx_http_otp_redis_node_set_addr(ngx_http_otp_redis_node_t *node,
    ngx_str_t *host, in_port_t port);
void ngx_http_otp_redis_node_connect(ngx_http_otp_redis_node_t *node);

/* fails every pending command; on_lost is told, reconnect if asked */
void ngx_http_otp_redis_node_drop(ngx_http_otp_redis_node_t *node);

/* as drop, but nobody is told and nothing reconnects */
void ngx_http_otp_redis_node_close(ngx_http_otp_redis_node_t *node);

ngx_int_t ngx_http_otp_redis_node_command(ngx_http_otp_redis_node_t *node,
    redisCallbackFn *fn, void *privdata, ngx_uint_t argc, ngx_str_t *argv);

#define ngx_http_otp_redis_node_ready(node)                                   \
    ((node)->state == NGX_HTTP_OTP_REDIS_READY)

/* tells the layer above (the metrics) of an event */
void ngx_http_otp_redis_tell(ngx_http_otp_redis_event_e event);

/* a node with the store's scripts became ready: told if it had failed */
void ngx_http_otp_redis_node_back(ngx_http_otp_redis_node_t *node);

/* error lines about Redis, at most a few a second */
ngx_uint_t ngx_http_otp_redis_log_allowed(void);

#define ngx_http_otp_redis_error(log, err, ...)                              \
    if (ngx_http_otp_redis_log_allowed()) {                                  \
        ngx_log_error(NGX_LOG_ERR, log, err, __VA_ARGS__);                    \
    }

void ngx_http_otp_redis_timer_init(ngx_event_t *ev,
    ngx_event_handler_pt handler, ngx_log_t *log);

/* what timers of this layer point at: the debug log reads its fd */
extern ngx_connection_t  ngx_http_otp_redis_dummy;


#endif /* _NGX_HTTP_OTP_REDIS_NODE_H_INCLUDED_ */
