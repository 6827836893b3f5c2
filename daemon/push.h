/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "note.h"

/*
 * Pushing checkpoints to witnesses (C2SP tlog-witness add-checkpoint), on a
 * thread per witness: the sampling thread never waits for them, a witness
 * that is down or never answers delays no other witness's cosignatures, and
 * they only take the ledger's read lock (to copy the checkpoint and build a
 * proof). A new checkpoint is served on /checkpoint at once, before any
 * witness has answered: until then (normally well under a second: each
 * thread looks for a new checkpoint every 200 ms) it carries no
 * cosignatures. The node never serves an older, cosigned checkpoint in its
 * place; the auditor's client says when a missing quorum may be only that.
 *
 * The witnesses are the "witness NAME VKEY URL" lines of a C2SP tlog-policy
 * file (--witnesses); the URL is the submission prefix. Each new checkpoint
 * is sent with a consistency proof from the size that witness last cosigned
 * (remembered across restarts; "old 0" at first); a 409 answer is retried
 * once from the size it returns. New checkpoints go out at most once per
 * period per witness, an unchanged one again every PUSH_REFRESH_S so that
 * the cosignature times stay fresh. Requests time out after
 * PUSH_TIMEOUT_S. Failures are logged once per episode (and the recovery),
 * counted in /metrics and summarised in the service STATUS.
 *
 * Cosignatures are verified, then stored durably, one file per witness
 * (<state_dir>/witness-<hex SHA-256(witness vkey)>.cosigned: the cosigned
 * checkpoint note), and appended to /checkpoint when they cover the
 * checkpoint it serves.
 */

#define PUSH_REFRESH_S 600u /* unchanged re-submission (test hook: GPUHOURSD_TEST_WITNESS_REFRESH_S) */
#define PUSH_TIMEOUT_S 10u

struct push;

/*
 * Reads the policy file and the stored cosignatures. 0, or EXIT_USAGE for a
 * bad file (message in err) or a negative errno.
 */
int push_start(const char *policy_path, const char *state_dir, struct ledger *l,
               const struct note_verifier *node_key, unsigned period_s, struct push **out,
               char *err, size_t errlen);
/* Starts the push threads (one per witness). 0 or negative errno. */
int push_run(struct push *p);
/* Stops the thread and frees everything. Accepts NULL. */
void push_stop(struct push *p);

/* Changes whenever the set of held cosignatures changes (for caches). */
uint64_t push_generation(struct push *p);
/*
 * The checkpoint note followed by every held cosignature line over exactly
 * its text (malloc'd, NUL-terminated). 0 or -ENOMEM.
 */
int push_decorate(struct push *p, const char *note, size_t len, char **out, size_t *outlen);
/* Appends the gpuhours_witness_* families to a malloc'd /metrics body. 0 or -ENOMEM. */
int push_metrics(struct push *p, char **text, size_t *len);
/* ", witnesses N/M ok" for the service STATUS line. */
void push_status(struct push *p, char *buf, size_t cap);
