/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Ledger records: semantic content in docs/DESIGN.md, byte layout in FORMAT.md.
 *
 * Encoding: canonical binary, big-endian fixed-width integers, no floats,
 * strings as u32 length + bytes (printable ASCII 0x20..0x7e only, capped),
 * GPU lists as u32 count + entries sorted by UUID (strict bytewise,
 * no duplicates). Decoding is strict: unknown version/kind, bad lengths,
 * caps exceeded, reserved flag bits set, unsorted or duplicate GPUs and
 * trailing bytes are all rejected, so encode(decode(x)) == x for every x
 * that decodes.
 */

/*
 * Version 2 exists for start and inventory only: their gpu_info entries add
 * counter_epoch. The daemon writes version 2 for those two kinds and
 * version 1 for the others; version 2 with any other kind is GH_E_VERSION.
 */
#define RECORD_VERSION 1
#define RECORD_VERSION_EPOCH 2 /* start and inventory with gpu_info.counter_epoch */
#define RECORD_MAX_SIZE 65536u /* hard cap on one encoded record */
#define RECORD_MAX_GPUS 64u

/* Field caps (bytes, excluding the NUL kept in the structs). */
#define REC_UUID_MAX 96u
#define REC_SERIAL_MAX 64u
#define REC_NAME_MAX 96u
#define REC_PCI_MAX 32u
#define REC_VERSION_MAX 80u /* daemon, driver and NVML version strings */
#define REC_BACKEND_MAX 16u
#define REC_REASON_MAX 128u

/* Bounds on start.period_s, summary.period_s and start.sample_interval_us:
 * records outside them do not encode or decode, and the daemon refuses
 * settings outside them. */
#define REC_PERIOD_MIN_S 1u
#define REC_PERIOD_MAX_S 86400u
#define REC_INTERVAL_MIN_US 50000u
#define REC_INTERVAL_MAX_US 60000000u

enum record_kind {
        REC_START = 1,
        REC_SUMMARY = 2,
        REC_STOP = 3,
        REC_CLOCK_STEP = 4,
        REC_INVENTORY = 5,
};

/* gpu_info.mig_mode */
enum { MIG_OFF = 0, MIG_ON = 1, MIG_UNKNOWN = 2 };

/* gpu_info.flags / gpu_summary.flags bits. Other bits must be zero. */
enum {
        GPU_ENERGY_UNSUPPORTED = 1u << 0, /* no energy counter: energy from ∫power, or none */
        GPU_ENERGY_FROM_POWER = 1u << 1,  /* energy integrated from power samples */
        GPU_UTIL_UNSUPPORTED = 1u << 2,   /* busy time could not be measured (e.g. MIG) */
        GPU_COUNTER_RESET = 1u << 3,      /* energy counter went backwards: new epoch */
        GPU_LOST = 1u << 4,               /* GPU fell off during the window */
        GPU_PROCS_UNSUPPORTED = 1u << 5,  /* occupied time could not be measured */
        GPU_POWER_UNSUPPORTED = 1u << 6,
        GPU_MEM_UNSUPPORTED = 1u << 7,
};
#define GPU_FLAGS_ALL 0xffu

/* One GPU as inventoried (start and inventory records). */
struct gpu_info {
        char uuid[REC_UUID_MAX + 1];
        char serial[REC_SERIAL_MAX + 1];
        char name[REC_NAME_MAX + 1];
        char pci_bus_id[REC_PCI_MAX + 1];
        uint8_t mig_mode;   /* MIG_* */
        uint8_t flags;      /* GPU_* bits known at inventory time */
        uint64_t energy_mj; /* energy counter when inventoried (0 if unsupported) */
        /*
         * Version 2 only (0 after decoding version 1): which run of the
         * energy counter energy_mj belongs to; a different value in the same
         * boot means the counter restarted (a driver reload); 0: unknown,
         * never proof of continuity.
         */
        uint64_t counter_epoch;
};

/* One GPU's measurements over a summary window. */
struct gpu_summary {
        char uuid[REC_UUID_MAX + 1];
        uint8_t flags;          /* GPU_* */
        uint64_t observed_ms;   /* time this GPU was observed in the window */
        uint64_t busy_ms;       /* utilization integrated over time */
        uint64_t occupied_ms;   /* time with >= 1 compute process */
        uint64_t energy_start_mj; /* raw counter at window start */
        uint64_t energy_end_mj;   /* raw counter at window end */
        uint64_t energy_used_mj;  /* energy used in the window (resets handled) */
        uint32_t power_avg_mw;
        uint32_t power_max_mw;
        uint64_t mem_used_max_bytes;
        uint32_t procs_max;
        uint32_t xid_count;
};

struct rec_start {
        char daemon_version[REC_VERSION_MAX + 1];
        char backend[REC_BACKEND_MAX + 1]; /* "sim" or "nvml" */
        uint32_t period_s;                 /* REC_PERIOD_MIN_S..REC_PERIOD_MAX_S */
        uint32_t sample_interval_us;       /* REC_INTERVAL_MIN_US..REC_INTERVAL_MAX_US */
        char driver_version[REC_VERSION_MAX + 1];
        char nvml_version[REC_VERSION_MAX + 1];
        uint32_t gpu_count; /* <= RECORD_MAX_GPUS */
        struct gpu_info gpus[RECORD_MAX_GPUS];
};

/* summary.flags bits. Other bits must be zero. */
enum {
        SUMMARY_PARTIAL = 1u << 0, /* observed window is shorter than the period */
};

struct rec_summary {
        uint64_t period_start_ns; /* aligned UTC period boundary (wall) */
        uint32_t period_s;
        uint8_t flags; /* SUMMARY_* */
        /* Window actually observed, both clocks at both ends. */
        uint64_t obs_start_wall_ns, obs_end_wall_ns;
        uint64_t obs_start_boot_ns, obs_end_boot_ns;
        uint32_t samples_taken, samples_expected;
        uint32_t gpu_count;
        struct gpu_summary gpus[RECORD_MAX_GPUS];
};

struct rec_stop {
        char reason[REC_REASON_MAX + 1];
};

struct rec_clock_step {
        /* Last reading before the step; the header holds the first after it. */
        uint64_t prev_wall_ns;
        uint64_t prev_boot_ns;
};

/* inventory.reason bits (what changed). Other bits must be zero. */
enum {
        INV_GPU_APPEARED = 1u << 0,
        INV_GPU_VANISHED = 1u << 1,
        INV_GPU_RESET = 1u << 2,
        INV_DRIVER_CHANGED = 1u << 3,
        INV_REINIT = 1u << 4, /* backend re-initialised (new energy epoch) */
};
#define INV_REASON_ALL 0x1fu

struct rec_inventory {
        uint8_t reason; /* INV_* */
        char driver_version[REC_VERSION_MAX + 1];
        char nvml_version[REC_VERSION_MAX + 1];
        uint32_t gpu_count;
        struct gpu_info gpus[RECORD_MAX_GPUS]; /* the full set now present */
};

struct record {
        uint8_t version; /* RECORD_VERSION, or RECORD_VERSION_EPOCH for start / inventory */
        uint8_t kind;    /* enum record_kind */
        uint64_t wall_ns; /* CLOCK_REALTIME when the record was made */
        uint64_t boot_ns; /* CLOCK_BOOTTIME, same instant */
        uint8_t boot_id[16];
        union {
                struct rec_start start;
                struct rec_summary summary;
                struct rec_stop stop;
                struct rec_clock_step clock_step;
                struct rec_inventory inventory;
        } u;
};

/*
 * Append the canonical encoding of r to w. Validates r first (caps, sorted
 * unique GPU UUIDs, allowed characters, flag bits, version): returns
 * GH_E_MALFORMED / GH_E_TOO_LARGE / GH_E_VERSION without writing anything if
 * r could not be decoded back; else the writer's sticky error (0 if none).
 */
int record_encode(const struct record *r, struct writer *w);

/*
 * Strictly decode exactly len bytes into *out (caller-owned, ~70 KiB: keep
 * it off small stacks). 0 on success; GH_E_MALFORMED, GH_E_TOO_LARGE or
 * GH_E_VERSION otherwise, with *out unspecified.
 */
int record_decode(const uint8_t *p, size_t len, struct record *out);

/* "start", "summary", … or NULL for an unknown kind. */
const char *record_kind_name(uint8_t kind);

/*
 * Framing used by /v1/records and bundles: each record as u32 length
 * (1..RECORD_MAX_SIZE) followed by its bytes.
 * record_frame_next: on success *rec and *len point into r's buffer and r
 * advances; GH_E_MALFORMED / GH_E_TOO_LARGE otherwise (r untouched).
 * record_frame_write: len 0 sets w's sticky error to GH_E_MALFORMED,
 * len > RECORD_MAX_SIZE to GH_E_TOO_LARGE.
 */
int record_frame_next(struct reader *r, const uint8_t **rec, size_t *len);
void record_frame_write(struct writer *w, const uint8_t *rec, size_t len);

/* Boot ID text ("xxxxxxxx-xxxx-…", 36 chars, optional trailing \n) to 16 bytes. */
bool boot_id_parse(const char *s, size_t len, uint8_t out[16]);

/*
 * GPU sets as the daemon holds them (struct gpu_info arrays, or arrays of a
 * backend's own struct holding one): uuid(set, i) names the i-th GPU.
 * gpu_set_has: whether uuid is among the n GPUs of set. gpu_set_diff: the
 * INV_GPU_APPEARED / INV_GPU_VANISHED bits between an old and a new set.
 */
typedef const char *(*gpu_uuid_fn)(const void *set, size_t i);
const char *gpu_info_uuid(const void *set, size_t i); /* set is a struct gpu_info array */
bool gpu_set_has(const void *set, size_t n, gpu_uuid_fn uuid, const char *want);
uint8_t gpu_set_diff(const void *old, size_t on, gpu_uuid_fn old_uuid, const void *now, size_t nn,
                     gpu_uuid_fn now_uuid);
