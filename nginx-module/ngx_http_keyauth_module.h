
/*
 * keyauth for NGINX: what the module's files share. Private to the module.
 *
 *   ngx_http_keyauth_module.c      directives, configuration, the phase
 *                                  handlers and $keyauth_client_id
 *   ngx_http_keyauth_refusal.c     refusals: 401/403, the log line, and the
 *                                  filters that give nginx's page a JSON body
 *   ngx_http_keyauth_streams.c     open requests, cut when their credential
 *                                  is revoked
 *   ngx_http_keyauth_conf_check.c  checks at configuration time (nginx -t)
 *   ngx_http_keyauth_status.c      "keyauth_status": the counters, summed
 *                                  over the workers, for Prometheus
 *   ngx_http_keyauth_last_use.c    "keyauth_last_use": when each client
 *                                  last authenticated, for keytool
 */


#ifndef _NGX_HTTP_KEYAUTH_MODULE_H_INCLUDED_
#define _NGX_HTTP_KEYAUTH_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <keyauth/keyauth.h>


typedef struct {
    ngx_str_t                      path;    /* NUL-terminated */
    keyauth_registry_t            *handle;  /* per process, opened after fork */
    keyauth_sweep_t                sweep;   /* the core's rule, per process */
    uint64_t                       generation;  /* read by this sweep */
    unsigned                       due:1;       /* in this sweep */
    time_t                         failed_at;   /* open or read last failed */
} ngx_http_keyauth_registry_t;


/* one worker's counters, in the status zone (ngx_http_keyauth_status.c) */
typedef struct {
    uint64_t                       requests[2][KEYAUTH_VERDICTS];  /* about */
    uint64_t                       cut[KEYAUTH_VERDICTS];
    uint64_t                       cache[KEYAUTH_CACHE_USES];
} ngx_http_keyauth_counters_t;


typedef struct ngx_http_keyauth_status_s  ngx_http_keyauth_status_t;


typedef struct {
    ngx_array_t                    registries;  /* of registry pointers */
    ngx_http_keyauth_status_t     *status;      /* "keyauth_status": its zone */
    ngx_flag_t                     tokens;
    ngx_flag_t                     certificates;
    /* a location that checks has "satisfy any" */
    ngx_flag_t                     satisfy_any;
    time_t                         registry_error_grace;
    ngx_str_t                      last_use;  /* "keyauth_last_use" FILE */
    time_t                         last_use_interval;
} ngx_http_keyauth_main_conf_t;


typedef struct {
    ngx_http_keyauth_registry_t   *registry;
} ngx_http_keyauth_srv_conf_t;


typedef struct {
    ngx_flag_t                     token;
    ngx_flag_t                     client_cert;
    /* this worker said that a subrequest reached it unchecked */
    unsigned                       subrequest_warned:1;
} ngx_http_keyauth_loc_conf_t;


/* an admitted request, kept for the revocation sweep (_streams.c) */
typedef struct {
    ngx_pool_cleanup_t             cleanup;     /* unlinks it */
    ngx_queue_t                    queue;
    ngx_http_request_t            *request;
    ngx_http_keyauth_registry_t   *registry;
    keyauth_result_t               grant;       /* what admitted it */
} ngx_http_keyauth_stream_t;


typedef struct {
    ngx_uint_t                     status;   /* of our refusal, or 0 */
    ngx_str_t                     *body;     /* JSON body of the refusal */
    unsigned                       replace:1;
    /* judged before the access phase, for $keyauth_client_id (limit_req) */
    unsigned                       judged:1;
    uint64_t                       generation;  /* the registry's, then */
    /* the location's checks it was judged under: it holds for those only */
    ngx_http_keyauth_loc_conf_t   *judged_under;
    keyauth_result_t              *verdict;     /* only then allocated */
    /* stream is linked into the worker's list of open requests */
    unsigned                       tracked:1;
    /* the admitted client: in the tracked grant (or in verdict) */
    size_t                         client_id_len;
    u_char                        *client_id;
    /* last, not zeroed: the access phase's verdict is written in its grant */
    ngx_http_keyauth_stream_t      stream;
} ngx_http_keyauth_ctx_t;


/* ngx_http_keyauth_module.c */
keyauth_registry_t *ngx_http_keyauth_open(ngx_log_t *log,
    ngx_http_keyauth_registry_t *registry);

/* ngx_http_keyauth_refusal.c */
ngx_int_t ngx_http_keyauth_refuse_token(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result);
ngx_int_t ngx_http_keyauth_refuse_certificate(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result);
ngx_int_t ngx_http_keyauth_refusal_init(ngx_conf_t *cf);
void ngx_http_keyauth_refusals_exit(void);

/* ngx_http_keyauth_streams.c */
keyauth_result_t *ngx_http_keyauth_track(ngx_http_request_t *r,
    ngx_http_keyauth_registry_t *registry, ngx_http_keyauth_ctx_t *ctx,
    keyauth_result_t *grant);
void ngx_http_keyauth_streams_init(ngx_cycle_t *cycle);
typedef void (*ngx_http_keyauth_stream_visit_pt)(keyauth_result_t *grant,
    void *data);
ngx_uint_t ngx_http_keyauth_streams_each(
    ngx_http_keyauth_stream_visit_pt visit, void *data);

/* ngx_http_keyauth_status.c */
char *ngx_http_keyauth_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
void ngx_http_keyauth_status_init_process(ngx_cycle_t *cycle);

/* ngx_http_keyauth_last_use.c */
char *ngx_http_keyauth_set_last_use(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_keyauth_last_use_init_process(ngx_cycle_t *cycle,
    ngx_http_keyauth_main_conf_t *kmcf);
void ngx_http_keyauth_last_use_mark(keyauth_result_t *result);
void ngx_http_keyauth_last_use_exit(ngx_cycle_t *cycle);

/* ngx_http_keyauth_conf_check.c */
ngx_int_t ngx_http_keyauth_check_registry(ngx_conf_t *cf, ngx_str_t *path);
ngx_int_t ngx_http_keyauth_check_location(ngx_conf_t *cf,
    ngx_http_keyauth_loc_conf_t *conf);
ngx_int_t ngx_http_keyauth_check_workers_access(ngx_conf_t *cf,
    ngx_http_keyauth_registry_t *registry);


extern ngx_module_t  ngx_http_keyauth_module;
extern ngx_http_keyauth_counters_t  *ngx_http_keyauth_counters;
extern keyauth_last_use_t           *ngx_http_keyauth_last_use;


/*
 * Counted in this worker's own slot: one plain increment, no lock. Nothing
 * is counted without "keyauth_status" (no zone, no slot).
 */

static ngx_inline void
ngx_http_keyauth_count(keyauth_credential_t about, keyauth_verdict_t verdict)
{
    if (ngx_http_keyauth_counters && (ngx_uint_t) verdict < KEYAUTH_VERDICTS) {
        ngx_http_keyauth_counters->requests[about == KEYAUTH_CERTIFICATE]
                                           [verdict]++;
    }
}


/* whether the token's verdict came from the worker's verification cache */

static ngx_inline void
ngx_http_keyauth_count_cache(keyauth_cache_use_t use)
{
    if (ngx_http_keyauth_counters && (ngx_uint_t) use < KEYAUTH_CACHE_USES) {
        ngx_http_keyauth_counters->cache[use]++;
    }
}


static ngx_inline void
ngx_http_keyauth_count_cut(keyauth_verdict_t verdict)
{
    if (ngx_http_keyauth_counters && (ngx_uint_t) verdict < KEYAUTH_VERDICTS) {
        ngx_http_keyauth_counters->cut[verdict]++;
    }
}


#endif /* _NGX_HTTP_KEYAUTH_MODULE_H_INCLUDED_ */
