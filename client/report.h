/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

#include "analyze.h"

/*
 * Rendering of analyzer_buckets() output for `gpuhours report`.
 *
 * FMT_TABLE: aligned columns, a header line and a final "total" line.
 * FMT_CSV:   RFC 4180, a header row, one row per bucket, no total row:
 *            start,end,busy_gpu_hours,occupied_gpu_hours,energy_kwh,
 *            coverage_pct,gap_seconds (BY_GPU: a leading "gpu" column).
 *            A field that a spreadsheet would read as a formula (= + - @)
 *            gets a leading apostrophe.
 * FMT_JSON:  not rendered here (report_write: -EINVAL): the JSON document is
 *            the gpuhours/1 one of json_out.h (proto/JSON.md), whose
 *            "buckets" arrays report_buckets_json builds.
 * Times are UTC ISO 8601 ("2026-11-26T22:00:00Z", with ".mmm" when the
 * time is not a whole second; JSON always with ".mmm"). Totals come from the
 * analysis.
 */
enum report_format { FMT_TABLE, FMT_CSV, FMT_JSON };

/* 0; -EIO when writing to f failed; -ENOMEM; -EINVAL for an unknown by/fmt. */
int report_write(FILE *f, const struct analysis *an, const struct bucket *b, size_t n,
                 enum report_by by, enum report_format fmt);

/*
 * The "buckets" array of a report source object (proto/JSON.md): per bucket
 * {"start", "end", ["gpu",] "busy_gpu_hours", "occupied_gpu_hours",
 * "energy_kwh", "coverage_pct", "gap_seconds", "observed_seconds",
 * "unobserved_seconds", ["hidden_gpu_seconds"]} (the bracketed ones for
 * BY_GPU only). NULL when out of memory.
 */
json_t *report_buckets_json(const struct bucket *b, size_t n, enum report_by by);

/*
 * CSV of one source of a multi-source report: an "origin" column first (origin
 * quoted and formula-neutralised like any cell), the header only if header.
 * 0, -EINVAL (bad by, NULL origin) or -EIO.
 */
int report_write_csv(FILE *f, const char *origin, const struct bucket *b, size_t n,
                     enum report_by by, bool header);

/*
 * The fleet total of a multi-source report: each verified source's total row
 * (as its own section prints it) summed; coverage is observed / (observed + gap)
 * over the sum, gap seconds are summed over the sources.
 */
struct report_totals {
        size_t sources;
        double busy_gpu_hours, occupied_gpu_hours, energy_kwh, gap_seconds, observed_seconds;
};
void report_totals_add(struct report_totals *acc, const struct analysis *an,
                       const struct bucket *b, size_t n, enum report_by by);
/* "# total (N sources)" and one row, after the sections; 0 or -EIO. */
int report_write_total_table(FILE *f, const struct report_totals *t);

/* ns since the epoch as UTC ISO 8601 into buf (at least 32 bytes; truncated otherwise). */
void report_time_iso(uint64_t ns, char *buf, size_t size);

/* "hour", "day", "month", "gpu" and back; false for anything else. */
const char *report_by_name(enum report_by by);
bool report_by_from_name(const char *s, enum report_by *out);
/* "table", "csv", "json" and back; false for anything else. */
const char *report_format_name(enum report_format fmt);
bool report_format_from_name(const char *s, enum report_format *out);
