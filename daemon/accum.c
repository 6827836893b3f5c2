/* SPDX-License-Identifier: MIT */
#include "accum.h"

#include <string.h>

void accum_init(struct accum *a, uint32_t period_s, uint32_t interval_us) {
        memset(a, 0, sizeof *a);
        a->period_s = period_s;
        a->interval_us = interval_us;
}

uint64_t accum_period_start(uint64_t wall_ns, uint32_t period_s) {
        uint64_t p = (uint64_t)period_s * 1000000000u;
        return wall_ns - wall_ns % p;
}

static void gpu_baseline(struct accum_gpu *g, const struct gpu_reading *r) {
        memset(g, 0, sizeof *g);
        memcpy(g->uuid, r->uuid, sizeof g->uuid);
        g->uuid[REC_UUID_MAX] = '\0';
        g->energy_start_mj = r->energy_mj;
        g->energy_end_mj = r->energy_mj;
        g->flags =
                r->flags & (GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER | GPU_UTIL_UNSUPPORTED |
                            GPU_PROCS_UNSUPPORTED | GPU_POWER_UNSUPPORTED | GPU_MEM_UNSUPPORTED);
}

void accum_begin(struct accum *a, uint64_t wall_ns, uint64_t boot_ns, bool at_boundary,
                 const struct gpu_reading *r, size_t n) {
        a->open = true;
        a->period_start_ns = accum_period_start(wall_ns, a->period_s);
        a->start_wall_ns = wall_ns;
        a->start_boot_ns = boot_ns;
        a->start_at_boundary = at_boundary;
        a->samples = 0;
        a->n = 0;
        for (size_t i = 0; i < n && a->n < RECORD_MAX_GPUS; i++) {
                if (a->n && strcmp(a->g[a->n - 1].uuid, r[i].uuid) >= 0)
                        continue; /* the sampler promised sorted, unique UUIDs */
                gpu_baseline(&a->g[a->n++], &r[i]);
        }
}

static struct accum_gpu *find_or_insert(struct accum *a, const struct gpu_reading *r,
                                        bool *inserted) {
        size_t lo = 0, hi = a->n;
        *inserted = false;
        while (lo < hi) {
                size_t mid = (lo + hi) / 2;
                int c = strcmp(a->g[mid].uuid, r->uuid);
                if (c == 0)
                        return &a->g[mid];
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        if (a->n >= RECORD_MAX_GPUS)
                return NULL;
        memmove(&a->g[lo + 1], &a->g[lo], (a->n - lo) * sizeof a->g[0]);
        a->n++;
        gpu_baseline(&a->g[lo], r);
        *inserted = true;
        return &a->g[lo];
}

void accum_add(struct accum *a, uint64_t dt_us, const struct gpu_reading *r, size_t n) {
        bool seen[RECORD_MAX_GPUS] = {false};
        const uint64_t max_credit = 2 * (uint64_t)a->interval_us;
        a->samples++;
        for (size_t i = 0; i < n; i++) {
                bool inserted;
                struct accum_gpu *g = find_or_insert(a, &r[i], &inserted);
                if (!g)
                        continue;
                /* Re-index seen[] after an insertion shifted entries. */
                size_t idx = (size_t)(g - a->g);
                if (inserted) {
                        memmove(&seen[idx + 1], &seen[idx], (a->n - 1 - idx) * sizeof seen[0]);
                        seen[idx] = true;
                        continue; /* appeared mid-window: this reading is its baseline */
                }
                seen[idx] = true;
                g->flags |= r[i].flags;
                /*
                 * A reading that comes late (a hung sampler) is credited with at
                 * most two intervals of observed time: the rest of its span is a
                 * hole in the evidence (observed_ms < window), not a guess.
                 */
                uint64_t credit = dt_us > max_credit ? max_credit : dt_us;
                uint64_t busy = r[i].busy_us < dt_us ? r[i].busy_us : dt_us;
                uint64_t occ = r[i].occupied_us < dt_us ? r[i].occupied_us : dt_us;
                if (credit < dt_us) {
                        busy = busy * credit / dt_us;
                        occ = occ * credit / dt_us;
                }
                g->observed_us += credit;
                g->busy_us += busy;
                g->occupied_us += occ;
                g->energy_used_mj += r[i].energy_used_mj; /* counters: always the full delta */
                g->energy_end_mj = r[i].energy_mj;
                g->power_mw_us += (uint64_t)r[i].power_mw * credit;
                if (r[i].power_mw > g->power_max_mw)
                        g->power_max_mw = r[i].power_mw;
                if (r[i].mem_used_bytes > g->mem_max)
                        g->mem_max = r[i].mem_used_bytes;
                if (r[i].procs > g->procs_max)
                        g->procs_max = r[i].procs;
                g->xids += r[i].xids;
        }
        for (size_t i = 0; i < a->n; i++)
                if (!seen[i])
                        a->g[i].flags |= GPU_LOST;
}

static uint64_t us_to_ms(uint64_t us) {
        return (us + 500) / 1000;
}

void accum_finish(struct accum *a, uint64_t wall_ns, uint64_t boot_ns, bool at_boundary,
                  struct rec_summary *out) {
        memset(out, 0, sizeof *out);
        out->period_start_ns = a->period_start_ns;
        out->period_s = a->period_s;
        out->flags = (a->start_at_boundary && at_boundary) ? 0 : SUMMARY_PARTIAL;
        out->obs_start_wall_ns = a->start_wall_ns;
        out->obs_end_wall_ns = wall_ns;
        out->obs_start_boot_ns = a->start_boot_ns;
        out->obs_end_boot_ns = boot_ns;
        out->samples_taken = a->samples;
        uint64_t len_us = boot_ns > a->start_boot_ns ? (boot_ns - a->start_boot_ns) / 1000 : 0;
        out->samples_expected =
                a->interval_us ? (uint32_t)((len_us + a->interval_us / 2) / a->interval_us) : 0;
        out->gpu_count = (uint32_t)a->n;
        for (size_t i = 0; i < a->n; i++) {
                const struct accum_gpu *g = &a->g[i];
                struct gpu_summary *s = &out->gpus[i];
                memcpy(s->uuid, g->uuid, sizeof s->uuid);
                s->flags = g->flags;
                s->observed_ms = us_to_ms(g->observed_us);
                s->busy_ms = us_to_ms(g->busy_us);
                s->occupied_ms = us_to_ms(g->occupied_us);
                s->energy_start_mj = g->energy_start_mj;
                s->energy_end_mj = g->energy_end_mj;
                s->energy_used_mj = g->energy_used_mj;
                s->power_avg_mw = g->observed_us ? (uint32_t)(g->power_mw_us / g->observed_us) : 0;
                s->power_max_mw = g->power_max_mw;
                s->mem_used_max_bytes = g->mem_max;
                s->procs_max = g->procs_max;
                s->xid_count = g->xids;
        }
        a->open = false;
}
