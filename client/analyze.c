/* SPDX-License-Identifier: MIT */
/*
 * Evidence analysis: verified, decoded records (leaf order) -> totals,
 * coverage, findings and per-bucket GPU-hours. Pure: no I/O, no clock.
 *
 * Rules (issue 4, DESIGN.md "Findings"), as implemented here:
 *
 * Interval. The audited interval is [since, until) in wall time; without
 *   since/until it runs from the earliest summary window start to the latest
 *   window end. With now_ns (online) the end still is the last window end:
 *   STALE reports the rest. Windows and gaps that straddle since/until are
 *   clipped proportionally (the content is taken as uniform in the window).
 *
 * Timeline. Every summary window is an observed segment, every hole between
 *   consecutive windows (leaf order) a gap segment. Within one boot_id a
 *   length is measured in BOOT time (CLOCK_BOOTTIME never jumps): a window is
 *   obs_end_boot - obs_start_boot long, a gap is the boot delta between the
 *   two windows. Across a reboot only wall time exists. Segments keep their
 *   wall bounds for clipping, buckets and finding bounds. The interval's
 *   elapsed length (analysis.interval_ms) is the sum of its segments, so it is
 *   last_ns - first_ns exactly unless the wall clock stepped.
 *
 * Coverage identity. Per GPU and for the node, observed + gap == interval,
 *   to the ms. A GPU counts as observed for a whole window when it is in the
 *   summary with observed_ms within 2 sample intervals + 1 ms of the window,
 *   else for its observed_ms; the rest of the window, and every window it is
 *   absent from, is gap for that GPU. Windows that overlap in boot time (a
 *   correct daemon never writes them) are counted once (their union): the
 *   later window is trimmed and its content scaled down; this raises
 *   CLOCK_STEP "overlapping windows".
 *
 * TIME_GAP (warning): every gap segment of >= 1 ms inside the interval,
 *   including before the first / after the last window when since / until
 *   reach beyond them. Bounds in wall time (clipped), duration_ns = length.
 *   Shorter gaps still count in gap time.
 *
 * CLOCK_STEP (warning): every CLOCK_STEP record; and, within one boot, wall
 *   delta and boot delta between adjacent windows (or across one window)
 *   differing by more than max(1 s, 2 sample intervals) with no CLOCK_STEP
 *   record since the previous summary; and the wall clock going back across
 *   a reboot. A step is never a gap (gap lengths use boot time).
 *
 * RESTART_CLEAN (info): a START right after a STOP. RESTART_UNCLEAN
 *   (warning): any other START that is not the first record. REBOOT (info):
 *   a record whose boot_id differs from the previous record's.
 *
 * PARTIAL_PERIOD (info): one per summary flagged SUMMARY_PARTIAL, with its
 *   window (the unobserved rest shows up as TIME_GAP).
 *
 * COUNTER_RESET (warning): a summary with GPU_COUNTER_RESET on any GPU, or a
 *   START/INVENTORY (same boot) where a GPU's counter is lower than the last
 *   reading of it (summary end, START or INVENTORY). One finding per record.
 *
 * GPU_SET_CHANGED (warning): every INVENTORY record, and a START whose UUID
 *   set differs from the previous START/INVENTORY's. Also raised once if the
 *   ledger names more than RECORD_MAX_GPUS distinct GPUs (the per-GPU table is
 *   then incomplete; node totals still include every GPU).
 *
 * STALE (warning, only with now_ns): now - end of the last summary window
 *   (leaf order; the last record's time if there is no summary) is more than
 *   2 x period + 30 s, period from the last START (300 s without one).
 *
 * ENERGY_UNACCOUNTED (warning): at every START, per GPU with an energy
 *   counter (not GPU_ENERGY_UNSUPPORTED at START): same boot as the GPU's
 *   last counter reading: delta = counter at START - last reading, over the
 *   boot time between them; if the counter went back (COUNTER_RESET) the
 *   delta is the START's counter (a lower bound). After a reboot (or when the
 *   last reading is from another boot), and at the ledger's first START (the
 *   first record; NVML's counter counts mJ since the driver loaded, so it
 *   holds the energy used before the daemon ever ran on this boot): delta =
 *   counter at START over the START's boot_ns (driver load to START), bounds
 *   [START.wall - START.boot, START.wall]; the detail says "before the ledger
 *   began (since driver load)" or "after a reboot". Any other GPU never read
 *   before in this boot is skipped. joules = max(0, delta - idle_W x gap);
 *   idle_W = the GPU's energy / observed time over all its recorded windows
 *   with busy_ms == 0 (else 60 W); gpu_seconds = joules / marginal, marginal
 *   = sum(energy - idle_W x observed) / sum(busy) over its windows with
 *   busy_ms > 0 (else, or when not positive, 640 W per busy second). Windows
 *   flagged GPU_UTIL_UNSUPPORTED, or GPU_ENERGY_UNSUPPORTED without
 *   GPU_ENERGY_FROM_POWER, do not feed the estimates. One finding per START,
 *   summed over GPUs, when gpu_seconds >= 1.
 *
 * Energy from power. A summary GPU entry flagged GPU_ENERGY_UNSUPPORTED |
 *   GPU_ENERGY_FROM_POWER carries energy_used_mj integrated from power samples
 *   by the daemon: it counts in the energy totals and feeds the idle/marginal
 *   estimates, but it is no counter (energy_start/end are 0): it never becomes
 *   a counter reading for COUNTER_RESET or ENERGY_UNACCOUNTED deltas.
 *
 * UNMEASURED (warning): a summary GPU entry flagged GPU_UTIL_UNSUPPORTED
 *   (busy), GPU_PROCS_UNSUPPORTED (occupied) or GPU_ENERGY_UNSUPPORTED without
 *   GPU_ENERGY_FROM_POWER (energy) contributes nothing to that total: no
 *   value, not a zero. One finding per GPU per maximal run of consecutive
 *   summary records (leaf order, summaries only) in which the GPU is present
 *   with the same non-empty unmeasured set; a summary without the GPU, or with
 *   another set, ends the run. Bounds: the run's first window start to last
 *   window end, clipped to the interval; duration_ns ("seconds") = the GPU's
 *   counted observed time in the run inside the interval (raised when >= 1
 *   ms); leaves: the run's first and last summary. GPUs beyond the GPU table
 *   get one finding per window. analysis.unmeasured_busy_gpu_seconds sums the
 *   counted observed time of every GPU entry with busy unmeasured.
 *
 * Leaf ranges: the records bounding each finding. With since/until set,
 *   findings wholly outside the interval are dropped (STALE never is). At most
 *   ANALYZE_FINDINGS_MAX findings are kept; the rest are summarised, one
 *   finding per kind, so that the highest severity survives.
 *
 * Memory: per window 48 bytes (what time buckets need), per gap 24; per-GPU
 *   totals are accumulated as records arrive. O(n) time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define ANALYZE_FINDINGS_MAX 100000u
#define GPU_NONE 0xffu
#define DEFAULT_PERIOD_S 300u
#define DEFAULT_IDLE_W 60.0
#define DEFAULT_MARGINAL_W 640.0
/* What a GPU entry of a summary could not measure (UNMEASURED). */
#define UNM_BUSY 1u
#define UNM_OCCUPIED 2u
#define UNM_ENERGY 4u

static const char *const kind_names[FIND__COUNT] = {
        [FIND_TIME_GAP] = "TIME_GAP",
        [FIND_PARTIAL_PERIOD] = "PARTIAL_PERIOD",
        [FIND_RESTART_CLEAN] = "RESTART_CLEAN",
        [FIND_RESTART_UNCLEAN] = "RESTART_UNCLEAN",
        [FIND_REBOOT] = "REBOOT",
        [FIND_CLOCK_STEP] = "CLOCK_STEP",
        [FIND_ENERGY_UNACCOUNTED] = "ENERGY_UNACCOUNTED",
        [FIND_COUNTER_RESET] = "COUNTER_RESET",
        [FIND_GPU_SET_CHANGED] = "GPU_SET_CHANGED",
        [FIND_STALE] = "STALE",
        [FIND_BAD_SIGNATURE] = "BAD_SIGNATURE",
        [FIND_ROOT_MISMATCH] = "ROOT_MISMATCH",
        [FIND_MALFORMED] = "MALFORMED",
        [FIND_KEY_MISMATCH] = "KEY_MISMATCH",
        [FIND_ROLLBACK] = "ROLLBACK",
        [FIND_FORK] = "FORK",
        [FIND_UNMEASURED] = "UNMEASURED",
};

const char *finding_kind_name(enum finding_kind k) {
        if ((unsigned)k >= FIND__COUNT)
                return "UNKNOWN";
        return kind_names[k];
}

enum severity finding_default_severity(enum finding_kind k) {
        switch (k) {
        case FIND_PARTIAL_PERIOD:
        case FIND_RESTART_CLEAN:
        case FIND_REBOOT:
                return SEV_INFO;
        case FIND_TIME_GAP:
        case FIND_RESTART_UNCLEAN:
        case FIND_CLOCK_STEP:
        case FIND_ENERGY_UNACCOUNTED:
        case FIND_COUNTER_RESET:
        case FIND_GPU_SET_CHANGED:
        case FIND_STALE:
        case FIND_UNMEASURED:
                return SEV_WARNING;
        default:
                return SEV_ERROR;
        }
}

const char *severity_name(enum severity s) {
        switch (s) {
        case SEV_INFO:
                return "info";
        case SEV_WARNING:
                return "warning";
        default:
                return "error";
        }
}

static struct finding finding_vmake(enum finding_kind k, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));

static struct finding finding_vmake(enum finding_kind k, const char *fmt, va_list ap) {
        struct finding f;

        memset(&f, 0, sizeof(f));
        f.kind = k;
        f.severity = finding_default_severity(k);
        if (vsnprintf(f.detail, sizeof(f.detail), fmt, ap) < 0)
                f.detail[0] = '\0';
        return f;
}

struct finding finding_make(enum finding_kind k, const char *fmt, ...) {
        struct finding f;
        va_list ap;

        va_start(ap, fmt);
        f = finding_vmake(k, fmt, ap);
        va_end(ap);
        return f;
}

enum severity analysis_max_severity(const struct analysis *an) {
        enum severity s = SEV_INFO;

        for (size_t i = 0; an && i < an->nfindings; i++)
                if (an->findings[i].severity > s)
                        s = an->findings[i].severity;
        return s;
}

/* ---- state ---- */

struct gpu_acc {
        char uuid[REC_UUID_MAX + 1];
        /* inside the interval */
        uint64_t observed_ns;
        double busy_ms, occupied_ms, energy_mj;
        /* over every recorded window: idle and marginal power estimates */
        double idle_energy_mj, idle_observed_ms;
        double busy_energy_mj, busy_observed_ms, busy_busy_ms;
        /* last counter reading */
        bool base_valid;
        uint8_t base_boot_id[16];
        uint64_t base_boot_ns, base_wall_ns, base_mj, base_leaf;
        /* open UNMEASURED run: consecutive summaries with the same set */
        uint8_t run_set;  /* UNM_* bits; 0: no run open */
        uint64_t run_seq; /* summary number of the run's last window */
        uint64_t run_ws, run_we, run_ns, run_first_leaf, run_last_leaf;
};

/* A stored observed window (node level, what time buckets need). */
struct win {
        uint64_t ws, we, len; /* wall span, elapsed length (ns) */
        double busy_ms, occupied_ms, energy_mj;
};

/* A stored gap: wall span and elapsed length. */
struct seg {
        uint64_t ws, we, len;
};

struct energy_item {
        uint8_t gpu; /* table index or GPU_NONE */
        double delta_mj;
        uint64_t gap_ns;
};

struct energy_gap {
        uint64_t start_ns, end_ns, first_leaf, last_leaf;
        size_t first_item, nitems;
        bool reboot;
        bool before_ledger; /* the ledger's first START: energy since driver load */
};

struct analyzer {
        struct analyze_opts o;
        uint64_t lo, hi; /* clipping bounds: since/until or [0, max) */
        int err;
        bool finished;
        bool uncapped; /* analyzer_finish's own findings bypass the cap */

        /* previous record */
        bool have_prev;
        uint8_t prev_kind;
        uint8_t prev_boot_id[16];
        uint64_t prev_leaf, prev_wall;
        uint64_t first_rec_wall;

        /* last START */
        uint32_t period_s;
        uint64_t sample_ns;

        /* last GPU set (START or INVENTORY) */
        bool have_set;
        size_t set_n;
        uint64_t set_leaf, set_wall;
        char set_uuid[RECORD_MAX_GPUS][REC_UUID_MAX + 1];

        /* last window */
        bool have_win;
        uint8_t win_boot_id[16];
        uint64_t win_ws, win_we, win_be, win_leaf;
        uint64_t frontier_boot; /* max window end (boot) within win_boot_id */
        unsigned steps_since_win;
        uint64_t min_ws, max_we, min_ws_leaf, max_we_leaf;

        /* GPU table */
        struct gpu_acc gpus[RECORD_MAX_GPUS];
        size_t ngpus;
        bool gpu_overflow_reported;
        uint8_t poscache[RECORD_MAX_GPUS];

        /* storage */
        struct win *wins;
        size_t nwins, capwins;
        struct seg *gaps;
        size_t ngaps, capgaps;
        struct finding *f;
        size_t nf, capf;
        size_t suppressed[FIND__COUNT];
        uint64_t sup_first[FIND__COUNT], sup_last[FIND__COUNT];
        struct energy_gap *eg;
        size_t neg, capeg;
        struct energy_item *ei;
        size_t nei, capei;

        /* node totals inside the interval */
        uint64_t obs_ns, gap_ns, unmeasured_busy_ns;
        uint64_t nsummaries; /* summary records seen (numbers UNMEASURED runs) */
        double busy_ms, occupied_ms, energy_mj;

        /* results of finish */
        uint64_t first_ns, last_ns;
};

static const char *kind_word(uint8_t kind) {
        switch (kind) {
        case REC_START:
                return "start";
        case REC_SUMMARY:
                return "summary";
        case REC_STOP:
                return "stop";
        case REC_CLOCK_STEP:
                return "clock step";
        case REC_INVENTORY:
                return "inventory";
        default:
                return "unknown";
        }
}

static size_t bounded_len(const char *s, size_t max) {
        size_t n = 0;

        while (n < max && s[n])
                n++;
        return n;
}

static void copy_uuid(char dst[REC_UUID_MAX + 1], const char *src) {
        size_t n = bounded_len(src, REC_UUID_MAX);

        memcpy(dst, src, n);
        dst[n] = '\0';
}

static bool uuid_eq(const char *a, const char *b) {
        return strncmp(a, b, REC_UUID_MAX) == 0;
}

static uint64_t u64_min(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}
static uint64_t u64_max(uint64_t a, uint64_t b) {
        return a > b ? a : b;
}

/* a - b in seconds, signed, without overflow. */
static double diff_s(uint64_t a, uint64_t b) {
        return a >= b ? (double)(a - b) / 1e9 : -((double)(b - a) / 1e9);
}

/* Grow *p (element size sz) so that it holds at least need elements. */
static int grow(void *pp, size_t *cap, size_t need, size_t sz) {
        void **p = pp;
        size_t n;
        void *q;

        if (need <= *cap)
                return 0;
        n = *cap ? *cap : 64;
        while (n < need) {
                if (n > SIZE_MAX / 2 / sz)
                        return -ENOMEM;
                n *= 2;
        }
        q = realloc(*p, n * sz);
        if (!q)
                return -ENOMEM;
        *p = q;
        *cap = n;
        return 0;
}

/*
 * The part of a segment with wall span [ws, we) and elapsed length len that
 * falls within [lo, hi), in elapsed ns (uniform over the span). A span with
 * we <= ws is a point at ws.
 */
static uint64_t clip_len(uint64_t ws, uint64_t we, uint64_t len, uint64_t lo, uint64_t hi) {
        uint64_t a, b, ov, span;
        double v;

        if (we <= ws)
                return ws >= lo && ws < hi ? len : 0;
        a = u64_max(ws, lo);
        b = u64_min(we, hi);
        if (b <= a)
                return 0;
        ov = b - a;
        span = we - ws;
        if (ov == span)
                return len;
        if (len == span)
                return ov;
        v = (double)len * ((double)ov / (double)span) + 0.5;
        return v >= (double)len ? len : (uint64_t)v;
}

/* Round(x * num / den) for x <= den-scaled values, clamped to num. */
static uint64_t scale_ns(uint64_t x, uint64_t num, uint64_t den) {
        double v;

        if (den == 0 || num == 0)
                return 0;
        if (num == den)
                return x;
        v = (double)x * ((double)num / (double)den) + 0.5;
        if (v >= (double)num)
                return num;
        return (uint64_t)v;
}

static void add_finding(struct analyzer *a, const struct finding *f) {
        if (a->err)
                return;
        if (a->nf >= ANALYZE_FINDINGS_MAX && !a->uncapped) {
                size_t k = (size_t)f->kind;

                if (k < FIND__COUNT) {
                        if (a->suppressed[k] == 0 || f->start_ns < a->sup_first[k])
                                a->sup_first[k] = f->start_ns;
                        if (f->end_ns > a->sup_last[k])
                                a->sup_last[k] = f->end_ns;
                        a->suppressed[k]++;
                }
                return;
        }
        if (grow(&a->f, &a->capf, a->nf + 1, sizeof(*a->f)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        a->f[a->nf++] = *f;
}

static void set_time(struct finding *f, uint64_t start, uint64_t end) {
        f->has_time = true;
        f->start_ns = u64_min(start, end);
        f->end_ns = u64_max(start, end);
        f->duration_ns = f->end_ns - f->start_ns;
}

static void set_leaves(struct finding *f, uint64_t first, uint64_t last) {
        f->has_leaves = true;
        f->first_leaf = u64_min(first, last);
        f->last_leaf = u64_max(first, last);
}

/* Table index for uuid, adding it if new; GPU_NONE beyond RECORD_MAX_GPUS. */
static uint8_t gpu_index(struct analyzer *a, const char *uuid, size_t pos, uint64_t leaf,
                         uint64_t wall) {
        uint8_t c = pos < RECORD_MAX_GPUS ? a->poscache[pos] : GPU_NONE;

        if (c < a->ngpus && uuid_eq(a->gpus[c].uuid, uuid))
                return c;
        for (size_t i = 0; i < a->ngpus; i++)
                if (uuid_eq(a->gpus[i].uuid, uuid)) {
                        if (pos < RECORD_MAX_GPUS)
                                a->poscache[pos] = (uint8_t)i;
                        return (uint8_t)i;
                }
        if (a->ngpus >= RECORD_MAX_GPUS) {
                if (!a->gpu_overflow_reported) {
                        struct finding f = finding_make(
                                FIND_GPU_SET_CHANGED,
                                "more than %u distinct GPUs in the ledger: the per-GPU table "
                                "omits the rest (node totals include them)",
                                RECORD_MAX_GPUS);
                        set_time(&f, wall, wall);
                        set_leaves(&f, leaf, leaf);
                        add_finding(a, &f);
                        a->gpu_overflow_reported = true;
                }
                return GPU_NONE;
        }
        memset(&a->gpus[a->ngpus], 0, sizeof(a->gpus[0]));
        copy_uuid(a->gpus[a->ngpus].uuid, uuid);
        if (pos < RECORD_MAX_GPUS)
                a->poscache[pos] = (uint8_t)a->ngpus;
        return (uint8_t)a->ngpus++;
}

struct analyzer *analyzer_new(const struct analyze_opts *o) {
        struct analyzer *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        if (o)
                a->o = *o;
        a->lo = a->o.since_ns;
        a->hi = a->o.until_ns ? a->o.until_ns : UINT64_MAX;
        a->period_s = DEFAULT_PERIOD_S;
        a->sample_ns = NS_PER_S;
        memset(a->poscache, GPU_NONE, sizeof(a->poscache));
        return a;
}

void analyzer_free(struct analyzer *a) {
        if (!a)
                return;
        free(a->wins);
        free(a->gaps);
        free(a->f);
        free(a->eg);
        free(a->ei);
        free(a);
}

void analysis_free(struct analysis *an) {
        if (!an)
                return;
        free(an->findings);
        an->findings = NULL;
        an->nfindings = 0;
}

static uint64_t step_tolerance(const struct analyzer *a) {
        uint64_t two = a->sample_ns > UINT64_MAX / 2 ? UINT64_MAX : 2 * a->sample_ns;

        return u64_max(NS_PER_S, two);
}

/* Record a gap segment (wall span [ws, we), elapsed len) and its TIME_GAP. */
static void add_gap(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t len, uint64_t leaf0,
                    uint64_t leaf1, const char *what) {
        uint64_t cl;

        if (len == 0 || a->err)
                return;
        if (grow(&a->gaps, &a->capgaps, a->ngaps + 1, sizeof(*a->gaps)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        a->gaps[a->ngaps++] = (struct seg){ws, we, len};
        cl = clip_len(ws, we, len, a->lo, a->hi);
        a->gap_ns += cl;
        if (cl >= NS_PER_MS) {
                struct finding f =
                        finding_make(FIND_TIME_GAP, "%.3f s unobserved%s", (double)cl / 1e9, what);
                if (we > ws)
                        set_time(&f, u64_max(ws, a->lo), u64_min(we, a->hi));
                else
                        set_time(&f, ws, ws);
                f.duration_ns = cl;
                set_leaves(&f, leaf0, leaf1);
                add_finding(a, &f);
        }
}

static void clock_step_finding(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0,
                               uint64_t leaf1, const char *fmt, ...)
        __attribute__((format(printf, 6, 7)));

static void clock_step_finding(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0,
                               uint64_t leaf1, const char *fmt, ...) {
        struct finding f;
        va_list ap;

        va_start(ap, fmt);
        f = finding_vmake(FIND_CLOCK_STEP, fmt, ap);
        va_end(ap);

        set_time(&f, ws, we);
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

/* Appends ", uuid" to buf while it fits; counts the rest. */
static void list_append(char *buf, size_t n, const char *uuid, size_t *omitted) {
        size_t len = bounded_len(buf, n - 1);
        size_t ul = bounded_len(uuid, REC_UUID_MAX);

        if (len + ul + 3 < n - 16) {
                if (len)
                        buf[len++] = ' ';
                memcpy(buf + len, uuid, ul);
                buf[len + ul] = '\0';
        } else {
                (*omitted)++;
        }
}

static void counter_reset_finding(struct analyzer *a, const char *list, size_t count,
                                  size_t omitted, uint64_t ws, uint64_t we, uint64_t leaf0,
                                  uint64_t leaf1) {
        struct finding f;

        if (!count)
                return;
        if (omitted)
                f = finding_make(FIND_COUNTER_RESET, "energy counter reset on %zu GPU(s): %s +%zu",
                                 count, list, omitted);
        else
                f = finding_make(FIND_COUNTER_RESET, "energy counter reset on %zu GPU(s): %s",
                                 count, list);
        set_time(&f, ws, we);
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

/*
 * A START or INVENTORY reading of every GPU's counter: COUNTER_RESET when
 * lower than the last reading in the same boot; ENERGY_UNACCOUNTED items for
 * a START (start); then the readings become the new baselines.
 */
static void counter_readings(struct analyzer *a, const struct record *r, uint64_t leaf,
                             const struct gpu_info *gpus, uint32_t count, bool start,
                             bool rebooted) {
        char list[160] = "";
        size_t nreset = 0, omitted = 0;
        uint64_t first_leaf = leaf, first_wall = r->wall_ns, reset_leaf = leaf;
        struct energy_gap eg = {0};

        eg.first_item = a->nei;
        for (uint32_t i = 0; i < count && !a->err; i++) {
                const struct gpu_info *g = &gpus[i];
                uint8_t idx = gpu_index(a, g->uuid, i, leaf, r->wall_ns);
                struct gpu_acc *acc = idx == GPU_NONE ? NULL : &a->gpus[idx];
                bool same_boot;
                struct energy_item it = {.gpu = idx};
                uint64_t from_wall = r->wall_ns;

                if (g->flags & GPU_ENERGY_UNSUPPORTED)
                        continue;
                same_boot =
                        acc && acc->base_valid && memcmp(acc->base_boot_id, r->boot_id, 16) == 0;
                if (same_boot && g->energy_mj < acc->base_mj) {
                        list_append(list, sizeof(list), g->uuid, &omitted);
                        nreset++;
                        reset_leaf = u64_min(reset_leaf, acc->base_leaf);
                }
                bool have_item = false;
                if (start) {
                        have_item = true;
                        if (same_boot) {
                                it.delta_mj = g->energy_mj >= acc->base_mj
                                                      ? (double)(g->energy_mj - acc->base_mj)
                                                      : (double)g->energy_mj;
                                it.gap_ns = r->boot_ns > acc->base_boot_ns
                                                    ? r->boot_ns - acc->base_boot_ns
                                                    : 0;
                                from_wall = acc->base_wall_ns;
                                if (acc->base_leaf < first_leaf)
                                        first_leaf = acc->base_leaf;
                        } else if (!a->have_prev || rebooted || (acc && acc->base_valid)) {
                                /* the counter counts since driver load */
                                it.delta_mj = (double)g->energy_mj;
                                it.gap_ns = r->boot_ns;
                                from_wall = r->wall_ns > r->boot_ns ? r->wall_ns - r->boot_ns : 0;
                                if (a->have_prev)
                                        eg.reboot = true;
                                else
                                        eg.before_ledger = true;
                        } else {
                                have_item = false;
                        }
                }
                if (have_item) {
                        first_wall = u64_min(from_wall, first_wall);
                        if (grow(&a->ei, &a->capei, a->nei + 1, sizeof(*a->ei)) < 0) {
                                a->err = -ENOMEM;
                                return;
                        }
                        a->ei[a->nei++] = it;
                        eg.nitems++;
                }
                if (acc && (!same_boot || r->boot_ns >= acc->base_boot_ns)) {
                        acc->base_valid = true;
                        memcpy(acc->base_boot_id, r->boot_id, 16);
                        acc->base_boot_ns = r->boot_ns;
                        acc->base_wall_ns = r->wall_ns;
                        acc->base_mj = g->energy_mj;
                        acc->base_leaf = leaf;
                }
        }
        counter_reset_finding(a, list, nreset, omitted, a->have_prev ? a->prev_wall : r->wall_ns,
                              r->wall_ns, reset_leaf, leaf);
        if (eg.nitems) {
                eg.start_ns = first_wall;
                eg.end_ns = r->wall_ns;
                eg.first_leaf = first_leaf;
                eg.last_leaf = leaf;
                if (grow(&a->eg, &a->capeg, a->neg + 1, sizeof(*a->eg)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->eg[a->neg++] = eg;
        }
}

/* GPU_SET_CHANGED when the set differs from the last one; stores the new set. */
static void gpu_set(struct analyzer *a, const struct record *r, uint64_t leaf,
                    const struct gpu_info *gpus, uint32_t count, bool always, const char *why) {
        size_t added = 0, removed = 0;

        if (a->have_set) {
                for (uint32_t i = 0; i < count; i++) {
                        bool found = false;
                        for (size_t j = 0; j < a->set_n && !found; j++)
                                found = uuid_eq(gpus[i].uuid, a->set_uuid[j]);
                        added += !found;
                }
                for (size_t j = 0; j < a->set_n; j++) {
                        bool found = false;
                        for (uint32_t i = 0; i < count && !found; i++)
                                found = uuid_eq(gpus[i].uuid, a->set_uuid[j]);
                        removed += !found;
                }
        }
        if (always || added || removed) {
                struct finding f =
                        finding_make(FIND_GPU_SET_CHANGED, "%s: %u GPU(s) now, %zu added, %zu gone",
                                     why, count, added, removed);
                set_time(&f, a->have_set ? a->set_wall : r->wall_ns, r->wall_ns);
                set_leaves(&f, a->have_set ? a->set_leaf : leaf, leaf);
                if (always || a->have_set)
                        add_finding(a, &f);
        }
        a->have_set = true;
        a->set_n = count;
        a->set_leaf = leaf;
        a->set_wall = r->wall_ns;
        for (uint32_t i = 0; i < count; i++)
                copy_uuid(a->set_uuid[i], gpus[i].uuid);
}

/* UNMEASURED for uuid: set (UNM_*) over wall [ws, we) (clipped), ns of GPU time. */
static void unmeasured_finding(struct analyzer *a, const char *uuid, unsigned set, uint64_t ws,
                               uint64_t we, uint64_t ns, uint64_t leaf0, uint64_t leaf1) {
        static const char *const what[8] = {
                "",
                "busy time not measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode)",
                "occupied time not measured (GPU_PROCS_UNSUPPORTED)",
                "busy and occupied time not measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode; "
                "GPU_PROCS_UNSUPPORTED)",
                "energy not measured (GPU_ENERGY_UNSUPPORTED, no power integral)",
                "busy time and energy not measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode; "
                "GPU_ENERGY_UNSUPPORTED)",
                "occupied time and energy not measured (GPU_PROCS_UNSUPPORTED; "
                "GPU_ENERGY_UNSUPPORTED)",
                "busy time, occupied time and energy not measured (GPU_UTIL_UNSUPPORTED; "
                "GPU_PROCS_UNSUPPORTED; GPU_ENERGY_UNSUPPORTED)",
        };
        static const char *const excl[8] = {
                "",
                "GPU-hours exclude it",
                "occupied GPU-hours exclude it",
                "the totals exclude them",
                "the energy total excludes it",
                "the totals exclude them",
                "the totals exclude them",
                "the totals exclude them",
        };
        struct finding f;
        char u[REC_UUID_MAX + 1];

        set &= 7u;
        if (!set || ns < NS_PER_MS)
                return;
        copy_uuid(u, uuid);
        f = finding_make(FIND_UNMEASURED, "%s: %s for %.3f s; %s", u, what[set], (double)ns / 1e9,
                         excl[set]);
        set_time(&f, u64_max(ws, a->lo), u64_min(we, a->hi));
        f.duration_ns = ns;
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

/* Close g's UNMEASURED run, if one is open. */
static void unmeasured_flush(struct analyzer *a, struct gpu_acc *g) {
        if (!g->run_set)
                return;
        unmeasured_finding(a, g->uuid, g->run_set, g->run_ws, g->run_we, g->run_ns,
                           g->run_first_leaf, g->run_last_leaf);
        g->run_set = 0;
}

/*
 * A GPU entry of summary number a->nsummaries with unmeasured set `set`
 * and ns of counted GPU time: extends the GPU's run when the previous
 * summary had the same set, else closes it and opens a new one.
 */
static void unmeasured_track(struct analyzer *a, struct gpu_acc *g, unsigned set, uint64_t ws,
                             uint64_t we, uint64_t ns, uint64_t leaf) {
        if (g->run_set && (g->run_set != set || g->run_seq + 1 != a->nsummaries))
                unmeasured_flush(a, g);
        if (!set)
                return;
        if (!g->run_set) {
                g->run_set = (uint8_t)set;
                g->run_ws = ws;
                g->run_we = we;
                g->run_ns = 0;
                g->run_first_leaf = leaf;
        }
        g->run_ws = u64_min(g->run_ws, ws);
        g->run_we = u64_max(g->run_we, we);
        g->run_ns += ns;
        g->run_last_leaf = leaf;
        g->run_seq = a->nsummaries;
}

static void do_summary(struct analyzer *a, const struct record *r, uint64_t leaf) {
        const struct rec_summary *s = &r->u.summary;
        uint32_t n = s->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : s->gpu_count;
        uint64_t ws = s->obs_start_wall_ns, we = s->obs_end_wall_ns;
        uint64_t bs = s->obs_start_boot_ns, be = s->obs_end_boot_ns;
        uint64_t len = be > bs ? be - bs : 0, eff_len, eff_ws = ws, overlap = 0, cl;
        uint64_t tol = step_tolerance(a), gpu_tol;
        bool same_boot = a->have_win && memcmp(a->win_boot_id, r->boot_id, 16) == 0;
        char list[160] = "";
        size_t nreset = 0, omitted = 0;
        double node_busy = 0, node_occ = 0, node_energy = 0, frac;

        a->nsummaries++;
        if (s->flags & SUMMARY_PARTIAL) {
                struct finding f =
                        finding_make(FIND_PARTIAL_PERIOD, "partial period: %.3f s observed of %u s",
                                     (double)len / 1e9, s->period_s);
                set_time(&f, ws, we);
                set_leaves(&f, leaf, leaf);
                add_finding(a, &f);
        }
        if (be < bs)
                clock_step_finding(a, ws, we, leaf, leaf,
                                   "window ends %.3f s before it starts (boot time)",
                                   diff_s(bs, be));

        /* Relation to the previous window. */
        if (a->have_win && same_boot) {
                double bd = diff_s(bs, a->win_be), wd = diff_s(ws, a->win_we);
                double d = wd - bd;

                if (bs >= a->frontier_boot) {
                        add_gap(a, a->win_we, ws, bs - a->frontier_boot, a->win_leaf, leaf, "");
                } else {
                        overlap = a->frontier_boot - bs;
                        clock_step_finding(a, ws, u64_min(we, ws + overlap), a->win_leaf, leaf,
                                           "overlapping windows: %.3f s counted once",
                                           (double)u64_min(overlap, len) / 1e9);
                }
                if ((d > (double)tol / 1e9 || d < -(double)tol / 1e9) && !a->steps_since_win)
                        clock_step_finding(a, a->win_we, ws, a->win_leaf, leaf,
                                           "wall clock moved %+.3f s against boot time between "
                                           "windows (no clock step record)",
                                           d);
        } else if (a->have_win) {
                if (ws >= a->win_we)
                        add_gap(a, a->win_we, ws, ws - a->win_we, a->win_leaf, leaf,
                                " (across a reboot, wall time)");
                else
                        clock_step_finding(a, ws, a->win_we, a->win_leaf, leaf,
                                           "wall clock went back %.3f s across a reboot "
                                           "(overlapping windows)",
                                           diff_s(a->win_we, ws));
        }
        {
                double d = diff_s(we, ws) - (double)len / 1e9;
                if ((d > (double)tol / 1e9 || d < -(double)tol / 1e9) && !a->steps_since_win)
                        clock_step_finding(a, ws, we, leaf, leaf,
                                           "wall clock moved %+.3f s against boot time within "
                                           "the window (no clock step record)",
                                           d);
        }

        /* The window's effective part (union with earlier ones) and its clip. */
        overlap = u64_min(overlap, len);
        eff_len = len - overlap;
        if (overlap && we > ws)
                eff_ws = ws + u64_min(overlap, we - ws);
        cl = clip_len(eff_ws, we, eff_len, a->lo, a->hi);
        a->obs_ns += cl;
        frac = len ? (double)cl / (double)len : 0.0; /* share of the raw window counted */
        gpu_tol = a->sample_ns * 2 + NS_PER_MS;

        for (uint32_t i = 0; i < n; i++) {
                const struct gpu_summary *g = &s->gpus[i];
                uint8_t idx = gpu_index(a, g->uuid, i, leaf, r->wall_ns);
                struct gpu_acc *acc = idx == GPU_NONE ? NULL : &a->gpus[idx];
                double busy = (double)g->busy_ms, occ = (double)g->occupied_ms;
                double energy = (double)g->energy_used_mj;
                /* energy integrated from power is a measurement, just not a counter */
                bool no_energy =
                        (g->flags & GPU_ENERGY_UNSUPPORTED) && !(g->flags & GPU_ENERGY_FROM_POWER);
                unsigned unm = 0;
                uint64_t obs_add; /* this GPU's counted observed time in the window */

                if (g->flags & GPU_UTIL_UNSUPPORTED) {
                        busy = 0;
                        unm |= UNM_BUSY;
                }
                if (g->flags & GPU_PROCS_UNSUPPORTED) {
                        occ = 0;
                        unm |= UNM_OCCUPIED;
                }
                if (no_energy) {
                        energy = 0;
                        unm |= UNM_ENERGY;
                }
                if (g->flags & GPU_COUNTER_RESET) {
                        list_append(list, sizeof(list), g->uuid, &omitted);
                        nreset++;
                }
                node_busy += busy * frac;
                node_occ += occ * frac;
                node_energy += energy * frac;
                {
                        uint64_t obs = g->observed_ms > UINT64_MAX / NS_PER_MS
                                               ? UINT64_MAX
                                               : g->observed_ms * NS_PER_MS;
                        uint64_t o_full = obs >= len || len - obs <= gpu_tol ? len : obs;
                        uint64_t o_eff = scale_ns(o_full, eff_len, len);
                        obs_add = scale_ns(o_eff, cl, eff_len);
                }
                if (unm & UNM_BUSY)
                        a->unmeasured_busy_ns += obs_add;
                if (!acc) {
                        /* beyond the GPU table: no run to extend, one finding per window */
                        unmeasured_finding(a, g->uuid, unm, eff_ws, we, obs_add, leaf, leaf);
                        continue;
                }
                acc->observed_ns += obs_add;
                unmeasured_track(a, acc, unm, eff_ws, we, obs_add, leaf);
                acc->busy_ms += busy * frac;
                acc->occupied_ms += occ * frac;
                acc->energy_mj += energy * frac;
                if (g->observed_ms > 0 && !(g->flags & GPU_UTIL_UNSUPPORTED) && !no_energy) {
                        if (g->busy_ms == 0) {
                                acc->idle_energy_mj += energy;
                                acc->idle_observed_ms += (double)g->observed_ms;
                        } else {
                                acc->busy_energy_mj += energy;
                                acc->busy_observed_ms += (double)g->observed_ms;
                                acc->busy_busy_ms += busy;
                        }
                }
                if (!(g->flags & GPU_ENERGY_UNSUPPORTED)) {
                        acc->base_valid = true;
                        memcpy(acc->base_boot_id, r->boot_id, 16);
                        acc->base_boot_ns = be;
                        acc->base_wall_ns = we;
                        acc->base_mj = g->energy_end_mj;
                        acc->base_leaf = leaf;
                }
        }
        counter_reset_finding(a, list, nreset, omitted, ws, we, leaf, leaf);
        a->busy_ms += node_busy;
        a->occupied_ms += node_occ;
        a->energy_mj += node_energy;

        if (eff_len && cl) {
                double k = (double)eff_len / (double)cl; /* back to the whole effective window */
                if (grow(&a->wins, &a->capwins, a->nwins + 1, sizeof(*a->wins)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->wins[a->nwins++] = (struct win){eff_ws,        we,           eff_len,
                                                   node_busy * k, node_occ * k, node_energy * k};
        }

        if (!a->have_win || ws < a->min_ws) {
                a->min_ws = ws;
                a->min_ws_leaf = leaf;
        }
        if (!a->have_win || we > a->max_we) {
                a->max_we = we;
                a->max_we_leaf = leaf;
        }
        if (!same_boot)
                a->frontier_boot = be;
        else if (be > a->frontier_boot)
                a->frontier_boot = be;
        a->have_win = true;
        memcpy(a->win_boot_id, r->boot_id, 16);
        a->win_ws = ws;
        a->win_we = we;
        a->win_be = be;
        a->win_leaf = leaf;
        a->steps_since_win = 0;
}

int analyzer_add(struct analyzer *a, uint64_t leaf, const struct record *r) {
        bool rebooted;

        if (a->err)
                return a->err;
        if (a->finished)
                return -EINVAL;
        rebooted = a->have_prev && memcmp(a->prev_boot_id, r->boot_id, 16) != 0;
        if (!a->have_prev)
                a->first_rec_wall = r->wall_ns;
        if (rebooted) {
                struct finding f = finding_make(FIND_REBOOT, "boot ID changed (at a %s record)",
                                                kind_word(r->kind));
                set_time(&f, a->prev_wall, r->wall_ns);
                set_leaves(&f, a->prev_leaf, leaf);
                add_finding(a, &f);
        }

        switch (r->kind) {
        case REC_START: {
                const struct rec_start *st = &r->u.start;
                uint32_t n = st->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : st->gpu_count;

                if (a->have_prev) {
                        struct finding f;
                        if (a->prev_kind == REC_STOP)
                                f = finding_make(FIND_RESTART_CLEAN,
                                                 "daemon restarted after a clean stop");
                        else
                                f = finding_make(FIND_RESTART_UNCLEAN,
                                                 "daemon started without a stop record "
                                                 "(crash, kill or power loss)");
                        set_time(&f, a->prev_wall, r->wall_ns);
                        set_leaves(&f, a->prev_leaf, leaf);
                        add_finding(a, &f);
                }
                if (st->period_s)
                        a->period_s = st->period_s;
                if (st->sample_interval_us)
                        a->sample_ns = (uint64_t)st->sample_interval_us * 1000u;
                counter_readings(a, r, leaf, st->gpus, n, true, rebooted);
                gpu_set(a, r, leaf, st->gpus, n, false, "GPU set differs from the last inventory");
                break;
        }
        case REC_SUMMARY:
                do_summary(a, r, leaf);
                break;
        case REC_CLOCK_STEP: {
                const struct rec_clock_step *c = &r->u.clock_step;
                double d =
                        diff_s(r->wall_ns, c->prev_wall_ns) - diff_s(r->boot_ns, c->prev_boot_ns);

                clock_step_finding(a, c->prev_wall_ns, r->wall_ns, leaf, leaf,
                                   "wall clock stepped %s by %.3f s",
                                   d >= 0 ? "forward" : "backward", d >= 0 ? d : -d);
                a->steps_since_win++;
                break;
        }
        case REC_INVENTORY: {
                const struct rec_inventory *inv = &r->u.inventory;
                uint32_t n = inv->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : inv->gpu_count;
                char why[96];

                snprintf(why, sizeof(why), "inventory record (%s%s%s%s%s)",
                         inv->reason & INV_GPU_APPEARED ? " appeared" : "",
                         inv->reason & INV_GPU_VANISHED ? " vanished" : "",
                         inv->reason & INV_GPU_RESET ? " reset" : "",
                         inv->reason & INV_DRIVER_CHANGED ? " driver" : "",
                         inv->reason & INV_REINIT ? " reinit" : "");
                counter_readings(a, r, leaf, inv->gpus, n, false, rebooted);
                gpu_set(a, r, leaf, inv->gpus, n, true, why);
                break;
        }
        default:
                break;
        }

        a->have_prev = true;
        a->prev_kind = r->kind;
        memcpy(a->prev_boot_id, r->boot_id, 16);
        a->prev_leaf = leaf;
        a->prev_wall = r->wall_ns;
        return a->err;
}

static int finding_cmp(const void *x, const void *y) {
        const struct finding *p = x, *q = y;

        if (p->has_time != q->has_time)
                return p->has_time ? 1 : -1;
        if (p->start_ns != q->start_ns)
                return p->start_ns < q->start_ns ? -1 : 1;
        if (p->has_leaves && q->has_leaves && p->first_leaf != q->first_leaf)
                return p->first_leaf < q->first_leaf ? -1 : 1;
        if (p->kind != q->kind)
                return p->kind < q->kind ? -1 : 1;
        return p->end_ns < q->end_ns ? -1 : p->end_ns > q->end_ns;
}

static int gpu_cmp(const void *x, const void *y) {
        const struct gpu_acc *p = x, *q = y;

        return strncmp(p->uuid, q->uuid, REC_UUID_MAX);
}

static void energy_findings(struct analyzer *a) {
        double idle_w[RECORD_MAX_GPUS] = {0}, marg_w[RECORD_MAX_GPUS] = {0};

        for (size_t i = 0; i < a->ngpus; i++) {
                const struct gpu_acc *g = &a->gpus[i];
                idle_w[i] = g->idle_observed_ms > 0 ? g->idle_energy_mj / g->idle_observed_ms
                                                    : DEFAULT_IDLE_W;
                marg_w[i] = g->busy_busy_ms > 0
                                    ? (g->busy_energy_mj - idle_w[i] * g->busy_observed_ms) /
                                              g->busy_busy_ms
                                    : DEFAULT_MARGINAL_W;
                if (!(marg_w[i] >= 1.0))
                        marg_w[i] = DEFAULT_MARGINAL_W;
        }
        for (size_t k = 0; k < a->neg; k++) {
                const struct energy_gap *eg = &a->eg[k];
                double joules = 0, gpu_s = 0, gap_max = 0;
                size_t ngpu = 0;

                for (size_t j = 0; j < eg->nitems; j++) {
                        const struct energy_item *it = &a->ei[eg->first_item + j];
                        double iw = it->gpu == GPU_NONE ? DEFAULT_IDLE_W : idle_w[it->gpu];
                        double mw = it->gpu == GPU_NONE ? DEFAULT_MARGINAL_W : marg_w[it->gpu];
                        double gap_s = (double)it->gap_ns / 1e9;
                        double jl = it->delta_mj / 1000.0 - iw * gap_s;

                        if (gap_s > gap_max)
                                gap_max = gap_s;
                        if (jl <= 0)
                                continue;
                        joules += jl;
                        gpu_s += jl / mw;
                        ngpu++;
                }
                if (gpu_s >= 1.0) {
                        struct finding f = finding_make(
                                FIND_ENERGY_UNACCOUNTED,
                                "%.0f J beyond idle on %zu GPU(s) in %.3f s without records%s: "
                                "about %.1f GPU-seconds of work",
                                joules, ngpu, gap_max,
                                eg->before_ledger ? " before the ledger began (since driver load)"
                                : eg->reboot      ? " (since driver load after a reboot)"
                                                  : "",
                                gpu_s);
                        set_time(&f, eg->start_ns, eg->end_ns);
                        set_leaves(&f, eg->first_leaf, eg->last_leaf);
                        f.has_energy = true;
                        f.energy_joules = joules;
                        f.gpu_seconds = gpu_s;
                        add_finding(a, &f);
                }
        }
}

int analyzer_finish(struct analyzer *a, struct analysis *out) {
        uint64_t first, last, interval_ns;
        bool bounded = a->o.since_ns || a->o.until_ns;

        memset(out, 0, sizeof(*out));
        if (a->err)
                return a->err;
        if (a->finished)
                return -EINVAL;

        first = a->o.since_ns ? a->o.since_ns : a->have_win ? a->min_ws : a->first_rec_wall;
        last = a->o.until_ns ? a->o.until_ns : a->have_win ? a->max_we : first;
        if (last < first)
                last = first;
        a->first_ns = first;
        a->last_ns = last;
        a->lo = first;
        a->hi = last;
        a->uncapped = true;

        /* Leading and trailing gaps (or the whole interval without windows). */
        if (!a->have_win) {
                add_gap(a, first, last, last - first, a->prev_leaf, a->prev_leaf,
                        " (no summary records)");
        } else {
                if (first < a->min_ws) {
                        uint64_t e = u64_min(a->min_ws, last);
                        add_gap(a, first, e, e - first, a->min_ws_leaf, a->min_ws_leaf,
                                " before the first summary window");
                }
                if (last > a->max_we) {
                        uint64_t s = u64_max(a->max_we, first);
                        add_gap(a, s, last, last - s, a->max_we_leaf, a->max_we_leaf,
                                " after the last summary window");
                }
        }

        energy_findings(a);
        for (size_t i = 0; i < a->ngpus; i++)
                unmeasured_flush(a, &a->gpus[i]);

        if (a->o.now_ns && a->have_prev) {
                uint64_t end = a->have_win ? a->win_we : a->prev_wall;
                uint64_t lim = 2ull * a->period_s * NS_PER_S + 30 * NS_PER_S;

                if (a->o.now_ns > end && a->o.now_ns - end > lim) {
                        struct finding f = finding_make(
                                FIND_STALE, "newest record ends %.0f s before now (limit %.0f s)",
                                (double)(a->o.now_ns - end) / 1e9, (double)lim / 1e9);
                        set_time(&f, end, a->o.now_ns);
                        set_leaves(&f, a->have_win ? a->win_leaf : a->prev_leaf,
                                   a->have_win ? a->win_leaf : a->prev_leaf);
                        add_finding(a, &f);
                }
        }

        for (size_t k = 0; k < FIND__COUNT; k++) {
                if (!a->suppressed[k])
                        continue;
                struct finding f = finding_make(
                        (enum finding_kind)k, "%zu further %s findings not listed (cap %u)",
                        a->suppressed[k], finding_kind_name((enum finding_kind)k),
                        ANALYZE_FINDINGS_MAX);
                set_time(&f, a->sup_first[k], a->sup_last[k]);
                add_finding(a, &f);
        }
        if (a->err)
                return a->err;

        /* Drop findings wholly outside an explicit interval (STALE stays). */
        if (bounded) {
                size_t w = 0;
                for (size_t i = 0; i < a->nf; i++) {
                        const struct finding *f = &a->f[i];
                        bool keep = f->kind == FIND_STALE || !f->has_time ||
                                    (f->start_ns <= last && f->end_ns >= first);
                        if (keep)
                                a->f[w++] = *f;
                }
                a->nf = w;
        }
        if (a->nf)
                qsort(a->f, a->nf, sizeof(*a->f), finding_cmp);

        interval_ns = a->obs_ns + a->gap_ns;
        out->first_ns = first;
        out->last_ns = last;
        out->busy_gpu_seconds = a->busy_ms / 1e3;
        out->occupied_gpu_seconds = a->occupied_ms / 1e3;
        out->energy_joules = a->energy_mj / 1e3;
        out->observed_seconds = (double)a->obs_ns / 1e9;
        out->gap_seconds = (double)a->gap_ns / 1e9;
        out->unmeasured_busy_gpu_seconds = (double)a->unmeasured_busy_ns / 1e9;
        out->interval_ms = (interval_ns + NS_PER_MS / 2) / NS_PER_MS;

        qsort(a->gpus, a->ngpus, sizeof(a->gpus[0]), gpu_cmp);
        memset(a->poscache, GPU_NONE, sizeof(a->poscache));
        out->gpu_count = a->ngpus;
        for (size_t i = 0; i < a->ngpus; i++) {
                const struct gpu_acc *g = &a->gpus[i];
                uint64_t obs = u64_min(g->observed_ns, interval_ns);

                copy_uuid(out->gpus[i].uuid, g->uuid);
                out->gpus[i].observed_ms = (obs + NS_PER_MS / 2) / NS_PER_MS;
                out->gpus[i].gap_ms = out->interval_ms - out->gpus[i].observed_ms;
                out->gpus[i].busy_seconds = g->busy_ms / 1e3;
                out->gpus[i].occupied_seconds = g->occupied_ms / 1e3;
                out->gpus[i].energy_joules = g->energy_mj / 1e3;
        }

        out->findings = a->f;
        out->nfindings = a->nf;
        a->f = NULL;
        a->nf = a->capf = 0;
        a->finished = true;
        return 0;
}

/* ---- buckets ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
        int64_t era;
        unsigned doe, yoe, doy, mp;

        z += 719468;
        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

/* Month number (years * 12 + month - 1) holding t. */
static int64_t month_of(uint64_t t) {
        int64_t y;
        unsigned m, d;

        civil_from_days((int64_t)(t / (86400 * NS_PER_S)), &y, &m, &d);
        return y * 12 + (int64_t)m - 1;
}

static uint64_t month_start(int64_t mi) {
        int64_t days = days_from_civil(mi / 12, (unsigned)(mi % 12) + 1, 1);

        return (uint64_t)days * 86400 * NS_PER_S;
}

struct bucket_grid {
        enum report_by by;
        uint64_t size; /* hour/day */
        int64_t m0;    /* month of bucket 0 */
        uint64_t b0;   /* hour/day index of bucket 0 */
        size_t n;
};

static uint64_t grid_start(const struct bucket_grid *g, size_t k) {
        if (g->by == BY_MONTH)
                return month_start(g->m0 + (int64_t)k);
        return (g->b0 + k) * g->size;
}

static size_t grid_index(const struct bucket_grid *g, uint64_t t) {
        if (g->by == BY_MONTH)
                return (size_t)(month_of(t) - g->m0);
        return (size_t)(t / g->size - g->b0);
}

struct bucket_acc {
        uint64_t obs_ns, gap_ns;
};

/* Spread segment [ws, we) (elapsed len) over the buckets within [first, last). */
static void spread(const struct bucket_grid *g, struct bucket *b, struct bucket_acc *acc,
                   uint64_t first, uint64_t last, uint64_t ws, uint64_t we, uint64_t len,
                   const struct win *w, bool open_end) {
        uint64_t from, to;

        if (we <= ws && open_end && ws == last) {
                /* a point at the end of an interval that ends with the last window */
                ws = we = last - 1;
        }
        from = we > ws ? u64_max(ws, first) : ws;
        to = we > ws ? u64_min(we, last) : ws + 1;
        if (len == 0 || from >= last || from < first || (we > ws && to <= from))
                return;
        for (size_t k = grid_index(g, from); k < g->n; k++) {
                uint64_t bs = u64_max(grid_start(g, k), first);
                uint64_t be = k + 1 < g->n ? grid_start(g, k + 1) : last;
                uint64_t part;

                if (bs >= to)
                        break;
                be = u64_min(be, last);
                part = clip_len(ws, we, len, bs, be);
                if (part == 0)
                        continue;
                if (w) {
                        double f = (double)part / (double)len;
                        acc[k].obs_ns += part;
                        b[k].busy_gpu_hours += w->busy_ms * f / 3.6e6;
                        b[k].occupied_gpu_hours += w->occupied_ms * f / 3.6e6;
                        b[k].energy_kwh += w->energy_mj * f / 3.6e9;
                } else {
                        acc[k].gap_ns += part;
                }
        }
}

int analyzer_buckets(struct analyzer *a, enum report_by by, struct bucket **out, size_t *n) {
        struct bucket_grid g = {.by = by};
        struct bucket *b;
        struct bucket_acc *acc;
        uint64_t first = a->first_ns, last = a->last_ns;

        *out = NULL;
        *n = 0;
        if (!a->finished)
                return -EINVAL;
        if (by == BY_GPU) {
                uint64_t interval_ns = a->obs_ns + a->gap_ns;
                if (a->ngpus == 0)
                        return 0;
                b = calloc(a->ngpus, sizeof(*b));
                if (!b)
                        return -ENOMEM;
                for (size_t i = 0; i < a->ngpus; i++) {
                        const struct gpu_acc *ga = &a->gpus[i];
                        uint64_t obs = u64_min(ga->observed_ns, interval_ns);
                        b[i].start_ns = first;
                        b[i].end_ns = last;
                        copy_uuid(b[i].gpu_uuid, ga->uuid);
                        b[i].busy_gpu_hours = ga->busy_ms / 3.6e6;
                        b[i].occupied_gpu_hours = ga->occupied_ms / 3.6e6;
                        b[i].energy_kwh = ga->energy_mj / 3.6e9;
                        b[i].coverage_pct =
                                interval_ns ? 100.0 * (double)obs / (double)interval_ns : 0.0;
                        b[i].gap_seconds = (double)(interval_ns - obs) / 1e9;
                }
                *out = b;
                *n = a->ngpus;
                return 0;
        }
        if (by != BY_HOUR && by != BY_DAY && by != BY_MONTH)
                return -EINVAL;
        if (last <= first)
                return 0;
        if (by == BY_MONTH) {
                g.m0 = month_of(first);
                if (month_of(last - 1) - g.m0 + 1 > (int64_t)ANALYZE_BUCKETS_MAX)
                        return -E2BIG;
                g.n = (size_t)(month_of(last - 1) - g.m0 + 1);
        } else {
                g.size = (by == BY_HOUR ? 3600 : 86400) * NS_PER_S;
                g.b0 = first / g.size;
                if ((last - 1) / g.size - g.b0 + 1 > ANALYZE_BUCKETS_MAX)
                        return -E2BIG;
                g.n = (size_t)((last - 1) / g.size - g.b0 + 1);
        }
        b = calloc(g.n, sizeof(*b));
        acc = calloc(g.n, sizeof(*acc));
        if (!b || !acc) {
                free(b);
                free(acc);
                return -ENOMEM;
        }
        for (size_t k = 0; k < g.n; k++) {
                b[k].start_ns = grid_start(&g, k);
                b[k].end_ns = grid_start(&g, k + 1);
        }
        for (size_t i = 0; i < a->nwins; i++) {
                const struct win *w = &a->wins[i];
                spread(&g, b, acc, first, last, w->ws, w->we, w->len, w, !a->o.until_ns);
        }
        for (size_t i = 0; i < a->ngaps; i++) {
                const struct seg *s = &a->gaps[i];
                spread(&g, b, acc, first, last, s->ws, s->we, s->len, NULL, !a->o.until_ns);
        }
        for (size_t k = 0; k < g.n; k++) {
                uint64_t tot = acc[k].obs_ns + acc[k].gap_ns;
                b[k].coverage_pct = tot ? 100.0 * (double)acc[k].obs_ns / (double)tot : 0.0;
                b[k].gap_seconds = (double)acc[k].gap_ns / 1e9;
        }
        free(acc);
        *out = b;
        *n = g.n;
        return 0;
}
