/*
 * The C facade of the keyauth core, for C callers (the NGINX glue).
 * Errors are values; nothing here throws, nothing here logs, no secret is
 * ever copied into an error message.
 */
#ifndef KEYAUTH_KEYAUTH_H
#define KEYAUTH_KEYAUTH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KEYAUTH_CLIENT_ID_MAX 64

typedef struct keyauth_registry_s keyauth_registry_t;
struct x509_st;

typedef enum {
    KEYAUTH_ACCEPTED = 0,
    KEYAUTH_MISSING,         /* no credential presented */
    KEYAUTH_MALFORMED,       /* not "<id>:b:<64 lowercase hex>", or bad header */
    KEYAUTH_UNKNOWN_CLIENT,  /* no such client (never issued, or deleted) */
    KEYAUTH_MISMATCH,        /* secret or certificate does not match */
    KEYAUTH_NOT_YET_VALID,
    KEYAUTH_EXPIRED,
    KEYAUTH_REGISTRY_ERROR,  /* registry unreadable: fail closed */
    KEYAUTH_NOT_VERIFIED,    /* the TLS layer did not verify the certificate */
    KEYAUTH_DIFFERENT_CLIENTS, /* token and certificate name two clients */
    KEYAUTH_CLIENT_ID_REFUSED, /* MQTT only: never returned here */
    KEYAUTH_PASSWORD_MISSING,  /* MQTT only: a client id as username, no password */
    KEYAUTH_SUSPENDED          /* the client is suspended (keytool suspend) */
} keyauth_verdict_t;

/* How many verdicts there are: for tables indexed by verdict. */
#define KEYAUTH_VERDICTS (KEYAUTH_SUSPENDED + 1)

typedef enum {
    KEYAUTH_TOKEN = 0,
    KEYAUTH_CERTIFICATE
} keyauth_credential_t;

/* Whether a token's verdict came from this process's verification cache
 * (a token it verified before, under the same registry state). */
typedef enum {
    KEYAUTH_CACHE_NOT_CONSULTED = 0, /* no token the cache could hold (a
                                        certificate, none, registry unreadable) */
    KEYAUTH_CACHE_HIT,               /* answered from the cache */
    KEYAUTH_CACHE_MISS               /* not in it: verified in full */
} keyauth_cache_use_t;

/* How many there are: for tables indexed by cache use. */
#define KEYAUTH_CACHE_USES (KEYAUTH_CACHE_MISS + 1)

typedef struct {
    keyauth_verdict_t    verdict;
    size_t               client_id_len;
    char                 client_id[KEYAUTH_CLIENT_ID_MAX + 1]; /* NUL-terminated */
    /* the credential the verdict is about: the refused one, or the one that
     * admitted (the certificate when both did) */
    keyauth_credential_t about;
    /* set when accepted: what keyauth_recheck() takes (end of this file) */
    int64_t              not_after;      /* Unix time the validity ends */
    uint8_t              credential[32]; /* about's token hash or fingerprint */
    /* keyauth_authenticate(): for hit and miss counters */
    keyauth_cache_use_t  cache;
} keyauth_result_t;

/* How a location treats one kind of credential. */
typedef enum {
    KEYAUTH_CHECK_OFF = 0,        /* not looked at */
    KEYAUTH_CHECK_WHEN_PRESENTED, /* judged if presented */
    KEYAUTH_CHECK_REQUIRED        /* must be presented and pass */
} keyauth_check_t;

/* What an HTTP request presented, unchecked. */
typedef struct {
    /* "Bearer" (any case), one or more spaces, the token, nothing else */
    const char          *authorization;     /* header value; NULL: no header */
    size_t               authorization_len;
    struct x509_st      *certificate;       /* peer certificate, or NULL */
    int                  certificate_verified; /* the TLS layer verified it */
    keyauth_check_t      token;
    keyauth_check_t      client_certificate;
} keyauth_request_t;

/*
 * Opens the registry directory read-only. Call after fork (one handle per
 * process). Returns 0, or -1 with a one-line reason in err. For servers: a
 * registry owned by the calling process's user (unless root) or by a
 * server's user (www-data, nginx, mosquitto) is refused, at every opening.
 */
int keyauth_registry_open(const char *dir, keyauth_registry_t **out, char *err,
    size_t err_len);
void keyauth_registry_close(keyauth_registry_t *registry);

/*
 * Checks, without opening it, that dir is a registry a server can open:
 * for configuration tests, run before the workers exist. Its owner judged
 * as keyauth_registry_open() judges it. Returns 0, or -1 with a one-line
 * reason in err.
 */
int keyauth_registry_check(const char *dir, char *err, size_t err_len);

/*
 * Is dir fit for workers started as the given user (with the given primary
 * group and its supplementary groups): can they read what a server reads
 * (the directory and the files in it the servers map), and can they not
 * write it (they do not own it)? For a master process that will start
 * workers as that user. Returns 0, or -1 with a one-line reason naming the
 * file (and its group) in err. Files that are missing are
 * keyauth_registry_check()'s to judge.
 */
int keyauth_registry_check_workers_user(const char *dir, const char *user, unsigned uid,
    unsigned gid, char *err, size_t err_len);

/*
 * The credential policy, one call per request: each credential is judged as
 * the request says, a token and a certificate judged together must name the
 * same client, and the result names the client and the credential the
 * verdict is about. Refuses (KEYAUTH_MISSING) when nothing is checked.
 */
void keyauth_authenticate(keyauth_registry_t *registry,
    const keyauth_request_t *request, keyauth_result_t *result);

/* A short, secret-free description of a verdict, for logs. */
const char *keyauth_verdict_reason(keyauth_verdict_t verdict);
/* The verdict's stable snake_case name, for metrics ("unknown_client"). */
const char *keyauth_verdict_name(keyauth_verdict_t verdict);
/* The verdict as metrics count it: KEYAUTH_MISMATCH (a wrong secret for a
 * registered id) as KEYAUTH_UNKNOWN_CLIENT, so that counters do not tell
 * which ids are registered. Logs keep the verdict itself. */
keyauth_verdict_t keyauth_verdict_as_counted(keyauth_verdict_t verdict);

/* ---------------------------------------------------------------------
 * Requests that stay open (WebSockets, gRPC and SSE streams, long polls):
 * seeing whether an admission still holds, without the secret. Cheap while
 * nothing changes: compare keyauth_registry_generation(), and the earliest
 * not_after with the clock, before rechecking anything.
 * ------------------------------------------------------------------- */

/*
 * Changes on every commit to the registry and when it is replaced; only
 * equality means anything. A registry that cannot be read gives a value no
 * commit gives, so a caller rechecks and fails closed.
 */
uint64_t keyauth_registry_generation(keyauth_registry_t *registry);

/*
 * The commit sequence of the state a lookup made now would read: the
 * counter in commit.seq, which every commit on this host moves by one
 * (keytool's, keyauth-sync's); the same in every process reading the
 * registry. 0 when the registry cannot be read. For monitoring only.
 */
uint64_t keyauth_registry_commit_sequence(keyauth_registry_t *registry);

/*
 * Rechecks an accepted result against the registry, now. It stays accepted
 * (not_after renewed) while the client's record holds the very credential
 * that admitted it (about, credential) and is live; otherwise its verdict
 * becomes the refusal: KEYAUTH_UNKNOWN_CLIENT (deleted), KEYAUTH_MISMATCH
 * (re-issued), KEYAUTH_EXPIRED, KEYAUTH_NOT_YET_VALID or
 * KEYAUTH_REGISTRY_ERROR.
 */
void keyauth_recheck(keyauth_registry_t *registry, keyauth_result_t *admitted);

/* ---------------------------------------------------------------------
 * The revocation sweep's rule, the same for both servers: when the open
 * requests admitted under one registry must be rechecked, and what each
 * recheck means. A registry that cannot be read is not a revocation: its
 * requests are kept for error_grace seconds, and cut only on a positive
 * answer (deleted, re-issued, expired) or once it stayed unreadable longer.
 *
 *   if (keyauth_sweep_due(&s, keyauth_registry_generation(reg), now)) {
 *       keyauth_sweep_begin(&s, generation);
 *       for each request: keyauth_recheck(reg, &grant);
 *                         fate = keyauth_sweep_judge(&s, &grant, now);
 *       news = keyauth_sweep_end(&s);
 *   }
 * ------------------------------------------------------------------- */

#define KEYAUTH_DEFAULT_REGISTRY_ERROR_GRACE 60

/* The caller's storage for the rule's state: set up by keyauth_sweep_init(),
 * no allocation, nothing to free; one per registry and process. */
typedef struct {
    uint64_t             opaque[16];
} keyauth_sweep_t;

typedef enum {
    KEYAUTH_SESSION_KEEP = 0,
    KEYAUTH_SESSION_KEEP_THROUGH_ERROR, /* registry unreadable: kept, for now */
    KEYAUTH_SESSION_CUT
} keyauth_session_fate_t;

/* What a sweep has to tell the operator, once. */
typedef enum {
    KEYAUTH_SWEEP_NEWS_NONE = 0,
    KEYAUTH_SWEEP_REGISTRY_UNREADABLE, /* requests kept, for at most the grace */
    KEYAUTH_SWEEP_REGISTRY_READABLE    /* it answers again */
} keyauth_sweep_news_t;

void keyauth_sweep_init(keyauth_sweep_t *sweep, int64_t error_grace);
/* A request was admitted with this validity (result.not_after). */
void keyauth_sweep_admitted(keyauth_sweep_t *sweep, int64_t not_after);
/* Nonzero when the requests must be rechecked now; generation is read
 * before the rechecks. */
int keyauth_sweep_due(const keyauth_sweep_t *sweep, uint64_t generation,
    int64_t now);
void keyauth_sweep_begin(keyauth_sweep_t *sweep, uint64_t generation);
/*
 * The fate of a grant keyauth_recheck() just rechecked. Kept (either way),
 * its verdict is KEYAUTH_ACCEPTED again; cut, its verdict says why:
 * KEYAUTH_EXPIRED also when the registry is unreadable and the validity it
 * last gave has ended, KEYAUTH_REGISTRY_ERROR once the grace is over.
 */
keyauth_session_fate_t keyauth_sweep_judge(keyauth_sweep_t *sweep,
    keyauth_result_t *rechecked, int64_t now);
keyauth_sweep_news_t keyauth_sweep_end(keyauth_sweep_t *sweep);
/* How many requests the last sweep kept only through the error. */
size_t keyauth_sweep_kept_through_error(const keyauth_sweep_t *sweep);

/* ---------------------------------------------------------------------
 * The refusal log's rule (keyauth/refusal_log.hpp): per client and reason,
 * the first refusal gets a line, the next ones within a minute stay quiet
 * (counted), and the first one after the minute gets a line again, with
 * the count. One per process; no lock, no system call on the quiet path.
 *
 *   keyauth_refusal_log_note(log, result.client_id, result.client_id_len,
 *                            result.verdict, now, &note);
 *   if (note.log) write the line, and note.summary when it is not ""
 * ------------------------------------------------------------------- */

typedef struct keyauth_refusal_log_s keyauth_refusal_log_t;

typedef struct {
    int                  log;       /* nonzero: write this refusal's line */
    uint32_t             unlogged;  /* quiet refusals of its key since its last line */
    int64_t              seconds;   /* since that line */
    /* "" or, to add to the line: "and 59 more refusals of this client for
     * this reason in the last 60 s" */
    char                 summary[112];
} keyauth_refusal_note_t;

/* A key whose minute is over with refusals not logged (for a timer). */
typedef struct {
    char                 client_id[KEYAUTH_CLIENT_ID_MAX + 1]; /* "" when none */
    keyauth_verdict_t    verdict;
    uint32_t             unlogged;
    int64_t              seconds;   /* since the key's last line */
} keyauth_refusal_summary_t;

/* NULL when out of memory (then log every refusal). */
keyauth_refusal_log_t *keyauth_refusal_log_create(void);
void keyauth_refusal_log_free(keyauth_refusal_log_t *log);
/* client_id: the result's (never the token), "" when none; now: Unix
 * seconds. A NULL log says log. */
void keyauth_refusal_log_note(keyauth_refusal_log_t *log, const char *client_id,
    size_t client_id_len, keyauth_verdict_t verdict, int64_t now,
    keyauth_refusal_note_t *note);
/* Nonzero while refusals are counted and not yet logged: arm a timer. */
int keyauth_refusal_log_pending(const keyauth_refusal_log_t *log);
/* Up to capacity keys whose minute is over with refusals not logged, each
 * then counted as logged; returns how many. Call again while it fills out. */
size_t keyauth_refusal_log_take_overdue(keyauth_refusal_log_t *log, int64_t now,
    keyauth_refusal_summary_t *out, size_t capacity);

/* ---------------------------------------------------------------------
 * Last use (keyauth/last_use.hpp): when each client last authenticated,
 * "at least this recent", in a file of the server's own that nothing which
 * admits or refuses reads. One per process, made after fork:
 *
 *   on an admission:  keyauth_last_use_mark(lu, result.client_id,
 *                                           result.client_id_len, now);
 *   on a timer:       for each request or session still open:
 *                         keyauth_last_use_mark(lu, its client_id, len, now);
 *                         if (keyauth_last_use_crowded(lu)) {
 *                             flush; if WRITTEN, mark it again
 *                         }
 *                     if (keyauth_last_use_due(lu, now)) {
 *                         keyauth_last_use_flush(lu, now, &flush);
 *                         if (flush.report) log flush.message
 *                     }
 *
 * An open session is a use at every interval: a device connected for 100
 * days is not "unused for 90 days". The pass is O(open sessions) once per
 * interval; admissions cost what they did.
 *
 * A mark: no lock, no allocation, no system call. A flush never waits for
 * another process (flock LOCK_NB; busy: the marks wait for the next one).
 * ------------------------------------------------------------------- */

typedef struct keyauth_last_use_s keyauth_last_use_t;

typedef enum {
    KEYAUTH_LAST_USE_NOTHING = 0,  /* no marks pending */
    KEYAUTH_LAST_USE_WRITTEN,      /* every mark is in the file */
    KEYAUTH_LAST_USE_BUSY,         /* another process holds the file: kept */
    KEYAUTH_LAST_USE_FAILED        /* not written (message): kept */
} keyauth_last_use_outcome_t;

typedef struct {
    keyauth_last_use_outcome_t outcome;
    size_t               written;   /* records written */
    int                  report;    /* nonzero: log message (a new failure,
                                       or "" + outcome WRITTEN after one) */
    char                 message[320];
} keyauth_last_use_flush_t;

/* Parses "1s" .. "60s" (an interval= argument) into seconds. Returns 0, or
 * -1 with a one-line reason in err. */
int keyauth_last_use_interval(const char *text, size_t len, int64_t *seconds,
    char *err, size_t err_len);
/* path: NUL-terminated; interval: seconds, 1 to 60. Opens nothing yet.
 * NULL when out of memory (then nothing is recorded). */
keyauth_last_use_t *keyauth_last_use_create(const char *path, int64_t interval);
void keyauth_last_use_free(keyauth_last_use_t *lu);
/* now: Unix seconds (the caller's cached clock). A NULL lu does nothing. */
void keyauth_last_use_mark(keyauth_last_use_t *lu, const char *client_id,
    size_t client_id_len, int64_t now);
/* Nonzero when marks are pending and the interval has passed. */
int keyauth_last_use_due(const keyauth_last_use_t *lu, int64_t now);
/* Nonzero while marks are pending (keep the timer armed). */
int keyauth_last_use_pending(const keyauth_last_use_t *lu);
/* Nonzero when a quarter of the marks' table is pending or a mark was
 * dropped since the last flush: a pass marking every open session flushes,
 * then marks the session again (none is lost while the file is writable). */
int keyauth_last_use_crowded(const keyauth_last_use_t *lu);
void keyauth_last_use_flush(keyauth_last_use_t *lu, int64_t now,
    keyauth_last_use_flush_t *out);

#ifdef __cplusplus
}
#endif

#endif /* KEYAUTH_KEYAUTH_H */
