/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "record.h"

/*
 * The fixed values behind the golden vectors in tests/vectors/. Shared by
 * gen-vectors (which wrote the committed files once) and the tests (which
 * re-encode these values and compare byte for byte).
 */

struct golden_record {
        const char *file; /* under tests/vectors/ */
        void (*fill)(struct record *r);
};

extern const struct golden_record golden_records[];
extern const size_t golden_record_count;

/* The bundle vector: these records, in order, under a checkpoint signed with this key. */
#define GOLDEN_BUNDLE_FILE "bundle-3.bin"
#define GOLDEN_VKEY_FILE "bundle-3.vkey"
#define GOLDEN_ORIGIN "node17.example/gpuhours"
extern const uint8_t golden_seed[32];
extern const size_t golden_bundle_records[3]; /* indexes into golden_records */

void golden_fill_start(struct record *r);
void golden_fill_summary(struct record *r);
void golden_fill_stop(struct record *r);
void golden_fill_clock_step(struct record *r);
void golden_fill_inventory(struct record *r);
void golden_fill_start_v2(struct record *r);     /* version 2: counter epochs */
void golden_fill_inventory_v2(struct record *r); /* version 2: counter epochs */

/* Paths and files for tests. */
/* $GH_SOURCE_ROOT/tests/vectors/<name> into buf (malloc'd path). */
char *vector_path(const char *name);
/* Whole file, malloc'd; NULL on failure (errno set). */
uint8_t *read_whole_file(const char *path, size_t *len);
int write_whole_file(const char *path, const uint8_t *p, size_t len);

/* Field-by-field equality (strings compared as C strings, only gpu_count entries). */
int record_equal(const struct record *a, const struct record *b);

/* Encode r into a fresh malloc'd buffer. 0 or the record_encode error. */
int encode_alloc(const struct record *r, uint8_t **out, size_t *len);

struct signer;
/*
 * A complete bundle of n encoded records: checkpoint (origin, n, root)
 * signed by s, then the frames. 0 or an error from proto.
 */
int bundle_build(const struct signer *s, const char *origin, uint8_t *const *recs,
                 const size_t *lens, size_t n, uint8_t **out, size_t *outlen);
/* The golden bundle (golden_bundle_records under golden_seed / GOLDEN_ORIGIN). */
int golden_bundle_build(uint8_t **out, size_t *outlen);
