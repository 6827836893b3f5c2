/* SPDX-License-Identifier: MIT */
#include "state.h"

#include <errno.h>
#include <string.h>

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

int state_save(const char *origin, const char *note, size_t len, char *err, size_t errlen) {
        _cleanup_free_ char *path = state_path(origin);
        if (!path) {
                snprintf(err, errlen, "no state directory (set XDG_STATE_HOME or HOME)");
                return -ENOENT;
        }
        char *slash = strrchr(path, '/');
        *slash = '\0';
        int r = mkdir_p(path, 0700);
        *slash = '/';
        if (r == 0)
                r = atomic_write_file(path, note, len, 0600);
        if (r < 0)
                snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
        return r;
}
