/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

/*
 * SHA-256 behind a seam. The Merkle code (merkle.h, the *_with functions)
 * hashes through a struct gh_sha256, so a program may hand it a faster
 * implementation than the default: the client uses OpenSSL's EVP SHA-256,
 * which uses the CPU's SHA extensions; the daemon keeps libsodium's.
 *
 * hash2 computes out = SHA-256(a || b); alen or blen may be 0 (then a or b
 * may be NULL). It cannot return an error: an implementation that can fail
 * (allocation inside a crypto library) must remember the failure itself
 * (a sticky flag in its ctx) and its caller must check that flag before
 * trusting any result. ctx is passed through unchanged.
 */

#define GH_SHA256_LEN 32

struct gh_sha256 {
        void (*hash2)(void *ctx, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                      uint8_t out[GH_SHA256_LEN]);
        void *ctx;
};

/* libsodium's crypto_hash_sha256 (never fails). A pointer to a constant object. */
const struct gh_sha256 *gh_sha256_sodium(void);
