/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "merkle.h"
#include "note.h"

/*
 * The auditor's evidence store: one SQLite file (default
 * $XDG_DATA_HOME/gpuhours/store.sqlite, else ~/.local/share/gpuhours/...).
 * Per origin it holds every verified record (the bytes are the evidence),
 * every verified checkpoint note (with whatever cosignatures it carried) and
 * the Merkle border of the last verified tree, and the fork evidence of
 * origins caught equivocating (below). Schema (user_version 3; a version-1
 * store, one row per record, or a version-2 one, without the fork table,
 * is migrated in place, in one transaction, when opened):
 *
 *   origin(id, name UNIQUE, url, size, root, border, note)
 *       size: verified tree size; only records [0, size) are evidence.
 *       root: 32 bytes, the signed root for size (NULL when size is 0).
 *       border: 32 bytes per set bit of size, lowest bit first (merkle.h).
 *       note: the latest verified checkpoint note, exactly as signed.
 *   checkpoint(origin, size, root, note, verified_ns), key (origin, size)
 *   page(key, n, blob): records [first, first + n) of an origin, key = origin
 *       id * 2^40 + first; blob: the pagedata row holding their frames
 *       (record_frame_write format, n of them, nothing else). The pages of
 *       an origin tile [0, size) exactly.
 *   pagedata(id, data): the frames of one page (about 256 KiB).
 *   stage(sid, first, origin, run, n, blob): pages of an audit in progress
 *       (sid: per audit, so two sources of one origin stage apart; run: per
 *       process, so a later run drops what an interrupted one left).
 *
 * Writes: the verified pages of an audit are staged (stage and pagedata), in
 * transactions of about 256 KiB (the last ones go with the commit); only
 * the final transaction (store_commit), if the audit's pages tile
 * [old size, new size), moves them into page (small rows: the bytes are
 * written once) and sets size, root, border and note, so a crash or a full
 * disk at any point leaves the verified part exactly as it was, and staged
 * pages are never read and are deleted when that origin is next audited by
 * another run. WAL journal,
 * synchronous=NORMAL: a killed process loses no committed audit; a power
 * loss may lose the audits of the run in progress (SQLite syncs the WAL at
 * every checkpoint and when the store is closed), never what an earlier run
 * committed, and never leaves a half-written audit.
 *
 * Every function returns 0 or -1 with a one-line reason in err.
 */

#define STORE_SCHEMA_VERSION 3
#define STORE_LEAF_BITS 40 /* leaves per origin below 2^40 */
#define STORE_MAX_ORIGINS (1ll << 22)

struct store;

struct store_origin {
        int64_t id;
        char name[256];
        char url[512]; /* last URL it was audited at ("" for none) */
        uint64_t size;
        merkle_hash root;
        struct merkle_border border;
        char *note; /* malloc'd, NUL-terminated; NULL when size is 0 */
        size_t note_len;
};

/* path NULL: the default location (created 0700). Creates or checks the schema. */
int store_open(const char *path, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
const char *store_path(const struct store *st);

/* *found false (and o untouched but zeroed) when the origin is unknown or has size 0. */
int store_origin_load(struct store *st, const char *origin, struct store_origin *o, bool *found,
                      char *err, size_t errlen);
/* The one origin audited at url; an error when more than one was (never the older). */
int store_origin_by_url(struct store *st, const char *url, struct store_origin *o, bool *found,
                        char *err, size_t errlen);
void store_origin_free(struct store_origin *o);
/*
 * Cheap checks of a loaded origin: its note is a checkpoint signed by one of
 * keys named after the origin, with the stored size and root, and the stored
 * border hashes to that root. 0, or -1 with the reason in why.
 */

int store_origin_check(const struct store_origin *so, const struct note_verifier *keys,
                       size_t nkeys, char *why, size_t whylen);
/* Names of every origin with size > 0, sorted (malloc'd array of malloc'd strings). */
int store_origin_names(struct store *st, char ***names, size_t *n, char *err, size_t errlen);
void store_names_free(char **names, size_t n);

/*
 * Calls fn(ctx, leaf, bytes, len) for every record in [from, to) in order; a
 * missing record is an error (the store is damaged). fn returning non-zero
 * stops the walk and is returned as is.
 */
typedef int (*store_record_fn)(void *ctx, uint64_t leaf, const uint8_t *p, size_t len);
int store_records(struct store *st, int64_t id, uint64_t from, uint64_t to, store_record_fn fn,
                  void *ctx, char *err, size_t errlen);
/*
 * The origin's committed pages: how many, and where the last one ends
 * (records [0, *end) are in pages; 0 when none).
 */
int store_pages_end(struct store *st, int64_t id, uint64_t *end, uint64_t *pages, char *err,
                    size_t errlen);
/*
 * The tables against each other, for the whole store (store verify): fn is
 * called once per kind of inconsistency found, with how many rows and what
 * they are (one line, no newline). Checked: pagedata rows that no page and
 * no staged page references (orphans: bytes no audit accounts for); pages
 * and staged pages whose pagedata row is missing; a pagedata row referenced
 * twice (dropping a stale staged page would delete a committed page's
 * bytes); pages, saved windows (awin), checkpoints, saved and staged
 * analyzer states and staged pages of an origin that is not in the store;
 * pages or staged pages of no records. *found: how many kinds. 0 or -1.
 */
typedef void (*store_problem_fn)(void *ctx, uint64_t rows, const char *what);
int store_check_references(struct store *st, store_problem_fn fn, void *ctx, unsigned *found,
                           char *err, size_t errlen);

/* Records staged for the origin and not committed (left by an interrupted audit). */
int store_staged_count(struct store *st, int64_t id, uint64_t size, uint64_t *n, char *err,
                       size_t errlen);

/* Every stored checkpoint of an origin, by size. */
typedef int (*store_checkpoint_fn)(void *ctx, uint64_t size, const uint8_t *root, size_t root_len,
                                   const char *note, size_t note_len);
int store_checkpoints(struct store *st, int64_t id, store_checkpoint_fn fn, void *ctx, char *err,
                      size_t errlen);

/*
 * Starts an audit of origin: creates its row (size 0) if new, records url,
 * deletes what other runs (interrupted audits) staged for it. *id and *size
 * receive its state, *sid this audit's staging key (two audits of one
 * origin in one run stage apart; the first to commit wins, the other's
 * commit fails).
 */
int store_stage_begin(struct store *st, const char *origin, const char *url, int64_t *id,
                      uint64_t *size, int64_t *sid, char *err, size_t errlen);
/* Stages framed records (record_frame_write format) at leaves first, first+1, … as one page. */
int store_stage_frames(struct store *st, int64_t id, int64_t sid, uint64_t first,
                       const uint8_t *frames, size_t len, char *err, size_t errlen);
/*
 * Makes leaves [0, b->size) evidence: in one transaction, if the origin's size
 * is still old_size, sets size, root, border and note and adds the checkpoint.
 */
/*
 * last: framed records not staged yet (leaves last->first, …), inserted in
 * the same transaction (an audit's last pages, kept back so that a short
 * audit writes once); NULL or empty: none. sw: the analyzer state to save
 * with them (below); state_sid > 0 instead: the state staged by
 * store_stage_state, moved into astate/awin in this transaction (the commit
 * fails, nothing recorded, when that row is gone or not for this origin,
 * size and root); both NULL/0: the origin's saved state is dropped.
 */
struct store_frames {
        uint64_t first;
        const uint8_t *frames;
        size_t len;
};
struct store_state_write;
/*
 * A batch: the commits (and stage drops) until store_batch_end are
 * savepoints of one transaction, written and synced together at its end; a
 * failed commit is undone alone. A crash before the end loses the batch's
 * audits (none is half-recorded). store_batch_end: 0, or -1 when the
 * batch's COMMIT failed (nothing of the batch is recorded).
 */
int store_batch_begin(struct store *st, char *err, size_t errlen);
int store_batch_end(struct store *st, char *err, size_t errlen);
int store_commit(struct store *st, int64_t id, int64_t sid, uint64_t old_size,
                 const struct merkle_border *b, const merkle_hash root, const char *note,
                 size_t note_len, uint64_t now_ns, const struct store_frames *last,
                 const struct store_state_write *sw, int64_t state_sid, char *err, size_t errlen);

/*
 * The saved analyzer state (client/analyze-state.h) of an origin, a cache
 * that lets the next audit resume the analysis at the stored tail:
 *
 *   astate(origin PRIMARY KEY, size, nwins, wchain, hash, data)
 *       data: analyzer_state_save after records [0, size); nwins: its
 *       windows, kept in awin; wchain: SHA-256 chain over those chunks,
 *       c = SHA-256(c' || u64le first || chunk), from 32 zero bytes;
 *       hash: SHA-256("gpuhours analyzer state v1\0" || u64le origin id ||
 *       u64le size || root || u64le nwins || wchain || data).
 *   awin(key, data): key = origin id * 2^40 + index of its first window;
 *       data: whole windows (ANALYZER_STATE_WIN_SIZE bytes each).
 *
 * Written by store_commit in the audit's transaction (a large one staged
 * first in astage, below, and moved by it); a state that does not
 * match the origin's size and root and its checksum is not used (the
 * records are re-analysed), and store verify re-derives it.
 */
struct store_state {
        uint64_t size, nwins;
        uint8_t wchain[32];
        uint8_t *data; /* malloc'd */
        size_t len;
};

struct store_state_write {
        const uint8_t *data; /* analyzer_state_save */
        size_t len;
        uint64_t first;          /* index of the first window in wins; every later one is replaced */
        const uint8_t *wins;     /* windows [first, nwins) */
        size_t wins_len;
        uint64_t nwins;
        uint8_t prev_wchain[32]; /* wchain over windows [0, first) (zeros when first is 0) */
};

/*
 * The state saved for origin id at size with root. *found false when there
 * is none or it is of another size; -1 with the reason in err when its
 * checksum fails (the store is damaged).
 */
int store_state_load(struct store *st, int64_t id, uint64_t size, const merkle_hash root,
                     struct store_state *ss, bool *found, char *err, size_t errlen);
/* Every window of a loaded state, checked against its chain (malloc'd). */
int store_state_windows(struct store *st, int64_t id, const struct store_state *ss, uint8_t **out,
                        size_t *len, char *err, size_t errlen);
void store_state_free(struct store_state *ss);
/*
 * Before the commit, so that an audit's state need not stay in memory until
 * then: in one transaction, stages last (as store_stage_frames) and sw, the
 * state the commit at size with root will save, in
 *   astage(sid PRIMARY KEY, origin, size, root, first, nwins, wchain, hash,
 *          data, wins)
 * with its chain and hash computed as store_commit would. *sid: the staged
 * row (0 when sw is NULL), given to store_commit instead of sw; the row is
 * per audit, not per origin. Dropped with the origin's staged records
 * (store_stage_begin, store_stage_abort). 0 or -1.
 */
int store_stage_state(struct store *st, int64_t id, int64_t audit, uint64_t size,
                      const merkle_hash root, const struct store_frames *last,
                      const struct store_state_write *sw, int64_t *sid, char *err,
                      size_t errlen);
/* Deletes what audit sid staged (best effort after a failed audit). */
void store_stage_abort(struct store *st, int64_t id, int64_t sid);

/* Border <-> blob (32 bytes per set bit of size, lowest first). 0 or -1 (bad length). */
/*
 * Fork evidence (schema version 3):
 *
 *   fork(name PRIMARY KEY, kind, detected_ns, source, detail, note_a, note_b)
 *       name: the origin (whether or not it has records in the store);
 *       kind: "FORK" or "ROLLBACK"; note_a: the checkpoint it conflicts
 *       with (the store's, the remembered one, another source's or a
 *       witness's), note_b: the one the node served (from source), both
 *       exactly as signed; detail: the audit's finding.
 *
 * Written by the audit that found it, in its own transaction, although that
 * audit fails and commits nothing else. One row per origin: the first kept
 * (a node cannot replace it nor flood the table). While it is there every
 * audit of the origin from the store (--offline, incremental) fails with it;
 * store forget-fork clears it.
 */
struct store_fork {
        char kind[16];
        int64_t detected_ns;
        char source[512];
        char detail[512];
        char *note[2]; /* malloc'd, NUL-terminated; NULL when damaged */
        size_t note_len[2];
};
/* *kept_older: a record of the origin existed already (kept; this one dropped). */
int store_fork_record(struct store *st, const char *origin, const struct store_fork *f,
                      bool *kept_older, char *err, size_t errlen);
/* *found false when none; notes NULL (found) when the row is damaged. */
int store_fork_load(struct store *st, const char *origin, struct store_fork *f, bool *found,
                    char *err, size_t errlen);
void store_fork_free(struct store_fork *f);
int store_fork_clear(struct store *st, const char *origin, bool *had, char *err,
                     size_t errlen);
/* Origins with fork evidence, sorted (store_names_free). */
int store_fork_names(struct store *st, char ***names, size_t *n, char *err, size_t errlen);
/*
 * The evidence is sound: both notes are checkpoints of origin signed by one
 * of keys named after it, they differ, and for ROLLBACK note_a's tree is the
 * larger. cp: the two checkpoints. 0, or -1 with the reason in why.
 */

int store_fork_check(const char *origin, const struct store_fork *f,
                     const struct note_verifier *keys, size_t nkeys, struct checkpoint cp[2],
                     char *why, size_t whylen);

int store_border_decode(uint64_t size, const uint8_t *p, size_t len, struct merkle_border *b);
size_t store_border_encode(const struct merkle_border *b, uint8_t out[MERKLE_MAX_LEVELS * 32]);
