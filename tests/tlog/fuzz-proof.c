/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer: merkle_proof_parse, then inclusion and consistency verification
 * with sizes, index and hashes taken from the input:
 *   8 bytes m/index, 8 bytes n, 32 bytes hash a, 32 bytes hash b, proof text.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "merkle.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t be64(const uint8_t *p) {
        uint64_t v = 0;

        for (int i = 0; i < 8; i++)
                v = v << 8 | p[i];
        return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        merkle_hash proof[MERKLE_MAX_PROOF], a, b;
        char text[MERKLE_MAX_PROOF * 45 + 1];
        uint64_t m, n;
        size_t plen = 0, tlen;
        char *copy;
        int r;

        if (size < 80)
                return 0;
        m = be64(data);
        n = be64(data + 8);
        memcpy(a, data + 16, 32);
        memcpy(b, data + 48, 32);
        copy = malloc(size - 80 ? size - 80 : 1);
        if (copy == NULL)
                return 0;
        memcpy(copy, data + 80, size - 80);
        r = merkle_proof_parse(copy, size - 80, proof, &plen);
        free(copy);
        if (r != 0) {
                if (r != GH_E_MALFORMED && r != GH_E_TOO_LARGE)
                        abort();
                return 0;
        }
        /* Round trip of the text form. */
        if (merkle_proof_format((const merkle_hash *)proof, plen, text, sizeof(text), &tlen) != 0 ||
            tlen != plen * 45 || memcmp(text, data + 80, plen * 45) != 0)
                abort();
        r = merkle_verify_inclusion(m, n, a, (const merkle_hash *)proof, plen, b);
        if (r != 0 && r != GH_E_BAD_PROOF && r != GH_E_RANGE)
                abort();
        r = merkle_verify_consistency(m, n, a, b, (const merkle_hash *)proof, plen);
        if (r != 0 && r != GH_E_BAD_PROOF && r != GH_E_RANGE)
                abort();
        /* m == n: only the empty proof with equal roots. */
        if (r == 0 && m == n && (plen != 0 || memcmp(a, b, 32) != 0))
                abort();
        return 0;
}
