/* SPDX-License-Identifier: MIT */
/*
 * craft-ledgers OUT-DIR: writes signed bundles (fixed seed, like
 * tests/vectors) that a correct signer could produce byte for byte but whose
 * content contradicts physics (one per plausibility rule of
 * proto/ANALYSIS.md section 7, each must verify with exit 2), a plausible
 * control (exit 0), and one ledger per attack class that can be written
 * without misusing the key (each must be flagged with a bound). Also
 * OUT-DIR/craft.vkey, the verifier key. test_crafted.py runs the real client
 * on them.
 *
 * The simulated GPUs are "NVIDIA H100 80GB HBM3" (declared 60 W idle, 700 W
 * full) drawing 60 W + 640 W x load, as the daemon's sim backend does.
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
#define ORIGIN "craft.example/gpuhours"
/* a second origin, for runs that need an unrelated source beside a crafted one */
#define ORIGIN2 "craft2.example/gpuhours"
#define MAXREC 64
#define NG 2

static const uint8_t seed[32] = "gpuhours crafted ledgers seed 1";

struct craft {
        struct record *recs[MAXREC];
        size_t n;
        uint8_t boot_id[16];
        uint64_t boot, off; /* wall = boot + off */
        double mj[NG];      /* energy counters */
        double load[NG];
        double busy_ms[NG]; /* accumulated while observed */
        double obs_ms[NG];
        double pw_obs[NG]; /* W x ms of the power samples */
        double pw_max[NG]; /* largest power sample, W */
        double e0[NG];
        uint64_t ws, bs; /* window start */
};

static uint64_t wall(const struct craft *c) {
        return c->boot + c->off;
}

static void uuid_of(unsigned g, char *buf) {
        snprintf(buf, REC_UUID_MAX + 1, "GPU-c0ffee00-0000-0000-0000-00000000000%u", g);
}

static struct record *add(struct craft *c, uint8_t kind) {
        struct record *r = calloc(1, sizeof(*r));

        if (!r || c->n >= MAXREC) {
                fprintf(stderr, "craft: out of memory or records\n");
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

static void init(struct craft *c) {
        memset(c, 0, sizeof(*c));
        memset(c->boot_id, 0xa1, 16);
        c->boot = 3600 * SEC;
        c->off = T0 * SEC - c->boot;
        for (unsigned g = 0; g < NG; g++)
                c->mj[g] = 60.0 * 3600 * 1000; /* idle since boot */
}

/* Hardware time passes; observed: the daemon samples it. */
static void tick(struct craft *c, uint64_t dt, bool observed) {
        for (unsigned g = 0; g < NG; g++) {
                c->mj[g] += (60.0 + 640.0 * c->load[g]) * (double)dt / 1e6;
                if (observed) {
                        double w = 60.0 + 640.0 * c->load[g];
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
        for (unsigned g = 0; g < NG; g++) {
                c->busy_ms[g] = c->obs_ms[g] = c->pw_obs[g] = c->pw_max[g] = 0;
                c->e0[g] = c->mj[g];
        }
}

static struct record *start(struct craft *c) {
        struct record *r = add(c, REC_START);
        struct rec_start *s = &r->u.start;

        snprintf(s->daemon_version, sizeof(s->daemon_version), "crafted");
        snprintf(s->backend, sizeof(s->backend), "sim");
        s->period_s = 60;
        s->sample_interval_us = 100000;
        s->gpu_count = NG;
        for (unsigned g = 0; g < NG; g++) {
                uuid_of(g, s->gpus[g].uuid);
                snprintf(s->gpus[g].name, sizeof(s->gpus[g].name), "NVIDIA H100 80GB HBM3");
                s->gpus[g].energy_mj = (uint64_t)(c->mj[g] + 0.5);
        }
        win_open(c);
        return r;
}

/* Close the window in progress as a summary record (the caller may alter it). */
static struct record *summary(struct craft *c) {
        struct record *r = add(c, REC_SUMMARY);
        struct rec_summary *s = &r->u.summary;
        uint64_t len = c->boot - c->bs;

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
        s->gpu_count = NG;
        for (unsigned g = 0; g < NG; g++) {
                struct gpu_summary *e = &s->gpus[g];
                uuid_of(g, e->uuid);
                e->observed_ms = (uint64_t)(c->obs_ms[g] + 0.5);
                e->busy_ms = (uint64_t)(c->busy_ms[g] + 0.5);
                e->occupied_ms = c->load[g] > 0 ? e->observed_ms : 0;
                e->energy_start_mj = (uint64_t)(c->e0[g] + 0.5);
                e->energy_end_mj = (uint64_t)(c->mj[g] + 0.5);
                e->energy_used_mj = e->energy_end_mj - e->energy_start_mj;
                /* power: over the samples taken, as the daemon computes it */
                e->power_avg_mw =
                        c->obs_ms[g] > 0 ? (uint32_t)(c->pw_obs[g] / c->obs_ms[g] * 1000.0) : 0;
                e->power_max_mw = (uint32_t)(c->pw_max[g] * 1000.0) + 1000;
        }
        win_open(c);
        return r;
}

/* n full observed windows at the current load. */
static void run(struct craft *c, unsigned n) {
        for (unsigned i = 0; i < n; i++) {
                tick(c, 60 * SEC, true);
                summary(c);
        }
}

static struct record *stop(struct craft *c) {
        struct record *r = add(c, REC_STOP);
        snprintf(r->u.stop.reason, sizeof(r->u.stop.reason), "received SIGTERM");
        return r;
}

static const char *origin = ORIGIN;

static int write_bundle(const char *dir, const char *name, struct craft *c) {
        struct signer s;
        uint8_t *recs[MAXREC], *out = NULL;
        size_t lens[MAXREC], outlen = 0;
        char path[4096];
        int rc;

        memset(&s, 0, sizeof(s));
        rc = signer_init_ed25519(&s, origin, seed);
        for (size_t i = 0; i < c->n; i++)
                recs[i] = NULL;
        for (size_t i = 0; rc == 0 && i < c->n; i++) {
                rc = encode_alloc(c->recs[i], &recs[i], &lens[i]);
                if (rc != 0)
                        fprintf(stderr, "craft: %s: record %zu does not encode: %s\n", name, i,
                                gh_strerror(rc));
        }
        if (rc == 0)
                rc = bundle_build(&s, origin, recs, lens, c->n, &out, &outlen);
        snprintf(path, sizeof(path), "%s/%s.bundle", dir, name);
        if (rc == 0 && write_whole_file(path, out, outlen) != 0)
                rc = -EIO;
        for (size_t i = 0; i < c->n; i++) {
                free(recs[i]);
                free(c->recs[i]);
        }
        free(out);
        signer_free(&s);
        if (rc != 0)
                fprintf(stderr, "craft: %s: %s\n", name, gh_strerror(rc));
        return rc;
}

/* ---- cases ---- */

/* Plausible: START, 3 full windows at 50 % / 100 %, STOP: exit 0. */
static void control(struct craft *c) {
        init(c);
        c->load[0] = 0.5;
        c->load[1] = 1.0;
        start(c);
        run(c, 3);
        stop(c);
}

/* B1: the ledger begins with a summary. */
static void b1_no_start(struct craft *c) {
        init(c);
        win_open(c);
        run(c, 2);
}

/* B2: the boot clock runs back within one boot ID (a daemon restarted in a time namespace). */
static void b2_boot_backwards(struct craft *c) {
        init(c);
        c->load[0] = c->load[1] = 1.0;
        start(c);
        run(c, 2);
        c->boot -= 8 * SEC; /* unshare --time --boottime -8 */
        c->off += 8 * SEC;  /* the wall clock is not affected */
        start(c);
        run(c, 2);
}

/* B2: a window starts 30 s before the previous one of the same boot ends. */
static void b2_overlap(struct craft *c) {
        struct record *r;
        init(c);
        c->load[0] = c->load[1] = 1.0;
        start(c);
        run(c, 2);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.obs_start_boot_ns -= 30 * SEC;
}

/* B3: busy longer than observed. */
static void b3_busy(struct craft *c) {
        struct record *r;
        init(c);
        c->load[0] = c->load[1] = 1.0;
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.gpus[0].busy_ms = 90000;
        stop(c);
}

/* B3: observed longer than the window. */
static void b3_observed(struct craft *c) {
        struct record *r;
        init(c);
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.gpus[1].observed_ms = 120000;
        stop(c);
}

/* B3: occupied longer than observed. */
static void b3_occupied(struct craft *c) {
        struct record *r;
        init(c);
        c->load[0] = 1.0;
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.gpus[0].occupied_ms = 61000;
        stop(c);
}

/* B4: average power above the maximum. */
static void b4_power(struct craft *c) {
        struct record *r;
        init(c);
        c->load[0] = 1.0;
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.gpus[0].power_max_mw = 300000;
        stop(c);
}

/* B5: energy above the record's own power maximum x time. */
static void b5_energy(struct craft *c) {
        struct record *r;
        init(c);
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        /* 700 W x 60 s = 42 kJ at idle power samples (max 61 W) */
        r->u.summary.gpus[0].energy_end_mj = r->u.summary.gpus[0].energy_start_mj + 42000000;
        r->u.summary.gpus[0].energy_used_mj = 42000000;
        stop(c);
}

/* B6: a summary silently lists fewer GPUs than the inventory. */
static void b6_omits(struct craft *c) {
        struct record *r;
        init(c);
        c->load[0] = c->load[1] = 1.0;
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.gpu_count = 1; /* GPU 1 hidden for the whole window */
        stop(c);
}

/* B6: a summary lists a GPU no start or inventory record names. */
static void b6_unknown(struct craft *c) {
        struct record *r;
        init(c);
        start(c);
        run(c, 1);
        tick(c, 60 * SEC, true);
        r = summary(c);
        r->u.summary.gpu_count = 3;
        r->u.summary.gpus[2] = r->u.summary.gpus[1];
        snprintf(r->u.summary.gpus[2].uuid, sizeof(r->u.summary.gpus[2].uuid), "GPU-zz-unknown");
        stop(c);
}

/* B7: a 10 s gap "buys" more GPU-seconds than it has: 20 kJ in 10 s on one GPU. */
static void b7_gap_energy(struct craft *c) {
        init(c);
        start(c);
        run(c, 1);
        tick(c, 10 * SEC, false); /* no records: the daemon could not write */
        c->mj[0] += 20000000;
        win_open(c);
        run(c, 1);
        stop(c);
}

/* Attack 1 (old daemon): SIGSTOP for 30 s inside a window, GPUs at full load meanwhile. */
static void a1_freeze(struct craft *c) {
        init(c);
        start(c);
        run(c, 1);
        tick(c, 15 * SEC, true);
        c->load[0] = c->load[1] = 1.0;
        tick(c, 30 * SEC, false); /* frozen: nothing sampled */
        c->load[0] = c->load[1] = 0.0;
        tick(c, 15 * SEC, true);
        summary(c);
        run(c, 1);
        stop(c);
}

/* Attack 3: reboot with the wall clock set back: wall says 5 s, the new boot was up 100 s. */
static void a3_reboot_wall_back(struct craft *c) {
        init(c);
        start(c);
        run(c, 2);
        stop(c);
        memset(c->boot_id, 0xa2, 16);
        c->off = wall(c) + 5 * SEC - 100 * SEC; /* START at wall + 5 s, boot 100 s */
        c->boot = 100 * SEC;
        for (unsigned g = 0; g < NG; g++)
                c->mj[g] = 700.0 * 100 * 1000; /* full load since boot */
        /* align the next windows to the 60 s grid: a partial first window */
        start(c);
        tick(c, 60 * SEC - (wall(c) % (60 * SEC)), true);
        summary(c);
        run(c, 1);
        stop(c);
}

/* Attack 4: the wall clock drifts +0.9 s per window (each below the 1 s tolerance). */
static void a4_drift(struct craft *c) {
        init(c);
        start(c);
        for (int i = 0; i < 6; i++) {
                struct record *r;
                tick(c, 60 * SEC, true);
                r = summary(c);
                (void)r;
                c->off += 900 * MS;
                c->ws = wall(c); /* the next window starts after the drift */
        }
        stop(c);
}

/* Attack 5: a crash loop: kill -9 before each first summary leaves only STARTs. */
static void a5_crash_loop(struct craft *c) {
        init(c);
        start(c);
        run(c, 1);
        c->load[0] = c->load[1] = 1.0;
        for (int i = 0; i < 4; i++) {
                tick(c, 20 * SEC, false);
                start(c);
        }
}

/* Attack 5: a disk-full gap of 120 s at full load between windows (counter continuous). */
static void a5_enospc(struct craft *c) {
        init(c);
        start(c);
        run(c, 1);
        c->load[0] = c->load[1] = 1.0;
        tick(c, 120 * SEC, false);
        c->load[0] = c->load[1] = 0.0;
        win_open(c);
        run(c, 1);
        stop(c);
}

int main(int argc, char **argv) {
        static const struct {
                const char *name;
                void (*fn)(struct craft *);
        } cases[] = {
                {"control", control},
                {"b1-no-start", b1_no_start},
                {"b2-boot-backwards", b2_boot_backwards},
                {"b2-overlap", b2_overlap},
                {"b3-busy", b3_busy},
                {"b3-observed", b3_observed},
                {"b3-occupied", b3_occupied},
                {"b4-power", b4_power},
                {"b5-energy", b5_energy},
                {"b6-omits", b6_omits},
                {"b6-unknown", b6_unknown},
                {"b7-gap-energy", b7_gap_energy},
                {"a1-freeze", a1_freeze},
                {"a3-reboot-wall-back", a3_reboot_wall_back},
                {"a4-drift", a4_drift},
                {"a5-crash-loop", a5_crash_loop},
                {"a5-enospc", a5_enospc},
        };
        static struct craft c;
        struct signer s;
        struct note_verifier v;
        char vkey[VKEY_MAX_LEN + 2], path[4096];
        size_t n = 0;
        int fail = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: craft-ledgers OUT-DIR\n");
                return 2;
        }
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                cases[i].fn(&c);
                fail |= write_bundle(argv[1], cases[i].name, &c) != 0;
        }
        /* control-other: the control ledger under a second origin (craft2.vkey) */
        origin = ORIGIN2;
        control(&c);
        fail |= write_bundle(argv[1], "control-other", &c) != 0;
        static const struct {
                const char *origin, *file;
        } keys[] = {{ORIGIN, "craft.vkey"}, {ORIGIN2, "craft2.vkey"}};
        for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
                memset(&s, 0, sizeof(s));
                if (signer_init_ed25519(&s, keys[k].origin, seed) != 0)
                        return 1;
                signer_verifier(&s, &v);
                signer_free(&s);
                snprintf(path, sizeof(path), "%s/%s", argv[1], keys[k].file);
                if (vkey_format(&v, vkey, sizeof(vkey) - 1, &n) != 0 ||
                    write_whole_file(path, (const uint8_t *)vkey, n) != 0)
                        fail = 1;
        }
        return fail;
}
