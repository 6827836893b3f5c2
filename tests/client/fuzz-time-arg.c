/* SPDX-License-Identifier: MIT */
/* libFuzzer: --since/--until arguments and the X-Gpuhours-Range header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char s[64];
        if (size >= sizeof(s))
                return 0;
        memcpy(s, data, size);
        s[size] = '\0';
        uint64_t t, a, b;
        const uint64_t now = 1795694400ull * NS_PER_SEC;
        if (time_parse_arg(s, now, &t) && s[0] != '-') {
                /* Absolute times format back to something that parses to the same value. */
                char iso[40];
                uint64_t t2;
                time_format_iso(t, false, iso, sizeof(iso));
                if (!time_parse_arg(iso, now, &t2) || t2 != t)
                        abort();
        }
        if (range_header_parse(s, &a, &b) && a >= b)
                abort();
        return 0;
}
