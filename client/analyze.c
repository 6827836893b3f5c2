/* SPDX-License-Identifier: MIT */
/*
 * Evidence analysis, timeline and coverage module: verified, decoded records (leaf order) ->
 * totals, coverage, findings and per-bucket GPU-hours. Pure: no I/O, no clock.
 *
 * Rules (proto/ANALYSIS.md; rationale in docs/DESIGN.md "Findings"), as implemented here:
 *
 * Interval. The audited interval is [since, until) in wall time; without
 *   since/until it runs from the earliest summary window start to the latest
 *   window end. With now_ns (online) the end still is the last window end:
 *   STALE reports the rest. Windows and gaps that straddle since/until are
 *   clipped proportionally (the content is taken as uniform in the window).
 *
 * Timeline. Every summary window is an observed segment, every hole between
 *   consecutive windows (leaf order) a gap segment. Within one boot_id a
 *   length is measured in BOOT time (CLOCK_BOOTTIME never jumps): a window is
 *   obs_end_boot - obs_start_boot long, a gap is the boot delta between the
 *   two windows. Across a reboot only wall time exists. Segments keep their
 *   wall bounds for clipping, buckets and finding bounds. The interval's
 *   elapsed length (analysis.interval_ms) is the sum of its segments, so it is
 *   last_ns - first_ns exactly unless the wall clock stepped.
 *
 * Coverage identity. Per GPU and for the node, observed + gap == interval,
 *   to the ms. A GPU counts as observed for a whole window when it is in the
 *   summary with observed_ms within 2 sample intervals + 1 ms of the window,
 *   else for its observed_ms; the rest of the window, and every window it is
 *   absent from, is gap for that GPU. Windows that overlap in boot time (a
 *   correct daemon never writes them) are counted once (their union): the
 *   later window is trimmed and its content scaled down; this raises
 *   CLOCK_STEP "overlapping windows".
 *
 * TIME_GAP (warning): every gap segment of >= 1 ms inside the interval,
 *   including before the first / after the last window when since / until
 *   reach beyond them. Bounds in wall time (clipped), duration_ns = length.
 *   Shorter gaps still count in gap time.
 *
 * CLOCK_STEP (warning): every CLOCK_STEP record; and, within one boot, wall
 *   delta and boot delta between adjacent windows (or across one window)
 *   differing by more than max(1 s, 2 sample intervals) with no CLOCK_STEP
 *   record since the previous summary; and the wall clock going back across
 *   a reboot. A step is never a gap (gap lengths use boot time).
 *
 * RESTART_CLEAN (info): a START right after a STOP. RESTART_UNCLEAN
 *   (warning): any other START that is not the first record. REBOOT (info):
 *   a record whose boot_id differs from the previous record's.
 *
 * PARTIAL_PERIOD (info): one per summary flagged SUMMARY_PARTIAL, with its
 *   window (the unobserved rest shows up as TIME_GAP).
 *
 * COUNTER_RESET (warning): a summary with GPU_COUNTER_RESET on any GPU, or a
 *   START/INVENTORY (same boot) where a GPU's counter is lower than the last
 *   reading of it (summary end, START or INVENTORY), or (version 2) whose
 *   counter_epoch differs from the GPU's last version 2 entry in that boot
 *   (both non-zero). One finding per record.
 *
 * GPU_SET_CHANGED (warning): every INVENTORY record, and a START whose UUID
 *   set differs from the previous START/INVENTORY's. Also raised once if the
 *   ledger names more than RECORD_MAX_GPUS distinct GPUs (the per-GPU table is
 *   then incomplete; node totals still include every GPU).
 *
 * STALE (warning, only with now_ns): now - end of the last summary window
 *   (leaf order; the last record's time if there is no summary) is more than
 *   2 x period + 30 s, period from the last START (300 s without one).
 *
 * ENERGY_UNACCOUNTED (warning): at every START, per GPU with an energy
 *   counter (not GPU_ENERGY_UNSUPPORTED at START): same boot as the GPU's
 *   last counter reading: delta = counter at START - last reading, over the
 *   boot time between them; if the counter went back (COUNTER_RESET) the
 *   delta is the START's counter (a lower bound). After a reboot (or when the
 *   last reading is from another boot), and at the ledger's first START (the
 *   first record; NVML's counter counts mJ since the driver loaded, so it
 *   holds the energy used before the daemon ever ran on this boot): delta =
 *   counter at START over the START's boot_ns (driver load to START), bounds
 *   [START.wall - START.boot, START.wall]; the detail says "before the ledger
 *   began (since driver load)" or "after a reboot". Any other GPU never read
 *   before in this boot is skipped. joules and gpu_seconds as for a gap
 *   (hidden_from_energy, ANALYSIS.md 6): the energy above the idle floor,
 *   counted as busy time at the model's minimum power limit (declared
 *   powers, never learned from the windows). One finding per START,
 *   summed over GPUs, when gpu_seconds >= 1.
 *
 * Energy from power. A summary GPU entry flagged GPU_ENERGY_UNSUPPORTED |
 *   GPU_ENERGY_FROM_POWER carries energy_used_mj integrated from power samples
 *   by the daemon: it counts in the energy totals and feeds the idle/marginal
 *   estimates, but it is no counter (energy_start/end are 0): it never becomes
 *   a counter reading for COUNTER_RESET or ENERGY_UNACCOUNTED deltas.
 *
 * UNMEASURED (warning): a summary GPU entry flagged GPU_UTIL_UNSUPPORTED
 *   (busy), GPU_PROCS_UNSUPPORTED (occupied) or GPU_ENERGY_UNSUPPORTED without
 *   GPU_ENERGY_FROM_POWER (energy) contributes nothing to that total: no
 *   value, not a zero. One finding per GPU per maximal run of consecutive
 *   summary records (leaf order, summaries only) in which the GPU is present
 *   with the same non-empty unmeasured set; a summary without the GPU, or with
 *   another set, ends the run. Bounds: the run's first window start to last
 *   window end, clipped to the interval; duration_ns ("seconds") = the GPU's
 *   counted observed time in the run inside the interval (raised when >= 1
 *   ms); leaves: the run's first and last summary. GPUs beyond the GPU table
 *   get one finding per window. analysis.unmeasured_busy_gpu_seconds sums the
 *   counted observed time of every GPU entry with busy unmeasured.
 *
 * Leaf ranges: the records bounding each finding. With since/until set,
 *   findings wholly outside the interval are dropped (STALE never is). At most
 *   ANALYZE_FINDINGS_MAX findings are kept; the rest are summarised, one
 *   finding per kind, so that the highest severity survives.
 *
 * Memory: per window 48 bytes (what time buckets need), per gap 24; per-GPU
 *   totals are accumulated as records arrive. O(n) time.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "analyze-internal.h"

/* Table index for uuid, adding it if new; GPU_NONE beyond RECORD_MAX_GPUS. */
uint8_t gpu_index(struct analyzer *a, const char *uuid, size_t pos, uint64_t leaf, uint64_t wall) {
        uint8_t c = pos < RECORD_MAX_GPUS ? a->poscache[pos] : GPU_NONE;

        if (c < a->ngpus && uuid_eq(a->gpus[c].uuid, uuid))
                return c;
        for (size_t i = 0; i < a->ngpus; i++)
                if (uuid_eq(a->gpus[i].uuid, uuid)) {
                        if (pos < RECORD_MAX_GPUS)
                                a->poscache[pos] = (uint8_t)i;
                        return (uint8_t)i;
                }
        if (a->ngpus >= RECORD_MAX_GPUS) {
                if (!a->gpu_overflow_reported) {
                        struct finding f = finding_make(
                                FIND_GPU_SET_CHANGED,
                                "more than %u distinct GPUs in the ledger: the per-GPU table "
                                "omits the rest (node totals include them)",
                                RECORD_MAX_GPUS);
                        set_time(&f, wall, wall);
                        set_leaves(&f, leaf, leaf);
                        add_finding(a, &f);
                        a->gpu_overflow_reported = true;
                }
                return GPU_NONE;
        }
        memset(&a->gpus[a->ngpus], 0, sizeof(a->gpus[0]));
        copy_uuid(a->gpus[a->ngpus].uuid, uuid);
        if (pos < RECORD_MAX_GPUS)
                a->poscache[pos] = (uint8_t)a->ngpus;
        return (uint8_t)a->ngpus++;
}

struct analyzer *analyzer_new(const struct analyze_opts *o) {
        struct analyzer *a = calloc(1, sizeof(*a));

        if (!a)
                return NULL;
        if (o)
                a->o = *o;
        a->lo = a->o.since_ns;
        a->hi = a->o.until_ns ? a->o.until_ns : UINT64_MAX;
        a->period_s = DEFAULT_PERIOD_S;
        a->sample_ns = NS_PER_S;
        memset(a->poscache, GPU_NONE, sizeof(a->poscache));
        return a;
}

void analyzer_free(struct analyzer *a) {
        if (!a)
                return;
        free(a->wins);
        free(a->gaps);
        free(a->f);
        free(a->eg);
        free(a->ei);
        pl_free(a->plog);
        free(a);
}

void analysis_free(struct analysis *an) {
        if (!an)
                return;
        free(an->findings);
        an->findings = NULL;
        an->nfindings = 0;
}

uint64_t step_tolerance(const struct analyzer *a) {
        uint64_t two = a->sample_ns > UINT64_MAX / 2 ? UINT64_MAX : 2 * a->sample_ns;

        return u64_max(NS_PER_S, two);
}

/* One piece of unobserved time (ANALYSIS.md section 4). */
struct piece {
        const char *source, *what;
        uint64_t ws, we, len; /* wall span, length (ns, before clipping) */
        uint64_t cl;          /* the part inside the interval */
        uint64_t leaf0, leaf1;
        bool some; /* concerns only the GPUs in mask */
        uint64_t mask;
        double hidden_gs;          /* hidden-compute bound */
        bool from_energy;          /* part of it came from energy counters */
        double energy_gs, above_j; /* that part and its energy above idle */
        bool between;              /* lies between the last window's end and we (pieces) */
};

/* Store the piece's segment, count it and raise its TIME_GAP (and ENERGY_UNACCOUNTED). */
static void add_piece(struct analyzer *a, const struct piece *p, bool store_seg) {
        struct finding f;

        if (a->plog && strcmp(p->source, "in_window") != 0)
                pl_segment(a, p->source, p->ws, p->we, p->len, p->cl, p->between);
        if (p->len == 0 || a->err)
                return;
        if (store_seg) {
                if (grow(&a->gaps, &a->capgaps, a->ngaps + 1, sizeof(*a->gaps)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->gaps[a->ngaps++] = (struct seg){p->ws, p->we, p->len};
        }
        a->gap_ns += p->cl;
        a->hidden_gs += p->hidden_gs;
        if (p->cl < NS_PER_MS)
                return;
        f = finding_make(FIND_TIME_GAP, "%.3f s unobserved%s; up to %.1f GPU-seconds of work",
                         (double)p->cl / 1e9, p->what, p->hidden_gs);
        if (p->we > p->ws)
                set_time(&f, u64_max(p->ws, a->lo), u64_min(p->we, a->hi));
        else
                set_time(&f, p->ws, p->ws);
        f.duration_ns = p->cl;
        f.source = p->source;
        f.has_hidden = true;
        f.gpu_seconds = p->hidden_gs;
        f.has_gpus = p->some;
        f.gpu_mask = p->mask;
        if (p->from_energy) {
                f.has_energy = true;
                f.energy_joules = p->above_j;
        }
        set_leaves(&f, p->leaf0, p->leaf1);
        add_finding(a, &f);
        if (p->from_energy && p->energy_gs >= 1.0)
                rule_energy_unaccounted(a, &f, p->above_j, p->energy_gs);
}

/*
 * Worst case for a piece of cl ns: every GPU it concerns worked throughout.
 * A piece since the last window concerns every GPU of every set in force
 * since then (a GPU that left during the piece may have worked before it
 * left); GPUs beyond the table count by the current set.
 */
static double hidden_worst_case(struct analyzer *a, uint64_t cl, enum apiece_bound bound) {
        double sec = (double)cl / 1e9, sum = 0;

        for (size_t i = 0; i < a->ngpus; i++)
                if (a->since_win_mask & (1ull << i)) {
                        a->gpus[i].hidden_gs += sec;
                        sum += sec;
                        pl_gpu(a, &(struct pl_entry){.idx = (uint8_t)i,
                                                     .unobs_ns = cl,
                                                     .bound = (uint8_t)bound,
                                                     .hidden_s = sec,
                                                     .hidden_u_s = -1});
                }
        for (size_t k = 0; k < a->set_n; k++)
                if (a->set_idx[k] == GPU_NONE)
                        sum += sec;
        return sum;
}

/*
 * The summary entry of uuid, or NULL. The search starts at entry hint (where
 * the caller expects it: GPUs keep their places from record to record) and
 * wraps around; a record's UUIDs are distinct, so the hint only saves
 * comparisons and never changes the answer.
 */
static const struct gpu_summary *summary_gpu(const struct rec_summary *s, uint32_t n,
                                             const char *uuid, size_t hint) {
        for (uint32_t i = 0; i < n; i++) {
                size_t j = (hint + i) % n;
                if (uuid_eq(s->gpus[j].uuid, uuid))
                        return &s->gpus[j];
        }
        return NULL;
}

/*
 * Hidden compute between the previous window and summary s of the same boot
 * (piece p, clipped length p->cl, boot length p->len): from the energy
 * counters where they are continuous, else the worst case, per GPU of the set.
 */
static void hidden_between(struct analyzer *a, const struct record *r, uint32_t n,
                           struct piece *p) {
        const struct rec_summary *s = &r->u.summary;
        double cap = (double)p->cl / 1e9, len_s = (double)p->len / 1e9;
        double win_s = s->obs_end_boot_ns > s->obs_start_boot_ns
                               ? (double)(s->obs_end_boot_ns - s->obs_start_boot_ns) / 1e9
                               : 0;

        for (size_t k = 0; k < a->ngpus + a->set_n; k++) {
                /* table GPUs of the piece's sets, then set GPUs beyond the table */
                struct gpu_acc *g = k < a->ngpus ? &a->gpus[k] : NULL;
                const struct gpu_summary *e = g ? summary_gpu(s, n, g->uuid, k) : NULL;
                double b = cap, b_u = -1, above_b = 0;
                uint8_t bound = APB_NO_COUNTER;

                if (g ? !(a->since_win_mask & (1ull << k)) : a->set_idx[k - a->ngpus] != GPU_NONE)
                        continue;
                if (g && e && g->lw_counter && !g->lw_broken && g->lw_seq + 1 == a->nsummaries &&
                    memcmp(g->lw_boot_id, r->boot_id, 16) == 0 &&
                    !(e->flags & (GPU_ENERGY_UNSUPPORTED | GPU_COUNTER_RESET)) &&
                    e->energy_start_mj >= g->lw_end_mj) {
                        double above = 0, ab, e_win;
                        bool bad = false, bad2;
                        /*
                         * A daemon stopped right after a reading stamps it late, which
                         * moves energy of the gap into the next window: the window's
                         * energy beyond its own power maximum x time (all of it when
                         * power is not measured) counts with the gap (ANALYSIS.md 6).
                         */
                        double e_gap = (double)(e->energy_start_mj - g->lw_end_mj) / 1e3;
                        double l_e = len_s;
                        if (e->flags & GPU_POWER_UNSUPPORTED) {
                                e_win = (double)e->energy_used_mj / 1e3;
                                l_e += win_s;
                        } else {
                                e_win = (double)e->energy_used_mj / 1e3 -
                                        (double)e->power_max_mw / 1e3 * win_s;
                                if (e_win < 0)
                                        e_win = 0;
                        }
                        double eb = hidden_from_energy(g, e_gap + e_win, l_e, cap, &above, &bad2);
                        (void)hidden_from_energy(g, e_gap, len_s, cap, &ab, &bad);
                        if (bad)
                                rule_implausible(
                                        a, p->ws, p->we, p->leaf0, p->leaf1,
                                        "%s: %.0f J in %.3f s without records needs more than "
                                        "full load (%.0f W) the whole time",
                                        g->uuid, (double)(e->energy_start_mj - g->lw_end_mj) / 1e3,
                                        len_s, g->max_w);
                        if (eb >= 0 && a->plog) {
                                double x;
                                bool y;
                                b_u = hidden_from_energy(g, e_gap + e_win, l_e, len_s, &x, &y);
                                bound = eb > 0 ? APB_ENERGY : APB_ENERGY_IDLE;
                                above_b = above;
                        }
                        if (eb >= 0) {
                                b = eb;
                                p->from_energy = true;
                                p->energy_gs += eb;
                                p->above_j += above;
                        }
                }
                if (g) {
                        g->hidden_gs += b;
                        pl_gpu(a, &(struct pl_entry){.idx = (uint8_t)k,
                                                     .unobs_ns = p->cl,
                                                     .bound = bound,
                                                     .hidden_s = b,
                                                     .hidden_u_s = b_u,
                                                     .above_j = above_b});
                }
                p->hidden_gs += b;
        }
}

/* The clock offset judge (ANALYSIS.md 5): one reading (wall, boot) of boot_id. */
static void clock_reading(struct analyzer *a, const uint8_t boot_id[16], uint64_t wall,
                          uint64_t boot, uint64_t leaf) {
        int64_t off = (int64_t)wall - (int64_t)boot, drift, tol = (int64_t)step_tolerance(a);

        bool new_boot = !a->ck_valid || memcmp(a->ck_boot_id, boot_id, 16) != 0;

        if (new_boot) {
                a->ck_valid = true;
                memcpy(a->ck_boot_id, boot_id, 16);
                a->ck_off0 = off;
                a->ck_accounted = 0;
        } else {
                drift = off - a->ck_off0 - a->ck_accounted;
                if (drift > tol || drift < -tol) {
                        rule_clock_drift(a, a->ck_last_wall, wall, a->ck_last_leaf, leaf,
                                         (double)drift / 1e9);
                        a->ck_accounted += drift;
                }
        }
        a->ck_last_wall = wall;
        a->ck_last_leaf = leaf;
        if (!a->ah_have || wall > a->ah_wall) {
                a->ah_have = true;
                a->ah_wall = wall;
                a->ah_leaf = leaf;
        }
        pl_reading(a, new_boot, wall);
}

/* A CLOCK_STEP record: its step is accounted, then its header is a reading. */
static void clock_step_record(struct analyzer *a, const struct record *r, uint64_t leaf) {
        const struct rec_clock_step *c = &r->u.clock_step;
        int64_t step = ((int64_t)r->wall_ns - (int64_t)c->prev_wall_ns) -
                       ((int64_t)r->boot_ns - (int64_t)c->prev_boot_ns);

        rule_clock_step_record(a, r, leaf, (double)step / 1e9);
        if (a->ck_valid && memcmp(a->ck_boot_id, r->boot_id, 16) == 0) {
                a->ck_accounted += step;
                pl_reading(a, false, r->wall_ns);
        }
}

/* Across a reboot: [prev window end, ws) is at least the boot clocks' lower bound (4.4). */
static void reboot_piece(struct analyzer *a, uint64_t ws, uint64_t bs, uint64_t leaf,
                         const char *source, const char *what) {
        uint64_t tail = a->winboot_last_boot > a->win_be ? a->winboot_last_boot - a->win_be : 0;
        uint64_t lower = tail + bs;
        uint64_t wall_d = ws > a->win_we ? ws - a->win_we : 0;
        int64_t wall_signed = (int64_t)ws - (int64_t)a->win_we;
        struct piece p = {.source = source,
                          .what = what,
                          .leaf0 = a->win_leaf,
                          .leaf1 = leaf,
                          .between = true};

        p.ws = ws > a->win_we ? a->win_we : ws;
        p.we = ws;
        p.len = u64_max(wall_d, lower);
        if (wall_signed < (int64_t)lower &&
            (int64_t)lower - wall_signed > (int64_t)step_tolerance(a))
                rule_clock_drift(a, a->win_we, ws, a->win_leaf, leaf,
                                 (double)(wall_signed - (int64_t)lower) / 1e9);
        pl_reboot(a, wall_signed - (int64_t)u64_min(lower, INT64_MAX / 2));
        p.cl = clip_len(p.ws, p.we, p.len, a->lo, a->hi);
        p.hidden_gs = hidden_worst_case(a, p.cl, APB_NO_COUNTER);
        add_piece(a, &p, true);
}

/*
 * Seconds credited to one GPU entry of a window of boot length len
 * (ANALYSIS.md 4.2): the whole window when observed_ms and the samples are
 * within tolerance, else the smaller of observed_ms and the samples' time.
 */
static uint64_t gpu_credit(const struct analyzer *a, const struct rec_summary *s,
                           const struct gpu_summary *g, uint64_t len) {
        uint64_t gpu_tol = a->sample_ns * 2 + NS_PER_MS;
        uint64_t obs =
                g->observed_ms > UINT64_MAX / NS_PER_MS ? UINT64_MAX : g->observed_ms * NS_PER_MS;
        bool samples_ok = (uint64_t)s->samples_taken + 2 >= s->samples_expected;
        uint64_t by_samples = (uint64_t)s->samples_taken * a->sample_ns;

        if ((obs >= len || len - obs <= gpu_tol) && samples_ok)
                return len;
        obs = u64_min(obs, len);
        if (!samples_ok)
                obs = u64_min(obs, by_samples);
        return obs;
}

static void do_summary(struct analyzer *a, const struct record *r, uint64_t leaf) {
        const struct rec_summary *s = &r->u.summary;
        uint32_t n = s->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : s->gpu_count;
        uint64_t ws = s->obs_start_wall_ns, we = s->obs_end_wall_ns;
        uint64_t bs = s->obs_start_boot_ns, be = s->obs_end_boot_ns;
        uint64_t len = be > bs ? be - bs : 0, eff_len, eff_ws = ws, overlap = 0, cl;
        uint64_t short_node = 0, cl_gap, mask_short = 0, mask_set = 0;
        bool same_boot = a->have_win && memcmp(a->win_boot_id, r->boot_id, 16) == 0;
        bool set_whole_window;
        char list[160] = "";
        size_t nreset = 0, omitted = 0;
        double node_busy = 0, node_occ = 0, node_energy = 0, frac, hidden_in = 0;
        double above_in = 0, energy_gs_in = 0;
        bool energy_in = false;
        bool after_gap = false; /* a gap of this boot ends where this window starts */

        a->nsummaries++;
        rule_partial_period(a, s, len, leaf);
        if (be < bs)
                clock_step_finding(a, ws, we, leaf, leaf,
                                   "window ends %.3f s before it starts (boot time)",
                                   diff_s(bs, be));
        pl_before_summary(a);
        if (!a->steps_since_win)
                clock_reading(a, r->boot_id, ws, bs, leaf);
        clock_reading(a, r->boot_id, we, be, leaf);

        /* Relation to the previous window. */
        if (a->have_win && same_boot) {
                if (bs + NS_PER_MS >= a->frontier_boot) {
                        struct piece p = {.source = a->start_since_win ? "restart"
                                                                       : "between_windows",
                                          .what = a->start_since_win ? " (daemon restarted)" : "",
                                          .ws = a->win_we,
                                          .we = ws,
                                          .len = bs > a->frontier_boot ? bs - a->frontier_boot : 0,
                                          .leaf0 = a->win_leaf,
                                          .leaf1 = leaf,
                                          .between = true};
                        if (p.len) {
                                p.cl = clip_len(p.ws, p.we, p.len, a->lo, a->hi);
                                hidden_between(a, r, n, &p);
                                add_piece(a, &p, true);
                                after_gap = p.len > a->sample_ns * 2 + NS_PER_MS;
                        }
                        if (bs < a->frontier_boot)
                                overlap = a->frontier_boot - bs;
                } else {
                        overlap = a->frontier_boot - bs;
                        rule_implausible(a, ws, u64_min(we, ws + overlap), a->win_leaf, leaf,
                                         "the boot clock ran backwards: window starts %.3f s "
                                         "before the previous window of the same boot ends "
                                         "(overlap counted once)",
                                         (double)overlap / 1e9);
                }
        } else if (a->have_win) {
                reboot_piece(a, ws, bs, leaf, "reboot", " (across a reboot)");
        }

        /* The window's effective part (union with earlier ones) and its clip. */
        overlap = u64_min(overlap, len);
        eff_len = len - overlap;
        if (overlap && we > ws)
                eff_ws = ws + u64_min(overlap, we - ws);
        cl = clip_len(eff_ws, we, eff_len, a->lo, a->hi);
        frac = len ? (double)cl / (double)len : 0.0; /* share of the raw window counted */

        /* The set in force for the whole window must be the summary's (B6). */
        set_whole_window = a->have_set && memcmp(a->set_boot_id, r->boot_id, 16) == 0 &&
                           a->set_boot_ns <= bs + a->sample_ns * 2 + NS_PER_MS;
        for (size_t k = 0; k < a->set_n; k++) {
                uint8_t idx = a->set_idx[k];
                if (idx != GPU_NONE)
                        mask_set |= 1ull << idx;
                if (summary_gpu(s, n, a->set_uuid[k], k))
                        continue;
                if (set_whole_window)
                        rule_implausible(a, ws, we, leaf, leaf,
                                         "summary omits GPU %s of the inventory (no inventory "
                                         "record says it left)",
                                         a->set_uuid[k]);
                short_node = eff_len;
                if (idx != GPU_NONE) {
                        mask_short |= 1ull << idx;
                        a->gpus[idx].hidden_gs += (double)cl / 1e9;
                        pl_gpu(a, &(struct pl_entry){.idx = idx,
                                                     .unobs_ns = cl,
                                                     .bound = APB_ABSENT,
                                                     .hidden_s = (double)cl / 1e9,
                                                     .hidden_u_s = -1});
                }
                hidden_in += (double)cl / 1e9;
        }

        for (uint32_t i = 0; i < n; i++) {
                const struct gpu_summary *g = &s->gpus[i];
                uint8_t idx = gpu_index(a, g->uuid, i, leaf, r->wall_ns);
                struct gpu_acc *acc = idx == GPU_NONE ? NULL : &a->gpus[idx];
                double busy = (double)g->busy_ms, occ = (double)g->occupied_ms;
                double energy = (double)g->energy_used_mj;
                /* energy integrated from power is a measurement, just not a counter */
                bool no_energy =
                        (g->flags & GPU_ENERGY_UNSUPPORTED) && !(g->flags & GPU_ENERGY_FROM_POWER);
                unsigned unm = 0;
                uint64_t credit = gpu_credit(a, s, g, len);
                uint64_t o_eff = scale_ns(credit, eff_len, len);
                uint64_t obs_add = scale_ns(o_eff, cl, eff_len); /* counted observed time */
                uint64_t short_clip = cl > obs_add ? cl - obs_add : 0;
                struct pl_entry pe = {
                        .idx = idx,
                        .obs_ns = obs_add,
                        .unobs_ns = short_clip,
                        .busy_measured = !(g->flags & GPU_UTIL_UNSUPPORTED),
                        .counter = !(g->flags & GPU_ENERGY_UNSUPPORTED),
                        .busy_ms = (g->flags & GPU_UTIL_UNSUPPORTED) ? 0 : (double)g->busy_ms * frac,
                        .energy_mj = no_energy ? 0 : (double)g->energy_used_mj * frac,
                        .bound = APB_OBSERVED};

                if (acc && !acc->inventoried)
                        rule_implausible(a, ws, we, leaf, leaf,
                                         "summary lists GPU %s that no start or inventory record "
                                         "names",
                                         acc->uuid);
                rule_gpu_plausible(a, r, g, len, credit == len && !after_gap, leaf);
                if (g->flags & GPU_UTIL_UNSUPPORTED) {
                        busy = 0;
                        unm |= UNM_BUSY;
                }
                if (g->flags & GPU_PROCS_UNSUPPORTED) {
                        occ = 0;
                        unm |= UNM_OCCUPIED;
                }
                if (no_energy) {
                        energy = 0;
                        unm |= UNM_ENERGY;
                }
                if (g->flags & GPU_COUNTER_RESET) {
                        list_append(list, sizeof(list), g->uuid, &omitted);
                        nreset++;
                }
                node_busy += busy * frac;
                node_occ += occ * frac;
                node_energy += energy * frac;
                if (eff_len - o_eff > short_node)
                        short_node = eff_len - o_eff;
                if (unm & UNM_BUSY)
                        a->unmeasured_busy_ns += obs_add;
                if (short_clip) {
                        /* in-window shortfall: bounded from the window's energy */
                        double b = (double)short_clip / 1e9, above = 0;
                        bool bad = false;
                        bool from_e = false;
                        /* a counter reset in the window loses energy: no bound from it */
                        if (acc && !(g->flags & (GPU_ENERGY_UNSUPPORTED | GPU_COUNTER_RESET))) {
                                /*
                                 * A counter's window energy is at least its end less its
                                 * start: a daemon that lost a read's delta from
                                 * energy_used_mj must not shrink the bound (ANALYSIS.md 6).
                                 */
                                uint64_t e_mj = g->energy_used_mj;
                                if (!(g->flags & GPU_ENERGY_FROM_POWER) &&
                                    g->energy_end_mj >= g->energy_start_mj &&
                                    g->energy_end_mj - g->energy_start_mj > e_mj)
                                        e_mj = g->energy_end_mj - g->energy_start_mj;
                                double eb = hidden_from_energy(acc, (double)e_mj / 1e3,
                                                               (double)len / 1e9, b, &above, &bad);
                                if (bad)
                                        rule_implausible(
                                                a, ws, we, leaf, leaf,
                                                "%s: %.0f J in a %.3f s window needs more than "
                                                "full load (%.0f W) the whole time",
                                                acc->uuid, (double)e_mj / 1e3,
                                                (double)len / 1e9, acc->max_w);
                                if (eb >= 0) {
                                        b = eb;
                                        from_e = true;
                                        energy_in = true;
                                        energy_gs_in += eb;
                                        above_in += above;
                                }
                        }
                        hidden_in += b;
                        pe.hidden_s = pe.hidden_u_s = b;
                        pe.above_j = from_e ? above : 0;
                        pe.bound = from_e ? (b > 0 ? APB_ENERGY : APB_ENERGY_IDLE) : APB_NO_COUNTER;
                        if (acc)
                                acc->hidden_gs += b;
                        if (idx != GPU_NONE)
                                mask_short |= 1ull << idx;
                }
                if (acc)
                        pl_gpu(a, &pe);
                if (!acc) {
                        /* beyond the GPU table: no run to extend, one finding per window */
                        unmeasured_finding(a, g->uuid, unm, eff_ws, we, obs_add, leaf, leaf);
                        continue;
                }
                acc->observed_ns += obs_add;
                unmeasured_track(a, acc, unm, eff_ws, we, obs_add, leaf);
                acc->busy_ms += busy * frac;
                acc->occupied_ms += occ * frac;
                acc->energy_mj += energy * frac;
                acc->lw_seq = a->nsummaries;
                acc->lw_counter = !(g->flags & GPU_ENERGY_UNSUPPORTED);
                acc->lw_broken = false;
                memcpy(acc->lw_boot_id, r->boot_id, 16);
                acc->lw_end_mj = g->energy_end_mj;
                if (!(g->flags & GPU_ENERGY_UNSUPPORTED)) {
                        acc->base_valid = true;
                        memcpy(acc->base_boot_id, r->boot_id, 16);
                        acc->base_boot_ns = be;
                        acc->base_wall_ns = we;
                        acc->base_mj = g->energy_end_mj;
                        acc->base_leaf = leaf;
                }
        }
        counter_reset_finding(a, list, nreset, omitted, ws, we, leaf, leaf);
        a->busy_ms += node_busy;
        a->occupied_ms += node_occ;
        a->energy_mj += node_energy;

        /* The in-window piece: the largest shortfall, spread over the window. */
        short_node = u64_min(short_node, eff_len);
        cl_gap = clip_len(eff_ws, we, short_node, a->lo, a->hi);
        if (cl_gap > cl)
                cl_gap = cl;
        a->obs_ns += cl - cl_gap;
        if (short_node) {
                struct piece p = {.source = "in_window",
                                  .what = " inside a summary window (GPU observed short of it)",
                                  .ws = eff_ws,
                                  .we = we,
                                  .len = short_node,
                                  .cl = cl_gap,
                                  .leaf0 = leaf,
                                  .leaf1 = leaf,
                                  .some = (mask_short & mask_set) != mask_set ||
                                          (mask_short & ~mask_set) != 0,
                                  .mask = mask_short,
                                  .hidden_gs = hidden_in,
                                  .from_energy = energy_in,
                                  .energy_gs = energy_gs_in,
                                  .above_j = above_in};
                add_piece(a, &p, true);
        }

        pl_segment(a, "window", eff_ws, we, eff_len, cl, false);

        if (eff_len > short_node && cl) {
                double k = (double)eff_len / (double)cl; /* back to the whole effective window */
                if (grow(&a->wins, &a->capwins, a->nwins + 1, sizeof(*a->wins)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->wins[a->nwins++] =
                        (struct win){eff_ws,        we,           eff_len - short_node,
                                     node_busy * k, node_occ * k, node_energy * k};
        }

        if (!a->have_win || ws < a->min_ws) {
                a->min_ws = ws;
                a->min_ws_leaf = leaf;
        }
        if (!a->have_win || we > a->max_we) {
                a->max_we = we;
                a->max_we_leaf = leaf;
        }
        if (!same_boot) {
                a->frontier_boot = be;
                a->winboot_last_boot = be;
        } else if (be > a->frontier_boot)
                a->frontier_boot = be;
        a->have_win = true;
        memcpy(a->win_boot_id, r->boot_id, 16);
        a->win_ws = ws;
        a->win_we = we;
        a->win_be = be;
        a->win_leaf = leaf;
        a->steps_since_win = 0;
        a->start_since_win = false;
        a->since_win_mask = mask_set;
}

int analyzer_add(struct analyzer *a, uint64_t leaf, const struct record *r) {
        bool rebooted;

        if (a->err)
                return a->err;
        if (a->finished)
                return -EINVAL;
        rebooted = a->have_prev && memcmp(a->prev_boot_id, r->boot_id, 16) != 0;
        if (!a->have_prev)
                a->first_rec_wall = r->wall_ns;
        if (rebooted)
                rule_reboot(a, r, leaf);
        if (leaf == 0 && r->kind != REC_START)
                rule_implausible(a, r->wall_ns, r->wall_ns, leaf, leaf,
                                 "the ledger does not begin with a start record (leaf 0 is a %s "
                                 "record)",
                                 kind_word(r->kind));
        if (a->have_prev && !rebooted && r->boot_ns < a->prev_boot_ns)
                rule_implausible(a, a->prev_wall, r->wall_ns, a->prev_leaf, leaf,
                                 "the boot clock ran backwards by %.3f s within one boot ID "
                                 "(%s record)",
                                 (double)(a->prev_boot_ns - r->boot_ns) / 1e9, kind_word(r->kind));
        if (r->kind == REC_CLOCK_STEP)
                clock_step_record(a, r, leaf);
        else if (r->kind != REC_SUMMARY)
                clock_reading(a, r->boot_id, r->wall_ns, r->boot_ns, leaf);

        switch (r->kind) {
        case REC_START: {
                const struct rec_start *st = &r->u.start;
                uint32_t n = st->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : st->gpu_count;

                if (a->have_prev)
                        rule_restart(a, r, leaf);
                a->start_since_win = true;
                if (st->period_s)
                        a->period_s = st->period_s;
                if (st->sample_interval_us)
                        a->sample_ns = (uint64_t)st->sample_interval_us * 1000u;
                counter_readings(a, r, leaf, st->gpus, n, true);
                gpu_set(a, r, leaf, st->gpus, n, false, "GPU set differs from the last inventory");
                break;
        }
        case REC_SUMMARY:
                do_summary(a, r, leaf);
                break;
        case REC_CLOCK_STEP:
                a->steps_since_win++;
                break;
        case REC_INVENTORY: {
                const struct rec_inventory *inv = &r->u.inventory;
                uint32_t n = inv->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : inv->gpu_count;
                char why[96];

                snprintf(why, sizeof(why), "inventory record (%s%s%s%s%s)",
                         inv->reason & INV_GPU_APPEARED ? " appeared" : "",
                         inv->reason & INV_GPU_VANISHED ? " vanished" : "",
                         inv->reason & INV_GPU_RESET ? " reset" : "",
                         inv->reason & INV_DRIVER_CHANGED ? " driver" : "",
                         inv->reason & INV_REINIT ? " reinit" : "");
                counter_readings(a, r, leaf, inv->gpus, n, false);
                if (inv->reason & (INV_REINIT | INV_GPU_RESET))
                        for (size_t k = 0; k < a->ngpus; k++)
                                a->gpus[k].lw_broken = true;
                gpu_set(a, r, leaf, inv->gpus, n, true, why);
                break;
        }
        default:
                break;
        }

        if (r->kind == REC_SUMMARY)
                clock_reading(a, r->boot_id, r->wall_ns, r->boot_ns, leaf);
        if (a->have_win && memcmp(a->win_boot_id, r->boot_id, 16) == 0 &&
            r->boot_ns > a->winboot_last_boot)
                a->winboot_last_boot = r->boot_ns;
        if (!a->have_prev || rebooted || r->boot_ns > a->prev_boot_ns)
                a->prev_boot_ns = r->boot_ns;
        a->last_rec_boot = r->boot_ns;
        a->have_prev = true;
        a->prev_kind = r->kind;
        memcpy(a->prev_boot_id, r->boot_id, 16);
        a->prev_leaf = leaf;
        a->prev_wall = r->wall_ns;
        return a->err;
}

/* order[0..ngpus) := table indexes sorted by UUID (insertion sort, n <= 64). */
static void gpu_sort_order(const struct analyzer *a, uint8_t *order) {
        for (size_t i = 1; i < a->ngpus; i++) {
                uint8_t v = order[i];
                size_t j = i;
                while (j > 0 &&
                       strncmp(a->gpus[order[j - 1]].uuid, a->gpus[v].uuid, REC_UUID_MAX) > 0) {
                        order[j] = order[j - 1];
                        j--;
                }
                order[j] = v;
        }
}

int analyzer_finish(struct analyzer *a, struct analysis *out) {
        uint64_t first, last, interval_ns, gap_ms;
        uint8_t remap[RECORD_MAX_GPUS];
        bool tail;
        bool bounded = a->o.since_ns || a->o.until_ns;

        memset(out, 0, sizeof(*out));
        if (a->err)
                return a->err;
        if (a->finished)
                return -EINVAL;

        /*
         * The interval ends at the last window, or at the last record when a
         * START follows the last window (the daemon restarted since and
         * wrote no summary: a crash loop leaves such a tail).
         */
        tail = a->have_win && a->start_since_win && a->prev_wall > a->max_we;
        first = a->o.since_ns ? a->o.since_ns : a->have_win ? a->min_ws : a->first_rec_wall;
        last = a->o.until_ns ? a->o.until_ns
               : a->have_win ? (tail ? a->prev_wall : a->max_we)
                             : first;
        if (last < first)
                last = first;
        a->first_ns = first;
        a->last_ns = last;
        a->lo = first;
        a->hi = last;
        a->uncapped = true;

        /* Leading and trailing pieces (or the whole interval without windows). */
        if (!a->have_win) {
                struct piece p = {.source = "no_windows",
                                  .what = " (no summary records)",
                                  .ws = first,
                                  .we = last,
                                  .len = last - first,
                                  .leaf0 = a->prev_leaf,
                                  .leaf1 = a->prev_leaf};
                p.cl = p.len;
                p.hidden_gs = hidden_worst_case(a, p.cl, APB_NO_RECORD);
                add_piece(a, &p, true);
        } else {
                if (first < a->min_ws) {
                        uint64_t e = u64_min(a->min_ws, last);
                        struct piece p = {.source = "before_first",
                                          .what = " before the first summary window",
                                          .ws = first,
                                          .we = e,
                                          .len = e - first,
                                          .leaf0 = a->min_ws_leaf,
                                          .leaf1 = a->min_ws_leaf};
                        p.cl = p.len;
                        p.hidden_gs = hidden_worst_case(a, p.cl, APB_NO_RECORD);
                        add_piece(a, &p, true);
                }
                if (tail && !a->o.until_ns && memcmp(a->prev_boot_id, a->win_boot_id, 16) != 0) {
                        reboot_piece(a, a->prev_wall, a->last_rec_boot, a->prev_leaf, "after_last",
                                     " after the last summary window (daemon restarted after a "
                                     "reboot, no summary since)");
                } else if (tail && !a->o.until_ns) {
                        struct piece p = {.source = "after_last",
                                          .what = " after the last summary window (daemon "
                                                  "restarted, no summary since)",
                                          .ws = a->win_we,
                                          .we = a->prev_wall,
                                          .len = a->last_rec_boot > a->frontier_boot
                                                         ? a->last_rec_boot - a->frontier_boot
                                                         : 0,
                                          .leaf0 = a->win_leaf,
                                          .leaf1 = a->prev_leaf,
                                          .between = true};
                        p.cl = clip_len(p.ws, p.we, p.len, a->lo, a->hi);
                        p.hidden_gs = hidden_worst_case(a, p.cl, APB_NO_RECORD);
                        add_piece(a, &p, true);
                } else if (last > a->max_we) {
                        uint64_t st = u64_max(a->max_we, first);
                        struct piece p = {.source = "after_last",
                                          .what = " after the last summary window",
                                          .ws = st,
                                          .we = last,
                                          .len = last - st,
                                          .leaf0 = a->max_we_leaf,
                                          .leaf1 = a->max_we_leaf};
                        p.cl = p.len;
                        p.hidden_gs = hidden_worst_case(a, p.cl, APB_NO_RECORD);
                        add_piece(a, &p, true);
                }
        }

        energy_findings(a);
        for (size_t i = 0; i < a->ngpus; i++)
                unmeasured_flush(a, &a->gpus[i]);

        if (a->o.now_ns && a->have_prev)
                rule_stale(a);

        /*
         * CLOCK_AHEAD (ANALYSIS.md 5.1), against this audit's anchor: judged here, not as
         * the readings come, so that an incremental audit resumed from a state saved by an
         * earlier one (another anchor) says what a cold one says.
         */
        {
                uint64_t anchor = pl_anchor(a);
                if (anchor && a->ah_have && a->ah_wall > anchor &&
                    a->ah_wall - anchor > step_tolerance(a))
                        rule_clock_ahead(a, a->ah_wall, anchor, a->ah_leaf);
        }
        for (size_t k = 0; k < FIND__COUNT; k++) {
                if (!a->suppressed[k])
                        continue;
                struct finding f = finding_make(
                        (enum finding_kind)k, "%zu further %s findings not listed (cap %u)",
                        a->suppressed[k], finding_kind_name((enum finding_kind)k),
                        ANALYZE_FINDINGS_MAX);
                set_time(&f, a->sup_first[k], a->sup_last[k]);
                add_finding(a, &f);
        }
        if (a->err)
                return a->err;

        /* Drop findings wholly outside an explicit interval (STALE stays). */
        if (bounded) {
                size_t w = 0;
                for (size_t i = 0; i < a->nf; i++) {
                        const struct finding *f = &a->f[i];
                        bool keep = f->kind == FIND_STALE || f->kind == FIND_CLOCK_AHEAD ||
                                    !f->has_time ||
                                    (f->start_ns <= last && f->end_ns >= first);
                        if (keep)
                                a->f[w++] = *f;
                }
                a->nf = w;
        }
        if (a->nf)
                qsort(a->f, a->nf, sizeof(*a->f), finding_cmp);

        interval_ns = a->obs_ns + a->gap_ns;
        out->first_ns = first;
        out->last_ns = last;
        out->busy_gpu_seconds = a->busy_ms / 1e3;
        out->occupied_gpu_seconds = a->occupied_ms / 1e3;
        out->energy_joules = a->energy_mj / 1e3;
        out->interval_ms = (interval_ns + NS_PER_MS / 2) / NS_PER_MS;
        gap_ms = u64_min((a->gap_ns + NS_PER_MS / 2) / NS_PER_MS, out->interval_ms);
        out->gap_seconds = (double)gap_ms / 1e3;
        out->observed_seconds = (double)(out->interval_ms - gap_ms) / 1e3;
        out->step_seconds = (double)((int64_t)((last - first + NS_PER_MS / 2) / NS_PER_MS) -
                                     (int64_t)out->interval_ms) /
                            1e3;
        out->hidden_gpu_seconds = a->hidden_gs;
        out->unmeasured_busy_gpu_seconds = (double)a->unmeasured_busy_ns / 1e9;

        /* Sort the GPU table by UUID and remap the findings' GPU masks. */
        {
                uint8_t order[RECORD_MAX_GPUS];
                struct gpu_acc *tmp = malloc(sizeof(a->gpus));
                if (!tmp)
                        return -ENOMEM;
                for (size_t i = 0; i < a->ngpus; i++)
                        order[i] = (uint8_t)i;
                gpu_sort_order(a, order);
                for (size_t i = 0; i < a->ngpus; i++) {
                        tmp[i] = a->gpus[order[i]];
                        remap[order[i]] = (uint8_t)i;
                }
                memcpy(a->gpus, tmp, a->ngpus * sizeof(a->gpus[0]));
                free(tmp);
        }
        for (size_t i = 0; i < a->nf; i++) {
                uint64_t m = 0;
                if (!a->f[i].has_gpus)
                        continue;
                for (size_t k = 0; k < a->ngpus; k++)
                        if (a->f[i].gpu_mask & (1ull << k))
                                m |= 1ull << remap[k];
                a->f[i].gpu_mask = m;
        }
        memset(a->poscache, GPU_NONE, sizeof(a->poscache));
        out->gpu_count = a->ngpus;
        for (size_t i = 0; i < a->ngpus; i++) {
                const struct gpu_acc *g = &a->gpus[i];
                uint64_t obs = u64_min(g->observed_ns, interval_ns);

                copy_uuid(out->gpus[i].uuid, g->uuid);
                out->gpus[i].observed_ms = (obs + NS_PER_MS / 2) / NS_PER_MS;
                if (out->gpus[i].observed_ms > out->interval_ms)
                        out->gpus[i].observed_ms = out->interval_ms;
                out->gpus[i].gap_ms = out->interval_ms - out->gpus[i].observed_ms;
                out->gpus[i].hidden_gpu_seconds = g->hidden_gs;
                out->gpus[i].busy_seconds = g->busy_ms / 1e3;
                out->gpus[i].occupied_seconds = g->occupied_ms / 1e3;
                out->gpus[i].energy_joules = g->energy_mj / 1e3;
        }

        out->findings = a->f;
        out->nfindings = a->nf;
        a->f = NULL;
        a->nf = a->capf = 0;
        a->finished = true;
        return 0;
}
