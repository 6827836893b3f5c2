/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "output.h"
#include "source.h"
#include "util.h"

int output_target_ok(const char *path, char *why, size_t len) {
        struct stat st;
        if (lstat(path, &st) != 0)
                return errno == ENOENT ? 0 : (snprintf(why, len, "%s", strerror(errno)), -1);
        if (S_ISREG(st.st_mode))
                return 0;
        snprintf(why, len, "it exists and is %s; refusing to replace it%s",
                 S_ISDIR(st.st_mode)   ? "a directory"
                 : S_ISLNK(st.st_mode) ? "a symbolic link"
                 : S_ISFIFO(st.st_mode) ? "a FIFO"
                                        : "not a regular file",
                 S_ISDIR(st.st_mode) ? "" : " (use -o - for standard output)");
        return -1;
}

static int write_all_fd(int fd, const uint8_t *p, size_t n) {
        while (n) {
                ssize_t w = write(fd, p, n);
                if (w < 0 && errno == EINTR)
                        continue;
                if (w <= 0)
                        return -1;
                p += w;
                n -= (size_t)w;
        }
        return 0;
}

/* 1 if path is an existing directory (symlinks followed, as for any directory operand). */
static int is_dir(const char *path) {
        struct stat st;
        return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/*
 * fetch -o DIR URL...: one bundle per source, DIR/<ORIGIN>-<YYYY-MM-DD>.bundle (the origin
 * escaped as for --fleet, today's UTC date), each replaced atomically and only if absent or a
 * regular file. Two sources of the same origin would write the same name: refused (exit 3).
 */
static int fetch_dir(struct common_opts *c, const char **urls, size_t n, const char *dir) {
        struct verify_opts o = {0};
        if (common_finish("fetch", c, &o) != 0)
                return EXIT_INCOMPLETE;
        o.keep_bundle = true;
        time_t now = time(NULL);
        struct tm tm;
        char day[16];
        if (now == (time_t)-1 || !gmtime_r(&now, &tm) ||
            strftime(day, sizeof day, "%Y-%m-%d", &tm) != 10) {
                fprintf(stderr, PROG " fetch: cannot read today's date\n");
                return EXIT_INCOMPLETE;
        }
        struct source *srcs = common_sources_new("fetch", c, urls, n, &o);
        if (!srcs)
                return EXIT_INCOMPLETE;
        output_human(stdout, srcs, n, output_use_color(stdout));
        int rc = sources_exit_code(srcs, n);
        for (size_t i = 0; i < n; i++) {
                struct source *s = &srcs[i];
                if (source_exit_code(s) > EXIT_FINDINGS) {
                        fprintf(stderr, PROG " fetch: %s: not verified, no bundle written: %s\n",
                                s->name, s->error);
                        continue;
                }
                bool dup = false;
                for (size_t j = 0; j < i; j++)
                        dup |= source_exit_code(&srcs[j]) <= EXIT_FINDINGS &&
                               strcmp(srcs[j].cp.origin, s->cp.origin) == 0;
                if (dup) {
                        fprintf(stderr,
                                PROG " fetch: %s: origin '%s' already fetched from another URL; "
                                     "no second bundle written\n",
                                s->name, s->cp.origin);
                        rc = EXIT_INCOMPLETE;
                        continue;
                }
                char suffix[20];
                snprintf(suffix, sizeof suffix, "-%s", day);
                if (fetch_write_bundle(dir, s, suffix) != 0)
                        rc = EXIT_INCOMPLETE;
        }
        for (size_t i = 0; i < n; i++)
                source_free(&srcs[i]);
        free(srcs);
        return rc;
}

static const char fetch_help[] =
        "usage: " PROG " fetch -o FILE|- [--key VKEY]... [--trusted-keys FILE] [--no-state]\n"
        "                      [--timeout SECONDS] [--] URL\n"
        "       " PROG " fetch -o DIR [--key VKEY]... [--trusted-keys FILE] [--no-state]\n"
        "                      [--timeout SECONDS] [--] URL...\n"
        "       " PROG " fetch --fleet FILE -o DIR [--key VKEY]... [--trusted-keys FILE]\n"
        "                      [--no-state] [--timeout SECONDS]\n"
        "\n"
        "Verifies the node's ledger exactly as '" PROG " verify URL' does and, if it\n"
        "verified (exit 0 or 1), writes it as an offline bundle to FILE: a temporary\n"
        "file beside it, renamed over FILE only if FILE is absent or a regular file\n"
        "(a symlink, FIFO, device or directory is refused). '-o -' writes the bundle\n"
        "to standard output (the report then goes to standard error).\n"
        "'" PROG " verify FILE' later checks the bundle without the node. Exit codes as\n"
        "for verify; 3 if FILE cannot be written. With --fleet, every node of the fleet\n"
        "file (lines of URL VKEY) is fetched and written to DIR/ORIGIN.bundle (ORIGIN\n"
        "with characters other than [A-Za-z0-9_.-] as %XX), again only over nothing or a\n"
        "regular file; the highest exit code wins.\n"
        "When -o names an existing directory, or with several URLs (DIR must then exist),\n"
        "each verified node goes to DIR/ORIGIN-YYYY-MM-DD.bundle (ORIGIN escaped the same\n"
        "way, today's UTC date), replaced only if absent or a regular file; a node that\n"
        "did not verify gets no bundle and its exit code; the highest exit code wins.\n";

int cmd_fetch(int argc, char **argv) {
        struct common_opts c = {0};
        _cleanup_free_ const char **urls = calloc((size_t)argc, sizeof(*urls));
        size_t nurls = 0;
        const char *outpath = NULL;
        int rc = EXIT_INCOMPLETE;
        if (!urls) {
                fprintf(stderr, PROG " fetch: out of memory\n");
                return rc;
        }
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
                } else if (nurls == MAX_SOURCES) {
                        fprintf(stderr, PROG " fetch: at most %d URLs\n", MAX_SOURCES);
                        goto out;
                } else {
                        urls[nurls++] = argv[i];
                }
        }
        const char *url = nurls ? urls[0] : NULL;
        if (c.fleet.n && !url && outpath) {
                rc = fleet_fetch(&c, outpath);
                goto out;
        }
        if (!url || !outpath) {
                fprintf(stderr, PROG " fetch: need URL and -o FILE (see " PROG " fetch --help)\n");
                goto out;
        }
        if (nurls > 1 || (strcmp(outpath, "-") != 0 && is_dir(outpath))) {
                if (c.fleet.n) {
                        fprintf(stderr, PROG " fetch: -o DIR takes either URLs or --fleet, "
                                        "not both\n");
                        goto out;
                }
                if (!is_dir(outpath)) {
                        fprintf(stderr, PROG " fetch: several URLs need -o DIR, an existing "
                                        "directory; '%s' is not one\n",
                                outpath);
                        goto out;
                }
                for (size_t i = 0; i < nurls; i++) {
                        struct source t;
                        source_init(&t, urls[i]);
                        bool ok = t.is_url;
                        source_free(&t);
                        if (!ok) {
                                fprintf(stderr,
                                        PROG " fetch: '%s' is not an http:// or https:// URL\n",
                                        urls[i]);
                                goto out;
                        }
                }
                rc = fetch_dir(&c, urls, nurls, outpath);
                goto out;
        }
        struct source s;
        source_init(&s, url);
        if (!s.is_url) {
                fprintf(stderr, PROG " fetch: '%s' is not an http:// or https:// URL\n", url);
                goto out;
        }
        bool to_stdout = strcmp(outpath, "-") == 0;
        char why[200];
        if (!to_stdout && output_target_ok(outpath, why, sizeof why) != 0) {
                fprintf(stderr, PROG " fetch: cannot write '%s': %s\n", outpath, why);
                source_free(&s);
                goto out;
        }
        struct verify_opts o = {0};
        if (common_finish("fetch", &c, &o) != 0) {
                source_free(&s);
                goto out;
        }
        o.keep_bundle = true;
        if (sources_verify(&s, 1, &o) != 0)
                fprintf(stderr, PROG " fetch: the transfer engine failed\n");
        FILE *report = to_stdout ? stderr : stdout;
        output_human(report, &s, 1, output_use_color(report));
        rc = source_exit_code(&s);
        if (rc <= EXIT_FINDINGS && to_stdout) {
                if (write_all_fd(STDOUT_FILENO, s.bundle_data, s.bundle_len) != 0) {
                        fprintf(stderr, PROG " fetch: cannot write the bundle to standard output: "
                                        "%s\n",
                                strerror(errno));
                        rc = EXIT_INCOMPLETE;
                }
        } else if (rc <= EXIT_FINDINGS) {
                int r = output_target_ok(outpath, why, sizeof why) != 0
                                ? -EEXIST
                                : atomic_write_file(outpath, s.bundle_data, s.bundle_len, 0644);
                if (r != 0) {
                        fprintf(stderr, PROG " fetch: cannot write '%s': %s\n", outpath,
                                r == -EEXIST ? why : strerror(-r));
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
