/* SPDX-License-Identifier: MIT */
/*
 * craft-redteam2 OUT-DIR < SCRIPT: signed ledgers for test_redteam2.py, from
 * a script of one command a line (the hardware model of tests/check/
 * craft-check.c, with the knobs an operator has: summary period, GPU
 * names, the real idle and full power, UUIDs, clocks):
 *
 *   init NG             a new ledger, NG GPUs (at most 4), boot 1 h, wall T0
 *   model NAME...       the GPUs' name in START/INVENTORY records
 *   power IDLE FULL     the hardware's real power (W) at 0 % and 100 % load
 *   period S            the summary period (s); run's windows are S long
 *   load L...           load 0..1 per GPU (the last value for the rest)
 *   run N               N observed windows of the period
 *   tick S OBS          S seconds pass, observed (1) or not (0)
 *   win                 a new window opens now (after unobserved time)
 *   summary             the window in progress is written
 *   start | stop        START / STOP records
 *   reboot SHIFT        a reboot; the wall clock moves by SHIFT s across it
 *   present G 0|1       GPU G in the node's set (then: inventory)
 *   inventory REASON    an INVENTORY record (INV_* bits)
 *   uuid G STR          GPU G's UUID
 *   uptime S            the boot has been up S s now (before the first start)
 *   mjset G MJ          GPU G's energy counter jumps to MJ (no flag)
 *   reset G             a GPU reset: counter to 0, flagged in the window; the energy
 *                       since the last observed reading is lost to the window's total
 *   reload              a driver reload (the daemon is stopped): every counter restarts
 *                       at 0 in a new counter epoch (start/inventory record it)
 *   epoch0              every GPU's counter epoch becomes 0 (unknown; no reload)
 *   v1                  START/INVENTORY records from here on are version 1 (no epoch,
 *                       an older daemon); by default they are version 2
 *   v2                  START/INVENTORY records from here on are version 2 again
 *                       (the daemon upgraded in place)
 *   mark NAME           prints "NAME WALL_NS" (the current wall time)
 *   write NAME          writes NAME.bundle, NAME.vkey; prints "truth NAME BUSY_S"
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "record.h"
#include "status.h"
#include "vectors.h"

#define SEC 1000000000ull
#define MS 1000000ull
#define T0 1795694400ull /* 2026-11-26T12:00:00Z */
#define MAXREC 4096
#define MAXG 4

static const uint8_t seed[32] = "gpuhours redteam2 craft seed 01";

struct craft {
        struct record *recs[MAXREC];
        size_t n;
        unsigned ng;
        char uuid[MAXG][REC_UUID_MAX + 1];
        bool present[MAXG];
        char model[REC_NAME_MAX + 1];
        double idle_w, full_w;
        uint32_t period;
        uint8_t boot_id[16];
        uint64_t boot, off;
        double mj[MAXG], load[MAXG];
        double busy_ms[MAXG], obs_ms[MAXG], pw_obs[MAXG], pw_max[MAXG], e0[MAXG], used[MAXG];
        double used_obs[MAXG]; /* used at the end of the last observed tick */
        bool reset[MAXG];      /* counter reset in the window in progress */
        uint64_t epoch[MAXG];  /* counter epoch (START/INVENTORY version 2) */
        bool v1;               /* START/INVENTORY as version 1 */
        uint64_t ws, bs;
        double truth_ms;
};

static uint64_t wall(const struct craft *c) {
        return c->boot + c->off;
}

static struct record *add(struct craft *c, uint8_t kind) {
        struct record *r = calloc(1, sizeof(*r));
        if (!r || c->n >= MAXREC) {
                fprintf(stderr, "craft-redteam2: out of memory or records\n");
                exit(1);
        }
        r->version = RECORD_VERSION;
        r->kind = kind;
        r->wall_ns = wall(c);
        r->boot_ns = c->boot;
        memcpy(r->boot_id, c->boot_id, 16);
        c->recs[c->n++] = r;
        return r;
}

static void init(struct craft *c, unsigned ng) {
        memset(c, 0, sizeof(*c));
        c->ng = ng;
        memset(c->boot_id, 0xb2, 16);
        c->boot = 3600 * SEC;
        c->off = T0 * SEC - c->boot;
        c->idle_w = 60;
        c->full_w = 700;
        c->period = 60;
        snprintf(c->model, sizeof(c->model), "NVIDIA H100 80GB HBM3");
        for (unsigned g = 0; g < ng; g++) {
                c->mj[g] = 60.0 * 3600 * 1000;
                c->epoch[g] = 4096 + g;
                c->present[g] = true;
                snprintf(c->uuid[g], sizeof(c->uuid[g]),
                         "GPU-7ed7ea00-0000-0000-0000-00000000000%u", g);
        }
}

static void tick(struct craft *c, double dt_s, bool observed) {
        uint64_t dt = (uint64_t)(dt_s * 1e9 + 0.5);
        for (unsigned g = 0; g < c->ng; g++) {
                double w = c->idle_w + (c->full_w - c->idle_w) * c->load[g];
                c->mj[g] += w * (double)dt / 1e6;
                c->used[g] += w * (double)dt / 1e6;
                c->truth_ms += c->load[g] * (double)dt / 1e6;
                if (observed && c->present[g]) {
                        c->busy_ms[g] += c->load[g] * (double)dt / 1e6;
                        c->obs_ms[g] += (double)dt / 1e6;
                        c->pw_obs[g] += w * (double)dt / 1e6;
                        if (w > c->pw_max[g])
                                c->pw_max[g] = w;
                        c->used_obs[g] = c->used[g];
                }
        }
        c->boot += dt;
}

static void win_open(struct craft *c) {
        c->ws = wall(c);
        c->bs = c->boot;
        for (unsigned g = 0; g < c->ng; g++) {
                c->busy_ms[g] = c->obs_ms[g] = c->pw_obs[g] = c->pw_max[g] = 0;
                c->e0[g] = c->mj[g];
                c->used[g] = c->used_obs[g] = 0;
                c->reset[g] = false;
        }
}

static void gpu_infos(const struct craft *c, struct gpu_info *gi, uint32_t *count) {
        uint32_t n = 0;
        for (unsigned g = 0; g < c->ng; g++) {
                if (!c->present[g])
                        continue;
                snprintf(gi[n].uuid, sizeof(gi[n].uuid), "%s", c->uuid[g]);
                snprintf(gi[n].name, sizeof(gi[n].name), "%s", c->model);
                gi[n].energy_mj = (uint64_t)(c->mj[g] + 0.5);
                gi[n].counter_epoch = c->epoch[g];
                n++;
        }
        *count = n;
}

static void start(struct craft *c) {
        struct record *r = add(c, REC_START);
        struct rec_start *s = &r->u.start;
        r->version = c->v1 ? RECORD_VERSION : RECORD_VERSION_EPOCH;
        snprintf(s->daemon_version, sizeof(s->daemon_version), "crafted");
        snprintf(s->backend, sizeof(s->backend), "sim");
        s->period_s = c->period;
        s->sample_interval_us = 100000;
        gpu_infos(c, s->gpus, &s->gpu_count);
        win_open(c);
}

static void inventory(struct craft *c, uint32_t reason) {
        struct record *r = add(c, REC_INVENTORY);
        r->version = c->v1 ? RECORD_VERSION : RECORD_VERSION_EPOCH;
        r->u.inventory.reason = (uint8_t)reason;
        gpu_infos(c, r->u.inventory.gpus, &r->u.inventory.gpu_count);
}

static void summary(struct craft *c) {
        struct record *r = add(c, REC_SUMMARY);
        struct rec_summary *s = &r->u.summary;
        uint64_t len = c->boot - c->bs, P = (uint64_t)c->period * SEC;
        uint32_t n = 0;
        s->period_s = c->period;
        s->period_start_ns = c->ws / P * P;
        s->obs_start_wall_ns = c->ws;
        s->obs_end_wall_ns = wall(c);
        s->obs_start_boot_ns = c->bs;
        s->obs_end_boot_ns = c->boot;
        if (len != P)
                s->flags = SUMMARY_PARTIAL;
        s->samples_expected = (uint32_t)(len / (100 * MS));
        s->samples_taken = s->samples_expected;
        for (unsigned g = 0; g < c->ng; g++) {
                if (!c->present[g])
                        continue;
                struct gpu_summary *e = &s->gpus[n++];
                snprintf(e->uuid, sizeof(e->uuid), "%s", c->uuid[g]);
                e->observed_ms = (uint64_t)(c->obs_ms[g] + 0.5);
                e->busy_ms = (uint64_t)(c->busy_ms[g] + 0.5);
                e->occupied_ms = e->busy_ms > 0 ? e->observed_ms : 0;
                e->energy_start_mj = (uint64_t)(c->e0[g] + 0.5);
                e->energy_end_mj = (uint64_t)(c->mj[g] + 0.5);
                e->energy_used_mj = (uint64_t)(c->used[g] + 0.5);
                e->power_avg_mw =
                        c->obs_ms[g] > 0 ? (uint32_t)(c->pw_obs[g] / c->obs_ms[g] * 1000.0) : 0;
                e->power_max_mw = (uint32_t)(c->pw_max[g] * 1000.0) + 1000;
                if (c->reset[g])
                        e->flags |= GPU_COUNTER_RESET;
                if (e->observed_ms * 10 < len / MS * 9)
                        s->samples_taken = (uint32_t)(e->observed_ms / 100);
        }
        s->gpu_count = n;
        win_open(c);
}

static void stop(struct craft *c) {
        struct record *r = add(c, REC_STOP);
        snprintf(r->u.stop.reason, sizeof(r->u.stop.reason), "received SIGTERM");
}

static void reboot(struct craft *c, double shift_s) {
        stop(c);
        c->boot_id[0]++;
        uint64_t w = wall(c);
        c->boot = 30 * SEC;
        c->off = (uint64_t)((int64_t)w - (int64_t)c->boot + (int64_t)(shift_s * 1e9) +
                            (int64_t)(30 * SEC));
        for (unsigned g = 0; g < c->ng; g++)
                c->mj[g] = c->idle_w * 30 * 1000;
        start(c);
}

static int write_bundle(const char *dir, const char *name, struct craft *c) {
        struct signer s;
        static uint8_t *recs[MAXREC];
        static size_t lens[MAXREC];
        uint8_t *out = NULL;
        size_t outlen = 0, n = 0;
        char path[4096], origin[200];
        struct note_verifier v;
        char vkey[VKEY_MAX_LEN + 2];
        int rc;

        snprintf(origin, sizeof(origin), "%s.redteam.example/gpuhours", name);
        memset(&s, 0, sizeof(s));
        rc = signer_init_ed25519(&s, origin, seed);
        for (size_t i = 0; i < c->n; i++)
                recs[i] = NULL;
        for (size_t i = 0; rc == 0 && i < c->n; i++) {
                rc = encode_alloc(c->recs[i], &recs[i], &lens[i]);
                if (rc != 0)
                        fprintf(stderr, "craft-redteam2: %s: record %zu does not encode: %s\n",
                                name, i, gh_strerror(rc));
        }
        if (rc == 0)
                rc = bundle_build(&s, origin, recs, lens, c->n, &out, &outlen);
        snprintf(path, sizeof(path), "%s/%s.bundle", dir, name);
        if (rc == 0 && write_whole_file(path, out, outlen) != 0)
                rc = -EIO;
        if (rc == 0) {
                signer_verifier(&s, &v);
                snprintf(path, sizeof(path), "%s/%s.vkey", dir, name);
                if (vkey_format(&v, vkey, sizeof(vkey) - 1, &n) != 0 ||
                    write_whole_file(path, (const uint8_t *)vkey, n) != 0)
                        rc = -EIO;
        }
        for (size_t i = 0; i < c->n; i++) {
                free(recs[i]);
                free(c->recs[i]);
        }
        c->n = 0;
        free(out);
        signer_free(&s);
        if (rc != 0)
                fprintf(stderr, "craft-redteam2: %s: %s\n", name, gh_strerror(rc));
        else
                printf("truth %s %.3f\n", name, c->truth_ms / 1e3);
        return rc;
}

static unsigned gpu_arg(const struct craft *c, const char *s) {
        unsigned g = (unsigned)strtoul(s, NULL, 10);
        if (g >= c->ng) {
                fprintf(stderr, "craft-redteam2: no GPU %s\n", s);
                exit(2);
        }
        return g;
}

int main(int argc, char **argv) {
        static struct craft c;
        char line[1024];
        unsigned lineno = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: craft-redteam2 OUT-DIR < SCRIPT\n");
                return 2;
        }
        init(&c, 1);
        while (fgets(line, sizeof(line), stdin)) {
                char *w[16], *save = NULL, *rest, orig[1024];
                size_t nw = 0;
                lineno++;
                line[strcspn(line, "\n")] = '\0';
                memcpy(orig, line, sizeof(orig));
                rest = orig + strspn(orig, " \t");
                for (char *t = strtok_r(line, " \t", &save); t && nw < 16;
                     t = strtok_r(NULL, " \t", &save))
                        w[nw++] = t;
                if (nw == 0 || w[0][0] == '#')
                        continue;
#define NEED(k)                                                                                    \
        do {                                                                                       \
                if (nw < (k) + 1) {                                                                \
                        fprintf(stderr, "craft-redteam2: line %u: %s needs %d argument(s)\n",      \
                                lineno, w[0], (k));                                                \
                        return 2;                                                                  \
                }                                                                                  \
        } while (0)
                if (!strcmp(w[0], "init")) {
                        NEED(1);
                        unsigned ng = (unsigned)strtoul(w[1], NULL, 10);
                        if (ng < 1 || ng > MAXG)
                                return 2;
                        init(&c, ng);
                } else if (!strcmp(w[0], "model")) {
                        NEED(1);
                        rest += strlen("model");
                        rest += strspn(rest, " \t");
                        snprintf(c.model, sizeof(c.model), "%s", rest);
                } else if (!strcmp(w[0], "power")) {
                        NEED(2);
                        c.idle_w = strtod(w[1], NULL);
                        c.full_w = strtod(w[2], NULL);
                } else if (!strcmp(w[0], "period")) {
                        NEED(1);
                        c.period = (uint32_t)strtoul(w[1], NULL, 10);
                } else if (!strcmp(w[0], "load")) {
                        NEED(1);
                        for (unsigned g = 0; g < c.ng; g++)
                                c.load[g] = strtod(w[g + 1 < nw ? g + 1 : nw - 1], NULL);
                } else if (!strcmp(w[0], "run")) {
                        NEED(1);
                        for (unsigned long i = strtoul(w[1], NULL, 10); i > 0; i--) {
                                tick(&c, c.period, true);
                                summary(&c);
                        }
                } else if (!strcmp(w[0], "tick")) {
                        NEED(2);
                        tick(&c, strtod(w[1], NULL), atoi(w[2]) != 0);
                } else if (!strcmp(w[0], "win")) {
                        win_open(&c);
                } else if (!strcmp(w[0], "summary")) {
                        summary(&c);
                } else if (!strcmp(w[0], "start")) {
                        start(&c);
                } else if (!strcmp(w[0], "stop")) {
                        stop(&c);
                } else if (!strcmp(w[0], "reboot")) {
                        NEED(1);
                        reboot(&c, strtod(w[1], NULL));
                } else if (!strcmp(w[0], "present")) {
                        NEED(2);
                        c.present[gpu_arg(&c, w[1])] = atoi(w[2]) != 0;
                } else if (!strcmp(w[0], "inventory")) {
                        NEED(1);
                        inventory(&c, (uint32_t)strtoul(w[1], NULL, 0));
                } else if (!strcmp(w[0], "uuid")) {
                        NEED(2);
                        snprintf(c.uuid[gpu_arg(&c, w[1])], REC_UUID_MAX + 1, "%s", w[2]);
                } else if (!strcmp(w[0], "mjset")) {
                        NEED(2);
                        c.mj[gpu_arg(&c, w[1])] = strtod(w[2], NULL);
                } else if (!strcmp(w[0], "uptime")) {
                        /* the boot has been up S s at the current wall time (before start) */
                        NEED(1);
                        uint64_t w0 = wall(&c);
                        c.boot = (uint64_t)(strtod(w[1], NULL) * 1e9);
                        c.off = w0 - c.boot;
                } else if (!strcmp(w[0], "reset")) {
                        /* a GPU reset: the counter restarts at 0; the daemon (frozen since
                         * its last reading) sees it go backwards and loses what was used
                         * since that reading */
                        NEED(1);
                        unsigned g = gpu_arg(&c, w[1]);
                        c.mj[g] = 0;
                        c.used[g] = c.used_obs[g];
                        c.reset[g] = true;
                } else if (!strcmp(w[0], "reload")) {
                        /* a driver reload while the daemon is stopped: new counters */
                        for (unsigned g = 0; g < c.ng; g++) {
                                c.mj[g] = 0;
                                c.epoch[g] += 64;
                        }
                } else if (!strcmp(w[0], "epoch0")) {
                        for (unsigned g = 0; g < c.ng; g++)
                                c.epoch[g] = 0;
                } else if (!strcmp(w[0], "v1")) {
                        c.v1 = true;
                } else if (!strcmp(w[0], "v2")) {
                        c.v1 = false;
                } else if (!strcmp(w[0], "mark")) {
                        NEED(1);
                        printf("%s %llu\n", w[1], (unsigned long long)wall(&c));
                } else if (!strcmp(w[0], "write")) {
                        NEED(1);
                        if (write_bundle(argv[1], w[1], &c) != 0)
                                return 1;
                } else {
                        fprintf(stderr, "craft-redteam2: line %u: unknown command '%s'\n", lineno,
                                w[0]);
                        return 2;
                }
        }
        return 0;
}
