/* SPDX-License-Identifier: MIT */
#include "record.h"

#include <string.h>

#include "status.h"

#define NS_PER_S 1000000000ull
#define PERIOD_MAX_S 86400u
#define INTERVAL_MIN_US 50000u
#define INTERVAL_MAX_US 60000000u
#define SUMMARY_FLAGS_ALL 0x01u

/* --- validation (shared by encode; decode checks the same rules as it reads) --- */

static bool char_ok(unsigned char c) {
        return c >= 0x20 && c <= 0x7e;
}

/* Length of a NUL-terminated field of size cap + 1, or -1 if unterminated or bad. */
static int str_check(const char *s, size_t cap, size_t min, size_t *len) {
        size_t n = 0;

        while (n <= cap && s[n] != '\0') {
                if (!char_ok((unsigned char)s[n]))
                        return GH_E_MALFORMED;
                n++;
        }
        if (n > cap)
                return GH_E_TOO_LARGE;
        if (n < min)
                return GH_E_MALFORMED;
        *len = n;
        return 0;
}

static bool backend_ok(const char *s, size_t n) {
        return (n == 3 && memcmp(s, "sim", 3) == 0) || (n == 4 && memcmp(s, "nvml", 4) == 0);
}

/* memcmp order, a proper prefix sorts first. */
static int uuid_cmp(const char *a, size_t alen, const char *b, size_t blen) {
        int c = memcmp(a, b, alen < blen ? alen : blen);

        if (c != 0)
                return c;
        return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static int check_gpu_info(const struct gpu_info *g, size_t *uuid_len) {
        size_t n;
        int rc;

        if ((rc = str_check(g->uuid, REC_UUID_MAX, 1, uuid_len)) != 0 ||
            (rc = str_check(g->serial, REC_SERIAL_MAX, 0, &n)) != 0 ||
            (rc = str_check(g->name, REC_NAME_MAX, 0, &n)) != 0 ||
            (rc = str_check(g->pci_bus_id, REC_PCI_MAX, 0, &n)) != 0)
                return rc;
        if (g->mig_mode > MIG_UNKNOWN)
                return GH_E_MALFORMED;
        return 0;
}

static int check_gpu_infos(const struct gpu_info *gpus, uint32_t count) {
        size_t prev_len = 0;

        if (count > RECORD_MAX_GPUS)
                return GH_E_TOO_LARGE;
        for (uint32_t i = 0; i < count; i++) {
                size_t len;
                int rc = check_gpu_info(&gpus[i], &len);

                if (rc != 0)
                        return rc;
                if (i > 0 && uuid_cmp(gpus[i - 1].uuid, prev_len, gpus[i].uuid, len) >= 0)
                        return GH_E_MALFORMED;
                prev_len = len;
        }
        return 0;
}

static int check_gpu_summaries(const struct gpu_summary *gpus, uint32_t count) {
        size_t prev_len = 0;

        if (count > RECORD_MAX_GPUS)
                return GH_E_TOO_LARGE;
        for (uint32_t i = 0; i < count; i++) {
                size_t len;
                int rc = str_check(gpus[i].uuid, REC_UUID_MAX, 1, &len);

                if (rc != 0)
                        return rc;
                if (i > 0 && uuid_cmp(gpus[i - 1].uuid, prev_len, gpus[i].uuid, len) >= 0)
                        return GH_E_MALFORMED;
                prev_len = len;
        }
        return 0;
}

static bool period_ok(uint32_t period_s) {
        return period_s >= 1 && period_s <= PERIOD_MAX_S;
}

static int check_start(const struct rec_start *s) {
        size_t n;
        int rc;

        if ((rc = str_check(s->daemon_version, REC_VERSION_MAX, 1, &n)) != 0 ||
            (rc = str_check(s->backend, REC_BACKEND_MAX, 1, &n)) != 0)
                return rc;
        if (!backend_ok(s->backend, n))
                return GH_E_MALFORMED;
        if (!period_ok(s->period_s) || s->sample_interval_us < INTERVAL_MIN_US ||
            s->sample_interval_us > INTERVAL_MAX_US)
                return GH_E_MALFORMED;
        if ((rc = str_check(s->driver_version, REC_VERSION_MAX, 0, &n)) != 0 ||
            (rc = str_check(s->nvml_version, REC_VERSION_MAX, 0, &n)) != 0)
                return rc;
        return check_gpu_infos(s->gpus, s->gpu_count);
}

static int check_summary(const struct rec_summary *s) {
        if (!period_ok(s->period_s) || s->period_start_ns % ((uint64_t)s->period_s * NS_PER_S) != 0)
                return GH_E_MALFORMED;
        if ((s->flags & ~SUMMARY_FLAGS_ALL) != 0)
                return GH_E_MALFORMED;
        if (s->obs_start_wall_ns > s->obs_end_wall_ns || s->obs_start_boot_ns > s->obs_end_boot_ns)
                return GH_E_MALFORMED;
        return check_gpu_summaries(s->gpus, s->gpu_count);
}

static int check_inventory(const struct rec_inventory *v) {
        size_t n;
        int rc;

        if (v->reason == 0 || (v->reason & ~INV_REASON_ALL) != 0)
                return GH_E_MALFORMED;
        if ((rc = str_check(v->driver_version, REC_VERSION_MAX, 0, &n)) != 0 ||
            (rc = str_check(v->nvml_version, REC_VERSION_MAX, 0, &n)) != 0)
                return rc;
        return check_gpu_infos(v->gpus, v->gpu_count);
}

static int record_check(const struct record *r) {
        size_t n;

        if (r->version != RECORD_VERSION)
                return GH_E_VERSION;
        switch (r->kind) {
        case REC_START:
                return check_start(&r->u.start);
        case REC_SUMMARY:
                return check_summary(&r->u.summary);
        case REC_STOP:
                return str_check(r->u.stop.reason, REC_REASON_MAX, 0, &n);
        case REC_CLOCK_STEP:
                return r->u.clock_step.prev_boot_ns <= r->boot_ns ? 0 : GH_E_MALFORMED;
        case REC_INVENTORY:
                return check_inventory(&r->u.inventory);
        default:
                return GH_E_VERSION;
        }
}

/* --- encoding (r already validated) --- */

static void put_str(struct writer *w, const char *s) {
        writer_vec32(w, s, strlen(s));
}

static void put_gpu_infos(struct writer *w, const struct gpu_info *gpus, uint32_t count) {
        writer_u32(w, count);
        for (uint32_t i = 0; i < count; i++) {
                const struct gpu_info *g = &gpus[i];

                put_str(w, g->uuid);
                put_str(w, g->serial);
                put_str(w, g->name);
                put_str(w, g->pci_bus_id);
                writer_u8(w, g->mig_mode);
                writer_u8(w, g->flags);
                writer_u64(w, g->energy_mj);
        }
}

static void put_summary(struct writer *w, const struct rec_summary *s) {
        writer_u64(w, s->period_start_ns);
        writer_u32(w, s->period_s);
        writer_u8(w, s->flags);
        writer_u64(w, s->obs_start_wall_ns);
        writer_u64(w, s->obs_end_wall_ns);
        writer_u64(w, s->obs_start_boot_ns);
        writer_u64(w, s->obs_end_boot_ns);
        writer_u32(w, s->samples_taken);
        writer_u32(w, s->samples_expected);
        writer_u32(w, s->gpu_count);
        for (uint32_t i = 0; i < s->gpu_count; i++) {
                const struct gpu_summary *g = &s->gpus[i];

                put_str(w, g->uuid);
                writer_u8(w, g->flags);
                writer_u64(w, g->observed_ms);
                writer_u64(w, g->busy_ms);
                writer_u64(w, g->occupied_ms);
                writer_u64(w, g->energy_start_mj);
                writer_u64(w, g->energy_end_mj);
                writer_u64(w, g->energy_used_mj);
                writer_u32(w, g->power_avg_mw);
                writer_u32(w, g->power_max_mw);
                writer_u64(w, g->mem_used_max_bytes);
                writer_u32(w, g->procs_max);
                writer_u32(w, g->xid_count);
        }
}

int record_encode(const struct record *r, struct writer *w) {
        int rc = record_check(r);

        if (rc != 0)
                return rc;
        writer_u8(w, r->version);
        writer_u8(w, r->kind);
        writer_u64(w, r->wall_ns);
        writer_u64(w, r->boot_ns);
        writer_bytes(w, r->boot_id, sizeof(r->boot_id));
        switch (r->kind) {
        case REC_START: {
                const struct rec_start *s = &r->u.start;

                put_str(w, s->daemon_version);
                put_str(w, s->backend);
                writer_u32(w, s->period_s);
                writer_u32(w, s->sample_interval_us);
                put_str(w, s->driver_version);
                put_str(w, s->nvml_version);
                put_gpu_infos(w, s->gpus, s->gpu_count);
                break;
        }
        case REC_SUMMARY:
                put_summary(w, &r->u.summary);
                break;
        case REC_STOP:
                put_str(w, r->u.stop.reason);
                break;
        case REC_CLOCK_STEP:
                writer_u64(w, r->u.clock_step.prev_wall_ns);
                writer_u64(w, r->u.clock_step.prev_boot_ns);
                break;
        case REC_INVENTORY: {
                const struct rec_inventory *v = &r->u.inventory;

                writer_u8(w, v->reason);
                put_str(w, v->driver_version);
                put_str(w, v->nvml_version);
                put_gpu_infos(w, v->gpus, v->gpu_count);
                break;
        }
        default:
                break; /* unreachable: record_check rejected it */
        }
        return writer_error(w);
}

/* --- decoding --- */

/*
 * u32 length + printable ASCII, into a field of size cap + 1 (NUL-padded).
 * Length > cap is GH_E_TOO_LARGE; short input, a bad character or fewer
 * than min bytes is GH_E_MALFORMED. *len receives the length.
 */
static int get_str(struct reader *r, char *dst, size_t cap, size_t min, size_t *len) {
        const uint8_t *p;
        uint32_t n;

        if (!reader_u32(r, &n))
                return GH_E_MALFORMED;
        if (n > cap)
                return GH_E_TOO_LARGE;
        if (n < min || !reader_bytes(r, n, &p))
                return GH_E_MALFORMED;
        for (uint32_t i = 0; i < n; i++)
                if (!char_ok(p[i]))
                        return GH_E_MALFORMED;
        memcpy(dst, p, n);
        memset(dst + n, 0, cap + 1 - n);
        if (len)
                *len = n;
        return 0;
}

static int get_count(struct reader *r, uint32_t *count) {
        if (!reader_u32(r, count))
                return GH_E_MALFORMED;
        if (*count > RECORD_MAX_GPUS)
                return GH_E_TOO_LARGE;
        return 0;
}

static int get_gpu_infos(struct reader *r, struct gpu_info *gpus, uint32_t *count_out) {
        uint32_t count;
        size_t prev_len = 0;
        int rc;

        if ((rc = get_count(r, &count)) != 0)
                return rc;
        *count_out = count;
        for (uint32_t i = 0; i < count; i++) {
                struct gpu_info *g = &gpus[i];
                size_t len;

                if ((rc = get_str(r, g->uuid, REC_UUID_MAX, 1, &len)) != 0 ||
                    (rc = get_str(r, g->serial, REC_SERIAL_MAX, 0, NULL)) != 0 ||
                    (rc = get_str(r, g->name, REC_NAME_MAX, 0, NULL)) != 0 ||
                    (rc = get_str(r, g->pci_bus_id, REC_PCI_MAX, 0, NULL)) != 0)
                        return rc;
                if (!reader_u8(r, &g->mig_mode) || !reader_u8(r, &g->flags) ||
                    !reader_u64(r, &g->energy_mj))
                        return GH_E_MALFORMED;
                if (g->mig_mode > MIG_UNKNOWN)
                        return GH_E_MALFORMED;
                if (i > 0 && uuid_cmp(gpus[i - 1].uuid, prev_len, g->uuid, len) >= 0)
                        return GH_E_MALFORMED;
                prev_len = len;
        }
        return 0;
}

static int get_start(struct reader *r, struct rec_start *s) {
        size_t n;
        int rc;

        if ((rc = get_str(r, s->daemon_version, REC_VERSION_MAX, 1, NULL)) != 0 ||
            (rc = get_str(r, s->backend, REC_BACKEND_MAX, 1, &n)) != 0)
                return rc;
        if (!backend_ok(s->backend, n))
                return GH_E_MALFORMED;
        if (!reader_u32(r, &s->period_s) || !reader_u32(r, &s->sample_interval_us))
                return GH_E_MALFORMED;
        if (!period_ok(s->period_s) || s->sample_interval_us < INTERVAL_MIN_US ||
            s->sample_interval_us > INTERVAL_MAX_US)
                return GH_E_MALFORMED;
        if ((rc = get_str(r, s->driver_version, REC_VERSION_MAX, 0, NULL)) != 0 ||
            (rc = get_str(r, s->nvml_version, REC_VERSION_MAX, 0, NULL)) != 0)
                return rc;
        return get_gpu_infos(r, s->gpus, &s->gpu_count);
}

static int get_summary(struct reader *r, struct rec_summary *s) {
        size_t prev_len = 0;
        int rc;

        if (!reader_u64(r, &s->period_start_ns) || !reader_u32(r, &s->period_s) ||
            !reader_u8(r, &s->flags) || !reader_u64(r, &s->obs_start_wall_ns) ||
            !reader_u64(r, &s->obs_end_wall_ns) || !reader_u64(r, &s->obs_start_boot_ns) ||
            !reader_u64(r, &s->obs_end_boot_ns) || !reader_u32(r, &s->samples_taken) ||
            !reader_u32(r, &s->samples_expected))
                return GH_E_MALFORMED;
        if (!period_ok(s->period_s) || s->period_start_ns % ((uint64_t)s->period_s * NS_PER_S) != 0)
                return GH_E_MALFORMED;
        if ((s->flags & ~SUMMARY_FLAGS_ALL) != 0)
                return GH_E_MALFORMED;
        if (s->obs_start_wall_ns > s->obs_end_wall_ns || s->obs_start_boot_ns > s->obs_end_boot_ns)
                return GH_E_MALFORMED;
        if ((rc = get_count(r, &s->gpu_count)) != 0)
                return rc;
        for (uint32_t i = 0; i < s->gpu_count; i++) {
                struct gpu_summary *g = &s->gpus[i];
                size_t len;

                if ((rc = get_str(r, g->uuid, REC_UUID_MAX, 1, &len)) != 0)
                        return rc;
                if (!reader_u8(r, &g->flags) || !reader_u64(r, &g->observed_ms) ||
                    !reader_u64(r, &g->busy_ms) || !reader_u64(r, &g->occupied_ms) ||
                    !reader_u64(r, &g->energy_start_mj) || !reader_u64(r, &g->energy_end_mj) ||
                    !reader_u64(r, &g->energy_used_mj) || !reader_u32(r, &g->power_avg_mw) ||
                    !reader_u32(r, &g->power_max_mw) || !reader_u64(r, &g->mem_used_max_bytes) ||
                    !reader_u32(r, &g->procs_max) || !reader_u32(r, &g->xid_count))
                        return GH_E_MALFORMED;
                if (i > 0 && uuid_cmp(s->gpus[i - 1].uuid, prev_len, g->uuid, len) >= 0)
                        return GH_E_MALFORMED;
                prev_len = len;
        }
        return 0;
}

static int get_inventory(struct reader *r, struct rec_inventory *v) {
        int rc;

        if (!reader_u8(r, &v->reason))
                return GH_E_MALFORMED;
        if (v->reason == 0 || (v->reason & ~INV_REASON_ALL) != 0)
                return GH_E_MALFORMED;
        if ((rc = get_str(r, v->driver_version, REC_VERSION_MAX, 0, NULL)) != 0 ||
            (rc = get_str(r, v->nvml_version, REC_VERSION_MAX, 0, NULL)) != 0)
                return rc;
        return get_gpu_infos(r, v->gpus, &v->gpu_count);
}

int record_decode(const uint8_t *p, size_t len, struct record *out) {
        struct reader r;
        int rc;

        if (len > RECORD_MAX_SIZE)
                return GH_E_TOO_LARGE;
        reader_init(&r, p, len);
        if (!reader_u8(&r, &out->version) || !reader_u8(&r, &out->kind))
                return GH_E_MALFORMED;
        if (out->version != RECORD_VERSION || !record_kind_name(out->kind))
                return GH_E_VERSION;
        if (!reader_u64(&r, &out->wall_ns) || !reader_u64(&r, &out->boot_ns) ||
            !reader_copy(&r, out->boot_id, sizeof(out->boot_id)))
                return GH_E_MALFORMED;
        switch (out->kind) {
        case REC_START:
                rc = get_start(&r, &out->u.start);
                break;
        case REC_SUMMARY:
                rc = get_summary(&r, &out->u.summary);
                break;
        case REC_STOP:
                rc = get_str(&r, out->u.stop.reason, REC_REASON_MAX, 0, NULL);
                break;
        case REC_CLOCK_STEP:
                rc = reader_u64(&r, &out->u.clock_step.prev_wall_ns) &&
                                     reader_u64(&r, &out->u.clock_step.prev_boot_ns)
                             ? 0
                             : GH_E_MALFORMED;
                if (rc == 0 && out->u.clock_step.prev_boot_ns > out->boot_ns)
                        rc = GH_E_MALFORMED;
                break;
        case REC_INVENTORY:
                rc = get_inventory(&r, &out->u.inventory);
                break;
        default:
                rc = GH_E_VERSION;
                break;
        }
        if (rc != 0)
                return rc;
        if (reader_left(&r) != 0)
                return GH_E_MALFORMED;
        return 0;
}

const char *record_kind_name(uint8_t kind) {
        switch (kind) {
        case REC_START:
                return "start";
        case REC_SUMMARY:
                return "summary";
        case REC_STOP:
                return "stop";
        case REC_CLOCK_STEP:
                return "clock_step";
        case REC_INVENTORY:
                return "inventory";
        default:
                return NULL;
        }
}

/* --- framing --- */

int record_frame_next(struct reader *r, const uint8_t **rec, size_t *len) {
        struct reader t = *r;
        const uint8_t *p;
        uint32_t n;

        if (!reader_u32(&t, &n) || n == 0)
                return GH_E_MALFORMED;
        if (n > RECORD_MAX_SIZE)
                return GH_E_TOO_LARGE;
        if (!reader_bytes(&t, n, &p))
                return GH_E_MALFORMED;
        *rec = p;
        *len = n;
        *r = t;
        return 0;
}

void record_frame_write(struct writer *w, const uint8_t *rec, size_t len) {
        if (writer_error(w) != 0)
                return;
        if (len == 0) {
                writer_fail(w, GH_E_MALFORMED);
                return;
        }
        if (len > RECORD_MAX_SIZE) {
                writer_fail(w, GH_E_TOO_LARGE);
                return;
        }
        writer_vec32(w, rec, len);
}

/* --- boot id --- */

static int hex_val(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}

bool boot_id_parse(const char *s, size_t len, uint8_t out[16]) {
        uint8_t tmp[16];
        size_t j = 0;

        if (len == 37 && s[36] == '\n')
                len = 36;
        if (len != 36)
                return false;
        for (size_t i = 0; i < 36;) {
                int hi, lo;

                if (i == 8 || i == 13 || i == 18 || i == 23) {
                        if (s[i] != '-')
                                return false;
                        i++;
                        continue;
                }
                hi = hex_val(s[i]);
                lo = hex_val(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return false;
                tmp[j++] = (uint8_t)(hi << 4 | lo);
                i += 2;
        }
        memcpy(out, tmp, sizeof(tmp));
        return true;
}
