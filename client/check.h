/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "record.h"
#include "rules.h"

/*
 * `gpuhours check`: the evidence timeline of a fleet and the verdicts on
 * the rules file (gpuhours(1) "CHECK", FORMAT.md "Verdicts").
 *
 * evidence.c builds, from the records of every verified source (re-checked
 * against the verified checkpoint's size and Merkle root), one timeline per
 * GPU: summary windows (wall clock) and the unobserved pieces between them,
 * each with an upper bound of the busy GPU-seconds that could hide in it.
 * verdict.c judges each rule on intervals [lower, upper]. Neither prints.
 */

#define CHECK_SLOTS_MAX 2000000u   /* concurrency slots */

struct ev_window {
        uint64_t start_ns, end_ns; /* obs_start_wall .. obs_end_wall */
        uint64_t start_boot_ns, end_boot_ns;
        uint32_t boot; /* index into the node's boot IDs */
        uint8_t flags; /* gpu_summary.flags */
        double obs_s, busy_s;
        uint64_t e_start_mj, e_end_mj;
};

enum piece_bound {
        PB_ENERGY_IDLE,   /* the energy across it proves the GPU idle: hidden 0 */
        PB_ENERGY,        /* hidden bounded by the energy above idle */
        PB_NO_COUNTER,    /* no continuous energy counter: worst case */
        PB_NO_RECORD,     /* before the first / after the last window: worst case */
};

struct ev_piece {
        uint64_t start_ns, end_ns; /* wall clock, inside the audited interval */
        double hidden_s;           /* upper bound of busy seconds hidden in it */
        double energy_j;           /* PB_ENERGY, PB_ENERGY_IDLE */
        enum piece_bound bound;
};

struct ev_gpu {
        char uuid[REC_UUID_MAX + 1];
        char name[REC_NAME_MAX + 1];
        size_t node;
        struct ev_window *w;
        size_t nw, wcap;
        struct ev_piece *p;
        size_t np, pcap;
        bool peak_known;
        double peak_flops;
        char peak_source[64];
        double observed_s, unobserved_s, hidden_s; /* inside the audited interval */
};

enum node_state { NODE_OK, NODE_FAILED, NODE_MISSING };

struct ev_node {
        const char *name; /* the source as given */
        char origin[256];
        enum node_state state;
        char error[512]; /* NODE_FAILED / NODE_MISSING: why */
        uint64_t first_ns, last_ns; /* records */
        uint8_t (*boots)[16];
        size_t nboots;
        uint32_t period_s; /* smallest summary period seen (0: none) */
};

struct ev_conflict { /* one UUID on two nodes at the same time */
        size_t gpu_a, gpu_b;
        uint64_t start_ns, end_ns;
};

struct evidence {
        uint64_t start_ns, end_ns; /* the audited interval */
        uint64_t now_ns;
        struct ev_node *nodes;
        size_t nnodes;
        struct ev_gpu *gpus;
        size_t ngpus, gcap;
        struct ev_conflict *conflicts;
        size_t nconflicts;
        uint32_t period_s; /* smallest period over the fleet (60 if none) */
};

struct source;
/*
 * The timeline of srcs[0..n) (verified with keep_bundle, or bundle files),
 * over [since_ns, until_ns) (0: the earliest record / now for live nodes,
 * the latest record if all are bundles). rs gives the peak lines. 0 or
 * -ENOMEM; *err says why for other failures (then 3).
 */
int evidence_build(struct evidence *ev, const struct source *srcs, size_t n, uint64_t since_ns,
                   uint64_t until_ns, uint64_t now_ns, const struct rules *rs);
void evidence_free(struct evidence *ev);
const char *piece_bound_name(enum piece_bound b); /* "energy-idle", … */

enum verdict { V_PASS, V_UNKNOWN, V_FAIL };
const char *verdict_name(enum verdict v); /* "PASS", "UNKNOWN", "FAIL" */

struct rule_result {
        const struct rule *rule;
        enum verdict verdict;
        double lower, upper; /* in unit; upper may be INFINITY */
        const char *unit;    /* "gpu-hours", "flop", "%", "gpus" */
        uint64_t start_ns, end_ns; /* the window (or period) that decided */
        char where[96];            /* "2026-11", "2026-W48", "2026-11-30", "" */
        char why[1024];            /* one line: what decided; for UNKNOWN what is missing */
        double missing_gpu_s;      /* unobserved GPU-seconds inside the rule's window */
        double hidden_gpu_s;       /* their hidden-busy upper bound */
        bool has_flop;             /* cap flop: fraction of 1e25 / 1e26 */
};

/* Judge rs (peak lines are not judged: out gets one result per other rule). */
int verdicts_judge(const struct evidence *ev, const struct rules *rs, struct rule_result **out,
                   size_t *nout);
/* 0 all PASS, 1 some UNKNOWN, 2 some FAIL. */
int verdicts_exit_code(const struct rule_result *r, size_t n);

/* --- output (check_output.c, html.c) --- */

#define CHECK_SCHEMA "gpuhours/1" /* json_out.h JSON_SCHEMA, proto/JSON.md */
#define CHECK_LIST_MAX 50 /* unobserved pieces listed per rule in text */

/* One line per rule, then what made anything UNKNOWN or FAIL. */
void check_write_text(FILE *out, const struct evidence *ev, const struct rule_result *r, size_t n);
/*
 * The --json document (proto/JSON.md, command "check"): srcs[0..nsrcs) are the
 * sources evidence_build was given, in the same order. 0 or -ENOMEM / -EIO.
 */
int check_write_json(FILE *out, const struct evidence *ev, const struct rule_result *r, size_t n,
                     int exit_code, const struct source *srcs, size_t nsrcs);
/* Prometheus text exposition (textfile collector) into a malloc'd buffer. 0 or -ENOMEM. */
int check_metrics_text(const struct evidence *ev, const struct rule_result *r, size_t n,
                       int exit_code, char **out, size_t *len);
/* The self-contained HTML page into a malloc'd buffer. 0 or -ENOMEM. */
int check_html(const struct evidence *ev, const struct rule_result *r, size_t n, int exit_code,
               char **out, size_t *len);
