/* SPDX-License-Identifier: MIT */
/*
 * gpuhours-witness: a C2SP tlog-witness (c2sp.org/tlog-witness) that
 * cosigns checkpoints of the logs in a logs/v0 list (gpuhours nodes or any
 * conforming log) after checking that each is consistent with the last one
 * it cosigned. See packaging/man/gpuhours-witness.8.scd.
 *
 * Threads: main (signals, SIGHUP re-reads the log list) and libmicrohttpd's
 * one internal thread (every request). The state lock is held across the
 * whole check-sign-store-fsync of an add-checkpoint, so the size check and
 * the durable store are one atomic step.
 *
 * State directory:
 *   witness.key          32-byte Ed25519 seed (0600), created on first start
 *   known-logs           every log ever configured (logs/v0), never shrinks
 *   logs/<hex>.checkpoint latest cosigned checkpoint per origin
 *                        (<hex> = lowercase hex SHA-256(origin))
 *   logs/<hex>.history   one line per accepted check-in: "<time> <size> <root>",
 *                        thinned by age and capped (HIST_* below)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "config.h"
#include "cosig.h"
#include "fsutil.h"
#include "log.h"
#include "merkle.h"
#include "note.h"
#include "policy.h"
#include "status.h"
#include "text.h"

#define KEY_FILE "witness.key"
#define KNOWN_FILE "known-logs"
#define LOGS_DIR "logs"
#define PATH_MAX_LEN 4096
#define CONN_LIMIT 256
#define CONN_TIMEOUT_S 10
#define EXIT_USAGE 2
#define EXIT_RUNTIME 1
/*
 * A configuration that cannot work until someone edits it: a config file that
 * does not parse, a required setting missing, an invalid name, a log list that
 * is missing, unreadable or not valid at startup. EX_CONFIG of sysexits.h; the
 * unit's RestartPreventExitStatus= names it (and EXIT_USAGE), so that systemd
 * does not restart into the same error every RestartSec= forever.
 */
#define EXIT_CONFIG 78

/*
 * The check-in history is thinned by age (relative to the compaction time;
 * buckets are UTC minutes, hours and days of the check-in time): the newest
 * HIST_KEEP_NEWEST check-ins are always kept; of older ones, the newest of
 * each minute within HIST_MINUTES_S, of each hour within HIST_HOURS_S, of
 * each day beyond; then at most HIST_MAX entries, the oldest dropped first.
 * The entry of the latest cosigned checkpoint is never dropped. A history is
 * compacted at its first check-in after start and then after every
 * HIST_COMPACT_EVERY check-ins, so the file never holds more than
 * HIST_MAX + HIST_COMPACT_EVERY lines.
 */
#define HIST_KEEP_NEWEST 2048u
#define HIST_MINUTES_S (7u * 86400u)
#define HIST_HOURS_S (90u * 86400u)
#define HIST_MAX 16384u
#define HIST_COMPACT_EVERY 1024u
#define HIST_LINE_MAX 128u

struct wlog {
        struct loglist_entry e;
        char hex[65]; /* hex SHA-256(origin) */
        bool have;    /* a cosigned checkpoint is stored */
        uint64_t size;
        merkle_hash root;
        char *note; /* stored cosigned note */
        size_t note_len;
        uint64_t last_checkin; /* wall seconds, 0 = never (since start) */
        bool hist_counted;     /* hist_lines is known (a compaction ran since start) */
        uint64_t hist_lines;   /* lines in the history file */
        uint64_t hist_base;    /* hist_lines after the last compaction */
};

struct witness {
        char state_dir[PATH_MAX_LEN], listen[256], logs_file[PATH_MAX_LEN], name[NOTE_NAME_MAX + 1];
        int dirfd, logsfd;
        struct signer signer;
        pthread_mutex_t lock; /* logs[], their stored state, counters */
        struct wlog *logs;
        size_t nlogs;
        uint64_t req_by_code[6]; /* 200 400 403 404 409 422 */
        uint64_t req_other;
        struct MHD_Daemon *mhd;
};

static const unsigned codes[6] = {200, 400, 403, 404, 409, 422};

static void count_code(struct witness *w, unsigned code) {
        for (size_t i = 0; i < 6; i++)
                if (codes[i] == code) {
                        w->req_by_code[i]++;
                        return;
                }
        w->req_other++;
}

/* ------------------------------------------------------------ files */

static int write_atomic(int dirfd, const char *name, const void *data, size_t len) {
        return atomic_write_at(dirfd, name, data, len, 0640, ATOMIC_FIXED_TEMP);
}

static int append_sync(int dirfd, const char *name, const char *line, size_t len) {
        int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);
        int rc = 0;

        if (fd < 0)
                return -errno;
        if (write(fd, line, len) != (ssize_t)len || fdatasync(fd) != 0)
                rc = errno ? -errno : -EIO;
        close(fd);
        return rc;
}

/* Reads a whole small file; -ENOENT if absent, -EFBIG over cap. */
static int read_file_at(int dirfd, const char *name, size_t cap, char **out, size_t *len) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        char *buf;
        size_t n = 0;

        if (fd < 0)
                return -errno;
        buf = malloc(cap + 1);
        if (buf == NULL) {
                close(fd);
                return -ENOMEM;
        }
        for (;;) {
                ssize_t r = read(fd, buf + n, cap + 1 - n);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = -errno;
                        close(fd);
                        free(buf);
                        return e;
                }
                if (r == 0)
                        break;
                n += (size_t)r;
                if (n > cap) {
                        close(fd);
                        free(buf);
                        return -EFBIG;
                }
        }
        close(fd);
        buf[n] = '\0';
        *out = buf;
        *len = n;
        return 0;
}

static int load_key(struct witness *w, bool create) {
        uint8_t *seed = sodium_malloc(32);
        int fd, rc = 0;
        struct stat st;

        if (seed == NULL)
                return -ENOMEM;
        fd = openat(w->dirfd, KEY_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && errno == ENOENT && create) {
                randombytes_buf(seed, 32);
                rc = atomic_write_at(w->dirfd, KEY_FILE, seed, 32, 0600,
                                     ATOMIC_SECRET | ATOMIC_EXCLUSIVE | ATOMIC_FIXED_TEMP);
                if (rc != 0)
                        log_err("witness key '%s/%s': cannot create: %s", w->state_dir, KEY_FILE,
                                strerror(-rc));
                if (rc == 0)
                        log_info("created a new witness key in '%s/%s'", w->state_dir, KEY_FILE);
        } else if (fd < 0) {
                rc = -errno;
                log_err("witness key '%s/%s': %s", w->state_dir, KEY_FILE, strerror(errno));
        } else {
                if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 32 ||
                    (st.st_mode & 077) != 0 || read(fd, seed, 32) != 32) {
                        log_err("witness key '%s/%s': must be a 32-byte regular file with mode "
                                "0600 or stricter",
                                w->state_dir, KEY_FILE);
                        rc = -EINVAL;
                }
                close(fd);
        }
        if (rc == 0) {
                rc = signer_init_cosigner(&w->signer, w->name, seed);
                if (rc != 0)
                        log_err("witness name '%s' is not a valid key name", w->name);
        }
        sodium_memzero(seed, 32);
        sodium_free(seed);
        return rc;
}

/* ------------------------------------------------------------ logs */

static void origin_hex(const char *origin, char hex[65]) {
        uint8_t h[32];

        crypto_hash_sha256(h, (const uint8_t *)origin, strlen(origin));
        sodium_bin2hex(hex, 65, h, 32);
}

static struct wlog *find_origin(struct witness *w, const char *origin, size_t len) {
        for (size_t i = 0; i < w->nlogs; i++)
                if (strlen(w->logs[i].e.origin) == len &&
                    memcmp(w->logs[i].e.origin, origin, len) == 0)
                        return &w->logs[i];
        return NULL;
}

static struct wlog *find_hex(struct witness *w, const char *hex) {
        for (size_t i = 0; i < w->nlogs; i++)
                if (strcmp(w->logs[i].hex, hex) == 0)
                        return &w->logs[i];
        return NULL;
}

/* Loads the stored checkpoint of l (verified against the log key and our own key). */
static int load_stored(struct witness *w, struct wlog *l) {
        char name[80], *buf = NULL;
        size_t len = 0, tlen = 0, which = 0;
        struct note_verifier me;
        struct checkpoint cp;
        uint64_t t = 0;
        int rc;

        snprintf(name, sizeof name, "%s.checkpoint", l->hex);
        rc = read_file_at(w->logsfd, name, NOTE_MAX_SIZE, &buf, &len);
        if (rc == -ENOENT)
                return 0;
        if (rc < 0) {
                log_err("stored checkpoint for '%s': %s", l->e.origin, strerror(-rc));
                return rc;
        }
        signer_verifier(&w->signer, &me);
        rc = note_verify(buf, len, &l->e.key, 1, false, &tlen, &which);
        if (rc == 0)
                rc = checkpoint_parse(buf, tlen, &cp);
        if (rc == 0)
                rc = cosig_verify(buf, len, &me, 1, &t);
        if (rc == 0 && (t == 0 || strcmp(cp.origin, l->e.origin) != 0))
                rc = GH_E_NO_KEY;
        if (rc != 0) {
                log_err("stored checkpoint for '%s' (%s/%s/%s) does not verify: %s; refusing to "
                        "start",
                        l->e.origin, w->state_dir, LOGS_DIR, name, gh_strerror(rc));
                free(buf);
                return -EINVAL;
        }
        l->have = true;
        l->size = cp.size;
        memcpy(l->root, cp.root, sizeof l->root);
        free(l->note);
        l->note = buf;
        l->note_len = len;
        return 0;
}

static int save_known(struct witness *w) {
        size_t cap = 16 + w->nlogs * (VKEY_MAX_LEN + NOTE_NAME_MAX + LOGLIST_CONTACT_MAX + 64);
        char *buf = malloc(cap);
        size_t o = 0;
        int rc;

        if (buf == NULL)
                return -ENOMEM;
        o += (size_t)snprintf(buf, cap, "logs/v0\n");
        for (size_t i = 0; i < w->nlogs; i++) {
                char vk[VKEY_MAX_LEN + 1];
                size_t vl = 0;
                if (vkey_format(&w->logs[i].e.key, vk, sizeof vk, &vl) != 0) {
                        free(buf);
                        return -EINVAL;
                }
                o += (size_t)snprintf(buf + o, cap - o,
                                      "vkey %s\norigin %s\nqpd %" PRIu32 "\ncontact %s\n", vk,
                                      w->logs[i].e.origin, w->logs[i].e.qpd, w->logs[i].e.contact);
        }
        rc = write_atomic(w->dirfd, KNOWN_FILE, buf, o);
        free(buf);
        return rc;
}

/*
 * Adds the logs of a logs/v0 text that are not configured yet. A log once
 * configured is never removed or changed (witness network rule). 0, or a
 * negative errno / positive status (message logged).
 */
static int merge_list(struct witness *w, const char *text, size_t len, const char *what,
                      bool *bad_list) {
        struct loglist_entry *e = NULL;
        size_t n = 0;
        char err[512];
        int rc = loglist_parse(text, len, &e, &n, err, sizeof err);

        if (rc != 0) {
                log_err("%s: %s", what, rc < 0 ? strerror(-rc) : err);
                if (rc > 0 && bad_list != NULL)
                        *bad_list = true;
                return rc;
        }
        for (size_t i = 0; i < n; i++) {
                struct wlog *l = find_origin(w, e[i].origin, strlen(e[i].origin));
                if (l != NULL) {
                        if (memcmp(l->e.key.pk, e[i].key.pk, 32) != 0)
                                log_warn("%s: origin '%s' is listed with another key; keeping the "
                                         "configured one (a log is never changed)",
                                         what, e[i].origin);
                        continue;
                }
                struct wlog *nl = realloc(w->logs, (w->nlogs + 1) * sizeof *nl);
                if (nl == NULL) {
                        free(e);
                        return -ENOMEM;
                }
                w->logs = nl;
                l = &w->logs[w->nlogs++];
                memset(l, 0, sizeof *l);
                l->e = e[i];
                origin_hex(l->e.origin, l->hex);
                if ((rc = load_stored(w, l)) != 0) {
                        free(e);
                        return rc;
                }
        }
        free(e);
        return 0;
}

/* *bad_list (if not NULL): set when the log list itself fails (missing, unreadable, not valid). */
static int reload_logs(struct witness *w, bool startup, bool *bad_list) {
        char *buf = NULL;
        size_t len = 0;
        int rc;

        if (startup) {
                rc = read_file_at(w->dirfd, KNOWN_FILE, LOGLIST_MAX_LOGS * 1024u, &buf, &len);
                if (rc == 0) {
                        rc = merge_list(w, buf, len, KNOWN_FILE, NULL);
                        free(buf);
                        if (rc != 0)
                                return rc;
                } else if (rc != -ENOENT) {
                        log_err("'%s/%s': %s", w->state_dir, KNOWN_FILE, strerror(-rc));
                        return rc;
                }
        }
        rc = read_file_at(AT_FDCWD, w->logs_file, LOGLIST_MAX_LOGS * 1024u, &buf, &len);
        if (rc < 0) {
                log_err("log list '%s': %s", w->logs_file, strerror(-rc));
                if (bad_list != NULL)
                        *bad_list = true;
                return rc;
        }
        pthread_mutex_lock(&w->lock);
        size_t before = w->nlogs;
        rc = merge_list(w, buf, len, w->logs_file, bad_list);
        /* Logs added before a bad entry stay configured: record them too. */
        if (w->nlogs != before) {
                int r2 = save_known(w);
                if (r2 != 0)
                        log_err("cannot record the configured logs in '%s/%s': %s", w->state_dir,
                                KNOWN_FILE, strerror(-r2));
                if (rc == 0)
                        rc = r2;
        }
        size_t now = w->nlogs;
        pthread_mutex_unlock(&w->lock);
        free(buf);
        if (rc != 0)
                return rc;
        log_info("witnessing %zu logs (%zu new from '%s')", now, now - before, w->logs_file);
        return 0;
}

/* ------------------------------------------------------------ HTTP */

struct upload {
        char *buf;
        size_t len;
        bool over;
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned code, const char *type,
                             const char *body, size_t len) {
        struct MHD_Response *r =
                MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
        enum MHD_Result ret;

        if (r == NULL)
                return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(r, "Cache-Control", "no-store");
        ret = MHD_queue_response(c, code, r);
        MHD_destroy_response(r);
        return ret;
}

static enum MHD_Result reply_text(struct witness *w, struct MHD_Connection *c, unsigned code,
                                  const char *msg) {
        pthread_mutex_lock(&w->lock);
        count_code(w, code);
        pthread_mutex_unlock(&w->lock);
        return reply(c, code, API_CT_TEXT, msg, strlen(msg));
}

/* POST /add-checkpoint, C2SP tlog-witness: the checks in the spec's order. */
/* ------------------------------------------------------------ check-in history */

struct hist_entry {
        uint64_t t, size;
        merkle_hash root;
};

/* One history line "<time> <size> <base64 root>" without its '\n'; true if valid. */
static bool hist_parse(const char *p, size_t n, struct hist_entry *e) {
        const char *sp1 = memchr(p, ' ', n), *sp2;
        size_t rl = 0;

        if (sp1 == NULL)
                return false;
        sp2 = memchr(sp1 + 1, ' ', n - (size_t)(sp1 + 1 - p));
        if (sp2 == NULL || !parse_u64_max(p, (size_t)(sp1 - p), UINT64_MAX, &e->t) ||
            !parse_u64_max(sp1 + 1, (size_t)(sp2 - sp1 - 1), UINT64_MAX, &e->size))
                return false;
        if ((size_t)(p + n - sp2 - 1) != 44 ||
            sodium_base642bin(e->root, sizeof e->root, sp2 + 1, 44, NULL, &rl, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            rl != 32)
                return false;
        return true;
}

/* The thinning bucket of a check-in at time t, compacting at now. */
static uint64_t hist_bucket(uint64_t t, uint64_t now) {
        uint64_t age = now > t ? now - t : 0;
        if (age < HIST_MINUTES_S)
                return (t / 60u) * 4u;
        if (age < HIST_HOURS_S)
                return (t / 3600u) * 4u + 1u;
        return (t / 86400u) * 4u + 2u;
}

/*
 * Calls f on each valid line of the history fd (from its start), in order;
 * counts the invalid ones (a line torn by a crash). 0 or -errno.
 */
static int hist_scan(int fd, void (*f)(void *, const struct hist_entry *), void *ctx,
                     uint64_t *bad) {
        char buf[65536], line[HIST_LINE_MAX + 1];
        size_t ll = 0;
        bool too_long = false;

        if (lseek(fd, 0, SEEK_SET) != 0)
                return -errno;
        for (;;) {
                ssize_t r = read(fd, buf, sizeof buf);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        break;
                for (ssize_t i = 0; i < r; i++) {
                        struct hist_entry e;
                        if (buf[i] != '\n') {
                                if (ll < HIST_LINE_MAX)
                                        line[ll++] = buf[i];
                                else
                                        too_long = true;
                                continue;
                        }
                        if (!too_long && hist_parse(line, ll, &e))
                                f(ctx, &e);
                        else
                                (*bad)++;
                        ll = 0;
                        too_long = false;
                }
        }
        if (ll > 0 || too_long)
                (*bad)++; /* a last line without its '\n': torn */
        return 0;
}

struct hist_pass {
        uint64_t now, n, idx;
        bool pin_set;
        uint64_t pin_idx; /* the last entry of the latest cosigned checkpoint */
        uint64_t pin_size;
        merkle_hash pin_root;
        /* pass 2 */
        bool have_prev;
        struct hist_entry prev;
        uint64_t prev_idx;
        struct hist_entry *ring; /* kept entries, oldest evicted first */
        uint64_t *ring_idx;
        size_t cap, head, count;
        bool pinned_out; /* the pinned entry was evicted from the ring: kept aside */
        struct hist_entry pinned;
};

static void hist_count(void *ctx, const struct hist_entry *e) {
        struct hist_pass *h = ctx;
        if (h->pin_set && e->size == h->pin_size && memcmp(e->root, h->pin_root, 32) == 0)
                h->pin_idx = h->n;
        h->n++;
}

static void hist_keep(struct hist_pass *h, const struct hist_entry *e, uint64_t idx) {
        if (h->count == h->cap) {
                size_t old = h->head;
                if (h->pin_set && h->ring_idx[old] == h->pin_idx) {
                        h->pinned = h->ring[old];
                        h->pinned_out = true;
                }
                h->head = (h->head + 1) % h->cap;
                h->count--;
        }
        size_t at = (h->head + h->count) % h->cap;
        h->ring[at] = *e;
        h->ring_idx[at] = idx;
        h->count++;
}

static void hist_select(void *ctx, const struct hist_entry *e) {
        struct hist_pass *h = ctx;
        uint64_t idx = h->idx++;
        if (h->have_prev) {
                uint64_t pi = h->prev_idx;
                if (pi + HIST_KEEP_NEWEST >= h->n || (h->pin_set && pi == h->pin_idx) ||
                    hist_bucket(h->prev.t, h->now) != hist_bucket(e->t, h->now))
                        hist_keep(h, &h->prev, pi);
        }
        h->prev = *e;
        h->prev_idx = idx;
        h->have_prev = true;
}

/*
 * Thins logs/<hex>.history by the rule above (HIST_*) and replaces it
 * crash-safely (write_atomic: temporary file, fsync, rename, fsync of the
 * directory): a crash leaves the old file or the new one, never less.
 * Called with the state lock held. 0 or -errno.
 */
static int hist_compact(struct witness *w, struct wlog *l, uint64_t now) {
        char name[80];
        struct hist_pass h = {.now = now};
        uint64_t bad = 0;
        char *out = NULL;
        size_t o = 0;
        int fd, rc;

        snprintf(name, sizeof name, "%s.history", l->hex);
        fd = openat(w->logsfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        h.pin_set = l->have;
        h.pin_idx = UINT64_MAX;
        h.pin_size = l->size;
        memcpy(h.pin_root, l->root, 32);
        rc = hist_scan(fd, hist_count, &h, &bad);
        if (rc != 0)
                goto out;
        if (h.pin_idx == UINT64_MAX)
                h.pin_set = false;
        h.cap = HIST_MAX;
        h.ring = malloc(h.cap * sizeof *h.ring);
        h.ring_idx = malloc(h.cap * sizeof *h.ring_idx);
        out = malloc((size_t)HIST_MAX * HIST_LINE_MAX);
        rc = -ENOMEM;
        if (h.ring == NULL || h.ring_idx == NULL || out == NULL)
                goto out;
        bad = 0;
        rc = hist_scan(fd, hist_select, &h, &bad);
        if (rc != 0)
                goto out;
        if (h.have_prev)
                hist_keep(&h, &h.prev, h.prev_idx); /* the newest is always kept */
        l->hist_counted = true;
        l->hist_lines = h.n + bad;
        l->hist_base = l->hist_lines;
        if (h.pinned_out) { /* the pinned entry first, in the place of the ring's oldest */
                h.head = (h.head + 1) % h.cap;
                h.count--;
        }
        size_t total = h.count + (h.pinned_out ? 1u : 0u);
        if (total == h.n && bad == 0)
                goto out; /* nothing to drop */
        for (size_t k = 0; k < total; k++) {
                const struct hist_entry *e =
                        h.pinned_out ? (k == 0 ? &h.pinned : &h.ring[(h.head + k - 1) % h.cap])
                                     : &h.ring[(h.head + k) % h.cap];
                char root_b64[45];
                sodium_bin2base64(root_b64, sizeof root_b64, e->root, 32,
                                  sodium_base64_VARIANT_ORIGINAL);
                o += (size_t)snprintf(out + o, HIST_LINE_MAX, "%" PRIu64 " %" PRIu64 " %s\n", e->t,
                                      e->size, root_b64);
        }
        rc = write_atomic(w->logsfd, name, out, o);
        if (rc == 0) {
                l->hist_lines = total;
                l->hist_base = l->hist_lines;
                log_info("'%s': check-in history compacted: %" PRIu64 " -> %" PRIu64 " entries%s",
                         l->e.origin, h.n, l->hist_lines, bad ? " (dropped unreadable lines)" : "");
        }
out:
        close(fd);
        free(h.ring);
        free(h.ring_idx);
        free(out);
        return rc;
}

static enum MHD_Result add_checkpoint(struct witness *w, struct MHD_Connection *c,
                                      const struct upload *u) {
        static const merkle_hash empty = {0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14,
                                          0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
                                          0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c,
                                          0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55};
        struct addcp_request rq;
        struct checkpoint cp;
        size_t tlen = 0, off = 0, which = 0, llen = 0;
        char line[COSIG_LINE_MAX + 1], msg[128], name[80];
        struct wlog *l;
        int rc;

        if (u->over)
                return reply_text(w, c, 413, "request body too large\n");
        rc = addcp_parse(u->buf, u->len, &rq);
        if (rc != 0)
                return reply_text(w, c, 400, "malformed add-checkpoint request body\n");
        if (!note_split(rq.note, rq.note_len, &tlen, &off) ||
            checkpoint_parse(rq.note, tlen, &cp) != 0)
                return reply_text(w, c, 400, "malformed checkpoint\n");

        pthread_mutex_lock(&w->lock);
        l = find_origin(w, cp.origin, strlen(cp.origin));
        if (l == NULL) {
                pthread_mutex_unlock(&w->lock);
                return reply_text(w, c, 404, "unknown log origin\n");
        }
        rc = note_verify(rq.note, rq.note_len, &l->e.key, 1, false, NULL, &which);
        if (rc != 0) {
                pthread_mutex_unlock(&w->lock);
                return reply_text(w, c, 403, "no valid signature from the log's key\n");
        }
        if (rq.old_size > cp.size) {
                pthread_mutex_unlock(&w->lock);
                return reply_text(w, c, 400, "old size is larger than the checkpoint size\n");
        }
        uint64_t have = l->have ? l->size : 0;
        if (rq.old_size != have) {
                int n = snprintf(msg, sizeof msg, "%" PRIu64 "\n", have);
                count_code(w, 409);
                pthread_mutex_unlock(&w->lock);
                return reply(c, 409, "text/x.tlog.size", msg, (size_t)n);
        }
        bool consistent;
        if (cp.size == 0)
                consistent = rq.proof_len == 0 && memcmp(cp.root, empty, 32) == 0;
        else if (rq.old_size == 0)
                consistent = rq.proof_len == 0;
        else if (rq.old_size == cp.size)
                consistent = rq.proof_len == 0 && memcmp(cp.root, l->root, 32) == 0;
        else
                consistent =
                        merkle_verify_consistency(rq.old_size, cp.size, l->root, cp.root,
                                                  (const merkle_hash *)rq.proof, rq.proof_len) == 0;
        if (!consistent) {
                log_warn("'%s': refused an inconsistent checkpoint of size %" PRIu64
                         " (cosigned size %" PRIu64 ")",
                         l->e.origin, cp.size, have);
                pthread_mutex_unlock(&w->lock);
                return reply_text(w, c, 422,
                                  "checkpoint is not consistent with the cosigned one\n");
        }

        /* Cosign, store durably, then answer. */
        uint64_t now = (uint64_t)time(NULL);
        if (now == 0)
                now = 1;
        rc = cosig_sign(&w->signer, rq.note, tlen, now, line, sizeof line, &llen);
        char *stored = malloc(rq.note_len + llen);
        if (rc != 0 || stored == NULL) {
                free(stored);
                pthread_mutex_unlock(&w->lock);
                log_err("'%s': cannot cosign: %s", l->e.origin,
                        rc ? gh_strerror(rc) : "out of memory");
                return reply_text(w, c, 500, "internal error\n");
        }
        /* The stored note: the text and the log's own signature lines, then ours. */
        size_t slen = 0;
        if (note_keep_sigs(rq.note, rq.note_len, l->e.origin, strlen(l->e.origin), stored,
                           rq.note_len, &slen) != 0) {
                free(stored);
                pthread_mutex_unlock(&w->lock);
                log_err("'%s': cannot copy the checkpoint's signatures", l->e.origin);
                return reply_text(w, c, 500, "internal error\n");
        }
        memcpy(stored + slen, line, llen);
        slen += llen;
        char root_b64[45], hist[128];
        sodium_bin2base64(root_b64, sizeof root_b64, cp.root, 32, sodium_base64_VARIANT_ORIGINAL);
        int hl =
                snprintf(hist, sizeof hist, "%" PRIu64 " %" PRIu64 " %s\n", now, cp.size, root_b64);
        snprintf(name, sizeof name, "%s.history", l->hex);
        rc = append_sync(w->logsfd, name, hist, (size_t)hl);
        if (rc == 0) {
                snprintf(name, sizeof name, "%s.checkpoint", l->hex);
                rc = write_atomic(w->logsfd, name, stored, slen);
        }
        if (rc != 0) {
                pthread_mutex_unlock(&w->lock);
                free(stored);
                log_err("'%s': cannot store the cosigned checkpoint: %s", l->e.origin,
                        strerror(-rc));
                return reply_text(w, c, 500, "cannot store the checkpoint\n");
        }
        free(l->note);
        l->note = stored;
        l->note_len = slen;
        l->have = true;
        l->size = cp.size;
        memcpy(l->root, cp.root, 32);
        l->last_checkin = now;
        l->hist_lines++;
        if (!l->hist_counted || l->hist_lines >= l->hist_base + HIST_COMPACT_EVERY) {
                /* After the store: a failure here loses nothing, the file only stays longer. */
                int cr = hist_compact(w, l, now);
                if (cr != 0) {
                        l->hist_counted = true;
                        l->hist_base = l->hist_lines;
                        log_warn("'%s': cannot compact the check-in history: %s", l->e.origin,
                                 strerror(-cr));
                }
        }
        count_code(w, 200);
        pthread_mutex_unlock(&w->lock);
        return reply(c, 200, API_CT_TEXT, line, llen);
}

static void metric_label(char *out, size_t cap, const char *s) {
        size_t o = 0;

        for (; *s && o + 3 < cap; s++) {
                if (*s == '"' || *s == '\\') {
                        out[o++] = '\\';
                        out[o++] = *s;
                } else {
                        out[o++] = *s;
                }
        }
        out[o] = '\0';
}

static enum MHD_Result metrics(struct witness *w, struct MHD_Connection *c) {
        size_t cap = 4096 + w->nlogs * 1200, o = 0;
        char *b = malloc(cap);
        uint64_t now = (uint64_t)time(NULL);
        enum MHD_Result ret;

        if (b == NULL)
                return MHD_NO;
        pthread_mutex_lock(&w->lock);
        o += (size_t)snprintf(b + o, cap - o,
                              "# HELP gpuhours_witness_logs Logs this witness is configured for.\n"
                              "# TYPE gpuhours_witness_logs gauge\n"
                              "gpuhours_witness_logs %zu\n"
                              "# HELP gpuhours_witness_requests_total add-checkpoint requests by "
                              "HTTP status.\n"
                              "# TYPE gpuhours_witness_requests_total counter\n",
                              w->nlogs);
        for (size_t i = 0; i < 6; i++)
                o += (size_t)snprintf(b + o, cap - o,
                                      "gpuhours_witness_requests_total{code=\"%u\"} %" PRIu64 "\n",
                                      codes[i], w->req_by_code[i]);
        o += (size_t)snprintf(b + o, cap - o,
                              "gpuhours_witness_requests_total{code=\"other\"} %" PRIu64 "\n"
                              "# HELP gpuhours_witness_cosigned_size Size of the latest cosigned "
                              "checkpoint per log.\n"
                              "# TYPE gpuhours_witness_cosigned_size gauge\n",
                              w->req_other);
        for (size_t i = 0; i < w->nlogs; i++) {
                char lab[2 * NOTE_NAME_MAX + 1];
                metric_label(lab, sizeof lab, w->logs[i].e.origin);
                o += (size_t)snprintf(b + o, cap - o,
                                      "gpuhours_witness_cosigned_size{origin=\"%s\"} %" PRIu64 "\n",
                                      lab, w->logs[i].have ? w->logs[i].size : 0);
        }
        o += (size_t)snprintf(b + o, cap - o,
                              "# HELP gpuhours_witness_seconds_since_checkin Seconds since the "
                              "log's last accepted add-checkpoint (absent: none since start).\n"
                              "# TYPE gpuhours_witness_seconds_since_checkin gauge\n");
        for (size_t i = 0; i < w->nlogs; i++) {
                char lab[2 * NOTE_NAME_MAX + 1];
                if (w->logs[i].last_checkin == 0)
                        continue;
                metric_label(lab, sizeof lab, w->logs[i].e.origin);
                o += (size_t)snprintf(
                        b + o, cap - o,
                        "gpuhours_witness_seconds_since_checkin{origin=\"%s\"} "
                        "%" PRIu64 "\n",
                        lab, now > w->logs[i].last_checkin ? now - w->logs[i].last_checkin : 0);
        }
        pthread_mutex_unlock(&w->lock);
        ret = reply(c, 200, API_CT_METRICS, b, o);
        free(b);
        return ret;
}

static enum MHD_Result get(struct witness *w, struct MHD_Connection *c, const char *url) {
        size_t n = strlen(url);

        if (strcmp(url, API_PATH_METRICS) == 0)
                return metrics(w, c);
        /* /<64 lowercase hex>/checkpoint */
        if (n == 1 + 64 + sizeof API_WITNESS_PATH_CHECKPOINT_SUFFIX - 1 &&
            strcmp(url + 65, API_WITNESS_PATH_CHECKPOINT_SUFFIX) == 0) {
                char hex[65];
                memcpy(hex, url + 1, 64);
                hex[64] = '\0';
                pthread_mutex_lock(&w->lock);
                struct wlog *l = find_hex(w, hex);
                if (l != NULL && l->have) {
                        enum MHD_Result r = reply(c, 200, API_CT_TEXT, l->note,
                                                  l->note_len);
                        pthread_mutex_unlock(&w->lock);
                        return r;
                }
                pthread_mutex_unlock(&w->lock);
                return reply(c, 404, API_CT_TEXT, "no checkpoint\n", 14);
        }
        return reply(c, 404, API_CT_TEXT, "not found\n", 10);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *data,
                                  size_t *data_size, void **con_cls) {
        struct witness *w = cls;
        struct upload *u = *con_cls;

        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
                return get(w, c, url);
        if (strcmp(method, "POST") != 0 || strcmp(url, API_WITNESS_PATH_ADD_CHECKPOINT) != 0)
                return reply(c, strcmp(method, "POST") == 0 ? 404 : 405,
                             API_CT_TEXT, "not found\n", 10);
        if (u == NULL) {
                u = calloc(1, sizeof *u);
                if (u == NULL)
                        return MHD_NO;
                *con_cls = u;
                return MHD_YES;
        }
        if (*data_size > 0) {
                if (!u->over && u->len + *data_size <= ADDCP_BODY_MAX) {
                        char *nb = realloc(u->buf, u->len + *data_size);
                        if (nb == NULL)
                                return MHD_NO;
                        u->buf = nb;
                        memcpy(u->buf + u->len, data, *data_size);
                        u->len += *data_size;
                } else {
                        u->over = true;
                }
                *data_size = 0;
                return MHD_YES;
        }
        return add_checkpoint(w, c, u);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
        struct upload *u = *con_cls;

        if (u != NULL) {
                free(u->buf);
                free(u);
                *con_cls = NULL;
        }
}

static int bind_listen(const char *spec, int *out) {
        char host[128];
        const char *colon = strrchr(spec, ':');
        struct sockaddr_storage ss;
        socklen_t sl;
        unsigned long port;
        char *end;
        int fd, one = 1;

        memset(&ss, 0, sizeof ss);
        if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
                goto bad;
        errno = 0;
        port = strtoul(colon + 1, &end, 10);
        if (errno || *end || end == colon + 1 || port == 0 || port > 65535 || colon[1] == '0')
                goto bad;
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        if (host[0] == '[' && strlen(host) > 2 && host[strlen(host) - 1] == ']') {
                struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
                host[strlen(host) - 1] = '\0';
                if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
                        goto bad;
                a->sin6_family = AF_INET6;
                a->sin6_port = htons((uint16_t)port);
                sl = sizeof *a;
        } else {
                struct sockaddr_in *a = (struct sockaddr_in *)&ss;
                if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
                        goto bad;
                a->sin_family = AF_INET;
                a->sin_port = htons((uint16_t)port);
                sl = sizeof *a;
        }
        fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                log_err("socket for '%s': %s", spec, strerror(errno));
                return -errno;
        }
        (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
                int e = errno;
                log_err("cannot listen on '%s': %s", spec, strerror(e));
                close(fd);
                return -e;
        }
        *out = fd;
        return 0;
bad:
        log_err("listen address '%s': want ADDR:PORT or [V6ADDR]:PORT with a numeric address",
                spec);
        return -EINVAL;
}

/* ------------------------------------------------------------ settings */

static int set_opt(struct witness *w, const char *key, const char *val) {
        struct {
                const char *k;
                char *dst;
                size_t cap;
        } t[] = {{"state-dir", w->state_dir, sizeof w->state_dir},
                 {"listen", w->listen, sizeof w->listen},
                 {"logs", w->logs_file, sizeof w->logs_file},
                 {"name", w->name, sizeof w->name}};

        for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
                if (strcmp(key, t[i].k) != 0)
                        continue;
                if (strlen(val) >= t[i].cap || val[0] == '\0') {
                        fprintf(stderr, "gpuhours-witness: %s: empty or too long value '%.64s'\n",
                                key, val);
                        return -1;
                }
                memcpy(t[i].dst, val, strlen(val) + 1);
                return 0;
        }
        fprintf(stderr, "gpuhours-witness: unknown setting '%.64s'\n", key);
        return -1;
}

/* Config keys are the option names with '_' for '-' (state_dir), as in gpuhoursd.conf. */
static int on_ini(void *user, const char *section, const char *name, const char *value) {
        char key[32];
        size_t n = strlen(name);

        if (section[0] != '\0' && strcmp(section, "witness") != 0) {
                fprintf(stderr, "gpuhours-witness: config: unknown section [%.64s]\n", section);
                return 0;
        }
        if (n >= sizeof key || strchr(name, '-') != NULL) {
                fprintf(stderr, "gpuhours-witness: config: unknown key '%.64s'\n", name);
                return 0;
        }
        for (size_t i = 0; i <= n; i++)
                key[i] = name[i] == '_' ? '-' : name[i];
        return set_opt(user, key, value) == 0;
}

static void usage(FILE *f) {
        fputs("usage: gpuhours-witness [--config FILE] --state-dir DIR --listen ADDR:PORT\n"
              "                        --logs FILE --name NAME\n"
              "       gpuhours-witness --state-dir DIR --name NAME --print-key\n"
              "A C2SP tlog-witness: cosigns the checkpoints of the logs listed in FILE\n"
              "(witness network logs/v0 format) after checking their consistency.\n"
              "  --config FILE     INI file with the keys state_dir, listen, logs, name\n"
              "  --state-dir DIR   key and cosigned checkpoints (created if missing)\n"
              "  --listen A:P      HTTP address, e.g. 127.0.0.1:8420 or [::1]:8420\n"
              "  --logs FILE       log list; re-read on SIGHUP, logs are never forgotten\n"
              "  --name NAME       witness key name, e.g. witness.example.org/w1\n"
              "  --print-key       print the cosigner vkey (type 0x04) and exit\n"
              "  --version, --help\n",
              f);
}

static int parse_args(struct witness *w, int argc, char **argv, bool *print_key) {
        static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                             {"state-dir", required_argument, NULL, 's'},
                                             {"listen", required_argument, NULL, 'l'},
                                             {"logs", required_argument, NULL, 'L'},
                                             {"name", required_argument, NULL, 'n'},
                                             {"print-key", no_argument, NULL, 'k'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
        int o;

        /* The config file first, so that the command line wins. */
        for (int i = 1; i < argc && argv[i] != NULL; i++) {
                const char *cfg = NULL;
                if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
                        cfg = argv[++i]; /* the value is not an option: skip it */
                else if (strncmp(argv[i], "--config=", 9) == 0)
                        cfg = argv[i] + 9;
                if (cfg != NULL) {
                        int r = ini_parse(cfg, on_ini, w);
                        if (r != 0) {
                                fprintf(stderr, "gpuhours-witness: config '%s': %s%d\n", cfg,
                                        r < 0 ? "cannot read it" : "error on line ", r < 0 ? 0 : r);
                                return EXIT_CONFIG;
                        }
                }
        }
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (o) {
                case 'c':
                        break;
                case 's':
                        if (set_opt(w, "state-dir", optarg))
                                return EXIT_USAGE;
                        break;
                case 'l':
                        if (set_opt(w, "listen", optarg))
                                return EXIT_USAGE;
                        break;
                case 'L':
                        if (set_opt(w, "logs", optarg))
                                return EXIT_USAGE;
                        break;
                case 'n':
                        if (set_opt(w, "name", optarg))
                                return EXIT_USAGE;
                        break;
                case 'k':
                        *print_key = true;
                        break;
                case 'h':
                        usage(stdout);
                        exit(0);
                case 'V':
                        printf("gpuhours-witness %s\n", GH_VERSION);
                        exit(0);
                default:
                        usage(stderr);
                        return EXIT_USAGE;
                }
        }
        if (optind != argc) {
                fprintf(stderr, "gpuhours-witness: unexpected argument '%.64s'\n", argv[optind]);
                return EXIT_USAGE;
        }
        if (w->state_dir[0] == '\0' || w->name[0] == '\0' ||
            (!*print_key && (w->listen[0] == '\0' || w->logs_file[0] == '\0'))) {
                fprintf(stderr, "gpuhours-witness: --state-dir and --name are required, and "
                                "--listen and --logs unless --print-key\n");
                return EXIT_CONFIG;
        }
        if (!note_name_valid(w->name, strlen(w->name))) {
                fprintf(stderr,
                        "gpuhours-witness: --name '%.64s' is not a valid key name (no spaces, "
                        "no '+')\n",
                        w->name);
                return EXIT_CONFIG;
        }
        return 0;
}

int main(int argc, char **argv) {
        static struct witness w;
        bool print_key = false;
        sigset_t set;
        int rc, sfd, lfd = -1;

        log_init();
        log_set_ident("gpuhours-witness");
        w.dirfd = w.logsfd = -1;
        pthread_mutex_init(&w.lock, NULL);
        if ((rc = parse_args(&w, argc, argv, &print_key)) != 0)
                return rc;
        if (sodium_init() < 0)
                return EXIT_RUNTIME;
        if (mkdir(w.state_dir, 0750) != 0 && errno != EEXIST) {
                log_err("state directory '%s': %s", w.state_dir, strerror(errno));
                return EXIT_RUNTIME;
        }
        w.dirfd = open(w.state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (w.dirfd < 0) {
                log_err("state directory '%s': %s", w.state_dir, strerror(errno));
                return EXIT_RUNTIME;
        }
        if (load_key(&w, true) != 0)
                return EXIT_RUNTIME;
        if (print_key) {
                struct note_verifier v;
                char vk[VKEY_MAX_LEN + 1];
                size_t n = 0;
                signer_verifier(&w.signer, &v);
                if (cosig_vkey_format(&v, vk, sizeof vk, &n) != 0)
                        return EXIT_RUNTIME;
                printf("%s\n", vk);
                return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
        }
        if ((mkdirat(w.dirfd, LOGS_DIR, 0750) != 0 && errno != EEXIST) ||
            (w.logsfd = openat(w.dirfd, LOGS_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
                log_err("'%s/%s': %s", w.state_dir, LOGS_DIR, strerror(errno));
                return EXIT_RUNTIME;
        }
        bool bad_list = false;
        if (reload_logs(&w, true, &bad_list) != 0)
                return bad_list ? EXIT_CONFIG : EXIT_RUNTIME;

        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &set, NULL) != 0 ||
            (sfd = signalfd(-1, &set, SFD_CLOEXEC)) < 0) {
                log_err("signals: %s", strerror(errno));
                return EXIT_RUNTIME;
        }
        signal(SIGPIPE, SIG_IGN);
        if (bind_listen(w.listen, &lfd) != 0)
                return EXIT_RUNTIME;
        w.mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                                 on_request, &w, MHD_OPTION_LISTEN_SOCKET, lfd,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONN_TIMEOUT_S,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONN_LIMIT,
                                 MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, &w, MHD_OPTION_END);
        if (w.mhd == NULL) {
                log_err("http: libmicrohttpd failed to start");
                return EXIT_RUNTIME;
        }
        {
                struct note_verifier v;
                char vk[VKEY_MAX_LEN + 1];
                size_t n = 0;
                signer_verifier(&w.signer, &v);
                if (cosig_vkey_format(&v, vk, sizeof vk, &n) == 0)
                        log_info("witness %s listening on %s", vk, w.listen);
        }
        for (;;) {
                struct signalfd_siginfo si;
                ssize_t n = read(sfd, &si, sizeof si);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n != (ssize_t)sizeof si)
                        break;
                if (si.ssi_signo == SIGHUP) {
                        if (reload_logs(&w, false, NULL) != 0)
                                log_warn("SIGHUP: kept the logs configured before");
                        continue;
                }
                break;
        }
        log_info("stopping");
        MHD_stop_daemon(w.mhd);
        close(lfd);
        for (size_t i = 0; i < w.nlogs; i++)
                free(w.logs[i].note);
        free(w.logs);
        signer_free(&w.signer);
        close(sfd);
        close(w.logsfd);
        close(w.dirfd);
        return 0;
}
