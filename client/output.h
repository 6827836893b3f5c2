/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include "source.h"

/* Colour for out: a terminal and NO_COLOR unset or empty. */
bool output_use_color(FILE *out);

/* Human-readable verdicts, totals and findings, one block per source. */
void output_human(FILE *out, const struct source *srcs, size_t n, bool color);

/* The --json documents: json_out.h. */

/* A finding's length in seconds: the analyzer's elapsed (boot-time) length where it
 * knows it, else end - start in wall time (signed). */
double finding_seconds(const struct finding *f);

/*
 * Whether `report` reports s (buckets, totals): analysed with its analyzer kept
 * and verified. A source that failed (IMPLAUSIBLE keeps its analysis for
 * verify's findings) is never reported nor summed.
 */
bool source_reported(const struct source *s);

/* Exit code over all sources: the highest wins. */
int sources_exit_code(const struct source *srcs, size_t n);
