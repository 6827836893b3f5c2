/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Internals shared by the analyzer's modules (not an API):
 *   analyze.c          timeline and coverage (records -> observed/unobserved)
 *   analyze-energy.c   energy counters across unobserved pieces
 *   analyze-rules.c    the finding table and one function per finding rule
 *   analyze-buckets.c  GPU-hours per time bucket or GPU
 * The rules themselves are specified in proto/ANALYSIS.md.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull
#define ANALYZE_FINDINGS_MAX 100000u
#define GPU_NONE 0xffu
#define DEFAULT_PERIOD_S 300u
/* ANALYSIS.md section 7: tolerance on energy against power x time */
#define ENERGY_TOL_FACTOR 1.10
#define ENERGY_TOL_J 1.0
/* ANALYSIS.md section 6: energy below this share of idle floor x time is inconsistent */
#define IDLE_TOL_FACTOR 0.90
/* What a GPU entry of a summary could not measure (UNMEASURED). */
#define UNM_BUSY 1u
#define UNM_OCCUPIED 2u
#define UNM_ENERGY 4u

/* ---- state ---- */

struct gpu_acc {
        char uuid[REC_UUID_MAX + 1];
        /* inside the interval */
        uint64_t observed_ns;
        double busy_ms, occupied_ms, energy_mj;
        /* declared powers of its model (ANALYSIS.md 6); 0: model not declared */
        double idle_w, min_w, max_w; /* peaks.h: idle, minimum power limit (bound), maximum */
        bool declared_unknown;       /* a name without a row was seen: no energy bound */
        /* the lowest average power of its observed windows so far (ANALYSIS.md 6) */
        bool obs_power_valid;
        double obs_power_w;
        bool inventoried; /* named by a START or INVENTORY record */
        /* the last summary that listed it, and its counter at that window's end */
        uint64_t lw_seq; /* summary number (1-based); 0: none */
        bool lw_counter;
        uint8_t lw_boot_id[16];
        uint64_t lw_end_mj;
        bool lw_broken;   /* a reading since then showed a reset or re-init */
        double hidden_gs; /* hidden-compute bounds over the pieces concerning it */
        /* the counter_epoch of its last version 2 START/INVENTORY entry, and that boot */
        bool ep_valid;
        uint8_t ep_boot_id[16];
        uint64_t ep_epoch;
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
        bool before_ledger; /* the ledger's first START: energy since driver load */
};

/*
 * analyze-state.c saves this struct as bytes (a cache in the evidence
 * store, checked by layout and checksum): bump ANALYZER_STATE_LAYOUT there
 * whenever a field of struct analyzer, gpu_acc, win, seg, energy_gap,
 * energy_item or finding changes meaning, type or place.
 */
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
        uint64_t set_leaf, set_wall, set_boot_ns;
        uint8_t set_boot_id[16];
        uint8_t set_idx[RECORD_MAX_GPUS]; /* table index of each, or GPU_NONE */
        char set_uuid[RECORD_MAX_GPUS][REC_UUID_MAX + 1];

        /* last window */
        bool have_win;
        uint8_t win_boot_id[16];
        uint64_t win_ws, win_we, win_be, win_leaf;
        uint64_t frontier_boot; /* max window end (boot) within win_boot_id */
        unsigned steps_since_win;
        bool start_since_win;       /* a START lies between the last window and now */
        uint64_t since_win_mask; /* GPUs of every set in force since the last window */
        uint64_t winboot_last_boot; /* boot_ns of the last record of win_boot_id */

        /* clock offset judge (ANALYSIS.md 5), per boot */
        bool ck_valid;
        uint8_t ck_boot_id[16];
        int64_t ck_off0, ck_accounted;
        uint64_t ck_last_wall, ck_last_leaf;
        /* the latest-labelled reading of the clock judge (CLOCK_AHEAD, ANALYSIS.md 5.1: judged
         * at analyzer_finish against that audit's anchor, so a saved state holds no anchor) */
        bool ah_have;
        uint64_t ah_wall, ah_leaf;
        /* previous record of the same boot (B2) */
        uint64_t prev_boot_ns;
        uint64_t prev_boot_leaf;
        uint64_t last_rec_boot; /* the last record's boot_ns */

        double hidden_gs; /* node: sum of the pieces' bounds */
        uint64_t min_ws, max_we, min_ws_leaf, max_we_leaf;

        /* GPU table */
        struct gpu_acc gpus[RECORD_MAX_GPUS];
        size_t ngpus;
        bool gpu_overflow_reported;
        uint8_t poscache[RECORD_MAX_GPUS];

        /* storage */
        struct win *wins;
        size_t nwins, capwins;
        /*
         * Windows before wins[0] that this analyzer does not hold: it was
         * resumed from a saved state without them (analyze-state.c), so it
         * cannot compute time buckets (0: it holds every window).
         */
        uint64_t wins_base;
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

        /* per-GPU pieces for the verdicts (analyze-pieces.c); NULL: not recorded */
        struct piece_log *plog;
};

static inline const char *kind_word(uint8_t kind) {
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

static inline size_t bounded_len(const char *s, size_t max) {
        size_t n = 0;

        while (n < max && s[n])
                n++;
        return n;
}

static inline void copy_uuid(char dst[REC_UUID_MAX + 1], const char *src) {
        size_t n = bounded_len(src, REC_UUID_MAX);

        memcpy(dst, src, n);
        dst[n] = '\0';
}

static inline bool uuid_eq(const char *a, const char *b) {
        return strncmp(a, b, REC_UUID_MAX) == 0;
}

static inline uint64_t u64_min(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}
static inline uint64_t u64_max(uint64_t a, uint64_t b) {
        return a > b ? a : b;
}

/* a - b in seconds, signed, without overflow. */
static inline double diff_s(uint64_t a, uint64_t b) {
        return a >= b ? (double)(a - b) / 1e9 : -((double)(b - a) / 1e9);
}

/* Grow *p (element size sz) so that it holds at least need elements. */
static inline int grow(void *pp, size_t *cap, size_t need, size_t sz) {
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
static inline uint64_t clip_len(uint64_t ws, uint64_t we, uint64_t len, uint64_t lo, uint64_t hi) {
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
static inline uint64_t scale_ns(uint64_t x, uint64_t num, uint64_t den) {
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

/* analyze-rules.c */
struct finding finding_vmake(enum finding_kind k, const char *fmt, va_list ap)
        __attribute__((format(printf, 2, 0)));
void add_finding(struct analyzer *a, const struct finding *f);
void set_time(struct finding *f, uint64_t start, uint64_t end);
void set_leaves(struct finding *f, uint64_t first, uint64_t last);
void clock_step_finding(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0,
                        uint64_t leaf1, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void list_append(char *buf, size_t n, const char *uuid, size_t *omitted);
void counter_reset_finding(struct analyzer *a, const char *list, size_t count, size_t omitted,
                           uint64_t ws, uint64_t we, uint64_t leaf0, uint64_t leaf1);
void gpu_set(struct analyzer *a, const struct record *r, uint64_t leaf, const struct gpu_info *gpus,
             uint32_t count, bool always, const char *why);
void unmeasured_finding(struct analyzer *a, const char *uuid, unsigned set, uint64_t ws,
                        uint64_t we, uint64_t ns, uint64_t leaf0, uint64_t leaf1);
void unmeasured_flush(struct analyzer *a, struct gpu_acc *g);
void unmeasured_track(struct analyzer *a, struct gpu_acc *g, unsigned set, uint64_t ws, uint64_t we,
                      uint64_t ns, uint64_t leaf);
int finding_cmp(const void *x, const void *y);
void rule_partial_period(struct analyzer *a, const struct rec_summary *s, uint64_t len,
                         uint64_t leaf);
void rule_reboot(struct analyzer *a, const struct record *r, uint64_t leaf);
void rule_restart(struct analyzer *a, const struct record *r, uint64_t leaf);
void rule_clock_step_record(struct analyzer *a, const struct record *r, uint64_t leaf, double step);
void rule_clock_ahead(struct analyzer *a, uint64_t wall, uint64_t anchor, uint64_t leaf);
void rule_clock_drift(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0, uint64_t leaf1,
                      double step);
void rule_implausible(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0, uint64_t leaf1,
                      const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void rule_energy_unaccounted(struct analyzer *a, const struct finding *t, double above_j,
                             double gpu_s);
void rule_gpu_plausible(struct analyzer *a, const struct record *r, const struct gpu_summary *g,
                        uint64_t len, bool whole, uint64_t leaf);
void rule_stale(struct analyzer *a);

/* analyze.c */
uint8_t gpu_index(struct analyzer *a, const char *uuid, size_t pos, uint64_t leaf, uint64_t wall);

/* analyze-energy.c */
void counter_readings(struct analyzer *a, const struct record *r, uint64_t leaf,
                      const struct gpu_info *gpus, uint32_t count, bool start);
void energy_findings(struct analyzer *a);
/* Set g's declared idle power and minimum power limit from its model name (0: not declared). */
void gpu_declare_model(struct gpu_acc *g, const char *name);
/* One summary entry e (of record r, window length len): its average power lowers g's floor. */
void energy_observed_window(struct analyzer *a, const struct record *r,
                            const struct gpu_summary *e, uint64_t len, uint64_t leaf);
/* The idle power subtracted for g: min(declared idle, lowest observed window average). */
double idle_floor_w(const struct gpu_acc *g);
/*
 * Hidden-compute bound for GPU g (ANALYSIS.md 6): e_j joules over l_s
 * seconds, clamped to [0, cap_s]. -1 (the caller takes the worst case) when
 * g's model is not declared or e_j is below IDLE_TOL_FACTOR x the idle floor
 * x l_s - ENERGY_TOL_J. *above: energy above the idle floor (0 when within
 * ENERGY_TOL_J of it), turned into busy seconds at the model's minimum power
 * limit: above / (min_w - idle floor);
 * *implausible: more than the maximum power the whole time.
 */
double hidden_from_energy(const struct gpu_acc *g, double e_j, double l_s, double cap_s,
                          double *above, bool *implausible);

/* analyze.c */
uint64_t step_tolerance(const struct analyzer *a);

/*
 * analyze-pieces.c: the per-GPU pieces (analyzer_record_pieces). While a
 * segment of the timeline is built, pl_gpu notes what one GPU (table index)
 * got in it; pl_segment then closes the segment (wall span ws..we, elapsed
 * length len, counted part cl). With between set, the segment lies between
 * the last window's end and we: when the wall clock moved against its
 * length, every placement the two readings allow is kept. No-ops without a
 * log.
 */
struct pl_entry {
        uint8_t idx;
        uint64_t obs_ns, unobs_ns;
        bool busy_measured, counter;
        double busy_ms, energy_mj;
        uint8_t bound;      /* enum apiece_bound */
        double hidden_s;    /* bound of unobs_ns */
        double hidden_u_s;  /* bound over the whole length; < 0: the worst case */
        double above_j;
};
void pl_gpu(struct analyzer *a, const struct pl_entry *e);
void pl_segment(struct analyzer *a, const char *source, uint64_t ws, uint64_t we, uint64_t len,
                uint64_t cl, bool between);
void pl_free(struct piece_log *l);
/*
 * The repay capacity's inputs (ANALYSIS.md 10): every clock reading (new_boot:
 * the first of a boot ID), the accounted steps before a summary's readings,
 * and a reboot piece's slack (wall delta minus the boot clocks' lower bound).
 */
void pl_reading(struct analyzer *a, bool new_boot, uint64_t wall);
/* The anchor (ANALYSIS.md 5.1): analyzer_pieces_anchor's, else the online now_ns; 0: none. */
uint64_t pl_anchor(const struct analyzer *a);
void pl_before_summary(struct analyzer *a);
void pl_reboot(struct analyzer *a, int64_t slack);
/* Cap on the pieces' entries (segments x GPUs) one source may record. */
#define ANALYZE_PIECES_MAX ANALYZE_PIECES_MAX_PUBLIC
