/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "util.h"

static const struct {
        const char *name;
        int (*fn)(int argc, char **argv);
        const char *help;
} commands[] = {
        {"verify", cmd_verify, "verify ledgers (node URLs or bundle files) and report findings"},
        {"fetch", cmd_fetch, "verify a node's ledger and save it as an offline bundle"},
        {"report", cmd_report, "GPU-hours by hour, day, month or GPU from verified ledgers"},
        {"trust", cmd_trust, "add, list or remove trusted node keys"},
        {"store", cmd_store, "check, export or list the evidence store of verified ledgers"},
        {"check", cmd_check, "judge pause, cap, concurrency and coverage rules over a fleet"},
        {"attest", cmd_attest, "challenge a node with a fresh nonce: liveness, clock, consistency"},
        {"show", cmd_show, "print the records of a verified ledger, decoded (all, or one in full)"},
        {"state", cmd_state, "show or forget the remembered checkpoint and fork evidence of an origin"},
};

static void usage(FILE *out) {
        fprintf(out, "usage: " PROG " [--version] [--help] COMMAND [ARGS]\n\ncommands:\n");
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
                fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
        fprintf(out, "\n'" PROG " COMMAND --help' describes a command. Exit codes: 0 verified, "
                     "1 verified with findings,\n2 integrity failure, 3 could not complete.\n");
}

int main(int argc, char **argv) {
        if (argc < 2) {
                usage(stderr);
                return EXIT_INCOMPLETE;
        }
        if (is_help(argv[1])) {
                usage(stdout);
                return 0;
        }
        if (strcmp(argv[1], "--version") == 0) {
                printf(PROG " %s\n", GH_VERSION);
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
                if (strcmp(argv[1], commands[i].name) != 0)
                        continue;
                if (sodium_init() < 0) {
                        fprintf(stderr, PROG ": libsodium failed to initialise\n");
                        return EXIT_INCOMPLETE;
                }
                if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
                        fprintf(stderr, PROG ": libcurl failed to initialise\n");
                        return EXIT_INCOMPLETE;
                }
                int r = commands[i].fn(argc - 1, argv + 1);
                curl_global_cleanup();
                return r;
        }
        char q[80];
        quote_bytes(argv[1], strlen(argv[1]), q, sizeof(q));
        fprintf(stderr, PROG ": unknown command '%s' (try '" PROG " --help')\n", q);
        return EXIT_INCOMPLETE;
}
