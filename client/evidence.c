/* SPDX-License-Identifier: MIT */
/*
 * The evidence for `gpuhours check` (check.h). Reads the records of each
 * verified source again, from the exact bytes that were verified (the online
 * transfer's bundle, or the bundle file re-read and re-checked against the
 * verified checkpoint's size and root), finds the fleet's audited interval,
 * and runs the analyzer over each source on that interval: its per-GPU
 * pieces (ANALYSIS.md section 10) are the only timeline the verdicts use.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "check.h"
#include "merkle.h"
#include "peaks.h"
#include "source.h"
#include "util.h"

void evidence_free(struct evidence *ev) {
        for (size_t i = 0; i < ev->ngpus; i++)
                free(ev->gpus[i].p);
        free(ev->gpus);
        free(ev->nodes);
        free(ev->conflicts);
        memset(ev, 0, sizeof(*ev));
}

static struct ev_gpu *gpu_new(struct evidence *ev, size_t node, const char *uuid) {
        if (ev->ngpus == ev->gcap) {
                size_t nc = ev->gcap ? ev->gcap * 2 : 16;
                struct ev_gpu *ng = realloc(ev->gpus, nc * sizeof(*ng));
                if (!ng)
                        return NULL;
                ev->gpus = ng;
                ev->gcap = nc;
        }
        struct ev_gpu *g = &ev->gpus[ev->ngpus++];
        memset(g, 0, sizeof(*g));
        snprintf(g->uuid, sizeof(g->uuid), "%s", uuid);
        g->node = node;
        return g;
}

/*
 * GPU names from START and INVENTORY records: every distinct name a UUID was
 * given (up to NAMES_PER_GPU; more is `many`). The name shown is the last
 * one; the peak is the largest over all of them, so a node that renames a
 * GPU to a slower model does not lower the FLOP bound of what it ran before.
 */
#define NAMES_PER_GPU 4
struct names {
        size_t n;
        char uuid[RECORD_MAX_GPUS][REC_UUID_MAX + 1];
        char name[RECORD_MAX_GPUS][NAMES_PER_GPU][REC_NAME_MAX + 1];
        unsigned nn[RECORD_MAX_GPUS], last[RECORD_MAX_GPUS];
        bool many[RECORD_MAX_GPUS];
};

static void name_gpus(struct names *nm, const struct gpu_info *gi, uint32_t n) {
        for (uint32_t i = 0; i < n && i < RECORD_MAX_GPUS; i++) {
                size_t k = 0;
                while (k < nm->n && strcmp(nm->uuid[k], gi[i].uuid) != 0)
                        k++;
                if (k == nm->n) {
                        if (nm->n == RECORD_MAX_GPUS)
                                continue;
                        nm->n++;
                        snprintf(nm->uuid[k], sizeof(nm->uuid[k]), "%s", gi[i].uuid);
                }
                unsigned m = 0;
                while (m < nm->nn[k] && strcmp(nm->name[k][m], gi[i].name) != 0)
                        m++;
                if (m == nm->nn[k]) {
                        if (m == NAMES_PER_GPU) {
                                nm->many[k] = true;
                                continue;
                        }
                        snprintf(nm->name[k][m], sizeof(nm->name[k][m]), "%s", gi[i].name);
                        nm->nn[k]++;
                }
                nm->last[k] = m;
        }
}

/*
 * g's name (the last one) and peak: the largest over its names; unknown when
 * any of its names has no known peak or it had more names than are kept.
 */
static void gpu_peak(const struct rules *rs, const struct names *nm, struct ev_gpu *g) {
        g->peak_known = false;
        for (size_t k = 0; k < nm->n; k++) {
                if (strcmp(nm->uuid[k], g->uuid) != 0)
                        continue;
                snprintf(g->name, sizeof(g->name), "%s", nm->name[k][nm->last[k]]);
                if (nm->many[k] || nm->nn[k] == 0)
                        return;
                for (unsigned m = 0; m < nm->nn[k]; m++) {
                        double f;
                        char src[sizeof(g->peak_source)];
                        if (!peak_lookup(rs, nm->name[k][m], &f, src, sizeof(src))) {
                                g->peak_known = false;
                                return;
                        }
                        if (m == 0 || f > g->peak_flops) {
                                g->peak_flops = f;
                                snprintf(g->peak_source, sizeof(g->peak_source), "%s", src);
                        }
                }
                g->peak_known = true;
                return;
        }
        /* no name recorded: as the tables say of an empty name */
        g->peak_known = peak_lookup(rs, g->name, &g->peak_flops, g->peak_source,
                                    sizeof(g->peak_source));
}

/* The verified bytes of s as a bundle view; *owned is a buffer to free. */
static int verified_bundle(const struct source *s, struct bundle_view *v, char **owned,
                           char *err, size_t errlen) {
        const uint8_t *p = s->bundle_data;
        size_t len = s->bundle_len;
        *owned = NULL;
        if (!s->is_url) {
                int r = read_file_capped(s->name, SOURCE_BUNDLE_MAX_BYTES, owned, &len);
                if (r != 0) {
                        snprintf(err, errlen, "cannot read the bundle again: %s", strerror(-r));
                        return r < 0 ? r : -EIO;
                }
                p = (const uint8_t *)*owned;
        }
        if (!p || bundle_parse(p, len, v) != 0 || v->count != s->cp.size ||
            v->note_len != s->note_len || memcmp(v->note, s->note, s->note_len) != 0) {
                snprintf(err, errlen, "the records changed after they were verified");
                return -EIO;
        }
        return 0;
}

/*
 * Pass over the verified records of s: with an (NULL in the first pass)
 * feed them to the analyzer and note GPU names; always re-check the Merkle
 * root and note the node's first and last record and smallest period.
 * 1 when the records are not the verified ones (nd->error says why).
 */
static int scan_node(struct ev_node *nd, const struct source *s, struct record *rec,
                     struct analyzer *an, struct names *nm) {
        struct bundle_view v;
        _cleanup_free_ char *owned = NULL;
        char err[512];
        if (verified_bundle(s, &v, &owned, err, sizeof(err)) != 0) {
                snprintf(nd->error, sizeof(nd->error), "%s", err);
                return 1;
        }
        struct merkle_border b;
        merkle_border_init(&b);
        struct reader rd;
        reader_init(&rd, v.records, v.records_len);
        for (uint64_t i = 0; i < v.count; i++) {
                const uint8_t *p;
                size_t len;
                merkle_hash h;
                if (record_frame_next(&rd, &p, &len) != 0 || record_decode(p, len, rec) != 0) {
                        snprintf(nd->error, sizeof(nd->error), "record %llu does not decode",
                                 (unsigned long long)i);
                        return 1;
                }
                merkle_leaf_hash(p, len, h);
                if (merkle_border_append(&b, h) != 0)
                        return -ENOMEM;
                if (i == 0 || rec->wall_ns < nd->first_ns)
                        nd->first_ns = rec->wall_ns;
                if (rec->wall_ns > nd->last_ns)
                        nd->last_ns = rec->wall_ns;
                if (rec->kind == REC_SUMMARY &&
                    (!nd->period_s || rec->u.summary.period_s < nd->period_s))
                        nd->period_s = rec->u.summary.period_s;
                if (!an)
                        continue;
                if (rec->kind == REC_START)
                        name_gpus(nm, rec->u.start.gpus, rec->u.start.gpu_count);
                else if (rec->kind == REC_INVENTORY)
                        name_gpus(nm, rec->u.inventory.gpus, rec->u.inventory.gpu_count);
                int r = analyzer_add(an, i, rec);
                if (r != 0)
                        return r;
        }
        merkle_hash root;
        merkle_border_root(&b, root);
        if (memcmp(root, s->cp.root, sizeof(root)) != 0) {
                snprintf(nd->error, sizeof(nd->error),
                         "the records changed after they were verified");
                return 1;
        }
        return 0;
}

/* rep: the source judged for s's origin (sources_judged_as). */
static int add_node(struct evidence *ev, const struct source *s, size_t rep, struct record *rec) {
        size_t i = ev->nnodes;
        struct ev_node *nd = &ev->nodes[ev->nnodes++];
        memset(nd, 0, sizeof(*nd));
        nd->name = s->name;
        nd->judged_as = i;
        snprintf(nd->origin, sizeof(nd->origin), "%s", s->cp.origin);
        if (s->status == SRC_ERROR || s->status == SRC_FAILED || !s->have_checkpoint) {
                nd->state = s->status == SRC_FAILED ? NODE_FAILED : NODE_MISSING;
                snprintf(nd->error, sizeof(nd->error), "%s", s->error);
                return 0;
        }
        nd->size = s->cp.size;
        if (rep != SIZE_MAX && rep != i) {
                /* one node shown twice: judged once, from the larger tree */
                nd->state = NODE_SAME_ORIGIN;
                nd->judged_as = rep;
                return 0;
        }
        int r = scan_node(nd, s, rec, NULL, NULL);
        if (r > 0)
                nd->state = NODE_MISSING;
        return r < 0 ? r : 0;
}

/*
 * The analyzer over node i on [A, B): its per-GPU pieces and totals. An
 * error finding (IMPLAUSIBLE) on this interval is an integrity failure.
 */
static int analyze_node(struct evidence *ev, size_t i, const struct source *s,
                        struct record *rec, const struct rules *rs) {
        struct ev_node *nd = &ev->nodes[i];
        struct analyze_opts o = {.since_ns = ev->start_ns, .until_ns = ev->end_ns};
        struct analyzer *an = analyzer_new(&o);
        struct analysis res;
        struct analyzer_pieces ap;
        struct names *nm = calloc(1, sizeof(*nm));
        int r = -ENOMEM;
        memset(&res, 0, sizeof(res));
        memset(&ap, 0, sizeof(ap));
        if (!an || !nm || analyzer_record_pieces(an) != 0)
                goto out;
        analyzer_pieces_anchor(an, ev->now_ns);
        r = scan_node(nd, s, rec, an, nm);
        if (r > 0) {
                nd->state = NODE_MISSING;
                r = 0;
                goto out;
        }
        if (r < 0 || (r = analyzer_finish(an, &res)) != 0 || (r = analyzer_pieces(an, &ap)) != 0)
                goto out;
        if (analysis_max_severity(&res) == SEV_ERROR) {
                nd->state = NODE_FAILED;
                for (size_t k = 0; k < res.nfindings; k++)
                        if (res.findings[k].severity == SEV_ERROR) {
                                snprintf(nd->error, sizeof(nd->error), "%s: %s",
                                         finding_kind_name(res.findings[k].kind),
                                         res.findings[k].detail);
                                break;
                        }
                goto out;
        }
        for (size_t k = 0; k < res.nfindings; k++)
                if (res.findings[k].kind == FIND_CLOCK_AHEAD && !nd->ahead) {
                        nd->ahead = true;
                        nd->ahead_ns = res.findings[k].start_ns;
                        nd->ahead_s = res.findings[k].step_seconds;
                }
        for (size_t k = 0; k < ap.ngpus; k++)
                if (ap.gpus[k].n > EV_PIECES_MAX - ev->npieces) {
                        r = -E2BIG;
                        goto out;
                } else {
                        ev->npieces += ap.gpus[k].n;
                }
        nd->overflow = ap.overflow;
        nd->interval_s = (double)res.interval_ms / 1e3;
        nd->observed_s = res.observed_seconds;
        nd->busy_s = res.busy_gpu_seconds;
        for (size_t k = 0; k < ap.ngpus; k++) {
                struct ev_gpu *g = gpu_new(ev, i, ap.gpus[k].uuid);
                if (!g) {
                        r = -ENOMEM;
                        goto out;
                }
                g->p = ap.gpus[k].p;
                g->np = ap.gpus[k].n;
                ap.gpus[k].p = NULL;
                g->interval_s = (double)res.interval_ms / 1e3;
                g->observed_s = (double)res.gpus[k].observed_ms / 1e3;
                g->unobserved_s = (double)res.gpus[k].gap_ms / 1e3;
                g->busy_s = res.gpus[k].busy_seconds;
                for (size_t m = 0; m < g->np; m++)
                        g->hidden_s += g->p[m].hidden_s;
                gpu_peak(rs, nm, g);
        }
out:
        analyzer_pieces_free(&ap);
        analysis_free(&res);
        analyzer_free(an);
        free(nm);
        return r;
}

/*
 * UUIDs compared as the same GPU (GPU_ON_TWO_NODES): letters and digits only,
 * letters in lower case, so that a node cannot dodge the check by spelling
 * another node's GPU "GPU-7ED7..." or without its hyphens (NVML's UUIDs are
 * hex digits in a fixed layout; no two GPUs differ in case or punctuation).
 */
static int uuid_canon_cmp(const char *a, const char *b) {
        for (;;) {
                while (*a && !isalnum((unsigned char)*a))
                        a++;
                while (*b && !isalnum((unsigned char)*b))
                        b++;
                int x = tolower((unsigned char)*a), y = tolower((unsigned char)*b);
                if (x != y || !x)
                        return x - y;
                a++;
                b++;
        }
}

static const struct evidence *sort_ev; /* qsort has no context argument in POSIX */
static int uuid_cmp(const void *a, const void *b) {
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        int c = uuid_canon_cmp(sort_ev->gpus[x].uuid, sort_ev->gpus[y].uuid);
        return c ? c : (x < y ? -1 : x > y);
}

/* The first instant two GPUs with one UUID on different nodes were both observed. */
static bool overlap(const struct ev_gpu *a, const struct ev_gpu *b, uint64_t *s, uint64_t *e) {
        for (size_t i = 0; i < a->np; i++) {
                const struct apiece *x = &a->p[i];
                if (!x->obs_ns)
                        continue;
                for (size_t j = 0; j < b->np; j++) {
                        const struct apiece *y = &b->p[j];
                        if (!y->obs_ns)
                                continue;
                        uint64_t lo = x->ws > y->ws ? x->ws : y->ws;
                        uint64_t hi = x->we < y->we ? x->we : y->we;
                        if (lo < hi && (!*s || lo < *s)) {
                                *s = lo;
                                *e = hi;
                        }
                }
        }
        return *s != 0;
}

static int find_conflicts(struct evidence *ev) {
        if (ev->ngpus < 2)
                return 0;
        size_t *idx = malloc(ev->ngpus * sizeof(*idx));
        if (!idx)
                return -ENOMEM;
        for (size_t i = 0; i < ev->ngpus; i++)
                idx[i] = i;
        sort_ev = ev;
        qsort(idx, ev->ngpus, sizeof(*idx), uuid_cmp);
        int r = 0;
        for (size_t i = 0; i + 1 < ev->ngpus && r == 0; i++) {
                for (size_t j = i + 1; j < ev->ngpus && r == 0; j++) {
                        const struct ev_gpu *a = &ev->gpus[idx[i]], *b = &ev->gpus[idx[j]];
                        if (uuid_canon_cmp(a->uuid, b->uuid) != 0)
                                break;
                        uint64_t s = 0, e = 0;
                        if (a->node == b->node || !overlap(a, b, &s, &e))
                                continue;
                        struct ev_conflict *nc =
                                realloc(ev->conflicts, (ev->nconflicts + 1) * sizeof(*nc));
                        if (!nc) {
                                r = -ENOMEM;
                                break;
                        }
                        ev->conflicts = nc;
                        nc[ev->nconflicts++] = (struct ev_conflict){idx[i], idx[j], s, e};
                }
        }
        free(idx);
        return r;
}

int evidence_build(struct evidence *ev, const struct source *srcs, size_t n, uint64_t since_ns,
                   uint64_t until_ns, uint64_t now_ns, const struct rules *rs) {
        memset(ev, 0, sizeof(*ev));
        ev->now_ns = now_ns;
        ev->nodes = calloc(n ? n : 1, sizeof(*ev->nodes));
        struct record *rec = malloc(sizeof(*rec));
        if (!ev->nodes || !rec) {
                free(rec);
                return -ENOMEM;
        }
        size_t *rep = malloc((n ? n : 1) * sizeof(*rep));
        int r = rep ? sources_judged_as(srcs, n, rep) : -ENOMEM;
        for (size_t i = 0; i < n && r == 0; i++)
                r = add_node(ev, &srcs[i], rep[i], rec);
        free(rep);
        uint64_t first = 0, last = 0;
        bool live = false;
        for (size_t i = 0; r == 0 && i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                if (nd->state != NODE_OK)
                        continue;
                if (!first || nd->first_ns < first)
                        first = nd->first_ns;
                if (nd->last_ns > last)
                        last = nd->last_ns;
                if (!ev->period_s || (nd->period_s && nd->period_s < ev->period_s))
                        ev->period_s = nd->period_s;
        }
        for (size_t i = 0; i < n; i++)
                live |= srcs[i].is_url;
        if (!ev->period_s)
                ev->period_s = 60;
        ev->start_ns = since_ns ? since_ns : first ? first : now_ns;
        ev->end_ns = until_ns ? until_ns : live || !last ? now_ns : last;
        if (ev->end_ns <= ev->start_ns) {
                /* e.g. bundles whose records end before --since: no evidence of it at all */
                ev->empty = true;
                ev->end_ns = ev->start_ns + 1;
        }
        for (size_t i = 0; r == 0 && i < ev->nnodes; i++)
                if (ev->nodes[i].state == NODE_OK)
                        r = analyze_node(ev, i, &srcs[i], rec, rs);
        free(rec);
        if (r == 0)
                r = find_conflicts(ev);
        return r;
}
