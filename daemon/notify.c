/* SPDX-License-Identifier: MIT */

#include "notify.h"

#include <stdio.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

uint64_t notify_watchdog_usec(void) {
        uint64_t usec = 0;
        if (sd_watchdog_enabled(0, &usec) <= 0)
                return 0;
        return usec;
}

static void send_state(const char *a, const char *status) {
        if (status)
                (void)sd_notifyf(0, "%sSTATUS=%s", a, status);
        else
                (void)sd_notify(0, a);
}

void notify_ready(const char *status) {
        send_state("READY=1\n", status);
}
void notify_status(const char *status) {
        send_state("", status);
}
void notify_watchdog(void) {
        (void)sd_notify(0, "WATCHDOG=1");
}
void notify_stopping(void) {
        (void)sd_notify(0, "STOPPING=1");
}

int notify_listen_fd(char *err, size_t errlen) {
        int n = sd_listen_fds(1);
        if (n <= 0)
                return -1;
        if (n > 1) {
                snprintf(err, errlen,
                         "systemd passed %d sockets; expected exactly one listening socket", n);
                return -2;
        }
        if (sd_is_socket(SD_LISTEN_FDS_START, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
                snprintf(err, errlen,
                         "the socket passed by systemd is not a listening stream "
                         "socket");
                return -2;
        }
        return SD_LISTEN_FDS_START;
}
