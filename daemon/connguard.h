/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Slowloris defence for the HTTP server: a table of the open connections,
 * each either waiting for request headers (since a CLOCK_BOOTTIME instant)
 * or serving a request.
 *
 * - A connection waiting for headers longer than the absolute deadline is
 *   evicted, however slowly it trickles bytes (the idle timeout alone lets a
 *   byte every 9 s hold a slot forever).
 * - Connections waiting for headers may fill at most `waiting_max` slots;
 *   the rest are kept for new clients: when a new connection would exceed
 *   the share, the oldest waiting one is evicted.
 * - At most `per_source` connections per source: an IPv4 address, or an
 *   IPv6 /64 (one host controls a whole /64; per-address caps mean nothing
 *   there). IPv4-mapped IPv6 addresses count as IPv4.
 *
 * Evicting means the caller shuts the socket down (shutdown(2)); the server
 * then closes it and calls connguard_remove. Not thread-safe: the caller
 * serialises the calls (http.c holds a mutex; the server's thread and a
 * once-a-second sweeper share the table).
 */

#define CONNGUARD_EVICT_MAX 8

struct connguard_entry {
        bool used, waiting;
        int fd;
        uint8_t source[16]; /* IPv4 address (4 bytes, rest zero) or IPv6 /64 (8 bytes) */
        uint8_t family;
        uint64_t since_ns; /* waiting for headers since */
};

struct connguard {
        struct connguard_entry *e;
        size_t cap, used, waiting;
        size_t per_source, waiting_max;
        uint64_t deadline_ns;
};

/* 0, or -ENOMEM. cap: the server's connection limit. */
int connguard_init(struct connguard *g, size_t cap, size_t per_source, size_t waiting_max,
                   uint64_t deadline_ns);
void connguard_free(struct connguard *g);

/*
 * A new connection from addr at now: true to accept it. Fills evict[] with
 * up to CONNGUARD_EVICT_MAX sockets to shut down (expired or, when the
 * waiting share is full, the oldest waiting), *nevict their number.
 */
bool connguard_admit(struct connguard *g, const struct sockaddr *addr, socklen_t len,
                     uint64_t now, int evict[CONNGUARD_EVICT_MAX], size_t *nevict);
/* Connections waiting for headers past the deadline at now: fills evict[] (at most max). */
size_t connguard_expired(struct connguard *g, uint64_t now, int *evict, size_t max);
/* Track an accepted connection (waiting for headers); its index, or -1 when full. */
long connguard_add(struct connguard *g, int fd, const struct sockaddr *addr, socklen_t len,
                   uint64_t now);
/* Headers complete: no longer waiting. */
void connguard_serving(struct connguard *g, long idx);
/* A request finished; a kept-alive connection waits for the next headers from now. */
void connguard_waiting(struct connguard *g, long idx, uint64_t now);
void connguard_remove(struct connguard *g, long idx);
