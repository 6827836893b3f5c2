/* SPDX-License-Identifier: MIT */
/*
 * A test double for libnvidia-ml.so.1: the NVML functions gpuhoursd uses,
 * with NVML's ABI (return codes and struct layouts from daemon/nvml_types.h,
 * i.e. facts/nvml.md), scripted by the file named in $FAKE_NVML_CONFIG.
 * Built as "libnvidia-ml.so.1" in the build dir (installed nowhere) and loaded
 * by the real daemon through LD_LIBRARY_PATH. Variants (same source):
 *   minimal/  -DFAKE_NVML_MINIMAL: no nvmlInitWithFlags, GetSamples,
 *             GetTotalEnergyConsumption, GetMigMode, GetArchitecture,
 *             GetSerial, GetMemoryInfo or event API (optional symbols
 *             missing);
 *   broken/   -DFAKE_NVML_BROKEN: no nvmlDeviceGetUUID (a required symbol).
 *
 * The file is re-read whenever it changes (size, mtime or inode), so tests
 * can rewrite it (atomically: write + rename) while the daemon runs; per-GPU
 * run-time state (call counts, energy counter) survives by UUID.
 *
 * Format: one directive per line, '#' starts a comment. Global lines:
 *   driver VERSION        driver version (default 535.104.05). When it
 *                         differs from the version seen at nvmlInit, every
 *                         call but Init/Shutdown/ErrorString returns
 *                         LIB_RM_VERSION_MISMATCH (18), as after a driver
 *                         upgrade; a new nvmlInit picks up the new version.
 *   nvml VERSION          NVML version (default 12.535.104.05)
 *   driver_not_loaded 1   every call, nvmlInit included, returns
 *                         DRIVER_NOT_LOADED (9)
 *   gpu UUID              starts a GPU; the lines after it describe it:
 *     serial S | serial - (NOT_SUPPORTED)    name TEXT     pci BUSID
 *     util V[,V...]       utilization samples cycle through these values
 *                         (percent); one sample every sample_us on the
 *                         CLOCK_BOOTTIME timeline (default 166667 µs), the
 *                         last 120 kept; GetUtilizationRates = latest sample
 *     sample_us N
 *     power_mw N          constant power (default 100000)
 *     energy_base_mj N    counter = base + power x CLOCK_BOOTTIME at first
 *                         use, then advanced by power x time at every call
 *     energy_reset_after N  after N energy calls the counter restarts at 0
 *     procs N             compute processes (pids 1000..)
 *     stride 24|32        bytes per process entry written (default 24)
 *     mem_used N          bytes (default 1 GiB), mem_total N
 *     mig 0|1             MIG mode; with 1, utilization calls return
 *                         NOT_SUPPORTED (as on real GPUs)
 *     lost_after N        after N device calls on this GPU every call on it
 *                         returns GPU_IS_LOST (15)
 *     xid_after N X       after N device calls, one Xid event X is queued
 *     notsup NAME[,NAME]  these functions return NOT_SUPPORTED for this GPU,
 *                         e.g. nvmlDeviceGetTotalEnergyConsumption
 * Limits: 16 GPUs, 64 util values, lines of 512 bytes; bad lines are ignored
 * with a message on stderr (this is a test tool).
 */
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "nvml_types.h"

#define FAKE_MAX_GPUS 16
#define FAKE_MAX_UTIL 64
#define FAKE_SAMPLE_KEEP 120u

#define EXPORT __attribute__((visibility("default")))

struct fake_gpu {
        /* configuration */
        char uuid[96], serial[30], name[96], pci[32];
        bool serial_notsup;
        unsigned util[FAKE_MAX_UTIL], nutil;
        unsigned long long sample_us;
        unsigned power_mw;
        unsigned long long energy_base_mj;
        long long energy_reset_after;
        unsigned procs, stride;
        unsigned long long mem_used, mem_total;
        unsigned mig;
        long long lost_after;
        long long xid_after;
        unsigned long long xid;
        char notsup[512];
        /* run-time state (kept across re-reads, by UUID) */
        long long calls, energy_calls;
        bool energy_started, xid_done, xid_pending;
        unsigned long long energy_mj, energy_t_us, energy_frac; /* frac: mW·µs */
};

static struct {
        pthread_mutex_t lock;
        char driver[80], nvml[80];
        char driver_at_init[80];
        bool driver_not_loaded;
        int init_count;
        struct fake_gpu gpus[FAKE_MAX_GPUS];
        unsigned ngpus;
        struct stat st;
        bool loaded;
} fake = {.lock = PTHREAD_MUTEX_INITIALIZER};

static unsigned long long now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (unsigned long long)ts.tv_sec * 1000000ull + (unsigned long long)ts.tv_nsec / 1000;
}

static void gpu_defaults(struct fake_gpu *g, const char *uuid) {
        memset(g, 0, sizeof *g);
        snprintf(g->uuid, sizeof g->uuid, "%s", uuid);
        snprintf(g->serial, sizeof g->serial, "1650000000000");
        snprintf(g->name, sizeof g->name, "NVIDIA H100 80GB HBM3");
        snprintf(g->pci, sizeof g->pci, "00000000:00:00.0");
        g->nutil = 1;
        g->sample_us = 166667;
        g->power_mw = 100000;
        g->energy_reset_after = -1;
        g->stride = 24;
        g->mem_used = 1ull << 30;
        g->mem_total = 80ull << 30;
        g->lost_after = -1;
        g->xid_after = -1;
}

static void parse(FILE *f) {
        char line[512];
        struct fake_gpu *g = NULL;
        snprintf(fake.driver, sizeof fake.driver, "535.104.05");
        snprintf(fake.nvml, sizeof fake.nvml, "12.535.104.05");
        fake.driver_not_loaded = false;
        struct fake_gpu old[FAKE_MAX_GPUS];
        unsigned nold = fake.ngpus;
        memcpy(old, fake.gpus, sizeof old);
        fake.ngpus = 0;
        while (fgets(line, sizeof line, f)) {
                char *p = strchr(line, '#');
                if (p)
                        *p = '\0';
                line[strcspn(line, "\r\n")] = '\0';
                char key[64], *val;
                if (sscanf(line, "%63s", key) != 1)
                        continue;
                val = strstr(line, key) + strlen(key);
                while (*val == ' ' || *val == '\t')
                        val++;
                unsigned long long u = strtoull(val, NULL, 0);
                if (strcmp(key, "driver") == 0)
                        snprintf(fake.driver, sizeof fake.driver, "%s", val);
                else if (strcmp(key, "nvml") == 0)
                        snprintf(fake.nvml, sizeof fake.nvml, "%s", val);
                else if (strcmp(key, "driver_not_loaded") == 0)
                        fake.driver_not_loaded = u != 0;
                else if (strcmp(key, "gpu") == 0) {
                        if (fake.ngpus == FAKE_MAX_GPUS) {
                                fprintf(stderr, "fake-nvml: too many GPUs\n");
                                g = NULL;
                                continue;
                        }
                        g = &fake.gpus[fake.ngpus++];
                        gpu_defaults(g, val);
                } else if (!g) {
                        fprintf(stderr, "fake-nvml: '%s' outside a gpu block ignored\n", key);
                } else if (strcmp(key, "serial") == 0) {
                        g->serial_notsup = strcmp(val, "-") == 0;
                        snprintf(g->serial, sizeof g->serial, "%s", val);
                } else if (strcmp(key, "name") == 0)
                        snprintf(g->name, sizeof g->name, "%s", val);
                else if (strcmp(key, "pci") == 0)
                        snprintf(g->pci, sizeof g->pci, "%s", val);
                else if (strcmp(key, "util") == 0) {
                        g->nutil = 0;
                        for (char *t = strtok(val, ","); t && g->nutil < FAKE_MAX_UTIL;
                             t = strtok(NULL, ","))
                                g->util[g->nutil++] = (unsigned)strtoul(t, NULL, 0);
                        if (!g->nutil)
                                g->nutil = 1;
                } else if (strcmp(key, "sample_us") == 0)
                        g->sample_us = u ? u : 166667;
                else if (strcmp(key, "power_mw") == 0)
                        g->power_mw = (unsigned)u;
                else if (strcmp(key, "energy_base_mj") == 0)
                        g->energy_base_mj = u;
                else if (strcmp(key, "energy_reset_after") == 0)
                        g->energy_reset_after = (long long)u;
                else if (strcmp(key, "procs") == 0)
                        g->procs = (unsigned)u;
                else if (strcmp(key, "stride") == 0)
                        g->stride = u == 32 ? 32 : 24;
                else if (strcmp(key, "mem_used") == 0)
                        g->mem_used = u;
                else if (strcmp(key, "mem_total") == 0)
                        g->mem_total = u;
                else if (strcmp(key, "mig") == 0)
                        g->mig = u != 0;
                else if (strcmp(key, "lost_after") == 0)
                        g->lost_after = (long long)u;
                else if (strcmp(key, "xid_after") == 0) {
                        char *end;
                        g->xid_after = (long long)strtoull(val, &end, 0);
                        g->xid = strtoull(end, NULL, 0);
                } else if (strcmp(key, "notsup") == 0)
                        snprintf(g->notsup, sizeof g->notsup, ",%s,", val);
                else
                        fprintf(stderr, "fake-nvml: unknown directive '%s' ignored\n", key);
        }
        for (unsigned i = 0; i < fake.ngpus; i++)
                for (unsigned j = 0; j < nold; j++) {
                        if (strcmp(fake.gpus[i].uuid, old[j].uuid) != 0)
                                continue;
                        struct fake_gpu *n = &fake.gpus[i];
                        n->calls = old[j].calls;
                        n->energy_calls = old[j].energy_calls;
                        n->energy_started = old[j].energy_started;
                        n->xid_done = old[j].xid_done;
                        n->xid_pending = old[j].xid_pending;
                        n->energy_mj = old[j].energy_mj;
                        n->energy_t_us = old[j].energy_t_us;
                        n->energy_frac = old[j].energy_frac;
                }
}

/* Re-read the configuration if the file changed. Called with the lock held. */
static void refresh(void) {
        const char *path = getenv("FAKE_NVML_CONFIG");
        struct stat st;
        if (!path || stat(path, &st) != 0) {
                if (!fake.loaded) {
                        fake.loaded = true;
                        snprintf(fake.driver, sizeof fake.driver, "535.104.05");
                        snprintf(fake.nvml, sizeof fake.nvml, "12.535.104.05");
                }
                return;
        }
        if (fake.loaded && st.st_ino == fake.st.st_ino && st.st_size == fake.st.st_size &&
            st.st_mtim.tv_sec == fake.st.st_mtim.tv_sec &&
            st.st_mtim.tv_nsec == fake.st.st_mtim.tv_nsec)
                return;
        FILE *f = fopen(path, "re");
        if (!f)
                return;
        parse(f);
        fclose(f);
        fake.st = st;
        fake.loaded = true;
}

/* Common entry for system calls: refresh, check the driver state. */
static nvmlReturn_t enter(void) {
        pthread_mutex_lock(&fake.lock);
        refresh();
        if (fake.driver_not_loaded)
                return NVML_ERROR_DRIVER_NOT_LOADED;
        if (fake.init_count == 0)
                return NVML_ERROR_UNINITIALIZED;
        if (strcmp(fake.driver, fake.driver_at_init) != 0)
                return NVML_ERROR_LIB_RM_VERSION_MISMATCH;
        return NVML_SUCCESS;
}

static nvmlReturn_t leave(nvmlReturn_t rc) {
        pthread_mutex_unlock(&fake.lock);
        return rc;
}

static struct fake_gpu *gpu_of(nvmlDevice_t dev) {
        struct fake_gpu *g = (struct fake_gpu *)(void *)dev;
        if (g < fake.gpus || g >= fake.gpus + fake.ngpus)
                return NULL;
        return g;
}

/* Common entry for device calls: lost, NOT_SUPPORTED by name, call counting. */
static nvmlReturn_t enter_dev(nvmlDevice_t dev, const char *fn, struct fake_gpu **out) {
        nvmlReturn_t rc = enter();
        if (rc != NVML_SUCCESS)
                return rc;
        struct fake_gpu *g = gpu_of(dev);
        if (!g)
                return NVML_ERROR_INVALID_ARGUMENT;
        g->calls++;
        if (g->lost_after >= 0 && g->calls > g->lost_after)
                return NVML_ERROR_GPU_IS_LOST;
        if (g->xid_after >= 0 && g->calls > g->xid_after && !g->xid_done) {
                g->xid_done = true;
                g->xid_pending = true;
        }
        char key[80];
        snprintf(key, sizeof key, ",%s,", fn);
        if (strstr(g->notsup, key))
                return NVML_ERROR_NOT_SUPPORTED;
        *out = g;
        return NVML_SUCCESS;
}

/* NVML semantics: INSUFFICIENT_SIZE is not modelled; the string is cut to fit. */
static void copy_out(char *dst, unsigned len, const char *src) {
        if (!len)
                return;
        size_t n = strlen(src);
        if (n >= len)
                n = len - 1;
        memcpy(dst, src, n);
        dst[n] = '\0';
}

static unsigned util_at(const struct fake_gpu *g, unsigned long long k) {
        unsigned v = g->util[k % g->nutil];
        return v;
}

/* ---- system ------------------------------------------------------------------------------- */

static nvmlReturn_t do_init(void) {
        pthread_mutex_lock(&fake.lock);
        refresh();
        if (fake.driver_not_loaded)
                return leave(NVML_ERROR_DRIVER_NOT_LOADED);
        fake.init_count++;
        snprintf(fake.driver_at_init, sizeof fake.driver_at_init, "%s", fake.driver);
        return leave(NVML_SUCCESS);
}

EXPORT nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlInit_v2(void) {
        return do_init();
}

#ifndef FAKE_NVML_MINIMAL
EXPORT nvmlReturn_t nvmlInitWithFlags(unsigned flags);
nvmlReturn_t nvmlInitWithFlags(unsigned flags) {
        return do_init();
}
#endif

EXPORT nvmlReturn_t nvmlShutdown(void);
nvmlReturn_t nvmlShutdown(void) {
        pthread_mutex_lock(&fake.lock);
        if (fake.init_count == 0)
                return leave(NVML_ERROR_UNINITIALIZED);
        fake.init_count--;
        return leave(NVML_SUCCESS);
}

EXPORT const char *nvmlErrorString(nvmlReturn_t rc);
const char *nvmlErrorString(nvmlReturn_t rc) {
        switch (rc) {
        case NVML_SUCCESS:
                return "Success";
        case NVML_ERROR_UNINITIALIZED:
                return "Uninitialized";
        case NVML_ERROR_INVALID_ARGUMENT:
                return "Invalid Argument";
        case NVML_ERROR_NOT_SUPPORTED:
                return "Not Supported";
        case NVML_ERROR_NOT_FOUND:
                return "Not Found";
        case NVML_ERROR_INSUFFICIENT_SIZE:
                return "Insufficient Size";
        case NVML_ERROR_DRIVER_NOT_LOADED:
                return "Driver Not Loaded";
        case NVML_ERROR_TIMEOUT:
                return "Timeout";
        case NVML_ERROR_GPU_IS_LOST:
                return "GPU is lost";
        case NVML_ERROR_LIB_RM_VERSION_MISMATCH:
                return "RM has detected an NVML/RM version mismatch.";
        default:
                return "Unknown Error";
        }
}

EXPORT nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned len);
nvmlReturn_t nvmlSystemGetDriverVersion(char *buf, unsigned len) {
        nvmlReturn_t rc = enter();
        if (rc == NVML_SUCCESS)
                copy_out(buf, len, fake.driver);
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlSystemGetNVMLVersion(char *buf, unsigned len);
nvmlReturn_t nvmlSystemGetNVMLVersion(char *buf, unsigned len) {
        nvmlReturn_t rc = enter();
        if (rc == NVML_SUCCESS)
                copy_out(buf, len, fake.nvml);
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count) {
        nvmlReturn_t rc = enter();
        if (rc == NVML_SUCCESS)
                *count = fake.ngpus;
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t *dev);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned index, nvmlDevice_t *dev) {
        nvmlReturn_t rc = enter();
        if (rc != NVML_SUCCESS)
                return leave(rc);
        if (index >= fake.ngpus)
                return leave(NVML_ERROR_INVALID_ARGUMENT);
        struct fake_gpu *g = &fake.gpus[index];
        if (g->lost_after >= 0 && g->calls >= g->lost_after)
                return leave(NVML_ERROR_GPU_IS_LOST);
        *dev = (nvmlDevice_t)(void *)g;
        return leave(NVML_SUCCESS);
}

/* ---- device identity ---------------------------------------------------------------------- */

#ifndef FAKE_NVML_BROKEN
EXPORT nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *buf, unsigned len);
nvmlReturn_t nvmlDeviceGetUUID(nvmlDevice_t dev, char *buf, unsigned len) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetUUID", &g);
        if (rc == NVML_SUCCESS)
                copy_out(buf, len, g->uuid);
        return leave(rc);
}
#endif

#ifndef FAKE_NVML_MINIMAL
EXPORT nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t dev, char *buf, unsigned len);
nvmlReturn_t nvmlDeviceGetSerial(nvmlDevice_t dev, char *buf, unsigned len) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetSerial", &g);
        if (rc == NVML_SUCCESS && g->serial_notsup)
                rc = NVML_ERROR_NOT_SUPPORTED;
        if (rc == NVML_SUCCESS)
                copy_out(buf, len, g->serial);
        return leave(rc);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *buf, unsigned len);
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *buf, unsigned len) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetName", &g);
        if (rc == NVML_SUCCESS)
                copy_out(buf, len, g->name);
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetPciInfo_v3", &g);
        if (rc == NVML_SUCCESS) {
                memset(pci, 0, sizeof *pci);
                snprintf(pci->busId, sizeof pci->busId, "%s", g->pci);
                snprintf(pci->busIdLegacy, sizeof pci->busIdLegacy, "%.15s", g->pci + 4);
                pci->pciDeviceId = 0x233010DE;
        }
        return leave(rc);
}

#ifndef FAKE_NVML_MINIMAL
EXPORT nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t dev, unsigned *arch);
nvmlReturn_t nvmlDeviceGetArchitecture(nvmlDevice_t dev, unsigned *arch) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetArchitecture", &g);
        if (rc == NVML_SUCCESS)
                *arch = 9; /* Hopper */
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned *cur, unsigned *pend);
nvmlReturn_t nvmlDeviceGetMigMode(nvmlDevice_t dev, unsigned *cur, unsigned *pend) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetMigMode", &g);
        if (rc == NVML_SUCCESS)
                *cur = *pend = g->mig;
        return leave(rc);
}
#endif

/* ---- measurements ------------------------------------------------------------------------- */

EXPORT nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetUtilizationRates", &g);
        if (rc == NVML_SUCCESS && g->mig)
                rc = NVML_ERROR_NOT_SUPPORTED;
        if (rc == NVML_SUCCESS) {
                u->gpu = util_at(g, now_us() / g->sample_us);
                u->memory = u->gpu / 2;
        }
        return leave(rc);
}

#ifndef FAKE_NVML_MINIMAL
EXPORT nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t dev, nvmlSamplingType_t type,
                                         unsigned long long last_seen, nvmlValueType_t *vtype,
                                         unsigned *count, nvmlSample_t *samples);
nvmlReturn_t nvmlDeviceGetSamples(nvmlDevice_t dev, nvmlSamplingType_t type,
                                  unsigned long long last_seen, nvmlValueType_t *vtype,
                                  unsigned *count, nvmlSample_t *samples) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetSamples", &g);
        if (rc != NVML_SUCCESS)
                return leave(rc);
        if (type != NVML_GPU_UTILIZATION_SAMPLES || g->mig)
                return leave(NVML_ERROR_NOT_SUPPORTED);
        /* Samples at k x sample_us for k in (first, last], the newest FAKE_SAMPLE_KEEP. */
        unsigned long long last = now_us() / g->sample_us;
        unsigned long long first = last > FAKE_SAMPLE_KEEP ? last - FAKE_SAMPLE_KEEP : 0;
        unsigned long long seen = last_seen / g->sample_us;
        if (seen > first)
                first = seen;
        unsigned avail = (unsigned)(last - first);
        if (avail == 0)
                return leave(NVML_ERROR_NOT_FOUND);
        *vtype = NVML_VALUE_TYPE_UNSIGNED_INT;
        if (!samples) {
                *count = avail;
                return leave(NVML_SUCCESS);
        }
        unsigned n = *count < avail ? *count : avail; /* the oldest first */
        for (unsigned i = 0; i < n; i++) {
                unsigned long long k = first + 1 + i;
                samples[i].timeStamp = k * g->sample_us;
                samples[i].sampleValue.uiVal = util_at(g, k);
        }
        *count = n;
        return leave(NVML_SUCCESS);
}

static void energy_advance(struct fake_gpu *g) {
        unsigned long long t = now_us();
        if (!g->energy_started) {
                g->energy_started = true;
                /* mW x ms / 1000 = mJ since boot, as if the GPU ran at this power since. */
                g->energy_mj =
                        g->energy_base_mj + (unsigned long long)g->power_mw * (t / 1000) / 1000;
                g->energy_t_us = t;
                return;
        }
        unsigned long long x =
                (unsigned long long)g->power_mw * (t - g->energy_t_us) + g->energy_frac;
        g->energy_mj += x / 1000000ull;
        g->energy_frac = x % 1000000ull;
        g->energy_t_us = t;
}

EXPORT nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj);
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetTotalEnergyConsumption", &g);
        if (rc != NVML_SUCCESS)
                return leave(rc);
        energy_advance(g);
        g->energy_calls++;
        if (g->energy_reset_after >= 0 && g->energy_calls == g->energy_reset_after + 1) {
                g->energy_mj = 0; /* driver reload: the counter starts again */
                g->energy_frac = 0;
        }
        *mj = g->energy_mj;
        return leave(NVML_SUCCESS);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned *mw);
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned *mw) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetPowerUsage", &g);
        if (rc == NVML_SUCCESS)
                *mw = g->power_mw;
        return leave(rc);
}

#ifndef FAKE_NVML_MINIMAL
EXPORT nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetMemoryInfo", &g);
        if (rc == NVML_SUCCESS) {
                m->total = g->mem_total;
                m->used = g->mem_used;
                m->free = g->mem_total > g->mem_used ? g->mem_total - g->mem_used : 0;
        }
        return leave(rc);
}
#endif

EXPORT nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t dev, unsigned *count,
                                                            void *infos);
nvmlReturn_t nvmlDeviceGetComputeRunningProcesses_v3(nvmlDevice_t dev, unsigned *count,
                                                     void *infos) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceGetComputeRunningProcesses_v3", &g);
        if (rc != NVML_SUCCESS)
                return leave(rc);
        if (*count < g->procs || (!infos && g->procs)) {
                *count = g->procs;
                return leave(NVML_ERROR_INSUFFICIENT_SIZE);
        }
        unsigned char *p = infos;
        for (unsigned i = 0; i < g->procs; i++) {
                unsigned char e[32];
                memset(e, 0, sizeof e);
                unsigned pid = 1000 + i, inst = 0xffffffffu;
                unsigned long long mem = 256ull << 20;
                memcpy(e + 0, &pid, 4);
                memcpy(e + 8, &mem, 8);
                memcpy(e + 16, &inst, 4);
                memcpy(e + 20, &inst, 4);
                memcpy(p + (size_t)i * g->stride, e, g->stride);
        }
        *count = g->procs;
        return leave(NVML_SUCCESS);
}

/* ---- events ------------------------------------------------------------------------------- */

#ifndef FAKE_NVML_MINIMAL
struct nvmlEventSet_st {
        bool registered[FAKE_MAX_GPUS];
};

EXPORT nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set);
nvmlReturn_t nvmlEventSetCreate(nvmlEventSet_t *set) {
        nvmlReturn_t rc = enter();
        if (rc == NVML_SUCCESS) {
                *set = calloc(1, sizeof **set);
                if (!*set)
                        rc = NVML_ERROR_UNKNOWN;
        }
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types,
                                             nvmlEventSet_t set);
nvmlReturn_t nvmlDeviceRegisterEvents(nvmlDevice_t dev, unsigned long long types,
                                      nvmlEventSet_t set) {
        struct fake_gpu *g = NULL;
        nvmlReturn_t rc = enter_dev(dev, "nvmlDeviceRegisterEvents", &g);
        if (rc == NVML_SUCCESS && (types & NVML_EVENT_TYPE_XID_CRITICAL_ERROR))
                set->registered[g - fake.gpus] = true;
        return leave(rc);
}

EXPORT nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data,
                                        unsigned timeout_ms);
nvmlReturn_t nvmlEventSetWait_v2(nvmlEventSet_t set, nvmlEventData_t *data, unsigned timeout_ms) {
        nvmlReturn_t rc = enter();
        if (rc != NVML_SUCCESS)
                return leave(rc);
        for (unsigned i = 0; i < fake.ngpus; i++) {
                struct fake_gpu *g = &fake.gpus[i];
                if (!set->registered[i] || !g->xid_pending)
                        continue;
                g->xid_pending = false;
                memset(data, 0, sizeof *data);
                data->device = (nvmlDevice_t)(void *)g;
                data->eventType = NVML_EVENT_TYPE_XID_CRITICAL_ERROR;
                data->eventData = g->xid;
                data->gpuInstanceId = data->computeInstanceId = 0xffffffffu;
                return leave(NVML_SUCCESS);
        }
        return leave(NVML_ERROR_TIMEOUT); /* timeout_ms is not waited: tests poll with 0 */
}

EXPORT nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set);
nvmlReturn_t nvmlEventSetFree(nvmlEventSet_t set) {
        free(set);
        return NVML_SUCCESS;
}
#endif
