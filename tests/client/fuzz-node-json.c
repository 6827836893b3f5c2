/* SPDX-License-Identifier: MIT */
/* libFuzzer: the /v1/node document parser used by trust add --tofu. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trust.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char origin[NOTE_NAME_MAX + 1], vkey[VKEY_MAX_LEN + 1], err[200];
        if (node_json_parse((const char *)data, size, origin, sizeof(origin), vkey, sizeof(vkey),
                            err, sizeof(err)) == 0) {
                if (strlen(origin) > NOTE_NAME_MAX || strlen(vkey) > VKEY_MAX_LEN)
                        abort();
                struct note_verifier v;
                (void)vkey_parse(vkey, strlen(vkey), &v);
        } else if (err[0] == '\0') {
                abort();
        }
        return 0;
}
