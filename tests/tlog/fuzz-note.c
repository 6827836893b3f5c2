/* SPDX-License-Identifier: MIT */
/* libFuzzer: note_verify with a fixed key set, in both modes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "note.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        /* vkeys of tests/vectors/note-vkey.txt and of Go's note_test.go */
        static const char *const vkeys[] = {
                "node17.example.org/gpuhours+a7c0603c+AQOhB7/zzhC+HXDdGOdLwJln5NYwm6UNXx3chmQSVTG4",
                "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
                "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop",
        };
        struct note_verifier keys[3];
        char *copy;

        for (size_t i = 0; i < 3; i++)
                if (vkey_parse(vkeys[i], strlen(vkeys[i]), &keys[i]) != 0)
                        abort();
        /* An exact-size heap copy so that ASan sees any read past the end. */
        copy = malloc(size ? size : 1);
        if (copy == NULL)
                return 0;
        memcpy(copy, data, size);
        for (int strict = 0; strict < 2; strict++) {
                size_t tlen = 0, which = 0;
                int r = note_verify(copy, size, keys, 3, strict != 0, &tlen, &which);

                if (r == 0) {
                        struct checkpoint c;

                        if (tlen == 0 || tlen > size || which >= 3 || copy[tlen - 1] != '\n')
                                abort();
                        (void)checkpoint_parse(copy, tlen, &c);
                } else if (r < 0 || r > GH_E_ROOT_MISMATCH) {
                        abort();
                }
        }
        free(copy);
        return 0;
}
