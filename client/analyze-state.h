/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "analyze.h"

/*
 * The analyzer's running state between records, saved so that an audit can
 * resume the analysis at the stored tail instead of re-reading every record
 * (client/store_audit.c). Resuming and adding the new records gives exactly
 * the analysis of adding every record to one analyzer: the state is the
 * analyzer itself (every total, the last record, window, counter reading,
 * open finding run and every finding so far), not a summary of it.
 *
 * Bytes in this machine's layout, a cache for this build only: the header
 * names the layout (ANALYZER_STATE_LAYOUT, the structs' sizes, byte order);
 * a state of another layout is refused (-EPROTO) and the caller re-analyses
 * the stored records. A state whose fields do not bound each other (counts,
 * table indexes, strings) is refused (-EINVAL). It carries no integrity of
 * its own: the evidence store keeps it under a checksum and `gpuhours store
 * verify` re-derives it from the records.
 *
 * The observed windows (what time buckets need, 48 bytes per summary) are
 * kept apart, append-only: analyzer_state_save writes everything else,
 * analyzer_state_windows the windows from a given index on.
 */

#define ANALYZER_STATE_WIN_SIZE 48u /* bytes per saved window */

/*
 * After analyzer_add, before analyzer_finish, without since/until: the state
 * (malloc'd). 0, -ENOMEM, or -EINVAL (finished, failed, an interval, or a
 * finding whose source this format cannot name).
 */
int analyzer_state_save(const struct analyzer *a, uint8_t **out, size_t *len);
/* Windows the analysis holds so far, saved or not. */
uint64_t analyzer_state_nwins(const struct analyzer *a);
/*
 * The windows from index from on (ANALYZER_STATE_WIN_SIZE bytes each, valid
 * until the next analyzer_add). -EINVAL when from is before the windows the
 * analyzer holds or past its count.
 */
int analyzer_state_windows(const struct analyzer *a, uint64_t from, const uint8_t **p,
                           size_t *len);
/*
 * Resumes a, fresh from analyzer_new without since/until (its now_ns stays),
 * from state p. wins: every saved window (wins_len = their count *
 * ANALYZER_STATE_WIN_SIZE) in a malloc'd buffer that a takes over on
 * success (the caller frees it on error), or NULL: a holds none of them and
 * analyzer_buckets then refuses time buckets. All or nothing: on error a is
 * unchanged. 0, -ENOMEM, -EPROTO (another layout) or -EINVAL.
 */
int analyzer_state_load(struct analyzer *a, const uint8_t *p, size_t len, uint8_t *wins,
                        size_t wins_len);
