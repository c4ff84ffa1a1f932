
/*
 * "keyauth_last_use FILE [interval=TIME];": when each client last
 * authenticated, for "keytool list --unused". The core keeps the rule
 * (keyauth/last_use.hpp): an admission marks its client id in this
 * worker's memory (no lock, no system call); a timer marks the client of
 * every request still open (a WebSocket, a long poll or a gRPC stream open
 * for days is in use all along) and writes the marks to FILE once per
 * interval, never waiting for another worker (one that holds the file is
 * skipped until the next interval). Nothing that admits or refuses reads
 * FILE.
 */


#include "ngx_http_keyauth_module.h"


typedef struct {
    int64_t                        now;
    ngx_log_t                     *log;
    ngx_uint_t                     writable;
} ngx_http_keyauth_last_use_pass_t;


static void ngx_http_keyauth_last_use_flush(ngx_event_t *ev);
static void ngx_http_keyauth_last_use_mark_open(keyauth_result_t *grant,
    void *data);
static ngx_int_t ngx_http_keyauth_last_use_write(ngx_log_t *log);


keyauth_last_use_t            *ngx_http_keyauth_last_use;
static ngx_msec_t              ngx_http_keyauth_last_use_interval;
static ngx_event_t             ngx_http_keyauth_last_use_timer;


char *
ngx_http_keyauth_set_last_use(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_keyauth_main_conf_t *kmcf = conf;

    char        err[160];
    int64_t     seconds;
    ngx_str_t  *value;

    if (kmcf->last_use.data) {
        return "is duplicate";
    }

    value = cf->args->elts;
    seconds = 60;

    if (cf->args->nelts == 3) {
        if (value[2].len <= sizeof("interval=") - 1
            || ngx_strncmp(value[2].data, "interval=", sizeof("interval=") - 1)
               != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\": only "
                               "\"interval=TIME\" (1s to 60s) is known",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        if (keyauth_last_use_interval(
                (const char *) value[2].data + sizeof("interval=") - 1,
                value[2].len - (sizeof("interval=") - 1), &seconds,
                err, sizeof(err))
            != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%s", err);
            return NGX_CONF_ERROR;
        }
    }

    kmcf->last_use = value[1];

    /* relative to nginx's prefix; ngx_conf_full_name() ends it with NUL */
    if (ngx_conf_full_name(cf->cycle, &kmcf->last_use, 0) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    kmcf->last_use_interval = (time_t) seconds;

    return NGX_CONF_OK;
}


void
ngx_http_keyauth_last_use_init_process(ngx_cycle_t *cycle,
    ngx_http_keyauth_main_conf_t *kmcf)
{
    if (kmcf->last_use.data == NULL) {
        return;
    }

    ngx_http_keyauth_last_use = keyauth_last_use_create(
                                    (const char *) kmcf->last_use.data,
                                    (int64_t) kmcf->last_use_interval);

    if (ngx_http_keyauth_last_use == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "keyauth_last_use: out of memory, last use not recorded");
        return;
    }

    ngx_http_keyauth_last_use_interval = kmcf->last_use_interval * 1000;

    ngx_http_keyauth_last_use_timer.handler = ngx_http_keyauth_last_use_flush;
    ngx_http_keyauth_last_use_timer.log = cycle->log;
    ngx_http_keyauth_last_use_timer.data = &ngx_http_keyauth_last_use;
    /* a worker shutting down does not wait for it (exit flushes once) */
    ngx_http_keyauth_last_use_timer.cancelable = 1;
}


/* on an admission: the core's mark, and the timer if it is not set */

void
ngx_http_keyauth_last_use_mark(keyauth_result_t *result)
{
    keyauth_last_use_mark(ngx_http_keyauth_last_use, result->client_id,
                          result->client_id_len, (int64_t) ngx_time());

    if (!ngx_http_keyauth_last_use_timer.timer_set && !ngx_exiting) {
        ngx_add_timer(&ngx_http_keyauth_last_use_timer,
                      ngx_http_keyauth_last_use_interval);
    }
}


/* NGX_AGAIN: the marks are kept (another worker holds the file, a failure) */

static ngx_int_t
ngx_http_keyauth_last_use_write(ngx_log_t *log)
{
    ngx_int_t                 rc;
    keyauth_last_use_flush_t  flush;

    keyauth_last_use_flush(ngx_http_keyauth_last_use, (int64_t) ngx_time(),
                           &flush);

    rc = (flush.outcome == KEYAUTH_LAST_USE_BUSY
          || flush.outcome == KEYAUTH_LAST_USE_FAILED) ? NGX_AGAIN : NGX_OK;

    if (!flush.report) {
        return rc;
    }

    if (flush.outcome == KEYAUTH_LAST_USE_FAILED) {
        /* said once until it changes: a full disk does not flood the log */
        ngx_log_error(NGX_LOG_ERR, log, 0, "keyauth_last_use: %s",
                      flush.message);

    } else {
        ngx_log_error(NGX_LOG_NOTICE, log, 0,
                      "keyauth_last_use: records written again");
    }

    return rc;
}


/*
 * Once an interval: the client of every open request is marked as used
 * now, then the marks are written. The pass is O(open requests) per
 * interval (a hash and a compare each, nothing allocated); an admission
 * costs what it did. The timer stays armed while requests are open.
 */

static void
ngx_http_keyauth_last_use_flush(ngx_event_t *ev)
{
    ngx_uint_t                        open;
    ngx_http_keyauth_last_use_pass_t  pass;

    pass.now = (int64_t) ngx_time();
    pass.log = ev->log;
    pass.writable = 1;

    open = ngx_http_keyauth_streams_each(ngx_http_keyauth_last_use_mark_open,
                                         &pass);

    /* the timer fires once an interval: what is pending is due */

    if (keyauth_last_use_pending(ngx_http_keyauth_last_use)) {
        (void) ngx_http_keyauth_last_use_write(ev->log);
    }

    /*
     * marks kept (another worker held the file, or a failure): next time;
     * an old worker draining open requests after a reload keeps marking
     * them (the timer is cancelable: it never holds the worker up)
     */

    if (open
        || (keyauth_last_use_pending(ngx_http_keyauth_last_use)
            && !ngx_exiting))
    {
        ngx_add_timer(ev, ngx_http_keyauth_last_use_interval);
    }
}


static void
ngx_http_keyauth_last_use_mark_open(keyauth_result_t *grant, void *data)
{
    ngx_http_keyauth_last_use_pass_t  *pass = data;

    keyauth_last_use_mark(ngx_http_keyauth_last_use, grant->client_id,
                          grant->client_id_len, pass->now);

    /*
     * more clients than the marks' table holds: written as the pass goes,
     * and this one marked again (it may have been dropped), until the file
     * is busy or fails (then some may wait for a later interval)
     */

    if (!pass->writable
        || !keyauth_last_use_crowded(ngx_http_keyauth_last_use))
    {
        return;
    }

    if (ngx_http_keyauth_last_use_write(pass->log) != NGX_OK) {
        pass->writable = 0;
        return;
    }

    keyauth_last_use_mark(ngx_http_keyauth_last_use, grant->client_id,
                          grant->client_id_len, pass->now);
}


void
ngx_http_keyauth_last_use_exit(ngx_cycle_t *cycle)
{
    if (ngx_http_keyauth_last_use == NULL) {
        return;
    }

    /* one last try, never waiting: a busy file keeps the marks unwritten */

    if (keyauth_last_use_pending(ngx_http_keyauth_last_use)) {
        (void) ngx_http_keyauth_last_use_write(cycle->log);
    }

    if (ngx_http_keyauth_last_use_timer.timer_set) {
        ngx_del_timer(&ngx_http_keyauth_last_use_timer);
    }

    keyauth_last_use_free(ngx_http_keyauth_last_use);
    ngx_http_keyauth_last_use = NULL;
}
