/* SPDX-License-Identifier: MIT */
#include "connguard.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

int connguard_init(struct connguard *g, size_t cap, size_t per_source, size_t waiting_max,
                   uint64_t deadline_ns) {
        memset(g, 0, sizeof *g);
        g->e = calloc(cap, sizeof *g->e);
        if (!g->e)
                return -ENOMEM;
        g->cap = cap;
        g->per_source = per_source;
        g->waiting_max = waiting_max;
        g->deadline_ns = deadline_ns;
        return 0;
}

void connguard_free(struct connguard *g) {
        free(g->e);
        memset(g, 0, sizeof *g);
}

/* The accounting unit of addr; false for an address family we do not know. */
static bool source_of(const struct sockaddr *addr, socklen_t len, uint8_t out[16],
                      uint8_t *family) {
        memset(out, 0, 16);
        if (addr && addr->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
                struct sockaddr_in a;
                memcpy(&a, addr, sizeof a); /* addr may be less aligned than sockaddr_in */
                memcpy(out, &a.sin_addr, 4);
                *family = AF_INET;
                return true;
        }
        if (addr && addr->sa_family == AF_INET6 &&
            len >= (socklen_t)sizeof(struct sockaddr_in6)) {
                struct sockaddr_in6 a;
                memcpy(&a, addr, sizeof a);
                if (IN6_IS_ADDR_V4MAPPED(&a.sin6_addr)) {
                        memcpy(out, a.sin6_addr.s6_addr + 12, 4);
                        *family = AF_INET;
                } else {
                        memcpy(out, a.sin6_addr.s6_addr, 8); /* the /64 */
                        *family = AF_INET6;
                }
                return true;
        }
        return false;
}

bool connguard_admit(struct connguard *g, const struct sockaddr *addr, socklen_t len,
                     uint64_t now, int evict[CONNGUARD_EVICT_MAX], size_t *nevict) {
        uint8_t src[16], fam = 0;
        *nevict = 0;
        if (!source_of(addr, len, src, &fam))
                return false;
        size_t same = 0, waiting_left = 0;
        struct connguard_entry *oldest = NULL;
        for (size_t i = 0; i < g->cap; i++) {
                struct connguard_entry *e = &g->e[i];
                if (!e->used)
                        continue;
                if (e->family == fam && memcmp(e->source, src, 16) == 0)
                        same++;
                if (!e->waiting || e->fd < 0)
                        continue;
                if (now - e->since_ns > g->deadline_ns && *nevict < CONNGUARD_EVICT_MAX) {
                        evict[(*nevict)++] = e->fd;
                        e->fd = -1; /* shut down once; removed when the server closes it */
                } else {
                        waiting_left++;
                        if (!oldest || e->since_ns < oldest->since_ns)
                                oldest = e;
                }
        }
        if (same >= g->per_source)
                return false;
        /* The newcomer waits for headers too: keep the waiting share under its cap. */
        if (waiting_left + 1 > g->waiting_max && oldest && *nevict < CONNGUARD_EVICT_MAX) {
                evict[(*nevict)++] = oldest->fd;
                oldest->fd = -1;
        }
        return true;
}

long connguard_add(struct connguard *g, int fd, const struct sockaddr *addr, socklen_t len,
                   uint64_t now) {
        for (size_t i = 0; i < g->cap; i++) {
                struct connguard_entry *e = &g->e[i];
                if (e->used)
                        continue;
                memset(e, 0, sizeof *e);
                if (!source_of(addr, len, e->source, &e->family))
                        e->family = 0;
                e->used = true;
                e->waiting = true;
                e->fd = fd;
                e->since_ns = now;
                g->used++;
                g->waiting++;
                return (long)i;
        }
        return -1;
}

void connguard_serving(struct connguard *g, long idx) {
        if (idx < 0 || (size_t)idx >= g->cap || !g->e[idx].used || !g->e[idx].waiting)
                return;
        g->e[idx].waiting = false;
        g->waiting--;
}

void connguard_waiting(struct connguard *g, long idx, uint64_t now) {
        if (idx < 0 || (size_t)idx >= g->cap || !g->e[idx].used)
                return;
        if (!g->e[idx].waiting)
                g->waiting++;
        g->e[idx].waiting = true;
        g->e[idx].since_ns = now;
}

void connguard_remove(struct connguard *g, long idx) {
        if (idx < 0 || (size_t)idx >= g->cap || !g->e[idx].used)
                return;
        if (g->e[idx].waiting)
                g->waiting--;
        memset(&g->e[idx], 0, sizeof g->e[idx]);
        g->used--;
}

size_t connguard_expired(struct connguard *g, uint64_t now, int *evict, size_t max) {
        size_t n = 0;
        for (size_t i = 0; i < g->cap && n < max; i++) {
                struct connguard_entry *e = &g->e[i];
                if (e->used && e->waiting && e->fd >= 0 && now - e->since_ns > g->deadline_ns) {
                        evict[n++] = e->fd;
                        e->fd = -1;
                }
        }
        return n;
}
