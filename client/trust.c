/* SPDX-License-Identifier: MIT */
#include "trust.h"

#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <string.h>

#include "status.h"
#include "util.h"

int trust_list_add(struct trust_list *list, const struct note_verifier *v) {
        if (list->n >= TRUST_MAX_KEYS)
                return GH_E_TOO_LARGE;
        struct note_verifier *k = realloc(list->keys, (list->n + 1) * sizeof(*k));
        if (!k)
                return -ENOMEM;
        k[list->n++] = *v;
        list->keys = k;
        return 0;
}

void trust_list_free(struct trust_list *list) {
        free(list->keys);
        list->keys = NULL;
        list->n = 0;
}

long trust_list_find(const struct trust_list *list, const char *name, uint32_t key_id) {
        for (size_t i = 0; i < list->n; i++)
                if (list->keys[i].key_id == key_id && strcmp(list->keys[i].name, name) == 0)
                        return (long)i;
        return -1;
}

/* Next line [*pos, end-of-line) without the '\n'; false at the end. */
static bool next_line(const char *buf, size_t len, size_t *pos, const char **line,
                      size_t *line_len) {
        if (*pos >= len)
                return false;
        const char *start = buf + *pos;
        const char *nl = memchr(start, '\n', len - *pos);
        size_t n = nl ? (size_t)(nl - start) : len - *pos;
        *line = start;
        *line_len = n;
        *pos += n + (nl ? 1 : 0);
        return true;
}

/* Trims spaces, tabs and a trailing '\r'. */
static void trim(const char **s, size_t *n) {
        while (*n > 0 && ((*s)[0] == ' ' || (*s)[0] == '\t')) {
                (*s)++;
                (*n)--;
        }
        while (*n > 0 && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t' || (*s)[*n - 1] == '\r'))
                (*n)--;
}

int trust_parse(const char *buf, size_t len, struct trust_list *list, char *err, size_t errlen) {
        size_t pos = 0, lineno = 0;
        const char *line;
        size_t n;
        if (len > TRUST_FILE_MAX) {
                snprintf(err, errlen, "file larger than %u bytes", TRUST_FILE_MAX);
                return GH_E_TOO_LARGE;
        }
        while (next_line(buf, len, &pos, &line, &n)) {
                lineno++;
                if (n > TRUST_LINE_MAX) {
                        snprintf(err, errlen, "line %zu: longer than %u bytes", lineno,
                                 TRUST_LINE_MAX);
                        return GH_E_TOO_LARGE;
                }
                trim(&line, &n);
                if (n == 0 || line[0] == '#')
                        continue;
                struct note_verifier v;
                if (vkey_parse(line, n, &v) != 0) {
                        char q[80];
                        quote_bytes(line, n, q, sizeof(q));
                        snprintf(err, errlen, "line %zu: not a valid vkey: '%s'", lineno, q);
                        return GH_E_MALFORMED;
                }
                int r = trust_list_add(list, &v);
                if (r == GH_E_TOO_LARGE)
                        snprintf(err, errlen, "more than %u keys", TRUST_MAX_KEYS);
                if (r != 0)
                        return r;
        }
        return 0;
}

long trust_find_renamed(const struct note_verifier *keys, size_t n, const char *note, size_t len,
                        const char *origin) {
        size_t olen = strlen(origin);
        if (olen == 0 || olen > NOTE_NAME_MAX)
                return -1;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(keys[i].name, origin) == 0)
                        continue;
                struct note_verifier v = keys[i];
                memcpy(v.name, origin, olen + 1);
                v.key_id = note_key_id(v.name, v.pk);
                size_t tl, wh;
                if (note_verify(note, len, &v, 1, false, &tl, &wh) == 0)
                        return (long)i;
        }
        return -1;
}

char *trust_file_path(void) {
        _cleanup_free_ char *dir = xdg_dir("XDG_CONFIG_HOME", ".config");
        if (!dir)
                return NULL;
        return str_concat3(dir, "/", "trusted_keys");
}

int trust_load(struct trust_list *list, char *err, size_t errlen) {
        _cleanup_free_ char *path = trust_file_path();
        if (!path) {
                snprintf(err, errlen, "neither XDG_CONFIG_HOME nor HOME is set");
                return -ENOENT;
        }
        return trust_load_path(path, false, list, err, errlen);
}

int trust_load_path(const char *path, bool must_exist, struct trust_list *list, char *err,
                    size_t errlen) {
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(path, TRUST_FILE_MAX, &buf, &len);
        if (r == -ENOENT && !must_exist)
                return 0;
        if (r < 0) {
                snprintf(err, errlen, "%s: %s", path,
                         r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                return r;
        }
        char perr[200];
        r = trust_parse(buf, len, list, perr, sizeof(perr));
        if (r != 0)
                snprintf(err, errlen, "%s: %s", path, r < 0 ? strerror(-r) : perr);
        return r;
}

int trust_text_without(const char *buf, size_t len, const char *name, char **out, size_t *outlen,
                       size_t *removed) {
        char *o = malloc(len + 1);
        if (!o)
                return -ENOMEM;
        size_t pos = 0, olen = 0, dropped = 0;
        const char *line;
        size_t n;
        while (next_line(buf, len, &pos, &line, &n)) {
                const char *t = line;
                size_t tn = n;
                trim(&t, &tn);
                struct note_verifier v;
                if (tn > 0 && t[0] != '#' && vkey_parse(t, tn, &v) == 0 &&
                    strcmp(v.name, name) == 0) {
                        dropped++;
                        continue;
                }
                memcpy(o + olen, line, n);
                olen += n;
                o[olen++] = '\n';
        }
        o[olen] = '\0';
        *out = o;
        *outlen = olen;
        *removed = dropped;
        return 0;
}

int node_json_parse(const char *buf, size_t len, char *origin, size_t origin_cap, char *vkey,
                    size_t vkey_cap, char *err, size_t errlen) {
        if (len > NODE_JSON_MAX) {
                snprintf(err, errlen, "document larger than %u bytes", NODE_JSON_MAX);
                return GH_E_TOO_LARGE;
        }
        json_error_t jerr;
        json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!doc) {
                char q[120];
                quote_bytes(jerr.text, strlen(jerr.text), q, sizeof(q));
                snprintf(err, errlen, "not valid JSON (line %d: %s)", jerr.line, q);
                return GH_E_MALFORMED;
        }
        int r = GH_E_MALFORMED;
        json_t *jo = json_is_object(doc) ? json_object_get(doc, "origin") : NULL;
        json_t *jv = json_is_object(doc) ? json_object_get(doc, "vkey") : NULL;
        if (!json_is_string(jo) || !json_is_string(jv)) {
                snprintf(err, errlen, "no string fields \"origin\" and \"vkey\"");
        } else if (json_string_length(jo) >= origin_cap || json_string_length(jv) >= vkey_cap ||
                   memchr(json_string_value(jo), '\0', json_string_length(jo)) ||
                   memchr(json_string_value(jv), '\0', json_string_length(jv))) {
                snprintf(err, errlen, "\"origin\" or \"vkey\" too long or contains NUL");
        } else {
                memcpy(origin, json_string_value(jo), json_string_length(jo) + 1);
                memcpy(vkey, json_string_value(jv), json_string_length(jv) + 1);
                r = 0;
        }
        json_decref(doc);
        return r;
}

void vkey_fingerprint(const char *vkey, uint32_t key_id, char *out, size_t cap) {
        uint8_t h[crypto_hash_sha256_BYTES];
        char hex[2 * crypto_hash_sha256_BYTES + 1];
        crypto_hash_sha256(h, (const unsigned char *)vkey, strlen(vkey));
        hex_encode(h, sizeof(h), hex);
        snprintf(out, cap, "key id %08x, SHA-256 of vkey %s", (unsigned)key_id, hex);
}
