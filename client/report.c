/* SPDX-License-Identifier: MIT */
/* Rendering of GPU-hour buckets as a table, CSV or JSON (see report.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "report.h"
#include "text.h"

#define NS_PER_S 1000000000ull
#define NCOLS 8      /* gpu, start, end, busy, occupied, energy, coverage, gap */
#define CELL_MAX 400 /* %.6f of any double fits */

static const char *const by_names[] = {
        [BY_HOUR] = "hour", [BY_DAY] = "day", [BY_MONTH] = "month", [BY_GPU] = "gpu"};
static const char *const fmt_names[] = {
        [FMT_TABLE] = "table", [FMT_CSV] = "csv", [FMT_JSON] = "json"};

const char *report_by_name(enum report_by by) {
        return (unsigned)by < sizeof(by_names) / sizeof(by_names[0]) ? by_names[by] : "unknown";
}

bool report_by_from_name(const char *s, enum report_by *out) {
        for (size_t i = 0; i < sizeof(by_names) / sizeof(by_names[0]); i++)
                if (s && strcmp(s, by_names[i]) == 0) {
                        *out = (enum report_by)i;
                        return true;
                }
        return false;
}

const char *report_format_name(enum report_format fmt) {
        return (unsigned)fmt < sizeof(fmt_names) / sizeof(fmt_names[0]) ? fmt_names[fmt]
                                                                        : "unknown";
}

bool report_format_from_name(const char *s, enum report_format *out) {
        for (size_t i = 0; i < sizeof(fmt_names) / sizeof(fmt_names[0]); i++)
                if (s && strcmp(s, fmt_names[i]) == 0) {
                        *out = (enum report_format)i;
                        return true;
                }
        return false;
}

/* ISO 8601 UTC (proto/text.h); with milliseconds when always_ms or when they are not .000. */
static void time_iso(uint64_t ns, bool always_ms, char *buf, size_t size) {
        time_format_iso(ns, always_ms || ns % NS_PER_S >= 1000000u, buf, size);
}

void report_time_iso(uint64_t ns, char *buf, size_t size) {
        time_iso(ns, false, buf, size);
}

/* Printable ASCII copy of a GPU UUID ('?' for anything else). */
static void safe_text(const char *s, size_t max, char *out, size_t outsz) {
        size_t i = 0;

        for (; i < max && i + 1 < outsz && s[i]; i++)
                out[i] = s[i] >= 0x20 && s[i] <= 0x7e ? s[i] : '?';
        out[i] = '\0';
}

struct totals {
        double busy, occupied, energy, coverage, gap, observed, hidden;
};

static struct totals totals_of(const struct analysis *an, const struct bucket *b, size_t n,
                               enum report_by by) {
        struct totals t = {0};
        double cov = 0;

        for (size_t i = 0; i < n; i++) {
                t.busy += b[i].busy_gpu_hours;
                t.occupied += b[i].occupied_gpu_hours;
                t.energy += b[i].energy_kwh;
                t.gap += b[i].gap_seconds;
                t.observed += b[i].observed_seconds;
                t.hidden += b[i].hidden_gpu_seconds;
                cov += b[i].coverage_pct;
        }
        if (by == BY_GPU) {
                /* every GPU has the same interval: the mean is the overall share */
                t.coverage = n ? cov / (double)n : 0.0;
        } else {
                double iv = an->observed_seconds + an->gap_seconds;
                t.busy = an->busy_gpu_seconds / 3600.0;
                t.occupied = an->occupied_gpu_seconds / 3600.0;
                t.energy = an->energy_joules / 3.6e6;
                t.gap = an->gap_seconds;
                t.observed = an->observed_seconds;
                t.hidden = an->hidden_gpu_seconds;
                t.coverage = iv > 0 ? 100.0 * an->observed_seconds / iv : 0.0;
        }
        return t;
}

void report_totals_add(struct report_totals *acc, const struct analysis *an,
                       const struct bucket *b, size_t n, enum report_by by) {
        struct totals t = totals_of(an, b, n, by);

        acc->sources++;
        acc->busy_gpu_hours += t.busy;
        acc->occupied_gpu_hours += t.occupied;
        acc->energy_kwh += t.energy;
        acc->gap_seconds += t.gap;
        acc->observed_seconds += t.observed;
}

int report_write_total_table(FILE *f, const struct report_totals *t) {
        double iv = t->observed_seconds + t->gap_seconds;
        double cov = iv > 0 ? 100.0 * t->observed_seconds / iv : 0.0;

        fprintf(f, "\n# total (%zu source%s)\n", t->sources, t->sources == 1 ? "" : "s");
        fprintf(f, "%10s  %14s  %10s  %10s  %s\n", "busy GPU-h", "occupied GPU-h", "energy kWh",
                "coverage %", "gap s");
        fprintf(f, "%10.3f  %14.3f  %10.3f  %10.2f  %.3f\n", t->busy_gpu_hours,
                t->occupied_gpu_hours, t->energy_kwh, cov, t->gap_seconds);
        return fflush(f) != 0 || ferror(f) ? -EIO : 0;
}

/* Cells of one row; cells[0] = gpu (BY_GPU only). */
static void row_cells(const struct bucket *b, enum report_by by, bool csv,
                      char cells[NCOLS][CELL_MAX]) {
        if (by == BY_GPU) {
                char g[CELL_MAX];
                safe_text(b->gpu_uuid, REC_UUID_MAX, g, sizeof(g));
                snprintf(cells[0], CELL_MAX, "%s", g);
        } else {
                cells[0][0] = '\0';
        }
        report_time_iso(b->start_ns, cells[1], CELL_MAX);
        report_time_iso(b->end_ns, cells[2], CELL_MAX);
        snprintf(cells[3], CELL_MAX, csv ? "%.6f" : "%.3f", b->busy_gpu_hours);
        snprintf(cells[4], CELL_MAX, csv ? "%.6f" : "%.3f", b->occupied_gpu_hours);
        snprintf(cells[5], CELL_MAX, csv ? "%.6f" : "%.3f", b->energy_kwh);
        snprintf(cells[6], CELL_MAX, csv ? "%.4f" : "%.2f", b->coverage_pct);
        snprintf(cells[7], CELL_MAX, "%.3f", b->gap_seconds);
}

static const char *const table_head[NCOLS] = {"gpu",        "start (UTC)",    "end (UTC)",
                                              "busy GPU-h", "occupied GPU-h", "energy kWh",
                                              "coverage %", "gap s"};
static const char *const csv_head[NCOLS] = {
        "gpu",        "start",        "end",        "busy_gpu_hours", "occupied_gpu_hours",
        "energy_kwh", "coverage_pct", "gap_seconds"};

static void table_line(FILE *f, char cells[NCOLS][CELL_MAX], const size_t w[NCOLS], size_t c0) {
        for (size_t c = c0; c < NCOLS; c++) {
                if (c <= 2)
                        fprintf(f, "%s%-*s", c == c0 ? "" : "  ", (int)w[c], cells[c]);
                else
                        fprintf(f, "  %*s", (int)w[c], cells[c]);
        }
        fputc('\n', f);
}

static int write_table(FILE *f, const struct analysis *an, const struct bucket *b, size_t n,
                       enum report_by by) {
        size_t c0 = by == BY_GPU ? 0 : 1, w[NCOLS];
        char cells[NCOLS][CELL_MAX];
        struct totals t = totals_of(an, b, n, by);

        for (size_t c = 0; c < NCOLS; c++)
                w[c] = strlen(table_head[c]);
        for (size_t i = 0; i < n; i++) {
                row_cells(&b[i], by, false, cells);
                for (size_t c = 0; c < NCOLS; c++)
                        if (strlen(cells[c]) > w[c])
                                w[c] = strlen(cells[c]);
        }
        for (size_t c = 0; c < NCOLS; c++)
                snprintf(cells[c], CELL_MAX, "%s", table_head[c]);
        table_line(f, cells, w, c0);
        for (size_t i = 0; i < n; i++) {
                row_cells(&b[i], by, false, cells);
                table_line(f, cells, w, c0);
        }
        memset(cells, 0, sizeof(cells));
        snprintf(cells[c0], CELL_MAX, "total");
        if (by == BY_GPU) {
                report_time_iso(an->first_ns, cells[1], CELL_MAX);
                report_time_iso(an->last_ns, cells[2], CELL_MAX);
        }
        snprintf(cells[3], CELL_MAX, "%.3f", t.busy);
        snprintf(cells[4], CELL_MAX, "%.3f", t.occupied);
        snprintf(cells[5], CELL_MAX, "%.3f", t.energy);
        snprintf(cells[6], CELL_MAX, "%.2f", t.coverage);
        snprintf(cells[7], CELL_MAX, "%.3f", t.gap);
        table_line(f, cells, w, c0);
        return 0;
}

/* One CSV field: quoted when needed, apostrophe before a formula lead. */
static void csv_field(FILE *f, const char *s, bool first) {
        bool quote = strpbrk(s, ",\"\r\n") != NULL;
        bool formula = s[0] == '=' || s[0] == '+' || s[0] == '@' ||
                       (s[0] == '-' && !(s[1] >= '0' && s[1] <= '9'));

        if (!first)
                fputc(',', f);
        if (quote)
                fputc('"', f);
        if (formula)
                fputc('\'', f);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', f);
                fputc(*s, f);
        }
        if (quote)
                fputc('"', f);
}

/* origin NULL: no origin column; header false: rows only (a further source). */
static int write_csv(FILE *f, const char *origin, const struct bucket *b, size_t n,
                     enum report_by by, bool header) {
        size_t c0 = by == BY_GPU ? 0 : 1;
        char cells[NCOLS][CELL_MAX];

        if (header) {
                if (origin)
                        csv_field(f, "origin", true);
                for (size_t c = c0; c < NCOLS; c++)
                        csv_field(f, csv_head[c], c == c0 && !origin);
                fputs("\r\n", f);
        }
        for (size_t i = 0; i < n; i++) {
                row_cells(&b[i], by, true, cells);
                if (origin)
                        csv_field(f, origin, true);
                for (size_t c = c0; c < NCOLS; c++)
                        csv_field(f, cells[c], c == c0 && !origin);
                fputs("\r\n", f);
        }
        return 0;
}

int report_write_csv(FILE *f, const char *origin, const struct bucket *b, size_t n,
                     enum report_by by, bool header) {
        if ((unsigned)by > BY_GPU || !origin)
                return -EINVAL;
        write_csv(f, origin, b, n, by, header);
        return fflush(f) != 0 || ferror(f) ? -EIO : 0;
}

/* json_object_set_new that reports failure (jansson steals the value either way). */
static int jset(json_t *o, const char *key, json_t *v) {
        return v && json_object_set_new(o, key, v) == 0 ? 0 : -ENOMEM;
}

/* JSON instants always carry milliseconds (proto/JSON.md, as every JSON time). */
static json_t *jtime(uint64_t ns) {
        char buf[40];

        time_format_iso(ns, true, buf, sizeof(buf));
        return json_string(buf);
}

json_t *report_buckets_json(const struct bucket *b, size_t n, enum report_by by) {
        json_t *arr = json_array();
        int r = arr ? 0 : -ENOMEM;

        for (size_t i = 0; i < n && r == 0; i++) {
                json_t *o = json_object();

                if (!o || json_array_append_new(arr, o) != 0) {
                        r = -ENOMEM;
                        break;
                }
                r |= jset(o, "start", jtime(b[i].start_ns));
                r |= jset(o, "end", jtime(b[i].end_ns));
                if (by == BY_GPU) {
                        char g[3 * REC_UUID_MAX + 3];
                        quote_bytes(b[i].gpu_uuid, strnlen(b[i].gpu_uuid, REC_UUID_MAX), g,
                                    sizeof(g));
                        r |= jset(o, "gpu", json_string(g));
                }
                r |= jset(o, "busy_gpu_hours", json_real(b[i].busy_gpu_hours));
                r |= jset(o, "occupied_gpu_hours", json_real(b[i].occupied_gpu_hours));
                r |= jset(o, "energy_kwh", json_real(b[i].energy_kwh));
                r |= jset(o, "coverage_pct", json_real(b[i].coverage_pct));
                r |= jset(o, "gap_seconds", json_real(b[i].gap_seconds));
                r |= jset(o, "observed_seconds", json_real(b[i].observed_seconds));
                r |= jset(o, "unobserved_seconds", json_real(b[i].gap_seconds));
                if (by == BY_GPU)
                        r |= jset(o, "hidden_gpu_seconds", json_real(b[i].hidden_gpu_seconds));
        }
        if (r != 0) {
                json_decref(arr);
                return NULL;
        }
        return arr;
}

int report_write(FILE *f, const struct analysis *an, const struct bucket *b, size_t n,
                 enum report_by by, enum report_format fmt) {
        int r;

        if ((unsigned)by > BY_GPU)
                return -EINVAL;
        switch (fmt) {
        case FMT_TABLE:
                r = write_table(f, an, b, n, by);
                break;
        case FMT_CSV:
                r = write_csv(f, NULL, b, n, by, true);
                break;
        default:
                return -EINVAL;
        }
        if (r == 0 && (fflush(f) != 0 || ferror(f)))
                r = -EIO;
        return r;
}
