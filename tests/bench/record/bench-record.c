/* SPDX-License-Identifier: MIT */
/*
 * Record encode and decode rates for summary records with 8 GPUs.
 *   bench-record [SECONDS-PER-PHASE]   (default 1)
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record.h"
#include "status.h"

static double now_s(void) {
        struct timespec ts;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void fill(struct record *r) {
        struct rec_summary *s = &r->u.summary;

        memset(r, 0, sizeof(*r));
        r->version = RECORD_VERSION;
        r->kind = REC_SUMMARY;
        r->wall_ns = 1795694700000200000ull;
        r->boot_ns = 12645000200000ull;
        memset(r->boot_id, 0x5a, sizeof(r->boot_id));
        s->period_start_ns = 1795694400000000000ull;
        s->period_s = 300;
        s->obs_start_wall_ns = 1795694400000000000ull;
        s->obs_end_wall_ns = 1795694700000000000ull;
        s->obs_start_boot_ns = 12345000000000ull;
        s->obs_end_boot_ns = 12645000000000ull;
        s->samples_taken = 300;
        s->samples_expected = 300;
        s->gpu_count = 8;
        for (unsigned i = 0; i < 8; i++) {
                struct gpu_summary *g = &s->gpus[i];

                snprintf(g->uuid, sizeof(g->uuid), "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a%02u", i);
                g->observed_ms = 300000;
                g->busy_ms = 250000 + i;
                g->occupied_ms = 299000;
                g->energy_start_mj = 123456789ull * (i + 1);
                g->energy_end_mj = g->energy_start_mj + 180000000;
                g->energy_used_mj = 180000000;
                g->power_avg_mw = 600000;
                g->power_max_mw = 700000;
                g->mem_used_max_bytes = 85899345920ull;
                g->procs_max = 2;
        }
}

int main(int argc, char **argv) {
        double secs = argc > 1 ? atof(argv[1]) : 1.0;
        struct record *r = malloc(sizeof(*r)), *d = malloc(sizeof(*d));
        struct writer w;
        uint8_t *enc;
        size_t len;
        unsigned long n;
        double t0, t;
        volatile size_t sink = 0;
        int rc;

        if (!r || !d || !(secs > 0)) {
                fprintf(stderr, "usage: bench-record [SECONDS]\n");
                return 2;
        }
        fill(r);
        writer_init(&w, RECORD_MAX_SIZE);
        if ((rc = record_encode(r, &w)) != 0 || (rc = writer_finish(&w, &enc, &len)) != 0) {
                fprintf(stderr, "encode: %s\n", gh_strerror(rc));
                return 1;
        }

        /* encode: into one reused writer buffer, the way a ledger appends */
        writer_init(&w, RECORD_MAX_SIZE);
        t0 = now_s();
        n = 0;
        do {
                for (int i = 0; i < 1000; i++) {
                        writer_reset(&w);
                        if (record_encode(r, &w) != 0)
                                return 1;
                        sink += writer_len(&w);
                }
                n += 1000;
                t = now_s() - t0;
        } while (t < secs);
        writer_free(&w);
        printf("record encode: %.0f records/s (summary, 8 GPUs, %zu bytes)\n", (double)n / t, len);

        t0 = now_s();
        n = 0;
        do {
                for (int i = 0; i < 1000; i++) {
                        if (record_decode(enc, len, d) != 0)
                                return 1;
                        sink += d->u.summary.gpu_count;
                }
                n += 1000;
                t = now_s() - t0;
        } while (t < secs);
        printf("record decode: %.0f records/s (%.1f MB/s)\n", (double)n / t,
               (double)n * (double)len / t / 1e6);
        free(enc);
        free(r);
        free(d);
        return sink == 0;
}
