/* SPDX-License-Identifier: MIT */
/* libFuzzer: vkey_parse; anything that parses re-formats and parses to the same key. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct note_verifier v, w;
        char out[VKEY_MAX_LEN + 1];
        char *copy = malloc(size ? size : 1);
        size_t len;

        if (copy == NULL)
                return 0;
        memcpy(copy, data, size);
        if (vkey_parse(copy, size, &v) == 0) {
                if (vkey_format(&v, out, sizeof(out), &len) != 0 || len != size ||
                    vkey_parse(out, len, &w) != 0 || memcmp(&v, &w, sizeof(v)) != 0)
                        abort();
                /* Only the key id's hex case may differ from the input. */
                for (size_t i = 0; i < size; i++)
                        if (out[i] != copy[i] && (out[i] | 0x20) != (copy[i] | 0x20))
                                abort();
        }
        free(copy);
        return 0;
}
