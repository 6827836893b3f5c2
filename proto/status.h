/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Result codes shared by every proto function.
 *
 * 0 is success. Negative values are -errno for system failures (only
 * -ENOMEM in practice: proto does no I/O). Positive values are documented
 * data outcomes: the input was read and judged.
 */
enum gh_status {
        GH_OK = 0,
        GH_E_MALFORMED = 1,     /* bytes do not follow the format */
        GH_E_TOO_LARGE = 2,     /* a hard cap was exceeded */
        GH_E_VERSION = 3,       /* unknown format version or record kind */
        GH_E_BAD_SIGNATURE = 4, /* a signature from a known key did not verify */
        GH_E_NO_KEY = 5,        /* no signature from any known key */
        GH_E_BAD_PROOF = 6,     /* a Merkle proof does not verify */
        GH_E_RANGE = 7,         /* argument out of range (index >= size, m > n …) */
        GH_E_ROOT_MISMATCH = 8, /* recomputed root differs from the signed one */
};

/* Static English text for a status code (positive or -errno). Never NULL. */
const char *gh_strerror(int status);
