/* SPDX-License-Identifier: MIT */
/*
 * Simulated GPUs (sampler_sim_ops), the backend for demos and tests.
 *
 * Files in the sim directory:
 *   seed    16 random bytes (hex), created once: UUIDs and serials derive from it
 *   load    utilization percentages, GPU i takes the i-th value, the last value
 *           applies to the rest; no file means 0 %. Re-read at every sample.
 *   energy  persisted energy counters (µJ) and the wall time they were valid at
 *   stall   test hook: while it exists, read() blocks (a hung driver)
 *
 * Model: power = 60 W + util x 640 W. The energy counter integrates power
 * over elapsed time: CLOCK_BOOTTIME intervals while the daemon runs (so a
 * wall-clock step creates no energy), and the wall time since the persisted
 * instant, at the load in the file now, when the daemon starts again. That
 * is how energy used while the daemon was down shows up in the counter.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "sampler.h"
#include "status.h"

#define SIM_LOAD_MAX 4096  /* bytes of the load file that are read */
#define SIM_STATE_MAX 4096 /* bytes of the energy file */
#define SIM_IDLE_MW 60000u
#define SIM_SPAN_MW 640000u /* at 100 % */
#define SIM_MEM_BYTES (80ull << 30)
#define SIM_NAME "gpuhours simulated H100"
#define SIM_STATE_MAGIC "gpuhours-sim-energy 1"

struct sim_gpu {
        char uuid[REC_UUID_MAX + 1];
        char serial[REC_SERIAL_MAX + 1];
        char pci[REC_PCI_MAX + 1];
        uint64_t uj;      /* energy counter, µJ */
        uint32_t nj;      /* sub-µJ remainder */
        uint64_t last_mj; /* counter reported by the previous read */
        uint32_t util_cp; /* utilization, hundredths of a percent (0..10000) */
};

struct sampler {
        unsigned n;
        int dirfd;
        uint64_t state_wall_ns; /* instant the counters are valid at */
        struct sim_gpu g[RECORD_MAX_GPUS];
        unsigned order[RECORD_MAX_GPUS]; /* indexes sorted by UUID */
        uint32_t load_cp[RECORD_MAX_GPUS];
        unsigned load_n;
        uint8_t load_digest[16]; /* of the last load file content seen */
        bool load_seen;
};

static uint64_t wall_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int mkdir_p(const char *path) {
        char buf[1024];
        size_t n = strlen(path);
        if (n == 0 || n >= sizeof buf)
                return -ENAMETOOLONG;
        memcpy(buf, path, n + 1);
        for (size_t i = 1; i <= n; i++) {
                if (buf[i] == '/' || buf[i] == '\0') {
                        char c = buf[i];
                        buf[i] = '\0';
                        if (mkdir(buf, 0750) != 0 && errno != EEXIST)
                                return -errno;
                        buf[i] = c;
                }
        }
        return 0;
}

/* Read at most cap-1 bytes of dir/name into buf (NUL-terminated). Returns length or -errno. */
static ssize_t read_small(int dirfd, const char *name, char *buf, size_t cap) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        if (fd < 0)
                return -errno;
        size_t len = 0;
        while (len < cap - 1) {
                ssize_t r = read(fd, buf + len, cap - 1 - len);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        int e = errno;
                        close(fd);
                        return -e;
                }
                if (r == 0)
                        break;
                len += (size_t)r;
        }
        close(fd);
        buf[len] = '\0';
        return (ssize_t)len;
}

/* Write dir/name atomically (temp + rename); durable=true adds fsync + dir fsync. */
static int write_atomic(int dirfd, const char *name, const char *data, size_t len, bool durable,
                        bool exclusive) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, ".%s.%ld.tmp", name, (long)getpid());
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0640);
        if (fd < 0)
                return -errno;
        int rc = 0;
        if (write(fd, data, len) != (ssize_t)len)
                rc = errno ? -errno : -EIO;
        if (rc == 0 && durable && fsync(fd) != 0)
                rc = -errno;
        close(fd);
        if (rc == 0) {
                if (exclusive)
                        rc = linkat(dirfd, tmp, dirfd, name, 0) != 0 ? -errno : 0;
                else
                        rc = renameat(dirfd, tmp, dirfd, name) != 0 ? -errno : 0;
        }
        if (rc != 0 || exclusive)
                (void)unlinkat(dirfd, tmp, 0);
        if (rc == 0 && durable)
                (void)fsync(dirfd);
        return rc;
}

static int hex_digit(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

/* Exactly 32 hex digits, then a newline or the end of the string. */
static bool parse_hex16(const char *s, uint8_t out[16]) {
        for (int i = 0; i < 16; i++) {
                int hi = hex_digit(s[2 * i]);
                int lo = hi < 0 ? -1 : hex_digit(s[2 * i + 1]);
                if (lo < 0)
                        return false;
                out[i] = (uint8_t)(hi << 4 | lo);
        }
        return s[32] == '\n' || s[32] == '\0';
}

static int load_seed(struct sampler *s, uint8_t seed[16], char *err, size_t errlen) {
        char buf[128];
        for (int attempt = 0; attempt < 2; attempt++) {
                ssize_t n = read_small(s->dirfd, "seed", buf, sizeof buf);
                if (n >= 32) {
                        if (!parse_hex16(buf, seed)) {
                                snprintf(err, errlen, "sim: seed file is not 32 hex digits");
                                return GH_E_MALFORMED;
                        }
                        return 0;
                }
                if (n >= 0) {
                        snprintf(err, errlen, "sim: seed file is not 32 hex digits");
                        return GH_E_MALFORMED;
                }
                if (n != -ENOENT) {
                        snprintf(err, errlen, "sim: seed file: %s", strerror((int)-n));
                        return (int)n;
                }
                uint8_t fresh[16];
                randombytes_buf(fresh, sizeof fresh);
                char hex[40];
                for (int i = 0; i < 16; i++)
                        snprintf(hex + 2 * i, 3, "%02x", fresh[i]);
                hex[32] = '\n';
                int rc = write_atomic(s->dirfd, "seed", hex, 33, true, true);
                if (rc != 0 && rc != -EEXIST) {
                        snprintf(err, errlen, "sim: cannot create the seed file: %s",
                                 strerror(-rc));
                        return rc;
                }
        }
        snprintf(err, errlen, "sim: seed file vanished while creating it");
        return -EIO;
}

static void derive_gpus(struct sampler *s, const uint8_t seed[16]) {
        for (unsigned i = 0; i < s->n; i++) {
                uint8_t msg[32], h[32];
                memcpy(msg, "gpuhours-sim-gpu", 16);
                memcpy(msg + 16, seed, 16);
                crypto_hash_sha256_state st;
                crypto_hash_sha256_init(&st);
                crypto_hash_sha256_update(&st, msg, sizeof msg);
                uint8_t idx[4] = {(uint8_t)(i >> 24), (uint8_t)(i >> 16), (uint8_t)(i >> 8),
                                  (uint8_t)i};
                crypto_hash_sha256_update(&st, idx, sizeof idx);
                crypto_hash_sha256_final(&st, h);
                char hx[33];
                for (int b = 0; b < 16; b++)
                        snprintf(hx + 2 * b, 3, "%02x", h[b]);
                snprintf(s->g[i].uuid, sizeof s->g[i].uuid, "GPU-%.8s-%.4s-%.4s-%.4s-%.12s", hx,
                         hx + 8, hx + 12, hx + 16, hx + 20);
                uint64_t v = 0;
                for (int b = 16; b < 24; b++)
                        v = v << 8 | h[b];
                snprintf(s->g[i].serial, sizeof s->g[i].serial, "%013" PRIu64,
                         v % UINT64_C(10000000000000));
                snprintf(s->g[i].pci, sizeof s->g[i].pci, "00000000:%02X:00.0", 0x18 + i);
        }
        /* insertion sort by UUID (bytewise) */
        for (unsigned i = 0; i < s->n; i++)
                s->order[i] = i;
        for (unsigned i = 1; i < s->n; i++) {
                unsigned v = s->order[i], j = i;
                while (j > 0 && strcmp(s->g[s->order[j - 1]].uuid, s->g[v].uuid) > 0) {
                        s->order[j] = s->order[j - 1];
                        j--;
                }
                s->order[j] = v;
        }
}

/* Percent with up to 2 decimals, 0..100, to hundredths. */
static bool parse_percent(const char *t, size_t len, uint32_t *out) {
        uint32_t whole = 0, frac = 0;
        size_t i = 0;
        unsigned wd = 0, fd = 0;
        for (; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                if (++wd > 3)
                        return false;
                whole = whole * 10 + (uint32_t)(t[i] - '0');
        }
        if (i < len && t[i] == '.') {
                for (i++; i < len && t[i] >= '0' && t[i] <= '9'; i++) {
                        if (++fd > 2)
                                return false;
                        frac = frac * 10 + (uint32_t)(t[i] - '0');
                }
                if (fd == 0)
                        return false;
        }
        if (i != len || wd == 0)
                return false;
        if (fd == 1)
                frac *= 10;
        uint32_t v = whole * 100 + frac;
        if (v > 10000)
                return false;
        *out = v;
        return true;
}

/* Re-read the load file; on bad content keep the previous loads and complain once per change. */
static void read_load(struct sampler *s) {
        char buf[SIM_LOAD_MAX + 1] = ""; /* read_small NUL-terminates; the analyzer cannot see it */
        ssize_t n = read_small(s->dirfd, "load", buf, sizeof buf);
        uint8_t digest[16];
        if (n < 0) {
                if (n != -ENOENT && !s->load_seen)
                        log_warn("sim: cannot read the load file: %s; keeping the previous "
                                 "load",
                                 strerror((int)-n));
                if (n == -ENOENT) {
                        s->load_n = 0; /* no file: 0 % */
                        s->load_seen = false;
                } else {
                        s->load_seen = true;
                }
                return;
        }
        crypto_generichash(digest, sizeof digest, (const uint8_t *)buf, (size_t)n, NULL, 0);
        if (s->load_seen && memcmp(digest, s->load_digest, sizeof digest) == 0)
                return; /* unchanged */
        s->load_seen = true;
        memcpy(s->load_digest, digest, sizeof digest);
        if ((size_t)n >= SIM_LOAD_MAX) {
                log_warn("sim: load file is larger than %d bytes; keeping the previous load",
                         SIM_LOAD_MAX - 1);
                return;
        }
        uint32_t vals[RECORD_MAX_GPUS] = {0};
        unsigned cnt = 0;
        const char *p = buf;
        while (*p) {
                while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
                        p++;
                if (!*p)
                        break;
                const char *t = p;
                while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
                        p++;
                size_t tl = (size_t)(p - t);
                uint32_t v;
                if (cnt >= RECORD_MAX_GPUS) {
                        log_warn("sim: load file has more than %u values; keeping the previous "
                                 "load",
                                 RECORD_MAX_GPUS);
                        return;
                }
                if (!parse_percent(t, tl, &v)) {
                        log_warn("sim: bad value '%.*s' in the load file (expected a percentage "
                                 "0..100); keeping the previous load",
                                 (int)(tl > 40 ? 40 : tl), t);
                        return;
                }
                vals[cnt++] = v;
        }
        memcpy(s->load_cp, vals, cnt * sizeof vals[0]);
        s->load_n = cnt;
}

static uint32_t util_of(const struct sampler *s, unsigned i) {
        if (s->load_n == 0)
                return 0;
        return s->load_cp[i < s->load_n ? i : s->load_n - 1];
}

static uint32_t power_mw(uint32_t util_cp) {
        return SIM_IDLE_MW + (uint32_t)((uint64_t)SIM_SPAN_MW * util_cp / 10000u);
}

static void integrate(struct sim_gpu *g, uint32_t mw, uint64_t dt_us) {
        /* mW x µs = nJ; split to avoid overflow on long downtimes */
        uint64_t whole_ms = dt_us / 1000, rest_us = dt_us % 1000;
        g->uj += (uint64_t)mw * whole_ms; /* mW x ms = µJ */
        uint64_t nj = (uint64_t)mw * rest_us + g->nj;
        g->uj += nj / 1000;
        g->nj = (uint32_t)(nj % 1000);
}

static int save_state(struct sampler *s) {
        char buf[SIM_STATE_MAX];
        int n = snprintf(buf, sizeof buf, "%s\nwall_ns %" PRIu64 "\n", SIM_STATE_MAGIC,
                         s->state_wall_ns);
        if (n <= 0 || (size_t)n >= sizeof buf)
                return -ENOBUFS;
        size_t len = (size_t)n;
        for (unsigned i = 0; i < s->n; i++) {
                char num[32];
                int k = snprintf(num, sizeof num, "%" PRIu64 "%c", s->g[i].uj,
                                 i + 1 < s->n ? ' ' : '\n');
                if (k <= 0 || len + (size_t)k >= sizeof buf)
                        return -ENOBUFS;
                memcpy(buf + len, num, (size_t)k);
                len += (size_t)k;
        }
        return write_atomic(s->dirfd, "energy", buf, len, false, false);
}

static void load_state(struct sampler *s) {
        char buf[SIM_STATE_MAX];
        ssize_t n = read_small(s->dirfd, "energy", buf, sizeof buf);
        if (n == -ENOENT)
                return;
        if (n < 0) {
                log_warn("sim: cannot read the energy state: %s; counters start at 0",
                         strerror((int)-n));
                return;
        }
        char *p = buf;
        size_t ml = strlen(SIM_STATE_MAGIC);
        uint64_t wall;
        if (strncmp(p, SIM_STATE_MAGIC "\nwall_ns ", ml + 9) != 0)
                goto bad;
        p += ml + 9;
        char *end;
        errno = 0;
        wall = strtoull(p, &end, 10);
        if (errno || end == p || *end != '\n')
                goto bad;
        p = end + 1;
        uint64_t uj[RECORD_MAX_GPUS];
        unsigned cnt = 0;
        while (*p && *p != '\n') {
                if (cnt >= RECORD_MAX_GPUS || *p < '0' || *p > '9')
                        goto bad;
                errno = 0;
                uj[cnt++] = strtoull(p, &end, 10);
                if (errno)
                        goto bad;
                p = end;
                if (*p == ' ')
                        p++;
        }
        for (unsigned i = 0; i < cnt && i < s->n; i++)
                s->g[i].uj = uj[i];
        s->state_wall_ns = wall;
        return;
bad:
        log_warn("sim: energy state file is malformed; counters start at 0");
}

static int sim_open(const struct sampler_config *cfg, struct sampler **out, char *err,
                    size_t errlen) {
        if (cfg->sim_gpus < 1 || cfg->sim_gpus > RECORD_MAX_GPUS) {
                snprintf(err, errlen, "sim: GPU count %u out of range 1..%u", cfg->sim_gpus,
                         RECORD_MAX_GPUS);
                return GH_E_RANGE;
        }
        int rc = mkdir_p(cfg->sim_dir);
        if (rc != 0) {
                snprintf(err, errlen, "sim: cannot create '%s': %s", cfg->sim_dir, strerror(-rc));
                return rc;
        }
        struct sampler *s = calloc(1, sizeof *s);
        if (!s) {
                snprintf(err, errlen, "sim: out of memory");
                return -ENOMEM;
        }
        s->n = cfg->sim_gpus;
        s->dirfd = open(cfg->sim_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->dirfd < 0) {
                rc = -errno;
                snprintf(err, errlen, "sim: cannot open '%s': %s", cfg->sim_dir, strerror(errno));
                free(s);
                return rc;
        }
        uint8_t seed[16];
        rc = load_seed(s, seed, err, errlen);
        if (rc != 0) {
                close(s->dirfd);
                free(s);
                return rc;
        }
        derive_gpus(s, seed);
        load_state(s);
        read_load(s);
        /* Energy used while nobody was looking: wall time since the persisted instant. */
        uint64_t now = wall_now_ns();
        if (s->state_wall_ns && now > s->state_wall_ns) {
                uint64_t dt_us = (now - s->state_wall_ns) / 1000;
                for (unsigned i = 0; i < s->n; i++)
                        integrate(&s->g[i], power_mw(util_of(s, i)), dt_us);
        }
        s->state_wall_ns = now;
        for (unsigned i = 0; i < s->n; i++)
                s->g[i].last_mj = s->g[i].uj / 1000;
        rc = save_state(s);
        if (rc != 0) {
                snprintf(err, errlen, "sim: cannot write the energy state: %s", strerror(-rc));
                close(s->dirfd);
                free(s);
                return rc;
        }
        *out = s;
        return 0;
}

static int sim_inventory(struct sampler *s, struct sampler_inventory *out) {
        memset(out, 0, sizeof *out);
        snprintf(out->driver_version, sizeof out->driver_version, "gpuhours-sim");
        snprintf(out->nvml_version, sizeof out->nvml_version, "none");
        out->gpu_count = s->n;
        for (unsigned k = 0; k < s->n; k++) {
                const struct sim_gpu *g = &s->g[s->order[k]];
                struct gpu_info *gi = &out->gpus[k];
                snprintf(gi->uuid, sizeof gi->uuid, "%s", g->uuid);
                snprintf(gi->serial, sizeof gi->serial, "%s", g->serial);
                snprintf(gi->name, sizeof gi->name, "%s", SIM_NAME);
                snprintf(gi->pci_bus_id, sizeof gi->pci_bus_id, "%s", g->pci);
                gi->mig_mode = MIG_OFF;
                gi->flags = 0;
                gi->energy_mj = g->uj / 1000;
        }
        return 0;
}

static int sim_read(struct sampler *s, uint64_t dt_us, struct gpu_reading out[RECORD_MAX_GPUS],
                    size_t *n) {
        /* Test hook: a hung driver while <sim-dir>/stall exists. */
        while (faccessat(s->dirfd, "stall", F_OK, 0) == 0) {
                struct timespec d = {0, 50 * 1000 * 1000};
                nanosleep(&d, NULL);
        }
        read_load(s);
        for (unsigned i = 0; i < s->n; i++) {
                struct sim_gpu *g = &s->g[i];
                uint32_t u = util_of(s, i);
                g->util_cp = u;
                integrate(g, power_mw(u), dt_us);
        }
        s->state_wall_ns = wall_now_ns();
        (void)save_state(
                s); /* best effort: the next start integrates from the last saved instant */
        for (unsigned k = 0; k < s->n; k++) {
                struct sim_gpu *g = &s->g[s->order[k]];
                struct gpu_reading *r = &out[k];
                memset(r, 0, sizeof *r);
                snprintf(r->uuid, sizeof r->uuid, "%s", g->uuid);
                uint64_t mj = g->uj / 1000;
                r->energy_mj = mj;
                r->energy_used_mj = mj - g->last_mj;
                g->last_mj = mj;
                r->busy_us = (uint64_t)g->util_cp * dt_us / 10000u;
                r->occupied_us = g->util_cp > 0 ? dt_us : 0;
                r->power_mw = power_mw(g->util_cp);
                r->mem_used_bytes = SIM_MEM_BYTES / 10000u * g->util_cp;
                r->procs = g->util_cp > 0 ? 1 : 0;
        }
        *n = s->n;
        return 0;
}

static void sim_close(struct sampler *s) {
        if (!s)
                return;
        /* The counters stay valid at the last read; the next open integrates from there. */
        close(s->dirfd);
        free(s);
}

const struct sampler_ops sampler_sim_ops = {
        .name = "sim",
        .open = sim_open,
        .inventory = sim_inventory,
        .read = sim_read,
        .close = sim_close,
};
