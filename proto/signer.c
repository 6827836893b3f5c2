/* SPDX-License-Identifier: MIT */
/* The signing seam (signer.h) and its in-memory Ed25519 backend. */
#include "signer.h"

#include <errno.h>
#include <sodium.h>
#include <string.h>

#include "note.h"
#include "status.h"

uint32_t signer_key_id(const char *name, uint8_t type, const uint8_t pk[32]) {
        crypto_hash_sha256_state st;
        const uint8_t sep[2] = {'\n', type};
        uint8_t h[crypto_hash_sha256_BYTES];

        crypto_hash_sha256_init(&st);
        crypto_hash_sha256_update(&st, (const uint8_t *)name, strlen(name));
        crypto_hash_sha256_update(&st, sep, sizeof(sep));
        crypto_hash_sha256_update(&st, pk, 32);
        crypto_hash_sha256_final(&st, h);
        return (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
}

/* --- in-memory Ed25519 backend: ctx is the 64-byte libsodium secret key --- */

static int mem_sign(const struct signer *s, const uint8_t *msg, size_t len,
                    uint8_t sig[SIGNER_SIG_LEN]) {
        return crypto_sign_detached(sig, NULL, msg, len, s->ctx) == 0 ? 0 : -EINVAL;
}

static void mem_free(struct signer *s) {
        if (s->ctx != NULL)
                sodium_free(s->ctx); /* wipes before unmapping */
}

static int mem_dup(const struct signer *s, struct signer *out);

static const struct signer_ops mem_ops = {
        .backend = "ed25519-memory",
        .sign = mem_sign,
        .dup = mem_dup,
        .free = mem_free,
};

static int mem_dup(const struct signer *s, struct signer *out) {
        uint8_t *sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);

        if (sk == NULL)
                return -ENOMEM;
        memcpy(sk, s->ctx, crypto_sign_SECRETKEYBYTES);
        *out = *s;
        out->ctx = sk;
        return 0;
}

static int init_typed(struct signer *s, const char *name, uint8_t type, const uint8_t seed[32]) {
        size_t len;
        uint8_t *sk;

        memset(s, 0, sizeof(*s));
        if (name == NULL)
                return GH_E_MALFORMED;
        len = strnlen(name, SIGNER_NAME_MAX + 1);
        if (!note_name_valid(name, len))
                return GH_E_MALFORMED;
        if (sodium_init() < 0)
                return -ENOMEM;
        sk = sodium_malloc(crypto_sign_SECRETKEYBYTES);
        if (sk == NULL)
                return -ENOMEM;
        if (crypto_sign_seed_keypair(s->pk, sk, seed) != 0) {
                sodium_free(sk);
                memset(s, 0, sizeof(*s));
                return GH_E_MALFORMED;
        }
        memcpy(s->name, name, len);
        s->name[len] = '\0';
        s->type = type;
        s->key_id = signer_key_id(s->name, type, s->pk);
        s->ops = &mem_ops;
        s->ctx = sk;
        return 0;
}

int signer_init_ed25519(struct signer *s, const char *name, const uint8_t seed[32]) {
        return init_typed(s, name, SIG_TYPE_ED25519, seed);
}

int signer_init_cosigner(struct signer *s, const char *name, const uint8_t seed[32]) {
        return init_typed(s, name, SIG_TYPE_COSIGNATURE, seed);
}

int signer_sign(const struct signer *s, const uint8_t *msg, size_t len,
                uint8_t sig[SIGNER_SIG_LEN]) {
        if (s == NULL || s->ops == NULL || s->ops->sign == NULL)
                return GH_E_MALFORMED;
        return s->ops->sign(s, msg, len, sig);
}

int signer_dup(const struct signer *s, struct signer *out) {
        memset(out, 0, sizeof(*out));
        if (s == NULL || s->ops == NULL || s->ops->dup == NULL)
                return GH_E_MALFORMED;
        return s->ops->dup(s, out);
}

void signer_free(struct signer *s) {
        if (s == NULL)
                return;
        if (s->ops != NULL && s->ops->free != NULL)
                s->ops->free(s);
        sodium_memzero(s, sizeof(*s));
}
