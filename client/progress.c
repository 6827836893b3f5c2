/* SPDX-License-Identifier: MIT */
#include "progress.h"

#include <stdio.h>

#include "util.h"

#define PROGRESS_REDRAW_NS 100000000ull

void progress_init(struct progress *p, size_t total, bool on) {
        *p = (struct progress){.on = on, .total = total, .start_ns = wall_now_ns()};
}

static void draw(struct progress *p, uint64_t now) {
        double secs = (double)(now - p->start_ns) / 1e9;
        unsigned width = 30, fill = p->total ? (unsigned)(width * p->done / p->total) : width;
        char bar[32];
        for (unsigned i = 0; i < width; i++)
                bar[i] = i < fill ? '#' : '.';
        bar[width] = '\0';
        fprintf(stderr, "\r\033[K[%s] %zu/%zu nodes, %llu records, %.0f records/s", bar, p->done,
                p->total, (unsigned long long)p->records,
                secs > 0 ? (double)p->records / secs : 0.0);
        p->drawn = true;
        p->drawn_ns = now;
}

void progress_add(struct progress *p, uint64_t records, size_t done) {
        p->records += records;
        p->done += done;
        if (!p->on)
                return;
        uint64_t now = wall_now_ns();
        if (now - p->drawn_ns >= PROGRESS_REDRAW_NS || p->done == p->total)
                draw(p, now);
}

void progress_end(struct progress *p) {
        if (p->on && p->drawn)
                fprintf(stderr, "\r\033[K");
        p->drawn = false;
}

void sources_summary_line(FILE *out, const struct source *srcs, size_t n) {
        size_t count[4] = {0};
        for (size_t i = 0; i < n; i++)
                count[srcs[i].status <= SRC_ERROR ? srcs[i].status : SRC_ERROR]++;
        fprintf(out,
                PROG ": %zu sources: %zu verified, %zu with findings, %zu failed integrity, "
                     "%zu unreachable or incomplete\n",
                n, count[SRC_OK], count[SRC_FINDINGS], count[SRC_FAILED], count[SRC_ERROR]);
}
