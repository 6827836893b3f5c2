/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merkle.h"
#include "note.h"
#include "record.h"

/*
 * The node's append-only, signed ledger in the state directory.
 *
 * One writer (the sampling thread) calls ledger_append; any number of
 * readers (the HTTP thread) call the read functions concurrently. Readers
 * only ever see records covered by the published checkpoint.
 *
 * Errors: 0 ok; negative errno for system failures (-EIO is fatal for the
 * caller, -ENOSPC means "retry later, nothing was appended"); positive
 * gh_status for data outcomes. err/errlen receive a one-line message.
 */

struct ledger;

/*
 * Open or create the ledger in state_dir, recover (truncate a torn tail,
 * rebuild what proofs need) and check that the stored records reproduce
 * the last signed checkpoint: if not, fail with a message naming the first
 * bad leaf. The signer stays owned by the caller and must outlive the ledger;
 * it signs checkpoints, on the sampling thread only. The ledger keeps its
 * own duplicate of it (signer_dup) for attest notes, which the HTTP thread
 * signs, so that a flood of /v1/attest never waits on or delays the
 * checkpoint signer; the only shared step is a short read lock to copy the
 * tree head, and the lock prefers the writer.
 */
int ledger_open(const char *state_dir, const struct signer *signer, struct ledger **out,
                char *err, size_t errlen);
void ledger_close(struct ledger *l);

/*
 * Append one record: encode, write, fdatasync, store its Merkle hashes,
 * sign the new checkpoint, replace the checkpoint file atomically, then
 * publish to readers. Nothing is published unless everything before it is
 * durable. On -ENOSPC the ledger is unchanged (a partial write is cut back).
 * -EINPROGRESS: the record is durable and its tree signed, but the
 * checkpoint could not be written (no space): the record is kept (never cut
 * back once signed) and the same note is published by ledger_publish_pending
 * or the next append. A ledger opened on a full disk serves its signed
 * prefix and finishes the recovery the same way.
 */
int ledger_append(struct ledger *l, const struct record *r, char *err, size_t errlen);

/* True while durable records wait for their checkpoint (a full disk). Writer thread. */
bool ledger_unpublished(struct ledger *l);
/* Retry publishing them: 0 done (or nothing to do), -ENOSPC later, -EIO fatal. Writer thread. */
int ledger_publish_pending(struct ledger *l, char *err, size_t errlen);

/* Published tree size (what /checkpoint says). */
uint64_t ledger_size(struct ledger *l);
/* Copy of the latest signed checkpoint note (malloc'd) and its size. */
int ledger_checkpoint(struct ledger *l, char **note, size_t *len, uint64_t *size);
/* Last record of the published tree decoded, if any (0, or GH_E_RANGE when empty). */
int ledger_last_record(struct ledger *l, struct record *out);

/*
 * Framed records [start, *served_end) with start < *served_end <= end <= ledger_size(),
 * at most max_records and max_bytes (always at least one record). malloc'd.
 */
int ledger_read_records(struct ledger *l, uint64_t start, uint64_t end, size_t max_records,
                        size_t max_bytes, uint8_t **out, size_t *outlen, uint64_t *served_end);

int ledger_prove_inclusion(struct ledger *l, uint64_t index, uint64_t size,
                           merkle_hash proof[MERKLE_MAX_PROOF], size_t *n);
int ledger_prove_consistency(struct ledger *l, uint64_t old_size, uint64_t new_size,
                             merkle_hash proof[MERKLE_MAX_PROOF], size_t *n);

/* Signed attest note for nonce over the published tree, stamped with CLOCK_REALTIME now. */
int ledger_attest(struct ledger *l, const uint8_t nonce[32], char **note, size_t *len);
