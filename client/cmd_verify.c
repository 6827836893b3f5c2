/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "json_out.h"
#include "output.h"
#include "progress.h"
#include "source.h"
#include "util.h"

static const char verify_help[] =
        "usage: " PROG " verify [--fleet FILE] [--key VKEY]... [--trusted-keys FILE]\n"
        "                       [--since TIME] [--until TIME] [--json] [--no-state]\n"
        "                       [--timeout SECONDS] [--store PATH] [--no-store] [--offline]\n"
        "                       [--deadline SECONDS] [--min-page N] [--] SOURCE...\n"
        "\n"
        "Verifies each SOURCE (a node URL such as http://node17:9477, or a bundle file\n"
        "written by '" PROG " fetch'): the checkpoint's signature by a trusted key named\n"
        "after its origin, the Merkle root over every record, every record's encoding,\n"
        "and consistency with the checkpoint verified before for that origin and with\n"
        "every other SOURCE of that origin (FORK on both if not); then reports\n"
        "GPU-hours, coverage and every finding. Node URLs are fetched concurrently.\n"
        "\n"
        "  --fleet FILE      also verify every node of FILE (lines 'URL VKEY', '#' comments);\n"
        "                    each must serve the vkey's origin, signed by that key\n"
        "  --key VKEY        also trust this verifier key for this run\n"
        "  --trusted-keys FILE  trust the keys in FILE instead of the user's trust file\n"
        "  --since TIME      audit from TIME: 2026-11-26T12:00:00Z, 2026-11-26, -2h, -30m, -7d\n"
        "  --until TIME      audit until TIME (same forms)\n"
        "  --json            print one JSON document (schema \"" JSON_SCHEMA "\", proto/JSON.md)\n"
        "  --no-state        neither read nor write remembered checkpoints\n"
        "  --witnesses FILE  require the cosignatures of this C2SP tlog-policy file\n"
        "                    (README: Witnesses); WITNESS_QUORUM otherwise\n"
        "  --timeout SECONDS per HTTP request (default 30)\n" COMMON_STORE_HELP
        "  --                the arguments after it are sources, even if they start with '-'\n"
        "\n"
        "A known node is audited incrementally from the evidence store: only records after\n"
        "the stored size are fetched, every record is analysed (man gpuhours: EVIDENCE\n"
        "STORE). With several sources a summary line ends the run (stderr).\n"
        "\n"
        "Exit: 0 verified, 1 verified with findings, 2 integrity failure, 3 could not\n"
        "complete; with several sources the highest wins.\n";

int cmd_verify(int argc, char **argv) {
        struct common_opts c = {0};
        bool json = false;
        const char **names = calloc((size_t)argc, sizeof(*names));
        size_t n = 0;
        int rc = EXIT_INCOMPLETE;
        if (!names) {
                fprintf(stderr, PROG " verify: out of memory\n");
                return rc;
        }
        for (int i = 1; i < argc; i++) {
                int r = common_opt("verify", verify_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r == COMMON_OPERAND)
                        names[n++] = argv[i];
                if (r > 0)
                        continue;
                if (strcmp(argv[i], "--json") == 0) {
                        json = true;
                } else if (source_arg("verify", argv[i], names, &n) != 0) {
                        goto out;
                }
        }
        if (!(names = common_names("verify", &c, names, &n)))
                goto out;
        struct verify_opts o = {0};
        const char **list = names;
        if (common_finish_sources("verify", &c, &o, &list, &n) != 0)
                goto out;
        struct source *srcs = common_sources_new("verify", &c, list, n, &o);
        if (!srcs)
                goto out;
        bool json_failed = false;
        if (json) {
                if (jout_verify(stdout, srcs, n, wall_now_ns()) != 0) {
                        fprintf(stderr, PROG " verify: cannot write the JSON document\n");
                        json_failed = true;
                }
        } else {
                output_human(stdout, srcs, n, output_use_color(stdout));
        }
        rc = sources_exit_code(srcs, n);
        if (json_failed)
                rc = EXIT_INCOMPLETE;
        if (n > 1)
                sources_summary_line(stderr, srcs, n);
        for (size_t i = 0; i < n; i++) {
                if (srcs[i].status == SRC_ERROR && json)
                        fprintf(stderr, PROG " verify: %s: %s\n", srcs[i].name, srcs[i].error);
                source_free(&srcs[i]);
        }
        free(srcs);
        if (fflush(stdout) != 0 && rc < EXIT_INCOMPLETE)
                rc = EXIT_INCOMPLETE;
out:
        common_free(&c);
        free(names);
        return rc;
}
