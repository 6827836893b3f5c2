/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * File-system helpers shared by gpuhoursd and gpuhours (portable POSIX.1-2008:
 * the client builds on macOS). They return 0 or -errno and never log.
 */

#include <stddef.h>
#include <sys/types.h>

/*
 * mkdir -p: creates every missing component of path with mode (existing ones
 * are left alone). 0 when path is (now) a directory; -EINVAL for an empty or
 * PATH_MAX-long path, -ENOTDIR if it exists and is not a directory, else -errno.
 */
int mkdir_p(const char *path, mode_t mode);

/*
 * Write data to path atomically: temp file in the same directory, fsync,
 * rename over path, fsync the directory. 0 or -errno (the temp is removed).
 */
int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode);

/* atomic_write_at flags. */
#define ATOMIC_NO_SYNC 1u   /* skip the fsyncs: replaced atomically, but not durable yet */
#define ATOMIC_EXCLUSIVE 2u /* create name only if it does not exist (-EEXIST otherwise) */

/*
 * atomic_write_file relative to a directory fd: writes data to a temp file
 * ".NAME.PID.tmp" in dirfd (O_NOFOLLOW), fsyncs it, renames it over name (or
 * links it to name with ATOMIC_EXCLUSIVE) and fsyncs the directory. 0 or
 * -errno; the temp is removed in every case. One writer per name and process.
 */
int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    unsigned flags);
