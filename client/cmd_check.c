/* SPDX-License-Identifier: MIT */
/* gpuhours check: verdicts on a rules file over a fleet's verified evidence. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli.h"
#include "rules.h"
#include "source.h"
#include "util.h"

static const char check_help[] =
        "usage: " PROG " check --rules FILE [--fleet FILE] [SOURCE...] [--since TIME]\n"
        "                      [--until TIME] [--json | --html FILE] [--metrics FILE]\n"
        "                      [--key VKEY]... [--no-state] [--timeout SECONDS]\n"
        "\n"
        "Verifies every SOURCE (node URLs, bundle files) and every node of the fleet\n"
        "file exactly as '" PROG " verify' does, then judges each rule of the rules\n"
        "file on intervals [verified, verified + hidden]:\n"
        "  PASS     the upper bound satisfies the rule\n"
        "  FAIL     the verified lower bound already breaks it, or a source failed\n"
        "           integrity, or one GPU UUID was seen on two nodes at once\n"
        "  UNKNOWN  only the unobserved part could break it (listed after the rules)\n"
        "\n"
        "Rules (one a line, '#' comments; see gpuhours(1) RULES FILE):\n"
        "  pause FROM TO [max-busy PCT]\n"
        "  cap gpu-hours N [per day|week|month] [from FROM] [to TO]\n"
        "  cap flop N [per day|week|month] [from FROM] [to TO]\n"
        "  concurrency N [for DURATION]\n"
        "  coverage PCT\n"
        "  peak MODEL-SUBSTRING FLOPS\n"
        "\n"
        "  --rules FILE      the rules file\n"
        "  --fleet FILE      nodes to verify, lines of 'URL VKEY' (the vkey pins the origin)\n"
        "  --since TIME      audit from TIME: 2026-11-26T12:00:00Z, 2026-11-26, -2h, -7d\n"
        "  --until TIME      audit until TIME (default: now, or the last record of bundles)\n"
        "  --json            print one JSON document (schema \"" CHECK_SCHEMA "\")\n"
        "  --html FILE       write a self-contained HTML page with a timeline per GPU\n"
        "  --metrics FILE    write the verdicts in Prometheus text format, atomically\n"
        "  --key VKEY        also trust this verifier key for this run\n"
        "  --no-state        neither read nor write remembered checkpoints\n"
        "  --timeout SECONDS per HTTP request (default 30)\n"
        "\n"
        "Exit: 0 all PASS, 1 some UNKNOWN, 2 some FAIL (integrity failures included),\n"
        "3 could not complete (bad rules file or usage, output not written).\n";

static int write_file(const char *opt, const char *path, const char *data, size_t len) {
        int r = atomic_write_file(path, data, len, 0644);
        if (r != 0)
                fprintf(stderr, PROG " check: %s '%s': %s\n", opt, path, strerror(-r));
        return r;
}

int cmd_check(int argc, char **argv) {
        struct common_opts c = {0};
        const char *rules_path = NULL, *html_path = NULL, *metrics_path = NULL;
        bool json = false;
        const char **names = calloc((size_t)argc, sizeof(*names));
        size_t n = 0;
        int rc = EXIT_INCOMPLETE;
        struct rules rs = {0};
        struct source *srcs = NULL;
        struct evidence ev = {0};
        struct rule_result *res = NULL;
        size_t nres = 0;
        if (!names) {
                fprintf(stderr, PROG " check: out of memory\n");
                return rc;
        }
        for (int i = 1; i < argc; i++) {
                const char *v;
                int r = common_opt("check", check_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r > 0)
                        continue;
                if ((r = arg_value("check", argc, argv, &i, "--rules", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        rules_path = v;
                } else if ((r = arg_value("check", argc, argv, &i, "--html", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        html_path = v;
                } else if ((r = arg_value("check", argc, argv, &i, "--metrics", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        metrics_path = v;
                } else if (strcmp(argv[i], "--json") == 0) {
                        json = true;
                } else if (source_arg("check", argv[i], names, &n) != 0) {
                        goto out;
                }
        }
        if (!rules_path) {
                fprintf(stderr, PROG " check: --rules FILE is required (see " PROG
                                     " check --help)\n");
                goto out;
        }
        if (json && html_path) {
                fprintf(stderr, PROG " check: --json and --html exclude each other\n");
                goto out;
        }
        uint64_t now = wall_now_ns();
        char err[800];
        if (rules_load(rules_path, now, &rs, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " check: %s\n", err);
                goto out;
        }
        if (!(names = common_names("check", &c, names, &n)))
                goto out;
        if (sources_count_check("check", n) != 0)
                goto out;
        struct verify_opts o = {0};
        if (common_finish("check", &c, &o) != 0)
                goto out;
        o.keep_bundle = true;
        srcs = common_sources_new("check", &c, names, n, &o);
        if (!srcs)
                goto out;
        now = wall_now_ns();
        int er = evidence_build(&ev, srcs, n, o.since_ns, o.until_ns, now, &rs);
        if (er == -E2BIG) {
                fprintf(stderr,
                        PROG " check: the timeline has more than %u pieces per source or %u in "
                             "all (windows x GPUs); audit a shorter interval (--since/--until) "
                             "or fewer nodes\n",
                        ANALYZE_PIECES_MAX_PUBLIC, EV_PIECES_MAX);
                goto out;
        }
        if (er != 0 || verdicts_judge(&ev, &rs, &res, &nres) != 0) {
                fprintf(stderr, PROG " check: out of memory\n");
                goto out;
        }
        int verdict = verdicts_exit_code(res, nres);
        rc = verdict;
        if (json) {
                if (check_write_json(stdout, &ev, res, nres, verdict, srcs, n) != 0) {
                        fprintf(stderr, PROG " check: cannot write the JSON document\n");
                        rc = EXIT_INCOMPLETE;
                }
        } else {
                check_write_text(stdout, &ev, res, nres);
        }
        if (html_path) {
                char *buf = NULL;
                size_t len = 0;
                if (check_html(&ev, res, nres, verdict, &buf, &len) != 0 ||
                    write_file("--html", html_path, buf, len) != 0)
                        rc = EXIT_INCOMPLETE;
                free(buf);
        }
        if (metrics_path) {
                char *buf = NULL;
                size_t len = 0;
                if (check_metrics_text(&ev, res, nres, verdict, &buf, &len) != 0 ||
                    write_file("--metrics", metrics_path, buf, len) != 0)
                        rc = EXIT_INCOMPLETE;
                free(buf);
        }
        if (fflush(stdout) != 0)
                rc = EXIT_INCOMPLETE;
out:
        free(res);
        evidence_free(&ev);
        if (srcs) {
                for (size_t i = 0; i < n; i++)
                        source_free(&srcs[i]);
                free(srcs);
        }
        rules_free(&rs);
        common_free(&c);
        free(names);
        return rc;
}
