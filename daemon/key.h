/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "note.h"

#define KEY_FILE "node.key"
#define KEY_SEED_LEN 32

/*
 * The node's Ed25519 signing key: the 32-byte seed in
 * $CREDENTIALS_DIRECTORY/node.key (systemd LoadCredential=) if that file
 * exists, else <state_dir>/node.key, which is created (mode 0600, atomically,
 * never overwritten) when absent and allow_create is set. A key file with the
 * wrong size, the wrong type or any group/other permission bit is refused.
 * The seed only ever lives in sodium_malloc memory and is wiped.
 * 0, or -errno / a positive gh_status with a one-line message in err.
 * *source receives a short description of where the key came from; *created
 * (may be NULL) is set to true only when this call created a new key file.
 */
int key_load(const char *state_dir, const char *origin, struct signer *out, char *source,
             size_t sourcelen, bool *created, char *err, size_t errlen);
