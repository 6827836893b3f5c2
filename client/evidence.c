/* SPDX-License-Identifier: MIT */
/*
 * The evidence timeline for `gpuhours check` (check.h). Reads the records of
 * each verified source again, from the exact bytes that were verified (the
 * online transfer's bundle, or the bundle file re-read and re-checked
 * against the verified checkpoint's size and root), and lays out per GPU the
 * summary windows and the unobserved pieces between them.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bundle.h"
#include "check.h"
#include "merkle.h"
#include "peaks.h"
#include "source.h"
#include "util.h"

const char *piece_bound_name(enum piece_bound b) {
        static const char *const names[] = {"energy-idle", "energy", "no-counter", "no-record"};
        return (unsigned)b < ARRAY_SIZE(names) ? names[b] : "?";
}

void evidence_free(struct evidence *ev) {
        for (size_t i = 0; i < ev->ngpus; i++) {
                free(ev->gpus[i].w);
                free(ev->gpus[i].p);
        }
        for (size_t i = 0; i < ev->nnodes; i++)
                free(ev->nodes[i].boots);
        free(ev->gpus);
        free(ev->nodes);
        free(ev->conflicts);
        memset(ev, 0, sizeof(*ev));
}

static struct ev_gpu *gpu_get(struct evidence *ev, size_t node, size_t first, const char *uuid) {
        for (size_t i = first; i < ev->ngpus; i++)
                if (strcmp(ev->gpus[i].uuid, uuid) == 0)
                        return &ev->gpus[i];
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

static int boot_index(struct ev_node *nd, const uint8_t id[16], uint32_t *out) {
        for (size_t i = 0; i < nd->nboots; i++)
                if (memcmp(nd->boots[i], id, 16) == 0) {
                        *out = (uint32_t)i;
                        return 0;
                }
        uint8_t(*nb)[16] = realloc(nd->boots, (nd->nboots + 1) * sizeof(*nb));
        if (!nb)
                return -ENOMEM;
        nd->boots = nb;
        memcpy(nb[nd->nboots], id, 16);
        *out = (uint32_t)nd->nboots++;
        return 0;
}

static void name_gpus(struct evidence *ev, size_t node, size_t first, const struct gpu_info *gi,
                      uint32_t n) {
        for (uint32_t i = 0; i < n; i++) {
                struct ev_gpu *g = gpu_get(ev, node, first, gi[i].uuid);
                if (g)
                        snprintf(g->name, sizeof(g->name), "%s", gi[i].name);
        }
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

static int add_node(struct evidence *ev, const struct source *s, struct record *rec, char *err,
                    size_t errlen) {
        struct ev_node *nd = &ev->nodes[ev->nnodes];
        size_t node = ev->nnodes++;
        memset(nd, 0, sizeof(*nd));
        nd->name = s->name;
        snprintf(nd->origin, sizeof(nd->origin), "%s", s->cp.origin);
        if (s->status == SRC_ERROR || !s->have_checkpoint) {
                nd->state = s->status == SRC_FAILED ? NODE_FAILED : NODE_MISSING;
                snprintf(nd->error, sizeof(nd->error), "%s", s->error);
                return 0;
        }
        if (s->status == SRC_FAILED) {
                nd->state = NODE_FAILED;
                snprintf(nd->error, sizeof(nd->error), "%s", s->error);
                return 0;
        }
        struct bundle_view v;
        _cleanup_free_ char *owned = NULL;
        int r = verified_bundle(s, &v, &owned, err, errlen);
        if (r != 0) {
                nd->state = NODE_MISSING;
                snprintf(nd->error, sizeof(nd->error), "%s", err);
                return 0;
        }
        struct merkle_border b;
        merkle_border_init(&b);
        struct reader rd;
        reader_init(&rd, v.records, v.records_len);
        size_t first = ev->ngpus;
        for (uint64_t i = 0; i < v.count; i++) {
                const uint8_t *p;
                size_t len;
                merkle_hash h;
                if (record_frame_next(&rd, &p, &len) != 0 || record_decode(p, len, rec) != 0) {
                        nd->state = NODE_MISSING;
                        snprintf(nd->error, sizeof(nd->error), "record %llu does not decode",
                                 (unsigned long long)i);
                        return 0;
                }
                merkle_leaf_hash(p, len, h);
                if (merkle_border_append(&b, h) != 0)
                        return -ENOMEM;
                if (i == 0 || rec->wall_ns < nd->first_ns)
                        nd->first_ns = rec->wall_ns;
                if (rec->wall_ns > nd->last_ns)
                        nd->last_ns = rec->wall_ns;
                uint32_t boot;
                if (boot_index(nd, rec->boot_id, &boot) != 0)
                        return -ENOMEM;
                if (rec->kind == REC_START) {
                        name_gpus(ev, node, first, rec->u.start.gpus, rec->u.start.gpu_count);
                } else if (rec->kind == REC_INVENTORY) {
                        name_gpus(ev, node, first, rec->u.inventory.gpus,
                                  rec->u.inventory.gpu_count);
                } else if (rec->kind == REC_SUMMARY) {
                        const struct rec_summary *sm = &rec->u.summary;
                        if (!nd->period_s || sm->period_s < nd->period_s)
                                nd->period_s = sm->period_s;
                        if (sm->obs_end_wall_ns <= sm->obs_start_wall_ns)
                                continue;
                        for (uint32_t k = 0; k < sm->gpu_count; k++) {
                                const struct gpu_summary *gs = &sm->gpus[k];
                                struct ev_gpu *g = gpu_get(ev, node, first, gs->uuid);
                                if (!g)
                                        return -ENOMEM;
                                if (g->nw == g->wcap) {
                                        size_t nc = g->wcap ? g->wcap * 2 : 64;
                                        struct ev_window *nw = realloc(g->w, nc * sizeof(*nw));
                                        if (!nw)
                                                return -ENOMEM;
                                        g->w = nw;
                                        g->wcap = nc;
                                }
                                double len_s =
                                        (double)(sm->obs_end_wall_ns - sm->obs_start_wall_ns) / 1e9;
                                struct ev_window *w = &g->w[g->nw++];
                                w->start_ns = sm->obs_start_wall_ns;
                                w->end_ns = sm->obs_end_wall_ns;
                                w->start_boot_ns = sm->obs_start_boot_ns;
                                w->end_boot_ns = sm->obs_end_boot_ns;
                                w->boot = boot;
                                w->flags = gs->flags;
                                /* observed and busy never beyond the window (signed but impossible) */
                                w->obs_s = fmin((double)gs->observed_ms / 1e3, len_s);
                                w->busy_s = fmin((double)gs->busy_ms / 1e3, len_s);
                                if (gs->flags & GPU_UTIL_UNSUPPORTED)
                                        w->busy_s = -1; /* unmeasured: worst case */
                                w->e_start_mj = gs->energy_start_mj;
                                w->e_end_mj = gs->energy_end_mj;
                        }
                }
        }
        merkle_hash root;
        merkle_border_root(&b, root);
        if (memcmp(root, s->cp.root, sizeof(root)) != 0) {
                nd->state = NODE_MISSING;
                snprintf(nd->error, sizeof(nd->error),
                         "the records changed after they were verified");
        }
        return 0;
}

static int window_cmp(const void *a, const void *b) {
        const struct ev_window *x = a, *y = b;
        return x->start_ns < y->start_ns ? -1 : x->start_ns > y->start_ns;
}

static int piece_add(struct ev_gpu *g, uint64_t s, uint64_t e, double hidden, double energy,
                     enum piece_bound bound) {
        if (e <= s)
                return 0;
        if (g->np == g->pcap) {
                size_t nc = g->pcap ? g->pcap * 2 : 16;
                struct ev_piece *np = realloc(g->p, nc * sizeof(*np));
                if (!np)
                        return -ENOMEM;
                g->p = np;
                g->pcap = nc;
        }
        double len = (double)(e - s) / 1e9;
        g->p[g->np++] = (struct ev_piece){s, e, fmin(hidden, len), energy, bound};
        return 0;
}

/*
 * The gap between windows a and b of one GPU: hidden busy seconds from the
 * energy counter when it is continuous across it (FORMAT.md "Verdicts").
 */
static enum piece_bound gap_bound(const struct ev_gpu *g, const struct ev_window *a,
                                  const struct ev_window *b, double *hidden, double *energy) {
        const uint8_t bad = GPU_ENERGY_UNSUPPORTED | GPU_ENERGY_FROM_POWER | GPU_LOST;
        double idle_w, full_w;
        *hidden = HUGE_VAL;
        *energy = 0;
        if (a->boot != b->boot || (a->flags & bad) || (b->flags & bad) ||
            (b->flags & GPU_COUNTER_RESET) || b->e_start_mj < a->e_end_mj ||
            b->start_boot_ns < a->end_boot_ns || !power_lookup(g->name, &idle_w, &full_w))
                return PB_NO_COUNTER;
        /* ANALYSIS.md §6: gpu_seconds = clamp((E - idle x L) / (full - idle), 0, len) */
        double e = (double)(b->e_start_mj - a->e_end_mj) / 1e3;
        double l = (double)(b->start_boot_ns - a->end_boot_ns) / 1e9;
        *energy = e;
        *hidden = fmax(0, (e - idle_w * l) / (full_w - idle_w));
        return *hidden > 0 ? PB_ENERGY : PB_ENERGY_IDLE;
}

static int boot_order_cmp(const void *a, const void *b) {
        const struct ev_window *x = *(const struct ev_window *const *)a;
        const struct ev_window *y = *(const struct ev_window *const *)b;
        if (x->boot != y->boot)
                return x->boot < y->boot ? -1 : 1;
        return x->start_boot_ns < y->start_boot_ns ? -1 : x->start_boot_ns > y->start_boot_ns;
}

/*
 * VERDICTS.md §2, "clock moved": the wall clock places windows on the
 * calendar, but within one boot the boot clock measures the time between
 * them. An operator who stops the daemon, works the GPUs and sets the wall
 * clock back before restarting makes the windows touch or overlap in wall
 * time, so the walk in wall order sees no gap. For every pair of windows
 * consecutive on the boot clock whose wall distance differs from their boot
 * distance L by more than CLOCK_MOVED_TOL_NS (across a reboot: L is the new
 * boot's uptime at b's start, and only a wall distance shorter than L
 * counts), one more piece of at least L
 * is added, placed over both readings of where the time lies (after a's end
 * by the old clock, before b's start by the new one), with the bound of the
 * gap between a and b. Its hidden time may overlap other pieces or windows:
 * it only raises upper bounds.
 */
#define CLOCK_MOVED_TOL_NS 1000000000ull
static int clock_moved_pieces(struct evidence *ev, struct ev_gpu *g) {
        uint64_t A = ev->start_ns, B = ev->end_ns;
        if (g->nw < 2)
                return 0;
        const struct ev_window **o = malloc(g->nw * sizeof(*o));
        if (!o)
                return -ENOMEM;
        for (size_t i = 0; i < g->nw; i++)
                o[i] = &g->w[i];
        qsort(o, g->nw, sizeof(*o), boot_order_cmp);
        int rc = 0;
        for (size_t i = 1; i < g->nw && rc == 0; i++) {
                const struct ev_window *a = o[i - 1], *b = o[i];
                uint64_t l;
                if (a->boot == b->boot) {
                        if (b->start_boot_ns <= a->end_boot_ns)
                                continue;
                        l = b->start_boot_ns - a->end_boot_ns;
                } else {
                        /* a reboot: the new boot had been up this long at b's start */
                        l = b->start_boot_ns;
                }
                uint64_t wall = b->start_ns > a->end_ns ? b->start_ns - a->end_ns : 0;
                uint64_t diff = wall > l ? wall - l : l - wall;
                if (b->start_ns >= a->end_ns &&
                    (a->boot == b->boot ? diff <= CLOCK_MOVED_TOL_NS : wall + CLOCK_MOVED_TOL_NS >= l))
                        continue; /* the wall walk measured this gap */
                uint64_t s = b->start_ns > l ? b->start_ns - l : 0;
                if (a->end_ns < s)
                        s = a->end_ns;
                uint64_t e = a->end_ns + l;
                if (b->start_ns > e)
                        e = b->start_ns;
                s = s > A ? s : A;
                e = e < B ? e : B;
                double hidden = HUGE_VAL, energy = 0;
                enum piece_bound pb = a->boot == b->boot ? gap_bound(g, a, b, &hidden, &energy)
                                                         : PB_NO_COUNTER;
                hidden = fmin(hidden, (double)l / 1e9);
                rc = piece_add(g, s, e, hidden, energy, pb);
        }
        free(o);
        return rc;
}

static int lay_out(struct evidence *ev, struct ev_gpu *g) {
        uint64_t A = ev->start_ns, B = ev->end_ns;
        qsort(g->w, g->nw, sizeof(*g->w), window_cmp);
        uint64_t cur = A;
        const struct ev_window *prev = NULL;
        double interval = (double)(B - A) / 1e9;
        for (size_t i = 0; i < g->nw; i++) {
                const struct ev_window *w = &g->w[i];
                if (w->end_ns <= A) {
                        prev = w;
                        continue;
                }
                if (w->start_ns >= B)
                        break;
                if (w->start_ns > cur) {
                        double hidden = HUGE_VAL, energy = 0;
                        enum piece_bound pb = PB_NO_RECORD;
                        if (prev)
                                pb = gap_bound(g, prev, w, &hidden, &energy);
                        if (piece_add(g, cur, w->start_ns < B ? w->start_ns : B, hidden, energy,
                                      pb) != 0)
                                return -ENOMEM;
                }
                uint64_t s = w->start_ns > A ? w->start_ns : A;
                uint64_t e = w->end_ns < B ? w->end_ns : B;
                double len = (double)(w->end_ns - w->start_ns) / 1e9;
                double ov = (double)(e - s) / 1e9;
                double obs = fmax(0, w->obs_s - (len - ov));
                g->observed_s += obs;
                g->hidden_s += w->busy_s < 0 ? ov : ov - obs;
                if (w->end_ns > cur)
                        cur = w->end_ns;
                prev = w;
        }
        if (cur < B && piece_add(g, cur, B, HUGE_VAL, 0, PB_NO_RECORD) != 0)
                return -ENOMEM;
        if (clock_moved_pieces(ev, g) != 0)
                return -ENOMEM;
        for (size_t i = 0; i < g->np; i++)
                g->hidden_s += g->p[i].hidden_s;
        if (g->observed_s > interval)
                g->observed_s = interval;
        g->unobserved_s = interval - g->observed_s;
        return 0;
}

static const struct evidence *sort_ev; /* qsort has no context argument in POSIX */
static int uuid_cmp(const void *a, const void *b) {
        size_t x = *(const size_t *)a, y = *(const size_t *)b;
        int c = strcmp(sort_ev->gpus[x].uuid, sort_ev->gpus[y].uuid);
        return c ? c : (x < y ? -1 : x > y);
}

/* The first instant two GPUs with one UUID on different nodes were both in a window. */
static bool overlap(const struct ev_gpu *a, const struct ev_gpu *b, uint64_t *s, uint64_t *e) {
        size_t i = 0, j = 0;
        while (i < a->nw && j < b->nw) {
                const struct ev_window *x = &a->w[i], *y = &b->w[j];
                uint64_t lo = x->start_ns > y->start_ns ? x->start_ns : y->start_ns;
                uint64_t hi = x->end_ns < y->end_ns ? x->end_ns : y->end_ns;
                if (lo < hi) {
                        *s = lo;
                        *e = hi;
                        return true;
                }
                if (x->end_ns < y->end_ns)
                        i++;
                else
                        j++;
        }
        return false;
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
                        if (strcmp(a->uuid, b->uuid) != 0)
                                break;
                        uint64_t s, e;
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
        int r = 0;
        char err[512];
        for (size_t i = 0; i < n && r == 0; i++)
                r = add_node(ev, &srcs[i], rec, err, sizeof(err));
        free(rec);
        if (r != 0)
                return r;
        uint64_t first = 0, last = 0;
        bool live = false;
        for (size_t i = 0; i < ev->nnodes; i++) {
                const struct ev_node *nd = &ev->nodes[i];
                if (nd->state != NODE_OK)
                        continue;
                if (!first || nd->first_ns < first)
                        first = nd->first_ns;
                if (nd->last_ns > last)
                        last = nd->last_ns;
                if (!ev->period_s || (nd->period_s && nd->period_s < ev->period_s))
                        ev->period_s = nd->period_s;
                live |= srcs[i].is_url;
        }
        for (size_t i = 0; i < n; i++)
                live |= srcs[i].is_url;
        if (!ev->period_s)
                ev->period_s = 60;
        ev->start_ns = since_ns ? since_ns : first ? first : now_ns;
        ev->end_ns = until_ns ? until_ns : live || !last ? now_ns : last;
        if (ev->end_ns <= ev->start_ns)
                ev->end_ns = ev->start_ns + 1;
        for (size_t i = 0; i < ev->ngpus && r == 0; i++) {
                struct ev_gpu *g = &ev->gpus[i];
                g->peak_known = peak_lookup(rs, g->name, &g->peak_flops, g->peak_source,
                                            sizeof(g->peak_source));
                r = lay_out(ev, g);
        }
        if (r == 0)
                r = find_conflicts(ev);
        return r;
}
