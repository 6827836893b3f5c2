/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "rules.h"

/*
 * Per-model figures used by `gpuhours check` (gpuhours(1) "PEAK TABLE"):
 * the dense tensor peak of the highest-throughput precision mode (the sound
 * upper bound on operations per second), and the board's idle power and
 * minimum power limit that turn energy across an unobserved piece into
 * hidden busy time (ANALYSIS.md section 6; analyze-energy.c takes its powers
 * from here: one table). A model matches when its name (as the node reports
 * it) contains the entry's substring; the first match wins: the rules file's
 * peak lines in file order, then the built-in table (more specific names
 * first; a row without a peak is skipped for the peak, every row declares its
 * powers).
 */

struct gpu_model {
        const char *substring;
        const char *label;     /* "H100 SXM" */
        double peak_flops;     /* dense, highest-throughput precision mode; 0: none in this row */
        const char *precision; /* "FP8", "INT4", "FP4"; NULL without a peak */
        double idle_w;         /* declared idle power (W): a floor of the board's idle readings */
        double min_limit_w;    /* the lowest power limit the board can be set to (W), never
                                  above its real one: the busy power of the energy bound */
        double full_w;         /* the board's maximum (thermal design) power (W), data sheet */
        double max_w;          /* the most the board can draw (W): the plausibility limit */
};

/* The built-in table (static, in match order) and its length. */
const struct gpu_model *peaks_table(unsigned *n);

/*
 * Peak FLOP/s for a GPU name: the rules' peak lines first, then the table.
 * false when nothing matches (UNKNOWN: never zero). *source says which:
 * "rules:LINE" or the table label.
 */
bool peak_lookup(const struct rules *rs, const char *gpu_name, double *flops, char *source,
                 unsigned source_cap);

/*
 * Declared powers (ANALYSIS.md §6) for a GPU name: idle, minimum power limit,
 * and (each optional, NULL to skip) full and maximum; false if not declared.
 */
bool power_lookup(const char *gpu_name, double *idle_w, double *min_limit_w, double *full_w,
                  double *max_w);
