/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merkle.h"
#include "signer.h"

/*
 * C2SP signed notes with Ed25519 (c2sp.org/signed-note), verifier keys,
 * tlog checkpoints (c2sp.org/tlog-checkpoint) and the gpuhours attest note.
 *
 * A note is: text (UTF-8, ends in '\n', no control characters but '\n'),
 * a blank line, then signature lines
 *   "\xe2\x80\x94 <name> <base64(key id (4, BE) || signature (64))>\n".
 * The signed message is the text including its final '\n'.
 * key id = first 4 bytes of SHA-256(name || "\n" || 0x01 || public key).
 * vkey  = "<name>+<8 lowercase hex key id>+<base64(0x01 || public key)>".
 */

#define NOTE_MAX_SIZE 8192u  /* whole note, text + signatures */
#define NOTE_MAX_SIGS 32u     /* signature lines accepted (spec: at least 16) */
#define NOTE_SIG_PREFIX "\xe2\x80\x94 " /* em dash, space: starts a signature line */
#define NOTE_SIG_PREFIX_LEN 4u
#define NOTE_NAME_MAX 255u    /* key name / origin bytes */
#define VKEY_MAX_LEN (NOTE_NAME_MAX + 1 + 8 + 1 + 44)

struct note_verifier {
        char name[NOTE_NAME_MAX + 1];
        uint32_t key_id;
        uint8_t pk[32];
};


/* Key name rules: 1..NOTE_NAME_MAX bytes, no space, no '+', no control chars, valid UTF-8. */
bool note_name_valid(const char *name, size_t len);
uint32_t note_key_id(const char *name, const uint8_t pk[32]);

/* The verifier of a signer (its name, key ID and public key). */
void signer_verifier(const struct signer *s, struct note_verifier *out);

/* Parse a vkey string of exactly len bytes (no trailing newline). GH_E_MALFORMED if bad. */
int vkey_parse(const char *s, size_t len, struct note_verifier *out);
/*
 * Writes the vkey and a NUL into out[0..cap). Returns 0 and sets *ret_len to
 * the length (NUL excluded); GH_E_MALFORMED for a bad name, GH_E_TOO_LARGE if
 * cap is short. On failure *ret_len is untouched and out's content unspecified.
 */
int vkey_format(const struct note_verifier *v, char *out, size_t cap, size_t *ret_len);

/*
 * Sign text (must be a valid note text ending in '\n') with a SIG_TYPE_ED25519
 * signer (GH_E_MALFORMED for any other type) and return the full
 * note (text, blank line, one signature line), malloc'd. Verifies the new
 * signature before returning it.
 */
int note_sign(const char *text, size_t len, const struct signer *s, char **out,
              size_t *outlen);

/*
 * Verify a note of exactly len bytes against known keys.
 * Rules (signed-note spec): signatures whose (name, key id) match no known
 * key are ignored; one that matches a known key MUST verify
 * (GH_E_BAD_SIGNATURE otherwise); at least one must verify (GH_E_NO_KEY);
 * more than NOTE_MAX_SIGS lines or more than NOTE_MAX_SIZE bytes is
 * GH_E_TOO_LARGE; bad syntax is GH_E_MALFORMED.
 * If strict is true, every signature line must match a known key
 * (unknown ones make it GH_E_NO_KEY): used for bundles, where every byte
 * must be covered by a signature.
 * On success *text_len = length of the signed text, and *which = index in
 * keys of the first key whose signature verified.
 */
int note_verify(const char *note, size_t len, const struct note_verifier *keys, size_t nkeys,
                bool strict, size_t *text_len, size_t *which);

/* Helpers shared with cosig.c and policy.c. */
/* Canonical padded standard base64 of s[0..len) into out (cap bytes); false on anything else. */
bool note_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen);
/*
 * Splits a note at its last blank line after checking its characters (UTF-8,
 * no control characters but '\n'): *text_len is the signed text's length
 * (with its final '\n'), *sigs_off where the signature lines begin. False if
 * the note has no blank line, no signature or does not end in '\n'.
 */
bool note_split(const char *note, size_t len, size_t *text_len, size_t *sigs_off);

/* One "\xe2\x80\x94 NAME BASE64\n" signature line, as note_sig_next parsed it. */
struct note_sig {
        const char *name; /* into the note, not NUL-terminated */
        size_t name_len;
        uint32_t key_id;                        /* the first 4 decoded bytes, big-endian */
        uint8_t sig[NOTE_MAX_SIZE / 4 * 3 + 3]; /* all decoded bytes, key ID included */
        size_t sig_len;                         /* at least 5 (as Go's note.Open) */
};
/* Walks the signature lines of note[sigs_off..len) (from note_split). */
struct note_sigs {
        const char *p, *end;
        size_t n;
};
void note_sigs_init(struct note_sigs *it, const char *note, size_t len, size_t sigs_off);
/*
 * The next signature line: 0 with *out filled (and *done false), 0 with *done
 * true after the last line, GH_E_TOO_LARGE on line NOTE_MAX_SIGS + 1,
 * GH_E_MALFORMED for a line that is not em dash, space, a valid key name,
 * space, canonical base64 of 5 or more bytes, '\n'.
 */
int note_sig_next(struct note_sigs *it, struct note_sig *out, bool *done);
/*
 * Copies note's text, its blank line and only the signature lines by the key
 * named name[0..name_len) into out (cap >= len): 0 and *out_len, or
 * GH_E_MALFORMED / GH_E_TOO_LARGE as note_split and note_sig_next.
 */
int note_keep_sigs(const char *note, size_t len, const char *name, size_t name_len, char *out,
                   size_t cap, size_t *out_len);

/* --- checkpoints --- */
struct checkpoint {
        char origin[NOTE_NAME_MAX + 1];
        uint64_t size;
        merkle_hash root;
};
#define CHECKPOINT_TEXT_MAX (NOTE_NAME_MAX + 1 + 20 + 1 + 44 + 1 + 1)

/*
 * Text "origin\nsize\nbase64(root)\n" and a NUL into out[0..cap). Returns 0
 * and sets *ret_len (NUL excluded); GH_E_MALFORMED for a bad origin or size,
 * GH_E_TOO_LARGE if cap is short (CHECKPOINT_TEXT_MAX + 1 always suffices).
 * On failure *ret_len is untouched.
 */
int checkpoint_format(const struct checkpoint *c, char *out, size_t cap, size_t *ret_len);
/* Exactly three lines, no extension lines, decimal without leading zeros. */
int checkpoint_parse(const char *text, size_t len, struct checkpoint *out);

/* --- attest note: see FORMAT.md for the domain separation --- */
struct attest {
        char origin[NOTE_NAME_MAX + 1];
        uint8_t nonce[32];
        uint64_t time_ns; /* node's CLOCK_REALTIME when it signed */
        uint64_t size;
        merkle_hash root;
};
#define ATTEST_TEXT_MAX (CHECKPOINT_TEXT_MAX + 200)
/* As checkpoint_format; ATTEST_TEXT_MAX + 1 always suffices. */
int attest_format(const struct attest *a, char *out, size_t cap, size_t *ret_len);
int attest_parse(const char *text, size_t len, struct attest *out);
/* 64 hex digits (either case) to 32 bytes; false on anything else. */
bool nonce_parse_hex(const char *s, size_t len, uint8_t out[32]);
