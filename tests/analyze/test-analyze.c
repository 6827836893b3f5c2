/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for client/analyze.c and client/report.c on synthetic ledgers.
 *
 * A small simulator plays the daemon (START, period-aligned SUMMARY windows,
 * STOP, CLOCK_STEP, INVENTORY) over simulated GPUs whose energy counters keep
 * running while the daemon is down (60 W idle, 700 W at 100 %, linear, like
 * the daemon's sim backend), and feeds every record to the analyzer as it is
 * written. Expected numbers come from the simulator's own bookkeeping.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "analyze.h"
#include "analyze-state.h"
#include "report.h"

#define MS 1000000ull
#define SEC 1000000000ull
#define MAXG 8
#define T_2026_11_26_12 1795694400ull /* 2026-11-26T12:00:00Z */
#define T_2026_02_01 1769904000ull    /* 2026-02-01T00:00:00Z */

struct window_truth {
        uint64_t ws, we;
        uint8_t present; /* bit per GPU */
};

struct sim {
        struct analyzer *a; /* NULL: only collect the truth */
        struct record *r;
        uint64_t leaf;
        uint8_t boot_id[16];
        uint8_t boot_seq;
        uint64_t boot_ns;
        uint64_t off; /* wall = boot + off */
        bool allow_e2big, e2big; /* test_pieces_cap: the cap may refuse a record */
        uint32_t period_s, sample_us;
        unsigned ngpus;
        double load[MAXG];
        double idle_w[MAXG], marg_w[MAXG]; /* power = idle + marginal x load (60, 640) */
        uint8_t sum_flags[MAXG];           /* GPU_* flags of the GPU's summary entries */
        uint8_t inv_flags[MAXG];           /* GPU_* flags in START (ENERGY_UNSUPPORTED) */
        double counter_mj[MAXG];
        bool v2;                 /* START/INVENTORY as version 2 (counter epochs) */
        uint64_t epoch[MAXG];    /* their counter_epoch */
        uint8_t present;
        uint64_t lost_ms[MAXG]; /* next window: GPU observed this much less (GPU_LOST) */
        uint64_t short_mj[MAXG]; /* next window: energy_used_mj this much below end - start */
        /* daemon state */
        bool running, first_win;
        uint64_t win_boot, win_wall;
        double acc_busy_ns[MAXG], acc_energy_mj[MAXG], win_counter[MAXG];
        /* truth */
        struct window_truth *wins;
        size_t nwins, capwins;
        unsigned restarts_clean, restarts_unclean, reboots;
        uint8_t last_kind;
        uint8_t last_boot_id[16];
        bool start_since_win; /* a START after the last summary */
        uint64_t last_rec_wall;
        /* the daemon is frozen (SIGSTOP): hardware runs on, nothing is sampled */
        bool frozen;
        /* truth: busy GPU-ns of present GPUs, ever; at the first window start; at the last end */
        double total_busy_ns, tb_first, tb_last, tb_at_win;
        bool have_tb_first;
};

static uint64_t wall_now(const struct sim *s) {
        return s->boot_ns + s->off;
}

static void sim_init(struct sim *s, struct analyzer *a, unsigned ngpus, uint32_t period_s,
                     uint64_t wall0) {
        memset(s, 0, sizeof(*s));
        s->a = a;
        s->r = calloc(1, sizeof(*s->r));
        assert_non_null(s->r);
        s->ngpus = ngpus;
        s->period_s = period_s;
        s->sample_us = 100000;
        s->boot_ns = 5000 * SEC;
        s->off = wall0 - s->boot_ns;
        s->present = (uint8_t)((1u << ngpus) - 1);
        memset(s->boot_id, 0xb0, sizeof(s->boot_id));
        /* a version 2 daemon, one counter epoch per GPU (a version 1 entry never
           proves the counter continuous: epoch_case) */
        s->v2 = true;
        /* idle (60 W) since driver load at boot: nothing before the ledger */
        for (unsigned g = 0; g < ngpus; g++) {
                s->epoch[g] = 0x5eed00u + g;
                s->idle_w[g] = 60.0;
                s->marg_w[g] = 640.0;
                s->counter_mj[g] = 60.0 * (double)(s->boot_ns / MS);
        }
}

static void sim_free(struct sim *s) {
        free(s->r);
        free(s->wins);
}

static void uuid_of(unsigned g, char *buf) {
        snprintf(buf, REC_UUID_MAX + 1, "GPU-00000000-0000-0000-0000-00000000000%u", g);
}

static void emit(struct sim *s, uint8_t kind) {
        s->r->version = s->v2 && (kind == REC_START || kind == REC_INVENTORY)
                                ? RECORD_VERSION_EPOCH
                                : RECORD_VERSION;
        s->r->kind = kind;
        s->r->boot_ns = s->boot_ns;
        s->r->wall_ns = wall_now(s);
        memcpy(s->r->boot_id, s->boot_id, 16);
        if (s->leaf > 0 && memcmp(s->last_boot_id, s->boot_id, 16) != 0)
                s->reboots++;
        if (s->leaf > 0 && kind == REC_START) {
                if (s->last_kind == REC_STOP)
                        s->restarts_clean++;
                else
                        s->restarts_unclean++;
        }
        s->last_kind = kind;
        memcpy(s->last_boot_id, s->boot_id, 16);
        s->last_rec_wall = s->r->wall_ns;
        if (kind == REC_START)
                s->start_since_win = true;
        if (kind == REC_SUMMARY)
                s->start_since_win = false;
        if (s->a) {
                int r = analyzer_add(s->a, s->leaf, s->r);
                if (r == -E2BIG && s->allow_e2big)
                        s->e2big = true;
                else
                        assert_int_equal(r, 0);
        }
        s->leaf++;
}

/* Hardware time passes; the daemon accumulates only while running. */
static void sim_tick(struct sim *s, uint64_t dt) {
        for (unsigned g = 0; g < s->ngpus; g++) {
                double e = (s->idle_w[g] + s->marg_w[g] * s->load[g]) * (double)dt / 1e6;
                s->counter_mj[g] += e;
                if (s->running && !s->frozen) {
                        s->acc_busy_ns[g] += s->load[g] * (double)dt;
                        s->acc_energy_mj[g] += e;
                }
                if (s->present & (1u << g))
                        s->total_busy_ns += s->load[g] * (double)dt;
        }
        if (s->frozen)
                for (unsigned g = 0; g < s->ngpus; g++)
                        s->lost_ms[g] += dt / MS;
        s->boot_ns += dt;
}

/* The GPUs present now, as START and INVENTORY records list them. */
static void gpu_infos(struct sim *s, struct gpu_info *gi, uint32_t *count) {
        unsigned n = 0;

        for (unsigned g = 0; g < s->ngpus; g++) {
                if (!(s->present & (1u << g)))
                        continue;
                memset(&gi[n], 0, sizeof(gi[n]));
                uuid_of(g, gi[n].uuid);
                snprintf(gi[n].name, sizeof(gi[n].name), "Sim H100");
                gi[n].flags = s->inv_flags[g];
                gi[n].energy_mj = s->inv_flags[g] & GPU_ENERGY_UNSUPPORTED
                                          ? 0
                                          : (uint64_t)(s->counter_mj[g] + 0.5);
                gi[n].counter_epoch = s->epoch[g];
                n++;
        }
        *count = n;
}

static void win_reset(struct sim *s) {
        s->tb_at_win = s->total_busy_ns;
        memset(s->lost_ms, 0, sizeof(s->lost_ms));
        s->win_boot = s->boot_ns;
        s->win_wall = wall_now(s);
        for (unsigned g = 0; g < s->ngpus; g++) {
                s->acc_busy_ns[g] = 0;
                s->acc_energy_mj[g] = 0;
                s->win_counter[g] = s->counter_mj[g];
        }
}

static void sim_start(struct sim *s) {
        memset(&s->r->u, 0, sizeof(s->r->u));
        snprintf(s->r->u.start.daemon_version, REC_VERSION_MAX + 1, "test");
        snprintf(s->r->u.start.backend, REC_BACKEND_MAX + 1, "sim");
        s->r->u.start.period_s = s->period_s;
        s->r->u.start.sample_interval_us = s->sample_us;
        gpu_infos(s, s->r->u.start.gpus, &s->r->u.start.gpu_count);
        emit(s, REC_START);
        s->running = true;
        s->first_win = true;
        win_reset(s);
}

static void emit_summary(struct sim *s, bool partial) {
        struct rec_summary *su = &s->r->u.summary;
        uint64_t len = s->boot_ns - s->win_boot;
        uint64_t P = (uint64_t)s->period_s * SEC;
        unsigned n = 0;

        memset(&s->r->u, 0, sizeof(s->r->u));
        su->period_start_ns = s->win_wall / P * P;
        su->period_s = s->period_s;
        su->flags = partial ? SUMMARY_PARTIAL : 0;
        su->obs_start_wall_ns = s->win_wall;
        su->obs_end_wall_ns = wall_now(s);
        su->obs_start_boot_ns = s->win_boot;
        su->obs_end_boot_ns = s->boot_ns;
        for (unsigned g = 0; g < s->ngpus; g++) {
                struct gpu_summary *gs = &su->gpus[n];
                if (!(s->present & (1u << g)))
                        continue;
                uuid_of(g, gs->uuid);
                gs->observed_ms = len / MS > s->lost_ms[g] ? len / MS - s->lost_ms[g] : 0;
                if (s->lost_ms[g])
                        gs->flags = GPU_LOST;
                s->lost_ms[g] = 0;
                gs->busy_ms = (uint64_t)(s->acc_busy_ns[g] / 1e6 + 0.5);
                gs->occupied_ms = s->load[g] > 0 ? gs->observed_ms : 0;
                gs->energy_start_mj = (uint64_t)(s->win_counter[g] + 0.5);
                gs->energy_end_mj = (uint64_t)(s->counter_mj[g] + 0.5);
                gs->energy_used_mj = gs->energy_end_mj - gs->energy_start_mj;
                gs->energy_used_mj -= s->short_mj[g] < gs->energy_used_mj ? s->short_mj[g]
                                                                           : gs->energy_used_mj;
                s->short_mj[g] = 0;
                /* power samples: the average over what was observed, the model's maximum */
                gs->power_avg_mw = len ? (uint32_t)(s->acc_energy_mj[g] * 1e9 / (double)len) : 0;
                gs->power_max_mw = (uint32_t)((s->idle_w[g] + s->marg_w[g]) * 1000.0);
                /* what the daemon writes when it cannot measure a quantity */
                gs->flags |= s->sum_flags[g];
                if (gs->flags & GPU_UTIL_UNSUPPORTED)
                        gs->busy_ms = 0;
                if (gs->flags & GPU_PROCS_UNSUPPORTED)
                        gs->occupied_ms = 0;
                if (gs->flags & GPU_ENERGY_UNSUPPORTED) {
                        gs->energy_start_mj = gs->energy_end_mj = 0;
                        gs->energy_used_mj = gs->flags & GPU_ENERGY_FROM_POWER
                                                     ? (uint64_t)(s->acc_energy_mj[g] + 0.5)
                                                     : 0;
                }
                n++;
        }
        su->gpu_count = n;
        emit(s, REC_SUMMARY);
        if (s->nwins == s->capwins) {
                s->capwins = s->capwins ? 2 * s->capwins : 64;
                s->wins = realloc(s->wins, s->capwins * sizeof(*s->wins));
                assert_non_null(s->wins);
        }
        if (!s->have_tb_first) {
                /* the truth counter at the first window's start */
                s->have_tb_first = true;
                s->tb_first = s->tb_at_win;
        }
        s->tb_last = s->total_busy_ns;
        s->wins[s->nwins++] =
                (struct window_truth){su->obs_start_wall_ns, su->obs_end_wall_ns, s->present};
        s->first_win = false;
        win_reset(s);
}

/* The daemon runs for dt: summaries at every UTC period boundary. */
static void sim_run(struct sim *s, uint64_t dt) {
        uint64_t end = s->boot_ns + dt, P = (uint64_t)s->period_s * SEC;

        assert_true(s->running);
        while (s->boot_ns < end) {
                uint64_t w = wall_now(s), to_b = (w / P + 1) * P - w;
                if (s->boot_ns + to_b <= end) {
                        sim_tick(s, to_b);
                        emit_summary(s, s->first_win);
                } else {
                        sim_tick(s, end - s->boot_ns);
                }
        }
}

static void sim_stop(struct sim *s) {
        if (s->boot_ns > s->win_boot)
                emit_summary(s, true);
        memset(&s->r->u, 0, sizeof(s->r->u));
        snprintf(s->r->u.stop.reason, REC_REASON_MAX + 1, "SIGTERM");
        emit(s, REC_STOP);
        s->running = false;
}

static void sim_crash(struct sim *s) {
        s->running = false;
}

static void sim_down(struct sim *s, uint64_t dt) {
        assert_false(s->running);
        sim_tick(s, dt);
}

/*
 * Wall clock steps by delta (signed ns); with_record: the daemon notices;
 * split: and ends the window in progress at the step.
 */
static void sim_step_split(struct sim *s, int64_t delta, bool with_record, bool split) {
        uint64_t prev_wall = wall_now(s), prev_boot = s->boot_ns;

        if (split)
                emit_summary(s, false);
        s->off = delta >= 0 ? s->off + (uint64_t)delta : s->off - (uint64_t)(-delta);
        if (with_record) {
                if (!split)
                        sim_tick(s, 1 * MS); /* noticed 1 ms later, inside the window */
                memset(&s->r->u, 0, sizeof(s->r->u));
                s->r->u.clock_step.prev_wall_ns = prev_wall;
                s->r->u.clock_step.prev_boot_ns = prev_boot;
                emit(s, REC_CLOCK_STEP);
        }
        if (split)
                win_reset(s);
}

static void sim_step(struct sim *s, int64_t delta, bool with_record) {
        sim_step_split(s, delta, with_record, false);
}

/* The machine is down for `down` (wall), then boots; the START comes `up` after boot. */
static void sim_reboot(struct sim *s, uint64_t down, uint64_t up) {
        uint64_t w = wall_now(s) + down;

        assert_false(s->running);
        s->boot_seq++;
        memset(s->boot_id, 0xb0 + s->boot_seq, 16);
        s->boot_ns = 0;
        s->off = w;
        for (unsigned g = 0; g < s->ngpus; g++)
                s->counter_mj[g] = 0; /* driver reload */
        sim_tick(s, up);
}

static size_t count_kind(const struct analysis *an, enum finding_kind k) {
        size_t n = 0;

        for (size_t i = 0; i < an->nfindings; i++)
                n += an->findings[i].kind == k;
        return n;
}

/* The first finding of kind k; fails the test when there is none. */
static const struct finding *find_kind(const struct analysis *an, enum finding_kind k) {
        static const struct finding none;

        for (size_t i = 0; i < an->nfindings; i++)
                if (an->findings[i].kind == k)
                        return &an->findings[i];
        fail_msg("no %s finding", finding_kind_name(k));
        return &none;
}

/* With GH_TEST_DUMP set: the findings on stderr (debugging aid). */
static void dump(const struct analysis *an) {
        if (!getenv("GH_TEST_DUMP"))
                return;
        for (size_t i = 0; i < an->nfindings; i++)
                fprintf(stderr, "# %s [%.3f, %.3f] %.3f s gpu_s %.3f: %s\n",
                        finding_kind_name(an->findings[i].kind),
                        (double)an->findings[i].start_ns / 1e9 - (double)an->first_ns / 1e9,
                        (double)an->findings[i].end_ns / 1e9 - (double)an->first_ns / 1e9,
                        (double)an->findings[i].duration_ns / 1e9, an->findings[i].gpu_seconds,
                        an->findings[i].detail);
}

static void check_identity(const struct analysis *an) {
        dump(an);
        for (size_t g = 0; g < an->gpu_count; g++)
                assert_int_equal(an->gpus[g].observed_ms + an->gpus[g].gap_ms, an->interval_ms);
}

static void assert_near(double got, double want, double rel) {
        double tol = rel * (want < 0 ? -want : want) + 1e-9;
        if (got < want - tol || got > want + tol)
                fail_msg("got %.9f, want %.9f (+-%.9f)", got, want, tol);
}

static struct analyzer *new_an(uint64_t since, uint64_t until, uint64_t now) {
        struct analyze_opts o = {.since_ns = since, .until_ns = until, .now_ns = now};
        struct analyzer *a = analyzer_new(&o);

        assert_non_null(a);
        return a;
}

/* ---- tests ---- */

static void test_names(void **state) {
        (void)state;
        assert_string_equal(finding_kind_name(FIND_TIME_GAP), "TIME_GAP");
        assert_string_equal(finding_kind_name(FIND_ENERGY_UNACCOUNTED), "ENERGY_UNACCOUNTED");
        assert_string_equal(finding_kind_name(FIND_FORK), "FORK");
        assert_string_equal(finding_kind_name(FIND_UNMEASURED), "UNMEASURED");
        assert_int_equal(finding_default_severity(FIND_UNMEASURED), SEV_WARNING);
        for (int k = 0; k < FIND__COUNT; k++) /* every kind has a name */
                assert_string_not_equal(finding_kind_name((enum finding_kind)k), "UNKNOWN");
        assert_string_equal(finding_kind_name(FIND__COUNT), "UNKNOWN");
        assert_int_equal(finding_default_severity(FIND_RESTART_CLEAN), SEV_INFO);
        assert_int_equal(finding_default_severity(FIND_REBOOT), SEV_INFO);
        assert_int_equal(finding_default_severity(FIND_PARTIAL_PERIOD), SEV_INFO);
        assert_int_equal(finding_default_severity(FIND_TIME_GAP), SEV_WARNING);
        assert_int_equal(finding_default_severity(FIND_STALE), SEV_WARNING);
        assert_int_equal(finding_default_severity(FIND_ROLLBACK), SEV_ERROR);
        assert_int_equal(finding_default_severity(FIND_MALFORMED), SEV_ERROR);
        assert_string_equal(severity_name(SEV_WARNING), "warning");
        struct finding f = finding_make(FIND_FORK, "leaf %d differs", 7);
        assert_int_equal(f.kind, FIND_FORK);
        assert_int_equal(f.severity, SEV_ERROR);
        assert_false(f.has_time);
        assert_false(f.has_leaves);
        assert_false(f.has_energy);
        assert_string_equal(f.detail, "leaf 7 differs");
        struct analysis an = {0};
        assert_int_equal(analysis_max_severity(&an), SEV_INFO);
        an.findings = &f;
        an.nfindings = 1;
        assert_int_equal(analysis_max_severity(&an), SEV_ERROR);
}

/* 2 GPUs at 50 % and 100 % for one hour: only PARTIAL_PERIOD (info), exact GPU-hours. */
static void test_clean_run(void **state) {
        struct sim s;
        struct analysis an;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12 + 17) * SEC);
        s.load[0] = 0.5;
        s.load[1] = 1.0;
        sim_start(&s);
        sim_run(&s, 3600 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(an.first_ns, (T_2026_11_26_12 + 17) * SEC);
        assert_int_equal(an.last_ns, (T_2026_11_26_12 + 17 + 3600) * SEC);
        assert_int_equal(an.interval_ms, 3600000);
        assert_near(an.busy_gpu_seconds, 5400.0, 0);
        assert_near(an.occupied_gpu_seconds, 7200.0, 0);
        assert_near(an.energy_joules, (380.0 + 700.0) * 3600.0, 1e-6);
        assert_near(an.observed_seconds, 3600.0, 0);
        assert_near(an.gap_seconds, 0.0, 0);
        assert_int_equal(an.gpu_count, 2);
        assert_string_equal(an.gpus[0].uuid, "GPU-00000000-0000-0000-0000-000000000000");
        assert_int_equal(an.gpus[0].observed_ms, 3600000);
        assert_int_equal(an.gpus[0].gap_ms, 0);
        assert_near(an.gpus[0].busy_seconds, 1800.0, 0);
        assert_near(an.gpus[1].busy_seconds, 3600.0, 0);
        check_identity(&an);
        assert_int_equal(analysis_max_severity(&an), SEV_INFO);
        assert_int_equal(an.nfindings, 2);
        assert_int_equal(count_kind(&an, FIND_PARTIAL_PERIOD), 2);
        /* the first window: 12:00:17 .. 12:01:00, leaf 1 (leaf 0 is START) */
        assert_int_equal(an.findings[0].start_ns, (T_2026_11_26_12 + 17) * SEC);
        assert_int_equal(an.findings[0].end_ns, (T_2026_11_26_12 + 60) * SEC);
        assert_int_equal(an.findings[0].first_leaf, 1);
        assert_int_equal(an.findings[1].end_ns, (T_2026_11_26_12 + 3617) * SEC);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* Clean stop, 123.456 s down, restart: exact TIME_GAP + RESTART_CLEAN. */
static void test_stop_restart(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        uint64_t stop_wall, stop_leaf;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12 + 5) * SEC);
        sim_start(&s);
        sim_run(&s, 600 * SEC);
        sim_stop(&s);
        stop_wall = wall_now(&s);
        stop_leaf = s.leaf - 2; /* the final summary */
        sim_down(&s, 123456 * MS);
        sim_start(&s);
        sim_run(&s, 600 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 1);
        assert_int_equal(count_kind(&an, FIND_RESTART_CLEAN), 1);
        assert_int_equal(count_kind(&an, FIND_RESTART_UNCLEAN), 0);
        assert_int_equal(count_kind(&an, FIND_REBOOT), 0);
        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), 0); /* idle while down */
        assert_int_equal(count_kind(&an, FIND_CLOCK_STEP), 0);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_true(f->has_time && f->has_leaves);
        assert_int_equal(f->start_ns, stop_wall);
        assert_int_equal(f->end_ns, stop_wall + 123456 * MS);
        assert_int_equal(f->duration_ns, 123456 * MS);
        assert_int_equal(f->first_leaf, stop_leaf);
        assert_int_equal(f->last_leaf, stop_leaf + 3); /* STOP, START, first summary */
        assert_int_equal(an.interval_ms, 1323456);
        assert_int_equal(an.gpus[0].observed_ms, 1200000);
        assert_int_equal(an.gpus[0].gap_ms, 123456);
        assert_int_equal(an.gpus[1].gap_ms, 123456);
        assert_near(an.gap_seconds, 123.456, 1e-12);
        check_identity(&an);
        assert_int_equal(analysis_max_severity(&an), SEV_WARNING);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* kill -9: the window in progress is lost, no STOP: RESTART_UNCLEAN. */
static void test_crash(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 630 * SEC); /* 10 full windows, 30 s unwritten */
        sim_crash(&s);
        sim_down(&s, 45 * SEC);
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_RESTART_UNCLEAN), 1);
        assert_int_equal(count_kind(&an, FIND_RESTART_CLEAN), 0);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 1);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_int_equal(f->duration_ns, 75 * SEC);
        assert_int_equal(f->start_ns, (T_2026_11_26_12 + 600) * SEC);
        assert_int_equal(f->end_ns, (T_2026_11_26_12 + 675) * SEC);
        f = find_kind(&an, FIND_RESTART_UNCLEAN);
        assert_int_equal(f->severity, SEV_WARNING);
        assert_int_equal(f->last_leaf, 11); /* START 0, summaries 1..10, START 11 */
        assert_int_equal(f->first_leaf, 10);
        assert_int_equal(an.gpus[0].observed_ms, 720000);
        assert_int_equal(an.gpus[0].gap_ms, 75000);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* Idle and busy history so that idle (60 W) and marginal (640 W/s) are estimated. */
static void history(struct sim *s) {
        for (unsigned g = 0; g < s->ngpus; g++)
                s->load[g] = 0;
        sim_run(s, 600 * SEC);
        for (unsigned g = 0; g < s->ngpus; g++)
                s->load[g] = 1.0;
        sim_run(s, 600 * SEC);
}

/* Same boot: 2 GPUs at 100 % for a 10 s gap -> 12,800 J, 20 GPU-seconds. */
static void test_energy_same_boot(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        uint64_t stop_wall;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        history(&s);
        sim_stop(&s);
        stop_wall = wall_now(&s);
        sim_down(&s, 10 * SEC); /* load stays at 100 % */
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), 1);
        f = find_kind(&an, FIND_ENERGY_UNACCOUNTED);
        assert_true(f->has_energy);
        assert_near(f->energy_joules, 12800.0, 0.01);
        assert_near(f->gpu_seconds, 20.0, 0.01);
        assert_int_equal(f->severity, SEV_WARNING);
        assert_int_equal(f->start_ns, stop_wall);
        assert_int_equal(f->end_ns, stop_wall + 10 * SEC);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 1);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), 0);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/*
 * Reboot: REBOOT, TIME_GAP in wall time (at least the new boot's uptime),
 * bounded by the worst case: the counters restarted with the driver.
 */
static void test_reboot_energy(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        uint64_t stop_wall;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        history(&s);
        sim_stop(&s);
        stop_wall = wall_now(&s);
        sim_reboot(&s, 60 * SEC, 10 * SEC); /* GPUs at 100 % for the 10 s since boot */
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_REBOOT), 1);
        assert_int_equal(count_kind(&an, FIND_RESTART_CLEAN), 1);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), 0); /* another boot */
        assert_int_equal(find_kind(&an, FIND_REBOOT)->severity, SEV_INFO);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_non_null(f);
        assert_int_equal(f->duration_ns, 70 * SEC);
        assert_int_equal(f->start_ns, stop_wall);
        assert_string_equal(f->source, "reboot");
        assert_true(f->has_hidden);
        assert_false(f->has_energy);
        assert_near(f->gpu_seconds, 140.0, 1e-9); /* 2 GPUs x 70 s */
        assert_near(an.hidden_gpu_seconds, 140.0, 1e-9);
        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), 0);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* Without recorded idle/busy windows the defaults (60 W, 640 W/s) apply. */
static void test_energy_defaults(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 60, (T_2026_11_26_12)*SEC);
        s.load[0] = 0.5;
        sim_start(&s);
        sim_run(&s, 1 * SEC);
        sim_stop(&s);
        s.load[0] = 1.0; /* 700 W for 100 s = 70 kJ, 64 kJ above idle */
        sim_down(&s, 100 * SEC);
        sim_start(&s);
        sim_run(&s, 1 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        f = find_kind(&an, FIND_ENERGY_UNACCOUNTED);
        assert_non_null(f);
        assert_near(f->energy_joules, 64000.0, 0.001);
        /*
         * at H100's minimum power limit (200 W, 140 W above idle) 64 kJ is
         * 457 GPU-s, more than the gap: the bound is its length
         */
        assert_near(f->gpu_seconds, 100.0, 0.001);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/*
 * The idle floor (ANALYSIS.md 6): a GPU that idles at 40 W, below the
 * declared 60 W, in a 3600 s gap with the daemon stopped. (1) 200 s at full
 * load (700 W): the floor is what its windows drew (40 W), so the bound, at
 * H100's minimum power limit (200 W), is
 * (40 x 3400 + 700 x 200 - 40 x 3600) / (200 - 40) = 825 GPU-s (the declared
 * 60 W would give 60 kJ / 140 W = 428.6). (2) idle throughout: 0, energy-idle. (3) the driver
 * reloaded in the gap (counter back to 0), 250 s at full load: the gap's
 * energy (40 W x 3350 s + 700 W x 250 s - the 224 kJ of the last reading:
 * 85 kJ) is below 0.9 x 40 W x 3600 s (129.6 kJ): the worst case, 3600 GPU-s.
 * (With 400 s at full load the reloaded counter ends 184 kJ above the last
 * reading, 40 kJ above the floor, and the bound is 250 GPU-s: the limit
 * ANALYSIS.md 6 states.)
 */
static void idle_floor_case(double busy_s, bool reload, double want_gs, bool want_energy) {
        struct sim s;
        struct analysis an;
        const struct finding *f;

        sim_init(&s, new_an(0, 0, 0), 1, 60, (T_2026_11_26_12)*SEC);
        s.idle_w[0] = 40.0;
        s.marg_w[0] = 660.0;
        s.counter_mj[0] = 40.0 * (double)(s.boot_ns / MS);
        sim_start(&s);
        sim_run(&s, 600 * SEC);
        sim_stop(&s);
        if (reload)
                s.counter_mj[0] = 0;
        sim_down(&s, (uint64_t)(1800 - busy_s / 2) * SEC);
        s.load[0] = 1.0;
        sim_down(&s, (uint64_t)busy_s * SEC);
        s.load[0] = 0;
        sim_down(&s, (uint64_t)(1800 - busy_s / 2) * SEC);
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_non_null(f);
        assert_int_equal(f->duration_ns, 3600 * SEC);
        assert_true(f->has_hidden);
        assert_true(f->has_energy == want_energy);
        if (want_gs > 0)
                assert_near(f->gpu_seconds, want_gs, 1e-4);
        else
                assert_true(f->gpu_seconds == 0);
        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), want_energy && want_gs >= 1);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_energy_idle_floor(void **state) {
        (void)state;
        idle_floor_case(200, false, 132000.0 / 160.0, true);
        idle_floor_case(0, false, 0, true);
        idle_floor_case(250, true, 3600.0, false);
}

/*
 * Counter epochs (ANALYSIS.md 6): the careful driver reload (the counter
 * restarts, the GPU works until it passes the last reading by idle x gap,
 * then idles: 8550 s of work in a 3-hour gap after 25 h 23 min idle since
 * driver load; E = 636 kJ against idle x gap = 648 kJ). Version 2 with another epoch after
 * the gap: COUNTER_RESET, the gap is the worst case; the same epoch: the
 * energy bound; epoch 0: the worst case without COUNTER_RESET; version 1 (no
 * epoch, nothing tells a reload): the worst case, reload or not. split: the analysis is saved and resumed (analyze-state.c)
 * between the two STARTs, and must give the same.
 */
static void epoch_case(bool v2, uint64_t e1, uint64_t e2, bool reload, bool split,
                       double want_gs, size_t want_resets) {
        struct sim s;
        struct analysis an;
        const struct finding *f;

        sim_init(&s, new_an(0, 0, 0), 1, 3600, (T_2026_11_26_12)*SEC);
        s.v2 = v2;
        s.epoch[0] = e1;
        sim_start(&s);
        sim_run(&s, 24 * 3600 * SEC);
        sim_stop(&s);
        if (split) {
                uint8_t *st, *wins = NULL;
                const uint8_t *wp;
                size_t len, wl;
                struct analyzer *b = new_an(0, 0, 0);
                assert_int_equal(analyzer_state_save(s.a, &st, &len), 0);
                assert_int_equal(analyzer_state_windows(s.a, 0, &wp, &wl), 0);
                if (wl) {
                        wins = malloc(wl);
                        assert_non_null(wins);
                        memcpy(wins, wp, wl);
                }
                assert_int_equal(analyzer_state_load(b, st, len, wins, wl), 0);
                free(st);
                analyzer_free(s.a);
                s.a = b;
        }
        if (reload)
                s.counter_mj[0] = 0;
        s.epoch[0] = e2;
        s.load[0] = reload ? 1.0 : 0;
        sim_down(&s, 8550 * SEC);
        s.load[0] = 0;
        sim_down(&s, 2250 * SEC);
        sim_start(&s);
        sim_run(&s, 2 * 3600 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_non_null(f);
        assert_int_equal(f->duration_ns, 10800 * SEC);
        assert_true(f->has_hidden);
        if (want_gs > 0)
                assert_near(f->gpu_seconds, want_gs, 1e-4);
        else
                assert_true(f->gpu_seconds < 1.0);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), want_resets);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_counter_epoch(void **state) {
        (void)state;
        for (int split = 0; split < 2; split++) {
                epoch_case(true, 41234, 52007, true, split, 10800.0, 1); /* reload: new epoch */
                epoch_case(true, 41234, 41234, false, split, 0, 0);      /* same epoch, idle */
                epoch_case(true, 41234, 0, false, split, 10800.0, 0);    /* unknown epoch */
                epoch_case(true, 0, 0, false, split, 10800.0, 0);        /* 0 never proves */
                epoch_case(false, 41234, 52007, true, split, 10800.0, 0); /* v1: never proves */
                epoch_case(false, 41234, 41234, false, split, 10800.0, 0); /* v1, idle too */
        }
}

/* Forward/backward clock steps with a CLOCK_STEP record: CLOCK_STEP, no TIME_GAP. */
static void clock_step_case(int64_t delta, bool record, bool split) {
        struct sim s;
        struct analysis an;
        const struct finding *f;

        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 630 * SEC);
        sim_step_split(&s, delta, record, split);
        sim_run(&s, 600 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 0);
        assert_int_equal(count_kind(&an, FIND_CLOCK_STEP), 1);
        f = find_kind(&an, FIND_CLOCK_STEP);
        if (record)
                assert_non_null(strstr(f->detail, delta > 0 ? "forward by 3600.000 s"
                                                            : "backward by 1800.000 s"));
        else
                assert_non_null(strstr(f->detail, "no clock step record"));
        assert_int_equal(an.interval_ms, 1230000 + (record && !split ? 1 : 0));
        assert_near(an.gap_seconds, 0, 0);
        assert_int_equal(an.gpus[0].observed_ms, an.interval_ms);
        assert_int_equal(an.gpus[1].gap_ms, 0);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_clock_step_forward(void **state) {
        (void)state;
        clock_step_case(3600 * (int64_t)SEC, true, false);
        clock_step_case(3600 * (int64_t)SEC, true, true);
}

static void test_clock_step_backward(void **state) {
        (void)state;
        clock_step_case(-1800 * (int64_t)SEC, true, false);
        clock_step_case(-1800 * (int64_t)SEC, true, true);
}

static void test_clock_step_unrecorded(void **state) {
        (void)state;
        clock_step_case(3600 * (int64_t)SEC, false, false);
        clock_step_case(-1800 * (int64_t)SEC, false, false);
        clock_step_case(3600 * (int64_t)SEC, false, true);
        clock_step_case(-1800 * (int64_t)SEC, false, true);
}

/* Clock stepped while the daemon was down (same boot): gap in boot time + CLOCK_STEP. */
static void test_step_while_down(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 300 * SEC);
        sim_stop(&s);
        sim_down(&s, 20 * SEC);
        sim_step(&s, 7200 * (int64_t)SEC, false);
        sim_down(&s, 20 * SEC);
        sim_start(&s);
        sim_run(&s, 300 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 1);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_int_equal(f->duration_ns, 40 * SEC);
        assert_int_equal(f->end_ns - f->start_ns, 7240 * SEC);
        assert_int_equal(count_kind(&an, FIND_CLOCK_STEP), 1);
        assert_int_equal(an.interval_ms, 640000);
        assert_int_equal(an.gpus[0].gap_ms, 40000);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* since/until inside windows clip proportionally; outside: leading/trailing gaps. */
static void test_since_until(void **state) {
        uint64_t t0 = (T_2026_11_26_12 + 3) * SEC;
        struct sim s;
        struct analysis an;
        (void)state;

        /* inside */
        sim_init(&s, new_an(t0 + 90500 * MS, t0 + 1000250 * MS, 0), 2, 60, t0);
        s.load[0] = 0.25;
        s.load[1] = 1.0;
        sim_start(&s);
        sim_run(&s, 1800 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(an.first_ns, t0 + 90500 * MS);
        assert_int_equal(an.last_ns, t0 + 1000250 * MS);
        assert_int_equal(an.interval_ms, 909750);
        assert_int_equal(an.gpus[0].observed_ms, 909750);
        assert_near(an.busy_gpu_seconds, 1.25 * 909.75, 1e-9);
        assert_near(an.gpus[0].busy_seconds, 0.25 * 909.75, 1e-9);
        assert_near(an.gap_seconds, 0, 0);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 0);
        /* PARTIAL_PERIOD of the first and last windows lie outside: dropped */
        assert_int_equal(count_kind(&an, FIND_PARTIAL_PERIOD), 0);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);

        /* outside on both ends */
        sim_init(&s, new_an(t0 - 100 * SEC, t0 + 2000 * SEC, 0), 2, 60, t0);
        s.load[0] = 0.25;
        sim_start(&s);
        sim_run(&s, 1800 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(an.interval_ms, 2100000);
        assert_int_equal(an.gpus[1].observed_ms, 1800000);
        assert_int_equal(an.gpus[1].gap_ms, 300000);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 2);
        assert_int_equal(an.findings[0].kind, FIND_TIME_GAP);
        assert_int_equal(an.findings[0].start_ns, t0 - 100 * SEC);
        assert_int_equal(an.findings[0].end_ns, t0);
        assert_int_equal(an.findings[an.nfindings - 1].kind, FIND_TIME_GAP);
        assert_int_equal(an.findings[an.nfindings - 1].duration_ns, 200 * SEC);
        assert_near(an.busy_gpu_seconds, 450, 1e-12);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_partial_period(void **state) {
        struct sim s;
        struct analysis an;
        size_t k = 0;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 300, (T_2026_11_26_12 + 100) * SEC);
        sim_start(&s);
        sim_run(&s, 1000 * SEC); /* 12:01:40 .. 12:18:20: 200 s, 2 x 300 s, 200 s */
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_PARTIAL_PERIOD), 2);
        for (size_t i = 0; i < an.nfindings; i++) {
                const struct finding *f = &an.findings[i];
                if (f->kind != FIND_PARTIAL_PERIOD)
                        continue;
                assert_int_equal(f->end_ns - f->start_ns, 200 * SEC);
                assert_int_equal(f->severity, SEV_INFO);
                assert_int_equal(f->first_leaf, k == 0 ? 1 : 4);
                k++;
        }
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_counter_reset(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        (void)state;

        /* a reset the daemon saw inside a window */
        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        s.r->u.summary.gpus[1].flags = GPU_COUNTER_RESET;
        s.leaf--;
        emit(&s, REC_SUMMARY); /* re-emit the last summary with the flag, as a new leaf */
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), 1);
        f = find_kind(&an, FIND_COUNTER_RESET);
        assert_non_null(strstr(f->detail, "GPU-00000000-0000-0000-0000-000000000001"));
        assert_int_equal(f->first_leaf, 2);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);

        /* the counter went back while the daemon was down (same boot) */
        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        history(&s);
        sim_stop(&s);
        s.counter_mj[0] = 0; /* reset; then 10 s at 700 W = 7000 J: the lower bound */
        sim_down(&s, 10 * SEC);
        sim_start(&s);
        sim_run(&s, 60 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), 1);
        f = find_kind(&an, FIND_COUNTER_RESET);
        assert_non_null(strstr(f->detail, "GPU-00000000-0000-0000-0000-000000000000"));
        /* GPU 0's counter is not continuous: worst case; GPU 1 from its energy */
        f = find_kind(&an, FIND_ENERGY_UNACCOUNTED);
        assert_non_null(f);
        assert_near(f->energy_joules, 6400.0, 0.01);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_near(f->gpu_seconds, 20.0, 0.01);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_gpu_set_changed(void **state) {
        struct sim s;
        struct analysis an;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        sim_start(&s); /* same set: nothing */
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        s.ngpus = 3; /* a GPU appeared while down */
        s.present = 7;
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        /* an inventory record mid-run */
        memset(&s.r->u, 0, sizeof(s.r->u));
        s.r->u.inventory.reason = INV_GPU_VANISHED;
        gpu_infos(&s, s.r->u.inventory.gpus, &s.r->u.inventory.gpu_count);
        s.r->u.inventory.gpu_count = 2;
        emit(&s, REC_INVENTORY);
        s.present = 3;
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_GPU_SET_CHANGED), 2);
        assert_int_equal(an.gpu_count, 3);
        /* GPU 2 was observed 120 s of the 480 s: the rest is its gap */
        assert_int_equal(an.interval_ms, 480000);
        assert_int_equal(an.gpus[2].observed_ms, 120000);
        assert_int_equal(an.gpus[2].gap_ms, 360000);
        assert_int_equal(an.gpus[0].gap_ms, 0);
        assert_near(an.gap_seconds, 0, 0);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/*
 * A window whose energy_used_mj lost the delta of the frozen stretch (a
 * daemon that dropped a read's energy): 30 s at full load unobserved in a
 * 60 s window. The in-window bound takes the counter's end less start, so
 * it still covers the 30 s (ANALYSIS.md 6, in_window).
 */
static void test_energy_used_short(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_run(&s, 10 * SEC);
        s.load[0] = 1.0;
        s.frozen = true;
        sim_tick(&s, 30 * SEC);
        s.frozen = false;
        s.load[0] = 0;
        s.short_mj[0] = 700 * 30 * 1000; /* the frozen stretch's energy, gone from the sum */
        sim_run(&s, 20 * SEC);
        sim_run(&s, 60 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        f = find_kind(&an, FIND_TIME_GAP);
        assert_non_null(f);
        assert_string_equal(f->source, "in_window");
        assert_true(f->has_hidden);
        assert_true(f->gpu_seconds >= 30.0 - 1e-6);
        assert_true(f->gpu_seconds <= 30.0);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* A GPU missing from some summaries (lost): gap for that GPU only. */
static void test_gpu_absent(void **state) {
        struct sim s;
        struct analysis an;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 3, 60, (T_2026_11_26_12)*SEC);
        sim_start(&s);
        sim_run(&s, 180 * SEC);
        s.present = 5; /* GPU 1 gone for 2 windows */
        sim_run(&s, 120 * SEC);
        s.present = 7;
        sim_run(&s, 60 * SEC);
        s.lost_ms[0] = 20000; /* GPU 0 fell off 20 s before the end of a window */
        sim_run(&s, 60 * SEC);
        s.lost_ms[2] = 150; /* within the sampling tolerance: a whole window */
        sim_run(&s, 60 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(an.interval_ms, 480000);
        assert_int_equal(an.gpus[0].gap_ms, 20000);
        assert_int_equal(an.gpus[1].observed_ms, 360000);
        assert_int_equal(an.gpus[1].gap_ms, 120000);
        assert_int_equal(an.gpus[2].gap_ms, 0);
        /* node: the largest shortfall of each window (GPU 1: 2 x 60 s, GPU 0: 20 s) */
        assert_near(an.gap_seconds, 140, 0);
        assert_near(an.observed_seconds, 340, 0);
        /* GPU 1 missing without an inventory record saying so: implausible */
        assert_int_equal(count_kind(&an, FIND_IMPLAUSIBLE), 2);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 3);
        {
                const struct finding *f = find_kind(&an, FIND_TIME_GAP);
                assert_string_equal(f->source, "in_window");
                assert_true(f->has_gpus);
                assert_int_equal(f->gpu_mask, 2); /* GPU 1 */
                assert_int_equal(f->duration_ns, 60 * SEC);
        }
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static void stale_case(uint64_t now_after_end, bool want) {
        struct sim s;
        struct analysis an;
        (void)0;

        sim_init(&s, NULL, 1, 60, (T_2026_11_26_12)*SEC);
        s.a = new_an(0, 0, now_after_end ? (T_2026_11_26_12 + 600) * SEC + now_after_end : 0);
        sim_start(&s);
        sim_run(&s, 600 * SEC);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_STALE), want ? 1 : 0);
        if (want) {
                const struct finding *f = find_kind(&an, FIND_STALE);
                assert_int_equal(f->start_ns, (T_2026_11_26_12 + 600) * SEC);
                assert_int_equal(f->severity, SEV_WARNING);
        }
        /* online, the interval still ends at the last window */
        assert_int_equal(an.last_ns, (T_2026_11_26_12 + 600) * SEC);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}


/*
 * Repay capacity (ANALYSIS.md 10): boot 1 (600 s), off 120 s, up 30 s with
 * the wall clock set back 100 s (wall delta 50 s >= the boot clocks' 30 s:
 * no CLOCK_STEP), boot 2 (360 s), off 60 s, up 30 s, set forward 100 s
 * again (slack 160 s), boot 3 (300 s); the anchor 20 s after the last
 * record. tol_step = 1 s. e(3) = 20 + 1; e(2) = e(3) + 160 + 2; e(1) = e(2)
 * + 20 + 2; a window's D = e - 0 + 1.
 */
static void test_repay_capacity(void **state) {
        struct sim s;
        struct analysis an;
        struct analyzer_pieces ap;
        uint64_t t0 = (T_2026_11_26_12 + 0) * SEC, last_rec, anchor;
        size_t nb[3] = {0, 0, 0};
        (void)state;

        sim_init(&s, NULL, 1, 60, t0);
        {
                /* the anchor is known only at the end: lay the ledger out first */
                /* labels: boot 1 to t0+600, boot 2 t0+650..1010, boot 3 t0+1200..1500 */
                anchor = t0 + 1520 * SEC;
                struct analyze_opts o = {.until_ns = anchor};
                s.a = analyzer_new(&o);
                assert_non_null(s.a);
        }
        assert_int_equal(analyzer_record_pieces(s.a), 0);
        analyzer_pieces_anchor(s.a, anchor);
        sim_start(&s);
        sim_run(&s, 600 * SEC);
        sim_stop(&s);
        sim_reboot(&s, 120 * SEC, 30 * SEC);
        s.off -= 100 * SEC;
        sim_start(&s);
        sim_run(&s, 360 * SEC);
        sim_stop(&s);
        sim_reboot(&s, 60 * SEC, 30 * SEC);
        s.off += 100 * SEC;
        sim_start(&s);
        sim_run(&s, 300 * SEC);
        sim_stop(&s);
        last_rec = wall_now(&s);
        assert_int_equal(last_rec + 20 * SEC, anchor);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_CLOCK_STEP), 0);
        assert_int_equal(count_kind(&an, FIND_CLOCK_AHEAD), 0);
        assert_int_equal(analyzer_pieces(s.a, &ap), 0);
        for (size_t k = 0; k < ap.gpus[0].n; k++) {
                const struct apiece *p = &ap.gpus[0].p[k];
                uint64_t d;
                int b;
                if (strcmp(p->source, "window") != 0)
                        continue;
                b = p->we <= t0 + 600 * SEC ? 0 : p->we <= t0 + 1100 * SEC ? 1 : 2;
                d = b == 0 ? 206 : b == 1 ? 184 : 22;
                nb[b]++;
                assert_false(p->exact);
                assert_true(p->lexact);
                assert_int_equal(p->lws, p->ws);
                assert_int_equal(p->lwe, p->we);
                assert_int_equal(p->uws, p->ws);
                /* clipped to the interval's end (the anchor) */
                assert_int_equal(p->uwe, p->we + d * SEC < anchor ? p->we + d * SEC : anchor);
        }
        assert_int_equal(nb[0], 10);
        assert_int_equal(nb[1], 7); /* 650..660 partial, 660 .. 960, 960..1010 partial */
        assert_int_equal(nb[2], 5);
        analyzer_pieces_free(&ap);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/*
 * A wall clock 1 h ahead of the anchor: one CLOCK_AHEAD, at the latest-labelled reading (the
 * STOP, 300 s after the first: 3600 s ahead); pieces open earlier.
 */
static void test_clock_ahead(void **state) {
        struct sim s;
        struct analysis an;
        struct analyzer_pieces ap;
        uint64_t t0 = (T_2026_11_26_12 + 0) * SEC;
        struct analyze_opts o = {0};
        (void)state;

        sim_init(&s, analyzer_new(&o), 1, 60, t0);
        assert_non_null(s.a);
        assert_int_equal(analyzer_record_pieces(s.a), 0);
        analyzer_pieces_anchor(s.a, t0 + 300 * SEC - 3600 * SEC);
        sim_start(&s);
        sim_run(&s, 300 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_CLOCK_AHEAD), 1);
        for (size_t i = 0; i < an.nfindings; i++)
                if (an.findings[i].kind == FIND_CLOCK_AHEAD) {
                        assert_int_equal(an.findings[i].start_ns, t0 + 300 * SEC);
                        assert_near(an.findings[i].step_seconds, 3600.0, 1e-9);
                        assert_int_equal(an.findings[i].severity, SEV_WARNING);
                }
        assert_string_equal(finding_kind_name(FIND_CLOCK_AHEAD), "CLOCK_AHEAD");
        assert_int_equal(analyzer_pieces(s.a, &ap), 0);
        assert_true(ap.gpus[0].n > 0);
        for (size_t k = 0; k < ap.gpus[0].n; k++) {
                assert_true(ap.gpus[0].p[k].early_open);
                assert_false(ap.gpus[0].p[k].exact);
                assert_int_equal(ap.gpus[0].p[k].uws, an.first_ns);
        }
        analyzer_pieces_free(&ap);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* More than ANALYZE_PIECES_MAX_PUBLIC entries (windows x GPUs): -E2BIG, not memory. */
static void test_pieces_cap(void **state) {
        struct sim s;
        struct analysis an;
        struct analyzer_pieces ap;
        int r;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 8, 1, (T_2026_11_26_12 + 0) * SEC);
        assert_int_equal(analyzer_record_pieces(s.a), 0);
        s.allow_e2big = true;
        sim_start(&s);
        sim_run(&s, (ANALYZE_PIECES_MAX_PUBLIC / 8 + 10) * SEC);
        sim_stop(&s);
        assert_true(s.e2big);
        r = analyzer_finish(s.a, &an);
        assert_int_equal(r, -E2BIG);
        assert_int_equal(analyzer_pieces(s.a, &ap), -EINVAL);
        analyzer_free(s.a);
        sim_free(&s);
}

static void test_stale(void **state) {
        (void)state;
        stale_case(0, false);
        stale_case(149 * SEC, false); /* limit 2 x 60 + 30 = 150 s */
        stale_case(151 * SEC, true);
}

/* Hand-made overlapping windows in one boot are counted once. */
static void test_overlap(void **state) {
        struct record *r = calloc(1, sizeof(*r));
        struct analyzer *a = new_an(0, 0, 0);
        struct analysis an;
        uint64_t w0 = T_2026_11_26_12 * SEC, b0 = 1000 * SEC;
        (void)state;

        assert_non_null(r);
        r->version = RECORD_VERSION;
        memset(r->boot_id, 1, 16);
        for (int i = 0; i < 2; i++) {
                struct rec_summary *su = &r->u.summary;
                uint64_t st = i == 0 ? 0 : 40 * SEC, en = i == 0 ? 60 * SEC : 100 * SEC;
                memset(&r->u, 0, sizeof(r->u));
                r->kind = REC_SUMMARY;
                r->wall_ns = w0 + en;
                r->boot_ns = b0 + en;
                su->period_s = 60;
                su->obs_start_wall_ns = w0 + st;
                su->obs_end_wall_ns = w0 + en;
                su->obs_start_boot_ns = b0 + st;
                su->obs_end_boot_ns = b0 + en;
                su->gpu_count = 1;
                snprintf(su->gpus[0].uuid, sizeof(su->gpus[0].uuid), "GPU-a");
                su->gpus[0].observed_ms = (en - st) / MS;
                su->gpus[0].busy_ms = (en - st) / MS;
                assert_int_equal(analyzer_add(a, (uint64_t)i, r), 0);
        }
        assert_int_equal(analyzer_finish(a, &an), 0);
        assert_int_equal(an.interval_ms, 100000);
        assert_int_equal(an.gpus[0].observed_ms, 100000);
        assert_int_equal(an.gpus[0].gap_ms, 0);
        assert_near(an.busy_gpu_seconds, 100.0, 1e-12); /* not 120 */
        /* leaf 0 is no START, GPU-a never inventoried (x2), the boot clock ran back */
        assert_int_equal(count_kind(&an, FIND_IMPLAUSIBLE), 4);
        assert_int_equal(analysis_max_severity(&an), SEV_ERROR);
        assert_int_equal(count_kind(&an, FIND_CLOCK_STEP), 0);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 0);
        analysis_free(&an);
        analyzer_free(a);
        free(r);
}

/* Buckets: hour/day/month boundaries in UTC, sums equal the totals. */
static void test_buckets(void **state) {
        uint64_t t0 = (T_2026_02_01 - 1800) * SEC; /* 2026-01-31T23:30:00Z */
        struct sim s;
        struct analysis an;
        struct bucket *b;
        size_t n;
        double busy = 0, gap = 0, energy = 0;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, t0);
        s.load[0] = 1.0;
        sim_start(&s);
        sim_run(&s, 3600 * SEC);
        sim_stop(&s);
        sim_down(&s, 600 * SEC);
        s.load[1] = 0.5;
        sim_start(&s);
        sim_run(&s, 3000 * SEC); /* until 01:30 */
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(an.interval_ms, 7200000);

        assert_int_equal(analyzer_buckets(s.a, BY_HOUR, &b, &n), 0);
        assert_int_equal(n, 3);
        assert_int_equal(b[0].start_ns, (T_2026_02_01 - 3600) * SEC);
        assert_int_equal(b[0].end_ns, T_2026_02_01 * SEC);
        assert_int_equal(b[2].end_ns, (T_2026_02_01 + 7200) * SEC);
        assert_near(b[0].coverage_pct, 100.0, 1e-12); /* 23:30..24:00 all observed */
        assert_near(b[0].busy_gpu_hours, 0.5, 1e-12);
        assert_near(b[1].gap_seconds, 600.0, 1e-12); /* 00:30..00:40 */
        assert_near(b[1].coverage_pct, 100.0 * 3000 / 3600, 1e-12);
        assert_near(b[2].busy_gpu_hours, 1800.0 * 1.5 / 3600, 1e-12);
        for (size_t i = 0; i < n; i++) {
                busy += b[i].busy_gpu_hours;
                gap += b[i].gap_seconds;
                energy += b[i].energy_kwh;
        }
        assert_near(busy, an.busy_gpu_seconds / 3600, 1e-12);
        assert_near(gap, an.gap_seconds, 1e-12);
        assert_near(energy, an.energy_joules / 3.6e6, 1e-12);
        free(b);

        assert_int_equal(analyzer_buckets(s.a, BY_DAY, &b, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(b[1].start_ns, T_2026_02_01 * SEC);
        assert_near(b[0].busy_gpu_hours + b[1].busy_gpu_hours, an.busy_gpu_seconds / 3600, 1e-12);
        free(b);

        assert_int_equal(analyzer_buckets(s.a, BY_MONTH, &b, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(b[0].start_ns, (T_2026_02_01 - 31 * 86400) * SEC); /* 2026-01-01 */
        assert_int_equal(b[0].end_ns, T_2026_02_01 * SEC);
        assert_int_equal(b[1].end_ns, (T_2026_02_01 + 28 * 86400) * SEC); /* 2026-03-01 */
        assert_near(b[0].busy_gpu_hours, 0.5, 1e-12);
        assert_near(b[1].gap_seconds, 600, 1e-12);
        free(b);

        assert_int_equal(analyzer_buckets(s.a, BY_GPU, &b, &n), 0);
        assert_int_equal(n, 2);
        assert_string_equal(b[1].gpu_uuid, "GPU-00000000-0000-0000-0000-000000000001");
        assert_near(b[0].busy_gpu_hours, 6600.0 / 3600, 1e-12);
        assert_near(b[1].busy_gpu_hours, 1500.0 / 3600, 1e-12);
        assert_near(b[1].gap_seconds, 600, 1e-12);
        assert_near(b[1].coverage_pct, 100.0 * 6600 / 7200, 1e-12);
        free(b);

        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* ---- randomized property test ---- */

static uint64_t rng_state;

static uint64_t rnd(void) {
        /* splitmix64 */
        uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
}

static uint64_t rnd_range(uint64_t lo, uint64_t hi) {
        return lo + rnd() % (hi - lo + 1);
}

/* One random ledger; the same seed gives the same records. */
static void random_ledger(struct sim *s, uint64_t seed) {
        static const uint32_t periods[] = {1, 5, 60, 300};
        unsigned runs;

        rng_state = seed;
        sim_init(s, s->a, (unsigned)rnd_range(1, 4), periods[rnd() % 4],
                 (T_2026_11_26_12 + rnd_range(0, 86400)) * SEC + rnd_range(0, SEC));
        runs = (unsigned)rnd_range(1, 5);
        for (unsigned i = 0; i < runs; i++) {
                uint64_t down;
                for (unsigned g = 0; g < s->ngpus; g++)
                        s->load[g] = (double)rnd_range(0, 4) / 4;
                sim_start(s);
                for (unsigned k = (unsigned)rnd_range(1, 3); k > 0; k--)
                        sim_run(s, rnd_range(1, 1500 * SEC));
                if (i + 1 == runs && rnd() % 2)
                        break; /* still running at the end */
                if (rnd() % 3)
                        sim_stop(s);
                else
                        sim_crash(s);
                switch (rnd() % 4) {
                case 0:
                        down = 0;
                        break;
                case 1:
                        down = rnd_range(1, 5 * MS);
                        break;
                default:
                        down = rnd_range(1, 1000 * SEC);
                }
                if (rnd() % 5 == 0) {
                        sim_reboot(s, down, rnd_range(1, 60 * SEC));
                } else {
                        sim_down(s, down);
                }
        }
        if (s->running && rnd() % 2)
                sim_stop(s);
}

static uint64_t ov(uint64_t a, uint64_t b, uint64_t lo, uint64_t hi) {
        uint64_t x = a > lo ? a : lo, y = b < hi ? b : hi;
        return y > x ? y - x : 0;
}

static void test_property(void **state) {
        (void)state;
        for (uint64_t seed = 1; seed <= 1000; seed++) {
                struct sim s = {0};
                struct analysis an;
                uint64_t first, last, lo, hi, node_obs = 0, gpu_obs[MAXG] = {0}, gaps = 0;
                size_t small = 0;

                /* pass 1: unbounded analysis plus the truth */
                s.a = new_an(0, 0, 0);
                random_ledger(&s, seed);
                if (s.nwins == 0) {
                        analyzer_free(s.a);
                        sim_free(&s);
                        continue;
                }
                assert_int_equal(analyzer_finish(s.a, &an), 0);
                first = s.wins[0].ws;
                last = s.wins[s.nwins - 1].we;
                /* a START after the last window: the interval runs to the last record */
                if (s.start_since_win && s.last_rec_wall > last)
                        last = s.last_rec_wall;
                assert_int_equal(an.first_ns, first);
                assert_int_equal(an.last_ns, last);
                assert_int_equal(an.interval_ms, (last - first + MS / 2) / MS);
                assert_int_equal(count_kind(&an, FIND_RESTART_CLEAN), s.restarts_clean);
                assert_int_equal(count_kind(&an, FIND_RESTART_UNCLEAN), s.restarts_unclean);
                assert_int_equal(count_kind(&an, FIND_REBOOT), s.reboots);
                assert_int_equal(count_kind(&an, FIND_CLOCK_STEP), 0);
                for (size_t i = 0; i < an.nfindings; i++)
                        if (an.findings[i].kind == FIND_TIME_GAP)
                                gaps += an.findings[i].duration_ns;
                for (size_t w = 1; w < s.nwins; w++)
                        if (s.wins[w].ws - s.wins[w - 1].we > 0 &&
                            s.wins[w].ws - s.wins[w - 1].we < MS)
                                small++;
                /* gap_seconds is a whole number of ms (ANALYSIS.md 1) */
                assert_true(gaps <= (uint64_t)(an.gap_seconds * 1e9 + 0.5) + MS / 2);
                assert_true((uint64_t)(an.gap_seconds * 1e9 + 0.5) <= gaps + small * MS + MS / 2);
                check_identity(&an);
                analysis_free(&an);
                analyzer_free(s.a);
                sim_free(&s);

                /* pass 2: random since/until, compared with the truth */
                lo = first - 100 * SEC + rnd_range(0, last - first + 200 * SEC);
                hi = first - 100 * SEC + rnd_range(0, last - first + 200 * SEC);
                if (hi < lo) {
                        uint64_t t = lo;
                        lo = hi;
                        hi = t;
                }
                hi += 1;
                {
                        uint64_t keep = rng_state;
                        s.a = new_an(lo, hi, 0);
                        random_ledger(&s, seed);
                        rng_state = keep;
                }
                for (size_t w = 0; w < s.nwins; w++) {
                        uint64_t o = ov(s.wins[w].ws, s.wins[w].we, lo, hi);
                        node_obs += o;
                        for (unsigned g = 0; g < s.ngpus; g++)
                                if (s.wins[w].present & (1u << g))
                                        gpu_obs[g] += o;
                }
                assert_int_equal(analyzer_finish(s.a, &an), 0);
                assert_int_equal(an.first_ns, lo);
                assert_int_equal(an.last_ns, hi);
                assert_int_equal(an.interval_ms, (hi - lo + MS / 2) / MS);
                /* whole ms: within 1 ms of the ns truth (two roundings) */
                assert_true(fabs(an.observed_seconds - (double)node_obs / 1e9) <= 1.0005e-3);
                assert_true(fabs(an.gap_seconds - (double)(hi - lo - node_obs) / 1e9) <= 0.5005e-3);
                assert_int_equal(an.gpu_count, s.ngpus);
                for (unsigned g = 0; g < s.ngpus; g++) {
                        uint64_t gap_ns = hi - lo - gpu_obs[g];
                        int64_t d;
                        assert_int_equal(an.gpus[g].observed_ms, (gpu_obs[g] + MS / 2) / MS);
                        d = (int64_t)an.gpus[g].gap_ms * (int64_t)MS - (int64_t)gap_ns;
                        assert_true(d <= (int64_t)MS && d >= -(int64_t)MS);
                }
                check_identity(&an);
                analysis_free(&an);
                analyzer_free(s.a);
                sim_free(&s);
        }
}

/*
 * The sound-evidence property (ANALYSIS.md): over random ledgers with
 * stalls (the daemon frozen inside a window, as an old daemon writes it),
 * restarts, crashes, reboots, recorded clock steps and unrecorded drifts,
 * and GPU set changes with inventory records: per GPU observed + unobserved
 * = interval exactly; the hidden-compute bound is at least the simulated
 * busy time nobody observed; observed + unobserved + steps = wall span;
 * time buckets and per-GPU rows agree with the totals; nothing plausible is
 * IMPLAUSIBLE.
 */
static void random_sound_ledger(struct sim *s, uint64_t seed) {
        static const uint32_t periods[] = {5, 60, 300};
        unsigned runs;

        rng_state = seed * 7919;
        sim_init(s, s->a, (unsigned)rnd_range(1, 4), periods[rnd() % 3],
                 (T_2026_11_26_12 + rnd_range(0, 86400)) * SEC + rnd_range(0, SEC));
        runs = (unsigned)rnd_range(1, 4);
        for (unsigned i = 0; i < runs; i++) {
                unsigned all = (1u << s->ngpus) - 1;
                do
                        s->present = (uint8_t)(rnd() & all);
                while (!s->present);
                sim_start(s);
                for (unsigned k = (unsigned)rnd_range(1, 4); k > 0; k--) {
                        for (unsigned g = 0; g < s->ngpus; g++)
                                s->load[g] = (double)rnd_range(0, 4) / 4;
                        sim_run(s, rnd_range(1, 900 * SEC));
                        switch (rnd() % 6) {
                        case 0: /* frozen (SIGSTOP), at some load */
                                for (unsigned g = 0; g < s->ngpus; g++)
                                        s->load[g] = (double)rnd_range(0, 4) / 4;
                                s->frozen = true;
                                sim_tick(s, rnd_range(1, 200) * SEC);
                                s->frozen = false;
                                break;
                        case 1: /* a recorded clock step */
                                sim_step(s, (int64_t)rnd_range(0, 7200 * SEC) - 3600 * (int64_t)SEC,
                                         true);
                                break;
                        case 2: /* an unrecorded drift below the tolerance */
                                s->off += rnd_range(100, 900) * MS;
                                break;
                        case 3: { /* a GPU appears or vanishes: INVENTORY at a window edge */
                                uint8_t next = (uint8_t)(s->present ^ (1u << (rnd() % s->ngpus)));
                                if (!next)
                                        break;
                                if (s->boot_ns > s->win_boot)
                                        emit_summary(s, true);
                                memset(&s->r->u, 0, sizeof(s->r->u));
                                s->r->u.inventory.reason =
                                        next > s->present ? INV_GPU_APPEARED : INV_GPU_VANISHED;
                                s->present = next;
                                gpu_infos(s, s->r->u.inventory.gpus, &s->r->u.inventory.gpu_count);
                                emit(s, REC_INVENTORY);
                                break;
                        }
                        default:
                                break;
                        }
                }
                if (i + 1 == runs && rnd() % 2)
                        break; /* still running at the end */
                if (rnd() % 3)
                        sim_stop(s);
                else
                        sim_crash(s);
                for (unsigned g = 0; g < s->ngpus; g++)
                        s->load[g] = (double)rnd_range(0, 4) / 4; /* work while down */
                if (rnd() % 4 == 0)
                        sim_reboot(s, rnd_range(1, 600 * SEC), rnd_range(1, 60 * SEC));
                else
                        sim_down(s, rnd_range(0, 600 * SEC));
        }
        if (s->running && rnd() % 2)
                sim_stop(s);
}

static void test_property_sound(void **state) {
        (void)state;
        const char *only = getenv("GH_TEST_SEED"); /* debugging aid: one seed */
        for (uint64_t seed = 1; seed <= 400; seed++) {
                struct sim s = {0};
                struct analysis an;
                struct bucket *b;
                size_t nb;
                double truth_hidden, so = 0, su = 0;
                int64_t span_ms;

                if (only && strtoull(only, NULL, 10) != seed)
                        continue;
                s.a = new_an(0, 0, 0);
                random_sound_ledger(&s, seed);
                if (s.nwins == 0) {
                        analyzer_free(s.a);
                        sim_free(&s);
                        continue;
                }
                assert_int_equal(analyzer_finish(s.a, &an), 0);
                check_identity(&an);
                if (count_kind(&an, FIND_IMPLAUSIBLE) != 0) {
                        dump(&an);
                        fail_msg("seed %llu: IMPLAUSIBLE on a plausible ledger",
                                 (unsigned long long)seed);
                }
                /* busy time that ran while nobody observed it (every stall, down time, crash) */
                truth_hidden = (s.tb_last - s.tb_first) / 1e9 - an.busy_gpu_seconds;
                if (an.hidden_gpu_seconds + 1e-3 * (double)(s.nwins + 1) < truth_hidden)
                        fail_msg("seed %llu: hidden bound %.6f < simulated hidden busy %.6f",
                                 (unsigned long long)seed, an.hidden_gpu_seconds, truth_hidden);
                /* observed + unobserved + steps = wall span, in whole ms */
                span_ms = (int64_t)((an.last_ns - an.first_ns + MS / 2) / MS);
                assert_int_equal((int64_t)((an.observed_seconds + an.gap_seconds) * 1e3 + 0.5) +
                                         (int64_t)(an.step_seconds * 1e3 +
                                                   (an.step_seconds >= 0 ? 0.5 : -0.5)),
                                 span_ms);
                /* report's buckets from the same model */
                assert_int_equal(analyzer_buckets(s.a, BY_HOUR, &b, &nb), 0);
                for (size_t i = 0; i < nb; i++) {
                        so += b[i].observed_seconds;
                        su += b[i].gap_seconds;
                }
                free(b);
                if (fabs(so - an.observed_seconds) > 2e-3 || fabs(su - an.gap_seconds) > 2e-3)
                        fail_msg("seed %llu: buckets %.6f + %.6f, totals %.6f + %.6f",
                                 (unsigned long long)seed, so, su, an.observed_seconds,
                                 an.gap_seconds);
                assert_int_equal(analyzer_buckets(s.a, BY_GPU, &b, &nb), 0);
                assert_int_equal(nb, an.gpu_count);
                for (size_t i = 0; i < nb; i++) {
                        assert_string_equal(b[i].gpu_uuid, an.gpus[i].uuid);
                        assert_true(b[i].gap_seconds == (double)an.gpus[i].gap_ms / 1e3);
                        assert_true(b[i].observed_seconds == (double)an.gpus[i].observed_ms / 1e3);
                        assert_true(b[i].hidden_gpu_seconds == an.gpus[i].hidden_gpu_seconds);
                }
                free(b);
                analysis_free(&an);
                analyzer_free(s.a);
                sim_free(&s);
        }
}

/* ---- report rendering ---- */

static void make_report_data(struct sim *s, struct analysis *an) {
        sim_init(s, new_an(0, 0, 0), 2, 60, (T_2026_11_26_12 - 1800) * SEC);
        s->load[0] = 1.0;
        s->load[1] = 0.5;
        sim_start(s);
        sim_run(s, 2700 * SEC);
        sim_stop(s);
        sim_down(s, 300 * SEC);
        sim_start(s);
        sim_run(s, 600 * SEC);
        sim_stop(s);
        assert_int_equal(analyzer_finish(s->a, an), 0);
}

/* Renders into a malloc'd string. */
static char *render(struct analyzer *a, const struct analysis *an, enum report_by by,
                    enum report_format fmt) {
        struct bucket *b;
        size_t n, len = 0;
        char *buf = NULL;
        FILE *f = open_memstream(&buf, &len);

        assert_non_null(f);
        assert_int_equal(analyzer_buckets(a, by, &b, &n), 0);
        assert_int_equal(report_write(f, an, b, n, by, fmt), 0);
        fclose(f);
        free(b);
        return buf;
}

/* The "buckets" array of a report source object (proto/JSON.md). */
static json_t *render_buckets(struct analyzer *a, enum report_by by) {
        struct bucket *b;
        size_t n;
        json_t *arr;

        assert_int_equal(analyzer_buckets(a, by, &b, &n), 0);
        arr = report_buckets_json(b, n, by);
        free(b);
        assert_non_null(arr);
        /* round trip through text, as a reader gets it */
        char *txt = json_dumps(arr, JSON_PRESERVE_ORDER);
        json_decref(arr);
        assert_non_null(txt);
        json_error_t err;
        arr = json_loads(txt, 0, &err);
        free(txt);
        assert_non_null(arr);
        return arr;
}

static void test_report_json(void **state) {
        struct sim s;
        struct analysis an;
        json_t *bk;
        (void)state;

        make_report_data(&s, &an);
        /* the JSON document is json_out.c's: report_write renders no JSON */
        {
                struct bucket *b;
                size_t n;
                FILE *f = fopen("/dev/null", "w");
                assert_non_null(f);
                assert_int_equal(analyzer_buckets(s.a, BY_HOUR, &b, &n), 0);
                assert_int_equal(report_write(f, &an, b, n, BY_HOUR, FMT_JSON), -EINVAL);
                fclose(f);
                free(b);
        }
        bk = render_buckets(s.a, BY_HOUR);
        assert_int_equal(json_array_size(bk), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(bk, 0), "start")),
                            "2026-11-26T11:00:00.000Z");
        assert_string_equal(json_string_value(json_object_get(json_array_get(bk, 1), "start")),
                            "2026-11-26T12:00:00.000Z");
        assert_near(json_real_value(json_object_get(json_array_get(bk, 0), "busy_gpu_hours")), 0.75,
                    1e-12);
        assert_near(json_real_value(json_object_get(json_array_get(bk, 0), "busy_gpu_hours")) +
                            json_real_value(json_object_get(json_array_get(bk, 1),
                                                            "busy_gpu_hours")),
                    3300.0 * 1.5 / 3600, 1e-12);
        assert_near(json_real_value(json_object_get(json_array_get(bk, 1), "gap_seconds")), 300,
                    1e-12);
        assert_near(json_real_value(json_object_get(json_array_get(bk, 1), "unobserved_seconds")),
                    300, 1e-12);
        /* 12:00..12:30: 15 min observed, 5 min down, 10 min observed */
        assert_near(json_real_value(json_object_get(json_array_get(bk, 1), "coverage_pct")),
                    100.0 * 1500 / 1800, 1e-12);
        assert_null(json_object_get(json_array_get(bk, 0), "gpu"));
        assert_null(json_object_get(json_array_get(bk, 0), "hidden_gpu_seconds"));
        json_decref(bk);

        bk = render_buckets(s.a, BY_GPU);
        assert_int_equal(json_array_size(bk), 2);
        assert_string_equal(json_string_value(json_object_get(json_array_get(bk, 1), "gpu")),
                            "GPU-00000000-0000-0000-0000-000000000001");
        assert_near(json_real_value(json_object_get(json_array_get(bk, 1), "busy_gpu_hours")),
                    3300.0 * 0.5 / 3600, 1e-12);
        assert_non_null(json_object_get(json_array_get(bk, 1), "hidden_gpu_seconds"));
        json_decref(bk);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

static size_t count_lines(const char *s) {
        size_t n = 0;
        for (; *s; s++)
                n += *s == '\n';
        return n;
}

static void test_report_csv_table(void **state) {
        struct sim s;
        struct analysis an;
        char *out, *line, *save = NULL;
        size_t width = 0;
        (void)state;

        make_report_data(&s, &an);
        out = render(s.a, &an, BY_HOUR, FMT_CSV);
        assert_int_equal(count_lines(out), 3);
        assert_non_null(strstr(out, "start,end,busy_gpu_hours,occupied_gpu_hours,energy_kwh,"
                                    "coverage_pct,gap_seconds\r\n"));
        assert_non_null(strstr(out, "2026-11-26T11:00:00Z,2026-11-26T12:00:00Z,0.750000,"
                                    "1.000000,"));
        assert_non_null(strstr(out, ",300.000\r\n"));
        free(out);
        out = render(s.a, &an, BY_GPU, FMT_CSV);
        assert_true(strncmp(out, "gpu,start,end,", 14) == 0);
        assert_non_null(strstr(out, "\r\nGPU-00000000-0000-0000-0000-000000000000,"
                                    "2026-11-26T11:30:00Z,2026-11-26T12:30:00Z,0.916667,"));
        free(out);

        out = render(s.a, &an, BY_DAY, FMT_TABLE);
        assert_int_equal(count_lines(out), 3); /* header, one day, total */
        assert_true(strncmp(out, "start (UTC)", 11) == 0);
        assert_non_null(strstr(out, "\ntotal "));
        assert_non_null(strstr(out, "2026-11-26T00:00:00Z"));
        for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                if (!width)
                        width = strlen(line);
                assert_int_equal(strlen(line), width); /* aligned columns */
        }
        free(out);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/* Hostile UUIDs: CSV quoting and formula neutralisation. */
static void test_report_csv_hostile(void **state) {
        struct bucket b[2] = {{0}};
        struct analysis an = {0};
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        (void)state;

        assert_non_null(f);
        snprintf(b[0].gpu_uuid, sizeof(b[0].gpu_uuid), "=HYPERLINK(\"x\")");
        snprintf(b[1].gpu_uuid, sizeof(b[1].gpu_uuid), "a,b");
        assert_int_equal(report_write(f, &an, b, 2, BY_GPU, FMT_CSV), 0);
        fclose(f);
        assert_non_null(strstr(buf, "\r\n\"'=HYPERLINK(\"\"x\"\")\",1970-01-01T00:00:00Z,"));
        assert_non_null(strstr(buf, "\r\n\"a,b\","));
        free(buf);
}

static void test_time_iso(void **state) {
        char buf[40];
        (void)state;

        report_time_iso(0, buf, sizeof(buf));
        assert_string_equal(buf, "1970-01-01T00:00:00Z");
        report_time_iso(1709212455ull * SEC + 7 * MS, buf, sizeof(buf));
        assert_string_equal(buf, "2024-02-29T13:14:15.007Z");
        report_time_iso(T_2026_02_01 * SEC - 1, buf, sizeof(buf));
        assert_string_equal(buf, "2026-01-31T23:59:59.999Z");
        report_time_iso(0, buf, 5);
        assert_string_equal(buf, "1970");
        enum report_by by;
        enum report_format fmt;
        assert_true(report_by_from_name("month", &by) && by == BY_MONTH);
        assert_false(report_by_from_name("week", &by));
        assert_true(report_format_from_name("csv", &fmt) && fmt == FMT_CSV);
        assert_string_equal(report_by_name(BY_GPU), "gpu");
}

static void test_misuse(void **state) {
        struct analyzer *a = new_an(0, 0, 0);
        struct analysis an;
        struct bucket *b;
        size_t n;
        (void)state;

        assert_int_equal(analyzer_buckets(a, BY_HOUR, &b, &n), -EINVAL);
        assert_int_equal(analyzer_finish(a, &an), 0); /* empty ledger */
        assert_int_equal(an.nfindings, 0);
        assert_int_equal(an.interval_ms, 0);
        assert_int_equal(analyzer_buckets(a, BY_HOUR, &b, &n), 0);
        assert_int_equal(n, 0);
        analysis_free(&an);
        analyzer_free(a);
        analyzer_free(NULL);
        analysis_free(NULL);

        /* a 100-year interval by hour is refused, by month it is fine */
        a = new_an(T_2026_11_26_12 * SEC, (T_2026_11_26_12 + 100ull * 366 * 86400) * SEC, 0);
        assert_int_equal(analyzer_finish(a, &an), 0);
        assert_int_equal(an.gap_seconds, 100.0 * 366 * 86400);
        assert_int_equal(count_kind(&an, FIND_TIME_GAP), 1);
        assert_int_equal(analyzer_buckets(a, BY_HOUR, &b, &n), -E2BIG);
        assert_int_equal(analyzer_buckets(a, BY_MONTH, &b, &n), 0);
        assert_int_equal(n, 1204); /* 2026-11 .. 2127-02 */
        free(b);
        analysis_free(&an);
        analyzer_free(a);
}

/* The nth finding of kind k (time order); fails the test when there is none. */
static const struct finding *nth_kind(const struct analysis *an, enum finding_kind k, size_t nth) {
        static const struct finding none;

        for (size_t i = 0; i < an->nfindings; i++)
                if (an->findings[i].kind == k && nth-- == 0)
                        return &an->findings[i];
        fail_msg("no %s finding #%zu", finding_kind_name(k), nth);
        return &none;
}

#define UUID1 "GPU-00000000-0000-0000-0000-000000000001"

/*
 * GPU 1 in MIG mode (GPU_UTIL_UNSUPPORTED) for 300 s, measured for 120 s,
 * unmeasured again for 120 s; GPU 0 at 50 % throughout. START is leaf 0,
 * the nine summaries leaves 1..9, STOP leaf 10.
 */
static void mig_ledger(struct analyzer *a) {
        struct sim s;

        sim_init(&s, a, 2, 60, (T_2026_11_26_12)*SEC);
        s.load[0] = 0.5;
        s.load[1] = 1.0;
        s.sum_flags[1] = GPU_UTIL_UNSUPPORTED;
        sim_start(&s);
        sim_run(&s, 300 * SEC);
        s.sum_flags[1] = 0;
        sim_run(&s, 120 * SEC);
        s.sum_flags[1] = GPU_UTIL_UNSUPPORTED;
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(s.leaf, 11);
        sim_free(&s);
}

/* Unmeasured busy time is an UNMEASURED finding, never a silent zero. */
static void test_unmeasured_busy(void **state) {
        struct analyzer *a;
        struct analysis an;
        const struct finding *f;
        const uint64_t T = T_2026_11_26_12 * SEC;
        (void)state;

        a = new_an(0, 0, 0);
        mig_ledger(a);
        assert_int_equal(analyzer_finish(a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_UNMEASURED), 2);
        f = nth_kind(&an, FIND_UNMEASURED, 0);
        assert_int_equal(f->severity, SEV_WARNING);
        assert_true(f->has_time && f->has_leaves);
        assert_false(f->has_energy);
        assert_int_equal(f->start_ns, T);
        assert_int_equal(f->end_ns, T + 300 * SEC);
        assert_int_equal(f->duration_ns, 300 * SEC);
        assert_int_equal(f->first_leaf, 1);
        assert_int_equal(f->last_leaf, 5);
        assert_string_equal(f->detail, UUID1 ": busy time not measured (GPU_UTIL_UNSUPPORTED, "
                                             "e.g. MIG mode) for 300.000 s; GPU-hours exclude it");
        f = nth_kind(&an, FIND_UNMEASURED, 1);
        assert_int_equal(f->start_ns, T + 420 * SEC);
        assert_int_equal(f->end_ns, T + 540 * SEC);
        assert_int_equal(f->duration_ns, 120 * SEC);
        assert_int_equal(f->first_leaf, 8);
        assert_int_equal(f->last_leaf, 9);
        assert_non_null(strstr(f->detail, "for 120.000 s;"));
        /* busy: GPU 0 0.5 x 540 s, GPU 1 only its 120 measured s */
        assert_near(an.busy_gpu_seconds, 390.0, 0);
        assert_near(an.unmeasured_busy_gpu_seconds, 420.0, 0);
        assert_near(an.gpus[1].busy_seconds, 120.0, 0);
        assert_int_equal(an.gpus[1].observed_ms, 540000); /* observed, just not its busy time */
        assert_near(an.occupied_gpu_seconds, 1080.0, 0);
        assert_int_equal(analysis_max_severity(&an), SEV_WARNING);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(a);

        /* clipped to [T + 120, T + 480): 180 s and 60 s */
        a = new_an(T + 120 * SEC, T + 480 * SEC, 0);
        mig_ledger(a);
        assert_int_equal(analyzer_finish(a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_UNMEASURED), 2);
        f = nth_kind(&an, FIND_UNMEASURED, 0);
        assert_int_equal(f->start_ns, T + 120 * SEC);
        assert_int_equal(f->end_ns, T + 300 * SEC);
        assert_int_equal(f->duration_ns, 180 * SEC);
        assert_non_null(strstr(f->detail, "for 180.000 s;"));
        f = nth_kind(&an, FIND_UNMEASURED, 1);
        assert_int_equal(f->start_ns, T + 420 * SEC);
        assert_int_equal(f->end_ns, T + 480 * SEC);
        assert_int_equal(f->duration_ns, 60 * SEC);
        assert_near(an.unmeasured_busy_gpu_seconds, 240.0, 0);
        assert_near(an.busy_gpu_seconds, 300.0, 0); /* 0.5 x 360 + 120 */
        analysis_free(&an);
        analyzer_free(a);

        /* an interval that misses both runs: no UNMEASURED */
        a = new_an(T + 310 * SEC, T + 410 * SEC, 0);
        mig_ledger(a);
        assert_int_equal(analyzer_finish(a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_UNMEASURED), 0);
        assert_near(an.unmeasured_busy_gpu_seconds, 0.0, 0);
        analysis_free(&an);
        analyzer_free(a);
}

/*
 * Runs end where the unmeasured set changes or the GPU is absent; occupied
 * time and energy (without FROM_POWER) count as unmeasured too; energy from
 * power is measured.
 */
static void test_unmeasured_sets(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        const uint64_t T = T_2026_11_26_12 * SEC;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 60, T);
        s.load[0] = 1.0; /* 700 W */
        sim_start(&s);
        s.sum_flags[0] = GPU_UTIL_UNSUPPORTED;
        sim_run(&s, 120 * SEC); /* leaves 1, 2 */
        s.present = 0;
        sim_run(&s, 60 * SEC); /* leaf 3: the GPU is absent */
        s.present = 1;
        sim_run(&s, 60 * SEC); /* leaf 4 */
        s.sum_flags[0] = GPU_UTIL_UNSUPPORTED | GPU_PROCS_UNSUPPORTED;
        sim_run(&s, 60 * SEC); /* leaf 5 */
        s.sum_flags[0] = GPU_ENERGY_UNSUPPORTED;
        sim_run(&s, 60 * SEC); /* leaf 6 */
        s.sum_flags[0] = GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER;
        sim_run(&s, 60 * SEC); /* leaf 7 */
        sim_stop(&s);
        assert_int_equal(s.leaf, 9);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_UNMEASURED), 4);
        f = nth_kind(&an, FIND_UNMEASURED, 0);
        assert_int_equal(f->start_ns, T);
        assert_int_equal(f->end_ns, T + 120 * SEC);
        assert_int_equal(f->duration_ns, 120 * SEC);
        assert_int_equal(f->first_leaf, 1);
        assert_int_equal(f->last_leaf, 2);
        f = nth_kind(&an, FIND_UNMEASURED, 1);
        assert_int_equal(f->start_ns, T + 180 * SEC);
        assert_int_equal(f->end_ns, T + 240 * SEC);
        assert_int_equal(f->first_leaf, 4);
        assert_int_equal(f->last_leaf, 4);
        assert_non_null(strstr(f->detail, ": busy time not measured"));
        f = nth_kind(&an, FIND_UNMEASURED, 2);
        assert_int_equal(f->start_ns, T + 240 * SEC);
        assert_int_equal(f->end_ns, T + 300 * SEC);
        assert_int_equal(f->first_leaf, 5);
        assert_int_equal(f->last_leaf, 5);
        assert_string_equal(f->detail,
                            "GPU-00000000-0000-0000-0000-000000000000: busy and occupied time not "
                            "measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode; GPU_PROCS_UNSUPPORTED) "
                            "for 60.000 s; the totals exclude them");
        f = nth_kind(&an, FIND_UNMEASURED, 3);
        assert_int_equal(f->start_ns, T + 300 * SEC);
        assert_int_equal(f->end_ns, T + 360 * SEC);
        assert_int_equal(f->first_leaf, 6);
        assert_int_equal(f->last_leaf, 6);
        assert_string_equal(f->detail,
                            "GPU-00000000-0000-0000-0000-000000000000: energy not measured "
                            "(GPU_ENERGY_UNSUPPORTED, no power integral) for 60.000 s; the energy "
                            "total excludes it");
        /* energy: counter windows 1, 2, 4, 5 and the power integral of 7, at 700 W */
        assert_near(an.energy_joules, 5 * 42000.0, 1e-9);
        assert_near(an.occupied_gpu_seconds, 300.0, 0);        /* leaves 1, 2, 4, 6, 7 */
        assert_near(an.busy_gpu_seconds, 120.0, 0);            /* leaves 6, 7 */
        assert_near(an.unmeasured_busy_gpu_seconds, 240.0, 0); /* leaves 1, 2, 4, 5 */
        assert_int_equal(an.gpus[0].gap_ms, 60000);            /* absent from leaf 3 */
        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), 0);
        check_identity(&an);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/*
 * The ledger's first START: the counter holds energy since driver load.
 * 2 GPUs each 100 s at 100 % before the daemon was installed: 2 x 64,000 J
 * beyond idle, 2 x 64,000 / (200 - 60) = 914.3 GPU-seconds at H100's minimum
 * power limit, over [START - boot, START].
 */
static void test_energy_before_ledger(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        const uint64_t T = T_2026_11_26_12 * SEC;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 2, 60, T);
        s.counter_mj[0] += 640.0 * 100 * 1000;
        s.counter_mj[1] += 640.0 * 100 * 1000;
        sim_start(&s);
        history(&s);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), 1);
        f = find_kind(&an, FIND_ENERGY_UNACCOUNTED);
        assert_int_equal(f->severity, SEV_WARNING);
        assert_true(f->has_energy);
        assert_near(f->energy_joules, 128000.0, 1e-6);
        assert_near(f->gpu_seconds, 128000.0 / 140.0, 1e-6);
        assert_int_equal(f->start_ns, T - 5000 * SEC); /* driver load */
        assert_int_equal(f->end_ns, T);
        assert_int_equal(f->first_leaf, 0);
        assert_int_equal(f->last_leaf, 0);
        assert_string_equal(f->detail, "128000 J beyond idle on 2 GPU(s) in 5000.000 s without "
                                       "records before the ledger began (since driver load): "
                                       "up to 914.3 GPU-seconds of work");
        assert_int_equal(count_kind(&an, FIND_RESTART_CLEAN) + count_kind(&an, FIND_REBOOT), 0);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

/*
 * Energy integrated from power (GPU_ENERGY_UNSUPPORTED | FROM_POWER) counts
 * in the totals and in the idle/marginal estimates. The GPU idles at 100 W
 * and draws 600 W at 100 %; its counter (read at START) holds 100 W since
 * driver load plus 100 s at 100 % before the ledger: 50,000 J above its
 * real idle (the declared 60 W idle and 200 W minimum power limit say
 * 250,000 J, 1785.7 GPU-s).
 */
static void test_energy_from_power(void **state) {
        struct sim s;
        struct analysis an;
        const struct finding *f;
        const uint64_t T = T_2026_11_26_12 * SEC;
        (void)state;

        sim_init(&s, new_an(0, 0, 0), 1, 60, T);
        s.idle_w[0] = 100.0;
        s.marg_w[0] = 500.0;
        s.counter_mj[0] = (100.0 * 5000 + 500.0 * 100) * 1000;
        s.sum_flags[0] = GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER;
        sim_start(&s);
        history(&s); /* 600 s idle, 600 s at 100 % */
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);

        assert_near(an.energy_joules, 100.0 * 600 + 600.0 * 600, 1e-9);
        assert_near(an.gpus[0].energy_joules, 420000.0, 1e-9);
        assert_int_equal(count_kind(&an, FIND_UNMEASURED), 0);
        assert_near(an.unmeasured_busy_gpu_seconds, 0.0, 0);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), 0);
        /*
         * Declared powers (H100: 60 W idle, 700 W full), never learned from
         * the node's data: this GPU's real idle of 100 W only makes the
         * bound larger (550 kJ - 60 W x 5000 s = 250 kJ, / (200 - 60) W).
         */
        f = find_kind(&an, FIND_ENERGY_UNACCOUNTED);
        assert_near(f->energy_joules, 250000.0, 1e-6);
        assert_near(f->gpu_seconds, 250000.0 / 140.0, 1e-6);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);

        /*
         * No counter at all (ENERGY_UNSUPPORTED at START, power integral in the
         * summaries): 10 s at 100 % while down is invisible, and no power
         * integral may stand in for a counter reading.
         */
        sim_init(&s, new_an(0, 0, 0), 1, 60, T);
        s.inv_flags[0] = GPU_ENERGY_UNSUPPORTED;
        s.sum_flags[0] = GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER;
        sim_start(&s);
        history(&s);
        sim_stop(&s);
        sim_down(&s, 10 * SEC);
        sim_start(&s);
        sim_run(&s, 120 * SEC);
        sim_stop(&s);
        assert_int_equal(analyzer_finish(s.a, &an), 0);
        assert_int_equal(count_kind(&an, FIND_ENERGY_UNACCOUNTED), 0);
        assert_int_equal(count_kind(&an, FIND_COUNTER_RESET), 0);
        assert_int_equal(count_kind(&an, FIND_UNMEASURED), 0);
        assert_near(an.energy_joules, 60.0 * 600 + 700.0 * 600 + 700.0 * 120, 1e-9);
        analysis_free(&an);
        analyzer_free(s.a);
        sim_free(&s);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_clean_run),
                cmocka_unit_test(test_stop_restart),
                cmocka_unit_test(test_crash),
                cmocka_unit_test(test_energy_same_boot),
                cmocka_unit_test(test_reboot_energy),
                cmocka_unit_test(test_energy_defaults),
                cmocka_unit_test(test_energy_idle_floor),
                cmocka_unit_test(test_counter_epoch),
                cmocka_unit_test(test_energy_used_short),
                cmocka_unit_test(test_clock_step_forward),
                cmocka_unit_test(test_clock_step_backward),
                cmocka_unit_test(test_clock_step_unrecorded),
                cmocka_unit_test(test_step_while_down),
                cmocka_unit_test(test_since_until),
                cmocka_unit_test(test_partial_period),
                cmocka_unit_test(test_counter_reset),
                cmocka_unit_test(test_gpu_set_changed),
                cmocka_unit_test(test_gpu_absent),
                cmocka_unit_test(test_stale),
                cmocka_unit_test(test_repay_capacity),
                cmocka_unit_test(test_clock_ahead),
                cmocka_unit_test(test_pieces_cap),
                cmocka_unit_test(test_overlap),
                cmocka_unit_test(test_buckets),
                cmocka_unit_test(test_property),
                cmocka_unit_test(test_property_sound),
                cmocka_unit_test(test_report_json),
                cmocka_unit_test(test_report_csv_table),
                cmocka_unit_test(test_report_csv_hostile),
                cmocka_unit_test(test_time_iso),
                cmocka_unit_test(test_misuse),
                cmocka_unit_test(test_unmeasured_busy),
                cmocka_unit_test(test_unmeasured_sets),
                cmocka_unit_test(test_energy_before_ledger),
                cmocka_unit_test(test_energy_from_power),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
