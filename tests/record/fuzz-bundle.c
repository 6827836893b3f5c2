/* SPDX-License-Identifier: MIT */
/* libFuzzer: bundle_parse, then every frame and every record in it. */
#include <stdint.h>
#include <stdlib.h>

#include "bundle.h"
#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct record rec;
        struct bundle_view v;
        struct reader r;

        if (bundle_parse(data, size, &v) != 0)
                return 0;
        if (v.note_len == 0 || (const uint8_t *)v.note < data ||
            v.records + v.records_len != data + size)
                abort();
        reader_init(&r, v.records, v.records_len);
        for (uint64_t i = 0; i < v.count; i++) {
                const uint8_t *p;
                size_t len;

                /* bundle_parse walked these frames already: they must all be there */
                if (record_frame_next(&r, &p, &len) != 0)
                        abort();
                (void)record_decode(p, len, &rec);
        }
        if (reader_left(&r) != 0)
                abort();
        return 0;
}
