/* SPDX-License-Identifier: MIT */
#include "rules.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "util.h"

#define WORDS_MAX 16

void rules_free(struct rules *r) {
        if (!r)
                return;
        free(r->r);
        r->r = NULL;
        r->n = 0;
}

const char *rule_kind_name(enum rule_kind k) {
        static const char *const names[] = {"pause",       "cap gpu-hours", "cap flop",
                                            "concurrency", "coverage",      "peak"};
        return (unsigned)k < ARRAY_SIZE(names) ? names[k] : "?";
}

static bool is_digit(char c) {
        return c >= '0' && c <= '9';
}

bool rules_parse_number(const char *s, size_t len, double *out) {
        /* DIGITS [. DIGITS] [(e|E) [+|-] DIGITS], nothing else. */
        size_t i = 0, d = 0;
        if (len == 0 || len > 64)
                return false;
        while (i < len && is_digit(s[i]))
                i++, d++;
        if (d == 0)
                return false;
        if (i < len && s[i] == '.') {
                i++;
                d = 0;
                while (i < len && is_digit(s[i]))
                        i++, d++;
                if (d == 0)
                        return false;
        }
        if (i < len && (s[i] == 'e' || s[i] == 'E')) {
                i++;
                if (i < len && (s[i] == '+' || s[i] == '-'))
                        i++;
                d = 0;
                while (i < len && is_digit(s[i]))
                        i++, d++;
                if (d == 0 || d > 3)
                        return false;
        }
        if (i != len)
                return false;
        char tmp[65];
        memcpy(tmp, s, len);
        tmp[len] = '\0';
        errno = 0;
        double v = strtod(tmp, NULL);
        if (errno == ERANGE && v != 0)
                return false;
        if (!isfinite(v) || v < 0 || v > RULES_N_MAX)
                return false;
        *out = v;
        return true;
}

bool rules_parse_pct(const char *s, size_t len, double *out) {
        if (len > 0 && s[len - 1] == '%')
                len--;
        double v;
        if (!rules_parse_number(s, len, &v) || v > 100)
                return false;
        *out = v;
        return true;
}

bool rules_parse_duration(const char *s, size_t len, uint64_t *out_ns) {
        if (len < 2 || len > 12)
                return false;
        uint64_t unit;
        switch (s[len - 1]) {
        case 's':
                unit = 1;
                break;
        case 'm':
                unit = 60;
                break;
        case 'h':
                unit = 3600;
                break;
        case 'd':
                unit = 86400;
                break;
        default:
                return false;
        }
        uint64_t v;
        if (!parse_u64(s, len - 1, &v) || v == 0 || v > RULES_DURATION_MAX_S / unit)
                return false;
        *out_ns = v * unit * NS_PER_SEC;
        return true;
}

struct word {
        const char *p;
        size_t n;
};

static bool word_is(const struct word *w, const char *s) {
        return w->n == strlen(s) && memcmp(w->p, s, w->n) == 0;
}

struct ctx {
        const char *fname;
        unsigned line;
        char *err;
        size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(const struct ctx *c, const char *fmt, ...) {
        char msg[600];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof(msg), fmt, ap);
        va_end(ap);
        char qf[200];
        quote_bytes(c->fname, strlen(c->fname), qf, sizeof(qf));
        if (c->line)
                snprintf(c->err, c->errlen, "%s:%u: %s", qf, c->line, msg);
        else
                snprintf(c->err, c->errlen, "%s: %s", qf, msg);
        return GH_E_MALFORMED;
}

static void q(const struct word *w, char *out, size_t cap) {
        quote_bytes(w->p, w->n, out, cap);
}

static int parse_time(const struct ctx *c, const struct word *w, uint64_t now, const char *what,
                      uint64_t *out) {
        char tmp[80], qs[100];
        q(w, qs, sizeof(qs));
        if (w->n >= sizeof(tmp))
                return fail(c, "%s '%s': expected 2026-11-26T12:00:00Z, 2026-11-26 or -2h/-30m/-7d",
                            what, qs);
        memcpy(tmp, w->p, w->n);
        tmp[w->n] = '\0';
        if (!time_parse_arg(tmp, now, out) || *out == 0)
                return fail(c, "%s '%s': expected 2026-11-26T12:00:00Z, 2026-11-26 or -2h/-30m/-7d",
                            what, qs);
        return 0;
}

static int need(const struct ctx *c, size_t nw, size_t i, const char *what, const char *form) {
        if (i < nw)
                return 0;
        return fail(c, "missing %s (expected: %s)", what, form);
}

static const char form_pause[] = "pause FROM TO [max-busy PCT]";
static const char form_cap[] = "cap gpu-hours|flop N [per day|week|month] [from FROM] [to TO]";
static const char form_conc[] = "concurrency N [for DURATION]";
static const char form_cov[] = "coverage PCT";
static const char form_peak[] = "peak MODEL-SUBSTRING FLOPS";

static int bad_word(const struct ctx *c, const struct word *w, const char *form) {
        char qs[100];
        q(w, qs, sizeof(qs));
        return fail(c, "unexpected '%s' (expected: %s)", qs, form);
}

static int parse_rule(const struct ctx *c, const struct word *w, size_t nw, uint64_t now,
                      struct rule *r) {
        char qs[100];
        size_t i;
        int e;
        if (word_is(&w[0], "pause")) {
                r->kind = RULE_PAUSE;
                r->pct = 1;
                if ((e = need(c, nw, 2, "FROM and TO", form_pause)) != 0 ||
                    (e = parse_time(c, &w[1], now, "FROM", &r->from_ns)) != 0 ||
                    (e = parse_time(c, &w[2], now, "TO", &r->to_ns)) != 0)
                        return e;
                if (r->from_ns >= r->to_ns)
                        return fail(c, "pause: FROM must be before TO");
                i = 3;
                if (i < nw && word_is(&w[i], "max-busy")) {
                        if ((e = need(c, nw, i + 1, "PCT after max-busy", form_pause)) != 0)
                                return e;
                        if (!rules_parse_pct(w[i + 1].p, w[i + 1].n, &r->pct)) {
                                q(&w[i + 1], qs, sizeof(qs));
                                return fail(c, "max-busy '%s': expected a percentage 0..100",
                                            qs);
                        }
                        i += 2;
                }
                return i < nw ? bad_word(c, &w[i], form_pause) : 0;
        }
        if (word_is(&w[0], "cap")) {
                if ((e = need(c, nw, 2, "a quantity and N", form_cap)) != 0)
                        return e;
                if (word_is(&w[1], "gpu-hours"))
                        r->kind = RULE_CAP_GPU_HOURS;
                else if (word_is(&w[1], "flop"))
                        r->kind = RULE_CAP_FLOP;
                else {
                        q(&w[1], qs, sizeof(qs));
                        return fail(c, "cap '%s': expected gpu-hours or flop", qs);
                }
                if ((e = need(c, nw, 2, "N", form_cap)) != 0)
                        return e;
                if (!rules_parse_number(w[2].p, w[2].n, &r->n)) {
                        q(&w[2], qs, sizeof(qs));
                        return fail(c, "cap N '%s': expected a number (1000, 2.5, 1e25)", qs);
                }
                bool have_per = false, have_from = false, have_to = false;
                for (i = 3; i < nw; i += 2) {
                        if (word_is(&w[i], "per") && !have_per) {
                                if ((e = need(c, nw, i + 1, "day, week or month after per",
                                              form_cap)) != 0)
                                        return e;
                                if (word_is(&w[i + 1], "day"))
                                        r->per = PER_DAY;
                                else if (word_is(&w[i + 1], "week"))
                                        r->per = PER_WEEK;
                                else if (word_is(&w[i + 1], "month"))
                                        r->per = PER_MONTH;
                                else {
                                        q(&w[i + 1], qs, sizeof(qs));
                                        return fail(c, "per '%s': expected day, week or month",
                                                    qs);
                                }
                                have_per = true;
                        } else if (word_is(&w[i], "from") && !have_from) {
                                if ((e = need(c, nw, i + 1, "FROM after from", form_cap)) != 0 ||
                                    (e = parse_time(c, &w[i + 1], now, "from", &r->from_ns)) != 0)
                                        return e;
                                have_from = true;
                        } else if (word_is(&w[i], "to") && !have_to) {
                                if ((e = need(c, nw, i + 1, "TO after to", form_cap)) != 0 ||
                                    (e = parse_time(c, &w[i + 1], now, "to", &r->to_ns)) != 0)
                                        return e;
                                have_to = true;
                        } else {
                                return bad_word(c, &w[i], form_cap);
                        }
                }
                if (have_from && have_to && r->from_ns >= r->to_ns)
                        return fail(c, "cap: from must be before to");
                return 0;
        }
        if (word_is(&w[0], "concurrency")) {
                r->kind = RULE_CONCURRENCY;
                r->for_ns = 3600 * NS_PER_SEC;
                if ((e = need(c, nw, 1, "N", form_conc)) != 0)
                        return e;
                uint64_t v;
                if (!parse_u64(w[1].p, w[1].n, &v) || v > 1000000) {
                        q(&w[1], qs, sizeof(qs));
                        return fail(c, "concurrency N '%s': expected a whole number of GPUs "
                                       "0..1000000",
                                    qs);
                }
                r->n = (double)v;
                i = 2;
                if (i < nw && word_is(&w[i], "for")) {
                        if ((e = need(c, nw, i + 1, "DURATION after for", form_conc)) != 0)
                                return e;
                        if (!rules_parse_duration(w[i + 1].p, w[i + 1].n, &r->for_ns)) {
                                q(&w[i + 1], qs, sizeof(qs));
                                return fail(c, "for '%s': expected a duration (90s, 30m, 2h, "
                                               "7d)",
                                            qs);
                        }
                        i += 2;
                }
                return i < nw ? bad_word(c, &w[i], form_conc) : 0;
        }
        if (word_is(&w[0], "coverage")) {
                r->kind = RULE_COVERAGE;
                if ((e = need(c, nw, 1, "PCT", form_cov)) != 0)
                        return e;
                if (!rules_parse_pct(w[1].p, w[1].n, &r->pct)) {
                        q(&w[1], qs, sizeof(qs));
                        return fail(c, "coverage '%s': expected a percentage 0..100", qs);
                }
                return nw > 2 ? bad_word(c, &w[2], form_cov) : 0;
        }
        if (word_is(&w[0], "peak")) {
                r->kind = RULE_PEAK;
                if ((e = need(c, nw, 2, "MODEL-SUBSTRING and FLOPS", form_peak)) != 0)
                        return e;
                if (w[1].n > RULES_MODEL_MAX) {
                        q(&w[1], qs, sizeof(qs));
                        return fail(c, "peak model '%s': longer than %u bytes", qs,
                                    RULES_MODEL_MAX);
                }
                for (size_t k = 0; k < w[1].n; k++)
                        if ((unsigned char)w[1].p[k] < 0x21 || (unsigned char)w[1].p[k] > 0x7e) {
                                q(&w[1], qs, sizeof(qs));
                                return fail(c, "peak model '%s': printable ASCII only", qs);
                        }
                memcpy(r->model, w[1].p, w[1].n);
                r->model[w[1].n] = '\0';
                if (!rules_parse_number(w[2].p, w[2].n, &r->n) || r->n <= 0) {
                        q(&w[2], qs, sizeof(qs));
                        return fail(c, "peak FLOPS '%s': expected a number above 0 (9.89e14)",
                                    qs);
                }
                return nw > 3 ? bad_word(c, &w[3], form_peak) : 0;
        }
        q(&w[0], qs, sizeof(qs));
        return fail(c, "unknown rule '%s' (expected pause, cap, concurrency, coverage or peak)",
                    qs);
}

static int parse_line(const struct ctx *c, const char *p, size_t n, uint64_t now,
                      struct rules *out, size_t *cap) {
        struct word w[WORDS_MAX];
        size_t nw = 0, i = 0, first = 0, last = 0;
        while (i < n) {
                while (i < n && (p[i] == ' ' || p[i] == '\t'))
                        i++;
                if (i >= n || p[i] == '#')
                        break;
                size_t s = i;
                while (i < n && p[i] != ' ' && p[i] != '\t' && p[i] != '#')
                        i++;
                if (nw == WORDS_MAX)
                        return fail(c, "more than %u words", WORDS_MAX);
                if (nw == 0)
                        first = s;
                last = i;
                w[nw++] = (struct word){p + s, i - s};
        }
        if (nw == 0)
                return 0;
        for (size_t k = first; k < last; k++)
                if ((unsigned char)p[k] < 0x20 && p[k] != '\t')
                        return fail(c, "control character in the line");
                else if ((unsigned char)p[k] >= 0x7f)
                        return fail(c, "non-ASCII byte in the line");
        if (out->n >= RULES_MAX) {
                fail(c, "more than %u rules", RULES_MAX);
                return GH_E_TOO_LARGE;
        }
        if (out->n == *cap) {
                size_t nc = *cap ? *cap * 2 : 8;
                struct rule *nr = realloc(out->r, nc * sizeof(*nr));
                if (!nr)
                        return -ENOMEM;
                out->r = nr;
                *cap = nc;
        }
        struct rule *r = &out->r[out->n];
        memset(r, 0, sizeof(*r));
        int e = parse_rule(c, w, nw, now, r);
        if (e != 0)
                return e;
        r->line = c->line;
        memcpy(r->text, p + first, last - first);
        r->text[last - first] = '\0';
        out->n++;
        return 0;
}

int rules_parse(const char *buf, size_t len, const char *fname, uint64_t now_ns,
                struct rules *out, char *err, size_t errlen) {
        struct rules rs = {0};
        size_t cap = 0;
        struct ctx c = {fname, 0, err, errlen};
        int r = 0;
        if (len > RULES_FILE_MAX) {
                fail(&c, "larger than %u bytes", RULES_FILE_MAX);
                return GH_E_TOO_LARGE;
        }
        size_t pos = 0;
        const char *p;
        size_t n;
        while (r == 0 && text_next_line(buf, len, &pos, &p, &n)) {
                c.line++;
                if (n > RULES_LINE_MAX) {
                        fail(&c, "line longer than %u bytes", RULES_LINE_MAX);
                        r = GH_E_TOO_LARGE;
                } else if (memchr(p, '\0', n)) {
                        r = fail(&c, "NUL byte in the line");
                } else {
                        r = parse_line(&c, p, n, now_ns, &rs, &cap);
                }
        }
        if (r == 0) {
                bool any = false;
                for (size_t i = 0; i < rs.n; i++)
                        any |= rs.r[i].kind != RULE_PEAK;
                if (!any) {
                        c.line = 0;
                        r = fail(&c, "no rule to check (only comments or peak lines)");
                }
        }
        if (r != 0) {
                if (r == -ENOMEM)
                        snprintf(err, errlen, "out of memory");
                rules_free(&rs);
                return r;
        }
        *out = rs;
        return 0;
}

int rules_load(const char *path, uint64_t now_ns, struct rules *out, char *err, size_t errlen) {
        char *buf = NULL;
        size_t len = 0;
        int r = read_file_capped(path, RULES_FILE_MAX, &buf, &len);
        if (r != 0) {
                char qp[200];
                quote_bytes(path, strlen(path), qp, sizeof(qp));
                if (r == -EFBIG) {
                        snprintf(err, errlen, "%s: larger than %u bytes", qp, RULES_FILE_MAX);
                        return GH_E_TOO_LARGE;
                }
                snprintf(err, errlen, "%s: %s", qp, strerror(-r));
                return r;
        }
        r = rules_parse(buf, len, path, now_ns, out, err, errlen);
        free(buf);
        return r;
}
