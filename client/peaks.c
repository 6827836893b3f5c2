/* SPDX-License-Identifier: MIT */
#include "peaks.h"

#include <stdio.h>
#include <string.h>

/* no util.h: the analyzer tests build this file without common/ */
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/*
 * The one per-model table: the dense tensor peak of `gpuhours check`
 * (VERDICTS.md section 6) and the declared powers (idle, minimum power
 * limit, full, maximum) of the hidden-compute bound (ANALYSIS.md section 6).
 * A name matches a row when it contains the row's substring (case-sensitive:
 * NVML's spellings, e.g. "NVIDIA A100-PCIE-40GB" and "NVIDIA A100 80GB
 * PCIe"); each figure is taken from the first matching row that declares it
 * (peak_flops 0: no peak in this row; every row declares its powers).
 * Variants come before their family, so the family row is only the fallback.
 *
 * Peaks, from NVIDIA's data sheets (dense, i.e. without 2:4 structured
 * sparsity, which the sheets print as twice these):
 *   A100 (SXM4 and PCIe): INT4 Tensor Core 1248 TOPS (the A100 40/80 GB data sheet);
 *   H100 SXM5: FP8/INT8 1979 TFLOPS/TOPS; H100 PCIe: FP8 1513; H100 NVL: FP8 1671
 *     (H100 data sheet);
 *   H200 SXM: FP8 1979; H200 NVL: FP8 1671 (H200 data sheet);
 *   B200 (HGX B200): FP4 9 PFLOPS; GB200's B200: FP4 10 PFLOPS (Blackwell data sheets).
 *
 * Full power: the board's maximum (thermal design) power from the same data
 * sheets (documentation, and the check min limit <= full <= max); the energy
 * bound does not divide by it: a board whose limit was lowered in a gap
 * (nvidia-smi -pl, unrecorded) does the same busy seconds on far less energy.
 * Where the sheet gives a configurable range, the top of the range of that
 * variant; GH200's range (450-1000 W) is for the whole module with its CPU,
 * so its row takes the bottom.
 * Maximum power (the last column) is the other bound: the most the board
 * can draw, the top of every range (GH200 1000 W; GB200's B200 1200 W). It
 * is only the plausibility limit (energy beyond it at full load the whole
 * time is IMPLAUSIBLE); one figure cannot serve both, since a plausibility
 * limit set too low makes an honest board at its top power IMPLAUSIBLE.
 *   H100 SXM5 up to 700 W; H100 PCIe 300-350 W; H100 NVL 350-400 W (H100 data sheet);
 *   H200 SXM up to 700 W; H200 NVL up to 600 W (H200 data sheet);
 *   H800 SXM5 700 W, H800 PCIe 350 W (H800 product brief);
 *   GH200 450-1000 W configurable, module (GH200 data sheet);
 *   A100 SXM4 400 W; A100 PCIe 40 GB 250 W; A100 80GB PCIe 300 W (A100 data sheet);
 *   L40 300 W; L40S 350 W (L40, L40S data sheets);
 *   HGX B200 1000 W per GPU (GB200's B200: up to 1200 W); HGX B100 700 W per GPU.
 * Minimum power limit (min_limit_w): the lowest limit the board accepts
 * (nvidia-smi -q "Min Power Limit", NVML
 * nvmlDeviceGetPowerManagementLimitConstraints minLimit, Redfish
 * PowerLimitWatts.AllowableMin); the energy bound divides the energy above
 * idle by (min_limit - idle), i.e. counts busy time as if the GPU drew no
 * more than this while a kernel ran (ANALYSIS.md section 6). A lower figure
 * only widens bounds, so where a source is missing or uncertain the row
 * takes a low one. Found:
 *   H100/H200 SXM 200 W: the "Managing Power Capping" Redfish example of a
 *     700 W GPU in a DGX user guide (a copy of the DGX B200 guide, p. 55:
 *     AllowableMin 200, AllowableMax 700, DefaultSetPoint 700; the DGX
 *     H100/H200 guide has the same chapter); nvidia-smi -q of a 700 W
 *     board, "Min Power Limit 200.00 W, Max 700.00 W" and "-pl 50 ... should
 *     be between 200.00 W and 700.00 W" (stackhpc/ansible-slurm-appliance
 *     PR 975);
 *   B200 (HGX/DGX) 200 W: DGX B200 user guide, AllowableMin 200, AllowableMax 1000;
 *   A100 SXM4 100 W: nvidia-smi -q of A100 SXM4 boards, "Min Power Limit
 *     100.00 W, Max 400.00 W" (NVIDIA/DCGM issue 152; NVIDIA/nvidia-docker 1648);
 *   (for scale, not in the table: a 300 W PCIe data-center board prints
 *     "Min Power Limit 100.00 W", NVIDIA/nvidia-docker issue 1447).
 * Not found (no data sheet prints it, no nvidia-smi output of these boards
 * was found): GB200, B100, GH200, H800 SXM, H200 NVL, H100 NVL, H100 PCIe,
 * H800 PCIe, A100 PCIe (40 and 80 GB), L40, L40S. These rows take idle + 50 W:
 * below every minimum limit found for a data-center board (the lowest,
 * A100 SXM4's 100 W, is its idle + 50; the PCIe boards seen print 100 W
 * and more), so the bound errs wide, and never nearer idle than 50 W, which
 * keeps an idle-floor error of 1 W to at most 2 % of the piece's length.
 * (H800 SXM is H100 SXM5's board but no source says its limit range: idle + 50.)
 * Idle power: NVIDIA publishes none; the figures are floors at or below the
 * idle readings reported for each board (the GPU's own lowest observed
 * window lowers them further, ANALYSIS.md section 6).
 */
static const struct gpu_model table[] = {
        /* substring, label, peak, precision, idle, min limit, full, max */
        {"GB200", "GB200 (B200)", 10e15, "FP4", 100, 150, 1000, 1200},
        {"B200", "B200 (HGX)", 9e15, "FP4", 100, 200, 1000, 1000},
        {"B100", "B100 (HGX)", 0, NULL, 100, 150, 700, 700},
        {"GH200", "GH200", 0, NULL, 60, 110, 450, 1000},
        {"H200 NVL", "H200 NVL", 1671e12, "FP8", 30, 80, 600, 600},
        {"H200", "H200 SXM", 1979e12, "FP8", 60, 200, 700, 700},
        {"H100 NVL", "H100 NVL", 1671e12, "FP8", 30, 80, 400, 400},
        {"H100 PCIe", "H100 PCIe", 1513e12, "FP8", 30, 80, 350, 350},
        {"H100", "H100 SXM", 1979e12, "FP8", 60, 200, 700, 700},
        {"H800 PCIe", "H800 PCIe", 0, NULL, 30, 80, 350, 350},
        {"H800", "H800 SXM", 0, NULL, 60, 110, 700, 700},
        {"A100 80GB PCIe", "A100 80GB PCIe", 0, NULL, 30, 80, 300, 300},
        {"A100-PCIE", "A100 PCIe", 0, NULL, 30, 80, 250, 250},
        {"A100 PCIe", "A100 PCIe", 0, NULL, 30, 80, 250, 250},
        {"A100", "A100", 1248e12, "INT4", 50, 100, 400, 400},
        {"L40S", "L40S", 0, NULL, 30, 80, 350, 350},
        {"L40", "L40", 0, NULL, 30, 80, 300, 300},
};

const struct gpu_model *peaks_table(unsigned *n) {
        *n = (unsigned)ARRAY_SIZE(table);
        return table;
}

/* The first row that name matches and that declares a peak (want_peak) or powers. */
static const struct gpu_model *table_find(const char *name, bool want_peak) {
        for (size_t i = 0; i < ARRAY_SIZE(table); i++)
                if (strstr(name, table[i].substring) &&
                    (want_peak ? table[i].peak_flops > 0 : table[i].min_limit_w > table[i].idle_w))
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
        const struct gpu_model *m = table_find(gpu_name, true);
        if (!m)
                return false;
        *flops = m->peak_flops;
        snprintf(source, source_cap, "table %s %s dense", m->label, m->precision);
        return true;
}

bool power_lookup(const char *gpu_name, double *idle_w, double *min_limit_w, double *full_w,
                  double *max_w) {
        const struct gpu_model *m = table_find(gpu_name, false);

        if (!m)
                return false;
        *idle_w = m->idle_w;
        *min_limit_w = m->min_limit_w;
        if (full_w)
                *full_w = m->full_w;
        if (max_w)
                *max_w = m->max_w;
        return true;
}
