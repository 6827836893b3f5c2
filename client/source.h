/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api.h"
#include "analyze.h"
#include "buf.h"
#include "note.h"

struct store;

/*
 * One SOURCE of evidence (a node URL or a bundle file) and its verification:
 * signature with a trusted key whose name is the origin, Merkle root over
 * every record, strict decoding, consistency with the remembered checkpoint
 * (ROLLBACK / FORK), then the analysis.
 */

#define SOURCE_RECORDS_MAX_BYTES (4ull << 30) /* everything fetched for one source */
/* One response from a node: proto/api.h (the daemon's own limits). */
#define SOURCE_PAGE_MAX_BYTES API_RECORDS_MAX_BYTES         /* one /v1/records response */
#define SOURCE_CHECKPOINT_MAX_BYTES API_CHECKPOINT_MAX_BYTES /* /checkpoint */
#define SOURCE_PROOF_MAX_BYTES API_PROOF_MAX_BYTES           /* a proof */
#define SOURCE_BUNDLE_MAX_BYTES (4ull << 30)  /* bundle file */
#define SOURCE_DEFAULT_DEADLINE_MS 600000L   /* --deadline: 10 minutes per node */
#define SOURCE_DEFAULT_MIN_PAGE 100u         /* --min-page */
#define SOURCE_PAGE_RECORDS 2048u            /* records asked for per /v1/records request */

enum source_status { SRC_OK, SRC_FINDINGS, SRC_FAILED, SRC_ERROR };

struct verify_opts {
        const struct note_verifier *keys; /* trusted keys + --key */
        size_t nkeys;
        uint64_t since_ns, until_ns; /* 0: open */
        bool no_state;
        long timeout_ms;
        bool progress;
        bool keep_bundle;  /* keep the framed records to write a bundle (fetch) */
        bool want_buckets; /* keep the analyzer for analyzer_buckets (report) */
        const struct policy *policy; /* --witnesses: required cosignatures (client/witness.h) */
        long deadline_ms;  /* per node URL, from its first request; 0: none */
        uint32_t min_page; /* records a page must hold unless it is the last (0: 1) */
        struct store *store; /* evidence store (store.h); NULL: none */
        bool offline;        /* from the store alone (needs store) */
};

struct witness_fork_notes;

struct source {
        const char *name; /* as given on the command line, a URL's password as "***" */
        /*
         * The origin a --fleet line pins (its key's name; not owned), or NULL.
         * --offline reads that origin's evidence, not the URL's (at which more
         * than one origin may have been audited); fleet_pin_sources checks it.
         */
        const char *pin_origin;
        char *url;        /* a URL with its password, for fetching only (malloc'd), or NULL */
        bool is_url;
        enum source_status status;
        char error[512]; /* SRC_ERROR: why; SRC_FAILED: the first integrity problem */
        bool have_checkpoint;
        struct checkpoint cp;
        char *note; /* verified checkpoint note (malloc'd) */
        size_t note_len;
        bool have_analysis;
        struct analysis an;
        struct analyzer *az;       /* kept when want_buckets */
        struct finding *integrity; /* integrity findings (malloc'd) */
        size_t nintegrity;
        bool save_state; /* verified: remembered once its origin's sources of the run agree */
        char *rem_note;  /* the remembered checkpoint's note as loaded (malloc'd), or NULL */
        size_t rem_note_len;
        /*
         * A FORK against a witness: the two conflicting signed notes (witness.h,
         * malloc'd), carried by integrity[fork_notes_at] in --json; else NULL.
         */
        struct witness_fork_notes *fork_notes;
        size_t fork_notes_at;
        /*
         * A FORK against another source of this run (source_cross.c): that
         * source (of the same array, alive as long as this one), whose verified
         * note and this one's are integrity[fork_with_at]'s notes in --json.
         */
        const struct source *fork_with;
        size_t fork_with_at;
        struct writer bundle; /* keep_bundle: header + frames once verified */
        uint8_t *bundle_data;
        size_t bundle_len;
};

/* A URL (http:// or https://) or else a file. */
void source_init(struct source *s, const char *name);
void source_free(struct source *s);

/*
 * Verify every source (URLs concurrently), then every two sources of one
 * origin against each other (FORK on both when they show two histories);
 * then remember each origin's largest checkpoint, unless its sources
 * disagree. 0 or -ENOMEM / -EIO (fetch engine).
 */
int sources_verify(struct source *srcs, size_t n, const struct verify_opts *o);

/*
 * rep[i]: the source that stands for srcs[i]'s origin in a judgement over
 * the run (check's evidence, report's total): among the verified sources of
 * that origin (status ok or findings, with a checkpoint; sources_verify has
 * proven them one history, else they are FORK or not verified), the
 * largest tree, the first in order among equals. rep[i] == i when it is
 * that one; SIZE_MAX when srcs[i] is not verified. Two sources of one
 * origin are one node, never two. One sort: 0 or -ENOMEM.
 */
int sources_judged_as(const struct source *srcs, size_t n, size_t *rep);

/* 0 ok, 1 findings above info, 2 integrity failure, 3 could not complete. */
int source_exit_code(const struct source *s);
const char *source_status_name(enum source_status st); /* "ok", "findings", … */
