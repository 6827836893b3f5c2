/* SPDX-License-Identifier: MIT */
#include "key.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "log.h"
#include "status.h"

static int read_seed(int dirfd, const char *name, const char *shown, uint8_t *seed, char *err,
                     size_t errlen) {
        int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
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
        } else if (st.st_nlink > 1) {
                rc = GH_E_MALFORMED;
                snprintf(err, errlen,
                         "key '%s' has %ju hard links: a copy elsewhere shares it; refusing it "
                         "(remove the other links)",
                         shown, (uintmax_t)st.st_nlink);
        } else if (st.st_size != KEY_SEED_LEN) {
                rc = GH_E_MALFORMED;
                snprintf(err, errlen, "key '%s' is %lld bytes, not %d; refusing it", shown,
                         (long long)st.st_size, KEY_SEED_LEN);
        } else {
                ssize_t n = pread(fd, seed, KEY_SEED_LEN, 0);
                if (n != KEY_SEED_LEN) {
                        int e = n < 0 ? errno : 0;
                        rc = e ? -e : -EIO;
                        if (e)
                                snprintf(err, errlen, "key '%s': cannot read: %s", shown,
                                         strerror(e));
                        else
                                snprintf(err, errlen, "key '%s': short read (%lld of %d bytes)",
                                         shown, (long long)n, KEY_SEED_LEN);
                }
        }
        close(fd);
        return rc;
}

/* Create <dir>/node.key with a fresh seed; -EEXIST if someone else created it first. */
static int create_seed(int dirfd, const char *shown, uint8_t *seed, char *err, size_t errlen) {
        randombytes_buf(seed, KEY_SEED_LEN);
        /* Temp ".node.key.PID.tmp" (remove_stale_temp_keys knows it), linked, never renamed. */
        int rc = atomic_write_at(dirfd, KEY_FILE, seed, KEY_SEED_LEN, 0600,
                                 ATOMIC_SECRET | ATOMIC_EXCLUSIVE);
        if (rc != 0 && rc != -EEXIST)
                snprintf(err, errlen, "key '%s': cannot create: %s", shown, strerror(-rc));
        return rc;
}

/* Remove key copies a crash left between create_seed's write and its link. */
static void remove_stale_temp_keys(int dirfd, const char *state_dir) {
        int fd = dup(dirfd);
        DIR *dir = fd >= 0 ? fdopendir(fd) : NULL;
        if (!dir) {
                if (fd >= 0)
                        close(fd);
                return;
        }
        struct dirent *e;
        while ((e = readdir(dir)) != NULL) {
                size_t n = strlen(e->d_name);
                if (n > 14 && strncmp(e->d_name, ".node.key.", 10) == 0 &&
                    strcmp(e->d_name + n - 4, ".tmp") == 0) {
                        if (unlinkat(dirfd, e->d_name, 0) == 0)
                                log_notice("key: removed a temporary key copy '%s/%s' left by a "
                                           "crash",
                                           state_dir, e->d_name);
                }
        }
        closedir(dir);
}

/* A ledger without its key: creating a key would silently start a new identity over it. */
static bool ledger_exists(int dirfd) {
        struct stat st;
        if (fstatat(dirfd, "checkpoint", &st, AT_SYMLINK_NOFOLLOW) == 0)
                return true;
        return fstatat(dirfd, "records", &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_size > 0;
}

int key_load(const char *state_dir, const char *origin, struct signer *out, char *source,
             size_t sourcelen, bool *created, char *err, size_t errlen) {
        char shown[1200];
        if (created)
                *created = false;
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
        remove_stale_temp_keys(dfd, state_dir);
        rc = read_seed(dfd, KEY_FILE, shown, seed, err, errlen);
        if (rc == -ENOENT && ledger_exists(dfd)) {
                snprintf(err, errlen,
                         "key '%s' is missing but a ledger exists in '%s': refusing to create a "
                         "new identity over it (restore the key, or move the ledger away to "
                         "start a new one)",
                         shown, state_dir);
                rc = GH_E_NO_KEY;
        } else if (rc == -ENOENT) {
                rc = create_seed(dfd, shown, seed, err, errlen);
                bool made = rc == 0;
                if (rc == -EEXIST) /* lost a race: use the winner's key */
                        rc = read_seed(dfd, KEY_FILE, shown, seed, err, errlen);
                if (rc == 0)
                        snprintf(source, sourcelen, "%s %s", made ? "created now in" : "from",
                                 shown);
                if (rc == 0 && made && created)
                        *created = true;
        } else if (rc == 0) {
                snprintf(source, sourcelen, "from %s", shown);
        }
        close(dfd);
        if (rc != 0)
                goto out;

have_seed:
        rc = signer_init_ed25519(out, origin, seed);
        if (rc != 0)
                snprintf(err, errlen, "key: cannot make a signer for origin '%s': %s", origin,
                         gh_strerror(rc));
out:
        sodium_memzero(seed, KEY_SEED_LEN);
        sodium_free(seed);
        return rc;
}
