/* SPDX-License-Identifier: MIT */
/* libFuzzer: the trusted_keys file parser and the remove-rewrite. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct trust_list l = {0};
        char err[200];
        int r = trust_parse((const char *)data, size, &l, err, sizeof(err));
        if (r == 0 && l.n > 0) {
                char *out;
                size_t len, removed;
                if (trust_text_without((const char *)data, size, l.keys[0].name, &out, &len,
                                       &removed) == 0) {
                        /* Every key of that name went, nothing else. */
                        if (removed == 0 || len > size + removed)
                                abort();
                        struct trust_list l2 = {0};
                        if (trust_parse(out, len, &l2, err, sizeof(err)) != 0 ||
                            trust_list_find(&l2, l.keys[0].name, l.keys[0].key_id) >= 0)
                                abort();
                        trust_list_free(&l2);
                        free(out);
                }
        }
        trust_list_free(&l);
        return 0;
}
