
/*
 * keyauth for NGINX: Bearer tokens and registered client certificates,
 * checked in the access phase against the keyauth registry.
 *
 * Every rule about tokens and certificates lives in the core (keyauth.h);
 * the module only adapts it to nginx. This file holds the directives, the
 * configuration, the access handler and $keyauth_client_id; the other
 * concerns have a file each (ngx_http_keyauth_module.h lists them).
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_keyauth_module.h"


static ngx_int_t ngx_http_keyauth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_keyauth_subrequest_handler(ngx_http_request_t *r);
static ngx_inline ngx_int_t ngx_http_keyauth_judge(ngx_http_request_t *r,
    keyauth_result_t *result, uint64_t *generation);
static ngx_int_t ngx_http_keyauth_client_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);

static ngx_int_t ngx_http_keyauth_add_variables(ngx_conf_t *cf);
static void *ngx_http_keyauth_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_keyauth_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_keyauth_create_srv_conf(ngx_conf_t *cf);
static char *ngx_http_keyauth_merge_srv_conf(ngx_conf_t *cf, void *parent,
    void *child);
static void *ngx_http_keyauth_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_keyauth_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static ngx_int_t ngx_http_keyauth_init(ngx_conf_t *cf);
static char *ngx_http_keyauth_set_registry(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

static ngx_int_t ngx_http_keyauth_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_keyauth_init_process(ngx_cycle_t *cycle);
static void ngx_http_keyauth_exit_process(ngx_cycle_t *cycle);


static ngx_command_t  ngx_http_keyauth_commands[] = {

    { ngx_string("keyauth_registry"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_CONF_TAKE1,
      ngx_http_keyauth_set_registry,
      NGX_HTTP_SRV_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("keyauth"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_keyauth_loc_conf_t, token),
      NULL },

    { ngx_string("keyauth_client_cert"),
      NGX_HTTP_MAIN_CONF|NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      NGX_HTTP_LOC_CONF_OFFSET,
      offsetof(ngx_http_keyauth_loc_conf_t, client_cert),
      NULL },

    { ngx_string("keyauth_registry_error_grace"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_keyauth_main_conf_t, registry_error_grace),
      NULL },

    { ngx_string("keyauth_last_use"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_keyauth_set_last_use,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("keyauth_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_keyauth_status,
      0,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_keyauth_module_ctx = {
    ngx_http_keyauth_add_variables,        /* preconfiguration */
    ngx_http_keyauth_init,                 /* postconfiguration */

    ngx_http_keyauth_create_main_conf,     /* create main configuration */
    ngx_http_keyauth_init_main_conf,       /* init main configuration */

    ngx_http_keyauth_create_srv_conf,      /* create server configuration */
    ngx_http_keyauth_merge_srv_conf,       /* merge server configuration */

    ngx_http_keyauth_create_loc_conf,      /* create location configuration */
    ngx_http_keyauth_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_keyauth_module = {
    NGX_MODULE_V1,
    &ngx_http_keyauth_module_ctx,          /* module context */
    ngx_http_keyauth_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    ngx_http_keyauth_init_module,          /* init module */
    ngx_http_keyauth_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_keyauth_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_str_t  ngx_http_keyauth_client_id_name =
    ngx_string("keyauth_client_id");


/* what the request presented, judged by the core */

static ngx_inline ngx_int_t
ngx_http_keyauth_judge(ngx_http_request_t *r, keyauth_result_t *result,
    uint64_t *generation)
{
    keyauth_request_t             request;
    ngx_http_keyauth_srv_conf_t  *kscf;
    ngx_http_keyauth_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);
    kscf = ngx_http_get_module_srv_conf(r, ngx_http_keyauth_module);

    if (kscf->registry->handle == NULL
        && ngx_http_keyauth_open(r->connection->log, kscf->registry) == NULL)
    {
        return NGX_ERROR;
    }

    /* read before the lookups: a commit landing meanwhile moves it again */

    if (generation) {
        *generation = keyauth_registry_generation(kscf->registry->handle);
    }

    ngx_memzero(&request, sizeof(keyauth_request_t));

    request.token = klcf->token ? KEYAUTH_CHECK_REQUIRED : KEYAUTH_CHECK_OFF;
    request.client_certificate = klcf->client_cert ? KEYAUTH_CHECK_REQUIRED
                                                   : KEYAUTH_CHECK_OFF;

    if (r->headers_in.authorization) {
        request.authorization =
                          (const char *) r->headers_in.authorization->value.data;
        request.authorization_len = r->headers_in.authorization->value.len;
    }

#if (NGX_HTTP_SSL)

    if (klcf->client_cert && r->connection->ssl) {
        request.certificate =
                   SSL_get_peer_certificate(r->connection->ssl->connection);
        request.certificate_verified =
          SSL_get_verify_result(r->connection->ssl->connection) == X509_V_OK;
    }

#endif

    keyauth_authenticate(kscf->registry->handle, &request, result);

#if (NGX_HTTP_SSL)

    if (request.certificate) {
        X509_free(request.certificate);
    }

#endif

    return NGX_OK;
}


static ngx_int_t
ngx_http_keyauth_handler(ngx_http_request_t *r)
{
    keyauth_result_t              local, *result, *grant;
    ngx_http_keyauth_ctx_t       *ctx;
    ngx_http_keyauth_srv_conf_t  *kscf;
    ngx_http_keyauth_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);

    if (!klcf->token && !klcf->client_cert) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_keyauth_module);
    kscf = ngx_http_get_module_srv_conf(r, ngx_http_keyauth_module);

    /*
     * one allocation for the context and the grant kept for the request's
     * life: the verdict is written where it is kept (its stream is not
     * zeroed: the verdict and the tracking fill it)
     */

    if (ctx == NULL) {
        ctx = ngx_palloc(r->pool, sizeof(ngx_http_keyauth_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_memzero(ctx, offsetof(ngx_http_keyauth_ctx_t, stream));

        ngx_http_set_ctx(r, ctx, ngx_http_keyauth_module);
    }

    /* a grant already tracked keeps its verdict until the next admission */

    result = ctx->tracked ? &local : &ctx->stream.grant;

    /*
     * judged already if $keyauth_client_id was asked for before access; the
     * verdict holds only for the checks it was judged under (a server-level
     * "set", or a rewrite into another location, judged under another
     * location's) and, a limit_req delay having maybe lasted seconds since,
     * only while the registry has not changed and an admission's validity
     * (or a replaced token's grace) has not ended meanwhile
     */

    if (ctx->judged
        && ctx->judged_under == klcf
        && kscf->registry->handle
        && keyauth_registry_generation(kscf->registry->handle)
           == ctx->generation
        && (ctx->verdict->verdict != KEYAUTH_ACCEPTED
            || (int64_t) ngx_time() <= ctx->verdict->not_after))
    {
        *result = *ctx->verdict;

    } else if (ngx_http_keyauth_judge(r, result, NULL) != NGX_OK) {
        ngx_http_keyauth_count(KEYAUTH_TOKEN, KEYAUTH_REGISTRY_ERROR);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_keyauth_count(result->about, result->verdict);
    ngx_http_keyauth_count_cache(result->cache);

    ctx->judged = 0;
    ctx->status = 0;
    ctx->body = NULL;
    ctx->replace = 0;
    ctx->client_id_len = 0;

    if (result->verdict == KEYAUTH_ACCEPTED) {
        /* kept for the revocation sweep (nothing to allocate: cannot fail) */
        grant = ngx_http_keyauth_track(r, kscf->registry, ctx, result);

        /* $keyauth_client_id reads the grant, which lives as long */
        ctx->client_id = (u_char *) grant->client_id;
        ctx->client_id_len = grant->client_id_len;

        if (ngx_http_keyauth_last_use) {
            ngx_http_keyauth_last_use_mark(grant);
        }

        return NGX_OK;
    }

    if (result->about == KEYAUTH_CERTIFICATE) {
        return ngx_http_keyauth_refuse_certificate(r, ctx, kscf->registry,
                                                   result);
    }

    return ngx_http_keyauth_refuse_token(r, ctx, kscf->registry, result);
}


/*
 * Subrequests skip the access phase: "keyauth" in a location reached only
 * as a subrequest (an "auth_request" target, an SSI include, a mirror)
 * checks nothing. Which locations are such targets is known only to the
 * modules that make subrequests, so this is said when the first one
 * arrives, once per location and worker, unless keyauth judged the main
 * request. The rewrite phase sees it before a "return" answers it.
 */

static ngx_int_t
ngx_http_keyauth_subrequest_handler(ngx_http_request_t *r)
{
    ngx_http_keyauth_ctx_t       *ctx;
    ngx_http_core_loc_conf_t     *clcf, *main_clcf;
    ngx_http_keyauth_loc_conf_t  *klcf;

    if (r == r->main) {
        return NGX_DECLINED;
    }

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);

    if ((!klcf->token && !klcf->client_cert) || klcf->subrequest_warned) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_keyauth_module);

    if (ctx && (ctx->status || ctx->client_id_len || ctx->judged)) {
        return NGX_DECLINED;
    }

    klcf->subrequest_warned = 1;

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);
    main_clcf = ngx_http_get_module_loc_conf(r->main, ngx_http_core_module);

    ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                  "\"keyauth\" in location \"%V\" checks nothing when a "
                  "subrequest (\"%V\") of location \"%V\" reaches it: "
                  "subrequests skip the access phase; put \"keyauth\" in "
                  "location \"%V\" itself",
                  &clcf->name, &r->uri, &main_clcf->name, &main_clcf->name);

    return NGX_DECLINED;
}


keyauth_registry_t *
ngx_http_keyauth_open(ngx_log_t *log, ngx_http_keyauth_registry_t *registry)
{
    char  err[NGX_MAX_ERROR_STR];

    if (registry->handle) {
        return registry->handle;
    }

    /*
     * Any client can make a request while the registry is missing: one
     * attempt (and one error line) a second, not one a request.
     */

    if (registry->failed_at == ngx_time()) {
        return NULL;
    }

    if (keyauth_registry_open((const char *) registry->path.data,
                              &registry->handle, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "keyauth: cannot open registry \"%V\": %s",
                      &registry->path, err);

        registry->handle = NULL;
        registry->failed_at = ngx_time();
        return NULL;
    }

    return registry->handle;
}


static ngx_int_t
ngx_http_keyauth_client_id_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_keyauth_ctx_t       *ctx;
    ngx_http_keyauth_loc_conf_t  *klcf;

    /* subrequests skip the access phase: they act for the main request */

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_keyauth_module);

    /*
     * asked for before the access phase (limit_req_zone, a map used there):
     * judge now, once; the access handler takes this verdict
     */

    if (ctx == NULL && r == r->main) {
        klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);

        if (klcf->token || klcf->client_cert) {
            ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_keyauth_ctx_t));
            if (ctx == NULL) {
                return NGX_ERROR;
            }

            ctx->verdict = ngx_palloc(r->pool, sizeof(keyauth_result_t));
            if (ctx->verdict == NULL) {
                return NGX_ERROR;
            }

            ngx_http_set_ctx(r, ctx, ngx_http_keyauth_module);

            if (ngx_http_keyauth_judge(r, ctx->verdict, &ctx->generation)
                == NGX_OK)
            {
                ctx->judged = 1;
                ctx->judged_under = klcf;

                if (ctx->verdict->verdict == KEYAUTH_ACCEPTED) {
                    ctx->client_id_len = ctx->verdict->client_id_len;
                    ctx->client_id = (u_char *) ctx->verdict->client_id;
                }
            }
        }
    }

    if (ctx == NULL || ctx->status || ctx->client_id_len == 0) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = ctx->client_id_len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = ctx->client_id;

    return NGX_OK;
}


static ngx_int_t
ngx_http_keyauth_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    /* not cacheable: it may be read before the access phase sets it */

    var = ngx_http_add_variable(cf, &ngx_http_keyauth_client_id_name,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_keyauth_client_id_variable;

    return NGX_OK;
}


static void *
ngx_http_keyauth_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_keyauth_main_conf_t  *kmcf;

    kmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_keyauth_main_conf_t));
    if (kmcf == NULL) {
        return NULL;
    }

    if (ngx_array_init(&kmcf->registries, cf->pool, 1,
                       sizeof(ngx_http_keyauth_registry_t *))
        != NGX_OK)
    {
        return NULL;
    }

    kmcf->registry_error_grace = NGX_CONF_UNSET;

    return kmcf;
}


static char *
ngx_http_keyauth_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_keyauth_main_conf_t *kmcf = conf;

    ngx_conf_init_value(kmcf->registry_error_grace,
                        KEYAUTH_DEFAULT_REGISTRY_ERROR_GRACE);

    return NGX_CONF_OK;
}


static void *
ngx_http_keyauth_create_srv_conf(ngx_conf_t *cf)
{
    ngx_http_keyauth_srv_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_keyauth_srv_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->registry = NGX_CONF_UNSET_PTR;

    return conf;
}


static char *
ngx_http_keyauth_merge_srv_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_keyauth_srv_conf_t  *prev = parent;
    ngx_http_keyauth_srv_conf_t  *conf = child;

    ngx_conf_merge_ptr_value(conf->registry, prev->registry, NULL);

    return NGX_CONF_OK;
}


static void *
ngx_http_keyauth_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_keyauth_loc_conf_t  *conf;

    conf = ngx_pcalloc(cf->pool, sizeof(ngx_http_keyauth_loc_conf_t));
    if (conf == NULL) {
        return NULL;
    }

    conf->token = NGX_CONF_UNSET;
    conf->client_cert = NGX_CONF_UNSET;

    return conf;
}


static char *
ngx_http_keyauth_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_keyauth_loc_conf_t  *prev = parent;
    ngx_http_keyauth_loc_conf_t  *conf = child;

    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_keyauth_main_conf_t  *kmcf;

    ngx_conf_merge_value(conf->token, prev->token, 0);
    ngx_conf_merge_value(conf->client_cert, prev->client_cert, 0);

    if (!conf->token && !conf->client_cert) {
        return NGX_CONF_OK;
    }

    if (ngx_http_keyauth_check_location(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    if (conf->token) {
        kmcf->tokens = 1;
    }

    if (conf->client_cert) {
        kmcf->certificates = 1;
    }

    /* merged before this module's: the core module comes first */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->satisfy == NGX_HTTP_SATISFY_ANY) {
        kmcf->satisfy_any = 1;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_keyauth_set_registry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_keyauth_srv_conf_t *kscf = conf;

    ngx_str_t                      *value, path;
    ngx_uint_t                      i;
    ngx_http_keyauth_registry_t    *registry, **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    if (kscf->registry != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_keyauth_check_registry(cf, &path) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    registries = kmcf->registries.elts;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        if (registries[i]->path.len == path.len
            && ngx_strncmp(registries[i]->path.data, path.data, path.len) == 0)
        {
            kscf->registry = registries[i];
            return NGX_CONF_OK;
        }
    }

    registry = ngx_pcalloc(cf->pool, sizeof(ngx_http_keyauth_registry_t));
    if (registry == NULL) {
        return NGX_CONF_ERROR;
    }

    registry->path = path;

    registries = ngx_array_push(&kmcf->registries);
    if (registries == NULL) {
        return NGX_CONF_ERROR;
    }

    *registries = registry;
    kscf->registry = registry;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_keyauth_init(ngx_conf_t *cf)
{
    ngx_uint_t                      i;
    ngx_http_handler_pt            *h;
    ngx_http_core_main_conf_t      *cmcf;
    ngx_http_keyauth_registry_t   **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    registries = kmcf->registries.elts;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        if (ngx_http_keyauth_check_workers_access(cf, registries[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_keyauth_handler;

    /* the locations are merged by now: kmcf knows whether any checks */

    if (kmcf->tokens || kmcf->certificates) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_keyauth_subrequest_handler;
    }

    return ngx_http_keyauth_refusal_init(cf);
}


static ngx_int_t
ngx_http_keyauth_init_module(ngx_cycle_t *cycle)
{
    ngx_http_keyauth_main_conf_t  *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_keyauth_module);

    if (kmcf == NULL) {
        return NGX_OK;
    }

    /* notice, like nginx's own start messages: "error_log ... notice;" */

    if (kmcf->tokens) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "HTTP token authentication enabled");
    }

    if (kmcf->certificates) {
        ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0,
                      "HTTP client certificate authentication enabled");
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_keyauth_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_keyauth_registry_t   **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    if (ngx_process == NGX_PROCESS_HELPER) {
        return NGX_OK;
    }

    ngx_http_keyauth_streams_init(cycle);
    ngx_http_keyauth_status_init_process(cycle);

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_keyauth_module);

    if (kmcf == NULL) {
        return NGX_OK;
    }

    /*
     * Each worker maps the registry itself. A failure is logged here and
     * retried by the next request, which fails closed until it opens.
     */

    ngx_http_keyauth_last_use_init_process(cycle, kmcf);

    registries = kmcf->registries.elts;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        keyauth_sweep_init(&registries[i]->sweep,
                           (int64_t) kmcf->registry_error_grace);
        (void) ngx_http_keyauth_open(cycle->log, registries[i]);
    }

    return NGX_OK;
}


static void
ngx_http_keyauth_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_keyauth_registry_t   **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    ngx_http_keyauth_refusals_exit();
    ngx_http_keyauth_last_use_exit(cycle);

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_keyauth_module);

    if (kmcf == NULL) {
        return;
    }

    registries = kmcf->registries.elts;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        if (registries[i]->handle) {
            keyauth_registry_close(registries[i]->handle);
            registries[i]->handle = NULL;
        }
    }
}
