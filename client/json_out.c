/* SPDX-License-Identifier: MIT */
/* The gpuhours/1 JSON documents (json_out.h, proto/JSON.md). */
#include "json_out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "record.h"
#include "report.h"
#include "util.h"
#include "witness.h"

void jout_set(json_t *o, const char *key, json_t *v, bool *bad) {
        if (!o || !v) {
                json_decref(v);
                *bad = true;
        } else if (json_object_set_new(o, key, v) != 0) { /* steals v either way */
                *bad = true;
        }
}

/* Appends v to a (stealing it); *bad on failure. */
static void jout_append(json_t *a, json_t *v, bool *bad) {
        if (!a || !v) {
                json_decref(v);
                *bad = true;
        } else if (json_array_append_new(a, v) != 0) {
                *bad = true;
        }
}

json_t *jout_time(uint64_t ns) {
        char buf[40];
        time_format_iso(ns, true, buf, sizeof(buf));
        return json_string(buf);
}

json_t *jout_quoted(const char *s, size_t max) {
        if (!s || !s[0])
                return json_null();
        size_t len = strnlen(s, max);
        char *q = malloc(len + 4);
        if (!q)
                return NULL;
        quote_bytes(s, len, q, len + 4);
        json_t *v = json_string(q);
        free(q);
        return v;
}

/* A message of ours (it may carry UTF-8); quoted if it is not valid UTF-8. */
static json_t *jout_text(const char *s) {
        json_t *v = json_string(s);
        return v ? v : jout_quoted(s, 4096);
}

json_t *jout_doc(const char *command, uint64_t now_ns) {
        bool bad = false;
        json_t *doc = json_object();
        jout_set(doc, "schema", json_string(JSON_SCHEMA), &bad);
        jout_set(doc, "command", json_string(command), &bad);
        jout_set(doc, "generated", jout_time(now_ns), &bad);
        if (bad) {
                json_decref(doc);
                return NULL;
        }
        return doc;
}

json_t *jout_finding(const struct finding *f, const struct analysis *an, bool *bad) {
        json_t *o = json_object();
        if (!o) {
                *bad = true;
                return NULL;
        }
        jout_set(o, "kind", json_string(finding_kind_name(f->kind)), bad);
        jout_set(o, "severity", json_string(severity_name(f->severity)), bad);
        if (f->has_time) {
                jout_set(o, "start", jout_time(f->start_ns), bad);
                jout_set(o, "end", jout_time(f->end_ns), bad);
                jout_set(o, "seconds", json_real(finding_seconds(f)), bad);
        }
        if (f->has_leaves) {
                jout_set(o, "first_leaf", json_integer((json_int_t)f->first_leaf), bad);
                jout_set(o, "last_leaf", json_integer((json_int_t)f->last_leaf), bad);
        }
        if (f->source)
                jout_set(o, "source", json_string(f->source), bad);
        if (f->has_gpus && an) {
                json_t *g = json_array();
                for (size_t i = 0; g && i < an->gpu_count && i < 64; i++)
                        if (f->gpu_mask & (1ull << i))
                                jout_append(g, jout_quoted(an->gpus[i].uuid, REC_UUID_MAX), bad);
                jout_set(o, "gpus", g, bad);
        }
        if (f->has_hidden)
                jout_set(o, "gpu_seconds", json_real(f->gpu_seconds), bad);
        if (f->has_energy)
                jout_set(o, "energy_joules", json_real(f->energy_joules), bad);
        if (f->has_step)
                jout_set(o, "step_seconds", json_real(f->step_seconds), bad);
        jout_set(o, "detail", jout_text(f->detail), bad);
        return o;
}

/* A number of the analysis, or null when there is none. */
static json_t *num(const struct analysis *an, double v) {
        return an ? json_real(v) : json_null();
}

json_t *jout_source_head(const char *name, const char *origin, const char *status,
                         const char *error, bool size_known, uint64_t size,
                         const struct analysis *an, bool *bad) {
        json_t *o = json_object();
        if (!o) {
                *bad = true;
                return NULL;
        }
        jout_set(o, "source", jout_quoted(name, 4096), bad);
        jout_set(o, "origin", jout_quoted(origin, 256), bad);
        jout_set(o, "status", json_string(status), bad);
        jout_set(o, "error", error && error[0] ? jout_text(error) : json_null(), bad);
        jout_set(o, "tree_size", size_known ? json_integer((json_int_t)size) : json_null(), bad);
        /* ANALYSIS.md sections 3 and 9; null for a source that was not analysed */
        bool times = an && an->last_ns > 0;
        jout_set(o, "first_time", times ? jout_time(an->first_ns) : json_null(), bad);
        jout_set(o, "last_time", times ? jout_time(an->last_ns) : json_null(), bad);
        double len = an ? an->observed_seconds + an->gap_seconds : 0;
        jout_set(o, "gpu_hours", num(an, an ? an->busy_gpu_seconds / 3600.0 : 0), bad);
        jout_set(o, "occupied_gpu_hours", num(an, an ? an->occupied_gpu_seconds / 3600.0 : 0),
                 bad);
        jout_set(o, "energy_joules", num(an, an ? an->energy_joules : 0), bad);
        jout_set(o, "coverage_pct", num(an, len > 0 ? 100.0 * an->observed_seconds / len : 0),
                 bad);
        jout_set(o, "interval_seconds", num(an, an ? (double)an->interval_ms / 1e3 : 0), bad);
        jout_set(o, "observed_seconds", num(an, an ? an->observed_seconds : 0), bad);
        jout_set(o, "unobserved_seconds", num(an, an ? an->gap_seconds : 0), bad);
        jout_set(o, "gap_seconds", num(an, an ? an->gap_seconds : 0), bad);
        jout_set(o, "step_seconds", num(an, an ? an->step_seconds : 0), bad);
        jout_set(o, "hidden_gpu_seconds", num(an, an ? an->hidden_gpu_seconds : 0), bad);
        if (!an) {
                jout_set(o, "gpus", json_null(), bad);
                return o;
        }
        json_t *gs = json_array();
        for (size_t j = 0; gs && j < an->gpu_count; j++) {
                json_t *g = json_object();
                jout_set(g, "uuid", jout_quoted(an->gpus[j].uuid, REC_UUID_MAX), bad);
                jout_set(g, "observed_seconds", json_real((double)an->gpus[j].observed_ms / 1e3),
                         bad);
                jout_set(g, "unobserved_seconds", json_real((double)an->gpus[j].gap_ms / 1e3),
                         bad);
                jout_set(g, "hidden_gpu_seconds", json_real(an->gpus[j].hidden_gpu_seconds), bad);
                jout_set(g, "busy_gpu_seconds", json_real(an->gpus[j].busy_seconds), bad);
                jout_set(g, "occupied_gpu_seconds", json_real(an->gpus[j].occupied_seconds), bad);
                jout_set(g, "energy_joules", json_real(an->gpus[j].energy_joules), bad);
                jout_append(gs, g, bad);
        }
        jout_set(o, "gpus", gs, bad);
        return o;
}

/*
 * A FORK between two sources of one run: [this source's note, the other's],
 * each {from: "source", name, size, note} (JSON.md 5). NULL out of memory.
 */
static json_t *source_fork_notes_json(const struct source *s, const struct source *u) {
        json_t *a = json_array();
        bool bad = a == NULL;
        const struct source *two[2] = {s, u};
        for (int i = 0; i < 2 && !bad; i++) {
                json_t *o = json_object();
                jout_set(o, "from", json_string("source"), &bad);
                jout_set(o, "name", jout_quoted(two[i]->name, 4096), &bad);
                jout_set(o, "size", json_integer((json_int_t)two[i]->cp.size), &bad);
                jout_set(o, "note", json_stringn(two[i]->note, two[i]->note_len), &bad);
                jout_append(a, o, &bad);
        }
        if (bad) {
                json_decref(a);
                return NULL;
        }
        return a;
}

json_t *jout_source(const struct source *s, bool *bad) {
        const struct analysis *an = s->have_analysis ? &s->an : NULL;
        json_t *o = jout_source_head(s->name, s->cp.origin, source_status_name(s->status),
                                     s->status == SRC_ERROR || s->status == SRC_FAILED ? s->error
                                                                                       : NULL,
                                     s->have_checkpoint, s->cp.size, an, bad);
        json_t *fs = json_array();
        for (size_t j = 0; an && fs && j < an->nfindings; j++)
                jout_append(fs, jout_finding(&an->findings[j], an, bad), bad);
        for (size_t j = 0; fs && j < s->nintegrity; j++) {
                json_t *f = jout_finding(&s->integrity[j], NULL, bad);
                /* A FORK against a witness carries the two signed notes (JSON.md 5). */
                if (f && s->fork_notes && j == s->fork_notes_at)
                        jout_set(f, "notes", witness_fork_notes_json(s->fork_notes), bad);
                else if (f && s->fork_with && j == s->fork_with_at)
                        jout_set(f, "notes", source_fork_notes_json(s, s->fork_with), bad);
                jout_append(fs, f, bad);
        }
        jout_set(o, "findings", fs, bad);
        if (!o) {
                *bad = true;
                return NULL;
        }
        return o;
}

void jout_verdict(json_t *doc, const struct source *srcs, size_t n, bool *bad) {
        enum source_status worst = SRC_OK;
        for (size_t i = 0; i < n; i++)
                if (srcs[i].status > worst)
                        worst = srcs[i].status;
        jout_set(doc, "verdict", json_string(source_status_name(worst)), bad);
        jout_set(doc, "exit", json_integer(sources_exit_code(srcs, n)), bad);
}

int jout_write(FILE *out, json_t *doc, bool bad) {
        int r = 0;
        if (bad || !doc)
                r = -ENOMEM;
        else if (json_dumpf(doc, out, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                 fputc('\n', out) == EOF)
                r = -EIO;
        json_decref(doc);
        return r;
}

/* "sources": one source object per source, in command-line order. */
static json_t *sources_array(const struct source *srcs, size_t n, bool *bad) {
        json_t *arr = json_array();
        for (size_t i = 0; arr && i < n; i++)
                jout_append(arr, jout_source(&srcs[i], bad), bad);
        if (!arr)
                *bad = true;
        return arr;
}

int jout_verify(FILE *out, const struct source *srcs, size_t n, uint64_t now_ns) {
        bool bad = false;
        json_t *doc = jout_doc("verify", now_ns);
        jout_verdict(doc, srcs, n, &bad);
        jout_set(doc, "sources", sources_array(srcs, n, &bad), &bad);
        jout_set(doc, "findings", json_array(), &bad);
        return jout_write(out, doc, bad);
}

/* The fleet total of a report: sums of the reported sources' own numbers. */
struct fleet_total {
        size_t reported, unreported, same_origin;
        double busy_h, occupied_h, energy_j, interval_s, observed_s, gap_s, step_s, hidden_s;
};

static void total_add(struct fleet_total *t, const struct analysis *an) {
        t->reported++;
        t->busy_h += an->busy_gpu_seconds / 3600.0;
        t->occupied_h += an->occupied_gpu_seconds / 3600.0;
        t->energy_j += an->energy_joules;
        t->interval_s += (double)an->interval_ms / 1e3;
        t->observed_s += an->observed_seconds;
        t->gap_s += an->gap_seconds;
        t->step_s += an->step_seconds;
        t->hidden_s += an->hidden_gpu_seconds;
}

static json_t *total_json(const struct fleet_total *t, bool *bad) {
        json_t *o = json_object();
        double len = t->observed_s + t->gap_s;
        jout_set(o, "sources", json_integer((json_int_t)t->reported), bad);
        jout_set(o, "unreported_sources", json_integer((json_int_t)t->unreported), bad);
        jout_set(o, "same_origin_sources", json_integer((json_int_t)t->same_origin), bad);
        jout_set(o, "gpu_hours", json_real(t->busy_h), bad);
        jout_set(o, "occupied_gpu_hours", json_real(t->occupied_h), bad);
        jout_set(o, "energy_joules", json_real(t->energy_j), bad);
        jout_set(o, "coverage_pct", json_real(len > 0 ? 100.0 * t->observed_s / len : 0), bad);
        jout_set(o, "interval_seconds", json_real(t->interval_s), bad);
        jout_set(o, "observed_seconds", json_real(t->observed_s), bad);
        jout_set(o, "unobserved_seconds", json_real(t->gap_s), bad);
        jout_set(o, "gap_seconds", json_real(t->gap_s), bad);
        jout_set(o, "step_seconds", json_real(t->step_s), bad);
        jout_set(o, "hidden_gpu_seconds", json_real(t->hidden_s), bad);
        return o;
}

int jout_report(FILE *out, const struct source *srcs, size_t n, enum report_by by,
                uint64_t now_ns, json_t **buckets) {
        bool bad = false;
        json_t *doc = jout_doc("report", now_ns);
        jout_verdict(doc, srcs, n, &bad);
        jout_set(doc, "by", json_string(report_by_name(by)), &bad);
        json_t *arr = json_array();
        struct fleet_total t = {0};
        /* two sources of one origin are one node: summed once, from the larger tree */
        size_t *rep = malloc((n ? n : 1) * sizeof(*rep));
        if (!rep || sources_judged_as(srcs, n, rep) != 0)
                bad = true;
        for (size_t i = 0; arr && rep && i < n; i++) {
                const struct source *s = &srcs[i];
                json_t *o = jout_source(s, &bad);
                json_t *bk = json_null();
                bool once = rep[i] == SIZE_MAX || rep[i] == i;
                if (!once && ((buckets && buckets[i]) || (!buckets && source_reported(s))))
                        t.same_origin++;
                if (buckets && buckets[i]) {
                        json_decref(bk);
                        bk = buckets[i];
                        buckets[i] = NULL;
                        if (once)
                                total_add(&t, &s->an);
                } else if (!buckets && source_reported(s)) {
                        struct bucket *b = NULL;
                        size_t nb = 0;
                        json_decref(bk);
                        bk = analyzer_buckets(s->az, by, &b, &nb) == 0
                                     ? report_buckets_json(b, nb, by)
                                     : NULL;
                        free(b);
                        if (once)
                                total_add(&t, &s->an);
                } else {
                        t.unreported++;
                }
                jout_set(o, "buckets", bk, &bad);
                jout_append(arr, o, &bad);
        }
        free(rep);
        jout_set(doc, "sources", arr, &bad);
        jout_set(doc, "total", total_json(&t, &bad), &bad);
        jout_set(doc, "findings", json_array(), &bad);
        return jout_write(out, doc, bad);
}
