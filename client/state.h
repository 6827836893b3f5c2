/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "note.h"

/*
 * Remembered checkpoints: $XDG_STATE_HOME/gpuhours/checkpoints/<escaped
 * origin> holds the last verified checkpoint note of that origin, verbatim,
 * written atomically.
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
