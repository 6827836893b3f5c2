/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

bool output_use_color(FILE *out) {
        const char *nc = getenv("NO_COLOR");
        if (nc && nc[0])
                return false;
        /* A terminal without escape sequences (TERM=dumb, Emacs shells) or none. */
        const char *term = getenv("TERM");
        if (!term || !term[0] || strcmp(term, "dumb") == 0)
                return false;
        return isatty(fileno(out)) == 1;
}

int sources_exit_code(const struct source *srcs, size_t n) {
        int code = 0;
        for (size_t i = 0; i < n; i++) {
                int c = source_exit_code(&srcs[i]);
                if (c > code)
                        code = c;
        }
        return code;
}

static const char *verdict_word(enum source_status st) {
        switch (st) {
        case SRC_OK:
                return "VERIFIED";
        case SRC_FINDINGS:
                return "VERIFIED WITH FINDINGS";
        case SRC_FAILED:
                return "FAILED";
        case SRC_ERROR:
                return "ERROR";
        }
        return "ERROR";
}

static const char *status_color(enum source_status st) {
        switch (st) {
        case SRC_OK:
                return "\033[1;32m";
        case SRC_FINDINGS:
                return "\033[1;33m";
        case SRC_FAILED:
                return "\033[1;31m";
        case SRC_ERROR:
                return "\033[1;35m";
        }
        return "";
}

static const char *severity_color(enum severity sev) {
        switch (sev) {
        case SEV_INFO:
                return "\033[36m";
        case SEV_WARNING:
                return "\033[33m";
        case SEV_ERROR:
                return "\033[31m";
        }
        return "";
}

/* The analyzer's elapsed length where it knows it (boot time), else the wall bounds. */
static double finding_seconds(const struct finding *f) {
        if (f->duration_ns)
                return (double)f->duration_ns / 1e9;
        return f->end_ns >= f->start_ns ? (double)(f->end_ns - f->start_ns) / 1e9
                                        : -(double)(f->start_ns - f->end_ns) / 1e9;
}

static void human_finding(FILE *out, const struct finding *f, bool color) {
        char a[40], b[40];
        fprintf(out, "  %s%-7s%s %-19s", color ? severity_color(f->severity) : "",
                severity_name(f->severity), color ? "\033[0m" : "", finding_kind_name(f->kind));
        if (f->has_time) {
                time_format_iso(f->start_ns, false, a, sizeof(a));
                time_format_iso(f->end_ns, false, b, sizeof(b));
                fprintf(out, " %s .. %s (%.3f s)", a, b, finding_seconds(f));
        }
        if (f->has_leaves)
                fprintf(out, " leaves %llu-%llu", (unsigned long long)f->first_leaf,
                        (unsigned long long)f->last_leaf);
        if (f->has_energy)
                fprintf(out, " %.0f J, %.1f GPU-s", f->energy_joules, f->gpu_seconds);
        if (f->detail[0])
                fprintf(out, "%s%s", f->has_time || f->has_leaves || f->has_energy ? ": " : " ",
                        f->detail);
        fputc('\n', out);
}

void output_human(FILE *out, const struct source *srcs, size_t n, bool color) {
        for (size_t i = 0; i < n; i++) {
                const struct source *s = &srcs[i];
                char q[300];
                quote_bytes(s->cp.origin, strlen(s->cp.origin), q, sizeof(q));
                fprintf(out, "%s  %s  %s%s%s", s->name, s->cp.origin[0] ? q : "-",
                        color ? status_color(s->status) : "", verdict_word(s->status),
                        color ? "\033[0m" : "");
                if (s->have_checkpoint)
                        fprintf(out, "  tree %llu", (unsigned long long)s->cp.size);
                if (s->have_analysis && s->an.last_ns > 0) {
                        char a[40], b[40];
                        time_format_iso(s->an.first_ns, false, a, sizeof(a));
                        time_format_iso(s->an.last_ns, false, b, sizeof(b));
                        fprintf(out, "  %s .. %s", a, b);
                }
                fputc('\n', out);
                if (s->status == SRC_ERROR)
                        fprintf(out, "  error: %s\n", s->error);
                if (s->have_analysis) {
                        const struct analysis *an = &s->an;
                        double len = an->observed_seconds + an->gap_seconds;
                        fprintf(out,
                                "  GPU-hours: %.3f busy, %.3f occupied; energy %.3f kWh; "
                                "coverage %.2f%% (observed %.1f s, gaps %.1f s)\n",
                                an->busy_gpu_seconds / 3600.0, an->occupied_gpu_seconds / 3600.0,
                                an->energy_joules / 3.6e6,
                                len > 0 ? 100.0 * an->observed_seconds / len : 0.0,
                                an->observed_seconds, an->gap_seconds);
                        for (size_t j = 0; j < an->nfindings; j++)
                                human_finding(out, &an->findings[j], color);
                }
                for (size_t j = 0; j < s->nintegrity; j++)
                        human_finding(out, &s->integrity[j], color);
        }
}

/* json_object_set_new that remembers a failure. */
static void set(json_t *o, const char *k, json_t *v, bool *bad) {
        if (!v || json_object_set_new(o, k, v) != 0)
                *bad = true;
}

static json_t *json_time(uint64_t ns) {
        char buf[40];
        time_format_iso(ns, true, buf, sizeof(buf));
        return json_string(buf);
}

static json_t *json_finding(const struct finding *f, bool *bad) {
        json_t *o = json_object();
        if (!o) {
                *bad = true;
                return NULL;
        }
        set(o, "kind", json_string(finding_kind_name(f->kind)), bad);
        set(o, "severity", json_string(severity_name(f->severity)), bad);
        if (f->has_time) {
                set(o, "start", json_time(f->start_ns), bad);
                set(o, "end", json_time(f->end_ns), bad);
                set(o, "seconds", json_real(finding_seconds(f)), bad);
        }
        if (f->has_leaves) {
                set(o, "first_leaf", json_integer((json_int_t)f->first_leaf), bad);
                set(o, "last_leaf", json_integer((json_int_t)f->last_leaf), bad);
        }
        if (f->has_energy) {
                set(o, "energy_joules", json_real(f->energy_joules), bad);
                set(o, "gpu_seconds", json_real(f->gpu_seconds), bad);
        }
        set(o, "detail", json_string(f->detail), bad);
        return o;
}

static json_t *json_source(const struct source *s, bool *bad) {
        json_t *o = json_object();
        json_t *fs = json_array();
        if (!o || !fs) {
                json_decref(o);
                json_decref(fs);
                *bad = true;
                return NULL;
        }
        char q[600];
        quote_bytes(s->name, strlen(s->name), q, sizeof(q));
        set(o, "source", json_string(q), bad);
        if (s->cp.origin[0]) {
                quote_bytes(s->cp.origin, strlen(s->cp.origin), q, sizeof(q));
                set(o, "origin", json_string(q), bad);
        }
        set(o, "status", json_string(source_status_name(s->status)), bad);
        if (s->have_checkpoint)
                set(o, "tree_size", json_integer((json_int_t)s->cp.size), bad);
        if (s->status == SRC_ERROR || s->status == SRC_FAILED)
                set(o, "error", json_string(s->error), bad);
        if (s->have_analysis) {
                const struct analysis *an = &s->an;
                if (an->last_ns > 0) {
                        set(o, "first_time", json_time(an->first_ns), bad);
                        set(o, "last_time", json_time(an->last_ns), bad);
                }
                set(o, "gpu_hours", json_real(an->busy_gpu_seconds / 3600.0), bad);
                set(o, "occupied_gpu_hours", json_real(an->occupied_gpu_seconds / 3600.0), bad);
                set(o, "energy_joules", json_real(an->energy_joules), bad);
                set(o, "observed_seconds", json_real(an->observed_seconds), bad);
                set(o, "gap_seconds", json_real(an->gap_seconds), bad);
                for (size_t j = 0; j < an->nfindings; j++)
                        if (json_array_append_new(fs, json_finding(&an->findings[j], bad)) != 0)
                                *bad = true;
        }
        for (size_t j = 0; j < s->nintegrity; j++)
                if (json_array_append_new(fs, json_finding(&s->integrity[j], bad)) != 0)
                        *bad = true;
        set(o, "findings", fs, bad);
        return o;
}

int output_json(FILE *out, const struct source *srcs, size_t n) {
        bool bad = false;
        json_t *doc = json_object();
        json_t *arr = json_array();
        if (!doc || !arr) {
                json_decref(doc);
                json_decref(arr);
                return -ENOMEM;
        }
        enum source_status worst = SRC_OK;
        for (size_t i = 0; i < n; i++) {
                if (srcs[i].status > worst)
                        worst = srcs[i].status;
                if (json_array_append_new(arr, json_source(&srcs[i], &bad)) != 0)
                        bad = true;
        }
        set(doc, "verdict", json_string(source_status_name(worst)), &bad);
        set(doc, "sources", arr, &bad);
        int r = 0;
        if (bad)
                r = -ENOMEM;
        else if (json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                 fputc('\n', out) == EOF)
                r = -EIO;
        json_decref(doc);
        return r;
}
