/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/*
 * Evidence analysis: turns a verified, decoded ledger (records in leaf
 * order) into GPU-hours, coverage and findings (docs/DESIGN.md "Findings";
 * the rules: proto/ANALYSIS.md). Pure: no I/O, no clock reads (the caller
 * passes "now").
 */

enum finding_kind {
        FIND_TIME_GAP,
        FIND_PARTIAL_PERIOD,
        FIND_RESTART_CLEAN,
        FIND_RESTART_UNCLEAN,
        FIND_REBOOT,
        FIND_CLOCK_STEP,
        FIND_ENERGY_UNACCOUNTED,
        FIND_COUNTER_RESET,
        FIND_GPU_SET_CHANGED,
        FIND_STALE,
        /* integrity failures, raised by the verifier rather than the analyzer */
        FIND_BAD_SIGNATURE,
        FIND_ROOT_MISMATCH,
        FIND_MALFORMED,
        FIND_KEY_MISMATCH,
        FIND_ROLLBACK,
        FIND_FORK,
        /*
         * A quantity a summary says it could not measure (GPU_UTIL_UNSUPPORTED,
         * GPU_PROCS_UNSUPPORTED, GPU_ENERGY_UNSUPPORTED without
         * GPU_ENERGY_FROM_POWER): the totals hold no value for it, not a zero.
         * Analyzer finding (warning); last so that no earlier value moves.
         */
        FIND_UNMEASURED,
        /*
         * Signed data that contradicts physics or the format's meaning
         * (proto/ANALYSIS.md section 7): an integrity failure (error).
         */
        FIND_IMPLAUSIBLE,
        /*
         * Witnesses (--witnesses, client/witness.c): WITNESS_QUORUM (error) the
         * checkpoint's cosignatures do not satisfy the policy's quorum;
         * WITNESSED (info) the newest cosignature time of one witness.
         */
        FIND_WITNESS_QUORUM,
        FIND_WITNESSED,
        /*
         * A record or window labelled after the audit's anchor time
         * (analyzer_pieces_anchor, else the online now_ns) plus tol_step: the node's wall
         * clock runs ahead of real time (proto/ANALYSIS.md section 5.1).
         * Analyzer finding (warning), one per source at its latest-labelled reading,
         * judged at analyzer_finish (no saved state holds an anchor), kept outside --until.
         */
        FIND_CLOCK_AHEAD,
        FIND__COUNT
};

enum severity { SEV_INFO, SEV_WARNING, SEV_ERROR };

struct finding {
        enum finding_kind kind;
        enum severity severity;
        bool has_time;
        uint64_t start_ns, end_ns; /* wall-clock bounds (UTC, ns since epoch) */
        bool has_leaves;
        uint64_t first_leaf, last_leaf;
        bool has_energy;      /* energy_joules holds energy above idle */
        double energy_joules; /* ENERGY_UNACCOUNTED, TIME_GAP bounded from energy */
        bool has_hidden;      /* gpu_seconds holds a hidden-compute bound */
        double gpu_seconds;   /* TIME_GAP, ENERGY_UNACCOUNTED */
        /* TIME_GAP: the source of unobserved time (ANALYSIS.md section 4), else NULL */
        const char *source;
        /*
         * The GPUs concerned when not all: bit i = analysis.gpus[i] (the
         * analyzer's table index before analyzer_finish, remapped by it).
         */
        bool has_gpus;
        uint64_t gpu_mask;
        bool has_step;       /* CLOCK_STEP */
        double step_seconds; /* signed: wall clock against elapsed time */
        char detail[256];
        /*
         * Elapsed length of the finding in ns where the analyzer knows it
         * (TIME_GAP: unobserved time measured in boot time within a boot, which
         * differs from end_ns - start_ns when the wall clock stepped). 0: use
         * end_ns - start_ns. (Added by the analyzer; finding_make sets 0.)
         */
        uint64_t duration_ns;
};

/* Stable names: "TIME_GAP", … */
const char *finding_kind_name(enum finding_kind k);
enum severity finding_default_severity(enum finding_kind k);
const char *severity_name(enum severity s); /* "info", "warning", "error" */
/* A finding with kind, default severity and a printf-style detail; no time/leaf/energy. */
struct finding finding_make(enum finding_kind k, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

struct analyze_opts {
        uint64_t since_ns; /* 0: from the first record */
        uint64_t until_ns; /* 0: to the last record (online: to now if STALE matters) */
        uint64_t now_ns;   /* online sources: wall time now, for STALE; 0 for bundles */
};

/* Totals over the audited interval [first_ns, last_ns). */
struct analysis {
        uint64_t first_ns, last_ns;
        double busy_gpu_seconds;
        double occupied_gpu_seconds;
        double energy_joules; /* energy recorded in summaries (inside the interval) */
        /* ANALYSIS.md section 3, each a whole number of ms */
        double observed_seconds;   /* interval - unobserved */
        double gap_seconds;        /* unobserved time (node level) */
        double step_seconds;       /* (last_ns - first_ns) - interval, signed */
        double hidden_gpu_seconds; /* sum of the hidden-compute bounds */
        /*
         * GPU time (summed over GPUs, inside the interval) observed while busy
         * time could not be measured (GPU_UTIL_UNSUPPORTED): busy_gpu_seconds
         * holds nothing for it. UNMEASURED findings list it per GPU.
         */
        double unmeasured_busy_gpu_seconds;
        /*
         * Elapsed length of the audited interval in ms: observed + gap. Equals
         * (last_ns - first_ns) / 1e6 unless the wall clock stepped (coverage
         * uses boot time within a boot, so a step is neither observed nor gap).
         */
        uint64_t interval_ms;
        /* Coverage identity per GPU: observed_ms + gap_ms == interval length (ms). */
        size_t gpu_count;
        struct {
                char uuid[REC_UUID_MAX + 1];
                uint64_t observed_ms;
                uint64_t gap_ms; /* unobserved */
                double hidden_gpu_seconds;
                double busy_seconds, occupied_seconds, energy_joules;
        } gpus[RECORD_MAX_GPUS];
        struct finding *findings; /* malloc'd, time order */
        size_t nfindings;
};

enum report_by { BY_HOUR, BY_DAY, BY_MONTH, BY_GPU };

struct bucket {
        uint64_t start_ns, end_ns;       /* time buckets; for BY_GPU the whole interval */
        char gpu_uuid[REC_UUID_MAX + 1]; /* BY_GPU only */
        double busy_gpu_hours, occupied_gpu_hours, energy_kwh;
        double coverage_pct; /* observed / bucket length within the audited interval */
        double gap_seconds;  /* unobserved */
        double observed_seconds;
        double hidden_gpu_seconds; /* BY_GPU only */
};

struct analyzer;

/* NULL on allocation failure. */
struct analyzer *analyzer_new(const struct analyze_opts *o);
/* Records in leaf order, starting at leaf 0. 0 or -ENOMEM. */
int analyzer_add(struct analyzer *a, uint64_t leaf, const struct record *r);
/* Compute totals and findings. 0 or -ENOMEM. out is owned by the caller (analysis_free). */
int analyzer_finish(struct analyzer *a, struct analysis *out);
/*
 * After analyzer_finish: GPU-hours per bucket (malloc'd array, UTC buckets
 * from the one holding first_ns to the one holding last_ns - 1; BY_GPU: one
 * per GPU, sorted by UUID). 0, -ENOMEM, -EINVAL (not finished) or -E2BIG
 * (more than ANALYZE_BUCKETS_MAX buckets: choose a coarser --by).
 */
#define ANALYZE_BUCKETS_MAX 200000u
int analyzer_buckets(struct analyzer *a, enum report_by by, struct bucket **out, size_t *n);
void analyzer_free(struct analyzer *a);
void analysis_free(struct analysis *an);
/* Highest severity among findings (SEV_INFO when none). */
enum severity analysis_max_severity(const struct analysis *an);

/*
 * Per-GPU pieces of the timeline (client/analyze-pieces.c, the "Pieces"
 * section of proto/ANALYSIS.md): what `gpuhours check` judges. Every
 * segment of the node's timeline (a summary window, or a piece of section
 * 4 between, before or after windows) becomes, for every GPU of the ledger,
 * one piece: its observed part (busy bounds, energy) and its unobserved part
 * (with the hidden-compute bound of section 6). Observed + unobserved over a
 * GPU's pieces is the interval, as in section 3.
 */
enum apiece_bound {
        APB_OBSERVED,    /* no unobserved part */
        APB_ENERGY_IDLE, /* energy across the unobserved part proves the GPU idle */
        APB_ENERGY,      /* hidden time bounded by the energy above idle */
        APB_NO_COUNTER,  /* no continuous counter (or a reboot): worst case */
        APB_NO_RECORD,   /* before the first / after the last window: worst case */
        APB_ABSENT,      /* the GPU is not in the summary or not in the node's set: worst case */
};

struct apiece {
        const char *source;        /* "window" or a TIME_GAP source of section 4 */
        uint64_t ws, we;           /* the analyzer's wall placement, inside the interval */
        uint64_t uws, uwe;         /* every placement the clocks allow (ws..we when exact) */
        bool exact;                /* uws == ws, uwe == we: no clock moved */
        /*
         * The placement by the node's own labels and the clock moves the
         * analyzer detected (without the repay capacity of ANALYSIS.md 10):
         * what the verified lower bounds use (VERDICTS.md section 2).
         */
        uint64_t lws, lwe;
        bool lexact;
        uint64_t late_ns;          /* the repay widening of uwe (0: none) */
        bool early_open;           /* labels proven late: may lie anywhere before */
        uint64_t len_ns;           /* counted elapsed length inside the interval (obs + unobs) */
        uint64_t ulen_ns;          /* elapsed length that may lie in [uws, uwe) (>= len_ns) */
        uint64_t obs_ns, unobs_ns; /* the GPU's observed and unobserved parts of len_ns */
        bool busy_measured;        /* busy_s is a measurement (not GPU_UTIL_UNSUPPORTED) */
        double busy_s;             /* counted busy seconds of the observed part */
        bool counter;              /* energy_j is from a continuous energy counter */
        double energy_j;           /* counted energy of the observed part */
        enum apiece_bound bound;   /* how the unobserved part is bounded */
        double hidden_s;           /* its hidden-compute bound (<= unobs_ns), counted */
        double hidden_u_s;         /* the bound over ulen_ns (>= hidden_s) */
        double above_j;            /* APB_ENERGY*: energy above idle */
};

struct agpu_pieces {
        char uuid[REC_UUID_MAX + 1];
        struct apiece *p; /* timeline order (leaf order of the segments) */
        size_t n;
};

struct analyzer_pieces {
        size_t ngpus; /* = analysis.gpu_count, same order (sorted by UUID) */
        struct agpu_pieces gpus[RECORD_MAX_GPUS];
        bool overflow; /* more GPUs than RECORD_MAX_GPUS: the rest have no pieces */
};

/*
 * Hard cap on the entries (segments x GPUs) one analyzer records for the
 * pieces: beyond it analyzer_add/finish fail -E2BIG (gpuhours check exits 3).
 */
#define ANALYZE_PIECES_MAX_PUBLIC 1000000u
/* Record pieces: call after analyzer_new, before the first analyzer_add. 0 or -ENOMEM. */
int analyzer_record_pieces(struct analyzer *a);
/*
 * After analyzer_record_pieces: an instant after every record really was
 * written (the audit's fetch time; check: its clock when it judges, for
 * bundles too); without it the online now_ns is used. Bounds how early the
 * labels can be (ANALYSIS.md 10 "Repay capacity") and raises CLOCK_AHEAD
 * (section 5.1). Kept with the pieces, not in the saved analyzer state.
 */
void analyzer_pieces_anchor(struct analyzer *a, uint64_t anchor_ns);
/* After analyzer_finish: the pieces (owned by out). 0, -EINVAL (not recorded/finished), -ENOMEM. */
int analyzer_pieces(const struct analyzer *a, struct analyzer_pieces *out);
void analyzer_pieces_free(struct analyzer_pieces *p);
const char *apiece_bound_name(enum apiece_bound b); /* "observed", "energy-idle", … */
