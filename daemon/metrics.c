/* SPDX-License-Identifier: MIT */
#include "metrics.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h" /* GH_VERSION (generated) */

struct text {
        char *buf;
        size_t len;
        int err; /* sticky: -E2BIG */
};

static void text_add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void text_add(struct text *t, const char *fmt, ...) {
        if (t->err)
                return;
        size_t room = METRICS_MAX_SIZE - t->len;
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t)n >= room) {
                t->err = -E2BIG;
                return;
        }
        t->len += (size_t)n;
}

/* A label value with '\\', '"' and newline escaped (exposition format 0.0.4). */
static void text_add_label_value(struct text *t, const char *v, size_t maxlen) {
        size_t n = strnlen(v, maxlen);
        for (size_t i = 0; i < n; i++) {
                switch (v[i]) {
                case '\\':
                        text_add(t, "\\\\");
                        break;
                case '"':
                        text_add(t, "\\\"");
                        break;
                case '\n':
                        text_add(t, "\\n");
                        break;
                default:
                        text_add(t, "%c", v[i]);
                }
        }
}

static void family(struct text *t, const char *name, const char *type, const char *help) {
        text_add(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void sample_u64(struct text *t, const char *name, const char *type, const char *help,
                       uint64_t v) {
        family(t, name, type, help);
        text_add(t, "%s %llu\n", name, (unsigned long long)v);
}

/* v / 10^digits printed exactly, without floating point. */
static void add_fixed(struct text *t, uint64_t v, unsigned digits) {
        uint64_t scale = 1;
        for (unsigned i = 0; i < digits; i++)
                scale *= 10;
        text_add(t, "%llu.%0*llu", (unsigned long long)(v / scale), (int)digits,
                 (unsigned long long)(v % scale));
}

/* The model name of the GPU with this UUID in the inventory ("" if absent). */
static const char *gpu_model(const struct gpu_info *inv, size_t ninv, const char *uuid) {
        for (size_t i = 0; i < ninv; i++)
                if (strcmp(inv[i].uuid, uuid) == 0)
                        return inv[i].name;
        return "";
}

/*
 * One sample per GPU, labelled gpu (the GPU's position in the daemon's list,
 * in UUID order) and UUID as dcgm-exporter names them, so that series join
 * on(UUID) with DCGM's; the model as model_name, not DCGM's modelName, which
 * `promtool check metrics` refuses (camelCase).
 */
static void gpu_family(struct text *t, const struct daemon_stats *st, unsigned n,
                       const struct gpu_info *inv, size_t ninv, const char *name,
                       const char *help, const atomic_uint_fast64_t *milli) {
        family(t, name, "counter", help);
        for (unsigned i = 0; i < n; i++) {
                text_add(t, "%s{gpu=\"%u\",UUID=\"", name, i);
                text_add_label_value(t, st->gpu_uuid[i], REC_UUID_MAX);
                text_add(t, "\",model_name=\"");
                text_add_label_value(t, gpu_model(inv, ninv, st->gpu_uuid[i]), REC_NAME_MAX);
                text_add(t, "\"} ");
                add_fixed(t, atomic_load(&milli[i]), 3);
                text_add(t, "\n");
        }
}

static void sample_time(struct text *t, const char *name, const char *help, uint64_t wall_ns) {
        family(t, name, "gauge", help);
        text_add(t, "%s ", name);
        add_fixed(t, wall_ns, 9);
        text_add(t, "\n");
}

int metrics_render(const struct daemon_stats *st, const struct gpu_info *inv, size_t ninv,
                   uint64_t tree_size, uint64_t start_wall_ns, char **out, size_t *len) {
        struct text t = {.buf = malloc(METRICS_MAX_SIZE)};
        if (!t.buf)
                return -ENOMEM;

        sample_u64(&t, "gpuhours_records_appended_total", "counter",
                   "Records appended to the ledger since the daemon started.",
                   atomic_load(&st->records_appended_total));
        sample_u64(&t, "gpuhours_checkpoints_signed_total", "counter",
                   "Checkpoints signed since the daemon started.",
                   atomic_load(&st->checkpoints_signed_total));
        sample_u64(&t, "gpuhours_append_errors_total", "counter",
                   "Failed ledger appends (for example ENOSPC).",
                   atomic_load(&st->append_errors_total));
        sample_u64(&t, "gpuhours_sampler_errors_total", "counter", "Failed GPU sampler reads.",
                   atomic_load(&st->sampler_errors_total));
        sample_u64(&t, "gpuhours_samples_total", "counter", "GPU samples taken.",
                   atomic_load(&st->samples_total));
        sample_u64(&t, "gpuhours_tree_size", "gauge",
                   "Records in the published (signed) ledger tree.", tree_size);

        /* Not "..._summary_...": promtool reserves that word for the summary type. */
        sample_time(&t, "gpuhours_last_period_end_timestamp_seconds",
                    "Wall-clock end of the last period written to the ledger, in seconds since "
                    "the epoch (0 before the first).",
                    atomic_load(&st->last_summary_wall_ns));
        sample_time(&t, "gpuhours_last_sample_timestamp_seconds",
                    "Wall-clock time of the last successful GPU sample, in seconds since the "
                    "epoch.",
                    atomic_load(&st->last_sample_wall_ns));
        sample_u64(&t, "gpuhours_sampler_up", "gauge",
                   "1 while GPU sampler reads succeed, 0 while they are failing.",
                   atomic_load(&st->sampler_ok) ? 1 : 0);
        sample_u64(&t, "gpuhours_gpus", "gauge", "GPUs in the node's current inventory.",
                   (uint64_t)ninv);

        sample_u64(&t, "gpuhours_appending", "gauge",
                   "1 while ledger appends succeed, 0 while they are failing.",
                   atomic_load(&st->appending_ok) ? 1 : 0);

        unsigned n = (unsigned)atomic_load(&st->gpu_count);
        if (n > RECORD_MAX_GPUS)
                n = RECORD_MAX_GPUS;
        gpu_family(&t, st, n, inv, ninv, "gpuhours_gpu_busy_seconds_total",
                   "GPU busy time (utilization integrated over time) since the daemon started.",
                   st->gpu_busy_ms_total);
        gpu_family(&t, st, n, inv, ninv, "gpuhours_gpu_energy_joules_total",
                   "GPU energy used since the daemon started.", st->gpu_energy_mj_total);

        family(&t, "gpuhours_build_info", "gauge", "Build information; the value is always 1.");
        text_add(&t, "gpuhours_build_info{version=\"");
        text_add_label_value(&t, GH_VERSION, 64);
        text_add(&t, "\"} 1\n");

        family(&t, "process_start_time_seconds", "gauge",
               "Start time of the process since the epoch, in seconds.");
        text_add(&t, "process_start_time_seconds ");
        add_fixed(&t, start_wall_ns, 9);
        text_add(&t, "\n");

        if (t.err) {
                free(t.buf);
                return t.err;
        }
        *out = t.buf;
        *len = t.len;
        return 0;
}
