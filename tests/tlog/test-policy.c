/* SPDX-License-Identifier: MIT */
/* proto/policy.c (tlog-policy, logs/v0) and the add-checkpoint body (proto/cosig.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cosig.h"
#include "policy.h"
#include "status.h"

static char wv[3][VKEY_MAX_LEN + 1]; /* cosigner vkeys w0..w2 */
static char logv[VKEY_MAX_LEN + 1];  /* an Ed25519 log vkey */

static int setup(void **state) {
        (void)state;
        for (int i = 0; i < 3; i++) {
                struct signer s;
                struct note_verifier v;
                uint8_t seed[32];
                char name[16];
                size_t n = 0;

                memset(seed, 0x40 + i, sizeof(seed));
                snprintf(name, sizeof(name), "w%d.example", i);
                if (signer_init_cosigner(&s, name, seed) != 0)
                        return -1;
                signer_verifier(&s, &v);
                signer_free(&s);
                if (cosig_vkey_format(&v, wv[i], sizeof(wv[i]), &n) != 0)
                        return -1;
        }
        {
                struct signer s;
                struct note_verifier v;
                uint8_t seed[32] = {7};
                size_t vl = 0;

                if (signer_init_ed25519(&s, "lab.example/n1", seed) != 0)
                        return -1;
                signer_verifier(&s, &v);
                signer_free(&s);
                if (vkey_format(&v, logv, sizeof(logv), &vl) != 0)
                        return -1;
        }
        return 0;
}

static int parse(const char *text, struct policy *p, char *err) {
        return policy_parse(text, strlen(text), p, err, 256);
}

static void test_policy_ok(void **state) {
        static struct policy p;
        char text[4096], err[256] = "";
        bool ok[3];

        (void)state;
        snprintf(text, sizeof(text),
                 "# comment\n\nlog %s http://127.0.0.1:1\n"
                 "witness a %s http://127.0.0.1:2\n"
                 "witness\tb  %s\n"
                 "witness c %s\n"
                 "group two 2 a b c\n"
                 "group q all two c\n"
                 "quorum q\n",
                 logv, wv[0], wv[1], wv[2]);
        assert_int_equal(parse(text, &p, err), 0);
        assert_int_equal(p.nlogs, 1);
        assert_int_equal(p.nwitnesses, 3);
        assert_string_equal(p.witness[0].url, "http://127.0.0.1:2");
        assert_string_equal(p.witness[1].url, "");
        assert_int_equal(p.ngroups, 2);
        assert_int_equal(p.group[0].k, 2);
        assert_int_equal(p.group[1].k, 2);
        ok[0] = true, ok[1] = true, ok[2] = true;
        assert_true(policy_satisfied(&p, ok));
        ok[2] = false; /* c is required by q directly */
        assert_false(policy_satisfied(&p, ok));
        ok[2] = true, ok[1] = false; /* two of three still there */
        assert_true(policy_satisfied(&p, ok));
        ok[0] = false;
        assert_false(policy_satisfied(&p, ok));

        snprintf(text, sizeof(text), "witness a %s\nquorum none\n", wv[0]);
        assert_int_equal(parse(text, &p, err), 0);
        ok[0] = false;
        assert_true(policy_satisfied(&p, ok));
        snprintf(text, sizeof(text), "witness a %s\nquorum a\n", wv[0]);
        assert_int_equal(parse(text, &p, err), 0);
        assert_false(policy_satisfied(&p, ok));
        ok[0] = true;
        assert_true(policy_satisfied(&p, ok));
}

static void expect_bad(const char *text, const char *needle) {
        static struct policy p;
        char err[256] = "";

        assert_int_not_equal(parse(text, &p, err), 0);
        if (strstr(err, needle) == NULL)
                fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_policy_bad(void **state) {
        char t[4096];

        (void)state;
        expect_bad("", "no quorum");
        expect_bad("quorum x\n", "'x' is not defined");
        snprintf(t, sizeof(t), "witness a %s\nwitness a %s\nquorum a\n", wv[0], wv[1]);
        expect_bad(t, "duplicate witness name 'a'");
        snprintf(t, sizeof(t), "witness a %s\nwitness b %s\nquorum a\n", wv[0], wv[0]);
        expect_bad(t, "witness key listed twice");
        snprintf(t, sizeof(t), "witness a %s\nquorum a\n", logv);
        expect_bad(t, "type 0x04");
        snprintf(t, sizeof(t), "witness none %s\nquorum none\n", wv[0]);
        expect_bad(t, "'none'");
        snprintf(t, sizeof(t), "witness a %s\ngroup g 2 a\nquorum g\n", wv[0]);
        expect_bad(t, "threshold '2'");
        snprintf(t, sizeof(t), "witness a %s\ngroup g 0 a\nquorum g\n", wv[0]);
        expect_bad(t, "threshold '0'");
        snprintf(t, sizeof(t), "witness a %s\ngroup g any a a\nquorum g\n", wv[0]);
        expect_bad(t, "listed twice");
        snprintf(t, sizeof(t), "witness a %s\ngroup g any a b\nquorum g\n", wv[0]);
        expect_bad(t, "'b' is not defined");
        snprintf(t, sizeof(t), "witness a %s\nquorum a\nquorum a\n", wv[0]);
        expect_bad(t, "second quorum");
        snprintf(t, sizeof(t), "witness a %s ftp://x\nquorum a\n", wv[0]);
        expect_bad(t, "bad URL 'ftp://x'");
        expect_bad("frobnicate\nquorum none\n", "unknown keyword 'frobnicate'");
        expect_bad("quorum none\r\n", "CR");
        {
                /* 65 witnesses: over the cap. */
                static char big[65 * 200];
                size_t o = 0;

                for (int i = 0; i < 65; i++) {
                        struct signer s;
                        struct note_verifier v;
                        uint8_t seed[32] = {(uint8_t)i, 1};
                        char vk[VKEY_MAX_LEN + 1];
                        size_t n = 0;

                        assert_int_equal(signer_init_cosigner(&s, "w", seed), 0);
                        signer_verifier(&s, &v);
                        signer_free(&s);
                        assert_int_equal(cosig_vkey_format(&v, vk, sizeof(vk), &n), 0);
                        o += (size_t)snprintf(big + o, sizeof(big) - o, "witness w%d %s\n", i, vk);
                }
                snprintf(big + o, sizeof(big) - o, "quorum none\n");
                expect_bad(big, "more than 64 witnesses");
        }
}

static void test_loglist(void **state) {
        struct loglist_entry *e = NULL;
        size_t n = 0;
        char t[4096], err[256] = "";

        (void)state;
        snprintf(t, sizeof(t),
                 "logs/v0\n# a comment\n  vkey %s  \nqpd 288\ncontact ops@lab.example\n\n"
                 "vkey %s\norigin other.example/log\nqpd 24\ncontact x\n",
                 logv, logv);
        assert_int_equal(loglist_parse(t, strlen(t), &e, &n, err, sizeof(err)), 0);
        assert_int_equal(n, 2);
        assert_string_equal(e[0].origin, "lab.example/n1");
        assert_int_equal(e[0].qpd, 288);
        assert_string_equal(e[0].contact, "ops@lab.example");
        assert_string_equal(e[1].origin, "other.example/log");
        free(e);

        snprintf(t, sizeof(t), "logs/v0\nvkey %s\nqpd 0\ncontact x\n", logv);
        assert_int_not_equal(loglist_parse(t, strlen(t), &e, &n, err, sizeof(err)), 0);
        assert_non_null(strstr(err, "line 3"));
        snprintf(t, sizeof(t), "logs/v0\nvkey %s\nqpd 5\n", logv);
        assert_int_not_equal(loglist_parse(t, strlen(t), &e, &n, err, sizeof(err)), 0);
        assert_non_null(strstr(err, "incomplete"));
        snprintf(t, sizeof(t), "vkey %s\n", logv);
        assert_int_not_equal(loglist_parse(t, strlen(t), &e, &n, err, sizeof(err)), 0);
        assert_non_null(strstr(err, "logs/v0"));
        snprintf(t, sizeof(t), "logs/v0\nvkey %s\nqpd 5\ncontact a\nvkey %s\nqpd 5\ncontact b\n",
                 logv, logv);
        assert_int_not_equal(loglist_parse(t, strlen(t), &e, &n, err, sizeof(err)), 0);
        assert_non_null(strstr(err, "listed twice"));
        snprintf(t, sizeof(t), "logs/v0\nvkey %s\nqpd 5\ncontact a\n", wv[0]);
        assert_int_not_equal(loglist_parse(t, strlen(t), &e, &n, err, sizeof(err)), 0);
        assert_non_null(strstr(err, "type 0x01"));
}

static void test_addcp(void **state) {
        merkle_hash proof[3];
        struct addcp_request r;
        const char *note = "o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 o AAAA\n";
        char *body = NULL;
        size_t len = 0;

        (void)state;
        for (int i = 0; i < 3; i++)
                memset(proof[i], i + 1, sizeof(proof[i]));
        assert_int_equal(addcp_format(17, (const merkle_hash *)proof, 3, note, strlen(note), &body, &len), 0);
        assert_int_equal(addcp_parse(body, len, &r), 0);
        assert_int_equal(r.old_size, 17);
        assert_int_equal(r.proof_len, 3);
        assert_memory_equal(r.proof[2], proof[2], 32);
        assert_int_equal(r.note_len, strlen(note));
        assert_memory_equal(r.note, note, r.note_len);
        free(body);

        assert_int_equal(addcp_format(0, NULL, 0, note, strlen(note), &body, &len), 0);
        assert_memory_equal(body, "old 0\n\n", 7);
        assert_int_equal(addcp_parse(body, len, &r), 0);
        assert_int_equal(r.proof_len, 0);
        free(body);

        assert_int_equal(addcp_parse("old 01\n\nx", 9, &r), GH_E_MALFORMED);
        assert_int_equal(addcp_parse("old 1\n\n", 7, &r), GH_E_MALFORMED);
        assert_int_equal(addcp_parse("old 1\nAAAA\n\nx", 13, &r), GH_E_MALFORMED);
        assert_int_equal(addcp_parse("old -1\n\nx", 9, &r), GH_E_MALFORMED);
        assert_int_equal(addcp_parse("new 1\n\nx", 8, &r), GH_E_MALFORMED);
        {
                static char big[8 + 64 * 45 + 4];
                size_t o = (size_t)snprintf(big, sizeof(big), "old 1\n");

                for (int i = 0; i < 64; i++)
                        o += (size_t)snprintf(big + o, sizeof(big) - o, "%s\n",
                                              "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
                o += (size_t)snprintf(big + o, sizeof(big) - o, "\nx");
                assert_int_equal(addcp_parse(big, o, &r), GH_E_TOO_LARGE);
        }
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_policy_ok),
                cmocka_unit_test(test_policy_bad),
                cmocka_unit_test(test_loglist),
                cmocka_unit_test(test_addcp),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
