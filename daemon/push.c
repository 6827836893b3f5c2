/* SPDX-License-Identifier: MIT */
/* gpuhoursd -> witnesses (push.h). */
#include "push.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "cosig.h"
#include "fsutil.h"
#include "log.h"
#include "policy.h"
#include "settings.h" /* EXIT_USAGE */
#include "status.h"
#include "text.h"

#define FILE_MAX (NOTE_MAX_SIZE + 1)

struct resp {
        char buf[API_WITNESS_ADD_RESP_MAX_BYTES + 1];
        size_t len;
        bool over;
};

struct wstate {
        char name[POLICY_NAME_MAX + 1];
        struct note_verifier key;
        char url[POLICY_URL_MAX + 32];
        char file[96]; /* "witness-" 64 hex ".cosigned" NUL = 82 bytes */
        /* under p->lock */
        uint64_t known;       /* size the witness last cosigned (as far as we know) */
        char *cosigned;       /* its cosigned checkpoint note (checkpoint + its line) */
        size_t cosigned_len;
        size_t text_len;      /* checkpoint text length within cosigned */
        uint64_t cosig_time;  /* timestamp of that cosignature */
        bool failing;
        uint64_t failures, successes;
        /* its push thread only */
        struct push *p;
        pthread_t thread;
        bool started;
        struct resp r;        /* the last answer */
        uint64_t pushed_size; /* size of the last checkpoint pushed successfully */
        double last_push, last_ok, next_retry;
        unsigned backoff;
};

struct push {
        struct ledger *l;
        struct note_verifier node;
        int dirfd;
        unsigned period_s, refresh_s;
        pthread_mutex_t lock;
        pthread_cond_t cond;
        bool stop;
        uint64_t generation;
        size_t n;
        struct wstate w[POLICY_MAX_WITNESSES];
};

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int read_small(const char *path, char **out, size_t *len, char *err, size_t errlen) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        char *buf;
        ssize_t n;

        if (fd < 0) {
                snprintf(err, errlen, "witnesses file '%s': %s", path, strerror(errno));
                return -errno;
        }
        buf = malloc(POLICY_MAX_BYTES + 1);
        if (buf == NULL) {
                close(fd);
                return -ENOMEM;
        }
        size_t got = 0;
        while ((n = read(fd, buf + got, POLICY_MAX_BYTES + 1 - got)) > 0)
                got += (size_t)n;
        close(fd);
        if (n < 0 || got > POLICY_MAX_BYTES) {
                snprintf(err, errlen, "witnesses file '%s': %s", path,
                         n < 0 ? strerror(errno) : "larger than 256 KiB");
                free(buf);
                return n < 0 ? -errno : EXIT_USAGE;
        }
        *out = buf;
        *len = got;
        return 0;
}

/* Loads a stored cosigned note for w if it verifies with the node key and the witness key. */
static void load_cosigned(struct push *p, struct wstate *w) {
        char *buf = malloc(FILE_MAX + 1);
        size_t tlen = 0, which = 0;
        struct checkpoint cp;
        uint64_t t = 0;
        ssize_t n;
        int fd;

        if (buf == NULL)
                return;
        fd = openat(p->dirfd, w->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0) {
                free(buf);
                return;
        }
        n = read(fd, buf, FILE_MAX + 1);
        close(fd);
        if (n <= 0 || n > (ssize_t)NOTE_MAX_SIZE ||
            note_verify(buf, (size_t)n, &p->node, 1, false, &tlen, &which) != 0 ||
            checkpoint_parse(buf, tlen, &cp) != 0 ||
            cosig_verify(buf, (size_t)n, &w->key, 1, &t) != 0 || t == 0) {
                log_warn("witness '%s': ignoring the stored cosignature in '%s' (does not verify)",
                         w->name, w->file);
                free(buf);
                return;
        }
        w->cosigned = buf;
        w->cosigned_len = (size_t)n;
        w->text_len = tlen;
        w->cosig_time = t;
        w->known = cp.size;
}

int push_start(const char *policy_path, const char *state_dir, struct ledger *l,
               const struct note_verifier *node_key, unsigned period_s, struct push **out,
               char *err, size_t errlen) {
        struct policy *pol = NULL;
        struct push *p = NULL;
        char *text = NULL, perr[512];
        size_t len = 0;
        int rc;

        *out = NULL;
        if ((rc = read_small(policy_path, &text, &len, err, errlen)) != 0)
                return rc < 0 ? EXIT_USAGE : rc;
        pol = malloc(sizeof *pol);
        p = calloc(1, sizeof *p);
        if (pol == NULL || p == NULL) {
                free(text);
                free(pol);
                free(p);
                return -ENOMEM;
        }
        rc = policy_parse(text, len, pol, perr, sizeof perr);
        free(text);
        if (rc != 0) {
                snprintf(err, errlen, "witnesses file '%s': %s", policy_path, perr);
                free(pol);
                free(p);
                return EXIT_USAGE;
        }
        for (size_t i = 0; i < pol->nwitnesses; i++) {
                struct wstate *w = &p->w[p->n];
                char vk[VKEY_MAX_LEN + 1];
                uint8_t h[32];
                size_t vl = 0;

                if (pol->witness[i].url[0] == '\0')
                        continue; /* no submission URL: an auditor-only entry */
                memset(w, 0, sizeof *w);
                memcpy(w->name, pol->witness[i].name, sizeof w->name);
                w->key = pol->witness[i].key;
                snprintf(w->url, sizeof w->url, "%s%s", pol->witness[i].url,
                         pol->witness[i].url[strlen(pol->witness[i].url) - 1] == '/'
                                 ? &API_WITNESS_PATH_ADD_CHECKPOINT[1]
                                 : API_WITNESS_PATH_ADD_CHECKPOINT);
                (void)cosig_vkey_format(&w->key, vk, sizeof vk, &vl);
                crypto_hash_sha256(h, (const uint8_t *)vk, vl);
                memcpy(w->file, "witness-", 8);
                sodium_bin2hex(w->file + 8, 65, h, 32);
                memcpy(w->file + 8 + 64, ".cosigned", 10);
                p->n++;
        }
        free(pol);
        if (p->n == 0) {
                snprintf(err, errlen,
                         "witnesses file '%s': no 'witness NAME VKEY URL' line with a URL to push to",
                         policy_path);
                free(p);
                return EXIT_USAGE;
        }
        p->l = l;
        p->node = *node_key;
        p->period_s = period_s;
        p->refresh_s = PUSH_REFRESH_S;
        {
                const char *e = getenv("GPUHOURSD_TEST_WITNESS_REFRESH_S");
                uint64_t v;
                if (e && parse_u64_max(e, strlen(e), PUSH_REFRESH_S, &v) && v >= 1)
                        p->refresh_s = (unsigned)v;
        }
        /* Before any thread of ours exists (curl_global_init is not thread-safe). */
        if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                snprintf(err, errlen, "witnesses: libcurl failed to initialise");
                free(p);
                return -EIO;
        }
        p->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (p->dirfd < 0) {
                snprintf(err, errlen, "state directory '%s': %s", state_dir, strerror(errno));
                free(p);
                return -errno;
        }
        for (size_t i = 0; i < p->n; i++)
                load_cosigned(p, &p->w[i]);
        pthread_mutex_init(&p->lock, NULL);
        {
                pthread_condattr_t ca;
                pthread_condattr_init(&ca);
                pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
                pthread_cond_init(&p->cond, &ca);
                pthread_condattr_destroy(&ca);
        }
        *out = p;
        return 0;
}

/* --- HTTP --- */

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx) {
        struct resp *r = ctx;
        size_t n = size * nmemb;

        if (r->len + n > API_WITNESS_ADD_RESP_MAX_BYTES) {
                r->over = true;
                return 0; /* aborts the transfer */
        }
        memcpy(r->buf + r->len, data, n);
        r->len += n;
        r->buf[r->len] = '\0';
        return n;
}

/* POST body to w; *code is the HTTP status (0 on a transport error, message in err). */
static int post(const struct wstate *w, const char *body, size_t len, struct resp *r, long *code,
                bool *size_type, char *err, size_t errlen) {
        CURL *c = curl_easy_init();
        struct curl_slist *hdr = NULL;
        char ebuf[CURL_ERROR_SIZE] = "";
        char *ct = NULL;
        CURLcode cc;

        *code = 0;
        *size_type = false;
        r->len = 0;
        r->over = false;
        if (c == NULL) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        hdr = curl_slist_append(hdr, "Content-Type:"); /* the spec names none */
        hdr = curl_slist_append(hdr, "Expect:");
        curl_easy_setopt(c, CURLOPT_URL, w->url);
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)PUSH_TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "gpuhoursd/" GH_VERSION);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        cc = curl_easy_perform(c);
        if (cc == CURLE_OK) {
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, code);
                if (curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK && ct != NULL)
                        *size_type = strcmp(ct, "text/x.tlog.size") == 0;
        } else {
                snprintf(err, errlen, "%s", r->over ? "answer larger than 4 KiB"
                                                    : (ebuf[0] ? ebuf : curl_easy_strerror(cc)));
        }
        curl_slist_free_all(hdr);
        curl_easy_cleanup(c);
        return cc == CURLE_OK ? 0 : -EIO;
}

static int store_cosigned(struct push *p, struct wstate *w, const char *note, size_t len) {
        return atomic_write_at(p->dirfd, w->file, note, len, 0640, ATOMIC_FIXED_TEMP);
}

/* One add-checkpoint exchange (with one 409 retry). 0, or -1 with err set. */
static int push_one(struct push *p, struct wstate *w, char *err, size_t errlen) {
        struct resp *rp = &w->r;
        char *note = NULL, *body = NULL;
        size_t len = 0, blen = 0, tlen = 0, off = 0;
        uint64_t size = 0, old;
        long code = 0;
        bool size_type;
        int rc = -1;

        if (ledger_checkpoint(p->l, &note, &len, &size) != 0) {
                snprintf(err, errlen, "no checkpoint to push");
                return -1;
        }
        if (!note_split(note, len, &tlen, &off)) {
                snprintf(err, errlen, "the node's checkpoint does not split");
                goto out;
        }
        pthread_mutex_lock(&p->lock);
        old = w->known;
        pthread_mutex_unlock(&p->lock);
        for (int attempt = 0; attempt < 2; attempt++) {
                merkle_hash proof[MERKLE_MAX_PROOF];
                size_t np = 0;

                if (old > size) {
                        snprintf(err, errlen,
                                 "the witness has cosigned size %" PRIu64
                                 ", larger than this ledger's %" PRIu64
                                 " (was the ledger rolled back or replaced?)",
                                 old, size);
                        goto out;
                }
                if (old > 0 && old < size &&
                    ledger_prove_consistency(p->l, old, size, proof, &np) != 0) {
                        snprintf(err, errlen, "cannot prove consistency %" PRIu64 " -> %" PRIu64,
                                 old, size);
                        goto out;
                }
                if (np > ADDCP_MAX_PROOF) {
                        snprintf(err, errlen, "consistency proof of %zu hashes is too long", np);
                        goto out;
                }
                free(body);
                body = NULL;
                if (addcp_format(old, (const merkle_hash *)proof, np, note, len, &body, &blen) != 0) {
                        snprintf(err, errlen, "cannot build the request");
                        goto out;
                }
                if (post(w, body, blen, rp, &code, &size_type, err, errlen) != 0)
                        goto out;
                if (code == 409 && size_type && attempt == 0) {
                        uint64_t s = 0;
                        if (rp->len < 2 || rp->buf[rp->len - 1] != '\n' ||
                            !parse_u64_max(rp->buf, rp->len - 1, COSIG_TIME_MAX, &s)) {
                                snprintf(err, errlen, "409 with a malformed size");
                                goto out;
                        }
                        old = s;
                        continue;
                }
                break;
        }
        if (code != 200) {
                /* The witness's reason, one line: without its final newline, quoted. */
                char q[80];
                size_t n = rp->len;
                while (n > 0 && (rp->buf[n - 1] == '\n' || rp->buf[n - 1] == '\r'))
                        n--;
                quote_bytes(rp->buf, n, q, sizeof q);
                snprintf(err, errlen, "HTTP %ld from %s: %s", code, w->url, q);
                pthread_mutex_lock(&p->lock);
                w->known = code == 409 ? 0 : w->known; /* 409: rediscover next time */
                pthread_mutex_unlock(&p->lock);
                goto out;
        }
        {
                /* The cosigned note: our checkpoint text, our signature, the witness's line(s). */
                size_t clen = len + rp->len;
                char *cn = malloc(clen + 1);
                uint64_t t = 0;
                if (cn == NULL) {
                        snprintf(err, errlen, "out of memory");
                        goto out;
                }
                memcpy(cn, note, len);
                memcpy(cn + len, rp->buf, rp->len);
                cn[clen] = '\0';
                if (clen > NOTE_MAX_SIZE || cosig_verify(cn, clen, &w->key, 1, &t) != 0 || t == 0) {
                        snprintf(err, errlen, "the answer is not a valid cosignature by %s",
                                 w->key.name);
                        free(cn);
                        goto out;
                }
                /* Keep only the checkpoint, our signature and this witness's line. */
                if (store_cosigned(p, w, cn, clen) != 0) {
                        snprintf(err, errlen, "cannot store the cosignature: %s", strerror(errno));
                        free(cn);
                        goto out;
                }
                pthread_mutex_lock(&p->lock);
                free(w->cosigned);
                w->cosigned = cn;
                w->cosigned_len = clen;
                w->text_len = tlen;
                w->cosig_time = t;
                w->known = size;
                w->successes++;
                p->generation++;
                pthread_mutex_unlock(&p->lock);
                w->pushed_size = size;
                rc = 0;
        }
out:
        free(body);
        free(note);
        return rc;
}

/*
 * One thread per witness: a witness that is slow or never answers (each
 * request may take PUSH_TIMEOUT_S) delays only its own pushes, never the
 * other witnesses' cosignatures of a new checkpoint.
 */
static void *push_thread(void *arg) {
        struct wstate *w = arg;
        struct push *p = w->p;

        pthread_mutex_lock(&p->lock);
        while (!p->stop) {
                struct timespec ts;
                clock_gettime(CLOCK_MONOTONIC, &ts);
                ts.tv_nsec += 200 * 1000000L;
                if (ts.tv_nsec >= 1000000000L) {
                        ts.tv_sec++;
                        ts.tv_nsec -= 1000000000L;
                }
                pthread_cond_timedwait(&p->cond, &p->lock, &ts);
                if (p->stop)
                        break;
                pthread_mutex_unlock(&p->lock);
                uint64_t size = ledger_size(p->l);
                double t = now_s();
                double gap = p->period_s > 1 ? (double)p->period_s - 1.0 : 0.0;
                bool fresh = size != w->pushed_size && t - w->last_push >= gap;
                bool refresh = t - w->last_ok >= (double)p->refresh_s;
                char err[1024];

                if (size > 0 && (fresh || refresh) && t >= w->next_retry) {
                        w->last_push = t;
                        if (push_one(p, w, err, sizeof err) == 0) {
                                w->last_ok = t;
                                w->backoff = 0;
                                w->next_retry = 0;
                                pthread_mutex_lock(&p->lock);
                                bool was = w->failing;
                                w->failing = false;
                                pthread_mutex_unlock(&p->lock);
                                if (was)
                                        log_notice("witness '%s': cosigning again (size %" PRIu64
                                                   ")",
                                                   w->name, w->pushed_size);
                        } else {
                                w->backoff = w->backoff ? w->backoff * 2 : 1;
                                if (w->backoff > 60)
                                        w->backoff = 60;
                                w->next_retry = t + w->backoff;
                                pthread_mutex_lock(&p->lock);
                                bool was = w->failing;
                                w->failing = true;
                                w->failures++;
                                pthread_mutex_unlock(&p->lock);
                                if (!was)
                                        log_warn("witness '%s': push failed: %s (logged once until "
                                                 "it recovers)",
                                                 w->name, err);
                        }
                }
                pthread_mutex_lock(&p->lock);
        }
        pthread_mutex_unlock(&p->lock);
        return NULL;
}

int push_run(struct push *p) {
        for (size_t i = 0; i < p->n; i++) {
                p->w[i].p = p;
                int rc = pthread_create(&p->w[i].thread, NULL, push_thread, &p->w[i]);
                if (rc != 0)
                        return -rc; /* push_stop joins the ones started */
                p->w[i].started = true;
        }
        return 0;
}

void push_stop(struct push *p) {
        if (p == NULL)
                return;
        pthread_mutex_lock(&p->lock);
        p->stop = true;
        pthread_cond_broadcast(&p->cond);
        pthread_mutex_unlock(&p->lock);
        for (size_t i = 0; i < p->n; i++)
                if (p->w[i].started)
                        pthread_join(p->w[i].thread, NULL);
        for (size_t i = 0; i < p->n; i++)
                free(p->w[i].cosigned);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        if (p->dirfd >= 0)
                close(p->dirfd);
        free(p);
}

uint64_t push_generation(struct push *p) {
        pthread_mutex_lock(&p->lock);
        uint64_t g = p->generation;
        pthread_mutex_unlock(&p->lock);
        return g;
}

int push_decorate(struct push *p, const char *note, size_t len, char **out, size_t *outlen) {
        size_t tlen = 0, off = 0, o = len;
        char *b = malloc(NOTE_MAX_SIZE + 1);

        if (b == NULL)
                return -ENOMEM;
        memcpy(b, note, len);
        if (note_split(note, len, &tlen, &off)) {
                pthread_mutex_lock(&p->lock);
                for (size_t i = 0; i < p->n; i++) {
                        const struct wstate *w = &p->w[i];
                        size_t cl;
                        if (w->cosigned == NULL || w->text_len != tlen ||
                            memcmp(w->cosigned, note, tlen) != 0)
                                continue;
                        /* The witness's line is the last line of its cosigned note. */
                        const char *line = w->cosigned + w->cosigned_len - 1;
                        while (line > w->cosigned && line[-1] != '\n')
                                line--;
                        cl = (size_t)(w->cosigned + w->cosigned_len - line);
                        if (o + cl > NOTE_MAX_SIZE)
                                break; /* keep the note within what verifiers accept */
                        memcpy(b + o, line, cl);
                        o += cl;
                }
                pthread_mutex_unlock(&p->lock);
        }
        b[o] = '\0';
        *out = b;
        *outlen = o;
        return 0;
}

static void label(char *out, size_t cap, const char *s) {
        size_t o = 0;
        for (; *s && o + 3 < cap; s++) {
                if (*s == '"' || *s == '\\')
                        out[o++] = '\\';
                out[o++] = *s;
        }
        out[o] = '\0';
}

int push_metrics(struct push *p, char **text, size_t *len) {
        size_t cap = *len + 1024 + p->n * 600, o = *len;
        char *b = realloc(*text, cap);

        if (b == NULL)
                return -ENOMEM;
        pthread_mutex_lock(&p->lock);
        o += (size_t)snprintf(b + o, cap - o,
                              "# HELP gpuhours_witness_up 1 if the last push to the witness "
                              "succeeded.\n# TYPE gpuhours_witness_up gauge\n");
        for (size_t i = 0; i < p->n; i++) {
                char l[2 * POLICY_NAME_MAX + 1];
                label(l, sizeof l, p->w[i].name);
                o += (size_t)snprintf(b + o, cap - o, "gpuhours_witness_up{witness=\"%s\"} %d\n", l,
                                      !p->w[i].failing && p->w[i].cosigned != NULL);
        }
        o += (size_t)snprintf(b + o, cap - o,
                              "# HELP gpuhours_witness_cosigned_size Tree size of the latest "
                              "cosignature held from the witness.\n"
                              "# TYPE gpuhours_witness_cosigned_size gauge\n");
        for (size_t i = 0; i < p->n; i++) {
                char l[2 * POLICY_NAME_MAX + 1];
                label(l, sizeof l, p->w[i].name);
                o += (size_t)snprintf(b + o, cap - o,
                                      "gpuhours_witness_cosigned_size{witness=\"%s\"} %" PRIu64 "\n",
                                      l, p->w[i].cosigned ? p->w[i].known : 0);
        }
        o += (size_t)snprintf(b + o, cap - o,
                              "# HELP gpuhours_witness_cosignature_time_seconds Timestamp of the "
                              "latest cosignature held from the witness.\n"
                              "# TYPE gpuhours_witness_cosignature_time_seconds gauge\n");
        for (size_t i = 0; i < p->n; i++) {
                char l[2 * POLICY_NAME_MAX + 1];
                label(l, sizeof l, p->w[i].name);
                o += (size_t)snprintf(b + o, cap - o,
                                      "gpuhours_witness_cosignature_time_seconds{witness=\"%s\"} "
                                      "%" PRIu64 "\n",
                                      l, p->w[i].cosig_time);
        }
        o += (size_t)snprintf(b + o, cap - o,
                              "# HELP gpuhours_witness_push_failures_total Failed pushes.\n"
                              "# TYPE gpuhours_witness_push_failures_total counter\n");
        for (size_t i = 0; i < p->n; i++) {
                char l[2 * POLICY_NAME_MAX + 1];
                label(l, sizeof l, p->w[i].name);
                o += (size_t)snprintf(b + o, cap - o,
                                      "gpuhours_witness_push_failures_total{witness=\"%s\"} "
                                      "%" PRIu64 "\n",
                                      l, p->w[i].failures);
        }
        pthread_mutex_unlock(&p->lock);
        *text = b;
        *len = o;
        return 0;
}

void push_status(struct push *p, char *buf, size_t cap) {
        size_t ok = 0;

        pthread_mutex_lock(&p->lock);
        for (size_t i = 0; i < p->n; i++)
                ok += !p->w[i].failing && p->w[i].cosigned != NULL;
        pthread_mutex_unlock(&p->lock);
        snprintf(buf, cap, ", witnesses %zu/%zu ok", ok, p->n);
}
