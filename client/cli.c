/* SPDX-License-Identifier: MIT */
#include "cli.h"
#include "witness.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetch.h"
#include "source.h"
#include "store.h"
#include "util.h"

bool is_help(const char *arg) {
        return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

int arg_value(const char *cmd, int argc, char **argv, int *i, const char *name, const char **val) {
        const char *a = argv[*i];
        size_t n = strlen(name);
        if (strncmp(a, name, n) != 0)
                return 0;
        if (a[n] == '=') {
                *val = a + n + 1;
                return 1;
        }
        if (a[n] != '\0')
                return 0;
        if (*i + 1 >= argc) {
                fprintf(stderr, PROG " %s: option '%s' needs a value\n", cmd, name);
                return -1;
        }
        *val = argv[++*i];
        return 1;
}

/* common_opt without --help. */
static int common_value(const char *cmd, int argc, char **argv, int *i, struct common_opts *c) {
        const char *v;
        int r;
        if ((r = arg_value(cmd, argc, argv, i, "--key", &v)) != 0) {
                if (r < 0)
                        return -1;
                if (!c->extra_keys)
                        c->extra_keys = calloc((size_t)argc, sizeof(*c->extra_keys));
                if (!c->extra_keys || c->nextra >= TRUST_MAX_KEYS) {
                        fprintf(stderr, PROG " %s: at most %u --key options\n", cmd,
                                TRUST_MAX_KEYS);
                        return -1;
                }
                c->extra_keys[c->nextra++] = v;
                return 1;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--witnesses", &v)) != 0) {
                if (r > 0)
                        c->witnesses = v;
                return r;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--trusted-keys", &v)) != 0) {
                if (r > 0)
                        c->trusted_keys = v;
                return r;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--since", &v)) != 0) {
                if (r > 0)
                        c->since = v;
                return r;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--until", &v)) != 0) {
                if (r > 0)
                        c->until = v;
                return r;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--timeout", &v)) != 0) {
                if (r < 0)
                        return -1;
                char *end;
                errno = 0;
                double s = strtod(v, &end);
                if (errno || end == v || *end || !(s >= 0.1 && s <= 3600)) {
                        fprintf(stderr,
                                PROG " %s: --timeout '%s': expected seconds between 0.1 and "
                                     "3600\n",
                                cmd, v);
                        return -1;
                }
                c->timeout_ms = (long)(s * 1000.0);
                return 1;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--fleet", &v)) != 0) {
                if (r < 0)
                        return -1;
                if (c->fleet_path) {
                        fprintf(stderr, PROG " %s: --fleet given twice\n", cmd);
                        return -1;
                }
                char err[600];
                if (fleet_load(v, &c->fleet, err, sizeof(err)) != 0) {
                        fprintf(stderr, PROG " %s: fleet file %s\n", cmd, err);
                        return -1;
                }
                c->fleet_path = v;
                return 1;
        }
        if (strcmp(argv[*i], "--no-state") == 0) {
                c->no_state = true;
                return 1;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--deadline", &v)) != 0) {
                if (r < 0)
                        return -1;
                char *end;
                errno = 0;
                double s = strtod(v, &end);
                if (errno || end == v || *end || !(s >= 1 && s <= 86400)) {
                        fprintf(stderr,
                                PROG " %s: --deadline '%s': expected seconds between 1 and "
                                     "86400\n",
                                cmd, v);
                        return -1;
                }
                c->deadline_ms = (long)(s * 1000.0);
                return 1;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--min-page", &v)) != 0) {
                if (r < 0)
                        return -1;
                char *end;
                errno = 0;
                long n = strtol(v, &end, 10);
                if (errno || end == v || *end || n < 1 || n > 10000) {
                        fprintf(stderr,
                                PROG " %s: --min-page '%s': expected records between 1 and "
                                     "10000\n",
                                cmd, v);
                        return -1;
                }
                c->min_page = n;
                return 1;
        }
        if ((r = arg_value(cmd, argc, argv, i, "--store", &v)) != 0) {
                if (r < 0)
                        return -1;
                if (v[0] == '\0') {
                        fprintf(stderr, PROG " %s: --store needs a file name\n", cmd);
                        return -1;
                }
                c->store_path = v;
                return 1;
        }
        if (strcmp(argv[*i], "--no-store") == 0) {
                c->no_store = true;
                return 1;
        }
        if (strcmp(argv[*i], "--offline") == 0) {
                c->offline = true;
                return 1;
        }
        return 0;
}

int common_opt(const char *cmd, const char *help, int argc, char **argv, int *i,
               struct common_opts *c, int *rc) {
        if (c->operands)
                return COMMON_OPERAND;
        if (strcmp(argv[*i], "--") == 0) {
                c->operands = true;
                return 1;
        }
        int r = common_value(cmd, argc, argv, i, c);
        if (r == 0 && help && is_help(argv[*i])) {
                fputs(help, stdout);
                *rc = 0;
                return -1;
        }
        if (r < 0)
                *rc = EXIT_INCOMPLETE;
        return r;
}

int common_finish(const char *cmd, struct common_opts *c, struct verify_opts *o) {
        char err[400];
        _cleanup_free_ char *path = c->trusted_keys ? NULL : trust_file_path();
        if (c->trusted_keys) {
                if (trust_load_path(c->trusted_keys, true, &c->keys, err, sizeof(err)) != 0) {
                        fprintf(stderr, PROG " %s: --trusted-keys: %s\n", cmd, err);
                        return -1;
                }
        } else if (path) {
                if (trust_load_path(path, false, &c->keys, err, sizeof(err)) != 0) {
                        fprintf(stderr, PROG " %s: trusted keys: %s\n", cmd, err);
                        return -1;
                }
        } else if (c->nextra == 0) {
                /* No user file to read (a system service has no HOME): fine
                 * with --key, which names the keys on the command line. */
                fprintf(stderr,
                        PROG " %s: no trusted keys: neither XDG_CONFIG_HOME nor HOME is set "
                             "(give --key VKEY or --trusted-keys FILE)\n",
                        cmd);
                return -1;
        }
        for (unsigned i = 0; i < c->nextra; i++) {
                struct note_verifier v;
                char q[120];
                quote_bytes(c->extra_keys[i], strlen(c->extra_keys[i]), q, sizeof(q));
                if (vkey_parse(c->extra_keys[i], strlen(c->extra_keys[i]), &v) != 0) {
                        fprintf(stderr, PROG " %s: --key '%s' is not a vkey (NAME+KEYID+BASE64)\n",
                                cmd, q);
                        return -1;
                }
                if (trust_list_add(&c->keys, &v) != 0) {
                        fprintf(stderr, PROG " %s: too many keys\n", cmd);
                        return -1;
                }
        }
        for (size_t i = 0; i < c->fleet.n; i++) {
                if (trust_list_add(&c->keys, &c->fleet.nodes[i].key) != 0) {
                        fprintf(stderr, PROG " %s: too many keys\n", cmd);
                        return -1;
                }
        }
        uint64_t now = wall_now_ns();
        o->since_ns = o->until_ns = 0;
        if (c->since && !time_parse_arg(c->since, now, &o->since_ns)) {
                fprintf(stderr,
                        PROG " %s: --since '%s': expected 2026-11-26T12:00:00Z, 2026-11-26 or "
                             "-2h/-30m/-7d\n",
                        cmd, c->since);
                return -1;
        }
        if (c->until && !time_parse_arg(c->until, now, &o->until_ns)) {
                fprintf(stderr,
                        PROG " %s: --until '%s': expected 2026-11-26T12:00:00Z, 2026-11-26 or "
                             "-2h/-30m/-7d\n",
                        cmd, c->until);
                return -1;
        }
        /* Time that has not happened is neither coverage nor a gap. */
        if (o->since_ns > now) {
                fprintf(stderr,
                        PROG " %s: --since '%s' is in the future: there is nothing to audit "
                             "yet\n",
                        cmd, c->since);
                return -1;
        }
        if (o->until_ns > now) {
                fprintf(stderr,
                        PROG " %s: note: --until '%s' is in the future; auditing up to now "
                             "instead\n",
                        cmd, c->until);
                o->until_ns = now;
        }
        if (o->since_ns && o->until_ns && o->since_ns >= o->until_ns) {
                fprintf(stderr, PROG " %s: --since must be before --until\n", cmd);
                return -1;
        }
        if (c->timeout_ms == 0)
                c->timeout_ms = FETCH_DEFAULT_TIMEOUT_MS;
        o->keys = c->keys.keys;
        o->nkeys = c->keys.n;
        o->no_state = c->no_state;
        o->timeout_ms = c->timeout_ms;
        o->deadline_ms = c->deadline_ms ? c->deadline_ms : SOURCE_DEFAULT_DEADLINE_MS;
        o->min_page = c->min_page ? (uint32_t)c->min_page : SOURCE_DEFAULT_MIN_PAGE;
        o->progress = isatty(STDERR_FILENO) == 1;
        if (c->witnesses && witness_policy_load(cmd, c->witnesses, &c->policy) != 0)
                return -1;
        o->policy = c->policy;
        /* The evidence store remembers like the state file: --no-state leaves it alone too. */
        if (c->offline && strcmp(cmd, "verify") != 0 && strcmp(cmd, "report") != 0) {
                fprintf(stderr, PROG " %s: --offline is for verify and report (archive a node "
                                     "with '" PROG " store export')\n",
                        cmd);
                return -1;
        }
        if (c->offline && (c->no_store || c->no_state)) {
                fprintf(stderr, PROG " %s: --offline reads the evidence store: not with %s\n", cmd,
                        c->no_store ? "--no-store" : "--no-state");
                return -1;
        }
        if (!c->no_store && !c->no_state) {
                if (store_open(c->store_path, &c->store, err, sizeof(err)) != 0) {
                        fprintf(stderr, PROG " %s: %s\n", cmd, err);
                        return -1;
                }
        }
        o->store = c->store;
        o->offline = c->offline;
        return 0;
}

int common_finish_sources(const char *cmd, struct common_opts *c, struct verify_opts *o,
                          const char ***names, size_t *n) {
        if (!(c->offline && *n == 0) && sources_count_check(cmd, *n) != 0)
                return -1;
        if (common_finish(cmd, c, o) != 0)
                return -1;
        if (*n > 0)
                return 0;
        char err[600];
        if (store_origin_names(c->store, &c->stored_names, &c->nstored, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " %s: %s\n", cmd, err);
                return -1;
        }
        if (c->nstored == 0) {
                fprintf(stderr, PROG " %s: the evidence store %s holds no verified origin\n", cmd,
                        store_path(c->store));
                return -1;
        }
        *names = (const char **)c->stored_names;
        *n = c->nstored;
        return 0;
}

void common_free(struct common_opts *c) {
        store_names_free(c->stored_names, c->nstored);
        c->stored_names = NULL;
        c->nstored = 0;
        store_close(c->store);
        c->store = NULL;
        trust_list_free(&c->keys);
        free(c->extra_keys);
        c->extra_keys = NULL;
        free(c->policy);
        c->policy = NULL;
        fleet_free(&c->fleet);
}

const char **common_names(const char *cmd, const struct common_opts *c, const char **names,
                          size_t *n) {
        if (c->fleet.n == 0)
                return names;
        const char **nn = realloc(names, (*n + c->fleet.n) * sizeof(*nn));
        if (!nn) {
                fprintf(stderr, PROG " %s: out of memory\n", cmd);
                free(names);
                return NULL;
        }
        for (size_t i = 0; i < c->fleet.n; i++)
                nn[(*n)++] = c->fleet.nodes[i].url;
        return nn;
}

struct source *common_sources_new(const char *cmd, const struct common_opts *c,
                                  const char **names, size_t n, const struct verify_opts *o) {
        struct source *srcs = calloc(n, sizeof(*srcs));
        if (!srcs) {
                fprintf(stderr, PROG " %s: out of memory\n", cmd);
                return NULL;
        }
        for (size_t i = 0; i < n; i++)
                source_init(&srcs[i], names[i]);
        if (c->fleet.n <= n)
                common_pin_origins(c, srcs, n);
        if (sources_verify(srcs, n, o) != 0)
                fprintf(stderr, PROG " %s: the transfer engine failed\n", cmd);
        if (c->fleet.n <= n)
                fleet_pin_sources(srcs + (n - c->fleet.n), &c->fleet);
        return srcs;
}

void common_pin_origins(const struct common_opts *c, struct source *srcs, size_t n) {
        for (size_t i = 0; c->fleet.n <= n && i < c->fleet.n; i++)
                srcs[n - c->fleet.n + i].pin_origin = c->fleet.nodes[i].key.name;
}

int source_arg(const char *cmd, const char *arg, const char **names, size_t *n) {
        if (arg[0] == '-' && arg[1] != '\0') {
                fprintf(stderr, PROG " %s: unknown option '%s'\n", cmd, arg);
                return -1;
        }
        names[(*n)++] = arg;
        return 0;
}

int sources_count_check(const char *cmd, size_t n) {
        if (n > 0 && n <= MAX_SOURCES)
                return 0;
        fprintf(stderr, PROG " %s: %s (see " PROG " %s --help)\n", cmd,
                n ? "too many sources" : "no SOURCE given", cmd);
        return -1;
}
