/* SPDX-License-Identifier: MIT */
/* libFuzzer: the rules file parser; every accepted rule must be well formed. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct rules rs = {0};
        char err[300];
        int r = rules_parse((const char *)data, size, "fuzz", 1800000000ull * 1000000000ull, &rs,
                            err, sizeof(err));
        if (r == 0) {
                if (rs.n == 0 || rs.n > RULES_MAX)
                        abort();
                for (size_t i = 0; i < rs.n; i++) {
                        const struct rule *x = &rs.r[i];
                        if (!isfinite(x->n) || x->n < 0 || x->pct < 0 || x->pct > 100 ||
                            (x->from_ns && x->to_ns && x->from_ns >= x->to_ns) ||
                            strlen(x->text) > RULES_LINE_MAX || x->line == 0)
                                abort();
                }
        } else if (memchr(err, '\0', sizeof(err)) == NULL) {
                abort();
        }
        rules_free(&rs);
        return 0;
}
