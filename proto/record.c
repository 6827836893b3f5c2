/* SPDX-License-Identifier: MIT */
#include "record.h"

#include <string.h>

#include "status.h"
#include "text.h"

#define NS_PER_S 1000000000ull
#define SUMMARY_FLAGS_ALL 0x01u

/*
 * The schema. Each record body is one table of fields in wire order, per
 * (version, kind). record_encode checks every field against the table and
 * then writes them in table order; record_decode reads them in the same
 * order with the same caps. Rules that span fields (a period boundary, an
 * ordered window) are one `valid` function per kind, run on the struct by
 * both encode (before writing) and decode (after reading), so a record
 * encodes if and only if it decodes back. FORMAT.md lists the same fields.
 *
 * Adding a field or a kind: a new version row (v1 rows never change, so v1
 * ledgers still decode to the same bytes), struct members for what it adds,
 * FORMAT.md, tests/lib/ghrecord.py (the Python reader) and new vectors.
 */

enum field_type {
        F_U8,
        F_U32,
        F_U64,
        F_STR,  /* u32 length + printable ASCII; char[cap + 1] in the struct, NUL-padded */
        F_LIST, /* u32 count (<= RECORD_MAX_GPUS) + entries sorted by their first (UUID) field */
};

struct list_desc;

struct field {
        enum field_type type;
        size_t off;       /* offsetof the member in its struct */
        uint32_t cap;     /* F_STR: longest length */
        uint32_t min;     /* F_STR: shortest length */
        size_t count_off; /* F_LIST: offsetof the uint32_t count */
        const struct list_desc *list;
};

/* The entries of an F_LIST: fixed-size structs whose first field is the F_STR sort key. */
struct list_desc {
        const struct field *fields;
        size_t nfields;
        size_t size;                  /* sizeof one entry */
        bool (*valid)(const void *e); /* rules beyond the field caps, or NULL */
};

/* The compiler checks each member's size against its field type and cap. */
#define MEMBER_IS(T, m, size)                                                                      \
        (0 * sizeof(struct {                                                                       \
                 _Static_assert(sizeof(((T *)0)->m) == (size), #T "." #m ": wrong type or cap");   \
                 char c;                                                                           \
         }))
#define U8(T, m)                                                                                   \
        { F_U8, offsetof(T, m) + MEMBER_IS(T, m, 1), 0, 0, 0, NULL }
#define U32(T, m)                                                                                  \
        { F_U32, offsetof(T, m) + MEMBER_IS(T, m, 4), 0, 0, 0, NULL }
#define U64(T, m)                                                                                  \
        { F_U64, offsetof(T, m) + MEMBER_IS(T, m, 8), 0, 0, 0, NULL }
#define STR(T, m, cap, min)                                                                        \
        { F_STR, offsetof(T, m) + MEMBER_IS(T, m, (cap) + 1), cap, min, 0, NULL }
#define LIST(T, m, count, desc)                                                                    \
        { F_LIST, offsetof(T, m), 0, 0, offsetof(T, count) + MEMBER_IS(T, count, 4), &(desc) }
#define N(a) (sizeof(a) / sizeof((a)[0]))

static bool gpu_info_valid(const void *e) {
        return ((const struct gpu_info *)e)->mig_mode <= MIG_UNKNOWN;
}

static const struct field gpu_info_fields[] = {
        STR(struct gpu_info, uuid, REC_UUID_MAX, 1),
        STR(struct gpu_info, serial, REC_SERIAL_MAX, 0),
        STR(struct gpu_info, name, REC_NAME_MAX, 0),
        STR(struct gpu_info, pci_bus_id, REC_PCI_MAX, 0),
        U8(struct gpu_info, mig_mode),
        U8(struct gpu_info, flags),
        U64(struct gpu_info, energy_mj),
};
static const struct list_desc gpu_infos = {gpu_info_fields, N(gpu_info_fields),
                                           sizeof(struct gpu_info), gpu_info_valid};

/* Version 2: the version 1 entry, then the counter's epoch. */
static const struct field gpu_info_v2_fields[] = {
        STR(struct gpu_info, uuid, REC_UUID_MAX, 1),
        STR(struct gpu_info, serial, REC_SERIAL_MAX, 0),
        STR(struct gpu_info, name, REC_NAME_MAX, 0),
        STR(struct gpu_info, pci_bus_id, REC_PCI_MAX, 0),
        U8(struct gpu_info, mig_mode),
        U8(struct gpu_info, flags),
        U64(struct gpu_info, energy_mj),
        U64(struct gpu_info, counter_epoch),
};
static const struct list_desc gpu_infos_v2 = {gpu_info_v2_fields, N(gpu_info_v2_fields),
                                              sizeof(struct gpu_info), gpu_info_valid};

static const struct field gpu_summary_fields[] = {
        STR(struct gpu_summary, uuid, REC_UUID_MAX, 1),
        U8(struct gpu_summary, flags),
        U64(struct gpu_summary, observed_ms),
        U64(struct gpu_summary, busy_ms),
        U64(struct gpu_summary, occupied_ms),
        U64(struct gpu_summary, energy_start_mj),
        U64(struct gpu_summary, energy_end_mj),
        U64(struct gpu_summary, energy_used_mj),
        U32(struct gpu_summary, power_avg_mw),
        U32(struct gpu_summary, power_max_mw),
        U64(struct gpu_summary, mem_used_max_bytes),
        U32(struct gpu_summary, procs_max),
        U32(struct gpu_summary, xid_count),
};
static const struct list_desc gpu_summaries = {gpu_summary_fields, N(gpu_summary_fields),
                                               sizeof(struct gpu_summary), NULL};

static const struct field start_v1[] = {
        STR(struct rec_start, daemon_version, REC_VERSION_MAX, 1),
        STR(struct rec_start, backend, REC_BACKEND_MAX, 1),
        U32(struct rec_start, period_s),
        U32(struct rec_start, sample_interval_us),
        STR(struct rec_start, driver_version, REC_VERSION_MAX, 0),
        STR(struct rec_start, nvml_version, REC_VERSION_MAX, 0),
        LIST(struct rec_start, gpus, gpu_count, gpu_infos),
};

static const struct field start_v2[] = {
        STR(struct rec_start, daemon_version, REC_VERSION_MAX, 1),
        STR(struct rec_start, backend, REC_BACKEND_MAX, 1),
        U32(struct rec_start, period_s),
        U32(struct rec_start, sample_interval_us),
        STR(struct rec_start, driver_version, REC_VERSION_MAX, 0),
        STR(struct rec_start, nvml_version, REC_VERSION_MAX, 0),
        LIST(struct rec_start, gpus, gpu_count, gpu_infos_v2),
};

static const struct field summary_v1[] = {
        U64(struct rec_summary, period_start_ns),
        U32(struct rec_summary, period_s),
        U8(struct rec_summary, flags),
        U64(struct rec_summary, obs_start_wall_ns),
        U64(struct rec_summary, obs_end_wall_ns),
        U64(struct rec_summary, obs_start_boot_ns),
        U64(struct rec_summary, obs_end_boot_ns),
        U32(struct rec_summary, samples_taken),
        U32(struct rec_summary, samples_expected),
        LIST(struct rec_summary, gpus, gpu_count, gpu_summaries),
};

static const struct field stop_v1[] = {
        STR(struct rec_stop, reason, REC_REASON_MAX, 0),
};

static const struct field clock_step_v1[] = {
        U64(struct rec_clock_step, prev_wall_ns),
        U64(struct rec_clock_step, prev_boot_ns),
};

static const struct field inventory_v1[] = {
        U8(struct rec_inventory, reason),
        STR(struct rec_inventory, driver_version, REC_VERSION_MAX, 0),
        STR(struct rec_inventory, nvml_version, REC_VERSION_MAX, 0),
        LIST(struct rec_inventory, gpus, gpu_count, gpu_infos),
};

static const struct field inventory_v2[] = {
        U8(struct rec_inventory, reason),
        STR(struct rec_inventory, driver_version, REC_VERSION_MAX, 0),
        STR(struct rec_inventory, nvml_version, REC_VERSION_MAX, 0),
        LIST(struct rec_inventory, gpus, gpu_count, gpu_infos_v2),
};

/* --- rules beyond the field caps (all GH_E_MALFORMED when broken) --- */

static bool period_ok(uint32_t period_s) {
        return period_s >= REC_PERIOD_MIN_S && period_s <= REC_PERIOD_MAX_S;
}

static bool start_valid(const struct record *r) {
        const struct rec_start *s = &r->u.start;

        return (strcmp(s->backend, "sim") == 0 || strcmp(s->backend, "nvml") == 0) &&
               period_ok(s->period_s) && s->sample_interval_us >= REC_INTERVAL_MIN_US &&
               s->sample_interval_us <= REC_INTERVAL_MAX_US;
}

static bool summary_valid(const struct record *r) {
        const struct rec_summary *s = &r->u.summary;

        return period_ok(s->period_s) &&
               s->period_start_ns % ((uint64_t)s->period_s * NS_PER_S) == 0 &&
               (s->flags & ~SUMMARY_FLAGS_ALL) == 0 && s->obs_start_wall_ns <= s->obs_end_wall_ns &&
               s->obs_start_boot_ns <= s->obs_end_boot_ns;
}

static bool clock_step_valid(const struct record *r) {
        return r->u.clock_step.prev_boot_ns <= r->boot_ns;
}

static bool inventory_valid(const struct record *r) {
        return r->u.inventory.reason != 0 && (r->u.inventory.reason & ~INV_REASON_ALL) == 0;
}

/* --- version dispatch: one row per (version, kind) that exists --- */

struct kind_desc {
        uint8_t version;
        uint8_t kind;
        const char *name;
        const struct field *fields;
        size_t nfields;
        bool (*valid)(const struct record *r); /* or NULL */
};

static const struct kind_desc kinds[] = {
        {1, REC_START, "start", start_v1, N(start_v1), start_valid},
        {1, REC_SUMMARY, "summary", summary_v1, N(summary_v1), summary_valid},
        {1, REC_STOP, "stop", stop_v1, N(stop_v1), NULL},
        {1, REC_CLOCK_STEP, "clock_step", clock_step_v1, N(clock_step_v1), clock_step_valid},
        {1, REC_INVENTORY, "inventory", inventory_v1, N(inventory_v1), inventory_valid},
        /* version 2: start and inventory only (no row: GH_E_VERSION) */
        {2, REC_START, "start", start_v2, N(start_v2), start_valid},
        {2, REC_INVENTORY, "inventory", inventory_v2, N(inventory_v2), inventory_valid},
};

static const struct kind_desc *kind_desc(uint8_t version, uint8_t kind) {
        for (size_t i = 0; i < N(kinds); i++)
                if (kinds[i].version == version && kinds[i].kind == kind)
                        return &kinds[i];
        return NULL;
}

const char *record_kind_name(uint8_t kind) {
        for (size_t i = 0; i < N(kinds); i++)
                if (kinds[i].kind == kind)
                        return kinds[i].name;
        return NULL;
}

/* --- checking (encode validates everything before it writes a byte) --- */

static bool char_ok(unsigned char c) {
        return c >= 0x20 && c <= 0x7e;
}

/* A NUL-terminated field of size cap + 1: 0 and *len, GH_E_TOO_LARGE or GH_E_MALFORMED. */
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

/* memcmp order, a proper prefix sorts first. */
static int uuid_cmp(const char *a, size_t alen, const char *b, size_t blen) {
        int c = memcmp(a, b, alen < blen ? alen : blen);

        if (c != 0)
                return c;
        return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static uint32_t count_of(const uint8_t *base, const struct field *f) {
        uint32_t n;

        memcpy(&n, base + f->count_off, sizeof(n));
        return n;
}

static int check_fields(const uint8_t *base, const struct field *fields, size_t n);

/* Entries are in strictly increasing order of their first field. */
static int check_list(const uint8_t *base, const struct field *f) {
        const struct list_desc *d = f->list;
        uint32_t count = count_of(base, f);
        size_t prev_len = 0;

        if (count > RECORD_MAX_GPUS)
                return GH_E_TOO_LARGE;
        for (uint32_t i = 0; i < count; i++) {
                const uint8_t *e = base + f->off + i * d->size;
                const char *key = (const char *)e + d->fields[0].off;
                size_t len;
                int rc = check_fields(e, d->fields, d->nfields);

                if (rc != 0)
                        return rc;
                if (d->valid && !d->valid(e))
                        return GH_E_MALFORMED;
                len = strlen(key); /* terminated: check_fields passed */
                if (i > 0 && uuid_cmp(key - d->size, prev_len, key, len) >= 0)
                        return GH_E_MALFORMED;
                prev_len = len;
        }
        return 0;
}

static int check_fields(const uint8_t *base, const struct field *fields, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const struct field *f = &fields[i];
                size_t len;
                int rc = 0;

                if (f->type == F_STR)
                        rc = str_check((const char *)base + f->off, f->cap, f->min, &len);
                else if (f->type == F_LIST)
                        rc = check_list(base, f);
                if (rc != 0)
                        return rc;
        }
        return 0;
}

/* --- encoding (fields already checked) --- */

static void put_fields(struct writer *w, const uint8_t *base, const struct field *fields,
                       size_t n) {
        for (size_t i = 0; i < n; i++) {
                const struct field *f = &fields[i];
                const uint8_t *p = base + f->off;
                uint32_t v32;
                uint64_t v64;

                switch (f->type) {
                case F_U8:
                        writer_u8(w, *p);
                        break;
                case F_U32:
                        memcpy(&v32, p, sizeof(v32));
                        writer_u32(w, v32);
                        break;
                case F_U64:
                        memcpy(&v64, p, sizeof(v64));
                        writer_u64(w, v64);
                        break;
                case F_STR:
                        writer_vec32(w, p, strlen((const char *)p));
                        break;
                case F_LIST: {
                        uint32_t count = count_of(base, f);

                        writer_u32(w, count);
                        for (uint32_t j = 0; j < count; j++)
                                put_fields(w, p + j * f->list->size, f->list->fields,
                                           f->list->nfields);
                        break;
                }
                }
        }
}

int record_encode(const struct record *r, struct writer *w) {
        const struct kind_desc *k = kind_desc(r->version, r->kind);
        const uint8_t *body = (const uint8_t *)&r->u;
        int rc;

        if (!k)
                return GH_E_VERSION;
        if ((rc = check_fields(body, k->fields, k->nfields)) != 0)
                return rc;
        if (k->valid && !k->valid(r))
                return GH_E_MALFORMED;
        writer_u8(w, r->version);
        writer_u8(w, r->kind);
        writer_u64(w, r->wall_ns);
        writer_u64(w, r->boot_ns);
        writer_bytes(w, r->boot_id, sizeof(r->boot_id));
        put_fields(w, body, k->fields, k->nfields);
        return writer_error(w);
}

/* --- decoding --- */

/*
 * u32 length + printable ASCII, into a field of size cap + 1 (NUL-padded).
 * Length > cap is GH_E_TOO_LARGE; short input, a bad character or fewer
 * than min bytes is GH_E_MALFORMED.
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
        *len = n;
        return 0;
}

static int get_fields(struct reader *r, uint8_t *base, const struct field *fields, size_t n);

static int get_list(struct reader *r, uint8_t *base, const struct field *f) {
        const struct list_desc *d = f->list;
        uint32_t count;
        size_t prev_len = 0;

        if (!reader_u32(r, &count))
                return GH_E_MALFORMED;
        if (count > RECORD_MAX_GPUS)
                return GH_E_TOO_LARGE;
        memcpy(base + f->count_off, &count, sizeof(count));
        for (uint32_t i = 0; i < count; i++) {
                uint8_t *e = base + f->off + i * d->size;
                const char *key = (const char *)e + d->fields[0].off;
                size_t len;
                int rc;

                /* members a table does not name (version 1: counter_epoch) read as 0 */
                memset(e, 0, d->size);
                rc = get_fields(r, e, d->fields, d->nfields);

                if (rc != 0)
                        return rc;
                if (d->valid && !d->valid(e))
                        return GH_E_MALFORMED;
                len = strlen(key);
                if (i > 0 && uuid_cmp(key - d->size, prev_len, key, len) >= 0)
                        return GH_E_MALFORMED;
                prev_len = len;
        }
        return 0;
}

static int get_fields(struct reader *r, uint8_t *base, const struct field *fields, size_t n) {
        for (size_t i = 0; i < n; i++) {
                const struct field *f = &fields[i];
                uint8_t *p = base + f->off;
                uint32_t v32 = 0;
                uint64_t v64 = 0;
                size_t len;
                int rc = 0;

                switch (f->type) {
                case F_U8:
                        rc = reader_u8(r, p) ? 0 : GH_E_MALFORMED;
                        break;
                case F_U32:
                        rc = reader_u32(r, &v32) ? 0 : GH_E_MALFORMED;
                        memcpy(p, &v32, sizeof(v32));
                        break;
                case F_U64:
                        rc = reader_u64(r, &v64) ? 0 : GH_E_MALFORMED;
                        memcpy(p, &v64, sizeof(v64));
                        break;
                case F_STR:
                        rc = get_str(r, (char *)p, f->cap, f->min, &len);
                        break;
                case F_LIST:
                        rc = get_list(r, base, f);
                        break;
                }
                if (rc != 0)
                        return rc;
        }
        return 0;
}

int record_decode(const uint8_t *p, size_t len, struct record *out) {
        const struct kind_desc *k;
        struct reader r;
        int rc;

        if (len > RECORD_MAX_SIZE)
                return GH_E_TOO_LARGE;
        reader_init(&r, p, len);
        if (!reader_u8(&r, &out->version) || !reader_u8(&r, &out->kind))
                return GH_E_MALFORMED;
        if (!(k = kind_desc(out->version, out->kind)))
                return GH_E_VERSION;
        if (!reader_u64(&r, &out->wall_ns) || !reader_u64(&r, &out->boot_ns) ||
            !reader_copy(&r, out->boot_id, sizeof(out->boot_id)))
                return GH_E_MALFORMED;
        if ((rc = get_fields(&r, (uint8_t *)&out->u, k->fields, k->nfields)) != 0)
                return rc;
        if (k->valid && !k->valid(out))
                return GH_E_MALFORMED;
        if (reader_left(&r) != 0)
                return GH_E_MALFORMED;
        return 0;
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
                hi = hex_digit_value(s[i]);
                lo = hex_digit_value(s[i + 1]);
                if (hi < 0 || lo < 0)
                        return false;
                tmp[j++] = (uint8_t)(hi << 4 | lo);
                i += 2;
        }
        memcpy(out, tmp, sizeof(tmp));
        return true;
}

const char *gpu_info_uuid(const void *set, size_t i) {
        return ((const struct gpu_info *)set)[i].uuid;
}

bool gpu_set_has(const void *set, size_t n, gpu_uuid_fn uuid, const char *want) {
        for (size_t i = 0; i < n; i++)
                if (strcmp(uuid(set, i), want) == 0)
                        return true;
        return false;
}

uint8_t gpu_set_diff(const void *old, size_t on, gpu_uuid_fn old_uuid, const void *now, size_t nn,
                     gpu_uuid_fn now_uuid) {
        uint8_t reason = 0;
        for (size_t i = 0; i < on && !(reason & INV_GPU_VANISHED); i++)
                if (!gpu_set_has(now, nn, now_uuid, old_uuid(old, i)))
                        reason |= INV_GPU_VANISHED;
        for (size_t j = 0; j < nn && !(reason & INV_GPU_APPEARED); j++)
                if (!gpu_set_has(old, on, old_uuid, now_uuid(now, j)))
                        reason |= INV_GPU_APPEARED;
        return reason;
}
