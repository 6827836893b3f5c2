/* SPDX-License-Identifier: MIT */
/*
 * GPU-hours per bucket (proto/ANALYSIS.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze-internal.h"
#include "text.h"

/* ---- buckets ---- */

/* Month number (years * 12 + month - 1) holding t. */
static int64_t month_of(uint64_t t) {
        int64_t y;
        unsigned m, d;

        date_civil_from_days((int64_t)(t / (86400 * NS_PER_S)), &y, &m, &d);
        return y * 12 + (int64_t)m - 1;
}

static uint64_t month_start(int64_t mi) {
        int64_t days = date_days_from_civil(mi / 12, (unsigned)(mi % 12) + 1, 1);

        return (uint64_t)days * 86400 * NS_PER_S;
}

struct bucket_grid {
        enum report_by by;
        uint64_t size; /* hour/day */
        int64_t m0;    /* month of bucket 0 */
        uint64_t b0;   /* hour/day index of bucket 0 */
        size_t n;
        uint64_t *mstart; /* BY_MONTH: the n + 1 month starts from m0 (no calendar per window) */
};

static uint64_t grid_start(const struct bucket_grid *g, size_t k) {
        if (g->by == BY_MONTH)
                return g->mstart[k];
        return (g->b0 + k) * g->size;
}

/* The bucket holding t, for t in [start of bucket 0, start of bucket n). */
static size_t grid_index(const struct bucket_grid *g, uint64_t t) {
        if (g->by == BY_MONTH) {
                /* the last k with mstart[k] <= t (month_of(t) - m0) */
                size_t lo = 0, hi = g->n;
                while (hi - lo > 1) {
                        size_t mid = lo + (hi - lo) / 2;
                        if (g->mstart[mid] <= t)
                                lo = mid;
                        else
                                hi = mid;
                }
                return lo;
        }
        return (size_t)(t / g->size - g->b0);
}

struct bucket_acc {
        uint64_t obs_ns, gap_ns;
};

/* Spread segment [ws, we) (elapsed len) over the buckets within [first, last). */
static void spread(const struct bucket_grid *g, struct bucket *b, struct bucket_acc *acc,
                   uint64_t first, uint64_t last, uint64_t ws, uint64_t we, uint64_t len,
                   const struct win *w, bool open_end) {
        uint64_t from, to;

        if (we <= ws && open_end && ws == last) {
                /* a point at the end of an interval that ends with the last window */
                ws = we = last - 1;
        }
        from = we > ws ? u64_max(ws, first) : ws;
        to = we > ws ? u64_min(we, last) : ws + 1;
        if (len == 0 || from >= last || from < first || (we > ws && to <= from))
                return;
        for (size_t k = grid_index(g, from); k < g->n; k++) {
                uint64_t bs = u64_max(grid_start(g, k), first);
                uint64_t be = k + 1 < g->n ? grid_start(g, k + 1) : last;
                uint64_t part;

                if (bs >= to)
                        break;
                be = u64_min(be, last);
                part = clip_len(ws, we, len, bs, be);
                if (part == 0)
                        continue;
                if (w) {
                        double f = (double)part / (double)len;
                        acc[k].obs_ns += part;
                        b[k].busy_gpu_hours += w->busy_ms * f / 3.6e6;
                        b[k].occupied_gpu_hours += w->occupied_ms * f / 3.6e6;
                        b[k].energy_kwh += w->energy_mj * f / 3.6e9;
                } else {
                        acc[k].gap_ns += part;
                }
        }
}

/*
 * Without --since (--until) the interval's start (end) is the earliest
 * window start (latest end): a segment reaching beyond it only does so
 * because the wall clock moved back, and it was counted whole. Keep it
 * whole here too: move the part beyond that edge onto the edge.
 */
static void clamp_open(const struct analyzer *a, uint64_t first, uint64_t last, uint64_t *ws,
                       uint64_t *we) {
        if (!a->o.since_ns) {
                *ws = u64_max(*ws, first);
                *we = u64_max(*we, first);
        }
        if (!a->o.until_ns) {
                *ws = u64_min(*ws, last);
                *we = u64_min(*we, last);
        }
}

int analyzer_buckets(struct analyzer *a, enum report_by by, struct bucket **out, size_t *n) {
        struct bucket_grid g = {.by = by};
        struct bucket *b;
        struct bucket_acc *acc;
        uint64_t first = a->first_ns, last = a->last_ns;

        *out = NULL;
        *n = 0;
        if (!a->finished)
                return -EINVAL;
        if (a->wins_base && by != BY_GPU)
                return -EINVAL; /* resumed without its earlier windows (analyze-state.h) */
        if (by == BY_GPU) {
                uint64_t interval_ns = a->obs_ns + a->gap_ns;
                if (a->ngpus == 0)
                        return 0;
                b = calloc(a->ngpus, sizeof(*b));
                if (!b)
                        return -ENOMEM;
                for (size_t i = 0; i < a->ngpus; i++) {
                        const struct gpu_acc *ga = &a->gpus[i];
                        /* whole ms exactly as analyzer_finish reports them */
                        uint64_t iv_ms = (interval_ns + NS_PER_MS / 2) / NS_PER_MS;
                        uint64_t obs_ms = u64_min(
                                (u64_min(ga->observed_ns, interval_ns) + NS_PER_MS / 2) / NS_PER_MS,
                                iv_ms);
                        b[i].start_ns = first;
                        b[i].end_ns = last;
                        copy_uuid(b[i].gpu_uuid, ga->uuid);
                        b[i].busy_gpu_hours = ga->busy_ms / 3.6e6;
                        b[i].occupied_gpu_hours = ga->occupied_ms / 3.6e6;
                        b[i].energy_kwh = ga->energy_mj / 3.6e9;
                        b[i].coverage_pct = iv_ms ? 100.0 * (double)obs_ms / (double)iv_ms : 0.0;
                        b[i].gap_seconds = (double)(iv_ms - obs_ms) / 1e3;
                        b[i].observed_seconds = (double)obs_ms / 1e3;
                        b[i].hidden_gpu_seconds = ga->hidden_gs;
                }
                *out = b;
                *n = a->ngpus;
                return 0;
        }
        if (by != BY_HOUR && by != BY_DAY && by != BY_MONTH)
                return -EINVAL;
        if (last <= first) {
                if (a->obs_ns + a->gap_ns == 0)
                        return 0;
                /* elapsed time in a zero wall span (the clock went back): one bucket */
                last = first + 1;
        }
        if (by == BY_MONTH) {
                g.m0 = month_of(first);
                if (month_of(last - 1) - g.m0 + 1 > (int64_t)ANALYZE_BUCKETS_MAX)
                        return -E2BIG;
                g.n = (size_t)(month_of(last - 1) - g.m0 + 1);
        } else {
                g.size = (by == BY_HOUR ? 3600 : 86400) * NS_PER_S;
                g.b0 = first / g.size;
                if ((last - 1) / g.size - g.b0 + 1 > ANALYZE_BUCKETS_MAX)
                        return -E2BIG;
                g.n = (size_t)((last - 1) / g.size - g.b0 + 1);
        }
        b = calloc(g.n, sizeof(*b));
        acc = calloc(g.n, sizeof(*acc));
        if (by == BY_MONTH && (g.mstart = malloc((g.n + 1) * sizeof(*g.mstart))))
                for (size_t k = 0; k <= g.n; k++)
                        g.mstart[k] = month_start(g.m0 + (int64_t)k);
        if (!b || !acc || (by == BY_MONTH && !g.mstart)) {
                free(b);
                free(acc);
                free(g.mstart);
                return -ENOMEM;
        }
        for (size_t k = 0; k < g.n; k++) {
                b[k].start_ns = grid_start(&g, k);
                b[k].end_ns = grid_start(&g, k + 1);
        }
        for (size_t i = 0; i < a->nwins; i++) {
                const struct win *w = &a->wins[i];
                uint64_t ws = w->ws, we = w->we;
                clamp_open(a, first, last, &ws, &we);
                spread(&g, b, acc, first, last, ws, we, w->len, w, !a->o.until_ns);
        }
        for (size_t i = 0; i < a->ngaps; i++) {
                const struct seg *s = &a->gaps[i];
                uint64_t ws = s->ws, we = s->we;
                clamp_open(a, first, last, &ws, &we);
                spread(&g, b, acc, first, last, ws, we, s->len, NULL, !a->o.until_ns);
        }
        for (size_t k = 0; k < g.n; k++) {
                uint64_t tot = acc[k].obs_ns + acc[k].gap_ns;
                b[k].coverage_pct = tot ? 100.0 * (double)acc[k].obs_ns / (double)tot : 0.0;
                b[k].gap_seconds = (double)acc[k].gap_ns / 1e9;
                b[k].observed_seconds = (double)acc[k].obs_ns / 1e9;
        }
        free(acc);
        free(g.mstart);
        *out = b;
        *n = g.n;
        return 0;
}
