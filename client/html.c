/* SPDX-License-Identifier: MIT */
/*
 * `gpuhours check --html FILE`: one self-contained page (inline CSS and
 * SVG, no script, no external resource) with the verdicts and a timeline
 * per node and GPU: observed, unobserved (by how its hidden time is
 * bounded), busy share, and each rule's window.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "util.h"

#define COLS 1000u /* columns of the timeline */
#define LEFT 340u  /* px for the row labels */

static void esc(FILE *f, const char *s) {
        for (; *s; s++) {
                switch (*s) {
                case '<':
                        fputs("&lt;", f);
                        break;
                case '>':
                        fputs("&gt;", f);
                        break;
                case '&':
                        fputs("&amp;", f);
                        break;
                case '"':
                        fputs("&quot;", f);
                        break;
                case '\'':
                        fputs("&#39;", f);
                        break;
                default:
                        fputc((unsigned char)*s < 0x20 ? '?' : *s, f);
                }
        }
}

static const char *verdict_color(enum verdict v) {
        return v == V_PASS ? "#2e7d32" : v == V_FAIL ? "#c62828" : "#ef8f00";
}

struct col {
        double obs, busy, idle_gap, energy_gap, worst_gap;
};

/* Spread [s, e) over the columns, adding its share of x (per second) via fn. */
static void spread(struct col *c, uint64_t A, uint64_t B, uint64_t s, uint64_t e, int what,
                   double rate) {
        if (s < A)
                s = A;
        if (e > B)
                e = B;
        double span = (double)(B - A);
        while (s < e) {
                size_t k = (size_t)((double)(s - A) / span * COLS);
                if (k >= COLS)
                        k = COLS - 1;
                uint64_t ce = A + (uint64_t)ceil(span * (double)(k + 1) / COLS);
                if (ce <= s)
                        ce = s + 1;
                if (ce > e)
                        ce = e;
                double len = (double)(ce - s) / 1e9;
                double *t = what == 0   ? &c[k].obs
                            : what == 1 ? &c[k].busy
                            : what == 2 ? &c[k].idle_gap
                            : what == 3 ? &c[k].energy_gap
                                        : &c[k].worst_gap;
                *t += len * rate;
                s = ce;
        }
}

static const char *evidence_color(const struct col *c, double col_s) {
        if (c->worst_gap > 0.005 * col_s)
                return "#d32f2f";
        if (c->energy_gap > 0.005 * col_s)
                return "#ff9800";
        if (c->idle_gap > 0.005 * col_s)
                return "#aed581";
        if (c->obs > 0)
                return "#43a047";
        return "#eeeeee";
}

static void gpu_rows(FILE *f, const struct evidence *ev, const struct ev_gpu *g, unsigned y,
                     struct col *c) {
        uint64_t A = ev->start_ns, B = ev->end_ns;
        memset(c, 0, COLS * sizeof(*c));
        for (size_t i = 0; i < g->np; i++) {
                const struct apiece *p = &g->p[i];
                uint64_t s = p->exact ? p->ws : p->uws, e = p->exact ? p->we : p->uwe;
                double span = (double)(e - s) / 1e9;
                if (span <= 0)
                        continue;
                double un = (double)p->unobs_ns / 1e9;
                if (!p->exact)
                        un = (double)(p->obs_ns ? p->unobs_ns : p->ulen_ns) / 1e9;
                int what = p->bound == APB_ENERGY_IDLE ? 2 : p->bound == APB_ENERGY ? 3 : 4;
                spread(c, A, B, s, e, 0, (double)p->obs_ns / 1e9 / span);
                if (p->busy_measured)
                        spread(c, A, B, s, e, 1, p->busy_s / span);
                if (un > 0 && (p->hidden_u_s > 0 || what == 2))
                        spread(c, A, B, s, e, what, fmin(1, un / span));
        }
        double col_s = (double)(B - A) / 1e9 / COLS;
        /* evidence lane: runs of one colour */
        for (unsigned k = 0; k < COLS;) {
                const char *col = evidence_color(&c[k], col_s);
                unsigned e = k + 1;
                while (e < COLS && strcmp(evidence_color(&c[e], col_s), col) == 0)
                        e++;
                fprintf(f, "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"9\" fill=\"%s\"/>\n",
                        LEFT + k, y, e - k, col);
                k = e;
        }
        /* busy lane: opacity = busy share, in tenths */
        for (unsigned k = 0; k < COLS;) {
                int tenth = (int)lround(fmin(1, c[k].busy / col_s) * 10);
                unsigned e = k + 1;
                while (e < COLS && (int)lround(fmin(1, c[e].busy / col_s) * 10) == tenth)
                        e++;
                if (tenth > 0)
                        fprintf(f,
                                "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"9\" "
                                "fill=\"#1565c0\" fill-opacity=\"%.1f\"/>\n",
                                LEFT + k, y + 10, e - k, tenth / 10.0);
                k = e;
        }
}

int check_html(const struct evidence *ev, const struct rule_result *r, size_t n, int exit_code,
               char **out, size_t *len) {
        FILE *f = open_memstream(out, len);
        struct col *c = calloc(COLS, sizeof(*c));
        if (!f || !c) {
                if (f)
                        fclose(f);
                free(c);
                return -ENOMEM;
        }
        char t1[40], t2[40];
        time_format_iso(ev->start_ns, false, t1, sizeof(t1));
        time_format_iso(ev->end_ns, false, t2, sizeof(t2));
        static const char *const vn[] = {"PASS", "UNKNOWN", "FAIL", "ERROR"};
        fprintf(f,
                "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
                "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                "style-src 'unsafe-inline'\">\n"
                "<title>gpuhours check: %s</title>\n<style>\n"
                "body{font:14px sans-serif;margin:20px;color:#222;background:#fff}\n"
                "table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid "
                "#ddd;text-align:left}\n.v{font-weight:bold;color:#fff;padding:2px 6px}\n"
                "svg text{font:11px monospace}\n</style></head><body>\n"
                "<h1>gpuhours check: <span class=\"v\" style=\"background:%s\">%s</span></h1>\n"
                "<p>Audited interval %s .. %s; %zu sources, %zu GPUs.</p>\n",
                vn[exit_code < 4 ? exit_code : 3],
                exit_code == 0 ? "#2e7d32" : exit_code == 2 ? "#c62828" : "#ef8f00",
                vn[exit_code < 4 ? exit_code : 3], t1, t2, ev->nnodes, ev->ngpus);
        fputs("<table><tr><th>line</th><th>rule</th><th>verdict</th><th>lower</th><th>upper"
              "</th><th>unit</th><th>period</th><th>why</th></tr>\n",
              f);
        for (size_t i = 0; i < n; i++) {
                fprintf(f, "<tr><td>%u</td><td><code>", r[i].rule->line);
                esc(f, r[i].rule->text);
                fprintf(f,
                        "</code></td><td><span class=\"v\" style=\"background:%s\">%s</span>"
                        "</td><td>%.6g</td><td>%s%.6g</td><td>%s</td><td>%s</td><td>",
                        verdict_color(r[i].verdict), verdict_name(r[i].verdict), r[i].lower,
                        isinf(r[i].upper) ? "&infin;" : "", isinf(r[i].upper) ? 0.0 : r[i].upper,
                        r[i].unit, r[i].where);
                esc(f, r[i].why);
                fputs("</td></tr>\n", f);
        }
        fputs("</table>\n", f);
        for (size_t i = 0; i < ev->nnodes; i++)
                if (ev->nodes[i].state == NODE_SAME_ORIGIN) {
                        fputs("<p><b>", f);
                        esc(f, ev->nodes[i].name);
                        fputs("</b>: the same origin as ", f);
                        esc(f, ev->nodes[ev->nodes[i].judged_as].name);
                        fputs(": one node, judged once, from the larger tree</p>\n", f);
                } else if (ev->nodes[i].state != NODE_OK) {
                        fputs("<p><b>", f);
                        esc(f, ev->nodes[i].name);
                        fputs(ev->nodes[i].state == NODE_FAILED ? "</b>: integrity failure: "
                                                                : "</b>: no evidence: ",
                              f);
                        esc(f, ev->nodes[i].error);
                        fputs("</p>\n", f);
                }
        unsigned rows = (unsigned)n + (unsigned)ev->ngpus + (unsigned)ev->nnodes;
        unsigned height = 40 + rows * 24;
        fprintf(f,
                "<h2>Timeline</h2>\n<p>Per GPU: upper lane evidence (<span "
                "style=\"color:#43a047\">observed</span>, <span "
                "style=\"color:#aed581\">unobserved, energy proves idle</span>, <span "
                "style=\"color:#ff9800\">unobserved, hidden time bounded by energy</span>, <span "
                "style=\"color:#d32f2f\">unobserved, no bound</span>); lower lane <span "
                "style=\"color:#1565c0\">busy share</span>. Top: each rule's window.</p>\n"
                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%u\" height=\"%u\">\n"
                "<rect x=\"0\" y=\"0\" width=\"%u\" height=\"%u\" fill=\"#fff\"/>\n"
                "<text x=\"%u\" y=\"12\">%s</text><text x=\"%u\" y=\"12\" "
                "text-anchor=\"end\">%s</text>\n",
                LEFT + COLS + 10, height, LEFT + COLS + 10, height, LEFT, t1, LEFT + COLS, t2);
        unsigned y = 24;
        double span = (double)(ev->end_ns - ev->start_ns);
        for (size_t i = 0; i < n; i++, y += 24) {
                uint64_t s = r[i].start_ns > ev->start_ns ? r[i].start_ns : ev->start_ns;
                uint64_t e = r[i].end_ns < ev->end_ns ? r[i].end_ns : ev->end_ns;
                fprintf(f, "<text x=\"0\" y=\"%u\">line %u: ", y + 12, r[i].rule->line);
                esc(f, r[i].rule->text);
                fputs("</text>\n", f);
                if (e > s) {
                        unsigned x0 = (unsigned)((double)(s - ev->start_ns) / span * COLS);
                        unsigned x1 = (unsigned)ceil((double)(e - ev->start_ns) / span * COLS);
                        fprintf(f,
                                "<rect x=\"%u\" y=\"%u\" width=\"%u\" height=\"16\" fill=\"%s\" "
                                "fill-opacity=\"0.7\"/>\n",
                                LEFT + x0, y, x1 > x0 ? x1 - x0 : 1, verdict_color(r[i].verdict));
                }
        }
        for (size_t i = 0; i < ev->nnodes; i++) {
                fputs("<text x=\"0\" y=\"", f);
                fprintf(f, "%u\" font-weight=\"bold\">", y + 12);
                esc(f, ev->nodes[i].origin[0] ? ev->nodes[i].origin : ev->nodes[i].name);
                fputs("</text>\n", f);
                y += 24;
                for (size_t k = 0; k < ev->ngpus; k++) {
                        const struct ev_gpu *g = &ev->gpus[k];
                        if (g->node != i)
                                continue;
                        char lab[64];
                        snprintf(lab, sizeof(lab), "  %.40s", g->uuid);
                        fprintf(f, "<text x=\"0\" y=\"%u\">", y + 14);
                        esc(f, lab);
                        fputs("</text>\n", f);
                        gpu_rows(f, ev, g, y, c);
                        y += 24;
                }
        }
        fputs("</svg>\n</body></html>\n", f);
        free(c);
        return fclose(f) == 0 ? 0 : -ENOMEM;
}
