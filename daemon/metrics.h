/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* Hard cap on the /metrics body: 64 GPUs with 96-byte UUIDs fit in about 30 KiB. */
#define METRICS_MAX_SIZE (64u * 1024u)

/*
 * Render the Prometheus text format 0.0.4 (one HELP and one TYPE line per
 * family, label values escaped) from the daemon's counters, the published
 * tree size and the process start time (CLOCK_REALTIME, ns).
 * Returns 0 with a malloc'd body in out and its length in len; -ENOMEM; or
 * -E2BIG if the body would exceed METRICS_MAX_SIZE. Out-params are left
 * untouched on failure.
 */
int metrics_render(const struct daemon_stats *st, uint64_t tree_size, uint64_t start_wall_ns,
                   char **out, size_t *len);
