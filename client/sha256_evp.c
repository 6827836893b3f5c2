/* SPDX-License-Identifier: MIT */
#include "sha256_evp.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

struct sha256_evp {
        EVP_MD *md; /* fetched once: no provider look-up per hash */
        EVP_MD_CTX *ctx;
        bool failed;
        struct gh_sha256 iface;
};

static void evp_hash2(void *ctx, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
                      uint8_t out[GH_SHA256_LEN]) {
        struct sha256_evp *e = ctx;
        unsigned int n = 0;

        if (EVP_DigestInit_ex2(e->ctx, e->md, NULL) != 1 ||
            (alen && EVP_DigestUpdate(e->ctx, a, alen) != 1) ||
            (blen && EVP_DigestUpdate(e->ctx, b, blen) != 1) ||
            EVP_DigestFinal_ex(e->ctx, out, &n) != 1 || n != GH_SHA256_LEN) {
                e->failed = true;
                memset(out, 0, GH_SHA256_LEN);
        }
}

struct sha256_evp *sha256_evp_new(void) {
        struct sha256_evp *e = calloc(1, sizeof(*e));
        if (!e)
                return NULL;
        e->md = EVP_MD_fetch(NULL, "SHA256", NULL);
        e->ctx = EVP_MD_CTX_new();
        if (!e->md || !e->ctx) {
                sha256_evp_free(e);
                return NULL;
        }
        e->iface.hash2 = evp_hash2;
        e->iface.ctx = e;
        return e;
}

void sha256_evp_free(struct sha256_evp *e) {
        if (!e)
                return;
        EVP_MD_CTX_free(e->ctx);
        EVP_MD_free(e->md);
        free(e);
}

const struct gh_sha256 *sha256_evp_hasher(struct sha256_evp *e) {
        return &e->iface;
}

bool sha256_evp_failed(const struct sha256_evp *e) {
        return e->failed;
}
