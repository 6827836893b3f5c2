/* SPDX-License-Identifier: MIT */
/*
 * hash-loop FILE: the raw hashing limit for a bundle, the baseline of the
 * client verify benchmark. Reads the file, walks the record frames and does
 * the same SHA-256 work as verification (RFC 6962 leaf hashes and the
 * Merkle root), nothing else: no decoding, no analysis, no signature.
 * It hashes with OpenSSL's EVP SHA-256 directly (the CPU's SHA extensions:
 * the hardware limit), one EVP_MD_CTX reused, no proto seam in between.
 * Prints "<records> <seconds>" for the hashing part.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
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
        EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        if (!md || !ctx)
                return 1;
        /* The RFC 6962 border, inline: level[i] holds a complete subtree of 2^i leaves. */
        uint8_t level[64][32], h[32];
        static const uint8_t leaf_prefix = 0x00, node_prefix = 0x01;
        unsigned int hl;
        const uint8_t *rec;
        size_t len;
        uint64_t n = 0;
        while (record_frame_next(&rd, &rec, &len) == 0) {
                EVP_DigestInit_ex2(ctx, md, NULL);
                EVP_DigestUpdate(ctx, &leaf_prefix, 1);
                EVP_DigestUpdate(ctx, rec, len);
                EVP_DigestFinal_ex(ctx, h, &hl);
                unsigned i;
                for (i = 0; (n >> i) & 1; i++) {
                        EVP_DigestInit_ex2(ctx, md, NULL);
                        EVP_DigestUpdate(ctx, &node_prefix, 1);
                        EVP_DigestUpdate(ctx, level[i], 32);
                        EVP_DigestUpdate(ctx, h, 32);
                        EVP_DigestFinal_ex(ctx, h, &hl);
                }
                memcpy(level[i], h, 32);
                n++;
        }
        /* Root: fold the border from the lowest set bit up. */
        uint8_t root[32];
        unsigned i = n ? (unsigned)__builtin_ctzll(n) : 0;
        memcpy(root, level[i], 32);
        for (i++; i < 64; i++)
                if ((n >> i) & 1) {
                        EVP_DigestInit_ex2(ctx, md, NULL);
                        EVP_DigestUpdate(ctx, &node_prefix, 1);
                        EVP_DigestUpdate(ctx, level[i], 32);
                        EVP_DigestUpdate(ctx, root, 32);
                        EVP_DigestFinal_ex(ctx, root, &hl);
                }
        EVP_MD_CTX_free(ctx);
        EVP_MD_free(md);
        double t1 = now_s();
        printf("%llu %.6f %02x\n", (unsigned long long)n, t1 - t0, root[0]);
        free(buf);
        return 0;
}
