/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure text helpers shared by the daemon and the client: strict decimal
 * parsing, quoting of untrusted bytes for one-line messages, proleptic
 * Gregorian dates and ISO 8601 UTC time. No I/O, no allocation, no globals.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A decimal u64 of exactly len bytes: digits only, no sign, no leading zeros
 * (but "0"), no overflow. false (out untouched) on anything else.
 */
bool parse_u64(const char *s, size_t len, uint64_t *out);
/* parse_u64, and the value must be at most max. */
bool parse_u64_max(const char *s, size_t len, uint64_t max, uint64_t *out);
/* parse_u64 of a NUL-terminated string; false for NULL. */
bool parse_u64_cstr(const char *s, uint64_t *out);

/*
 * Copy untrusted bytes into out for a one-line message: printable ASCII
 * (0x20..0x7e) kept, every other byte as '?', at most cap - 1 bytes and a
 * NUL, ending in "..." when cut. cap 0 writes nothing.
 */
void quote_bytes(const void *p, size_t len, char *out, size_t cap);

/*
 * The next line of a text file held in buf[0..len), from *pos: *line and *n
 * without its '\n' nor one '\r' before it (a CRLF file reads as LF); *pos
 * moves past the '\n' (or to len for a last line without one). false once
 * *pos >= len. Lengths and bytes are the caller's to check.
 */
bool text_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *n);

/* The value of one hex digit (either case), or -1. */
int hex_digit_value(char c);

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
int64_t date_days_from_civil(int64_t y, unsigned m, unsigned d);
/* The date of a day number (inverse of date_days_from_civil). */
void date_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* UTC ISO 8601 "2026-11-26T12:00:00Z" (millis: "...00.123Z"). out >= 32 bytes. */
void time_format_iso(uint64_t ns, bool millis, char *out, size_t cap);
