/* SPDX-License-Identifier: MIT */
/* The rules and fleet file parsers and the peak table (no network, no daemon). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "fleet.h"
#include "peaks.h"
#include "rules.h"
#include "status.h"
#include "util.h"

#define VK1 "node17.example.org/gpuhours+a7c0603c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4"
#define NOW (1795694400ull * NS_PER_SEC) /* 2026-11-26T12:00:00Z */

static int parse(const char *text, struct rules *rs, char *err, size_t cap) {
        memset(rs, 0, sizeof(*rs));
        return rules_parse(text, strlen(text), "r.rules", NOW, rs, err, cap);
}

static void test_rules_good(void **state) {
        (void)state;
        struct rules rs;
        char err[400];
        const char *text = "# a pause\n"
                           "pause 2026-11-01 2026-11-08T00:00Z   # the week\n"
                           "pause -2h -1h max-busy 0.5%\n"
                           "cap gpu-hours 5000 per month\n"
                           "\tcap flop 1e25 per week from 2026-01-01 to 2027-01-01\n"
                           "cap flop 2.5E+3\n"
                           "concurrency 64 for 30m\n"
                           "concurrency 8\n"
                           "coverage 99.5%\n"
                           "peak H100 9.89e14\r\n"
                           "\n";
        assert_int_equal(parse(text, &rs, err, sizeof(err)), 0);
        assert_int_equal(rs.n, 9);
        assert_int_equal(rs.r[0].kind, RULE_PAUSE);
        assert_int_equal(rs.r[0].line, 2);
        assert_string_equal(rs.r[0].text, "pause 2026-11-01 2026-11-08T00:00Z");
        assert_int_equal(rs.r[0].from_ns, 1793491200ull * NS_PER_SEC);
        assert_true(rs.r[0].pct == 1.0);
        assert_int_equal(rs.r[1].from_ns, NOW - 7200 * NS_PER_SEC);
        assert_true(rs.r[1].pct == 0.5);
        assert_int_equal(rs.r[2].kind, RULE_CAP_GPU_HOURS);
        assert_int_equal(rs.r[2].per, PER_MONTH);
        assert_true(rs.r[2].n == 5000);
        assert_int_equal(rs.r[3].kind, RULE_CAP_FLOP);
        assert_int_equal(rs.r[3].per, PER_WEEK);
        assert_true(rs.r[3].n == 1e25);
        assert_true(rs.r[3].from_ns > 0 && rs.r[3].to_ns > rs.r[3].from_ns);
        assert_true(rs.r[4].n == 2500);
        assert_int_equal(rs.r[5].for_ns, 1800 * NS_PER_SEC);
        assert_int_equal(rs.r[6].for_ns, 3600 * NS_PER_SEC);
        assert_true(rs.r[7].pct == 99.5);
        assert_int_equal(rs.r[8].kind, RULE_PEAK);
        assert_string_equal(rs.r[8].model, "H100");
        rules_free(&rs);
}

static void test_rules_bad(void **state) {
        (void)state;
        static const struct {
                const char *text, *want;
        } cases[] = {
                {"", "no rule to check"},
                {"# nothing\n", "no rule to check"},
                {"peak A100 1e15\n", "no rule to check"},
                {"pause\n", "r.rules:1: missing FROM and TO"},
                {"pause 2026-11-01 2026-10-01\n", "r.rules:1: pause: FROM must be before TO"},
                {"pause 2026-11-01 2026-11-02 max-busy\n", "missing PCT after max-busy"},
                {"pause 2026-11-01 2026-11-02 max-busy 101\n", "max-busy '101'"},
                {"pause 2026-11-01 2026-11-02 extra\n", "unexpected 'extra'"},
                {"pause yesterday 2026-11-02\n", "FROM 'yesterday'"},
                {"cap\n", "missing a quantity"},
                {"cap joules 5\n", "cap 'joules'"},
                {"cap flop -1\n", "cap N '-1'"},
                {"cap flop 1e\n", "cap N '1e'"},
                {"cap flop 1e99999\n", "cap N '1e99999'"},
                {"cap flop 0x10\n", "cap N '0x10'"},
                {"cap flop 1.\n", "cap N '1.'"},
                {"cap flop nan\n", "cap N 'nan'"},
                {"cap flop inf\n", "cap N 'inf'"},
                {"cap flop 1e41\n", "cap N '1e41'"},
                {"cap flop 5 per\n", "missing day, week or month"},
                {"cap flop 5 per fortnight\n", "per 'fortnight'"},
                {"cap flop 5 per day per week\n", "unexpected 'per'"},
                {"cap flop 5 from 2026-02-01 to 2026-01-01\n", "from must be before to"},
                {"concurrency\n", "missing N"},
                {"concurrency 1.5\n", "concurrency N '1.5'"},
                {"concurrency 2 for 0s\n", "for '0s'"},
                {"concurrency 2 for 400d\n", "for '400d'"},
                {"concurrency 2 for 5\n", "for '5'"},
                {"coverage\n", "missing PCT"},
                {"coverage 50 60\n", "unexpected '60'"},
                {"coverage -5\n", "coverage '-5'"},
                {"coverage 50%%\n", "coverage '50%%'"},
                {"peak H100\n", "missing MODEL-SUBSTRING"},
                {"peak H100 0\ncoverage 1\n", "r.rules:1: peak FLOPS '0'"},
                {"coverage 50\n\nfoo\n", "r.rules:3: unknown rule 'foo'"},
                {"coverage 50\xc3\xa9\n", "non-ASCII"},
                {"a b c d e f g h i j k l m n o p q\n", "more than 16 words"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                struct rules rs;
                char err[400] = "";
                int r = parse(cases[i].text, &rs, err, sizeof(err));
                if (r == 0 || !strstr(err, cases[i].want) || strncmp(err, "r.rules", 7) != 0 ||
                    strchr(err, '\n'))
                        fail_msg("case %zu '%s': r=%d err='%s' (want '%s')", i, cases[i].text, r,
                                 err, cases[i].want);
                assert_int_equal(rs.n, 0);
                assert_null(rs.r);
        }
        /* caps: line length, NUL, rule count */
        char *big = malloc(RULES_LINE_MAX + 20);
        assert_non_null(big);
        memset(big, 'x', RULES_LINE_MAX + 1);
        big[RULES_LINE_MAX + 1] = '\0';
        struct rules rs;
        char err[400];
        assert_int_equal(parse(big, &rs, err, sizeof(err)), GH_E_TOO_LARGE);
        assert_non_null(strstr(err, "r.rules:1: line longer than"));
        free(big);
        assert_int_equal(rules_parse("coverage 5\0\n", 12, "r.rules", NOW, &rs, err, sizeof(err)),
                         GH_E_MALFORMED);
        assert_non_null(strstr(err, "NUL"));
        size_t n = (RULES_MAX + 1) * 12;
        char *many = malloc(n + 1);
        assert_non_null(many);
        many[0] = '\0';
        for (unsigned i = 0; i <= RULES_MAX; i++)
                strcat(many, "coverage 5\n");
        assert_int_equal(parse(many, &rs, err, sizeof(err)), GH_E_TOO_LARGE);
        assert_non_null(strstr(err, "more than 1000 rules"));
        free(many);
}

static void test_numbers(void **state) {
        (void)state;
        double v;
        uint64_t ns;
        assert_true(rules_parse_number("0", 1, &v) && v == 0);
        assert_true(rules_parse_number("1e25", 4, &v) && v == 1e25);
        assert_true(rules_parse_number("9.89e-3", 7, &v) && v == 9.89e-3);
        assert_false(rules_parse_number("", 0, &v));
        assert_false(rules_parse_number(".5", 2, &v));
        assert_false(rules_parse_number("1e1000", 6, &v));
        assert_false(rules_parse_number("+1", 2, &v));
        assert_true(rules_parse_pct("100%", 4, &v) && v == 100);
        assert_false(rules_parse_pct("%", 1, &v));
        assert_false(rules_parse_pct("100.1", 5, &v));
        assert_true(rules_parse_duration("90s", 3, &ns) && ns == 90 * NS_PER_SEC);
        assert_true(rules_parse_duration("7d", 2, &ns) && ns == 7 * 86400 * NS_PER_SEC);
        assert_false(rules_parse_duration("s", 1, &ns));
        assert_false(rules_parse_duration("-5m", 3, &ns));
        assert_false(rules_parse_duration("05m", 3, &ns));
        assert_false(rules_parse_duration("99999999999d", 12, &ns));
}

static void test_peaks(void **state) {
        (void)state;
        double f;
        char src[64];
        assert_true(peak_lookup(NULL, "NVIDIA H100 80GB HBM3", &f, src, sizeof(src)));
        assert_true(f == 1979e12);
        assert_true(peak_lookup(NULL, "NVIDIA H100 PCIe", &f, src, sizeof(src)));
        assert_true(f == 1513e12);
        assert_true(peak_lookup(NULL, "NVIDIA H100 NVL", &f, src, sizeof(src)) && f == 1671e12);
        assert_true(peak_lookup(NULL, "NVIDIA H200", &f, src, sizeof(src)) && f == 1979e12);
        assert_true(peak_lookup(NULL, "NVIDIA A100-SXM4-80GB", &f, src, sizeof(src)) &&
                    f == 1248e12);
        assert_true(peak_lookup(NULL, "NVIDIA B200", &f, src, sizeof(src)) && f == 9e15);
        /* unknown: UNKNOWN, never zero */
        f = 5;
        assert_false(peak_lookup(NULL, "NVIDIA GeForce RTX 4090", &f, src, sizeof(src)));
        assert_true(f == 5);
        struct rules rs;
        char err[200];
        assert_int_equal(parse("peak 4090 3.3e14\npeak H100 1e14\ncoverage 1\n", &rs, err,
                               sizeof(err)),
                         0);
        assert_true(peak_lookup(&rs, "NVIDIA GeForce RTX 4090", &f, src, sizeof(src)));
        assert_true(f == 3.3e14);
        assert_string_equal(src, "rules line 1");
        assert_true(peak_lookup(&rs, "NVIDIA H100 PCIe", &f, src, sizeof(src)) && f == 1e14);
        rules_free(&rs);
        double idle, minl, full;
        assert_true(power_lookup("gpuhours simulated H100", &idle, &minl, &full, NULL));
        assert_true(idle == 60 && minl == 200 && full == 700);
        /*
         * variants before their family: full power never above the board's maximum;
         * the minimum power limit (the busy power of the energy bound) at or below the
         * board's real one (H100/H200 SXM and B200 200 W, A100 SXM4 100 W) and at least
         * 50 W above idle (peaks.c)
         */
        static const struct {
                const char *name;
                double minl, full;
        } boards[] = {{"NVIDIA H100 80GB HBM3", 200, 700},
                      {"NVIDIA H100 PCIe", 80, 350},
                      {"NVIDIA H100 NVL", 80, 400},
                      {"NVIDIA H200", 200, 700},
                      {"NVIDIA H200 NVL", 80, 600},
                      {"NVIDIA GH200 480GB", 110, 450},
                      {"NVIDIA H800 PCIe", 80, 350},
                      {"NVIDIA H800", 110, 700},
                      {"NVIDIA A100-SXM4-80GB", 100, 400},
                      {"NVIDIA A100-PCIE-40GB", 80, 250},
                      {"NVIDIA A100 80GB PCIe", 80, 300},
                      {"NVIDIA L40", 80, 300},
                      {"NVIDIA L40S", 80, 350},
                      {"NVIDIA B100", 150, 700},
                      {"NVIDIA B200", 200, 1000},
                      {"NVIDIA GB200", 150, 1000}};
        for (size_t i = 0; i < sizeof(boards) / sizeof(boards[0]); i++) {
                double max;
                assert_true(power_lookup(boards[i].name, &idle, &minl, &full, &max));
                assert_true(full == boards[i].full && minl == boards[i].minl);
                assert_true(idle > 0 && idle + 50 <= minl && minl <= full && full <= max);
        }
        /* every row of the table: idle < min limit <= full <= max, a margin of 50 W */
        unsigned nrows;
        const struct gpu_model *t = peaks_table(&nrows);
        assert_true(nrows > 0);
        for (unsigned i = 0; i < nrows; i++)
                assert_true(t[i].idle_w > 0 && t[i].idle_w + 50 <= t[i].min_limit_w &&
                            t[i].min_limit_w <= t[i].full_w && t[i].full_w <= t[i].max_w);
        /* a power-only row does not change a peak: GH200 keeps H200 SXM's, A100 PCIe A100's */
        assert_true(peak_lookup(NULL, "NVIDIA GH200 480GB", &f, src, sizeof(src)) && f == 1979e12);
        assert_true(peak_lookup(NULL, "NVIDIA A100-PCIE-40GB", &f, src, sizeof(src)) &&
                    f == 1248e12);
        assert_false(peak_lookup(NULL, "NVIDIA L40S", &f, src, sizeof(src)));
        assert_false(power_lookup("mystery", &idle, &minl, NULL, NULL));
        /* the plausibility limit is the top of the range: an honest GH200 at 900 W is not
         * impossible, though its bound takes the bottom (450 W) */
        double max;
        assert_true(power_lookup("NVIDIA GH200 480GB", &idle, &minl, &full, &max) && full == 450 &&
                    max == 1000);
}

static int fleet(const char *text, struct fleet *f, char *err, size_t cap) {
        memset(f, 0, sizeof(*f));
        return fleet_parse(text, strlen(text), "f.fleet", f, err, cap);
}

static void test_fleet(void **state) {
        (void)state;
        struct fleet f;
        char err[600];
        /* a second origin */
        uint8_t pk[32], sk[64];
        crypto_sign_keypair(pk, sk);
        struct note_verifier v = {.key_id = 0};
        snprintf(v.name, sizeof(v.name), "node18.example.org/gpuhours");
        memcpy(v.pk, pk, 32);
        v.key_id = note_key_id(v.name, pk);
        char vk2[200];
        size_t vk2_len = 0;
        assert_int_equal(vkey_format(&v, vk2, sizeof(vk2), &vk2_len), 0);
        assert_true(vk2_len > 0);
        char text[2048];
        snprintf(text, sizeof(text),
                 "# fleet\n\nhttp://127.0.0.1:9477 " VK1 "  # node 17\n"
                 "\thttps://node18:9477/ %s\r\n",
                 vk2);
        assert_int_equal(fleet(text, &f, err, sizeof(err)), 0);
        assert_int_equal(f.n, 2);
        assert_string_equal(f.nodes[0].url, "http://127.0.0.1:9477");
        assert_string_equal(f.nodes[0].key.name, "node17.example.org/gpuhours");
        assert_int_equal(f.nodes[0].line, 3);
        assert_string_equal(f.nodes[1].url, "https://node18:9477/");
        assert_int_equal(f.nodes[1].line, 4);
        fleet_free(&f);
        static const struct {
                const char *text, *want;
        } cases[] = {
                {"", "f.fleet: no node"},
                {"# only\n", "f.fleet: no node"},
                {"http://a:1\n", "f.fleet:1: 'http://a:1': expected URL VKEY"},
                {"ftp://a:1 " VK1 "\n", "f.fleet:1: 'ftp://a:1' is not a node URL"},
                {"http:// " VK1 "\n", "is not a node URL"},
                {"http:///x " VK1 "\n", "is not a node URL"},
                {"http://a:1 notakey\n", "f.fleet:1: 'notakey' is not a vkey"},
                {"http://a:1 " VK1 " extra\n", "f.fleet:1: unexpected 'extra'"},
                {"http://a:1 " VK1 "\nhttp://b:1 " VK1 "\n",
                 "f.fleet:2: duplicate origin 'node17.example.org/gpuhours' (also on line 1)"},
        };
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                int r = fleet(cases[i].text, &f, err, sizeof(err));
                if (r == 0 || !strstr(err, cases[i].want))
                        fail_msg("case %zu: r=%d err='%s' (want '%s')", i, r, err, cases[i].want);
                assert_int_equal(f.n, 0);
        }
        snprintf(text, sizeof(text), "http://a:1 " VK1 "\nhttp://a:1 %s\n", vk2);
        assert_int_equal(fleet(text, &f, err, sizeof(err)), GH_E_MALFORMED);
        assert_non_null(strstr(err, "f.fleet:2: duplicate URL 'http://a:1' (also on line 1)"));
        char line[FLEET_LINE_MAX + 10];
        memset(line, 'a', sizeof(line) - 1);
        line[sizeof(line) - 1] = '\0';
        assert_int_equal(fleet(line, &f, err, sizeof(err)), GH_E_TOO_LARGE);
}

int main(void) {
        if (sodium_init() < 0)
                return 1;
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rules_good), cmocka_unit_test(test_rules_bad),
                cmocka_unit_test(test_numbers),    cmocka_unit_test(test_peaks),
                cmocka_unit_test(test_fleet),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
