/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "source.h"
#include "util.h"

static const char fetch_help[] =
        "usage: " PROG " fetch -o FILE [--key VKEY]... [--trusted-keys FILE] [--no-state]\n"
        "                      [--timeout SECONDS] [--] URL\n"
        "       " PROG " fetch --fleet FILE -o DIR [--key VKEY]... [--trusted-keys FILE]\n"
        "                      [--no-state] [--timeout SECONDS]\n"
        "\n"
        "Verifies the node's ledger exactly as '" PROG " verify URL' does and, if it\n"
        "verified (exit 0 or 1), writes it as an offline bundle to FILE (atomically).\n"
        "'" PROG " verify FILE' later checks the bundle without the node. Exit codes as\n"
        "for verify; 3 if FILE cannot be written. With --fleet, every node of the fleet\n"
        "file (lines of URL VKEY) is fetched and written to DIR/ORIGIN.bundle (ORIGIN\n"
        "with characters other than [A-Za-z0-9_.-] as %XX); the highest exit code wins.\n";

int cmd_fetch(int argc, char **argv) {
        struct common_opts c = {0};
        const char *url = NULL, *outpath = NULL;
        int rc = EXIT_INCOMPLETE;
        for (int i = 1; i < argc; i++) {
                const char *v;
                int r = common_opt("fetch", fetch_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r == 1)
                        continue;
                if (r != COMMON_OPERAND &&
                    ((r = arg_value("fetch", argc, argv, &i, "-o", &v)) != 0 ||
                     (r = arg_value("fetch", argc, argv, &i, "--output", &v)) != 0)) {
                        if (r < 0)
                                goto out;
                        outpath = v;
                } else if (argv[i][0] == '-' && !c.operands) {
                        fprintf(stderr, PROG " fetch: unknown option '%s'\n", argv[i]);
                        goto out;
                } else if (url) {
                        fprintf(stderr, PROG " fetch: one URL at a time\n");
                        goto out;
                } else {
                        url = argv[i];
                }
        }
        if (c.fleet.n && !url && outpath) {
                rc = fleet_fetch(&c, outpath);
                goto out;
        }
        if (!url || !outpath) {
                fprintf(stderr, PROG " fetch: need URL and -o FILE (see " PROG " fetch --help)\n");
                goto out;
        }
        struct source s;
        source_init(&s, url);
        if (!s.is_url) {
                fprintf(stderr, PROG " fetch: '%s' is not an http:// or https:// URL\n", url);
                goto out;
        }
        struct verify_opts o = {0};
        if (common_finish("fetch", &c, &o) != 0)
                goto out;
        o.keep_bundle = true;
        if (sources_verify(&s, 1, &o) != 0)
                fprintf(stderr, PROG " fetch: the transfer engine failed\n");
        output_human(stdout, &s, 1, output_use_color(stdout));
        rc = source_exit_code(&s);
        if (rc <= EXIT_FINDINGS) {
                int r = atomic_write_file(outpath, s.bundle_data, s.bundle_len, 0644);
                if (r != 0) {
                        fprintf(stderr, PROG " fetch: cannot write '%s': %s\n", outpath,
                                strerror(-r));
                        rc = EXIT_INCOMPLETE;
                } else {
                        printf("wrote %s: %llu records, %zu bytes\n", outpath,
                               (unsigned long long)s.cp.size, s.bundle_len);
                }
        } else {
                fprintf(stderr, PROG " fetch: not verified, no bundle written: %s\n", s.error);
        }
        source_free(&s);
out:
        common_free(&c);
        return rc;
}
