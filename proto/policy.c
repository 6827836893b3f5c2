/* SPDX-License-Identifier: MIT */
/* C2SP tlog-policy files and witness-network logs/v0 lists (policy.h). */
#include "policy.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cosig.h"
#include "status.h"
#include "text.h"

#define MAX_FIELDS (3u + POLICY_MAX_MEMBERS + 1u)

struct field {
        const char *p;
        size_t n;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;

        if (err == NULL || errlen == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

/* A printable, bounded copy of untrusted bytes for an error message. */
static const char *quote(const char *s, size_t n, char *buf, size_t cap) {
        size_t o = 0;

        for (size_t i = 0; i < n && o + 5 < cap; i++) {
                unsigned char c = (unsigned char)s[i];

                if (c >= 0x20 && c < 0x7f && c != '\\') {
                        buf[o++] = (char)c;
                } else {
                        snprintf(buf + o, cap - o, "\\x%02x", c);
                        o += 4;
                }
        }
        if (n > 0 && o + 5 >= cap && o >= 3)
                memcpy(buf + o - 3, "...", 3);
        buf[o] = '\0';
        return buf;
}

static bool is_blank(char c) {
        return c == ' ' || c == '\t';
}

static size_t split_fields(const char *line, size_t n, struct field *f, size_t max, bool *over) {
        size_t nf = 0, i = 0;

        *over = false;
        while (i < n) {
                size_t start;

                while (i < n && is_blank(line[i]))
                        i++;
                if (i == n)
                        break;
                start = i;
                while (i < n && !is_blank(line[i]))
                        i++;
                if (nf == max) {
                        *over = true;
                        return nf;
                }
                f[nf].p = line + start;
                f[nf].n = i - start;
                nf++;
        }
        return nf;
}

static bool field_is(const struct field *f, const char *s) {
        return f->n == strlen(s) && memcmp(f->p, s, f->n) == 0;
}

static bool is_keyword(const struct field *f) {
        static const char *const kw[] = {"log", "witness", "group", "quorum", "all", "any", "none"};

        for (size_t i = 0; i < sizeof(kw) / sizeof(kw[0]); i++)
                if (field_is(f, kw[i]))
                        return true;
        return false;
}

static bool url_valid(const struct field *f) {
        if (f->n > POLICY_URL_MAX)
                return false;
        if (!(f->n > 7 && memcmp(f->p, "http://", 7) == 0) &&
            !(f->n > 8 && memcmp(f->p, "https://", 8) == 0))
                return false;
        for (size_t i = 0; i < f->n; i++)
                if ((unsigned char)f->p[i] <= 0x20 || (unsigned char)f->p[i] >= 0x7f)
                        return false;
        return true;
}

/* Index reference of a defined name, or -1. */
static int lookup(const struct policy *p, const struct field *f) {
        for (size_t i = 0; i < p->nwitnesses; i++)
                if (strlen(p->witness[i].name) == f->n && memcmp(p->witness[i].name, f->p, f->n) == 0)
                        return (int)i;
        for (size_t i = 0; i < p->ngroups; i++)
                if (strlen(p->group[i].name) == f->n && memcmp(p->group[i].name, f->p, f->n) == 0)
                        return (int)(POLICY_REF_GROUP | i);
        return -1;
}

static bool same_key(const struct note_verifier *a, const struct note_verifier *b) {
        return memcmp(a->pk, b->pk, sizeof(a->pk)) == 0;
}

static int parse_line(struct policy *p, const struct field *f, size_t nf, unsigned ln,
                      bool *have_quorum, char *err, size_t errlen) {
        char q[128];

        if (field_is(&f[0], "log")) {
                struct note_verifier v;

                if (nf < 2 || nf > 3) {
                        errf(err, errlen, "policy line %u: 'log' takes a vkey and an optional URL", ln);
                        return GH_E_MALFORMED;
                }
                if (vkey_parse(f[1].p, f[1].n, &v) != 0) {
                        errf(err, errlen, "policy line %u: bad log vkey '%s'", ln,
                             quote(f[1].p, f[1].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                if (nf == 3 && !url_valid(&f[2])) {
                        errf(err, errlen, "policy line %u: bad URL '%s' (http:// or https://)", ln,
                             quote(f[2].p, f[2].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                for (size_t i = 0; i < p->nlogs; i++)
                        if (same_key(&p->logs[i], &v)) {
                                errf(err, errlen, "policy line %u: log key listed twice", ln);
                                return GH_E_MALFORMED;
                        }
                if (p->nlogs == POLICY_MAX_LOGS) {
                        errf(err, errlen, "policy line %u: more than %u logs", ln, POLICY_MAX_LOGS);
                        return GH_E_TOO_LARGE;
                }
                p->logs[p->nlogs++] = v;
                return 0;
        }
        if (field_is(&f[0], "witness")) {
                struct policy_witness *w;

                if (nf < 3 || nf > 4) {
                        errf(err, errlen,
                             "policy line %u: 'witness' takes a name, a vkey and an optional URL",
                             ln);
                        return GH_E_MALFORMED;
                }
                if (p->nwitnesses == POLICY_MAX_WITNESSES) {
                        errf(err, errlen, "policy line %u: more than %u witnesses", ln,
                             POLICY_MAX_WITNESSES);
                        return GH_E_TOO_LARGE;
                }
                w = &p->witness[p->nwitnesses];
                memset(w, 0, sizeof(*w));
                if (f[1].n > POLICY_NAME_MAX || !note_name_valid(f[1].p, f[1].n) ||
                    is_keyword(&f[1]) || lookup(p, &f[1]) >= 0) {
                        errf(err, errlen,
                             "policy line %u: bad or duplicate witness name '%s'", ln,
                             quote(f[1].p, f[1].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                if (cosig_vkey_parse(f[2].p, f[2].n, &w->key) != 0) {
                        errf(err, errlen,
                             "policy line %u: bad witness vkey '%s' (want a cosignature/v1 key, "
                             "type 0x04)",
                             ln, quote(f[2].p, f[2].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                if (nf == 4 && !url_valid(&f[3])) {
                        errf(err, errlen, "policy line %u: bad URL '%s' (http:// or https://)", ln,
                             quote(f[3].p, f[3].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                for (size_t i = 0; i < p->nwitnesses; i++)
                        if (same_key(&p->witness[i].key, &w->key)) {
                                errf(err, errlen, "policy line %u: witness key listed twice", ln);
                                return GH_E_MALFORMED;
                        }
                memcpy(w->name, f[1].p, f[1].n);
                if (nf == 4)
                        memcpy(w->url, f[3].p, f[3].n);
                p->nwitnesses++;
                return 0;
        }
        if (field_is(&f[0], "group")) {
                struct policy_group *g;
                uint64_t k = 0;

                if (nf < 4) {
                        errf(err, errlen,
                             "policy line %u: 'group' takes a name, all|any|K and members", ln);
                        return GH_E_MALFORMED;
                }
                if (p->ngroups == POLICY_MAX_GROUPS) {
                        errf(err, errlen, "policy line %u: more than %u groups", ln,
                             POLICY_MAX_GROUPS);
                        return GH_E_TOO_LARGE;
                }
                g = &p->group[p->ngroups];
                memset(g, 0, sizeof(*g));
                if (f[1].n > POLICY_NAME_MAX || !note_name_valid(f[1].p, f[1].n) ||
                    is_keyword(&f[1]) || lookup(p, &f[1]) >= 0) {
                        errf(err, errlen, "policy line %u: bad or duplicate group name '%s'", ln,
                             quote(f[1].p, f[1].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                g->n = (unsigned)(nf - 3);
                for (size_t i = 3; i < nf; i++) {
                        int ref = lookup(p, &f[i]);

                        if (ref < 0) {
                                errf(err, errlen,
                                     "policy line %u: group member '%s' is not defined above", ln,
                                     quote(f[i].p, f[i].n, q, sizeof q));
                                return GH_E_MALFORMED;
                        }
                        for (size_t j = 0; j < i - 3; j++)
                                if (g->member[j] == (uint16_t)ref) {
                                        errf(err, errlen,
                                             "policy line %u: group member '%s' listed twice", ln,
                                             quote(f[i].p, f[i].n, q, sizeof q));
                                        return GH_E_MALFORMED;
                                }
                        g->member[i - 3] = (uint16_t)ref;
                }
                if (field_is(&f[2], "all")) {
                        k = g->n;
                } else if (field_is(&f[2], "any")) {
                        k = 1;
                } else if (!parse_u64_max(f[2].p, f[2].n, POLICY_MAX_MEMBERS, &k) || k < 1 ||
                           k > g->n) {
                        errf(err, errlen,
                             "policy line %u: threshold '%s' is not all, any or 1..%u", ln,
                             quote(f[2].p, f[2].n, q, sizeof q), g->n);
                        return GH_E_MALFORMED;
                }
                g->k = (unsigned)k;
                memcpy(g->name, f[1].p, f[1].n);
                p->ngroups++;
                return 0;
        }
        if (field_is(&f[0], "quorum")) {
                int ref;

                if (nf != 2) {
                        errf(err, errlen, "policy line %u: 'quorum' takes one name or none", ln);
                        return GH_E_MALFORMED;
                }
                if (*have_quorum) {
                        errf(err, errlen, "policy line %u: a second quorum line", ln);
                        return GH_E_MALFORMED;
                }
                *have_quorum = true;
                if (field_is(&f[1], "none")) {
                        p->quorum_none = true;
                        return 0;
                }
                ref = lookup(p, &f[1]);
                if (ref < 0) {
                        errf(err, errlen, "policy line %u: quorum '%s' is not defined above", ln,
                             quote(f[1].p, f[1].n, q, sizeof q));
                        return GH_E_MALFORMED;
                }
                p->quorum = (uint16_t)ref;
                return 0;
        }
        errf(err, errlen, "policy line %u: unknown keyword '%s'", ln,
             quote(f[0].p, f[0].n, q, sizeof q));
        return GH_E_MALFORMED;
}

int policy_parse(const char *text, size_t len, struct policy *out, char *err, size_t errlen) {
        const char *p = text, *end;
        bool have_quorum = false;
        unsigned ln = 0;

        memset(out, 0, sizeof(*out));
        if (text == NULL) {
                errf(err, errlen, "policy: no text");
                return GH_E_MALFORMED;
        }
        end = text + len;
        if (len > POLICY_MAX_BYTES) {
                errf(err, errlen, "policy: %zu bytes is over the %u-byte cap", len,
                     POLICY_MAX_BYTES);
                return GH_E_TOO_LARGE;
        }
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p));
                size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p), nf, i = 0;
                struct field f[MAX_FIELDS];
                bool over;
                int rc;

                ln++;
                if (n > POLICY_LINE_MAX) {
                        errf(err, errlen, "policy line %u: longer than %u bytes", ln,
                             POLICY_LINE_MAX);
                        return GH_E_TOO_LARGE;
                }
                for (size_t j = 0; j < n; j++)
                        if (p[j] == '\0' || p[j] == '\r') {
                                errf(err, errlen, "policy line %u: NUL or CR byte", ln);
                                return GH_E_MALFORMED;
                        }
                while (i < n && is_blank(p[i]))
                        i++;
                if (i < n && p[i] != '#') {
                        nf = split_fields(p, n, f, MAX_FIELDS, &over);
                        if (over) {
                                errf(err, errlen, "policy line %u: more than %u fields", ln,
                                     MAX_FIELDS);
                                return GH_E_TOO_LARGE;
                        }
                        rc = parse_line(out, f, nf, ln, &have_quorum, err, errlen);
                        if (rc != 0)
                                return rc;
                }
                p = eol ? eol + 1 : end;
        }
        if (!have_quorum) {
                errf(err, errlen, "policy: no quorum line (write 'quorum none' to require none)");
                return GH_E_MALFORMED;
        }
        return 0;
}

bool policy_satisfied(const struct policy *p, const bool *ok) {
        bool gok[POLICY_MAX_GROUPS];

        if (p->quorum_none)
                return true;
        /* Groups only name members defined before them: one pass in order. */
        for (size_t g = 0; g < p->ngroups; g++) {
                unsigned have = 0;

                for (unsigned i = 0; i < p->group[g].n; i++) {
                        uint16_t r = p->group[g].member[i];

                        if ((r & POLICY_REF_GROUP) ? gok[r & ~POLICY_REF_GROUP] : ok[r])
                                have++;
                }
                gok[g] = have >= p->group[g].k;
        }
        if (p->quorum & POLICY_REF_GROUP)
                return gok[p->quorum & ~POLICY_REF_GROUP];
        return ok[p->quorum];
}

/* --- logs/v0 --- */

static void trim(const char **s, size_t *n) {
        while (*n > 0 && is_blank(**s)) {
                (*s)++;
                (*n)--;
        }
        while (*n > 0 && is_blank((*s)[*n - 1]))
                (*n)--;
}

/* "<key> <value>" with a non-empty value; false otherwise. */
static bool keyed(const char *s, size_t n, const char *key, const char **v, size_t *vn) {
        size_t kl = strlen(key);

        if (n <= kl + 1 || memcmp(s, key, kl) != 0 || !is_blank(s[kl]))
                return false;
        *v = s + kl + 1;
        *vn = n - kl - 1;
        trim(v, vn);
        return *vn > 0;
}

enum ll_state { LL_HEADER, LL_VKEY, LL_ORIGIN_OR_QPD, LL_QPD, LL_CONTACT };

int loglist_parse(const char *text, size_t len, struct loglist_entry **out, size_t *n, char *err,
                  size_t errlen) {
        const char *p = text, *end;
        enum ll_state st = LL_HEADER;
        struct loglist_entry *v = NULL, *e = NULL;
        size_t cnt = 0;
        unsigned ln = 0;
        char q[128];
        int rc = GH_E_MALFORMED;

        *out = NULL;
        *n = 0;
        if (text == NULL || len > LOGLIST_MAX_LOGS * 1024u) {
                errf(err, errlen, "log list: missing or over %u bytes", LOGLIST_MAX_LOGS * 1024u);
                return GH_E_TOO_LARGE;
        }
        end = text + len;
        while (p < end) {
                const char *eol = memchr(p, '\n', (size_t)(end - p)), *s = p, *val;
                size_t sn = eol ? (size_t)(eol - p) : (size_t)(end - p), vn;
                uint64_t qpd;

                ln++;
                p = eol ? eol + 1 : end;
                for (size_t j = 0; j < sn; j++)
                        if (s[j] == '\0' || s[j] == '\r') {
                                errf(err, errlen, "log list line %u: NUL or CR byte", ln);
                                goto fail;
                        }
                trim(&s, &sn);
                if (sn == 0 || s[0] == '#')
                        continue;
                if (sn > POLICY_LINE_MAX) {
                        errf(err, errlen, "log list line %u: too long", ln);
                        goto fail;
                }
                switch (st) {
                case LL_HEADER:
                        if (sn != 7 || memcmp(s, "logs/v0", 7) != 0) {
                                errf(err, errlen, "log list line %u: want the header 'logs/v0', got '%s'",
                                     ln, quote(s, sn, q, sizeof q));
                                goto fail;
                        }
                        st = LL_VKEY;
                        break;
                case LL_VKEY:
                        if (!keyed(s, sn, "vkey", &val, &vn)) {
                                errf(err, errlen, "log list line %u: want 'vkey VKEY', got '%s'", ln,
                                     quote(s, sn, q, sizeof q));
                                goto fail;
                        }
                        if (cnt == LOGLIST_MAX_LOGS) {
                                errf(err, errlen, "log list line %u: more than %u logs", ln,
                                     LOGLIST_MAX_LOGS);
                                rc = GH_E_TOO_LARGE;
                                goto fail;
                        }
                        if (cnt % 64 == 0) {
                                struct loglist_entry *nv = realloc(v, (cnt + 64) * sizeof(*v));

                                if (nv == NULL) {
                                        rc = -ENOMEM;
                                        goto fail;
                                }
                                v = nv;
                        }
                        e = &v[cnt];
                        memset(e, 0, sizeof(*e));
                        if (vkey_parse(val, vn, &e->key) != 0) {
                                errf(err, errlen,
                                     "log list line %u: bad vkey '%s' (want an Ed25519 key, type 0x01)",
                                     ln, quote(val, vn, q, sizeof q));
                                goto fail;
                        }
                        memcpy(e->origin, e->key.name, sizeof(e->origin));
                        st = LL_ORIGIN_OR_QPD;
                        break;
                case LL_ORIGIN_OR_QPD:
                        if (keyed(s, sn, "origin", &val, &vn)) {
                                if (!note_name_valid(val, vn)) {
                                        errf(err, errlen, "log list line %u: bad origin '%s'", ln,
                                             quote(val, vn, q, sizeof q));
                                        goto fail;
                                }
                                memset(e->origin, 0, sizeof(e->origin));
                                memcpy(e->origin, val, vn);
                                st = LL_QPD;
                                break;
                        }
                        goto qpd; /* no origin line: this is the qpd line */
                case LL_QPD:
                qpd:
                        if (!keyed(s, sn, "qpd", &val, &vn) ||
                            !parse_u64_max(val, vn, INT32_MAX, &qpd) || qpd == 0) {
                                errf(err, errlen,
                                     "log list line %u: want 'qpd N' with N in 1..2147483647, got '%s'",
                                     ln, quote(s, sn, q, sizeof q));
                                goto fail;
                        }
                        e->qpd = (uint32_t)qpd;
                        st = LL_CONTACT;
                        break;
                case LL_CONTACT:
                        if (!keyed(s, sn, "contact", &val, &vn) || vn > LOGLIST_CONTACT_MAX) {
                                errf(err, errlen, "log list line %u: want 'contact TEXT', got '%s'",
                                     ln, quote(s, sn, q, sizeof q));
                                goto fail;
                        }
                        memcpy(e->contact, val, vn);
                        for (size_t i = 0; i < cnt; i++)
                                if (strcmp(v[i].origin, e->origin) == 0) {
                                        errf(err, errlen, "log list line %u: origin '%s' listed twice",
                                             ln, quote(e->origin, strlen(e->origin), q, sizeof q));
                                        goto fail;
                                }
                        cnt++;
                        st = LL_VKEY;
                        break;
                }
        }
        if (st == LL_HEADER) {
                errf(err, errlen, "log list: no 'logs/v0' header");
                goto fail;
        }
        if (st != LL_VKEY) {
                errf(err, errlen, "log list: the last log entry is incomplete");
                goto fail;
        }
        *out = v;
        *n = cnt;
        return 0;
fail:
        free(v);
        return rc;
}
