/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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
        "totals summed), json an array of report objects (each with \"source\" and\n"
        "\"origin\"); csv one header, then the rows of every verified source, each row\n"
        "starting with its origin. A source that did not verify is named on stderr and\n"
        "its exit code counts. Exit codes as for verify.\n"
        "\n" COMMON_STORE_HELP;

/* report_write's JSON object for s, with "source" and "origin" first, appended to all. */
static int append_json(json_t *all, const struct source *s, const struct bucket *b, size_t nb,
                       enum report_by by) {
        char *buf = NULL;
        size_t len = 0;
        FILE *mem = open_memstream(&buf, &len);
        if (!mem)
                return -ENOMEM;
        int r = report_write(mem, &s->an, b, nb, by, FMT_JSON);
        if (fclose(mem) != 0 && r == 0)
                r = -EIO;
        json_t *doc = r == 0 ? json_loadb(buf, len, 0, NULL) : NULL;
        free(buf);
        json_t *o = json_object();
        if (!doc || !o || json_object_set_new(o, "source", json_string(s->name)) != 0 ||
            json_object_set_new(o, "origin", json_string(s->cp.origin)) != 0 ||
            json_object_update(o, doc) != 0 || json_array_append(all, o) != 0)
                r = r ? r : -ENOMEM;
        json_decref(doc);
        json_decref(o);
        return r;
}

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
         * its ledger) freed once its buckets are out, so memory stays flat in
         * the number of sources; online sources are verified concurrently first.
         */
        struct source *srcs = o.offline ? offline_sources_new(list, n)
                                        : common_sources_new("report", &c, list, n, &o);
        if (!srcs)
                goto out;
        if (!quiet && !o.offline)
                output_human(stderr, srcs, n, output_use_color(stderr));
        rc = o.offline ? EXIT_VERIFIED : sources_exit_code(srcs, n);
        /* Several sources as JSON: an array of report objects with "source" and "origin". */
        json_t *all = n > 1 && fmt == FMT_JSON ? json_array() : NULL;
        bool csv_header = true;
        struct report_totals total = {0};
        for (size_t i = 0; i < n; i++) {
                struct source *s = &srcs[i];
                if (o.offline) {
                        offline_verify_one(&c, srcs, n, i, &o, quiet);
                        int src_rc = sources_exit_code(s, 1);
                        if (src_rc > rc)
                                rc = src_rc;
                }
                if (!s->have_analysis || !s->az) {
                        fprintf(stderr, PROG " report: %s: not verified, nothing reported\n",
                                s->name);
                        continue;
                }
                struct bucket *b = NULL;
                size_t nb = 0;
                if (analyzer_buckets(s->az, by, &b, &nb) != 0) {
                        fprintf(stderr, PROG " report: %s: out of memory\n", s->name);
                        rc = EXIT_INCOMPLETE;
                        continue;
                }
                if (n > 1 && fmt == FMT_TABLE)
                        printf("%s# %s (%s)\n", i ? "\n" : "", s->cp.origin, s->name);
                int r = n > 1 && fmt == FMT_JSON ? append_json(all, s, b, nb, by)
                        : fmt == FMT_CSV ? report_write_csv(stdout, s->cp.origin, b, nb, by,
                                                            csv_header)
                                         : report_write(stdout, &s->an, b, nb, by, fmt);
                csv_header = false;
                report_totals_add(&total, &s->an, b, nb, by);
                if (r != 0) {
                        fprintf(stderr, PROG " report: cannot write the report\n");
                        rc = EXIT_INCOMPLETE;
                }
                free(b);
                if (o.offline) {
                        analyzer_free(s->az);
                        s->az = NULL;
                }
        }
        if (n > 1 && fmt == FMT_TABLE && report_write_total_table(stdout, &total) != 0)
                rc = EXIT_INCOMPLETE;
        if (all) {
                if (json_dumpf(all, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0 ||
                    fputc('\n', stdout) == EOF)
                        rc = EXIT_INCOMPLETE;
                json_decref(all);
        }
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
