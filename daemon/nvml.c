/* SPDX-License-Identifier: MIT */
/*
 * The NVML backend: real NVIDIA GPUs through libnvidia-ml.so.1, loaded with
 * dlopen at run time (no build-time link, no nvml.h; see nvml_types.h).
 *
 * What it measures per GPU and read (facts/nvml.md §9):
 *   busy      utilization samples (nvmlDeviceGetSamples, GPU_UTILIZATION)
 *             integrated over their own timestamps, each step clamped to 2x
 *             the median sample spacing; polled nvmlDeviceGetUtilizationRates
 *             x dt when samples are unsupported, not yet established, or the
 *             sample stream has stalled;
 *   occupied  dt when >= 1 compute process runs (stride-safe process list);
 *   energy    nvmlDeviceGetTotalEnergyConsumption deltas (mJ); backwards =
 *             new epoch (GPU_COUNTER_RESET, the new value counts as a lower
 *             bound); no counter = trapezoid integral of power, flagged;
 *   power, memory used, Xid events (event set polled with timeout 0);
 *   counter epoch  the inode number of the GPU's sysfs driver link
 *             (/sys/bus/pci/devices/<bdf>/driver), a new kernfs node at every
 *             driver bind: a driver reload while the daemon is down shows as a
 *             new epoch in the next START (proto/FORMAT.md, gpu_info v2); 0
 *             when it cannot be read.
 * Default-deny flags: every reading starts with all "unsupported" bits set
 * and a bit is cleared only when that measurement succeeded, so a failed or
 * missing call can never pass a zero off as measured.
 *
 * Faults: GPU_IS_LOST drops that GPU (its last reading carries GPU_LOST) and
 * reports an inventory change; UNINITIALIZED / DRIVER_NOT_LOADED /
 * LIB_RM_VERSION_MISMATCH shut NVML down (and, for a version mismatch,
 * reload the library), re-initialise at once and then with exponential
 * backoff (1 s .. 60 s), and start a new energy epoch.
 *
 * Blocking: NVML calls cannot be interrupted. A read makes a small, fixed
 * number of calls per GPU (about 8) and never waits (events use timeout 0).
 * A driver call that hangs stops the sampling loop; the systemd watchdog,
 * pinged from that loop, then restarts the daemon. That is the design.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "text.h"
#include "log.h"
#include "nvml_types.h"
#include "sampler.h"

#define NVML_DEFAULT_LIB "libnvidia-ml.so.1"
#define SAMPLE_BUF_MAX 256u        /* utilization samples fetched per read */
#define PROC_CAP_INITIAL 64u       /* process entries, grows on INSUFFICIENT_SIZE */
#define PROC_CAP_MAX 4096u         /* hard cap on the process list */
#define PROC_TRIES 3               /* INSUFFICIENT_SIZE retries (processes start between calls) */
#define XID_DRAIN_MAX 64           /* events drained per read */
#define SPACING_HIST 9             /* sample spacings kept for the median */
#define SPACING_DEFAULT_US 1000000 /* NVML's sample period is 1/6 s .. 1 s */
#define BUSY_CARRY_MAX_US 2000000
#define BACKOFF_MIN_US 1000000ull
#define BACKOFF_MAX_US 60000000ull
#ifndef RESCAN_US
#define RESCAN_US 60000000ull /* look for GPUs that appeared (tests build with a shorter one) */
#endif
#define PID_MAX_LINUX 4194304u

/* The measurements that may be unsupported; a reading starts with all of them set. */
#define GPU_UNMEASURED                                                                             \
        (GPU_ENERGY_UNSUPPORTED | GPU_UTIL_UNSUPPORTED | GPU_PROCS_UNSUPPORTED |                   \
         GPU_POWER_UNSUPPORTED | GPU_MEM_UNSUPPORTED)

struct nvml_api {
        void *lib;
        nvml_init_fn init_v2;
        nvml_init_flags_fn init_with_flags;
        nvml_shutdown_fn shutdown;
        nvml_error_string_fn error_string;
        nvml_get_count_fn get_count;
        nvml_handle_by_index_fn handle_by_index;
        nvml_device_string_fn uuid;
        /* optional */
        nvml_system_string_fn driver_version;
        nvml_system_string_fn nvml_version;
        nvml_device_string_fn serial;
        nvml_device_string_fn name;
        nvml_pci_info_fn pci_info;
        nvml_utilization_fn utilization;
        nvml_samples_fn samples;
        nvml_energy_fn energy;
        nvml_power_fn power;
        nvml_memory_fn memory;
        nvml_procs_fn procs;
        nvml_mig_mode_fn mig_mode;
        nvml_architecture_fn architecture;
        nvml_event_set_create_fn event_set_create;
        nvml_register_events_fn register_events;
        nvml_event_set_wait_fn event_set_wait;
        nvml_event_set_free_fn event_set_free;
};

static const struct {
        const char *name;
        size_t offset;
        bool required;
} nvml_symbols[] = {
#define SYM(n, field, req)                                                                         \
        { n, offsetof(struct nvml_api, field), req }
        SYM("nvmlInit_v2", init_v2, false), /* one of the two init functions is required */
        SYM("nvmlInitWithFlags", init_with_flags, false),
        SYM("nvmlShutdown", shutdown, true),
        SYM("nvmlErrorString", error_string, true),
        SYM("nvmlDeviceGetCount_v2", get_count, true),
        SYM("nvmlDeviceGetHandleByIndex_v2", handle_by_index, true),
        SYM("nvmlDeviceGetUUID", uuid, true),
        SYM("nvmlSystemGetDriverVersion", driver_version, false),
        SYM("nvmlSystemGetNVMLVersion", nvml_version, false),
        SYM("nvmlDeviceGetSerial", serial, false),
        SYM("nvmlDeviceGetName", name, false),
        SYM("nvmlDeviceGetPciInfo_v3", pci_info, false),
        SYM("nvmlDeviceGetUtilizationRates", utilization, false),
        SYM("nvmlDeviceGetSamples", samples, false),
        SYM("nvmlDeviceGetTotalEnergyConsumption", energy, false),
        SYM("nvmlDeviceGetPowerUsage", power, false),
        SYM("nvmlDeviceGetMemoryInfo", memory, false),
        SYM("nvmlDeviceGetComputeRunningProcesses_v3", procs, false),
        SYM("nvmlDeviceGetMigMode", mig_mode, false),
        SYM("nvmlDeviceGetArchitecture", architecture, false),
        SYM("nvmlEventSetCreate", event_set_create, false),
        SYM("nvmlDeviceRegisterEvents", register_events, false),
        SYM("nvmlEventSetWait_v2", event_set_wait, false),
        SYM("nvmlEventSetFree", event_set_free, false),
#undef SYM
};

struct nvml_gpu {
        nvmlDevice_t dev;
        struct gpu_info info; /* uuid, serial, …; info.energy_mj = last counter value */
        /* busy time from utilization samples */
        bool cursor_valid;
        bool stalled; /* stream silent for long: rates x dt is used meanwhile */
        unsigned long long cursor_ts;
        uint64_t since_sample_us;
        uint64_t busy_carry_us;
        uint64_t spacing[SPACING_HIST];
        unsigned spacing_n, spacing_next;
        bool samples_unsupported;
        /* energy */
        bool energy_unsupported; /* no counter (NOT_SUPPORTED or no symbol): ∫power instead */
        bool energy_valid;       /* energy_last is a counter value from this epoch */
        bool epoch_break;        /* re-initialised: the next delta starts a new epoch */
        uint64_t energy_last;
        bool power_valid;
        uint32_t power_last;
        uint64_t power_acc;   /* mW·µs not yet turned into whole mJ */
        unsigned proc_stride; /* 0 unknown, 24 or 32 */
};

struct sampler {
        struct nvml_api api;
        char lib_name[256];
        bool up; /* NVML initialised */
        nvmlEventSet_t events;
        char driver[REC_VERSION_MAX + 1];
        char nvml[REC_VERSION_MAX + 1];
        uint32_t ngpus;
        struct nvml_gpu gpus[RECORD_MAX_GPUS]; /* sorted by UUID */
        struct nvml_gpu scratch[RECORD_MAX_GPUS];
        uint8_t pending_reason; /* INV_* since the last inventory() */
        bool changed;
        uint64_t retry_at_us, backoff_us, rescan_at_us;
        nvmlReturn_t fatal_rc; /* what made NVML fail as a whole */
        nvmlSample_t samples[SAMPLE_BUF_MAX];
        unsigned char *procs;
        unsigned proc_cap;
};

static uint64_t boot_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *rc_text(const struct sampler *s, nvmlReturn_t rc) {
        const char *t = s->api.error_string ? s->api.error_string(rc) : NULL;
        return t ? t : "unknown error";
}

enum { ERR_NONE, ERR_LOST, ERR_FATAL };

static int rc_class(nvmlReturn_t rc) {
        switch ((int)rc) {
        case NVML_ERROR_GPU_IS_LOST:
                return ERR_LOST;
        case NVML_ERROR_UNINITIALIZED:
        case NVML_ERROR_DRIVER_NOT_LOADED:
        case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
                return ERR_FATAL;
        default:
                return ERR_NONE;
        }
}

/* Copy a driver string into a record field of cap + 1 bytes: printable ASCII only, capped. */
static void copy_printable(char *dst, size_t cap, const char *src) {
        size_t i = 0;
        for (; i < cap && src[i]; i++) {
                unsigned char c = (unsigned char)src[i];
                dst[i] = c >= 0x20 && c <= 0x7e ? (char)c : '?';
        }
        dst[i] = '\0';
}

/* The PCI devices directory of sysfs (the nvml unit test builds with its own). */
#ifndef SYSFS_PCI_DEVICES
#define SYSFS_PCI_DEVICES "/sys/bus/pci/devices"
#endif

/* n hex digits at *p (moved past them) into *v; false if any is not a hex digit. */
static bool hex_field(const char **p, size_t n, uint32_t *v) {
        *v = 0;
        for (size_t i = 0; i < n; i++) {
                int d = hex_digit_value((*p)[i]);
                if (d < 0)
                        return false;
                *v = *v << 4 | (uint32_t)d;
        }
        *p += n;
        return true;
}

/*
 * NVML's PCI bus id "DDDDDDDD:BB:DD.F" (domain of 4 or 8 hex digits, either
 * case) in sysfs form "dddd:bb:dd.f" (the kernel's "%04x:%02x:%02x.%u"); false
 * when bus_id is not exactly of that form.
 */
static bool sysfs_bdf(const char *bus_id, char *out, size_t outlen) {
        const char *p = bus_id;
        size_t dlen = strcspn(bus_id, ":");
        uint32_t dom, bus, dev, fn;

        if ((dlen != 4 && dlen != 8) || !hex_field(&p, dlen, &dom) || *p++ != ':' ||
            !hex_field(&p, 2, &bus) || *p++ != ':' || !hex_field(&p, 2, &dev) || *p++ != '.' ||
            !hex_field(&p, 1, &fn) || *p != '\0' || dev > 0x1f || fn > 7)
                return false;
        int n = snprintf(out, outlen, "%04x:%02x:%02x.%x", dom, bus, dev, fn);
        return n > 0 && (size_t)n < outlen;
}

/*
 * The GPU's counter epoch: st_ino of its sysfs driver link (a kernfs node made
 * when the driver bound the device: a module reload or unbind/rebind gives a
 * new one; kernfs ids are not reused within a boot). 0: unknown.
 */
static uint64_t driver_epoch(const char *bus_id) {
        char bdf[24], path[sizeof(SYSFS_PCI_DEVICES) + 40];
        struct stat st;

        if (!sysfs_bdf(bus_id, bdf, sizeof bdf))
                return 0;
        if (snprintf(path, sizeof path, "%s/%s/driver", SYSFS_PCI_DEVICES, bdf) >=
            (int)sizeof path)
                return 0;
        if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode))
                return 0;
        return (uint64_t)st.st_ino;
}

static int cmp_gpu(const void *a, const void *b) {
        return strcmp(((const struct nvml_gpu *)a)->info.uuid,
                      ((const struct nvml_gpu *)b)->info.uuid);
}

static int cmp_reading(const void *a, const void *b) {
        return strcmp(((const struct gpu_reading *)a)->uuid, ((const struct gpu_reading *)b)->uuid);
}

static int cmp_sample(const void *a, const void *b) {
        unsigned long long x = ((const nvmlSample_t *)a)->timeStamp;
        unsigned long long y = ((const nvmlSample_t *)b)->timeStamp;
        return (x > y) - (x < y);
}

static int cmp_u64(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
        return (x > y) - (x < y);
}

/* ---- loading ---------------------------------------------------------------------------- */

static int api_load(struct sampler *s, char *err, size_t errlen) {
        struct nvml_api api = {0};
        dlerror();
        api.lib = dlopen(s->lib_name, RTLD_NOW | RTLD_LOCAL);
        if (!api.lib) {
                const char *why = dlerror();
                snprintf(err, errlen,
                         "NVML (%s) not found: %s; use --backend sim for simulated GPUs",
                         s->lib_name, why ? why : "dlopen failed");
                return -ENOENT;
        }
        char missing[512] = "";
        for (size_t i = 0; i < sizeof nvml_symbols / sizeof nvml_symbols[0]; i++) {
                void *sym = dlsym(api.lib, nvml_symbols[i].name);
                if (sym) {
                        memcpy((char *)&api + nvml_symbols[i].offset, &sym, sizeof sym);
                        continue;
                }
                if (nvml_symbols[i].required) {
                        snprintf(err, errlen,
                                 "NVML library '%s' lacks the required function %s (driver too "
                                 "old?); use --backend sim for simulated GPUs",
                                 s->lib_name, nvml_symbols[i].name);
                        dlclose(api.lib);
                        return -ENOSYS;
                }
                size_t used = strlen(missing), add = strlen(nvml_symbols[i].name);
                if (used + add + 3 < sizeof missing) {
                        if (used) {
                                memcpy(missing + used, ", ", 2);
                                used += 2;
                        }
                        memcpy(missing + used, nvml_symbols[i].name, add + 1);
                }
        }
        if (!api.init_v2 && !api.init_with_flags) {
                snprintf(err, errlen,
                         "NVML library '%s' has neither nvmlInitWithFlags nor nvmlInit_v2; use "
                         "--backend sim for simulated GPUs",
                         s->lib_name);
                dlclose(api.lib);
                return -ENOSYS;
        }
        if (missing[0])
                log_warn("NVML '%s': optional functions missing: %s; the records flag what this "
                         "leaves unmeasured",
                         s->lib_name, missing);
        s->api = api;
        return 0;
}

static void api_unload(struct sampler *s) {
        if (s->api.lib)
                dlclose(s->api.lib);
        memset(&s->api, 0, sizeof s->api);
}

/* ---- one GPU: inventory and probe --------------------------------------------------------- */

static void device_string(nvml_device_string_fn fn, nvmlDevice_t dev, char *dst, size_t cap) {
        char buf[128] = "";
        dst[0] = '\0';
        if (!fn || fn(dev, buf, sizeof buf) != NVML_SUCCESS)
                return;
        buf[sizeof buf - 1] = '\0';
        copy_printable(dst, cap, buf);
}

/* Process list into s->procs. Returns the NVML result; *count = processes seen. */
static nvmlReturn_t query_procs(struct sampler *s, struct nvml_gpu *g, unsigned *count) {
        nvmlReturn_t rc = NVML_ERROR_NOT_SUPPORTED;
        *count = 0;
        if (!s->api.procs)
                return rc;
        for (int tries = 0; tries < PROC_TRIES; tries++) {
                unsigned n = s->proc_cap;
                /* Sentinel fill: shows how many bytes per entry the driver wrote (facts §4). */
                memset(s->procs, 0xff, (size_t)s->proc_cap * NVML_PROC_ENTRY_MAX);
                rc = s->api.procs(g->dev, &n, s->procs);
                if (rc == NVML_SUCCESS) {
                        if (n > s->proc_cap)
                                n = s->proc_cap;
                        *count = n;
                        break;
                }
                if (rc != NVML_ERROR_INSUFFICIENT_SIZE)
                        return rc;
                /* n now holds the count needed: at least that many processes run. */
                *count = n;
                if (n > PROC_CAP_MAX || n == 0)
                        return NVML_SUCCESS;
                unsigned cap = n + 8 > PROC_CAP_MAX ? PROC_CAP_MAX : n + 8;
                unsigned char *p = realloc(s->procs, (size_t)cap * NVML_PROC_ENTRY_MAX);
                if (!p)
                        return NVML_SUCCESS; /* the count is still right */
                s->procs = p;
                s->proc_cap = cap;
        }
        if (rc == NVML_ERROR_INSUFFICIENT_SIZE)
                return NVML_SUCCESS; /* processes kept starting; *count is a lower bound */
        unsigned n = *count;
        if (n >= 2) {
                bool tail_untouched = true;
                for (size_t i = (size_t)n * NVML_PROC_ENTRY_MIN;
                     i < (size_t)n * NVML_PROC_ENTRY_MAX; i++)
                        if (s->procs[i] != 0xff)
                                tail_untouched = false;
                unsigned stride = tail_untouched ? NVML_PROC_ENTRY_MIN : NVML_PROC_ENTRY_MAX;
                for (unsigned i = 0; i < n; i++) {
                        unsigned pid;
                        memcpy(&pid, s->procs + (size_t)i * stride, sizeof pid);
                        if (pid == 0 || pid > PID_MAX_LINUX)
                                stride = 0;
                }
                if (stride != g->proc_stride) {
                        if (stride)
                                log_info("GPU '%s': process entries are %u bytes apart",
                                         g->info.uuid, stride);
                        else
                                log_warn("GPU '%s': process list stride not recognised (pids do "
                                         "not check out); counting processes only",
                                         g->info.uuid);
                        g->proc_stride = stride;
                }
        }
        return NVML_SUCCESS;
}

/*
 * Fill a newly seen GPU's identity and probe which measurements work (logged
 * once). Returns ERR_* for the enumeration to act on.
 */
static int gpu_probe(struct sampler *s, struct nvml_gpu *g) {
        const struct nvml_api *a = &s->api;
        struct gpu_info *info = &g->info;
        nvmlReturn_t rc;
        char serial_rc[48] = "n/a", energy_rc[48] = "n/a", samples_rc[48] = "n/a",
             util_rc[48] = "n/a", power_rc[48] = "n/a", mem_rc[48] = "n/a", procs_rc[48] = "n/a",
             mig_rc[48] = "n/a";
#define NOTE(buf, r) snprintf(buf, sizeof(buf), "%s", (r) == NVML_SUCCESS ? "ok" : rc_text(s, r))
#define PROBE_CHECK(r)                                                                             \
        do {                                                                                       \
                int e_ = rc_class(r);                                                              \
                if (e_ == ERR_FATAL)                                                               \
                        s->fatal_rc = (r);                                                         \
                if (e_ != ERR_NONE)                                                                \
                        return e_;                                                                 \
        } while (0)

        device_string(a->name, g->dev, info->name, REC_NAME_MAX);
        if (a->serial) {
                char buf[128] = "";
                rc = a->serial(g->dev, buf, sizeof buf);
                NOTE(serial_rc, rc);
                PROBE_CHECK(rc);
                buf[sizeof buf - 1] = '\0';
                if (rc == NVML_SUCCESS)
                        copy_printable(info->serial, REC_SERIAL_MAX, buf);
        }
        if (a->pci_info) {
                nvmlPciInfo_t pci;
                memset(&pci, 0, sizeof pci);
                rc = a->pci_info(g->dev, &pci);
                PROBE_CHECK(rc);
                if (rc == NVML_SUCCESS) {
                        pci.busId[sizeof pci.busId - 1] = '\0';
                        copy_printable(info->pci_bus_id, REC_PCI_MAX, pci.busId);
                }
        }
        /* before the first energy reading, so that the reading is of this epoch */
        info->counter_epoch = driver_epoch(info->pci_bus_id);
        info->mig_mode = MIG_UNKNOWN;
        if (a->mig_mode) {
                unsigned cur = 0, pend = 0;
                rc = a->mig_mode(g->dev, &cur, &pend);
                NOTE(mig_rc, rc);
                PROBE_CHECK(rc);
                if (rc == NVML_SUCCESS)
                        info->mig_mode = cur == NVML_DEVICE_MIG_ENABLE ? MIG_ON : MIG_OFF;
                else if (rc == NVML_ERROR_NOT_SUPPORTED)
                        info->mig_mode = MIG_OFF; /* GPU without MIG */
        }
        info->flags = GPU_UNMEASURED;
        if (info->mig_mode != MIG_ON) {
                if (a->samples) {
                        unsigned n = 0;
                        nvmlValueType_t vt;
                        rc = a->samples(g->dev, NVML_GPU_UTILIZATION_SAMPLES, 0, &vt, &n, NULL);
                        NOTE(samples_rc, rc);
                        PROBE_CHECK(rc);
                        if (rc == NVML_SUCCESS || rc == NVML_ERROR_NOT_FOUND)
                                info->flags &= (uint8_t)~GPU_UTIL_UNSUPPORTED;
                        g->samples_unsupported = rc == NVML_ERROR_NOT_SUPPORTED;
                }
                if (a->utilization) {
                        nvmlUtilization_t u;
                        rc = a->utilization(g->dev, &u);
                        NOTE(util_rc, rc);
                        PROBE_CHECK(rc);
                        if (rc == NVML_SUCCESS)
                                info->flags &= (uint8_t)~GPU_UTIL_UNSUPPORTED;
                }
        }
        if (a->energy) {
                unsigned long long mj = 0;
                rc = a->energy(g->dev, &mj);
                NOTE(energy_rc, rc);
                PROBE_CHECK(rc);
                g->energy_unsupported = rc == NVML_ERROR_NOT_SUPPORTED;
                if (rc == NVML_SUCCESS) {
                        info->flags &= (uint8_t)~GPU_ENERGY_UNSUPPORTED;
                        info->energy_mj = mj;
                        g->energy_last = mj;
                        g->energy_valid = true;
                }
        }
        if (a->power) {
                unsigned mw = 0;
                rc = a->power(g->dev, &mw);
                NOTE(power_rc, rc);
                PROBE_CHECK(rc);
                if (rc == NVML_SUCCESS) {
                        info->flags &= (uint8_t)~GPU_POWER_UNSUPPORTED;
                        if (info->flags & GPU_ENERGY_UNSUPPORTED)
                                info->flags |= GPU_ENERGY_FROM_POWER;
                }
        }
        if (a->memory) {
                nvmlMemory_t m;
                rc = a->memory(g->dev, &m);
                NOTE(mem_rc, rc);
                PROBE_CHECK(rc);
                if (rc == NVML_SUCCESS)
                        info->flags &= (uint8_t)~GPU_MEM_UNSUPPORTED;
        }
        /* Architecture: logged only (the records have no field for it). */
        static const char *const arch_names[] = {"",       "",       "Kepler",   "Maxwell",
                                                 "Pascal", "Volta",  "Turing",   "Ampere",
                                                 "Ada",    "Hopper", "Blackwell"};
        char arch[32] = "unknown";
        unsigned arch_id = 0;
        if (a->architecture) {
                rc = a->architecture(g->dev, &arch_id);
                PROBE_CHECK(rc);
                if (rc == NVML_SUCCESS)
                        snprintf(arch, sizeof arch, "%s (%u)",
                                 arch_id < sizeof arch_names / sizeof arch_names[0]
                                         ? arch_names[arch_id]
                                         : "",
                                 arch_id);
        }
        unsigned nprocs = 0;
        rc = query_procs(s, g, &nprocs);
        if (a->procs)
                NOTE(procs_rc, rc);
        PROBE_CHECK(rc);
        if (rc == NVML_SUCCESS)
                info->flags &= (uint8_t)~GPU_PROCS_UNSUPPORTED;
#undef NOTE
#undef PROBE_CHECK
        log_info("GPU '%s' '%s' at '%s': architecture %s; MIG %s (%s); serial %s; "
                 "utilization samples %s, "
                 "utilization rates %s; energy counter %s; power %s; memory %s; processes %s "
                 "(%u now, stride %u)",
                 info->uuid, info->name, info->pci_bus_id, arch,
                 info->mig_mode == MIG_ON    ? "on"
                 : info->mig_mode == MIG_OFF ? "off"
                                             : "unknown",
                 mig_rc, serial_rc, samples_rc, util_rc, energy_rc, power_rc, mem_rc, procs_rc,
                 nprocs, g->proc_stride);
        if (info->flags & GPU_UTIL_UNSUPPORTED)
                log_warn("GPU '%s': busy time cannot be measured%s; records flag it "
                         "GPU_UTIL_UNSUPPORTED",
                         info->uuid, info->mig_mode == MIG_ON ? " (MIG is enabled)" : "");
        return ERR_NONE;
}

/* ---- start, stop, enumerate ---------------------------------------------------------------- */

static nvmlReturn_t nvml_init_call(struct sampler *s) {
        if (s->api.init_with_flags)
                return s->api.init_with_flags(NVML_INIT_FLAG_NO_GPUS);
        return s->api.init_v2();
}

/*
 * Enumerate the GPUs now present into s->scratch (sorted by UUID), keeping
 * the state of GPUs already known from s->gpus (same UUID). Returns ERR_*;
 * on ERR_NONE *out_n is the count.
 */
static int enumerate(struct sampler *s, bool probe_known, uint32_t *out_n) {
        unsigned count = 0;
        nvmlReturn_t rc = s->api.get_count(&count);
        if (rc != NVML_SUCCESS) {
                log_err("NVML: cannot count GPUs: %s (%d)", rc_text(s, rc), rc);
                s->fatal_rc = rc;
                return ERR_FATAL;
        }
        if (count > RECORD_MAX_GPUS) {
                log_warn("NVML reports %u GPUs; only the first %u are measured", count,
                         RECORD_MAX_GPUS);
                count = RECORD_MAX_GPUS;
        }
        uint32_t n = 0;
        for (unsigned i = 0; i < count; i++) {
                struct nvml_gpu *g = &s->scratch[n];
                memset(g, 0, sizeof *g);
                rc = s->api.handle_by_index(i, &g->dev);
                if (rc_class(rc) == ERR_FATAL) {
                        s->fatal_rc = rc;
                        return ERR_FATAL;
                }
                if (rc != NVML_SUCCESS) {
                        log_warn("NVML: GPU index %u skipped: %s (%d)", i, rc_text(s, rc), rc);
                        continue;
                }
                char buf[128] = "";
                rc = s->api.uuid(g->dev, buf, sizeof buf);
                if (rc_class(rc) == ERR_FATAL) {
                        s->fatal_rc = rc;
                        return ERR_FATAL;
                }
                buf[sizeof buf - 1] = '\0';
                if (rc != NVML_SUCCESS || !buf[0]) {
                        log_warn("NVML: GPU index %u skipped: no UUID: %s (%d)", i, rc_text(s, rc),
                                 rc);
                        continue;
                }
                copy_printable(g->info.uuid, REC_UUID_MAX, buf);
                bool dup = false;
                for (uint32_t j = 0; j < n; j++)
                        dup = dup || strcmp(s->scratch[j].info.uuid, g->info.uuid) == 0;
                if (dup) {
                        log_warn("NVML: GPU index %u skipped: duplicate UUID '%s'", i,
                                 g->info.uuid);
                        continue;
                }
                const struct nvml_gpu *known = NULL;
                for (uint32_t j = 0; j < s->ngpus; j++)
                        if (strcmp(s->gpus[j].info.uuid, g->info.uuid) == 0)
                                known = &s->gpus[j];
                if (known && !probe_known) {
                        nvmlDevice_t dev = g->dev;
                        *g = *known;
                        g->dev = dev;
                } else {
                        int e = gpu_probe(s, g);
                        if (e == ERR_FATAL)
                                return ERR_FATAL;
                        if (e == ERR_LOST) {
                                log_warn("NVML: GPU '%s' is lost; not measured", g->info.uuid);
                                continue;
                        }
                }
                n++;
        }
        qsort(s->scratch, n, sizeof s->scratch[0], cmp_gpu);
        *out_n = n;
        return ERR_NONE;
}

static void nvml_stop(struct sampler *s) {
        if (!s->up)
                return;
        if (s->events && s->api.event_set_free)
                s->api.event_set_free(s->events);
        s->events = NULL;
        s->api.shutdown();
        s->up = false;
}

static void events_setup(struct sampler *s) {
        const struct nvml_api *a = &s->api;
        if (!a->event_set_create || !a->register_events || !a->event_set_wait ||
            !a->event_set_free) {
                log_notice("NVML: event API missing: Xid errors are not counted");
                return;
        }
        nvmlReturn_t rc = a->event_set_create(&s->events);
        if (rc != NVML_SUCCESS) {
                s->events = NULL;
                log_notice("NVML: no event set (%s): Xid errors are not counted", rc_text(s, rc));
                return;
        }
        for (uint32_t i = 0; i < s->ngpus; i++) {
                rc = a->register_events(s->gpus[i].dev, NVML_EVENT_TYPE_XID_CRITICAL_ERROR,
                                        s->events);
                if (rc != NVML_SUCCESS)
                        log_notice("GPU '%s': Xid events unavailable: %s", s->gpus[i].info.uuid,
                                   rc_text(s, rc));
        }
}

/*
 * Initialise NVML and enumerate. On success s->gpus holds the GPUs now
 * present, merged with the state of those known before (same UUID). On
 * failure NVML is shut down again and err says why.
 */
static int nvml_start(struct sampler *s, char *err, size_t errlen) {
        if (!s->api.lib) {
                int r = api_load(s, err, errlen);
                if (r < 0)
                        return r;
        }
        nvmlReturn_t rc = nvml_init_call(s);
        if (rc != NVML_SUCCESS) {
                snprintf(err, errlen,
                         "NVML initialisation failed: %s (%d); is the NVIDIA driver loaded and "
                         "are /dev/nvidia* accessible? use --backend sim for simulated GPUs",
                         rc_text(s, rc), rc);
                return -EIO;
        }
        s->up = true;
        char buf[128];
        s->driver[0] = s->nvml[0] = '\0';
        if (s->api.driver_version && s->api.driver_version(buf, sizeof buf) == NVML_SUCCESS) {
                buf[sizeof buf - 1] = '\0';
                copy_printable(s->driver, REC_VERSION_MAX, buf);
        }
        if (s->api.nvml_version && s->api.nvml_version(buf, sizeof buf) == NVML_SUCCESS) {
                buf[sizeof buf - 1] = '\0';
                copy_printable(s->nvml, REC_VERSION_MAX, buf);
        }
        uint32_t n = 0;
        int e = enumerate(s, true, &n);
        if (e != ERR_NONE) {
                snprintf(err, errlen, "NVML: cannot enumerate GPUs: %s (%d)",
                         rc_text(s, s->fatal_rc), s->fatal_rc);
                nvml_stop(s);
                return -EIO;
        }
        /* GPUs known before a re-init keep their energy baseline: the next delta then
         * either continues or (counter restarted) counts the new value as a lower
         * bound, flagged as a new epoch either way. */
        for (uint32_t i = 0; i < n; i++) {
                struct nvml_gpu *g = &s->scratch[i];
                for (uint32_t j = 0; j < s->ngpus; j++) {
                        const struct nvml_gpu *o = &s->gpus[j];
                        if (strcmp(o->info.uuid, g->info.uuid) != 0 || !o->energy_valid ||
                            !g->energy_valid)
                                continue;
                        g->energy_last = o->energy_last;
                        g->epoch_break = true;
                        g->proc_stride = o->proc_stride;
                }
        }
        memcpy(s->gpus, s->scratch, n * sizeof s->gpus[0]);
        s->ngpus = n;
        events_setup(s);
        s->rescan_at_us = boot_us() + RESCAN_US;
        log_info("NVML: driver '%s', NVML '%s', %u GPU(s)", s->driver, s->nvml, n);
        return 0;
}

static const char *nvml_uuid(const void *set, size_t i) {
        return ((const struct nvml_gpu *)set)[i].info.uuid;
}

/* Reasons for the difference between the GPU sets old[0..on) and s->gpus. */
static uint8_t set_diff(const struct nvml_gpu *old, uint32_t on, const struct sampler *s) {
        return gpu_set_diff(old, on, nvml_uuid, s->gpus, s->ngpus, nvml_uuid);
}

/* ---- reading ------------------------------------------------------------------------------ */

static double sample_value(nvmlValueType_t vt, nvmlValue_t v) {
        switch (vt) {
        case NVML_VALUE_TYPE_DOUBLE:
                return v.dVal;
        case NVML_VALUE_TYPE_UNSIGNED_INT:
                return v.uiVal;
        case NVML_VALUE_TYPE_UNSIGNED_LONG:
                return (double)v.ulVal;
        case NVML_VALUE_TYPE_UNSIGNED_LONG_LONG:
                return (double)v.ullVal;
        case NVML_VALUE_TYPE_SIGNED_LONG_LONG:
                return (double)v.sllVal;
        case NVML_VALUE_TYPE_SIGNED_INT:
                return v.siVal;
        case NVML_VALUE_TYPE_UNSIGNED_SHORT:
                return v.usVal;
        default:
                return -1;
        }
}

static uint64_t spacing_clamp(const struct nvml_gpu *g) {
        if (g->spacing_n == 0)
                return 2 * SPACING_DEFAULT_US;
        uint64_t v[SPACING_HIST];
        memcpy(v, g->spacing, g->spacing_n * sizeof v[0]);
        qsort(v, g->spacing_n, sizeof v[0], cmp_u64);
        return 2 * v[g->spacing_n / 2];
}

/*
 * Busy time from utilization samples, integrated over their own timestamps.
 * Returns the NVML result. On SUCCESS *have says whether *busy_us is a
 * measurement; if not, the caller polls the utilization rate x dt instead
 * (no cursor yet, or the stream stalled: drained while idle, or stuck).
 */
static nvmlReturn_t busy_from_samples(struct sampler *s, struct nvml_gpu *g, uint64_t dt_us,
                                      uint64_t *busy_us, bool *have) {
        *have = false;
        *busy_us = 0;
        unsigned n = 0;
        nvmlValueType_t vt = NVML_VALUE_TYPE_UNSIGNED_INT;
        unsigned long long since = g->cursor_valid ? g->cursor_ts : 0;
        nvmlReturn_t rc =
                s->api.samples(g->dev, NVML_GPU_UTILIZATION_SAMPLES, since, &vt, &n, NULL);
        if (rc == NVML_SUCCESS && n > 0) {
                if (n > SAMPLE_BUF_MAX)
                        n = SAMPLE_BUF_MAX;
                rc = s->api.samples(g->dev, NVML_GPU_UTILIZATION_SAMPLES, since, &vt, &n,
                                    s->samples);
                if (n > SAMPLE_BUF_MAX)
                        n = SAMPLE_BUF_MAX;
        }
        if (rc == NVML_ERROR_NOT_FOUND || rc == NVML_ERROR_NO_DATA) {
                rc = NVML_SUCCESS;
                n = 0;
        }
        if (rc != NVML_SUCCESS)
                return rc;
        qsort(s->samples, n, sizeof s->samples[0], cmp_sample);
        bool integrate = g->cursor_valid && !g->stalled;
        bool fresh = false;
        double busy = 0;
        uint64_t clamp = spacing_clamp(g);
        for (unsigned i = 0; i < n; i++) {
                unsigned long long ts = s->samples[i].timeStamp;
                if (ts == 0 || (g->cursor_valid && ts <= g->cursor_ts))
                        continue;
                fresh = true;
                if (!g->cursor_valid) {
                        g->cursor_valid = true;
                        g->cursor_ts = ts;
                        continue;
                }
                uint64_t d = ts - g->cursor_ts;
                g->cursor_ts = ts;
                g->spacing[g->spacing_next] = d;
                g->spacing_next = (g->spacing_next + 1) % SPACING_HIST;
                if (g->spacing_n < SPACING_HIST)
                        g->spacing_n++;
                double v = sample_value(vt, s->samples[i].sampleValue);
                if (!integrate || !(v >= 0 && v <= 100))
                        continue; /* before our cursor, covered by the rate, or out of range */
                busy += v / 100.0 * (double)(d > clamp ? clamp : d);
        }
        if (fresh) {
                g->since_sample_us = 0;
                g->stalled = false;
        } else {
                g->since_sample_us += dt_us;
                uint64_t stall = clamp > 1000000u ? clamp : 1000000u;
                if (g->cursor_valid && g->since_sample_us > stall)
                        g->stalled = true;
        }
        /* Established and not stalled: no new sample yet is fine, the next one covers it. */
        *have = integrate && !g->stalled;
        *busy_us = (uint64_t)(busy + 0.5);
        return NVML_SUCCESS;
}

/* Read one GPU into *r. Returns ERR_*; r is filled as far as the GPU answered. */
static int read_gpu(struct sampler *s, struct nvml_gpu *g, uint64_t dt_us, struct gpu_reading *r) {
        const struct nvml_api *a = &s->api;
        nvmlReturn_t rc;
        memset(r, 0, sizeof *r);
        memcpy(r->uuid, g->info.uuid, sizeof r->uuid);
        r->flags = GPU_UNMEASURED;
#define CHECK(rc)                                                                                  \
        do {                                                                                       \
                int e_ = rc_class(rc);                                                             \
                if (e_ == ERR_FATAL)                                                               \
                        s->fatal_rc = (rc);                                                        \
                if (e_ != ERR_NONE)                                                                \
                        return e_;                                                                 \
        } while (0)

        /* Busy time. */
        if (g->info.mig_mode != MIG_ON) {
                uint64_t busy = 0;
                bool have = false;
                if (a->samples && !g->samples_unsupported) {
                        rc = busy_from_samples(s, g, dt_us, &busy, &have);
                        CHECK(rc);
                        if (rc == NVML_ERROR_NOT_SUPPORTED)
                                g->samples_unsupported = true;
                }
                if (!have && a->utilization) {
                        nvmlUtilization_t u;
                        rc = a->utilization(g->dev, &u);
                        CHECK(rc);
                        if (rc == NVML_SUCCESS && u.gpu <= 100) {
                                busy = u.gpu * dt_us / 100;
                                have = true;
                        }
                }
                if (have) {
                        uint64_t total = busy + g->busy_carry_us;
                        r->busy_us = total < dt_us ? total : dt_us;
                        g->busy_carry_us = total - r->busy_us;
                        if (g->busy_carry_us > BUSY_CARRY_MAX_US)
                                g->busy_carry_us = BUSY_CARRY_MAX_US;
                        r->flags &= (uint8_t)~GPU_UTIL_UNSUPPORTED;
                }
        }

        /* Occupied time. */
        unsigned nprocs = 0;
        rc = query_procs(s, g, &nprocs);
        CHECK(rc);
        if (rc == NVML_SUCCESS) {
                r->procs = nprocs;
                r->occupied_us = nprocs > 0 ? dt_us : 0;
                r->flags &= (uint8_t)~GPU_PROCS_UNSUPPORTED;
        }

        /* Power (before energy: the power integral needs it). */
        bool power_now = false;
        uint32_t power_prev = g->power_last;
        bool power_prev_valid = g->power_valid;
        if (a->power) {
                unsigned mw = 0;
                rc = a->power(g->dev, &mw);
                CHECK(rc);
                if (rc == NVML_SUCCESS) {
                        r->power_mw = mw;
                        r->flags &= (uint8_t)~GPU_POWER_UNSUPPORTED;
                        power_now = true;
                        g->power_last = mw;
                        g->power_valid = true;
                }
        }
        if (!power_now)
                g->power_valid = false;

        /* Energy. */
        bool counter = false;
        if (a->energy && !g->energy_unsupported) {
                unsigned long long mj = 0;
                rc = a->energy(g->dev, &mj);
                CHECK(rc);
                if (rc == NVML_ERROR_NOT_SUPPORTED)
                        g->energy_unsupported = true;
                if (rc == NVML_SUCCESS) {
                        counter = true;
                        r->flags &= (uint8_t)~GPU_ENERGY_UNSUPPORTED;
                        r->energy_mj = mj;
                        if (!g->energy_valid) {
                                r->energy_used_mj = 0; /* first value of this GPU's epoch */
                        } else if (mj < g->energy_last) {
                                /* Backwards: new epoch; what it counted since is a lower bound. */
                                r->flags |= GPU_COUNTER_RESET;
                                r->energy_used_mj = mj;
                                log_warn("GPU '%s': energy counter went backwards (%llu -> %llu "
                                         "mJ): new epoch",
                                         g->info.uuid, (unsigned long long)g->energy_last, mj);
                        } else {
                                r->energy_used_mj = mj - g->energy_last;
                        }
                        if (g->epoch_break && g->energy_valid)
                                r->flags |= GPU_COUNTER_RESET;
                        g->epoch_break = false;
                        g->energy_last = mj;
                        g->energy_valid = true;
                        g->info.energy_mj = mj;
                }
        }
        /* No counter at all: integrate power. A counter that failed only this time is
         * not replaced: its next delta covers this interval too. */
        if (!counter && (!a->energy || g->energy_unsupported) && power_now) {
                /* Trapezoid integral of power: mW x µs -> mJ, remainder kept. */
                uint64_t p0 = power_prev_valid ? power_prev : r->power_mw;
                g->power_acc += (p0 + r->power_mw) * dt_us / 2;
                r->energy_used_mj = g->power_acc / 1000000u;
                g->power_acc %= 1000000u;
                r->flags |= GPU_ENERGY_FROM_POWER;
        }

        /* Memory. */
        if (a->memory) {
                nvmlMemory_t m;
                rc = a->memory(g->dev, &m);
                CHECK(rc);
                if (rc == NVML_SUCCESS) {
                        r->mem_used_bytes = m.used;
                        r->flags &= (uint8_t)~GPU_MEM_UNSUPPORTED;
                }
        }
#undef CHECK
        return ERR_NONE;
}

/* Xid events since the last read, counted into the readings out[0..n). */
static int drain_events(struct sampler *s, struct gpu_reading *out, size_t n) {
        if (!s->events)
                return ERR_NONE;
        for (int i = 0; i < XID_DRAIN_MAX; i++) {
                nvmlEventData_t ev;
                memset(&ev, 0, sizeof ev);
                nvmlReturn_t rc = s->api.event_set_wait(s->events, &ev, 0);
                if (rc == NVML_ERROR_TIMEOUT)
                        break;
                if (rc != NVML_SUCCESS) {
                        if (rc_class(rc) == ERR_FATAL) {
                                s->fatal_rc = rc;
                                return ERR_FATAL;
                        }
                        break; /* GPU_IS_LOST here names no GPU: the device calls find it */
                }
                if (!(ev.eventType & NVML_EVENT_TYPE_XID_CRITICAL_ERROR))
                        continue;
                for (uint32_t j = 0; j < s->ngpus && j < n; j++)
                        if (s->gpus[j].dev == ev.device) {
                                for (size_t k = 0; k < n; k++)
                                        if (strcmp(out[k].uuid, s->gpus[j].info.uuid) == 0)
                                                out[k].xids++;
                                log_warn("GPU '%s': Xid %llu", s->gpus[j].info.uuid, ev.eventData);
                        }
        }
        return ERR_NONE;
}

static void reading_lost(const struct nvml_gpu *g, struct gpu_reading *r) {
        memset(r, 0, sizeof *r);
        memcpy(r->uuid, g->info.uuid, sizeof r->uuid);
        r->flags = GPU_UNMEASURED | GPU_LOST;
}

/* One pass over all GPUs. Returns ERR_NONE or ERR_FATAL; lost GPUs are dropped. */
static int read_pass(struct sampler *s, uint64_t dt_us, struct gpu_reading *out, size_t *n) {
        size_t k = 0;
        uint32_t keep = 0;
        for (uint32_t i = 0; i < s->ngpus; i++) {
                struct nvml_gpu *g = &s->gpus[i];
                int e = read_gpu(s, g, dt_us, &out[k]);
                if (e == ERR_FATAL) {
                        for (; i < s->ngpus; i++)
                                s->gpus[keep++] = s->gpus[i];
                        s->ngpus = keep;
                        *n = 0;
                        return ERR_FATAL;
                }
                if (e == ERR_LOST) {
                        out[k].flags |= GPU_LOST;
                        log_err("GPU '%s' is lost (GPU_IS_LOST); dropped from the inventory",
                                g->info.uuid);
                        s->pending_reason |= INV_GPU_VANISHED;
                        s->changed = true;
                } else {
                        if (keep != i)
                                s->gpus[keep] = *g;
                        keep++;
                }
                k++;
        }
        s->ngpus = keep;
        *n = k;
        return drain_events(s, out, k);
}

/*
 * NVML failed as a whole (or was down and is due for a retry): shut down,
 * reload the library when it no longer matches the kernel module, start
 * again. The GPUs known before keep their energy state (new epoch). Returns
 * true when NVML is up again.
 */
static bool reinit(struct sampler *s, bool reload) {
        char old_driver[REC_VERSION_MAX + 1];
        memcpy(old_driver, s->driver, sizeof old_driver);
        bool was_up = s->up;
        nvml_stop(s);
        if (reload)
                api_unload(s);
        for (uint32_t i = 0; i < s->ngpus; i++) {
                s->gpus[i].epoch_break = true;
                s->gpus[i].cursor_valid = false;
                s->gpus[i].stalled = false;
                s->gpus[i].busy_carry_us = 0;
        }
        /* s->gpus stays the "known before" list that enumerate() merges from. */
        struct nvml_gpu *old = malloc(sizeof s->gpus);
        uint32_t on = s->ngpus;
        if (old)
                memcpy(old, s->gpus, on * sizeof s->gpus[0]);
        char err[512];
        int r = nvml_start(s, err, sizeof err);
        uint64_t now = boot_us();
        if (r < 0) {
                if (was_up || s->backoff_us >= BACKOFF_MAX_US)
                        log_err("%s; retrying in %llu s", err,
                                (unsigned long long)(s->backoff_us / 1000000u));
                s->retry_at_us = now + s->backoff_us;
                s->backoff_us =
                        s->backoff_us * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : s->backoff_us * 2;
                free(old);
                return false;
        }
        s->backoff_us = BACKOFF_MIN_US;
        uint8_t reason = INV_REINIT;
        if (old)
                reason |= set_diff(old, on, s);
        if (strcmp(old_driver, s->driver) != 0) {
                reason |= INV_DRIVER_CHANGED;
                log_notice("NVML: driver changed from '%s' to '%s'", old_driver, s->driver);
        }
        free(old);
        s->pending_reason |= reason;
        s->changed = true;
        log_notice("NVML re-initialised: %u GPU(s); new energy epoch", s->ngpus);
        return true;
}

/* Emit GPU_LOST readings for the GPUs in old[0..on) that are not in s->gpus. */
static size_t add_vanished(const struct sampler *s, const struct nvml_gpu *old, uint32_t on,
                           struct gpu_reading *out, size_t k) {
        for (uint32_t i = 0; i < on && k < RECORD_MAX_GPUS; i++)
                if (!gpu_set_has(s->gpus, s->ngpus, nvml_uuid, old[i].info.uuid))
                        reading_lost(&old[i], &out[k++]);
        return k;
}

/* Every RESCAN_US: GPUs that appeared (hot-plug, back after a reset). */
static int rescan(struct sampler *s) {
        uint32_t n = 0;
        if (enumerate(s, false, &n) != ERR_NONE)
                return ERR_FATAL;
        uint32_t on = s->ngpus;
        struct nvml_gpu *old = malloc(sizeof s->gpus);
        if (!old)
                return ERR_NONE;
        memcpy(old, s->gpus, on * sizeof s->gpus[0]);
        memcpy(s->gpus, s->scratch, n * sizeof s->gpus[0]);
        s->ngpus = n;
        uint8_t reason = set_diff(old, on, s);
        if (reason) {
                s->pending_reason |= reason;
                s->changed = true;
                log_notice("NVML: GPU set changed: %u GPU(s) now", n);
        }
        for (uint32_t j = 0; s->events && j < n; j++) {
                if (!gpu_set_has(old, on, nvml_uuid, s->gpus[j].info.uuid))
                        s->api.register_events(s->gpus[j].dev, NVML_EVENT_TYPE_XID_CRITICAL_ERROR,
                                               s->events);
        }
        free(old);
        return ERR_NONE;
}

static int nvml_read(struct sampler *s, uint64_t dt_us, struct gpu_reading out[RECORD_MAX_GPUS],
                     size_t *n) {
        *n = 0;
        uint64_t now = boot_us();
        if (!s->up) {
                if (now < s->retry_at_us || !reinit(s, true))
                        return s->changed ? 1 : 0;
                /* Back: the GPUs start a fresh epoch from their inventory counters. */
        }
        if (now >= s->rescan_at_us) {
                s->rescan_at_us = now + RESCAN_US;
                if (rescan(s) == ERR_FATAL)
                        goto fatal;
        }
        if (read_pass(s, dt_us, out, n) == ERR_NONE)
                return s->changed ? 1 : 0;
fatal:;
        /* The whole library failed: re-initialise at once, then with backoff. */
        uint32_t on = s->ngpus;
        struct nvml_gpu *old = malloc(sizeof s->gpus);
        if (old)
                memcpy(old, s->gpus, on * sizeof s->gpus[0]);
        log_err("NVML failed as a whole: %s (%d); re-initialising", rc_text(s, s->fatal_rc),
                s->fatal_rc);
        size_t k = 0;
        bool reload = s->fatal_rc == NVML_ERROR_LIB_RM_VERSION_MISMATCH;
        if (reinit(s, reload) && read_pass(s, dt_us, out, &k) != ERR_NONE) {
                k = 0;
                nvml_stop(s);
                s->ngpus = 0;
                s->pending_reason |= INV_GPU_VANISHED;
                s->retry_at_us = boot_us() + s->backoff_us;
                log_err("NVML failed again right after re-initialising; retrying later");
        }
        if (!s->up) {
                s->ngpus = 0;
                s->pending_reason |= INV_GPU_VANISHED;
                s->changed = true;
        }
        if (old)
                k = add_vanished(s, old, on, out, k);
        free(old);
        qsort(out, k, sizeof out[0], cmp_reading);
        *n = k;
        return 1;
}

static int nvml_inventory(struct sampler *s, struct sampler_inventory *out) {
        memset(out, 0, sizeof *out);
        memcpy(out->driver_version, s->driver, sizeof out->driver_version);
        memcpy(out->nvml_version, s->nvml, sizeof out->nvml_version);
        out->gpu_count = s->ngpus;
        for (uint32_t i = 0; i < s->ngpus; i++) {
                out->gpus[i] = s->gpus[i].info;
                /* rebound since the probe: the readings may span two epochs */
                if (driver_epoch(out->gpus[i].pci_bus_id) != out->gpus[i].counter_epoch)
                        out->gpus[i].counter_epoch = 0;
        }
        out->reason = s->pending_reason;
        s->pending_reason = 0;
        s->changed = false;
        return 0;
}

static void nvml_close(struct sampler *s) {
        if (!s)
                return;
        nvml_stop(s);
        api_unload(s);
        free(s->procs);
        free(s);
}

static int nvml_open(const struct sampler_config *cfg, struct sampler **out, char *err,
                     size_t errlen) {
        *out = NULL;
        struct sampler *s = calloc(1, sizeof *s);
        if (!s) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        const char *lib =
                cfg && cfg->nvml_lib && cfg->nvml_lib[0] ? cfg->nvml_lib : NVML_DEFAULT_LIB;
        if (strlen(lib) >= sizeof s->lib_name) {
                snprintf(err, errlen, "NVML library path too long");
                free(s);
                return -ENAMETOOLONG;
        }
        strcpy(s->lib_name, lib);
        s->proc_cap = PROC_CAP_INITIAL;
        s->procs = malloc((size_t)s->proc_cap * NVML_PROC_ENTRY_MAX);
        if (!s->procs) {
                free(s);
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        s->backoff_us = BACKOFF_MIN_US;
        int r = nvml_start(s, err, errlen);
        if (r < 0) {
                nvml_close(s);
                return r;
        }
        *out = s;
        return 0;
}

const struct sampler_ops sampler_nvml_ops = {
        .name = "nvml",
        .open = nvml_open,
        .inventory = nvml_inventory,
        .read = nvml_read,
        .close = nvml_close,
};
