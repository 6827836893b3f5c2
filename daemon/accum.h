/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "sampler.h"

/*
 * The period accumulator: integrates sampler readings over one summary
 * window and turns them into a summary record. Everything is kept in µs
 * (and mW·µs) internally; rounding to ms happens only in accum_finish.
 */

struct accum_gpu {
        char uuid[REC_UUID_MAX + 1];
        uint8_t flags;
        uint64_t observed_us, busy_us, occupied_us;
        uint64_t energy_start_mj, energy_end_mj, energy_used_mj;
        uint64_t power_mw_us; /* ∫ power dt */
        uint32_t power_max_mw;
        uint64_t mem_max;
        uint32_t procs_max;
        uint32_t xids;
};

struct accum {
        bool open;
        uint32_t period_s;
        uint32_t interval_us;
        uint64_t period_start_ns; /* aligned UTC period the window belongs to */
        uint64_t start_wall_ns, start_boot_ns;
        bool start_at_boundary;
        uint32_t samples;
        size_t n;
        struct accum_gpu g[RECORD_MAX_GPUS]; /* sorted by UUID */
};

void accum_init(struct accum *a, uint32_t period_s, uint32_t interval_us);

/* Start of the UTC-aligned period containing wall_ns. */
uint64_t accum_period_start(uint64_t wall_ns, uint32_t period_s);

/*
 * Open a window at a sample taken at (wall_ns, boot_ns). r[0..n) is that
 * sample's reading, used only for the energy counters at the window start.
 * at_boundary: the sample is the one that crossed a period boundary.
 */
void accum_begin(struct accum *a, uint64_t wall_ns, uint64_t boot_ns, bool at_boundary,
                 const struct gpu_reading *r, size_t n);

/*
 * Integrate one reading covering dt_us (CLOCK_BOOTTIME) into the open window.
 * A reading later than two sample intervals is credited with two intervals
 * of observed (and busy, occupied, power) time; energy counters always count
 * in full.
 */
void accum_add(struct accum *a, uint64_t dt_us, const struct gpu_reading *r, size_t n);

/*
 * Close the window at (wall_ns, boot_ns) and fill *out. The summary is
 * SUMMARY_PARTIAL unless the window both started and ended at period
 * boundaries.
 */
void accum_finish(struct accum *a, uint64_t wall_ns, uint64_t boot_ns, bool at_boundary,
                  struct rec_summary *out);
