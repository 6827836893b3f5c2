/* SPDX-License-Identifier: MIT */
/* Text, JSON and Prometheus output of `gpuhours check` (check.h). */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "json_out.h"
#include "util.h"

static void fmt_num(double v, const char *unit, char *out, size_t cap) {
        if (isinf(v))
                snprintf(out, cap, "unbounded");
        else if (strcmp(unit, "flop") == 0)
                snprintf(out, cap, "%.3e", v);
        else if (strcmp(unit, "gpus") == 0)
                snprintf(out, cap, "%.0f", v);
        else if (strcmp(unit, "%") == 0)
                snprintf(out, cap, "%.2f%%", v);
        else if (fabs(v) >= 100)
                snprintf(out, cap, "%.1f", v);
        else
                snprintf(out, cap, "%.4g", v);
}

static void fmt_t(uint64_t ns, char *out, size_t cap) {
        time_format_iso(ns, false, out, cap);
}

/* Does piece/GPU evidence in [s, e) matter to a rule that is not PASS? */
/* Why a NODE_SAME_ORIGIN source is not judged on its own (text and JSON). */
static void same_origin_detail(const struct evidence *ev, const struct ev_node *nd, char *buf,
                               size_t cap) {
        const struct ev_node *rep = &ev->nodes[nd->judged_as];
        snprintf(buf, cap,
                 "the same origin %.256s as %.512s: one node, judged once, from %.512s (size "
                 "%llu); this tree (size %llu) is %s",
                 nd->origin, rep->name, rep->name, (unsigned long long)rep->size,
                 (unsigned long long)nd->size,
                 nd->size == rep->size ? "the same tree" : "a prefix of that one");
}

static bool overlaps(uint64_t s, uint64_t e, const struct rule_result *r) {
        return s < r->end_ns && e > r->start_ns;
}

void check_write_text(FILE *out, const struct evidence *ev, const struct rule_result *r,
                      size_t n) {
        size_t w = 0;
        for (size_t i = 0; i < n; i++)
                if (strlen(r[i].rule->text) > w)
                        w = strlen(r[i].rule->text);
        if (w > 60)
                w = 60;
        for (size_t i = 0; i < n; i++) {
                char lo[400], hi[400];
                fmt_num(r[i].lower, r[i].unit, lo, sizeof(lo));
                fmt_num(r[i].upper, r[i].unit, hi, sizeof(hi));
                fprintf(out, "%-*s  %-7s  %s%s%s .. %s %s", (int)w, r[i].rule->text,
                        verdict_name(r[i].verdict), r[i].where, r[i].where[0] ? ": " : "", lo,
                        hi,
                        r[i].rule->kind == RULE_COVERAGE ? "observed"
                        : r[i].rule->kind == RULE_PAUSE  ? "busy (max per GPU and window)"
                                                         : r[i].unit);
                if (r[i].has_flop && !isinf(r[i].upper))
                        fprintf(out, " (%.3g of 1e25, %.3g of 1e26)", r[i].upper / 1e25,
                                r[i].upper / 1e26);
                fprintf(out, "  # %s\n", r[i].why);
        }
        bool header = false;
#define HEADER()                                                                   \
        do {                                                                       \
                if (!header)                                                       \
                        fputs("\nevidence that decided a verdict other than PASS:\n", out); \
                header = true;                                                     \
        } while (0)
        for (size_t i = 0; i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                if (nd->state == NODE_OK || nd->state == NODE_SAME_ORIGIN)
                        continue;
                HEADER();
                fprintf(out, "  %s %s: %s: %s\n", nd->name, nd->origin[0] ? nd->origin : "-",
                        nd->state == NODE_FAILED ? "integrity failure (FAIL)"
                                                 : "no evidence (UNKNOWN)",
                        nd->error);
        }
        for (size_t i = 0; i < ev->nconflicts; i++) {
                const struct ev_conflict *c = &ev->conflicts[i];
                char t1[40], t2[40];
                fmt_t(c->start_ns, t1, sizeof(t1));
                fmt_t(c->end_ns, t2, sizeof(t2));
                HEADER();
                fprintf(out, "  error GPU_ON_TWO_NODES %s seen on %s and %s at once, %s .. %s\n",
                        ev->gpus[c->gpu_a].uuid, ev->nodes[ev->gpus[c->gpu_a].node].origin,
                        ev->nodes[ev->gpus[c->gpu_b].node].origin, t1, t2);
        }
        for (size_t i = 0; i < n; i++) {
                if (r[i].verdict != V_UNKNOWN)
                        continue;
                HEADER();
                fprintf(out, "  %s (line %u): %.1f GPU-seconds unobserved, up to %.1f busy "
                             "GPU-seconds hidden\n",
                        r[i].rule->text, r[i].rule->line, r[i].missing_gpu_s, r[i].hidden_gpu_s);
                if (!ev->empty && r[i].end_ns > r[i].start_ns) {
                        /* what no record can cover: before or after the audited interval */
                        uint64_t lo = r[i].start_ns < ev->start_ns
                                              ? (r[i].end_ns < ev->start_ns ? r[i].end_ns
                                                                            : ev->start_ns) -
                                                        r[i].start_ns
                                              : 0;
                        uint64_t hi = r[i].end_ns > ev->end_ns
                                              ? r[i].end_ns - (r[i].start_ns > ev->end_ns
                                                                       ? r[i].start_ns
                                                                       : ev->end_ns)
                                              : 0;
                        if (lo + hi > 0)
                                fprintf(out,
                                        "    and %.3f s of the window lie outside the audited "
                                        "interval (%.3f s before it, %.3f s after it): no "
                                        "evidence there\n",
                                        (double)(lo + hi) / 1e9, (double)lo / 1e9,
                                        (double)hi / 1e9);
                }
                size_t listed = 0, more = 0;
                for (size_t k = 0; k < ev->ngpus; k++) {
                        const struct ev_gpu *g = &ev->gpus[k];
                        for (size_t p = 0; p < g->np; p++) {
                                const struct apiece *pc = &g->p[p];
                                uint64_t ps = pc->exact ? pc->ws : pc->uws;
                                uint64_t pe = pc->exact ? pc->we : pc->uwe;
                                if (pc->hidden_u_s <= 0 || !overlaps(ps, pe, &r[i]))
                                        continue;
                                if (listed >= CHECK_LIST_MAX) {
                                        more++;
                                        continue;
                                }
                                char t1[40], t2[40];
                                fmt_t(ps, t1, sizeof(t1));
                                fmt_t(pe, t2, sizeof(t2));
                                fprintf(out, "    %s GPU %s: %s .. %s (%.3f s, hidden <= %.3f s, %s",
                                        ev->nodes[g->node].origin, g->uuid, t1, t2,
                                        (double)(pc->obs_ns ? pc->unobs_ns : pc->ulen_ns) / 1e9,
                                        pc->hidden_u_s, apiece_bound_name(pc->bound));
                                if (pc->bound == APB_ENERGY)
                                        fprintf(out, " %.1f J", pc->above_j);
                                if (!pc->exact)
                                        fputs(", the wall clock moved: placed anywhere in this span",
                                              out);
                                fputs(")\n", out);
                                listed++;
                        }
                        if (r[i].rule->kind == RULE_CAP_FLOP && !g->peak_known) {
                                fprintf(out, "    %s GPU %s: model '%s' has no known peak\n",
                                        ev->nodes[g->node].origin, g->uuid, g->name);
                        }
                }
                if (more)
                        fprintf(out, "    … and %zu more unobserved pieces (--json lists all)\n",
                                more);
        }
#undef HEADER
        bool fh = false;
        for (size_t i = 0; i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                char t1[40];
                if (!nd->ahead)
                        continue;
                fmt_t(nd->ahead_ns, t1, sizeof(t1));
                if (!fh)
                        fputs("\nfindings:\n", out);
                fh = true;
                fprintf(out, "  warning CLOCK_AHEAD %s %s: a record labelled %s, %.3f s after "
                             "this audit's time: its wall clock runs ahead\n",
                        nd->name, nd->origin, t1, nd->ahead_s);
        }
        for (size_t i = 0; i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                char detail[1600];
                if (nd->state != NODE_SAME_ORIGIN)
                        continue;
                if (!fh)
                        fputs("\nfindings:\n", out);
                fh = true;
                same_origin_detail(ev, nd, detail, sizeof(detail));
                fprintf(out, "  info SAME_ORIGIN %s: %s\n", nd->name, detail);
        }
}

/* --- JSON --- */


static json_t *jnum(double v) {
        return isfinite(v) ? json_real(v) : json_null();
}

/* The timeline of one node (the source object's "evidence"). */
static json_t *node_evidence(const struct evidence *ev, size_t i, bool *bad) {
        const struct ev_node *nd = &ev->nodes[i];
        static const char *const st[] = {"ok", "failed", "missing", "same-origin"};
        json_t *o = json_object();
        jout_set(o, "state", json_string(st[nd->state]), bad);
        bool err = nd->state == NODE_FAILED || nd->state == NODE_MISSING;
        jout_set(o, "error", err ? json_string(nd->error) : json_null(), bad);
        jout_set(o, "last_record", nd->state == NODE_OK ? jout_time(nd->last_ns) : json_null(), bad);
        jout_set(o, "judged_as",
                 nd->state == NODE_SAME_ORIGIN
                         ? jout_quoted(ev->nodes[nd->judged_as].name, 4096)
                         : json_null(),
                 bad);
        json_t *gpus = json_array();
        for (size_t k = 0; gpus && k < ev->ngpus; k++) {
                const struct ev_gpu *g = &ev->gpus[k];
                if (g->node != i)
                        continue;
                json_t *go = json_object();
                /* signed by the node: quoted like every untrusted string */
                jout_set(go, "uuid", jout_quoted(g->uuid, REC_UUID_MAX), bad);
                jout_set(go, "name", g->name[0] ? jout_quoted(g->name, REC_NAME_MAX) : json_string(""),
                         bad);
                jout_set(go, "peak_flops", g->peak_known ? json_real(g->peak_flops) : json_null(), bad);
                jout_set(go, "peak_source", json_string(g->peak_known ? g->peak_source : ""), bad);
                jout_set(go, "observed_seconds", json_real(g->observed_s), bad);
                jout_set(go, "unobserved_seconds", json_real(g->unobserved_s), bad);
                jout_set(go, "hidden_gpu_seconds", jnum(g->hidden_s), bad);
                json_t *pcs = json_array();
                for (size_t p = 0; pcs && p < g->np; p++) {
                        const struct apiece *pc = &g->p[p];
                        if (!pc->unobs_ns && pc->exact)
                                continue;
                        json_t *po = json_object();
                        jout_set(po, "start", jout_time(pc->exact ? pc->ws : pc->uws), bad);
                        jout_set(po, "end", jout_time(pc->exact ? pc->we : pc->uwe), bad);
                        jout_set(po, "source", json_string(pc->source), bad);
                        jout_set(po, "seconds",
                                 json_real((double)(pc->obs_ns ? pc->unobs_ns : pc->ulen_ns) / 1e9),
                                 bad);
                        jout_set(po, "exact", json_boolean(pc->exact), bad);
                        jout_set(po, "hidden_gpu_seconds", json_real(pc->hidden_u_s), bad);
                        jout_set(po, "bound", json_string(apiece_bound_name(pc->bound)), bad);
                        if (pc->bound == APB_ENERGY || pc->bound == APB_ENERGY_IDLE)
                                jout_set(po, "energy_joules", json_real(pc->above_j), bad);
                        if (json_array_append_new(pcs, po) != 0)
                                *bad = true;
                }
                jout_set(go, "unobserved", pcs, bad);
                if (json_array_append_new(gpus, go) != 0)
                        *bad = true;
        }
        jout_set(o, "gpus", gpus, bad);
        return o;
}

int check_write_json(FILE *out, const struct evidence *ev, const struct rule_result *r, size_t n,
                     int exit_code, const struct source *srcs, size_t nsrcs) {
        bool bad = false;
        json_t *doc = jout_doc("check", ev->now_ns);
        if (!doc)
                return -ENOMEM;
        static const char *const vnames[] = {"PASS", "UNKNOWN", "FAIL", "ERROR"};
        jout_set(doc, "verdict", json_string(vnames[exit_code >= 0 && exit_code < 4 ? exit_code : 3]),
            &bad);
        jout_set(doc, "exit", json_integer(exit_code), &bad);
        json_t *iv = json_object();
        jout_set(iv, "start", jout_time(ev->start_ns), &bad);
        jout_set(iv, "end", jout_time(ev->end_ns), &bad);
        jout_set(doc, "interval", iv, &bad);
        json_t *rules = json_array();
        for (size_t i = 0; rules && i < n; i++) {
                const struct rule_result *x = &r[i];
                json_t *o = json_object();
                jout_set(o, "line", json_integer(x->rule->line), &bad);
                jout_set(o, "rule", json_string(x->rule->text), &bad);
                jout_set(o, "kind", json_string(rule_kind_name(x->rule->kind)), &bad);
                jout_set(o, "verdict", json_string(verdict_name(x->verdict)), &bad);
                jout_set(o, "lower", jnum(x->lower), &bad);
                jout_set(o, "upper", jnum(x->upper), &bad);
                jout_set(o, "unit", json_string(x->unit), &bad);
                jout_set(o, "period", json_string(x->where), &bad);
                jout_set(o, "start", jout_time(x->start_ns), &bad);
                jout_set(o, "end", jout_time(x->end_ns), &bad);
                jout_set(o, "why", json_string(x->why), &bad);
                jout_set(o, "unobserved_gpu_seconds", json_real(x->missing_gpu_s), &bad);
                jout_set(o, "hidden_gpu_seconds", json_real(x->hidden_gpu_s), &bad);
                if (x->has_flop) {
                        jout_set(o, "upper_fraction_of_1e25", jnum(x->upper / 1e25), &bad);
                        jout_set(o, "upper_fraction_of_1e26", jnum(x->upper / 1e26), &bad);
                }
                json_t *names = json_array();
                for (size_t k = 0; names && k < ev->nnodes; k++)
                        if (json_array_append_new(names, jout_quoted(ev->nodes[k].name, 4096)) != 0)
                                bad = true;
                jout_set(o, "sources", names, &bad);
                if (json_array_append_new(rules, o) != 0)
                        bad = true;
        }
        jout_set(doc, "rules", rules, &bad);
        /* the source objects of verify, each with its timeline; nodes[i] is srcs[i] */
        json_t *nodes = json_array();
        for (size_t i = 0; nodes && i < nsrcs; i++) {
                json_t *o = jout_source(&srcs[i], &bad);
                bool same = i < ev->nnodes && ev->nodes[i].name == srcs[i].name;
                jout_set(o, "evidence", same ? node_evidence(ev, i, &bad) : NULL, &bad);
                if (!o || json_array_append_new(nodes, o) != 0)
                        bad = true;
        }
        jout_set(doc, "sources", nodes, &bad);
        /* fleet-level findings: one GPU on two nodes at once */
        json_t *cf = json_array();
        for (size_t i = 0; cf && i < ev->nconflicts; i++) {
                const struct ev_conflict *c = &ev->conflicts[i];
                const char *a = ev->nodes[ev->gpus[c->gpu_a].node].name;
                const char *b = ev->nodes[ev->gpus[c->gpu_b].node].name;
                char detail[1200];
                snprintf(detail, sizeof(detail), "GPU %s seen on %s and %s at once",
                         ev->gpus[c->gpu_a].uuid, ev->nodes[ev->gpus[c->gpu_a].node].origin,
                         ev->nodes[ev->gpus[c->gpu_b].node].origin);
                json_t *o = json_object();
                jout_set(o, "kind", json_string("GPU_ON_TWO_NODES"), &bad);
                jout_set(o, "severity", json_string("error"), &bad);
                jout_set(o, "start", jout_time(c->start_ns), &bad);
                jout_set(o, "end", jout_time(c->end_ns), &bad);
                jout_set(o, "seconds",
                    json_real(c->end_ns >= c->start_ns ? (double)(c->end_ns - c->start_ns) / 1e9
                                                       : 0.0),
                    &bad);
                jout_set(o, "gpus", json_pack("[o]", jout_quoted(ev->gpus[c->gpu_a].uuid, REC_UUID_MAX)),
                         &bad);
                jout_set(o, "sources", json_pack("[oo]", jout_quoted(a, 4096), jout_quoted(b, 4096)),
                         &bad);
                jout_set(o, "detail", jout_quoted(detail, sizeof(detail)), &bad);
                if (json_array_append_new(cf, o) != 0)
                        bad = true;
        }
        for (size_t i = 0; cf && i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                char detail[700];
                if (!nd->ahead)
                        continue;
                snprintf(detail, sizeof(detail),
                         "a record of %.256s is labelled %.3f s after this audit's time",
                         nd->origin, nd->ahead_s);
                json_t *o = json_object();
                jout_set(o, "kind", json_string("CLOCK_AHEAD"), &bad);
                jout_set(o, "severity", json_string("warning"), &bad);
                jout_set(o, "start", jout_time(nd->ahead_ns), &bad);
                jout_set(o, "end", jout_time(nd->ahead_ns), &bad);
                jout_set(o, "step_seconds", json_real(nd->ahead_s), &bad);
                jout_set(o, "sources", json_pack("[o]", jout_quoted(nd->name, 4096)), &bad);
                jout_set(o, "detail", jout_quoted(detail, sizeof(detail)), &bad);
                if (json_array_append_new(cf, o) != 0)
                        bad = true;
        }
        for (size_t i = 0; cf && i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                char detail[1600];
                if (nd->state != NODE_SAME_ORIGIN)
                        continue;
                same_origin_detail(ev, nd, detail, sizeof(detail));
                json_t *o = json_object();
                jout_set(o, "kind", json_string("SAME_ORIGIN"), &bad);
                jout_set(o, "severity", json_string("info"), &bad);
                jout_set(o, "sources",
                         json_pack("[oo]", jout_quoted(nd->name, 4096),
                                   jout_quoted(ev->nodes[nd->judged_as].name, 4096)),
                         &bad);
                jout_set(o, "detail", jout_quoted(detail, sizeof(detail)), &bad);
                if (json_array_append_new(cf, o) != 0)
                        bad = true;
        }
        jout_set(doc, "findings", cf, &bad);
        return jout_write(out, doc, bad);
}

/* --- Prometheus text format --- */

static void label(FILE *f, const char *s) {
        for (; *s; s++) {
                if (*s == '\\' || *s == '"')
                        fputc('\\', f), fputc(*s, f);
                else if (*s == '\n')
                        fputs("\\n", f);
                else
                        fputc(*s, f);
        }
}

static void pnum(FILE *f, double v) {
        if (isinf(v))
                fputs(v > 0 ? "+Inf" : "-Inf", f);
        else if (isnan(v))
                fputs("NaN", f);
        else
                fprintf(f, "%.17g", v);
}

static void rule_labels(FILE *f, const struct rule_result *x) {
        fprintf(f, "{line=\"%u\",kind=\"%s\",rule=\"", x->rule->line,
                rule_kind_name(x->rule->kind));
        label(f, x->rule->text);
        fputs("\"}", f);
}

int check_metrics_text(const struct evidence *ev, const struct rule_result *r, size_t n,
                       int exit_code, char **out, size_t *len) {
        FILE *f = open_memstream(out, len);
        if (!f)
                return -ENOMEM;
        static const struct {
                const char *name, *help;
        } m[] = {
                {"gpuhours_check_verdict", "Verdict of the rule: 0 PASS, 1 UNKNOWN, 2 FAIL."},
                {"gpuhours_check_lower", "Verified lower bound of the rule's quantity (unit label)."},
                {"gpuhours_check_upper", "Upper bound of the rule's quantity with hidden time."},
                {"gpuhours_check_unobserved_gpu_seconds", "Unobserved GPU-seconds in the rule's window."},
                {"gpuhours_check_hidden_gpu_seconds", "Busy GPU-seconds that could hide in the rule's window."},
        };
        for (size_t k = 0; k < ARRAY_SIZE(m); k++) {
                fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n", m[k].name, m[k].help, m[k].name);
                for (size_t i = 0; i < n; i++) {
                        fputs(m[k].name, f);
                        rule_labels(f, &r[i]);
                        fputc(' ', f);
                        double v = k == 0   ? (double)r[i].verdict
                                   : k == 1 ? r[i].lower
                                   : k == 2 ? r[i].upper
                                   : k == 3 ? r[i].missing_gpu_s
                                            : r[i].hidden_gpu_s;
                        pnum(f, v);
                        fputc('\n', f);
                }
        }
        fputs("# HELP gpuhours_check_source_up 1 if the source verified, 0 if not (failed or "
              "unreachable).\n# TYPE gpuhours_check_source_up gauge\n",
              f);
        for (size_t i = 0; i < ev->nnodes; i++) {
                fputs("gpuhours_check_source_up{source=\"", f);
                label(f, ev->nodes[i].name);
                fprintf(f, "\"} %d\n",
                        ev->nodes[i].state == NODE_OK || ev->nodes[i].state == NODE_SAME_ORIGIN);
        }
        fputs("# HELP gpuhours_check_evidence_age_seconds Seconds from the source's last record "
              "to this run.\n# TYPE gpuhours_check_evidence_age_seconds gauge\n",
              f);
        for (size_t i = 0; i < ev->nnodes; i++) {
                if (ev->nodes[i].state != NODE_OK)
                        continue;
                fputs("gpuhours_check_evidence_age_seconds{source=\"", f);
                label(f, ev->nodes[i].name);
                fputs("\"} ", f);
                pnum(f, ev->now_ns > ev->nodes[i].last_ns
                                ? (double)(ev->now_ns - ev->nodes[i].last_ns) / 1e9
                                : 0);
                fputc('\n', f);
        }
        fprintf(f, "# HELP gpuhours_check_exit_code Exit code of the run (0 PASS, 1 UNKNOWN, 2 "
                   "FAIL).\n# TYPE gpuhours_check_exit_code gauge\ngpuhours_check_exit_code %d\n",
                exit_code);
        fputs("# HELP gpuhours_check_last_run_timestamp_seconds When this file was written.\n"
              "# TYPE gpuhours_check_last_run_timestamp_seconds gauge\n"
              "gpuhours_check_last_run_timestamp_seconds ",
              f);
        pnum(f, (double)(ev->now_ns - ev->now_ns % 1000000u) / 1e9); /* whole milliseconds */
        fputc('\n', f);
        return fclose(f) == 0 ? 0 : -ENOMEM;
}
