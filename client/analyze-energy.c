/* SPDX-License-Identifier: MIT */
/*
 * Energy counters across unobserved time (proto/ANALYSIS.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze-internal.h"
#include "peaks.h"

/* Declared powers of g's model (ANALYSIS.md 6): client/peaks.c's one table. */
void gpu_declare_model(struct gpu_acc *g, const char *name) {
        char n[REC_NAME_MAX + 1];
        size_t len = bounded_len(name, REC_NAME_MAX);

        memcpy(n, name, len);
        n[len] = '\0';
        double idle, min, max;
        if (!power_lookup(n, &idle, &min, NULL, &max)) {
                /* a name without a row: no energy bound at all (as an undeclared model) */
                g->idle_w = g->min_w = g->max_w = 0;
                g->declared_unknown = true;
                return;
        }
        if (g->declared_unknown)
                return;
        if (g->min_w > 0) {
                /* renamed (another row): the lowest idle and minimum limit, the highest maximum */
                if (idle < g->idle_w)
                        g->idle_w = idle;
                if (min < g->min_w)
                        g->min_w = min;
                if (max > g->max_w)
                        g->max_w = max;
                return;
        }
        g->idle_w = idle;
        g->min_w = min;
        g->max_w = max;
}

/*
 * The lowest average power of the GPU's own observed windows (ANALYSIS.md 6):
 * each window gives its average power (power measured, observed time > 0;
 * the daemon truncates it to the mW) and its energy over its length (a
 * counter that neither restarted nor was integrated from power samples), as
 * recorded: exact to the records' resolution (1 mW; 1 mJ a window), which an
 * idle GPU at exactly its declared power must not turn into hidden work.
 */
void energy_observed_window(struct analyzer *a, const struct record *r,
                            const struct gpu_summary *e, uint64_t len, uint64_t leaf) {
        const struct rec_summary *s = &r->u.summary;
        size_t pos = (size_t)(e - s->gpus);
        uint8_t idx = gpu_index(a, e->uuid, pos, leaf, r->wall_ns);
        struct gpu_acc *g;
        double w;

        if (idx == GPU_NONE)
                return;
        g = &a->gpus[idx];
        if (!(e->flags & GPU_POWER_UNSUPPORTED) && e->observed_ms > 0) {
                w = (double)e->power_avg_mw / 1e3;
                if (!g->obs_power_valid || w < g->obs_power_w)
                        g->obs_power_w = w;
                g->obs_power_valid = true;
        }
        if (!(e->flags & (GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER | GPU_COUNTER_RESET)) &&
            len > 0) {
                w = (double)e->energy_used_mj / 1e3 / ((double)len / 1e9);
                if (!g->obs_power_valid || w < g->obs_power_w)
                        g->obs_power_w = w;
                g->obs_power_valid = true;
        }
}

double idle_floor_w(const struct gpu_acc *g) {
        return g->obs_power_valid && g->obs_power_w < g->idle_w ? g->obs_power_w : g->idle_w;
}

double hidden_from_energy(const struct gpu_acc *g, double e_j, double l_s, double cap_s,
                          double *above, bool *implausible) {
        double b, idle;

        *above = 0;
        *implausible = false;
        if (!(g->min_w > g->idle_w))
                return -1;
        idle = idle_floor_w(g);
        *implausible = e_j > ENERGY_TOL_FACTOR * g->max_w * l_s + ENERGY_TOL_J;
        /*
         * Less energy than the GPU's idle floor x time: the counter did not run
         * continuously (a driver reload) or the declaration is wrong; nothing
         * can be concluded from it (the worst case).
         */
        if (e_j < IDLE_TOL_FACTOR * idle * l_s - ENERGY_TOL_J)
                return -1;
        /* within 1 J of idle x time the energy proves idle (the records' rounding) */
        *above = e_j - idle * l_s;
        if (*above <= ENERGY_TOL_J)
                *above = 0;
        /*
         * Busy at no more than the lowest power limit the board can be set to
         * (an operator may lower it in a gap, unrecorded): a kernel drawing
         * less is counted at that limit's rate (ANALYSIS.md 6). idle <= the
         * declared idle < min_w, so the divisor is positive.
         */
        b = *above / (g->min_w - idle);
        if (b > cap_s)
                b = cap_s;
        return b;
}

/*
 * Whether a version 2 entry's counter_epoch breaks the counter's continuity
 * (ANALYSIS.md 6): it is 0 (unknown), or the GPU's last version 2 entry in
 * the same boot had another epoch. *changed: both known and different (the
 * counter restarted: a reset). Remembers the epoch. A version 1 entry has
 * none, so it proves nothing either (a careful driver reload between two
 * version 1 STARTs leaves no trace in the records): true, and the
 * remembered epoch becomes unknown (0).
 */
static bool epoch_breaks(struct gpu_acc *acc, const struct record *r, const struct gpu_info *g,
                         bool *changed) {
        bool same;

        *changed = false;
        if (r->version < RECORD_VERSION_EPOCH) {
                acc->ep_valid = true;
                memcpy(acc->ep_boot_id, r->boot_id, 16);
                acc->ep_epoch = 0;
                return true;
        }
        same = acc->ep_valid && memcmp(acc->ep_boot_id, r->boot_id, 16) == 0;
        *changed = same && acc->ep_epoch != 0 && g->counter_epoch != 0 &&
                   acc->ep_epoch != g->counter_epoch;
        acc->ep_valid = true;
        memcpy(acc->ep_boot_id, r->boot_id, 16);
        bool brk = g->counter_epoch == 0 || (same && acc->ep_epoch != g->counter_epoch);
        acc->ep_epoch = g->counter_epoch;
        return brk;
}

/*
 * A START or INVENTORY reading of every GPU's counter: COUNTER_RESET when
 * lower than the last reading in the same boot, or in another counter epoch
 * than the GPU's last one in the same boot; at the ledger's first START
 * the energy used since driver load (ENERGY_UNACCOUNTED "before the ledger
 * began"); the readings become the new baselines, and a reading below the
 * last window's end, in another epoch or of an unknown epoch (0) breaks the
 * counter's continuity for the next piece.
 */
void counter_readings(struct analyzer *a, const struct record *r, uint64_t leaf,
                      const struct gpu_info *gpus, uint32_t count, bool start) {
        char list[160] = "";
        size_t nreset = 0, omitted = 0;
        uint64_t reset_leaf = leaf;
        struct energy_gap eg = {0};

        eg.first_item = a->nei;
        for (uint32_t i = 0; i < count && !a->err; i++) {
                const struct gpu_info *g = &gpus[i];
                uint8_t idx = gpu_index(a, g->uuid, i, leaf, r->wall_ns);
                struct gpu_acc *acc = idx == GPU_NONE ? NULL : &a->gpus[idx];
                bool same_boot, new_epoch = false;

                if (acc) {
                        acc->inventoried = true;
                        gpu_declare_model(acc, g->name);
                        bool brk = !(g->flags & GPU_ENERGY_UNSUPPORTED) &&
                                   epoch_breaks(acc, r, g, &new_epoch);
                        if ((g->flags & GPU_ENERGY_UNSUPPORTED) || brk ||
                            (memcmp(acc->lw_boot_id, r->boot_id, 16) == 0 &&
                             g->energy_mj < acc->lw_end_mj))
                                acc->lw_broken = true;
                }
                if (g->flags & GPU_ENERGY_UNSUPPORTED)
                        continue;
                same_boot =
                        acc && acc->base_valid && memcmp(acc->base_boot_id, r->boot_id, 16) == 0;
                if (same_boot && (g->energy_mj < acc->base_mj || new_epoch)) {
                        list_append(list, sizeof(list), g->uuid, &omitted);
                        nreset++;
                        reset_leaf = u64_min(reset_leaf, acc->base_leaf);
                }
                if (start && !a->have_prev) {
                        /* the counter counts since driver load */
                        struct energy_item it = {
                                .gpu = idx, .delta_mj = (double)g->energy_mj, .gap_ns = r->boot_ns};
                        if (grow(&a->ei, &a->capei, a->nei + 1, sizeof(*a->ei)) < 0) {
                                a->err = -ENOMEM;
                                return;
                        }
                        a->ei[a->nei++] = it;
                        eg.nitems++;
                }
                if (acc && (!same_boot || r->boot_ns >= acc->base_boot_ns)) {
                        acc->base_valid = true;
                        memcpy(acc->base_boot_id, r->boot_id, 16);
                        acc->base_boot_ns = r->boot_ns;
                        acc->base_wall_ns = r->wall_ns;
                        acc->base_mj = g->energy_mj;
                        acc->base_leaf = leaf;
                }
        }
        counter_reset_finding(a, list, nreset, omitted, a->have_prev ? a->prev_wall : r->wall_ns,
                              r->wall_ns, reset_leaf, leaf);
        if (eg.nitems) {
                eg.start_ns = r->wall_ns > r->boot_ns ? r->wall_ns - r->boot_ns : 0;
                eg.end_ns = r->wall_ns;
                eg.first_leaf = leaf;
                eg.last_leaf = leaf;
                eg.before_ledger = true;
                if (grow(&a->eg, &a->capeg, a->neg + 1, sizeof(*a->eg)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->eg[a->neg++] = eg;
        }
}

/* ENERGY_UNACCOUNTED before the ledger began: energy since driver load, declared models. */
void energy_findings(struct analyzer *a) {
        for (size_t k = 0; k < a->neg; k++) {
                const struct energy_gap *eg = &a->eg[k];
                double joules = 0, gpu_s = 0, gap_max = 0;
                size_t ngpu = 0;

                for (size_t j = 0; j < eg->nitems; j++) {
                        const struct energy_item *it = &a->ei[eg->first_item + j];
                        double gap_s = (double)it->gap_ns / 1e9, above, b;
                        bool bad;

                        if (it->gpu == GPU_NONE)
                                continue;
                        b = hidden_from_energy(&a->gpus[it->gpu], it->delta_mj / 1e3, gap_s, gap_s,
                                               &above, &bad);
                        if (gap_s > gap_max)
                                gap_max = gap_s;
                        if (b <= 0)
                                continue;
                        joules += above;
                        gpu_s += b;
                        ngpu++;
                }
                if (gpu_s >= 1.0) {
                        struct finding f = finding_make(
                                FIND_ENERGY_UNACCOUNTED,
                                "%.0f J beyond idle on %zu GPU(s) in %.3f s without records "
                                "before the ledger began (since driver load): up to %.1f "
                                "GPU-seconds of work",
                                joules, ngpu, gap_max, gpu_s);
                        set_time(&f, eg->start_ns, eg->end_ns);
                        set_leaves(&f, eg->first_leaf, eg->last_leaf);
                        f.has_energy = true;
                        f.energy_joules = joules;
                        f.has_hidden = true;
                        f.gpu_seconds = gpu_s;
                        add_finding(a, &f);
                }
        }
}
