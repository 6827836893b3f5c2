/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "hash.h"

/*
 * RFC 6962 Merkle tree over SHA-256 (libsodium crypto_hash_sha256, or any
 * struct gh_sha256 through the *_with functions).
 *   leaf hash = SHA-256(0x00 || leaf bytes)
 *   node hash = SHA-256(0x01 || left || right)
 *   empty tree root = SHA-256("")
 *
 * Storage model (the same as Go's golang.org/x/mod/sumdb/tlog): every
 * complete subtree hash is stored once, in append order, at a "stored hash
 * index". Leaf n appends the leaf hash and then the hashes of the subtrees
 * it completes. Any root or proof for sizes up to the stored size needs
 * O(log n) stored hashes, read through a merkle_read_fn.
 */

#define MERKLE_HASH_LEN 32
#define MERKLE_MAX_PROOF 128 /* hashes in any inclusion/consistency proof */
#define MERKLE_MAX_LEVELS 64

typedef uint8_t merkle_hash[MERKLE_HASH_LEN];

void merkle_leaf_hash(const uint8_t *data, size_t len, merkle_hash out);
void merkle_node_hash(const merkle_hash left, const merkle_hash right, merkle_hash out);
void merkle_empty_root(merkle_hash out);
/* The same through the SHA-256 implementation h (hash.h). */
void merkle_leaf_hash_with(const struct gh_sha256 *h, const uint8_t *data, size_t len,
                           merkle_hash out);
void merkle_node_hash_with(const struct gh_sha256 *h, const merkle_hash left,
                           const merkle_hash right, merkle_hash out);

/* Root of n leaf hashes held in memory (n may be 0). */
void merkle_root_of(const merkle_hash *leaves, uint64_t n, merkle_hash out);

/* Incremental appender keeping only the right border (<= 64 hashes). */
struct merkle_border {
        uint64_t size;
        merkle_hash level[MERKLE_MAX_LEVELS]; /* level[i] valid iff bit i of size is set */
};
void merkle_border_init(struct merkle_border *b);
/* GH_E_TOO_LARGE if size would reach 2^63; else 0. */
int merkle_border_append(struct merkle_border *b, const merkle_hash leaf);
void merkle_border_root(const struct merkle_border *b, merkle_hash out);
/* The same through the SHA-256 implementation h (hash.h). */
int merkle_border_append_with(struct merkle_border *b, const struct gh_sha256 *h,
                              const merkle_hash leaf);
void merkle_border_root_with(const struct merkle_border *b, const struct gh_sha256 *h,
                             merkle_hash out);

/* --- stored-hash model --- */
/* Index of the hash of the subtree of 2^level leaves starting at leaf n<<level. */
uint64_t merkle_stored_index(unsigned level, uint64_t n);
/* Number of stored hashes for a tree of n leaves. */
uint64_t merkle_stored_count(uint64_t n);

/*
 * Reads count stored hashes by index into out[0..count). Returns 0, or a
 * negative errno / positive gh_status that is passed through unchanged.
 */
typedef int (*merkle_read_fn)(void *ctx, const uint64_t *indexes, size_t count, merkle_hash *out);

/*
 * Hashes to append to storage when leaf n (0-based, so the tree grows from n
 * to n+1 leaves) with hash leaf is added: out[0] = leaf, then the completed
 * subtrees, at most 64 in all. *count receives how many; they go at stored
 * indexes merkle_stored_count(n) .. +*count.
 */
int merkle_stored_append(uint64_t n, const merkle_hash leaf, merkle_read_fn rd, void *ctx,
                         merkle_hash out[MERKLE_MAX_LEVELS + 1], size_t *count);

/* Root of the first n leaves, from storage holding at least n leaves. */
int merkle_tree_hash(uint64_t n, merkle_read_fn rd, void *ctx, merkle_hash out);

/* Inclusion proof for leaf index in a tree of size n (index < n). */
int merkle_prove_inclusion(uint64_t index, uint64_t n, merkle_read_fn rd, void *ctx,
                           merkle_hash proof[MERKLE_MAX_PROOF], size_t *proof_len);
/* Consistency proof from size m to size n (0 < m <= n; m == n gives an empty proof). */
int merkle_prove_consistency(uint64_t m, uint64_t n, merkle_read_fn rd, void *ctx,
                             merkle_hash proof[MERKLE_MAX_PROOF], size_t *proof_len);

/* RFC 9162 §2.1.3.2. 0 if valid, GH_E_BAD_PROOF or GH_E_RANGE otherwise. */
int merkle_verify_inclusion(uint64_t index, uint64_t n, const merkle_hash leaf,
                            const merkle_hash *proof, size_t proof_len, const merkle_hash root);
/* RFC 9162 §2.1.4.2. m == n requires an empty proof and equal roots; m == 0 is GH_E_RANGE. */
int merkle_verify_consistency(uint64_t m, uint64_t n, const merkle_hash old_root,
                              const merkle_hash new_root, const merkle_hash *proof,
                              size_t proof_len);

/*
 * Proof text as served over HTTP: one standard base64 hash per line, each
 * line ending in '\n', at most MERKLE_MAX_PROOF lines, nothing else.
 * format: writes the text and a NUL, returns 0 and sets *ret_len (NUL
 * excluded; 0 for an empty proof); GH_E_TOO_LARGE if n > MERKLE_MAX_PROOF or
 * cap is short. On failure *ret_len is untouched.
 */
int merkle_proof_format(const merkle_hash *proof, size_t n, char *out, size_t cap, size_t *ret_len);
int merkle_proof_parse(const char *text, size_t len, merkle_hash proof[MERKLE_MAX_PROOF],
                       size_t *n);
