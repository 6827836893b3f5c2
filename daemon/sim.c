/* SPDX-License-Identifier: MIT */
/*
 * Simulated GPUs (sampler_sim_ops), the backend for demos and tests.
 *
 * The sim models hardware that runs on whatever the daemon does: its
 * energy counters follow the load in force over real wall time, also while
 * the daemon is frozen (SIGSTOP), hung in a read, or not running at all.
 *
 * Files in the sim directory:
 *   seed      16 random bytes (hex), created once: UUIDs and serials derive from it
 *   load      utilization percentages, GPU i takes the i-th value, the last value
 *             applies to the rest; no file means 0 %. The content is in force
 *             from the file's modification time on (rewrite it atomically).
 *   schedule  optional, lines "<unix-seconds>[.<up to 9 digits>] <load%>...":
 *             from that instant on, the GPUs run at those loads (same rule as
 *             load). Times strictly increasing; lines may be appended at any
 *             time, also while the daemon is stopped or frozen. The latest
 *             event at or before an instant, from either file, decides.
 *   energy    the counters (µJ) at the last load change, that instant, the load
 *             in force since, which load-file and schedule events were
 *             applied, and the counter epoch; written only when the load
 *             changes (and at the first start and a reload)
 *   stall     test hook: while it exists, read() blocks (a hung driver)
 *   reload    test hook, a driver reload while the daemon is stopped: create it
 *             (any content) before the daemon starts; at that start the
 *             counters restart at 0 from the file's modification time (the
 *             loads run on), the counter epoch (gpu_info.counter_epoch, random,
 *             kept in the energy file across restarts) changes, and the file
 *             is removed. Created while the daemon runs, it waits for the
 *             next start.
 *
 * Model: power = 60 W + util x 640 W per GPU; counter(t) = counter at the
 * last load change + power x (t - that instant), exactly, in µJ (floor). The
 * clock is the host's real CLOCK_REALTIME through a raw system call (so
 * libfaketime in the daemon does not reach it, and a time namespace does
 * not move it): a test that knows when it wrote which load knows the truth.
 * Busy time of a reading: the load averaged over real time since the
 * previous reading, times the daemon's interval; its power, likewise, the
 * average since the previous reading (the counter's movement over that span).
 */

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "sampler.h"
#include "status.h"
#include "text.h"

#define SIM_LOAD_MAX 4096   /* bytes of the load file that are read */
#define SIM_SCHED_MAX 65536 /* bytes of the schedule file that are read */
#define SIM_SCHED_EVENTS 1024
#define SIM_SCHED_VALUES 8192
#define SIM_STATE_MAX 8192 /* bytes of the energy file */
#define SIM_IDLE_MW 60000u
#define SIM_SPAN_MW 640000u /* at 100 % */
#define SIM_MEM_BYTES (80ull << 30)
#define SIM_NAME "gpuhours simulated H100"
#define SIM_STATE_MAGIC "gpuhours-sim-energy 3"

struct sim_gpu {
        char uuid[REC_UUID_MAX + 1];
        char serial[REC_SERIAL_MAX + 1];
        char pci[REC_PCI_MAX + 1];
        uint64_t anchor_uj; /* energy counter at the anchor instant, µJ */
        uint64_t last_mj;   /* counter reported by the previous read */
        uint64_t last_uj;   /* the counter at the previous read, µJ (the power's average) */
        uint32_t util_cp;   /* load in force since the anchor, hundredths of a percent */
};

/* One load change: from t_ns on, n values starting at vals[first]. */
struct sim_event {
        uint64_t t_ns;
        uint32_t first, n;
};

struct file_id {
        uint64_t mtime_ns, ino, size;
};

struct sampler {
        unsigned n;
        int dirfd;
        uint64_t anchor_ns;    /* the last load change (or first start) */
        uint64_t last_read_ns; /* previous read (or open) */
        struct sim_gpu g[RECORD_MAX_GPUS];
        unsigned order[RECORD_MAX_GPUS]; /* indexes sorted by UUID */

        struct file_id load_id;  /* load file content last applied (all 0: none) */
        uint64_t sched_done_ns;  /* schedule events up to this time are applied */
        struct file_id sched_id; /* schedule file last parsed */
        struct sim_event ev[SIM_SCHED_EVENTS];
        uint32_t vals[SIM_SCHED_VALUES];
        unsigned nev;
        uint64_t epoch; /* counter epoch (never 0) */
        bool warned_state, warned_sched;
};

/* A fresh random counter epoch, never 0 and never old. */
static uint64_t new_epoch(uint64_t old) {
        uint64_t e;
        do
                randombytes_buf(&e, sizeof e);
        while (e == 0 || e == old);
        return e;
}

/* The host's real wall clock, past libfaketime's clock_gettime (a raw system call). */
static uint64_t true_wall_ns(void) {
        struct timespec ts;
        if (syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) != 0)
                clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Read at most cap-1 bytes of dir/name into buf (NUL-terminated). Returns length or -errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t cap) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        while (len < cap - 1) {
                ssize_t r = read(fd, buf + len, cap - 1 - len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                if (r == 0)
                        break;
                len += (size_t)r;
        }
        close(fd);
        buf[len] = '\0';
        return (ssize_t)len;
}

/* Exactly 32 hex digits, then a newline or the end of the string. */
static bool parse_hex16(const char *s, uint8_t out[16]) {
        for (int i = 0; i < 16; i++) {
                int hi = hex_digit_value(s[2 * i]);
                int lo = hi < 0 ? -1 : hex_digit_value(s[2 * i + 1]);
                if (lo < 0)
                        return false;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return s[32] == '\n' || s[32] == '\0';
}

static int load_seed(struct sampler *s, uint8_t seed[16], char *err, size_t errlen) {
        char buf[128] = "";
        for (int attempt = 0; attempt < 2; attempt++) {
                ssize_t n = read_small(s->dirfd, "seed", buf, sizeof buf);
                if (n >= 32) {
                        if (!parse_hex16(buf, seed)) {
                                snprintf(err, errlen, "sim: seed file is not 32 hex digits");
                                return GH_E_MALFORMED;
                        }
                        return 0;
                }
                if (n >= 0) {
                        snprintf(err, errlen, "sim: seed file is not 32 hex digits");
                        return GH_E_MALFORMED;
                }
                if (n != -ENOENT) {
                        snprintf(err, errlen, "sim: seed file: %s", strerror((int)-n));
                        return (int)n;
                }
                uint8_t fresh[16];
                randombytes_buf(fresh, sizeof fresh);
                char hex[40];
                for (int i = 0; i < 16; i++)
                        snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
                hex[32] = '\n';
                int rc = atomic_write_at(s->dirfd, "seed", hex, 33, 0640, ATOMIC_EXCLUSIVE);
                if (rc != 0 && rc != -EEXIST) {
                        snprintf(err, errlen, "sim: cannot create the seed file: %s",
                                 strerror(-rc));
                        return rc;
                }
        }
        snprintf(err, errlen, "sim: seed file vanished while creating it");
        return -EIO;
}

static void derive_gpus(struct sampler *s, const uint8_t seed[16]) {
        for (unsigned i = 0; i < s->n; i++) {
                uint8_t msg[32], h[32];
                memcpy(msg, "gpuhours-sim-gpu", 16);
                memcpy(msg + 16, seed, 16);
                crypto_hash_sha256_state st;
                crypto_hash_sha256_init(&st);
                crypto_hash_sha256_update(&st, msg, sizeof msg);
                uint8_t idx[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                                  (uint8_t)i};
                crypto_hash_sha256_update(&st, idx, sizeof idx);
                crypto_hash_sha256_final(&st, h);
                char hx[33];
                for (int b = 0; b < 16; b++)
                        snprintf(hx + 2 * b, 3, "%02x", h[b]);
                snprintf(s->g[i].uuid, sizeof s->g[i].uuid, "GPU-%.8s-%.4s-%.4s-%.4s-%.12s", hx,
                         hx + 8, hx + 12, hx + 16, hx + 20);
                uint64_t v = 0;
                for (int b = 16; b < 24; b++)
                        v = v << 8 | h[b];
                snprintf(s->g[i].serial, sizeof s->g[i].serial, "%013" PRIu64,
                         v % UINT64_C(10000000000000));
                snprintf(s->g[i].pci, sizeof s->g[i].pci, "00000000:%02X:00.0", 0x18 + i);
        }
        /* insertion sort by UUID (bytewise) */
        for (unsigned i = 0; i < s->n; i++)
                s->order[i] = i;
        for (unsigned i = 1; i < s->n; i++) {
                unsigned v = s->order[i], j = i;
                while (j > 0 && strcmp(s->g[s->order[j - 1]].uuid, s->g[v].uuid) > 0) {
                        s->order[j] = s->order[j - 1];
                        j--;
                }
                s->order[j] = v;
        }
}

/* Percent with up to 2 decimals, 0..100, to hundredths. */
static bool parse_percent(const char *t, size_t len, uint32_t *out) {
        uint32_t whole = 0, frac = 0;
        size_t i = 0;
        unsigned wd = 0, fd = 0;
        for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                if (++wd > 3)
                        return false;
                whole = whole * 10 + (uint32_t)(t[i] - '0');
        }
        if (i < len && t[i] == '.') {
                for (i++; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                        if (++fd > 2)
                                return false;
                        frac = frac * 10 + (uint32_t)(t[i] - '0');
                }
                if (fd == 0)
                        return false;
        }
        if (i != len || wd == 0)
                return false;
        if (fd == 1)
                frac *= 10;
        uint32_t v = whole * 100 + frac;
        if (v > 10000)
                return false;
        *out = v;
        return true;
}

/*
 * Like read_small, and *id receives the file's identity (mtime, inode,
 * size), so that a rewrite is seen even when the content repeats.
 */
static ssize_t read_with_id(int dirfd, const char *name, char *buf, size_t cap,
                            struct file_id *id) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) != 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        id->mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
        id->ino = (uint64_t)st.st_ino;
        id->size = (uint64_t)st.st_size;
        size_t len = 0;
        while (len < cap - 1) {
                ssize_t r = read(fd, buf + len, cap - 1 - len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                if (r == 0)
                        break;
                len += (size_t)r;
        }
        close(fd);
        buf[len] = '\0';
        return (ssize_t)len;
}

static bool same_id(const struct file_id *a, const struct file_id *b) {
        return a->mtime_ns == b->mtime_ns && a->ino == b->ino && a->size == b->size;
}

static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r';
}

/*
 * Parse load percentages from p up to end (a line or the whole load file;
 * newlines count as blanks when lines is false) into out[0..*cnt).
 * Returns NULL on success, or a static message; *bad points at the bad token.
 */
static const char *parse_loads(const char *p, const char *end, bool lines, uint32_t *out,
                               unsigned cap, unsigned *cnt, const char **bad, size_t *badlen) {
        *cnt = 0;
        while (p < end) {
                while (p < end && (is_space(*p) || (!lines && *p == '\n')))
                        p++;
                if (p >= end)
                        break;
                const char *t = p;
                while (p < end && !is_space(*p) && *p != '\n')
                        p++;
                *bad = t;
                *badlen = (size_t)(p - t);
                if (*cnt >= cap)
                        return "too many values";
                if (!parse_percent(t, (size_t)(p - t), &out[*cnt]))
                        return "bad value";
                (*cnt)++;
        }
        return NULL;
}

/* "<seconds>[.<1..9 digits>]" to ns; false if malformed or out of range. */
static bool parse_instant(const char *t, size_t len, uint64_t *out) {
        uint64_t sec = 0, frac = 0;
        size_t i = 0;
        unsigned sd = 0, fd = 0;
        for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                if (++sd > 11)
                        return false;
                sec = sec * 10 + (uint64_t)(t[i] - '0');
        }
        if (sd == 0)
                return false;
        if (i < len && t[i] == '.') {
                for (i++; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                        if (++fd > 9)
                                return false;
                        frac = frac * 10 + (uint64_t)(t[i] - '0');
                }
                if (fd == 0)
                        return false;
        }
        if (i != len)
                return false;
        for (; fd < 9; fd++)
                frac *= 10;
        *out = sec * 1000000000u + frac;
        return true;
}

/*
 * Re-parse the schedule file when it changed. On a bad line the events
 * before it are kept and the rest is ignored (warned once per change).
 */
static void read_schedule(struct sampler *s) {
        char *buf = calloc(1, SIM_SCHED_MAX + 1);
        if (!buf)
                return;
        struct file_id id = {0, 0, 0};
        ssize_t n = read_with_id(s->dirfd, "schedule", buf, SIM_SCHED_MAX + 1, &id);
        if (n < 0) {
                if (n != -ENOENT && !s->warned_sched)
                        log_warn("sim: cannot read the schedule file: %s", strerror((int)-n));
                s->warned_sched = n != -ENOENT;
                if (n == -ENOENT) {
                        s->nev = 0;
                        memset(&s->sched_id, 0, sizeof s->sched_id);
                }
                free(buf);
                return;
        }
        if (same_id(&id, &s->sched_id)) {
                free(buf);
                return;
        }
        s->sched_id = id;
        s->nev = 0;
        unsigned nvals = 0, line = 0;
        const char *p = buf, *end = buf + n;
        const char *why = NULL, *bad = p;
        size_t badlen = 0;
        if ((size_t)n >= SIM_SCHED_MAX) {
                why = "file larger than 64 KiB at";
                badlen = 0;
        }
        while (!why && p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                if (!eol)
                        eol = end;
                line++;
                const char *q = p;
                while (q < eol && is_space(*q))
                        q++;
                if (q == eol) { /* blank line */
                        p = eol + 1;
                        continue;
                }
                const char *t = q;
                while (q < eol && !is_space(*q))
                        q++;
                uint64_t at;
                bad = t;
                badlen = (size_t)(q - t);
                if (!parse_instant(t, (size_t)(q - t), &at)) {
                        why = "bad time";
                        break;
                }
                if (s->nev && at <= s->ev[s->nev - 1].t_ns) {
                        why = "time not after the previous line";
                        break;
                }
                if (s->nev == SIM_SCHED_EVENTS) {
                        why = "too many lines";
                        break;
                }
                unsigned cnt;
                uint32_t cap = SIM_SCHED_VALUES - nvals < RECORD_MAX_GPUS ? SIM_SCHED_VALUES - nvals
                                                                          : RECORD_MAX_GPUS;
                why = parse_loads(q, eol, true, &s->vals[nvals], cap, &cnt, &bad, &badlen);
                if (!why && cnt == 0)
                        why = "no load values";
                if (why)
                        break;
                s->ev[s->nev++] = (struct sim_event){.t_ns = at, .first = nvals, .n = cnt};
                nvals += cnt;
                p = eol + 1;
        }
        if (why)
                log_warn("sim: schedule line %u: %s '%.*s' (expected \"<unix-seconds> "
                         "<load%%>...\", times increasing); ignoring it and the lines after it",
                         line, why, (int)(badlen > 40 ? 40 : badlen), bad);
        free(buf);
}

static uint32_t power_mw(uint32_t util_cp) {
        return SIM_IDLE_MW + (uint32_t)((uint64_t)SIM_SPAN_MW * util_cp / 10000u);
}

/*
 * The power a reading reports: the average since the previous reading, what
 * the counter moved by over that span (as hardware that averages its power
 * reading shows it), so that a window's energy never exceeds its largest
 * power reading times its length (the analyzer's plausibility check, B5). An
 * instantaneous value would not do: a load that drops just after a window's
 * first reading leaves every reading of the window at the new, lower power
 * while the energy still holds the old load's part of that interval. Without
 * a span (the first read), the load in force.
 */
static uint32_t avg_power_mw(uint64_t uj, uint64_t span_ns, uint32_t util_cp) {
        if (span_ns == 0)
                return power_mw(util_cp);
        double mw = (double)uj * 1e6 / (double)span_ns + 0.5; /* µJ/ns x 1e6 = mW */
        if (mw < SIM_IDLE_MW)
                return SIM_IDLE_MW;
        if (mw > SIM_IDLE_MW + SIM_SPAN_MW)
                return SIM_IDLE_MW + SIM_SPAN_MW;
        return (uint32_t)mw;
}

/* µJ that mw uses in dt_ns (floor), without overflow for any dt. */
static uint64_t energy_uj(uint32_t mw, uint64_t dt_ns) {
        return (uint64_t)mw * (dt_ns / 1000000u) + (uint64_t)mw * (dt_ns % 1000000u) / 1000000u;
}

static uint64_t counter_uj(const struct sampler *s, unsigned i, uint64_t now) {
        const struct sim_gpu *g = &s->g[i];
        return g->anchor_uj +
               energy_uj(power_mw(g->util_cp), now > s->anchor_ns ? now - s->anchor_ns : 0);
}

static int save_state(struct sampler *s) {
        char buf[SIM_STATE_MAX];
        int n = snprintf(buf, sizeof buf,
                         "%s\nwall_ns %" PRIu64 "\nload_file %" PRIu64 " %" PRIu64 " %" PRIu64
                         "\nschedule_done_ns %" PRIu64 "\nepoch %" PRIu64 "\n",
                         SIM_STATE_MAGIC, s->anchor_ns, s->load_id.mtime_ns, s->load_id.ino,
                         s->load_id.size, s->sched_done_ns, s->epoch);
        if (n <= 0 || (size_t)n >= sizeof buf)
                return -ENOBUFS;
        size_t len = (size_t)n;
        for (int part = 0; part < 2; part++) {
                for (unsigned i = 0; i < s->n; i++) {
                        char num[32];
                        uint64_t v = part ? s->g[i].anchor_uj : s->g[i].util_cp;
                        int k = snprintf(num, sizeof num, "%" PRIu64 "%c", v,
                                         i + 1 < s->n ? ' ' : '\n');
                        if (k <= 0 || len + (size_t)k >= sizeof buf)
                                return -ENOBUFS;
                        memcpy(buf + len, num, (size_t)k);
                        len += (size_t)k;
                }
        }
        return atomic_write_at(s->dirfd, "energy", buf, len, 0640, ATOMIC_NO_SYNC);
}

/* Best effort: a failed write only loses accuracy across a later restart. */
static void save_state_or_warn(struct sampler *s) {
        int rc = save_state(s);
        if (rc != 0 && !s->warned_state)
                log_warn("sim: cannot write the energy state: %s; energy used while the daemon "
                         "is down may be misjudged",
                         strerror(-rc));
        s->warned_state = rc != 0;
}

/* A strict decimal u64 (proto/text.h) at *p; *p moves past it. */
static bool parse_num(char **p, uint64_t *out) {
        size_t n = 0;
        while (n <= 20 && (*p)[n] >= '0' && (*p)[n] <= '9')
                n++;
        if (!parse_u64(*p, n, out))
                return false;
        *p += n;
        return true;
}

static bool expect(char **p, const char *lit) {
        size_t n = strlen(lit);
        if (strncmp(*p, lit, n) != 0)
                return false;
        *p += n;
        return true;
}

/* Restore the anchor from the energy file; false if there is none (or it is unusable). */
static bool load_state(struct sampler *s) {
        char buf[SIM_STATE_MAX] = "";
        ssize_t n = read_small(s->dirfd, "energy", buf, sizeof buf);
        if (n == -ENOENT)
                return false;
        if (n < 0) {
                log_warn("sim: cannot read the energy state: %s; counters start at 0",
                         strerror((int)-n));
                return false;
        }
        char *p = buf;
        uint64_t wall, mt, ino, size, done, epoch, v[2][RECORD_MAX_GPUS];
        if (!expect(&p, SIM_STATE_MAGIC "\nwall_ns ") || !parse_num(&p, &wall) ||
            !expect(&p, "\nload_file ") || !parse_num(&p, &mt) || !expect(&p, " ") ||
            !parse_num(&p, &ino) || !expect(&p, " ") || !parse_num(&p, &size) ||
            !expect(&p, "\nschedule_done_ns ") || !parse_num(&p, &done) ||
            !expect(&p, "\nepoch ") || !parse_num(&p, &epoch) || epoch == 0 || !expect(&p, "\n"))
                goto bad;
        for (int part = 0; part < 2; part++) {
                for (unsigned i = 0; i < s->n; i++) {
                        if (!parse_num(&p, &v[part][i]) || !expect(&p, i + 1 < s->n ? " " : "\n"))
                                goto bad;
                        if (part == 0 && v[0][i] > 10000)
                                goto bad;
                }
        }
        if (*p)
                goto bad;
        s->anchor_ns = wall;
        s->epoch = epoch;
        s->load_id = (struct file_id){mt, ino, size};
        s->sched_done_ns = done;
        for (unsigned i = 0; i < s->n; i++) {
                s->g[i].util_cp = (uint32_t)v[0][i];
                s->g[i].anchor_uj = v[1][i];
        }
        return true;
bad:
        log_warn("sim: energy state file is malformed (or for another GPU count or an older "
                 "format); counters start at 0");
        return false;
}

/* The counters move to instant t (>= anchor) at the old loads; then loads change. */
static void apply_loads(struct sampler *s, uint64_t t, const uint32_t *vals, unsigned cnt) {
        if (t < s->anchor_ns)
                t = s->anchor_ns;
        for (unsigned i = 0; i < s->n; i++) {
                s->g[i].anchor_uj = counter_uj(s, i, t);
                s->g[i].util_cp = cnt == 0 ? 0 : vals[i < cnt ? i : cnt - 1];
        }
        s->anchor_ns = t;
}

/*
 * Bring the model to instant now: apply the load changes (schedule lines
 * and a rewritten load file) in time order, each at its own instant (but
 * not before the previous read: what a reading reported stays true).
 * Adds to busy_cp_ns[i] the load x time of GPU i over (last_read, now].
 */
static void advance(struct sampler *s, uint64_t now, uint64_t busy_cp_ns[RECORD_MAX_GPUS]) {
        read_schedule(s);
        char buf[SIM_LOAD_MAX + 1] = "";
        struct file_id id = {0, 0, 0};
        ssize_t n = read_with_id(s->dirfd, "load", buf, sizeof buf, &id);
        bool load_ev = false;
        uint32_t load_vals[RECORD_MAX_GPUS];
        unsigned load_cnt = 0;
        uint64_t load_t = now;
        if (n < 0 && n != -ENOENT) {
                /* unreadable: keep the load in force */
        } else if (!same_id(&id, &s->load_id)) {
                s->load_id = id;
                load_t = n < 0 ? now : id.mtime_ns; /* removed: 0 % from when we notice */
                const char *bad = buf, *why = NULL;
                size_t badlen = 0;
                if (n >= 0 && (size_t)n >= SIM_LOAD_MAX)
                        why = "file larger than 4 KiB at";
                else if (n >= 0)
                        why = parse_loads(buf, buf + n, false, load_vals, RECORD_MAX_GPUS,
                                          &load_cnt, &bad, &badlen);
                if (why)
                        log_warn("sim: %s '%.*s' in the load file (expected percentages "
                                 "0..100); keeping the previous load",
                                 why, (int)(badlen > 40 ? 40 : badlen), bad);
                else
                        load_ev = true;
                if (!load_ev)
                        save_state_or_warn(s); /* remember that this content was seen */
        }
        uint64_t from = s->last_read_ns;
        unsigned k = 0;
        while (k < s->nev && s->ev[k].t_ns <= s->sched_done_ns)
                k++;
        for (;;) {
                bool sched = k < s->nev && s->ev[k].t_ns <= now;
                if (!sched && !load_ev)
                        break;
                bool take_load = load_ev && (!sched || load_t <= s->ev[k].t_ns);
                uint64_t t = take_load ? load_t : s->ev[k].t_ns;
                if (t < from)
                        t = from;
                if (t > now)
                        t = now;
                for (unsigned i = 0; i < s->n; i++)
                        busy_cp_ns[i] += (uint64_t)s->g[i].util_cp * (t - from);
                from = t;
                if (take_load) {
                        apply_loads(s, t, load_vals, load_cnt);
                        load_ev = false;
                } else {
                        apply_loads(s, t, &s->vals[s->ev[k].first], s->ev[k].n);
                        s->sched_done_ns = s->ev[k].t_ns;
                        k++;
                }
                save_state_or_warn(s);
        }
        for (unsigned i = 0; i < s->n; i++)
                busy_cp_ns[i] += (uint64_t)s->g[i].util_cp * (now - from);
        s->last_read_ns = now;
}

static int sim_open(const struct sampler_config *cfg, struct sampler **out, char *err,
                    size_t errlen) {
        if (cfg->sim_gpus < 1 || cfg->sim_gpus > RECORD_MAX_GPUS) {
                snprintf(err, errlen, "sim: GPU count %u out of range 1..%u", cfg->sim_gpus,
                         RECORD_MAX_GPUS);
                return GH_E_RANGE;
        }
        int rc = mkdir_p(cfg->sim_dir, 0750);
        if (rc != 0) {
                snprintf(err, errlen, "sim: cannot create '%s': %s", cfg->sim_dir, strerror(-rc));
                return rc;
        }
        struct sampler *s = calloc(1, sizeof *s);
        if (!s) {
                snprintf(err, errlen, "sim: out of memory");
                return -ENOMEM;
        }
        s->n = cfg->sim_gpus;
        s->dirfd = open(cfg->sim_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dirfd < 0) {
                rc = -errno;
                snprintf(err, errlen, "sim: cannot open '%s': %s", cfg->sim_dir, strerror(errno));
                free(s);
                return rc;
        }
        uint8_t seed[16];
        rc = load_seed(s, seed, err, errlen);
        if (rc != 0) {
                close(s->dirfd);
                free(s);
                return rc;
        }
        derive_gpus(s, seed);
        uint64_t now = true_wall_ns();
        bool restored = load_state(s) && s->anchor_ns <= now;
        if (!restored) {
                /* First start: the counters start at 0 now, at the load in force now. */
                memset(&s->load_id, 0, sizeof s->load_id);
                s->sched_done_ns = 0;
                s->anchor_ns = now;
                s->epoch = new_epoch(0);
                for (unsigned i = 0; i < s->n; i++) {
                        s->g[i].anchor_uj = 0;
                        s->g[i].util_cp = 0;
                }
        }
        /* Energy used while nobody was looking: the loads since the anchor, in wall time. */
        s->last_read_ns = s->anchor_ns;
        uint64_t busy[RECORD_MAX_GPUS] = {0};
        struct stat rst;
        if (fstatat(s->dirfd, "reload", &rst, AT_SYMLINK_NOFOLLOW) == 0) {
                /* Test hook: a driver reload at the file's mtime (within anchor..now). */
                uint64_t t = (uint64_t)rst.st_mtim.tv_sec * 1000000000u +
                             (uint64_t)rst.st_mtim.tv_nsec;
                if (t < s->anchor_ns)
                        t = s->anchor_ns;
                if (t > now)
                        t = now;
                advance(s, t, busy);
                for (unsigned i = 0; i < s->n; i++)
                        s->g[i].anchor_uj = 0;
                s->anchor_ns = t;
                s->epoch = new_epoch(s->epoch);
                restored = false; /* saved below */
                if (unlinkat(s->dirfd, "reload", 0) != 0)
                        log_warn("sim: cannot remove the reload file: %s", strerror(errno));
                log_notice("sim: driver reload (test hook): counters restart at 0, new epoch");
        }
        advance(s, now, busy);
        if (!restored)
                save_state_or_warn(s);
        for (unsigned i = 0; i < s->n; i++) {
                s->g[i].last_uj = counter_uj(s, i, now);
                s->g[i].last_mj = s->g[i].last_uj / 1000;
        }
        *out = s;
        return 0;
}

static int sim_inventory(struct sampler *s, struct sampler_inventory *out) {
        memset(out, 0, sizeof *out);
        snprintf(out->driver_version, sizeof out->driver_version, "gpuhours-sim");
        snprintf(out->nvml_version, sizeof out->nvml_version, "none");
        out->gpu_count = s->n;
        for (unsigned k = 0; k < s->n; k++) {
                const struct sim_gpu *g = &s->g[s->order[k]];
                struct gpu_info *gi = &out->gpus[k];
                snprintf(gi->uuid, sizeof gi->uuid, "%s", g->uuid);
                snprintf(gi->serial, sizeof gi->serial, "%s", g->serial);
                snprintf(gi->name, sizeof gi->name, "%s", SIM_NAME);
                snprintf(gi->pci_bus_id, sizeof gi->pci_bus_id, "%s", g->pci);
                gi->mig_mode = MIG_OFF;
                gi->flags = 0;
                gi->energy_mj = counter_uj(s, s->order[k], true_wall_ns()) / 1000;
                gi->counter_epoch = s->epoch;
        }
        return 0;
}

static int sim_read(struct sampler *s, uint64_t dt_us, struct gpu_reading out[RECORD_MAX_GPUS],
                    size_t *n) {
        /* Test hook: a hung driver while <sim-dir>/stall exists. */
        while (faccessat(s->dirfd, "stall", F_OK, 0) == 0) {
                struct timespec d = {0, 50 * 1000 * 1000};
                nanosleep(&d, NULL);
        }
        uint64_t prev = s->last_read_ns;
        uint64_t now = true_wall_ns();
        if (now < prev)
                now = prev; /* the host clock stepped back: hold the counters */
        uint64_t busy_cp_ns[RECORD_MAX_GPUS] = {0};
        advance(s, now, busy_cp_ns);
        uint64_t span = now - prev;
        for (unsigned k = 0; k < s->n; k++) {
                unsigned i = s->order[k];
                struct sim_gpu *g = &s->g[i];
                struct gpu_reading *r = &out[k];
                memset(r, 0, sizeof *r);
                snprintf(r->uuid, sizeof r->uuid, "%s", g->uuid);
                uint64_t uj = counter_uj(s, i, now), mj = uj / 1000;
                r->energy_mj = mj;
                r->energy_used_mj = mj - g->last_mj;
                g->last_mj = mj;
                /* The load averaged over real time since the previous read, over dt_us. */
                uint64_t avg_cp = span ? busy_cp_ns[i] / span : g->util_cp;
                r->busy_us = avg_cp * dt_us / 10000u;
                r->occupied_us = avg_cp > 0 ? dt_us : 0;
                r->power_mw = avg_power_mw(uj - g->last_uj, span, g->util_cp);
                g->last_uj = uj;
                r->mem_used_bytes = SIM_MEM_BYTES / 10000u * g->util_cp;
                r->procs = g->util_cp > 0 ? 1 : 0;
        }
        *n = s->n;
        return 0;
}

static void sim_close(struct sampler *s) {
        if (!s)
                return;
        /* The state file holds the last load change; the next open integrates from there. */
        close(s->dirfd);
        free(s);
}

const struct sampler_ops sampler_sim_ops = {
        .name = "sim",
        .open = sim_open,
        .inventory = sim_inventory,
        .read = sim_read,
        .close = sim_close,
};
