/* SPDX-License-Identifier: MIT */
#pragma once

#include <syslog.h>

/*
 * Logging to stderr with sd-daemon(3) priority prefixes ("<3>…"), which
 * journald turns into priorities. No timestamps of our own when stderr is
 * the journal (JOURNAL_STREAM set); otherwise (a terminal, a test log) a
 * UTC timestamp is added. Thread-safe (one fprintf per message).
 * Quote user-controlled values: log_err("bad value '%s'", v).
 */
void log_init(void);
void log_set_ident(const char *ident); /* program name in stamped lines; default "gpuhoursd" */
void log_set_level(int max_priority); /* LOG_DEBUG … LOG_ERR; default LOG_INFO */
void log_msg(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
