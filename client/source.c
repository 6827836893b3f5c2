/* SPDX-License-Identifier: MIT */
#include "source.h"
#include "source_internal.h"
#include "witness.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "bundle.h"
#include "fetch.h"
#include "merkle.h"
#include "progress.h"
#include "record.h"
#include "sha256_evp.h"
#include "state.h"
#include "status.h"
#include "store.h"
#include "trust.h"
#include "util.h"

void source_init(struct source *s, const char *name) {
        memset(s, 0, sizeof(*s));
        s->name = name;
        s->is_url = strncmp(name, "http://", 7) == 0 || strncmp(name, "https://", 8) == 0;
        s->status = SRC_OK;
        char *shown = s->is_url ? url_redact(name) : NULL;
        if (shown && strcmp(shown, name) != 0) {
                s->url = strdup(name);
                s->name = s->url ? shown : name;
                if (!s->url)
                        free(shown);
        } else {
                free(shown);
        }
}

void source_free(struct source *s) {
        if (s->url)
                free((char *)s->name); /* the redacted copy */
        free(s->url);
        free(s->note);
        free(s->rem_note);
        if (s->have_analysis)
                analysis_free(&s->an);
        analyzer_free(s->az);
        free(s->integrity);
        witness_fork_notes_free(s->fork_notes);
        writer_free(&s->bundle);
        free(s->bundle_data);
        memset(s, 0, sizeof(*s));
}

int source_exit_code(const struct source *s) {
        switch (s->status) {
        case SRC_OK:
                return 0;
        case SRC_FINDINGS:
                return 1;
        case SRC_FAILED:
                return 2;
        case SRC_ERROR:
                return 3;
        }
        return 3;
}

const char *source_status_name(enum source_status st) {
        static const char *const names[] = {"ok", "findings", "failed", "error"};
        return (unsigned)st < ARRAY_SIZE(names) ? names[st] : "error";
}

/* --- outcomes --- */

bool source_done(const struct source *s) {
        return s->status == SRC_FAILED || s->status == SRC_ERROR;
}

__attribute__((format(printf, 3, 4))) void src_fail(struct source *s, enum finding_kind k, const char *fmt, ...) {
        if (source_done(s))
                return;
        char buf[sizeof(s->error) - 32];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        s->status = SRC_FAILED;
        snprintf(s->error, sizeof(s->error), "%s: %s", finding_kind_name(k), buf);
        struct finding *f = realloc(s->integrity, (s->nintegrity + 1) * sizeof(*f));
        if (!f)
                return; /* the status and error line still say it */
        s->integrity = f;
        f[s->nintegrity++] = finding_make(k, "%s", buf);
}

static void src_fail_leaf(struct source *s, enum finding_kind k, uint64_t leaf,
                          const char *detail) {
        if (source_done(s))
                return;
        src_fail(s, k, "%s", detail);
        if (s->nintegrity > 0 && s->integrity[s->nintegrity - 1].kind == k) {
                s->integrity[s->nintegrity - 1].has_leaves = true;
                s->integrity[s->nintegrity - 1].first_leaf = leaf;
                s->integrity[s->nintegrity - 1].last_leaf = leaf;
        }
}

__attribute__((format(printf, 2, 3))) void src_error(struct source *s, const char *fmt, ...) {
        if (source_done(s))
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(s->error, sizeof(s->error), fmt, ap);
        va_end(ap);
        s->status = SRC_ERROR;
}

/* --- the checks every source goes through --- */


int ledger_check_init(struct ledger_check *lc, const struct verify_opts *o, uint64_t now_ns,
                             uint64_t m) {
        memset(lc, 0, sizeof(*lc));
        merkle_border_init(&lc->border);
        lc->m = m;
        struct analyze_opts ao = {
                .since_ns = o->since_ns, .until_ns = o->until_ns, .now_ns = now_ns};
        lc->az = analyzer_new(&ao);
        lc->rec = malloc(sizeof(*lc->rec));
        lc->sha = sha256_evp_new();
        if (!lc->az || !lc->rec || !lc->sha)
                return -ENOMEM;
        return 0;
}

void ledger_check_free(struct ledger_check *lc) {
        analyzer_free(lc->az);
        free(lc->rec);
        sha256_evp_free(lc->sha);
        lc->az = NULL;
        lc->rec = NULL;
        lc->sha = NULL;
}

void ledger_check_leaf(struct ledger_check *lc, const uint8_t *p, size_t len) {
        merkle_hash h;
        uint64_t leaf = lc->border.size;
        const struct gh_sha256 *hs = sha256_evp_hasher(lc->sha);
        merkle_leaf_hash_with(hs, p, len, h);
        if (merkle_border_append_with(&lc->border, hs, h) != 0) {
                lc->sys_err = -EOVERFLOW;
                return;
        }
        if (lc->border.size == lc->m) {
                merkle_border_root_with(&lc->border, hs, lc->m_root);
                lc->have_m_root = true;
        }
        ledger_check_record(lc, leaf, p, len);
}

void ledger_check_record(struct ledger_check *lc, uint64_t leaf, const uint8_t *p, size_t len) {
        if (lc->decode_failed || lc->sys_err)
                return;
        int r = record_decode(p, len, lc->rec);
        if (r != 0) {
                lc->decode_failed = true;
                lc->bad_leaf = leaf;
                lc->bad_err = r;
                return;
        }
        r = analyzer_add(lc->az, leaf, lc->rec);
        if (r != 0)
                lc->sys_err = r;
}

/* Moves info[0..ninfo) to the source's integrity findings and frees info. */
static void add_integrity(struct source *s, struct finding *info, size_t ninfo) {
        for (size_t i = 0; i < ninfo; i++) {
                struct finding *f = realloc(s->integrity, (s->nintegrity + 1) * sizeof(*f));
                if (f) {
                        s->integrity = f;
                        f[s->nintegrity++] = info[i];
                }
        }
        free(info);
}

/*
 * The cosignatures on a verified checkpoint against the policy (witness.h):
 * 0, or the source failed (WITNESS_QUORUM with a hint when the witnesses may
 * only not have cosigned the newest checkpoint yet; seen: what the fork
 * check learnt, NULL offline).
 */
static int check_quorum(struct source *s, const struct policy *p, const char *note, size_t len,
                        const struct witness_seen *seen) {
        struct finding fail, *info = NULL;
        size_t ninfo = 0;
        int r = witness_check(p, note, len, &fail, &info, &ninfo);
        add_integrity(s, info, ninfo);
        if (r < 0) {
                src_error(s, "out of memory");
                return r;
        }
        if (r > 0) {
                char hint[400] = "";
                if (fail.kind == FIND_WITNESS_QUORUM)
                        witness_quorum_hint(p, seen, note, len, s->cp.size,
                                            (uint64_t)(wall_now_ns() / 1000000000ull), hint,
                                            sizeof(hint));
                src_fail(s, fail.kind, "%s%s", fail.detail, hint);
                return 1;
        }
        return 0;
}

/*
 * The checkpoint cp of note, verified by trusted key keys[which] not named
 * after its origin: a trusted key of the origin's name must sign it too. 0,
 * or the source failed (the error).
 */
static int check_origin_key(struct source *s, const struct verify_opts *o, const char *note,
                            size_t len, const struct checkpoint *c, size_t which) {
        struct note_verifier *mine = malloc((o->nkeys ? o->nkeys : 1) * sizeof(*mine));
        if (!mine) {
                src_error(s, "out of memory");
                return -ENOMEM;
        }
        size_t nmine = 0;
        for (size_t i = 0; i < o->nkeys; i++)
                if (strcmp(o->keys[i].name, c->origin) == 0)
                        mine[nmine++] = o->keys[i];
        char q[NOTE_NAME_MAX + 3], qk[NOTE_NAME_MAX + 3];
        quote_bytes(c->origin, strlen(c->origin), q, sizeof(q));
        quote_bytes(o->keys[which].name, strlen(o->keys[which].name), qk, sizeof(qk));
        if (nmine == 0) {
                free(mine);
                src_fail(s, FIND_KEY_MISMATCH,
                         "checkpoint of origin '%s' is signed by trusted key '%s', but no "
                         "trusted key has the origin's name",
                         q, qk);
                return GH_E_NO_KEY;
        }
        size_t text_len = 0;
        int r = note_verify(note, len, mine, nmine, false, &text_len, &which);
        free(mine);
        if (r != 0) {
                if (r == GH_E_BAD_SIGNATURE)
                        src_fail(s, FIND_BAD_SIGNATURE,
                                 "the checkpoint's signature by trusted key '%s' does not verify",
                                 q);
                else
                        src_fail(s, FIND_KEY_MISMATCH,
                                 "checkpoint of origin '%s' is signed by trusted key '%s', but "
                                 "not by a trusted key named '%s'",
                                 q, qk, q);
                return r;
        }
        return 0;
}

/*
 * Signature, checkpoint syntax and key name. strict: bundles (every
 * signature line must be a trusted key's). On success the checkpoint and a
 * copy of the note are stored in s.
 */
int check_note(struct source *s, const struct verify_opts *o, const char *note, size_t len,
                      bool strict) {
        size_t text_len = 0, which = 0;
        char *logpart = NULL;
        size_t loglen = 0;
        /* Strict (bundles) covers the log's own signature lines; cosignatures: witness_check. */
        if (strict && witness_log_part(note, len, &logpart, &loglen) != 0)
                logpart = NULL;
        int r = note_verify(logpart ? logpart : note, logpart ? loglen : len, o->keys, o->nkeys,
                            strict, &text_len, &which);
        free(logpart);
        if (r < 0) {
                src_error(s, "verifying the checkpoint: %s", gh_strerror(r));
                return r;
        }
        if (r != 0) {
                /* Name the origin in the message when the text parses. */
                struct checkpoint c;
                char origin[NOTE_NAME_MAX + 3] = "?";
                size_t ctl, coff;
                bool parsed =
                        note_split(note, len, &ctl, &coff) && checkpoint_parse(note, ctl, &c) == 0;
                if (parsed) {
                        quote_bytes(c.origin, strlen(c.origin), origin, sizeof(origin));
                        memcpy(s->cp.origin, c.origin, sizeof(c.origin));
                }
                size_t tl, wh;
                if (strict && r == GH_E_NO_KEY &&
                    note_verify(note, len, o->keys, o->nkeys, false, &tl, &wh) != 0)
                        strict = false; /* not even one trusted signature: say that */
                long ren = r == GH_E_NO_KEY && !strict && parsed
                                   ? trust_find_renamed(o->keys, o->nkeys, note, len, c.origin)
                                   : -1;
                char qn[NOTE_NAME_MAX + 3];
                if (ren >= 0) {
                        quote_bytes(o->keys[ren].name, strlen(o->keys[ren].name), qn, sizeof(qn));
                        src_fail(s, FIND_KEY_MISMATCH,
                                 "no trusted key is named '%s', the checkpoint's origin, but the "
                                 "trusted key '%s' has the public key that signed it: the node "
                                 "signs as '%s' (trust the vkey that gpuhoursd --print-key "
                                 "prints on the node, or check its origin setting)",
                                 origin, qn, origin);
                } else if (r == GH_E_NO_KEY)
                        src_fail(s, FIND_KEY_MISMATCH,
                                 strict ? "the bundle's checkpoint (origin '%s') carries a "
                                          "signature that is not from a trusted key"
                                        : "no signature by a trusted key on the checkpoint of "
                                          "origin '%s' (add its vkey: gpuhours trust add VKEY, "
                                          "or --key VKEY)",
                                 origin);
                else if (r == GH_E_BAD_SIGNATURE)
                        src_fail(s, FIND_BAD_SIGNATURE,
                                 "the checkpoint's signature by a trusted key of origin '%s' "
                                 "does not verify",
                                 origin);
                else
                        src_fail(s, FIND_MALFORMED, "the checkpoint note is not valid: %s",
                                 gh_strerror(r));
                return r;
        }
        struct checkpoint cp;
        r = checkpoint_parse(note, text_len, &cp);
        if (r != 0) {
                src_fail(s, FIND_MALFORMED, "signed note is not a checkpoint: %s", gh_strerror(r));
                return r;
        }
        memcpy(s->cp.origin, cp.origin, sizeof(cp.origin));
        /*
         * The key that vouches for a checkpoint must be named after its origin.
         * When the key that verified is (the usual case), verifying again with
         * the keys of that name is the same check: every signature by one of
         * them verified, and one did.
         */
        if (strcmp(o->keys[which].name, cp.origin) != 0) {
                r = check_origin_key(s, o, note, len, &cp, which);
                if (r != 0)
                        return r;
        }
        s->cp = cp;
        if (o->policy && check_quorum(s, o->policy, note, len, NULL) != 0)
                return GH_E_NO_KEY;
        s->note = malloc(len + 1);
        if (!s->note) {
                src_error(s, "out of memory");
                return -ENOMEM;
        }
        memcpy(s->note, note, len);
        s->note[len] = '\0';
        s->note_len = len;
        s->have_checkpoint = true;
        return 0;
}

/* The remembered checkpoint: 0 (with *have set), or the source failed. */
int load_remembered(struct source *s, const struct verify_opts *o, struct checkpoint *rem,
                           bool *have) {
        *have = false;
        if (o->no_state)
                return 0;
        char err[400];
        /*
         * A fork once proven for this origin (two conflicting notes A and B signed
         * by its key) stays one: a later run showing only one of the two histories
         * must not verify it, nor remember it, until the auditor forgets the origin.
         * A tree of at least min(|A|, |B|) records contradicts A or B (were it
         * consistent with both, A and B would be prefixes of one history), so it
         * is a FORK without any proof; a smaller one may be a prefix of both (an
         * older archive) and is checked as any other source.
         */
        struct state_fork f;
        bool forked = false;
        int r = state_fork_load(s->cp.origin, &f, &forked, err, sizeof(err));
        if (r != 0) {
                src_error(s, "%s", err);
                return r;
        }
        if (forked && s->cp.size < f.cp[0].size && s->cp.size < f.cp[1].size) {
                state_fork_free(&f);
                forked = false;
        }
        if (forked) {
                char when[32] = "?", q[NOTE_NAME_MAX + 3];
                time_t tt = (time_t)f.time_s;
                struct tm tm;
                if (gmtime_r(&tt, &tm) == NULL ||
                    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                        snprintf(when, sizeof(when), "?");
                uint64_t lo = f.cp[0].size < f.cp[1].size ? f.cp[0].size : f.cp[1].size;
                state_fork_free(&f);
                quote_bytes(s->cp.origin, strlen(s->cp.origin), q, sizeof(q));
                src_fail(s, FIND_FORK,
                         "the origin's key signed two histories (fork evidence recorded %s: "
                         "gpuhours state show '%s'): a tree of %llu records (not under %llu) "
                         "contradicts one of them; none verifies until gpuhours state forget",
                         when, q, (unsigned long long)s->cp.size, (unsigned long long)lo);
                return GH_E_MALFORMED;
        }
        struct state_entry e;
        r = state_entry_load(s->cp.origin, &e, have, err, sizeof(err));
        if (r != 0) {
                state_entry_free(&e);
                src_error(s, "%s", err);
                return r;
        }
        if (*have) {
                *rem = e.cp;
                free(s->rem_note);
                s->rem_note = e.note; /* the evidence, should this source fork from it */
                s->rem_note_len = e.note_len;
                e.note = NULL;
        }
        state_entry_free(&e);
        return 0;
}

/*
 * A fork proven against the remembered checkpoint rem (same size and another
 * root, or a prefix that hashes to another root): record both notes as
 * evidence, if rem is the state file's checkpoint (not the evidence store's).
 */
static void remember_fork(const struct source *s, const struct verify_opts *o,
                          const struct checkpoint *rem) {
        struct checkpoint c;
        if (o->no_state || !s->rem_note || !s->note ||
            state_parse(s->rem_note, s->rem_note_len, &c) != 0 || c.size != rem->size ||
            memcmp(c.root, rem->root, sizeof(c.root)) != 0)
                return;
        char err[400];
        if (state_record_fork(s->cp.origin, "the remembered checkpoint", s->rem_note,
                              s->rem_note_len, s->name, s->note, s->note_len, err,
                              sizeof(err)) < 0)
                fprintf(stderr, PROG ": warning: %s\n", err);
}

/* After every leaf was checked: roots, prefix, decoding, analysis, state. */
void source_complete(struct source *s, const struct verify_opts *o, struct ledger_check *lc,
                     const struct checkpoint *rem, bool have_rem, bool may_save) {
        if (source_done(s))
                return;
        if (lc->sys_err) {
                src_error(s, "%s", lc->sys_err == -EOVERFLOW ? "tree too large" : "out of memory");
                return;
        }
        merkle_hash root;
        merkle_border_root_with(&lc->border, sha256_evp_hasher(lc->sha), root);
        if (sha256_evp_failed(lc->sha)) {
                src_error(s, "SHA-256 failed inside libcrypto");
                return;
        }
        if (lc->border.size != s->cp.size) {
                src_fail(s, FIND_MALFORMED, "got %llu records for a checkpoint of size %llu",
                         (unsigned long long)lc->border.size, (unsigned long long)s->cp.size);
                return;
        }
        if (memcmp(root, s->cp.root, sizeof(root)) != 0) {
                src_fail(s, FIND_ROOT_MISMATCH,
                         "the Merkle root of the %llu records differs from the signed "
                         "checkpoint's root",
                         (unsigned long long)s->cp.size);
                return;
        }
        if (have_rem && rem->size > 0 && rem->size <= s->cp.size &&
            (!lc->have_m_root || memcmp(lc->m_root, rem->root, sizeof(root)) != 0)) {
                src_fail(s, FIND_FORK,
                         "the first %llu records no longer hash to the root of the checkpoint "
                         "verified before (history was rewritten; gpuhours state show ORIGIN)",
                         (unsigned long long)rem->size);
                remember_fork(s, o, rem);
                return;
        }
        if (lc->decode_failed) {
                char msg[200];
                snprintf(msg, sizeof(msg), "signed record %llu does not decode: %s",
                         (unsigned long long)lc->bad_leaf, gh_strerror(lc->bad_err));
                src_fail_leaf(s, FIND_MALFORMED, lc->bad_leaf, msg);
                return;
        }
        int r = analyzer_finish(lc->az, &s->an);
        if (r != 0) {
                src_error(s, "analysis failed: %s", gh_strerror(r));
                return;
        }
        s->have_analysis = true;
        s->status = analysis_max_severity(&s->an) >= SEV_WARNING ? SRC_FINDINGS : SRC_OK;
        if (analysis_max_severity(&s->an) >= SEV_ERROR) {
                /* signed data that contradicts physics (IMPLAUSIBLE): an integrity failure */
                size_t n = 0, first = 0;
                for (size_t i = 0; i < s->an.nfindings; i++)
                        if (s->an.findings[i].severity >= SEV_ERROR && n++ == 0)
                                first = i;
                s->status = SRC_FAILED;
                snprintf(s->error, sizeof(s->error), "%s: %s%s",
                         finding_kind_name(s->an.findings[first].kind),
                         s->an.findings[first].detail, n > 1 ? " (and more, see findings)" : "");
        }
        if (o->want_buckets) {
                s->az = lc->az;
                lc->az = NULL;
        }
        /* Saved by sources_verify once every source of this origin in the run agrees. */
        if (may_save && !o->no_state && (!have_rem || s->cp.size >= rem->size))
                s->save_state = true;
}

/* --- bundle files --- */

static void verify_bundle(struct source *s, const struct verify_opts *o) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(s->name, SOURCE_BUNDLE_MAX_BYTES, &buf, &len);
        if (r == -ENOENT && strstr(s->name, "://"))
                src_error(s, "'%s': unsupported URL scheme (only http:// and https://)", s->name);
        else if (r == -ENOENT)
                src_error(s, "'%s' is neither a file nor an http:// or https:// URL", s->name);
        else if (r == -EISDIR)
                src_error(s, "'%s' is a directory, not a bundle file", s->name);
        else if (r == -EINVAL)
                src_error(s, "'%s' is not a regular file (a FIFO or device?), not a bundle",
                          s->name);
        else if (r != 0)
                src_error(s, "cannot read bundle '%s': %s", s->name,
                          r == -EFBIG ? "larger than 4 GiB" : strerror(-r));
        if (r != 0)
                return;
        struct bundle_view v;
        r = bundle_parse((const uint8_t *)buf, len, &v);
        if (r != 0) {
                if (r < 0)
                        src_error(s, "bundle '%s': %s", s->name, gh_strerror(r));
                else
                        src_fail(s, FIND_MALFORMED, "'%s' is not a valid bundle: %s", s->name,
                                 gh_strerror(r));
                return;
        }
        if (check_note(s, o, v.note, v.note_len, true) != 0)
                return;
        if (v.count != s->cp.size) {
                src_fail(s, FIND_MALFORMED, "bundle holds %llu records, its checkpoint %llu",
                         (unsigned long long)v.count, (unsigned long long)s->cp.size);
                return;
        }
        struct checkpoint rem;
        bool have_rem;
        if (load_remembered(s, o, &rem, &have_rem) != 0)
                return;
        /* An archive older than what was seen since is not a rollback. */
        if (have_rem && rem.size > s->cp.size)
                have_rem = false;
        struct ledger_check lc;
        if (ledger_check_init(&lc, o, 0, have_rem ? rem.size : 0) != 0) {
                ledger_check_free(&lc);
                src_error(s, "out of memory");
                return;
        }
        struct reader rd;
        reader_init(&rd, v.records, v.records_len);
        for (uint64_t i = 0; i < v.count; i++) {
                const uint8_t *rec;
                size_t rlen;
                if (record_frame_next(&rd, &rec, &rlen) != 0) {
                        src_fail_leaf(s, FIND_MALFORMED, i, "bad record framing in the bundle");
                        break;
                }
                ledger_check_leaf(&lc, rec, rlen);
        }
        source_complete(s, o, &lc, &rem, have_rem, true);
        ledger_check_free(&lc);
}

/* --- node URLs --- */

struct online {
        struct source *s;
        const struct verify_opts *o;
        struct fetch *f;
        struct ledger_check lc;
        bool lc_ready;
        struct checkpoint rem;
        bool have_rem;
        uint64_t next;
        uint64_t bytes;
        bool records_done;
        bool proof_wanted, proof_asked, proof_done;
        merkle_hash proof[MERKLE_MAX_PROOF];
        size_t proof_len;
        struct store_audit sa;
        bool commit_pending; /* complete: commit once the run's sources agree */
        struct merkle_border border; /* the complete tree, for that commit */
        uint64_t started_ns; /* first request, for the deadline */
        uint64_t asked_end;  /* end= of the records request in flight */
        struct progress *pg;
        struct online_window *win;
        bool counted; /* finished: in pg's nodes done, its ledger check freed */
        struct online_req {
                struct online *on;
                fetch_done_fn cb;
        } req[3]; /* checkpoint, records, proof: at most one of each in flight */
};

static void on_checkpoint(void *ctx, struct fetch_result *res);
static void on_records(void *ctx, struct fetch_result *res);
static void online_get(struct online *on, const char *path, size_t cap, fetch_done_fn cb);

/*
 * Node URLs are audited FETCH_MAX_ACTIVE at a time: the next one starts when
 * one finishes, so memory (ledger checks, pages in flight) stays flat in the
 * number of nodes.
 */
struct online_window {
        struct online *ons;
        size_t n, next;
};

static void window_start_next(struct online_window *w) {
        if (w->next < w->n) {
                struct online *on = &w->ons[w->next++];
                online_get(on, API_PATH_CHECKPOINT, SOURCE_CHECKPOINT_MAX_BYTES, on_checkpoint);
        }
}

/* Every answer of a node: its callback, then the progress bar's count of nodes done. */
static void on_answer(void *ctx, struct fetch_result *res) {
        struct online_req *rq = ctx;
        struct online *on = rq->on;
        rq->cb(on, res);
        if (!on->counted &&
            (source_done(on->s) || (on->records_done && (!on->proof_wanted || on->proof_done)))) {
                on->counted = true;
                progress_add(on->pg, 0, 1);
                if (!on->commit_pending)
                        store_audit_abort(&on->sa, on->o);
                if (on->lc_ready)
                        ledger_check_free(&on->lc);
                window_start_next(on->win);
        }
}

/* 0 when res is a 200 response; else the source has the error. */
static int http_ok(struct online *on, const struct fetch_result *res) {
        _cleanup_free_ char *shown = url_redact(res->url);
        const char *u = shown ? shown : "(URL)";
        if (!res->ok) {
                src_error(on->s, "%s: %s", u, res->error);
                return -1;
        }
        if (res->http_status != 200) {
                char q[120];
                const uint8_t *nl = memchr(res->body, '\n', res->len);
                quote_bytes(res->body, nl ? (size_t)(nl - res->body) : res->len, q, sizeof(q));
                src_error(on->s, "%s: HTTP status %ld: %s", u, res->http_status, q);
                return -1;
        }
        return 0;
}

static void online_get(struct online *on, const char *path, size_t cap, fetch_done_fn cb) {
        uint64_t now = wall_now_ns();
        if (!on->started_ns)
                on->started_ns = now;
        if (on->o->deadline_ms > 0 && now - on->started_ns > (uint64_t)on->o->deadline_ms * 1000000u) {
                src_error(on->s, "%s: deadline of %.0f s passed with %llu of %llu records fetched",
                          on->s->name, (double)on->o->deadline_ms / 1000.0,
                          (unsigned long long)on->next, (unsigned long long)on->s->cp.size);
                return;
        }
        struct online_req *rq = &on->req[cb == on_checkpoint ? 0 : cb == on_records ? 1 : 2];
        rq->on = on;
        rq->cb = cb;
        _cleanup_free_ char *url = url_join(on->s->url ? on->s->url : on->s->name, path);
        if (!url || fetch_add(on->f, url, cap, on_answer, rq) != 0)
                src_error(on->s, "out of memory");
}

static void request_records(struct online *on) {
        char path[96];
        /* Bounded pages: memory in flight stays at most 16 pages, whatever the tree size. */
        uint64_t left = on->s->cp.size - on->next;
        on->asked_end = on->next + (left < SOURCE_PAGE_RECORDS ? left : SOURCE_PAGE_RECORDS);
        snprintf(path, sizeof(path), API_PATH_RECORDS "?" API_PARAM_START "=%llu&" API_PARAM_END "=%llu",
                 (unsigned long long)on->next, (unsigned long long)on->asked_end);
        online_get(on, path, SOURCE_PAGE_MAX_BYTES, on_records);
}

/*
 * The records themselves prove the remembered checkpoint a prefix of the
 * node's: the border (resumed at, or passing, the remembered size) hashes to
 * the remembered root there and, with every new record, to the signed root.
 */
static bool records_prove_consistency(struct online *on) {
        const struct ledger_check *lc = &on->lc;
        const struct source *s = on->s;
        if (lc->sys_err || lc->border.size != s->cp.size || !lc->have_m_root ||
            lc->m != on->rem.size || memcmp(lc->m_root, on->rem.root, sizeof(merkle_hash)) != 0)
                return false;
        merkle_hash root;
        merkle_border_root_with(&lc->border, sha256_evp_hasher(lc->sha), root);
        return !sha256_evp_failed(lc->sha) && memcmp(root, s->cp.root, sizeof(root)) == 0;
}

static void on_proof(void *ctx, struct fetch_result *res);

static void maybe_complete(struct online *on) {
        struct source *s = on->s;
        if (source_done(s) || !on->records_done || (on->proof_asked && !on->proof_done))
                return;
        /*
         * The node's consistency proof is fetched only when the records do not
         * prove consistency themselves: then it tells a FORK (the proof does
         * not verify) from a ROOT_MISMATCH, as it always did.
         */
        if (on->proof_wanted && !on->proof_asked) {
                if (records_prove_consistency(on)) {
                        on->proof_wanted = false;
                } else {
                        char path[96];
                        snprintf(path, sizeof(path),
                                 API_PATH_CONSISTENCY "?" API_PARAM_OLD "=%llu&" API_PARAM_NEW
                                                      "=%llu",
                                 (unsigned long long)on->rem.size, (unsigned long long)s->cp.size);
                        on->proof_asked = true;
                        online_get(on, path, SOURCE_PROOF_MAX_BYTES, on_proof);
                        return;
                }
        }
        if (on->proof_wanted &&
            merkle_verify_consistency(on->rem.size, s->cp.size, on->rem.root, s->cp.root,
                                      (const merkle_hash *)on->proof, on->proof_len) != 0) {
                src_fail(s, FIND_FORK,
                         "the node's consistency proof from the checkpoint verified before "
                         "(size %llu) to size %llu does not verify",
                         (unsigned long long)on->rem.size, (unsigned long long)s->cp.size);
                return;
        }
        store_audit_snapshot(&on->sa, s, on->o, &on->lc);
        source_complete(s, on->o, &on->lc, &on->rem, on->have_rem, true);
        /* Committed (or dropped) by sources_verify, after the sources' cross-check. */
        on->commit_pending = on->sa.active;
        on->border = on->lc.border;
        if (!source_done(s) && on->o->keep_bundle) {
                size_t len;
                if (writer_finish(&s->bundle, &s->bundle_data, &len) != 0)
                        src_error(s, "bundle too large or out of memory");
                else
                        s->bundle_len = len;
        }
}

static void on_proof(void *ctx, struct fetch_result *res) {
        struct online *on = ctx;
        if (source_done(on->s) || http_ok(on, res) != 0)
                return;
        if (merkle_proof_parse((const char *)res->body, res->len, on->proof, &on->proof_len) != 0) {
                src_fail(on->s, FIND_FORK,
                         "the node's consistency proof from size %llu does not parse",
                         (unsigned long long)on->rem.size);
                return;
        }
        on->proof_done = true;
        maybe_complete(on);
}

static void on_checkpoint(void *ctx, struct fetch_result *res) {
        struct online *on = ctx;
        struct source *s = on->s;
        if (source_done(s) || http_ok(on, res) != 0)
                return;
        /*
         * With a policy: first the node's history against what it showed the
         * witnesses, then the quorum, so that a split view is a FORK with both
         * notes whether or not the node's checkpoint carries the quorum.
         */
        struct verify_opts nopol = *on->o;
        nopol.policy = NULL;
        if (check_note(s, &nopol, (const char *)res->body, res->len, false) != 0)
                return;
        if (on->o->policy) {
                const struct policy *p = on->o->policy;
                struct finding fail, *info = NULL;
                struct witness_seen seen[POLICY_MAX_WITNESSES];
                size_t ninfo = 0, k = 0;
                struct witness_fork_notes *notes = NULL;
                while (k < on->o->nkeys && strcmp(on->o->keys[k].name, s->cp.origin) != 0)
                        k++;
                const char *node = s->url ? s->url : s->name;
                int wr = witness_fork_check(p, node, &s->cp, s->note, s->note_len, &on->o->keys[k],
                                            on->o->timeout_ms, &fail, &info, &ninfo, seen, &notes);
                add_integrity(s, info, ninfo);
                if (wr < 0) {
                        src_error(s, "out of memory");
                        return;
                }
                if (wr == 2) {
                        src_error(s, "comparing with the witnesses: %s", fail.detail);
                        return;
                }
                if (wr > 0) {
                        src_fail(s, fail.kind, "%s", fail.detail);
                        if (notes != NULL && s->fork_notes == NULL && s->nintegrity > 0 &&
                            s->integrity[s->nintegrity - 1].kind == fail.kind) {
                                s->fork_notes = notes;
                                s->fork_notes_at = s->nintegrity - 1;
                                notes = NULL;
                        }
                        witness_fork_notes_free(notes);
                        return;
                }
                if (check_quorum(s, p, s->note, s->note_len, seen) != 0)
                        return;
        }
        if (load_remembered(s, on->o, &on->rem, &on->have_rem) != 0)
                return;
        if (on->have_rem && on->rem.size > s->cp.size) {
                src_fail(s, FIND_ROLLBACK,
                         "the node's checkpoint has %llu records, but a checkpoint with %llu was "
                         "verified before",
                         (unsigned long long)s->cp.size, (unsigned long long)on->rem.size);
                return;
        }
        if (on->have_rem && on->rem.size == s->cp.size &&
            memcmp(on->rem.root, s->cp.root, sizeof(merkle_hash)) != 0) {
                src_fail(s, FIND_FORK,
                         "the node signed a different root for size %llu than the checkpoint "
                         "verified before (gpuhours state show ORIGIN)",
                         (unsigned long long)s->cp.size);
                remember_fork(s, on->o, &on->rem);
                return;
        }
        if (ledger_check_init(&on->lc, on->o, wall_now_ns(), on->have_rem ? on->rem.size : 0) !=
            0) {
                src_error(s, "out of memory");
                return;
        }
        on->lc_ready = true;
        if (on->o->keep_bundle) {
                writer_init(&s->bundle, SOURCE_RECORDS_MAX_BYTES + NOTE_MAX_SIZE + 64);
                bundle_write_header(&s->bundle, s->note, s->note_len, s->cp.size);
        }
        /* A known origin: resume from the evidence store, fetch only what is new. */
        int sr = store_audit_begin(&on->sa, s, on->o, &on->lc, &on->rem, &on->have_rem);
        if (sr != 0)
                return;
        on->next = on->lc.border.size;
        /* Consistency with rem: by the records, else by the node's proof (maybe_complete). */
        on->proof_wanted = on->have_rem && on->rem.size > 0 && on->rem.size < s->cp.size;
        if (on->next == s->cp.size)
                on->records_done = true;
        else
                request_records(on);
        maybe_complete(on);
}

static void on_records(void *ctx, struct fetch_result *res) {
        struct online *on = ctx;
        struct source *s = on->s;
        if (source_done(s) || http_ok(on, res) != 0)
                return;
        uint64_t want_end = on->asked_end, start = on->next, end = 0;
        if (res->range[0]) {
                if (!range_header_parse(res->range, &start, &end) || start != on->next ||
                    end > want_end) {
                        char q[80];
                        quote_bytes(res->range, strlen(res->range), q, sizeof(q));
                        src_fail(s, FIND_MALFORMED,
                                 "records response for [%llu, %llu) states range '%s'",
                                 (unsigned long long)on->next, (unsigned long long)want_end, q);
                        return;
                }
        }
        on->bytes += res->len;
        if (on->bytes > SOURCE_RECORDS_MAX_BYTES) {
                src_error(s, "%s: more than %llu bytes of records", s->name,
                          (unsigned long long)SOURCE_RECORDS_MAX_BYTES);
                return;
        }
        struct reader rd;
        reader_init(&rd, res->body, res->len);
        uint64_t got = 0;
        while (reader_left(&rd) > 0) {
                const uint8_t *rec;
                size_t rlen;
                if (on->next + got >= want_end) {
                        src_fail(s, FIND_MALFORMED, "the node sent more records than asked for");
                        return;
                }
                if (record_frame_next(&rd, &rec, &rlen) != 0) {
                        src_fail_leaf(s, FIND_MALFORMED, on->next + got,
                                      "bad record framing in the records response");
                        return;
                }
                ledger_check_leaf(&on->lc, rec, rlen);
                got++;
        }
        if (got == 0 || (end && got != end - start)) {
                src_fail(s, FIND_MALFORMED,
                         "records response for [%llu, %llu) holds %llu records, states %s",
                         (unsigned long long)on->next, (unsigned long long)want_end,
                         (unsigned long long)got, res->range[0] ? res->range : "nothing");
                return;
        }
        uint32_t min_page = on->o->min_page ? on->o->min_page : 1;
        if (on->next + got < s->cp.size && got < min_page) {
                src_error(s,
                          "%s: a records page for [%llu, %llu) holds %llu records, fewer than "
                          "--min-page %u, and is not the last",
                          s->name, (unsigned long long)on->next, (unsigned long long)want_end,
                          (unsigned long long)got, min_page);
                return;
        }
        if (on->o->keep_bundle)
                writer_bytes(&s->bundle, res->body, res->len);
        if (store_audit_page(&on->sa, s, on->o, on->next, res->body, res->len) != 0)
                return;
        progress_add(on->pg, got, 0);
        on->next += got;
        if (on->next < s->cp.size)
                request_records(on);
        else
                on->records_done = true;
        maybe_complete(on);
}

/*
 * After the cross-check: commit each complete node audit to the evidence
 * store, unless its source failed or its origin is held. Sources of one
 * origin stage apart (store_stage_begin): of those, the largest complete
 * one is committed (the others agree with it, or the origin is held).
 */
static void commit_audits(struct online *ons, size_t nurl, const struct source *srcs,
                          const bool *hold, const size_t *group, size_t n,
                          const struct verify_opts *o) {
        size_t *best = malloc((n ? n : 1) * sizeof(*best));
        for (size_t g = 0; best && g < n; g++)
                best[g] = SIZE_MAX;
        for (size_t i = 0; best && i < nurl; i++) {
                size_t k = (size_t)(ons[i].s - srcs);
                if (!ons[i].commit_pending || hold[k] || group[k] == SIZE_MAX ||
                    source_done(ons[i].s))
                        continue;
                size_t *b = &best[group[k]];
                if (*b == SIZE_MAX || ons[i].s->cp.size > ons[*b].s->cp.size)
                        *b = i;
        }
        /*
         * One transaction for all of them (each commit a savepoint in it): a
         * fleet's audits are written and synced once, not once per node.
         */
        char err[600];
        bool batch = o->store && store_batch_begin(o->store, err, sizeof(err)) == 0;
        bool *done = calloc(nurl ? nurl : 1, sizeof(*done));
        for (size_t i = 0; i < nurl; i++) {
                struct online *on = &ons[i];
                size_t k = (size_t)(on->s - srcs);
                if (!on->commit_pending)
                        continue;
                on->commit_pending = false;
                if (!best || hold[k] || group[k] == SIZE_MAX || best[group[k]] != i) {
                        if (best && !hold[k] && group[k] != SIZE_MAX && !source_done(on->s))
                                fprintf(stderr,
                                        PROG ": note: %s: not recorded in the evidence store: "
                                             "another source of this run has the same origin "
                                             "(the larger one is recorded)\n",
                                        on->s->name);
                        store_audit_abort(&on->sa, o);
                        continue;
                }
                struct ledger_check lc = {.border = on->border};
                bool ok = store_audit_end(&on->sa, on->s, o, &lc);
                if (done)
                        done[i] = ok;
        }
        if (batch && store_batch_end(o->store, err, sizeof(err)) != 0)
                for (size_t i = 0; i < nurl; i++)
                        if (!done || done[i])
                                fprintf(stderr,
                                        PROG ": warning: %s: not recorded in the evidence store: "
                                             "%s\n",
                                        ons[i].s->name, err);
        free(done);
        free(best);
}

int sources_verify(struct source *srcs, size_t n, const struct verify_opts *o) {
        if (o->offline)
                return store_sources_verify(srcs, n, o);
        size_t nurl = 0;
        for (size_t i = 0; i < n; i++) {
                if (srcs[i].is_url)
                        nurl++;
                else
                        verify_bundle(&srcs[i], o);
        }
        struct online *ons = calloc(nurl ? nurl : 1, sizeof(*ons));
        struct fetch *f = nurl ? fetch_new(o->timeout_ms, false) : NULL;
        bool *hold = calloc(n ? n : 1, sizeof(*hold));
        size_t *group = calloc(n ? n : 1, sizeof(*group));
        struct progress pg;
        progress_init(&pg, nurl, o->progress && nurl > 0);
        if (!ons || (nurl && !f) || !hold || !group) {
                free(ons);
                fetch_free(f);
                free(hold);
                free(group);
                return -ENOMEM;
        }
        struct online_window win = {.ons = ons, .n = nurl};
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
                if (!srcs[i].is_url)
                        continue;
                struct online *on = &ons[k++];
                on->s = &srcs[i];
                on->o = o;
                on->f = f;
                on->pg = &pg;
                on->win = &win;
        }
        int r = 0;
        if (nurl > 0) {
                for (size_t i = 0; i < FETCH_MAX_ACTIVE; i++)
                        window_start_next(&win);
                r = fetch_run(f);
        }
        progress_end(&pg);
        for (size_t i = 0; i < nurl; i++) {
                if (!source_done(ons[i].s) && !ons[i].records_done && r != 0)
                        src_error(ons[i].s, "transfer engine failed");
                if (!source_done(ons[i].s) && i >= win.next)
                        src_error(ons[i].s, "not audited: an earlier transfer failed");
                if (ons[i].lc_ready && !ons[i].counted)
                        ledger_check_free(&ons[i].lc);
        }
        fetch_free(f);
        /* The sources against each other, then what is remembered of them. */
        int cr = sources_cross_check(srcs, n, o, hold, group);
        if (cr != 0) {
                for (size_t i = 0; i < n; i++)
                        hold[i] = true;
                fprintf(stderr, PROG ": out of memory checking the sources against each other; "
                                "nothing remembered\n");
        }
        /* Proven equivocation is kept, in its own transaction, though its audit failed. */
        store_record_forks(srcs, n, o);
        commit_audits(ons, nurl, srcs, hold, group, n, o);
        for (size_t i = 0; i < nurl; i++)
                store_audit_abort(&ons[i].sa, o); /* nothing, if it was committed */
        if (cr == 0)
                sources_save_state(srcs, n, o, hold, group);
        free(ons);
        free(hold);
        free(group);
        return r; /* a failed cross-check said so itself */
}
