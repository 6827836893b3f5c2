/* SPDX-License-Identifier: MIT */
/*
 * The finding table and the finding rules (proto/ANALYSIS.md).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze-internal.h"
#include "text.h"

/* Every finding kind: its stable name and default severity, in one place. */
static const struct {
        enum finding_kind kind;
        const char *name;
        enum severity severity;
} finding_table[FIND__COUNT] = {
        {FIND_TIME_GAP, "TIME_GAP", SEV_WARNING},
        {FIND_PARTIAL_PERIOD, "PARTIAL_PERIOD", SEV_INFO},
        {FIND_RESTART_CLEAN, "RESTART_CLEAN", SEV_INFO},
        {FIND_RESTART_UNCLEAN, "RESTART_UNCLEAN", SEV_WARNING},
        {FIND_REBOOT, "REBOOT", SEV_INFO},
        {FIND_CLOCK_STEP, "CLOCK_STEP", SEV_WARNING},
        {FIND_ENERGY_UNACCOUNTED, "ENERGY_UNACCOUNTED", SEV_WARNING},
        {FIND_COUNTER_RESET, "COUNTER_RESET", SEV_WARNING},
        {FIND_GPU_SET_CHANGED, "GPU_SET_CHANGED", SEV_WARNING},
        {FIND_STALE, "STALE", SEV_WARNING},
        {FIND_BAD_SIGNATURE, "BAD_SIGNATURE", SEV_ERROR},
        {FIND_ROOT_MISMATCH, "ROOT_MISMATCH", SEV_ERROR},
        {FIND_MALFORMED, "MALFORMED", SEV_ERROR},
        {FIND_KEY_MISMATCH, "KEY_MISMATCH", SEV_ERROR},
        {FIND_ROLLBACK, "ROLLBACK", SEV_ERROR},
        {FIND_FORK, "FORK", SEV_ERROR},
        {FIND_UNMEASURED, "UNMEASURED", SEV_WARNING},
        {FIND_IMPLAUSIBLE, "IMPLAUSIBLE", SEV_ERROR},
        {FIND_WITNESS_QUORUM, "WITNESS_QUORUM", SEV_ERROR},
        {FIND_WITNESSED, "WITNESSED", SEV_INFO},
        {FIND_CLOCK_AHEAD, "CLOCK_AHEAD", SEV_WARNING},
};

const char *finding_kind_name(enum finding_kind k) {
        if ((unsigned)k >= FIND__COUNT || finding_table[k].kind != k)
                return "UNKNOWN";
        return finding_table[k].name;
}

enum severity finding_default_severity(enum finding_kind k) {
        if ((unsigned)k >= FIND__COUNT || finding_table[k].kind != k)
                return SEV_ERROR;
        return finding_table[k].severity;
}

const char *severity_name(enum severity s) {
        switch (s) {
        case SEV_INFO:
                return "info";
        case SEV_WARNING:
                return "warning";
        default:
                return "error";
        }
}

struct finding finding_vmake(enum finding_kind k, const char *fmt, va_list ap) {
        struct finding f;

        memset(&f, 0, sizeof(f));
        f.kind = k;
        f.severity = finding_default_severity(k);
        if (vsnprintf(f.detail, sizeof(f.detail), fmt, ap) < 0)
                f.detail[0] = '\0';
        return f;
}

struct finding finding_make(enum finding_kind k, const char *fmt, ...) {
        struct finding f;
        va_list ap;

        va_start(ap, fmt);
        f = finding_vmake(k, fmt, ap);
        va_end(ap);
        return f;
}

enum severity analysis_max_severity(const struct analysis *an) {
        enum severity s = SEV_INFO;

        for (size_t i = 0; an && i < an->nfindings; i++)
                if (an->findings[i].severity > s)
                        s = an->findings[i].severity;
        return s;
}

void add_finding(struct analyzer *a, const struct finding *f) {
        if (a->err)
                return;
        if (a->nf >= ANALYZE_FINDINGS_MAX && !a->uncapped) {
                size_t k = (size_t)f->kind;

                if (k < FIND__COUNT) {
                        if (a->suppressed[k] == 0 || f->start_ns < a->sup_first[k])
                                a->sup_first[k] = f->start_ns;
                        if (f->end_ns > a->sup_last[k])
                                a->sup_last[k] = f->end_ns;
                        a->suppressed[k]++;
                }
                return;
        }
        if (grow(&a->f, &a->capf, a->nf + 1, sizeof(*a->f)) < 0) {
                a->err = -ENOMEM;
                return;
        }
        a->f[a->nf++] = *f;
}

void set_time(struct finding *f, uint64_t start, uint64_t end) {
        f->has_time = true;
        f->start_ns = u64_min(start, end);
        f->end_ns = u64_max(start, end);
        f->duration_ns = f->end_ns - f->start_ns;
}

void set_leaves(struct finding *f, uint64_t first, uint64_t last) {
        f->has_leaves = true;
        f->first_leaf = u64_min(first, last);
        f->last_leaf = u64_max(first, last);
}

void clock_step_finding(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0,
                        uint64_t leaf1, const char *fmt, ...) {
        struct finding f;
        va_list ap;

        va_start(ap, fmt);
        f = finding_vmake(FIND_CLOCK_STEP, fmt, ap);
        va_end(ap);

        set_time(&f, ws, we);
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

/* Appends ", uuid" to buf while it fits; counts the rest. */
void list_append(char *buf, size_t n, const char *uuid, size_t *omitted) {
        size_t len = bounded_len(buf, n - 1);
        size_t ul = bounded_len(uuid, REC_UUID_MAX);

        if (len + ul + 3 < n - 16) {
                if (len)
                        buf[len++] = ' ';
                memcpy(buf + len, uuid, ul);
                buf[len + ul] = '\0';
        } else {
                (*omitted)++;
        }
}

void counter_reset_finding(struct analyzer *a, const char *list, size_t count, size_t omitted,
                           uint64_t ws, uint64_t we, uint64_t leaf0, uint64_t leaf1) {
        struct finding f;

        if (!count)
                return;
        if (omitted)
                f = finding_make(FIND_COUNTER_RESET, "energy counter reset on %zu GPU(s): %s +%zu",
                                 count, list, omitted);
        else
                f = finding_make(FIND_COUNTER_RESET, "energy counter reset on %zu GPU(s): %s",
                                 count, list);
        set_time(&f, ws, we);
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

void gpu_set(struct analyzer *a, const struct record *r, uint64_t leaf, const struct gpu_info *gpus,
             uint32_t count, bool always, const char *why) {
        size_t added = 0, removed = 0, omitted_a = 0, omitted_r = 0;
        /* Which GPUs, as far as they fit in the finding's detail. */
        char list_a[120] = "", list_r[120] = "";

        if (a->have_set) {
                for (uint32_t i = 0; i < count; i++) {
                        bool found = false;
                        for (size_t j = 0; j < a->set_n && !found; j++)
                                found = uuid_eq(gpus[i].uuid, a->set_uuid[j]);
                        added += !found;
                        if (!found)
                                list_append(list_a, sizeof(list_a), gpus[i].uuid, &omitted_a);
                }
                for (size_t j = 0; j < a->set_n; j++) {
                        bool found = false;
                        for (uint32_t i = 0; i < count && !found; i++)
                                found = uuid_eq(gpus[i].uuid, a->set_uuid[j]);
                        removed += !found;
                        if (!found)
                                list_append(list_r, sizeof(list_r), a->set_uuid[j], &omitted_r);
                }
        }
        if (always || added || removed) {
                char more_a[24] = "", more_r[24] = "";
                if (omitted_a)
                        snprintf(more_a, sizeof(more_a), " +%zu)", omitted_a);
                if (omitted_r)
                        snprintf(more_r, sizeof(more_r), " +%zu)", omitted_r);
                struct finding f = finding_make(
                        FIND_GPU_SET_CHANGED, "%s: %u GPU(s) now, %zu added%s%s%s, %zu gone%s%s%s",
                        why, count, added, added ? " (" : "", list_a,
                        added ? (omitted_a ? more_a : ")") : "", removed, removed ? " (" : "",
                        list_r, removed ? (omitted_r ? more_r : ")") : "");
                set_time(&f, a->have_set ? a->set_wall : r->wall_ns, r->wall_ns);
                set_leaves(&f, a->have_set ? a->set_leaf : leaf, leaf);
                if (always || a->have_set)
                        add_finding(a, &f);
        }
        a->have_set = true;
        a->set_n = count;
        a->set_leaf = leaf;
        a->set_wall = r->wall_ns;
        a->set_boot_ns = r->boot_ns;
        memcpy(a->set_boot_id, r->boot_id, 16);
        for (uint32_t i = 0; i < count; i++) {
                copy_uuid(a->set_uuid[i], gpus[i].uuid);
                a->set_idx[i] = gpu_index(a, gpus[i].uuid, i, leaf, r->wall_ns);
                if (a->set_idx[i] != GPU_NONE)
                        a->since_win_mask |= 1ull << a->set_idx[i];
        }
}

/* UNMEASURED for uuid: set (UNM_*) over wall [ws, we) (clipped), ns of GPU time. */
void unmeasured_finding(struct analyzer *a, const char *uuid, unsigned set, uint64_t ws,
                        uint64_t we, uint64_t ns, uint64_t leaf0, uint64_t leaf1) {
        static const char *const what[8] = {
                "",
                "busy time not measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode)",
                "occupied time not measured (GPU_PROCS_UNSUPPORTED)",
                "busy and occupied time not measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode; "
                "GPU_PROCS_UNSUPPORTED)",
                "energy not measured (GPU_ENERGY_UNSUPPORTED, no power integral)",
                "busy time and energy not measured (GPU_UTIL_UNSUPPORTED, e.g. MIG mode; "
                "GPU_ENERGY_UNSUPPORTED)",
                "occupied time and energy not measured (GPU_PROCS_UNSUPPORTED; "
                "GPU_ENERGY_UNSUPPORTED)",
                "busy time, occupied time and energy not measured (GPU_UTIL_UNSUPPORTED; "
                "GPU_PROCS_UNSUPPORTED; GPU_ENERGY_UNSUPPORTED)",
        };
        static const char *const excl[8] = {
                "",
                "GPU-hours exclude it",
                "occupied GPU-hours exclude it",
                "the totals exclude them",
                "the energy total excludes it",
                "the totals exclude them",
                "the totals exclude them",
                "the totals exclude them",
        };
        struct finding f;
        char u[REC_UUID_MAX + 1];

        set &= 7u;
        if (!set || ns < NS_PER_MS)
                return;
        copy_uuid(u, uuid);
        f = finding_make(FIND_UNMEASURED, "%s: %s for %.3f s; %s", u, what[set], (double)ns / 1e9,
                         excl[set]);
        set_time(&f, u64_max(ws, a->lo), u64_min(we, a->hi));
        f.duration_ns = ns;
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

/* Close g's UNMEASURED run, if one is open. */
void unmeasured_flush(struct analyzer *a, struct gpu_acc *g) {
        if (!g->run_set)
                return;
        unmeasured_finding(a, g->uuid, g->run_set, g->run_ws, g->run_we, g->run_ns,
                           g->run_first_leaf, g->run_last_leaf);
        g->run_set = 0;
}

/*
 * A GPU entry of summary number a->nsummaries with unmeasured set `set`
 * and ns of counted GPU time: extends the GPU's run when the previous
 * summary had the same set, else closes it and opens a new one.
 */
void unmeasured_track(struct analyzer *a, struct gpu_acc *g, unsigned set, uint64_t ws, uint64_t we,
                      uint64_t ns, uint64_t leaf) {
        if (g->run_set && (g->run_set != set || g->run_seq + 1 != a->nsummaries))
                unmeasured_flush(a, g);
        if (!set)
                return;
        if (!g->run_set) {
                g->run_set = (uint8_t)set;
                g->run_ws = ws;
                g->run_we = we;
                g->run_ns = 0;
                g->run_first_leaf = leaf;
        }
        g->run_ws = u64_min(g->run_ws, ws);
        g->run_we = u64_max(g->run_we, we);
        g->run_ns += ns;
        g->run_last_leaf = leaf;
        g->run_seq = a->nsummaries;
}

int finding_cmp(const void *x, const void *y) {
        const struct finding *p = x, *q = y;

        if (p->has_time != q->has_time)
                return p->has_time ? 1 : -1;
        if (p->start_ns != q->start_ns)
                return p->start_ns < q->start_ns ? -1 : 1;
        if (p->has_leaves && q->has_leaves && p->first_leaf != q->first_leaf)
                return p->first_leaf < q->first_leaf ? -1 : 1;
        if (p->kind != q->kind)
                return p->kind < q->kind ? -1 : 1;
        return p->end_ns < q->end_ns ? -1 : p->end_ns > q->end_ns;
}

/* PARTIAL_PERIOD: a summary flagged SUMMARY_PARTIAL, len ns of boot time observed. */
void rule_partial_period(struct analyzer *a, const struct rec_summary *s, uint64_t len,
                         uint64_t leaf) {
        struct finding f;

        if (!(s->flags & SUMMARY_PARTIAL))
                return;
        f = finding_make(FIND_PARTIAL_PERIOD, "partial period: %.3f s observed of %u s",
                         (double)len / 1e9, s->period_s);
        set_time(&f, s->obs_start_wall_ns, s->obs_end_wall_ns);
        set_leaves(&f, leaf, leaf);
        add_finding(a, &f);
}

/* REBOOT: r's boot ID differs from the previous record's. */
void rule_reboot(struct analyzer *a, const struct record *r, uint64_t leaf) {
        struct finding f =
                finding_make(FIND_REBOOT, "boot ID changed (at a %s record)", kind_word(r->kind));

        set_time(&f, a->prev_wall, r->wall_ns);
        set_leaves(&f, a->prev_leaf, leaf);
        add_finding(a, &f);
}

/* RESTART_CLEAN / RESTART_UNCLEAN: a START that is not the first record. */
void rule_restart(struct analyzer *a, const struct record *r, uint64_t leaf) {
        struct finding f;

        if (a->prev_kind == REC_STOP)
                f = finding_make(FIND_RESTART_CLEAN, "daemon restarted after a clean stop");
        else
                f = finding_make(FIND_RESTART_UNCLEAN, "daemon started without a stop record "
                                                       "(crash, kill or power loss)");
        set_time(&f, a->prev_wall, r->wall_ns);
        set_leaves(&f, a->prev_leaf, leaf);
        add_finding(a, &f);
}

/* CLOCK_STEP for a CLOCK_STEP record; step in seconds, signed. */
void rule_clock_step_record(struct analyzer *a, const struct record *r, uint64_t leaf,
                            double step) {
        const struct rec_clock_step *c = &r->u.clock_step;
        struct finding f =
                finding_make(FIND_CLOCK_STEP, "wall clock stepped %s by %.3f s",
                             step >= 0 ? "forward" : "backward", step >= 0 ? step : -step);

        set_time(&f, c->prev_wall_ns, r->wall_ns);
        set_leaves(&f, leaf, leaf);
        f.has_step = true;
        f.step_seconds = step;
        add_finding(a, &f);
}

/* CLOCK_STEP without a record: the wall clock moved against boot time (ANALYSIS.md 5, 4.4). */
void rule_clock_drift(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0, uint64_t leaf1,
                      double step) {
        struct finding f = finding_make(
                FIND_CLOCK_STEP,
                "wall clock moved %+.3f s against boot time (judged against the boot's first "
                "record; no clock step record)",
                step);

        set_time(&f, ws, we);
        set_leaves(&f, leaf0, leaf1);
        f.has_step = true;
        f.step_seconds = step;
        add_finding(a, &f);
}

/* CLOCK_AHEAD (ANALYSIS.md 5.1): a reading labelled after the audit's anchor + tol_step. */
void rule_clock_ahead(struct analyzer *a, uint64_t wall, uint64_t anchor, uint64_t leaf) {
        char t[40];
        struct finding f;

        time_format_iso(anchor, true, t, sizeof(t));
        f = finding_make(FIND_CLOCK_AHEAD,
                         "record labelled %.3f s after the audit's time %s: the node's wall "
                         "clock runs ahead of real time",
                         (double)(wall - anchor) / 1e9, t);
        set_time(&f, wall, wall);
        set_leaves(&f, leaf, leaf);
        f.has_step = true;
        f.step_seconds = (double)(wall - anchor) / 1e9;
        add_finding(a, &f);
}

/* IMPLAUSIBLE (ANALYSIS.md 7): signed data that contradicts physics. */
void rule_implausible(struct analyzer *a, uint64_t ws, uint64_t we, uint64_t leaf0, uint64_t leaf1,
                      const char *fmt, ...) {
        struct finding f;
        va_list ap;

        va_start(ap, fmt);
        f = finding_vmake(FIND_IMPLAUSIBLE, fmt, ap);
        va_end(ap);
        set_time(&f, ws, we);
        set_leaves(&f, leaf0, leaf1);
        add_finding(a, &f);
}

/* ENERGY_UNACCOUNTED beside a TIME_GAP t whose bound came (partly) from energy. */
void rule_energy_unaccounted(struct analyzer *a, const struct finding *t, double above_j,
                             double gpu_s) {
        struct finding f = finding_make(FIND_ENERGY_UNACCOUNTED,
                                        "%.0f J beyond idle in %.3f s without observation: up "
                                        "to %.1f GPU-seconds of work",
                                        above_j, (double)t->duration_ns / 1e9, gpu_s);

        f.has_time = t->has_time;
        f.start_ns = t->start_ns;
        f.end_ns = t->end_ns;
        f.duration_ns = t->duration_ns;
        f.has_leaves = t->has_leaves;
        f.first_leaf = t->first_leaf;
        f.last_leaf = t->last_leaf;
        f.has_gpus = t->has_gpus;
        f.gpu_mask = t->gpu_mask;
        f.has_energy = true;
        f.energy_joules = above_j;
        f.has_hidden = true;
        f.gpu_seconds = gpu_s;
        add_finding(a, &f);
}

/*
 * B3-B5 for one GPU entry g of summary r (window boot length len; whole:
 * the GPU was credited the whole window).
 */
void rule_gpu_plausible(struct analyzer *a, const struct record *r, const struct gpu_summary *g,
                        uint64_t len, bool whole, uint64_t leaf) {
        const struct rec_summary *s = &r->u.summary;
        uint64_t ws = s->obs_start_wall_ns, we = s->obs_end_wall_ns;
        uint64_t len_ms = len / NS_PER_MS, tol_ms = (a->sample_ns * 2) / NS_PER_MS + 1;
        double len_s = (double)len / 1e9;

        /* what the GPU drew while observed lowers its idle floor (ANALYSIS.md 6) */
        energy_observed_window(a, r, g, len, leaf);
        if (g->observed_ms > len_ms + tol_ms)
                rule_implausible(a, ws, we, leaf, leaf, "%s: observed %llu ms in a %.3f s window",
                                 g->uuid, (unsigned long long)g->observed_ms, len_s);
        if (!(g->flags & GPU_UTIL_UNSUPPORTED) && g->busy_ms > g->observed_ms + 1)
                rule_implausible(a, ws, we, leaf, leaf, "%s: busy %llu ms but observed %llu ms",
                                 g->uuid, (unsigned long long)g->busy_ms,
                                 (unsigned long long)g->observed_ms);
        if (!(g->flags & GPU_PROCS_UNSUPPORTED) && g->occupied_ms > g->observed_ms + 1)
                rule_implausible(a, ws, we, leaf, leaf, "%s: occupied %llu ms but observed %llu ms",
                                 g->uuid, (unsigned long long)g->occupied_ms,
                                 (unsigned long long)g->observed_ms);
        if (g->flags & GPU_POWER_UNSUPPORTED)
                return;
        if ((uint64_t)g->power_avg_mw > (uint64_t)g->power_max_mw + 1)
                rule_implausible(a, ws, we, leaf, leaf,
                                 "%s: average power %u mW above the maximum %u mW", g->uuid,
                                 g->power_avg_mw, g->power_max_mw);
        if (whole && !(g->flags & GPU_ENERGY_UNSUPPORTED) &&
            (double)g->energy_used_mj / 1e3 >
                    ENERGY_TOL_FACTOR * ((double)g->power_max_mw / 1e3) * len_s + ENERGY_TOL_J)
                rule_implausible(a, ws, we, leaf, leaf,
                                 "%s: %.3f J used in %.3f s, more than the maximum power %.3f W "
                                 "x time (+10 %% + 1 J)",
                                 g->uuid, (double)g->energy_used_mj / 1e3, len_s,
                                 (double)g->power_max_mw / 1e3);
}

/* STALE: the newest record ends too long before now (online sources). */
void rule_stale(struct analyzer *a) {
        uint64_t end = a->have_win ? a->win_we : a->prev_wall;
        uint64_t lim = 2ull * a->period_s * NS_PER_S + 30 * NS_PER_S;
        uint64_t leaf = a->have_win ? a->win_leaf : a->prev_leaf;
        struct finding f;

        if (a->o.now_ns <= end || a->o.now_ns - end <= lim)
                return;
        f = finding_make(FIND_STALE, "newest record ends %.0f s before now (limit %.0f s)",
                         (double)(a->o.now_ns - end) / 1e9, (double)lim / 1e9);
        set_time(&f, end, a->o.now_ns);
        set_leaves(&f, leaf, leaf);
        add_finding(a, &f);
}
