/* SPDX-License-Identifier: MIT */
#include "buf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"

bool reader_vec32(struct reader *r, uint32_t cap, const uint8_t **out, size_t *outlen) {
        struct reader t = *r;
        uint32_t n;

        if (!reader_u32(&t, &n) || n > cap || t.len < n)
                return false;
        *out = t.p;
        *outlen = n;
        r->p = t.p + n;
        r->len = t.len - n;
        return true;
}

void writer_init(struct writer *w, size_t max) {
        w->buf = NULL;
        w->len = 0;
        w->cap = 0;
        w->max = max;
        w->err = 0;
}

/* Room for n more bytes, or the sticky error. Returns a pointer to write at, or NULL. */
static uint8_t *writer_reserve(struct writer *w, size_t n) {
        if (w->err != 0)
                return NULL;
        if (n > w->max || w->len > w->max - n) {
                w->err = GH_E_TOO_LARGE;
                return NULL;
        }
        if (w->len + n > w->cap) {
                size_t ncap = w->cap < 256 ? 256 : w->cap;
                uint8_t *nb;

                while (ncap < w->len + n)
                        ncap = ncap > SIZE_MAX / 2 ? SIZE_MAX : ncap * 2;
                if (ncap > w->max)
                        ncap = w->max;
                nb = realloc(w->buf, ncap);
                if (!nb) {
                        w->err = -ENOMEM;
                        return NULL;
                }
                w->buf = nb;
                w->cap = ncap;
        }
        w->len += n;
        return w->buf + w->len - n;
}

void writer_u8(struct writer *w, uint8_t v) {
        uint8_t *p = writer_reserve(w, 1);

        if (p)
                p[0] = v;
}

void writer_u16(struct writer *w, uint16_t v) {
        uint8_t *p = writer_reserve(w, 2);

        if (p) {
                p[0] = (uint8_t)(v >> 8);
                p[1] = (uint8_t)v;
        }
}

static void put_u32(uint8_t *p, uint32_t v) {
        p[0] = (uint8_t)(v >> 24);
        p[1] = (uint8_t)(v >> 16);
        p[2] = (uint8_t)(v >> 8);
        p[3] = (uint8_t)v;
}

void writer_u32(struct writer *w, uint32_t v) {
        uint8_t *p = writer_reserve(w, 4);

        if (p)
                put_u32(p, v);
}

void writer_u64(struct writer *w, uint64_t v) {
        uint8_t *p = writer_reserve(w, 8);

        if (p)
                for (size_t i = 0; i < 8; i++)
                        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

void writer_bytes(struct writer *w, const void *src, size_t n) {
        uint8_t *p;

        if (n == 0)
                return;
        p = writer_reserve(w, n);
        if (p)
                memcpy(p, src, n);
}

void writer_vec32(struct writer *w, const void *src, size_t n) {
        if (w->err == 0 && n > UINT32_MAX) {
                w->err = GH_E_TOO_LARGE;
                return;
        }
        /* Check the total first so that a failure writes nothing. */
        if (w->err == 0 && (n > w->max || 4 > w->max - n || w->len > w->max - n - 4)) {
                w->err = GH_E_TOO_LARGE;
                return;
        }
        writer_u32(w, (uint32_t)n);
        writer_bytes(w, src, n);
}

void writer_put_u32_at(struct writer *w, size_t off, uint32_t v) {
        if (w->err != 0)
                return;
        if (off > w->len || w->len - off < 4) {
                w->err = GH_E_TOO_LARGE;
                return;
        }
        put_u32(w->buf + off, v);
}

void writer_fail(struct writer *w, int err) {
        if (w->err == 0)
                w->err = err;
}

int writer_error(const struct writer *w) {
        return w->err;
}

size_t writer_len(const struct writer *w) {
        return w->len;
}

const uint8_t *writer_data(const struct writer *w) {
        return w->len ? w->buf : NULL;
}

void writer_reset(struct writer *w) {
        w->len = 0;
        w->err = 0;
}

int writer_finish(struct writer *w, uint8_t **out, size_t *outlen) {
        int err = w->err;

        if (err != 0) {
                writer_free(w);
                return err;
        }
        if (!w->buf) {
                /* Empty but valid: hand out a real (1-byte) allocation so free() is uniform. */
                w->buf = malloc(1);
                if (!w->buf) {
                        writer_free(w);
                        return -ENOMEM;
                }
        }
        *out = w->buf;
        *outlen = w->len;
        w->buf = NULL;
        w->len = 0;
        w->cap = 0;
        return 0;
}

void writer_free(struct writer *w) {
        free(w->buf);
        w->buf = NULL;
        w->len = 0;
        w->cap = 0;
}
