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

/* Human instants: milliseconds unless they are .000 (as report's tables). */
static void time_human(uint64_t ns, char *buf, size_t cap) {
        time_format_iso(ns, ns % 1000000000ull >= 1000000ull, buf, cap);
}

/* Appends " GPU-a GPU-b" for the GPUs in f's mask (an's table), quoted. */
static void human_gpus(FILE *out, const struct finding *f, const struct analysis *an) {
        if (!f->has_gpus || !an)
                return;
        fputs(" gpus", out);
        for (size_t i = 0; i < an->gpu_count && i < 64; i++)
                if (f->gpu_mask & (1ull << i)) {
                        char q[3 * REC_UUID_MAX + 3];
                        quote_bytes(an->gpus[i].uuid, strlen(an->gpus[i].uuid), q, sizeof(q));
                        fprintf(out, " %s", q);
                }
}

static void human_finding(FILE *out, const struct finding *f, const struct analysis *an,
                          bool color) {
        char a[40], b[40], d[40];
        fprintf(out, "  %s%-7s%s %-19s", color ? severity_color(f->severity) : "",
                severity_name(f->severity), color ? "\033[0m" : "", finding_kind_name(f->kind));
        if (f->has_time) {
                time_human(f->start_ns, a, sizeof(a));
                time_human(f->end_ns, b, sizeof(b));
                duration_human(finding_seconds(f), d, sizeof(d));
                fprintf(out, " %s .. %s (%s)", a, b, d);
        }
        /* Ledger positions as `gpuhours show --record N` numbers them. */
        if (f->has_leaves && f->first_leaf == f->last_leaf)
                fprintf(out, " record %llu", (unsigned long long)f->first_leaf);
        else if (f->has_leaves)
                fprintf(out, " records %llu-%llu", (unsigned long long)f->first_leaf,
                        (unsigned long long)f->last_leaf);
        if (f->has_step)
                fprintf(out, " step %+.3f s", f->step_seconds);
        if (f->has_energy)
                fprintf(out, " %.0f J", f->energy_joules);
        if (f->has_hidden)
                fprintf(out, " <= %.1f GPU-s hidden", f->gpu_seconds);
        human_gpus(out, f, an);
        if (f->detail[0])
                fprintf(out, "%s%s",
                        f->has_time || f->has_leaves || f->has_energy || f->has_hidden ? ": " : " ",
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
                        time_human(s->an.first_ns, a, sizeof(a));
                        time_human(s->an.last_ns, b, sizeof(b));
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
                                "coverage %.2f%% (observed %.3f s, unobserved %.3f s, clock "
                                "steps %+.3f s); hidden compute up to %.1f GPU-s\n",
                                an->busy_gpu_seconds / 3600.0, an->occupied_gpu_seconds / 3600.0,
                                an->energy_joules / 3.6e6,
                                len > 0 ? 100.0 * an->observed_seconds / len : 0.0,
                                an->observed_seconds, an->gap_seconds, an->step_seconds,
                                an->hidden_gpu_seconds);
                        for (size_t j = 0; j < an->nfindings; j++)
                                human_finding(out, &an->findings[j], an, color);
                }
                for (size_t j = 0; j < s->nintegrity; j++)
                        human_finding(out, &s->integrity[j], NULL, color);
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

/* A GPU UUID as a JSON string, quoted like every untrusted string. */
static json_t *json_uuid(const char *uuid) {
        char q[3 * REC_UUID_MAX + 3];
        quote_bytes(uuid, strnlen(uuid, REC_UUID_MAX), q, sizeof(q));
        return json_string(q);
}

static json_t *json_finding(const struct finding *f, const struct analysis *an, bool *bad) {
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
        if (f->source)
                set(o, "source", json_string(f->source), bad);
        if (f->has_gpus && an) {
                json_t *g = json_array();
                for (size_t i = 0; g && i < an->gpu_count && i < 64; i++)
                        if ((f->gpu_mask & (1ull << i)) &&
                            json_array_append_new(g, json_uuid(an->gpus[i].uuid)) != 0)
                                *bad = true;
                set(o, "gpus", g, bad);
        }
        if (f->has_hidden)
                set(o, "gpu_seconds", json_real(f->gpu_seconds), bad);
        if (f->has_energy)
                set(o, "energy_joules", json_real(f->energy_joules), bad);
        if (f->has_step)
                set(o, "step_seconds", json_real(f->step_seconds), bad);
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
                /* ANALYSIS.md section 9 */
                set(o, "interval_seconds", json_real((double)an->interval_ms / 1e3), bad);
                set(o, "unobserved_seconds", json_real(an->gap_seconds), bad);
                set(o, "step_seconds", json_real(an->step_seconds), bad);
                set(o, "hidden_gpu_seconds", json_real(an->hidden_gpu_seconds), bad);
                json_t *gs = json_array();
                for (size_t j = 0; gs && j < an->gpu_count; j++) {
                        json_t *g = json_object();
                        if (!g || json_array_append_new(gs, g) != 0) {
                                *bad = true;
                                break;
                        }
                        set(g, "uuid", json_uuid(an->gpus[j].uuid), bad);
                        set(g, "observed_seconds", json_real((double)an->gpus[j].observed_ms / 1e3),
                            bad);
                        set(g, "unobserved_seconds", json_real((double)an->gpus[j].gap_ms / 1e3),
                            bad);
                        set(g, "hidden_gpu_seconds", json_real(an->gpus[j].hidden_gpu_seconds),
                            bad);
                        set(g, "busy_gpu_seconds", json_real(an->gpus[j].busy_seconds), bad);
                        set(g, "occupied_gpu_seconds", json_real(an->gpus[j].occupied_seconds),
                            bad);
                        set(g, "energy_joules", json_real(an->gpus[j].energy_joules), bad);
                }
                set(o, "gpus", gs, bad);
                for (size_t j = 0; j < an->nfindings; j++)
                        if (json_array_append_new(fs, json_finding(&an->findings[j], an, bad)) != 0)
                                *bad = true;
        }
        for (size_t j = 0; j < s->nintegrity; j++)
                if (json_array_append_new(fs, json_finding(&s->integrity[j], NULL, bad)) != 0)
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
