/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/merkle.c (cmocka, TAP). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "merkle.h"
#include "status.h"

#define MAX_LEAVES 300

/* In-memory stored-hash storage, filled through merkle_stored_append. */
struct store {
        merkle_hash h[2 * MAX_LEAVES + 64];
        uint64_t n;
        unsigned reads; /* calls to store_read */
};

static int store_read(void *ctx, const uint64_t *idx, size_t count, merkle_hash *out) {
        struct store *s = ctx;

        s->reads++;
        for (size_t i = 0; i < count; i++) {
                if (idx[i] >= s->n)
                        return GH_E_RANGE;
                memcpy(out[i], s->h[idx[i]], MERKLE_HASH_LEN);
        }
        return 0;
}

static int failing_read(void *ctx, const uint64_t *idx, size_t count, merkle_hash *out) {
        (void)ctx;
        (void)idx;
        (void)count;
        (void)out;
        return -EIO;
}

/* Non-const hash arrays need a cast to the const parameter type before C2X. */
static int verify_incl(uint64_t i, uint64_t n, const merkle_hash leaf, merkle_hash *proof,
                       size_t len, const merkle_hash root) {
        return merkle_verify_inclusion(i, n, leaf, (const merkle_hash *)proof, len, root);
}

static int verify_cons(uint64_t m, uint64_t n, const merkle_hash r1, const merkle_hash r2,
                       merkle_hash *proof, size_t len) {
        return merkle_verify_consistency(m, n, r1, r2, (const merkle_hash *)proof, len);
}

static merkle_hash leaves[MAX_LEAVES];
static struct store store;

static void make_leaf(uint64_t i, merkle_hash out) {
        char data[64];
        int len = snprintf(data, sizeof(data), "gpuhours leaf %llu", (unsigned long long)i);

        merkle_leaf_hash((const uint8_t *)data, (size_t)len, out);
}

/* Independent reference: the recursive definition of RFC 6962 §2.1, with a plain SHA-256. */
static void ref_root(merkle_hash *d, uint64_t n, merkle_hash out) {
        uint64_t k = 1;
        merkle_hash l, r;
        uint8_t buf[65];

        if (n == 0) {
                crypto_hash_sha256(out, NULL, 0);
                return;
        }
        if (n == 1) {
                memcpy(out, d[0], 32);
                return;
        }
        while (k * 2 < n)
                k *= 2;
        ref_root(d, k, l);
        ref_root(d + k, n - k, r);
        buf[0] = 1;
        memcpy(buf + 1, l, 32);
        memcpy(buf + 33, r, 32);
        crypto_hash_sha256(out, buf, sizeof(buf));
}

static int setup(void **state) {
        (void)state;
        if (sodium_init() < 0)
                return -1;
        memset(&store, 0, sizeof(store));
        for (uint64_t i = 0; i < MAX_LEAVES; i++) {
                merkle_hash out[MERKLE_MAX_LEVELS + 1];
                size_t cnt = 0;

                make_leaf(i, leaves[i]);
                if (merkle_stored_append(i, leaves[i], store_read, &store, out, &cnt) != 0)
                        return -1;
                memcpy(store.h + store.n, out, cnt * sizeof(merkle_hash));
                store.n += cnt;
        }
        return 0;
}

static void test_leaf_and_node_hash(void **state) {
        uint8_t buf[65], want[32];
        merkle_hash got;

        (void)state;
        buf[0] = 0;
        memcpy(buf + 1, "abc", 3);
        crypto_hash_sha256(want, buf, 4);
        merkle_leaf_hash((const uint8_t *)"abc", 3, got);
        assert_memory_equal(got, want, 32);

        buf[0] = 1;
        memcpy(buf + 1, leaves[0], 32);
        memcpy(buf + 33, leaves[1], 32);
        crypto_hash_sha256(want, buf, 65);
        merkle_node_hash(leaves[0], leaves[1], got);
        assert_memory_equal(got, want, 32);

        /* Empty root: SHA-256 of the empty string, e3b0c442... */
        merkle_empty_root(got);
        assert_int_equal(got[0], 0xe3);
        assert_int_equal(got[1], 0xb0);
        assert_int_equal(got[31], 0x55);
}

static void test_roots_all_sizes(void **state) {
        struct merkle_border b;

        (void)state;
        merkle_border_init(&b);
        for (uint64_t n = 0; n <= MAX_LEAVES; n++) {
                merkle_hash want, got;

                ref_root(leaves, n, want);
                merkle_root_of((const merkle_hash *)leaves, n, got);
                assert_memory_equal(got, want, 32);
                merkle_border_root(&b, got);
                assert_memory_equal(got, want, 32);
                assert_int_equal(merkle_tree_hash(n, store_read, &store, got), 0);
                assert_memory_equal(got, want, 32);
                if (n < MAX_LEAVES)
                        assert_int_equal(merkle_border_append(&b, leaves[n]), 0);
        }
}

static void test_stored_model(void **state) {
        (void)state;
        /* Go tlog: StoredHashIndex(0, n) for n = 0..7 and a few higher levels. */
        static const uint64_t level0[] = {0, 1, 3, 4, 7, 8, 10, 11};
        for (uint64_t n = 0; n < 8; n++)
                assert_int_equal(merkle_stored_index(0, n), level0[n]);
        assert_int_equal(merkle_stored_index(1, 0), 2);
        assert_int_equal(merkle_stored_index(2, 0), 6);
        assert_int_equal(merkle_stored_index(3, 0), 14);
        assert_int_equal(merkle_stored_count(0), 0);
        assert_int_equal(merkle_stored_count(1), 1);
        assert_int_equal(merkle_stored_count(2), 3);
        assert_int_equal(merkle_stored_count(MAX_LEAVES), store.n);
        /* Each stored hash sits where merkle_stored_index says: check level-1 and level-2 nodes. */
        for (uint64_t i = 0; i + 1 < MAX_LEAVES; i += 2) {
                merkle_hash h;

                assert_memory_equal(store.h[merkle_stored_index(0, i)], leaves[i], 32);
                merkle_node_hash(leaves[i], leaves[i + 1], h);
                assert_memory_equal(store.h[merkle_stored_index(1, i / 2)], h, 32);
        }
        for (uint64_t i = 0; i + 4 <= MAX_LEAVES; i += 4) {
                merkle_hash h;

                ref_root(leaves + i, 4, h);
                assert_memory_equal(store.h[merkle_stored_index(2, i / 4)], h, 32);
        }
}

static void test_read_errors_pass_through(void **state) {
        merkle_hash h, out[MERKLE_MAX_LEVELS + 1], proof[MERKLE_MAX_PROOF];
        size_t n = 0;

        (void)state;
        assert_int_equal(merkle_tree_hash(5, failing_read, NULL, h), -EIO);
        assert_int_equal(merkle_stored_append(3, leaves[3], failing_read, NULL, out, &n), -EIO);
        assert_int_equal(merkle_prove_inclusion(1, 5, failing_read, NULL, proof, &n), -EIO);
        assert_int_equal(merkle_prove_consistency(3, 5, failing_read, NULL, proof, &n), -EIO);
        /* Asking for more than is stored is the reader's error, passed through. */
        assert_int_equal(merkle_tree_hash(MAX_LEAVES + 1, store_read, &store, h), GH_E_RANGE);
        /* Leaf 0 needs no reads. */
        assert_int_equal(merkle_stored_append(0, leaves[0], failing_read, NULL, out, &n), 0);
        assert_int_equal(n, 1);
}

/* Every tampering of a valid inclusion proof must fail. */
static void check_inclusion_tamper(uint64_t i, uint64_t n, const merkle_hash root,
                                   merkle_hash *proof, size_t plen) {
        merkle_hash bad;

        for (size_t k = 0; k < plen; k++) {
                for (unsigned bit = 0; bit < 256; bit += 37) {
                        proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                        assert_int_equal(verify_incl(i, n, leaves[i], proof, plen, root),
                                         GH_E_BAD_PROOF);
                        proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
        }
        memcpy(bad, leaves[i], 32);
        bad[5] ^= 0x10;
        assert_int_equal(verify_incl(i, n, bad, proof, plen, root), GH_E_BAD_PROOF);
        memcpy(bad, root, 32);
        bad[31] ^= 1;
        assert_int_equal(verify_incl(i, n, leaves[i], proof, plen, bad), GH_E_BAD_PROOF);
        /*
         * A different index must not pass. (A different size with the same root
         * can: RFC 9162 proofs do not bind the size, the signed checkpoint does.)
         */
        for (uint64_t j = 0; j < n; j++)
                if (j != i)
                        assert_int_not_equal(verify_incl(j, n, leaves[i], proof, plen, root), 0);
        /* Too short, too long. */
        if (plen > 0) {
                assert_int_equal(verify_incl(i, n, leaves[i], proof, plen - 1, root),
                                 GH_E_BAD_PROOF);
                assert_int_equal(verify_incl(i, n, leaves[i], proof + 1, plen - 1, root),
                                 GH_E_BAD_PROOF);
        }
        memcpy(proof[plen], leaves[0], 32);
        assert_int_equal(verify_incl(i, n, leaves[i], proof, plen + 1, root), GH_E_BAD_PROOF);
}

static void test_inclusion(void **state) {
        (void)state;
        for (uint64_t n = 1; n <= 70; n++) {
                merkle_hash root;

                ref_root(leaves, n, root);
                for (uint64_t i = 0; i < n; i++) {
                        merkle_hash proof[MERKLE_MAX_PROOF + 1];
                        size_t plen = 99;

                        store.reads = 0;
                        assert_int_equal(
                                merkle_prove_inclusion(i, n, store_read, &store, proof, &plen), 0);
                        assert_true(store.reads <= 1); /* one read call per proof */
                        assert_int_equal(verify_incl(i, n, leaves[i], proof, plen, root), 0);
                        if (n <= 20 || i % 7 == 0)
                                check_inclusion_tamper(i, n, root, proof, plen);
                }
        }
        /* Big trees: a sample of indexes. */
        for (uint64_t n = 200; n <= MAX_LEAVES; n += 33) {
                merkle_hash root;

                ref_root(leaves, n, root);
                for (uint64_t i = 0; i < n; i += 13) {
                        merkle_hash proof[MERKLE_MAX_PROOF + 1];
                        size_t plen = 0;

                        assert_int_equal(
                                merkle_prove_inclusion(i, n, store_read, &store, proof, &plen), 0);
                        assert_int_equal(verify_incl(i, n, leaves[i], proof, plen, root), 0);
                }
        }
}

static void test_inclusion_edges(void **state) {
        merkle_hash proof[MERKLE_MAX_PROOF], root;
        size_t plen = 77;

        (void)state;
        /* index >= n */
        assert_int_equal(merkle_prove_inclusion(5, 5, store_read, &store, proof, &plen),
                         GH_E_RANGE);
        assert_int_equal(merkle_prove_inclusion(0, 0, store_read, &store, proof, &plen),
                         GH_E_RANGE);
        assert_int_equal(plen, 77);
        ref_root(leaves, 5, root);
        assert_int_equal(verify_incl(5, 5, leaves[0], proof, 0, root), GH_E_RANGE);
        assert_int_equal(verify_incl(0, 0, leaves[0], proof, 0, root), GH_E_RANGE);
        /* Size 1: empty proof, root is the leaf. */
        assert_int_equal(merkle_prove_inclusion(0, 1, store_read, &store, proof, &plen), 0);
        assert_int_equal(plen, 0);
        assert_int_equal(verify_incl(0, 1, leaves[0], NULL, 0, leaves[0]), 0);
        assert_int_equal(verify_incl(0, 1, leaves[1], NULL, 0, leaves[0]), GH_E_BAD_PROOF);
        /* Over the cap */
        assert_int_equal(verify_incl(0, 2, leaves[0], proof, MERKLE_MAX_PROOF + 1, root),
                         GH_E_BAD_PROOF);
        /* Sizes at 2^63 are out of range */
        assert_int_equal(verify_incl(0, UINT64_C(1) << 63, leaves[0], proof, 1, root), GH_E_RANGE);
}

static void test_inclusion_huge_tree(void **state) {
        /* A proof in a tree of 2^63 - 1 leaves has 63 hashes; verification is pure arithmetic. */
        merkle_hash proof[MERKLE_MAX_PROOF], root, leaf;
        uint64_t n = (UINT64_C(1) << 63) - 1, idx = n - 1;
        size_t plen = 0;
        uint64_t fn = idx, sn = n - 1;

        (void)state;
        memset(leaf, 0x42, sizeof(leaf));
        memcpy(root, leaf, 32);
        /* Build a consistent proof by the RFC 9162 walk with random siblings. */
        while (sn > 0) {
                randombytes_buf(proof[plen], 32);
                if ((fn & 1) || fn == sn) {
                        merkle_node_hash(proof[plen], root, root);
                        while (!(fn & 1) && fn != 0) {
                                fn >>= 1;
                                sn >>= 1;
                        }
                } else {
                        merkle_node_hash(root, proof[plen], root);
                }
                fn >>= 1;
                sn >>= 1;
                plen++;
        }
        assert_true(plen <= 63);
        assert_int_equal(verify_incl(idx, n, leaf, proof, plen, root), 0);
        assert_int_equal(verify_incl(idx - 1, n, leaf, proof, plen, root), GH_E_BAD_PROOF);
}

static void check_consistency_tamper(uint64_t m, uint64_t n, const merkle_hash r1,
                                     const merkle_hash r2, merkle_hash *proof, size_t plen) {
        merkle_hash bad;

        for (size_t k = 0; k < plen; k++) {
                for (unsigned bit = 0; bit < 256; bit += 53) {
                        proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                        assert_int_equal(verify_cons(m, n, r1, r2, proof, plen), GH_E_BAD_PROOF);
                        proof[k][bit / 8] ^= (uint8_t)(1u << (bit % 8));
                }
        }
        memcpy(bad, r1, 32);
        bad[0] ^= 0x80;
        assert_int_equal(verify_cons(m, n, bad, r2, proof, plen), GH_E_BAD_PROOF);
        memcpy(bad, r2, 32);
        bad[17] ^= 0x01;
        assert_int_equal(verify_cons(m, n, r1, bad, proof, plen), GH_E_BAD_PROOF);
        if (m > 1)
                assert_int_not_equal(verify_cons(m - 1, n, r1, r2, proof, plen), 0);
        if (m < n)
                assert_int_not_equal(verify_cons(m + 1, n, r1, r2, proof, plen), 0);
        if (plen > 0) {
                assert_int_equal(verify_cons(m, n, r1, r2, proof, plen - 1), GH_E_BAD_PROOF);
                assert_int_equal(verify_cons(m, n, r1, r2, proof + 1, plen - 1), GH_E_BAD_PROOF);
        }
        memcpy(proof[plen], leaves[3], 32);
        assert_int_equal(verify_cons(m, n, r1, r2, proof, plen + 1), GH_E_BAD_PROOF);
}

static void test_consistency(void **state) {
        (void)state;
        for (uint64_t n = 1; n <= 64; n++) {
                merkle_hash r2;

                ref_root(leaves, n, r2);
                for (uint64_t m = 1; m <= n; m++) {
                        merkle_hash proof[MERKLE_MAX_PROOF + 1], r1;
                        size_t plen = 99;

                        ref_root(leaves, m, r1);
                        store.reads = 0;
                        assert_int_equal(
                                merkle_prove_consistency(m, n, store_read, &store, proof, &plen),
                                0);
                        assert_true(store.reads <= 1);
                        if (m == n)
                                assert_int_equal(plen, 0);
                        assert_int_equal(verify_cons(m, n, r1, r2, proof, plen), 0);
                        check_consistency_tamper(m, n, r1, r2, proof, plen);
                }
        }
        for (uint64_t n = 150; n <= MAX_LEAVES; n += 50) {
                merkle_hash r2;

                ref_root(leaves, n, r2);
                for (uint64_t m = 1; m <= n; m += 11) {
                        merkle_hash proof[MERKLE_MAX_PROOF + 1], r1;
                        size_t plen = 0;

                        ref_root(leaves, m, r1);
                        assert_int_equal(
                                merkle_prove_consistency(m, n, store_read, &store, proof, &plen),
                                0);
                        assert_int_equal(verify_cons(m, n, r1, r2, proof, plen), 0);
                }
        }
}

static void test_consistency_edges(void **state) {
        merkle_hash proof[MERKLE_MAX_PROOF], r1, r2;
        size_t plen = 5;

        (void)state;
        ref_root(leaves, 7, r1);
        ref_root(leaves, 9, r2);
        /* m = 0 and m > n */
        assert_int_equal(merkle_prove_consistency(0, 9, store_read, &store, proof, &plen),
                         GH_E_RANGE);
        assert_int_equal(merkle_prove_consistency(10, 9, store_read, &store, proof, &plen),
                         GH_E_RANGE);
        assert_int_equal(plen, 5);
        assert_int_equal(verify_cons(0, 9, r1, r2, proof, 0), GH_E_RANGE);
        assert_int_equal(verify_cons(10, 9, r1, r2, proof, 0), GH_E_RANGE);
        /* m == n: empty proof and equal roots only */
        assert_int_equal(verify_cons(9, 9, r2, r2, NULL, 0), 0);
        assert_int_equal(verify_cons(9, 9, r1, r2, NULL, 0), GH_E_BAD_PROOF);
        memcpy(proof[0], r2, 32);
        assert_int_equal(verify_cons(9, 9, r2, r2, proof, 1), GH_E_BAD_PROOF);
        /* m < n needs a non-empty proof, even for m a power of two */
        ref_root(leaves, 8, r1);
        assert_int_equal(verify_cons(8, 9, r1, r2, NULL, 0), GH_E_BAD_PROOF);
        assert_int_equal(verify_cons(8, 9, r1, r2, proof, MERKLE_MAX_PROOF + 1), GH_E_BAD_PROOF);
}

static void test_border_cap(void **state) {
        struct merkle_border b;
        merkle_hash out[MERKLE_MAX_LEVELS + 1];
        size_t n = 0;

        (void)state;
        merkle_border_init(&b);
        b.size = (UINT64_C(1) << 63) - 2;
        /* Fill the levels the size says are valid, so append has defined input. */
        for (unsigned i = 0; i < MERKLE_MAX_LEVELS; i++)
                memcpy(b.level[i], leaves[i], 32);
        assert_int_equal(merkle_border_append(&b, leaves[0]), 0);
        assert_int_equal(b.size, (UINT64_C(1) << 63) - 1);
        assert_int_equal(merkle_border_append(&b, leaves[0]), GH_E_TOO_LARGE);
        assert_int_equal(b.size, (UINT64_C(1) << 63) - 1);
        assert_int_equal(merkle_stored_append((UINT64_C(1) << 63) - 1, leaves[0], store_read,
                                              &store, out, &n),
                         GH_E_TOO_LARGE);
}

static void test_proof_text(void **state) {
        merkle_hash proof[MERKLE_MAX_PROOF], back[MERKLE_MAX_PROOF];
        char text[MERKLE_MAX_PROOF * 45 + 1];
        size_t n = 0, len = 99;

        (void)state;
        for (size_t i = 0; i < MERKLE_MAX_PROOF; i++)
                memcpy(proof[i], leaves[i], 32);
        /* Empty proof is the empty string. */
        assert_int_equal(merkle_proof_format((const merkle_hash *)proof, 0, text, 1, &len), 0);
        assert_int_equal(len, 0);
        assert_string_equal(text, "");
        assert_int_equal(merkle_proof_parse("", 0, back, &n), 0);
        assert_int_equal(n, 0);
        /* Round trip at several lengths including the cap. */
        static const size_t lengths[] = {1, 2, 3, 7, 64, MERKLE_MAX_PROOF};
        for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
                size_t k = lengths[li];

                assert_int_equal(merkle_proof_format((const merkle_hash *)proof, k, text,
                                                     sizeof(text), &len),
                                 0);
                assert_int_equal(len, k * 45);
                assert_int_equal(text[44], '\n');
                assert_int_equal(text[len - 1], '\n');
                assert_int_equal(merkle_proof_parse(text, len, back, &n), 0);
                assert_int_equal(n, k);
                assert_memory_equal(back, proof, k * 32);
                /* Every truncation fails. */
                for (size_t t = 1; t < len && k <= 3; t++)
                        if (t % 45 != 0)
                                assert_int_equal(merkle_proof_parse(text, t, back, &n),
                                                 GH_E_MALFORMED);
        }
        /* Cap too short */
        len = 7;
        assert_int_equal(merkle_proof_format((const merkle_hash *)proof, 2, text, 90, &len),
                         GH_E_TOO_LARGE);
        assert_int_equal(len, 7); /* untouched on failure */
        assert_int_equal(merkle_proof_format((const merkle_hash *)proof, 2, text, 91, &len), 0);
        assert_int_equal(len, 90);
        assert_int_equal(merkle_proof_format((const merkle_hash *)proof, MERKLE_MAX_PROOF + 1, text,
                                             sizeof(text), &len),
                         GH_E_TOO_LARGE);
        /* More lines than the cap */
        {
                static char big[(MERKLE_MAX_PROOF + 1) * 45];

                for (size_t i = 0; i <= MERKLE_MAX_PROOF; i++)
                        memcpy(big + i * 45, text, 45);
                assert_int_equal(merkle_proof_parse(big, sizeof(big), back, &n), GH_E_TOO_LARGE);
        }
        /* Syntax: CRLF, missing padding, non-canonical bits, non-alphabet, spaces. */
        assert_int_equal(
                merkle_proof_format((const merkle_hash *)proof, 1, text, sizeof(text), &len), 0);
        assert_int_equal(len, 45);
        {
                char t[46];

                memcpy(t, text, 45);
                t[44] = '\r';
                assert_int_equal(merkle_proof_parse(t, 45, back, &n), GH_E_MALFORMED);
                memcpy(t, text, 45);
                t[43] = 'A';
                assert_int_equal(merkle_proof_parse(t, 45, back, &n), GH_E_MALFORMED);
                memcpy(t, text, 45);
                t[0] = '-';
                assert_int_equal(merkle_proof_parse(t, 45, back, &n), GH_E_MALFORMED);
                memcpy(t, text, 45);
                t[0] = ' ';
                assert_int_equal(merkle_proof_parse(t, 45, back, &n), GH_E_MALFORMED);
                /* Last data character with non-zero unused bits: 32 bytes leave 2 spare bits. */
                memcpy(t, text, 45);
                {
                        static const char alpha[] =
                                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
                        const char *pos = strchr(alpha, t[42]);

                        assert_non_null(pos);
                        t[42] = alpha[((pos - alpha) & ~3) | 1];
                }
                assert_int_equal(merkle_proof_parse(t, 45, back, &n), GH_E_MALFORMED);
        }
}

/* Formats a root or proof like tests/vectors/tlog-proofs.txt: base64 joined by ',', "-" if empty.
 */
static void join_b64(const merkle_hash *h, size_t n, char *out) {
        if (n == 0)
                strcpy(out, "-");
        for (size_t i = 0; i < n; i++) {
                if (i > 0)
                        *out++ = ',';
                sodium_bin2base64(out, 45, h[i], 32, sodium_base64_VARIANT_ORIGINAL);
                out += 44;
        }
}

/* Golden vectors: every line of tests/vectors/tlog-proofs.txt, byte for byte. */
static void test_vectors(void **state) {
        const char *root = getenv("GH_SOURCE_ROOT");
        char path[4096], line[MERKLE_MAX_PROOF * 46 + 64], want[MERKLE_MAX_PROOF * 46];
        unsigned checked = 0;
        FILE *f;

        (void)state;
        assert_non_null(root);
        assert_true(strlen(root) + 40 < sizeof(path));
        strcpy(path, root);
        strcat(path, "/tests/vectors/tlog-proofs.txt");
        f = fopen(path, "r");
        assert_non_null(f);
        while (fgets(line, sizeof(line), f) != NULL) {
                unsigned long long a = 0, b = 0;
                merkle_hash h[MERKLE_MAX_PROOF];
                size_t n = 0;
                char *colon;

                if (line[0] == '#')
                        continue;
                colon = strstr(line, ": ");
                assert_non_null(colon);
                if (sscanf(line, "root %llu", &a) == 1) {
                        assert_int_equal(merkle_tree_hash(a, store_read, &store, h[0]), 0);
                        n = 1;
                } else if (sscanf(line, "incl %llu %llu", &a, &b) == 2) {
                        assert_int_equal(merkle_prove_inclusion(a, b, store_read, &store, h, &n),
                                         0);
                } else if (sscanf(line, "cons %llu %llu", &a, &b) == 2) {
                        assert_int_equal(merkle_prove_consistency(a, b, store_read, &store, h, &n),
                                         0);
                } else {
                        fail_msg("bad vector line %s", line);
                }
                join_b64((const merkle_hash *)h, n, want);
                strcat(want, "\n");
                assert_string_equal(colon + 2, want);
                checked++;
        }
        fclose(f);
        assert_true(checked >= 20);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_leaf_and_node_hash),
                cmocka_unit_test(test_roots_all_sizes),
                cmocka_unit_test(test_stored_model),
                cmocka_unit_test(test_read_errors_pass_through),
                cmocka_unit_test(test_inclusion),
                cmocka_unit_test(test_inclusion_edges),
                cmocka_unit_test(test_inclusion_huge_tree),
                cmocka_unit_test(test_consistency),
                cmocka_unit_test(test_consistency_edges),
                cmocka_unit_test(test_border_cap),
                cmocka_unit_test(test_proof_text),
                cmocka_unit_test(test_vectors),
        };
        return cmocka_run_group_tests(tests, setup, NULL);
}
