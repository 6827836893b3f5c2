/* SPDX-License-Identifier: MIT */
/*
 * hash-loop FILE: the raw hashing limit for a bundle, the baseline of the
 * client verify benchmark. Reads the file, walks the record frames and does
 * the same SHA-256 work as verification (RFC 6962 leaf hashes and the
 * Merkle root), nothing else: no decoding, no analysis, no signature.
 * Prints "<records> <seconds>" for the hashing part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "proto.h"

static double now_s(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
        if (argc != 2 || sodium_init() < 0)
                return 2;
        double t0 = now_s();
        FILE *f = fopen(argv[1], "rb");
        if (!f)
                return 1;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)size);
        if (!buf || fread(buf, 1, (size_t)size, f) != (size_t)size)
                return 1;
        fclose(f);
        struct bundle_view v;
        if (bundle_parse(buf, (size_t)size, &v) != 0)
                return 1;
        struct reader rd;
        reader_init(&rd, v.records, v.records_len);
        struct merkle_border b;
        merkle_border_init(&b);
        const uint8_t *rec;
        size_t len;
        uint64_t n = 0;
        while (record_frame_next(&rd, &rec, &len) == 0) {
                merkle_hash h;
                merkle_leaf_hash(rec, len, h);
                merkle_border_append(&b, h);
                n++;
        }
        merkle_hash root;
        merkle_border_root(&b, root);
        double t1 = now_s();
        printf("%llu %.6f %02x\n", (unsigned long long)n, t1 - t0, root[0]);
        free(buf);
        return 0;
}
