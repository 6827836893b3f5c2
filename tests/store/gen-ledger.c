/* SPDX-License-Identifier: MIT */
/*
 * gen-ledger SEED COUNT GPUS PERIOD_S OUT: a deterministic random ledger of
 * COUNT records, framed as /v1/records serves them (u32 length + record),
 * written to OUT. It starts at 2026-10-01T00:00:00Z with a start record,
 * then one summary per PERIOD_S with random busy time and matching energy;
 * with SEED != 0 it adds random events: gaps (the energy counter runs on,
 * sometimes with work in it), clean restarts (stop + start) and reboots
 * (new boot ID, boot clock from zero) and driver reloads (a new counter epoch
 * in the same boot, then a restart; every energy counter from near zero, or,
 * the careful operator, from above its last reading). Start records are
 * version 2 (counter epochs). SEED 0: no events (the benchmark's
 * steady ledger). proto only, so the bytes are what a daemon would sign;
 * the test signs the checkpoints itself.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

static uint64_t rng_state;

static uint64_t rnd(void) {
        /* splitmix64 */
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static unsigned below(unsigned n) {
        return (unsigned)(rnd() % n);
}

#define S 1000000000ull

struct node {
        unsigned gpus;
        uint32_t period;
        uint64_t wall, boot; /* now */
        uint8_t boot_id[16];
        uint64_t energy[RECORD_MAX_GPUS]; /* mJ counters */
        unsigned load[RECORD_MAX_GPUS];   /* percent */
        uint64_t epoch;                   /* the counters' epoch (start records, v2) */
};

static void uuid_of(char *out, size_t cap, unsigned i) {
        snprintf(out, cap, "GPU-gen00000-0000-0000-0000-%012u", i);
}

static int emit(FILE *f, const struct record *r) {
        struct writer w;
        writer_init(&w, RECORD_MAX_SIZE);
        uint8_t *rec;
        size_t len;
        if (record_encode(r, &w) != 0 || writer_finish(&w, &rec, &len) != 0)
                return -1;
        uint8_t hdr[4] = {(uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8),
                          (uint8_t)len};
        int ok = fwrite(hdr, 1, 4, f) == 4 && fwrite(rec, 1, len, f) == len;
        free(rec);
        return ok ? 0 : -1;
}

static void header(struct record *r, const struct node *n, uint8_t kind) {
        memset(r, 0, sizeof(*r));
        r->version = RECORD_VERSION;
        r->kind = kind;
        r->wall_ns = n->wall;
        r->boot_ns = n->boot;
        memcpy(r->boot_id, n->boot_id, 16);
}

static int start(FILE *f, struct record *r, const struct node *n) {
        header(r, n, REC_START);
        r->version = RECORD_VERSION_EPOCH;
        struct rec_start *st = &r->u.start;
        snprintf(st->daemon_version, sizeof(st->daemon_version), "gen-ledger");
        snprintf(st->backend, sizeof(st->backend), "sim");
        st->period_s = n->period;
        st->sample_interval_us = 1000000;
        snprintf(st->driver_version, sizeof(st->driver_version), "sim");
        snprintf(st->nvml_version, sizeof(st->nvml_version), "sim");
        st->gpu_count = n->gpus;
        for (unsigned i = 0; i < n->gpus; i++) {
                struct gpu_info *g = &st->gpus[i];
                uuid_of(g->uuid, sizeof(g->uuid), i);
                snprintf(g->serial, sizeof(g->serial), "GEN%06u", i);
                snprintf(g->name, sizeof(g->name), "Simulated H100");
                snprintf(g->pci_bus_id, sizeof(g->pci_bus_id), "00000000:%02X:00.0", i + 1);
                g->mig_mode = MIG_OFF;
                g->energy_mj = n->energy[i];
                g->counter_epoch = n->epoch;
        }
        return emit(f, r);
}

/* Energy for dt ns at load pct: 60 W idle, 700 W at 100 %. */
static uint64_t energy_mj(unsigned pct, uint64_t dt_ns) {
        uint64_t mw = 60000 + (uint64_t)pct * 6400;
        return mw * (dt_ns / 1000000u) / 1000u;
}

static void run_gpus(struct node *n, uint64_t dt) {
        for (unsigned i = 0; i < n->gpus; i++)
                n->energy[i] += energy_mj(n->load[i], dt);
}

static int summary(FILE *f, struct record *r, struct node *n) {
        uint64_t dt = (uint64_t)n->period * S;
        uint64_t ws = n->wall, bs = n->boot;
        uint64_t e0[RECORD_MAX_GPUS];
        memcpy(e0, n->energy, sizeof(e0));
        run_gpus(n, dt);
        n->wall += dt;
        n->boot += dt;
        header(r, n, REC_SUMMARY);
        struct rec_summary *su = &r->u.summary;
        su->period_start_ns = ws;
        su->period_s = n->period;
        su->obs_start_wall_ns = ws;
        su->obs_end_wall_ns = n->wall;
        su->obs_start_boot_ns = bs;
        su->obs_end_boot_ns = n->boot;
        su->samples_taken = su->samples_expected = n->period;
        su->gpu_count = n->gpus;
        for (unsigned i = 0; i < n->gpus; i++) {
                struct gpu_summary *g = &su->gpus[i];
                uuid_of(g->uuid, sizeof(g->uuid), i);
                g->observed_ms = dt / 1000000u;
                g->busy_ms = g->observed_ms * n->load[i] / 100u;
                g->occupied_ms = n->load[i] ? g->observed_ms : 0;
                g->energy_start_mj = e0[i];
                g->energy_end_mj = n->energy[i];
                g->energy_used_mj = n->energy[i] - e0[i];
                g->power_avg_mw = (uint32_t)(60000 + n->load[i] * 6400u);
                g->power_max_mw = g->power_avg_mw;
                g->mem_used_max_bytes = n->load[i] ? 40ull << 30 : 0;
                g->procs_max = n->load[i] ? 1 : 0;
        }
        return emit(f, r);
}

int main(int argc, char **argv) {
        if (argc != 6) {
                fprintf(stderr, "usage: gen-ledger SEED COUNT GPUS PERIOD_S OUT\n");
                return 2;
        }
        uint64_t seed = strtoull(argv[1], NULL, 10);
        unsigned long count = strtoul(argv[2], NULL, 10);
        unsigned gpus = (unsigned)strtoul(argv[3], NULL, 10);
        unsigned long period = strtoul(argv[4], NULL, 10);
        if (count < 1 || count > 100000000 || gpus < 1 || gpus > RECORD_MAX_GPUS ||
            period < 1 || period > 86400)
                return 2;
        FILE *f = fopen(argv[5], "wb");
        struct record *r = calloc(1, sizeof(*r));
        if (!f || !r)
                return 1;
        rng_state = seed * 0x2545f4914f6cdd1dull + 1;
        struct node n = {.gpus = gpus, .period = (uint32_t)period, .epoch = 4242};
        n.wall = 1790812800ull * S; /* 2026-10-01T00:00:00Z */
        n.boot = 100 * S;
        for (unsigned i = 0; i < 16; i++)
                n.boot_id[i] = (uint8_t)rnd();
        for (unsigned i = 0; i < gpus; i++) {
                n.energy[i] = 1000000ull * (i + 1);
                n.load[i] = below(101);
        }
        int rc = start(f, r, &n);
        for (unsigned long k = 1; k < count && rc == 0; k++) {
                unsigned ev = seed ? below(100) : 99;
                if (ev < 3 && k + 2 < count) {
                        /* Gap: the daemon was away for 1..5 periods; the GPUs ran on. */
                        uint64_t away = (1 + below(5)) * (uint64_t)period * S;
                        if (below(2))
                                for (unsigned i = 0; i < gpus; i++)
                                        n.load[i] = below(101);
                        run_gpus(&n, away);
                        n.wall += away;
                        n.boot += away;
                        rc = start(f, r, &n);
                        continue;
                }
                if (ev < 5 && k + 3 < count) {
                        /* Clean restart, or a reboot (new boot ID, boot clock from zero). */
                        header(r, &n, REC_STOP);
                        snprintf(r->u.stop.reason, sizeof(r->u.stop.reason), "SIGTERM");
                        rc = emit(f, r);
                        if (ev == 4) {
                                for (unsigned i = 0; i < 16; i++)
                                        n.boot_id[i] = (uint8_t)rnd();
                                n.boot = 30 * S;
                        }
                        k++;
                        if (rc == 0)
                                rc = start(f, r, &n);
                        continue;
                }
                if (ev == 5 && k + 2 < count) {
                        /*
                         * The driver reloaded within the same boot: every energy counter
                         * starts again near zero, and the daemon restarts (COUNTER_RESET).
                         */
                        uint64_t away = (uint64_t)period * S;
                        run_gpus(&n, away);
                        n.wall += away;
                        n.boot += away;
                        bool careful = below(2);
                        for (unsigned i = 0; i < gpus; i++)
                                n.energy[i] = careful ? n.energy[i] /* looks continuous */
                                                      : 1000ull * below(1000);
                        n.epoch++;
                        rc = start(f, r, &n);
                        continue;
                }
                if (ev < 15)
                        n.load[below(gpus)] = below(101);
                rc = summary(f, r, &n);
        }
        if (rc != 0 || fclose(f) != 0) {
                fprintf(stderr, "gen-ledger: cannot write %s\n", argv[5]);
                return 1;
        }
        free(r);
        return 0;
}
