/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdarg.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cli.h"
#include "fetch.h"
#include "json_out.h"
#include "output.h"
#include "source.h"
#include "state.h"
#include "status.h"
#include "util.h"

#define CLOCK_WARN_NS (2 * NS_PER_SEC) /* |offset| beyond this (plus uncertainty): a warning */

static const char attest_help[] =
        "usage: " PROG " attest [--key VKEY]... [--trusted-keys FILE] [--no-state]\n"
        "                       [--timeout SECONDS] [--json] [--] URL\n"
        "\n"
        "Sends a fresh random 32-byte nonce to the node's /v1/attest and verifies the\n"
        "signed answer (a trusted key named after the origin, the same nonce). Reports\n"
        "that the node is live, its clock offset (node time - local time at the middle\n"
        "of the request, +- half the round trip) and whether its current tree is\n"
        "consistent with the checkpoint verified before for that origin (consistency\n"
        "proof). Exit: 0 ok, 1 clock offset above 2 s, 2 bad signature, wrong nonce,\n"
        "rollback or fork, 3 could not complete.\n";

struct attest_run {
        const char *url;
        const struct note_verifier *keys;
        size_t nkeys;
        bool no_state;
        struct fetch *f;
        int code;
        char msg[600];
        uint8_t nonce[32];
        struct attest a;
        bool have_attest;
        int64_t offset_ns;
        uint64_t uncertainty_ns;
        struct checkpoint rem;
        bool have_rem;
        const char *consistency; /* "consistent", "inconsistent", "unknown" */
};

__attribute__((format(printf, 3, 4))) static void attest_fail(struct attest_run *t, int code,
                                                              const char *fmt, ...) {
        if (t->code >= EXIT_INTEGRITY)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(t->msg, sizeof(t->msg), fmt, ap);
        va_end(ap);
        t->code = code;
}

static bool response_ok(struct attest_run *t, const struct fetch_result *res) {
        if (!res->ok) {
                attest_fail(t, EXIT_INCOMPLETE, "%s: %s", res->url, res->error);
                return false;
        }
        if (res->http_status != 200) {
                char q[120];
                const uint8_t *nl = memchr(res->body, '\n', res->len);
                quote_bytes(res->body, nl ? (size_t)(nl - res->body) : res->len, q, sizeof(q));
                attest_fail(t, EXIT_INCOMPLETE, "%s: HTTP status %ld: %s", res->url,
                            res->http_status, q);
                return false;
        }
        return true;
}

static void on_proof(void *ctx, struct fetch_result *res) {
        struct attest_run *t = ctx;
        if (!response_ok(t, res))
                return;
        merkle_hash proof[MERKLE_MAX_PROOF];
        size_t n;
        if (merkle_proof_parse((const char *)res->body, res->len, proof, &n) != 0 ||
            merkle_verify_consistency(t->rem.size, t->a.size, t->rem.root, t->a.root,
                                      (const merkle_hash *)proof, n) != 0) {
                t->consistency = "inconsistent";
                attest_fail(t, EXIT_INTEGRITY,
                            "FORK: the node's tree of size %llu is not consistent with the "
                            "checkpoint of size %llu verified before",
                            (unsigned long long)t->a.size, (unsigned long long)t->rem.size);
                return;
        }
        t->consistency = "consistent";
}

static void on_attest(void *ctx, struct fetch_result *res) {
        struct attest_run *t = ctx;
        if (!response_ok(t, res))
                return;
        const char *note = (const char *)res->body;
        size_t text_len, which;
        int r = note_verify(note, res->len, t->keys, t->nkeys, false, &text_len, &which);
        if (r != 0) {
                attest_fail(t, r < 0 ? EXIT_INCOMPLETE : EXIT_INTEGRITY, "%s: %s",
                            r == GH_E_NO_KEY          ? "KEY_MISMATCH"
                            : r == GH_E_BAD_SIGNATURE ? "BAD_SIGNATURE"
                                                      : "MALFORMED",
                            r == GH_E_NO_KEY ? "the answer is not signed by a trusted key"
                                             : gh_strerror(r));
                return;
        }
        if (attest_parse(note, text_len, &t->a) != 0) {
                attest_fail(t, EXIT_INTEGRITY,
                            "MALFORMED: the signed answer is not an attest note");
                return;
        }
        char q[NOTE_NAME_MAX + 3];
        quote_bytes(t->a.origin, strlen(t->a.origin), q, sizeof(q));
        size_t nmine = 0;
        struct note_verifier *mine = malloc((t->nkeys ? t->nkeys : 1) * sizeof(*mine));
        if (!mine) {
                attest_fail(t, EXIT_INCOMPLETE, "out of memory");
                return;
        }
        for (size_t i = 0; i < t->nkeys; i++)
                if (strcmp(t->keys[i].name, t->a.origin) == 0)
                        mine[nmine++] = t->keys[i];
        r = nmine ? note_verify(note, res->len, mine, nmine, false, &text_len, &which)
                  : GH_E_NO_KEY;
        free(mine);
        if (r != 0) {
                attest_fail(t, EXIT_INTEGRITY, "%s: origin '%s': %s",
                            r == GH_E_BAD_SIGNATURE ? "BAD_SIGNATURE" : "KEY_MISMATCH", q,
                            r == GH_E_BAD_SIGNATURE ? "signature does not verify"
                                                    : "not signed by a trusted key of that name");
                return;
        }
        if (sodium_memcmp(t->a.nonce, t->nonce, sizeof(t->nonce)) != 0) {
                attest_fail(t, EXIT_INTEGRITY,
                            "the signed answer is for another nonce (a replayed answer)");
                return;
        }
        t->have_attest = true;
        uint64_t mid = res->sent_ns / 2 + res->first_byte_ns / 2;
        t->offset_ns = (int64_t)(t->a.time_ns - mid);
        t->uncertainty_ns = (res->first_byte_ns - res->sent_ns) / 2;
        t->consistency = "unknown";
        if (t->no_state)
                return;
        char err[400];
        if (state_load(t->a.origin, &t->rem, &t->have_rem, err, sizeof(err)) != 0) {
                attest_fail(t, EXIT_INCOMPLETE, "%s", err);
                return;
        }
        if (!t->have_rem)
                return;
        if (t->rem.size > t->a.size) {
                t->consistency = "inconsistent";
                attest_fail(t, EXIT_INTEGRITY,
                            "ROLLBACK: the node's tree has %llu records, a checkpoint with %llu "
                            "was verified before",
                            (unsigned long long)t->a.size, (unsigned long long)t->rem.size);
        } else if (t->rem.size == t->a.size || t->rem.size == 0) {
                bool same = t->rem.size == 0 ||
                            memcmp(t->rem.root, t->a.root, sizeof(merkle_hash)) == 0;
                t->consistency = same ? "consistent" : "inconsistent";
                if (!same)
                        attest_fail(t, EXIT_INTEGRITY,
                                    "FORK: the node's root for size %llu differs from the "
                                    "checkpoint verified before",
                                    (unsigned long long)t->a.size);
        } else {
                char path[96];
                snprintf(path, sizeof(path),
                         API_PATH_CONSISTENCY "?" API_PARAM_OLD "=%llu&" API_PARAM_NEW "=%llu",
                         (unsigned long long)t->rem.size, (unsigned long long)t->a.size);
                _cleanup_free_ char *u = url_join(t->url, path);
                if (!u || fetch_add(t->f, u, SOURCE_PROOF_MAX_BYTES, on_proof, t) != 0)
                        attest_fail(t, EXIT_INCOMPLETE, "out of memory");
        }
}

/*
 * The kind of an attest failure for its finding: the leading upper-case word
 * of the message ("FORK: ...") or, for the replayed answer, REPLAY.
 */
static void failure_kind(const struct attest_run *t, char *kind, size_t cap) {
        size_t i = 0;
        while (i + 1 < cap && ((t->msg[i] >= 'A' && t->msg[i] <= 'Z') || t->msg[i] == '_')) {
                kind[i] = t->msg[i];
                i++;
        }
        kind[i] = '\0';
        if (i == 0 || t->msg[i] != ':')
                snprintf(kind, cap, "%s", strstr(t->msg, "nonce") ? "REPLAY" : "MALFORMED");
}

/* The gpuhours/1 document (proto/JSON.md): one source object with "attest". */
static int print_json(const struct attest_run *t, uint64_t now_ns) {
        static const char *const st[] = {"ok", "findings", "failed", "error"};
        const char *status = st[t->code >= 0 && t->code <= 3 ? t->code : 3];
        bool bad = false;
        json_t *doc = jout_doc("attest", now_ns);
        jout_set(doc, "verdict", json_string(status), &bad);
        jout_set(doc, "exit", json_integer(t->code), &bad);
        json_t *o = jout_source_head(t->url, t->have_attest ? t->a.origin : NULL, status,
                                     t->code >= EXIT_INTEGRITY ? t->msg : NULL, t->have_attest,
                                     t->a.size, NULL, &bad);
        json_t *fs = json_array();
        if (t->code != 0 && t->code != EXIT_INCOMPLETE) {
                char kind[32];
                if (t->code == EXIT_FINDINGS)
                        snprintf(kind, sizeof(kind), "CLOCK_OFFSET");
                else
                        failure_kind(t, kind, sizeof(kind));
                json_t *f = json_object();
                jout_set(f, "kind", json_string(kind), &bad);
                jout_set(f, "severity", json_string(t->code == EXIT_FINDINGS ? "warning" : "error"),
                         &bad);
                jout_set(f, "detail", json_string(t->msg), &bad);
                if (!fs || json_array_append_new(fs, f) != 0)
                        bad = true;
        }
        jout_set(o, "findings", fs, &bad);
        json_t *at = json_null();
        if (t->have_attest) {
                json_decref(at);
                at = json_object();
                jout_set(at, "node_time", jout_time(t->a.time_ns), &bad);
                jout_set(at, "clock_offset_seconds", json_real((double)t->offset_ns / 1e9), &bad);
                jout_set(at, "clock_uncertainty_seconds",
                         json_real((double)t->uncertainty_ns / 1e9), &bad);
                jout_set(at, "consistency", json_string(t->consistency), &bad);
                if (t->have_rem)
                        jout_set(at, "remembered_size", json_integer((json_int_t)t->rem.size),
                                 &bad);
                else
                        jout_set(at, "remembered_size", json_null(), &bad);
        }
        jout_set(o, "attest", at, &bad);
        json_t *arr = json_array();
        if (!arr || json_array_append_new(arr, o) != 0)
                bad = true;
        jout_set(doc, "sources", arr, &bad);
        jout_set(doc, "findings", json_array(), &bad);
        return jout_write(stdout, doc, bad);
}

int cmd_attest(int argc, char **argv) {
        struct common_opts c = {0};
        const char *url = NULL;
        bool json = false;
        int rc = EXIT_INCOMPLETE;
        for (int i = 1; i < argc; i++) {
                int r = common_opt("attest", attest_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r == 1)
                        continue;
                if (r != COMMON_OPERAND && strcmp(argv[i], "--json") == 0) {
                        json = true;
                } else if ((argv[i][0] == '-' && !c.operands) || url) {
                        fprintf(stderr, PROG " attest: unexpected argument '%s'\n", argv[i]);
                        goto out;
                } else {
                        url = argv[i];
                }
        }
        if (!url || (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)) {
                fprintf(stderr, PROG " attest: need one http:// or https:// URL\n");
                goto out;
        }
        struct verify_opts o = {0};
        if (common_finish("attest", &c, &o) != 0)
                goto out;
        struct attest_run t = {
                .url = url, .keys = o.keys, .nkeys = o.nkeys, .no_state = o.no_state};
        randombytes_buf(t.nonce, sizeof(t.nonce));
        char hex[65], path[100];
        hex_encode(t.nonce, sizeof(t.nonce), hex);
        snprintf(path, sizeof(path), API_PATH_ATTEST "?" API_PARAM_NONCE "=%s", hex);
        char *u = url_join(url, path);
        t.f = fetch_new(o.timeout_ms, false);
        if (!u || !t.f || fetch_add(t.f, u, API_ATTEST_MAX_BYTES, on_attest, &t) != 0 ||
            fetch_run(t.f) != 0)
                attest_fail(&t, EXIT_INCOMPLETE, "out of memory or transfer engine failure");
        fetch_free(t.f);
        free(u);
        if (t.code == 0 && t.have_attest) {
                uint64_t mag = t.offset_ns < 0 ? (uint64_t)(-t.offset_ns) : (uint64_t)t.offset_ns;
                if (mag > CLOCK_WARN_NS + t.uncertainty_ns)
                        attest_fail(&t, EXIT_FINDINGS,
                                    "the node's clock is off by %.3f s (more than 2 s)",
                                    (double)t.offset_ns / 1e9);
        }
        rc = t.code;
        if (json) {
                if (print_json(&t, wall_now_ns()) != 0) {
                        fprintf(stderr, PROG " attest: cannot write the JSON document\n");
                        rc = EXIT_INCOMPLETE;
                }
        } else {
                char q[NOTE_NAME_MAX + 3] = "-", tm[40];
                if (t.have_attest)
                        quote_bytes(t.a.origin, strlen(t.a.origin), q, sizeof(q));
                printf("%s  %s  %s", url, q,
                       rc == 0   ? "ATTESTED"
                       : rc == 1 ? "ATTESTED WITH FINDINGS"
                       : rc == 2 ? "FAILED"
                                 : "ERROR");
                if (t.have_attest)
                        printf("  tree %llu", (unsigned long long)t.a.size);
                printf("\n");
                if (t.have_attest) {
                        time_format_iso(t.a.time_ns, true, tm, sizeof(tm));
                        printf("  live: signed a fresh answer to our nonce at %s (node time)\n",
                               tm);
                        printf("  clock offset: %+.3f s +- %.3f s (node - local)\n",
                               (double)t.offset_ns / 1e9, (double)t.uncertainty_ns / 1e9);
                        if (t.no_state)
                                printf("  consistency: not checked (--no-state)\n");
                        else if (!t.have_rem)
                                printf("  consistency: no checkpoint of this origin verified "
                                       "before\n");
                        else
                                printf("  consistency: %s with the checkpoint of size %llu "
                                       "verified before\n",
                                       t.consistency, (unsigned long long)t.rem.size);
                }
                if (rc)
                        printf("  %s: %s\n", rc == 1 ? "warning" : "error", t.msg);
        }
        if (fflush(stdout) != 0 && rc < EXIT_INCOMPLETE)
                rc = EXIT_INCOMPLETE;
out:
        common_free(&c);
        return rc;
}
