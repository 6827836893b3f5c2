/* SPDX-License-Identifier: MIT */
/*
 * gen-bundle FILE COUNT GPUS: write an offline bundle of COUNT records (a
 * start record, then one-second summaries with GPUS GPUs each) signed by a
 * fixed key (seed 0x42 x 32, origin "bench.example/gpuhours"); prints the
 * vkey. proto only, so the bundle is exactly what `gpuhours fetch` writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto.h"

#define ORIGIN "bench.example/gpuhours"

static void gpu_uuid(char *out, size_t cap, unsigned i) {
        snprintf(out, cap, "GPU-bench000-0000-0000-0000-%012u", i);
}

int main(int argc, char **argv) {
        if (argc != 4) {
                fprintf(stderr, "usage: gen-bundle FILE COUNT GPUS\n");
                return 2;
        }
        unsigned long count = strtoul(argv[2], NULL, 10);
        unsigned gpus = (unsigned)strtoul(argv[3], NULL, 10);
        if (count < 1 || count > 10000000 || gpus < 1 || gpus > RECORD_MAX_GPUS ||
            sodium_init() < 0)
                return 2;
        uint8_t seed[32];
        memset(seed, 0x42, sizeof(seed));
        struct signer signer = {0};
        if (signer_init_ed25519(&signer, ORIGIN, seed) != 0)
                return 1;
        struct record *r = calloc(1, sizeof(*r));
        struct writer frames;
        writer_init(&frames, (size_t)4 << 30);
        struct merkle_border border;
        merkle_border_init(&border);
        const uint64_t s = 1000000000u;
        uint64_t first = 1795694400ull * s; /* 2026-11-26T12:00:00Z */
        for (unsigned long n = 0; n < count; n++) {
                uint64_t t = first + n * s;
                memset(r, 0, sizeof(*r));
                r->version = RECORD_VERSION;
                r->wall_ns = t;
                r->boot_ns = 10 * s + n * s;
                for (unsigned i = 0; i < 16; i++)
                        r->boot_id[i] = (uint8_t)(0xb0 + i);
                if (n == 0) {
                        struct rec_start *st = &r->u.start;
                        r->kind = REC_START;
                        snprintf(st->daemon_version, sizeof(st->daemon_version), "bench");
                        snprintf(st->backend, sizeof(st->backend), "sim");
                        st->period_s = 1;
                        st->sample_interval_us = 1000000;
                        snprintf(st->driver_version, sizeof(st->driver_version), "sim");
                        snprintf(st->nvml_version, sizeof(st->nvml_version), "sim");
                        st->gpu_count = gpus;
                        for (unsigned i = 0; i < gpus; i++) {
                                struct gpu_info *g = &st->gpus[i];
                                gpu_uuid(g->uuid, sizeof(g->uuid), i);
                                snprintf(g->serial, sizeof(g->serial), "BENCH%06u", i);
                                snprintf(g->name, sizeof(g->name), "Simulated H100");
                                snprintf(g->pci_bus_id, sizeof(g->pci_bus_id), "00000000:%02X:00.0",
                                         i + 1);
                                g->mig_mode = MIG_OFF;
                                g->energy_mj = 1000000;
                        }
                } else {
                        struct rec_summary *su = &r->u.summary;
                        r->kind = REC_SUMMARY;
                        su->period_start_ns = t - s;
                        su->period_s = 1;
                        su->obs_start_wall_ns = t - s;
                        su->obs_end_wall_ns = t;
                        su->obs_start_boot_ns = r->boot_ns - s;
                        su->obs_end_boot_ns = r->boot_ns;
                        su->samples_taken = su->samples_expected = 1;
                        su->gpu_count = gpus;
                        for (unsigned i = 0; i < gpus; i++) {
                                struct gpu_summary *g = &su->gpus[i];
                                gpu_uuid(g->uuid, sizeof(g->uuid), i);
                                g->observed_ms = g->occupied_ms = 1000;
                                g->busy_ms = 500 + i;
                                g->energy_start_mj = 1000000 + (n - 1) * 380000;
                                g->energy_end_mj = g->energy_start_mj + 380000;
                                g->energy_used_mj = 380000;
                                g->power_avg_mw = 380000;
                                g->power_max_mw = 700000;
                                g->mem_used_max_bytes = 40ull << 30;
                                g->procs_max = 1;
                        }
                }
                struct writer one;
                writer_init(&one, RECORD_MAX_SIZE);
                uint8_t *rec;
                size_t len;
                if (record_encode(r, &one) != 0 || writer_finish(&one, &rec, &len) != 0) {
                        fprintf(stderr, "gen-bundle: record %lu does not encode\n", n);
                        return 1;
                }
                merkle_hash h;
                merkle_leaf_hash(rec, len, h);
                merkle_border_append(&border, h);
                record_frame_write(&frames, rec, len);
                free(rec);
        }
        struct checkpoint cp = {.size = count};
        snprintf(cp.origin, sizeof(cp.origin), "%s", ORIGIN);
        merkle_border_root(&border, cp.root);
        char text[CHECKPOINT_TEXT_MAX + 1];
        size_t tl;
        char *note;
        size_t note_len;
        if (checkpoint_format(&cp, text, sizeof(text), &tl) != 0 ||
            note_sign(text, tl, &signer, &note, &note_len) != 0)
                return 1;
        struct writer out;
        writer_init(&out, (size_t)4 << 30);
        bundle_write_header(&out, note, note_len, count);
        uint8_t *fb, *ob;
        size_t flen, olen;
        if (writer_finish(&frames, &fb, &flen) != 0)
                return 1;
        writer_bytes(&out, fb, flen);
        if (writer_finish(&out, &ob, &olen) != 0)
                return 1;
        FILE *f = fopen(argv[1], "wb");
        if (!f || fwrite(ob, 1, olen, f) != olen || fclose(f) != 0) {
                perror(argv[1]);
                return 1;
        }
        struct note_verifier v;
        char vkey[VKEY_MAX_LEN + 1];
        signer_verifier(&signer, &v);
        size_t vlen;
        if (vkey_format(&v, vkey, sizeof(vkey), &vlen) != 0) {
                fprintf(stderr, "vkey_format failed\n");
                return 1;
        }
        printf("%s\n", vkey);
        free(fb);
        free(ob);
        free(note);
        free(r);
        signer_free(&signer);
        return 0;
}
