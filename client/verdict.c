/* SPDX-License-Identifier: MIT */
/*
 * Verdicts on the rules (check.h, proto/VERDICTS.md): every quantity is an
 * interval [lower, upper] summed over the analyzer's per-GPU pieces
 * (ANALYSIS.md section 10); lower from verified busy time only, upper with
 * every unobserved second at its hidden-compute bound.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "text.h"
#include "util.h"

const char *verdict_name(enum verdict v) {
        static const char *const names[] = {"PASS", "UNKNOWN", "FAIL"};
        return (unsigned)v < ARRAY_SIZE(names) ? names[v] : "?";
}

int verdicts_exit_code(const struct rule_result *r, size_t n) {
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
                int c = r[i].verdict == V_FAIL ? 2 : r[i].verdict == V_UNKNOWN ? 1 : 0;
                if (c > rc)
                        rc = c;
        }
        return rc;
}

static uint64_t max64(uint64_t a, uint64_t b) {
        return a > b ? a : b;
}
static uint64_t min64(uint64_t a, uint64_t b) {
        return a < b ? a : b;
}

/*
 * How much of piece p can lie in [s, e) (VERDICTS.md section 3), in
 * elapsed ns. An exact piece is spread uniformly over its wall span, as the
 * analyzer spreads it (ANALYSIS.md section 2): lo = hi. A piece placed by a
 * wall clock that moved may lie anywhere in [uws, uwe): hi is as much as
 * fits, lo is all of it only when that whole span lies in [s, e).
 */
static uint64_t clip_prop(uint64_t ws, uint64_t we, uint64_t len, uint64_t s, uint64_t e) {
        if (we <= ws)
                return ws >= s && ws < e ? len : 0;
        uint64_t a = max64(ws, s), b = min64(we, e);
        if (b <= a)
                return 0;
        if (b - a == we - ws)
                return len;
        double v = (double)len * ((double)(b - a) / (double)(we - ws)) + 0.5;
        return v >= (double)len ? len : (uint64_t)v;
}

static double overlap_hi(const struct apiece *p, uint64_t uws, uint64_t uwe, uint64_t s,
                         uint64_t e) {
        uint64_t w = uwe > uws ? uwe - uws : 0;
        uint64_t a = max64(uws, s), b = min64(uwe, e);
        bool touch = w ? b > a : uws >= s && uws < e;
        uint64_t x = b > a ? b - a : 0;
        uint64_t h = !touch ? 0 : w >= p->ulen_ns ? min64(p->ulen_ns, x) : min64(p->ulen_ns, e - s);
        return (double)h / 1e9;
}

static double overlap_lo(const struct apiece *p, uint64_t uws, uint64_t uwe, uint64_t s,
                         uint64_t e) {
        uint64_t w = uwe > uws ? uwe - uws : 0;
        uint64_t a = max64(uws, s), b = min64(uwe, e);
        bool touch = w ? b > a : uws >= s && uws < e;
        return touch && uws >= s && uwe <= e ? (double)p->len_ns / 1e9 : 0;
}

/*
 * hi over every placement the clocks and the audit's anchor allow ([uws,
 * uwe), VERDICTS.md 2); lo over the node's own labels with the moves the
 * analyzer detected ([lws, lwe)): what the node itself claims.
 */
static void piece_overlap(const struct apiece *p, uint64_t s, uint64_t e, double *lo,
                          double *hi) {
        bool widened = p->late_ns || p->early_open;
        bool lexact = widened ? p->lexact : p->exact;
        double exact = lexact || p->exact
                               ? (double)clip_prop(p->ws, p->we, p->len_ns, s, e) / 1e9
                               : 0;

        *hi = p->exact ? exact : overlap_hi(p, p->uws, p->uwe, s, e);
        *lo = lexact ? exact
                     : overlap_lo(p, widened ? p->lws : p->uws, widened ? p->lwe : p->uwe, s, e);
}

/* Busy seconds of piece p that must lie in [s, e) (lo) and that can (hi). */
static void piece_busy(const struct apiece *p, uint64_t s, uint64_t e, double *lo, double *hi) {
        double ol, oh, len = (double)p->len_ns / 1e9;
        piece_overlap(p, s, e, &ol, &oh);
        double busy_hi = p->busy_measured ? p->busy_s : (double)p->obs_ns / 1e9;
        *lo = p->busy_measured ? fmax(0, p->busy_s - (len - ol)) : 0;
        *hi = fmin(oh, busy_hi + p->hidden_u_s);
}

/* Busy seconds of GPU g inside [s, e) ⊆ [A, B): the sound lower and upper bounds. */
static void gpu_bounds(const struct ev_gpu *g, uint64_t s, uint64_t e, double *lo, double *hi) {
        *lo = *hi = 0;
        for (size_t i = 0; i < g->np; i++) {
                double l, h;
                piece_busy(&g->p[i], s, e, &l, &h);
                *lo += l;
                *hi += h;
        }
}

/* Unobserved GPU-seconds of g that can lie inside [s, e), and their hidden bound. */
static void gpu_missing(const struct ev_gpu *g, uint64_t s, uint64_t e, double *miss,
                        double *hidden) {
        for (size_t i = 0; i < g->np; i++) {
                const struct apiece *p = &g->p[i];
                double ol, oh;
                if (!p->unobs_ns && p->ulen_ns == p->len_ns)
                        continue;
                piece_overlap(p, s, e, &ol, &oh);
                double un = p->obs_ns ? (double)p->unobs_ns / 1e9 : (double)p->ulen_ns / 1e9;
                *miss += fmin(oh, un);
                *hidden += fmin(oh, p->hidden_u_s);
        }
}

struct judge {
        const struct evidence *ev;
        bool failed_node, missing_node;
};

/* The rule's window, and whether part of it lies outside the audited interval or ahead. */
static void rule_window(const struct judge *j, const struct rule *r, struct rule_result *res,
                        bool *outside, bool *future) {
        uint64_t A = j->ev->start_ns, B = j->ev->end_ns;
        res->start_ns = r->from_ns ? r->from_ns : A;
        res->end_ns = r->to_ns ? r->to_ns : B;
        *future = res->end_ns > j->ev->now_ns;
        *outside = res->start_ns < A || res->end_ns > B || j->ev->empty;
}

static void missing_in(const struct judge *j, struct rule_result *res, uint64_t s, uint64_t e) {
        s = max64(s, j->ev->start_ns);
        e = min64(e, j->ev->end_ns);
        for (size_t i = 0; s < e && i < j->ev->ngpus; i++)
                gpu_missing(&j->ev->gpus[i], s, e, &res->missing_gpu_s, &res->hidden_gpu_s);
}

static void fmt_time(uint64_t ns, char *out, size_t cap) {
        time_format_iso(ns, false, out, cap);
}

/* Why a result is not PASS, from the general conditions; false if none applies. */
static bool general_unknown(const struct judge *j, bool outside, bool future, char *why,
                            size_t cap) {
        if (j->ev->empty) {
                snprintf(why, cap, "no record lies in the audited interval (the records end "
                                   "before --since or begin after --until)");
                return true;
        }
        if (future) {
                snprintf(why, cap, "the window reaches into the future");
                return true;
        }
        if (outside) {
                snprintf(why, cap, "the window reaches outside the audited interval");
                return true;
        }
        if (j->missing_node) {
                snprintf(why, cap, "a node gave no evidence");
                return true;
        }
        return false;
}

/* --- periods --- */

#define DAY_NS (86400ull * NS_PER_SEC)

/* The period holding t: [*s, *e) and its label. */
static void period_of(enum rule_per per, uint64_t t, uint64_t *s, uint64_t *e, char *label,
                      size_t cap) {
        int64_t day = (int64_t)(t / DAY_NS);
        int64_t y;
        unsigned m, d;
        switch (per) {
        case PER_DAY:
                *s = (uint64_t)day * DAY_NS;
                *e = *s + DAY_NS;
                date_civil_from_days(day, &y, &m, &d);
                snprintf(label, cap, "%04lld-%02u-%02u", (long long)y, m, d);
                return;
        case PER_WEEK: {
                int64_t mon = day - (day + 3) % 7; /* 1970-01-01 was a Thursday */
                *s = (uint64_t)mon * DAY_NS;
                *e = *s + 7 * DAY_NS;
                /* ISO 8601 week: the year of its Thursday, counted from that year's first. */
                date_civil_from_days(mon + 3, &y, &m, &d);
                int64_t jan1 = date_days_from_civil(y, 1, 1);
                snprintf(label, cap, "%04lld-W%02lld", (long long)y,
                         (long long)((mon + 3 - jan1) / 7 + 1));
                return;
        }
        case PER_MONTH: {
                date_civil_from_days(day, &y, &m, &d);
                *s = (uint64_t)date_days_from_civil(y, m, 1) * DAY_NS;
                *e = (uint64_t)(m == 12 ? date_days_from_civil(y + 1, 1, 1)
                                        : date_days_from_civil(y, m + 1, 1)) *
                     DAY_NS;
                snprintf(label, cap, "%04lld-%02u", (long long)y, m);
                return;
        }
        case PER_NONE:
                break;
        }
        *s = 0;
        *e = UINT64_MAX;
        label[0] = '\0';
}

/* --- the rule kinds --- */

static void judge_cap(const struct judge *j, const struct rule *r, struct rule_result *res) {
        bool outside, future;
        rule_window(j, r, res, &outside, &future);
        bool flop = r->kind == RULE_CAP_FLOP;
        res->unit = flop ? "flop" : "gpu-hours";
        res->has_flop = flop;
        uint64_t Rs = res->start_ns, Re = res->end_ns;
        uint64_t A = j->ev->start_ns, B = j->ev->end_ns;
        enum verdict worst = V_PASS;
        double best_lo = -1, best_hi = -1;
        bool any = false;
        uint64_t t = Rs;
        while (t < Re) {
                uint64_t ps, pe;
                char label[96];
                period_of(r->per, t, &ps, &pe, label, sizeof(label));
                uint64_t s = max64(ps, Rs), e = min64(pe, Re);
                uint64_t cs = max64(s, A), ce = min64(e, B);
                double lo = 0, hi = 0;
                bool unknown_peak = false;
                for (size_t i = 0; cs < ce && i < j->ev->ngpus; i++) {
                        const struct ev_gpu *g = &j->ev->gpus[i];
                        double l, h;
                        gpu_bounds(g, cs, ce, &l, &h);
                        if (flop) {
                                if (!g->peak_known) {
                                        unknown_peak |= h > 0;
                                        continue;
                                }
                                l *= g->peak_flops;
                                h *= g->peak_flops;
                        } else {
                                l /= 3600;
                                h /= 3600;
                        }
                        lo += l;
                        hi += h;
                }
                /*
                 * A calendar period's total is unknown when any of it lies outside the
                 * audited interval, whatever R clips it to (R defaults to [A, B), so the
                 * first and last days would otherwise be judged on their audited part).
                 */
                bool out_here = j->ev->empty ||
                                (r->per == PER_NONE ? s < A || e > B : ps < A || pe > B);
                if (out_here || unknown_peak || j->missing_node)
                        hi = HUGE_VAL;
                enum verdict v = lo > r->n ? V_FAIL : hi > r->n ? V_UNKNOWN : V_PASS;
                if (v == V_PASS && e > j->ev->now_ns)
                        v = V_UNKNOWN;
                bool better = !any || v > worst ||
                              (v == worst && (v == V_FAIL ? lo > best_lo : hi > best_hi));
                if (better) {
                        worst = v;
                        best_lo = lo;
                        best_hi = hi;
                        res->start_ns = s;
                        res->end_ns = e;
                        snprintf(res->where, sizeof(res->where), "%s", label);
                        if (v == V_FAIL)
                                snprintf(res->why, sizeof(res->why),
                                         "the verified busy time alone exceeds the cap");
                        else if (v == V_UNKNOWN && !general_unknown(j, out_here, e > j->ev->now_ns,
                                                                    res->why, sizeof(res->why)))
                                snprintf(res->why, sizeof(res->why), "%s",
                                         unknown_peak ? "a GPU model without a known peak "
                                                        "(add a peak line)"
                                                      : "only the unobserved time could exceed "
                                                        "the cap");
                        else if (v == V_PASS)
                                snprintf(res->why, sizeof(res->why),
                                         "the upper bound is within the cap");
                }
                any = true;
                if (pe >= Re || r->per == PER_NONE)
                        break;
                t = pe;
        }
        res->verdict = worst;
        res->lower = any ? best_lo : 0;
        res->upper = any ? best_hi : 0;
        missing_in(j, res, res->start_ns, res->end_ns);
}

static void judge_pause(const struct judge *j, const struct rule *r, struct rule_result *res) {
        bool outside, future;
        rule_window(j, r, res, &outside, &future);
        res->unit = "%";
        uint64_t s = max64(res->start_ns, j->ev->start_ns), e = min64(res->end_ns, j->ev->end_ns);
        double max_lo = 0, max_hi = 0, lim = r->pct / 100.0;
        char at_lo[700] = "", at_hi[700] = "";
        bool hi_win = false;
        for (size_t i = 0; s < e && i < j->ev->ngpus; i++) {
                const struct ev_gpu *g = &j->ev->gpus[i];
                const char *origin = j->ev->nodes[g->node].origin;
                for (size_t k = 0; k < g->np; k++) {
                        const struct apiece *p = &g->p[k];
                        double l, h;
                        piece_busy(p, s, e, &l, &h);
                        /*
                         * Upper share: of the piece's part that can lie inside the
                         * pause. Nothing says when inside a window its busy time fell,
                         * so all of it may lie in that part (a window longer than the
                         * pause must not dilute busy time inside it). Lower share: the
                         * busy time that must lie inside, of the whole window.
                         */
                        double ol, oh;
                        piece_overlap(p, s, e, &ol, &oh);
                        double ls = p->len_ns ? l / ((double)p->len_ns / 1e9) : 0;
                        double hs = oh > 0 ? h / oh : 0;
                        uint64_t ps = max64(p->exact ? p->ws : p->uws, s);
                        uint64_t pe = min64(p->exact ? p->we : p->uwe, e);
                        char t1[40], t2[40];
                        if (pe < ps)
                                pe = ps;
                        if (ls > max_lo) {
                                max_lo = ls;
                                fmt_time(ps, t1, sizeof(t1));
                                fmt_time(pe, t2, sizeof(t2));
                                snprintf(at_lo, sizeof(at_lo), "%s GPU %s busy in %s .. %s",
                                         origin, g->uuid, t1, t2);
                        }
                        /* at a tie, name a measured busy window rather than a gap */
                        bool win = p->obs_ns && p->busy_measured && p->busy_s > 0;
                        if (hs > max_hi || (hs > 0 && hs == max_hi && win && !hi_win)) {
                                max_hi = hs;
                                hi_win = win;
                                fmt_time(ps, t1, sizeof(t1));
                                fmt_time(pe, t2, sizeof(t2));
                                if (p->unobs_ns)
                                        snprintf(at_hi, sizeof(at_hi),
                                                 "%s GPU %s: unobserved %s .. %s (%s%s)", origin,
                                                 g->uuid, t1, t2, apiece_bound_name(p->bound),
                                                 p->exact ? "" : ", clock moved");
                                else if (p->late_ns || p->early_open) {
                                        char l1[40], l2[40];
                                        fmt_time(p->ws, l1, sizeof(l1));
                                        fmt_time(p->we, l2, sizeof(l2));
                                        snprintf(at_hi, sizeof(at_hi),
                                                 "%.160s GPU %.100s: window labelled %s .. %s, %lld s "
                                                 "busy, may lie in %s .. %s (%s)",
                                                 origin, g->uuid, l1, l2, (long long)(p->busy_s + 0.5), t1, t2,
                                                 p->early_open ? "its wall clock ran ahead"
                                                               : "its labels may be early");
                                } else
                                        snprintf(at_hi, sizeof(at_hi),
                                                 "%s GPU %s: window %s .. %s%s", origin, g->uuid,
                                                 t1, t2, p->exact ? "" : " (clock moved)");
                        }
                }
        }
        res->lower = max_lo * 100;
        res->upper = max_hi * 100;
        if (max_lo > lim) {
                res->verdict = V_FAIL;
                snprintf(res->why, sizeof(res->why), "%s", at_lo);
        } else if (general_unknown(j, outside, future, res->why, sizeof(res->why))) {
                res->verdict = V_UNKNOWN;
                res->upper = 100;
        } else if (max_hi > lim) {
                res->verdict = V_UNKNOWN;
                snprintf(res->why, sizeof(res->why), "could be busy: %s", at_hi);
        } else {
                res->verdict = V_PASS;
                snprintf(res->why, sizeof(res->why), "every GPU idle in every window");
        }
        missing_in(j, res, res->start_ns, res->end_ns);
}

/* The largest k such that cnt[] >= k on some run of m consecutive slots (monotonic deque). */
static unsigned sustained(const unsigned *cnt, size_t n, size_t m, size_t *dq) {
        if (m == 0 || n < m)
                return 0;
        size_t h = 0, t = 0;
        unsigned best = 0;
        for (size_t i = 0; i < n; i++) {
                while (t > h && cnt[dq[t - 1]] >= cnt[i])
                        t--;
                dq[t++] = i;
                if (dq[h] + m <= i)
                        h++;
                if (i + 1 >= m && cnt[dq[h]] > best)
                        best = cnt[dq[h]];
        }
        return best;
}

static int judge_concurrency(const struct judge *j, const struct rule *r,
                             struct rule_result *res) {
        bool outside, future;
        rule_window(j, r, res, &outside, &future);
        res->unit = "gpus";
        uint64_t A = j->ev->start_ns, B = j->ev->end_ns;
        /*
         * Slots no longer than D / 4: a window longer than that cannot show that
         * fewer GPUs were busy together for D (a GPU busy 11 h of a 24-h window is
         * under half of it, yet may have run beside another for all 11 h). A run
         * is certain to be counted once it lasts m slots, at most D + S, so the
         * slot also bounds what the half-slot rule lets pass beyond D.
         */
        uint64_t quarter = r->for_ns / 4;
        uint64_t S = (uint64_t)j->ev->period_s * NS_PER_SEC;
        if (S > quarter && quarter > 0)
                S = quarter;
        if (S == 0) /* no period known: one-second slots */
                S = NS_PER_SEC;
        bool coarse = false;
        /* (B - A) / S + 2 > CHECK_SLOTS_MAX, without dividing by S */
        while (S <= UINT64_MAX / 2 && S <= (B - A) / (CHECK_SLOTS_MAX - 1)) {
                S *= 2;
                coarse = S > quarter;
        }
        uint64_t g0 = A / S * S;
        size_t n = (size_t)((B - g0 + S - 1) / S);
        unsigned *clo = calloc(n, sizeof(*clo)), *chi = calloc(n, sizeof(*chi));
        double *lo = calloc(n, sizeof(*lo)), *hi = calloc(n, sizeof(*hi));
        size_t *dq = malloc(n * sizeof(*dq));
        if (!clo || !chi || !lo || !hi || !dq) {
                free(clo), free(chi), free(lo), free(hi), free(dq);
                return -ENOMEM;
        }
        for (size_t i = 0; i < j->ev->ngpus; i++) {
                const struct ev_gpu *g = &j->ev->gpus[i];
                memset(lo, 0, n * sizeof(*lo));
                memset(hi, 0, n * sizeof(*hi));
                for (size_t k = 0; k < g->np; k++) {
                        const struct apiece *p = &g->p[k];
                        uint64_t s = max64(p->exact ? p->ws : p->uws, A);
                        uint64_t e = min64(p->exact ? p->we : p->uwe, B);
                        if (e <= s) /* a point: its slot */
                                e = s + 1;
                        for (uint64_t t = s; t < e && t < B;) {
                                size_t sl = (size_t)((t - g0) / S);
                                uint64_t ss = max64(g0 + sl * S, A);
                                uint64_t se = min64(g0 + (sl + 1) * S, B);
                                double l, h;
                                piece_busy(p, ss, se, &l, &h);
                                lo[sl] += l;
                                hi[sl] += h;
                                t = g0 + (sl + 1) * S;
                        }
                }
                for (size_t sl = 0; sl < n; sl++) {
                        uint64_t ss = max64(g0 + sl * S, A), se = min64(g0 + (sl + 1) * S, B);
                        double half = (double)(se - ss) / 2e9;
                        clo[sl] += lo[sl] >= half && half > 0;
                        chi[sl] += hi[sl] >= half && half > 0;
                }
        }
        /* Only the slots inside the rule's window count (it is the audited interval). */
        size_t m = (size_t)(r->for_ns / S) + 1;
        unsigned sl_lo = sustained(clo, n, m, dq), sl_hi = sustained(chi, n, m, dq);
        free(clo), free(chi), free(lo), free(hi), free(dq);
        res->lower = sl_lo;
        res->upper = j->missing_node ? HUGE_VAL : sl_hi;
        if (sl_lo > r->n) {
                res->verdict = V_FAIL;
                snprintf(res->why, sizeof(res->why),
                         "%u GPUs verified busy (>= 50 %% of each %llu s window) for longer "
                         "than the limit",
                         sl_lo, (unsigned long long)(S / NS_PER_SEC));
        } else if (general_unknown(j, outside, future, res->why, sizeof(res->why))) {
                res->verdict = V_UNKNOWN;
                res->upper = HUGE_VAL;
        } else if (sl_hi > r->n) {
                res->verdict = V_UNKNOWN;
                snprintf(res->why, sizeof(res->why),
                         "up to %u GPUs could have been busy at once for longer than the limit "
                         "(unobserved time, or busy time a window does not place)",
                         sl_hi);
        } else if (coarse) {
                res->verdict = V_UNKNOWN;
                res->upper = HUGE_VAL;
                snprintf(res->why, sizeof(res->why),
                         "the interval is too long for slots of a quarter of the duration (at most %u "
                         "slots): audit a shorter interval",
                         CHECK_SLOTS_MAX);
        } else {
                res->verdict = V_PASS;
                snprintf(res->why, sizeof(res->why), "at most %u GPUs busy at once for that long",
                         sl_hi);
        }
        missing_in(j, res, res->start_ns, res->end_ns);
        return 0;
}

static void judge_coverage(const struct judge *j, const struct rule *r, struct rule_result *res) {
        bool outside, future;
        rule_window(j, r, res, &outside, &future);
        res->unit = "%";
        /* the analyzer's per-GPU observed time over each source's interval (verify's) */
        double obs = 0, total = 0;
        for (size_t i = 0; i < j->ev->ngpus; i++) {
                obs += j->ev->gpus[i].observed_s;
                total += j->ev->gpus[i].interval_s;
        }
        double pct = total > 0 ? 100.0 * obs / total : 0;
        res->upper = pct;
        res->lower = j->missing_node ? 0 : pct;
        if (pct < r->pct) {
                res->verdict = V_FAIL;
                snprintf(res->why, sizeof(res->why), "observed %.1f of %.1f GPU-seconds", obs,
                         total);
        } else if (j->missing_node || total == 0 || j->ev->empty) {
                res->verdict = V_UNKNOWN;
                if (!general_unknown(j, false, false, res->why, sizeof(res->why)))
                        snprintf(res->why, sizeof(res->why), "no GPU in the evidence");
        } else {
                res->verdict = V_PASS;
                snprintf(res->why, sizeof(res->why), "observed %.1f of %.1f GPU-seconds", obs,
                         total);
        }
        missing_in(j, res, res->start_ns, res->end_ns);
}

int verdicts_judge(const struct evidence *ev, const struct rules *rs, struct rule_result **out,
                   size_t *nout) {
        struct judge j = {ev, false, false};
        for (size_t i = 0; i < ev->nnodes; i++) {
                j.failed_node |= ev->nodes[i].state == NODE_FAILED;
                /* GPUs beyond the analyzer's table have no pieces: unknown */
                j.missing_node |= ev->nodes[i].state == NODE_MISSING || ev->nodes[i].overflow;
        }
        struct rule_result *res = calloc(rs->n ? rs->n : 1, sizeof(*res));
        if (!res)
                return -ENOMEM;
        size_t n = 0;
        for (size_t i = 0; i < rs->n; i++) {
                const struct rule *r = &rs->r[i];
                if (r->kind == RULE_PEAK)
                        continue;
                struct rule_result *x = &res[n++];
                x->rule = r;
                switch (r->kind) {
                case RULE_PAUSE:
                        judge_pause(&j, r, x);
                        break;
                case RULE_CAP_GPU_HOURS:
                case RULE_CAP_FLOP:
                        judge_cap(&j, r, x);
                        break;
                case RULE_CONCURRENCY:
                        if (judge_concurrency(&j, r, x) != 0) {
                                free(res);
                                return -ENOMEM;
                        }
                        break;
                case RULE_COVERAGE:
                        judge_coverage(&j, r, x);
                        break;
                case RULE_PEAK:
                        break;
                }
                /* Integrity failures and one GPU on two nodes decide every rule. */
                if (j.failed_node || ev->nconflicts) {
                        x->verdict = V_FAIL;
                        snprintf(x->why, sizeof(x->why), "%s",
                                 j.failed_node ? "a source failed integrity verification"
                                               : "a GPU UUID was seen on two nodes at once");
                }
        }
        *out = res;
        *nout = n;
        return 0;
}
