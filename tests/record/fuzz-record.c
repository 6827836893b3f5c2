/* SPDX-License-Identifier: MIT */
/* libFuzzer: record_decode; whatever decodes must re-encode to exactly the input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static struct record r;
        struct writer w;
        uint8_t *out;
        size_t len;

        if (record_decode(data, size, &r) != 0)
                return 0;
        writer_init(&w, RECORD_MAX_SIZE);
        if (record_encode(&r, &w) != 0 || writer_finish(&w, &out, &len) != 0)
                abort();
        if (len != size || memcmp(out, data, size) != 0)
                abort();
        free(out);
        return 0;
}
