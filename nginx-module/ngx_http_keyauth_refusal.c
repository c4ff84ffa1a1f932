
/*
 * keyauth for NGINX: refusals. The access handler returns a refusal's
 * status, as auth_basic does, so "satisfy any", "auth_delay" and
 * "error_page" keep working and nginx discards the request body and decides
 * keep-alive. When nginx then builds its own page for that status, the
 * header and body filters here swap the HTML for the JSON body. If another
 * access module grants the request under "satisfy any", the precontent
 * handler forgets the refusal.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_keyauth_module.h"


static void ngx_http_keyauth_log_refusal(ngx_http_request_t *r,
    const char *credential, keyauth_result_t *result, const char *reason);
static ngx_int_t ngx_http_keyauth_refuse(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_uint_t status, ngx_str_t *body,
    ngx_str_t *challenge);
static void ngx_http_keyauth_log_overdue(ngx_event_t *ev);
static ngx_int_t ngx_http_keyauth_precontent_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_keyauth_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_keyauth_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);


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


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;

/* which refusals get a line: per worker, made at its first refusal */
static keyauth_refusal_log_t            *ngx_http_keyauth_refusals;
static ngx_flag_t                        ngx_http_keyauth_refusals_tried;
/* reports the quiet counts once their minute is over */
static ngx_event_t                       ngx_http_keyauth_refusals_timer;


/* a token refused by the core: 401, and why in the log */

ngx_int_t
ngx_http_keyauth_refuse_token(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result)
{
    if (result->verdict == KEYAUTH_REGISTRY_ERROR) {
        if (registry->failed_at != ngx_time()) {
            registry->failed_at = ngx_time();
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "keyauth: registry \"%V\" unreadable, token refused",
                          &registry->path);
        }

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

ngx_int_t
ngx_http_keyauth_refuse_certificate(ngx_http_request_t *r,
    ngx_http_keyauth_ctx_t *ctx, ngx_http_keyauth_registry_t *registry,
    keyauth_result_t *result)
{
    if (result->verdict == KEYAUTH_REGISTRY_ERROR) {
        if (registry->failed_at != ngx_time()) {
            registry->failed_at = ngx_time();
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "keyauth: registry \"%V\" unreadable, "
                          "client certificate refused", &registry->path);
        }

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
    ngx_str_t               *listen;
    keyauth_refusal_note_t   note;

    /*
     * Who, where and why, never the secret; nginx adds the client's address
     * and the server. Per client and reason the first refusal gets a line,
     * the next are counted for the timer to report once a minute.
     */

    if (r->connection->log->log_level < NGX_LOG_INFO) {
        return;  /* as ngx_log_error() would: nothing to write, nothing to count */
    }

    if (!ngx_http_keyauth_refusals_tried) {
        ngx_http_keyauth_refusals_tried = 1;
        ngx_http_keyauth_refusals = keyauth_refusal_log_create();

        ngx_http_keyauth_refusals_timer.handler = ngx_http_keyauth_log_overdue;
        ngx_http_keyauth_refusals_timer.log = ngx_cycle->log;
        ngx_http_keyauth_refusals_timer.data = &ngx_http_keyauth_refusals;
        ngx_http_keyauth_refusals_timer.cancelable = 1;
    }

    keyauth_refusal_log_note(ngx_http_keyauth_refusals, result->client_id,
                             result->client_id_len, result->verdict,
                             (int64_t) ngx_time(), &note);

    if (!note.log) {
        if (!ngx_http_keyauth_refusals_timer.timer_set) {
            ngx_add_timer(&ngx_http_keyauth_refusals_timer, 1000);
        }

        return;
    }

    listen = &r->connection->listening->addr_text;

    if (result->client_id_len) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "keyauth: %s of client \"%s\" refused: %s (listen %V)%s%s",
                      credential, result->client_id, reason, listen,
                      note.unlogged ? "; " : "", note.summary);

    } else {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "keyauth: %s refused: %s (listen %V)%s%s",
                      credential, reason, listen,
                      note.unlogged ? "; " : "", note.summary);
    }
}


static void
ngx_http_keyauth_log_overdue(ngx_event_t *ev)
{
    size_t                      i, n;
    keyauth_refusal_summary_t   overdue[16];

    /* every second while refusals are counted and not yet logged */

    do {
        n = keyauth_refusal_log_take_overdue(ngx_http_keyauth_refusals,
                                             (int64_t) ngx_time(), overdue, 16);

        for (i = 0; i < n; i++) {
            if (overdue[i].client_id[0]) {
                ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                              "keyauth: %uD more refusals of client \"%s\" "
                              "(%s) in the last %L s",
                              overdue[i].unlogged, overdue[i].client_id,
                              keyauth_verdict_reason(overdue[i].verdict),
                              overdue[i].seconds);

            } else {
                ngx_log_error(NGX_LOG_INFO, ev->log, 0,
                              "keyauth: %uD more refusals (%s) in the last %L s",
                              overdue[i].unlogged,
                              keyauth_verdict_reason(overdue[i].verdict),
                              overdue[i].seconds);
            }
        }

    } while (n == 16);

    if (keyauth_refusal_log_pending(ngx_http_keyauth_refusals) && !ngx_exiting) {
        ngx_add_timer(ev, 1000);
    }
}


void
ngx_http_keyauth_refusals_exit(void)
{
    keyauth_refusal_log_free(ngx_http_keyauth_refusals);
    ngx_http_keyauth_refusals = NULL;
    ngx_http_keyauth_refusals_tried = 0;
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


ngx_int_t
ngx_http_keyauth_refusal_init(ngx_conf_t *cf)
{
    ngx_http_handler_pt           *h;
    ngx_http_core_main_conf_t     *cmcf;
    ngx_http_keyauth_main_conf_t  *kmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    /*
     * only "satisfy any" lets a request that keyauth refused through (the
     * locations are merged by now): elsewhere no request pays for the phase
     */

    if (kmcf->satisfy_any) {
        h = ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_keyauth_precontent_handler;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_keyauth_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_keyauth_body_filter;

    return NGX_OK;
}
