/* SPDX-License-Identifier: MIT */
/*
 * Audits recorded in the evidence store: incremental verification of a
 * known origin (resume from the stored border, fetch only new records,
 * analyse every record so the result equals a cold verify) and --offline
 * verification from the store alone.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "analyze-state.h"
#include "merkle.h"
#include "record.h"
#include "sha256_evp.h"
#include "source_internal.h"
#include "state.h"
#include "status.h"
#include "store.h"
#include "util.h"
#include "witness.h"

struct replay {
        struct ledger_check *lc;
        struct writer *bundle; /* NULL: no bundle */
        struct sha256_evp *sha;
        struct merkle_border b; /* of the records replayed */
};

static int replay_one(void *ctx, uint64_t leaf, const uint8_t *p, size_t len) {
        struct replay *rp = ctx;
        const struct gh_sha256 *hs = sha256_evp_hasher(rp->sha);
        merkle_hash lh;
        merkle_leaf_hash_with(hs, p, len, lh);
        if (merkle_border_append_with(&rp->b, hs, lh) != 0)
                return -1;
        ledger_check_record(rp->lc, leaf, p, len);
        if (rp->bundle)
                record_frame_write(rp->bundle, p, len);
        return rp->lc->sys_err ? -1 : 0;
}

/*
 * Replays so's m stored records into lc (and the bundle), hashing them: the
 * records analysed must be the ones the stored root commits to, or someone
 * changed the store's bytes since they were verified (the stored note, root
 * and border still verify; only the records give them away). 0, or -1 with
 * the source in error.
 */
static int replay_stored(struct store *st, const struct store_origin *so, uint64_t m,
                         struct ledger_check *lc, struct writer *bundle, struct source *s) {
        char err[600];
        struct replay rp = {.lc = lc, .bundle = bundle, .sha = sha256_evp_new()};
        merkle_border_init(&rp.b);
        if (!rp.sha) {
                src_error(s, "out of memory (SHA-256)");
                return -1;
        }
        int r = store_records(st, so->id, 0, m, replay_one, &rp, err, sizeof(err));
        merkle_hash root;
        if (r == 0)
                merkle_border_root_with(&rp.b, sha256_evp_hasher(rp.sha), root);
        bool failed = sha256_evp_failed(rp.sha);
        sha256_evp_free(rp.sha);
        if (r != 0 || failed) {
                src_error(s, "%s", lc->sys_err || failed ? "out of memory" : err);
                return -1;
        }
        if (rp.b.size != m || memcmp(root, so->root, MERKLE_HASH_LEN) != 0) {
                src_error(s,
                          "the evidence store %s is damaged: the %llu stored records of origin "
                          "'%s' do not give its stored root (changed after they were verified): "
                          "refusing to use it (gpuhours store verify; or audit with --store "
                          "NEW-PATH)",
                          store_path(st), (unsigned long long)m, so->name);
                return -1;
        }
        return 0;
}

struct cp_lookup {
        uint64_t size;
        bool found;
        merkle_hash root;
};

static int cp_lookup_one(void *ctx, uint64_t size, const uint8_t *root, size_t root_len,
                         const char *note, size_t note_len) {
        struct cp_lookup *l = ctx;
        if (size == l->size && root_len == MERKLE_HASH_LEN) {
                l->found = true;
                memcpy(l->root, root, MERKLE_HASH_LEN);
                return 1;
        }
        return 0;
}

/*
 * Resumes lc's analysis from the state saved for so's size and root instead
 * of re-reading its records: true when resumed. A state of another size or
 * layout is silently unused; one that fails its checksum or its checks is
 * named on stderr and unused (the caller re-analyses the stored records).
 */
static bool resume_state(const struct store_origin *so, const struct verify_opts *o,
                         struct ledger_check *lc, const char *name, struct store_audit *sa) {
        if (o->since_ns || o->until_ns || o->keep_bundle)
                return false;
        char err[600];
        struct store_state ss;
        bool found;
        if (store_state_load(o->store, so->id, so->size, so->root, &ss, &found, err,
                             sizeof(err)) != 0) {
                fprintf(stderr, PROG ": warning: %s: %s; re-analysing its stored records\n", name,
                        err);
                return false;
        }
        if (!found)
                return false;
        uint8_t *wins = NULL;
        size_t wl = 0;
        if (o->want_buckets &&
            store_state_windows(o->store, so->id, &ss, &wins, &wl, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG ": warning: %s: %s; re-analysing its stored records\n", name,
                        err);
                store_state_free(&ss);
                return false;
        }
        int r = analyzer_state_load(lc->az, ss.data, ss.len, o->want_buckets ? wins : NULL, wl);
        if (r != 0 || !o->want_buckets)
                free(wins);
        if (r == 0 && sa) {
                sa->saved_nwins = ss.nwins;
                memcpy(sa->saved_wchain, ss.wchain, sizeof(sa->saved_wchain));
        }
        store_state_free(&ss);
        if (r != 0 && r != -EPROTO)
                fprintf(stderr,
                        PROG ": warning: %s: the saved analysis state in %s is not valid (%s); "
                             "re-analysing its stored records\n",
                        name, store_path(o->store), gh_strerror(r));
        return r == 0;
}

/* --- fork evidence --- */

/*
 * The fork evidence the store holds for origin: the source fails with it
 * (its kind, both notes on stderr and in --json) and 1 is returned; 0 when
 * there is none. Evidence that does not verify is damage: an error, 1.
 */
static int fork_recorded(struct source *s, const struct verify_opts *o, const char *origin) {
        char err[600], why[300];
        struct store_fork f;
        bool found;
        if (store_fork_load(o->store, origin, &f, &found, err, sizeof(err)) != 0) {
                src_error(s, "%s", err);
                return 1;
        }
        if (!found)
                return 0;
        struct checkpoint cp[2];
        char q[NOTE_NAME_MAX + 3];
        quote_bytes(origin, strlen(origin), q, sizeof(q));
        if (store_fork_check(origin, &f, o->keys, o->nkeys, cp, why, sizeof(why)) != 0) {
                src_error(s,
                          "the evidence store %s holds fork evidence for origin '%s' but %s: "
                          "refusing to use it (gpuhours store verify)",
                          store_path(o->store), q, why);
                store_fork_free(&f);
                return 1;
        }
        char when[40];
        time_format_iso(f.detected_ns > 0 ? (uint64_t)f.detected_ns : 0, false, when, sizeof(when));
        bool rollback = strcmp(f.kind, "ROLLBACK") == 0;
        src_fail(s, rollback ? FIND_ROLLBACK : FIND_FORK,
                 "%s evidence recorded %s in the evidence store: the origin's key signed a "
                 "checkpoint of %llu records %s one of %llu; none verifies from the store "
                 "until gpuhours store forget-fork '%s'",
                 f.kind, when, (unsigned long long)cp[1].size,
                 rollback ? "after" : "that contradicts", (unsigned long long)cp[0].size, q);
        fprintf(stderr,
                PROG ": %s evidence (evidence store): the checkpoint it conflicts with:\n%s" PROG
                     ": %s evidence (evidence store): the checkpoint served by %s:\n%s",
                f.kind, f.note[0], f.kind, f.source, f.note[1]);
        struct witness_fork_notes *n = calloc(1, sizeof(*n));
        if (n && s->fork_notes == NULL && s->nintegrity > 0 &&
            s->integrity[s->nintegrity - 1].kind == (rollback ? FIND_ROLLBACK : FIND_FORK)) {
                n->from_store = true;
                snprintf(n->source, sizeof(n->source), "%s", f.source);
                for (int i = 0; i < 2; i++) {
                        n->note[i] = f.note[i];
                        n->len[i] = f.note_len[i];
                        n->size[i] = cp[i].size;
                        f.note[i] = NULL;
                }
                s->fork_notes = n;
                s->fork_notes_at = s->nintegrity - 1;
        } else {
                free(n);
        }
        store_fork_free(&f);
        return 1;
}

static bool fork_kind(enum finding_kind k) {
        return k == FIND_FORK || k == FIND_ROLLBACK;
}

/*
 * After an online run's checks, before its commits: every source that
 * failed with FORK or ROLLBACK and has a verified note leaves the evidence
 * in the store (store_fork_record), in its own transaction. The notes:
 * the state file's fork evidence for the origin (both its notes), else the
 * node's note and the one it conflicts with: a witness's, another source's,
 * the store's checkpoint, else the remembered one; the first pair that
 * store_fork_check accepts (both signed by the origin's trusted key, and
 * conflicting).
 */
void store_record_forks(struct source *srcs, size_t n, const struct verify_opts *o) {
        if (!o->store || o->offline)
                return;
        for (size_t i = 0; i < n; i++) {
                struct source *s = &srcs[i];
                if (!s->have_checkpoint || !s->note || (s->fork_notes && s->fork_notes->from_store))
                        continue;
                size_t j = 0;
                while (j < s->nintegrity && !fork_kind(s->integrity[j].kind))
                        j++;
                if (j == s->nintegrity)
                        continue;
                const struct finding *fd = &s->integrity[j];
                char err[600], why[300];
                struct store_origin so;
                bool have_so = false;
                if (store_origin_load(o->store, s->cp.origin, &so, &have_so, err, sizeof(err)) !=
                    0)
                        have_so = false;
                const char *cand[5] = {NULL}, *candb[5] = {NULL};
                size_t clen[5] = {0}, clenb[5] = {0};
                const char *cfrom[5] = {NULL};
                /* A fork the state file proved: its own two notes (this node shows one). */
                struct state_fork sf;
                bool have_sf = false;
                if (!o->no_state &&
                    state_fork_load(s->cp.origin, &sf, &have_sf, err, sizeof(err)) != 0)
                        have_sf = false;
                if (have_sf) {
                        cand[4] = sf.note[0];
                        clen[4] = sf.note_len[0];
                        candb[4] = sf.note[1];
                        clenb[4] = sf.note_len[1];
                        cfrom[4] = "the fork evidence of the state file";
                }
                if (s->fork_notes) {
                        cand[0] = s->fork_notes->note[0];
                        clen[0] = s->fork_notes->len[0];
                        cfrom[0] = "a witness";
                }
                if (s->fork_with && s->fork_with->note) {
                        cand[1] = s->fork_with->note;
                        clen[1] = s->fork_with->note_len;
                        cfrom[1] = "another source of the run";
                }
                if (have_so) {
                        cand[2] = so.note;
                        clen[2] = so.note_len;
                        cfrom[2] = "the evidence store";
                }
                if (s->rem_note) {
                        cand[3] = s->rem_note;
                        clen[3] = s->rem_note_len;
                        cfrom[3] = "the remembered checkpoint";
                }
                struct store_fork f = {.detected_ns = (int64_t)wall_now_ns()};
                snprintf(f.kind, sizeof(f.kind), "%s", finding_kind_name(fd->kind));
                snprintf(f.detail, sizeof(f.detail), "%s", fd->detail);
                f.note[1] = s->note;
                f.note_len[1] = s->note_len;
                static const int order[5] = {4, 0, 1, 2, 3};
                int c = -1;
                for (int k = 0; k < 5; k++) {
                        struct checkpoint cp[2];
                        c = order[k];
                        if (!cand[c])
                                continue;
                        f.note[0] = (char *)cand[c];
                        f.note_len[0] = clen[c];
                        f.note[1] = candb[c] ? (char *)candb[c] : s->note;
                        f.note_len[1] = candb[c] ? clenb[c] : s->note_len;
                        if (store_fork_check(s->cp.origin, &f, o->keys, o->nkeys, cp, why,
                                             sizeof(why)) == 0)
                                break;
                        c = -1;
                }
                if (c >= 0) {
                        bool kept = false;
                        snprintf(f.source, sizeof(f.source), "%s (against %s)", s->name,
                                 cfrom[c]);
                        if (store_fork_record(o->store, s->cp.origin, &f, &kept, err,
                                              sizeof(err)) != 0)
                                fprintf(stderr, PROG ": warning: %s: %s evidence not recorded: %s\n",
                                        s->name, f.kind, err);
                        else
                                fprintf(stderr,
                                        PROG ": %s: %s evidence %s in the evidence store %s; "
                                             "'%s' does not verify from it until gpuhours store "
                                             "forget-fork\n",
                                        s->name, f.kind,
                                        kept ? "of an earlier audit is kept" : "recorded",
                                        store_path(o->store), s->cp.origin);
                }
                if (have_so)
                        store_origin_free(&so);
                if (have_sf)
                        state_fork_free(&sf);
        }
}

static void store_warn(struct store_audit *sa, const struct source *s, const char *err) {
        if (!sa->failed)
                fprintf(stderr, PROG ": warning: %s: not recorded in the evidence store: %s\n",
                        s->name, err);
        sa->failed = true;
}

int store_audit_begin(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                      struct ledger_check *lc, struct checkpoint *rem, bool *have_rem) {
        memset(sa, 0, sizeof(*sa));
        if (!o->store)
                return 0;
        char err[600];
        uint64_t m;
        if (store_stage_begin(o->store, s->cp.origin, s->name, &sa->id, &m, &sa->sid, err,
                              sizeof(err)) != 0) {
                store_warn(sa, s, err);
                return 0; /* audit as if there were no store */
        }
        sa->active = true;
        sa->old_size = m;
        if (fork_recorded(s, o, s->cp.origin) != 0)
                return -1;
        if (m == 0)
                return 0;
        struct store_origin so;
        bool found;
        if (store_origin_load(o->store, s->cp.origin, &so, &found, err, sizeof(err)) != 0) {
                src_error(s, "%s", err);
                return -1;
        }
        char why[300];
        if (!found || store_origin_check(&so, o->keys, o->nkeys, why, sizeof(why)) != 0) {
                src_error(s,
                          "the evidence store %s holds origin '%s' but %s: refusing to use it "
                          "(gpuhours store verify; or audit with --store NEW-PATH)",
                          store_path(o->store), s->cp.origin, found ? why : "not its records");
                store_origin_free(&so);
                return -1;
        }
        int r = -1;
        if (m > s->cp.size) {
                src_fail(s, FIND_ROLLBACK,
                         "the node's checkpoint has %llu records, but the evidence store holds a "
                         "verified checkpoint with %llu",
                         (unsigned long long)s->cp.size, (unsigned long long)m);
                goto out;
        }
        if (m == s->cp.size && memcmp(so.root, s->cp.root, MERKLE_HASH_LEN) != 0) {
                src_fail(s, FIND_FORK,
                         "the node signed a different root for size %llu than the checkpoint in "
                         "the evidence store",
                         (unsigned long long)m);
                goto out;
        }
        if (*have_rem && rem->size > 0 && rem->size < m) {
                /* The state file remembers an older checkpoint: it must be one the store saw. */
                struct cp_lookup l = {.size = rem->size};
                if (store_checkpoints(o->store, so.id, cp_lookup_one, &l, err, sizeof(err)) < 0) {
                        src_error(s, "%s", err);
                        goto out;
                }
                if (!l.found) {
                        src_error(s,
                                  "the remembered checkpoint of '%s' (size %llu) is not in the "
                                  "evidence store %s (size %llu): audit with --no-state or "
                                  "another --store",
                                  s->cp.origin, (unsigned long long)rem->size,
                                  store_path(o->store), (unsigned long long)m);
                        goto out;
                }
                if (memcmp(l.root, rem->root, MERKLE_HASH_LEN) != 0) {
                        src_fail(s, FIND_FORK,
                                 "the remembered checkpoint of size %llu and the evidence store's "
                                 "checkpoint of that size have different roots",
                                 (unsigned long long)rem->size);
                        goto out;
                }
        }
        if (!*have_rem || rem->size <= m) {
                /* The stored checkpoint is the newest one seen: the node must extend it. */
                memset(rem, 0, sizeof(*rem));
                memcpy(rem->origin, s->cp.origin, sizeof(rem->origin));
                rem->size = m;
                memcpy(rem->root, so.root, MERKLE_HASH_LEN);
                *have_rem = true;
                lc->m = m;
                lc->have_m_root = true;
                memcpy(lc->m_root, so.root, MERKLE_HASH_LEN);
        }
        /* else rem->size > m: the border passes rem->size while the new records extend it. */
        lc->border = so.border;
        if (resume_state(&so, o, lc, s->name, sa)) {
                r = 0;
                goto out;
        }
        if (replay_stored(o->store, &so, m, lc, o->keep_bundle ? &s->bundle : NULL, s) != 0)
                goto out;
        r = 0;
out:
        store_origin_free(&so);
        return r;
}

/*
 * Verified pages are kept back up to STAGE_BATCH bytes and staged together:
 * an audit of a few new records then writes once, in the commit's
 * transaction, and a long one in transactions of about 256 KiB.
 */
#define STAGE_BATCH (256u << 10)

static void stage_pending(struct store_audit *sa, struct source *s, const struct verify_opts *o) {
        char err[600];
        if (sa->pend_len && !sa->failed &&
            store_stage_frames(o->store, sa->id, sa->sid, sa->pend_first, sa->pend, sa->pend_len,
                               err, sizeof(err)) != 0)
                store_warn(sa, s, err);
        sa->wrote = sa->wrote || sa->pend_len;
        free(sa->pend);
        sa->pend = NULL;
        sa->pend_len = 0;
}

int store_audit_page(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                     uint64_t first, const uint8_t *frames, size_t len) {
        if (!sa->active || sa->failed)
                return 0;
        if (sa->pend_len && sa->pend_len + len > STAGE_BATCH)
                stage_pending(sa, s, o);
        if (sa->failed)
                return 0;
        if (!sa->pend_len && len >= STAGE_BATCH) {
                /* A whole batch by itself: staged from the page, not copied first. */
                char err[600];
                sa->wrote = true;
                if (store_stage_frames(o->store, sa->id, sa->sid, first, frames, len, err,
                                       sizeof(err)) != 0)
                        store_warn(sa, s, err);
                return 0;
        }
        uint8_t *p = realloc(sa->pend, sa->pend_len + len);
        if (!p) {
                store_warn(sa, s, "out of memory");
                return 0;
        }
        if (!sa->pend_len)
                sa->pend_first = first;
        memcpy(p + sa->pend_len, frames, len);
        sa->pend = p;
        sa->pend_len += len;
        if (sa->pend_len >= STAGE_BATCH)
                stage_pending(sa, s, o);
        return 0;
}

/*
 * A snapshot (state, windows and the pages kept back) larger than this is
 * staged in the store at once rather than kept until the commit: commits
 * wait for every source of the run (the fork check across sources), and a
 * cold audit's windows alone are hundreds of KB per node. A smaller one
 * (an incremental audit) stays in memory and is written by the commit, in
 * its one transaction.
 */
#define SNAP_KEEP (16u << 10)

void store_audit_snapshot(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                          const struct ledger_check *lc) {
        if (!sa->active || sa->failed || sa->have_snap)
                return;
        const uint8_t *w;
        size_t wl;
        if (o->since_ns || o->until_ns || lc->decode_failed || lc->sys_err || !lc->az ||
            analyzer_state_windows(lc->az, sa->saved_nwins, &w, &wl) != 0) {
                /* No state to save: the pages kept back need not wait either. */
                if (sa->pend_len >= SNAP_KEEP)
                        stage_pending(sa, s, o);
                return;
        }
        uint8_t *data;
        size_t len;
        if (analyzer_state_save(lc->az, &data, &len) != 0)
                return;
        uint64_t nwins = analyzer_state_nwins(lc->az);
        if (len + wl + sa->pend_len >= SNAP_KEEP && lc->border.size == s->cp.size) {
                char err[600];
                struct store_state_write sw = {.data = data,
                                               .len = len,
                                               .first = sa->saved_nwins,
                                               .wins = w,
                                               .wins_len = wl,
                                               .nwins = nwins};
                memcpy(sw.prev_wchain, sa->saved_wchain, sizeof(sw.prev_wchain));
                struct store_frames last = {
                        .first = sa->pend_first, .frames = sa->pend, .len = sa->pend_len};
                sa->wrote = true;
                int r = store_stage_state(o->store, sa->id, sa->sid, s->cp.size, s->cp.root,
                                          &last, &sw, &sa->snap_sid, err, sizeof(err));
                free(data);
                free(sa->pend);
                sa->pend = NULL;
                sa->pend_len = 0;
                if (r != 0) {
                        store_warn(sa, s, err);
                        return;
                }
                sa->have_snap = true;
                return;
        }
        sa->snap_wins = malloc(wl ? wl : 1);
        if (!sa->snap_wins) {
                free(data);
                return;
        }
        if (wl)
                memcpy(sa->snap_wins, w, wl);
        sa->snap = data;
        sa->snap_len = len;
        sa->snap_wins_len = wl;
        sa->snap_nwins = nwins;
        sa->have_snap = true;
}

static void snapshot_free(struct store_audit *sa) {
        free(sa->snap);
        free(sa->snap_wins);
        sa->snap = sa->snap_wins = NULL;
        sa->snap_sid = 0;
        sa->have_snap = false;
}

bool store_audit_end(struct store_audit *sa, struct source *s, const struct verify_opts *o,
                     const struct ledger_check *lc) {
        bool done = false;
        if (!sa->active)
                return false;
        if (!sa->failed && (s->status == SRC_OK || s->status == SRC_FINDINGS) &&
            lc->border.size == s->cp.size) {
                char err[600];
                struct store_state_write sw = {.data = sa->snap,
                                               .len = sa->snap_len,
                                               .first = sa->saved_nwins,
                                               .wins = sa->snap_wins,
                                               .wins_len = sa->snap_wins_len,
                                               .nwins = sa->snap_nwins};
                memcpy(sw.prev_wchain, sa->saved_wchain, sizeof(sw.prev_wchain));
                struct store_frames last = {
                        .first = sa->pend_first, .frames = sa->pend, .len = sa->pend_len};
                if (store_commit(o->store, sa->id, sa->sid, sa->old_size, &lc->border, s->cp.root,
                                 s->note, s->note_len, wall_now_ns(), &last,
                                 sa->have_snap && !sa->snap_sid ? &sw : NULL, sa->snap_sid, err,
                                 sizeof(err)) != 0)
                        store_warn(sa, s, err);
                else
                        sa->active = false, done = true;
        }
        store_audit_abort(sa, o);
        return done;
}

void store_audit_abort(struct store_audit *sa, const struct verify_opts *o) {
        snapshot_free(sa);
        free(sa->pend);
        sa->pend = NULL;
        sa->pend_len = 0;
        if (!sa->active)
                return;
        if (sa->wrote)
                store_stage_abort(o->store, sa->id, sa->sid);
        sa->active = false;
}

/* --- --offline --- */

static void offline_source(struct source *s, const struct verify_opts *o) {
        char err[600];
        struct store_origin so;
        bool found;
        /* a --fleet line: the origin it pins (fleet_pin_sources checks the key after) */
        const char *by_name = s->pin_origin ? s->pin_origin : s->is_url ? NULL : s->name;
        int r = by_name ? store_origin_load(o->store, by_name, &so, &found, err, sizeof(err))
                        : store_origin_by_url(o->store, s->name, &so, &found, err, sizeof(err));
        if (r != 0) {
                src_error(s, "%s", err);
                return;
        }
        if (!found) {
                if (s->pin_origin)
                        src_error(s,
                                  "origin '%s' (the fleet file's for this node) is not in the "
                                  "evidence store %s (audit it online first)",
                                  s->pin_origin, store_path(o->store));
                else
                        src_error(s, "'%s' is not in the evidence store %s (audit it online first)",
                                  s->name, store_path(o->store));
                return;
        }
        struct ledger_check lc;
        char why[300];
        if (store_origin_check(&so, o->keys, o->nkeys, why, sizeof(why)) != 0) {
                src_error(s, "the evidence store %s holds origin '%s' but %s: refusing to use it",
                          store_path(o->store), so.name, why);
                goto out_so;
        }
        /* Signature, key name and checkpoint syntax exactly as online. */
        if (check_note(s, o, so.note, so.note_len, false) != 0)
                goto out_so;
        if (fork_recorded(s, o, so.name) != 0)
                goto out_so;
        if (ledger_check_init(&lc, o, 0, 0) != 0) {
                src_error(s, "out of memory");
                goto out;
        }
        lc.border = so.border;
        if (resume_state(&so, o, &lc, s->name, NULL)) {
                struct checkpoint none = {0};
                source_complete(s, o, &lc, &none, false, false);
                goto out;
        }
        if (replay_stored(o->store, &so, so.size, &lc, NULL, s) != 0)
                goto out;
        struct checkpoint none = {0};
        source_complete(s, o, &lc, &none, false, false);
out:
        ledger_check_free(&lc);
out_so:
        store_origin_free(&so);
}

int store_sources_verify(struct source *srcs, size_t n, const struct verify_opts *o) {
        for (size_t i = 0; i < n; i++)
                offline_source(&srcs[i], o);
        return 0;
}
