/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "trust.h"

/* Exit codes (README): the highest wins across sources. */
enum {
        EXIT_VERIFIED = 0,
        EXIT_FINDINGS = 1,
        EXIT_INTEGRITY = 2,
        EXIT_INCOMPLETE = 3, /* unreachable, timeout, bad usage */
};

int cmd_verify(int argc, char **argv);
int cmd_fetch(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_attest(int argc, char **argv);

/*
 * "--name VALUE" or "--name=VALUE" at argv[*i]: 1 and *val set (and *i
 * advanced past VALUE), 0 if argv[*i] is not this option, -1 (message
 * printed) if the value is missing.
 */
int arg_value(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val);
bool is_help(const char *arg);

/* Options shared by verify, fetch, report and attest. */
struct common_opts {
        struct trust_list keys;  /* trusted keys, then --key */
        const char **extra_keys; /* --key values (argv strings), malloc'd */
        unsigned nextra;
        const char *since, *until;
        bool no_state;
        long timeout_ms;
};

/* 1 consumed (maybe with its value), 0 not a common option, -1 error (printed). */
int common_opt(const char *cmd, int argc, char **argv, int *i, struct common_opts *c);
/*
 * Load the trust file and add the --key keys; resolve --since/--until.
 * 0 or -1 (message printed).
 */
int common_finish(const char *cmd, struct common_opts *c, uint64_t *since_ns, uint64_t *until_ns);
void common_free(struct common_opts *c);
