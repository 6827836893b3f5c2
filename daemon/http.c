/* SPDX-License-Identifier: MIT */
#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h" /* GH_VERSION (generated) */
#include "api.h"
#include "connguard.h"
#include "health.h"
#include "log.h"
#include "metrics.h"
#include "status.h"
#include "text.h"

/* Limits; daemon/API.md documents each one. */
#define HTTP_CONNECTION_TIMEOUT_S 10u
#define HTTP_DRAIN_MS 2000u /* at stop: the longest wait for accepted connections to finish */
#define HTTP_CONNECTION_LIMIT 256u
#define HTTP_PER_IP_LIMIT 16u
#define HTTP_MEMORY_LIMIT (64u * 1024u)
#define HTTP_LISTEN_BACKLOG 128u
#define HTTP_MAX_URL 4096u
#define HTTP_MAX_PARAMS 4u
/* Record bodies held in memory by all connections together. */
#define HTTP_MAX_RECORD_BYTES_IN_FLIGHT (64u * 1024u * 1024u)
#define HTTP_LOG_PER_SECOND 5u
/* quote_bytes buffer for user input in a message: 40 bytes and "..." (with the NUL: 45). */
#define HTTP_QUOTE_MAX 45u
/* Slowloris: request headers must arrive within this much of the connection (or of the
 * previous request on a kept-alive connection), and connections waiting for headers may
 * hold at most this share of the slots: the rest stay free for new clients. */
#define HTTP_HEADER_DEADLINE_S 5u
#define HTTP_WAITING_MAX (HTTP_CONNECTION_LIMIT * 3u / 4u)


struct http_server {
        struct MHD_Daemon *mhd;
        int own_fd; /* the socket we bound ourselves, or -1 */
        struct ledger *ledger;
        struct daemon_stats *stats;
        struct push *push;
        char *origin, *vkey, *backend;
        unsigned period_s;
        double sample_interval_s;
        uint64_t key_created_ns;
        uint64_t start_wall_ns; /* fallback for process_start_time_seconds */
        size_t max_records;
        atomic_size_t record_bytes_in_flight;

        pthread_mutex_t inv_lock; /* guards gpus/ngpus only; never held across ledger calls */
        struct gpu_info *gpus;
        size_t ngpus;

        /* The slowloris guard: MHD's thread and the sweeper, under guard_lock. */
        pthread_mutex_t guard_lock;
        struct connguard guard;
        pthread_t sweeper;
        bool sweeper_running, stopping;
        pthread_cond_t stop_cond; /* with guard_lock */
        size_t conns;              /* connections MHD accepted and has not closed (guard_lock) */
        pthread_cond_t drain_cond; /* with guard_lock: conns reached 0 */

        pthread_mutex_t log_lock; /* guards the log rate limit */
        uint64_t log_second;
        unsigned log_count, log_suppressed;

        /* Touched only by MHD's single internal thread. */
        struct MHD_Response *cp_resp;
        uint64_t cp_size;
        uint64_t cp_gen; /* push_generation() the cached response was built at */
};

/* *con_cls values: the URL exceeded HTTP_MAX_URL (see uri_log); the headers were seen. */
static char url_too_long_marker, headers_seen_marker;

static uint64_t now_ns(clockid_t clk) {
        struct timespec ts;
        clock_gettime(clk, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Copy of a user-controlled string fit to quote in a one-line message
 * (proto/text.h quote_bytes): at most 40 bytes of it, then "...".
 */
static void sanitize(const char *s, char *out, size_t cap) {
        quote_bytes(s ? s : "", s ? strlen(s) : 0, out, cap < HTTP_QUOTE_MAX ? cap : HTTP_QUOTE_MAX);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap) {
        struct http_server *h = cls;
        char msg[512];
        vsnprintf(msg, sizeof msg, fmt, ap);
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        /* A flood makes libmicrohttpd complain per connection: at most a few lines a second. */
        uint64_t now_s = now_ns(CLOCK_BOOTTIME) / 1000000000u;
        unsigned suppressed = 0;
        bool show;
        pthread_mutex_lock(&h->log_lock);
        if (now_s != h->log_second) {
                suppressed = h->log_suppressed;
                h->log_second = now_s;
                h->log_count = 0;
                h->log_suppressed = 0;
        }
        show = h->log_count < HTTP_LOG_PER_SECOND;
        if (show)
                h->log_count++;
        else
                h->log_suppressed++;
        pthread_mutex_unlock(&h->log_lock);
        if (suppressed)
                log_warn("http: %u similar messages suppressed", suppressed);
        if (show)
                log_warn("http: %s", msg);
}

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *c) {
        (void)cls;
        (void)c;
        return strnlen(uri, HTTP_MAX_URL + 1) > HTTP_MAX_URL ? &url_too_long_marker : NULL;
}

/* ---- responses ---- */

static enum MHD_Result queue(struct MHD_Connection *c, unsigned code, struct MHD_Response *r,
                             const char *content_type) {
        if (!r)
                return MHD_NO; /* out of memory: MHD closes the connection */
        if (content_type)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
        enum MHD_Result ret = MHD_queue_response(c, code, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned code, const char *text) {
        struct MHD_Response *r = MHD_create_response_from_buffer(
                strlen(text), (void *)(uintptr_t)text, MHD_RESPMEM_MUST_COPY);
        return queue(c, code, r, API_CT_TEXT);
}

static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static enum MHD_Result reply_error(struct MHD_Connection *c, unsigned code, const char *fmt, ...) {
        char msg[256];
        int n = snprintf(msg, sizeof msg, "error: ");
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n - 1, fmt, ap);
        va_end(ap);
        strcat(msg, "\n");
        struct MHD_Response *r =
                MHD_create_response_from_buffer(strlen(msg), msg, MHD_RESPMEM_MUST_COPY);
        if (r && code == MHD_HTTP_METHOD_NOT_ALLOWED)
                MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
        return queue(c, code, r, API_CT_TEXT);
}

static enum MHD_Result reply_ledger_error(struct MHD_Connection *c, const char *what, int rc) {
        if (rc == -ENOMEM)
                return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        if (rc == GH_E_RANGE)
                return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s: out of range", what);
        log_err("http: %s failed: %s", what, gh_strerror(rc));
        return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "%s failed", what);
}

/* ---- query parameters ---- */

struct params {
        size_t n;
        const char *key[HTTP_MAX_PARAMS];
        const char *val[HTTP_MAX_PARAMS];
        bool too_many;
        const char *dup; /* first duplicated key */
        bool nul;        /* a key or value holds a NUL byte */
};

static enum MHD_Result collect_param(void *cls, enum MHD_ValueKind kind, const char *key,
                                     size_t key_size, const char *value, size_t value_size) {
        (void)kind;
        struct params *p = cls;
        /* A percent-encoded NUL ("%00") would cut the C string short: refuse it. */
        if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
                p->nul = true;
                return MHD_NO;
        }
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->key[i], key) == 0) {
                        p->dup = key;
                        return MHD_NO;
                }
        if (p->n == HTTP_MAX_PARAMS) {
                p->too_many = true;
                return MHD_NO;
        }
        p->key[p->n] = key;
        p->val[p->n] = value;
        p->n++;
        return MHD_YES;
}

/* ---- the route table ---- */

#define ROUTE_PARAMS_MAX 2u

enum param_kind {
        PARAM_U64,   /* strict decimal u64 (proto/text.h), into request.num[] */
        PARAM_NONCE, /* exactly 64 hex digits, into request.nonce */
};

/* How a route's two numbers a, b bound each other and the published size S. */
enum param_bounds {
        BOUNDS_NONE,
        BOUNDS_BELOW,      /* a < b <= S: a half-open range, or a leaf in a tree */
        BOUNDS_CONSISTENT, /* 0 < a <= b <= S: two tree sizes */
};

/* A request's parameters, parsed and bounded by parse_request. */
struct request {
        uint64_t num[ROUTE_PARAMS_MAX];
        uint8_t nonce[32];
};

struct route;
typedef enum MHD_Result (*route_fn)(struct http_server *h, struct MHD_Connection *c,
                                    const struct request *rq, void **con_cls);

#define ROUTE_GET 1u    /* GET and HEAD (libmicrohttpd sends no body for HEAD) */
#define ROUTE_PREFIX 2u /* path matches every URL it starts */

struct route {
        const char *path;
        unsigned flags;
        const char *param[ROUTE_PARAMS_MAX + 1]; /* required names, NULL-terminated */
        enum param_kind kind;                     /* of every parameter */
        enum param_bounds bounds;
        route_fn fn;
};

/*
 * Checks p against the route's parameters: every one present once, none
 * other, each of its kind, and the two numbers within the route's bounds.
 * On failure writes a reason into why and returns false (a 400).
 */
static bool parse_request(struct http_server *h, const struct route *rt, const struct params *p,
                          struct request *rq, char *why, size_t whylen) {
        char q[64];
        if (p->too_many) {
                snprintf(why, whylen, "too many parameters (at most %u)", HTTP_MAX_PARAMS);
                return false;
        }
        if (p->nul) {
                snprintf(why, whylen, "NUL byte in a parameter");
                return false;
        }
        if (p->dup) {
                sanitize(p->dup, q, sizeof q);
                snprintf(why, whylen, "duplicated parameter '%s'", q);
                return false;
        }
        for (size_t i = 0; i < p->n; i++) {
                bool known = false;
                for (size_t j = 0; rt->param[j]; j++)
                        known = known || strcmp(p->key[i], rt->param[j]) == 0;
                if (!known) {
                        sanitize(p->key[i], q, sizeof q);
                        snprintf(why, whylen, "unknown parameter '%s'", q);
                        return false;
                }
        }
        size_t n = 0;
        for (; rt->param[n]; n++) {
                const char *name = rt->param[n], *v = NULL;
                bool present = false;
                for (size_t i = 0; i < p->n; i++)
                        if (strcmp(p->key[i], name) == 0) {
                                v = p->val[i];
                                present = true;
                        }
                if (!present) {
                        snprintf(why, whylen, "missing parameter '%s'", name);
                        return false;
                }
                if (rt->kind == PARAM_NONCE) {
                        if (!v || !nonce_parse_hex(v, strlen(v), rq->nonce)) {
                                snprintf(why, whylen,
                                         "parameter '%s' must be exactly 64 hex digits", name);
                                return false;
                        }
                } else if (!parse_u64_cstr(v, &rq->num[n])) {
                        snprintf(why, whylen,
                                 "parameter '%s' is not a decimal number without sign or "
                                 "leading zeros that fits in 64 bits",
                                 name);
                        return false;
                }
        }
        if (rt->bounds == BOUNDS_NONE || n != 2)
                return true;
        const char *an = rt->param[0], *bn = rt->param[1];
        uint64_t a = rq->num[0], b = rq->num[1];
        if (rt->bounds == BOUNDS_BELOW && a >= b) {
                snprintf(why, whylen, "%s must be less than %s", an, bn);
                return false;
        }
        if (rt->bounds == BOUNDS_CONSISTENT && a == 0) {
                snprintf(why, whylen, "%s must be at least 1", an);
                return false;
        }
        if (rt->bounds == BOUNDS_CONSISTENT && a > b) {
                snprintf(why, whylen, "%s must not exceed %s", an, bn);
                return false;
        }
        uint64_t published = ledger_size(h->ledger);
        if (b > published) {
                snprintf(why, whylen, "%s %llu exceeds the published tree size %llu", bn,
                         (unsigned long long)b, (unsigned long long)published);
                return false;
        }
        return true;
}

/* ---- endpoints ---- */

static enum MHD_Result serve_checkpoint(struct http_server *h, struct MHD_Connection *c,
                                        const struct request *rq, void **con_cls) {
        (void)rq;
        (void)con_cls;
        uint64_t size = ledger_size(h->ledger);
        uint64_t gen = h->push ? push_generation(h->push) : 0;
        if (!h->cp_resp || size != h->cp_size || gen != h->cp_gen) {
                char *note = NULL;
                size_t len = 0;
                uint64_t cp_size = 0;
                int rc = ledger_checkpoint(h->ledger, &note, &len, &cp_size);
                if (rc != 0)
                        return reply_ledger_error(c, "checkpoint", rc);
                if (h->push) { /* append the witnesses' cosignatures of this checkpoint */
                        char *cosigned = NULL;
                        rc = push_decorate(h->push, note, len, &cosigned, &len);
                        free(note);
                        if (rc != 0)
                                return MHD_NO;
                        note = cosigned;
                }
                struct MHD_Response *r =
                        MHD_create_response_from_buffer(len, note, MHD_RESPMEM_MUST_FREE);
                if (!r) {
                        free(note);
                        return MHD_NO;
                }
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, API_CT_TEXT);
                MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
                /* A response object is reference counted: queued ones stay alive. */
                if (h->cp_resp)
                        MHD_destroy_response(h->cp_resp);
                h->cp_resp = r;
                h->cp_size = cp_size;
                h->cp_gen = gen;
        }
        return MHD_queue_response(c, MHD_HTTP_OK, h->cp_resp);
}

static const char *mig_name(uint8_t m) {
        switch (m) {
        case MIG_OFF:
                return "off";
        case MIG_ON:
                return "on";
        default:
                return "unknown";
        }
}

static enum MHD_Result serve_node(struct http_server *h, struct MHD_Connection *c,
                                  const struct request *rq, void **con_cls) {
        (void)rq;
        (void)con_cls;
        uint64_t size = ledger_size(h->ledger);
        json_t *gpus = json_array();
        json_t *doc = json_pack("{s:s, s:s, s:s, s:s, s:I, s:f, s:I, s:I, s:o}", "origin",
                                h->origin, "vkey", h->vkey, "version", GH_VERSION, "backend",
                                h->backend, "period_s", (json_int_t)h->period_s,
                                "sample_interval_s", h->sample_interval_s, "tree_size",
                                (json_int_t)size, "key_created_s",
                                (json_int_t)(h->key_created_ns / 1000000000u), "gpus", gpus);
        if (!doc)
                return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        bool ok = true;
        pthread_mutex_lock(&h->inv_lock);
        for (size_t i = 0; i < h->ngpus && ok; i++) {
                const struct gpu_info *g = &h->gpus[i];
                json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s}", "uuid", g->uuid, "serial",
                                      g->serial, "name", g->name, "pci_bus_id", g->pci_bus_id,
                                      "mig_mode", mig_name(g->mig_mode));
                ok = o && json_array_append_new(gpus, o) == 0;
        }
        pthread_mutex_unlock(&h->inv_lock);
        char *text = ok ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
        json_decref(doc);
        if (!text)
                return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        size_t len = strlen(text);
        if (len > API_NODE_MAX_BYTES) { /* clients refuse a longer one (proto/api.h) */
                free(text);
                log_err("http: /v1/node document of %zu bytes exceeds %u", len,
                        API_NODE_MAX_BYTES);
                return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "node document too large");
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!r)
                free(text);
        return queue(c, MHD_HTTP_OK, r, API_CT_JSON);
}

/*
 * Bytes of a /v1/records body held in memory, set as the request's *con_cls
 * and released by on_completed once libmicrohttpd is done with the request.
 */
struct records_hold {
        size_t len;
};

static enum MHD_Result serve_records(struct http_server *h, struct MHD_Connection *c,
                                     const struct request *rq, void **con_cls) {
        const uint64_t *v = rq->num;
        struct records_hold *hold = malloc(sizeof *hold);
        if (!hold)
                return reply_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory");
        uint8_t *buf = NULL;
        size_t len = 0;
        uint64_t served_end = 0;
        int rc = ledger_read_records(h->ledger, v[0], v[1], h->max_records, API_RECORDS_MAX_BYTES,
                                     &buf, &len, &served_end);
        if (rc != 0) {
                free(hold);
                return reply_ledger_error(c, "reading records", rc);
        }
        size_t before = atomic_fetch_add(&h->record_bytes_in_flight, len);
        if (before + len > HTTP_MAX_RECORD_BYTES_IN_FLIGHT) {
                atomic_fetch_sub(&h->record_bytes_in_flight, len);
                free(buf);
                free(hold);
                static const char busy[] = "error: busy, retry later\n";
                struct MHD_Response *r = MHD_create_response_from_buffer(
                        sizeof busy - 1, (void *)(uintptr_t)busy, MHD_RESPMEM_PERSISTENT);
                if (r)
                        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, "1");
                return queue(c, MHD_HTTP_SERVICE_UNAVAILABLE, r, API_CT_TEXT);
        }
        hold->len = len;
        *con_cls = hold; /* on_completed gives the bytes back, whatever happens next */
        struct MHD_Response *r = MHD_create_response_from_buffer(len, buf, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(buf);
                return MHD_NO;
        }
        char range[48];
        snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)v[0],
                 (unsigned long long)served_end);
        MHD_add_response_header(r, API_HEADER_RANGE, range);
        return queue(c, MHD_HTTP_OK, r, API_CT_RECORDS);
}

static long guard_index(struct MHD_Connection *c);

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        (void)toe;
        struct http_server *h = cls;
        long gi = guard_index(c);
        pthread_mutex_lock(&h->guard_lock);
        connguard_waiting(&h->guard, gi, now_ns(CLOCK_BOOTTIME));
        pthread_mutex_unlock(&h->guard_lock);
        if (*con_cls && *con_cls != &url_too_long_marker && *con_cls != &headers_seen_marker) {
                struct records_hold *hold = *con_cls;
                atomic_fetch_sub(&h->record_bytes_in_flight, hold->len);
                free(hold);
        }
        *con_cls = NULL;
}

static enum MHD_Result reply_proof(struct MHD_Connection *c, const merkle_hash *proof, size_t n) {
        char text[API_PROOF_MAX_BYTES + 1];
        size_t len;
        int rc = merkle_proof_format(proof, n, text, sizeof text, &len);
        if (rc) {
                log_err("http: formatting a proof of %zu hashes failed: %s", n, gh_strerror(rc));
                return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "formatting proof failed");
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
        return queue(c, MHD_HTTP_OK, r, API_CT_PROOF);
}

static enum MHD_Result serve_inclusion(struct http_server *h, struct MHD_Connection *c,
                                       const struct request *rq, void **con_cls) {
        (void)con_cls;
        const uint64_t *v = rq->num;
        merkle_hash proof[MERKLE_MAX_PROOF];
        size_t n = 0;
        int rc = ledger_prove_inclusion(h->ledger, v[0], v[1], proof, &n);
        if (rc != 0)
                return reply_ledger_error(c, "inclusion proof", rc);
        return reply_proof(c, (const merkle_hash *)proof, n);
}

static enum MHD_Result serve_consistency(struct http_server *h, struct MHD_Connection *c,
                                         const struct request *rq, void **con_cls) {
        (void)con_cls;
        const uint64_t *v = rq->num;
        merkle_hash proof[MERKLE_MAX_PROOF];
        size_t n = 0;
        int rc = ledger_prove_consistency(h->ledger, v[0], v[1], proof, &n);
        if (rc != 0)
                return reply_ledger_error(c, "consistency proof", rc);
        return reply_proof(c, (const merkle_hash *)proof, n);
}

static enum MHD_Result serve_attest(struct http_server *h, struct MHD_Connection *c,
                                    const struct request *rq, void **con_cls) {
        (void)con_cls;
        char *note = NULL;
        size_t len = 0;
        int rc = ledger_attest(h->ledger, rq->nonce, &note, &len);
        if (rc != 0)
                return reply_ledger_error(c, "attest", rc);
        struct MHD_Response *r = MHD_create_response_from_buffer(len, note, MHD_RESPMEM_MUST_FREE);
        if (!r) {
                free(note);
                return MHD_NO;
        }
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        return queue(c, MHD_HTTP_OK, r, API_CT_TEXT);
}

static enum MHD_Result serve_metrics(struct http_server *h, struct MHD_Connection *c,
                                     const struct request *rq, void **con_cls) {
        (void)rq;
        (void)con_cls;
        uint64_t start = atomic_load(&h->stats->start_wall_ns);
        uint64_t size = ledger_size(h->ledger);
        char *text = NULL;
        size_t len = 0;
        pthread_mutex_lock(&h->inv_lock); /* metrics_render only formats: no ledger call */
        int rc = metrics_render(h->stats, h->gpus, h->ngpus, size, start ? start : h->start_wall_ns,
                                &text, &len);
        pthread_mutex_unlock(&h->inv_lock);
        if (rc == 0 && h->push)
                rc = push_metrics(h->push, &text, &len);
        if (rc != 0) {
                log_err("http: rendering /metrics failed: %s", strerror(-rc));
                return reply_error(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "rendering metrics failed");
        }
        struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
        if (!r)
                free(text);
        return queue(c, MHD_HTTP_OK, r, API_CT_METRICS);
}

static uint64_t interval_ns(const struct http_server *h) {
        return (uint64_t)(h->sample_interval_s * 1e9);
}

static enum MHD_Result serve_healthz(struct http_server *h, struct MHD_Connection *c,
                                     const struct request *rq, void **con_cls) {
        (void)rq;
        (void)con_cls;
        char why[160], reason[200];
        if (health_check(h->stats, interval_ns(h), h->period_s, now_ns(CLOCK_BOOTTIME), why,
                         sizeof why) == HEALTH_OK)
                return reply_text(c, MHD_HTTP_OK, "ok\n");
        snprintf(reason, sizeof reason, "%s\n", why);
        return reply_text(c, MHD_HTTP_SERVICE_UNAVAILABLE, reason);
}

/*
 * Every endpoint (daemon/API.md). A new one is a row here and a handler
 * above; parse_request checks its parameters before the handler runs, so a
 * handler sees only well-formed numbers within the route's bounds.
 */
static const struct route routes[] = {
        {API_PATH_CHECKPOINT, ROUTE_GET, {NULL}, PARAM_U64, BOUNDS_NONE, serve_checkpoint},
        {API_PATH_NODE, ROUTE_GET, {NULL}, PARAM_U64, BOUNDS_NONE, serve_node},
        {API_PATH_RECORDS, ROUTE_GET, {API_PARAM_START, API_PARAM_END, NULL}, PARAM_U64,
         BOUNDS_BELOW, serve_records},
        {API_PATH_INCLUSION, ROUTE_GET, {API_PARAM_INDEX, API_PARAM_SIZE, NULL}, PARAM_U64,
         BOUNDS_BELOW, serve_inclusion},
        {API_PATH_CONSISTENCY, ROUTE_GET, {API_PARAM_OLD, API_PARAM_NEW, NULL}, PARAM_U64,
         BOUNDS_CONSISTENT, serve_consistency},
        {API_PATH_ATTEST, ROUTE_GET, {API_PARAM_NONCE, NULL}, PARAM_NONCE, BOUNDS_NONE,
         serve_attest},
        {API_PATH_METRICS, ROUTE_GET, {NULL}, PARAM_U64, BOUNDS_NONE, serve_metrics},
        {API_PATH_HEALTHZ, ROUTE_GET, {NULL}, PARAM_U64, BOUNDS_NONE, serve_healthz},
};

static const struct route *route_find(const char *url) {
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
                const struct route *rt = &routes[i];
                if ((rt->flags & ROUTE_PREFIX) ? strncmp(url, rt->path, strlen(rt->path)) == 0
                                               : strcmp(url, rt->path) == 0)
                        return rt;
        }
        return NULL;
}

/* The ROUTE_ method flag of an HTTP method; 0 for one that no route takes. */
static unsigned route_method(const char *method) {
        if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
                return ROUTE_GET;
        return 0;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
        (void)version;
        (void)upload_data;
        struct http_server *h = cls;

        long gi = guard_index(c);
        pthread_mutex_lock(&h->guard_lock);
        connguard_serving(&h->guard, gi); /* the headers are in */
        pthread_mutex_unlock(&h->guard_lock);
        if (*con_cls == &url_too_long_marker)
                return reply_error(c, MHD_HTTP_URI_TOO_LONG, "URL longer than %u bytes",
                                   HTTP_MAX_URL);
        const struct route *rt = route_find(url);
        /* Every route is GET (and HEAD): a path that no route knows answers 405 as well. */
        if (!(route_method(method) & (rt ? rt->flags : ROUTE_GET)))
                return reply_error(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD are allowed");
        if (*con_cls != &headers_seen_marker) {
                /*
                 * First call, right after the headers. libmicrohttpd 0.9.75
                 * closes the connection after any response queued now, so
                 * answer on the second call (keep-alive), unless the request
                 * carries a body, which GET and HEAD must not.
                 */
                const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
                if ((cl && strcmp(cl, "0") != 0) ||
                    MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_TRANSFER_ENCODING))
                        return reply_error(c, MHD_HTTP_BAD_REQUEST,
                                           "GET and HEAD requests must not have a body");
                *con_cls = &headers_seen_marker;
                return MHD_YES;
        }
        if (*upload_data_size != 0) {
                *upload_data_size = 0; /* not reached: bodies are refused above */
                return MHD_YES;
        }

        if (!rt)
                return reply_error(c, MHD_HTTP_NOT_FOUND, "no such path");
        struct params p = {0};
        MHD_get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, collect_param, &p);
        struct request rq = {0};
        char why[160];
        if (!parse_request(h, rt, &p, &rq, why, sizeof why))
                return reply_error(c, MHD_HTTP_BAD_REQUEST, "%s", why);
        return rt->fn(h, c, &rq, con_cls);
}

/* ---- connection guard (slowloris) ---- */

static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t len) {
        struct http_server *h = cls;
        int evict[CONNGUARD_EVICT_MAX];
        size_t n = 0;
        pthread_mutex_lock(&h->guard_lock);
        bool ok = connguard_admit(&h->guard, addr, len, now_ns(CLOCK_BOOTTIME), evict, &n);
        for (size_t i = 0; i < n; i++)
                (void)shutdown(evict[i], SHUT_RDWR); /* MHD sees EOF and closes it */
        pthread_mutex_unlock(&h->guard_lock);
        return ok ? MHD_YES : MHD_NO;
}

static long guard_index(struct MHD_Connection *c) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        return ci && ci->socket_context ? (long)(intptr_t)ci->socket_context - 1 : -1;
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct http_server *h = cls;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                const union MHD_ConnectionInfo *fi =
                        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
                const union MHD_ConnectionInfo *ai =
                        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
                const struct sockaddr *sa = ai ? ai->client_addr : NULL;
                socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                                : sizeof(struct sockaddr_in);
                pthread_mutex_lock(&h->guard_lock);
                long idx = connguard_add(&h->guard, fi ? fi->connect_fd : -1, sa, len,
                                         now_ns(CLOCK_BOOTTIME));
                h->conns++;
                pthread_mutex_unlock(&h->guard_lock);
                *socket_context = idx >= 0 ? (void *)(intptr_t)(idx + 1) : NULL;
        } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
                /* Before MHD closes the socket: the sweeper never sees a reused fd. */
                pthread_mutex_lock(&h->guard_lock);
                if (*socket_context)
                        connguard_remove(&h->guard, (long)(intptr_t)*socket_context - 1);
                if (h->conns > 0 && --h->conns == 0)
                        pthread_cond_broadcast(&h->drain_cond);
                pthread_mutex_unlock(&h->guard_lock);
                *socket_context = NULL;
        }
}

/* Once a second: shut down connections still waiting for headers past the deadline. */
static void *sweep_loop(void *arg) {
        struct http_server *h = arg;
        pthread_mutex_lock(&h->guard_lock);
        while (!h->stopping) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += 1;
                pthread_cond_timedwait(&h->stop_cond, &h->guard_lock, &ts);
                int evict[64];
                size_t n = connguard_expired(&h->guard, now_ns(CLOCK_BOOTTIME), evict, 64);
                for (size_t i = 0; i < n; i++)
                        (void)shutdown(evict[i], SHUT_RDWR);
        }
        pthread_mutex_unlock(&h->guard_lock);
        return NULL;
}

/* ---- listening socket ---- */

static bool parse_port(const char *s, uint16_t *out) {
        uint64_t v;
        if (!parse_u64_cstr(s, &v) || v == 0 || v > 65535)
                return false;
        *out = (uint16_t)v;
        return true;
}

/*
 * "A.B.C.D:PORT", "[V6]:PORT", "[::]:PORT" (IPv6 and IPv4) or "*:PORT"
 * (every address: IPv6 and IPv4, or IPv4 alone where IPv6 is missing).
 */
int http_bind(const char *listen_spec, int *out, char *err, size_t errlen) {
        struct sockaddr_storage ss = {0};
        socklen_t sslen = 0;
        bool dual = false, any = false;
        const char *colon = strrchr(listen_spec, ':');
        char host[64];
        uint16_t port;
        if (!colon || (size_t)(colon - listen_spec) >= sizeof host || !parse_port(colon + 1, &port))
                goto bad;
        memcpy(host, listen_spec, (size_t)(colon - listen_spec));
        host[colon - listen_spec] = '\0';
        if (strcmp(host, "*") == 0) {
                any = dual = true;
                strcpy(host, "[::]");
        }
        if (host[0] == '[') {
                size_t hl = strlen(host);
                struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
                if (hl < 3 || host[hl - 1] != ']')
                        goto bad;
                host[hl - 1] = '\0';
                if (inet_pton(AF_INET6, host + 1, &a6->sin6_addr) != 1)
                        goto bad;
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons(port);
                dual = IN6_IS_ADDR_UNSPECIFIED(&a6->sin6_addr);
                sslen = sizeof *a6;
        } else {
                struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
                if (inet_pton(AF_INET, host, &a4->sin_addr) != 1)
                        goto bad;
                a4->sin_family = AF_INET;
                a4->sin_port = htons(port);
                sslen = sizeof *a4;
        }

        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 && any && errno == EAFNOSUPPORT) {
                struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
                memset(&ss, 0, sizeof ss);
                a4->sin_family = AF_INET;
                a4->sin_port = htons(port);
                a4->sin_addr.s_addr = htonl(INADDR_ANY);
                sslen = sizeof *a4;
                dual = false;
                fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        }
        if (fd < 0) {
                int e = errno;
                snprintf(err, errlen, "socket for '%s': %s", listen_spec, strerror(e));
                return -e;
        }
        int one = 1, zero = 0;
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (ss.ss_family == AF_INET6)
                (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&ss, sslen) < 0 || listen(fd, HTTP_LISTEN_BACKLOG) < 0) {
                int e = errno;
                close(fd);
                snprintf(err, errlen, "cannot listen on '%s': %s", listen_spec, strerror(e));
                return -e;
        }
        *out = fd;
        return 0;
bad:
        snprintf(err, errlen,
                 "invalid listen address '%s': expected IPV4:PORT, [IPV6]:PORT, [::]:PORT or "
                 "*:PORT with a numeric address and a port 1..65535",
                 listen_spec);
        return -EINVAL;
}

static void log_listening(int fd) {
        struct sockaddr_storage ss = {0};
        socklen_t len = sizeof ss;
        char addr[INET6_ADDRSTRLEN] = "?";
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
                return;
        if (ss.ss_family == AF_INET6) {
                const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
                inet_ntop(AF_INET6, &a->sin6_addr, addr, sizeof addr);
                log_info("http: listening on [%s]:%u", addr, (unsigned)ntohs(a->sin6_port));
        } else if (ss.ss_family == AF_INET) {
                const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
                inet_ntop(AF_INET, &a->sin_addr, addr, sizeof addr);
                log_info("http: listening on %s:%u", addr, (unsigned)ntohs(a->sin_port));
        }
}

static void server_free(struct http_server *h) {
        if (!h)
                return;
        if (h->cp_resp)
                MHD_destroy_response(h->cp_resp);
        if (h->own_fd >= 0)
                close(h->own_fd);
        if (h->sweeper_running) {
                pthread_mutex_lock(&h->guard_lock);
                h->stopping = true;
                pthread_cond_signal(&h->stop_cond);
                pthread_mutex_unlock(&h->guard_lock);
                pthread_join(h->sweeper, NULL);
        }
        connguard_free(&h->guard);
        pthread_cond_destroy(&h->stop_cond);
        pthread_cond_destroy(&h->drain_cond);
        pthread_mutex_destroy(&h->guard_lock);
        pthread_mutex_destroy(&h->inv_lock);
        pthread_mutex_destroy(&h->log_lock);
        free(h->gpus);
        free(h->origin);
        free(h->vkey);
        free(h->backend);
        free(h);
}

int http_start(const struct http_config *cfg, struct http_server **out, char *err, size_t errlen) {
        struct http_server *h = calloc(1, sizeof *h);
        if (!h) {
                snprintf(err, errlen, "http: out of memory");
                return -ENOMEM;
        }
        h->own_fd = -1;
        pthread_mutex_init(&h->inv_lock, NULL);
        pthread_mutex_init(&h->log_lock, NULL);
        pthread_mutex_init(&h->guard_lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&h->stop_cond, &ca);
        pthread_cond_init(&h->drain_cond, &ca);
        pthread_condattr_destroy(&ca);
        h->ledger = cfg->ledger;
        h->stats = cfg->stats;
        h->push = cfg->push;
        h->period_s = cfg->node.period_s;
        h->sample_interval_s = cfg->node.sample_interval_s;
        h->key_created_ns = cfg->node.key_created_ns;
        h->start_wall_ns = now_ns(CLOCK_REALTIME);
        h->max_records = API_RECORDS_MAX_COUNT;
        /* Test hook (API.md): a lower per-response record cap to exercise paging. */
        const char *cap = getenv("GPUHOURSD_TEST_MAX_RECORDS");
        uint64_t capv;
        if (cap && parse_u64_cstr(cap, &capv) && capv >= 1 && capv < API_RECORDS_MAX_COUNT)
                h->max_records = (size_t)capv;
        h->origin = strdup(cfg->node.origin ? cfg->node.origin : "");
        h->vkey = strdup(cfg->node.vkey ? cfg->node.vkey : "");
        h->backend = strdup(cfg->node.backend ? cfg->node.backend : "");
        if (!h->origin || !h->vkey || !h->backend) {
                server_free(h);
                snprintf(err, errlen, "http: out of memory");
                return -ENOMEM;
        }

        int fd = cfg->listen_fd;
        if (fd < 0) {
                int rc = http_bind(cfg->listen ? cfg->listen : "", &fd, err, errlen);
                if (rc < 0) {
                        server_free(h);
                        return rc;
                }
                h->own_fd = fd;
        } else if (cfg->own_listen_fd) {
                h->own_fd = fd;
        }

        if (connguard_init(&h->guard, HTTP_CONNECTION_LIMIT, HTTP_PER_IP_LIMIT, HTTP_WAITING_MAX,
                           (uint64_t)HTTP_HEADER_DEADLINE_S * 1000000000u) != 0) {
                snprintf(err, errlen, "http: out of memory");
                server_free(h);
                return -ENOMEM;
        }
        h->mhd = MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0,
                                  accept_policy, h, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                                  MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_TIMEOUT,
                                  (unsigned)HTTP_CONNECTION_TIMEOUT_S, MHD_OPTION_CONNECTION_LIMIT,
                                  (unsigned)HTTP_CONNECTION_LIMIT,
                                  MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)HTTP_PER_IP_LIMIT,
                                  MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
                                  MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)HTTP_LISTEN_BACKLOG,
                                  MHD_OPTION_URI_LOG_CALLBACK, uri_log, h,
                                  MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                                  MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_END);
        if (!h->mhd) {
                snprintf(err, errlen, "http: libmicrohttpd failed to start (see the log above)");
                server_free(h);
                return -EIO;
        }
        if (pthread_create(&h->sweeper, NULL, sweep_loop, h) != 0) {
                snprintf(err, errlen, "http: cannot start the connection sweeper");
                MHD_stop_daemon(h->mhd);
                h->own_fd = -1; /* MHD_stop_daemon closed it */
                server_free(h);
                return -EAGAIN;
        }
        h->sweeper_running = true;
        log_listening(fd);
        *out = h;
        return 0;
}

void http_set_inventory(struct http_server *h, const struct gpu_info *gpus, size_t n) {
        if (!h)
                return;
        if (n > RECORD_MAX_GPUS)
                n = RECORD_MAX_GPUS;
        struct gpu_info *copy = NULL;
        if (n > 0) {
                copy = malloc(n * sizeof *copy);
                if (!copy) {
                        log_err("http: out of memory: /v1/node keeps the previous GPU list");
                        return;
                }
                memcpy(copy, gpus, n * sizeof *copy);
        }
        pthread_mutex_lock(&h->inv_lock);
        struct gpu_info *old = h->gpus;
        h->gpus = copy;
        h->ngpus = n;
        pthread_mutex_unlock(&h->inv_lock);
        free(old);
}

void http_stop(struct http_server *h) {
        if (!h)
                return;
        /* Stop accepting; the listening socket is ours (closed below) or systemd's (kept). */
        bool quiet = MHD_quiesce_daemon(h->mhd) != MHD_INVALID_SOCKET;
        if (!quiet)
                h->own_fd = -1; /* not quiesced: MHD_stop_daemon closes the socket itself */
        /*
         * Let the connections already accepted finish (MHD_stop_daemon would close
         * them unanswered: behind a socket that outlives the daemon, a request made
         * just before the stop would be reset instead of waiting in the backlog for
         * the next daemon), for at most HTTP_DRAIN_MS: a client that keeps an idle
         * or slow connection open cannot hold the stop longer.
         */
        if (quiet) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_sec += HTTP_DRAIN_MS / 1000u;
                ts.tv_nsec += (long)(HTTP_DRAIN_MS % 1000u) * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_mutex_lock(&h->guard_lock);
                while (h->conns > 0 &&
                       pthread_cond_timedwait(&h->drain_cond, &h->guard_lock, &ts) != ETIMEDOUT)
                        ;
                pthread_mutex_unlock(&h->guard_lock);
        }
        MHD_stop_daemon(h->mhd);
        server_free(h);
}
