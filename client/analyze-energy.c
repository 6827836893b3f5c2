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

/*
 * A START or INVENTORY reading of every GPU's counter: COUNTER_RESET when
 * lower than the last reading in the same boot; ENERGY_UNACCOUNTED items for
 * a START (start); then the readings become the new baselines.
 */
void counter_readings(struct analyzer *a, const struct record *r, uint64_t leaf,
                      const struct gpu_info *gpus, uint32_t count, bool start, bool rebooted) {
        char list[160] = "";
        size_t nreset = 0, omitted = 0;
        uint64_t first_leaf = leaf, first_wall = r->wall_ns, reset_leaf = leaf;
        struct energy_gap eg = {0};

        eg.first_item = a->nei;
        for (uint32_t i = 0; i < count && !a->err; i++) {
                const struct gpu_info *g = &gpus[i];
                uint8_t idx = gpu_index(a, g->uuid, i, leaf, r->wall_ns);
                struct gpu_acc *acc = idx == GPU_NONE ? NULL : &a->gpus[idx];
                bool same_boot;
                struct energy_item it = {.gpu = idx};
                uint64_t from_wall = r->wall_ns;

                if (g->flags & GPU_ENERGY_UNSUPPORTED)
                        continue;
                same_boot =
                        acc && acc->base_valid && memcmp(acc->base_boot_id, r->boot_id, 16) == 0;
                if (same_boot && g->energy_mj < acc->base_mj) {
                        list_append(list, sizeof(list), g->uuid, &omitted);
                        nreset++;
                        reset_leaf = u64_min(reset_leaf, acc->base_leaf);
                }
                bool have_item = false;
                if (start) {
                        have_item = true;
                        if (same_boot) {
                                it.delta_mj = g->energy_mj >= acc->base_mj
                                                      ? (double)(g->energy_mj - acc->base_mj)
                                                      : (double)g->energy_mj;
                                it.gap_ns = r->boot_ns > acc->base_boot_ns
                                                    ? r->boot_ns - acc->base_boot_ns
                                                    : 0;
                                from_wall = acc->base_wall_ns;
                                if (acc->base_leaf < first_leaf)
                                        first_leaf = acc->base_leaf;
                        } else if (!a->have_prev || rebooted || (acc && acc->base_valid)) {
                                /* the counter counts since driver load */
                                it.delta_mj = (double)g->energy_mj;
                                it.gap_ns = r->boot_ns;
                                from_wall = r->wall_ns > r->boot_ns ? r->wall_ns - r->boot_ns : 0;
                                if (a->have_prev)
                                        eg.reboot = true;
                                else
                                        eg.before_ledger = true;
                        } else {
                                have_item = false;
                        }
                }
                if (have_item) {
                        first_wall = u64_min(from_wall, first_wall);
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
                eg.start_ns = first_wall;
                eg.end_ns = r->wall_ns;
                eg.first_leaf = first_leaf;
                eg.last_leaf = leaf;
                if (grow(&a->eg, &a->capeg, a->neg + 1, sizeof(*a->eg)) < 0) {
                        a->err = -ENOMEM;
                        return;
                }
                a->eg[a->neg++] = eg;
        }
}

void energy_findings(struct analyzer *a) {
        double idle_w[RECORD_MAX_GPUS] = {0}, marg_w[RECORD_MAX_GPUS] = {0};

        for (size_t i = 0; i < a->ngpus; i++) {
                const struct gpu_acc *g = &a->gpus[i];
                idle_w[i] = g->idle_observed_ms > 0 ? g->idle_energy_mj / g->idle_observed_ms
                                                    : DEFAULT_IDLE_W;
                marg_w[i] = g->busy_busy_ms > 0
                                    ? (g->busy_energy_mj - idle_w[i] * g->busy_observed_ms) /
                                              g->busy_busy_ms
                                    : DEFAULT_MARGINAL_W;
                if (!(marg_w[i] >= 1.0))
                        marg_w[i] = DEFAULT_MARGINAL_W;
        }
        for (size_t k = 0; k < a->neg; k++) {
                const struct energy_gap *eg = &a->eg[k];
                double joules = 0, gpu_s = 0, gap_max = 0;
                size_t ngpu = 0;

                for (size_t j = 0; j < eg->nitems; j++) {
                        const struct energy_item *it = &a->ei[eg->first_item + j];
                        double iw = it->gpu == GPU_NONE ? DEFAULT_IDLE_W : idle_w[it->gpu];
                        double mw = it->gpu == GPU_NONE ? DEFAULT_MARGINAL_W : marg_w[it->gpu];
                        double gap_s = (double)it->gap_ns / 1e9;
                        double jl = it->delta_mj / 1000.0 - iw * gap_s;

                        if (gap_s > gap_max)
                                gap_max = gap_s;
                        if (jl <= 0)
                                continue;
                        joules += jl;
                        gpu_s += jl / mw;
                        ngpu++;
                }
                if (gpu_s >= 1.0) {
                        struct finding f = finding_make(
                                FIND_ENERGY_UNACCOUNTED,
                                "%.0f J beyond idle on %zu GPU(s) in %.3f s without records%s: "
                                "about %.1f GPU-seconds of work",
                                joules, ngpu, gap_max,
                                eg->before_ledger ? " before the ledger began (since driver load)"
                                : eg->reboot      ? " (since driver load after a reboot)"
                                                  : "",
                                gpu_s);
                        set_time(&f, eg->start_ns, eg->end_ns);
                        set_leaves(&f, eg->first_leaf, eg->last_leaf);
                        f.has_energy = true;
                        f.energy_joules = joules;
                        f.gpu_seconds = gpu_s;
                        add_finding(a, &f);
                }
        }
}
