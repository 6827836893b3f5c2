/* SPDX-License-Identifier: MIT */
#include "statedir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "settings.h"

static int open_checked(const char *path, bool lock, int *dirfd, char *err, size_t errlen) {
        int rc = mkdir_p(path, 0750);
        if (rc) {
                snprintf(err, errlen, "cannot create the state directory '%s': %s", path,
                         strerror(-rc));
                return rc;
        }
        int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                rc = -errno;
                snprintf(err, errlen, "state directory '%s': %s", path, strerror(errno));
                return rc;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
                rc = -errno;
                snprintf(err, errlen, "state directory '%s': %s", path, strerror(errno));
                close(fd);
                return rc;
        }
        if (st.st_mode & (S_IWGRP | S_IWOTH)) {
                snprintf(err, errlen,
                         "state directory '%s' has mode %04o: group/others can write there "
                         "(and replace the ledger or the key); refusing it (chmod 0750)",
                         path, (unsigned)(st.st_mode & 07777));
                close(fd);
                return -EPERM;
        }
        if (lock && flock(fd, LOCK_EX | LOCK_NB) != 0) {
                rc = -errno;
                if (errno == EWOULDBLOCK)
                        snprintf(err, errlen,
                                 "state directory '%s' is locked by another gpuhoursd; exiting "
                                 "(one daemon per ledger)",
                                 path);
                else
                        snprintf(err, errlen, "cannot lock the state directory '%s': %s", path,
                                 strerror(errno));
                close(fd);
                return rc;
        }
        *dirfd = fd;
        return 0;
}

int statedir_open(const char *path, int *dirfd, char *err, size_t errlen) {
        return open_checked(path, true, dirfd, err, errlen);
}

int statedir_open_unlocked(const char *path, int *dirfd, char *err, size_t errlen) {
        return open_checked(path, false, dirfd, err, errlen);
}
