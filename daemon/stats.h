/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdatomic.h>
#include <stdint.h>

#include "record.h"

/*
 * Counters shared between the sampling thread (writer) and the HTTP thread
 * (/metrics, /healthz readers). Plain atomics: readers may see a mix of
 * old and new values across fields, never a torn value.
 */
struct daemon_stats {
        atomic_uint_fast64_t records_appended_total;
        atomic_uint_fast64_t checkpoints_signed_total;
        atomic_uint_fast64_t append_errors_total;   /* failed appends (ENOSPC, …) */
        atomic_uint_fast64_t sampler_errors_total;
        atomic_uint_fast64_t samples_total;
        atomic_uint_fast64_t last_sample_boot_ns;    /* CLOCK_BOOTTIME of the last sample */
        atomic_uint_fast64_t last_sample_wall_ns;    /* CLOCK_REALTIME of the last good sample */
        atomic_uint_fast32_t sampler_ok;             /* 1 while sampler reads succeed */
        atomic_uint_fast64_t last_checkpoint_boot_ns;
        atomic_uint_fast64_t last_summary_wall_ns;   /* end of the last summary window */
        atomic_uint_fast64_t next_summary_due_boot_ns;
        atomic_uint_fast64_t start_wall_ns;
        atomic_uint_fast32_t appending_ok;           /* 0 while appends are failing */
        /* Per-GPU totals since start, indexed like gpu_uuid[]. */
        atomic_uint_fast32_t gpu_count;
        char gpu_uuid[RECORD_MAX_GPUS][REC_UUID_MAX + 1]; /* written before gpu_count grows */
        atomic_uint_fast64_t gpu_busy_ms_total[RECORD_MAX_GPUS];
        atomic_uint_fast64_t gpu_energy_mj_total[RECORD_MAX_GPUS];
};
