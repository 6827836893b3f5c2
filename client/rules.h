/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The rules file of `gpuhours check` (gpuhours(1) "RULES FILE"): one rule a
 * line, '#' to the end of the line is a comment, words separated by spaces
 * or tabs. Pure parser: no I/O, no clock (the caller passes now for
 * relative times).
 *
 *   pause FROM TO [max-busy PCT]
 *   cap gpu-hours N [per day|week|month] [from FROM] [to TO]
 *   cap flop N [per day|week|month] [from FROM] [to TO]
 *   concurrency N [for DURATION]
 *   coverage PCT
 *   peak MODEL-SUBSTRING FLOPS
 */

#define RULES_FILE_MAX (1u << 20) /* bytes */
#define RULES_LINE_MAX 1024u      /* bytes per line, without the newline */
#define RULES_MAX 1000u           /* rules (peak lines included) */
#define RULES_MODEL_MAX 64u       /* bytes of a peak MODEL-SUBSTRING */
#define RULES_DURATION_MAX_S (366ull * 86400)
#define RULES_N_MAX 1e40 /* N and FLOPS: finite, at most this */

enum rule_kind {
        RULE_PAUSE,
        RULE_CAP_GPU_HOURS,
        RULE_CAP_FLOP,
        RULE_CONCURRENCY,
        RULE_COVERAGE,
        RULE_PEAK,
};

enum rule_per { PER_NONE, PER_DAY, PER_WEEK, PER_MONTH };

struct rule {
        enum rule_kind kind;
        unsigned line;                  /* 1-based */
        char text[RULES_LINE_MAX + 1];  /* the rule as written, comment and outer blanks cut */
        uint64_t from_ns, to_ns;        /* 0: the audited interval's start / end */
        double pct;                     /* pause max-busy (default 1), coverage */
        double n;                       /* cap N, concurrency N, peak FLOPS */
        enum rule_per per;              /* cap */
        uint64_t for_ns;                /* concurrency DURATION (default 1 h) */
        char model[RULES_MODEL_MAX + 1]; /* peak */
};

struct rules {
        struct rule *r; /* malloc'd, file order */
        size_t n;
};

/*
 * Parse exactly len bytes of a rules file named fname (for messages) into
 * out (zeroed by the caller); now_ns resolves relative times (-2h). 0,
 * -ENOMEM, or GH_E_MALFORMED / GH_E_TOO_LARGE with one line
 * "FNAME:LINE: reason" in err quoting the bad word. On failure out is empty.
 * A file without any rule but peak lines is an error.
 */
int rules_parse(const char *buf, size_t len, const char *fname, uint64_t now_ns,
                struct rules *out, char *err, size_t errlen);
/* Read (at most RULES_FILE_MAX bytes) and parse; errors as rules_parse, -errno. */
int rules_load(const char *path, uint64_t now_ns, struct rules *out, char *err, size_t errlen);
void rules_free(struct rules *r);

/* "pause", "cap gpu-hours", … */
const char *rule_kind_name(enum rule_kind k);

/* Strict number forms of the grammar (exposed for tests). */
bool rules_parse_number(const char *s, size_t len, double *out); /* 12, 1.5, 1e25, 2.5E+3 */
bool rules_parse_pct(const char *s, size_t len, double *out);    /* NUMBER[%], 0..100 */
bool rules_parse_duration(const char *s, size_t len, uint64_t *out_ns); /* 90s 30m 2h 7d */
