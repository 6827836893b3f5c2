/* SPDX-License-Identifier: MIT */
/*
 * Writes the golden vectors from the fixed values in vectors.c. Run once
 * and commit the output; the tests check the committed files byte for byte.
 *   gen-vectors VECTOR-DIR SEED-DIR
 * writes VECTOR-DIR/record-*.bin, bundle-3.bin, bundle-3.vkey and the fuzz
 * seeds SEED-DIR/record/<name> and SEED-DIR/bundle/<name>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "status.h"
#include "vectors.h"

static int put(const char *dir, const char *sub, const char *name, const uint8_t *p, size_t len) {
        char path[4096];
        int rc;

        if (snprintf(path, sizeof(path), "%s%s%s/%s", dir, sub ? "/" : "", sub ? sub : "", name) >=
            (int)sizeof(path)) {
                fprintf(stderr, "path too long\n");
                return 1;
        }
        rc = write_whole_file(path, p, len);
        if (rc != 0) {
                fprintf(stderr, "%s: write failed (%d)\n", path, rc);
                return 1;
        }
        printf("wrote %s (%zu bytes)\n", path, len);
        return 0;
}

int main(int argc, char **argv) {
        struct record *r = malloc(sizeof(*r));
        struct signer s;
        struct note_verifier v;
        char vkey[VKEY_MAX_LEN + 2];
        uint8_t *buf;
        size_t len;
        int rc, fail = 0;
        size_t n;

        if (argc != 3 || !r) {
                fprintf(stderr, "usage: gen-vectors VECTOR-DIR SEED-DIR\n");
                free(r);
                return 2;
        }
        for (size_t i = 0; i < golden_record_count; i++) {
                golden_records[i].fill(r);
                rc = encode_alloc(r, &buf, &len);
                if (rc != 0) {
                        fprintf(stderr, "%s: encode failed: %s\n", golden_records[i].file,
                                gh_strerror(rc));
                        fail = 1;
                        continue;
                }
                fail |= put(argv[1], NULL, golden_records[i].file, buf, len);
                fail |= put(argv[2], "record", golden_records[i].file, buf, len);
                free(buf);
        }
        free(r);

        rc = golden_bundle_build(&buf, &len);
        if (rc != 0) {
                fprintf(stderr, "bundle: %s\n", gh_strerror(rc));
                return 1;
        }
        fail |= put(argv[1], NULL, GOLDEN_BUNDLE_FILE, buf, len);
        fail |= put(argv[2], "bundle", GOLDEN_BUNDLE_FILE, buf, len);
        free(buf);

        memset(&s, 0, sizeof(s));
        if (signer_init_ed25519(&s, GOLDEN_ORIGIN, golden_seed) != 0) {
                fprintf(stderr, "signer init failed\n");
                return 1;
        }
        signer_verifier(&s, &v);
        signer_free(&s);
        if (vkey_format(&v, vkey, sizeof(vkey) - 1, &n) != 0) {
                fprintf(stderr, "vkey_format failed\n");
                return 1;
        }
        vkey[n] = '\n';
        fail |= put(argv[1], NULL, GOLDEN_VKEY_FILE, (const uint8_t *)vkey, n + 1);
        return fail;
}
