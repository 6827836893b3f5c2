/* SPDX-License-Identifier: MIT */
/* libFuzzer: the fleet file parser; accepted fleets have unique origins and URLs. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fleet f = {0};
        char err[300];
        if (fleet_parse((const char *)data, size, "fuzz", &f, err, sizeof(err)) == 0) {
                if (f.n == 0 || f.n > FLEET_MAX_NODES)
                        abort();
                for (size_t i = 0; i < f.n && i < 64; i++)
                        for (size_t j = i + 1; j < f.n && j < 64; j++)
                                if (strcmp(f.nodes[i].key.name, f.nodes[j].key.name) == 0 ||
                                    strcmp(f.nodes[i].url, f.nodes[j].url) == 0)
                                        abort();
        }
        fleet_free(&f);
        return 0;
}
