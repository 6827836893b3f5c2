/* SPDX-License-Identifier: MIT */
#include "hash.h"

#include <sodium.h>

static void sodium_hash2(void *ctx, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                         uint8_t out[GH_SHA256_LEN]) {
        crypto_hash_sha256_state st;

        (void)ctx;
        crypto_hash_sha256_init(&st);
        if (alen)
                crypto_hash_sha256_update(&st, a, alen);
        if (blen)
                crypto_hash_sha256_update(&st, b, blen);
        crypto_hash_sha256_final(&st, out);
}

static const struct gh_sha256 sodium_sha256 = {.hash2 = sodium_hash2, .ctx = NULL};

const struct gh_sha256 *gh_sha256_sodium(void) {
        return &sodium_sha256;
}
