/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fleet.h"
#include "trust.h"

#define MAX_SOURCES 100000

struct source;
struct verify_opts;

/* --help lines for the options common_opt reads about the store and the network. */
#define COMMON_STORE_HELP                                                                       \
        "  --store PATH      the evidence store (default $XDG_DATA_HOME/gpuhours/store.sqlite)\n" \
        "  --no-store        neither read nor write the evidence store (--no-state implies it)\n" \
        "  --offline         from the evidence store alone; SOURCE is an origin or a URL it\n"    \
        "                    was audited at (none: every stored origin); a --fleet line is\n"     \
        "                    the origin its key names\n"                                          \
        "  --deadline SECONDS overall limit per node URL (default 600)\n"                         \
        "  --min-page N      records every page but the last must hold (default 100)\n"

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
int cmd_store(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_state(int argc, char **argv);

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
        const char *trusted_keys; /* --trusted-keys FILE instead of the user's file */
        bool no_state;
        bool operands; /* after "--": every argument is an operand */
        long timeout_ms;
        long deadline_ms;       /* --deadline SECONDS (0: default) */
        long min_page;          /* --min-page RECORDS (0: default) */
        const char *store_path; /* --store PATH */
        bool no_store, offline;
        struct store *store; /* opened by common_finish */
        char **stored_names; /* --offline without SOURCE: every stored origin */
        size_t nstored;
        const char *fleet_path; /* --fleet FILE */
        struct fleet fleet;     /* loaded when the option is read */
        const char *witnesses;  /* --witnesses FILE */
        struct policy *policy;  /* loaded from it by common_finish; freed by common_free */
};

/*
 * A common option at argv[*i], or --help if help is not NULL (help printed to stdout).
 * 1 consumed (maybe with its value; also "--", after which every argument is an
 * operand), COMMON_OPERAND for an argument after "--" (the caller takes it as
 * an operand even if it starts with '-'), 0 not one of them, -1 stop with exit
 * code *rc: 0 after --help, EXIT_INCOMPLETE after an error (message printed).
 */
#define COMMON_OPERAND 2
int common_opt(const char *cmd, const char *help, int argc, char **argv, int *i,
               struct common_opts *c, int *rc);
/*
 * Load the trust file and add the --key keys; resolve --since/--until; fill o's keys,
 * since/until, no_state, timeout_ms and progress (stderr is a terminal) from them.
 * 0 or -1 (message printed).
 */
int common_finish(const char *cmd, struct common_opts *c, struct verify_opts *o);
void common_free(struct common_opts *c);

/*
 * common_finish, then the SOURCE list: names[0..*n) as given, or with --offline and no
 * SOURCE every origin in the evidence store (*names then points into c). 0 or -1 (message
 * printed).
 */
int common_finish_sources(const char *cmd, struct common_opts *c, struct verify_opts *o,
                          const char ***names, size_t *n);
/*
 * names[0..*n) followed by the URL of every --fleet node: names is
 * realloc'd (the new array returned, *n updated), NULL (message printed,
 * names freed) if out of memory.
 */
const char **common_names(const char *cmd, const struct common_opts *c, const char **names,
                          size_t *n);
/*
 * Sources for names[0..n), verified with o (each fleet node's source, the
 * last c->fleet.n of names, reads its pinned origin with --offline), then the
 * fleet pin: each must carry a checkpoint of the node's origin signed by the
 * node's own vkey, else it fails with KEY_MISMATCH (exit 2). NULL (message
 * printed) if out of memory.
 */
/* fetch --fleet FILE -o DIR (fleet_fetch.c): exit code. */
int fleet_fetch(struct common_opts *c, const char *dir);
/*
 * Writes s's verified bundle to DIR/ORIGIN<suffix>.bundle (ORIGIN escaped by
 * origin_file_name), atomically and only over nothing or a regular file;
 * prints "wrote ..." or one error line. 0, or -1 (the caller's exit is 3).
 */
struct source;
int fetch_write_bundle(const char *dir, const struct source *s, const char *suffix);
/*
 * Whether fetch may replace path (cmd_fetch.c): absent or a regular file. 0, or
 * -1 with a one-line reason in why ("it exists and is a symbolic link; ...");
 * symlinks are never followed.
 */
int output_target_ok(const char *path, char *why, size_t len);
struct source *common_sources_new(const char *cmd, const struct common_opts *c,
                                  const char **names, size_t n, const struct verify_opts *o);
/* The --fleet lines' pinned origins onto their sources (the last c->fleet.n of srcs[0..n)). */
void common_pin_origins(const struct common_opts *c, struct source *srcs, size_t n);

/*
 * A SOURCE argument of verify or report: appended to names (*n counts them), or -1 (message
 * printed) if arg is an option ("-" alone is a SOURCE).
 */
int source_arg(const char *cmd, const char *arg, const char **names, size_t *n);
/* 0 if between 1 and MAX_SOURCES SOURCE arguments were given, else -1 (message printed). */
int sources_count_check(const char *cmd, size_t n);

