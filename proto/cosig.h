/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merkle.h"
#include "note.h"
#include "signer.h"

/*
 * C2SP tlog-cosignature: Ed25519 cosignature/v1 (signature type 0x04), and
 * the body of a C2SP tlog-witness add-checkpoint request. See FORMAT.md,
 * "Witnesses".
 *
 * A cosigner key is held in a struct note_verifier (name, key ID, public
 * key) whose key ID is SHA-256(name || "\n" || 0x04 || pk)[:4]; its vkey is
 * "<name>+<8 hex key id>+<base64(0x04 || pk)>".
 *
 * Signed message (exact bytes): "cosignature/v1\n" "time <T>\n" then the
 * whole checkpoint text with its final '\n' (no signature lines), T in
 * decimal without leading zeros. Signature line payload: key ID (4, BE) ||
 * T (8, BE) || Ed25519 signature (64) = 76 bytes.
 */

#define COSIG_TIME_MAX ((UINT64_C(1) << 63) - 1)
#define COSIG_LINE_MAX (4 + NOTE_NAME_MAX + 1 + 104 + 1) /* "— name b64(76)\n" */
#define COSIG_MSG_MAX (15 + 5 + 20 + 1 + CHECKPOINT_TEXT_MAX)

/* Cosigner vkey (type 0x04 only). GH_E_MALFORMED if bad. */
int cosig_vkey_parse(const char *s, size_t len, struct note_verifier *out);
/* Writes the vkey and a NUL; 0 and *len, or GH_E_MALFORMED / GH_E_TOO_LARGE. */
int cosig_vkey_format(const struct note_verifier *v, char *out, size_t cap, size_t *len);

/* The signed message for checkpoint text[0..tlen) at time t. 0 and *len, or a status. */
int cosig_message(const char *text, size_t tlen, uint64_t t, uint8_t *out, size_t cap,
                  size_t *len);

/*
 * A cosignature line over checkpoint text[0..tlen) (a valid checkpoint
 * text) at time t (1..COSIG_TIME_MAX), signed by a SIG_TYPE_COSIGNATURE
 * signer. Writes "— <name> <base64>\n" and a NUL; 0 and *len, or a status.
 */
int cosig_sign(const struct signer *s, const char *text, size_t tlen, uint64_t t, char *out,
               size_t cap, size_t *len);

/*
 * Checks the cosignatures in a note against known cosigner keys. Lines
 * whose (name, key ID) match no key are ignored; a matching line must be
 * 76 bytes, carry a timestamp in 1..COSIG_TIME_MAX and verify
 * (GH_E_BAD_SIGNATURE otherwise). times[i] receives the newest verified
 * timestamp of keys[i], 0 if none. Malformed notes: GH_E_MALFORMED;
 * more than NOTE_MAX_SIGS lines: GH_E_TOO_LARGE. Does not check the log's
 * own signature (note_verify does).
 */
int cosig_verify(const char *note, size_t len, const struct note_verifier *keys, size_t nkeys,
                 uint64_t *times);

/* --- tlog-witness add-checkpoint request body --- */

#define ADDCP_MAX_PROOF 63u
#define ADDCP_BODY_MAX (4 + 20 + 1 + ADDCP_MAX_PROOF * 45 + 1 + NOTE_MAX_SIZE)

struct addcp_request {
        uint64_t old_size;
        merkle_hash proof[ADDCP_MAX_PROOF];
        size_t proof_len;
        const char *note; /* points into the parsed body */
        size_t note_len;
};

/*
 * "old <N>\n", up to 63 base64 hash lines, "\n", then the checkpoint note
 * (everything to the end). Only syntax: the caller checks the note.
 * GH_E_MALFORMED or GH_E_TOO_LARGE (body over ADDCP_BODY_MAX, > 63 lines).
 */
int addcp_parse(const char *body, size_t len, struct addcp_request *out);
/* The body for a request; malloc'd in *out. 0 or a status / -ENOMEM. */
int addcp_format(uint64_t old_size, const merkle_hash *proof, size_t proof_len, const char *note,
                 size_t note_len, char **out, size_t *outlen);
