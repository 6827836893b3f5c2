/* SPDX-License-Identifier: MIT */
/*
 * ghverify: proto's verifiers on the command line, for the HTTP tests.
 *
 *   ghverify checkpoint VKEY NOTEFILE             -> "SIZE ROOTHEX"
 *   ghverify attest VKEY NOTEFILE NONCEHEX        -> "SIZE ROOTHEX TIME_NS"
 *   ghverify inclusion INDEX SIZE RECORDFILE ROOTHEX PROOFFILE
 *   ghverify consistency OLD NEW OLDROOTHEX NEWROOTHEX PROOFFILE
 *   ghverify records FRAMESFILE                   -> one line per record:
 *       "KIND WALL_NS" and, for summaries, " PERIOD_START_NS PERIOD_S FLAGS OBS_END_WALL_NS"
 *
 * Exit 0 when everything verifies or decodes, 1 with a one-line reason on
 * stderr otherwise, 2 on bad usage.
 */
#include <errno.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"
#include "note.h"
#include "record.h"
#include "status.h"

#define MAX_FILE (64u * 1024u * 1024u)

static int fail(const char *what, int rc) {
        fprintf(stderr, "ghverify: %s: %s\n", what, gh_strerror(rc));
        return 1;
}

static int usage(void) {
        fprintf(stderr, "usage: ghverify checkpoint|attest|inclusion|consistency|records ...\n");
        return 2;
}

static char *slurp(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        if (!f) {
                fprintf(stderr, "ghverify: %s: %s\n", path, strerror(errno));
                return NULL;
        }
        char *buf = malloc(MAX_FILE);
        size_t n = buf ? fread(buf, 1, MAX_FILE, f) : 0;
        fclose(f);
        if (buf && n == MAX_FILE) {
                fprintf(stderr, "ghverify: %s: too large\n", path);
                free(buf);
                return NULL;
        }
        *len = n;
        return buf;
}

static bool parse_u64(const char *s, uint64_t *out) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        if (errno || end == s || *end)
                return false;
        *out = v;
        return true;
}

static bool parse_hash(const char *hex, merkle_hash out) {
        size_t n = 0;
        return strlen(hex) == 2 * MERKLE_HASH_LEN &&
               sodium_hex2bin(out, MERKLE_HASH_LEN, hex, strlen(hex), NULL, &n, NULL) == 0 &&
               n == MERKLE_HASH_LEN;
}

static void print_hash(const merkle_hash h) {
        char hex[2 * MERKLE_HASH_LEN + 1];
        sodium_bin2hex(hex, sizeof hex, h, MERKLE_HASH_LEN);
        fputs(hex, stdout);
}

static int load_note(const char *vkey, const char *path, char **note, size_t *len,
                     size_t *text_len) {
        struct note_verifier v;
        int rc = vkey_parse(vkey, strlen(vkey), &v);
        if (rc != 0)
                return fail("vkey", rc);
        *note = slurp(path, len);
        if (!*note)
                return 1;
        size_t which;
        rc = note_verify(*note, *len, &v, 1, false, text_len, &which);
        if (rc != 0) {
                free(*note);
                return fail("note", rc);
        }
        return 0;
}

static int cmd_checkpoint(char **argv) {
        char *note;
        size_t len, text_len;
        if (load_note(argv[0], argv[1], &note, &len, &text_len))
                return 1;
        struct checkpoint cp;
        int rc = checkpoint_parse(note, text_len, &cp);
        free(note);
        if (rc != 0)
                return fail("checkpoint", rc);
        printf("%" PRIu64 " ", cp.size);
        print_hash(cp.root);
        putchar('\n');
        return 0;
}

static int cmd_attest(char **argv) {
        char *note;
        size_t len, text_len;
        uint8_t nonce[32];
        if (!nonce_parse_hex(argv[2], strlen(argv[2]), nonce))
                return usage();
        if (load_note(argv[0], argv[1], &note, &len, &text_len))
                return 1;
        struct attest a;
        int rc = attest_parse(note, text_len, &a);
        free(note);
        if (rc != 0)
                return fail("attest", rc);
        if (memcmp(a.nonce, nonce, sizeof nonce) != 0) {
                fprintf(stderr, "ghverify: attest: nonce differs\n");
                return 1;
        }
        printf("%" PRIu64 " ", a.size);
        print_hash(a.root);
        printf(" %" PRIu64 "\n", a.time_ns);
        return 0;
}

static int load_proof(const char *path, merkle_hash proof[MERKLE_MAX_PROOF], size_t *n) {
        size_t len;
        char *text = slurp(path, &len);
        if (!text)
                return 1;
        int rc = merkle_proof_parse(text, len, proof, n);
        free(text);
        return rc ? fail("proof", rc) : 0;
}

static int cmd_inclusion(char **argv) {
        uint64_t index, size;
        merkle_hash root, leaf, proof[MERKLE_MAX_PROOF];
        size_t n, len;
        if (!parse_u64(argv[0], &index) || !parse_u64(argv[1], &size) || !parse_hash(argv[3], root))
                return usage();
        char *rec = slurp(argv[2], &len);
        if (!rec)
                return 1;
        merkle_leaf_hash((const uint8_t *)rec, len, leaf);
        free(rec);
        if (load_proof(argv[4], proof, &n))
                return 1;
        int rc = merkle_verify_inclusion(index, size, leaf, (const merkle_hash *)proof, n, root);
        return rc ? fail("inclusion", rc) : 0;
}

static int cmd_consistency(char **argv) {
        uint64_t m, nsize;
        merkle_hash r1, r2, proof[MERKLE_MAX_PROOF];
        size_t n;
        if (!parse_u64(argv[0], &m) || !parse_u64(argv[1], &nsize) || !parse_hash(argv[2], r1) ||
            !parse_hash(argv[3], r2))
                return usage();
        if (load_proof(argv[4], proof, &n))
                return 1;
        int rc = merkle_verify_consistency(m, nsize, r1, r2, (const merkle_hash *)proof, n);
        return rc ? fail("consistency", rc) : 0;
}

static int cmd_records(char **argv) {
        size_t len;
        char *data = slurp(argv[0], &len);
        if (!data)
                return 1;
        struct record *r = malloc(sizeof *r);
        int rc = r ? 0 : -ENOMEM;
        struct reader rd;
        reader_init(&rd, data, len);
        while (rc == 0 && reader_left(&rd) > 0) {
                const uint8_t *p;
                size_t n;
                rc = record_frame_next(&rd, &p, &n);
                if (rc == 0)
                        rc = record_decode(p, n, r);
                if (rc != 0)
                        break;
                printf("%s %" PRIu64, record_kind_name(r->kind), r->wall_ns);
                if (r->kind == REC_SUMMARY)
                        printf(" %" PRIu64 " %" PRIu32 " %u %" PRIu64, r->u.summary.period_start_ns,
                               r->u.summary.period_s, (unsigned)r->u.summary.flags,
                               r->u.summary.obs_end_wall_ns);
                putchar('\n');
        }
        free(r);
        free(data);
        return rc ? fail("records", rc) : 0;
}

int main(int argc, char **argv) {
        if (sodium_init() < 0)
                return 1;
        if (argc == 4 && strcmp(argv[1], "checkpoint") == 0)
                return cmd_checkpoint(argv + 2);
        if (argc == 5 && strcmp(argv[1], "attest") == 0)
                return cmd_attest(argv + 2);
        if (argc == 7 && strcmp(argv[1], "inclusion") == 0)
                return cmd_inclusion(argv + 2);
        if (argc == 7 && strcmp(argv[1], "consistency") == 0)
                return cmd_consistency(argv + 2);
        if (argc == 3 && strcmp(argv[1], "records") == 0)
                return cmd_records(argv + 2);
        return usage();
}
