
/*
 * keyauth for NGINX: "keyauth_status", the module's counters in Prometheus'
 * text exposition, like stub_status.
 *
 * The counters live in a shared memory zone, as nginx's own zones do: it
 * survives a reload. Each worker counts in a slot of its own, so counting a
 * request is one plain increment: no lock, no atomic, no system call. A
 * scrape sums the slots of every worker, old ones still draining after a
 * reload included: each cycle's workers take the slots after the previous
 * cycle's, in a ring as large as nginx's process table.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_keyauth_module.h"


#define NGX_HTTP_KEYAUTH_STATUS_SLOTS       NGX_MAX_PROCESSES
#define NGX_HTTP_KEYAUTH_STATUS_REGISTRIES  32
/* a zone left by a module of another layout is started again */
#define NGX_HTTP_KEYAUTH_STATUS_LAYOUT                                        \
    (0x6b610000 + sizeof(ngx_http_keyauth_counters_t))


/* when this nginx first saw a registry at its commit sequence */
typedef struct {
    uint32_t                       crc;        /* of its path; 0: free */
    uint64_t                       sequence;
    time_t                         seen;
} ngx_http_keyauth_status_registry_t;


typedef struct {
    ngx_uint_t                     layout;
    ngx_uint_t                     next;       /* the next cycle's first slot */
    ngx_http_keyauth_status_registry_t
                        registries[NGX_HTTP_KEYAUTH_STATUS_REGISTRIES];
    u_char                        *slots;      /* SLOTS of stride bytes */
} ngx_http_keyauth_status_sh_t;


typedef struct {
    uint64_t                       sequence;   /* 0: unreadable */
    time_t                         age;
} ngx_http_keyauth_status_sample_t;


struct ngx_http_keyauth_status_s {
    ngx_cycle_t                   *cycle;
    ngx_slab_pool_t               *shpool;
    ngx_http_keyauth_status_sh_t  *sh;
    ngx_uint_t                     first;      /* this cycle's workers' slots */
};


static ngx_int_t ngx_http_keyauth_status_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static ngx_int_t ngx_http_keyauth_status_handler(ngx_http_request_t *r);
static u_char *ngx_http_keyauth_status_registries(u_char *p,
    ngx_http_keyauth_status_t *status, ngx_array_t *registries,
    ngx_http_request_t *r);
static u_char *ngx_http_keyauth_status_label(u_char *p, ngx_str_t *value);


static ngx_str_t  ngx_http_keyauth_credential_labels[] = {
    ngx_string("token"),                /* KEYAUTH_TOKEN */
    ngx_string("certificate")           /* KEYAUTH_CERTIFICATE */
};

static ngx_str_t  ngx_http_keyauth_status_zone_name =
    ngx_string("keyauth_status");

static ngx_str_t  ngx_http_keyauth_status_requests_help = ngx_string(
    "# HELP keyauth_nginx_requests_total Requests judged by keyauth, by "
    "verdict and by the credential the verdict is about.\n"
    "# TYPE keyauth_nginx_requests_total counter\n");

/* the verification cache's two counters: HELP, TYPE and sample each */

static const char  ngx_http_keyauth_status_cache_format[] =
    "# HELP keyauth_nginx_verification_cache_hits_total Tokens whose verdict "
    "a worker took from its verification cache (verified before, under the "
    "same registry state).\n"
    "# TYPE keyauth_nginx_verification_cache_hits_total counter\n"
    "keyauth_nginx_verification_cache_hits_total %uL\n"
    "# HELP keyauth_nginx_verification_cache_misses_total Tokens a worker "
    "verified in full: its verification cache did not hold them.\n"
    "# TYPE keyauth_nginx_verification_cache_misses_total counter\n"
    "keyauth_nginx_verification_cache_misses_total %uL\n";

static ngx_str_t  ngx_http_keyauth_status_cut_help = ngx_string(
    "# HELP keyauth_nginx_streams_cut_total Open requests (WebSockets, "
    "streams, long polls) closed because their credential no longer holds, "
    "by verdict.\n"
    "# TYPE keyauth_nginx_streams_cut_total counter\n");

/* the registry's gauges, in this order: up, commit sequence, age */

static struct {
    ngx_str_t                      name;
    ngx_str_t                      help;       /* HELP and TYPE lines */
} ngx_http_keyauth_status_gauges[] = {

    { ngx_string("keyauth_nginx_registry_up"),
      ngx_string("# HELP keyauth_nginx_registry_up 1 while the registry can "
                 "be read, 0 while its requests fail closed.\n"
                 "# TYPE keyauth_nginx_registry_up gauge\n") },

    { ngx_string("keyauth_nginx_registry_commit_sequence"),
      ngx_string("# HELP keyauth_nginx_registry_commit_sequence The "
                 "registry's commit sequence this host serves: every commit "
                 "on this host moves it by one (absent while unreadable).\n"
                 "# TYPE keyauth_nginx_registry_commit_sequence gauge\n") },

    { ngx_string("keyauth_nginx_registry_age_seconds"),
      ngx_string("# HELP keyauth_nginx_registry_age_seconds Seconds since "
                 "this nginx first saw the registry at its commit sequence "
                 "(at a scrape, or since keyauth_status was turned on; "
                 "from 0 again if the clock is set back).\n"
                 "# TYPE keyauth_nginx_registry_age_seconds gauge\n") }
};

static ngx_str_t  ngx_http_keyauth_status_type =
    ngx_string("text/plain; version=0.0.4; charset=utf-8");


#define ngx_http_keyauth_status_stride()                                      \
    ngx_align(sizeof(ngx_http_keyauth_counters_t), NGX_CPU_CACHE_LINE)

#define ngx_http_keyauth_status_slot(sh, i)                                   \
    ((ngx_http_keyauth_counters_t *)                                          \
         ((sh)->slots + (i) * ngx_http_keyauth_status_stride()))


/* this worker's slot; NULL without "keyauth_status" (nothing counted) */
ngx_http_keyauth_counters_t  *ngx_http_keyauth_counters;


char *
ngx_http_keyauth_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    size_t                         size;
    ngx_shm_zone_t                *shm_zone;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_keyauth_status_t     *status;
    ngx_http_keyauth_main_conf_t  *kmcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    clcf->handler = ngx_http_keyauth_status_handler;

    kmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_keyauth_module);

    if (kmcf->status) {
        return NGX_CONF_OK;     /* one zone serves every such location */
    }

    status = ngx_pcalloc(cf->pool, sizeof(ngx_http_keyauth_status_t));
    if (status == NULL) {
        return NGX_CONF_ERROR;
    }

    status->cycle = cf->cycle;

    /* the slab pool's own pages, and slack for its rounding */

    size = sizeof(ngx_http_keyauth_status_sh_t)
           + NGX_HTTP_KEYAUTH_STATUS_SLOTS * ngx_http_keyauth_status_stride()
           + 16 * ngx_pagesize;

    shm_zone = ngx_shared_memory_add(cf, &ngx_http_keyauth_status_zone_name,
                                     size, &ngx_http_keyauth_module);
    if (shm_zone == NULL) {
        return NGX_CONF_ERROR;
    }

    shm_zone->init = ngx_http_keyauth_status_init_zone;
    shm_zone->data = status;

    kmcf->status = status;

    return NGX_CONF_OK;
}


/*
 * Run by the master as the cycle starts: on a reload, data is the previous
 * cycle's and the zone is the same memory.
 */

static ngx_int_t
ngx_http_keyauth_status_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_keyauth_status_t  *prev = data;

    size_t                         size;
    ngx_uint_t                     workers;
    ngx_core_conf_t               *ccf;
    ngx_http_keyauth_status_t     *status;
    ngx_http_keyauth_status_sh_t  *sh;

    status = shm_zone->data;
    status->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ccf = (ngx_core_conf_t *) ngx_get_conf(status->cycle->conf_ctx,
                                           ngx_core_module);

    workers = (ccf->worker_processes > 0) ? ccf->worker_processes : 1;

    if (prev && prev->sh && prev->sh->layout == NGX_HTTP_KEYAUTH_STATUS_LAYOUT)
    {
        sh = prev->sh;
        goto slots;
    }

    size = NGX_HTTP_KEYAUTH_STATUS_SLOTS * ngx_http_keyauth_status_stride();

    sh = ngx_slab_alloc(status->shpool, sizeof(ngx_http_keyauth_status_sh_t));
    if (sh == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh, sizeof(ngx_http_keyauth_status_sh_t));

    /* more than a page: whole pages, aligned on one */

    sh->slots = ngx_slab_alloc(status->shpool, size);
    if (sh->slots == NULL) {
        return NGX_ERROR;
    }

    ngx_memzero(sh->slots, size);

    sh->layout = NGX_HTTP_KEYAUTH_STATUS_LAYOUT;

    status->shpool->data = sh;

slots:

    status->sh = sh;
    status->first = sh->next;
    sh->next = (sh->next + workers) % NGX_HTTP_KEYAUTH_STATUS_SLOTS;

    return NGX_OK;
}


void
ngx_http_keyauth_status_init_process(ngx_cycle_t *cycle)
{
    ngx_http_keyauth_status_t     *status;
    ngx_http_keyauth_main_conf_t  *kmcf;

    ngx_http_keyauth_counters = NULL;

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return;
    }

    kmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_keyauth_module);

    if (kmcf == NULL || kmcf->status == NULL || kmcf->status->sh == NULL) {
        return;
    }

    status = kmcf->status;

    ngx_http_keyauth_counters = ngx_http_keyauth_status_slot(status->sh,
                  (status->first + ngx_worker) % NGX_HTTP_KEYAUTH_STATUS_SLOTS);
}


static ngx_int_t
ngx_http_keyauth_status_handler(ngx_http_request_t *r)
{
    size_t                          size;
    uint64_t                        requests[2][KEYAUTH_VERDICTS];
    uint64_t                        cut[KEYAUTH_VERDICTS];
    uint64_t                        cache[KEYAUTH_CACHE_USES];
    ngx_int_t                       rc;
    ngx_buf_t                      *b;
    ngx_uint_t                      i, k, v;
    ngx_chain_t                     out;
    ngx_http_keyauth_counters_t    *slot;
    ngx_http_keyauth_status_t      *status;
    ngx_http_keyauth_registry_t   **registries;
    ngx_http_keyauth_main_conf_t   *kmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    kmcf = ngx_http_get_module_main_conf(r, ngx_http_keyauth_module);
    status = kmcf->status;

    ngx_memzero(requests, sizeof(requests));
    ngx_memzero(cut, sizeof(cut));
    ngx_memzero(cache, sizeof(cache));

    /* plain loads of words other workers write: each is whole */

    for (i = 0; i < NGX_HTTP_KEYAUTH_STATUS_SLOTS; i++) {
        slot = ngx_http_keyauth_status_slot(status->sh, i);

        for (v = 0; v < KEYAUTH_VERDICTS; v++) {

            /* a wrong secret is told as an unknown client (keyauth.h) */

            for (k = 0; k < 2; k++) {
                requests[k][keyauth_verdict_as_counted(v)] +=
                                                       slot->requests[k][v];
            }

            cut[v] += slot->cut[v];
        }

        for (k = 0; k < KEYAUTH_CACHE_USES; k++) {
            cache[k] += slot->cache[k];
        }
    }

    registries = kmcf->registries.elts;

    /* at most 160 bytes a sample line, a path escaped at most doubled */

    size = 2048 + sizeof(ngx_http_keyauth_status_cache_format)
           + 2 * NGX_INT64_LEN + 3 * KEYAUTH_VERDICTS * 160;

    for (i = 0; i < kmcf->registries.nelts; i++) {
        size += 3 * (160 + 2 * registries[i]->path.len);
    }

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_type = ngx_http_keyauth_status_type;
    r->headers_out.content_type_len = ngx_http_keyauth_status_type.len;
    r->headers_out.content_type_lowcase = NULL;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_cpymem(b->last, ngx_http_keyauth_status_requests_help.data,
                         ngx_http_keyauth_status_requests_help.len);

    for (k = 0; k < 2; k++) {
        for (v = 0; v < KEYAUTH_VERDICTS; v++) {
            if (keyauth_verdict_as_counted(v) != v) {
                continue;
            }

            b->last = ngx_sprintf(b->last,
                          "keyauth_nginx_requests_total{verdict=\"%s\","
                          "credential=\"%V\"} %uL\n",
                          keyauth_verdict_name(v),
                          &ngx_http_keyauth_credential_labels[k],
                          requests[k][v]);
        }
    }

    b->last = ngx_cpymem(b->last, ngx_http_keyauth_status_cut_help.data,
                         ngx_http_keyauth_status_cut_help.len);

    for (v = 0; v < KEYAUTH_VERDICTS; v++) {
        if (v == KEYAUTH_ACCEPTED) {
            continue;
        }

        b->last = ngx_sprintf(b->last,
                              "keyauth_nginx_streams_cut_total"
                              "{verdict=\"%s\"} %uL\n",
                              keyauth_verdict_name(v), cut[v]);
    }

    b->last = ngx_sprintf(b->last,
                          ngx_http_keyauth_status_cache_format,
                          cache[KEYAUTH_CACHE_HIT], cache[KEYAUTH_CACHE_MISS]);

    if (kmcf->registries.nelts) {
        b->last = ngx_http_keyauth_status_registries(b->last, status,
                                                     &kmcf->registries, r);
        if (b->last == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.content_length_n = b->last - b->pos;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


/*
 * Per registry: whether it can be read, the commit sequence this host
 * serves, and for how long this nginx has seen it at that sequence (the
 * first scrape to see a new one starts its age: exact to one scrape).
 */

static u_char *
ngx_http_keyauth_status_registries(u_char *p, ngx_http_keyauth_status_t *status,
    ngx_array_t *registries, ngx_http_request_t *r)
{
    time_t                               now;
    uint32_t                             crc;
    uint64_t                             value;
    ngx_uint_t                           i, j, g;
    keyauth_registry_t                  *handle;
    ngx_http_keyauth_registry_t        **registry;
    ngx_http_keyauth_status_sample_t    *samples;
    ngx_http_keyauth_status_registry_t  *seen, *free;

    samples = ngx_pcalloc(r->pool,
                registries->nelts * sizeof(ngx_http_keyauth_status_sample_t));
    if (samples == NULL) {
        return NULL;
    }

    registry = registries->elts;
    now = ngx_time();

    for (i = 0; i < registries->nelts; i++) {
        handle = ngx_http_keyauth_open(r->connection->log, registry[i]);

        samples[i].sequence = handle ? keyauth_registry_commit_sequence(handle)
                                     : 0;
    }

    /* scrapes in other workers update the same entries */

    ngx_shmtx_lock(&status->shpool->mutex);

    for (i = 0; i < registries->nelts; i++) {
        if (samples[i].sequence == 0) {
            continue;
        }

        crc = ngx_crc32_short(registry[i]->path.data, registry[i]->path.len)
              | 1;

        seen = NULL;
        free = NULL;

        for (j = 0; j < NGX_HTTP_KEYAUTH_STATUS_REGISTRIES; j++) {
            if (status->sh->registries[j].crc == crc) {
                seen = &status->sh->registries[j];
                break;
            }

            if (free == NULL && status->sh->registries[j].crc == 0) {
                free = &status->sh->registries[j];
            }
        }

        if (seen == NULL) {
            seen = free ? free : &status->sh->registries[0];
            seen->crc = crc;
            seen->sequence = 0;
        }

        /* a clock stepped back: the age starts again, never negative */

        if (seen->sequence != samples[i].sequence || now < seen->seen) {
            seen->sequence = samples[i].sequence;
            seen->seen = now;
        }

        samples[i].age = now - seen->seen;
    }

    ngx_shmtx_unlock(&status->shpool->mutex);

    /* the samples of a metric stay together: one metric after the other */

    for (g = 0; g < 3; g++) {
        p = ngx_cpymem(p, ngx_http_keyauth_status_gauges[g].help.data,
                       ngx_http_keyauth_status_gauges[g].help.len);

        for (i = 0; i < registries->nelts; i++) {
            if (g > 0 && samples[i].sequence == 0) {
                continue;   /* no sequence, no age: absent while unreadable */
            }

            value = (g == 0) ? (samples[i].sequence != 0)
                  : (g == 1) ? samples[i].sequence
                  : (uint64_t) samples[i].age;

            p = ngx_sprintf(p, "%V{registry=\"",
                            &ngx_http_keyauth_status_gauges[g].name);
            p = ngx_http_keyauth_status_label(p, &registry[i]->path);
            p = ngx_sprintf(p, "\"} %uL\n", value);
        }
    }

    return p;
}


/* a label value: backslash, double quote and newline escaped */

static u_char *
ngx_http_keyauth_status_label(u_char *p, ngx_str_t *value)
{
    u_char      c;
    ngx_uint_t  i;

    for (i = 0; i < value->len; i++) {
        c = value->data[i];

        switch (c) {

        case '\\':
        case '"':
            *p++ = '\\';
            *p++ = c;
            break;

        case '\n':
            *p++ = '\\';
            *p++ = 'n';
            break;

        default:
            *p++ = c;
        }
    }

    return p;
}
