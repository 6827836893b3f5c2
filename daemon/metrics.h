/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/* Hard cap on the /metrics body: 64 GPUs with 96-byte UUIDs and names fit in about 50 KiB. */
#define METRICS_MAX_SIZE (128u * 1024u)

/*
 * Render the Prometheus text format 0.0.4 (one HELP and one TYPE line per
 * family, label values escaped) from the daemon's counters, the current GPU
 * inventory inv[0..ninv) (for the GPU count and the model_name label), the
 * published tree size and the process start time (CLOCK_REALTIME, ns).
 * Returns 0 with a malloc'd body in out and its length in len; -ENOMEM; or
 * -E2BIG if the body would exceed METRICS_MAX_SIZE. Out-params are left
 * untouched on failure.
 */
int metrics_render(const struct daemon_stats *st, const struct gpu_info *inv, size_t ninv,
                   uint64_t tree_size, uint64_t start_wall_ns, char **out, size_t *len);
