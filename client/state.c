/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "status.h"
#include "util.h"

int state_parse(const char *note, size_t len, struct checkpoint *out) {
        if (len > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        /* The text ends at the first blank line (a "\n\n"). */
        for (size_t i = 0; i + 1 < len; i++) {
                if (note[i] == '\n' && note[i + 1] == '\n') {
                        if (i + 2 >= len)
                                return GH_E_MALFORMED; /* no signature lines */
                        struct checkpoint c;
                        int r = checkpoint_parse(note, i + 1, &c);
                        if (r != 0)
                                return r > 0 ? GH_E_MALFORMED : r;
                        *out = c;
                        return 0;
                }
        }
        return GH_E_MALFORMED;
}

static char *state_path(const char *origin) {
        _cleanup_free_ char *dir = xdg_dir("XDG_STATE_HOME", ".local/state");
        char name[3 * NOTE_NAME_MAX + 1];
        if (!dir || origin_file_name(origin, name, sizeof(name)) != 0)
                return NULL;
        return str_concat3(dir, "/checkpoints/", name);
}

int state_load(const char *origin, struct checkpoint *out, bool *found, char *err, size_t errlen) {
        _cleanup_free_ char *path = state_path(origin);
        *found = false;
        if (!path) {
                snprintf(err, errlen, "no state directory (set XDG_STATE_HOME or HOME)");
                return -ENOENT;
        }
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(path, NOTE_MAX_SIZE, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(err, errlen, "remembered checkpoint %s: %s", path,
                         r == -EFBIG ? "larger than a note may be" : strerror(-r));
                return r == -EFBIG ? GH_E_MALFORMED : r;
        }
        struct checkpoint c;
        if (state_parse(buf, len, &c) != 0 || strcmp(c.origin, origin) != 0) {
                snprintf(err, errlen,
                         "remembered checkpoint %s is not a checkpoint of this origin; "
                         "remove it to start over",
                         path);
                return GH_E_MALFORMED;
        }
        *out = c;
        *found = true;
        return 0;
}

int state_save(const char *origin, const struct checkpoint *cp, const char *note, size_t len,
               char *err, size_t errlen) {
        _cleanup_free_ char *path = state_path(origin);
        _cleanup_free_ char *lock = NULL;
        struct checkpoint cur;
        bool found = false;
        int r, fd;

        if (!path) {
                snprintf(err, errlen, "no state directory (set XDG_STATE_HOME or HOME)");
                return -ENOENT;
        }
        char *slash = strrchr(path, '/');
        *slash = '\0';
        r = mkdir_p(path, 0700);
        *slash = '/';
        if (r < 0) {
                snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(-r));
                return r;
        }
        /*
         * Another gpuhours may verify the same origin at the same time:
         * compare with what is remembered now, under a lock, so that an older
         * checkpoint never replaces a newer one.
         */
        /* one lock for every origin, beside (not in) the directory of checkpoints */
        *slash = '\0';
        lock = str_concat3(path, ".lock", ""); /* .../checkpoints.lock */
        *slash = '/';
        if (!lock) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
                r = -errno;
                snprintf(err, errlen, "cannot open %s: %s", lock, strerror(-r));
                return r;
        }
        while (flock(fd, LOCK_EX) != 0) {
                if (errno != EINTR) {
                        r = -errno;
                        snprintf(err, errlen, "cannot lock %s: %s", lock, strerror(-r));
                        close(fd);
                        return r;
                }
        }
        r = state_load(origin, &cur, &found, err, errlen);
        if (r == 0 && found && cur.size > cp->size) {
                r = STATE_KEPT_NEWER;
                snprintf(err, errlen,
                         "kept the remembered checkpoint of size %llu (newer than this one, "
                         "size %llu)",
                         (unsigned long long)cur.size, (unsigned long long)cp->size);
        } else if (r == 0 && found && cur.size == cp->size &&
                   memcmp(cur.root, cp->root, sizeof(cur.root)) != 0) {
                r = STATE_KEPT_NEWER;
                snprintf(err, errlen,
                         "kept the remembered checkpoint of size %llu: this one has the same "
                         "size but another root (a fork)",
                         (unsigned long long)cur.size);
        } else if (r == 0) {
                r = atomic_write_file(path, note, len, 0600);
                if (r < 0)
                        snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
        }
        close(fd); /* releases the lock */
        return r;
}
