/* SPDX-License-Identifier: MIT */
#include "vectors.h"

#include "bundle.h"
#include "merkle.h"
#include "note.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t golden_boot_id[16] = {0x6f, 0x1e, 0x8c, 0x2a, 0x3b, 0x4d, 0x4c, 0x5e,
                                           0x9f, 0x60, 0x71, 0x82, 0x93, 0xa4, 0xb5, 0xc6};

const uint8_t golden_seed[32] = {
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
        0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

#define UUID_A "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a01"
#define UUID_B "GPU-5a1d0c3e-7b2f-4e91-a8c4-0d6f2b9e1a02"

static void header(struct record *r, uint8_t kind, uint64_t wall_ns, uint64_t boot_ns) {
        memset(r, 0, sizeof(*r));
        r->version = RECORD_VERSION;
        r->kind = kind;
        r->wall_ns = wall_ns;
        r->boot_ns = boot_ns;
        memcpy(r->boot_id, golden_boot_id, sizeof(r->boot_id));
}

static void gpu_a(struct gpu_info *g) {
        strcpy(g->uuid, UUID_A);
        strcpy(g->serial, "1650123456701");
        strcpy(g->name, "NVIDIA H100 80GB HBM3");
        strcpy(g->pci_bus_id, "00000000:18:00.0");
        g->mig_mode = MIG_OFF;
        g->flags = 0;
        g->energy_mj = 123456789;
}

static void gpu_b(struct gpu_info *g) {
        strcpy(g->uuid, UUID_B);
        strcpy(g->serial, "1650123456702");
        strcpy(g->name, "NVIDIA H100 80GB HBM3");
        strcpy(g->pci_bus_id, "00000000:2A:00.0");
        g->mig_mode = MIG_ON;
        g->flags = GPU_UTIL_UNSUPPORTED;
        g->energy_mj = 987654321;
}

void golden_fill_start(struct record *r) {
        struct rec_start *s = &r->u.start;

        header(r, REC_START, 1795694399500000000ull, 12344500000000ull);
        strcpy(s->daemon_version, "0.1.0");
        strcpy(s->backend, "nvml");
        s->period_s = 300;
        s->sample_interval_us = 1000000;
        strcpy(s->driver_version, "550.54.15");
        strcpy(s->nvml_version, "12.550.54.15");
        s->gpu_count = 2;
        gpu_a(&s->gpus[0]);
        gpu_b(&s->gpus[1]);
}

void golden_fill_summary(struct record *r) {
        struct rec_summary *s = &r->u.summary;
        struct gpu_summary *g;

        header(r, REC_SUMMARY, 1795694700000200000ull, 12645000200000ull);
        s->period_start_ns = 1795694400000000000ull;
        s->period_s = 300;
        s->flags = 0;
        s->obs_start_wall_ns = 1795694400000000000ull;
        s->obs_end_wall_ns = 1795694700000000000ull;
        s->obs_start_boot_ns = 12345000000000ull;
        s->obs_end_boot_ns = 12645000000000ull;
        s->samples_taken = 300;
        s->samples_expected = 300;
        s->gpu_count = 2;

        g = &s->gpus[0];
        strcpy(g->uuid, UUID_A);
        g->flags = 0;
        g->observed_ms = 300000;
        g->busy_ms = 250000;
        g->occupied_ms = 299000;
        g->energy_start_mj = 123456789;
        g->energy_end_mj = 303456789;
        g->energy_used_mj = 180000000;
        g->power_avg_mw = 600000;
        g->power_max_mw = 700000;
        g->mem_used_max_bytes = 85899345920ull;
        g->procs_max = 2;
        g->xid_count = 0;

        g = &s->gpus[1];
        strcpy(g->uuid, UUID_B);
        g->flags = GPU_UTIL_UNSUPPORTED | GPU_COUNTER_RESET;
        g->observed_ms = 300000;
        g->busy_ms = 0;
        g->occupied_ms = 120000;
        g->energy_start_mj = 987654321;
        g->energy_end_mj = 20000000;
        g->energy_used_mj = 38000000;
        g->power_avg_mw = 126666;
        g->power_max_mw = 310000;
        g->mem_used_max_bytes = 4294967296ull;
        g->procs_max = 1;
        g->xid_count = 1;
}

void golden_fill_stop(struct record *r) {
        header(r, REC_STOP, 1795694712000000000ull, 12657000000000ull);
        strcpy(r->u.stop.reason, "received SIGTERM");
}

void golden_fill_clock_step(struct record *r) {
        header(r, REC_CLOCK_STEP, 1795699355000000000ull, 12700000000000ull);
        r->u.clock_step.prev_wall_ns = 1795694755000000000ull;
        r->u.clock_step.prev_boot_ns = 12699000000000ull;
}

void golden_fill_inventory(struct record *r) {
        struct rec_inventory *v = &r->u.inventory;

        header(r, REC_INVENTORY, 1795699415000000000ull, 12760000000000ull);
        v->reason = INV_GPU_VANISHED;
        strcpy(v->driver_version, "550.54.15");
        strcpy(v->nvml_version, "12.550.54.15");
        v->gpu_count = 1;
        gpu_a(&v->gpus[0]);
        v->gpus[0].energy_mj = 350000000;
}

/* Version 2 (counter epochs): the start and inventory above with each GPU's epoch. */
void golden_fill_start_v2(struct record *r) {
        golden_fill_start(r);
        r->version = RECORD_VERSION_EPOCH;
        r->u.start.gpus[0].counter_epoch = 41234;
        r->u.start.gpus[1].counter_epoch = 41251;
}

void golden_fill_inventory_v2(struct record *r) {
        golden_fill_inventory(r);
        r->version = RECORD_VERSION_EPOCH;
        r->u.inventory.reason = INV_REINIT;
        r->u.inventory.gpus[0].counter_epoch = 52007;
        r->u.inventory.gpus[0].energy_mj = 1500;
}

const struct golden_record golden_records[] = {
        {"record-start.bin", golden_fill_start},
        {"record-summary.bin", golden_fill_summary},
        {"record-stop.bin", golden_fill_stop},
        {"record-clock-step.bin", golden_fill_clock_step},
        {"record-inventory.bin", golden_fill_inventory},
        {"record-start-v2.bin", golden_fill_start_v2},
        {"record-inventory-v2.bin", golden_fill_inventory_v2},
};
const size_t golden_record_count = sizeof(golden_records) / sizeof(golden_records[0]);
const size_t golden_bundle_records[3] = {0, 1, 2};

char *vector_path(const char *name) {
        const char *root = getenv("GH_SOURCE_ROOT");
        size_t n;
        char *p;

        if (!root)
                root = ".";
        n = strlen(root) + strlen("/tests/vectors/") + strlen(name) + 1;
        p = malloc(n);
        if (p)
                snprintf(p, n, "%s/tests/vectors/%s", root, name);
        return p;
}

uint8_t *read_whole_file(const char *path, size_t *len) {
        FILE *f = fopen(path, "rb");
        uint8_t *buf = NULL;
        size_t cap = 0, n = 0;

        if (!f)
                return NULL;
        for (;;) {
                size_t got;

                if (n == cap) {
                        uint8_t *nb;

                        cap = cap ? cap * 2 : 4096;
                        nb = realloc(buf, cap);
                        if (!nb) {
                                free(buf);
                                fclose(f);
                                errno = ENOMEM;
                                return NULL;
                        }
                        buf = nb;
                }
                got = fread(buf + n, 1, cap - n, f);
                n += got;
                if (got == 0)
                        break;
        }
        if (ferror(f)) {
                free(buf);
                fclose(f);
                errno = EIO;
                return NULL;
        }
        fclose(f);
        *len = n;
        return buf;
}

int write_whole_file(const char *path, const uint8_t *p, size_t len) {
        FILE *f = fopen(path, "wb");

        if (!f)
                return -errno;
        if (fwrite(p, 1, len, f) != len) {
                fclose(f);
                return -EIO;
        }
        return fclose(f) == 0 ? 0 : -EIO;
}

static int gpu_info_equal(const struct gpu_info *a, const struct gpu_info *b) {
        return strcmp(a->uuid, b->uuid) == 0 && strcmp(a->serial, b->serial) == 0 &&
               strcmp(a->name, b->name) == 0 && strcmp(a->pci_bus_id, b->pci_bus_id) == 0 &&
               a->mig_mode == b->mig_mode && a->flags == b->flags && a->energy_mj == b->energy_mj &&
               a->counter_epoch == b->counter_epoch;
}

static int gpu_infos_equal(const struct gpu_info *a, uint32_t na, const struct gpu_info *b,
                           uint32_t nb) {
        if (na != nb || na > RECORD_MAX_GPUS)
                return 0;
        for (uint32_t i = 0; i < na; i++)
                if (!gpu_info_equal(&a[i], &b[i]))
                        return 0;
        return 1;
}

static int gpu_summary_equal(const struct gpu_summary *a, const struct gpu_summary *b) {
        return strcmp(a->uuid, b->uuid) == 0 && a->flags == b->flags &&
               a->observed_ms == b->observed_ms && a->busy_ms == b->busy_ms &&
               a->occupied_ms == b->occupied_ms && a->energy_start_mj == b->energy_start_mj &&
               a->energy_end_mj == b->energy_end_mj && a->energy_used_mj == b->energy_used_mj &&
               a->power_avg_mw == b->power_avg_mw && a->power_max_mw == b->power_max_mw &&
               a->mem_used_max_bytes == b->mem_used_max_bytes && a->procs_max == b->procs_max &&
               a->xid_count == b->xid_count;
}

int record_equal(const struct record *a, const struct record *b) {
        if (a->version != b->version || a->kind != b->kind || a->wall_ns != b->wall_ns ||
            a->boot_ns != b->boot_ns || memcmp(a->boot_id, b->boot_id, sizeof(a->boot_id)) != 0)
                return 0;
        switch (a->kind) {
        case REC_START: {
                const struct rec_start *x = &a->u.start, *y = &b->u.start;

                return strcmp(x->daemon_version, y->daemon_version) == 0 &&
                       strcmp(x->backend, y->backend) == 0 && x->period_s == y->period_s &&
                       x->sample_interval_us == y->sample_interval_us &&
                       strcmp(x->driver_version, y->driver_version) == 0 &&
                       strcmp(x->nvml_version, y->nvml_version) == 0 &&
                       gpu_infos_equal(x->gpus, x->gpu_count, y->gpus, y->gpu_count);
        }
        case REC_SUMMARY: {
                const struct rec_summary *x = &a->u.summary, *y = &b->u.summary;

                if (x->period_start_ns != y->period_start_ns || x->period_s != y->period_s ||
                    x->flags != y->flags || x->obs_start_wall_ns != y->obs_start_wall_ns ||
                    x->obs_end_wall_ns != y->obs_end_wall_ns ||
                    x->obs_start_boot_ns != y->obs_start_boot_ns ||
                    x->obs_end_boot_ns != y->obs_end_boot_ns ||
                    x->samples_taken != y->samples_taken ||
                    x->samples_expected != y->samples_expected || x->gpu_count != y->gpu_count ||
                    x->gpu_count > RECORD_MAX_GPUS)
                        return 0;
                for (uint32_t i = 0; i < x->gpu_count; i++)
                        if (!gpu_summary_equal(&x->gpus[i], &y->gpus[i]))
                                return 0;
                return 1;
        }
        case REC_STOP:
                return strcmp(a->u.stop.reason, b->u.stop.reason) == 0;
        case REC_CLOCK_STEP:
                return a->u.clock_step.prev_wall_ns == b->u.clock_step.prev_wall_ns &&
                       a->u.clock_step.prev_boot_ns == b->u.clock_step.prev_boot_ns;
        case REC_INVENTORY: {
                const struct rec_inventory *x = &a->u.inventory, *y = &b->u.inventory;

                return x->reason == y->reason &&
                       strcmp(x->driver_version, y->driver_version) == 0 &&
                       strcmp(x->nvml_version, y->nvml_version) == 0 &&
                       gpu_infos_equal(x->gpus, x->gpu_count, y->gpus, y->gpu_count);
        }
        default:
                return 0;
        }
}

int encode_alloc(const struct record *r, uint8_t **out, size_t *len) {
        struct writer w;
        int rc;

        writer_init(&w, RECORD_MAX_SIZE);
        rc = record_encode(r, &w);
        if (rc != 0) {
                writer_free(&w);
                return rc;
        }
        return writer_finish(&w, out, len);
}

int bundle_build(const struct signer *s, const char *origin, uint8_t *const *recs,
                 const size_t *lens, size_t n, uint8_t **out, size_t *outlen) {
        struct checkpoint cp;
        char text[CHECKPOINT_TEXT_MAX + 1];
        merkle_hash *leaves;
        struct writer w;
        char *note = NULL;
        size_t note_len = 0;
        int rc;
        size_t tl;

        memset(&cp, 0, sizeof(cp));
        if (strlen(origin) > NOTE_NAME_MAX)
                return GH_E_TOO_LARGE;
        strcpy(cp.origin, origin);
        cp.size = n;
        leaves = calloc(n ? n : 1, sizeof(*leaves));
        if (!leaves)
                return -ENOMEM;
        for (size_t i = 0; i < n; i++)
                merkle_leaf_hash(recs[i], lens[i], leaves[i]);
        merkle_root_of((const merkle_hash *)leaves, n, cp.root);
        free(leaves);
        rc = checkpoint_format(&cp, text, sizeof(text), &tl);
        if (rc != 0)
                return rc;
        rc = note_sign(text, tl, s, &note, &note_len);
        if (rc != 0)
                return rc;
        writer_init(&w, 64u << 20);
        bundle_write_header(&w, note, note_len, n);
        for (size_t i = 0; i < n; i++)
                record_frame_write(&w, recs[i], lens[i]);
        free(note);
        return writer_finish(&w, out, outlen);
}

int golden_bundle_build(uint8_t **out, size_t *outlen) {
        struct signer s;
        uint8_t *recs[3] = {NULL, NULL, NULL};
        size_t lens[3] = {0, 0, 0};
        struct record *r = malloc(sizeof(*r));
        int rc;

        if (!r)
                return -ENOMEM;
        memset(&s, 0, sizeof(s));
        rc = signer_init_ed25519(&s, GOLDEN_ORIGIN, golden_seed);
        for (size_t i = 0; rc == 0 && i < 3; i++) {
                golden_records[golden_bundle_records[i]].fill(r);
                rc = encode_alloc(r, &recs[i], &lens[i]);
        }
        if (rc == 0)
                rc = bundle_build(&s, GOLDEN_ORIGIN, recs, lens, 3, out, outlen);
        for (size_t i = 0; i < 3; i++)
                free(recs[i]);
        signer_free(&s);
        free(r);
        return rc;
}
