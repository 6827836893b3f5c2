/* SPDX-License-Identifier: MIT */
/*
 * genledger STATE_DIR ORIGIN COUNT GPUS: write a ledger of COUNT records (a
 * start record, then one-second summaries with GPUS GPUs each) through the
 * daemon's own ledger and key code, as if an earlier boot of gpuhoursd had
 * written them. For the daemon benchmark: filling a ledger in real time
 * would take COUNT periods.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "key.h"
#include "ledger.h"
#include "log.h"

static void fill_gpu_info(struct gpu_info *g, unsigned i) {
        snprintf(g->uuid, sizeof g->uuid, "GPU-bench000-0000-0000-0000-%012u", i);
        snprintf(g->serial, sizeof g->serial, "BENCH%06u", i);
        snprintf(g->name, sizeof g->name, "Simulated H100");
        snprintf(g->pci_bus_id, sizeof g->pci_bus_id, "00000000:%02X:00.0", i + 1);
        g->mig_mode = MIG_OFF;
        g->energy_mj = 1000000;
}

int main(int argc, char **argv) {
        if (argc != 5) {
                fprintf(stderr, "usage: genledger STATE_DIR ORIGIN COUNT GPUS\n");
                return 2;
        }
        unsigned long count = strtoul(argv[3], NULL, 10);
        unsigned gpus = (unsigned)strtoul(argv[4], NULL, 10);
        if (count < 1 || count > 10000000 || gpus < 1 || gpus > RECORD_MAX_GPUS) {
                fprintf(stderr, "genledger: bad COUNT or GPUS\n");
                return 2;
        }
        if (sodium_init() < 0)
                return 1;
        log_init();
        char err[512], source[256];
        struct signer signer = {0};
        int rc = key_load(argv[1], argv[2], &signer, source, sizeof source, NULL, err,
                          sizeof err);
        if (rc != 0) {
                fprintf(stderr, "genledger: %s\n", err);
                return 1;
        }
        struct ledger *l = NULL;
        rc = ledger_open(argv[1], &signer, &l, err, sizeof err);
        if (rc != 0) {
                fprintf(stderr, "genledger: %s\n", err);
                signer_free(&signer);
                return 1;
        }
        struct record *r = calloc(1, sizeof *r);
        if (!r)
                return 1;
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        /* Periods of one second ending two seconds ago, from an earlier boot. */
        const uint64_t s = 1000000000u;
        uint64_t first = ((uint64_t)now.tv_sec - count - 2) * s;
        uint8_t boot_id[16];
        for (unsigned i = 0; i < 16; i++)
                boot_id[i] = (uint8_t)(0xb0 + i);
        uint64_t start_n = ledger_size(l);
        for (unsigned long n = 0; n < count && rc == 0; n++) {
                uint64_t t = first + n * s;
                memset(r, 0, sizeof *r);
                r->version = RECORD_VERSION;
                r->wall_ns = t;
                r->boot_ns = 10 * s + n * s;
                memcpy(r->boot_id, boot_id, sizeof boot_id);
                if (n == 0 && start_n == 0) {
                        struct rec_start *st = &r->u.start;
                        r->kind = REC_START;
                        snprintf(st->daemon_version, sizeof st->daemon_version, "bench");
                        snprintf(st->backend, sizeof st->backend, "sim");
                        st->period_s = 1;
                        st->sample_interval_us = 1000000;
                        snprintf(st->driver_version, sizeof st->driver_version, "sim");
                        snprintf(st->nvml_version, sizeof st->nvml_version, "sim");
                        st->gpu_count = gpus;
                        for (unsigned i = 0; i < gpus; i++)
                                fill_gpu_info(&st->gpus[i], i);
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
                                struct gpu_info gi;
                                fill_gpu_info(&gi, i);
                                memcpy(g->uuid, gi.uuid, sizeof g->uuid);
                                g->observed_ms = g->occupied_ms = 1000;
                                g->busy_ms = 500 + i;
                                g->energy_start_mj = 1000000 + n * 380000;
                                g->energy_end_mj = g->energy_start_mj + 380000;
                                g->energy_used_mj = 380000;
                                g->power_avg_mw = 380000;
                                g->power_max_mw = 700000;
                                g->mem_used_max_bytes = 40ull << 30;
                                g->procs_max = 1;
                        }
                }
                rc = ledger_append(l, r, err, sizeof err);
        }
        if (rc != 0)
                fprintf(stderr, "genledger: append: %s\n", err);
        else
                printf("%llu\n", (unsigned long long)ledger_size(l));
        free(r);
        ledger_close(l);
        signer_free(&signer);
        return rc ? 1 : 0;
}
