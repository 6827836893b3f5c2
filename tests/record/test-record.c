/* SPDX-License-Identifier: MIT */
/* Records (proto/record.c): round trips, golden vectors, negative vectors, framing, boot IDs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "record.h"
#include "status.h"
#include "vectors.h"

/* Two records on the heap (~70 KiB each). */
struct pair {
        struct record a, b;
};

static int setup(void **state) {
        struct pair *p = calloc(1, sizeof(*p));

        *state = p;
        return p ? 0 : -1;
}

static int teardown(void **state) {
        free(*state);
        return 0;
}

static uint8_t *encode_ok(const struct record *r, size_t *len) {
        uint8_t *buf = NULL;

        assert_int_equal(encode_alloc(r, &buf, len), 0);
        return buf;
}

/* encode(r) must fail with want and write nothing to a writer that already holds bytes. */
static void assert_encode_fails(const struct record *r, int want) {
        struct writer w;

        writer_init(&w, RECORD_MAX_SIZE);
        writer_u8(&w, 0x5a);
        assert_int_equal(record_encode(r, &w), want);
        assert_int_equal(writer_len(&w), 1);
        assert_int_equal(writer_error(&w), 0);
        writer_free(&w);
}

static void round_trip(struct pair *p) {
        uint8_t *x, *y;
        size_t xl, yl;

        x = encode_ok(&p->a, &xl);
        assert_true(xl <= RECORD_MAX_SIZE);
        memset(&p->b, 0xa5, sizeof(p->b));
        assert_int_equal(record_decode(x, xl, &p->b), 0);
        assert_true(record_equal(&p->a, &p->b));
        y = encode_ok(&p->b, &yl);
        assert_int_equal(xl, yl);
        assert_memory_equal(x, y, xl);
        free(x);
        free(y);
}

/* A printable string of exactly n bytes, distinct per seed, in dst (size n + 1). */
static void fill_str(char *dst, size_t n, unsigned seed) {
        for (size_t i = 0; i < n; i++)
                dst[i] = (char)(0x20 + (seed * 7 + i * 13) % 95);
        dst[n] = '\0';
}

/* 64 GPUs, every string at its cap, UUIDs sorted (fixed prefix + 2 sortable chars). */
static void max_uuid(char *dst, unsigned i) {
        fill_str(dst, REC_UUID_MAX, 1);
        dst[REC_UUID_MAX - 2] = (char)('A' + i / 26);
        dst[REC_UUID_MAX - 1] = (char)('a' + i % 26);
}

static void max_gpu_infos(struct gpu_info *g, uint32_t *count) {
        *count = RECORD_MAX_GPUS;
        for (unsigned i = 0; i < RECORD_MAX_GPUS; i++) {
                max_uuid(g[i].uuid, i);
                fill_str(g[i].serial, REC_SERIAL_MAX, i + 2);
                fill_str(g[i].name, REC_NAME_MAX, i + 3);
                fill_str(g[i].pci_bus_id, REC_PCI_MAX, i + 4);
                g[i].mig_mode = (uint8_t)(i % 3);
                g[i].flags = (uint8_t)(i * 37);
                g[i].energy_mj = UINT64_MAX - i;
        }
}

static void test_round_trip_max(void **state) {
        struct pair *p = *state;
        struct record *r = &p->a;

        /* start */
        memset(r, 0, sizeof(*r));
        r->version = RECORD_VERSION;
        r->kind = REC_START;
        r->wall_ns = UINT64_MAX;
        r->boot_ns = UINT64_MAX - 1;
        memset(r->boot_id, 0xff, 16);
        fill_str(r->u.start.daemon_version, REC_VERSION_MAX, 5);
        strcpy(r->u.start.backend, "sim");
        r->u.start.period_s = 86400;
        r->u.start.sample_interval_us = 60000000;
        fill_str(r->u.start.driver_version, REC_VERSION_MAX, 6);
        fill_str(r->u.start.nvml_version, REC_VERSION_MAX, 7);
        max_gpu_infos(r->u.start.gpus, &r->u.start.gpu_count);
        round_trip(p);
        /* the other ends of the ranges */
        r->u.start.period_s = 1;
        r->u.start.sample_interval_us = 50000;
        r->u.start.driver_version[0] = '\0';
        r->u.start.gpu_count = 0;
        round_trip(p);

        /* inventory */
        memset(&r->u, 0, sizeof(r->u));
        r->kind = REC_INVENTORY;
        r->u.inventory.reason = INV_REASON_ALL;
        fill_str(r->u.inventory.driver_version, REC_VERSION_MAX, 8);
        fill_str(r->u.inventory.nvml_version, REC_VERSION_MAX, 9);
        max_gpu_infos(r->u.inventory.gpus, &r->u.inventory.gpu_count);
        round_trip(p);
        /* version 2: the same with every epoch set */
        r->version = RECORD_VERSION_EPOCH;
        for (unsigned i = 0; i < RECORD_MAX_GPUS; i++)
                r->u.inventory.gpus[i].counter_epoch = UINT64_MAX - 7 * i;
        round_trip(p);
        r->version = RECORD_VERSION;

        /* summary */
        memset(&r->u, 0, sizeof(r->u));
        r->kind = REC_SUMMARY;
        r->u.summary.period_s = 86400;
        r->u.summary.period_start_ns = 86400ull * 1000000000ull * 213503ull; /* aligned, near max */
        r->u.summary.flags = SUMMARY_PARTIAL;
        r->u.summary.obs_start_wall_ns = 5;
        r->u.summary.obs_end_wall_ns = UINT64_MAX;
        r->u.summary.obs_start_boot_ns = 7;
        r->u.summary.obs_end_boot_ns = 7;
        r->u.summary.samples_taken = UINT32_MAX; /* may exceed expected: see FORMAT.md */
        r->u.summary.samples_expected = 1;
        r->u.summary.gpu_count = RECORD_MAX_GPUS;
        for (unsigned i = 0; i < RECORD_MAX_GPUS; i++) {
                struct gpu_summary *g = &r->u.summary.gpus[i];

                max_uuid(g->uuid, i);
                g->flags = (uint8_t)(0xff - i);
                g->observed_ms = UINT64_MAX - 1;
                g->busy_ms = UINT64_MAX - 2;
                g->occupied_ms = UINT64_MAX - 3;
                g->energy_start_mj = UINT64_MAX - 4;
                g->energy_end_mj = 3; /* no ordering: counters reset */
                g->energy_used_mj = UINT64_MAX - 6;
                g->power_avg_mw = UINT32_MAX - 7;
                g->power_max_mw = UINT32_MAX - 8;
                g->mem_used_max_bytes = UINT64_MAX - 9;
                g->procs_max = UINT32_MAX - 10;
                g->xid_count = UINT32_MAX - i;
        }
        round_trip(p);

        /* stop */
        memset(&r->u, 0, sizeof(r->u));
        r->kind = REC_STOP;
        fill_str(r->u.stop.reason, REC_REASON_MAX, 10);
        round_trip(p);
        r->u.stop.reason[0] = '\0';
        round_trip(p);

        /* clock step, prev_boot_ns == boot_ns allowed */
        memset(&r->u, 0, sizeof(r->u));
        r->kind = REC_CLOCK_STEP;
        r->u.clock_step.prev_wall_ns = UINT64_MAX;
        r->u.clock_step.prev_boot_ns = r->boot_ns;
        round_trip(p);
}

/* Every golden record: the committed file equals the encoding of the fixed values and decodes back.
 */
static void test_golden(void **state) {
        struct pair *p = *state;

        for (size_t i = 0; i < golden_record_count; i++) {
                char *path = vector_path(golden_records[i].file);
                uint8_t *file, *enc;
                size_t flen, elen;

                assert_non_null(path);
                file = read_whole_file(path, &flen);
                if (!file)
                        fail_msg("cannot read %s", path);
                golden_records[i].fill(&p->a);
                enc = encode_ok(&p->a, &elen);
                assert_int_equal(flen, elen);
                assert_memory_equal(file, enc, flen);
                assert_int_equal(record_decode(file, flen, &p->b), 0);
                assert_true(record_equal(&p->a, &p->b));
                free(enc);
                free(file);
                free(path);
        }
}

/*
 * Negative vectors: every truncation of every golden record is rejected;
 * every single-bit flip is rejected, or decodes to a different record
 * that re-encodes to exactly the flipped bytes.
 */
static void test_truncations_and_flips(void **state) {
        struct pair *p = *state;
        size_t accepted = 0, total = 0;

        for (size_t i = 0; i < golden_record_count; i++) {
                uint8_t *x, *y;
                size_t xl;

                golden_records[i].fill(&p->a);
                x = encode_ok(&p->a, &xl);
                y = malloc(xl);
                assert_non_null(y);
                for (size_t t = 0; t < xl; t++) {
                        memcpy(y, x, t);
                        assert_int_not_equal(record_decode(y, t, &p->b), 0);
                }
                for (size_t bit = 0; bit < xl * 8; bit++) {
                        memcpy(y, x, xl);
                        y[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                        total++;
                        if (record_decode(y, xl, &p->b) == 0) {
                                uint8_t *z;
                                size_t zl;

                                accepted++;
                                assert_false(record_equal(&p->a, &p->b));
                                z = encode_ok(&p->b, &zl);
                                assert_int_equal(zl, xl);
                                assert_memory_equal(z, y, xl);
                                free(z);
                        }
                }
                free(x);
                free(y);
        }
        /* Value fields exist, so some flips decode; the structure makes most fail. */
        assert_true(accepted > 0 && accepted < total);
        printf("# %zu of %zu single-bit flips decode to a different valid record\n", accepted,
               total);
}

/* Offset of needle in hay (must exist). */
static size_t find(const uint8_t *hay, size_t hl, const void *needle, size_t nl, size_t from) {
        for (size_t i = from; i + nl <= hl; i++)
                if (memcmp(hay + i, needle, nl) == 0)
                        return i;
        fail_msg("pattern not found");
        return 0;
}

static void assert_decode_fails(const uint8_t *b, size_t len, int want, struct record *scratch) {
        assert_int_equal(record_decode(b, len, scratch), want);
}

/* Hand-made invalid byte strings, each derived from a valid encoding. */
static void test_invalid_bytes(void **state) {
        struct pair *p = *state;
        uint8_t *x, *y;
        size_t xl, a, b;
        const char *ua = "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a01";
        size_t ul = strlen(ua);

        golden_fill_summary(&p->a);
        x = encode_ok(&p->a, &xl);
        y = malloc(xl + 1);
        assert_non_null(y);
        a = find(x, xl, ua, ul, 0);
        b = find(x, xl, "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a02", ul, a + 1);

        /* unsorted: swap the distinguishing last characters */
        memcpy(y, x, xl);
        y[a + ul - 1] = '2';
        y[b + ul - 1] = '1';
        assert_decode_fails(y, xl, GH_E_MALFORMED, &p->b);
        /* duplicate */
        memcpy(y, x, xl);
        y[b + ul - 1] = '1';
        assert_decode_fails(y, xl, GH_E_MALFORMED, &p->b);
        /* characters outside 0x20..0x7e, where sorting cannot mask them (stop reason) */
        {
                static const uint8_t bad[] = {0x0a, 0x00, 0x1f, 0x7f, 0x80, 0xc3, 0xff};
                static const uint8_t good[] = {0x20, 0x7e};
                uint8_t *s;
                size_t sl, at;

                golden_fill_stop(&p->a);
                s = encode_ok(&p->a, &sl);
                at = find(s, sl, "SIGTERM", 7, 0);
                for (size_t i = 0; i < sizeof(bad); i++) {
                        s[at] = bad[i];
                        assert_decode_fails(s, sl, GH_E_MALFORMED, &p->b);
                }
                for (size_t i = 0; i < sizeof(good); i++) {
                        s[at] = good[i];
                        assert_int_equal(record_decode(s, sl, &p->b), 0);
                }
                free(s);
        }
        /* trailing byte */
        memcpy(y, x, xl);
        y[xl] = 0;
        assert_decode_fails(y, xl + 1, GH_E_MALFORMED, &p->b);
        /* version 2, version 0, kind 9, kind 0 */
        memcpy(y, x, xl);
        y[0] = 2;
        assert_decode_fails(y, xl, GH_E_VERSION, &p->b);
        y[0] = 0;
        assert_decode_fails(y, xl, GH_E_VERSION, &p->b);
        y[0] = 1;
        y[1] = 9;
        assert_decode_fails(y, xl, GH_E_VERSION, &p->b);
        y[1] = 0;
        assert_decode_fails(y, xl, GH_E_VERSION, &p->b);
        /* reserved summary flag bit (header 34 + period_start 8 + period_s 4) */
        memcpy(y, x, xl);
        assert_int_equal(y[46], 0);
        y[46] = 0x02;
        assert_decode_fails(y, xl, GH_E_MALFORMED, &p->b);
        y[46] = 0x80;
        assert_decode_fails(y, xl, GH_E_MALFORMED, &p->b);
        y[46] = SUMMARY_PARTIAL;
        assert_int_equal(record_decode(y, xl, &p->b), 0);
        assert_int_equal(p->b.u.summary.flags, SUMMARY_PARTIAL);
        /* more than RECORD_MAX_SIZE bytes: rejected before reading */
        {
                uint8_t *big = calloc(1, RECORD_MAX_SIZE + 1);

                assert_non_null(big);
                memcpy(big, x, xl);
                assert_decode_fails(big, RECORD_MAX_SIZE + 1, GH_E_TOO_LARGE, &p->b);
                free(big);
        }
        free(x);
        free(y);

        /* 65 GPUs: a valid 64-GPU summary, count patched to 65, one more entry appended */
        golden_fill_summary(&p->a);
        p->a.u.summary.gpu_count = RECORD_MAX_GPUS;
        for (unsigned i = 0; i < RECORD_MAX_GPUS; i++) {
                p->a.u.summary.gpus[i] = p->a.u.summary.gpus[0];
                snprintf(p->a.u.summary.gpus[i].uuid, REC_UUID_MAX + 1, "GPU-%04u", i);
        }
        x = encode_ok(&p->a, &xl);
        assert_int_equal(record_decode(x, xl, &p->b), 0);
        {
                size_t entry = 4 + 8 + 1 + 6 * 8 + 4 + 4 + 8 + 4 + 4; /* "GPU-0063" entry */
                size_t cnt = 34 + 8 + 4 + 1 + 32 + 8;                 /* offset of gpu_count */
                uint8_t *z = malloc(xl + entry);

                assert_non_null(z);
                memcpy(z, x, xl);
                memcpy(z + xl, x + xl - entry, entry);
                assert_memory_equal(z + xl + 4, "GPU-0063", 8);
                memcpy(z + xl + 4, "GPU-0064", 8);
                assert_int_equal(z[cnt + 3], 64);
                z[cnt + 3] = 65;
                assert_decode_fails(z, xl + entry, GH_E_TOO_LARGE, &p->b);
                /* the same bytes with count 64 have one entry too many: trailing data */
                z[cnt + 3] = 64;
                assert_decode_fails(z, xl + entry, GH_E_MALFORMED, &p->b);
                free(z);
        }
        free(x);

        /* over-long strings: stop reason of REC_REASON_MAX + 1 bytes, uuid of REC_UUID_MAX + 1 */
        golden_fill_stop(&p->a);
        x = encode_ok(&p->a, &xl);
        {
                size_t n = REC_REASON_MAX + 1;
                uint8_t *z = malloc(34 + 4 + n);

                assert_non_null(z);
                memcpy(z, x, 34);
                z[34] = 0;
                z[35] = 0;
                z[36] = 0;
                z[37] = (uint8_t)n;
                memset(z + 38, 'a', n);
                assert_decode_fails(z, 38 + n, GH_E_TOO_LARGE, &p->b);
                z[37] = (uint8_t)(n - 1); /* at the cap, but one byte left over */
                assert_decode_fails(z, 38 + n, GH_E_MALFORMED, &p->b);
                assert_int_equal(record_decode(z, 38 + n - 1, &p->b), 0);
                free(z);
        }
        free(x);
}

/* Encoding of fill() with byte at (offset of needle + delta) set to v must fail to decode with
 * want. */
static void patch_fails(struct pair *p, void (*fill)(struct record *), const char *needle,
                        size_t nth, long delta, uint8_t v, int want) {
        uint8_t *x;
        size_t xl, at = 0;

        fill(&p->a);
        x = encode_ok(&p->a, &xl);
        for (size_t i = 0; i <= nth; i++)
                at = find(x, xl, needle, strlen(needle), i == 0 ? 0 : at + 1);
        assert_true((long)at + delta >= 0 && (size_t)((long)at + delta) < xl);
        x[(size_t)((long)at + delta)] = v;
        assert_int_equal(record_decode(x, xl, &p->b), want);
        free(x);
}

/* Value rules of start, inventory and clock_step records, at the byte level. */
static void test_invalid_bytes_other_kinds(void **state) {
        struct pair *p = *state;
        const char *ua = "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a01";
        const char *ub = "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a02";
        long last = (long)strlen(ua) - 1;
        uint8_t *x;
        size_t xl;

        /* start: duplicate and unsorted GPUs, mig_mode 3, backend, period, interval */
        patch_fails(p, golden_fill_start, ub, 0, last, '1', GH_E_MALFORMED);
        patch_fails(p, golden_fill_start, ua, 0, last, '3', GH_E_MALFORMED);
        patch_fails(p, golden_fill_start, ua, 0, 40 + 4 + 13 + 4 + 21 + 4 + 16, 3, GH_E_MALFORMED);
        patch_fails(p, golden_fill_start, "nvml", 0, 3, 'x', GH_E_MALFORMED);
        patch_fails(p, golden_fill_start, "nvml", 0, 4 + 1, 0x02,
                    GH_E_MALFORMED); /* period 131372 */
        patch_fails(p, golden_fill_start, "nvml", 0, 4 + 4 + 1, 0x00,
                    GH_E_MALFORMED); /* interval 0x4240 < 50000 */
        patch_fails(p, golden_fill_start, "0.1.0", 0, -1, 0,
                    GH_E_MALFORMED); /* empty daemon_version */
        /* inventory: duplicate is impossible with one GPU; reason 0 and a reserved bit; mig_mode */
        patch_fails(p, golden_fill_inventory, "550.54.15", 0, -5, 0x00, GH_E_MALFORMED);
        patch_fails(p, golden_fill_inventory, "550.54.15", 0, -5, 0x22, GH_E_MALFORMED);
        patch_fails(p, golden_fill_inventory, ua, 0, 40 + 4 + 13 + 4 + 21 + 4 + 16, 7,
                    GH_E_MALFORMED);
        /* an inventory with two GPUs, duplicated / swapped */
        golden_fill_inventory(&p->a);
        p->a.u.inventory.gpu_count = 2;
        golden_fill_start(&p->b);
        p->a.u.inventory.gpus[1] = p->b.u.start.gpus[1];
        {
                size_t a, b;

                x = encode_ok(&p->a, &xl);
                a = find(x, xl, ua, strlen(ua), 0);
                b = find(x, xl, ub, strlen(ub), 0);
                x[b + (size_t)last] = '1';
                assert_int_equal(record_decode(x, xl, &p->b), GH_E_MALFORMED);
                x[a + (size_t)last] = '3';
                assert_int_equal(record_decode(x, xl, &p->b), GH_E_MALFORMED);
                x[a + (size_t)last] = '0';
                assert_int_equal(record_decode(x, xl, &p->b), 0); /* ...a00 < ...a01 */
                free(x);
        }
        /* clock_step: prev_boot_ns one past boot_ns (last byte of the record) */
        golden_fill_clock_step(&p->a);
        p->a.u.clock_step.prev_boot_ns = p->a.boot_ns;
        x = encode_ok(&p->a, &xl);
        assert_int_equal(record_decode(x, xl, &p->b), 0);
        x[xl - 1] ^= 1;
        assert_int_equal(record_decode(x, xl, &p->b), GH_E_MALFORMED);
        free(x);
        /* summary: period_start not aligned, obs_end before obs_start */
        golden_fill_summary(&p->a);
        x = encode_ok(&p->a, &xl);
        x[34 + 7] = 1; /* period_start_ns + 1 */
        assert_int_equal(record_decode(x, xl, &p->b), GH_E_MALFORMED);
        free(x);
        x = encode_ok(&p->a, &xl);
        x[34 + 8 + 4 + 1 + 8] = 0x17; /* obs_end_wall_ns < obs_start_wall_ns */
        assert_int_equal(record_decode(x, xl, &p->b), GH_E_MALFORMED);
        free(x);
        x = encode_ok(&p->a, &xl);
        x[34 + 8 + 4 + 1 + 24 + 3] = 0x00; /* obs_end_boot_ns < obs_start_boot_ns */
        assert_int_equal(record_decode(x, xl, &p->b), GH_E_MALFORMED);
        free(x);
}

/* The encoder refuses everything the decoder would refuse, and writes nothing. */
static void test_encode_rejects(void **state) {
        struct pair *p = *state;
        struct record *r = &p->a;

        golden_fill_summary(r);
        strcpy(r->u.summary.gpus[1].uuid, r->u.summary.gpus[0].uuid);
        assert_encode_fails(r, GH_E_MALFORMED); /* duplicate */
        golden_fill_summary(r);
        p->b.u.summary.gpus[0] = r->u.summary.gpus[0];
        r->u.summary.gpus[0] = r->u.summary.gpus[1];
        r->u.summary.gpus[1] = p->b.u.summary.gpus[0];
        assert_encode_fails(r, GH_E_MALFORMED); /* unsorted */
        golden_fill_summary(r);
        r->u.summary.gpu_count = RECORD_MAX_GPUS + 1;
        assert_encode_fails(r, GH_E_TOO_LARGE);
        golden_fill_summary(r);
        r->u.summary.gpus[0].uuid[0] = '\0';
        assert_encode_fails(r, GH_E_MALFORMED); /* empty uuid */
        golden_fill_summary(r);
        memset(r->u.summary.gpus[1].uuid, 'Z', sizeof(r->u.summary.gpus[1].uuid));
        assert_encode_fails(r, GH_E_TOO_LARGE); /* unterminated */
        golden_fill_summary(r);
        r->u.summary.flags = 0x02;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_summary(r);
        r->u.summary.period_start_ns += 1000000000ull; /* not a multiple of 300 s */
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_summary(r);
        r->u.summary.period_s = 0;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_summary(r);
        r->u.summary.period_s = 86401;
        r->u.summary.period_start_ns = 0;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_summary(r);
        r->u.summary.obs_end_wall_ns = r->u.summary.obs_start_wall_ns - 1;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_summary(r);
        r->u.summary.obs_end_boot_ns = r->u.summary.obs_start_boot_ns - 1;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_summary(r);
        r->version = 2;
        assert_encode_fails(r, GH_E_VERSION);
        golden_fill_summary(r);
        r->kind = 9;
        assert_encode_fails(r, GH_E_VERSION);

        golden_fill_start(r);
        strcpy(r->u.start.backend, "cuda");
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        r->u.start.backend[0] = '\0';
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        r->u.start.daemon_version[0] = '\0';
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        r->u.start.sample_interval_us = 49999;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        r->u.start.sample_interval_us = 60000001;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        r->u.start.gpus[0].mig_mode = 3;
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        r->u.start.gpus[1].name[3] = '\n';
        assert_encode_fails(r, GH_E_MALFORMED);
        golden_fill_start(r);
        memset(r->u.start.gpus[1].serial, 'x', sizeof(r->u.start.gpus[1].serial));
        assert_encode_fails(r, GH_E_TOO_LARGE);

        golden_fill_inventory(r);
        r->u.inventory.reason = 0;
        assert_encode_fails(r, GH_E_MALFORMED);
        r->u.inventory.reason = 0x20;
        assert_encode_fails(r, GH_E_MALFORMED);

        golden_fill_clock_step(r);
        r->u.clock_step.prev_boot_ns = r->boot_ns + 1;
        assert_encode_fails(r, GH_E_MALFORMED);

        golden_fill_stop(r);
        r->u.stop.reason[0] = '\t';
        assert_encode_fails(r, GH_E_MALFORMED);
        r->u.stop.reason[0] = 0x7f;
        assert_encode_fails(r, GH_E_MALFORMED);
        r->u.stop.reason[0] = (char)0xe2;
        assert_encode_fails(r, GH_E_MALFORMED);
}

/* UUID order is bytewise with a proper prefix first. */
static void test_uuid_order(void **state) {
        struct pair *p = *state;
        struct record *r = &p->a;
        uint8_t *x;
        size_t xl;

        golden_fill_summary(r);
        strcpy(r->u.summary.gpus[0].uuid, "GPU-1");
        strcpy(r->u.summary.gpus[1].uuid, "GPU-10");
        x = encode_ok(r, &xl);
        assert_int_equal(record_decode(x, xl, &p->b), 0);
        free(x);
        strcpy(r->u.summary.gpus[0].uuid, "GPU-10");
        strcpy(r->u.summary.gpus[1].uuid, "GPU-1");
        assert_encode_fails(r, GH_E_MALFORMED);
        strcpy(r->u.summary.gpus[0].uuid, "GPU-B");
        strcpy(r->u.summary.gpus[1].uuid, "GPU-a"); /* 'B' 0x42 < 'a' 0x61 */
        x = encode_ok(r, &xl);
        free(x);
}

/*
 * Version 2 (FORMAT.md): start and inventory with gpu_info.counter_epoch; the
 * other kinds have no version 2 (VERSION); a version 1 record carries no epoch
 * (it encodes without one and decodes to 0).
 */
static void test_version2(void **state) {
        struct pair *p = *state;
        void (*v1only[])(struct record *) = {golden_fill_summary, golden_fill_stop,
                                             golden_fill_clock_step};
        uint8_t *x, *y;
        size_t xl, yl;

        for (size_t i = 0; i < sizeof(v1only) / sizeof(v1only[0]); i++) {
                v1only[i](&p->a);
                x = encode_ok(&p->a, &xl);
                x[0] = RECORD_VERSION_EPOCH;
                assert_int_equal(record_decode(x, xl, &p->b), GH_E_VERSION);
                p->a.version = RECORD_VERSION_EPOCH;
                assert_encode_fails(&p->a, GH_E_VERSION);
                free(x);
        }
        /* v2 start = v1 start + 8 bytes of epoch after each entry's energy_mj */
        golden_fill_start(&p->a);
        x = encode_ok(&p->a, &xl);
        golden_fill_start_v2(&p->a);
        y = encode_ok(&p->a, &yl);
        assert_int_equal(yl, xl + 2 * 8);
        assert_int_equal(y[0], 2);
        assert_memory_equal(y + 1, x + 1, 34 - 1);
        memset(&p->b, 0xa5, sizeof(p->b));
        assert_int_equal(record_decode(y, yl, &p->b), 0);
        assert_int_equal(p->b.u.start.gpus[0].counter_epoch, 41234);
        assert_int_equal(p->b.u.start.gpus[1].counter_epoch, 41251);
        /* a v1 header on v2 bytes (or the reverse) is not a record */
        y[0] = 1;
        assert_int_not_equal(record_decode(y, yl, &p->b), 0);
        x[0] = 2;
        assert_int_not_equal(record_decode(x, xl, &p->b), 0);
        free(x);
        free(y);
        /* version 1 ignores counter_epoch when encoding and decodes it as 0 */
        golden_fill_inventory(&p->a);
        x = encode_ok(&p->a, &xl);
        p->a.u.inventory.gpus[0].counter_epoch = 99;
        y = encode_ok(&p->a, &yl);
        assert_int_equal(xl, yl);
        assert_memory_equal(x, y, xl);
        memset(&p->b, 0xa5, sizeof(p->b));
        assert_int_equal(record_decode(x, xl, &p->b), 0);
        assert_int_equal(p->b.u.inventory.gpus[0].counter_epoch, 0);
        free(x);
        free(y);
        /* an epoch of 0 is a valid value (unknown) */
        golden_fill_inventory_v2(&p->a);
        p->a.u.inventory.gpus[0].counter_epoch = 0;
        round_trip(p);
        p->a.u.inventory.gpus[0].counter_epoch = UINT64_MAX;
        round_trip(p);
        assert_string_equal(record_kind_name(REC_START), "start");
}

static void test_kind_names(void **state) {
        (void)state;
        assert_string_equal(record_kind_name(REC_START), "start");
        assert_string_equal(record_kind_name(REC_SUMMARY), "summary");
        assert_string_equal(record_kind_name(REC_STOP), "stop");
        assert_string_equal(record_kind_name(REC_CLOCK_STEP), "clock_step");
        assert_string_equal(record_kind_name(REC_INVENTORY), "inventory");
        assert_null(record_kind_name(0));
        assert_null(record_kind_name(6));
        assert_null(record_kind_name(255));
}

static void test_gpu_set_diff(void **state) {
        (void)state;
        struct gpu_info a[3] = {0}, b[3] = {0};
        snprintf(a[0].uuid, sizeof a[0].uuid, "GPU-a");
        snprintf(a[1].uuid, sizeof a[1].uuid, "GPU-b");
        snprintf(b[0].uuid, sizeof b[0].uuid, "GPU-b");
        snprintf(b[1].uuid, sizeof b[1].uuid, "GPU-a");
        snprintf(b[2].uuid, sizeof b[2].uuid, "GPU-c");
        assert_true(gpu_set_has(a, 2, gpu_info_uuid, "GPU-b"));
        assert_false(gpu_set_has(a, 2, gpu_info_uuid, "GPU-c"));
        assert_false(gpu_set_has(a, 0, gpu_info_uuid, "GPU-a"));
        /* Order does not matter; only membership. */
        assert_int_equal(gpu_set_diff(a, 2, gpu_info_uuid, b, 2, gpu_info_uuid), 0);
        assert_int_equal(gpu_set_diff(a, 2, gpu_info_uuid, b, 3, gpu_info_uuid),
                         INV_GPU_APPEARED);
        assert_int_equal(gpu_set_diff(b, 3, gpu_info_uuid, a, 2, gpu_info_uuid),
                         INV_GPU_VANISHED);
        assert_int_equal(gpu_set_diff(a, 2, gpu_info_uuid, &b[2], 1, gpu_info_uuid),
                         INV_GPU_APPEARED | INV_GPU_VANISHED);
        assert_int_equal(gpu_set_diff(a, 0, gpu_info_uuid, b, 0, gpu_info_uuid), 0);
}

static void test_framing(void **state) {
        static const uint8_t zero[] = {0, 0, 0, 0, 1};
        static const uint8_t big[] = {0, 1, 0, 1, 1}; /* 65537 */
        static const uint8_t shrt[] = {0, 0, 0, 3, 1, 2};
        static const uint8_t two[] = {0, 0, 0, 1, 0xaa, 0, 0, 0, 2, 0xbb, 0xcc};
        struct reader r;
        const uint8_t *rec = NULL;
        size_t len = 42;
        struct writer w;
        uint8_t *out;
        size_t outlen;

        (void)state;
        reader_init(&r, zero, sizeof(zero));
        assert_int_equal(record_frame_next(&r, &rec, &len), GH_E_MALFORMED);
        reader_init(&r, big, sizeof(big));
        assert_int_equal(record_frame_next(&r, &rec, &len), GH_E_TOO_LARGE);
        reader_init(&r, shrt, sizeof(shrt));
        assert_int_equal(record_frame_next(&r, &rec, &len), GH_E_MALFORMED);
        assert_int_equal(reader_left(&r), sizeof(shrt));
        assert_null(rec);
        assert_int_equal(len, 42);
        for (size_t t = 0; t < 4; t++) {
                reader_init(&r, two, t);
                assert_int_equal(record_frame_next(&r, &rec, &len), GH_E_MALFORMED);
                assert_int_equal(reader_left(&r), t);
        }

        reader_init(&r, two, sizeof(two));
        assert_int_equal(record_frame_next(&r, &rec, &len), 0);
        assert_int_equal(len, 1);
        assert_int_equal(rec[0], 0xaa);
        assert_int_equal(record_frame_next(&r, &rec, &len), 0);
        assert_int_equal(len, 2);
        assert_int_equal(rec[1], 0xcc);
        assert_int_equal(reader_left(&r), 0);
        assert_int_equal(record_frame_next(&r, &rec, &len), GH_E_MALFORMED);

        writer_init(&w, 1 << 20);
        record_frame_write(&w, two + 4, 1);
        record_frame_write(&w, two + 9, 2);
        assert_int_equal(writer_finish(&w, &out, &outlen), 0);
        assert_int_equal(outlen, sizeof(two));
        assert_memory_equal(out, two, sizeof(two));
        free(out);

        writer_init(&w, 1 << 20);
        record_frame_write(&w, two, 0);
        assert_int_equal(writer_error(&w), GH_E_MALFORMED);
        assert_int_equal(writer_len(&w), 0);
        writer_free(&w);
        {
                uint8_t *huge = calloc(1, RECORD_MAX_SIZE + 1);

                assert_non_null(huge);
                writer_init(&w, 1 << 20);
                record_frame_write(&w, huge, RECORD_MAX_SIZE + 1);
                assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
                assert_int_equal(writer_len(&w), 0);
                writer_free(&w);
                /* exactly the cap is fine, both ways */
                writer_init(&w, 1 << 20);
                record_frame_write(&w, huge, RECORD_MAX_SIZE);
                assert_int_equal(writer_finish(&w, &out, &outlen), 0);
                reader_init(&r, out, outlen);
                assert_int_equal(record_frame_next(&r, &rec, &len), 0);
                assert_int_equal(len, RECORD_MAX_SIZE);
                free(out);
                free(huge);
        }
}

static void test_boot_id(void **state) {
        static const uint8_t want[16] = {0x6f, 0x1e, 0x8c, 0x2a, 0x3b, 0x4d, 0x4c, 0x5e,
                                         0x9f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6};
        const char *ok = "6f1e8c2a-3b4d-4c5e-9f60-718293a4b5c6\n";
        const char *up = "6F1E8C2A-3B4D-4C5E-9F60-718293A4B5C6";
        uint8_t out[16];
        char bad[40];

        (void)state;
        assert_true(boot_id_parse(ok, 37, out));
        assert_memory_equal(out, want, 16);
        memset(out, 0, 16);
        assert_true(boot_id_parse(ok, 36, out));
        assert_memory_equal(out, want, 16);
        memset(out, 0, 16);
        assert_true(boot_id_parse(up, 36, out));
        assert_memory_equal(out, want, 16);

        memset(out, 0x11, 16);
        for (size_t len = 0; len < 36; len++)
                assert_false(boot_id_parse(ok, len, out));
        strcpy(bad, ok);
        bad[36] = ' ';
        assert_false(boot_id_parse(bad, 37, out)); /* not a newline */
        strcpy(bad, ok);
        bad[37] = '\n';
        assert_false(boot_id_parse(bad, 38, out)); /* two newlines */
        for (size_t i = 0; i < 36; i++) {
                strcpy(bad, ok);
                bad[i] = (bad[i] == '-') ? '0' : (i % 2 ? 'g' : '-');
                assert_false(boot_id_parse(bad, 36, out));
        }
        for (size_t i = 0; i < 16; i++)
                assert_int_equal(out[i], 0x11); /* untouched on failure */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_round_trip_max, setup, teardown),
                cmocka_unit_test_setup_teardown(test_golden, setup, teardown),
                cmocka_unit_test_setup_teardown(test_truncations_and_flips, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_bytes, setup, teardown),
                cmocka_unit_test_setup_teardown(test_invalid_bytes_other_kinds, setup, teardown),
                cmocka_unit_test_setup_teardown(test_encode_rejects, setup, teardown),
                cmocka_unit_test_setup_teardown(test_uuid_order, setup, teardown),
                cmocka_unit_test(test_kind_names),
                cmocka_unit_test_setup_teardown(test_version2, setup, teardown),
                cmocka_unit_test(test_framing), cmocka_unit_test(test_gpu_set_diff),
                cmocka_unit_test(test_boot_id),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
