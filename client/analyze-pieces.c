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
        /* repay capacity inputs (ANALYSIS.md 10) */
        uint32_t bseq;  /* boot (by order of first reading) of its end reading */
        int64_t acc;    /* steps accounted in that boot at its end reading (a lower value) */
        bool reboot;    /* a reboot piece: the boot changes from bprev to bseq */
        uint32_t bprev;
        int64_t slack;  /* wall delta minus the boot clocks' lower bound (signed) */
        int64_t acc_pe; /* steps accounted in bprev at its last window's end */
};

struct piece_log {
        struct pl_seg *seg;
        size_t nseg, capseg;
        struct pl_entry *ent;
        size_t nent, capent;
        size_t open0; /* first entry of the segment being built */
        char uuid[RECORD_MAX_GPUS][REC_UUID_MAX + 1]; /* table index at the time -> UUID */
        uint64_t setback; /* wall clock set back across reboots so far (ns) */
        /* repay capacity (ANALYSIS.md 10) */
        uint32_t bseq;       /* boots seen so far (the current one is bseq - 1) */
        int64_t acc_pre;     /* accounted before the summary being read */
        uint64_t last_wall;  /* the last reading */
        int64_t last_acc;    /* its accounted steps */
        uint32_t last_bseq;  /* its boot */
        int64_t win_acc;     /* accounted at the last window's end */
        uint32_t win_bseq;   /* its boot */
        bool rb;             /* pl_reboot called for the segment being built */
        int64_t rb_slack;
        bool full;           /* ANALYZE_PIECES_MAX reached */
        uint64_t anchor;     /* analyzer_pieces_anchor (0: none) */
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

void analyzer_pieces_anchor(struct analyzer *a, uint64_t anchor_ns) {
        if (a->plog)
                a->plog->anchor = anchor_ns;
}

uint64_t pl_anchor(const struct analyzer *a) {
        return a->plog && a->plog->anchor ? a->plog->anchor : a->o.now_ns;
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
        if (l->nent >= ANALYZE_PIECES_MAX) {
                l->full = true;
                a->err = -E2BIG;
                return;
        }
        if (grow(&l->ent, &l->capent, l->nent + 1, sizeof(*l->ent)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        l->ent[l->nent++] = *e;
        copy_uuid(l->uuid[e->idx], a->gpus[e->idx].uuid);
}

void pl_reading(struct analyzer *a, bool new_boot, uint64_t wall) {
        struct piece_log *l = a->plog;

        if (!l)
                return;
        if (new_boot || !l->bseq)
                l->bseq++;
        l->last_wall = wall;
        l->last_acc = a->ck_accounted;
        l->last_bseq = l->bseq - 1;
}

void pl_before_summary(struct analyzer *a) {
        if (a->plog)
                a->plog->acc_pre = a->ck_accounted;
}

void pl_reboot(struct analyzer *a, int64_t slack) {
        if (!a->plog)
                return;
        a->plog->rb = true;
        a->plog->rb_slack = slack;
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

        bool rb = l && l->rb;

        if (!l || a->err)
                return;
        l->rb = false;
        if (strcmp(source, "window") == 0) {
                l->win_acc = a->ck_accounted;
                l->win_bseq = l->bseq ? l->bseq - 1 : 0;
        }
        if (len == 0 && cl == 0 && !rb) {
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
        sg.bseq = l->bseq ? l->bseq - 1 : 0;
        if (rb) {
                /* its end is the new boot's first window start (or last record) */
                sg.reboot = true;
                sg.bprev = l->win_bseq;
                sg.slack = l->rb_slack;
                sg.acc_pe = l->win_acc;
                sg.acc = a->ck_accounted < 0 ? a->ck_accounted : 0;
        } else if (strcmp(source, "window") == 0) {
                sg.acc = a->ck_accounted;
        } else {
                sg.acc = a->ck_accounted < l->acc_pre ? a->ck_accounted : l->acc_pre;
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

#define CAP_INF (INT64_MAX / 4)

static int64_t cap_add(int64_t x, int64_t d) {
        if (x >= CAP_INF)
                return CAP_INF;
        if (d > CAP_INF / 2)
                d = CAP_INF / 2;
        if (d < -CAP_INF / 2)
                d = -CAP_INF / 2;
        x += d;
        return x > CAP_INF ? CAP_INF : x < -CAP_INF ? -CAP_INF : x;
}

/*
 * The repay capacity D of every segment (ANALYSIS.md 10): an upper bound of
 * how much earlier than the real time its end is labelled. Per boot b, e(b)
 * bounds d at a reading whose offset equals the boot's first one; a reading
 * with accounted steps acc has d <= e(b) - acc + tol. Walking back from the
 * last reading (d <= anchor - its label): across a reboot e(prev) <= e(next)
 * + slack + acc_pe - acc_ns + 2 tol, and always d <= anchor - label. Without
 * an anchor, or across boots no reboot piece links, only what is known.
 */
static int repay_capacity(const struct analyzer *a, const struct piece_log *l, int64_t *d) {
        uint64_t anchor = pl_anchor(a);
        int64_t tol = (int64_t)step_tolerance(a), e = CAP_INF;
        uint32_t cur = l->last_bseq;

        if (anchor && l->bseq)
                e = cap_add(cap_add((int64_t)u64_min(anchor, INT64_MAX / 4) -
                                            (int64_t)u64_min(l->last_wall, INT64_MAX / 4),
                                    l->last_acc),
                            tol);
        for (size_t s = l->nseg; s-- > 0;) {
                const struct pl_seg *sg = &l->seg[s];
                int64_t de, da = CAP_INF;

                if (strcmp(sg->source, "before_first") == 0 ||
                    strcmp(sg->source, "no_windows") == 0) {
                        /* laid out at the end but lying before every window: only the anchor */
                        d[s] = anchor ? (int64_t)u64_min(anchor, INT64_MAX / 4) -
                                                (int64_t)u64_min(sg->we, INT64_MAX / 4)
                                      : CAP_INF;
                        continue;
                }
                if (sg->bseq != cur) {
                        e = CAP_INF; /* no reboot piece ties this boot to the later one */
                        cur = sg->bseq;
                }
                de = cap_add(cap_add(e, -sg->acc), tol);
                if (anchor)
                        da = (int64_t)u64_min(anchor, INT64_MAX / 4) -
                             (int64_t)u64_min(sg->we, INT64_MAX / 4);
                d[s] = de < da ? de : da;
                if (sg->reboot) {
                        e = cap_add(cap_add(cap_add(e, sg->slack), sg->acc_pe - sg->acc), 2 * tol);
                        cur = sg->bprev;
                }
        }
        return 0;
}

int analyzer_pieces(const struct analyzer *a, struct analyzer_pieces *out) {
        const struct piece_log *l = a->plog;
        uint8_t final[RECORD_MAX_GPUS]; /* table index when recorded -> index now */
        int64_t *cap, tol;

        memset(out, 0, sizeof(*out));
        if (!l || !a->finished)
                return -EINVAL;
        if (l->full)
                return -E2BIG;
        cap = calloc(l->nseg ? l->nseg : 1, sizeof(*cap));
        if (!cap)
                return -ENOMEM;
        repay_capacity(a, l, cap);
        tol = (int64_t)step_tolerance(a);
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
                        free(cap);
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
                        p->lws = p->uws;
                        p->lwe = p->uwe;
                        p->lexact = p->exact;
                        if (cap[s] > tol) {
                                /* its labels may be early by up to cap[s]: it may end that late */
                                uint64_t end = clampw(sat_add(sg->we, cap[s]), a->first_ns,
                                                      a->last_ns);
                                if (end > p->uwe) {
                                        p->late_ns = end - p->uwe;
                                        p->uwe = end;
                                        p->exact = false;
                                }
                        } else if (cap[s] < -tol) {
                                /* labelled late (the clock ran ahead): anywhere before */
                                p->early_open = true;
                                p->uws = a->first_ns;
                                p->exact = false;
                        }
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
        free(cap);
        return 0;
}
