/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Small portable (POSIX.1-2008) helpers for the client: cleanup attributes,
 * time parsing and formatting, XDG directories, atomic file writes, quoting
 * of untrusted text. No Linux-only headers: the client builds on macOS.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>

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

/* UTC ISO 8601 "2026-11-26T12:00:00Z" (millis: "...00.123Z"). out >= 32 bytes. */
void time_format_iso(uint64_t ns, bool millis, char *out, size_t cap);
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

/* mkdir -p with mode for created components. 0 or -errno. */
int mkdir_p(const char *path, mode_t mode);

/*
 * Write data to path atomically: temp file in the same directory, fsync,
 * rename over path, fsync the directory. 0 or -errno (the temp is removed).
 */
int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Read a whole regular file of at most cap bytes. 0 (*out malloc'd, with a
 * NUL after the data), -ENOENT, -EFBIG if larger than cap, or another -errno.
 */
int read_file_capped(const char *path, size_t cap, char **out, size_t *len);

/*
 * Copy untrusted bytes into out for a one-line message: printable ASCII kept,
 * everything else as '?', at most cap-1 bytes, "..." when cut.
 */
void quote_bytes(const void *p, size_t len, char *out, size_t cap);

/* File name for an origin: [A-Za-z0-9_.-] kept (no leading '.'), the rest %XX. */
int origin_file_name(const char *origin, char *out, size_t cap);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *p, size_t n, char *out);

/* Parse a decimal u64 of exactly len bytes (no sign, no leading zeros but "0"). */
bool parse_u64(const char *s, size_t len, uint64_t *out);

/* Base URL without trailing slashes + path (malloc'd). */
char *url_join(const char *base, const char *path);

/* "N-M" (decimal, N < M) of X-Gpuhours-Range. */
bool range_header_parse(const char *s, uint64_t *start, uint64_t *end);
