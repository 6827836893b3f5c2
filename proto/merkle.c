/* SPDX-License-Identifier: MIT */
/*
 * RFC 6962 Merkle tree: hashing, the right-border appender, the stored-hash
 * model of Go's golang.org/x/mod/sumdb/tlog, proof generation from storage
 * and RFC 9162 proof verification.
 */
#include "merkle.h"

#include <sodium.h>
#include <stdbool.h>
#include <string.h>

#include "status.h"

#define MERKLE_SIZE_LIMIT (UINT64_C(1) << 63) /* tree sizes stay below this */

void merkle_leaf_hash_with(const struct gh_sha256 *h, const uint8_t *data, size_t len,
                           merkle_hash out) {
        static const uint8_t prefix = 0x00;

        h->hash2(h->ctx, &prefix, 1, data, len, out);
}

void merkle_node_hash_with(const struct gh_sha256 *h, const merkle_hash left,
                           const merkle_hash right, merkle_hash out) {
        uint8_t buf[1 + 2 * MERKLE_HASH_LEN];

        buf[0] = 0x01;
        memcpy(buf + 1, left, MERKLE_HASH_LEN);
        memcpy(buf + 1 + MERKLE_HASH_LEN, right, MERKLE_HASH_LEN);
        h->hash2(h->ctx, buf, sizeof(buf), NULL, 0, out);
}

void merkle_leaf_hash(const uint8_t *data, size_t len, merkle_hash out) {
        merkle_leaf_hash_with(gh_sha256_sodium(), data, len, out);
}

void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out) {
        merkle_node_hash_with(gh_sha256_sodium(), left, right, out);
}

void merkle_empty_root(merkle_hash out) {
        crypto_hash_sha256(out, (const uint8_t *)"", 0);
}

/* --- right-border appender --- */

void merkle_border_init(struct merkle_border *b) {
        memset(b, 0, sizeof(*b));
}

int merkle_border_append_with(struct merkle_border *b, const struct gh_sha256 *hs,
                              const merkle_hash leaf) {
        merkle_hash h;
        unsigned i;

        if (b->size >= MERKLE_SIZE_LIMIT - 1)
                return GH_E_TOO_LARGE;
        memcpy(h, leaf, MERKLE_HASH_LEN);
        /* Each set low bit of size is a complete subtree that the new leaf closes. */
        for (i = 0; (b->size >> i) & 1; i++)
                merkle_node_hash_with(hs, b->level[i], h, h);
        memcpy(b->level[i], h, MERKLE_HASH_LEN);
        b->size++;
        return 0;
}

int merkle_border_append(struct merkle_border *b, const merkle_hash leaf) {
        return merkle_border_append_with(b, gh_sha256_sodium(), leaf);
}

void merkle_border_root_with(const struct merkle_border *b, const struct gh_sha256 *hs,
                             merkle_hash out) {
        merkle_hash h;
        unsigned i;

        if (b->size == 0) {
                merkle_empty_root(out);
                return;
        }
        i = (unsigned)__builtin_ctzll(b->size);
        memcpy(h, b->level[i], MERKLE_HASH_LEN);
        for (i++; i < MERKLE_MAX_LEVELS; i++)
                if ((b->size >> i) & 1)
                        merkle_node_hash_with(hs, b->level[i], h, h);
        memcpy(out, h, MERKLE_HASH_LEN);
}

void merkle_border_root(const struct merkle_border *b, merkle_hash out) {
        merkle_border_root_with(b, gh_sha256_sodium(), out);
}

void merkle_root_of(const merkle_hash *leaves, uint64_t n, merkle_hash out) {
        struct merkle_border b;

        merkle_border_init(&b);
        for (uint64_t i = 0; i < n && i < MERKLE_SIZE_LIMIT - 1; i++)
                (void)merkle_border_append(&b, leaves[i]);
        merkle_border_root(&b, out);
}

/* --- stored-hash model (Crosby & Wallach §3.3, as in Go's tlog) --- */

uint64_t merkle_stored_index(unsigned level, uint64_t n) {
        uint64_t i = 0;

        /* Level L's n'th hash is written right after level L+1's 2n+1'th hash. */
        for (unsigned l = level; l > 0; l--)
                n = 2 * n + 1;
        /* Level 0's n'th hash is written at n + n/2 + n/4 + ... */
        for (; n > 0; n >>= 1)
                i += n;
        return i + level;
}

uint64_t merkle_stored_count(uint64_t n) {
        uint64_t count;

        if (n == 0)
                return 0;
        count = merkle_stored_index(0, n - 1) + 1;
        for (uint64_t i = n - 1; i & 1; i >>= 1)
                count++;
        return count;
}

/* Largest power of two strictly less than n (n >= 2). */
static uint64_t split_point(uint64_t n) {
        return UINT64_C(1) << (63 - __builtin_clzll(n - 1));
}

/*
 * A list of subtrees [lo, hi) whose hashes make up a root or a proof, and
 * the stored indexes needed to compute them.
 */
#define SEGMENTS_MAX (MERKLE_MAX_PROOF + 2)
#define INDEXES_MAX (2 * MERKLE_MAX_PROOF + 2 * MERKLE_MAX_LEVELS)
struct plan {
        size_t nseg;
        uint64_t lo[SEGMENTS_MAX], hi[SEGMENTS_MAX];
        size_t first[SEGMENTS_MAX + 1]; /* segment s uses indexes [first[s], first[s+1]) */
        size_t nidx;
        uint64_t idx[INDEXES_MAX];
};

/* Adds subtree [lo, hi) (lo < hi): its stored hashes are the complete subtrees from the left. */
static int plan_add(struct plan *p, uint64_t lo, uint64_t hi) {
        if (p->nseg >= SEGMENTS_MAX)
                return GH_E_TOO_LARGE;
        p->lo[p->nseg] = lo;
        p->hi[p->nseg] = hi;
        p->first[p->nseg] = p->nidx;
        while (lo < hi) {
                unsigned level = 63u - (unsigned)__builtin_clzll(hi - lo);
                uint64_t k = UINT64_C(1) << level;

                if ((lo & (k - 1)) != 0 || p->nidx >= INDEXES_MAX)
                        return GH_E_RANGE;
                p->idx[p->nidx++] = merkle_stored_index(level, lo >> level);
                lo += k;
        }
        p->nseg++;
        p->first[p->nseg] = p->nidx;
        return 0;
}

/* Reads all stored hashes of the plan in one call; out[s] = hash of segment s. */
static int plan_run(const struct plan *p, merkle_read_fn rd, void *ctx, merkle_hash *out) {
        merkle_hash hashes[INDEXES_MAX];
        int r;

        if (p->nidx > 0) {
                r = rd(ctx, p->idx, p->nidx, hashes);
                if (r != 0)
                        return r;
        }
        for (size_t s = 0; s < p->nseg; s++) {
                size_t a = p->first[s], z = p->first[s + 1];
                merkle_hash h;

                memcpy(h, hashes[z - 1], MERKLE_HASH_LEN);
                while (z - 1 > a) {
                        z--;
                        merkle_node_hash(hashes[z - 1], h, h);
                }
                memcpy(out[s], h, MERKLE_HASH_LEN);
        }
        return 0;
}

int merkle_stored_append(uint64_t n, const merkle_hash leaf, merkle_read_fn rd, void *ctx,
                         merkle_hash out[MERKLE_MAX_LEVELS + 1], size_t *count) {
        uint64_t indexes[MERKLE_MAX_LEVELS];
        merkle_hash old[MERKLE_MAX_LEVELS];
        merkle_hash h;
        unsigned m;
        int r;

        if (n >= MERKLE_SIZE_LIMIT - 1)
                return GH_E_TOO_LARGE;
        /* Each trailing 1 bit of n completes a subtree with an adjacent stored one. */
        m = (unsigned)__builtin_ctzll(n + 1);
        for (unsigned i = 0; i < m; i++)
                indexes[m - 1 - i] = merkle_stored_index(i, (n >> i) - 1);
        if (m > 0) {
                r = rd(ctx, indexes, m, old);
                if (r != 0)
                        return r;
        }
        memcpy(h, leaf, MERKLE_HASH_LEN);
        memcpy(out[0], h, MERKLE_HASH_LEN);
        for (unsigned i = 0; i < m; i++) {
                merkle_node_hash(old[m - 1 - i], h, h);
                memcpy(out[i + 1], h, MERKLE_HASH_LEN);
        }
        *count = (size_t)m + 1;
        return 0;
}

int merkle_tree_hash(uint64_t n, merkle_read_fn rd, void *ctx, merkle_hash out) {
        struct plan p = {0};
        merkle_hash seg[1];
        int r;

        if (n >= MERKLE_SIZE_LIMIT)
                return GH_E_RANGE;
        if (n == 0) {
                merkle_empty_root(out);
                return 0;
        }
        r = plan_add(&p, 0, n);
        if (r == 0)
                r = plan_run(&p, rd, ctx, seg);
        if (r == 0)
                memcpy(out, seg[0], MERKLE_HASH_LEN);
        return r;
}

/*
 * Proofs: walk down from [0, n) toward the leaf (or old size), recording the
 * subtree not taken at each step. The proof lists those subtree hashes from
 * the bottom up, i.e. in reverse order of discovery.
 */
static int plan_reverse_out(const struct plan *p, merkle_read_fn rd, void *ctx,
                            merkle_hash proof[MERKLE_MAX_PROOF], size_t *proof_len) {
        merkle_hash seg[SEGMENTS_MAX];
        int r;

        if (p->nseg > MERKLE_MAX_PROOF)
                return GH_E_TOO_LARGE;
        r = plan_run(p, rd, ctx, seg);
        if (r != 0)
                return r;
        for (size_t s = 0; s < p->nseg; s++)
                memcpy(proof[s], seg[p->nseg - 1 - s], MERKLE_HASH_LEN);
        *proof_len = p->nseg;
        return 0;
}

int merkle_prove_inclusion(uint64_t index, uint64_t n, merkle_read_fn rd, void *ctx,
                           merkle_hash proof[MERKLE_MAX_PROOF], size_t *proof_len) {
        struct plan p = {0};
        uint64_t lo = 0, hi = n;
        int r;

        if (n >= MERKLE_SIZE_LIMIT || index >= n)
                return GH_E_RANGE;
        while (hi - lo > 1) {
                uint64_t k = split_point(hi - lo);

                if (index < lo + k) {
                        r = plan_add(&p, lo + k, hi);
                        hi = lo + k;
                } else {
                        r = plan_add(&p, lo, lo + k);
                        lo += k;
                }
                if (r != 0)
                        return r;
        }
        return plan_reverse_out(&p, rd, ctx, proof, proof_len);
}

int merkle_prove_consistency(uint64_t m, uint64_t n, merkle_read_fn rd, void *ctx,
                             merkle_hash proof[MERKLE_MAX_PROOF], size_t *proof_len) {
        struct plan p = {0};
        uint64_t lo = 0, hi = n;
        int r;

        if (n >= MERKLE_SIZE_LIMIT || m == 0 || m > n)
                return GH_E_RANGE;
        for (;;) {
                uint64_t k;

                if (m == hi) {
                        /* Common ground: the old tree's root (lo == 0) is known to the verifier. */
                        if (lo != 0) {
                                r = plan_add(&p, lo, hi);
                                if (r != 0)
                                        return r;
                        }
                        break;
                }
                k = split_point(hi - lo);
                if (m <= lo + k) {
                        r = plan_add(&p, lo + k, hi);
                        hi = lo + k;
                } else {
                        r = plan_add(&p, lo, lo + k);
                        lo += k;
                }
                if (r != 0)
                        return r;
        }
        return plan_reverse_out(&p, rd, ctx, proof, proof_len);
}

/* --- RFC 9162 verification --- */

int merkle_verify_inclusion(uint64_t index, uint64_t n, const merkle_hash leaf,
                            const merkle_hash *proof, size_t proof_len, const merkle_hash root) {
        merkle_hash r;
        uint64_t fn, sn;

        if (n >= MERKLE_SIZE_LIMIT || index >= n)
                return GH_E_RANGE;
        if (proof_len > MERKLE_MAX_PROOF || (proof_len > 0 && proof == NULL))
                return GH_E_BAD_PROOF;
        fn = index;
        sn = n - 1;
        memcpy(r, leaf, MERKLE_HASH_LEN);
        for (size_t i = 0; i < proof_len; i++) {
                if (sn == 0)
                        return GH_E_BAD_PROOF;
                if ((fn & 1) || fn == sn) {
                        merkle_node_hash(proof[i], r, r);
                        while (!(fn & 1) && fn != 0) {
                                fn >>= 1;
                                sn >>= 1;
                        }
                } else {
                        merkle_node_hash(r, proof[i], r);
                }
                fn >>= 1;
                sn >>= 1;
        }
        if (sn != 0 || sodium_memcmp(r, root, MERKLE_HASH_LEN) != 0)
                return GH_E_BAD_PROOF;
        return 0;
}

int merkle_verify_consistency(uint64_t m, uint64_t n, const merkle_hash old_root,
                              const merkle_hash new_root, const merkle_hash *proof,
                              size_t proof_len) {
        merkle_hash fr, sr;
        uint64_t fn, sn;
        size_t i;

        if (n >= MERKLE_SIZE_LIMIT || m == 0 || m > n)
                return GH_E_RANGE;
        if (proof_len > MERKLE_MAX_PROOF || (proof_len > 0 && proof == NULL))
                return GH_E_BAD_PROOF;
        if (m == n) {
                if (proof_len != 0 || sodium_memcmp(old_root, new_root, MERKLE_HASH_LEN) != 0)
                        return GH_E_BAD_PROOF;
                return 0;
        }
        if (proof_len == 0)
                return GH_E_BAD_PROOF;
        fn = m - 1;
        sn = n - 1;
        /* If m is a power of two, the path implicitly starts with old_root. */
        if ((m & (m - 1)) == 0) {
                memcpy(fr, old_root, MERKLE_HASH_LEN);
                i = 0;
        } else {
                memcpy(fr, proof[0], MERKLE_HASH_LEN);
                i = 1;
        }
        memcpy(sr, fr, MERKLE_HASH_LEN);
        while (fn & 1) {
                fn >>= 1;
                sn >>= 1;
        }
        for (; i < proof_len; i++) {
                if (sn == 0)
                        return GH_E_BAD_PROOF;
                if ((fn & 1) || fn == sn) {
                        merkle_node_hash(proof[i], fr, fr);
                        merkle_node_hash(proof[i], sr, sr);
                        while (!(fn & 1) && fn != 0) {
                                fn >>= 1;
                                sn >>= 1;
                        }
                } else {
                        merkle_node_hash(sr, proof[i], sr);
                }
                fn >>= 1;
                sn >>= 1;
        }
        if (sn != 0)
                return GH_E_BAD_PROOF;
        /* Evaluate both comparisons: no early exit on the first. */
        if ((sodium_memcmp(fr, old_root, MERKLE_HASH_LEN) |
             sodium_memcmp(sr, new_root, MERKLE_HASH_LEN)) != 0)
                return GH_E_BAD_PROOF;
        return 0;
}

/* --- proof text --- */

#define B64_HASH_LEN 44 /* standard base64 of 32 bytes, with one '=' */

int merkle_proof_format(const merkle_hash *proof, size_t n, char *out, size_t cap,
                        size_t *ret_len) {
        size_t need;

        if (n > MERKLE_MAX_PROOF)
                return GH_E_TOO_LARGE;
        need = n * (B64_HASH_LEN + 1) + 1;
        if (cap < need)
                return GH_E_TOO_LARGE;
        for (size_t i = 0; i < n; i++) {
                char *line = out + i * (B64_HASH_LEN + 1);

                sodium_bin2base64(line, B64_HASH_LEN + 1, proof[i], MERKLE_HASH_LEN,
                                  sodium_base64_VARIANT_ORIGINAL);
                line[B64_HASH_LEN] = '\n';
        }
        out[need - 1] = '\0';
        *ret_len = need - 1;
        return 0;
}

/* Exactly 44 characters of canonical standard base64 for 32 bytes. */
static bool hash_from_base64(const char *s, merkle_hash out) {
        char again[B64_HASH_LEN + 1];
        merkle_hash h;
        size_t binlen = 0;

        if (sodium_base642bin(h, sizeof(h), s, B64_HASH_LEN, NULL, &binlen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0 ||
            binlen != MERKLE_HASH_LEN)
                return false;
        /* Canonical: re-encoding gives back the same characters. */
        sodium_bin2base64(again, sizeof(again), h, sizeof(h), sodium_base64_VARIANT_ORIGINAL);
        if (memcmp(again, s, B64_HASH_LEN) != 0)
                return false;
        memcpy(out, h, MERKLE_HASH_LEN);
        return true;
}

int merkle_proof_parse(const char *text, size_t len, merkle_hash proof[MERKLE_MAX_PROOF],
                       size_t *n) {
        const size_t line = B64_HASH_LEN + 1;
        merkle_hash tmp[MERKLE_MAX_PROOF];
        size_t count;

        if (len > MERKLE_MAX_PROOF * line)
                return GH_E_TOO_LARGE;
        if (len % line != 0)
                return GH_E_MALFORMED;
        count = len / line;
        for (size_t i = 0; i < count; i++) {
                const char *l = text + i * line;

                if (l[B64_HASH_LEN] != '\n' || !hash_from_base64(l, tmp[i]))
                        return GH_E_MALFORMED;
        }
        if (count > 0)
                memcpy(proof, tmp, count * sizeof(tmp[0]));
        *n = count;
        return 0;
}
