/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Bounds-checked reader and writer for the wire format (big-endian).
 *
 * reader: a non-owning view {p, len}. Every getter returns false and leaves
 * both the reader and its out-parameter untouched when there are not enough
 * bytes (or a cap is exceeded); on success it advances.
 *
 * writer: a growing heap buffer with a hard maximum size. Any failure
 * (allocation, cap) sets a sticky error; later writes are no-ops; the error
 * is reported once by writer_finish(). The struct is declared here only so
 * that a writer can live on the stack: its fields are private to buf.c, read
 * it through writer_len()/writer_data()/writer_error().
 */

struct reader {
        const uint8_t *p;
        size_t len;
};

static inline void reader_init(struct reader *r, const void *p, size_t len) {
        r->p = p;
        r->len = len;
}
static inline size_t reader_left(const struct reader *r) { return r->len; }

/* Inline: record decoding calls these per field, a few hundred times a record. */
static inline bool reader_u8(struct reader *r, uint8_t *out) {
        if (r->len < 1)
                return false;
        *out = r->p[0];
        r->p += 1;
        r->len -= 1;
        return true;
}

static inline bool reader_u16(struct reader *r, uint16_t *out) {
        if (r->len < 2)
                return false;
        *out = (uint16_t)((unsigned)r->p[0] << 8 | r->p[1]);
        r->p += 2;
        r->len -= 2;
        return true;
}

static inline bool reader_u32(struct reader *r, uint32_t *out) {
        if (r->len < 4)
                return false;
        *out = (uint32_t)r->p[0] << 24 | (uint32_t)r->p[1] << 16 | (uint32_t)r->p[2] << 8 |
               (uint32_t)r->p[3];
        r->p += 4;
        r->len -= 4;
        return true;
}

static inline bool reader_u64(struct reader *r, uint64_t *out) {
        uint64_t v = 0;

        if (r->len < 8)
                return false;
        for (size_t i = 0; i < 8; i++)
                v = v << 8 | r->p[i];
        *out = v;
        r->p += 8;
        r->len -= 8;
        return true;
}

/* n raw bytes; *out points into the reader's buffer. */
static inline bool reader_bytes(struct reader *r, size_t n, const uint8_t **out) {
        if (r->len < n)
                return false;
        *out = r->p;
        r->p += n;
        r->len -= n;
        return true;
}

/* n raw bytes copied to out. */
static inline bool reader_copy(struct reader *r, void *out, size_t n) {
        if (r->len < n)
                return false;
        if (n > 0)
                memcpy(out, r->p, n);
        r->p += n;
        r->len -= n;
        return true;
}

/* u32 big-endian length then that many bytes; fails if length > cap. */
bool reader_vec32(struct reader *r, uint32_t cap, const uint8_t **out, size_t *outlen);

struct writer { /* private: see above */
        uint8_t *buf;
        size_t len;
        size_t cap;
        size_t max; /* hard cap on len */
        int err;    /* 0, -ENOMEM or GH_E_TOO_LARGE; sticky */
};

/* max: the largest number of bytes this writer may ever hold. */
void writer_init(struct writer *w, size_t max);
void writer_u8(struct writer *w, uint8_t v);
void writer_u16(struct writer *w, uint16_t v);
void writer_u32(struct writer *w, uint32_t v);
void writer_u64(struct writer *w, uint64_t v);
void writer_bytes(struct writer *w, const void *src, size_t n);
/* u32 big-endian length then the bytes. */
void writer_vec32(struct writer *w, const void *src, size_t n);
/* Overwrite 4 bytes at offset off (for back-patched lengths). */
void writer_put_u32_at(struct writer *w, size_t off, uint32_t v);
/* Sets the sticky error to err (a gh_status or -errno, non-zero) unless one is set already. */
void writer_fail(struct writer *w, int err);
/* 0 on success, else the sticky error; buffer stays owned by w. */
int writer_error(const struct writer *w);
/* Bytes written so far (those that failed are not counted). */
size_t writer_len(const struct writer *w);
/* The bytes written so far, still owned by w; NULL while nothing is. */
const uint8_t *writer_data(const struct writer *w);
/* Empties w and clears its error, keeping the allocation for reuse. */
void writer_reset(struct writer *w);
/*
 * On success: 0, *out = buffer (caller frees with free()), *outlen = length,
 * and w is reset to empty. On failure: the sticky error, w freed, out
 * params untouched.
 */
int writer_finish(struct writer *w, uint8_t **out, size_t *outlen);
/* Frees the buffer; accepts a zeroed or already finished writer. */
void writer_free(struct writer *w);
