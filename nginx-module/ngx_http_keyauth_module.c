
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
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <keyauth/keyauth.h>


typedef struct {
    ngx_str_t                      path;    /* NUL-terminated */
    keyauth_registry_t            *handle;  /* per process, opened after fork */
} ngx_http_keyauth_registry_t;


typedef struct {
    ngx_array_t                    registries;  /* of registry pointers */
    ngx_flag_t                     tokens;
    ngx_flag_t                     certificates;
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
    size_t                         client_id_len;
    u_char                         client_id[KEYAUTH_CLIENT_ID_MAX];
} ngx_http_keyauth_ctx_t;


static ngx_int_t ngx_http_keyauth_handler(ngx_http_request_t *r);
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

      ngx_null_command
};


static ngx_http_module_t  ngx_http_keyauth_module_ctx = {
    ngx_http_keyauth_add_variables,        /* preconfiguration */
    ngx_http_keyauth_init,                 /* postconfiguration */

    ngx_http_keyauth_create_main_conf,     /* create main configuration */
    NULL,                                  /* init main configuration */

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


static ngx_int_t
ngx_http_keyauth_handler(ngx_http_request_t *r)
{
    keyauth_result_t              result;
    keyauth_request_t             request;
    ngx_http_keyauth_ctx_t       *ctx;
    ngx_http_keyauth_srv_conf_t  *kscf;
    ngx_http_keyauth_loc_conf_t  *klcf;

    klcf = ngx_http_get_module_loc_conf(r, ngx_http_keyauth_module);

    if (!klcf->token && !klcf->client_cert) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_keyauth_module);

    if (ctx == NULL) {
        ctx = ngx_palloc(r->pool, sizeof(ngx_http_keyauth_ctx_t));
        if (ctx == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_http_set_ctx(r, ctx, ngx_http_keyauth_module);
    }

    ctx->status = 0;
    ctx->body = NULL;
    ctx->replace = 0;
    ctx->client_id_len = 0;

    kscf = ngx_http_get_module_srv_conf(r, ngx_http_keyauth_module);

    if (ngx_http_keyauth_open(r->connection->log, kscf->registry) == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* what the request presented; the core judges all of it */

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

    keyauth_authenticate(kscf->registry->handle, &request, &result);

#if (NGX_HTTP_SSL)

    if (request.certificate) {
        X509_free(request.certificate);
    }

#endif

    if (result.verdict == KEYAUTH_ACCEPTED) {
        ctx->client_id_len = result.client_id_len;
        ngx_memcpy(ctx->client_id, result.client_id, result.client_id_len);

        return NGX_OK;
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
    ngx_http_keyauth_ctx_t  *ctx;

    /* subrequests skip the access phase: they act for the main request */

    ctx = ngx_http_get_module_ctx(r->main, ngx_http_keyauth_module);

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

    return kmcf;
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
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

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

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_keyauth_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_keyauth_body_filter;

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
