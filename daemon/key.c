/* SPDX-License-Identifier: MIT */
#include "key.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "status.h"

static int read_seed(int dirfd, const char *name, const char *shown, uint8_t *seed, char *err,
                     size_t errlen) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int e = errno;
                if (e != ENOENT)
                        snprintf(err, errlen, "key '%s': %s", shown, strerror(e));
                return -e;
        }
        struct stat st;
        int rc = 0;
        if (fstat(fd, &st) != 0) {
                rc = -errno;
                snprintf(err, errlen, "key '%s': %s", shown, strerror(errno));
        } else if (!S_ISREG(st.st_mode)) {
                rc = GH_E_MALFORMED;
                snprintf(err, errlen, "key '%s' is not a regular file; refusing it", shown);
        } else if (st.st_mode & 077) {
                rc = GH_E_MALFORMED;
                snprintf(err, errlen,
                         "key '%s' has mode %04o: group/other may access it; refusing it "
                         "(chmod 0600)",
                         shown, (unsigned)(st.st_mode & 07777));
        } else if (st.st_size != KEY_SEED_LEN) {
                rc = GH_E_MALFORMED;
                snprintf(err, errlen, "key '%s' is %lld bytes, not %d; refusing it", shown,
                         (long long)st.st_size, KEY_SEED_LEN);
        } else {
                ssize_t n = pread(fd, seed, KEY_SEED_LEN, 0);
                if (n != KEY_SEED_LEN) {
                        rc = n < 0 ? -errno : -EIO;
                        snprintf(err, errlen, "key '%s': short read", shown);
                }
        }
        close(fd);
        return rc;
}

/* Create <dir>/node.key with a fresh seed; -EEXIST if someone else created it first. */
static int create_seed(int dirfd, const char *shown, uint8_t *seed, char *err, size_t errlen) {
        char tmp[64];
        snprintf(tmp, sizeof tmp, ".node.key.%ld.tmp", (long)getpid());
        randombytes_buf(seed, KEY_SEED_LEN);
        (void)unlinkat(dirfd, tmp, 0);
        int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) {
                int e = errno;
                snprintf(err, errlen, "key '%s': cannot create: %s", shown, strerror(e));
                return -e;
        }
        int rc = 0;
        if (fchmod(fd, 0600) != 0 || write(fd, seed, KEY_SEED_LEN) != KEY_SEED_LEN ||
            fsync(fd) != 0)
                rc = errno ? -errno : -EIO;
        close(fd);
        if (rc == 0 && linkat(dirfd, tmp, dirfd, KEY_FILE, 0) != 0)
                rc = -errno;
        (void)unlinkat(dirfd, tmp, 0);
        if (rc == 0 && fsync(dirfd) != 0)
                rc = -errno;
        if (rc != 0 && rc != -EEXIST)
                snprintf(err, errlen, "key '%s': cannot create: %s", shown, strerror(-rc));
        return rc;
}

int key_load(const char *state_dir, const char *origin, struct note_signer *out, char *source,
             size_t sourcelen, char *err, size_t errlen) {
        char shown[1200];
        uint8_t *seed = sodium_malloc(KEY_SEED_LEN);
        int rc;
        if (!seed) {
                snprintf(err, errlen, "key: out of memory");
                return -ENOMEM;
        }

        const char *creds = getenv("CREDENTIALS_DIRECTORY");
        if (creds && creds[0]) {
                int cfd = open(creds, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cfd >= 0) {
                        snprintf(shown, sizeof shown, "%s/%s", creds, KEY_FILE);
                        rc = read_seed(cfd, KEY_FILE, shown, seed, err, errlen);
                        close(cfd);
                        if (rc == 0) {
                                snprintf(source, sourcelen, "from the credential %s", shown);
                                goto have_seed;
                        }
                        if (rc != -ENOENT)
                                goto out;
                }
        }

        int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
                rc = -errno;
                snprintf(err, errlen, "state directory '%s': %s", state_dir, strerror(errno));
                goto out;
        }
        snprintf(shown, sizeof shown, "%s/%s", state_dir, KEY_FILE);
        rc = read_seed(dfd, KEY_FILE, shown, seed, err, errlen);
        if (rc == -ENOENT) {
                rc = create_seed(dfd, shown, seed, err, errlen);
                if (rc == -EEXIST) /* lost a race: use the winner's key */
                        rc = read_seed(dfd, KEY_FILE, shown, seed, err, errlen);
                if (rc == 0)
                        snprintf(source, sourcelen, "created now in %s", shown);
        } else if (rc == 0) {
                snprintf(source, sourcelen, "from %s", shown);
        }
        close(dfd);
        if (rc != 0)
                goto out;

have_seed:
        rc = note_signer_init(out, origin, seed);
        if (rc != 0)
                snprintf(err, errlen, "key: cannot make a signer for origin '%s': %s", origin,
                         gh_strerror(rc));
out:
        sodium_memzero(seed, KEY_SEED_LEN);
        sodium_free(seed);
        return rc;
}
