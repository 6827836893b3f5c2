/* SPDX-License-Identifier: MIT */
#include "log.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int log_max = LOG_INFO;
static bool log_stamp = true;
static const char *log_ident = "gpuhoursd";

void log_set_ident(const char *ident) { log_ident = ident; }

void log_init(void) {
        /* systemd sets JOURNAL_STREAM when stderr is connected to the journal. */
        log_stamp = getenv("JOURNAL_STREAM") == NULL;
}

void log_set_level(int max_priority) { log_max = max_priority; }

void log_msg(int priority, const char *fmt, ...) {
        if (priority > log_max)
                return;
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        /* Keep one message on one line: a newline inside would start a journal entry. */
        for (char *p = msg; *p; p++)
                if (*p == '\n' || *p == '\r')
                        *p = ' ';
        if (log_stamp) {
                struct timespec ts;
                struct tm tm;
                char when[32] = "";
                clock_gettime(CLOCK_REALTIME, &ts);
                if (gmtime_r(&ts.tv_sec, &tm))
                        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
                fprintf(stderr, "<%d>%s.%03ldZ %s: %s\n", priority, when,
                        ts.tv_nsec / 1000000, log_ident, msg);
        } else {
                fprintf(stderr, "<%d>%s\n", priority, msg);
        }
}
