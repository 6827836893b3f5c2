/* SPDX-License-Identifier: MIT */
/*
 * baremhd PORT CHECKPOINT_FILE RECORDS_FILE: the baseline for the daemon's
 * HTTP figures. A bare libmicrohttpd server with gpuhoursd's flags and
 * limits (daemon/http.c) that answers /v1/records with RECORDS_FILE's bytes
 * and every other GET with CHECKPOINT_FILE's bytes, from response objects
 * built once (the fastest way to serve fixed bytes with MHD). Runs until
 * SIGTERM or SIGINT.
 */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct MHD_Response *cp_resp, *rec_resp;

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **con_cls) {
        static char headers_seen;
        (void)cls, (void)method, (void)version, (void)upload_data, (void)upload_data_size;
        /* libmicrohttpd 0.9.75 closes the connection after a response queued on the first call. */
        if (*con_cls != &headers_seen) {
                *con_cls = &headers_seen;
                return MHD_YES;
        }
        return MHD_queue_response(c, MHD_HTTP_OK,
                                  strcmp(url, "/v1/records") == 0 ? rec_resp : cp_resp);
}

static struct MHD_Response *load(const char *path, const char *type) {
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        size_t cap = 64u << 20;
        char *buf = malloc(cap);
        size_t n = buf ? fread(buf, 1, cap, f) : 0;
        fclose(f);
        struct MHD_Response *r = MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_FREE);
        if (r)
                MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        return r;
}

int main(int argc, char **argv) {
        if (argc != 4)
                return 2;
        cp_resp = load(argv[2], "text/plain; charset=utf-8");
        rec_resp = load(argv[3], "application/octet-stream");
        if (!cp_resp || !rec_resp)
                return 1;
        MHD_add_response_header(cp_resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_port = htons((uint16_t)atoi(argv[1])),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        struct MHD_Daemon *d = MHD_start_daemon(
                MHD_USE_AUTO_INTERNAL_THREAD | MHD_USE_ITC | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
                MHD_OPTION_CONNECTION_TIMEOUT, 10u, MHD_OPTION_CONNECTION_LIMIT, 256u,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, 16u, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
                (size_t)(64u * 1024u), MHD_OPTION_LISTEN_BACKLOG_SIZE, 128u, MHD_OPTION_END);
        if (!d)
                return 1;
        printf("ready\n");
        fflush(stdout);
        int sig;
        sigwait(&set, &sig);
        MHD_stop_daemon(d);
        MHD_destroy_response(cp_resp);
        MHD_destroy_response(rec_resp);
        return 0;
}
