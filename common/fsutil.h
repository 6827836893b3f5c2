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
/* pwrite of all of data from offset 0, through short writes and EINTR. 0 or -errno. */
int pwrite_whole(int fd, const void *data, size_t len);

/* atomic_write_at flags. */
#define ATOMIC_NO_SYNC 1u   /* skip the fsyncs: replaced atomically, but not durable yet */
#define ATOMIC_EXCLUSIVE 2u /* create name only if it does not exist (-EEXIST otherwise) */
/*
 * For a secret (a key seed): any stale temp is removed first, the temp is
 * created with O_EXCL (never an existing file or a hard link planted there)
 * and fchmod'ed to mode exactly, whatever the umask.
 */
#define ATOMIC_SECRET 4u
/*
 * The temp is "NAME.tmp" instead of ".NAME.PID.tmp": for files whose temp
 * name is part of the state directory's layout (removed at start-up, or
 * overwritten by the next write rather than left behind by a crash).
 */
#define ATOMIC_FIXED_TEMP 8u

/*
 * atomic_write_file relative to a directory fd: writes data to a temp file
 * (".NAME.PID.tmp", or see ATOMIC_FIXED_TEMP) in dirfd with O_NOFOLLOW and
 * O_NONBLOCK (pwrite, through short writes), fsyncs it, renames it over name
 * (or links it to name with ATOMIC_EXCLUSIVE) and fsyncs the directory (any
 * error of that fsync, EINVAL included, is returned). 0 or -errno; the temp
 * is removed in every case. One writer per name and process.
 */
int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    unsigned flags);

/*
 * atomic_write_at, telling a failed directory fsync apart: then it returns
 * -EIO with *dir_errno set to that fsync's errno (the new file is in place but
 * may not be durable); otherwise *dir_errno is 0.
 */
int atomic_write_at_dir_errno(int dirfd, const char *name, const void *data, size_t len,
                              mode_t mode, unsigned flags, int *dir_errno);
