/* SPDX-License-Identifier: MIT */
#include "bundle.h"

#include <string.h>

#include "note.h"
#include "record.h"
#include "status.h"

int bundle_parse(const uint8_t *p, size_t len, struct bundle_view *out) {
        struct reader r;
        const uint8_t *magic, *note, *records;
        uint32_t note_len;
        uint64_t count;

        reader_init(&r, p, len);
        if (!reader_bytes(&r, BUNDLE_MAGIC_LEN, &magic) ||
            memcmp(magic, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN) != 0)
                return GH_E_MALFORMED;
        if (!reader_u32(&r, &note_len) || note_len == 0)
                return GH_E_MALFORMED;
        if (note_len > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        if (!reader_bytes(&r, note_len, &note) || !reader_u64(&r, &count))
                return GH_E_MALFORMED;
        if (count > BUNDLE_MAX_RECORDS)
                return GH_E_TOO_LARGE;
        records = r.p;
        for (uint64_t i = 0; i < count; i++) {
                const uint8_t *rec;
                size_t rec_len;
                int rc = record_frame_next(&r, &rec, &rec_len);

                if (rc != 0)
                        return rc;
        }
        if (reader_left(&r) != 0)
                return GH_E_MALFORMED;
        out->note = (const char *)note;
        out->note_len = note_len;
        out->count = count;
        out->records = records;
        out->records_len = (size_t)(r.p - records);
        return 0;
}

void bundle_write_header(struct writer *w, const char *note, size_t note_len, uint64_t count) {
        if (writer_error(w) != 0)
                return;
        if (note_len == 0) {
                writer_fail(w, GH_E_MALFORMED);
                return;
        }
        if (note_len > NOTE_MAX_SIZE || count > BUNDLE_MAX_RECORDS) {
                writer_fail(w, GH_E_TOO_LARGE);
                return;
        }
        writer_bytes(w, BUNDLE_MAGIC, BUNDLE_MAGIC_LEN);
        writer_vec32(w, note, note_len);
        writer_u64(w, count);
}
