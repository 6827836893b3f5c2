/* SPDX-License-Identifier: MIT */
/*
 * Evidence analysis, per-GPU pieces module (analyze.h "Per-GPU pieces",
 * proto/ANALYSIS.md section 10): the segments of the timeline that
 * analyze.c lays out (summary windows and the unobserved pieces of section
 * 4), kept per GPU with what the analyzer computed for that GPU in each:
 * observed and unobserved time, busy time, energy and the hidden-compute
 * bound. Nothing here recomputes a length or a bound; it only records them
 * and, where the wall clock moved against the boot clock (section 5), the
 * wider span in which a segment may lie.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "analyze-internal.h"

struct pl_seg {
        const char *source;
        uint64_t ws, we, uws, uwe; /* placement, and every placement the clocks allow */
        uint64_t cl, ulen;         /* counted length, length that may lie in uws..uwe */
        bool exact;
        size_t e0, ne; /* its entries */
};

struct piece_log {
        struct pl_seg *seg;
        size_t nseg, capseg;
        struct pl_entry *ent;
        size_t nent, capent;
        size_t open0; /* first entry of the segment being built */
        char uuid[RECORD_MAX_GPUS][REC_UUID_MAX + 1]; /* table index at the time -> UUID */
        uint64_t setback; /* wall clock set back across reboots so far (ns) */
};

const char *apiece_bound_name(enum apiece_bound b) {
        static const char *const names[] = {"observed",   "energy-idle", "energy",
                                            "no-counter", "no-record",   "absent"};
        return (unsigned)b < sizeof(names) / sizeof(names[0]) ? names[b] : "?";
}

int analyzer_record_pieces(struct analyzer *a) {
        if (a->plog)
                return 0;
        a->plog = calloc(1, sizeof(*a->plog));
        return a->plog ? 0 : -ENOMEM;
}

void pl_free(struct piece_log *l) {
        if (!l)
                return;
        free(l->seg);
        free(l->ent);
        free(l);
}

void pl_gpu(struct analyzer *a, const struct pl_entry *e) {
        struct piece_log *l = a->plog;

        if (!l || a->err || e->idx >= a->ngpus)
                return;
        if (grow(&l->ent, &l->capent, l->nent + 1, sizeof(*l->ent)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        l->ent[l->nent++] = *e;
        copy_uuid(l->uuid[e->idx], a->gpus[e->idx].uuid);
}

static uint64_t sat_add(uint64_t x, int64_t d) {
        if (d < 0)
                return (uint64_t)-d > x ? 0 : x - (uint64_t)-d;
        return UINT64_MAX - x < (uint64_t)d ? UINT64_MAX : x + (uint64_t)d;
}

void pl_segment(struct analyzer *a, const char *source, uint64_t ws, uint64_t we, uint64_t len,
                uint64_t cl, bool between) {
        struct piece_log *l = a->plog;
        struct pl_seg sg = {.source = source, .ws = ws, .we = we, .cl = cl, .ulen = cl,
                            .exact = true};
        int64_t tol = (int64_t)step_tolerance(a), d0, slo, shi;

        if (!l || a->err)
                return;
        if (len == 0 && cl == 0) {
                l->nent = l->open0; /* nothing of it lies anywhere */
                return;
        }
        if (sg.we < sg.ws)
                sg.we = sg.ws;
        sg.uws = sg.ws;
        sg.uwe = sg.we;
        if (between && a->have_win) {
                /*
                 * From the last window's end to we: by the old clock the piece
                 * starts at that end, by the new one it ends at we. When the
                 * wall distance differs from the elapsed length by more than
                 * the step tolerance, either may be right: keep both.
                 */
                uint64_t prev = a->win_we;
                int64_t wall_d = (int64_t)we - (int64_t)prev, d = (int64_t)len - wall_d;

                if (d > tol || d < -tol) {
                        sg.exact = false;
                        sg.uws = u64_min(prev, we > len ? we - len : 0);
                        sg.uwe = u64_max(sat_add(prev, (int64_t)u64_min(len, INT64_MAX)), we);
                        sg.ulen = u64_max(len, cl);
                        if (strcmp(source, "reboot") == 0 && d > tol)
                                l->setback += (uint64_t)d;
                }
        }
        /*
         * Steps within this boot (the offset's drift from the boot's first
         * reading, section 5) and wall clock set back across earlier reboots:
         * the segment may lie that much earlier or later.
         */
        d0 = a->ck_valid ? -a->ck_accounted : 0;
        if (d0 <= tol && d0 >= -tol)
                d0 = 0; /* within the precision the wall clock is trusted to anyway */
        slo = d0 < 0 ? d0 : 0;
        shi = (d0 > 0 ? d0 : 0) + (int64_t)u64_min(l->setback, INT64_MAX / 2);
        if (slo || shi) {
                sg.exact = false;
                sg.uws = sat_add(sg.uws, slo);
                sg.uwe = sat_add(sg.uwe, shi);
        }
        sg.e0 = l->open0;
        sg.ne = l->nent - l->open0;
        if (grow(&l->seg, &l->capseg, l->nseg + 1, sizeof(*l->seg)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        l->seg[l->nseg++] = sg;
        l->open0 = l->nent;
}

void analyzer_pieces_free(struct analyzer_pieces *p) {
        for (size_t i = 0; i < p->ngpus; i++) {
                free(p->gpus[i].p);
                p->gpus[i].p = NULL;
        }
        p->ngpus = 0;
}

static uint64_t clampw(uint64_t x, uint64_t lo, uint64_t hi) {
        return x < lo ? lo : x > hi ? hi : x;
}

int analyzer_pieces(const struct analyzer *a, struct analyzer_pieces *out) {
        const struct piece_log *l = a->plog;
        uint8_t final[RECORD_MAX_GPUS]; /* table index when recorded -> index now */

        memset(out, 0, sizeof(*out));
        if (!l || !a->finished)
                return -EINVAL;
        out->overflow = a->gpu_overflow_reported;
        out->ngpus = a->ngpus;
        for (size_t i = 0; i < RECORD_MAX_GPUS; i++) {
                final[i] = GPU_NONE;
                for (size_t k = 0; l->uuid[i][0] && k < a->ngpus; k++)
                        if (uuid_eq(l->uuid[i], a->gpus[k].uuid))
                                final[i] = (uint8_t)k;
        }
        for (size_t g = 0; g < a->ngpus; g++) {
                struct agpu_pieces *gp = &out->gpus[g];

                copy_uuid(gp->uuid, a->gpus[g].uuid);
                gp->p = calloc(l->nseg ? l->nseg : 1, sizeof(*gp->p));
                if (!gp->p) {
                        analyzer_pieces_free(out);
                        return -ENOMEM;
                }
                for (size_t s = 0; s < l->nseg; s++) {
                        const struct pl_seg *sg = &l->seg[s];
                        const struct pl_entry *e = NULL;
                        struct apiece *p = &gp->p[gp->n];

                        for (size_t k = sg->e0; k < sg->e0 + sg->ne; k++)
                                if (final[l->ent[k].idx] == g) {
                                        e = &l->ent[k];
                                        break;
                                }
                        p->source = sg->source;
                        p->ws = clampw(sg->ws, a->first_ns, a->last_ns);
                        p->we = clampw(sg->we, a->first_ns, a->last_ns);
                        p->uws = clampw(sg->uws, a->first_ns, a->last_ns);
                        p->uwe = clampw(sg->uwe, a->first_ns, a->last_ns);
                        p->exact = sg->exact;
                        if (e) {
                                p->obs_ns = e->obs_ns;
                                p->unobs_ns = e->unobs_ns;
                                p->busy_measured = e->busy_measured;
                                p->busy_s = e->busy_ms / 1e3;
                                p->counter = e->counter;
                                p->energy_j = e->energy_mj / 1e3;
                                p->bound = (enum apiece_bound)e->bound;
                                p->hidden_s = e->hidden_s;
                                p->hidden_u_s = e->hidden_u_s;
                                p->above_j = e->above_j;
                        } else {
                                /* not in this segment's summary or set: the worst case */
                                p->unobs_ns = sg->cl;
                                p->bound = APB_ABSENT;
                                p->hidden_s = (double)sg->cl / 1e9;
                                p->hidden_u_s = -1;
                        }
                        p->len_ns = p->obs_ns + p->unobs_ns;
                        p->ulen_ns = p->obs_ns ? p->len_ns : u64_max(sg->ulen, p->len_ns);
                        if (p->hidden_u_s < 0 || p->hidden_u_s > (double)p->ulen_ns / 1e9)
                                p->hidden_u_s = (double)p->ulen_ns / 1e9;
                        if (p->hidden_u_s < p->hidden_s)
                                p->hidden_u_s = p->hidden_s;
                        if (p->bound == APB_ENERGY_IDLE && p->hidden_u_s > 0)
                                p->bound = APB_ENERGY; /* idle only over the counted part */
                        if (p->ulen_ns == 0 || (p->uwe <= p->uws && p->len_ns == 0))
                                continue; /* nothing of it in the interval */
                        gp->n++;
                }
        }
        return 0;
}
