/* SPDX-License-Identifier: MIT */
/*
 * Merkle root over 1,000,000 leaves of 600 bytes with proto (leaf hashes +
 * merkle_border appender) against a bare loop doing the same SHA-256 calls
 * over the same bytes with libsodium; then signed-note sign and verify rates.
 *   bench-merkle [LEAVES]
 * Times are this thread's CPU time (CLOCK_THREAD_CPUTIME_ID), so that other
 * processes on a shared machine do not count; each figure is the best of
 * RUNS runs, proto and bare interleaved.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "merkle.h"
#include "note.h"

#define REC_LEN 600
#define RUNS 5

static double now(void) {
        struct timespec ts;

        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Record i: 600 bytes, the first 8 are the index. */
static void make_record(uint8_t *rec, uint64_t i) {
        for (int b = 0; b < 8; b++)
                rec[b] = (uint8_t)(i >> (8 * b));
}

static double run_proto(uint64_t n, merkle_hash root) {
        uint8_t rec[REC_LEN];
        struct merkle_border bd;
        double t0 = now();

        memset(rec, 0x5a, sizeof(rec));
        merkle_border_init(&bd);
        for (uint64_t i = 0; i < n; i++) {
                merkle_hash leaf;

                make_record(rec, i);
                merkle_leaf_hash(rec, sizeof(rec), leaf);
                if (merkle_border_append(&bd, leaf) != 0)
                        abort();
        }
        merkle_border_root(&bd, root);
        return now() - t0;
}

/*
 * The same hashes with bare libsodium calls: one SHA-256 of 0x00 || record
 * per leaf, one SHA-256 of 0x01 || left || right per completed subtree, and
 * the final fold of the border.
 */
static double run_bare(uint64_t n, merkle_hash root) {
        uint8_t leafbuf[1 + REC_LEN], nodebuf[65];
        uint8_t level[64][32];
        uint8_t h[32];
        double t0 = now();
        unsigned k;

        memset(leafbuf, 0x5a, sizeof(leafbuf));
        leafbuf[0] = 0x00;
        nodebuf[0] = 0x01;
        for (uint64_t i = 0; i < n; i++) {
                make_record(leafbuf + 1, i);
                crypto_hash_sha256(h, leafbuf, sizeof(leafbuf));
                for (k = 0; (i >> k) & 1; k++) {
                        memcpy(nodebuf + 1, level[k], 32);
                        memcpy(nodebuf + 33, h, 32);
                        crypto_hash_sha256(h, nodebuf, sizeof(nodebuf));
                }
                memcpy(level[k], h, 32);
        }
        k = (unsigned)__builtin_ctzll(n);
        memcpy(h, level[k], 32);
        for (k++; k < 64; k++) {
                if ((n >> k) & 1) {
                        memcpy(nodebuf + 1, level[k], 32);
                        memcpy(nodebuf + 33, h, 32);
                        crypto_hash_sha256(h, nodebuf, sizeof(nodebuf));
                }
        }
        memcpy(root, h, 32);
        return now() - t0;
}

int main(int argc, char **argv) {
        uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
        double best_proto = 1e9, best_bare = 1e9;
        merkle_hash r1, r2;
        struct signer s;
        struct note_verifier v;
        uint8_t seed[32];
        char text[CHECKPOINT_TEXT_MAX + 1];
        struct checkpoint c;
        char *note = NULL;
        size_t len = 0;
        size_t tl;
        int iters = 2000;
        double t;

        if (sodium_init() < 0 || n == 0)
                return 1;
        for (int r = 0; r < RUNS; r++) {
                t = run_bare(n, r2);
                best_bare = t < best_bare ? t : best_bare;
                t = run_proto(n, r1);
                best_proto = t < best_proto ? t : best_proto;
        }
        if (memcmp(r1, r2, 32) != 0) {
                fprintf(stderr, "roots differ\n");
                return 1;
        }
        printf("merkle root over %llu leaves of %d bytes (best of %d, thread CPU time):\n",
               (unsigned long long)n, REC_LEN, RUNS);
        printf("  proto (leaf hash + border appender): %10.0f records/s\n", (double)n / best_proto);
        printf("  bare libsodium SHA-256 loop:         %10.0f records/s\n", (double)n / best_bare);
        printf("  ratio proto/bare: %.3f (goal >= 0.8)\n", best_bare / best_proto);

        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t)i;
        if (signer_init_ed25519(&s, "node17.example.org/gpuhours", seed) != 0)
                return 1;
        signer_verifier(&s, &v);
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, s.name);
        c.size = n;
        memcpy(c.root, r1, 32);
        if (checkpoint_format(&c, text, sizeof(text), &tl) != 0)
                return 1;
        t = now();
        for (int i = 0; i < iters; i++) {
                free(note);
                note = NULL;
                if (note_sign(text, (size_t)tl, &s, &note, &len) != 0)
                        return 1;
        }
        t = now() - t;
        printf("note_sign (checkpoint, includes its re-verify): %8.0f notes/s\n", iters / t);
        t = now();
        for (int i = 0; i < iters; i++)
                if (note_verify(note, len, &v, 1, true, NULL, NULL) != 0)
                        return 1;
        t = now() - t;
        printf("note_verify (checkpoint, one key):              %8.0f notes/s\n", iters / t);
        {
                uint8_t sig[64];

                t = now();
                for (int i = 0; i < iters; i++)
                        crypto_sign_detached(sig, NULL, (const uint8_t *)text, (size_t)tl, s.ctx);
                t = now() - t;
                printf("bare crypto_sign_detached:                      %8.0f sigs/s\n", iters / t);
                t = now();
                for (int i = 0; i < iters; i++)
                        if (crypto_sign_verify_detached(sig, (const uint8_t *)text, (size_t)tl,
                                                        s.pk) != 0)
                                return 1;
                t = now() - t;
                printf("bare crypto_sign_verify_detached:               %8.0f verifies/s\n",
                       iters / t);
        }
        free(note);
        signer_free(&s);
        return 0;
}
