/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "note.h"

/*
 * Fleet file (--fleet FILE): one node per line, "URL VKEY" separated by
 * spaces or tabs; '#' at the start of a line or of a word starts a comment
 * to the end of the line; blank lines are ignored. URL is http:// or
 * https://; VKEY is the node's verifier key, whose name is the origin the
 * node must serve (the pin: a node serving another origin, or a checkpoint
 * not signed by this very key, fails). Two lines with the same origin or the
 * same URL are an error. Pure parser: no I/O.
 */

#define FLEET_FILE_MAX (32u << 20) /* bytes */
#define FLEET_LINE_MAX 2048u       /* bytes per line, without the newline */
#define FLEET_URL_MAX 1024u
#define FLEET_MAX_NODES 100000u

struct fleet_node {
        char *url;                 /* malloc'd */
        char *vkey;                /* the vkey text as written (malloc'd) */
        struct note_verifier key;  /* key.name is the pinned origin */
        unsigned line;             /* 1-based line number in the file */
};

struct fleet {
        struct fleet_node *nodes; /* malloc'd, file order */
        size_t n;
};

/*
 * Parse exactly len bytes of a fleet file named fname (used in messages
 * only) into out (zeroed by the caller). 0, -ENOMEM, or GH_E_MALFORMED /
 * GH_E_TOO_LARGE with one line "FNAME:LINE: reason" in err (the bad value
 * quoted). On failure out is freed and empty.
 */
int fleet_parse(const char *buf, size_t len, const char *fname, struct fleet *out, char *err,
                size_t errlen);
/* Read and parse a file (at most FLEET_FILE_MAX bytes); errors as fleet_parse, -errno. */
int fleet_load(const char *path, struct fleet *out, char *err, size_t errlen);
void fleet_free(struct fleet *f);

struct source;
/*
 * The pin, after verification (fleet_pin.c, linked into the program, not
 * the parser library): srcs[i] was verified from f->nodes[i].url; unless it
 * carries a checkpoint whose origin is the node's key name and whose note
 * is signed by that very key, the source fails with KEY_MISMATCH.
 */
void fleet_pin_sources(struct source *srcs, const struct fleet *f);
