/* SPDX-License-Identifier: MIT */
/*
 * Test helper: exposes proto/merkle.c and proto/note.c on the command line
 * so that independent implementations (Python, Go) can check our output.
 *
 *   tlog-tool tree N          then commands on stdin, one per line:
 *       root M        -> base64 root of the first M leaves (from storage)
 *       incl I M      -> inclusion proof, base64 hashes joined by ','  ("-" if empty)
 *       cons M2 M     -> consistency proof from M2 to M, same form
 *       count         -> number of stored hashes
 *       hash X        -> base64 of the stored hash at index X
 *     The tree holds leaves D[i] = "gpuhours leaf <i>" (decimal, no newline).
 *   tlog-tool vkey SEEDHEX NAME
 *   tlog-tool sign SEEDHEX NAME          note text on stdin, signed note on stdout
 *   tlog-tool verify VKEY [VKEY...]      note on stdin; prints the status, exit 0 iff valid
 *   tlog-tool checkpoint SEEDHEX ORIGIN SIZE ROOTB64
 *   tlog-tool attest SEEDHEX ORIGIN NONCEHEX TIME SIZE ROOTB64
 *   tlog-tool cosig-vkey SEEDHEX NAME    cosigner vkey (type 0x04)
 *   tlog-tool cosign SEEDHEX NAME TIME   checkpoint text on stdin, cosignature line on stdout
 *   tlog-tool cosig-verify VKEY          note on stdin; prints the verified timestamp or the status
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosig.h"
#include "merkle.h"
#include "note.h"
#include "status.h"

struct store {
        merkle_hash *h;
        uint64_t n, cap;
};

static int store_read(void *ctx, const uint64_t *idx, size_t count, merkle_hash *out) {
        const struct store *s = ctx;

        for (size_t i = 0; i < count; i++) {
                if (idx[i] >= s->n)
                        return GH_E_RANGE;
                memcpy(out[i], s->h[idx[i]], MERKLE_HASH_LEN);
        }
        return 0;
}

static void die(const char *what) {
        fprintf(stderr, "tlog-tool: %s\n", what);
        exit(2);
}

static void b64(const uint8_t *p, size_t n, char *out, size_t cap) {
        sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_ORIGINAL);
}

static void print_proof(merkle_hash *p, size_t n) {
        char s[64];

        if (n == 0)
                fputs("-", stdout);
        for (size_t i = 0; i < n; i++) {
                b64(p[i], MERKLE_HASH_LEN, s, sizeof(s));
                printf("%s%s", i ? "," : "", s);
        }
        putchar('\n');
}

static int cmd_tree(uint64_t n) {
        struct store st = {0};
        char line[256];

        st.cap = merkle_stored_count(n) + 1;
        st.h = calloc(st.cap, sizeof(merkle_hash));
        if (st.h == NULL)
                die("out of memory");
        for (uint64_t i = 0; i < n; i++) {
                merkle_hash leaf, out[MERKLE_MAX_LEVELS + 1];
                char data[64];
                size_t cnt = 0;
                int len = snprintf(data, sizeof(data), "gpuhours leaf %llu", (unsigned long long)i);

                merkle_leaf_hash((const uint8_t *)data, (size_t)len, leaf);
                if (merkle_stored_append(i, leaf, store_read, &st, out, &cnt) != 0)
                        die("stored_append failed");
                if (st.n != merkle_stored_count(i) || st.n + cnt != merkle_stored_count(i + 1))
                        die("stored count mismatch");
                memcpy(st.h + st.n, out, cnt * sizeof(merkle_hash));
                st.n += cnt;
        }
        while (fgets(line, sizeof(line), stdin)) {
                unsigned long long a = 0, b = 0;
                merkle_hash proof[MERKLE_MAX_PROOF], root;
                size_t plen = 0;
                int r;

                if (sscanf(line, "root %llu", &a) == 1) {
                        char s[64];

                        r = merkle_tree_hash(a, store_read, &st, root);
                        if (r != 0) {
                                printf("error %d\n", r);
                                continue;
                        }
                        b64(root, MERKLE_HASH_LEN, s, sizeof(s));
                        printf("%s\n", s);
                } else if (strcmp(line, "count\n") == 0) {
                        printf("%llu\n", (unsigned long long)st.n);
                } else if (sscanf(line, "hash %llu", &a) == 1) {
                        char s[64];

                        if (a >= st.n)
                                die("hash index out of range");
                        b64(st.h[a], MERKLE_HASH_LEN, s, sizeof(s));
                        printf("%s\n", s);
                } else if (sscanf(line, "incl %llu %llu", &a, &b) == 2) {
                        r = merkle_prove_inclusion(a, b, store_read, &st, proof, &plen);
                        if (r != 0)
                                printf("error %d\n", r);
                        else
                                print_proof(proof, plen);
                } else if (sscanf(line, "cons %llu %llu", &a, &b) == 2) {
                        r = merkle_prove_consistency(a, b, store_read, &st, proof, &plen);
                        if (r != 0)
                                printf("error %d\n", r);
                        else
                                print_proof(proof, plen);
                } else {
                        die("bad command");
                }
        }
        free(st.h);
        return 0;
}

static void seed_from_hex(const char *hex, uint8_t seed[32]) {
        if (!nonce_parse_hex(hex, strlen(hex), seed))
                die("seed must be 64 hex digits");
}

static char *read_stdin(size_t *len) {
        size_t cap = NOTE_MAX_SIZE * 2 + 2;
        char *buf = malloc(cap);

        if (buf == NULL)
                die("out of memory");
        *len = fread(buf, 1, cap - 1, stdin);
        buf[*len] = '\0';
        return buf;
}

static int sign_and_print(const char *seedhex, const char *name, const char *text, size_t len) {
        struct signer s;
        uint8_t seed[32];
        char *note = NULL;
        size_t nlen = 0;
        int r;

        seed_from_hex(seedhex, seed);
        r = signer_init_ed25519(&s, name, seed);
        sodium_memzero(seed, sizeof(seed));
        if (r != 0)
                die("bad key name");
        r = note_sign(text, len, &s, &note, &nlen);
        signer_free(&s);
        if (r != 0) {
                fprintf(stderr, "tlog-tool: sign: %s\n", gh_strerror(r));
                return 1;
        }
        fwrite(note, 1, nlen, stdout);
        free(note);
        return 0;
}

static void root_from_b64(const char *s, merkle_hash out) {
        char line[64];
        merkle_hash p[MERKLE_MAX_PROOF];
        size_t n = 0;

        /* Reuse the proof parser: one line is one hash. */
        if (strlen(s) != 44)
                die("root must be 44 base64 characters");
        memcpy(line, s, 44);
        line[44] = '\n';
        if (merkle_proof_parse(line, 45, p, &n) != 0 || n != 1)
                die("root must be 44 base64 characters");
        memcpy(out, p[0], MERKLE_HASH_LEN);
}

int main(int argc, char **argv) {
        if (sodium_init() < 0)
                die("sodium_init failed");
        if (argc == 3 && strcmp(argv[1], "tree") == 0)
                return cmd_tree(strtoull(argv[2], NULL, 10));
        if (argc == 4 && strcmp(argv[1], "vkey") == 0) {
                struct signer s;
                struct note_verifier v;
                uint8_t seed[32];
                char out[VKEY_MAX_LEN + 1];

                seed_from_hex(argv[2], seed);
                if (signer_init_ed25519(&s, argv[3], seed) != 0)
                        die("bad key name");
                signer_verifier(&s, &v);
                signer_free(&s);
                size_t len;
                if (vkey_format(&v, out, sizeof(out), &len) != 0)
                        die("vkey_format failed");
                printf("%s\n", out);
                return 0;
        }
        if (argc == 4 && strcmp(argv[1], "cosig-vkey") == 0) {
                struct signer s;
                struct note_verifier v;
                uint8_t seed[32];
                char out[VKEY_MAX_LEN + 1];
                size_t n = 0;

                seed_from_hex(argv[2], seed);
                if (signer_init_cosigner(&s, argv[3], seed) != 0)
                        die("bad key name");
                signer_verifier(&s, &v);
                signer_free(&s);
                if (cosig_vkey_format(&v, out, sizeof(out), &n) != 0)
                        die("cosig_vkey_format failed");
                printf("%s\n", out);
                return 0;
        }
        if (argc == 5 && strcmp(argv[1], "cosign") == 0) {
                struct signer s;
                uint8_t seed[32];
                char line[COSIG_LINE_MAX + 1];
                size_t len, n = 0;
                char *text = read_stdin(&len);
                int r;

                seed_from_hex(argv[2], seed);
                if (signer_init_cosigner(&s, argv[3], seed) != 0)
                        die("bad key name");
                r = cosig_sign(&s, text, len, strtoull(argv[4], NULL, 10), line, sizeof(line), &n);
                signer_free(&s);
                free(text);
                if (r != 0) {
                        fprintf(stderr, "tlog-tool: cosign: %s\n", gh_strerror(r));
                        return 1;
                }
                fwrite(line, 1, n, stdout);
                return 0;
        }
        if (argc == 3 && strcmp(argv[1], "cosig-verify") == 0) {
                struct note_verifier v;
                uint64_t t = 0;
                size_t len;
                char *note;
                int r;

                if (cosig_vkey_parse(argv[2], strlen(argv[2]), &v) != 0)
                        die("bad cosigner vkey");
                note = read_stdin(&len);
                r = cosig_verify(note, len, &v, 1, &t);
                free(note);
                if (r != 0) {
                        printf("%s\n", gh_strerror(r));
                        return 1;
                }
                printf("%llu\n", (unsigned long long)t);
                return t != 0 ? 0 : 1;
        }
        if (argc == 4 && strcmp(argv[1], "sign") == 0) {
                size_t len;
                char *text = read_stdin(&len);
                int r = sign_and_print(argv[2], argv[3], text, len);

                free(text);
                return r;
        }
        if (argc >= 3 && strcmp(argv[1], "verify") == 0) {
                struct note_verifier keys[8];
                size_t nkeys = 0, len, tlen = 0, which = 0;
                char *note;
                int r;

                for (int i = 2; i < argc && nkeys < 8; i++)
                        if (vkey_parse(argv[i], strlen(argv[i]), &keys[nkeys++]) != 0)
                                die("bad vkey");
                note = read_stdin(&len);
                r = note_verify(note, len, keys, nkeys, false, &tlen, &which);
                free(note);
                printf("%s\n", r == 0 ? "ok" : gh_strerror(r));
                return r == 0 ? 0 : 1;
        }
        if (argc == 6 && strcmp(argv[1], "checkpoint") == 0) {
                struct checkpoint c = {0};
                char text[CHECKPOINT_TEXT_MAX + 1];
                size_t len;

                if (strlen(argv[3]) > NOTE_NAME_MAX)
                        die("origin too long");
                memcpy(c.origin, argv[3], strlen(argv[3]));
                c.size = strtoull(argv[4], NULL, 10);
                root_from_b64(argv[5], c.root);
                if (checkpoint_format(&c, text, sizeof(text), &len) != 0)
                        die("checkpoint_format failed");
                return sign_and_print(argv[2], argv[3], text, len);
        }
        if (argc == 8 && strcmp(argv[1], "attest") == 0) {
                struct attest a = {0};
                char text[ATTEST_TEXT_MAX + 1];
                size_t len;

                if (strlen(argv[3]) > NOTE_NAME_MAX ||
                    !nonce_parse_hex(argv[4], strlen(argv[4]), a.nonce))
                        die("bad origin or nonce");
                memcpy(a.origin, argv[3], strlen(argv[3]));
                a.time_ns = strtoull(argv[5], NULL, 10);
                a.size = strtoull(argv[6], NULL, 10);
                root_from_b64(argv[7], a.root);
                if (attest_format(&a, text, sizeof(text), &len) != 0)
                        die("attest_format failed");
                return sign_and_print(argv[2], argv[3], text, len);
        }
        fprintf(stderr, "usage: see the comment at the top of tests/tlog/tlog-tool.c\n");
        return 2;
}
