/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "api.h"
#include "note.h"

/*
 * Trusted verifier keys: $XDG_CONFIG_HOME/gpuhours/trusted_keys, one vkey
 * per line, '#' starts a comment line, blank lines ignored, nothing else.
 */

#define TRUST_FILE_MAX (1u << 20) /* bytes */
#define TRUST_MAX_KEYS 1024u
#define TRUST_LINE_MAX 1024u

struct trust_list {
        struct note_verifier *keys; /* malloc'd */
        size_t n;
};

/*
 * Parse a trust file of exactly len bytes into list (appending). 0, -ENOMEM,
 * or GH_E_MALFORMED / GH_E_TOO_LARGE with a one-line reason in err.
 */
int trust_parse(const char *buf, size_t len, struct trust_list *list, char *err, size_t errlen);
/* Append one key (no duplicate check). 0 or -ENOMEM / GH_E_TOO_LARGE. */
int trust_list_add(struct trust_list *list, const struct note_verifier *v);
void trust_list_free(struct trust_list *list);
/* Index of the key with this name and key id, or -1. */
long trust_list_find(const struct trust_list *list, const char *name, uint32_t key_id);

/*
 * Index of a key in keys[0..n) not named origin whose public key, named
 * origin, verifies a signature on the note: the node's key trusted under
 * another name (a --print-key of another configuration, a typo). -1 if none.
 */
long trust_find_renamed(const struct note_verifier *keys, size_t n, const char *note, size_t len,
                        const char *origin);

/* Path of the trust file (malloc'd), NULL if no config dir can be found. */
char *trust_file_path(void);
/* Load the trust file (a missing file is an empty list). Errors as trust_parse, -errno. */
int trust_load(struct trust_list *list, char *err, size_t errlen);
/*
 * Load the trust file at path (--trusted-keys); a missing file is an error
 * (-ENOENT) when must_exist, else an empty list. Errors as trust_load.
 */
int trust_load_path(const char *path, bool must_exist, struct trust_list *list, char *err,
                    size_t errlen);

/*
 * The file's text without the vkey lines whose key name is name (comments
 * and other keys kept). *removed counts the lines dropped. malloc'd.
 */
int trust_text_without(const char *buf, size_t len, const char *name, char **out, size_t *outlen,
                       size_t *removed);

/*
 * /v1/node document: extracts "origin" and "vkey" (strings, caps as in
 * note.h). 0 or GH_E_MALFORMED with a reason in err.
 */
#define NODE_JSON_MAX API_NODE_MAX_BYTES /* a /v1/node document */
int node_json_parse(const char *buf, size_t len, char *origin, size_t origin_cap, char *vkey,
                    size_t vkey_cap, char *err, size_t errlen);

/* "key id 1a2b3c4d, sha256 <64 hex>" of a vkey string. */
void vkey_fingerprint(const char *vkey, uint32_t key_id, char *out, size_t cap);
