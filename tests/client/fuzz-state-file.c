/* SPDX-License-Identifier: MIT */
/* libFuzzer: the remembered-checkpoint (state file) parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct checkpoint c;
        if (state_parse((const char *)data, size, &c) == 0) {
                /* What parsed formats back to the note's first lines. */
                char text[CHECKPOINT_TEXT_MAX + 1];
                size_t n;
                if (checkpoint_format(&c, text, sizeof(text), &n) != 0 || n > size ||
                    memcmp(text, data, n) != 0)
                        abort();
        }
        return 0;
}
