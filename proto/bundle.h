/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/*
 * Offline bundle (FORMAT.md): everything an auditor needs to verify a
 * node's ledger without the node.
 *
 *   magic    "GHBUNDL1" (8 bytes)
 *   note     u32 length (1..NOTE_MAX_SIZE) + signed checkpoint note
 *   count    u64, must equal the checkpoint's tree size
 *   records  count x (u32 length + record), exactly, nothing after
 *
 * Every byte is covered: the note by its signature (verified in strict mode:
 * no unknown signature lines), the records by the Merkle root, and the
 * framing by both (any change makes parsing, the count or the root fail).
 */

#define BUNDLE_MAGIC "GHBUNDL1"
#define BUNDLE_MAGIC_LEN 8
#define BUNDLE_MAX_RECORDS (1ull << 32)

struct bundle_view {
        const char *note;
        size_t note_len;
        uint64_t count;
        const uint8_t *records; /* count framed records */
        size_t records_len;
};

/*
 * Structural parse of a whole bundle (no signature or root check: the
 * caller does those with note_verify and the Merkle functions). Walks every
 * frame to check the count and that nothing trails. GH_E_MALFORMED or
 * GH_E_TOO_LARGE on failure.
 */
int bundle_parse(const uint8_t *p, size_t len, struct bundle_view *out);

/*
 * Header (magic, note, count); then the caller appends count frames with
 * record_frame_write. note_len 0 sets w's sticky error to GH_E_MALFORMED,
 * note_len > NOTE_MAX_SIZE or count > BUNDLE_MAX_RECORDS to GH_E_TOO_LARGE.
 */
void bundle_write_header(struct writer *w, const char *note, size_t note_len, uint64_t count);
