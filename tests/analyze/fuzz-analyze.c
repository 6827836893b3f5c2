/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the analyzer and the report writer: the input is a
 * compact script of records (a hostile but correctly signed ledger can hold
 * any field values the decoder accepts). Checks: no crash, no leak, no UB,
 * and the coverage identity for every GPU.
 *
 * Input: 3 bytes of options (since / until / now selectors), then 16-byte
 * operations: kind, boot selector, flags, GPU mask, u32 boot advance (ms),
 * i32 wall jitter (ms), u32 value. START/INVENTORY: flags bit 0x40 makes it
 * version 2, the boot selector's high nibble the counter epoch.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze.h"
#include "report.h"

#define MS 1000000ull
#define BASE_WALL 1795694400000000000ull
#define NGPU 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint32_t be32(const uint8_t *p) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void gpu_name(unsigned g, char *buf) {
        snprintf(buf, REC_UUID_MAX + 1, "GPU-%u", g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct record r;
        static FILE *sink;
        struct analyze_opts o = {0};
        struct analyzer *a;
        struct analysis an;
        uint64_t wall = BASE_WALL, boot = 1000 * MS * 1000, leaf = 0;

        if (size < 3 || size > 16 * 4096)
                return 0;
        if (!sink)
                sink = fopen("/dev/null", "w");
        if (data[0] & 1)
                o.since_ns = BASE_WALL + (uint64_t)(data[0] >> 1) * 7919 * MS;
        if (data[1] & 1)
                o.until_ns = BASE_WALL + (uint64_t)(data[1] >> 1) * 104729 * MS;
        if (data[2] & 1)
                o.now_ns = BASE_WALL + (uint64_t)data[2] * 1000003 * MS;
        a = analyzer_new(&o);
        if (!a || analyzer_record_pieces(a) != 0) {
                analyzer_free(a);
                return 0;
        }
        for (size_t p = 3; p + 16 <= size; p += 16) {
                const uint8_t *op = data + p;
                uint64_t adv = (uint64_t)be32(op + 4) % 4000000 * MS;
                int32_t jit = (int32_t)be32(op + 8);
                uint32_t v = be32(op + 12);
                unsigned n = 0;

                memset(&r, 0, sizeof(r));
                r.version = RECORD_VERSION;
                r.kind = (uint8_t)(1 + op[0] % 5);
                memset(r.boot_id, op[1] % 3, sizeof(r.boot_id));
                if (op[1] % 3 != 0 && op[1] & 0x80)
                        boot = (uint64_t)v * MS; /* a new boot starts low */
                if (jit < 0 && (uint64_t)(-(int64_t)jit) * MS < wall)
                        wall -= (uint64_t)(-(int64_t)jit) * MS;
                else if (jit > 0)
                        wall += (uint64_t)jit * MS % (86400000 * MS);
                switch (r.kind) {
                case REC_SUMMARY: {
                        struct rec_summary *s = &r.u.summary;
                        s->period_s = 1 + op[2] % 300;
                        s->flags = op[2] & SUMMARY_PARTIAL;
                        s->obs_start_wall_ns = wall;
                        s->obs_start_boot_ns = boot;
                        wall += adv;
                        boot += adv;
                        s->obs_end_wall_ns = wall;
                        s->obs_end_boot_ns = boot;
                        for (unsigned g = 0; g < NGPU; g++) {
                                struct gpu_summary *gs = &s->gpus[n];
                                if (!(op[3] & (1u << g)))
                                        continue;
                                gpu_name(g, gs->uuid);
                                gs->flags =
                                        (uint8_t)(op[3] & 0xf0 ? (op[2] >> 1) & GPU_FLAGS_ALL : 0);
                                gs->observed_ms = op[3] & 0x10 ? v % (adv / MS + 1) : adv / MS;
                                gs->busy_ms = v % (adv / MS + 1);
                                gs->occupied_ms = gs->busy_ms;
                                gs->energy_start_mj = (uint64_t)v * 1000;
                                gs->energy_end_mj = gs->energy_start_mj + (uint64_t)v;
                                gs->energy_used_mj = (uint64_t)v;
                                n++;
                        }
                        s->gpu_count = n;
                        break;
                }
                case REC_START:
                case REC_INVENTORY: {
                        struct gpu_info *gi =
                                r.kind == REC_START ? r.u.start.gpus : r.u.inventory.gpus;
                        if (r.kind == REC_START) {
                                r.u.start.period_s = 1 + v % 86400;
                                r.u.start.sample_interval_us = 50000 + v % 1000000;
                        } else {
                                r.u.inventory.reason = op[2] & INV_REASON_ALL;
                        }
                        if (op[2] & 0x40)
                                r.version = RECORD_VERSION_EPOCH; /* counter epochs */
                        for (unsigned g = 0; g < NGPU; g++) {
                                if (!(op[3] & (1u << g)))
                                        continue;
                                gpu_name(g, gi[n].uuid);
                                gi[n].energy_mj = (uint64_t)v * (g + 1);
                                gi[n].flags = op[2] & 1 ? GPU_ENERGY_UNSUPPORTED : 0;
                                gi[n].counter_epoch = (uint64_t)(op[1] >> 4) * (g + 1); /* 0.. */
                                n++;
                        }
                        if (r.kind == REC_START)
                                r.u.start.gpu_count = n;
                        else
                                r.u.inventory.gpu_count = n;
                        wall += adv;
                        boot += adv;
                        break;
                }
                case REC_CLOCK_STEP:
                        r.u.clock_step.prev_wall_ns =
                                wall - (jit < 0 ? 0 : (uint64_t)jit * MS % wall);
                        r.u.clock_step.prev_boot_ns = boot;
                        break;
                default:
                        wall += adv;
                        boot += adv;
                        break;
                }
                r.wall_ns = wall;
                r.boot_ns = boot;
                if (analyzer_add(a, leaf++, &r) != 0)
                        break;
        }
        if (analyzer_finish(a, &an) == 0) {
                for (size_t g = 0; g < an.gpu_count; g++)
                        if (an.gpus[g].observed_ms + an.gpus[g].gap_ms != an.interval_ms ||
                            an.gpus[g].observed_ms > an.interval_ms ||
                            !(an.gpus[g].hidden_gpu_seconds >= 0))
                                abort();
                /* a piece's hidden-compute bound is never negative nor above len x GPUs */
                for (size_t i = 0; i < an.nfindings; i++) {
                        const struct finding *f = &an.findings[i];
                        if (f->kind == FIND_TIME_GAP && f->has_hidden &&
                            (!(f->gpu_seconds >= 0) ||
                             f->gpu_seconds > (double)f->duration_ns / 1e9 *
                                                      (double)(an.gpu_count + RECORD_MAX_GPUS) +
                                                      1e-6))
                                abort();
                }
                if (!(an.hidden_gpu_seconds >= 0) ||
                    an.gap_seconds > (double)an.interval_ms / 1e3 + 1e-9)
                        abort();
                /*
                 * Per-GPU pieces: observed time sums to the GPU's observed_ms, every
                 * piece to the interval (to the ms of rounding), bounds ordered.
                 */
                struct analyzer_pieces ap;
                if (analyzer_pieces(a, &ap) == 0) {
                        if (ap.ngpus != an.gpu_count)
                                abort();
                        for (size_t g = 0; g < ap.ngpus; g++) {
                                uint64_t obs = 0, len = 0;
                                for (size_t k = 0; k < ap.gpus[g].n; k++) {
                                        const struct apiece *q = &ap.gpus[g].p[k];
                                        obs += q->obs_ns;
                                        len += q->len_ns;
                                        if (q->len_ns != q->obs_ns + q->unobs_ns ||
                                            q->ulen_ns < q->len_ns || !(q->hidden_s >= 0) ||
                                            q->hidden_s > (double)q->unobs_ns / 1e9 + 1e-6 ||
                                            q->hidden_u_s < q->hidden_s ||
                                            q->hidden_u_s > (double)q->ulen_ns / 1e9 + 1e-6 ||
                                            (q->exact && (q->uws != q->ws || q->uwe != q->we)))
                                                abort();
                                }
                                uint64_t om = (obs + 500000) / 1000000, lm = (len + 500000) / 1000000;
                                if (strcmp(ap.gpus[g].uuid, an.gpus[g].uuid) != 0 ||
                                    (om > an.gpus[g].observed_ms ? om - an.gpus[g].observed_ms
                                                                 : an.gpus[g].observed_ms - om) > 1 ||
                                    (lm > an.interval_ms ? lm - an.interval_ms
                                                         : an.interval_ms - lm) > 1)
                                        abort();
                        }
                        analyzer_pieces_free(&ap);
                }
                for (int by = BY_HOUR; by <= BY_GPU; by++) {
                        struct bucket *b = NULL;
                        size_t nb = 0;
                        /* rendering is linear in buckets: keep runs fast */
                        if (analyzer_buckets(a, (enum report_by)by, &b, &nb) == 0 && sink &&
                            nb <= 2000) {
                                if (by % 3 == FMT_JSON) {
                                        json_t *j = report_buckets_json(b, nb, (enum report_by)by);
                                        if (j)
                                                json_dumpf(j, sink, 0);
                                        json_decref(j);
                                } else {
                                        report_write(sink, &an, b, nb, (enum report_by)by,
                                                     (enum report_format)(by % 3));
                                }
                        }
                        free(b);
                }
                analysis_free(&an);
        }
        analyzer_free(a);
        return 0;
}
