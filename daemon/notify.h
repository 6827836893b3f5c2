/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * systemd integration (sd-daemon): readiness, status, watchdog and socket
 * activation. Every call is a no-op when NOTIFY_SOCKET is not set.
 */

/* Reads WATCHDOG_USEC (for this process); 0 when the watchdog is off. */
uint64_t notify_watchdog_usec(void);
void notify_ready(const char *status);
void notify_status(const char *status);
void notify_watchdog(void);
void notify_stopping(void);

/*
 * The listening socket passed by systemd (sd_listen_fds), or -1 when none
 * was passed. -2 (with a message in err) when what was passed is unusable.
 */
int notify_listen_fd(char *err, size_t errlen);
