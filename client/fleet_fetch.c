/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "output.h"
#include "source.h"
#include "util.h"

int fetch_write_bundle(const char *dir, const struct source *s, const char *suffix) {
        char fn[4 * NOTE_NAME_MAX + 16];
        if (origin_file_name(s->cp.origin, fn, sizeof(fn)) != 0) {
                fprintf(stderr, PROG " fetch: %s: origin too long for a file name\n", s->name);
                return -1;
        }
        _cleanup_free_ char *path = str_concat3(dir, "/", fn);
        _cleanup_free_ char *full = path ? str_concat3(path, suffix, ".bundle") : NULL;
        /* Only over nothing or a regular file: a planted symlink or FIFO is refused. */
        char why[200];
        int r = !full ? -ENOMEM
                : output_target_ok(full, why, sizeof why) != 0
                        ? -EEXIST
                        : atomic_write_file(full, s->bundle_data, s->bundle_len, 0644);
        if (r != 0) {
                fprintf(stderr, PROG " fetch: cannot write '%s/%s%s.bundle': %s\n", dir, fn, suffix,
                        r == -EEXIST ? why : strerror(-r));
                return -1;
        }
        printf("wrote %s: %llu records, %zu bytes\n", full, (unsigned long long)s->cp.size,
               s->bundle_len);
        return 0;
}

int fleet_fetch(struct common_opts *c, const char *dir) {
        struct verify_opts o = {0};
        if (common_finish("fetch", c, &o) != 0)
                return EXIT_INCOMPLETE;
        o.keep_bundle = true;
        size_t n = 0;
        const char **names = common_names("fetch", c, NULL, &n);
        if (!names)
                return EXIT_INCOMPLETE;
        struct source *srcs = common_sources_new("fetch", c, names, n, &o);
        if (!srcs) {
                free(names);
                return EXIT_INCOMPLETE;
        }
        output_human(stdout, srcs, n, output_use_color(stdout));
        int rc = sources_exit_code(srcs, n);
        for (size_t i = 0; i < n; i++) {
                struct source *s = &srcs[i];
                if (source_exit_code(s) > EXIT_FINDINGS) {
                        fprintf(stderr, PROG " fetch: %s: not verified, no bundle written: %s\n",
                                s->name, s->error);
                        continue;
                }
                if (fetch_write_bundle(dir, s, "") != 0)
                        rc = EXIT_INCOMPLETE;
        }
        for (size_t i = 0; i < n; i++)
                source_free(&srcs[i]);
        free(srcs);
        free(names);
        return rc;
}
