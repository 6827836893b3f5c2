/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The signing seam: everything that signs (checkpoints, attest notes,
 * witness cosignatures) goes through a struct signer, never through raw key
 * material. A backend provides signer_ops; the only backend today is an
 * Ed25519 key held in sodium_malloc memory (signer_init_ed25519 and
 * signer_init_cosigner; the daemon's and the witness's key files are loaded
 * into it by daemon/key.c). A hardware-held key (TPM, PKCS#11) is one more
 * signer_ops in the program that talks to it; proto stays pure.
 *
 * Threads: a backend's sign must be safe to call from one thread per signer
 * instance. Callers that sign from several threads make one instance per
 * thread with signer_dup, so that no thread ever waits on another's
 * signature (gpuhoursd: the sampling thread signs checkpoints with its own
 * instance; the HTTP thread signs attest notes with a duplicate).
 */

#define SIGNER_NAME_MAX 255u

/* Signature type bytes (C2SP signed-note): what the key ID and vkey commit to. */
#define SIG_TYPE_ED25519 0x01     /* plain signed-note Ed25519 */
#define SIG_TYPE_COSIGNATURE 0x04 /* timestamped Ed25519 cosignature/v1 (tlog-cosignature) */

#define SIGNER_SIG_LEN 64 /* Ed25519 signature bytes */

struct signer;

struct signer_ops {
        const char *backend; /* short name for logs, e.g. "ed25519-memory" */
        /* Ed25519 signature over msg[0..len). 0 or negative errno. */
        int (*sign)(const struct signer *s, const uint8_t *msg, size_t len,
                    uint8_t sig[SIGNER_SIG_LEN]);
        /* A second, independent instance of the same key (for another thread). */
        int (*dup)(const struct signer *s, struct signer *out);
        void (*free)(struct signer *s);
};

struct signer {
        char name[SIGNER_NAME_MAX + 1];
        uint8_t type; /* SIG_TYPE_ED25519 or SIG_TYPE_COSIGNATURE */
        uint32_t key_id;
        uint8_t pk[32];
        const struct signer_ops *ops;
        void *ctx; /* backend state */
};

/* Key ID: first 4 bytes (big-endian) of SHA-256(name || "\n" || type || pk). */
uint32_t signer_key_id(const char *name, uint8_t type, const uint8_t pk[32]);

/*
 * In-memory Ed25519 backend from a 32-byte seed; the secret key lives in
 * sodium_malloc memory and is wiped by signer_free. GH_E_MALFORMED (bad
 * name) or -ENOMEM.
 */
int signer_init_ed25519(struct signer *s, const char *name, const uint8_t seed[32]);
int signer_init_cosigner(struct signer *s, const char *name, const uint8_t seed[32]);

/* Signs through the backend; GH_E_MALFORMED if s has no backend. */
int signer_sign(const struct signer *s, const uint8_t *msg, size_t len,
                uint8_t sig[SIGNER_SIG_LEN]);
int signer_dup(const struct signer *s, struct signer *out);
/* Frees the backend state; accepts a zeroed struct. */
void signer_free(struct signer *s);
