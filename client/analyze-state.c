/* SPDX-License-Identifier: MIT */
/*
 * The analyzer's state as bytes (analyze-state.h). Layout:
 *   "GHAZST01", u32 ANALYZER_STATE_LAYOUT, u32 0x01020304 (byte order),
 *   u32 sizeof of analyzer, gpu_acc, finding, win, seg, energy_gap,
 *   energy_item, u64 ngaps, nf, neg, nei, total windows,
 *   struct analyzer (pointers and capacities zero, nwins 0, wins_base 0),
 *   ngaps segs, nf findings (source NULL), nf bytes of source index,
 *   neg energy_gaps, nei energy_items.
 */
#include "analyze-state.h"

#include <errno.h>
#include <stdio.h>

#include "analyze-internal.h"

/*
 * Bump when a saved struct changes (analyze-internal.h says so next to them),
 * or when a rule changes what a saved state means (5: a version 1 START or
 * INVENTORY breaks the energy counter's continuity, ANALYSIS.md 6; 6: CLOCK_AHEAD
 * is judged at analyzer_finish from the latest-labelled reading, ANALYSIS.md 5.1).
 */
#define ANALYZER_STATE_LAYOUT 6u
#define STATE_MAGIC "GHAZST01"
#define STATE_ORDER 0x01020304u
#define STATE_HEADER (8 + 9 * 4 + 5 * 8)

_Static_assert(sizeof(struct win) == ANALYZER_STATE_WIN_SIZE, "a saved window is 48 bytes");
/* Saved field by field below: a new field must be added there (then update these sizes). */
_Static_assert(sizeof(struct finding) == 392, "struct finding changed: update state_save_raw");
_Static_assert(sizeof(struct energy_gap) == 56, "struct energy_gap changed: update state_save_raw");
_Static_assert(sizeof(struct energy_item) == 24, "struct energy_item changed: update state_save_raw");

/* The sources a finding made before analyzer_finish can name (index 0: none). */
static const char *const sources[] = {NULL,          "in_window",  "restart",
                                      "between_windows", "reboot",   "no_windows",
                                      "before_first",   "after_last"};
#define NSOURCES (sizeof(sources) / sizeof(sources[0]))

static int source_index(const char *s) {
        if (!s)
                return 0;
        for (size_t i = 1; i < NSOURCES; i++)
                if (strcmp(s, sources[i]) == 0)
                        return (int)i;
        return -1;
}

static void put(uint8_t **w, const void *p, size_t n) {
        if (n)
                memcpy(*w, p, n);
        *w += n;
}

static void put32(uint8_t **w, uint32_t v) {
        put(w, &v, 4);
}

static void put64(uint8_t **w, uint64_t v) {
        put(w, &v, 8);
}

static void header_sizes(uint32_t out[9]) {
        out[0] = ANALYZER_STATE_LAYOUT;
        out[1] = STATE_ORDER;
        out[2] = (uint32_t)sizeof(struct analyzer);
        out[3] = (uint32_t)sizeof(struct gpu_acc);
        out[4] = (uint32_t)sizeof(struct finding);
        out[5] = (uint32_t)sizeof(struct win);
        out[6] = (uint32_t)sizeof(struct seg);
        out[7] = (uint32_t)sizeof(struct energy_gap);
        out[8] = (uint32_t)sizeof(struct energy_item);
}

uint64_t analyzer_state_nwins(const struct analyzer *a) {
        return a->wins_base + a->nwins;
}

int analyzer_state_windows(const struct analyzer *a, uint64_t from, const uint8_t **p,
                           size_t *len) {
        uint64_t total = analyzer_state_nwins(a);

        *p = NULL;
        *len = 0;
        if (from < a->wins_base || from > total)
                return -EINVAL;
        if (from == total)
                return 0; /* no window to give (a->wins may be NULL) */
        *p = (const uint8_t *)(a->wins + (from - a->wins_base));
        *len = (size_t)(total - from) * sizeof(struct win);
        return 0;
}

static int state_save_raw(const struct analyzer *a, uint8_t **out, size_t *len) {
        uint32_t hs[9];
        uint8_t *buf, *w;
        size_t n;

        *out = NULL;
        *len = 0;
        if (a->err || a->finished || a->uncapped || a->o.since_ns || a->o.until_ns)
                return -EINVAL;
        for (size_t i = 0; i < a->nf; i++)
                if (source_index(a->f[i].source) < 0)
                        return -EINVAL;
        n = STATE_HEADER + sizeof(struct analyzer) + a->ngaps * sizeof(struct seg) +
            a->nf * (sizeof(struct finding) + 1) + a->neg * sizeof(struct energy_gap) +
            a->nei * sizeof(struct energy_item);
        buf = malloc(n);
        if (!buf)
                return -ENOMEM;
        w = buf;
        put(&w, STATE_MAGIC, 8);
        header_sizes(hs);
        for (size_t i = 0; i < 9; i++)
                put32(&w, hs[i]);
        put64(&w, a->ngaps);
        put64(&w, a->nf);
        put64(&w, a->neg);
        put64(&w, a->nei);
        put64(&w, analyzer_state_nwins(a));

        /* The analyzer's bytes with everything that is not state zeroed (padding stays 0: calloc). */
        uint8_t *ap = w;
        put(&w, a, sizeof(*a));
#define ZERO(field)                                                                        \
        memset(ap + offsetof(struct analyzer, field), 0, sizeof(((struct analyzer *)0)->field))
        ZERO(wins);
        ZERO(nwins);
        ZERO(capwins);
        ZERO(wins_base);
        ZERO(gaps);
        ZERO(capgaps);
        ZERO(f);
        ZERO(capf);
        ZERO(eg);
        ZERO(capeg);
        ZERO(ei);
        ZERO(capei);
        ZERO(o.now_ns);
#undef ZERO

        /*
         * Structs with padding are rebuilt field by field in zeroed copies: a
         * struct assigned from a local may carry stray padding bytes, and the
         * saved form must be a function of the analysis alone (store verify
         * compares it byte for byte).
         */
        put(&w, a->gaps, a->ngaps * sizeof(struct seg));
        for (size_t i = 0; i < a->nf; i++) {
                const struct finding *s = &a->f[i];
                struct finding c;
                memset(&c, 0, sizeof(c));
                c.kind = s->kind;
                c.severity = s->severity;
                c.has_time = s->has_time;
                c.start_ns = s->start_ns;
                c.end_ns = s->end_ns;
                c.has_leaves = s->has_leaves;
                c.first_leaf = s->first_leaf;
                c.last_leaf = s->last_leaf;
                c.has_energy = s->has_energy;
                c.energy_joules = s->energy_joules;
                c.has_hidden = s->has_hidden;
                c.gpu_seconds = s->gpu_seconds;
                c.has_gpus = s->has_gpus;
                c.gpu_mask = s->gpu_mask;
                c.has_step = s->has_step;
                c.step_seconds = s->step_seconds;
                memcpy(c.detail, s->detail, bounded_len(s->detail, sizeof(c.detail) - 1));
                c.duration_ns = s->duration_ns;
                put(&w, &c, sizeof(c));
        }
        for (size_t i = 0; i < a->nf; i++)
                *w++ = (uint8_t)source_index(a->f[i].source);
        for (size_t i = 0; i < a->neg; i++) {
                const struct energy_gap *s = &a->eg[i];
                struct energy_gap c;
                memset(&c, 0, sizeof(c));
                c.start_ns = s->start_ns;
                c.end_ns = s->end_ns;
                c.first_leaf = s->first_leaf;
                c.last_leaf = s->last_leaf;
                c.first_item = s->first_item;
                c.nitems = s->nitems;
                c.before_ledger = s->before_ledger;
                put(&w, &c, sizeof(c));
        }
        for (size_t i = 0; i < a->nei; i++) {
                const struct energy_item *s = &a->ei[i];
                struct energy_item c;
                memset(&c, 0, sizeof(c));
                c.gpu = s->gpu;
                c.delta_mj = s->delta_mj;
                c.gap_ns = s->gap_ns;
                put(&w, &c, sizeof(c));
        }
        *out = buf;
        *len = (size_t)(w - buf);
        return 0;
}

static uint32_t get32(const uint8_t **r) {
        uint32_t v;
        memcpy(&v, *r, 4);
        *r += 4;
        return v;
}

static uint64_t get64(const uint8_t **r) {
        uint64_t v;
        memcpy(&v, *r, 8);
        *r += 8;
        return v;
}

static bool terminated(const char *s, size_t cap) {
        return memchr(s, '\0', cap) != NULL;
}

static bool index_ok(uint8_t idx, size_t ngpus) {
        return idx == GPU_NONE || idx < ngpus;
}

/* The loaded fields bound each other: every count, index and string the analyzer trusts. */
static bool state_sane(const struct analyzer *t) {
        if (t->err || t->finished || t->uncapped || t->o.since_ns || t->o.until_ns ||
            t->lo != 0 || t->hi != UINT64_MAX || t->ngpus > RECORD_MAX_GPUS ||
            t->set_n > RECORD_MAX_GPUS || t->nf > ANALYZE_FINDINGS_MAX)
                return false;
        for (size_t i = 0; i < RECORD_MAX_GPUS; i++) {
                if (!index_ok(t->set_idx[i], t->ngpus) || !index_ok(t->poscache[i], t->ngpus) ||
                    !terminated(t->set_uuid[i], sizeof(t->set_uuid[i])) ||
                    !terminated(t->gpus[i].uuid, sizeof(t->gpus[i].uuid)))
                        return false;
        }
        return true;
}

static int state_load_raw(struct analyzer *a, const uint8_t *p, size_t len, uint8_t *wins,
                          size_t wins_len) {
        const uint8_t *r = p;
        uint32_t hs[9];
        uint64_t ngaps, nf, neg, nei, nwins;
        struct analyzer *t;
        struct seg *gaps = NULL;
        struct finding *f = NULL;
        struct energy_gap *eg = NULL;
        struct energy_item *ei = NULL;
        struct win *wv = NULL;
        int ret = -EINVAL;

        if (a->nwins || a->nf || a->have_prev || a->finished || a->o.since_ns || a->o.until_ns)
                return -EINVAL;
        if (len < STATE_HEADER || memcmp(r, STATE_MAGIC, 8) != 0)
                return -EPROTO;
        r += 8;
        header_sizes(hs);
        for (size_t i = 0; i < 9; i++)
                if (get32(&r) != hs[i])
                        return -EPROTO;
        ngaps = get64(&r);
        nf = get64(&r);
        neg = get64(&r);
        nei = get64(&r);
        nwins = get64(&r);
        /* Each count below 2^32 keeps every product below in range. */
        if (ngaps >> 32 || nf >> 32 || neg >> 32 || nei >> 32 || nwins >> 40)
                return -EINVAL;
        if (len - STATE_HEADER != sizeof(struct analyzer) + ngaps * sizeof(struct seg) +
                                          nf * (sizeof(struct finding) + 1) +
                                          neg * sizeof(struct energy_gap) +
                                          nei * sizeof(struct energy_item))
                return -EINVAL;
        if (wins && wins_len != nwins * sizeof(struct win))
                return -EINVAL;
        t = malloc(sizeof(*t));
        if (!t)
                return -ENOMEM;
        memcpy(t, r, sizeof(*t));
        r += sizeof(*t);
        if (!state_sane(t) || t->ngaps != ngaps || t->nf != nf || t->neg != neg ||
            t->nei != nei)
                goto fail;
        ret = -ENOMEM;
        if ((ngaps && !(gaps = malloc(ngaps * sizeof(*gaps)))) ||
            (nf && !(f = malloc(nf * sizeof(*f)))) || (neg && !(eg = malloc(neg * sizeof(*eg)))) ||
            (nei && !(ei = malloc(nei * sizeof(*ei)))))
                goto fail;
        ret = -EINVAL;
        if (ngaps)
                memcpy(gaps, r, ngaps * sizeof(*gaps));
        r += ngaps * sizeof(*gaps);
        if (nf)
                memcpy(f, r, nf * sizeof(*f));
        r += nf * sizeof(*f);
        for (size_t i = 0; i < nf; i++) {
                uint8_t si = *r++;
                if (si >= NSOURCES || (unsigned)f[i].kind >= FIND__COUNT ||
                    (unsigned)f[i].severity > SEV_ERROR ||
                    !terminated(f[i].detail, sizeof(f[i].detail)))
                        goto fail;
                f[i].source = sources[si];
        }
        if (neg)
                memcpy(eg, r, neg * sizeof(*eg));
        r += neg * sizeof(*eg);
        if (nei)
                memcpy(ei, r, nei * sizeof(*ei));
        r += nei * sizeof(*ei);
        for (size_t i = 0; i < neg; i++)
                if (eg[i].first_item > nei || eg[i].nitems > nei - eg[i].first_item)
                        goto fail;
        for (size_t i = 0; i < nei; i++)
                if (!index_ok(ei[i].gpu, t->ngpus))
                        goto fail;
        if (wins && nwins)
                wv = (struct win *)(void *)wins; /* taken over: malloc'd, so aligned */

        /* Everything checked: a becomes the saved analyzer, with its own options for now. */
        struct analyze_opts o = a->o;
        free(a->wins);
        free(a->gaps);
        free(a->f);
        free(a->eg);
        free(a->ei);
        *a = *t;
        a->o = o;
        a->gaps = gaps;
        a->capgaps = ngaps;
        a->f = f;
        a->capf = nf;
        a->eg = eg;
        a->capeg = neg;
        a->ei = ei;
        a->capei = nei;
        a->wins = wv;
        a->nwins = a->capwins = wv ? nwins : 0;
        a->wins_base = wins ? 0 : nwins;
        if (wins && !nwins)
                free(wins);
        free(t);
        return 0;
fail:
        free(t);
        free(gaps);
        free(f);
        free(eg);
        free(ei);
        return ret;
}

/*
 * The stored form: most of the analyzer is zeros (64 GPU slots, strings),
 * so runs of zeros are squeezed: u64 raw length, then tokens of
 * varint(literal count), the literals, varint(zero count), to the end.
 */
#define STATE_RAW_MAX (1ull << 30)
#define ZERO_RUN_MIN 8

static void put_varint(uint8_t **w, uint64_t v) {
        while (v >= 0x80) {
                *(*w)++ = (uint8_t)(v | 0x80);
                v >>= 7;
        }
        *(*w)++ = (uint8_t)v;
}

static int get_varint(const uint8_t **r, const uint8_t *end, uint64_t *v) {
        uint64_t x = 0;
        for (unsigned shift = 0; shift < 64; shift += 7) {
                if (*r >= end)
                        return -1;
                uint8_t b = *(*r)++;
                x |= (uint64_t)(b & 0x7f) << shift;
                if (!(b & 0x80)) {
                        *v = x;
                        return 0;
                }
        }
        return -1;
}

static size_t zero_run(const uint8_t *p, size_t n) {
        size_t k = 0;
        while (k < n && p[k] == 0)
                k++;
        return k;
}

int analyzer_state_save(const struct analyzer *a, uint8_t **out, size_t *len) {
        uint8_t *raw, *buf, *w;
        size_t n, i = 0;
        int r = state_save_raw(a, &raw, &n);

        *out = NULL;
        *len = 0;
        if (r != 0)
                return r;
        /* Worst case: every literal run of ZERO_RUN_MIN - 1 bytes costs 2 varints of 1 byte. */
        buf = malloc(8 + n + 2 * (n / ZERO_RUN_MIN + 1) + 20);
        if (!buf) {
                free(raw);
                return -ENOMEM;
        }
        w = buf;
        put64(&w, n);
        while (i < n) {
                size_t lit = 0, z;
                /* literals up to the next run of at least ZERO_RUN_MIN zeros (or the end) */
                while (i + lit < n) {
                        z = zero_run(raw + i + lit, n - i - lit);
                        if (z >= ZERO_RUN_MIN || i + lit + z == n)
                                break;
                        lit += z + 1;
                }
                if (i + lit > n)
                        lit = n - i;
                z = zero_run(raw + i + lit, n - i - lit);
                put_varint(&w, lit);
                put(&w, raw + i, lit);
                put_varint(&w, z);
                i += lit + z;
        }
        free(raw);
        *out = buf;
        *len = (size_t)(w - buf);
        return 0;
}

int analyzer_state_load(struct analyzer *a, const uint8_t *p, size_t len, uint8_t *wins,
                        size_t wins_len) {
        const uint8_t *r = p, *end = p + len;
        uint64_t n, got = 0;
        uint8_t *raw;
        int ret;

        if (len < 8)
                return -EPROTO;
        n = get64(&r);
        if (n < STATE_HEADER || n > STATE_RAW_MAX)
                return -EINVAL;
        raw = malloc((size_t)n);
        if (!raw)
                return -ENOMEM;
        while (r < end) {
                uint64_t lit, z;
                if (get_varint(&r, end, &lit) != 0 || lit > (uint64_t)(end - r) ||
                    lit > n - got)
                        goto bad;
                memcpy(raw + got, r, (size_t)lit);
                r += lit;
                got += lit;
                if (get_varint(&r, end, &z) != 0 || z > n - got)
                        goto bad;
                memset(raw + got, 0, (size_t)z);
                got += z;
        }
        if (got != n)
                goto bad;
        ret = state_load_raw(a, raw, (size_t)n, wins, wins_len);
        free(raw);
        return ret;
bad:
        free(raw);
        return -EINVAL;
}
