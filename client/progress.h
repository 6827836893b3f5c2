/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "source.h"

/*
 * A one-line progress bar on stderr while many nodes are audited (only
 * when stderr is a terminal: the caller passes on = isatty(2)): nodes done
 * of total, records verified and records/s, redrawn at most 10 times a
 * second and erased at the end.
 */
struct progress {
        bool on, drawn;
        size_t total, done;
        uint64_t records;
        uint64_t start_ns, drawn_ns;
};

void progress_init(struct progress *p, size_t total, bool on);
void progress_add(struct progress *p, uint64_t records, size_t done);
void progress_end(struct progress *p);

/*
 * "fleet: N sources: A verified, B with findings, C failed, D could not be
 * reached or completed" for a run of several sources, to out.
 */
void sources_summary_line(FILE *out, const struct source *srcs, size_t n);
