/* SPDX-License-Identifier: MIT */
/* The client's own parsers and helpers (no network, no daemon). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "merkle.h"
#include "sha256_evp.h"
#include "state.h"
#include "status.h"
#include "trust.h"
#include "util.h"

#define VK1 "node17.example.org/gpuhours+a7c0603c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
#define CP1                                                                                        \
        "node17.example.org/gpuhours\n1100\nDxz7dCjLvRB083TMbChv5L1e1e9X5wmm5pxq8J9gMOc=\n\n"      \
        "\xe2\x80\x94 node17.example.org/gpuhours "                                                \
        "p8BgPCZGUo0YUxF9vNWgEuQjYLsgNavm2tljJJPN2z8zq+nHrRJmdfL9ORbCvY0Eb0QiKN12/"                \
        "LMmqBUHDUttIEY1CwM=\n"

static void test_time_parse(void **state) {
        (void)state;
        uint64_t t = 7;
        const uint64_t now = 1795694400ull * NS_PER_SEC;
        assert_true(time_parse_arg("2026-11-26T12:00:00Z", now, &t));
        assert_int_equal(t, 1795694400ull * NS_PER_SEC);
        assert_true(time_parse_arg("2026-11-26T12:34Z", now, &t));
        assert_int_equal(t, 1795696440ull * NS_PER_SEC);
        assert_true(time_parse_arg("2026-11-26", now, &t));
        assert_int_equal(t, (1795694400ull - 12 * 3600) * NS_PER_SEC);
        assert_true(time_parse_arg("2024-02-29", now, &t));
        assert_int_equal(t, 1709164800ull * NS_PER_SEC);
        assert_true(time_parse_arg("-2h", now, &t));
        assert_int_equal(t, now - 7200 * NS_PER_SEC);
        assert_true(time_parse_arg("-30m", now, &t));
        assert_int_equal(t, now - 1800 * NS_PER_SEC);
        assert_true(time_parse_arg("-7d", now, &t));
        assert_int_equal(t, now - 7 * 86400 * NS_PER_SEC);
        assert_true(time_parse_arg("-90s", now, &t));
        assert_int_equal(t, now - 90 * NS_PER_SEC);
        static const char *const bad[] = {
                "",
                "-",
                "-h",
                "-5",
                "-5x",
                "5h",
                "-1h2",
                "2025-02-29",
                "2026-13-01",
                "2026-00-10",
                "2026-11-31",
                "2026-11-26T12:00:00",
                "2026-11-26T24:00:00Z",
                "2026-11-26T12:60:00Z",
                "2026-11-26 12:00:00Z",
                "1969-12-31",
                "26-11-26",
                "2026-11-26T12:00:00+01:00",
                "-99999999999999999999d",
                "yesterday",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                t = 7;
                if (time_parse_arg(bad[i], now, &t))
                        fail_msg("accepted '%s'", bad[i]);
                assert_int_equal(t, 7);
        }
        assert_false(time_parse_arg("-1d", 1000, &t)); /* before the epoch */
}

static void test_time_format(void **state) {
        (void)state;
        char buf[40];
        time_format_iso(1795694400ull * NS_PER_SEC + 123456789, false, buf, sizeof(buf));
        assert_string_equal(buf, "2026-11-26T12:00:00Z");
        time_format_iso(1795694400ull * NS_PER_SEC + 123456789, true, buf, sizeof(buf));
        assert_string_equal(buf, "2026-11-26T12:00:00.123Z");
        time_format_iso(1709164800ull * NS_PER_SEC, false, buf, sizeof(buf));
        assert_string_equal(buf, "2024-02-29T00:00:00Z");
        time_format_iso(0, false, buf, sizeof(buf));
        assert_string_equal(buf, "1970-01-01T00:00:00Z");
        /* Round trip over many days. */
        for (uint64_t d = 0; d < 40000; d += 37) {
                uint64_t t;
                time_format_iso(d * 86400 * NS_PER_SEC, false, buf, sizeof(buf));
                buf[10] = '\0';
                assert_true(time_parse_arg(buf, 0, &t));
                assert_int_equal(t, d * 86400 * NS_PER_SEC);
        }
}

static void test_duration_human(void **state) {
        (void)state;
        static const struct {
                double s;
                const char *want;
        } cases[] = {
                {0.356, "0.356 s"},       {59.9994, "59.999 s"},    {60.0, "1 min 0 s"},
                {303.4, "5 min 3 s"},     {3599.4, "59 min 59 s"},  {3600.0, "1 h 0 min"},
                {7500.0, "2 h 5 min"},    {86399.0, "23 h 59 min"}, {86400.0, "1 d 0 h"},
                {2001538.0, "23 d 3 h"},  {-0.5, "-0.500 s"},       {-7500.0, "-2 h 5 min"},
        };
        char buf[40];
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                duration_human(cases[i].s, buf, sizeof buf);
                assert_string_equal(buf, cases[i].want);
        }
}

static void test_trust_parse(void **state) {
        (void)state;
        struct trust_list l = {0};
        char err[200];
        const char *good = "# keys\n\n  " VK1 "  \r\n# end\n" VK1;
        assert_int_equal(trust_parse(good, strlen(good), &l, err, sizeof(err)), 0);
        assert_int_equal(l.n, 2);
        assert_string_equal(l.keys[0].name, "node17.example.org/gpuhours");
        assert_int_equal(l.keys[0].key_id, 0xa7c0603cu);
        assert_int_equal(trust_list_find(&l, "node17.example.org/gpuhours", 0xa7c0603cu), 0);
        assert_int_equal(trust_list_find(&l, "node17.example.org/gpuhours", 1), -1);
        trust_list_free(&l);

        const char *bad = VK1 "\n# ok\nnode17.example.org/gpuhours+a7c0603d+AQOh\n";
        assert_int_equal(trust_parse(bad, strlen(bad), &l, err, sizeof(err)), GH_E_MALFORMED);
        assert_non_null(strstr(err, "line 3"));
        trust_list_free(&l);
        /* A wrong key id for the key is not a vkey. */
        char wrong[] = VK1;
        wrong[strlen("node17.example.org/gpuhours+a7c0603")] = 'd';
        assert_int_equal(trust_parse(wrong, strlen(wrong), &l, err, sizeof(err)), GH_E_MALFORMED);
        trust_list_free(&l);
        /* Long lines and too many keys are capped. */
        char *big = malloc(TRUST_LINE_MAX + 10);
        memset(big, '#', TRUST_LINE_MAX + 10);
        assert_int_equal(trust_parse(big, TRUST_LINE_MAX + 10, &l, err, sizeof(err)),
                         GH_E_TOO_LARGE);
        free(big);
        size_t n = (TRUST_MAX_KEYS + 1) * (strlen(VK1) + 1);
        char *many = malloc(n);
        for (size_t i = 0; i <= TRUST_MAX_KEYS; i++) {
                memcpy(many + i * (strlen(VK1) + 1), VK1, strlen(VK1));
                many[i * (strlen(VK1) + 1) + strlen(VK1)] = '\n';
        }
        assert_int_equal(trust_parse(many, n, &l, err, sizeof(err)), GH_E_TOO_LARGE);
        free(many);
        trust_list_free(&l);
}

static void test_trust_without(void **state) {
        (void)state;
        const char *text = "# mine\n" VK1 "\nother+00000000+AAAA\n  " VK1 "\n";
        char *out;
        size_t len, removed;
        assert_int_equal(trust_text_without(text, strlen(text), "node17.example.org/gpuhours", &out,
                                            &len, &removed),
                         0);
        assert_int_equal(removed, 2);
        assert_string_equal(out, "# mine\nother+00000000+AAAA\n");
        free(out);
}

static void test_state_parse(void **state) {
        (void)state;
        struct checkpoint c;
        assert_int_equal(state_parse(CP1, strlen(CP1), &c), 0);
        assert_string_equal(c.origin, "node17.example.org/gpuhours");
        assert_int_equal(c.size, 1100);
        static const char *const bad[] = {
                "",
                "\n\n",
                "a\n1\nAAAA\n",                                                 /* no blank line */
                "node\n1100\nDxz7dCjLvRB083TMbChv5L1e1e9X5wmm5pxq8J9gMOc=\n\n", /* no sigs */
                "node\n01\nDxz7dCjLvRB083TMbChv5L1e1e9X5wmm5pxq8J9gMOc=\n\nx\n",
                "node\n1\nshort=\n\nx\n",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_int_not_equal(state_parse(bad[i], strlen(bad[i]), &c), 0);
}

/* The fork evidence file: exact layout, both notes checkpoints of one origin, nothing after. */
static void test_fork_parse(void **state) {
        (void)state;
        char buf[2048];
        size_t n = strlen(CP1);
        int len = snprintf(buf, sizeof(buf),
                           "gpuhours fork evidence 1\ntime 1795694400\nsource a.bundle\nnote %zu\n"
                           "%ssource http://n:9477\nnote %zu\n%s",
                           n, CP1, n, CP1);
        struct state_fork f;
        assert_int_equal(state_fork_parse(buf, (size_t)len, &f), 0);
        assert_int_equal(f.time_s, 1795694400);
        assert_string_equal(f.source[0], "a.bundle");
        assert_string_equal(f.source[1], "http://n:9477");
        assert_int_equal(f.cp[1].size, 1100);
        assert_int_equal(f.note_len[0], n);
        assert_memory_equal(f.note[0], CP1, n);
        state_fork_free(&f);
        /* Every shorter prefix, and anything after, is refused. */
        for (int cut = 0; cut < len; cut++)
                assert_int_not_equal(state_fork_parse(buf, (size_t)cut, &f), 0);
        buf[len] = '\n';
        assert_int_not_equal(state_fork_parse(buf, (size_t)len + 1, &f), 0);
        /* A length that runs past the end, or a control character in a source. */
        len = snprintf(buf, sizeof(buf),
                       "gpuhours fork evidence 1\ntime 1\nsource a\nnote 99999\n%s", CP1);
        assert_int_not_equal(state_fork_parse(buf, (size_t)len, &f), 0);
        len = snprintf(buf, sizeof(buf),
                       "gpuhours fork evidence 1\ntime 1\nsource a\tb\nnote %zu\n%ssource b\n"
                       "note %zu\n%s",
                       n, CP1, n, CP1);
        assert_int_not_equal(state_fork_parse(buf, (size_t)len, &f), 0);
}

static void test_names(void **state) {
        (void)state;
        char buf[64];
        assert_int_equal(origin_file_name("node17.example.org/gpuhours", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "node17.example.org%2Fgpuhours");
        assert_int_equal(origin_file_name("..", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "%2E.");
        assert_int_equal(origin_file_name("a b%", buf, sizeof(buf)), 0);
        assert_string_equal(buf, "a%20b%25");
        assert_int_not_equal(origin_file_name("", buf, sizeof(buf)), 0);
        assert_int_not_equal(origin_file_name("//////////////////////", buf, sizeof(buf)), 0);
        /* Every name fits in NAME_MAX with a bundle suffix and a temporary's: 200 bytes. */
        char big[3 * 255 + 1], longest[202];
        memset(longest, 'a', 201);
        longest[201] = '\0';
        assert_int_equal(origin_file_name(longest, big, sizeof(big)), -ENAMETOOLONG);
        longest[200] = '\0';
        assert_int_equal(origin_file_name(longest, big, sizeof(big)), 0);
        assert_int_equal(strlen(big), 200);
        memset(longest, '/', 67);
        longest[67] = '\0';
        assert_int_equal(origin_file_name(longest, big, sizeof(big)), -ENAMETOOLONG);
        longest[66] = '\0';
        assert_int_equal(origin_file_name(longest, big, sizeof(big)), 0);

        uint64_t a, b;
        assert_true(range_header_parse("0-10000", &a, &b));
        assert_int_equal(a, 0);
        assert_int_equal(b, 10000);
        static const char *const bad[] = {
                "",   "-",  "5-5",   "6-5",  "01-5",
                "1-", "-1", "1-2-3", "1 -2", "18446744073709551616-18446744073709551617"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
                assert_false(range_header_parse(bad[i], &a, &b));

        char q[8];
        quote_bytes("ab\ncd", 5, q, sizeof(q));
        assert_string_equal(q, "ab?cd");
        quote_bytes("abcdefghijkl", 12, q, sizeof(q));
        assert_string_equal(q, "abcd...");

        char *u = url_join("http://h:1//", "/checkpoint");
        assert_string_equal(u, "http://h:1/checkpoint");
        free(u);
}

static void test_node_json(void **state) {
        (void)state;
        char origin[NOTE_NAME_MAX + 1], vkey[VKEY_MAX_LEN + 1], err[200];
        const char *good = "{\"origin\":\"o\",\"vkey\":\"" VK1 "\",\"gpus\":[]}";
        assert_int_equal(node_json_parse(good, strlen(good), origin, sizeof(origin), vkey,
                                         sizeof(vkey), err, sizeof(err)),
                         0);
        assert_string_equal(origin, "o");
        assert_string_equal(vkey, VK1);
        static const char *const bad[] = {
                "",
                "[]",
                "{}",
                "{\"origin\":\"o\"}",
                "{\"origin\":1,\"vkey\":\"v\"}",
                "{\"origin\":\"o\",\"vkey\":\"v\",\"vkey\":\"w\"}",
                "{\"origin\":\"o\\u0000\",\"vkey\":\"v\"}",
                "{\"origin\":\"o\",\"vkey\":\"v\"",
                "null",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                if (node_json_parse(bad[i], strlen(bad[i]), origin, sizeof(origin), vkey,
                                    sizeof(vkey), err, sizeof(err)) == 0)
                        fail_msg("accepted %s", bad[i]);
                assert_true(err[0] != '\0');
        }
}

/* OpenSSL's EVP SHA-256 behind the proto seam hashes exactly as libsodium's. */
static void test_sha256_evp(void **state) {
        (void)state;
        struct sha256_evp *e = sha256_evp_new();
        assert_non_null(e);
        const struct gh_sha256 *evp = sha256_evp_hasher(e), *na = gh_sha256_sodium();
        uint8_t data[2100];
        randombytes_buf_deterministic(data, sizeof(data), (const uint8_t[32]){7});
        struct merkle_border b1, b2;
        merkle_border_init(&b1);
        merkle_border_init(&b2);
        for (size_t len = 0; len < sizeof(data); len += 1 + len / 3) {
                merkle_hash x, y;
                evp->hash2(evp->ctx, data, len, data + len, sizeof(data) - len, x);
                na->hash2(na->ctx, data, len, data + len, sizeof(data) - len, y);
                assert_memory_equal(x, y, sizeof(x));
                merkle_leaf_hash_with(evp, data, len, x);
                merkle_leaf_hash(data, len, y);
                assert_memory_equal(x, y, sizeof(x));
                assert_int_equal(merkle_border_append_with(&b1, evp, x), 0);
                assert_int_equal(merkle_border_append(&b2, y), 0);
                merkle_border_root_with(&b1, evp, x);
                merkle_border_root(&b2, y);
                assert_memory_equal(x, y, sizeof(x));
        }
        /* A known answer, so that both cannot be wrong the same way: SHA-256("abc"). */
        merkle_hash h;
        evp->hash2(evp->ctx, (const uint8_t *)"ab", 2, (const uint8_t *)"c", 1, h);
        static const uint8_t abc[32] = {0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea,
                                        0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
                                        0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c,
                                        0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad};
        assert_memory_equal(h, abc, sizeof(h));
        assert_false(sha256_evp_failed(e));
        sha256_evp_free(e);
}

/* proto/text.c text_next_line: LF, CRLF, a last line without '\n', empty lines. */
static void test_next_line(void **state) {
        static const char buf[] = "a\r\n\nbc\r\r\nlast";
        const char *p = NULL;
        size_t pos = 0, n = 0;
        (void)state;
        assert_true(text_next_line(buf, sizeof(buf) - 1, &pos, &p, &n));
        assert_int_equal(n, 1);
        assert_memory_equal(p, "a", 1);
        assert_true(text_next_line(buf, sizeof(buf) - 1, &pos, &p, &n));
        assert_int_equal(n, 0);
        assert_true(text_next_line(buf, sizeof(buf) - 1, &pos, &p, &n));
        assert_int_equal(n, 3); /* only one '\r' is dropped */
        assert_memory_equal(p, "bc\r", 3);
        assert_true(text_next_line(buf, sizeof(buf) - 1, &pos, &p, &n));
        assert_int_equal(n, 4);
        assert_memory_equal(p, "last", 4);
        assert_int_equal(pos, sizeof(buf) - 1);
        assert_false(text_next_line(buf, sizeof(buf) - 1, &pos, &p, &n));
}

static void test_u64(void **state) {
        (void)state;
        uint64_t v;
        assert_true(parse_u64("0", 1, &v) && v == 0);
        assert_true(parse_u64("18446744073709551615", 20, &v) && v == UINT64_MAX);
        assert_false(parse_u64("18446744073709551616", 20, &v));
        assert_false(parse_u64("01", 2, &v));
        assert_false(parse_u64("", 0, &v));
        assert_false(parse_u64("+1", 2, &v));
        /* parse_u64_max: the value bound, also below 10 (no wrap in the digit check). */
        assert_true(parse_u64_max("64", 2, 64, &v) && v == 64);
        v = 7;
        assert_false(parse_u64_max("65", 2, 64, &v));
        assert_false(parse_u64_max("7", 1, 5, &v));
        assert_false(parse_u64_max("05", 2, 64, &v));
        assert_int_equal(v, 7); /* untouched on failure */
        assert_true(parse_u64_cstr("18446744073709551615", &v) && v == UINT64_MAX);
        assert_false(parse_u64_cstr(NULL, &v));
        assert_false(parse_u64_cstr("1 ", &v));
}

int main(void) {
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_time_parse),  cmocka_unit_test(test_time_format),
                cmocka_unit_test(test_trust_parse), cmocka_unit_test(test_trust_without),
                cmocka_unit_test(test_state_parse), cmocka_unit_test(test_names),
                cmocka_unit_test(test_fork_parse),
                cmocka_unit_test(test_node_json),   cmocka_unit_test(test_u64),
                cmocka_unit_test(test_next_line),
                cmocka_unit_test(test_sha256_evp),
                cmocka_unit_test(test_duration_human),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
