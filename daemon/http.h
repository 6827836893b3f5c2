/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ledger.h"
#include "push.h"
#include "stats.h"

/* Read-only HTTP API (daemon/API.md) on libmicrohttpd's internal thread. */

struct http_node_info {
        const char *origin;
        const char *vkey;    /* vkey string */
        const char *backend; /* "sim" | "nvml" */
        unsigned period_s;
        double sample_interval_s;
        uint64_t key_created_ns; /* when node.key was created (its mtime); 0 unknown */
        /* The GPU list comes separately through http_set_inventory. */
};

struct http_config {
        const char *listen;    /* "ADDR:PORT", "[v6]:PORT"; ignored when listen_fd >= 0 */
        int listen_fd;         /* bound socket (http_bind or systemd's sd_listen_fds), or -1 */
        bool own_listen_fd;    /* listen_fd came from http_bind: closed by http_stop */
        struct ledger *ledger; /* not owned */
        struct daemon_stats *stats; /* not owned */
        struct push *push;     /* witnesses (cosignatures on /checkpoint, metrics); may be NULL */
        struct http_node_info node; /* strings copied by http_start */
};

struct http_server;

/*
 * Bind and listen on "A.B.C.D:PORT", "[V6]:PORT" or "*:PORT" (numeric
 * addresses only). 0 with *out; -EINVAL for a malformed address (a
 * configuration error), another negative errno when the socket cannot be
 * bound; one line in err.
 */
int http_bind(const char *listen_spec, int *out, char *err, size_t errlen);

/* Start serving. 0 or negative errno, with a one-line message in err. */
int http_start(const struct http_config *cfg, struct http_server **out, char *err, size_t errlen);
/* Replace the GPU list served by /v1/node (called after start and inventory records). */
void http_set_inventory(struct http_server *h, const struct gpu_info *gpus, size_t n);
/* Quiesce, then stop (the listening socket stays usable for systemd re-activation). Accepts NULL. */
void http_stop(struct http_server *h);
