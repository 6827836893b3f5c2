/* SPDX-License-Identifier: MIT */
#include "fleet.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "util.h"

void fleet_free(struct fleet *f) {
        if (!f)
                return;
        for (size_t i = 0; i < f->n; i++) {
                free(f->nodes[i].url);
                free(f->nodes[i].vkey);
        }
        free(f->nodes);
        f->nodes = NULL;
        f->n = 0;
}

__attribute__((format(printf, 5, 6))) static int fail(char *err, size_t errlen, const char *fname,
                                                       unsigned line, const char *fmt, ...) {
        char msg[400];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        char qf[200];
        quote_bytes(fname, strlen(fname), qf, sizeof(qf));
        if (line)
                snprintf(err, errlen, "%s:%u: %s", qf, line, msg);
        else
                snprintf(err, errlen, "%s: %s", qf, msg);
        return GH_E_MALFORMED;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static bool url_ok(const char *p, size_t n) {
        size_t scheme;
        if (n > 7 && memcmp(p, "http://", 7) == 0)
                scheme = 7;
        else if (n > 8 && memcmp(p, "https://", 8) == 0)
                scheme = 8;
        else
                return false;
        if (n == scheme || p[scheme] == '/')
                return false; /* no host */
        for (size_t i = 0; i < n; i++)
                if ((unsigned char)p[i] <= 0x20 || (unsigned char)p[i] >= 0x7f)
                        return false;
        return true;
}

struct sort_ent {
        const char *key;
        size_t idx;
};

static int sort_cmp(const void *a, const void *b) {
        const struct sort_ent *x = a, *y = b;
        int c = strcmp(x->key, y->key);
        if (c)
                return c;
        return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* Any two nodes with an equal key (origin or URL): error naming both lines. */
static int check_unique(struct fleet *f, bool by_origin, const char *fname, char *err,
                        size_t errlen) {
        if (f->n < 2)
                return 0;
        struct sort_ent *e = malloc(f->n * sizeof(*e));
        if (!e)
                return -ENOMEM;
        for (size_t i = 0; i < f->n; i++) {
                e[i].key = by_origin ? f->nodes[i].key.name : f->nodes[i].url;
                e[i].idx = i;
        }
        qsort(e, f->n, sizeof(*e), sort_cmp);
        int r = 0;
        for (size_t i = 1; i < f->n && !r; i++) {
                if (strcmp(e[i - 1].key, e[i].key) != 0)
                        continue;
                char q[200];
                quote_bytes(e[i].key, strlen(e[i].key), q, sizeof(q));
                r = fail(err, errlen, fname, f->nodes[e[i].idx].line,
                         "duplicate %s '%s' (also on line %u)", by_origin ? "origin" : "URL", q,
                         f->nodes[e[i - 1].idx].line);
        }
        free(e);
        return r;
}

static int parse_line(struct fleet *f, size_t *cap, const char *p, size_t n, const char *fname,
                      unsigned line, char *err, size_t errlen) {
        const char *w[3];
        size_t wl[3], nw = 0;
        size_t i = 0;
        while (i < n) {
                while (i < n && is_blank(p[i]))
                        i++;
                if (i >= n || p[i] == '#')
                        break;
                size_t s = i;
                while (i < n && !is_blank(p[i]))
                        i++;
                if (nw == 2) {
                        char q[120];
                        quote_bytes(p + s, i - s, q, sizeof(q));
                        return fail(err, errlen, fname, line,
                                    "unexpected '%s' after URL and VKEY (expected: URL VKEY)", q);
                }
                w[nw] = p + s;
                wl[nw++] = i - s;
        }
        if (nw == 0)
                return 0;
        char q[200];
        quote_bytes(w[0], wl[0], q, sizeof(q));
        if (nw == 1)
                return fail(err, errlen, fname, line, "'%s': expected URL VKEY", q);
        if (wl[0] > FLEET_URL_MAX || !url_ok(w[0], wl[0]))
                return fail(err, errlen, fname, line,
                            "'%s' is not a node URL (http://HOST[:PORT] or https://…, at most %u "
                            "bytes)",
                            q, FLEET_URL_MAX);
        struct note_verifier v;
        if (vkey_parse(w[1], wl[1], &v) != 0) {
                quote_bytes(w[1], wl[1], q, sizeof(q));
                return fail(err, errlen, fname, line, "'%s' is not a vkey (NAME+KEYID+BASE64)", q);
        }
        if (f->n >= FLEET_MAX_NODES) {
                fail(err, errlen, fname, line, "more than %u nodes", FLEET_MAX_NODES);
                return GH_E_TOO_LARGE;
        }
        if (f->n == *cap) {
                size_t nc = *cap ? *cap * 2 : 16;
                struct fleet_node *nn = realloc(f->nodes, nc * sizeof(*nn));
                if (!nn)
                        return -ENOMEM;
                f->nodes = nn;
                *cap = nc;
        }
        struct fleet_node *nd = &f->nodes[f->n];
        memset(nd, 0, sizeof(*nd));
        nd->url = strndup(w[0], wl[0]);
        nd->vkey = strndup(w[1], wl[1]);
        if (!nd->url || !nd->vkey) {
                free(nd->url);
                free(nd->vkey);
                return -ENOMEM;
        }
        nd->key = v;
        nd->line = line;
        f->n++;
        return 0;
}

int fleet_parse(const char *buf, size_t len, const char *fname, struct fleet *out, char *err,
                size_t errlen) {
        struct fleet f = {0};
        size_t cap = 0;
        int r = 0;
        if (len > FLEET_FILE_MAX) {
                fail(err, errlen, fname, 0, "larger than %u bytes", FLEET_FILE_MAX);
                return GH_E_TOO_LARGE;
        }
        unsigned line = 0;
        size_t pos = 0;
        const char *p;
        size_t n;
        while (r == 0 && text_next_line(buf, len, &pos, &p, &n)) {
                line++;
                if (n > FLEET_LINE_MAX) {
                        fail(err, errlen, fname, line, "line longer than %u bytes",
                             FLEET_LINE_MAX);
                        r = GH_E_TOO_LARGE;
                        break;
                }
                if (memchr(p, '\0', n)) {
                        r = fail(err, errlen, fname, line, "NUL byte in the line");
                        break;
                }
                r = parse_line(&f, &cap, p, n, fname, line, err, errlen);
        }
        if (r == 0 && f.n == 0)
                r = fail(err, errlen, fname, 0, "no node (expected lines of URL VKEY)");
        if (r == 0)
                r = check_unique(&f, true, fname, err, errlen);
        if (r == 0)
                r = check_unique(&f, false, fname, err, errlen);
        if (r != 0) {
                if (r == -ENOMEM)
                        snprintf(err, errlen, "out of memory");
                fleet_free(&f);
                return r;
        }
        *out = f;
        return 0;
}

int fleet_load(const char *path, struct fleet *out, char *err, size_t errlen) {
        char *buf = NULL;
        size_t len = 0;
        int r = read_file_capped(path, FLEET_FILE_MAX, &buf, &len);
        if (r != 0) {
                char q[200];
                quote_bytes(path, strlen(path), q, sizeof(q));
                if (r == -EFBIG) {
                        snprintf(err, errlen, "%s: larger than %u bytes", q, FLEET_FILE_MAX);
                        return GH_E_TOO_LARGE;
                }
                snprintf(err, errlen, "%s: %s", q, strerror(-r));
                return r;
        }
        r = fleet_parse(buf, len, path, out, err, errlen);
        free(buf);
        return r;
}
