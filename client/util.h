/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small portable (POSIX.1-2008) helpers for the client: cleanup attributes,
 * time parsing, XDG directories, capped file reads; the shared helpers come
 * from proto/text.h and common/fsutil.h. No Linux-only headers: the client
 * builds on macOS.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

#include "fsutil.h" /* common/: mkdir_p, atomic_write_file */
#include "text.h"   /* proto/: parse_u64, quote_bytes, time_format_iso */

#define _cleanup_(f) __attribute__((cleanup(f)))

static inline void freep(void *p) {
        free(*(void **)p);
}
static inline void fclosep(FILE **f) {
        if (*f)
                fclose(*f);
}
#define _cleanup_free_ _cleanup_(freep)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define NS_PER_SEC 1000000000ull

/* Program name for messages. */
#define PROG "gpuhours"

/* CLOCK_REALTIME in ns since the epoch (0 if the clock is unusable). */
uint64_t wall_now_ns(void);

/*
 * --since/--until argument: "2026-11-26T12:00:00Z", "2026-11-26T12:00Z",
 * "2026-11-26" (midnight UTC), or relative to now_ns: "-90s", "-30m", "-2h",
 * "-7d". Returns false (out untouched) on anything else or out of range.
 */
bool time_parse_arg(const char *s, uint64_t now_ns, uint64_t *out);

/* A length for a human: "0.356 s" below a minute, else "5 min 3 s", "2 h 5 min", "23 d 3 h". */
void duration_human(double seconds, char *buf, size_t cap);

/*
 * $XDG_<what>_HOME/gpuhours, or $HOME/<fallback>/gpuhours when the variable
 * is unset, empty or not absolute (XDG Base Directory spec). malloc'd; NULL
 * if neither is usable.
 */
char *xdg_dir(const char *env_name, const char *home_fallback);

/* a ‖ b ‖ c, malloc'd (NULL on allocation failure). */
char *str_concat3(const char *a, const char *b, const char *c);

/*
 * Read a whole regular file of at most cap bytes. 0 (*out malloc'd, with a
 * NUL after the data), -ENOENT, -EFBIG if larger than cap, -EISDIR for a
 * directory, -EINVAL for another non-regular file (a FIFO is never waited
 * on), or another -errno.
 */
int read_file_capped(const char *path, size_t cap, char **out, size_t *len);

/*
 * File name for an origin: [A-Za-z0-9_.-] kept (no leading '.'), the rest %XX.
 * At most ORIGIN_FILE_NAME_MAX bytes, so that the longest name made from it
 * (ORIGIN-YYYY-MM-DD.bundle written through a ".NAME.PID.tmp" temporary) fits
 * in NAME_MAX: a longer one is -ENAMETOOLONG, never a name the file system
 * refuses only at the write (a checkpoint that could not be remembered).
 */
#define ORIGIN_FILE_NAME_MAX 200u
int origin_file_name(const char *origin, char *out, size_t cap);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *p, size_t n, char *out);

/* Base URL without trailing slashes + path (malloc'd). */
char *url_join(const char *base, const char *path);
/* url with the password of a user:password@ part replaced by "***" (malloc'd; NULL: no memory). */
char *url_redact(const char *url);

/* "N-M" (decimal, N < M) of X-Gpuhours-Range. */
bool range_header_parse(const char *s, uint64_t *start, uint64_t *end);
