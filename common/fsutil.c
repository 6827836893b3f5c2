/* SPDX-License-Identifier: MIT */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int mkdir_p(const char *path, mode_t mode) {
        size_t len = strlen(path);
        if (len == 0 || len >= PATH_MAX)
                return -EINVAL;
        char buf[PATH_MAX];
        memcpy(buf, path, len + 1);
        for (size_t i = 1; i <= len; i++) {
                if (buf[i] != '/' && buf[i] != '\0')
                        continue;
                char c = buf[i];
                buf[i] = '\0';
                if (mkdir(buf, mode) != 0 && errno != EEXIST)
                        return -errno;
                buf[i] = c;
        }
        struct stat st;
        if (stat(path, &st) != 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int fsync_dir_of(const char *path) {
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        if (!slash) {
                strcpy(dir, ".");
        } else {
                size_t n = (size_t)(slash - path);
                if (n == 0)
                        n = 1;
                if (n >= sizeof(dir))
                        return -ENAMETOOLONG;
                memcpy(dir, path, n);
                dir[n] = '\0';
        }
        int fd = open(dir, O_RDONLY);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) != 0 && errno != EINVAL ? -errno : 0;
        close(fd);
        return r;
}

/* All of data to fd, through short and interrupted writes. 0 or -errno. */
static int write_all(int fd, const void *data, size_t len) {
        const uint8_t *p = data;
        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode) {
        char tmp[PATH_MAX];
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = mkstemp(tmp);
        if (fd < 0)
                return -errno;
        int r = fchmod(fd, mode) != 0 ? -errno : write_all(fd, data, len);
        if (r == 0 && fsync(fd) != 0)
                r = -errno;
        if (close(fd) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) != 0)
                r = -errno;
        if (r != 0) {
                unlink(tmp);
                return r;
        }
        return fsync_dir_of(path);
}

/* All of data to fd from offset 0, through short and interrupted writes. 0 or -errno. */
int pwrite_whole(int fd, const void *data, size_t len) {
        const uint8_t *p = data;
        off_t off = 0;
        while (len > 0) {
                ssize_t w = pwrite(fd, p, len, off);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                off += w;
                len -= (size_t)w;
        }
        return 0;
}

int atomic_write_at_dir_errno(int dirfd, const char *name, const void *data, size_t len,
                              mode_t mode, unsigned flags, int *dir_errno) {
        char tmp[NAME_MAX + 1];
        int n = flags & ATOMIC_FIXED_TEMP
                        ? snprintf(tmp, sizeof(tmp), "%s.tmp", name)
                        : snprintf(tmp, sizeof(tmp), ".%s.%ld.tmp", name, (long)getpid());
        int oflags = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
        *dir_errno = 0;
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        if (flags & ATOMIC_SECRET) {
                (void)unlinkat(dirfd, tmp, 0);
                oflags |= O_EXCL;
        } else {
                oflags |= O_TRUNC;
        }
        int fd = openat(dirfd, tmp, oflags, mode);
        if (fd < 0)
                return -errno;
        int r = (flags & ATOMIC_SECRET) && fchmod(fd, mode) != 0 ? -errno
                                                                 : pwrite_whole(fd, data, len);
        if (r == 0 && !(flags & ATOMIC_NO_SYNC) && fsync(fd) != 0)
                r = -errno;
        if (close(fd) != 0 && r == 0)
                r = -errno;
        if (r == 0 && (flags & ATOMIC_EXCLUSIVE) && linkat(dirfd, tmp, dirfd, name, 0) != 0)
                r = -errno;
        if (r == 0 && !(flags & ATOMIC_EXCLUSIVE) && renameat(dirfd, tmp, dirfd, name) != 0)
                r = -errno;
        if (r != 0 || (flags & ATOMIC_EXCLUSIVE))
                (void)unlinkat(dirfd, tmp, 0);
        if (r == 0 && !(flags & ATOMIC_NO_SYNC) && fsync(dirfd) != 0) {
                *dir_errno = errno;
                r = -EIO;
        }
        return r;
}

int atomic_write_at(int dirfd, const char *name, const void *data, size_t len, mode_t mode,
                    unsigned flags) {
        int dir_errno = 0;
        int r = atomic_write_at_dir_errno(dirfd, name, data, len, mode, flags, &dir_errno);
        return dir_errno ? -dir_errno : r;
}
