/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "note.h"

/*
 * Remembered checkpoints: $XDG_STATE_HOME/gpuhours/checkpoints/<escaped
 * origin> holds the last verified checkpoint note of that origin, verbatim,
 * written atomically. $XDG_STATE_HOME/gpuhours/forks/<escaped origin> holds
 * the first fork seen for that origin: two verified checkpoint notes of it
 * that are not consistent (format: state_fork_parse). Every write is under
 * the exclusive lock $XDG_STATE_HOME/gpuhours/checkpoints.lock.
 */

/*
 * Parse a stored checkpoint note (text, blank line, signature lines; at most
 * NOTE_MAX_SIZE bytes). Signatures are not checked here: the note was verified
 * before it was stored. 0 or GH_E_MALFORMED / GH_E_TOO_LARGE.
 */
int state_parse(const char *note, size_t len, struct checkpoint *out);

/*
 * Load the remembered checkpoint of origin. 0 with *found false when there is
 * none; GH_E_MALFORMED when the file is unreadable as a checkpoint of that
 * origin; -errno on I/O errors. err gets a one-line reason on failure.
 */
int state_load(const char *origin, struct checkpoint *out, bool *found, char *err, size_t errlen);

/* A remembered checkpoint with its note as stored and the time it was written. */
struct state_entry {
        struct checkpoint cp;
        char *note; /* malloc'd, NUL after note_len bytes */
        size_t note_len;
        int64_t mtime_s; /* when it was remembered (the file's mtime), -1 if unknown */
};
/* As state_load; free e with state_entry_free (also after a failure). */
int state_entry_load(const char *origin, struct state_entry *e, bool *found, char *err,
                     size_t errlen);
void state_entry_free(struct state_entry *e);

/*
 * Store a verified checkpoint note cp (its text parsed) for origin,
 * atomically, never going backwards: under an exclusive lock on
 * $XDG_STATE_HOME/gpuhours/checkpoints.lock the remembered checkpoint is read again, and kept
 * when it is larger than cp, or of the same size with another root
 * (STATE_KEPT_NEWER, err says why). An unreadable remembered file is left
 * alone (state_load's error). 0, STATE_KEPT_NEWER, GH_E_MALFORMED or -errno.
 */
#define STATE_KEPT_NEWER 1
int state_save(const char *origin, const struct checkpoint *cp, const char *note, size_t len,
               char *err, size_t errlen);

/*
 * state_save for many origins under one lock, made durable together: every
 * new note is written to its temp file, then one syncfs(2) of the state
 * file system, then every rename, then one fsync of the directory (a fleet
 * run costs two syncs, not two per node). A crash before the renames leaves
 * every remembered checkpoint as it was; after, each is the old or the new
 * note, never a torn one. it[i].result: as state_save's return, with the
 * reason in it[i].err. 0, or -errno when the lock or directory failed (then
 * nothing was written and every result is that error). At most one item
 * per origin (they would share a temp file); no sync when nothing changed.
 */
struct state_save_item {
        const char *origin;
        const struct checkpoint *cp;
        const char *note;
        size_t len;
        int result;
        char err[400];
};
int state_save_many(struct state_save_item *it, size_t n, char *err, size_t errlen);

/*
 * Fork evidence file, exactly:
 *   "gpuhours fork evidence 1\n"
 *   "time " <decimal Unix seconds> "\n"
 *   twice: "source " <1..200 printable ASCII bytes> "\n"
 *          "note " <decimal N <= NOTE_MAX_SIZE> "\n" <N bytes: a checkpoint note>
 * and nothing after; both notes of one origin.
 */
#define STATE_FORK_SOURCE_MAX 200u
#define STATE_FORK_MAX_SIZE (2u * NOTE_MAX_SIZE + 1024u)
struct state_fork {
        int64_t time_s; /* when it was recorded */
        char source[2][STATE_FORK_SOURCE_MAX + 1];
        struct checkpoint cp[2];
        char *note[2]; /* malloc'd, NUL-terminated */
        size_t note_len[2];
};
/* 0, GH_E_MALFORMED, GH_E_TOO_LARGE or -ENOMEM; free out with state_fork_free. */
int state_fork_parse(const char *buf, size_t len, struct state_fork *out);
void state_fork_free(struct state_fork *f);
/* The recorded fork of origin: 0 with *found; GH_E_MALFORMED or -errno (err says why). */
int state_fork_load(const char *origin, struct state_fork *out, bool *found, char *err,
                    size_t errlen);
/*
 * Record two verified, conflicting checkpoint notes of origin and where each
 * came from (quoted to printable ASCII). The first fork recorded is kept:
 * STATE_KEPT_NEWER when one exists already. 0 or -errno.
 */
int state_record_fork(const char *origin, const char *src_a, const char *note_a, size_t la,
                      const char *src_b, const char *note_b, size_t lb, char *err,
                      size_t errlen);

/* Origins with a remembered checkpoint or fork evidence, sorted (malloc'd). 0 or -errno. */
#define STATE_LIST_MAX 1000000u
int state_list(char ***origins, size_t *n, char *err, size_t errlen);
void state_list_free(char **origins, size_t n);
/* Remove origin's remembered checkpoint and fork evidence, under the lock. 0 or -errno. */
int state_forget(const char *origin, bool *had_checkpoint, bool *had_fork, char *err,
                 size_t errlen);
