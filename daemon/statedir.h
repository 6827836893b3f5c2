/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <sys/types.h>

/*
 * The state directory: created if missing (mode 0750), refused when it is
 * not a directory or is writable by group or others (anyone who can write
 * there can swap the ledger or the key), and locked exclusively (flock) for
 * as long as the returned descriptor stays open, so that two daemons never
 * sign with one key. Called before anything in the directory is read or
 * written.
 *
 * 0 with *dirfd set; -EWOULDBLOCK when another process holds the lock;
 * another negative errno, or -EPERM for a bad mode. err gets one line
 * naming the directory.
 */
int statedir_open(const char *path, int *dirfd, char *err, size_t errlen);

/* Like statedir_open without the lock (gpuhoursd --print-key beside a running daemon). */
int statedir_open_unlocked(const char *path, int *dirfd, char *err, size_t errlen);
