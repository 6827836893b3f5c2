/* SPDX-License-Identifier: MIT */
/* libFuzzer: the remembered-checkpoint (state file) and fork evidence parsers. */
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
        /* The fork evidence file: whatever parses holds two checkpoints of one origin. */
        struct state_fork f;
        if (state_fork_parse((const char *)data, size, &f) == 0) {
                if (strcmp(f.cp[0].origin, f.cp[1].origin) != 0 || !f.note[0] || !f.note[1] ||
                    f.note_len[0] + f.note_len[1] > size)
                        abort();
                state_fork_free(&f);
        }
        return 0;
}
