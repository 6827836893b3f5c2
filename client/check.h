/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "analyze.h"
#include "record.h"
#include "rules.h"

/*
 * `gpuhours check`: the evidence timeline of a fleet and the verdicts on
 * the rules file (gpuhours(1) "CHECK", FORMAT.md "Verdicts").
 *
 * evidence.c runs the analyzer (client/analyze*.c) over the records of every
 * verified source (re-checked against the verified checkpoint's size and
 * Merkle root) on the fleet's audited interval and keeps, per GPU, its
 * pieces (analyze.h analyzer_pieces): observed parts with their busy time,
 * unobserved parts with their hidden-compute bound.
 * verdict.c judges each rule on intervals [lower, upper]. Neither prints.
 */

#define CHECK_SLOTS_MAX 2000000u   /* concurrency slots */

/*
 * One GPU of one source: the analyzer's pieces (analyze.h struct apiece,
 * ANALYSIS.md section 10) over the audited interval, and its totals.
 */
struct ev_gpu {
        char uuid[REC_UUID_MAX + 1];
        char name[REC_NAME_MAX + 1];
        size_t node;
        struct apiece *p;
        size_t np;
        bool peak_known;
        double peak_flops;
        char peak_source[64];
        /* the analyzer's per-GPU numbers (verify's "gpus") over the audited interval */
        double interval_s, observed_s, unobserved_s, busy_s;
        double hidden_s; /* sum of the pieces' hidden-compute bounds (absent time included) */
};

/*
 * NODE_SAME_ORIGIN: a verified source of an origin that another source of
 * this run stands for (sources_judged_as: the largest of one history): its
 * records are a prefix of that one's, judged once, from that one.
 */
enum node_state { NODE_OK, NODE_FAILED, NODE_MISSING, NODE_SAME_ORIGIN };

struct ev_node {
        const char *name; /* the source as given */
        char origin[256];
        enum node_state state;
        char error[512]; /* NODE_FAILED / NODE_MISSING: why */
        size_t judged_as; /* NODE_SAME_ORIGIN: the node judged for this origin */
        uint64_t size;    /* its verified checkpoint's size (0: none) */
        uint64_t first_ns, last_ns; /* records */
        uint32_t period_s; /* smallest summary period seen (0: none) */
        bool overflow;     /* more GPUs than the analyzer's table: the rest are unknown */
        /* the analyzer's node totals over the audited interval (verify's numbers) */
        double interval_s, observed_s, busy_s;
        /* CLOCK_AHEAD (ANALYSIS.md 5.1): the latest-labelled reading, after the audit's time */
        bool ahead;
        uint64_t ahead_ns;
        double ahead_s;
};

struct ev_conflict { /* one UUID on two nodes at the same time */
        size_t gpu_a, gpu_b;
        uint64_t start_ns, end_ns;
};

struct evidence {
        uint64_t start_ns, end_ns; /* the audited interval */
        bool empty; /* the interval asked for held nothing (B <= A; end_ns = start_ns + 1) */
        uint64_t now_ns;
        struct ev_node *nodes;
        size_t nnodes;
        struct ev_gpu *gpus;
        size_t ngpus, gcap;
        struct ev_conflict *conflicts;
        size_t nconflicts;
        uint32_t period_s; /* smallest period over the fleet (60 if none) */
        size_t npieces;    /* over all GPUs, at most EV_PIECES_MAX */
};
/* Hard cap on the pieces check holds for the fleet (~150 B each): evidence_build fails -E2BIG. */
#define EV_PIECES_MAX 8000000u

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
