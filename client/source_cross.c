/* SPDX-License-Identifier: MIT */
/*
 * Forks across the sources of one run. Every two sources of one origin whose
 * checkpoints verified must show one history: the smaller tree a prefix of
 * the larger (equal size: equal root). For a larger bundle the root of the
 * smaller size is computed from its records (the file is read again, and
 * must still hash to its signed root); for a larger node URL the node must
 * prove it (/v1/proof/consistency). A pair that is not consistent is a FORK
 * on both, with both signed notes on standard error as evidence; the origin
 * is then neither remembered nor committed to the evidence store.
 *
 * Cost: sources are grouped by origin (one sort). Within a group the
 * distinct trees are taken largest first; each is checked against the
 * "heads" found so far (trees that are a prefix of no larger one), so one
 * consistent history costs one check per tree: a proof request or one pass
 * over one bundle per head. A tree whose relation to a head cannot be told
 * (the head's node proves nothing) is not in that head: it is checked as a
 * head of its own, so such a node cannot hide a fork among smaller trees.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "fetch.h"
#include "merkle.h"
#include "record.h"
#include "sha256_evp.h"
#include "source_internal.h"
#include "state.h"
#include "util.h"
#include "witness.h"

#define MAX_HEADS 64      /* heads tracked per origin (bits of a uint64_t) */
#define MAX_EVIDENCE 8    /* conflicting pairs printed per origin */

enum rel { REL_UNKNOWN = -1, REL_NO = 0, REL_YES = 1 };

struct tree {
        size_t src;       /* the first source (in command-line order) with this tree */
        uint64_t size;
        const uint8_t *root;
        uint64_t heads;   /* bit h: a prefix of (or equal to) head h, proven */
        uint64_t maybe;   /* bit h: whether a prefix of head h could not be told */
        uint64_t no;      /* bit h: proven not a prefix of head h */
        uint64_t self;    /* bit h if this tree is head h, else 0 */
};

/*
 * Whether trees t and u are proven to be two histories. Directly: one is a
 * head the other is proven not a prefix of. Or through the heads: were they
 * consistent, the smaller would be a prefix of every head the larger is in,
 * so with no head in common, each relation to the other's heads known, they
 * cannot be. An unknown relation is never a conflict, nor is it a proof of
 * consistency: a node that proves nothing cannot hide two other trees' fork.
 */
static bool conflict(const struct tree *t, const struct tree *u) {
        if ((t->no & u->self) != 0 || (u->no & t->self) != 0)
                return true;
        return (t->heads & u->heads) == 0 && (t->maybe & u->heads) == 0 &&
               (u->maybe & t->heads) == 0;
}

static const struct source *g_srcs; /* for qsort's comparison only */

static int cmp_participant(const void *a, const void *b) {
        size_t i = *(const size_t *)a, j = *(const size_t *)b;
        const struct source *x = &g_srcs[i], *y = &g_srcs[j];
        int c = strcmp(x->cp.origin, y->cp.origin);
        if (c != 0)
                return c;
        if (x->cp.size != y->cp.size)
                return x->cp.size > y->cp.size ? -1 : 1;
        c = memcmp(x->cp.root, y->cp.root, MERKLE_HASH_LEN);
        if (c != 0)
                return c;
        return i < j ? -1 : i > j;
}

/*
 * A FORK finding on s against source u, whatever else already failed s (the
 * status then stays). The finding carries both signed notes in --json (the
 * first FORK of s that has none from a witness).
 */
static void add_fork(struct source *s, const struct source *u, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void add_fork(struct source *s, const struct source *u, const char *fmt, ...) {
        char buf[sizeof(s->error) - 32];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        size_t before = s->nintegrity;
        if (!source_done(s)) {
                src_fail(s, FIND_FORK, "%s", buf);
        } else {
                struct finding *f = realloc(s->integrity, (s->nintegrity + 1) * sizeof(*f));
                if (!f)
                        return;
                s->integrity = f;
                f[s->nintegrity++] = finding_make(FIND_FORK, "%s", buf);
        }
        /* This run's pair of notes rather than the evidence store's older one. */
        if (s->nintegrity == before + 1 && s->integrity[before].kind == FIND_FORK &&
            !s->fork_with && s->fork_notes && s->fork_notes->from_store && u->note && s->note) {
                witness_fork_notes_free(s->fork_notes);
                s->fork_notes = NULL;
        }
        if (s->nintegrity == before + 1 && s->integrity[before].kind == FIND_FORK &&
            !s->fork_with && !s->fork_notes && u->note && s->note) {
                s->fork_with = u;
                s->fork_with_at = before;
        }
}

/* The empty tree is a prefix of every tree, if its root is the empty tree's. */
static enum rel empty_root_of(const struct tree *t) {
        merkle_hash e;
        merkle_empty_root(e);
        return memcmp(e, t->root, MERKLE_HASH_LEN) == 0 ? REL_YES : REL_NO;
}

/* --- a bundle's roots at smaller sizes, from its records read again --- */

static int bundle_roots(const struct source *s, const uint64_t *want, size_t k, merkle_hash *out,
                        char *why, size_t whylen) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(s->name, SOURCE_BUNDLE_MAX_BYTES, &buf, &len);
        if (r != 0) {
                snprintf(why, whylen, "cannot read it again: %s", strerror(-r));
                return -1;
        }
        struct bundle_view v;
        if (bundle_parse((const uint8_t *)buf, len, &v) != 0 || v.note_len != s->note_len ||
            memcmp(v.note, s->note, s->note_len) != 0 || v.count != s->cp.size) {
                snprintf(why, whylen, "it changed while it was being verified");
                return -1;
        }
        struct sha256_evp *sha = sha256_evp_new();
        if (!sha) {
                snprintf(why, whylen, "out of memory");
                return -1;
        }
        const struct gh_sha256 *hs = sha256_evp_hasher(sha);
        struct merkle_border b;
        merkle_border_init(&b);
        struct reader rd;
        reader_init(&rd, v.records, v.records_len);
        size_t next = 0; /* want[] is ascending */
        r = 0;
        for (uint64_t i = 0; i < v.count && r == 0; i++) {
                const uint8_t *rec;
                size_t rlen;
                merkle_hash h;
                if (record_frame_next(&rd, &rec, &rlen) != 0) {
                        r = -1;
                        break;
                }
                merkle_leaf_hash_with(hs, rec, rlen, h);
                if (merkle_border_append_with(&b, hs, h) != 0)
                        r = -1;
                while (r == 0 && next < k && want[next] == b.size)
                        merkle_border_root_with(&b, hs, out[next++]);
        }
        merkle_hash root = {0};
        if (r == 0)
                merkle_border_root_with(&b, hs, root);
        bool bad = r != 0 || sha256_evp_failed(sha) || next != k ||
                   memcmp(root, s->cp.root, MERKLE_HASH_LEN) != 0;
        sha256_evp_free(sha);
        if (bad) {
                snprintf(why, whylen, "its records do not hash to its signed root");
                return -1;
        }
        return 0;
}

/* --- a node's consistency proofs to smaller sizes --- */

struct proof_req {
        const struct tree *t;  /* the smaller tree */
        const struct tree *h;  /* the head (a node URL) */
        enum rel result;
        char why[200];
};

static void on_proof(void *ctx, struct fetch_result *res) {
        struct proof_req *q = ctx;
        merkle_hash proof[MERKLE_MAX_PROOF];
        size_t n;
        if (!res->ok) {
                snprintf(q->why, sizeof(q->why), "%s", res->error);
                return;
        }
        if (res->http_status != 200) {
                snprintf(q->why, sizeof(q->why), "HTTP status %ld for its consistency proof",
                         res->http_status);
                return;
        }
        if (merkle_proof_parse((const char *)res->body, res->len, proof, &n) != 0 ||
            merkle_verify_consistency(q->t->size, q->h->size, q->t->root, q->h->root,
                                      (const merkle_hash *)proof, n) !=
                    0) {
                q->result = REL_NO;
                snprintf(q->why, sizeof(q->why), "its consistency proof does not verify");
                return;
        }
        q->result = REL_YES;
}

/*
 * rel[t] for every tree t smaller than head h (trees[h+1..nt) are the
 * smaller or equal ones, sizes descending): whether t is a prefix of h.
 */
static void head_relations(struct source *srcs, struct tree *trees, size_t nt, size_t h,
                           const struct verify_opts *o, enum rel *rel, char *why, size_t whylen) {
        const struct tree *H = &trees[h];
        const struct source *hs = &srcs[H->src];
        size_t first = h + 1;
        while (first < nt && trees[first].size == H->size)
                rel[first++] = REL_NO; /* same size, another root */
        size_t k = nt - first;
        why[0] = '\0';
        for (size_t i = first; i < nt; i++)
                rel[i] = REL_UNKNOWN;
        if (k == 0)
                return;
        if (!hs->is_url) {
                uint64_t *want = malloc(k * sizeof(*want));
                merkle_hash *roots = malloc(k * sizeof(*roots));
                size_t nw = 0;
                /* ascending, without repeats (trees of one size with several roots) */
                for (size_t i = nt; i-- > first;)
                        if (trees[i].size > 0 && (nw == 0 || want[nw - 1] != trees[i].size))
                                want[nw++] = trees[i].size;
                if (want && roots && bundle_roots(hs, want, nw, roots, why, whylen) == 0) {
                        for (size_t i = first; i < nt; i++) {
                                if (trees[i].size == 0) {
                                        rel[i] = empty_root_of(&trees[i]);
                                        continue;
                                }
                                size_t w = 0;
                                while (want[w] != trees[i].size)
                                        w++;
                                rel[i] = memcmp(roots[w], trees[i].root, MERKLE_HASH_LEN) == 0
                                                 ? REL_YES
                                                 : REL_NO;
                        }
                } else if (!why[0]) {
                        snprintf(why, whylen, "out of memory");
                }
                free(want);
                free(roots);
                return;
        }
        struct proof_req *q = calloc(k, sizeof(*q));
        struct fetch *f = q ? fetch_new(o->timeout_ms, false) : NULL;
        if (!q || !f) {
                snprintf(why, whylen, "out of memory");
                free(q);
                fetch_free(f);
                return;
        }
        for (size_t i = 0; i < k; i++) {
                struct tree *t = &trees[first + i];
                q[i].t = t;
                q[i].h = H;
                q[i].result = REL_UNKNOWN;
                if (t->size == 0) {
                        q[i].result = empty_root_of(t);
                        continue;
                }
                char path[96];
                snprintf(path, sizeof(path), "/v1/proof/consistency?old=%llu&new=%llu",
                         (unsigned long long)t->size, (unsigned long long)H->size);
                _cleanup_free_ char *url = url_join(hs->url ? hs->url : hs->name, path);
                if (!url || fetch_add(f, url, SOURCE_PROOF_MAX_BYTES, on_proof, &q[i]) != 0)
                        snprintf(q[i].why, sizeof(q[i].why), "out of memory");
        }
        if (fetch_run(f) != 0)
                snprintf(why, whylen, "the transfer engine failed");
        for (size_t i = 0; i < k; i++) {
                rel[first + i] = q[i].result;
                if (q[i].result != REL_YES && !why[0])
                        snprintf(why, whylen, "%s", q[i].why);
        }
        fetch_free(f);
        free(q);
}

/* The signed note of s, verbatim (verified: UTF-8, no control characters but '\n'). */
static void print_note(const struct source *s) {
        fprintf(stderr, PROG ": signed note from %s:\n", s->name);
        fwrite(s->note, 1, s->note_len, stderr);
}

static const char *short_name(const struct source *s, char *buf, size_t cap) {
        quote_bytes(s->name, strlen(s->name), buf, cap);
        return buf;
}

/* One origin: srcs at ord[0..m) (sorted: size descending). */
static void check_origin(struct source *srcs, const size_t *ord, size_t m,
                         const struct verify_opts *o, bool *hold) {
        struct tree *trees = calloc(m, sizeof(*trees));
        size_t *tree_of = calloc(m, sizeof(*tree_of));
        enum rel *rel = calloc(m, sizeof(*rel));
        size_t nt = 0;
        char q[NOTE_NAME_MAX + 3];
        const char *origin = srcs[ord[0]].cp.origin;
        quote_bytes(origin, strlen(origin), q, sizeof(q));
        if (!trees || !tree_of || !rel) {
                fprintf(stderr, PROG ": origin '%s': out of memory checking its sources against "
                                "each other; not remembered\n", q);
                for (size_t i = 0; i < m; i++)
                        hold[ord[i]] = true;
                goto out;
        }
        for (size_t i = 0; i < m; i++) {
                const struct source *s = &srcs[ord[i]];
                if (nt > 0 && trees[nt - 1].size == s->cp.size &&
                    memcmp(trees[nt - 1].root, s->cp.root, MERKLE_HASH_LEN) == 0) {
                        /* ord is in command-line order within one tree: prefer a bundle,
                         * whose records answer without the network. */
                        tree_of[i] = nt - 1;
                        if (!s->is_url && srcs[trees[nt - 1].src].is_url)
                                trees[nt - 1].src = ord[i];
                        continue;
                }
                trees[nt] = (struct tree){.src = ord[i], .size = s->cp.size, .root = s->cp.root};
                tree_of[i] = nt++;
        }
        if (nt == 1)
                goto out; /* one tree, however many sources show it */

        /* Heads, largest first; each tree's membership in every head. */
        size_t nh = 0;
        bool unknown = false, by_proof = false; /* by_proof: a node failed to prove a prefix */
        char why[800] = "";
        for (size_t t = 0; t < nt; t++) {
                bool member = false;
                for (size_t h = 0; h < nh; h++)
                        if (trees[t].heads & (1ull << h))
                                member = true;
                if (member)
                        continue;
                if (nh == MAX_HEADS)
                        continue; /* a fork anyway: no head bit, it conflicts with every tree */
                /* t is a new head: relate every smaller tree to it. */
                trees[t].heads |= 1ull << nh;
                trees[t].self = 1ull << nh;
                char w[300];
                head_relations(srcs, trees, nt, t, o, rel, w, sizeof(w));
                bool head_unknown = false;
                for (size_t u = t + 1; u < nt; u++) {
                        if (rel[u] == REL_NO) {
                                by_proof |= srcs[trees[t].src].is_url && trees[u].size < trees[t].size;
                                trees[u].no |= 1ull << nh;
                                continue;
                        }
                        if (rel[u] == REL_YES)
                                trees[u].heads |= 1ull << nh;
                        else
                                trees[u].maybe |= 1ull << nh; /* u may become a head itself */
                        if (rel[u] == REL_UNKNOWN && !head_unknown) {
                                /* Not proven is not consistent: the larger source is incomplete. */
                                unknown = head_unknown = true;
                                char a[120], b[120];
                                snprintf(why, sizeof(why),
                                         "cannot tell whether %s (size %llu) is a prefix of %s "
                                         "(size %llu): %s",
                                         short_name(&srcs[trees[u].src], a, sizeof(a)),
                                         (unsigned long long)trees[u].size,
                                         short_name(&srcs[trees[t].src], b, sizeof(b)),
                                         (unsigned long long)trees[t].size, w);
                                for (size_t i = 0; i < m; i++)
                                        if (tree_of[i] == t)
                                                src_error(&srcs[ord[i]], "%s", why);
                        }
                }
                nh++;
        }

        /* Conflicts: two trees with no head in common (none with one head: one history). */
        size_t npairs = 0;
        for (size_t i = 0; i < m && nh > 1; i++) {
                struct source *s = &srcs[ord[i]];
                const struct tree *T = &trees[tree_of[i]];
                size_t nconf = 0, first = 0;
                for (size_t u = 0; u < nt; u++)
                        if (u != tree_of[i] && conflict(T, &trees[u]) && nconf++ == 0)
                                first = u;
                if (nconf == 0)
                        continue;
                char a[100];
                const struct tree *U = &trees[first];
                add_fork(s, &srcs[U->src],
                         "this tree (size %llu) and the one from %s (size %llu) are not "
                         "consistent: the origin's key signed two histories%s%s (both signed "
                         "notes: standard error)",
                         (unsigned long long)T->size, short_name(&srcs[U->src], a, sizeof(a)),
                         (unsigned long long)U->size, nconf > 1 ? ", and more trees" : "",
                         U->size == T->size ? " of one size" : "");
        }
        for (size_t t = 0; t < nt && nh > 1; t++) {
                for (size_t u = t + 1; u < nt; u++) {
                        if (!conflict(&trees[t], &trees[u]))
                                continue;
                        const struct source *A = &srcs[trees[t].src], *B = &srcs[trees[u].src];
                        if (npairs++ >= MAX_EVIDENCE)
                                continue;
                        fprintf(stderr,
                                PROG ": FORK: origin '%s' has two signed trees that are not "
                                     "consistent: size %llu (%s) and size %llu (%s)%s\n",
                                q, (unsigned long long)A->cp.size, A->name,
                                (unsigned long long)B->cp.size, B->name,
                                A->cp.size == B->cp.size
                                        ? ", the same size with different roots"
                                : !by_proof
                                        ? ", the smaller is not a prefix of the larger"
                                        : ", the larger one's node could not prove the smaller "
                                          "one its prefix");
                        print_note(A);
                        print_note(B);
                        /* Evidence kept only when the data shows it, not a node's failed proof. */
                        bool proven = A->cp.size == B->cp.size || !by_proof;
                        if (npairs == 1 && proven && !o->no_state) {
                                char err[400];
                                int r = state_record_fork(A->cp.origin, A->name, A->note,
                                                          A->note_len, B->name, B->note,
                                                          B->note_len, err, sizeof(err));
                                if (r < 0)
                                        fprintf(stderr, PROG ": warning: %s\n", err);
                        }
                }
        }
        if (npairs > MAX_EVIDENCE)
                fprintf(stderr, PROG ": FORK: origin '%s': %zu more conflicting pairs not shown\n",
                        q, npairs - MAX_EVIDENCE);
        if (npairs > 0 || unknown) {
                for (size_t i = 0; i < m; i++)
                        hold[ord[i]] = true;
                if (unknown && npairs == 0)
                        fprintf(stderr,
                                PROG ": origin '%s': its sources are not proven consistent; its "
                                     "remembered checkpoint is left as it was\n",
                                q);
                else if (!o->no_state)
                        fprintf(stderr,
                                PROG ": origin '%s': its sources disagree; its remembered "
                                     "checkpoint is left as it was (gpuhours state show '%s')\n",
                                q, q);
        }
out:
        free(trees);
        free(tree_of);
        free(rel);
}

int sources_cross_check(struct source *srcs, size_t n, const struct verify_opts *o, bool *hold,
                        size_t *group) {
        size_t *ord = malloc((n ? n : 1) * sizeof(*ord));
        if (!ord)
                return -ENOMEM;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                group[i] = SIZE_MAX;
                if (srcs[i].have_checkpoint && srcs[i].note)
                        ord[m++] = i;
        }
        g_srcs = srcs;
        qsort(ord, m, sizeof(*ord), cmp_participant);
        size_t g = 0;
        for (size_t i = 0; i < m;) {
                size_t j = i + 1;
                while (j < m && strcmp(srcs[ord[j]].cp.origin, srcs[ord[i]].cp.origin) == 0)
                        j++;
                for (size_t k = i; k < j; k++)
                        group[ord[k]] = g;
                if (j - i > 1)
                        check_origin(srcs, ord + i, j - i, o, hold);
                g++;
                i = j;
        }
        free(ord);
        return 0;
}

static bool judged(const struct source *s) {
        return (s->status == SRC_OK || s->status == SRC_FINDINGS) && s->have_checkpoint;
}

/* origin, then size descending, then command-line order */
static int cmp_judged(const void *a, const void *b) {
        size_t i = *(const size_t *)a, j = *(const size_t *)b;
        const struct source *x = &g_srcs[i], *y = &g_srcs[j];
        int c = strcmp(x->cp.origin, y->cp.origin);
        if (c != 0)
                return c;
        if (x->cp.size != y->cp.size)
                return x->cp.size > y->cp.size ? -1 : 1;
        return i < j ? -1 : i > j;
}

int sources_judged_as(const struct source *srcs, size_t n, size_t *rep) {
        size_t *ord = malloc((n ? n : 1) * sizeof(*ord));
        if (!ord)
                return -ENOMEM;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
                rep[i] = SIZE_MAX;
                if (judged(&srcs[i]))
                        ord[m++] = i;
        }
        g_srcs = srcs;
        qsort(ord, m, sizeof(*ord), cmp_judged);
        for (size_t k = 0; k < m; k++) {
                size_t first = k > 0 && rep[ord[k - 1]] != SIZE_MAX &&
                                               strcmp(srcs[ord[k - 1]].cp.origin,
                                                      srcs[ord[k]].cp.origin) == 0
                                       ? rep[ord[k - 1]]
                                       : ord[k];
                rep[ord[k]] = first;
        }
        free(ord);
        return 0;
}

void sources_save_state(struct source *srcs, size_t n, const struct verify_opts *o,
                        const bool *hold, const size_t *group) {
        if (o->no_state)
                return;
        /* Per origin, the largest checkpoint that may be saved (they are consistent). */
        size_t *best = malloc((n ? n : 1) * sizeof(*best));
        if (!best) {
                fprintf(stderr, PROG ": warning: out of memory: no checkpoint remembered\n");
                return;
        }
        for (size_t i = 0; i < n; i++)
                best[i] = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
                if (!srcs[i].save_state || hold[i] || group[i] == SIZE_MAX)
                        continue;
                size_t *b = &best[group[i]];
                if (*b == SIZE_MAX || srcs[i].cp.size > srcs[*b].cp.size)
                        *b = i;
        }
        /* one lock and two syncs for the whole run (state_save_many) */
        struct state_save_item *it = calloc(n ? n : 1, sizeof(*it));
        if (!it) {
                fprintf(stderr, PROG ": warning: out of memory: no checkpoint remembered\n");
                free(best);
                return;
        }
        size_t m = 0;
        for (size_t g = 0; g < n; g++) {
                if (best[g] == SIZE_MAX)
                        continue;
                struct source *s = &srcs[best[g]];
                it[m++] = (struct state_save_item){.origin = s->cp.origin, .cp = &s->cp,
                                                   .note = s->note, .len = s->note_len};
        }
        char err[400];
        (void)state_save_many(it, m, err, sizeof(err));
        for (size_t i = 0; i < m; i++) {
                if (it[i].result == STATE_KEPT_NEWER)
                        fprintf(stderr, PROG ": note: %s\n", it[i].err);
                else if (it[i].result != 0)
                        fprintf(stderr, PROG ": warning: %s\n", it[i].err);
        }
        free(it);
        free(best);
}
