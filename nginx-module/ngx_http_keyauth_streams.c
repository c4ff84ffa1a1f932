
/*
 * keyauth for NGINX: open requests, cut when their credential is revoked.
 *
 * Each worker links every request this module admitted into one list,
 * unlinked by a pool cleanup when the request is freed. While the list is
 * not empty a timer asks the core, every 250 ms, whether a sweep of each
 * registry is due (its generation moved, a validity ended, the grace of an
 * unreadable registry ran out): only then are that registry's requests
 * rechecked, and those the core rules cut are closed as nginx closes a
 * request on an error (HTTP/1: the connection; HTTP/2: RST_STREAM),
 * upstream connection included. A registry that cannot be read cuts
 * nothing until "keyauth_registry_error_grace" has passed.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_keyauth_module.h"


#define NGX_HTTP_KEYAUTH_SWEEP_INTERVAL  250


static void ngx_http_keyauth_untrack(void *data);
static void ngx_http_keyauth_sweep_handler(ngx_event_t *ev);
static ngx_uint_t ngx_http_keyauth_begin_sweeps(time_t now);
static void ngx_http_keyauth_end_sweeps(ngx_log_t *log);
static void ngx_http_keyauth_close_revoked(ngx_http_request_t *r,
    keyauth_result_t *grant);


static ngx_queue_t   ngx_http_keyauth_streams;
static ngx_event_t   ngx_http_keyauth_sweep_event;


/*
 * The grant kept for the request's life: the context's own stream, which
 * the verdict was written in when grant is its grant (no copy). Allocates
 * nothing, cannot fail.
 */

keyauth_result_t *
ngx_http_keyauth_track(ngx_http_request_t *r,
    ngx_http_keyauth_registry_t *registry, ngx_http_keyauth_ctx_t *ctx,
    keyauth_result_t *grant)
{
    ngx_pool_cleanup_t         *cln;
    ngx_http_keyauth_stream_t  *stream;

    /*
     * an internal redirect admits the same request again (with a context of
     * its own, the one before cleared): one entry, the first context's
     */

    stream = NULL;

    if (!ctx->tracked) {
        for (cln = r->pool->cleanup; cln; cln = cln->next) {
            if (cln->handler == ngx_http_keyauth_untrack) {
                stream = cln->data;
                break;
            }
        }

    } else {
        stream = &ctx->stream;
    }

    if (stream == NULL) {
        /*
         * the pool's cleanup, in the context (which lives as long as the
         * pool): linked as ngx_pool_cleanup_add() links one, no allocation
         */

        stream = &ctx->stream;
        stream->request = r;

        ngx_queue_insert_tail(&ngx_http_keyauth_streams, &stream->queue);

        cln = &stream->cleanup;
        cln->handler = ngx_http_keyauth_untrack;
        cln->data = stream;
        cln->next = r->pool->cleanup;
        r->pool->cleanup = cln;

        ctx->tracked = 1;

        if (!ngx_http_keyauth_sweep_event.timer_set) {
            ngx_add_timer(&ngx_http_keyauth_sweep_event,
                          NGX_HTTP_KEYAUTH_SWEEP_INTERVAL);
        }
    }

    stream->registry = registry;

    if (&stream->grant != grant) {
        stream->grant = *grant;
    }

    keyauth_sweep_admitted(&registry->sweep, grant->not_after);

    return &stream->grant;
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


/*
 * Visits the grant of each open request not yet answered (what admitted it:
 * its client id); returns how many. O(open requests): for a timer, never
 * per request.
 */

ngx_uint_t
ngx_http_keyauth_streams_each(ngx_http_keyauth_stream_visit_pt visit,
    void *data)
{
    ngx_uint_t                  n;
    ngx_queue_t                *q;
    ngx_http_keyauth_stream_t  *stream;

    n = 0;

    for (q = ngx_queue_head(&ngx_http_keyauth_streams);
         q != ngx_queue_sentinel(&ngx_http_keyauth_streams);
         q = ngx_queue_next(q))
    {
        stream = ngx_queue_data(q, ngx_http_keyauth_stream_t, queue);

        if (stream->request->done) {
            continue;   /* answered: nginx is only closing or draining it */
        }

        visit(&stream->grant, data);
        n++;
    }

    return n;
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

    ngx_http_keyauth_count_cut(grant->verdict);

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


void
ngx_http_keyauth_streams_init(ngx_cycle_t *cycle)
{
    ngx_queue_init(&ngx_http_keyauth_streams);

    ngx_http_keyauth_sweep_event.handler = ngx_http_keyauth_sweep_handler;
    ngx_http_keyauth_sweep_event.log = cycle->log;
    ngx_http_keyauth_sweep_event.data = &ngx_http_keyauth_streams;

    /* no reason to keep a worker that is shutting down */
    ngx_http_keyauth_sweep_event.cancelable = 1;
}
