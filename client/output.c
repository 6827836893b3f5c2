/* SPDX-License-Identifier: MIT */
#include "output.h"

#include <errno.h>
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

/*
 * Only a verified source is reported. An incomplete one (SRC_ERROR) may hold
 * an analysis: its records verified, but its tree was not proven consistent
 * with another source's of its origin, or its records changed afterwards.
 */
bool source_reported(const struct source *s) {
        return s->have_analysis && s->az && s->status != SRC_FAILED && s->status != SRC_ERROR;
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

double finding_seconds(const struct finding *f) {
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
