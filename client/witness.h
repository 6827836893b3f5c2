/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "analyze.h"
#include "note.h"
#include "policy.h"

/*
 * The auditor's witness policy (--witnesses FILE, C2SP tlog-policy; parser
 * in proto/policy.c). With a policy, every verified checkpoint must carry
 * cosignatures (C2SP tlog-cosignature) that satisfy its quorum, else
 * WITNESS_QUORUM; cosignatures by witnesses the policy does not name are
 * ignored; each witness's newest verified cosignature time is reported
 * (WITNESSED, info: "history fixed as of"). With witness URLs, a node's
 * checkpoint is also compared with each witness's latest cosigned
 * checkpoint of the origin (GET <url>/<hex sha256(origin)>/checkpoint) and
 * must be consistent with it (consistency proof from the node): else FORK,
 * with both signed notes printed to stderr as evidence.
 */

/* Reads and parses FILE; 0, or -1 with a one-line message on stderr naming cmd. */
int witness_policy_load(const char *cmd, const char *path, struct policy **out);

/*
 * The note with only the signature lines named after its origin (the log's
 * own): what a bundle's strict signature check covers; cosignature lines are
 * checked by witness_check. malloc'd. 0, -ENOMEM, or GH_E_MALFORMED.
 */
int witness_log_part(const char *note, size_t len, char **out, size_t *outlen);

/*
 * Cosignatures of a verified checkpoint note against the policy. Appends
 * WITNESSED info findings to *info (malloc'd array, *ninfo entries). Returns
 * 0, or 1 with *fail set (WITNESS_QUORUM, or BAD_SIGNATURE for a policy
 * witness's cosignature that does not verify), or -ENOMEM.
 */
int witness_check(const struct policy *p, const char *note, size_t len, struct finding *fail,
                  struct finding **info, size_t *ninfo);

/*
 * The evidence of a FORK found against a witness: the two signed notes that
 * conflict, exactly as served (verified: UTF-8, no control character but
 * '\n'), [0] the checkpoint the witness cosigned, [1] the one the node
 * serves. malloc'd (witness_fork_notes_free); for --json, where the finding
 * carries them (proto/JSON.md section 5, "notes").
 */
struct witness_fork_notes {
        char witness[POLICY_NAME_MAX + 1]; /* the policy's name of the witness */
        char *note[2];                     /* NUL-terminated */
        size_t len[2];
        uint64_t size[2];
        /*
         * Fork evidence from the evidence store (store.h) instead: note[0] the
         * checkpoint it conflicts with, note[1] the one served by source.
         */
        bool from_store;
        char source[512];
};
void witness_fork_notes_free(struct witness_fork_notes *n);

/*
 * The finding's "notes" array: [{"from": "witness", "name", "size", "note"},
 * {"from": "node", "name": null, "size", "note"}]; NULL out of memory.
 */
struct json_t;
struct json_t *witness_fork_notes_json(const struct witness_fork_notes *n);

/* One deadline for fetching every witness's latest checkpoint (and one for the proofs). */
#define WITNESS_DEADLINE_MS 10000L

/* What the fork check learnt from one witness. */
struct witness_seen {
        bool have;       /* it served a valid cosigned checkpoint of the origin */
        bool consistent; /* ... consistent with the node's */
        uint64_t size;   /* its size */
        uint64_t time;   /* the witness's cosignature time on it */
};

/*
 * Online only: for each witness with a URL, fetch its latest cosigned
 * checkpoint of cp's origin and check it against the node's (cp, root) by a
 * consistency proof from node_url. The witnesses are asked concurrently,
 * within one deadline for all (a third of timeout_ms, at most
 * WITNESS_DEADLINE_MS), and the node's proofs within another: a witness that
 * is down or never answers is an info finding ("unreachable"), never a wait
 * per witness, and is not asked again for later sources of the run. 0 consistent (or nothing to
 * compare: info findings say why), 1 FORK (*fail set; both signed notes on stderr and, if notes is
 * not NULL, in *notes: malloc'd, or left NULL out of memory), 2 the node gave
 * no consistency proof that the comparison needs, without refusing it (no answer, a server error:
 * *fail's detail says which; not a FORK, not a pass either), -ENOMEM. When the sizes differ the
 * node must prove the smaller tree a prefix of the larger, whichever is the witness's (a node that
 * grew after serving the auditor is no fork); HTTP 400 (it cannot prove it) or a proof that does
 * not verify is a FORK. seen[] (p->nwitnesses entries) says what each witness showed.
 */
int witness_fork_check(const struct policy *p, const char *node_url, const struct checkpoint *cp,
                       const char *node_note, size_t node_len, const struct note_verifier *node_key,
                       long timeout_ms, struct finding *fail, struct finding **info, size_t *ninfo,
                       struct witness_seen *seen, struct witness_fork_notes **notes);

/*
 * For a WITNESS_QUORUM finding on note (the node's checkpoint of size
 * `size`): why the quorum may be missing only for now. When witnesses that
 * did not cosign note hold a cosigned checkpoint consistent with it (older:
 * the newest has not reached them yet; the same or newer: they cosigned it
 * after the node served it) (seen[], from witness_fork_check; NULL offline),
 * the text says so, with the age of their newest cosignature. Without
 * anything compared, a general hint.
 * Writes "" or "; ..." into buf.
 */
void witness_quorum_hint(const struct policy *p, const struct witness_seen *seen, const char *note,
                         size_t len, uint64_t size, uint64_t now, char *buf, size_t cap);
