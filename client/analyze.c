/* SPDX-License-Identifier: MIT */
/*
 * Evidence analysis, timeline and coverage module: verified, decoded records (leaf order) -> totals,
 * coverage, findings and per-bucket GPU-hours. Pure: no I/O, no clock.
 *
 * Rules (issue 4, DESIGN.md "Findings"), as implemented here:
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
 *   reading of it (summary end, START or INVENTORY). One finding per record.
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
 *   before in this boot is skipped. joules = max(0, delta - idle_W x gap);
 *   idle_W = the GPU's energy / observed time over all its recorded windows
 *   with busy_ms == 0 (else 60 W); gpu_seconds = joules / marginal, marginal
 *   = sum(energy - idle_W x observed) / sum(busy) over its windows with
 *   busy_ms > 0 (else, or when not positive, 640 W per busy second). Windows
 *   flagged GPU_UTIL_UNSUPPORTED, or GPU_ENERGY_UNSUPPORTED without
 *   GPU_ENERGY_FROM_POWER, do not feed the estimates. One finding per START,
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
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
        free(a);
}

void analysis_free(struct analysis *an) {
        if (!an)
                return;
        free(an->findings);
        an->findings = NULL;
        an->nfindings = 0;
}

static uint64_t step_tolerance(const struct analyzer *a) {
        uint64_t two = a->sample_ns > UINT64_MAX / 2 ? UINT64_MAX : 2 * a->sample_ns;

        return u64_max(NS_PER_S, two);
}

/* Record a gap segment (wall span [ws, we), elapsed len) and its TIME_GAP. */
static void add_gap(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t len, uint64_t leaf0,
                    uint64_t leaf1, const char *what) {
        uint64_t cl;

        if (len == 0 || a->err)
                return;
        if (grow(&a->gaps, &a->capgaps, a->ngaps + 1, sizeof(*a->gaps)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        a->gaps[a->ngaps++] = (struct seg){ws, we, len};
        cl = clip_len(ws, we, len, a->lo, a->hi);
        a->gap_ns += cl;
        if (cl >= NS_PER_MS) {
                struct finding f =
                        finding_make(FIND_TIME_GAP, "%.3f s unobserved%s", (double)cl / 1e9, what);
                if (we > ws)
                        set_time(&f, u64_max(ws, a->lo), u64_min(we, a->hi));
                else
                        set_time(&f, ws, ws);
                f.duration_ns = cl;
                set_leaves(&f, leaf0, leaf1);
                add_finding(a, &f);
        }
}

static void do_summary(struct analyzer *a, const struct record *r, uint64_t leaf) {
        const struct rec_summary *s = &r->u.summary;
        uint32_t n = s->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : s->gpu_count;
        uint64_t ws = s->obs_start_wall_ns, we = s->obs_end_wall_ns;
        uint64_t bs = s->obs_start_boot_ns, be = s->obs_end_boot_ns;
        uint64_t len = be > bs ? be - bs : 0, eff_len, eff_ws = ws, overlap = 0, cl;
        uint64_t tol = step_tolerance(a), gpu_tol;
        bool same_boot = a->have_win && memcmp(a->win_boot_id, r->boot_id, 16) == 0;
        char list[160] = "";
        size_t nreset = 0, omitted = 0;
        double node_busy = 0, node_occ = 0, node_energy = 0, frac;

        a->nsummaries++;
        rule_partial_period(a, s, len, leaf);
        if (be < bs)
                clock_step_finding(a, ws, we, leaf, leaf,
                                   "window ends %.3f s before it starts (boot time)",
                                   diff_s(bs, be));

        /* Relation to the previous window. */
        if (a->have_win && same_boot) {
                double bd = diff_s(bs, a->win_be), wd = diff_s(ws, a->win_we);
                double d = wd - bd;

                if (bs >= a->frontier_boot) {
                        add_gap(a, a->win_we, ws, bs - a->frontier_boot, a->win_leaf, leaf, "");
                } else {
                        overlap = a->frontier_boot - bs;
                        clock_step_finding(a, ws, u64_min(we, ws + overlap), a->win_leaf, leaf,
                                           "overlapping windows: %.3f s counted once",
                                           (double)u64_min(overlap, len) / 1e9);
                }
                if ((d > (double)tol / 1e9 || d < -(double)tol / 1e9) && !a->steps_since_win)
                        clock_step_finding(a, a->win_we, ws, a->win_leaf, leaf,
                                           "wall clock moved %+.3f s against boot time between "
                                           "windows (no clock step record)",
                                           d);
        } else if (a->have_win) {
                if (ws >= a->win_we)
                        add_gap(a, a->win_we, ws, ws - a->win_we, a->win_leaf, leaf,
                                " (across a reboot, wall time)");
                else
                        clock_step_finding(a, ws, a->win_we, a->win_leaf, leaf,
                                           "wall clock went back %.3f s across a reboot "
                                           "(overlapping windows)",
                                           diff_s(a->win_we, ws));
        }
        {
                double d = diff_s(we, ws) - (double)len / 1e9;
                if ((d > (double)tol / 1e9 || d < -(double)tol / 1e9) && !a->steps_since_win)
                        clock_step_finding(a, ws, we, leaf, leaf,
                                           "wall clock moved %+.3f s against boot time within "
                                           "the window (no clock step record)",
                                           d);
        }

        /* The window's effective part (union with earlier ones) and its clip. */
        overlap = u64_min(overlap, len);
        eff_len = len - overlap;
        if (overlap && we > ws)
                eff_ws = ws + u64_min(overlap, we - ws);
        cl = clip_len(eff_ws, we, eff_len, a->lo, a->hi);
        a->obs_ns += cl;
        frac = len ? (double)cl / (double)len : 0.0; /* share of the raw window counted */
        gpu_tol = a->sample_ns * 2 + NS_PER_MS;

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
                uint64_t obs_add; /* this GPU's counted observed time in the window */

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
                {
                        uint64_t obs = g->observed_ms > UINT64_MAX / NS_PER_MS
                                               ? UINT64_MAX
                                               : g->observed_ms * NS_PER_MS;
                        uint64_t o_full = obs >= len || len - obs <= gpu_tol ? len : obs;
                        uint64_t o_eff = scale_ns(o_full, eff_len, len);
                        obs_add = scale_ns(o_eff, cl, eff_len);
                }
                if (unm & UNM_BUSY)
                        a->unmeasured_busy_ns += obs_add;
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
                if (g->observed_ms > 0 && !(g->flags & GPU_UTIL_UNSUPPORTED) && !no_energy) {
                        if (g->busy_ms == 0) {
                                acc->idle_energy_mj += energy;
                                acc->idle_observed_ms += (double)g->observed_ms;
                        } else {
                                acc->busy_energy_mj += energy;
                                acc->busy_observed_ms += (double)g->observed_ms;
                                acc->busy_busy_ms += busy;
                        }
                }
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

        if (eff_len && cl) {
                double k = (double)eff_len / (double)cl; /* back to the whole effective window */
                if (grow(&a->wins, &a->capwins, a->nwins + 1, sizeof(*a->wins)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->wins[a->nwins++] = (struct win){eff_ws,        we,           eff_len,
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
        if (!same_boot)
                a->frontier_boot = be;
        else if (be > a->frontier_boot)
                a->frontier_boot = be;
        a->have_win = true;
        memcpy(a->win_boot_id, r->boot_id, 16);
        a->win_ws = ws;
        a->win_we = we;
        a->win_be = be;
        a->win_leaf = leaf;
        a->steps_since_win = 0;
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

        switch (r->kind) {
        case REC_START: {
                const struct rec_start *st = &r->u.start;
                uint32_t n = st->gpu_count > RECORD_MAX_GPUS ? RECORD_MAX_GPUS : st->gpu_count;

                if (a->have_prev)
                        rule_restart(a, r, leaf);
                if (st->period_s)
                        a->period_s = st->period_s;
                if (st->sample_interval_us)
                        a->sample_ns = (uint64_t)st->sample_interval_us * 1000u;
                counter_readings(a, r, leaf, st->gpus, n, true, rebooted);
                gpu_set(a, r, leaf, st->gpus, n, false, "GPU set differs from the last inventory");
                break;
        }
        case REC_SUMMARY:
                do_summary(a, r, leaf);
                break;
        case REC_CLOCK_STEP:
                rule_clock_step_record(a, r, leaf);
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
                counter_readings(a, r, leaf, inv->gpus, n, false, rebooted);
                gpu_set(a, r, leaf, inv->gpus, n, true, why);
                break;
        }
        default:
                break;
        }

        a->have_prev = true;
        a->prev_kind = r->kind;
        memcpy(a->prev_boot_id, r->boot_id, 16);
        a->prev_leaf = leaf;
        a->prev_wall = r->wall_ns;
        return a->err;
}

static int gpu_cmp(const void *x, const void *y) {
        const struct gpu_acc *p = x, *q = y;

        return strncmp(p->uuid, q->uuid, REC_UUID_MAX);
}

int analyzer_finish(struct analyzer *a, struct analysis *out) {
        uint64_t first, last, interval_ns;
        bool bounded = a->o.since_ns || a->o.until_ns;

        memset(out, 0, sizeof(*out));
        if (a->err)
                return a->err;
        if (a->finished)
                return -EINVAL;

        first = a->o.since_ns ? a->o.since_ns : a->have_win ? a->min_ws : a->first_rec_wall;
        last = a->o.until_ns ? a->o.until_ns : a->have_win ? a->max_we : first;
        if (last < first)
                last = first;
        a->first_ns = first;
        a->last_ns = last;
        a->lo = first;
        a->hi = last;
        a->uncapped = true;

        /* Leading and trailing gaps (or the whole interval without windows). */
        if (!a->have_win) {
                add_gap(a, first, last, last - first, a->prev_leaf, a->prev_leaf,
                        " (no summary records)");
        } else {
                if (first < a->min_ws) {
                        uint64_t e = u64_min(a->min_ws, last);
                        add_gap(a, first, e, e - first, a->min_ws_leaf, a->min_ws_leaf,
                                " before the first summary window");
                }
                if (last > a->max_we) {
                        uint64_t s = u64_max(a->max_we, first);
                        add_gap(a, s, last, last - s, a->max_we_leaf, a->max_we_leaf,
                                " after the last summary window");
                }
        }

        energy_findings(a);
        for (size_t i = 0; i < a->ngpus; i++)
                unmeasured_flush(a, &a->gpus[i]);

        if (a->o.now_ns && a->have_prev)
                rule_stale(a);

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
                        bool keep = f->kind == FIND_STALE || !f->has_time ||
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
        out->observed_seconds = (double)a->obs_ns / 1e9;
        out->gap_seconds = (double)a->gap_ns / 1e9;
        out->unmeasured_busy_gpu_seconds = (double)a->unmeasured_busy_ns / 1e9;
        out->interval_ms = (interval_ns + NS_PER_MS / 2) / NS_PER_MS;

        qsort(a->gpus, a->ngpus, sizeof(a->gpus[0]), gpu_cmp);
        memset(a->poscache, GPU_NONE, sizeof(a->poscache));
        out->gpu_count = a->ngpus;
        for (size_t i = 0; i < a->ngpus; i++) {
                const struct gpu_acc *g = &a->gpus[i];
                uint64_t obs = u64_min(g->observed_ns, interval_ns);

                copy_uuid(out->gpus[i].uuid, g->uuid);
                out->gpus[i].observed_ms = (obs + NS_PER_MS / 2) / NS_PER_MS;
                out->gpus[i].gap_ms = out->interval_ms - out->gpus[i].observed_ms;
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
