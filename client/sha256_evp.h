/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>

#include "hash.h"

/*
 * SHA-256 through OpenSSL's EVP interface (libcrypto, which libcurl loads
 * anyway): it uses the CPU's SHA extensions where they exist, some 3x
 * libsodium's portable code. One per thread of use; not shared.
 */
struct sha256_evp;

/* NULL if libcrypto cannot provide SHA-256 (out of memory, no provider). */
struct sha256_evp *sha256_evp_new(void);
void sha256_evp_free(struct sha256_evp *e);
/* The interface for the Merkle code; valid until sha256_evp_free. */
const struct gh_sha256 *sha256_evp_hasher(struct sha256_evp *e);
/* True once any hash failed inside libcrypto: every result since is garbage. */
bool sha256_evp_failed(const struct sha256_evp *e);
