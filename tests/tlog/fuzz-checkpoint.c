/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: checkpoint_parse and attest_parse. A text that parses must
 * re-format to identical bytes, and no text parses as both.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct checkpoint c;
        struct attest a;
        char out[ATTEST_TEXT_MAX + 1];
        char *copy = malloc(size ? size : 1);
        int rc, ra;
        size_t len;

        if (copy == NULL)
                return 0;
        memcpy(copy, data, size);
        rc = checkpoint_parse(copy, size, &c);
        ra = attest_parse(copy, size, &a);
        if (rc == 0 && ra == 0)
                abort();
        if (rc == 0) {
                if (checkpoint_format(&c, out, sizeof(out), &len) != 0 || len != size ||
                    memcmp(out, copy, size) != 0)
                        abort();
        } else if (rc != GH_E_MALFORMED) {
                abort();
        }
        if (ra == 0) {
                if (attest_format(&a, out, sizeof(out), &len) != 0 || len != size ||
                    memcmp(out, copy, size) != 0)
                        abort();
        } else if (ra != GH_E_MALFORMED) {
                abort();
        }
        free(copy);
        return 0;
}
