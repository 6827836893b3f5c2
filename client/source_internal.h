/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The checks of source.c that the evidence store's paths (store_audit.c)
 * share: one ledger_check per source, fed leaf by leaf, judged once by
 * source_complete. Not for other callers.
 */

#include "merkle.h"
#include "source.h"

struct sha256_evp;

struct ledger_check {
        struct merkle_border border;
        struct sha256_evp *sha; /* hashes the leaves and the border */
        uint64_t m;             /* remembered size (0: none) */
        merkle_hash m_root;
        bool have_m_root;
        struct analyzer *az;
        struct record *rec;
        bool decode_failed;
        uint64_t bad_leaf;
        int bad_err;
        int sys_err;
};

int ledger_check_init(struct ledger_check *lc, const struct verify_opts *o, uint64_t now_ns,
                      uint64_t m);
void ledger_check_free(struct ledger_check *lc);
/* Hash leaf border.size into the border, then ledger_check_record. */
void ledger_check_leaf(struct ledger_check *lc, const uint8_t *p, size_t len);
/* Decode and analyse leaf (already in the border: records from the evidence store). */
void ledger_check_record(struct ledger_check *lc, uint64_t leaf, const uint8_t *p, size_t len);

bool source_done(const struct source *s);
void src_fail(struct source *s, enum finding_kind k, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
void src_error(struct source *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int check_note(struct source *s, const struct verify_opts *o, const char *note, size_t len,
               bool strict);
int load_remembered(struct source *s, const struct verify_opts *o, struct checkpoint *rem,
                    bool *have);
/* After every leaf: roots, remembered prefix, decoding, analysis; may_save: s->save_state. */
void source_complete(struct source *s, const struct verify_opts *o, struct ledger_check *lc,
                     const struct checkpoint *rem, bool have_rem, bool may_save);

/* --- source_cross.c: the sources of one run against each other --- */

/*
 * Every two sources of one origin whose checkpoints verified must be
 * consistent; FORK on both otherwise (evidence on stderr and, unless
 * --no-state, in the state's fork record). hold[i]: source i's origin must
 * be neither remembered nor committed; group[i]: its origin's number
 * (SIZE_MAX without a verified checkpoint). 0 or -ENOMEM.
 */
int sources_cross_check(struct source *srcs, size_t n, const struct verify_opts *o, bool *hold,
                        size_t *group);
/* Per origin not held, remember the largest checkpoint of the sources with save_state. */
void sources_save_state(struct source *srcs, size_t n, const struct verify_opts *o,
                        const bool *hold, const size_t *group);

/* --- store_audit.c: a node audit recorded in the evidence store --- */

struct store_audit {
        bool active;  /* staging into the store; commit or abort pending */
        bool failed;  /* a store write failed: the audit stands, nothing is recorded */
        int64_t id;   /* origin row */
        int64_t sid;  /* this audit's staging key (store_stage_begin) */
        bool wrote;   /* staged something (store_stage_abort has rows to drop) */
        uint64_t old_size;
        /* the saved analyzer state the analysis resumed from (windows [0, saved_nwins)) */
        uint64_t saved_nwins;
        uint8_t saved_wchain[32];
        /* verified pages not staged yet (written with the next ones or the commit) */
        uint8_t *pend;
        size_t pend_len;
        uint64_t pend_first;
        /*
         * store_audit_snapshot: the state after every record, committed with
         * them; kept here, or (snap_sid > 0) staged in the store
         */
        bool have_snap;
        int64_t snap_sid;
        uint8_t *snap, *snap_wins;
        size_t snap_len, snap_wins_len;
        uint64_t snap_nwins;
};

/*
 * After the checkpoint verified and lc is initialised: with a store, start
 * staging; for a known origin check the stored checkpoint (signature, root,
 * border) and the node's against it (ROLLBACK, FORK), load the stored border
 * into lc, replay the stored records into the analysis, and make the stored
 * checkpoint the remembered one when it is newer than rem. 0, or -1 with the
 * source failed.
 */
int store_audit_begin(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                      struct ledger_check *lc, struct checkpoint *rem, bool *have_rem);
/* A verified page of framed records starting at leaf first. 0 (a store error only warns). */
int store_audit_page(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                     uint64_t first, const uint8_t *frames, size_t len);
/*
 * After the last leaf, before source_complete (analyzer_finish): keep the
 * analyzer's state to commit with the records (nothing without a store, with
 * --since/--until, or when a record did not decode). A large one is staged
 * in the store now (with the pages kept back), not held until the commit.
 */
void store_audit_snapshot(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                          const struct ledger_check *lc);
/*
 * After source_complete: commit when the source verified, else drop what was
 * staged. true when committed (inside a store batch: once the batch ends).
 */
bool store_audit_end(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                     const struct ledger_check *lc);
/* At the end of the run: drop anything still staged (a source that never completed). */
void store_audit_abort(struct store_audit *sa, const struct verify_opts *o);
/* Records the FORK and ROLLBACK evidence of the run's sources in the store (store_audit.c). */
void store_record_forks(struct source *srcs, size_t n, const struct verify_opts *o);
/* --offline: every source from the store alone. 0 or -ENOMEM. */
int store_sources_verify(struct source *srcs, size_t n, const struct verify_opts *o);
