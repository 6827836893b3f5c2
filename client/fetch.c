/* SPDX-License-Identifier: MIT */
#include "fetch.h"

#include <curl/curl.h>
#include <errno.h>
#include <string.h>

#include "api.h"
#include "config.h"
#include "util.h"

struct req {
        struct fetch *f;
        CURL *easy;
        char *url;
        size_t cap;
        uint8_t *body;
        size_t len, alloc;
        bool too_large;
        char range[64];
        char errbuf[CURL_ERROR_SIZE];
        fetch_done_fn cb;
        void *ctx;
        uint64_t added_ns;
        struct req *next;         /* queue, or the active list */
        struct req **active_prev; /* in the active list: the pointer to this one */
};

struct fetch {
        CURLM *multi;
        struct req *queue_head, *queue_tail;
        struct req *active_head; /* transfers in the multi handle */
        unsigned active;
        long timeout_ms;
        bool progress;
        bool progress_drawn;
        unsigned long done, total;
        uint64_t bytes;
};

struct fetch *fetch_new(long timeout_ms, bool progress) {
        struct fetch *f = calloc(1, sizeof(*f));
        if (!f)
                return NULL;
        f->multi = curl_multi_init();
        if (!f->multi) {
                free(f);
                return NULL;
        }
        curl_multi_setopt(f->multi, CURLMOPT_MAX_HOST_CONNECTIONS, 1L);
        curl_multi_setopt(f->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)FETCH_MAX_ACTIVE);
        f->timeout_ms = timeout_ms > 0 ? timeout_ms : FETCH_DEFAULT_TIMEOUT_MS;
        f->progress = progress;
        return f;
}

static void req_free(struct req *q) {
        if (!q)
                return;
        if (q->easy)
                curl_easy_cleanup(q->easy);
        free(q->url);
        free(q->body);
        free(q);
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userdata) {
        struct req *q = userdata;
        size_t n = size * nmemb;
        if (n > q->cap - q->len) {
                q->too_large = true;
                return 0; /* aborts the transfer: CURLE_WRITE_ERROR */
        }
        if (q->len + n + 1 > q->alloc) {
                size_t want = q->alloc ? q->alloc : 4096;
                /*
                 * The first write of a response with a Content-Length within the
                 * cap: room for all of it at once (a records page is megabytes;
                 * growing it by doubling would copy it about once more). A length
                 * that lies only sizes this buffer; the cap still holds.
                 */
                curl_off_t cl = -1;
                if (!q->alloc && curl_easy_getinfo(q->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
                                                   &cl) == CURLE_OK &&
                    cl > 0 && (uint64_t)cl <= q->cap && (size_t)cl + 1 > want)
                        want = (size_t)cl + 1;
                while (want < q->len + n + 1)
                        want *= 2;
                if (want > q->cap + 1)
                        want = q->cap + 1;
                uint8_t *b = realloc(q->body, want);
                if (!b)
                        return 0;
                q->body = b;
                q->alloc = want;
        }
        memcpy(q->body + q->len, data, n);
        q->len += n;
        q->body[q->len] = '\0';
        q->f->bytes += n;
        return n;
}

static size_t on_header(char *data, size_t size, size_t nmemb, void *userdata) {
        struct req *q = userdata;
        size_t n = size * nmemb;
        static const char name[] = API_HEADER_RANGE ":";
        size_t nl = sizeof(name) - 1;
        if (n > nl) {
                bool match = true; /* header names are case-insensitive */
                for (size_t i = 0; i < nl && match; i++) {
                        char c = data[i], w = name[i];
                        if (c >= 'A' && c <= 'Z')
                                c = (char)(c - 'A' + 'a');
                        if (w >= 'A' && w <= 'Z')
                                w = (char)(w - 'A' + 'a');
                        match = c == w;
                }
                if (match) {
                        const char *v = data + nl;
                        size_t vn = n - nl;
                        while (vn > 0 && (*v == ' ' || *v == '\t')) {
                                v++;
                                vn--;
                        }
                        while (vn > 0 &&
                               (v[vn - 1] == '\r' || v[vn - 1] == '\n' || v[vn - 1] == ' '))
                                vn--;
                        if (vn >= sizeof(q->range))
                                vn = sizeof(q->range) - 1; /* too long: fails parsing later */
                        memcpy(q->range, v, vn);
                        q->range[vn] = '\0';
                }
        }
        return n;
}

int fetch_add(struct fetch *f, const char *url, size_t cap, fetch_done_fn cb, void *ctx) {
        struct req *q = calloc(1, sizeof(*q));
        if (!q)
                return -ENOMEM;
        q->f = f;
        q->url = strdup(url);
        q->easy = curl_easy_init();
        if (!q->url || !q->easy) {
                req_free(q);
                return -ENOMEM;
        }
        q->cap = cap;
        q->cb = cb;
        q->ctx = ctx;
        CURL *e = q->easy;
        curl_easy_setopt(e, CURLOPT_URL, q->url);
        curl_easy_setopt(e, CURLOPT_PRIVATE, q);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, q);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, q);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, q->errbuf);
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
        curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
        curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, FETCH_CONNECT_TIMEOUT_MS);
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, f->timeout_ms);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 64L);
        curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME,
                         f->timeout_ms / 1000 > 10 ? 10L : (f->timeout_ms + 999) / 1000);
        curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)cap);
        curl_easy_setopt(e, CURLOPT_USERAGENT, PROG "/" GH_VERSION);
        curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, (char *)NULL);
#if LIBCURL_VERSION_NUM >= 0x075500
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
        curl_easy_setopt(e, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
        if (f->queue_tail)
                f->queue_tail->next = q;
        else
                f->queue_head = q;
        f->queue_tail = q;
        f->total++;
        return 0;
}

static int start_queued(struct fetch *f) {
        while (f->active < FETCH_MAX_ACTIVE && f->queue_head) {
                struct req *q = f->queue_head;
                f->queue_head = q->next;
                if (!f->queue_head)
                        f->queue_tail = NULL;
                q->next = NULL;
                q->added_ns = wall_now_ns();
                if (curl_multi_add_handle(f->multi, q->easy) != CURLM_OK) {
                        req_free(q);
                        return -EIO;
                }
                q->next = f->active_head;
                if (q->next)
                        q->next->active_prev = &q->next;
                q->active_prev = &f->active_head;
                f->active_head = q;
                f->active++;
        }
        return 0;
}

static void draw_progress(struct fetch *f, bool final) {
        if (!f->progress)
                return;
        if (final) {
                if (f->progress_drawn)
                        fprintf(stderr, "\r\033[K");
                return;
        }
        fprintf(stderr, "\r\033[Kfetching: %lu/%lu requests done, %.1f MB", f->done, f->total,
                (double)f->bytes / 1e6);
        f->progress_drawn = true;
}

static void finish(struct fetch *f, CURL *e, CURLcode code) {
        struct req *q = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&q);
        curl_multi_remove_handle(f->multi, e);
        *q->active_prev = q->next;
        if (q->next)
                q->next->active_prev = q->active_prev;
        q->next = NULL;
        f->active--;
        f->done++;
        char msg[CURL_ERROR_SIZE + 64];
        struct fetch_result res = {.url = q->url, .range = q->range};
        if (code == CURLE_OK) {
                res.ok = true;
                curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res.http_status);
                res.body = q->body;
                res.len = q->len;
                if (!res.body) {
                        res.body = malloc(1);
                        if (res.body)
                                res.body[0] = 0;
                        else
                                res.ok = false;
                }
                q->body = NULL;
                curl_off_t pre = 0, start = 0;
                curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre);
                curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &start);
                res.sent_ns = q->added_ns + (uint64_t)pre * 1000u;
                res.first_byte_ns = q->added_ns + (uint64_t)start * 1000u;
        }
        if (!res.ok) {
                if (q->too_large || code == CURLE_FILESIZE_EXCEEDED)
                        snprintf(msg, sizeof(msg), "response larger than the cap of %zu bytes",
                                 q->cap);
                else if (code == CURLE_OPERATION_TIMEDOUT)
                        snprintf(msg, sizeof(msg), "timed out (%s)",
                                 q->errbuf[0] ? q->errbuf : curl_easy_strerror(code));
                else
                        snprintf(msg, sizeof(msg), "%s",
                                 q->errbuf[0] ? q->errbuf : curl_easy_strerror(code));
                res.error = msg;
        }
        q->cb(q->ctx, &res);
        free(res.body);
        req_free(q);
        draw_progress(f, false);
}

int fetch_run(struct fetch *f) {
        int r = start_queued(f);
        while (r == 0 && f->active > 0) {
                int running = 0;
                if (curl_multi_perform(f->multi, &running) != CURLM_OK) {
                        r = -EIO;
                        break;
                }
                CURLMsg *m;
                int left;
                while ((m = curl_multi_info_read(f->multi, &left))) {
                        if (m->msg == CURLMSG_DONE)
                                finish(f, m->easy_handle, m->data.result);
                }
                r = start_queued(f);
                if (r != 0 || f->active == 0)
                        break;
                if (curl_multi_poll(f->multi, NULL, 0, 200, NULL) != CURLM_OK)
                        r = -EIO;
        }
        draw_progress(f, true);
        return r;
}

void fetch_free(struct fetch *f) {
        if (!f)
                return;
        struct req *q = f->queue_head;
        while (q) {
                struct req *n = q->next;
                req_free(q);
                q = n;
        }
        /* Transfers still running (fetch_run failed): abandon them. */
        while ((q = f->active_head)) {
                f->active_head = q->next;
                curl_multi_remove_handle(f->multi, q->easy);
                req_free(q);
        }
        curl_multi_cleanup(f->multi);
        free(f);
}
