/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

/*
 * The sampler interface: a backend (sim, nvml) measures GPUs; the daemon's
 * accumulator turns readings into summary records.
 *
 * Calls come from the daemon's sampling loop only (one thread). Every call
 * must return within a bounded time (the NVML backend bounds its calls) so
 * that the loop, and with it the systemd watchdog, reflects a hung driver.
 */

struct sampler;

struct sampler_config {
        unsigned sim_gpus;   /* sim: number of GPUs, 1..64 */
        const char *sim_dir; /* sim: directory with "load" and persisted counters */
        const char *nvml_lib; /* nvml: library to dlopen, default "libnvidia-ml.so.1" */
};

/* What the backend can say about the node's GPUs right now. */
struct sampler_inventory {
        char driver_version[REC_VERSION_MAX + 1];
        char nvml_version[REC_VERSION_MAX + 1];
        uint32_t gpu_count;
        struct gpu_info gpus[RECORD_MAX_GPUS]; /* sorted by UUID; energy_mj = counter now */
        uint8_t reason; /* INV_* bits: why it changed since the last inventory() (0 at start) */
};

/* One GPU's reading, covering the time since the previous sampler_read(). */
struct gpu_reading {
        char uuid[REC_UUID_MAX + 1];
        uint8_t flags;       /* GPU_* bits: what could not be measured, counter reset, lost */
        uint64_t busy_us;    /* busy time in the interval (utilization x time) */
        uint64_t occupied_us; /* time in the interval with >= 1 compute process */
        uint64_t energy_mj;  /* raw energy counter now (GPU_ENERGY_UNSUPPORTED: 0) */
        uint64_t energy_used_mj; /* energy used in the interval (from counter deltas, or ∫power) */
        uint32_t power_mw;   /* power now */
        uint64_t mem_used_bytes;
        uint32_t procs;      /* compute processes now */
        uint32_t xids;       /* Xid events in the interval */
};

struct sampler_ops {
        const char *name; /* "sim", "nvml" */
        /* 0, or negative errno / positive code with a one-line message in err. */
        int (*open)(const struct sampler_config *cfg, struct sampler **out, char *err, size_t errlen);
        int (*inventory)(struct sampler *s, struct sampler_inventory *out);
        /*
         * Read every GPU. dt_us: CLOCK_BOOTTIME microseconds since the
         * previous read (0 on the first). Fills out[0..*n) sorted by UUID.
         * Returns 0; 1 if the inventory changed since the last
         * inventory() call (the daemon then calls inventory() and writes an
         * inventory record); negative on failure of the whole backend.
         */
        int (*read)(struct sampler *s, uint64_t dt_us, struct gpu_reading out[RECORD_MAX_GPUS],
                    size_t *n);
        void (*close)(struct sampler *s);
};

extern const struct sampler_ops sampler_sim_ops;
extern const struct sampler_ops sampler_nvml_ops;
