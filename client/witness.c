/* SPDX-License-Identifier: MIT */
/* Witness policy on the auditor's side (witness.h). */
#include "witness.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "cosig.h"
#include "merkle.h"
#include "status.h"
#include "util.h"


int witness_policy_load(const char *cmd, const char *path, struct policy **out) {
        char *text = NULL, err[512];
        size_t len = 0;
        int r = read_file_capped(path, POLICY_MAX_BYTES, &text, &len);
        struct policy *p;

        if (r != 0) {
                fprintf(stderr, "gpuhours %s: --witnesses '%s': %s\n", cmd, path,
                        r == -EFBIG ? "larger than 256 KiB" : strerror(-r));
                return -1;
        }
        p = malloc(sizeof(*p));
        if (p == NULL) {
                free(text);
                fprintf(stderr, "gpuhours %s: out of memory\n", cmd);
                return -1;
        }
        r = policy_parse(text, len, p, err, sizeof(err));
        free(text);
        if (r != 0) {
                fprintf(stderr, "gpuhours %s: --witnesses '%s': %s\n", cmd, path, err);
                free(p);
                return -1;
        }
        *out = p;
        return 0;
}

int witness_log_part(const char *note, size_t len, char **out, size_t *outlen) {
        size_t tlen = 0, off = 0, o = 0;
        char *b;
        int r;

        if (!note_split(note, len, &tlen, &off))
                return GH_E_MALFORMED;
        b = malloc(len + 1);
        if (b == NULL)
                return -ENOMEM;
        /* The origin is the text's first line. */
        r = note_keep_sigs(note, len, note, (size_t)((const char *)memchr(note, '\n', tlen) - note),
                           b, len, &o);
        if (r != 0) {
                free(b);
                return r;
        }
        b[o] = '\0';
        *out = b;
        *outlen = o;
        return 0;
}

static int add_info(struct finding **info, size_t *ninfo, struct finding f) {
        struct finding *nf = realloc(*info, (*ninfo + 1) * sizeof(*nf));
        if (nf == NULL)
                return -ENOMEM;
        nf[(*ninfo)++] = f;
        *info = nf;
        return 0;
}

static void iso_time(uint64_t t, char *buf, size_t cap) {
        time_t tt = (time_t)t;
        struct tm tm;
        if (gmtime_r(&tt, &tm) == NULL || strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, cap, "%" PRIu64, t);
}

int witness_check(const struct policy *p, const char *note, size_t len, struct finding *fail,
                  struct finding **info, size_t *ninfo) {
        struct note_verifier keys[POLICY_MAX_WITNESSES];
        uint64_t times[POLICY_MAX_WITNESSES];
        bool ok[POLICY_MAX_WITNESSES];
        size_t have = 0;
        int r;

        for (size_t i = 0; i < p->nwitnesses; i++)
                keys[i] = p->witness[i].key;
        r = cosig_verify(note, len, keys, p->nwitnesses, times);
        if (r != 0) {
                *fail = finding_make(r == GH_E_BAD_SIGNATURE ? FIND_BAD_SIGNATURE : FIND_MALFORMED,
                                     "a cosignature on the checkpoint by a witness of the policy "
                                     "does not verify (%s)",
                                     gh_strerror(r));
                return 1;
        }
        for (size_t i = 0; i < p->nwitnesses; i++) {
                ok[i] = times[i] != 0;
                if (!ok[i])
                        continue;
                char when[32];
                iso_time(times[i], when, sizeof(when));
                struct finding f = finding_make(FIND_WITNESSED,
                                                "witness %s cosigned this checkpoint: history "
                                                "fixed as of %s",
                                                p->witness[i].name, when);
                f.has_time = true;
                f.start_ns = f.end_ns = times[i] * 1000000000ull;
                if (add_info(info, ninfo, f) != 0)
                        return -ENOMEM;
                have++;
        }
        if (!policy_satisfied(p, ok)) {
                *fail = finding_make(FIND_WITNESS_QUORUM,
                                     "the checkpoint carries valid cosignatures from %zu of the "
                                     "policy's %zu witnesses, which does not satisfy its quorum",
                                     have, p->nwitnesses);
                return 1;
        }
        return 0;
}

/* --- fork check through the witnesses --- */

/* Witnesses of the policy down_for that did not answer in this run. */
static const struct policy *down_for;
static bool down[POLICY_MAX_WITNESSES];

struct req {
        CURL *c;
        char *p;
        size_t len;
        bool over, done;
        long code; /* HTTP status, 0 for a transport error or no answer in time */
        char err[CURL_ERROR_SIZE];
};

static size_t on_data(char *d, size_t size, size_t nmemb, void *ctx) {
        struct req *b = ctx;
        size_t n = size * nmemb;
        if (b->len + n > API_WITNESS_FETCH_MAX_BYTES) {
                b->over = true;
                return 0;
        }
        memcpy(b->p + b->len, d, n);
        b->len += n;
        b->p[b->len] = '\0';
        return n;
}

static long ms_since(const struct timespec *t0) {
        struct timespec t;
        clock_gettime(CLOCK_MONOTONIC, &t);
        return (long)(t.tv_sec - t0->tv_sec) * 1000L + (t.tv_nsec - t0->tv_nsec) / 1000000L;
}

/*
 * GETs every url[i] (NULL: skipped) at once, all within one deadline of
 * deadline_ms from now: a witness that is down or never answers costs at
 * most that, whatever the number of witnesses. r[i].code: the HTTP status,
 * 0 on a transport error or no answer in time (r[i].err says which).
 * 0 or -ENOMEM.
 */
static int get_all(char *const *url, size_t n, long deadline_ms, struct req *r) {
        CURLM *m = curl_multi_init();
        struct timespec t0;
        int running = 0;

        if (m == NULL)
                return -ENOMEM;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i < n; i++) {
                r[i].len = 0;
                r[i].over = false;
                r[i].done = url[i] == NULL;
                r[i].code = 0;
                snprintf(r[i].err, sizeof(r[i].err), "no answer within %ld ms", deadline_ms);
                r[i].c = NULL;
                if (url[i] == NULL)
                        continue;
                CURL *c = curl_easy_init();
                if (c == NULL) {
                        snprintf(r[i].err, sizeof(r[i].err), "out of memory");
                        r[i].done = true;
                        continue;
                }
                r[i].c = c;
                r[i].p[0] = '\0';
                curl_easy_setopt(c, CURLOPT_URL, url[i]);
                curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
                curl_easy_setopt(c, CURLOPT_WRITEDATA, &r[i]);
                curl_easy_setopt(c, CURLOPT_PRIVATE, &r[i]);
                curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r[i].err);
                curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, deadline_ms);
                curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, deadline_ms);
                curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
                curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
                curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
                if (curl_multi_add_handle(m, c) != CURLM_OK) {
                        curl_easy_cleanup(c);
                        r[i].c = NULL;
                        r[i].done = true;
                }
        }
        do {
                long left = deadline_ms - ms_since(&t0);
                if (left <= 0)
                        break;
                if (curl_multi_perform(m, &running) != CURLM_OK)
                        break;
                CURLMsg *msg;
                int q;
                while ((msg = curl_multi_info_read(m, &q)) != NULL) {
                        struct req *rq = NULL;
                        if (msg->msg != CURLMSG_DONE)
                                continue;
                        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&rq);
                        rq->done = true;
                        if (msg->data.result == CURLE_OK)
                                curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE,
                                                  &rq->code);
                        else if (rq->err[0] == '\0' || rq->over) /* curl clears it */
                                snprintf(rq->err, sizeof(rq->err), "%s",
                                         rq->over ? "answer larger than 16 KiB"
                                                  : curl_easy_strerror(msg->data.result));
                }
                if (running > 0)
                        (void)curl_multi_poll(m, NULL, 0, left < 100 ? (int)left : 100, NULL);
        } while (running > 0);
        for (size_t i = 0; i < n; i++)
                if (r[i].c != NULL) {
                        if (!r[i].done)
                                snprintf(r[i].err, sizeof(r[i].err), "no answer within %ld ms",
                                         deadline_ms);
                        curl_multi_remove_handle(m, r[i].c);
                        curl_easy_cleanup(r[i].c);
                        r[i].c = NULL;
                }
        curl_multi_cleanup(m);
        return 0;
}

void witness_fork_notes_free(struct witness_fork_notes *n) {
        if (n == NULL)
                return;
        free(n->note[0]);
        free(n->note[1]);
        free(n);
}

json_t *witness_fork_notes_json(const struct witness_fork_notes *n) {
        json_t *a = json_array();
        bool bad = a == NULL;
        /* jansson's *_set_new and *_append_new take the reference even when they fail. */
        for (int i = 0; i < 2 && !bad; i++) {
                char q[POLICY_NAME_MAX + 4];
                json_t *o = json_object();
                char qs[sizeof(n->source) + 4];
                quote_bytes(n->witness, strlen(n->witness), q, sizeof(q));
                quote_bytes(n->source, strlen(n->source), qs, sizeof(qs));
                const char *from = n->from_store ? "store" : i == 0 ? "witness" : "node";
                json_t *name = n->from_store ? (i == 1 ? json_string(qs) : json_null())
                                             : (i == 0 ? json_string(q) : json_null());
                bad = o == NULL || json_object_set_new(o, "from", json_string(from)) ||
                      json_object_set_new(o, "name", name) ||
                      json_object_set_new(o, "size", json_integer((json_int_t)n->size[i])) ||
                      json_object_set_new(o, "note", json_stringn(n->note[i], n->len[i]));
                if (bad)
                        json_decref(o);
                else
                        bad = json_array_append_new(a, o) != 0;
        }
        if (bad) {
                json_decref(a);
                return NULL;
        }
        return a;
}

/* A copy of the two notes for the finding (NULL out of memory: the stderr evidence stays). */
static struct witness_fork_notes *fork_notes(const char *wname, const char *wnote, size_t wlen,
                                             uint64_t wsize, const char *node_note, size_t node_len,
                                             uint64_t node_size) {
        struct witness_fork_notes *n = calloc(1, sizeof(*n));
        if (n == NULL)
                return NULL;
        snprintf(n->witness, sizeof(n->witness), "%s", wname);
        n->note[0] = malloc(wlen + 1);
        n->note[1] = malloc(node_len + 1);
        if (n->note[0] == NULL || n->note[1] == NULL) {
                witness_fork_notes_free(n);
                return NULL;
        }
        memcpy(n->note[0], wnote, wlen);
        n->note[0][wlen] = '\0';
        memcpy(n->note[1], node_note, node_len);
        n->note[1][node_len] = '\0';
        n->len[0] = wlen;
        n->len[1] = node_len;
        n->size[0] = wsize;
        n->size[1] = node_size;
        return n;
}

static void evidence(const char *wname, const char *wnote, const char *node_note) {
        fprintf(stderr,
                "gpuhours: FORK evidence: the checkpoint witness %s cosigned:\n%s"
                "gpuhours: FORK evidence: the checkpoint the node serves:\n%s",
                wname, wnote, node_note);
}

int witness_fork_check(const struct policy *p, const char *node_url, const struct checkpoint *cp,
                       const char *node_note, size_t node_len, const struct note_verifier *node_key,
                       long timeout_ms, struct finding *fail, struct finding **info, size_t *ninfo,
                       struct witness_seen *seen, struct witness_fork_notes **notes) {
        size_t n = p->nwitnesses;
        char hex[65], **url = calloc(n ? n : 1, sizeof(*url));
        struct req *r = calloc(n ? n : 1, sizeof(*r)), *pr = calloc(n ? n : 1, sizeof(*pr));
        struct checkpoint *wc = calloc(n ? n : 1, sizeof(*wc));
        /*
         * The fetches run inside the client's fetch loop, which waits for them:
         * a third of the --timeout at most, so that other sources' transfers in
         * flight meanwhile keep most of theirs.
         */
        long deadline = timeout_ms / 3 < WITNESS_DEADLINE_MS ? timeout_ms / 3 : WITNESS_DEADLINE_MS;
        uint8_t h[32];
        int rc = -ENOMEM;
        bool any_proof = false;

        if (url == NULL || r == NULL || pr == NULL || wc == NULL)
                goto out;
        for (size_t i = 0; i < n; i++) {
                seen[i] = (struct witness_seen){0};
                r[i].p = malloc(API_WITNESS_FETCH_MAX_BYTES + 1);
                pr[i].p = malloc(API_WITNESS_FETCH_MAX_BYTES + 1);
                if (r[i].p == NULL || pr[i].p == NULL)
                        goto out;
        }
        crypto_hash_sha256(h, (const uint8_t *)cp->origin, strlen(cp->origin));
        sodium_bin2hex(hex, sizeof(hex), h, 32);
        for (size_t i = 0; i < n; i++) {
                const struct policy_witness *w = &p->witness[i];
                size_t ul = strlen(w->url), cap = ul + 128;
                if (ul == 0)
                        continue;
                url[i] = malloc(cap);
                if (url[i] == NULL)
                        goto out;
                snprintf(url[i], cap, "%s%s%s" API_WITNESS_PATH_CHECKPOINT_SUFFIX, w->url, w->url[ul - 1] == '/' ? "" : "/",
                         hex);
        }
        /*
         * A witness found unreachable for an earlier source of this run is not
         * asked again: with many sources, a down witness costs one deadline in
         * all, not one per source.
         */
        if (down_for != p) {
                down_for = p;
                memset(down, 0, sizeof(down));
        }
        for (size_t i = 0; i < n; i++)
                if (url[i] != NULL && down[i]) {
                        free(url[i]);
                        url[i] = NULL;
                }
        /* Every witness at once, one deadline for all. */
        if (get_all(url, n, deadline, r) != 0)
                goto out;
        rc = 0;
        for (size_t i = 0; i < n; i++) {
                if (p->witness[i].url[0] != '\0' && url[i] == NULL) {
                        if (add_info(info, ninfo,
                                     finding_make(FIND_WITNESSED,
                                                  "witness %s was unreachable for an earlier "
                                                  "source of this run; not asked again",
                                                  p->witness[i].name)) != 0)
                                rc = -ENOMEM;
                        continue;
                }
                if (r[i].code == 0 && url[i] != NULL)
                        down[i] = true;
        }
        for (size_t i = 0; i < n; i++) {
                if (p->witness[i].url[0] != '\0' && url[i] == NULL)
                        continue; /* not asked */
                const struct policy_witness *w = &p->witness[i];
                size_t tlen = 0, which = 0;
                uint64_t t = 0;

                free(url[i]);
                url[i] = NULL;
                if (w->url[0] == '\0' || r[i].code == 404)
                        continue; /* no URL, or the witness has not cosigned this origin (yet) */
                if (r[i].code != 200 ||
                    note_verify(r[i].p, r[i].len, node_key, 1, false, &tlen, &which) != 0 ||
                    checkpoint_parse(r[i].p, tlen, &wc[i]) != 0 ||
                    cosig_verify(r[i].p, r[i].len, &w->key, 1, &t) != 0 || t == 0 ||
                    strcmp(wc[i].origin, cp->origin) != 0) {
                        struct finding f =
                                r[i].code == 0
                                        ? finding_make(FIND_WITNESSED,
                                                       "witness %s is unreachable (%s); its latest "
                                                       "cosigned checkpoint was not compared",
                                                       w->name, r[i].err)
                                        : finding_make(
                                                  FIND_WITNESSED,
                                                  "witness %s: no usable cosigned checkpoint (HTTP "
                                                  "%ld); not compared",
                                                  w->name, r[i].code);
                        if (add_info(info, ninfo, f) != 0)
                                rc = -ENOMEM;
                        continue;
                }
                seen[i].have = true;
                seen[i].size = wc[i].size;
                seen[i].time = t;
                /*
                 * Different sizes: the node must prove the smaller tree a prefix
                 * of the larger, whichever it showed the witness (it may have
                 * grown since it served the auditor its checkpoint).
                 */
                uint64_t lo = wc[i].size < cp->size ? wc[i].size : cp->size;
                uint64_t hi = wc[i].size < cp->size ? cp->size : wc[i].size;
                if (lo > 0 && lo < hi) {
                        char path[96];
                        snprintf(path, sizeof(path),
                                 "/v1/proof/consistency?old=%" PRIu64 "&new=%" PRIu64, lo, hi);
                        url[i] = url_join(node_url, path);
                        if (url[i] == NULL) {
                                rc = -ENOMEM;
                                goto out;
                        }
                        any_proof = true;
                }
        }
        /* The node's consistency proofs from each witness's size, again at once. */
        if (rc == 0 && any_proof && get_all(url, n, deadline, pr) != 0)
                rc = -ENOMEM;
        for (size_t i = 0; i < n && rc == 0; i++) {
                const struct policy_witness *w = &p->witness[i];
                bool fork = false;

                if (!seen[i].have)
                        continue;
                if (wc[i].size == cp->size) {
                        fork = memcmp(wc[i].root, cp->root, 32) != 0;
                } else if (wc[i].size > 0 && cp->size > 0) {
                        merkle_hash proof[MERKLE_MAX_PROOF];
                        size_t np = 0;
                        long code = pr[i].code;
                        bool grew = wc[i].size > cp->size; /* the witness saw a larger tree */
                        if (code != 200 && code != 400) {
                                /*
                                 * No proof and no refusal (no answer, a server error): the
                                 * comparison could not be made, which is not a pass.
                                 */
                                char why[CURL_ERROR_SIZE + 16];
                                if (code != 0)
                                        snprintf(why, sizeof(why), "HTTP %ld", code);
                                else
                                        snprintf(why, sizeof(why), "%s", pr[i].err);
                                *fail = finding_make(FIND_FORK,
                                                     "no consistency proof from the node between "
                                                     "its checkpoint (size %" PRIu64 ") and "
                                                     "witness %s's (size %" PRIu64 "): %s",
                                                     cp->size, w->name, wc[i].size, why);
                                rc = 2;
                                break;
                        }
                        /* 400: the node cannot prove what it signed for the witness. */
                        fork = code != 200 ||
                               merkle_proof_parse(pr[i].p, pr[i].len, proof, &np) != 0 ||
                               (grew ? merkle_verify_consistency(cp->size, wc[i].size, cp->root,
                                                                 wc[i].root,
                                                                 (const merkle_hash *)proof, np)
                                     : merkle_verify_consistency(
                                               wc[i].size, cp->size, wc[i].root, cp->root,
                                               (const merkle_hash *)proof, np)) != 0;
                }
                seen[i].consistent = !fork;
                if (fork) {
                        *fail = finding_make(FIND_FORK,
                                             "the node showed witness %s a checkpoint of size "
                                             "%" PRIu64 " that is not consistent with the one it "
                                             "serves (size %" PRIu64 "): two histories, both "
                                             "signed (both notes on stderr; with --json in the "
                                             "finding's notes)",
                                             w->name, wc[i].size, cp->size);
                        evidence(w->name, r[i].p, node_note);
                        if (notes != NULL && *notes == NULL)
                                *notes = fork_notes(w->name, r[i].p, r[i].len, wc[i].size,
                                                    node_note, node_len, cp->size);
                        rc = 1;
                }
        }
out:
        for (size_t i = 0; i < n; i++) {
                if (url)
                        free(url[i]);
                if (r)
                        free(r[i].p);
                if (pr)
                        free(pr[i].p);
        }
        free(url);
        free(r);
        free(pr);
        free(wc);
        return rc;
}

void witness_quorum_hint(const struct policy *p, const struct witness_seen *seen, const char *note,
                         size_t len, uint64_t size, uint64_t now, char *buf, size_t cap) {
        struct note_verifier keys[POLICY_MAX_WITNESSES];
        uint64_t times[POLICY_MAX_WITNESSES];
        size_t behind = 0, compared = 0;
        uint64_t newest = 0;

        buf[0] = '\0';
        for (size_t i = 0; i < p->nwitnesses; i++)
                keys[i] = p->witness[i].key;
        if (cosig_verify(note, len, keys, p->nwitnesses, times) != 0)
                return;
        for (size_t i = 0; i < p->nwitnesses; i++) {
                if (seen != NULL && seen[i].have)
                        compared++;
                if (times[i] != 0)
                        continue; /* it cosigned the node's checkpoint */
                if (seen == NULL || !seen[i].have || !seen[i].consistent)
                        continue; /* nothing known, or a fork (reported as such) */
                behind++;
                if (seen[i].time > newest)
                        newest = seen[i].time;
        }
        if (behind > 0) {
                char age[64] = "";
                if (newest != 0 && now >= newest)
                        snprintf(age, sizeof(age), " cosigned %" PRIu64 " s ago", now - newest);
                if (snprintf(buf, cap,
                             "; %zu witness(es) hold a consistent checkpoint%s: this one may "
                             "not be cosigned yet, retry in a few seconds",
                             behind, age) < 0)
                        buf[0] = '\0';
        } else if (compared == 0) {
                snprintf(buf, cap,
                         "; a checkpoint signed seconds ago may not be cosigned yet: retry in a "
                         "few seconds");
        }
}
