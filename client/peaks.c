/* SPDX-License-Identifier: MIT */
#include "peaks.h"

#include <stdio.h>
#include <string.h>

#include "util.h"

/*
 * Figures from NVIDIA's data sheets (dense, i.e. without 2:4 structured
 * sparsity, which the sheets print as twice these):
 *   A100 (SXM4 and PCIe): INT4 Tensor Core 1248 TOPS (the A100 40/80 GB data sheet);
 *   H100 SXM5: FP8/INT8 1979 TFLOPS/TOPS; H100 PCIe: FP8 1513; H100 NVL: FP8 1671
 *     (H100 data sheet);
 *   H200 SXM: FP8 1979; H200 NVL: FP8 1671 (H200 data sheet);
 *   B200 (HGX B200): FP4 9 PFLOPS; GB200's B200: FP4 10 PFLOPS (Blackwell data sheets).
 */
static const struct gpu_model table[] = {
        {"GB200", "GB200 (B200)", 10e15, "FP4"},
        {"B200", "B200 (HGX)", 9e15, "FP4"},
        {"H200 NVL", "H200 NVL", 1671e12, "FP8"},
        {"H200", "H200 SXM", 1979e12, "FP8"},
        {"H100 NVL", "H100 NVL", 1671e12, "FP8"},
        {"H100 PCIe", "H100 PCIe", 1513e12, "FP8"},
        {"H100", "H100 SXM", 1979e12, "FP8"},
        {"A100", "A100", 1248e12, "INT4"},
};

const struct gpu_model *peaks_table(unsigned *n) {
        *n = (unsigned)ARRAY_SIZE(table);
        return table;
}

static const struct gpu_model *table_find(const char *name) {
        for (size_t i = 0; i < ARRAY_SIZE(table); i++)
                if (strstr(name, table[i].substring))
                        return &table[i];
        return NULL;
}

bool peak_lookup(const struct rules *rs, const char *gpu_name, double *flops, char *source,
                 unsigned source_cap) {
        for (size_t i = 0; rs && i < rs->n; i++) {
                const struct rule *r = &rs->r[i];
                if (r->kind == RULE_PEAK && strstr(gpu_name, r->model)) {
                        *flops = r->n;
                        snprintf(source, source_cap, "rules line %u", r->line);
                        return true;
                }
        }
        const struct gpu_model *m = table_find(gpu_name);
        if (!m)
                return false;
        *flops = m->peak_flops;
        snprintf(source, source_cap, "table %s %s dense", m->label, m->precision);
        return true;
}

/*
 * The declared powers of the coverage model (proto/ANALYSIS.md §6), so that
 * check bounds hidden compute exactly as verify and report do.
 */
static const struct {
        const char *substring;
        double idle_w, full_w;
} powers[] = {
        {"H100", 60, 700}, {"H200", 60, 700},  {"H800", 60, 700}, {"GH200", 60, 700},
        {"B200", 100, 1000}, {"B100", 100, 1000}, {"A100", 50, 400}, {"L40", 35, 350},
};

bool power_lookup(const char *gpu_name, double *idle_w, double *full_w) {
        for (size_t i = 0; i < ARRAY_SIZE(powers); i++)
                if (strstr(gpu_name, powers[i].substring)) {
                        *idle_w = powers[i].idle_w;
                        *full_w = powers[i].full_w;
                        return true;
                }
        return false;
}
