/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* syncfs */
#include "state.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"
#include "status.h"
#include "util.h"

int state_parse(const char *note, size_t len, struct checkpoint *out) {
        size_t text_len, sigs_off;
        struct checkpoint c;
        int r;

        if (len > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        if (!note_split(note, len, &text_len, &sigs_off))
                return GH_E_MALFORMED;
        r = checkpoint_parse(note, text_len, &c);
        if (r != 0)
                return r > 0 ? GH_E_MALFORMED : r;
        *out = c;
        return 0;
}

/* $XDG_STATE_HOME/gpuhours/<sub>/<escaped origin>, or with origin NULL the directory itself. */
static char *state_path_in(const char *sub, const char *origin) {
        _cleanup_free_ char *dir = xdg_dir("XDG_STATE_HOME", ".local/state");
        char name[3 * NOTE_NAME_MAX + 2];
        if (!dir)
                return NULL;
        if (!origin)
                return str_concat3(dir, "/", sub);
        if (origin_file_name(origin, name + 1, sizeof(name) - 1) != 0)
                return NULL;
        name[0] = '/';
        _cleanup_free_ char *d = str_concat3(dir, "/", sub);
        return d ? str_concat3(d, name, "") : NULL;
}

/* Why state_path_in(sub, origin) gave NULL: no state directory, or an origin too long. */
static int state_path_error(const char *origin, char *err, size_t errlen) {
        char name[3 * NOTE_NAME_MAX + 1];
        if (origin && origin_file_name(origin, name, sizeof(name)) != 0) {
                snprintf(err, errlen,
                         "an origin of %zu bytes cannot be remembered: its file name would be "
                         "longer than %u bytes (--no-state verifies without rollback protection)",
                         strlen(origin), ORIGIN_FILE_NAME_MAX);
                return -ENAMETOOLONG;
        }
        snprintf(err, errlen, "no state directory (set XDG_STATE_HOME or HOME)");
        return -ENOENT;
}

static char *state_path(const char *origin) {
        return state_path_in("checkpoints", origin);
}

int state_entry_load(const char *origin, struct state_entry *e, bool *found, char *err,
                     size_t errlen) {
        _cleanup_free_ char *path = state_path(origin);
        memset(e, 0, sizeof(*e));
        *found = false;
        if (!path)
                return state_path_error(origin, err, errlen);
        char *buf = NULL;
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
                         "remove it to start over (gpuhours state forget ORIGIN)",
                         path);
                free(buf);
                return GH_E_MALFORMED;
        }
        struct stat st;
        e->cp = c;
        e->note = buf;
        e->note_len = len;
        e->mtime_s = stat(path, &st) == 0 ? (int64_t)st.st_mtime : -1;
        *found = true;
        return 0;
}

void state_entry_free(struct state_entry *e) {
        free(e->note);
        memset(e, 0, sizeof(*e));
}

int state_load(const char *origin, struct checkpoint *out, bool *found, char *err, size_t errlen) {
        struct state_entry e;
        int r = state_entry_load(origin, &e, found, err, errlen);
        if (r == 0 && *found)
                *out = e.cp;
        state_entry_free(&e);
        return r;
}

/*
 * The one lock of every origin, $XDG_STATE_HOME/gpuhours/checkpoints.lock
 * (beside, not in, the directory of checkpoints), taken exclusively. The
 * directories are created first. An open fd (close it to unlock) or -errno.
 */
static int state_lock(char *err, size_t errlen) {
        _cleanup_free_ char *dir = state_path_in("checkpoints", NULL);
        _cleanup_free_ char *fdir = state_path_in("forks", NULL);
        _cleanup_free_ char *lock = dir ? str_concat3(dir, ".lock", "") : NULL;
        if (!dir || !fdir) {
                snprintf(err, errlen, "no state directory (set XDG_STATE_HOME or HOME)");
                return -ENOENT;
        }
        const char *failed = dir;
        int r = mkdir_p(dir, 0700);
        if (r == 0) {
                failed = fdir;
                r = mkdir_p(fdir, 0700);
        }
        if (r < 0) {
                snprintf(err, errlen, "cannot create %s: %s", failed, strerror(-r));
                return r;
        }
        if (!lock) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        int fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
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
        return fd;
}

static int fork_write_locked(const char *origin, const char *src_a, const char *note_a,
                             size_t la, const char *src_b, const char *note_b, size_t lb,
                             char *err, size_t errlen);

int state_save(const char *origin, const struct checkpoint *cp, const char *note, size_t len,
               char *err, size_t errlen) {
        struct state_save_item it = {.origin = origin, .cp = cp, .note = note, .len = len};
        (void)state_save_many(&it, 1, err, errlen);
        if (it.result != 0)
                snprintf(err, errlen, "%s", it.err);
        return it.result;
}

/* The remembered checkpoint of it->origin allows it (0), or why not (it->result set). */
static bool save_allowed(struct state_save_item *it) {
        struct state_entry cur;
        bool found = false;
        int r = state_entry_load(it->origin, &cur, &found, it->err, sizeof(it->err));
        if (r == 0 && found && cur.cp.size > it->cp->size) {
                r = STATE_KEPT_NEWER;
                snprintf(it->err, sizeof(it->err),
                         "kept the remembered checkpoint of size %llu (newer than this one, "
                         "size %llu)",
                         (unsigned long long)cur.cp.size, (unsigned long long)it->cp->size);
        } else if (r == 0 && found && cur.cp.size == it->cp->size &&
                   memcmp(cur.cp.root, it->cp->root, sizeof(cur.cp.root)) != 0) {
                r = STATE_KEPT_NEWER;
                snprintf(it->err, sizeof(it->err),
                         "kept the remembered checkpoint of size %llu: this one has the same "
                         "size but another root (a fork; gpuhours state show ORIGIN)",
                         (unsigned long long)cur.cp.size);
                char ferr[300];
                (void)fork_write_locked(it->origin, "remembered", cur.note, cur.note_len,
                                        "this verification", it->note, it->len, ferr,
                                        sizeof(ferr));
        }
        state_entry_free(&cur);
        it->result = r;
        return r == 0;
}

/* Every item failed with r for the reason why (the whole batch could not start). */
static int save_fail_all(struct state_save_item *it, size_t n, int r, const char *why) {
        for (size_t i = 0; i < n; i++) {
                it[i].result = r;
                snprintf(it[i].err, sizeof(it[i].err), "%s", why);
        }
        return r;
}

int state_save_many(struct state_save_item *it, size_t n, char *err, size_t errlen) {
        for (size_t i = 0; i < n; i++) {
                it[i].result = 0;
                it[i].err[0] = 0;
        }
        if (n == 0)
                return 0;
        _cleanup_free_ char *dir = state_path_in("checkpoints", NULL);
        int lock = state_lock(err, errlen);
        if (lock < 0)
                return save_fail_all(it, n, lock, err);
        int dfd = dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
        if (dfd < 0) {
                int r = dir ? -errno : -ENOMEM;
                snprintf(err, errlen, "cannot open %s: %s", dir ? dir : "the state directory",
                         strerror(-r));
                close(lock);
                return save_fail_all(it, n, r, err);
        }
        /* 1. every allowed note into its temp file (not yet durable, not yet in place) */
        char (*tmp)[NAME_MAX + 1] = calloc(n, sizeof(*tmp));
        char (*name)[NAME_MAX + 1] = calloc(n, sizeof(*name));
        bool *written = calloc(n, sizeof(*written));
        int r = tmp && name && written ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (origin_file_name(it[i].origin, name[i], sizeof(name[i])) != 0) {
                        it[i].result = state_path_error(it[i].origin, it[i].err,
                                                        sizeof(it[i].err));
                        continue;
                }
                if (!save_allowed(&it[i]))
                        continue;
                snprintf(tmp[i], sizeof(tmp[i]), ".%s.%ld.tmp", name[i], (long)getpid());
                int fd = openat(dfd, tmp[i],
                                O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC,
                                0600);
                int w = fd < 0 ? -errno : pwrite_whole(fd, it[i].note, it[i].len);
                if (fd >= 0 && close(fd) != 0 && w == 0)
                        w = -errno;
                if (w != 0) {
                        (void)unlinkat(dfd, tmp[i], 0);
                        it[i].result = w;
                        snprintf(it[i].err, sizeof(it[i].err), "cannot write %s/%s: %s", dir,
                                 tmp[i], strerror(-w));
                        continue;
                }
                written[i] = true;
        }
        /* 2. one sync makes every temp durable; 3. the renames; 4. one directory fsync */
        /* (no sync at all when every remembered checkpoint was kept) */
        bool any = false;
        for (size_t i = 0; written && i < n; i++)
                any = any || written[i];
        int sr = r == 0 && any && syncfs(dfd) != 0 ? -errno : r;
        for (size_t i = 0; written && i < n; i++) {
                if (!written[i])
                        continue;
                int x = sr;
                if (x == 0 && renameat(dfd, tmp[i], dfd, name[i]) != 0)
                        x = -errno;
                if (x != 0) {
                        (void)unlinkat(dfd, tmp[i], 0);
                        it[i].result = x;
                        snprintf(it[i].err, sizeof(it[i].err), "cannot write %s/%s: %s", dir,
                                 name[i], strerror(-x));
                        written[i] = false;
                }
        }
        if (r == 0 && sr == 0 && any && fsync(dfd) != 0) {
                int x = -errno;
                for (size_t i = 0; i < n; i++)
                        if (written[i]) {
                                it[i].result = x;
                                snprintf(it[i].err, sizeof(it[i].err),
                                         "%s/%s is in place but may not be durable: fsync: %s",
                                         dir, name[i], strerror(-x));
                        }
        }
        if (r != 0) {
                snprintf(err, errlen, "out of memory");
                for (size_t i = 0; i < n; i++)
                        if (it[i].result == 0) {
                                it[i].result = r;
                                snprintf(it[i].err, sizeof(it[i].err), "out of memory");
                        }
        }
        free(tmp);
        free(name);
        free(written);
        close(dfd);
        close(lock);
        return r;
}

/* --- fork evidence --- */

#define FORK_MAGIC "gpuhours fork evidence 1\n"

static bool take_line(const char **p, const char *end, const char *prefix, const char **val,
                      size_t *vlen) {
        size_t pl = strlen(prefix);
        if ((size_t)(end - *p) < pl || memcmp(*p, prefix, pl) != 0)
                return false;
        const char *v = *p + pl;
        const char *nl = memchr(v, '\n', (size_t)(end - v));
        if (!nl)
                return false;
        *val = v;
        *vlen = (size_t)(nl - v);
        *p = nl + 1;
        return true;
}

int state_fork_parse(const char *buf, size_t len, struct state_fork *out) {
        memset(out, 0, sizeof(*out));
        if (len > STATE_FORK_MAX_SIZE)
                return GH_E_TOO_LARGE;
        const char *p = buf, *end = buf + len, *v;
        size_t vl;
        uint64_t t;
        size_t ml = strlen(FORK_MAGIC);
        if (len < ml || memcmp(buf, FORK_MAGIC, ml) != 0)
                return GH_E_MALFORMED;
        p += ml;
        if (!take_line(&p, end, "time ", &v, &vl) || !parse_u64(v, vl, &t) || t > INT64_MAX)
                return GH_E_MALFORMED;
        out->time_s = (int64_t)t;
        for (int i = 0; i < 2; i++) {
                uint64_t n;
                if (!take_line(&p, end, "source ", &v, &vl) || vl == 0 ||
                    vl > STATE_FORK_SOURCE_MAX)
                        goto bad;
                for (size_t k = 0; k < vl; k++)
                        if ((unsigned char)v[k] < 0x20 || (unsigned char)v[k] > 0x7e)
                                goto bad;
                memcpy(out->source[i], v, vl);
                out->source[i][vl] = '\0';
                if (!take_line(&p, end, "note ", &v, &vl) || !parse_u64(v, vl, &n) ||
                    n > NOTE_MAX_SIZE || n > (uint64_t)(end - p))
                        goto bad;
                size_t text_len, sigs_off;
                if (!note_split(p, (size_t)n, &text_len, &sigs_off) ||
                    state_parse(p, (size_t)n, &out->cp[i]) != 0)
                        goto bad;
                out->note[i] = malloc((size_t)n + 1);
                if (!out->note[i]) {
                        state_fork_free(out);
                        return -ENOMEM;
                }
                memcpy(out->note[i], p, (size_t)n);
                out->note[i][n] = '\0';
                out->note_len[i] = (size_t)n;
                p += n;
        }
        if (p != end || strcmp(out->cp[0].origin, out->cp[1].origin) != 0)
                goto bad;
        return 0;
bad:
        state_fork_free(out);
        return GH_E_MALFORMED;
}

void state_fork_free(struct state_fork *f) {
        free(f->note[0]);
        free(f->note[1]);
        memset(f, 0, sizeof(*f));
}

int state_fork_load(const char *origin, struct state_fork *out, bool *found, char *err,
                    size_t errlen) {
        _cleanup_free_ char *path = state_path_in("forks", origin);
        memset(out, 0, sizeof(*out));
        *found = false;
        if (!path)
                return state_path_error(origin, err, errlen);
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_capped(path, STATE_FORK_MAX_SIZE, &buf, &len);
        if (r == -ENOENT)
                return 0;
        if (r < 0) {
                snprintf(err, errlen, "fork evidence %s: %s", path,
                         r == -EFBIG ? "too large" : strerror(-r));
                return r == -EFBIG ? GH_E_MALFORMED : r;
        }
        r = state_fork_parse(buf, len, out);
        if (r == 0 && strcmp(out->cp[0].origin, origin) != 0) {
                state_fork_free(out);
                r = GH_E_MALFORMED;
        }
        if (r != 0) {
                snprintf(err, errlen, "fork evidence %s is not valid: %s", path,
                         r < 0 ? strerror(-r) : "not two checkpoint notes of this origin");
                return r;
        }
        *found = true;
        return 0;
}

/* Under the lock: write the evidence unless some is recorded already (the first is kept). */
static int fork_write_locked(const char *origin, const char *src_a, const char *note_a,
                             size_t la, const char *src_b, const char *note_b, size_t lb,
                             char *err, size_t errlen) {
        _cleanup_free_ char *path = state_path_in("forks", origin);
        if (!path)
                return state_path_error(origin, err, errlen);
        if (la > NOTE_MAX_SIZE || lb > NOTE_MAX_SIZE) {
                snprintf(err, errlen, "a note larger than %u bytes", NOTE_MAX_SIZE);
                return GH_E_TOO_LARGE;
        }
        struct stat st;
        if (lstat(path, &st) == 0)
                return STATE_KEPT_NEWER; /* the evidence recorded first stays */
        if (errno != ENOENT) {
                int r = -errno;
                snprintf(err, errlen, "%s: %s", path, strerror(-r));
                return r;
        }
        char qa[STATE_FORK_SOURCE_MAX + 1], qb[STATE_FORK_SOURCE_MAX + 1];
        quote_bytes(src_a, strlen(src_a), qa, sizeof(qa));
        quote_bytes(src_b, strlen(src_b), qb, sizeof(qb));
        uint64_t now = wall_now_ns() / NS_PER_SEC;
        size_t cap = la + lb + 2 * STATE_FORK_SOURCE_MAX + 200;
        _cleanup_free_ char *buf = malloc(cap);
        if (!buf) {
                snprintf(err, errlen, "out of memory");
                return -ENOMEM;
        }
        int n = snprintf(buf, cap, FORK_MAGIC "time %llu\nsource %s\nnote %zu\n",
                         (unsigned long long)now, qa[0] ? qa : "?", la);
        size_t o = (size_t)n;
        memcpy(buf + o, note_a, la);
        o += la;
        n = snprintf(buf + o, cap - o, "source %s\nnote %zu\n", qb[0] ? qb : "?", lb);
        o += (size_t)n;
        memcpy(buf + o, note_b, lb);
        o += lb;
        int r = atomic_write_file(path, buf, o, 0600);
        if (r < 0)
                snprintf(err, errlen, "cannot write %s: %s", path, strerror(-r));
        return r;
}

int state_record_fork(const char *origin, const char *src_a, const char *note_a, size_t la,
                      const char *src_b, const char *note_b, size_t lb, char *err,
                      size_t errlen) {
        int fd = state_lock(err, errlen);
        if (fd < 0)
                return fd;
        int r = fork_write_locked(origin, src_a, note_a, la, src_b, note_b, lb, err, errlen);
        close(fd);
        return r;
}

/* --- listing and forgetting --- */

/* The origin of a file name written by origin_file_name, or false if it is not one. */
static bool origin_of_file_name(const char *name, char *out, size_t cap) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        for (size_t i = 0; name[i]; i++) {
                if (o + 1 >= cap)
                        return false;
                if (name[i] == '%') {
                        const char *hi = name[i + 1] ? strchr(hex, name[i + 1]) : NULL;
                        const char *lo = hi && name[i + 2] ? strchr(hex, name[i + 2]) : NULL;
                        if (!hi || !lo)
                                return false;
                        out[o++] = (char)(((hi - hex) << 4) | (lo - hex));
                        i += 2;
                } else {
                        out[o++] = name[i];
                }
        }
        out[o] = '\0';
        char again[3 * NOTE_NAME_MAX + 1];
        /* Only the canonical spelling (so one origin is one file, and no '/' or NUL). */
        return o > 0 && o <= NOTE_NAME_MAX && strlen(out) == o &&
               origin_file_name(out, again, sizeof(again)) == 0 && strcmp(again, name) == 0;
}

static int cmp_str(const void *a, const void *b) {
        return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_dir(const char *sub, char ***v, size_t *n, size_t *cap, char *err,
                    size_t errlen) {
        _cleanup_free_ char *path = state_path_in(sub, NULL);
        if (!path)
                return state_path_error(NULL, err, errlen);
        DIR *d = opendir(path);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                int r = -errno;
                snprintf(err, errlen, "cannot read %s: %s", path, strerror(-r));
                return r;
        }
        struct dirent *de;
        int r = 0;
        while ((de = readdir(d)) != NULL) {
                char origin[NOTE_NAME_MAX + 1];
                if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp-") ||
                    !origin_of_file_name(de->d_name, origin, sizeof(origin)))
                        continue;
                bool dup = false;
                for (size_t i = 0; i < *n && !dup; i++)
                        dup = strcmp((*v)[i], origin) == 0;
                if (dup)
                        continue;
                if (*n == STATE_LIST_MAX) {
                        snprintf(err, errlen, "more than %u origins in %s", STATE_LIST_MAX, path);
                        r = -E2BIG;
                        break;
                }
                if (*n == *cap) {
                        size_t nc = *cap ? *cap * 2 : 16;
                        char **nv = realloc(*v, nc * sizeof(*nv));
                        if (!nv) {
                                r = -ENOMEM;
                                break;
                        }
                        *v = nv;
                        *cap = nc;
                }
                if (!((*v)[*n] = strdup(origin))) {
                        r = -ENOMEM;
                        break;
                }
                (*n)++;
        }
        closedir(d);
        if (r == -ENOMEM)
                snprintf(err, errlen, "out of memory");
        return r;
}

int state_list(char ***origins, size_t *n, char *err, size_t errlen) {
        char **v = NULL;
        size_t cnt = 0, cap = 0;
        int r = list_dir("checkpoints", &v, &cnt, &cap, err, errlen);
        if (r == 0)
                r = list_dir("forks", &v, &cnt, &cap, err, errlen);
        if (r != 0) {
                state_list_free(v, cnt);
                return r;
        }
        if (cnt > 1)
                qsort(v, cnt, sizeof(*v), cmp_str);
        *origins = v;
        *n = cnt;
        return 0;
}

void state_list_free(char **origins, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(origins[i]);
        free(origins);
}

int state_forget(const char *origin, bool *had_checkpoint, bool *had_fork, char *err,
                 size_t errlen) {
        *had_checkpoint = *had_fork = false;
        _cleanup_free_ char *cp = state_path(origin);
        _cleanup_free_ char *fk = state_path_in("forks", origin);
        if (!cp || !fk)
                return state_path_error(origin, err, errlen);
        int fd = state_lock(err, errlen);
        if (fd < 0)
                return fd;
        int r = 0;
        const char *paths[2] = {cp, fk};
        bool *had[2] = {had_checkpoint, had_fork};
        for (int i = 0; i < 2 && r == 0; i++) {
                if (unlink(paths[i]) == 0)
                        *had[i] = true;
                else if (errno != ENOENT) {
                        r = -errno;
                        snprintf(err, errlen, "cannot remove %s: %s", paths[i], strerror(-r));
                }
        }
        close(fd);
        return r;
}
