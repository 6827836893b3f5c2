/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "output.h"
#include "report.h"
#include "source.h"
#include "source_internal.h"
#include "util.h"

static const char report_help[] =
        "usage: " PROG " report [--by hour|day|month|gpu] [--format table|csv|json] [--quiet]\n"
        "                       [--since TIME] [--until TIME] [--key VKEY]...\n"
        "                       [--trusted-keys FILE] [--no-state] [--fleet FILE]\n"
        "                       [--timeout SECONDS] [--store PATH] [--no-store] [--offline]\n"
        "                       [--deadline SECONDS] [--min-page N] [--] SOURCE...\n"
        "\n"
        "Verifies each SOURCE as '" PROG " verify' does, then prints GPU-hours per bucket:\n"
        "busy and occupied GPU-hours, energy (kWh), coverage % and gap seconds (time\n"
        "unobserved, as verify counts it; proto/ANALYSIS.md). Nothing is reported from\n"
        "a source that did not verify. The verdict lines go to stderr (--quiet: only\n"
        "the line of each source that did not verify).\n"
        "Defaults: --by day --format table. With several sources, table prints one\n"
        "section per source and a final '# total' section (the verified sources'\n"
        "totals summed); json one document (schema \"" JSON_SCHEMA "\", proto/JSON.md)\n"
        "with every source in order, the ones that did not verify included, each with\n"
        "its buckets, and the fleet total; csv one header, then the rows of every\n"
        "verified source, each row starting with its origin. A source that did not\n"
        "verify is named on stderr and its exit code counts. Exit codes as for verify.\n"
        "\n" COMMON_STORE_HELP;

/* --offline: the sources, not verified yet (offline_verify_one does each in turn). */
static struct source *offline_sources_new(const char **names, size_t n) {
        struct source *srcs = calloc(n, sizeof(*srcs));
        if (!srcs) {
                fprintf(stderr, PROG " report: out of memory\n");
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                source_init(&srcs[i], names[i]);
        return srcs;
}

/* Source i from the store, its fleet pin (the fleet's nodes are the last sources), its verdict. */
static void offline_verify_one(const struct common_opts *c, struct source *srcs, size_t n,
                               size_t i, const struct verify_opts *o, bool quiet) {
        store_sources_verify(&srcs[i], 1, o);
        if (c->fleet.n <= n && i >= n - c->fleet.n) {
                struct fleet one = {.nodes = &c->fleet.nodes[i - (n - c->fleet.n)], .n = 1};
                fleet_pin_sources(&srcs[i], &one);
        }
        if (!quiet)
                output_human(stderr, &srcs[i], 1, output_use_color(stderr));
}

/*
 * Once a source's buckets are out: its analyzer (every window) freed, and its
 * findings array cut to its length (the analyzer grows it by doubling; the
 * JSON document still needs the findings), so that what each source keeps
 * until the end is small.
 */
static void report_source_done(struct source *s) {
        analyzer_free(s->az);
        s->az = NULL;
        if (s->have_analysis && s->an.findings) {
                struct finding *f =
                        s->an.nfindings ? realloc(s->an.findings,
                                                  s->an.nfindings * sizeof(*s->an.findings))
                                        : NULL;
                if (!s->an.nfindings) {
                        free(s->an.findings);
                        s->an.findings = NULL;
                } else if (f) {
                        s->an.findings = f;
                }
        }
}

int cmd_report(int argc, char **argv) {
        struct common_opts c = {0};
        enum report_by by = BY_DAY;
        enum report_format fmt = FMT_TABLE;
        bool quiet = false;
        const char **names = calloc((size_t)argc, sizeof(*names));
        size_t n = 0;
        int rc = EXIT_INCOMPLETE;
        if (!names) {
                fprintf(stderr, PROG " report: out of memory\n");
                return rc;
        }
        for (int i = 1; i < argc; i++) {
                const char *v;
                int r = common_opt("report", report_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r == COMMON_OPERAND)
                        names[n++] = argv[i];
                if (r > 0)
                        continue;
                if (strcmp(argv[i], "--quiet") == 0 || strcmp(argv[i], "-q") == 0) {
                        quiet = true;
                } else if ((r = arg_value("report", argc, argv, &i, "--by", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        if (!report_by_from_name(v, &by)) {
                                fprintf(stderr,
                                        PROG " report: --by '%s': expected hour, day, month "
                                             "or gpu\n",
                                        v);
                                goto out;
                        }
                } else if ((r = arg_value("report", argc, argv, &i, "--format", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        if (!report_format_from_name(v, &fmt)) {
                                fprintf(stderr,
                                        PROG " report: --format '%s': expected table, csv or "
                                             "json\n",
                                        v);
                                goto out;
                        }
                } else if (source_arg("report", argv[i], names, &n) != 0) {
                        goto out;
                }
        }
        if (!(names = common_names("report", &c, names, &n)))
                goto out;
        struct verify_opts o = {0};
        const char **list = names;
        if (common_finish_sources("report", &c, &o, &list, &n) != 0)
                goto out;
        o.want_buckets = true;
        /*
         * --offline: one source at a time, each analyser (with every window of
         * its ledger) freed once its buckets are out (in JSON too: the
         * document keeps only the buckets), so memory stays flat in the number
         * of sources; online sources are verified concurrently first.
         */
        struct source *srcs = o.offline ? offline_sources_new(list, n)
                                        : common_sources_new("report", &c, list, n, &o);
        if (srcs && o.offline)
                common_pin_origins(&c, srcs, n);
        if (!srcs)
                goto out;
        if (!quiet && !o.offline)
                output_human(stderr, srcs, n, output_use_color(stderr));
        rc = o.offline ? EXIT_VERIFIED : sources_exit_code(srcs, n);
        bool csv_header = true, json_oom = false;
        struct report_totals total = {0};
        /* Two sources of one origin are one node: in the total once, from the larger tree.
         * (--offline verifies as it goes: its sources are the store's, one tree per origin.) */
        size_t *rep = o.offline ? NULL : malloc((n ? n : 1) * sizeof(*rep));
        if (!o.offline && (!rep || sources_judged_as(srcs, n, rep) != 0)) {
                fprintf(stderr, PROG " report: out of memory\n");
                rc = EXIT_INCOMPLETE;
                goto out_srcs;
        }
        /* JSON: each source's "buckets" made as it comes, its analyzer freed (jout_report) */
        json_t **jbk = fmt == FMT_JSON ? calloc(n ? n : 1, sizeof(*jbk)) : NULL;
        if (fmt == FMT_JSON && !jbk) {
                fprintf(stderr, PROG " report: out of memory\n");
                rc = EXIT_INCOMPLETE;
                goto out_srcs;
        }
        for (size_t i = 0; i < n; i++) {
                struct source *s = &srcs[i];
                if (o.offline) {
                        offline_verify_one(&c, srcs, n, i, &o, quiet);
                        int src_rc = sources_exit_code(s, 1);
                        if (src_rc > rc)
                                rc = src_rc;
                }
                if (!source_reported(s)) {
                        fprintf(stderr, PROG " report: %s: not verified, nothing reported\n",
                                s->name);
                        continue;
                }
                struct bucket *b = NULL;
                size_t nb = 0;
                if (analyzer_buckets(s->az, by, &b, &nb) != 0) {
                        fprintf(stderr, PROG " report: %s: out of memory\n", s->name);
                        rc = EXIT_INCOMPLETE;
                        json_oom = true;
                        continue;
                }
                if (fmt == FMT_JSON) {
                        /* one document for every source, below */
                        if (!(jbk[i] = report_buckets_json(b, nb, by)))
                                json_oom = true;
                        free(b);
                        report_source_done(s);
                        continue;
                }
                if (n > 1 && fmt == FMT_TABLE)
                        printf("%s# %s (%s)\n", total.sources ? "\n" : "", s->cp.origin, s->name);
                int r = fmt == FMT_CSV ? report_write_csv(stdout, s->cp.origin, b, nb, by,
                                                          csv_header)
                                       : report_write(stdout, &s->an, b, nb, by, fmt);
                csv_header = false;
                if (rep && rep[i] != SIZE_MAX && rep[i] != i)
                        fprintf(stderr,
                                PROG " report: %s: the same origin as %s: one node, in the total "
                                     "once, from %s\n",
                                s->name, srcs[rep[i]].name, srcs[rep[i]].name);
                else
                        report_totals_add(&total, &s->an, b, nb, by);
                if (r != 0) {
                        fprintf(stderr, PROG " report: cannot write the report\n");
                        rc = EXIT_INCOMPLETE;
                }
                free(b);
                report_source_done(s);
        }
        if (n > 1 && fmt == FMT_TABLE && report_write_total_table(stdout, &total) != 0)
                rc = EXIT_INCOMPLETE;
        /* JSON: every source (the unverified ones with "buckets": null) and the fleet total */
        if (fmt == FMT_JSON &&
            (json_oom || jout_report(stdout, srcs, n, by, wall_now_ns(), jbk) != 0)) {
                fprintf(stderr, PROG " report: cannot write the JSON document\n");
                rc = EXIT_INCOMPLETE;
        }
        for (size_t i = 0; jbk && i < n; i++)
                json_decref(jbk[i]);
        free(jbk);
out_srcs:
        free(rep);
        for (size_t i = 0; i < n; i++)
                source_free(&srcs[i]);
        free(srcs);
        if (fflush(stdout) != 0 && rc < EXIT_INCOMPLETE)
                rc = EXIT_INCOMPLETE;
out:
        common_free(&c);
        free(names);
        return rc;
}
