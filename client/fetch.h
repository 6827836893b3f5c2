/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Concurrent HTTP GETs on one libcurl multi handle: at most max_active
 * transfers at once (more wait in a queue, so queue time does not count
 * against a request's timeout), one connection per host, connect timeout
 * 3 s, a total timeout per request, a low-speed limit, no redirects,
 * http/https only, HTTP/1.1, and a hard size cap per response enforced in
 * the write callback. Completion callbacks may add new requests.
 */

#define FETCH_CONNECT_TIMEOUT_MS 3000L
#define FETCH_DEFAULT_TIMEOUT_MS 30000L
#define FETCH_MAX_ACTIVE 16u

struct fetch_result {
        const char *url;
        bool ok;          /* transfer completed (any HTTP status) */
        long http_status; /* 0 if no response */
        uint8_t *body;    /* malloc'd (NUL after len); a callback may take it (set NULL) */
        size_t len;
        const char *range;      /* X-Gpuhours-Range value, "" if absent */
        const char *error;      /* one line when !ok */
        uint64_t sent_ns;       /* wall time when the request was sent (after connecting) */
        uint64_t first_byte_ns; /* wall time when the first response byte came */
};

typedef void (*fetch_done_fn)(void *ctx, struct fetch_result *res);

struct fetch;

/* progress: draw a progress line on stderr (callers pass isatty(2)). NULL on failure. */
struct fetch *fetch_new(long timeout_ms, bool progress);
/* Queue a GET of url; the body is capped at cap bytes. 0 or -ENOMEM. */
int fetch_add(struct fetch *f, const char *url, size_t cap, fetch_done_fn cb, void *ctx);
/* Run until every queued request (including ones added by callbacks) completed. 0 or -EIO. */
int fetch_run(struct fetch *f);
void fetch_free(struct fetch *f);
