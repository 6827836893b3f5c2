/* SPDX-License-Identifier: MIT */
/*
 * dumprecords: read framed records (u32 length + record, as served by
 * /v1/records) on stdin, decode each with proto's strict decoder and print
 * one JSON object per line. Exit 0 if all decoded, 1 on a bad record, 2 on
 * an I/O error. Input capped at 256 MiB. For the nvml tests.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"
#include "status.h"

#define INPUT_MAX (256u << 20)

/* Record strings are printable ASCII already; escape the two JSON specials. */
static void put_str(const char *key, const char *v) {
        printf("\"%s\":\"", key);
        for (; *v; v++) {
                if (*v == '"' || *v == '\\')
                        putchar('\\');
                putchar(*v);
        }
        printf("\"");
}

static void put_gpu_info(const struct gpu_info *g) {
        printf("{");
        put_str("uuid", g->uuid);
        printf(",");
        put_str("serial", g->serial);
        printf(",");
        put_str("name", g->name);
        printf(",");
        put_str("pci", g->pci_bus_id);
        printf(",\"mig\":%u,\"flags\":%u,\"energy_mj\":%llu}", g->mig_mode, g->flags,
               (unsigned long long)g->energy_mj);
}

static void put_gpu_list(const struct gpu_info *g, uint32_t n) {
        printf(",\"gpus\":[");
        for (uint32_t i = 0; i < n; i++) {
                if (i)
                        printf(",");
                put_gpu_info(&g[i]);
        }
        printf("]");
}

static void put_record(const struct record *r) {
        const char *kind = record_kind_name(r->kind);
        printf("{\"kind\":\"%s\",\"wall_ns\":%llu,\"boot_ns\":%llu", kind ? kind : "?",
               (unsigned long long)r->wall_ns, (unsigned long long)r->boot_ns);
        switch (r->kind) {
        case REC_START: {
                const struct rec_start *s = &r->u.start;
                printf(",");
                put_str("backend", s->backend);
                printf(",");
                put_str("driver", s->driver_version);
                printf(",");
                put_str("nvml", s->nvml_version);
                printf(",\"period_s\":%u", s->period_s);
                put_gpu_list(s->gpus, s->gpu_count);
                break;
        }
        case REC_INVENTORY: {
                const struct rec_inventory *v = &r->u.inventory;
                printf(",\"reason\":%u,", v->reason);
                put_str("driver", v->driver_version);
                printf(",");
                put_str("nvml", v->nvml_version);
                put_gpu_list(v->gpus, v->gpu_count);
                break;
        }
        case REC_SUMMARY: {
                const struct rec_summary *s = &r->u.summary;
                printf(",\"period_start_ns\":%llu,\"period_s\":%u,\"flags\":%u,\"samples_taken\":%"
                       "u,"
                       "\"samples_expected\":%u,\"obs_start_wall_ns\":%llu,\"obs_end_wall_ns\":%"
                       "llu,"
                       "\"gpus\":[",
                       (unsigned long long)s->period_start_ns, s->period_s, s->flags,
                       s->samples_taken, s->samples_expected,
                       (unsigned long long)s->obs_start_wall_ns,
                       (unsigned long long)s->obs_end_wall_ns);
                for (uint32_t i = 0; i < s->gpu_count; i++) {
                        const struct gpu_summary *g = &s->gpus[i];
                        printf("%s{", i ? "," : "");
                        put_str("uuid", g->uuid);
                        printf(",\"flags\":%u,\"observed_ms\":%llu,\"busy_ms\":%llu,"
                               "\"occupied_ms\":%llu,\"energy_start_mj\":%llu,"
                               "\"energy_end_mj\":%llu,\"energy_used_mj\":%llu,"
                               "\"power_avg_mw\":%u,\"power_max_mw\":%u,\"mem_used_max\":%llu,"
                               "\"procs_max\":%u,\"xid_count\":%u}",
                               g->flags, (unsigned long long)g->observed_ms,
                               (unsigned long long)g->busy_ms, (unsigned long long)g->occupied_ms,
                               (unsigned long long)g->energy_start_mj,
                               (unsigned long long)g->energy_end_mj,
                               (unsigned long long)g->energy_used_mj, g->power_avg_mw,
                               g->power_max_mw, (unsigned long long)g->mem_used_max_bytes,
                               g->procs_max, g->xid_count);
                }
                printf("]");
                break;
        }
        case REC_STOP:
                printf(",");
                put_str("reason", r->u.stop.reason);
                break;
        default:
                break;
        }
        printf("}\n");
}

int main(void) {
        size_t cap = 1 << 16, len = 0;
        uint8_t *buf = malloc(cap);
        if (!buf)
                return 2;
        for (;;) {
                if (len == cap) {
                        if (cap >= INPUT_MAX) {
                                fprintf(stderr, "dumprecords: input over %u bytes\n", INPUT_MAX);
                                free(buf);
                                return 2;
                        }
                        uint8_t *p = realloc(buf, cap * 2);
                        if (!p) {
                                free(buf);
                                return 2;
                        }
                        buf = p;
                        cap *= 2;
                }
                size_t got = fread(buf + len, 1, cap - len, stdin);
                if (got == 0)
                        break;
                len += got;
        }
        struct record *rec = malloc(sizeof *rec);
        if (!rec) {
                free(buf);
                return 2;
        }
        struct reader r;
        reader_init(&r, buf, len);
        int rc = 0;
        size_t index = 0;
        while (reader_left(&r) > 0) {
                const uint8_t *p;
                size_t n;
                int st = record_frame_next(&r, &p, &n);
                if (st == 0)
                        st = record_decode(p, n, rec);
                if (st != 0) {
                        fprintf(stderr, "dumprecords: record %zu: %s\n", index, gh_strerror(st));
                        rc = 1;
                        break;
                }
                put_record(rec);
                index++;
        }
        free(rec);
        free(buf);
        return rc;
}
