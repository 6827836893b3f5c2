/* SPDX-License-Identifier: MIT */
/* Bounds-checked reader/writer (proto/buf.c) and gh_strerror. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "buf.h"
#include "status.h"

static const uint8_t src[16] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
                                0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10};

/* Every fixed-width getter fails on every too-short input, touching nothing. */
static void test_getters_short(void **state) {
        (void)state;
        for (size_t len = 0; len < 8; len++) {
                struct reader r;
                uint8_t u8 = 0xaa;
                uint16_t u16 = 0xaaaa;
                uint32_t u32 = 0xaaaaaaaa;
                uint64_t u64 = 0xaaaaaaaaaaaaaaaaull;
                uint8_t copy[9];
                const uint8_t *bytes = (const uint8_t *)&u8;

                memset(copy, 0xaa, sizeof(copy));
                reader_init(&r, src, len);
                if (len < 1) {
                        assert_false(reader_u8(&r, &u8));
                        assert_int_equal(u8, 0xaa);
                }
                if (len < 2) {
                        assert_false(reader_u16(&r, &u16));
                        assert_int_equal(u16, 0xaaaa);
                }
                if (len < 4) {
                        assert_false(reader_u32(&r, &u32));
                        assert_int_equal(u32, 0xaaaaaaaa);
                }
                assert_false(reader_u64(&r, &u64));
                assert_true(u64 == 0xaaaaaaaaaaaaaaaaull);
                assert_false(reader_bytes(&r, len + 1, &bytes));
                assert_ptr_equal(bytes, &u8);
                assert_false(reader_copy(&r, copy, len + 1));
                for (size_t i = 0; i < sizeof(copy); i++)
                        assert_int_equal(copy[i], 0xaa);
                assert_ptr_equal(r.p, src);
                assert_int_equal(reader_left(&r), len);
        }
}

static void test_getters_values(void **state) {
        struct reader r;
        uint8_t u8;
        uint16_t u16;
        uint32_t u32;
        uint64_t u64;
        const uint8_t *p;
        uint8_t c[1];

        (void)state;
        reader_init(&r, src, sizeof(src));
        assert_true(reader_u8(&r, &u8));
        assert_int_equal(u8, 0x01);
        assert_true(reader_u16(&r, &u16));
        assert_int_equal(u16, 0x0203);
        assert_true(reader_u32(&r, &u32));
        assert_int_equal(u32, 0x04050607);
        assert_true(reader_u64(&r, &u64));
        assert_true(u64 == 0x08090a0b0c0d0e0full);
        assert_int_equal(reader_left(&r), 1);
        assert_true(reader_copy(&r, c, 1));
        assert_int_equal(c[0], 0x10);
        assert_int_equal(reader_left(&r), 0);
        assert_true(reader_bytes(&r, 0, &p));
        assert_false(reader_u8(&r, &u8));
}

static void test_vec32(void **state) {
        /* length 3, "abc", then a length that claims more than is there */
        static const uint8_t in[] = {0, 0, 0, 3, 'a', 'b', 'c', 0, 0, 0, 9, 'x'};
        struct reader r;
        const uint8_t *p = NULL;
        size_t n = 77;

        (void)state;
        reader_init(&r, in, sizeof(in));
        /* over the cap: untouched */
        assert_false(reader_vec32(&r, 2, &p, &n));
        assert_null(p);
        assert_int_equal(n, 77);
        assert_int_equal(reader_left(&r), sizeof(in));
        assert_true(reader_vec32(&r, 3, &p, &n));
        assert_int_equal(n, 3);
        assert_memory_equal(p, "abc", 3);
        assert_int_equal(reader_left(&r), 5);
        /* length beyond the input: untouched */
        p = NULL;
        assert_false(reader_vec32(&r, 100, &p, &n));
        assert_null(p);
        assert_int_equal(n, 3);
        assert_int_equal(reader_left(&r), 5);
        /* every truncation of the length itself */
        for (size_t len = 0; len < 4; len++) {
                reader_init(&r, in, len);
                assert_false(reader_vec32(&r, 100, &p, &n));
                assert_int_equal(reader_left(&r), len);
        }
}

static void test_writer_bytes_big_endian(void **state) {
        static const uint8_t want[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                                       0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e,
                                       0x0f, 0,    0,    0,    2,    'h',  'i'};
        struct writer w;
        uint8_t *out = NULL;
        size_t len = 0;

        (void)state;
        writer_init(&w, 1024);
        writer_u8(&w, 0x01);
        writer_u16(&w, 0x0203);
        writer_u32(&w, 0x04050607);
        writer_u64(&w, 0x08090a0b0c0d0e0full);
        writer_vec32(&w, "hi", 2);
        writer_bytes(&w, "", 0);
        assert_int_equal(writer_error(&w), 0);
        assert_int_equal(writer_finish(&w, &out, &len), 0);
        assert_int_equal(len, sizeof(want));
        assert_memory_equal(out, want, sizeof(want));
        /* ownership moved: w is empty and reusable */
        assert_null(writer_data(&w));
        assert_int_equal(writer_len(&w), 0);
        writer_u32(&w, 7);
        assert_int_equal(writer_len(&w), 4);
        writer_free(&w);
        free(out);
}

static void test_writer_cap_sticky(void **state) {
        struct writer w;
        uint8_t *out = (uint8_t *)&w;
        size_t len = 12345;

        (void)state;
        writer_init(&w, 10);
        writer_u64(&w, 1);
        assert_int_equal(writer_error(&w), 0);
        writer_u32(&w, 2); /* 12 > 10 */
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        assert_int_equal(writer_len(&w), 8);
        /* sticky: a write that would fit is now a no-op */
        writer_u8(&w, 3);
        writer_u16(&w, 3);
        writer_bytes(&w, "x", 1);
        writer_vec32(&w, "", 0);
        assert_int_equal(writer_len(&w), 8);
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        /* finish reports it once, frees, leaves out params alone */
        assert_int_equal(writer_finish(&w, &out, &len), GH_E_TOO_LARGE);
        assert_ptr_equal(out, (uint8_t *)&w);
        assert_int_equal(len, 12345);
        assert_null(writer_data(&w));
        writer_free(&w);
}

static void test_writer_cap_exact(void **state) {
        struct writer w;
        uint8_t *out;
        size_t len;

        (void)state;
        writer_init(&w, 6);
        writer_vec32(&w, "ab", 2); /* exactly 6 */
        assert_int_equal(writer_error(&w), 0);
        assert_int_equal(writer_finish(&w, &out, &len), 0);
        assert_int_equal(len, 6);
        free(out);

        /* a vec32 that does not fit writes nothing, not even its length */
        writer_init(&w, 6);
        writer_vec32(&w, "abc", 3);
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        assert_int_equal(writer_len(&w), 0);
        writer_free(&w);

        /* growth past the first allocation keeps every byte */
        writer_init(&w, 100000);
        for (uint32_t i = 0; i < 20000; i++)
                writer_u32(&w, i);
        assert_int_equal(writer_error(&w), 0);
        assert_int_equal(writer_finish(&w, &out, &len), 0);
        assert_int_equal(len, 80000);
        for (uint32_t i = 0; i < 20000; i++) {
                struct reader r;
                uint32_t v;

                reader_init(&r, out + 4 * i, 4);
                assert_true(reader_u32(&r, &v));
                assert_int_equal(v, i);
        }
        free(out);
}

static void test_writer_put_at(void **state) {
        struct writer w;
        uint8_t *out;
        size_t len;

        (void)state;
        writer_init(&w, 64);
        writer_u32(&w, 0);
        writer_u8(&w, 9);
        writer_put_u32_at(&w, 0, 0xdeadbeef);
        assert_int_equal(writer_error(&w), 0);
        writer_put_u32_at(&w, 2, 1); /* 2 + 4 > 5 */
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        writer_free(&w);

        writer_init(&w, 64);
        writer_u32(&w, 0);
        writer_put_u32_at(&w, 0, 0x01020304);
        assert_int_equal(writer_finish(&w, &out, &len), 0);
        assert_int_equal(len, 4);
        assert_memory_equal(out, "\x01\x02\x03\x04", 4);
        free(out);
}

/* writer_fail keeps the first error; writer_reset empties and clears it, and the writer works
 * again. */
static void test_writer_fail_reset(void **state) {
        struct writer w;
        uint8_t *out;
        size_t len;

        (void)state;
        writer_init(&w, 8);
        writer_u32(&w, 0x01020304);
        assert_int_equal(writer_len(&w), 4);
        assert_memory_equal(writer_data(&w), "\x01\x02\x03\x04", 4);
        writer_fail(&w, GH_E_MALFORMED);
        writer_fail(&w, GH_E_TOO_LARGE);
        assert_int_equal(writer_error(&w), GH_E_MALFORMED);
        writer_u8(&w, 5);
        assert_int_equal(writer_len(&w), 4);
        writer_reset(&w);
        assert_int_equal(writer_error(&w), 0);
        assert_int_equal(writer_len(&w), 0);
        assert_null(writer_data(&w));
        writer_u64(&w, 7);
        writer_u8(&w, 1); /* 9 > 8: the cap still holds after a reset */
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        writer_reset(&w);
        writer_u16(&w, 0x0a0b);
        assert_int_equal(writer_finish(&w, &out, &len), 0);
        assert_int_equal(len, 2);
        assert_memory_equal(out, "\x0a\x0b", 2);
        free(out);
}

static void test_writer_empty_and_free(void **state) {
        struct writer w;
        uint8_t *out = NULL;
        size_t len = 99;

        (void)state;
        memset(&w, 0, sizeof(w));
        writer_free(&w); /* zeroed writer */
        writer_init(&w, 0);
        assert_int_equal(writer_finish(&w, &out, &len), 0);
        assert_non_null(out);
        assert_int_equal(len, 0);
        free(out);
        writer_u8(&w, 1); /* max 0 */
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        writer_free(&w);
        writer_free(&w); /* twice is fine */
}

static void test_strerror(void **state) {
        (void)state;
        for (int s = GH_OK; s <= GH_E_ROOT_MISMATCH; s++) {
                const char *t = gh_strerror(s);

                assert_non_null(t);
                for (int o = GH_OK; o < s; o++)
                        assert_string_not_equal(t, gh_strerror(o));
        }
        assert_string_equal(gh_strerror(-ENOMEM), "out of memory");
        assert_non_null(gh_strerror(-99999));
        assert_non_null(gh_strerror(12345));
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_getters_short),
                cmocka_unit_test(test_getters_values),
                cmocka_unit_test(test_vec32),
                cmocka_unit_test(test_writer_bytes_big_endian),
                cmocka_unit_test(test_writer_cap_sticky),
                cmocka_unit_test(test_writer_cap_exact),
                cmocka_unit_test(test_writer_put_at),
                cmocka_unit_test(test_writer_fail_reset),
                cmocka_unit_test(test_writer_empty_and_free),
                cmocka_unit_test(test_strerror),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
