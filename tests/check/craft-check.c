/* SPDX-License-Identifier: MIT */
/*
 * craft-check OUT-DIR: signed bundles for tests/check/test_check_attacks.py.
 *
 *   random-N.bundle (N = 0..RANDOM_LEDGERS-1): random ledgers (fixed seeds)
 *     with gaps, in-window freezes, restarts, reboots (wall clock set back or
 *     forward), wall clock steps (recorded and silent) and counter resets,
 *     all plausible: check's verified GPU-hours and coverage must equal
 *     report's and verify's.
 *   atk-*.bundle: an operator hiding work from a pause rule; OUT-DIR/atk.txt
 *     lists each with the pause window (wall seconds) the test judges.
 *   With NOW (unix seconds, the test's clock), rb-*.bundle: ledgers that end
 *     a minute before NOW (so that the audit's time bounds how early their
 *     labels can be, ANALYSIS.md 10 "Repay capacity"); OUT-DIR/rb.txt lists
 *     them like atk.txt, with the verdict before the fix as a fifth column.
 *
 * Each bundle's origin is <name>.craft.example/gpuhours; OUT-DIR/<name>.vkey
 * holds its verifier key (one seed, so one key per origin name). The GPUs
 * are "NVIDIA H100 80GB HBM3" (60 W idle, 700 W full, as the sim backend).
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
#define MAXREC 2048
#define MAXG 4
#define RANDOM_LEDGERS 24

static const uint8_t seed[32] = "gpuhours crafted check seed 01";

struct craft {
        struct record *recs[MAXREC];
        size_t n;
        unsigned ng;
        char uuid_tag; /* distinguishes the GPUs of different nodes ('0': shared) */
        bool present[MAXG]; /* in the node's set (INVENTORY) */
        bool omit[MAXG];    /* in the set, but left out of the summaries */
        const char *model;  /* the GPUs' name (NULL: the H100 of the sim) */
        uint8_t boot_id[16];
        uint64_t boot, off; /* wall = boot + off */
        double mj[MAXG];
        double load[MAXG];
        double busy_ms[MAXG], obs_ms[MAXG], pw_obs[MAXG], pw_max[MAXG], e0[MAXG];
        bool reset[MAXG]; /* counter reset in the window in progress */
        double used[MAXG]; /* energy used in the window in progress (mJ) */
        uint64_t ws, bs;
        uint64_t rng;
        double truth_ms; /* busy GPU-ms the hardware really did, observed or not */
};

static FILE *atk;

static uint64_t wall(const struct craft *c) {
        return c->boot + c->off;
}

static double rnd(struct craft *c) {
        c->rng ^= c->rng << 13;
        c->rng ^= c->rng >> 7;
        c->rng ^= c->rng << 17;
        return (double)(c->rng >> 11) / 9007199254740992.0;
}

static void uuid_of(const struct craft *c, unsigned g, char *buf) {
        snprintf(buf, REC_UUID_MAX + 1, "GPU-c0ffee00-0000-0000-0000-0000000%c000%u", c->uuid_tag,
                 g);
}

static struct record *add(struct craft *c, uint8_t kind) {
        struct record *r = calloc(1, sizeof(*r));

        if (!r || c->n >= MAXREC) {
                fprintf(stderr, "craft-check: out of memory or records\n");
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

static void init(struct craft *c, unsigned ng, uint64_t rng) {
        memset(c, 0, sizeof(*c));
        c->ng = ng;
        c->uuid_tag = '0';
        c->rng = rng ? rng : 1;
        memset(c->boot_id, 0xa1, 16);
        c->boot = 3600 * SEC;
        c->off = T0 * SEC - c->boot;
        for (unsigned g = 0; g < ng; g++) {
                c->mj[g] = 60.0 * 3600 * 1000;
                c->present[g] = true;
        }
}

static void tick(struct craft *c, uint64_t dt, bool observed) {
        for (unsigned g = 0; g < c->ng; g++) {
                double w = 60.0 + 640.0 * c->load[g];
                c->mj[g] += w * (double)dt / 1e6;
                c->used[g] += w * (double)dt / 1e6;
                c->truth_ms += c->load[g] * (double)dt / 1e6;
                if (observed && c->present[g]) {
                        c->busy_ms[g] += c->load[g] * (double)dt / 1e6;
                        c->obs_ms[g] += (double)dt / 1e6;
                        c->pw_obs[g] += w * (double)dt / 1e6;
                        if (w > c->pw_max[g])
                                c->pw_max[g] = w;
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
                c->reset[g] = false;
                c->used[g] = 0;
        }
}

static void gpu_infos(const struct craft *c, struct gpu_info *gi, uint32_t *count) {
        uint32_t n = 0;
        for (unsigned g = 0; g < c->ng; g++) {
                if (!c->present[g])
                        continue;
                uuid_of(c, g, gi[n].uuid);
                snprintf(gi[n].name, sizeof(gi[n].name), "%s",
                         c->model ? c->model : "NVIDIA H100 80GB HBM3");
                gi[n].energy_mj = (uint64_t)(c->mj[g] + 0.5);
                n++;
        }
        *count = n;
}

static void start(struct craft *c) {
        struct record *r = add(c, REC_START);
        struct rec_start *s = &r->u.start;

        snprintf(s->daemon_version, sizeof(s->daemon_version), "crafted");
        snprintf(s->backend, sizeof(s->backend), "sim");
        s->period_s = 60;
        s->sample_interval_us = 100000;
        gpu_infos(c, s->gpus, &s->gpu_count);
        win_open(c);
}

static void inventory(struct craft *c, uint32_t reason) {
        struct record *r = add(c, REC_INVENTORY);
        r->u.inventory.reason = reason;
        gpu_infos(c, r->u.inventory.gpus, &r->u.inventory.gpu_count);
}

static void summary(struct craft *c) {
        struct record *r = add(c, REC_SUMMARY);
        struct rec_summary *s = &r->u.summary;
        uint64_t len = c->boot - c->bs;
        uint32_t n = 0;

        s->period_s = 60;
        s->period_start_ns = c->ws / (60 * SEC) * (60 * SEC);
        s->obs_start_wall_ns = c->ws;
        s->obs_end_wall_ns = wall(c);
        s->obs_start_boot_ns = c->bs;
        s->obs_end_boot_ns = c->boot;
        if (len != 60 * SEC)
                s->flags = SUMMARY_PARTIAL;
        s->samples_expected = (uint32_t)(len / (100 * MS));
        s->samples_taken = s->samples_expected;
        for (unsigned g = 0; g < c->ng; g++) {
                if (!c->present[g] || c->omit[g])
                        continue;
                struct gpu_summary *e = &s->gpus[n++];
                uuid_of(c, g, e->uuid);
                e->observed_ms = (uint64_t)(c->obs_ms[g] + 0.5);
                e->busy_ms = (uint64_t)(c->busy_ms[g] + 0.5);
                e->occupied_ms = c->load[g] > 0 ? e->observed_ms : 0;
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

static void run(struct craft *c, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                tick(c, 60 * SEC, true);
                summary(c);
        }
}

static void loads(struct craft *c, double l) {
        for (unsigned g = 0; g < c->ng; g++)
                c->load[g] = l;
}

/* The daemon is down for dt (the hardware runs on at the current load), then restarts. */
static void outage(struct craft *c, uint64_t dt) {
        stop(c);
        tick(c, dt, false);
        start(c);
}

static void reboot(struct craft *c, int64_t wall_shift) {
        stop(c);
        c->boot_id[0]++;
        uint64_t w = wall(c);
        c->boot = 30 * SEC; /* the new boot was up 30 s before the daemon started */
        c->off = (uint64_t)((int64_t)w - (int64_t)c->boot + wall_shift + (int64_t)(30 * SEC));
        for (unsigned g = 0; g < c->ng; g++)
                c->mj[g] = 60.0 * 30 * 1000;
        start(c);
}

/* A wall clock step of d ns, recorded (CLOCK_STEP record) or silent. */
static void wall_step(struct craft *c, int64_t d, bool recorded) {
        uint64_t pw = wall(c), pb = c->boot;
        c->off = (uint64_t)((int64_t)c->off + d);
        if (recorded) {
                struct record *r = add(c, REC_CLOCK_STEP);
                r->u.clock_step.prev_wall_ns = pw;
                r->u.clock_step.prev_boot_ns = pb;
        }
}

/*
 * Power off for off_for (no boot clock counts it), boot, and the daemon
 * starts 30 s into the new boot with the wall clock shifted by wall_shift
 * (0: honest). The boot clocks' lower bound of the gap is 30 s; the wall
 * delta is off_for + 30 s + wall_shift.
 */
static void power_cycle(struct craft *c, uint64_t off_for, int64_t wall_shift) {
        stop(c);
        c->boot_id[0]++;
        uint64_t w = wall(c) + off_for;
        c->boot = 30 * SEC;
        c->off = (uint64_t)((int64_t)w - (int64_t)c->boot + wall_shift + (int64_t)(30 * SEC));
        for (unsigned g = 0; g < c->ng; g++)
                c->mj[g] = 60.0 * 30 * 1000;
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

        snprintf(origin, sizeof(origin), "%s.craft.example/gpuhours", name);
        memset(&s, 0, sizeof(s));
        rc = signer_init_ed25519(&s, origin, seed);
        for (size_t i = 0; i < c->n; i++)
                recs[i] = NULL;
        for (size_t i = 0; rc == 0 && i < c->n; i++) {
                rc = encode_alloc(c->recs[i], &recs[i], &lens[i]);
                if (rc != 0)
                        fprintf(stderr, "craft-check: %s: record %zu does not encode: %s\n", name,
                                i, gh_strerror(rc));
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
                fprintf(stderr, "craft-check: %s: %s\n", name, gh_strerror(rc));
        return rc;
}

/* ---- random ledgers ---- */

static void random_ledger(struct craft *c, unsigned i) {
        init(c, 1 + i % 3, 0x9e3779b97f4a7c15ull * (i + 1));
        start(c);
        unsigned steps = 20 + (unsigned)(rnd(c) * 40);
        for (unsigned k = 0; k < steps && c->n + 8 < MAXREC; k++) {
                double x = rnd(c);
                for (unsigned g = 0; g < c->ng; g++)
                        c->load[g] = rnd(c) < 0.3 ? 0 : rnd(c);
                if (x < 0.55) {
                        run(c, 1 + (unsigned)(rnd(c) * 4));
                } else if (x < 0.65) {
                        /* records it could not write: a gap between windows, same run */
                        tick(c, (uint64_t)(rnd(c) * 200 * SEC) + SEC, false);
                        win_open(c);
                        run(c, 1);
                } else if (x < 0.72) {
                        /* a freeze inside a window */
                        tick(c, 20 * SEC, true);
                        tick(c, (uint64_t)(rnd(c) * 30 * SEC) + SEC, false);
                        tick(c, 10 * SEC, true);
                        summary(c);
                } else if (x < 0.80) {
                        outage(c, (uint64_t)(rnd(c) * 300 * SEC) + SEC);
                        run(c, 1);
                } else if (x < 0.85) {
                        reboot(c, (int64_t)((rnd(c) - 0.6) * 120 * (double)SEC));
                        run(c, 1);
                } else if (x < 0.92) {
                        wall_step(c, (int64_t)((rnd(c) - 0.5) * 60 * (double)SEC), rnd(c) < 0.5);
                        win_open(c);
                        run(c, 1);
                } else {
                        /* a counter reset (a GPU reset): the counter restarts from 0 */
                        unsigned g = (unsigned)(rnd(c) * c->ng) % c->ng;
                        tick(c, 30 * SEC, true);
                        c->mj[g] = 0;
                        c->reset[g] = true;
                        tick(c, 30 * SEC, true);
                        summary(c);
                }
        }
        stop(c);
}

/* ---- attacks on a pause rule ---- */

static int emit(const char *dir, const char *name, struct craft *c, uint64_t p0, uint64_t p1,
                const char *expect) {
        fprintf(atk, "%s %llu %llu %s\n", name, (unsigned long long)(p0 / SEC),
                (unsigned long long)(p1 / SEC), expect);
        return write_bundle(dir, name, c);
}

int main(int argc, char **argv) {
        static struct craft c;
        char path[4096], name[64];
        int fail = 0;
        uint64_t p0, p1;

        if (argc != 2 && argc != 3) {
                fprintf(stderr, "usage: craft-check OUT-DIR [NOW]\n");
                return 2;
        }
        for (unsigned i = 0; i < RANDOM_LEDGERS; i++) {
                random_ledger(&c, i);
                snprintf(name, sizeof(name), "random-%u", i);
                snprintf(path, sizeof(path), "%s/%s.truth", argv[1], name);
                FILE *t = fopen(path, "w");
                if (!t || fprintf(t, "%.3f\n", c.truth_ms / 1e3) < 0 || fclose(t) != 0)
                        fail = 1;
                fail |= write_bundle(argv[1], name, &c) != 0;
        }
        snprintf(path, sizeof(path), "%s/atk.txt", argv[1]);
        atk = fopen(path, "w");
        if (!atk)
                return 1;

        /* Control: idle the whole pause, observed throughout: PASS. */
        init(&c, 2, 1);
        start(&c);
        run(&c, 5);
        p0 = wall(&c);
        run(&c, 5);
        p1 = wall(&c);
        run(&c, 5);
        stop(&c);
        fail |= emit(argv[1], "atk-control", &c, p0, p1, "PASS");

        /*
         * A gap exactly on the pause's start edge: the daemon stops at the
         * pause's first instant, the GPUs work, a GPU reset (counter back to
         * 0) hides the energy, and it restarts idle inside the pause.
         */
        init(&c, 2, 2);
        start(&c);
        run(&c, 5);
        p0 = wall(&c);
        stop(&c);
        loads(&c, 1.0);
        tick(&c, 90 * SEC, false);
        loads(&c, 0);
        for (unsigned g = 0; g < c.ng; g++)
                c.mj[g] = 0;
        start(&c);
        run(&c, 5);
        p1 = wall(&c);
        run(&c, 2);
        stop(&c);
        fail |= emit(argv[1], "atk-gap-start-edge", &c, p0, p1, "UNKNOWN");

        /* The same on the end edge: the gap begins inside and ends exactly at the pause's end. */
        init(&c, 2, 3);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 5);
        stop(&c);
        loads(&c, 1.0);
        tick(&c, 90 * SEC, false);
        p1 = wall(&c);
        loads(&c, 0);
        for (unsigned g = 0; g < c.ng; g++)
                c.mj[g] = 0;
        start(&c);
        run(&c, 3);
        stop(&c);
        fail |= emit(argv[1], "atk-gap-end-edge", &c, p0, p1, "UNKNOWN");

        /* A gap over the whole pause with a continuous counter that shows the work. */
        init(&c, 2, 4);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        stop(&c);
        loads(&c, 1.0);
        tick(&c, 300 * SEC, false);
        p1 = wall(&c);
        loads(&c, 0);
        start(&c);
        run(&c, 3);
        stop(&c);
        fail |= emit(argv[1], "atk-gap-energy", &c, p0, p1, "UNKNOWN");

        /*
         * Wall clock stepped forward inside the pause (silently, no CLOCK_STEP
         * record): the busy windows after the step carry wall times past the
         * pause's end, and the wall clock skips the pause's second half.
         */
        init(&c, 2, 5);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 2);
        wall_step(&c, 300 * (int64_t)SEC, false);
        win_open(&c);
        loads(&c, 1.0);
        run(&c, 5);
        loads(&c, 0);
        run(&c, 3);
        stop(&c);
        p1 = p0 + 420 * SEC;
        fail |= emit(argv[1], "atk-wall-step-forward", &c, p0, p1, "UNKNOWN");

        /*
         * Wall clock set back inside the pause while the daemon is down and the
         * GPUs work (counter continuous): the windows after it repeat wall
         * times already covered by idle windows.
         */
        init(&c, 2, 6);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 3);
        stop(&c);
        loads(&c, 1.0);
        tick(&c, 240 * SEC, false);
        loads(&c, 0);
        c.off -= 600 * SEC;
        start(&c);
        run(&c, 12);
        stop(&c);
        p1 = p0 + 420 * SEC;
        fail |= emit(argv[1], "atk-wall-set-back", &c, p0, p1, "UNKNOWN");

        /*
         * A short pause deep inside a long outage at full load (counter
         * continuous): the pause is under 1 % of the gap, but all of the
         * gap's hidden work may lie in it.
         */
        init(&c, 2, 16);
        start(&c);
        run(&c, 3);
        stop(&c);
        loads(&c, 1.0);
        tick(&c, 3 * 3600 * SEC, false);
        loads(&c, 0);
        start(&c);
        run(&c, 3);
        stop(&c);
        p0 = T0 * SEC + 3600 * SEC;
        fail |= emit(argv[1], "atk-short-pause-in-long-gap", &c, p0, p0 + 60 * SEC, "UNKNOWN");

        /*
         * Wall clock set back silently while the daemon runs: the GPUs work
         * from the pause's start, and those busy windows carry wall times
         * before it; the pause itself shows idle windows (really later).
         */
        init(&c, 2, 15);
        start(&c);
        run(&c, 8);
        p0 = wall(&c);
        wall_step(&c, -300 * (int64_t)SEC, false);
        win_open(&c);
        loads(&c, 1.0);
        run(&c, 5);
        loads(&c, 0);
        run(&c, 8);
        stop(&c);
        p1 = p0 + 300 * SEC;
        fail |= emit(argv[1], "atk-wall-back-running", &c, p0, p1, "UNKNOWN");

        /*
         * The boot clock runs backwards inside the pause (same boot ID): the
         * ledger contradicts physics, an integrity failure.
         */
        init(&c, 2, 7);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 2);
        c.boot -= 120 * SEC;
        c.off += 120 * SEC;
        win_open(&c);
        run(&c, 4);
        p1 = wall(&c);
        stop(&c);
        fail |= emit(argv[1], "atk-boot-clock-back", &c, p0, p1, "FAIL");

        /*
         * A reboot inside the pause with the wall clock set back by 10 min:
         * the new boot's windows claim wall times the old boot already
         * covered; the GPUs worked through the reboot.
         */
        init(&c, 2, 8);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 2);
        loads(&c, 1.0);
        tick(&c, 120 * SEC, false);
        loads(&c, 0);
        reboot(&c, -600 * (int64_t)SEC);
        run(&c, 12);
        stop(&c);
        p1 = p0 + 300 * SEC;
        fail |= emit(argv[1], "atk-reboot-set-back", &c, p0, p1, "UNKNOWN");

        /*
         * A GPU leaves the node's set during the pause (INVENTORY: vanished,
         * e.g. passed through to a VM) and comes back after it: the other GPU
         * is idle and observed throughout.
         */
        init(&c, 2, 9);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        c.present[1] = false;
        inventory(&c, INV_GPU_VANISHED);
        win_open(&c);
        c.load[1] = 1.0;
        run(&c, 5);
        p1 = wall(&c);
        c.load[1] = 0;
        c.present[1] = true;
        inventory(&c, INV_GPU_APPEARED);
        win_open(&c);
        run(&c, 3);
        stop(&c);
        fail |= emit(argv[1], "atk-gpu-leaves-set", &c, p0, p1, "UNKNOWN");

        /*
         * One GPU UUID on two nodes: node A lists it idle, node B lists the
         * same UUID at the same time (a forged or cloned identity): FAIL.
         */
        init(&c, 2, 10);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 5);
        p1 = wall(&c);
        run(&c, 3);
        stop(&c);
        fail |= emit(argv[1], "atk-twonodes-a", &c, p0, p1, "FAIL");
        init(&c, 2, 11);
        start(&c);
        run(&c, 11);
        stop(&c);
        fail |= write_bundle(argv[1], "atk-twonodes-b", &c);

        /*
         * The same GPU moves from node A to node B during the pause: A's
         * ledger ends before the pause (a STOP), B's begins after it; in the
         * pause itself no node observed it.
         */
        init(&c, 1, 12);
        c.uuid_tag = '7';
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        stop(&c);
        fail |= emit(argv[1], "atk-move-a", &c, p0, p0 + 300 * SEC, "UNKNOWN");
        init(&c, 1, 13);
        c.uuid_tag = '7';
        c.off += 300 * SEC;
        start(&c);
        run(&c, 3);
        stop(&c);
        fail |= write_bundle(argv[1], "atk-move-b", &c);

        /* A pause reaching into the future: UNKNOWN however idle the past was. */
        init(&c, 2, 14);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        run(&c, 3);
        stop(&c);
        fail |= emit(argv[1], "atk-future", &c, p0, 4102444800ull * SEC, "UNKNOWN");

        /*
         * A GPU the node lists (START, no INVENTORY change) works through the
         * pause while the summaries leave it out: the ledger contradicts
         * itself (IMPLAUSIBLE), a failed source, so FAIL.
         */
        init(&c, 2, 17);
        start(&c);
        run(&c, 3);
        p0 = wall(&c);
        c.omit[1] = true;
        c.load[1] = 1.0;
        run(&c, 5);
        p1 = wall(&c);
        c.load[1] = 0;
        c.omit[1] = false;
        run(&c, 3);
        stop(&c);
        fail |= emit(argv[1], "atk-summary-omits-gpu", &c, p0, p1, "FAIL");

        if (fclose(atk) != 0)
                fail = 1;

        if (argc == 3) {
                uint64_t now = strtoull(argv[2], NULL, 10) * SEC, e;
                snprintf(path, sizeof(path), "%s/rb.txt", argv[1]);
                atk = fopen(path, "w");
                if (!atk)
                        return 1;
                /*
                 * The hole: a reboot where the machine was off 120 s and the
                 * wall clock set back 100 s at boot (wall delta 50 s, still
                 * above the boot clocks' 30 s: no CLOCK_STEP). The new boot's
                 * first window really ran at the pause's start, at full load,
                 * but is labelled 40 s before it; its idle windows cover the
                 * pause's labels. A second reboot (off 60 s) sets the clock
                 * forward 100 s again, hidden the same way, and the node runs
                 * honestly up to 20 s before NOW.
                 */
                init(&c, 2, 30);
                c.off = now - 20 * SEC - 1560 * SEC - c.boot;
                start(&c);
                run(&c, 10);
                e = wall(&c);
                power_cycle(&c, 120 * SEC, -100 * (int64_t)SEC);
                loads(&c, 1.0);
                run(&c, 1);
                loads(&c, 0);
                run(&c, 5);
                power_cycle(&c, 60 * SEC, 100 * (int64_t)SEC);
                run(&c, 5);
                stop(&c);
                p0 = e + 150 * SEC;
                p1 = e + 390 * SEC;
                fprintf(atk, "rb-reboot-slack %llu %llu UNKNOWN PASS\n",
                        (unsigned long long)(p0 / SEC), (unsigned long long)(p1 / SEC));
                fail |= write_bundle(argv[1], "rb-reboot-slack", &c);

                /*
                 * The honest control: the same shape with honest reboots, idle
                 * through the pause; the one busy window lies fifteen minutes
                 * before it and the first reboot's gap (worst case, no
                 * counter) 150 s before it, beyond what the later slack (60 s
                 * at the second reboot, the last 20 s and the tolerances)
                 * could move them: PASS.
                 */
                init(&c, 2, 31);
                c.off = now - 20 * SEC - 1560 * SEC - c.boot;
                start(&c);
                loads(&c, 1.0);
                run(&c, 1);
                loads(&c, 0);
                run(&c, 9);
                e = wall(&c);
                power_cycle(&c, 120 * SEC, 0);
                run(&c, 6);
                power_cycle(&c, 60 * SEC, 0);
                run(&c, 5);
                stop(&c);
                p0 = e + 300 * SEC;
                p1 = e + 480 * SEC;
                fprintf(atk, "rb-honest %llu %llu PASS PASS\n", (unsigned long long)(p0 / SEC),
                        (unsigned long long)(p1 / SEC));
                fail |= write_bundle(argv[1], "rb-honest", &c);

                /*
                 * A wall clock an hour ahead: every record is labelled after
                 * the audit's time (CLOCK_AHEAD). Not a pause case (rb.txt
                 * does not list it).
                 */
                init(&c, 2, 32);
                c.off = now - 60 * SEC - 300 * SEC - c.boot + 3600 * SEC;
                start(&c);
                run(&c, 5);
                stop(&c);
                fail |= write_bundle(argv[1], "rb-ahead", &c);
                if (fclose(atk) != 0)
                        fail = 1;
        }

        /*
         * Not pause attacks (not in atk.txt): a model without a known peak,
         * busy for 5 minutes of 11 (cap flop: UNKNOWN with hi = inf, never 0),
         * and a model whose name holds two peak-table substrings.
         */
        init(&c, 1, 18);
        c.model = "ACME Accelerator X1";
        start(&c);
        run(&c, 3);
        loads(&c, 1.0);
        run(&c, 5);
        loads(&c, 0);
        run(&c, 3);
        stop(&c);
        fail |= write_bundle(argv[1], "cap-unknown-model", &c);
        init(&c, 1, 19);
        c.model = "NVIDIA H200 NVL";
        start(&c);
        loads(&c, 1.0);
        run(&c, 5);
        stop(&c);
        fail |= write_bundle(argv[1], "cap-two-peaks", &c);
        return fail;
}
