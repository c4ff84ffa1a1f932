/* mqtt_connect_bench: how many MQTT 3.1.1 CONNECT -> CONNACK -> DISCONNECT
 * cycles a broker completes per second, from many concurrent connections.
 * Raw sockets (no libmosquitto); OpenSSL for TLS listeners.
 *
 *   mqtt_connect_bench -p PORT [-H 127.0.0.1] [-c CONNECTIONS] [-d SECONDS]
 *       [-u USERNAME] [-P PASSWORD] [-U FILE]       FILE: one username per line,
 *                                                    a different one per connect
 *       [-S LINE]                                    start -U's file at LINE (mod its
 *                                                    length): runs that must not reuse
 *                                                    one another's clients
 *       [--tls --cafile CA [--certs FILE]]           FILE: lines "id cert.pem key.pem";
 *                                                    connection k uses line k % n
 *                                                    and its id as MQTT client id
 *       [--expect-refused]                           CONNACK "not authorized" counts
 *       [-n CYCLES]                                  stop after CYCLES cycles in all
 *                                                    (instruction counts: exactly
 *                                                    that much work, any load)
 *   mqtt_connect_bench --watch -p PORT -u TOKEN [-d SECONDS]
 *       connects once, prints "connected", then "closed <unix ns>" when the
 *       broker drops the session (exit 0), or exits 2 after SECONDS.
 *
 * Each of the CONNECTIONS threads keeps one connection in flight: connect,
 * (TLS handshake,) CONNECT, wait for CONNACK, DISCONNECT, wait for the broker
 * to close, repeat until SECONDS are over. Prints one line:
 *   cycles N rate R/s accepted A refused F errors E connack_p50_us X p99_us Y
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_LINE = 512, MAX_CONNECTIONS = 1024 };

struct certificate_line {
    char id[MAX_LINE];
    char cert[MAX_LINE];
    char key[MAX_LINE];
};

static struct {
    const char *host;
    int port;
    int connections;
    double seconds;
    const char *username;
    const char *password;
    char **usernames; /* from -U */
    size_t username_count;
    int tls;
    const char *cafile;
    struct certificate_line *certificates;
    size_t certificate_count;
    int expect_refused;
    int watch;
    unsigned long cycles; /* 0: until SECONDS are over */
} opt = {.host = "127.0.0.1", .connections = 16, .seconds = 5};

static atomic_ulong next_username;
static atomic_ulong cycles_started;
static double deadline;

struct worker {
    pthread_t thread;
    int index;
    SSL_CTX *ctx;
    const char *client_id; /* fixed (certificates) or NULL */
    unsigned long accepted, refused, errors;
    double *latencies_us;
    size_t latency_count, latency_capacity;
};

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what) {
    fprintf(stderr, "mqtt_connect_bench: %s\n", what);
    exit(2);
}

/* ---- one connection: a socket, or TLS over it ---------------------- */

struct link {
    int fd;
    SSL *ssl;
};

static int link_open(struct link *l, SSL_CTX *ctx) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)opt.port)};
    l->ssl = NULL;
    if (inet_pton(AF_INET, opt.host, &addr.sin_addr) != 1) die("bad -H address");
    l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l->fd < 0) return -1;
    int one = 1;
    setsockopt(l->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(l->fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(l->fd);
        return -1;
    }
    if (ctx == NULL) return 0;
    l->ssl = SSL_new(ctx);
    if (l->ssl == NULL || SSL_set_fd(l->ssl, l->fd) != 1 || SSL_connect(l->ssl) != 1) {
        ERR_clear_error();
        if (l->ssl) SSL_free(l->ssl);
        close(l->fd);
        return -1;
    }
    return 0;
}

static int link_write(struct link *l, const unsigned char *data, size_t length) {
    while (length > 0) {
        ssize_t n = l->ssl ? SSL_write(l->ssl, data, (int)length) : write(l->fd, data, length);
        if (n <= 0) {
            if (!l->ssl && n < 0 && errno == EINTR) continue;
            return -1;
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Reads exactly length bytes; 0 on success, 1 on a clean close, -1 on error. */
static int link_read(struct link *l, unsigned char *data, size_t length) {
    while (length > 0) {
        ssize_t n = l->ssl ? SSL_read(l->ssl, data, (int)length) : read(l->fd, data, length);
        if (n == 0) return 1;
        if (n < 0) {
            if (!l->ssl && errno == EINTR) continue;
            return l->ssl ? 1 : -1; /* a TLS peer may just drop the socket */
        }
        data += n;
        length -= (size_t)n;
    }
    return 0;
}

static void link_close(struct link *l) {
    if (l->ssl) SSL_free(l->ssl);
    ERR_clear_error();
    close(l->fd);
}

/* ---- MQTT 3.1.1 packets ----------------------------------------------- */

static size_t put_string(unsigned char *at, const char *s) {
    size_t n = strlen(s);
    at[0] = (unsigned char)(n >> 8);
    at[1] = (unsigned char)(n & 0xff);
    memcpy(at + 2, s, n);
    return n + 2;
}

/* CONNECT with clean session, keepalive 60 s. Returns its length. */
static size_t mqtt_connect_packet(unsigned char *out, size_t capacity, const char *client_id,
                                  const char *username, const char *password) {
    unsigned char body[2048];
    size_t n = 0;
    if (strlen(client_id) + (username ? strlen(username) : 0) +
            (password ? strlen(password) : 0) + 32 > sizeof body) {
        die("CONNECT fields too long");
    }
    n += put_string(body + n, "MQTT");
    body[n++] = 4; /* protocol level 3.1.1 */
    body[n++] = (unsigned char)(0x02 | (username ? 0x80 : 0) | (password ? 0x40 : 0));
    body[n++] = 0;
    body[n++] = 60;
    n += put_string(body + n, client_id);
    if (username) n += put_string(body + n, username);
    if (password) n += put_string(body + n, password);
    size_t at = 0;
    out[at++] = 0x10;
    size_t remaining = n;
    do { /* variable-length remaining length */
        unsigned char byte = remaining % 128;
        remaining /= 128;
        out[at++] = (unsigned char)(byte | (remaining ? 0x80 : 0));
    } while (remaining);
    if (at + n > capacity) die("CONNECT too long");
    memcpy(out + at, body, n);
    return at + n;
}

static const unsigned char kDisconnect[2] = {0xe0, 0x00};

/* CONNECT -> CONNACK -> DISCONNECT -> close. CONNACK return code, or -1. */
static int connect_cycle(struct worker *w, unsigned long serial, double *connack_us) {
    const char *username = opt.username;
    if (opt.usernames) {
        username = opt.usernames[atomic_fetch_add(&next_username, 1) % opt.username_count];
    }
    /* A token session's client id is its registered id, ':' and a suffix. */
    const char *token_id_end = username ? strstr(username, ":b:") : NULL;
    char client_id[128];
    if (w->client_id) {
        snprintf(client_id, sizeof client_id, "%s", w->client_id);
    } else if (token_id_end) {
        snprintf(client_id, sizeof client_id, "%.*s:bench-%d-%lu", (int)(token_id_end - username),
                 username, w->index, serial);
    } else {
        snprintf(client_id, sizeof client_id, "bench-%d-%lu", w->index, serial);
    }
    unsigned char packet[4096];
    size_t length = mqtt_connect_packet(packet, sizeof packet, client_id, username, opt.password);

    struct link l;
    if (link_open(&l, w->ctx) != 0) return -1;
    double t0 = now_seconds();
    unsigned char connack[4];
    int rc = -1;
    if (link_write(&l, packet, length) == 0 && link_read(&l, connack, sizeof connack) == 0 &&
        connack[0] == 0x20 && connack[1] == 0x02) {
        *connack_us = (now_seconds() - t0) * 1e6;
        rc = connack[3];
    }
    if (rc == 0) {
        /* Leave cleanly and let the broker close first. */
        unsigned char rest;
        if (link_write(&l, kDisconnect, sizeof kDisconnect) != 0 || link_read(&l, &rest, 1) == 0) {
            rc = -1;
        }
    }
    link_close(&l);
    return rc;
}

static void record_latency(struct worker *w, double us) {
    if (w->latency_count == w->latency_capacity) {
        w->latency_capacity = w->latency_capacity ? 2 * w->latency_capacity : 4096;
        w->latencies_us = realloc(w->latencies_us, w->latency_capacity * sizeof(double));
        if (!w->latencies_us) die("out of memory");
    }
    w->latencies_us[w->latency_count++] = us;
}

static void *worker_main(void *arg) {
    struct worker *w = arg;
    unsigned long serial = 0;
    while (now_seconds() < deadline) {
        if (opt.cycles && atomic_fetch_add(&cycles_started, 1) >= opt.cycles) break;
        double us = 0;
        int rc = connect_cycle(w, serial++, &us);
        if (rc == 0) {
            w->accepted++;
            record_latency(w, us);
        } else if (rc == 5 || rc == 4) { /* not authorized, bad user name or password */
            w->refused++;
            record_latency(w, us);
        } else {
            w->errors++;
            usleep(1000); /* do not spin on a broker that is not there */
        }
    }
    return NULL;
}

/* ---- setup --------------------------------------------------------------- */

static char *trim(char *s) {
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = '\0';
    return s;
}

static void read_usernames(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot read the -U file");
    char line[MAX_LINE];
    size_t capacity = 0;
    while (fgets(line, sizeof line, f)) {
        trim(line);
        if (line[0] == '\0') continue;
        if (opt.username_count == capacity) {
            capacity = capacity ? 2 * capacity : 1024;
            opt.usernames = realloc(opt.usernames, capacity * sizeof(char *));
            if (!opt.usernames) die("out of memory");
        }
        opt.usernames[opt.username_count++] = strdup(line);
    }
    fclose(f);
    if (opt.username_count == 0) die("the -U file is empty");
}

static void read_certificates(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) die("cannot read the --certs file");
    char line[3 * MAX_LINE];
    while (fgets(line, sizeof line, f)) {
        opt.certificates = realloc(opt.certificates,
                                   (opt.certificate_count + 1) * sizeof *opt.certificates);
        if (!opt.certificates) die("out of memory");
        struct certificate_line *c = &opt.certificates[opt.certificate_count];
        if (sscanf(line, "%511s %511s %511s", c->id, c->cert, c->key) == 3) opt.certificate_count++;
    }
    fclose(f);
    if (opt.certificate_count == 0) die("the --certs file is empty");
}

static SSL_CTX *make_tls_context(const struct certificate_line *certificate) {
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) die("SSL_CTX_new");
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(ctx, opt.cafile, NULL) != 1) die("cannot load --cafile");
    /* A full handshake every time, as a fleet of distinct devices would do. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    if (certificate) {
        if (SSL_CTX_use_certificate_chain_file(ctx, certificate->cert) != 1 ||
            SSL_CTX_use_PrivateKey_file(ctx, certificate->key, SSL_FILETYPE_PEM) != 1) {
            die("cannot load a client certificate or key");
        }
    }
    return ctx;
}

static int compare_doubles(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static int watch(void) {
    struct worker w = {0};
    if (opt.tls) w.ctx = make_tls_context(opt.certificate_count ? &opt.certificates[0] : NULL);
    const char *token_id_end = opt.username ? strstr(opt.username, ":b:") : NULL;
    char token_client_id[128];
    const char *client_id = "bench-watch";
    if (opt.certificate_count) {
        client_id = opt.certificates[0].id;
    } else if (token_id_end) {
        snprintf(token_client_id, sizeof token_client_id, "%.*s:bench-watch",
                 (int)(token_id_end - opt.username), opt.username);
        client_id = token_client_id;
    }
    unsigned char packet[4096];
    size_t length = mqtt_connect_packet(packet, sizeof packet, client_id, opt.username, opt.password);
    struct link l;
    if (link_open(&l, w.ctx) != 0) die("cannot connect");
    unsigned char connack[4];
    if (link_write(&l, packet, length) != 0 || link_read(&l, connack, sizeof connack) != 0 ||
        connack[0] != 0x20 || connack[3] != 0) {
        die("CONNECT refused");
    }
    printf("connected\n");
    fflush(stdout);
    struct timeval timeout = {.tv_sec = (time_t)opt.seconds};
    setsockopt(l.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    unsigned char byte;
    int rc = link_read(&l, &byte, 1);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    if (rc == -1 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        printf("timeout\n");
        return 2;
    }
    printf("closed %lld%09ld\n", (long long)ts.tv_sec, ts.tv_nsec);
    link_close(&l);
    return 0;
}

static void usage(void) {
    fputs("usage: mqtt_connect_bench -p PORT [-H ADDR] [-c CONNECTIONS] [-d SECONDS]\n"
          "       [-u USER] [-P PASSWORD] [-U FILE] [--tls --cafile CA [--certs FILE]]\n"
          "       [--expect-refused] [-n CYCLES] [--watch]\n",
          stderr);
    exit(2);
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define VALUE() (v ? (i++, v) : (usage(), ""))
        if (!strcmp(a, "-p")) opt.port = atoi(VALUE());
        else if (!strcmp(a, "-H")) opt.host = VALUE();
        else if (!strcmp(a, "-c")) opt.connections = atoi(VALUE());
        else if (!strcmp(a, "-d")) opt.seconds = atof(VALUE());
        else if (!strcmp(a, "-u")) opt.username = VALUE();
        else if (!strcmp(a, "-P")) opt.password = VALUE();
        else if (!strcmp(a, "-U")) read_usernames(VALUE());
        else if (!strcmp(a, "--tls")) opt.tls = 1;
        else if (!strcmp(a, "--cafile")) opt.cafile = VALUE();
        else if (!strcmp(a, "--certs")) read_certificates(VALUE());
        else if (!strcmp(a, "--expect-refused")) opt.expect_refused = 1;
        else if (!strcmp(a, "--watch")) opt.watch = 1;
        else if (!strcmp(a, "-n")) opt.cycles = strtoul(VALUE(), NULL, 10);
        else if (!strcmp(a, "-S")) atomic_store(&next_username, strtoul(VALUE(), NULL, 10));
        else usage();
#undef VALUE
    }
    if (opt.port <= 0 || opt.connections <= 0 || opt.connections > MAX_CONNECTIONS ||
        opt.seconds <= 0 || (opt.tls && !opt.cafile)) {
        usage();
    }
    if (opt.watch) return watch();

    struct worker *workers = calloc((size_t)opt.connections, sizeof *workers);
    if (!workers) die("out of memory");
    for (int t = 0; t < opt.connections; t++) {
        workers[t].index = t;
        const struct certificate_line *c =
            opt.certificate_count ? &opt.certificates[(size_t)t % opt.certificate_count] : NULL;
        if (opt.tls) workers[t].ctx = make_tls_context(c);
        if (c) workers[t].client_id = c->id;
    }
    double start = now_seconds();
    deadline = start + opt.seconds;
    for (int t = 0; t < opt.connections; t++) {
        if (pthread_create(&workers[t].thread, NULL, worker_main, &workers[t]) != 0) {
            die("pthread_create");
        }
    }
    unsigned long accepted = 0, refused = 0, errors = 0;
    size_t total = 0;
    for (int t = 0; t < opt.connections; t++) {
        pthread_join(workers[t].thread, NULL);
        accepted += workers[t].accepted;
        refused += workers[t].refused;
        errors += workers[t].errors;
        total += workers[t].latency_count;
    }
    double elapsed = now_seconds() - start;
    double *all = malloc((total ? total : 1) * sizeof(double));
    size_t at = 0;
    for (int t = 0; t < opt.connections; t++) {
        memcpy(all + at, workers[t].latencies_us, workers[t].latency_count * sizeof(double));
        at += workers[t].latency_count;
        free(workers[t].latencies_us);
        if (workers[t].ctx) SSL_CTX_free(workers[t].ctx);
    }
    qsort(all, total, sizeof(double), compare_doubles);
    unsigned long counted = opt.expect_refused ? refused : accepted;
    printf("cycles %lu rate %.1f/s accepted %lu refused %lu errors %lu connack_p50_us %.0f "
           "p99_us %.0f\n",
           counted, (double)counted / elapsed, accepted, refused, errors,
           total ? all[total / 2] : 0.0, total ? all[(total * 99) / 100] : 0.0);
    free(all);
    free(workers);
    /* The wrong kind of answer is a failed run, not a slow one. */
    return (opt.expect_refused ? accepted : refused) == 0 && counted > 0 ? 0 : 1;
}
