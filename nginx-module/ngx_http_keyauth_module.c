
/*
 * keyauth for NGINX: Bearer tokens and registered client certificates,
 * checked in the access phase against the keyauth registry.
 *
 * Every rule about tokens and certificates lives in the core (keyauth.h);
 * this file only adapts it to nginx: directives, one access handler, and
 * the JSON body of a refusal.
 *
 * A refusal returns its status from the access handler, as auth_basic does,
 * so "satisfy any", "auth_delay" and "error_page" keep working and nginx
 * discards the request body and decides keep-alive. When nginx then builds
 * its own page for that status, the header and body filters below swap the
 * HTML for the JSON body. If another access module grants the request under
 * "satisfy any", the precontent handler forgets the refusal.
 *
 * A request admitted here and still open (a WebSocket, a gRPC stream, an
 * SSE stream, a long poll) is tracked by its worker and closed once its
 * credential is deleted, replaced or expires: see "Open requests" below.
 */


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
} ngx_http_keyauth_registry_t;


typedef struct {
    ngx_array_t                    registries;  /* of registry pointers */
    ngx_flag_t                     tokens;
    ngx_flag_t                     certificates;
    time_t                         registry_error_grace;
    ngx_array_t                   *locations;   /* for nginx -t's warnings */
} ngx_http_keyauth_main_conf_t;


typedef struct {
    ngx_http_keyauth_registry_t   *registry;
} ngx_http_keyauth_srv_conf_t;


typedef struct {
    ngx_flag_t                     token;
    ngx_flag_t                     client_cert;
} ngx_http_keyauth_loc_conf_t;


typedef struct {
    ngx_uint_t                     status;   /* of our refusal, or 0 */
    ngx_str_t                     *body;     /* JSON body of the refusal */
    unsigned                       replace:1;
    /* judged before the access phase, for $keyauth_client_id (limit_req) */
    unsigned                       judged:1;
    uint64_t                       generation;  /* the registry's, then */
    keyauth_result_t               verdict;
    size_t                         client_id_len;
    u_char                         client_id[KEYAUTH_CLIENT_ID_MAX];
} ngx_http_keyauth_ctx_t;


static ngx_int_t ngx_http_keyauth_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_keyauth_judge(ngx_http_request_t *r,
    keyauth_result_t *result, uint64_t *generation);
static ngx_int_t ngx_http_keyauth_check_token(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result);
static ngx_int_t ngx_http_keyauth_check_certificate(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result);
static void ngx_http_keyauth_log_refusal(ngx_http_request_t *r,
    const char *credential, keyauth_result_t *result, const char *reason);
static ngx_int_t ngx_http_keyauth_refuse(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_uint_t status, ngx_str_t *body,
    ngx_str_t *challenge);
static keyauth_registry_t *ngx_http_keyauth_open(ngx_log_t *log,
    ngx_http_keyauth_registry_t *registry);
static ngx_int_t ngx_http_keyauth_precontent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_keyauth_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_keyauth_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
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

static ngx_int_t ngx_http_keyauth_track(ngx_http_request_t *r,
    ngx_http_keyauth_registry_t *registry, keyauth_result_t *grant);
static void ngx_http_keyauth_untrack(void *data);
static void ngx_http_keyauth_sweep_handler(ngx_event_t *ev);
static ngx_uint_t ngx_http_keyauth_begin_sweeps(time_t now);
static void ngx_http_keyauth_end_sweeps(ngx_log_t *log);
static void ngx_http_keyauth_close_revoked(ngx_http_request_t *r,
    keyauth_result_t *grant);
static void ngx_http_keyauth_streams_init(ngx_cycle_t *cycle);

static ngx_int_t ngx_http_keyauth_note_location(ngx_conf_t *cf,
    ngx_http_keyauth_loc_conf_t *conf);
static void ngx_http_keyauth_warn_subrequest_targets(ngx_conf_t *cf);

static ngx_int_t ngx_http_keyauth_init_module(ngx_cycle_t *cycle);
static ngx_int_t ngx_http_keyauth_check_workers_access(ngx_conf_t *cf,
    ngx_http_keyauth_registry_t *registry);
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


static ngx_str_t  ngx_http_keyauth_invalid_token =
    ngx_string("{\"success\":false,\"reason\":\"invalid token\"}");
static ngx_str_t  ngx_http_keyauth_missing_token =
    ngx_string("{\"success\":false,\"reason\":\"missing token\"}");
static ngx_str_t  ngx_http_keyauth_invalid_certificate =
    ngx_string("{\"success\":false,\"reason\":\"invalid certificate\"}");

static ngx_str_t  ngx_http_keyauth_challenge =
    ngx_string("Bearer realm=\"keyauth\"");
static ngx_str_t  ngx_http_keyauth_invalid_challenge =
    ngx_string("Bearer realm=\"keyauth\", error=\"invalid_token\"");

static ngx_str_t  ngx_http_keyauth_json = ngx_string("application/json");

static ngx_str_t  ngx_http_keyauth_client_id_name =
    ngx_string("keyauth_client_id");


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* what the request presented, judged by the core */

static ngx_int_t
ngx_http_keyauth_judge(ngx_http_request_t *r, keyauth_result_t *result,
    uint64_t *generation)
{
    keyauth_request_t             request;
    ngx_http_keyauth_srv_conf_t  *kscf;
    ngx_http_keyauth_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);
    kscf = ngx_http_get_module_srv_conf(r, ngx_http_keyauth_module);

    if (ngx_http_keyauth_open(r->connection->log, kscf->registry) == NULL) {
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
    keyauth_result_t              result;
    ngx_http_keyauth_ctx_t       *ctx;
    ngx_http_keyauth_srv_conf_t  *kscf;
    ngx_http_keyauth_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);

    if (!klcf->token && !klcf->client_cert) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_keyauth_module);

    if (ctx == NULL) {
        ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_keyauth_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_keyauth_module);
    }

    kscf = ngx_http_get_module_srv_conf(r, ngx_http_keyauth_module);

    /*
     * judged already if $keyauth_client_id was asked for before access; a
     * limit_req delay may have lasted seconds since: the verdict holds only
     * while the registry has not changed
     */

    if (ctx->judged
        && kscf->registry->handle
        && keyauth_registry_generation(kscf->registry->handle)
           == ctx->generation)
    {
        result = ctx->verdict;

    } else if (ngx_http_keyauth_judge(r, &result, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->judged = 0;

    ctx->status = 0;
    ctx->body = NULL;
    ctx->replace = 0;
    ctx->client_id_len = 0;

    if (result.verdict == KEYAUTH_ACCEPTED) {
        ctx->client_id_len = result.client_id_len;
        ngx_memcpy(ctx->client_id, result.client_id, result.client_id_len);

        return ngx_http_keyauth_track(r, kscf->registry, &result);
    }

    if (result.about == KEYAUTH_CERTIFICATE) {
        return ngx_http_keyauth_check_certificate(r, ctx, kscf->registry,
                                                  &result);
    }

    return ngx_http_keyauth_check_token(r, ctx, kscf->registry, &result);
}


/* a token refused by the core: 401, and why in the log */

static ngx_int_t
ngx_http_keyauth_check_token(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result)
{
    if (result->verdict == KEYAUTH_REGISTRY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "keyauth: registry \"%V\" unreadable, token refused",
                      &registry->path);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_keyauth_log_refusal(r, "token", result,
                                 keyauth_verdict_reason(result->verdict));

    if (result->verdict == KEYAUTH_MISSING) {
        return ngx_http_keyauth_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                       &ngx_http_keyauth_missing_token,
                                       &ngx_http_keyauth_challenge);
    }

    return ngx_http_keyauth_refuse(r, ctx, NGX_HTTP_UNAUTHORIZED,
                                   &ngx_http_keyauth_invalid_token,
                                   &ngx_http_keyauth_invalid_challenge);
}


/* a client certificate refused by the core: 403, and why in the log */

static ngx_int_t
ngx_http_keyauth_check_certificate(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result)
{
    if (result->verdict == KEYAUTH_REGISTRY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "keyauth: registry \"%V\" unreadable, "
                      "client certificate refused", &registry->path);

        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_keyauth_log_refusal(r, "client certificate", result,
                                 keyauth_verdict_reason(result->verdict));

    return ngx_http_keyauth_refuse(r, ctx, NGX_HTTP_FORBIDDEN,
                                   &ngx_http_keyauth_invalid_certificate,
                                   NULL);
}


static void
ngx_http_keyauth_log_refusal(ngx_http_request_t *r, const char *credential,
    keyauth_result_t *result, const char *reason)
{
    /* who and why, never the secret */

    if (result->client_id_len) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "keyauth: %s of client \"%s\" refused: %s",
                      credential, result->client_id, reason);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "keyauth: %s refused: %s", credential, reason);
    }
}


static ngx_int_t
ngx_http_keyauth_refuse(ngx_http_request_t *r, ngx_http_keyauth_ctx_t *ctx,
    ngx_uint_t status, ngx_str_t *body, ngx_str_t *challenge)
{
    ngx_table_elt_t  *h;

    if (challenge) {
        h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        h->value = *challenge;

        r->headers_out.www_authenticate = h;
    }

    ctx->status = status;
    ctx->body = body;

    return status;
}


static keyauth_registry_t *
ngx_http_keyauth_open(ngx_log_t *log, ngx_http_keyauth_registry_t *registry)
{
    char  err[NGX_MAX_ERROR_STR];

    if (registry->handle) {
        return registry->handle;
    }

    if (keyauth_registry_open((const char *) registry->path.data,
                              &registry->handle, err, sizeof(err))
        != 0)
    {
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "keyauth: cannot open registry \"%V\": %s",
                      &registry->path, err);

        registry->handle = NULL;
        return NULL;
    }

    return registry->handle;
}


static ngx_int_t
ngx_http_keyauth_precontent_handler(ngx_http_request_t *r)
{
    ngx_http_keyauth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_keyauth_module);

    if (ctx) {
        /* another access module granted the request under "satisfy any" */
        ctx->status = 0;
    }

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_keyauth_header_filter(ngx_http_request_t *r)
{
    ngx_http_keyauth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_keyauth_module);

    /* only nginx's own page for our refusal is replaced */

    if (ctx == NULL
        || ctx->status == 0
        || r->err_status != ctx->status
        || r->headers_out.status != ctx->status)
    {
        return ngx_http_next_header_filter(r);
    }

    r->headers_out.content_type_len = ngx_http_keyauth_json.len;
    r->headers_out.content_type = ngx_http_keyauth_json;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.charset.len = 0;

    r->headers_out.content_length_n = ctx->body->len;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    ctx->replace = !(r->header_only || r->method == NGX_HTTP_HEAD);

    return ngx_http_next_header_filter(r);
}


static ngx_int_t
ngx_http_keyauth_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_buf_t               *b;
    ngx_uint_t               last;
    ngx_chain_t             *cl, out;
    ngx_http_keyauth_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_keyauth_module);

    if (ctx == NULL || !ctx->replace) {
        return ngx_http_next_body_filter(r, in);
    }

    last = 0;

    for (cl = in; cl; cl = cl->next) {
        b = cl->buf;

        if (b->last_buf || b->last_in_chain) {
            last = 1;
        }

        /* the HTML page is dropped: mark it sent */

        if (ngx_buf_in_memory(b)) {
            b->pos = b->last;
        }

        if (b->in_file) {
            b->file_pos = b->file_last;
        }
    }

    if (!last) {
        return NGX_OK;
    }

    ctx->replace = 0;

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->memory = 1;
    b->pos = ctx->body->data;
    b->last = ctx->body->data + ctx->body->len;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_next_body_filter(r, &out);
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

            ngx_http_set_ctx(r, ctx, ngx_http_keyauth_module);

            if (ngx_http_keyauth_judge(r, &ctx->verdict, &ctx->generation)
                == NGX_OK)
            {
                ctx->judged = 1;

                if (ctx->verdict.verdict == KEYAUTH_ACCEPTED) {
                    ctx->client_id_len = ctx->verdict.client_id_len;
                    ngx_memcpy(ctx->client_id, ctx->verdict.client_id,
                               ctx->client_id_len);
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
    ngx_http_keyauth_srv_conf_t   *kscf;
    ngx_http_keyauth_main_conf_t  *kmcf;
#if (NGX_HTTP_SSL)
    ngx_http_ssl_srv_conf_t       *sscf;
#endif

    ngx_conf_merge_value(conf->token, prev->token, 0);
    ngx_conf_merge_value(conf->client_cert, prev->client_cert, 0);

    if (ngx_http_keyauth_note_location(cf, conf) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (!conf->token && !conf->client_cert) {
        return NGX_CONF_OK;
    }

    /* while merging, cf->ctx holds this location's server and location */

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    kscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_keyauth_module);

    if (kscf->registry == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" is on in location \"%V\" but its server has "
                      "no \"keyauth_registry\"",
                      conf->token ? "keyauth" : "keyauth_client_cert",
                      &clcf->name);
        return NGX_CONF_ERROR;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    if (conf->token) {
        kmcf->tokens = 1;
    }

    if (!conf->client_cert) {
        return NGX_CONF_OK;
    }

#if (NGX_HTTP_SSL)

    sscf = ngx_http_conf_get_module_srv_conf(cf, ngx_http_ssl_module);

    if (sscf->verify) {
        kmcf->certificates = 1;
        return NGX_CONF_OK;
    }

#endif

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "\"keyauth_client_cert\" is on in location \"%V\" but its "
                  "server has no \"ssl_verify_client\"", &clcf->name);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_keyauth_set_registry(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_keyauth_srv_conf_t *kscf = conf;

    ngx_str_t                      *value, path;
    ngx_uint_t                      i;
    u_char                          err[256];
    ngx_file_info_t                 fi;
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

    /* the registry itself is opened by each worker, after fork */

    if (ngx_file_info(path.data, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           "keyauth registry \"%V\" not found", &path);
        return NGX_CONF_ERROR;
    }

    if (!ngx_is_dir(&fi)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keyauth registry \"%V\" is not a directory",
                           &path);
        return NGX_CONF_ERROR;
    }

    if (keyauth_registry_check((const char *) path.data, (char *) err,
                               sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keyauth registry \"%V\" cannot be used: %s",
                           &path, err);
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

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_keyauth_precontent_handler;

    ngx_http_keyauth_warn_subrequest_targets(cf);

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_keyauth_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_keyauth_body_filter;

    return NGX_OK;
}


/*
 * A registry the workers' user cannot read would pass "nginx -t" and then
 * answer every request with 500: judge it here, at configuration time (a
 * failed reload keeps the running configuration), with the user and groups
 * the workers will have. The "user" directive precedes "http" in any sane
 * nginx.conf; without one, a master started as root uses nginx's default.
 */

static ngx_int_t
ngx_http_keyauth_check_workers_access(ngx_conf_t *cf,
    ngx_http_keyauth_registry_t *registry)
{
    char              *user;
    u_char             err[NGX_MAX_ERROR_STR];
    ngx_uid_t          uid;
    ngx_gid_t          gid;
    struct group      *grp;
    struct passwd     *pwd;
    ngx_core_conf_t   *ccf;

    if (geteuid() != 0) {
        return NGX_OK;    /* the workers will be this user: already judged */
    }

    ccf = (ngx_core_conf_t *) ngx_get_conf(cf->cycle->conf_ctx,
                                           ngx_core_module);

    if (ccf->user != (ngx_uid_t) NGX_CONF_UNSET_UINT) {
        user = ccf->username;
        uid = ccf->user;
        gid = ccf->group;

    } else {
        user = NGX_USER;
        pwd = getpwnam(NGX_USER);
        grp = getgrnam(NGX_GROUP);

        if (pwd == NULL || grp == NULL) {
            return NGX_OK;    /* nginx itself will say so */
        }

        uid = pwd->pw_uid;
        gid = grp->gr_gid;
    }

    /* the path is NUL-terminated: keyauth_registry_check() was given it */

    if (keyauth_registry_check_readable_by((const char *) registry->path.data,
                                           user, uid, gid, (char *) err,
                                           sizeof(err))
        != 0)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "keyauth registry %s, the workers' user: give it "
                           "that group with the \"user\" directive",
                           err);
        return NGX_ERROR;
    }

    return NGX_OK;
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

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_keyauth_module);

    if (kmcf == NULL) {
        return NGX_OK;
    }

    /*
     * LMDB handles must not cross fork(): each worker opens its own. A
     * failure is logged here and retried by the next request, which fails
     * closed until the registry opens.
     */

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


/*
 * Open requests. Each worker links every request this module admitted into
 * one list, unlinked by a pool cleanup when the request is freed. While the
 * list is not empty a timer asks the core, every 250 ms, whether a sweep of
 * each registry is due (its generation moved, a validity ended, the grace
 * of an unreadable registry ran out): only then are that registry's
 * requests rechecked, and those the core rules cut are closed as nginx
 * closes a request on an error (HTTP/1: the connection; HTTP/2:
 * RST_STREAM), upstream connection included. A registry that cannot be read
 * cuts nothing until "keyauth_registry_error_grace" has passed.
 */


#define NGX_HTTP_KEYAUTH_SWEEP_INTERVAL  250


typedef struct {
    ngx_queue_t                    queue;
    ngx_http_request_t            *request;
    ngx_http_keyauth_registry_t   *registry;
    keyauth_result_t               grant;       /* what admitted it */
} ngx_http_keyauth_stream_t;


static ngx_queue_t   ngx_http_keyauth_streams;
static ngx_event_t   ngx_http_keyauth_sweep_event;


static ngx_int_t
ngx_http_keyauth_track(ngx_http_request_t *r,
    ngx_http_keyauth_registry_t *registry, keyauth_result_t *grant)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_keyauth_stream_t  *stream;

    /* an internal redirect admits the same request again: one entry */

    stream = NULL;

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_keyauth_untrack) {
            stream = cln->data;
            break;
        }
    }

    if (stream == NULL) {
        cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_keyauth_stream_t));
        if (cln == NULL) {
            /* an admission that could not be revoked later is no admission */
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        stream = cln->data;
        stream->request = r;

        ngx_queue_insert_tail(&ngx_http_keyauth_streams, &stream->queue);
        cln->handler = ngx_http_keyauth_untrack;

        if (!ngx_http_keyauth_sweep_event.timer_set) {
            ngx_add_timer(&ngx_http_keyauth_sweep_event,
                          NGX_HTTP_KEYAUTH_SWEEP_INTERVAL);
        }
    }

    stream->registry = registry;
    stream->grant = *grant;

    keyauth_sweep_admitted(&registry->sweep, grant->not_after);

    return NGX_OK;
}


static void
ngx_http_keyauth_untrack(void *data)
{
    ngx_http_keyauth_stream_t  *stream = data;

    ngx_queue_remove(&stream->queue);
}


static void
ngx_http_keyauth_sweep_handler(ngx_event_t *ev)
{
    time_t                      now;
    ngx_queue_t                *q, *next, revoked;
    ngx_http_keyauth_stream_t  *stream;

    if (ngx_queue_empty(&ngx_http_keyauth_streams)) {
        return;     /* armed again by the next admission */
    }

    ngx_add_timer(ev, NGX_HTTP_KEYAUTH_SWEEP_INTERVAL);

    now = ngx_time();

    if (!ngx_http_keyauth_begin_sweeps(now)) {
        return;
    }

    /* verdicts first, closes after: closing may free other entries' pools */

    ngx_queue_init(&revoked);

    for (q = ngx_queue_head(&ngx_http_keyauth_streams);
         q != ngx_queue_sentinel(&ngx_http_keyauth_streams);
         q = next)
    {
        next = ngx_queue_next(q);
        stream = ngx_queue_data(q, ngx_http_keyauth_stream_t, queue);

        if (!stream->registry->due) {
            continue;
        }

        keyauth_recheck(stream->registry->handle, &stream->grant);

        if (keyauth_sweep_judge(&stream->registry->sweep, &stream->grant, now)
            != KEYAUTH_SESSION_CUT)
        {
            continue;
        }

        ngx_queue_remove(q);
        ngx_queue_insert_tail(&revoked, q);
    }

    ngx_http_keyauth_end_sweeps(ev->log);

    while (!ngx_queue_empty(&revoked)) {
        q = ngx_queue_head(&revoked);
        ngx_queue_remove(q);

        /* unlinked for good: the pool cleanup removes it from itself */
        ngx_queue_init(q);

        stream = ngx_queue_data(q, ngx_http_keyauth_stream_t, queue);

        ngx_http_keyauth_close_revoked(stream->request, &stream->grant);
    }
}


/* Begins the sweep of each registry the core says is due; whether any is. */

static ngx_uint_t
ngx_http_keyauth_begin_sweeps(time_t now)
{
    ngx_uint_t                      i, due;
    ngx_http_keyauth_registry_t    *registry, **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_keyauth_module);

    due = 0;
    registries = kmcf->registries.elts;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        registry = registries[i];

        /*
         * read before the rechecks, which read this snapshot or a newer
         * one: a commit landing during the sweep makes the next tick sweep
         */

        registry->generation = keyauth_registry_generation(registry->handle);
        registry->due = keyauth_sweep_due(&registry->sweep,
                                          registry->generation, now) != 0;

        if (registry->due) {
            keyauth_sweep_begin(&registry->sweep, registry->generation);
            due = 1;
        }
    }

    return due;
}


/* Ends the sweeps begun; says once that a registry stopped or resumed answering. */

static void
ngx_http_keyauth_end_sweeps(ngx_log_t *log)
{
    ngx_uint_t                      i;
    ngx_http_keyauth_registry_t    *registry, **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    kmcf = ngx_http_cycle_get_module_main_conf(ngx_cycle,
                                               ngx_http_keyauth_module);

    registries = kmcf->registries.elts;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        registry = registries[i];

        if (!registry->due) {
            continue;
        }

        registry->due = 0;

        switch (keyauth_sweep_end(&registry->sweep)) {

        case KEYAUTH_SWEEP_REGISTRY_UNREADABLE:
            ngx_log_error(NGX_LOG_WARN, log, 0,
                          "keyauth: registry \"%V\" unreadable: keeping %uz "
                          "open requests for up to %T s unless it answers "
                          "again (keyauth_registry_error_grace); new "
                          "requests are refused", &registry->path,
                          keyauth_sweep_kept_through_error(&registry->sweep),
                          kmcf->registry_error_grace);
            break;

        case KEYAUTH_SWEEP_REGISTRY_READABLE:
            ngx_log_error(NGX_LOG_NOTICE, log, 0,
                          "keyauth: registry \"%V\" readable again: open "
                          "requests rechecked", &registry->path);
            break;

        default:
            break;
        }
    }
}


static void
ngx_http_keyauth_close_revoked(ngx_http_request_t *r, keyauth_result_t *grant)
{
    const char        *reason;
    ngx_connection_t  *c;
#if (NGX_HTTP_V2)
    ngx_connection_t  *h2;
#endif

    if (r->done) {
        /* answered already: nginx is only closing or draining it */
        return;
    }

    c = r->connection;

    switch (grant->verdict) {

    case KEYAUTH_MISMATCH:
        reason = "credential re-issued";
        break;

    case KEYAUTH_REGISTRY_ERROR:
        reason = "registry unreadable for longer than "
                 "keyauth_registry_error_grace";
        break;

    default:
        reason = keyauth_verdict_reason(grant->verdict);
    }

    ngx_log_error(NGX_LOG_NOTICE, c->log, 0,
                  "keyauth: closing open request of client \"%s\": %s",
                  grant->client_id, reason);

#if (NGX_HTTP_V2)
    h2 = r->stream ? r->stream->connection->connection : NULL;
#endif

    /*
     * Held while the upstream's cleanup finalizes the request with NGX_DONE
     * (which alone would free it, or even keep the connection alive): only
     * the terminate handler, posted by this call, may close it.
     */
    r->main->count++;

    ngx_http_finalize_request(r, NGX_ERROR);
    ngx_http_run_posted_requests(c);

#if (NGX_HTTP_V2)

    /*
     * the RST_STREAM is only queued, and nginx flushes the queue on its own
     * only once no stream is left or another one writes: send it now (a
     * connection closed meanwhile has its posted events removed)
     */

    if (h2 && !h2->destroyed) {
        ngx_post_event(h2->write, &ngx_posted_events);
    }

#endif
}


static void
ngx_http_keyauth_streams_init(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_keyauth_streams);

    ngx_http_keyauth_sweep_event.handler = ngx_http_keyauth_sweep_handler;
    ngx_http_keyauth_sweep_event.log = cycle->log;
    ngx_http_keyauth_sweep_event.data = &ngx_http_keyauth_streams;

    /* no reason to keep a worker that is shutting down */
    ngx_http_keyauth_sweep_event.cancelable = 1;
}


/*
 * Subrequests skip the access phase: "keyauth" in a location reached only
 * as a subrequest (an "auth_request" target, an SSI include) checks
 * nothing. SSI includes are known only when pages are served; "auth_request"
 * targets are known here: while merging, each location is noted with its
 * "auth_request" URI (that module's merge has run: it is built in, this
 * module is loaded after it), and postconfiguration warns for every
 * target that has keyauth on while the location asking does not.
 */


typedef struct {
    void                          *server;       /* its srv conf: identity */
    ngx_str_t                      name;
    ngx_str_t                      auth_request;  /* its target, or empty */
    unsigned                       exact:1;
    unsigned                       checked:1;     /* keyauth on here */
    unsigned                       warned:1;
} ngx_http_keyauth_location_t;


/* the head of ngx_http_auth_request_module's location configuration */

typedef struct {
    ngx_str_t                      uri;
} ngx_http_keyauth_auth_request_conf_t;


static ngx_int_t
ngx_http_keyauth_note_location(ngx_conf_t *cf,
    ngx_http_keyauth_loc_conf_t *conf)
{
    ngx_uint_t                             m;
    ngx_http_conf_ctx_t                   *ctx;
    ngx_http_core_loc_conf_t              *clcf;
    ngx_http_keyauth_location_t           *loc;
    ngx_http_keyauth_main_conf_t          *kmcf;
    ngx_http_keyauth_auth_request_conf_t  *arcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    /* as nginx finds them without regular expressions */

    if (clcf->name.len == 0 || clcf->named || clcf->noname
#if (NGX_PCRE)
        || clcf->regex
#endif
       )
    {
        return NGX_OK;
    }

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    if (kmcf->locations == NULL) {
        kmcf->locations = ngx_array_create(cf->pool, 8,
                                       sizeof(ngx_http_keyauth_location_t));
        if (kmcf->locations == NULL) {
            return NGX_ERROR;
        }
    }

    loc = ngx_array_push(kmcf->locations);
    if (loc == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(loc, sizeof(ngx_http_keyauth_location_t));

    loc->server = ngx_http_conf_get_module_srv_conf(cf,
                                                    ngx_http_keyauth_module);
    loc->name = clcf->name;
    loc->exact = clcf->exact_match;
    loc->checked = (conf->token || conf->client_cert);

    ctx = cf->ctx;

    for (m = 0; cf->cycle->modules[m]; m++) {
        if (cf->cycle->modules[m]->type == NGX_HTTP_MODULE
            && ngx_strcmp(cf->cycle->modules[m]->name,
                          "ngx_http_auth_request_module") == 0)
        {
            arcf = ctx->loc_conf[cf->cycle->modules[m]->ctx_index];
            loc->auth_request = arcf->uri;
            break;
        }
    }

    return NGX_OK;
}


static void
ngx_http_keyauth_warn_subrequest_targets(ngx_conf_t *cf)
{
    ngx_uint_t                      i, j;
    ngx_http_keyauth_location_t    *locs, *target;
    ngx_http_keyauth_main_conf_t   *kmcf;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    if (kmcf->locations == NULL) {
        return;
    }

    locs = kmcf->locations->elts;

    for (i = 0; i < kmcf->locations->nelts; i++) {

        /* a location that checks its own requests has no need of it */

        if (locs[i].auth_request.len == 0 || locs[i].checked) {
            continue;
        }

        /* an exact match, else the longest prefix, as nginx looks */

        target = NULL;

        for (j = 0; j < kmcf->locations->nelts; j++) {

            if (locs[j].server != locs[i].server
                || locs[j].name.len > locs[i].auth_request.len
                || ngx_strncmp(locs[j].name.data, locs[i].auth_request.data,
                               locs[j].name.len)
                   != 0)
            {
                continue;
            }

            if (locs[j].exact) {
                if (locs[j].name.len == locs[i].auth_request.len) {
                    target = &locs[j];
                    break;
                }

                continue;
            }

            if (target == NULL || locs[j].name.len > target->name.len) {
                target = &locs[j];
            }
        }

        if (target == NULL || !target->checked || target->warned) {
            continue;
        }

        target->warned = 1;

        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "\"keyauth\" in location \"%V\" checks nothing when "
                      "\"auth_request %V\" of location \"%V\" reaches it: "
                      "subrequests skip the access phase; put \"keyauth\" "
                      "in location \"%V\" itself",
                      &target->name, &locs[i].auth_request, &locs[i].name,
                      &locs[i].name);
    }
}
