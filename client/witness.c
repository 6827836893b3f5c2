/* SPDX-License-Identifier: MIT */
/* Witness policy on the auditor's side (witness.h). */
#include "witness.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
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

#define EM_DASH_SP "\xe2\x80\x94 "
#define FETCH_MAX 16384u

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
        size_t tlen = 0, off = 0, o, olen;
        const char *p, *end = note + len;
        char *b;

        if (!note_split(note, len, &tlen, &off))
                return GH_E_MALFORMED;
        olen = (size_t)((const char *)memchr(note, '\n', tlen) - note);
        b = malloc(len + 1);
        if (b == NULL)
                return -ENOMEM;
        memcpy(b, note, off);
        o = off;
        for (p = note + off; p < end;) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                size_t n = (size_t)(eol - p) + 1;
                if (n > 4 + olen + 1 && memcmp(p, EM_DASH_SP, 4) == 0 &&
                    memcmp(p + 4, note, olen) == 0 && p[4 + olen] == ' ') {
                        memcpy(b + o, p, n);
                        o += n;
                }
                p = eol + 1;
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

struct buf {
        char *p;
        size_t len;
        bool over;
};

static size_t on_data(char *d, size_t size, size_t nmemb, void *ctx) {
        struct buf *b = ctx;
        size_t n = size * nmemb;
        if (b->len + n > FETCH_MAX) {
                b->over = true;
                return 0;
        }
        memcpy(b->p + b->len, d, n);
        b->len += n;
        b->p[b->len] = '\0';
        return n;
}

/* GET url into b (FETCH_MAX); the HTTP status, or 0 on a transport error. */
static long get(const char *url, long timeout_ms, struct buf *b) {
        CURL *c = curl_easy_init();
        long code = 0;

        b->len = 0;
        b->over = false;
        if (c == NULL)
                return 0;
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, b);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(c, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        if (curl_easy_perform(c) == CURLE_OK)
                curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_cleanup(c);
        return code;
}

static void evidence(const char *wname, const char *wnote, const char *node_note) {
        fprintf(stderr,
                "gpuhours: FORK evidence: the checkpoint witness %s cosigned:\n%s"
                "gpuhours: FORK evidence: the checkpoint the node serves:\n%s",
                wname, wnote, node_note);
}

int witness_fork_check(const struct policy *p, const char *node_url, const struct checkpoint *cp,
                       const char *node_note, size_t node_len, const struct note_verifier *node_key,
                       long timeout_ms, struct finding *fail, struct finding **info,
                       size_t *ninfo) {
        char hex[65], url[POLICY_URL_MAX + 128];
        uint8_t h[32];
        struct buf b;
        int rc = 0;

        (void)node_len;
        b.p = malloc(FETCH_MAX + 1);
        if (b.p == NULL)
                return -ENOMEM;
        crypto_hash_sha256(h, (const uint8_t *)cp->origin, strlen(cp->origin));
        sodium_bin2hex(hex, sizeof(hex), h, 32);
        for (size_t i = 0; i < p->nwitnesses && rc == 0; i++) {
                const struct policy_witness *w = &p->witness[i];
                size_t ul = strlen(w->url), tlen = 0, which = 0;
                struct checkpoint wc;
                uint64_t t = 0;
                long code;

                if (ul == 0)
                        continue;
                snprintf(url, sizeof(url), "%s%s%s" API_WITNESS_PATH_CHECKPOINT_SUFFIX, w->url,
                         w->url[ul - 1] == '/' ? "" : "/", hex);
                code = get(url, timeout_ms, &b);
                if (code == 404)
                        continue; /* the witness has not cosigned this origin (yet) */
                if (code != 200 || note_verify(b.p, b.len, node_key, 1, false, &tlen, &which) != 0 ||
                    checkpoint_parse(b.p, tlen, &wc) != 0 ||
                    cosig_verify(b.p, b.len, &w->key, 1, &t) != 0 || t == 0 ||
                    strcmp(wc.origin, cp->origin) != 0) {
                        if (add_info(info, ninfo,
                                     finding_make(FIND_WITNESSED,
                                                  "witness %s: no usable cosigned checkpoint "
                                                  "(HTTP %ld); not compared",
                                                  w->name, code)) != 0)
                                rc = -ENOMEM;
                        continue;
                }
                bool fork = false;
                if (wc.size > cp->size) {
                        fork = true;
                } else if (wc.size == cp->size) {
                        fork = memcmp(wc.root, cp->root, 32) != 0;
                } else if (wc.size > 0) {
                        char purl[1200];
                        merkle_hash proof[MERKLE_MAX_PROOF];
                        size_t np = 0;
                        snprintf(purl, sizeof(purl),
                                 "%s/v1/proof/consistency?old=%" PRIu64 "&new=%" PRIu64, node_url,
                                 wc.size, cp->size);
                        code = get(purl, timeout_ms, &b);
                        fork = code != 200 || merkle_proof_parse(b.p, b.len, proof, &np) != 0 ||
                               merkle_verify_consistency(wc.size, cp->size, wc.root, cp->root,
                                                         (const merkle_hash *)proof, np) != 0;
                        if (fork && code != 200 && code != 0 && code != 400 && code != 416)
                                fork = false; /* cannot tell */
                        /* re-fetch the witness note for the evidence */
                        if (fork)
                                (void)get(url, timeout_ms, &b);
                }
                if (fork) {
                        *fail = finding_make(FIND_FORK,
                                             "the node showed witness %s a checkpoint of size "
                                             "%" PRIu64 " that is not consistent with the one it "
                                             "serves (size %" PRIu64 "): two histories, both "
                                             "signed (evidence on stderr)",
                                             w->name, wc.size, cp->size);
                        evidence(w->name, b.p, node_note);
                        rc = 1;
                }
        }
        free(b.p);
        return rc;
}
