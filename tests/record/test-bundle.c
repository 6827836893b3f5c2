/* SPDX-License-Identifier: MIT */
/* Bundles (proto/bundle.c) verified end to end with a checkpoint signed by a fixed-seed key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bundle.h"
#include "merkle.h"
#include "note.h"
#include "record.h"
#include "status.h"
#include "vectors.h"

/*
 * The procedure of FORMAT.md "verifying a ledger end to end", for bundles:
 * parse, strict note verification, checkpoint, count == size, decode every
 * record, root == checkpoint root. 0 if the bundle verifies.
 */
static int bundle_verify_for_test(const uint8_t *p, size_t len, const struct note_verifier *key,
                                  struct record *scratch) {
        struct bundle_view v;
        struct checkpoint cp;
        struct merkle_border border;
        struct reader r;
        merkle_hash root;
        size_t text_len, which;
        int rc;

        if ((rc = bundle_parse(p, len, &v)) != 0)
                return rc;
        if ((rc = note_verify(v.note, v.note_len, key, 1, true, &text_len, &which)) != 0)
                return rc;
        if ((rc = checkpoint_parse(v.note, text_len, &cp)) != 0)
                return rc;
        if (strcmp(cp.origin, key->name) != 0)
                return GH_E_NO_KEY;
        if (cp.size != v.count)
                return GH_E_MALFORMED;
        merkle_border_init(&border);
        reader_init(&r, v.records, v.records_len);
        for (uint64_t i = 0; i < v.count; i++) {
                const uint8_t *rec;
                size_t rec_len;
                merkle_hash leaf;

                if ((rc = record_frame_next(&r, &rec, &rec_len)) != 0)
                        return rc;
                if ((rc = record_decode(rec, rec_len, scratch)) != 0)
                        return rc;
                merkle_leaf_hash(rec, rec_len, leaf);
                if ((rc = merkle_border_append(&border, leaf)) != 0)
                        return rc;
        }
        if (reader_left(&r) != 0)
                return GH_E_MALFORMED;
        merkle_border_root(&border, root);
        return memcmp(root, cp.root, MERKLE_HASH_LEN) == 0 ? 0 : GH_E_ROOT_MISMATCH;
}

struct ctx {
        struct note_verifier key;
        struct signer signer;
        uint8_t *bundle;
        size_t len;
        struct record scratch;
};

static int setup(void **state) {
        struct ctx *c = calloc(1, sizeof(*c));

        if (!c)
                return -1;
        *state = c;
        if (signer_init_ed25519(&c->signer, GOLDEN_ORIGIN, golden_seed) != 0)
                return -1;
        signer_verifier(&c->signer, &c->key);
        return golden_bundle_build(&c->bundle, &c->len) == 0 ? 0 : -1;
}

static int teardown(void **state) {
        struct ctx *c = *state;

        if (c) {
                signer_free(&c->signer);
                free(c->bundle);
                free(c);
        }
        return 0;
}

/* The committed vector equals what we build now, verifies, and its vkey file matches. */
static void test_golden_bundle(void **state) {
        struct ctx *c = *state;
        char *path = vector_path(GOLDEN_BUNDLE_FILE);
        char *vpath = vector_path(GOLDEN_VKEY_FILE);
        char vkey[VKEY_MAX_LEN + 1];
        struct note_verifier parsed;
        uint8_t *file;
        size_t flen;
        size_t n;

        file = read_whole_file(path, &flen);
        if (!file)
                fail_msg("cannot read %s", path);
        assert_int_equal(flen, c->len);
        assert_memory_equal(file, c->bundle, flen);
        assert_int_equal(bundle_verify_for_test(file, flen, &c->key, &c->scratch), 0);
        free(file);

        file = read_whole_file(vpath, &flen);
        if (!file)
                fail_msg("cannot read %s", vpath);
        assert_int_equal(vkey_format(&c->key, vkey, sizeof(vkey), &n), 0);
        assert_int_equal(flen, n + 1);
        assert_memory_equal(file, vkey, n);
        assert_int_equal(file[n], '\n');
        assert_int_equal(vkey_parse((const char *)file, n, &parsed), 0);
        assert_memory_equal(parsed.pk, c->key.pk, 32);
        free(file);
        free(path);
        free(vpath);
}

static void test_view_fields(void **state) {
        struct ctx *c = *state;
        struct bundle_view v;

        assert_int_equal(bundle_parse(c->bundle, c->len, &v), 0);
        assert_int_equal(v.count, 3);
        assert_ptr_equal(v.note, (const char *)c->bundle + BUNDLE_MAGIC_LEN + 4);
        assert_ptr_equal(v.records + v.records_len, c->bundle + c->len);
        assert_memory_equal(v.note, GOLDEN_ORIGIN "\n3\n", strlen(GOLDEN_ORIGIN) + 3);
}

/* Every truncation and every single-bit flip of the bundle fails end-to-end verification. */
static void test_every_change_fails(void **state) {
        struct ctx *c = *state;
        uint8_t *y = malloc(c->len);

        assert_non_null(y);
        for (size_t t = 0; t < c->len; t++) {
                memcpy(y, c->bundle, t);
                assert_int_not_equal(bundle_verify_for_test(y, t, &c->key, &c->scratch), 0);
        }
        for (size_t bit = 0; bit < c->len * 8; bit++) {
                memcpy(y, c->bundle, c->len);
                y[bit / 8] ^= (uint8_t)(1u << (bit % 8));
                if (bundle_verify_for_test(y, c->len, &c->key, &c->scratch) == 0)
                        fail_msg("bundle with bit %zu flipped verifies", bit);
        }
        free(y);
        printf("# %zu truncations and %zu bit flips of a %zu-byte bundle all rejected\n", c->len,
               c->len * 8, c->len);
}

/* A trailing byte, a second (unknown) signature, a count that disagrees: all rejected. */
static void test_structural(void **state) {
        struct ctx *c = *state;
        struct bundle_view v;
        uint8_t *y = malloc(c->len + 1);
        struct writer w;

        assert_non_null(y);
        memcpy(y, c->bundle, c->len);
        y[c->len] = 0;
        assert_int_equal(bundle_parse(y, c->len + 1, &v), GH_E_MALFORMED);
        free(y);

        /* count 2 while the note says 3: the frames no longer add up */
        assert_int_equal(bundle_parse(c->bundle, c->len, &v), 0);
        {
                size_t off = BUNDLE_MAGIC_LEN + 4 + v.note_len;

                y = malloc(c->len);
                assert_non_null(y);
                memcpy(y, c->bundle, c->len);
                assert_int_equal(y[off + 7], 3);
                y[off + 7] = 2;
                assert_int_equal(bundle_parse(y, c->len, &v), GH_E_MALFORMED);
                free(y);
        }

        /* note length 0 and above NOTE_MAX_SIZE */
        writer_init(&w, 1 << 20);
        writer_bytes(&w, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN);
        writer_u32(&w, 0);
        writer_u64(&w, 0);
        assert_int_equal(bundle_parse(writer_data(&w), writer_len(&w), &v), GH_E_MALFORMED);
        writer_put_u32_at(&w, BUNDLE_MAGIC_LEN, NOTE_MAX_SIZE + 1);
        assert_int_equal(bundle_parse(writer_data(&w), writer_len(&w), &v), GH_E_TOO_LARGE);
        writer_free(&w);

        /* count above BUNDLE_MAX_RECORDS */
        writer_init(&w, 1 << 20);
        writer_bytes(&w, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN);
        writer_vec32(&w, "x\n", 2);
        writer_u64(&w, BUNDLE_MAX_RECORDS + 1);
        assert_int_equal(bundle_parse(writer_data(&w), writer_len(&w), &v), GH_E_TOO_LARGE);
        writer_free(&w);

        /* bundle_write_header caps */
        writer_init(&w, 1 << 20);
        bundle_write_header(&w, "x", 0, 0);
        assert_int_equal(writer_error(&w), GH_E_MALFORMED);
        writer_free(&w);
        writer_init(&w, 1 << 20);
        bundle_write_header(&w, "x", 1, BUNDLE_MAX_RECORDS + 1);
        assert_int_equal(writer_error(&w), GH_E_TOO_LARGE);
        assert_int_equal(writer_len(&w), 0);
        writer_free(&w);
}

/* A second signature from a key the verifier does not know: strict mode rejects it. */
static void test_unknown_cosignature(void **state) {
        struct ctx *c = *state;
        struct bundle_view v;
        struct signer other;
        uint8_t seed[32];
        char *note2 = NULL;
        size_t note2_len = 0, text_len, which;
        struct writer w;
        uint8_t *b2;
        size_t b2len;

        memset(seed, 0x42, sizeof(seed));
        memset(&other, 0, sizeof(other));
        assert_int_equal(bundle_parse(c->bundle, c->len, &v), 0);
        assert_int_equal(note_verify(v.note, v.note_len, &c->key, 1, true, &text_len, &which), 0);
        assert_int_equal(signer_init_ed25519(&other, "witness.example", seed), 0);
        assert_int_equal(note_sign(v.note, text_len, &other, &note2, &note2_len), 0);
        signer_free(&other);

        /* original note + the witness's signature line */
        writer_init(&w, 1 << 20);
        {
                const char *sig = note2 + text_len + 1; /* skip text and blank line */
                size_t sig_len = note2_len - text_len - 1;

                writer_bytes(&w, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN);
                writer_u32(&w, (uint32_t)(v.note_len + sig_len));
                writer_bytes(&w, v.note, v.note_len);
                writer_bytes(&w, sig, sig_len);
                writer_u64(&w, v.count);
                writer_bytes(&w, v.records, v.records_len);
        }
        free(note2);
        assert_int_equal(writer_finish(&w, &b2, &b2len), 0);
        assert_int_equal(bundle_parse(b2, b2len, &v), 0);
        assert_int_not_equal(bundle_verify_for_test(b2, b2len, &c->key, &c->scratch), 0);
        free(b2);
}

/* An empty ledger and a wrong root are handled. */
static void test_empty_and_mismatch(void **state) {
        struct ctx *c = *state;
        uint8_t *b;
        size_t blen;
        uint8_t *recs[2];
        size_t lens[2];

        assert_int_equal(bundle_build(&c->signer, GOLDEN_ORIGIN, NULL, NULL, 0, &b, &blen), 0);
        assert_int_equal(bundle_verify_for_test(b, blen, &c->key, &c->scratch), 0);
        free(b);

        /* sign a tree over two records, ship only a different pair of the same sizes */
        golden_fill_stop(&c->scratch);
        assert_int_equal(encode_alloc(&c->scratch, &recs[0], &lens[0]), 0);
        golden_fill_clock_step(&c->scratch);
        assert_int_equal(encode_alloc(&c->scratch, &recs[1], &lens[1]), 0);
        assert_int_equal(bundle_build(&c->signer, GOLDEN_ORIGIN, recs, lens, 2, &b, &blen), 0);
        assert_int_equal(bundle_verify_for_test(b, blen, &c->key, &c->scratch), 0);
        {
                /* swap the two frames: same bytes, other order */
                struct bundle_view v;
                uint8_t *y = malloc(blen);
                size_t off;

                assert_non_null(y);
                assert_int_equal(bundle_parse(b, blen, &v), 0);
                off = (size_t)(v.records - b);
                memcpy(y, b, off);
                y[off] = 0;
                y[off + 1] = 0;
                y[off + 2] = (uint8_t)(lens[1] >> 8);
                y[off + 3] = (uint8_t)lens[1];
                memcpy(y + off + 4, recs[1], lens[1]);
                y[off + 4 + lens[1]] = 0;
                y[off + 5 + lens[1]] = 0;
                y[off + 6 + lens[1]] = (uint8_t)(lens[0] >> 8);
                y[off + 7 + lens[1]] = (uint8_t)lens[0];
                memcpy(y + off + 8 + lens[1], recs[0], lens[0]);
                assert_int_equal(bundle_verify_for_test(y, blen, &c->key, &c->scratch),
                                 GH_E_ROOT_MISMATCH);
                free(y);
        }
        free(b);
        free(recs[0]);
        free(recs[1]);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test_setup_teardown(test_golden_bundle, setup, teardown),
                cmocka_unit_test_setup_teardown(test_view_fields, setup, teardown),
                cmocka_unit_test_setup_teardown(test_every_change_fails, setup, teardown),
                cmocka_unit_test_setup_teardown(test_structural, setup, teardown),
                cmocka_unit_test_setup_teardown(test_unknown_cosignature, setup, teardown),
                cmocka_unit_test_setup_teardown(test_empty_and_mismatch, setup, teardown),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
