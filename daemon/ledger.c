/* SPDX-License-Identifier: MIT */
/*
 * The append-only ledger in the state directory:
 *   records     framed records (u32 length + bytes), append-only
 *   hashes      stored Merkle hashes, 32 bytes each, at merkle_stored_index
 *   checkpoint  the latest signed checkpoint note, replaced atomically
 *
 * Append order: record frame, fdatasync, hashes, fdatasync, sign,
 * checkpoint (temp + fsync + rename + dir fsync), then publish. A crash at
 * any point leaves either the old checkpoint with complete-but-unsigned
 * records after it (kept and signed at the next open) or a torn tail past
 * the signed size (cut at the next open). The signed prefix is never
 * touched, so every checkpoint extends the previous one.
 */
#include "ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "fsutil.h"
#include "log.h"
#include "status.h"

#define REC_FILE "records"
#define HASH_FILE "hashes"
#define CP_FILE "checkpoint"
#define CP_TMP CP_FILE ".tmp" /* atomic_write_at's ATOMIC_FIXED_TEMP name */
#define FRAME_MAX (4u + RECORD_MAX_SIZE)

struct ledger {
        int dirfd, rec_fd, hash_fd;
        char *dir;          /* the state directory, for messages */
        int dir_fsync_errno; /* why the last directory fsync failed (write_checkpoint's -EIO) */
        const struct signer *signer; /* checkpoints: the sampling thread only */
        struct signer attest_signer; /* attest notes: the HTTP thread's own instance */
        /* writer state (sampling thread only) */
        uint64_t n;       /* durable records in the file; n > pub_size while publishing waits */
        uint64_t rec_end; /* bytes */
        struct merkle_border border;
        bool hashes_ok;   /* the hashes file holds the stored hashes of records [0, n) */
        char *signed_note; /* signed checkpoint of size n, not yet in the checkpoint file */
        size_t signed_len;
        /* published state, under lock */
        pthread_rwlock_t lock;
        uint64_t pub_size;
        merkle_hash pub_root;
        char *cp_note;
        size_t cp_len;
        uint64_t *offsets; /* offsets[0..pub_size]: frame starts, then the end */
        size_t offcap;
};

static void errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...) {
        if (!err || !errlen)
                return;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

static int pread_all(int fd, void *buf, size_t len, uint64_t off) {
        uint8_t *p = buf;
        while (len) {
                ssize_t r = pread(fd, p, len, (off_t)off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -EIO; /* short file */
                p += r;
                len -= (size_t)r;
                off += (uint64_t)r;
        }
        return 0;
}

static int pwrite_all(int fd, const void *buf, size_t len, uint64_t off) {
        const uint8_t *p = buf;
        while (len) {
                ssize_t r = pwrite(fd, p, len, (off_t)off);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0)
                        return -errno;
                if (r == 0)
                        return -EIO;
                p += r;
                len -= (size_t)r;
                off += (uint64_t)r;
        }
        return 0;
}

static int read_hashes(void *ctx, const uint64_t *indexes, size_t count, merkle_hash *out) {
        const struct ledger *l = ctx;
        for (size_t i = 0; i < count; i++) {
                int rc = pread_all(l->hash_fd, out[i], MERKLE_HASH_LEN,
                                   indexes[i] * MERKLE_HASH_LEN);
                if (rc)
                        return rc;
        }
        return 0;
}

static int file_size(int fd, uint64_t *out) {
        struct stat st;
        if (fstat(fd, &st) != 0)
                return -errno;
        *out = (uint64_t)st.st_size;
        return 0;
}

/* Cut fd back to size and make that durable. */
static int cut_back(int fd, uint64_t size) {
        if (ftruncate(fd, (off_t)size) != 0)
                return -errno;
        if (fdatasync(fd) != 0)
                return -errno;
        return 0;
}

static int offsets_reserve(struct ledger *l, size_t need) {
        if (need <= l->offcap)
                return 0;
        size_t cap = l->offcap ? l->offcap : 1024;
        while (cap < need)
                cap *= 2;
        uint64_t *p = realloc(l->offsets, cap * sizeof *p);
        if (!p)
                return -ENOMEM;
        l->offsets = p;
        l->offcap = cap;
        return 0;
}

/*
 * Replace the checkpoint atomically. -EIO when the directory fsync after the
 * rename failed (the new checkpoint may be in place: fatal for the caller);
 * l->dir_fsync_errno then says why, and cp_strerror reports it.
 */
static int write_checkpoint(struct ledger *l, const char *note, size_t len) {
        /* CP_FILE ".tmp" (CP_TMP) is removed at open: ATOMIC_FIXED_TEMP. */
        return atomic_write_at_dir_errno(l->dirfd, CP_FILE, note, len, 0640, ATOMIC_FIXED_TEMP,
                                         &l->dir_fsync_errno);
}

/* The reason for a write_checkpoint failure, naming a failed directory fsync as such. */
static const char *cp_strerror(const struct ledger *l, int rc, char *buf, size_t len) {
        if (rc == -EIO && l->dir_fsync_errno) {
                snprintf(buf, len,
                         "fsync of the directory '%s' after the rename: %s (durability unknown)",
                         l->dir, strerror(l->dir_fsync_errno));
                return buf;
        }
        return rc < 0 ? strerror(-rc) : gh_strerror(rc);
}

/*
 * Open a ledger file: never through a symlink, never blocking on a FIFO,
 * and only if it is a regular file (a FIFO or a directory named 'checkpoint'
 * must not hang or confuse the daemon). 0 with *out, or -ENOENT (when
 * !create), or a negative errno with the file named in err.
 */
static int open_ledger_file(struct ledger *l, const char *name, int flags, int *out, char *err,
                            size_t errlen) {
        *out = -1;
        int fd = openat(l->dirfd, name, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
                        0640);
        if (fd < 0) {
                int e = errno;
                if (e != ENOENT || (flags & O_CREAT))
                        errf(err, errlen, "ledger: '%s/%s': %s", l->dir, name,
                             e == ELOOP ? "is a symbolic link; refusing it" : strerror(e));
                return -e;
        }
        struct stat st;
        if (fstat(fd, &st) != 0) {
                int e = errno;
                errf(err, errlen, "ledger: '%s/%s': %s", l->dir, name, strerror(e));
                close(fd);
                return -e;
        }
        if (!S_ISREG(st.st_mode)) {
                errf(err, errlen, "ledger: '%s/%s' %s; refusing it", l->dir, name,
                     S_ISDIR(st.st_mode) ? "is a directory, not a file"
                                         : "is not a regular file (a FIFO, socket or device)");
                close(fd);
                return -EINVAL;
        }
        /* Back to blocking I/O for a regular file (O_NONBLOCK is meaningless there anyway). */
        int fl = fcntl(fd, F_GETFL);
        if (fl >= 0)
                (void)fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
        *out = fd;
        return 0;
}

static int sign_checkpoint(const struct ledger *l, uint64_t size, const merkle_hash root,
                           char **note, size_t *len) {
        struct checkpoint cp = {.size = size};
        char text[CHECKPOINT_TEXT_MAX + 1];
        snprintf(cp.origin, sizeof cp.origin, "%s", l->signer->name);
        memcpy(cp.root, root, MERKLE_HASH_LEN);
        size_t n;
        int rc = checkpoint_format(&cp, text, sizeof text, &n);
        if (rc)
                return rc;
        return note_sign(text, n, l->signer, note, len);
}

/* Read the stored checkpoint; 0 with *have=false when there is none. */
static int load_checkpoint(struct ledger *l, struct checkpoint *cp, bool *have, char **note,
                           size_t *note_len, char *err, size_t errlen) {
        *have = false;
        int fd;
        int rc = open_ledger_file(l, CP_FILE, O_RDONLY, &fd, err, errlen);
        if (rc == -ENOENT)
                return 0;
        if (rc)
                return rc;
        char *buf = malloc(NOTE_MAX_SIZE + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        ssize_t n = read(fd, buf, NOTE_MAX_SIZE + 1);
        int e = errno;
        close(fd);
        if (n < 0) {
                free(buf);
                errf(err, errlen, "ledger: cannot read '%s/%s': %s", l->dir, CP_FILE, strerror(e));
                return -e;
        }
        if (n == 0) {
                free(buf);
                errf(err, errlen,
                     "ledger: '%s/%s' is empty (truncated or damaged, not a key problem); "
                     "refusing to sign",
                     l->dir, CP_FILE);
                return GH_E_MALFORMED;
        }
        struct note_verifier v;
        size_t text_len = 0, which = 0;
        signer_verifier(l->signer, &v);
        rc = (size_t)n > NOTE_MAX_SIZE
                         ? GH_E_TOO_LARGE
                         : note_verify(buf, (size_t)n, &v, 1, false, &text_len, &which);
        if (rc == 0)
                rc = checkpoint_parse(buf, text_len, cp);
        if (rc == 0 && strcmp(cp->origin, l->signer->name) != 0)
                rc = GH_E_NO_KEY;
        if (rc != 0) {
                free(buf);
                errf(err, errlen,
                     "ledger: the stored checkpoint does not verify with this node's key and "
                     "origin '%s' (%s); refusing to sign",
                     l->signer->name, gh_strerror(rc));
                return rc;
        }
        *have = true;
        *note = buf;
        *note_len = (size_t)n;
        return 0;
}

/*
 * Pass 2 of recovery: make the hashes file exactly the stored hashes of
 * records [0, n), rewriting from the first wrong or missing hash.
 */
static int repair_hashes(struct ledger *l, uint64_t n, uint8_t *buf, uint64_t *valid, char *err,
                         size_t errlen) {
        uint64_t have = 0;
        int rc = file_size(l->hash_fd, &have);
        bool rewriting = false;
        uint64_t rewritten_from = 0;
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
                uint64_t off = l->offsets[i];
                size_t flen = (size_t)(l->offsets[i + 1] - off);
                merkle_hash leaf, out[MERKLE_MAX_LEVELS + 1], cur[MERKLE_MAX_LEVELS + 1];
                size_t count = 0;
                rc = pread_all(l->rec_fd, buf, flen, off);
                if (rc)
                        break;
                merkle_leaf_hash(buf + 4, flen - 4, leaf);
                rc = merkle_stored_append(i, leaf, read_hashes, l, out, &count);
                if (rc)
                        break;
                uint64_t at = merkle_stored_count(i) * MERKLE_HASH_LEN;
                size_t bytes = count * MERKLE_HASH_LEN;
                if (!rewriting) {
                        if (at + bytes <= have && pread_all(l->hash_fd, cur, bytes, at) == 0 &&
                            memcmp(cur, out, bytes) == 0)
                                continue;
                        rewriting = true;
                        rewritten_from = i;
                        if (ftruncate(l->hash_fd, (off_t)at) != 0) {
                                rc = -errno;
                                break;
                        }
                }
                rc = pwrite_all(l->hash_fd, out, bytes, at);
        }
        uint64_t want = merkle_stored_count(n) * MERKLE_HASH_LEN;
        if (rc == 0 && !rewriting && have != want && ftruncate(l->hash_fd, (off_t)want) != 0)
                rc = -errno;
        if (rc == 0 && fdatasync(l->hash_fd) != 0)
                rc = -errno;
        /* Records whose stored hashes are intact (what proofs can be served for). */
        *valid = rewriting ? rewritten_from : n;
        if (rc != 0) {
                errf(err, errlen, "ledger: cannot rebuild the hash file: %s",
                     rc < 0 ? strerror(-rc) : gh_strerror(rc));
                if (rc == -EDQUOT)
                        return -ENOSPC;
                return rc < 0 ? rc : -EIO;
        }
        if (rewriting)
                log_notice("ledger: rebuilt stored Merkle hashes from record %" PRIu64,
                           rewritten_from);
        else if (have != want)
                log_notice("ledger: cut %" PRIu64 " stale bytes from the hash file", have - want);
        return 0;
}

/* Hand the durable, signed tree of size l->n to readers; takes ownership of note. */
static void publish(struct ledger *l, const merkle_hash root, char *note, size_t note_len) {
        pthread_rwlock_wrlock(&l->lock);
        char *old_note = l->cp_note;
        l->cp_note = note;
        l->cp_len = note_len;
        memcpy(l->pub_root, root, MERKLE_HASH_LEN);
        l->pub_size = l->n;
        pthread_rwlock_unlock(&l->lock);
        free(old_note);
}

/*
 * Finish what a full disk interrupted: the stored hashes of an unfinished
 * recovery, then the checkpoint of size l->n. A tree that was signed once is
 * only ever published with that same note (two signatures for one size must
 * never exist). 0 when the ledger is published up to l->n; -ENOSPC to retry
 * later; -EIO fatal.
 */
static int finish_publish(struct ledger *l, char *err, size_t errlen) {
        int rc = 0;
        if (!l->hashes_ok) {
                uint8_t *buf = malloc(FRAME_MAX);
                uint64_t valid = 0;
                if (!buf)
                        return -ENOMEM;
                rc = repair_hashes(l, l->n, buf, &valid, err, errlen);
                free(buf);
                if (rc)
                        return rc;
                l->hashes_ok = true;
        }
        merkle_hash root;
        merkle_border_root(&l->border, root);
        if (!l->signed_note) {
                rc = sign_checkpoint(l, l->n, root, &l->signed_note, &l->signed_len);
                if (rc) {
                        errf(err, errlen, "ledger: cannot sign the checkpoint: %s",
                             rc < 0 ? strerror(-rc) : gh_strerror(rc));
                        return -EIO;
                }
        }
        rc = write_checkpoint(l, l->signed_note, l->signed_len);
        if (rc) {
                char why[1400];
                errf(err, errlen,
                     "ledger: cannot write the signed checkpoint of size %" PRIu64 ": %s%s", l->n,
                     cp_strerror(l, rc, why, sizeof why),
                     rc == -ENOSPC || rc == -EDQUOT ? " (kept; the same note is retried)" : "");
                return rc == -ENOSPC || rc == -EDQUOT ? -ENOSPC : -EIO;
        }
        publish(l, root, l->signed_note, l->signed_len);
        l->signed_note = NULL;
        l->signed_len = 0;
        return 0;
}

int ledger_publish_pending(struct ledger *l, char *err, size_t errlen) {
        if (l->pub_size == l->n && l->hashes_ok)
                return 0;
        return finish_publish(l, err, errlen);
}

bool ledger_unpublished(struct ledger *l) {
        return l->pub_size != l->n || !l->hashes_ok;
}

static int recover(struct ledger *l, char *err, size_t errlen) {
        struct checkpoint cp;
        bool have_cp = false;
        char *note = NULL;
        size_t note_len = 0;
        int rc = load_checkpoint(l, &cp, &have_cp, &note, &note_len, err, errlen);
        if (rc)
                return rc;

        uint64_t rec_size = 0, hash_size = 0;
        if ((rc = file_size(l->rec_fd, &rec_size)) || (rc = file_size(l->hash_fd, &hash_size))) {
                free(note);
                errf(err, errlen, "ledger: %s", strerror(-rc));
                return rc;
        }
        uint8_t *buf = malloc(FRAME_MAX);
        struct record *rec = malloc(sizeof *rec);
        if (!buf || !rec) {
                free(buf);
                free(rec);
                free(note);
                errf(err, errlen, "ledger: out of memory");
                return -ENOMEM;
        }

        /* Pass 1: walk the frames, hash the leaves, check the signed root. */
        uint64_t pos = 0, i = 0, first_bad_leaf = UINT64_MAX;
        bool root_checked = !have_cp || cp.size == 0, root_ok = root_checked;
        if (have_cp && cp.size == 0) {
                merkle_hash empty;
                merkle_empty_root(empty);
                root_ok = memcmp(empty, cp.root, MERKLE_HASH_LEN) == 0;
        }
        merkle_border_init(&l->border);
        for (;;) {
                uint32_t len;
                if (rec_size - pos < 4)
                        break;
                if ((rc = pread_all(l->rec_fd, buf, 4, pos)))
                        break;
                len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 |
                      buf[3];
                if (len == 0 || len > RECORD_MAX_SIZE || rec_size - pos - 4 < len)
                        break;
                if ((rc = pread_all(l->rec_fd, buf + 4, len, pos + 4)))
                        break;
                if (record_decode(buf + 4, len, rec) != 0)
                        break;
                merkle_hash leaf, stored;
                merkle_leaf_hash(buf + 4, len, leaf);
                uint64_t at = merkle_stored_index(0, i) * MERKLE_HASH_LEN;
                if (first_bad_leaf == UINT64_MAX && at + MERKLE_HASH_LEN <= hash_size &&
                    pread_all(l->hash_fd, stored, MERKLE_HASH_LEN, at) == 0 &&
                    memcmp(stored, leaf, MERKLE_HASH_LEN) != 0)
                        first_bad_leaf = i;
                if ((rc = merkle_border_append(&l->border, leaf)))
                        break;
                if ((rc = offsets_reserve(l, (size_t)i + 2)))
                        break;
                l->offsets[i] = pos;
                pos += 4 + (uint64_t)len;
                i++;
                l->offsets[i] = pos;
                if (have_cp && i == cp.size) {
                        merkle_hash root;
                        merkle_border_root(&l->border, root);
                        root_checked = true;
                        root_ok = memcmp(root, cp.root, MERKLE_HASH_LEN) == 0;
                }
        }
        if (i == 0) {
                if (offsets_reserve(l, 1) == 0)
                        l->offsets[0] = 0;
                else
                        rc = -ENOMEM;
        }
        free(rec);
        if (rc) {
                errf(err, errlen, "ledger: cannot read the records: %s",
                     rc < 0 ? strerror(-rc) : gh_strerror(rc));
                goto fail;
        }
        if (have_cp && i < cp.size) {
                errf(err, errlen,
                     "ledger: record %" PRIu64 " does not match the signed checkpoint (tampered "
                     "or corrupt: the checkpoint covers %" PRIu64 " records, %" PRIu64
                     " are intact); refusing to sign",
                     i, cp.size, i);
                rc = GH_E_ROOT_MISMATCH;
                goto fail;
        }
        /*
         * Only the very first append can leave a durable record without a
         * checkpoint (a crash between the two). More records and no
         * checkpoint: someone removed it, and the records cannot be trusted.
         */
        if (!have_cp && i > 1) {
                errf(err, errlen,
                     "ledger: %" PRIu64 " records but no signed checkpoint (the checkpoint file "
                     "was removed?); refusing to sign",
                     i);
                rc = GH_E_ROOT_MISMATCH;
                goto fail;
        }
        if (!root_checked || !root_ok) {
                if (first_bad_leaf < cp.size)
                        errf(err, errlen,
                             "ledger: record %" PRIu64 " does not match the signed checkpoint "
                             "(tampered or corrupt); refusing to sign",
                             first_bad_leaf);
                else
                        errf(err, errlen,
                             "ledger: records 0..%" PRIu64 " do not match the signed checkpoint "
                             "root (tampered or corrupt; the stored hashes do not say which "
                             "record); refusing to sign",
                             cp.size - 1);
                rc = GH_E_ROOT_MISMATCH;
                goto fail;
        }
        if (pos < rec_size) {
                log_warn("ledger: cut a torn tail of %" PRIu64 " bytes after the %" PRIu64
                         " intact records (an interrupted append)",
                         rec_size - pos, i);
                if ((rc = cut_back(l->rec_fd, pos))) {
                        errf(err, errlen, "ledger: cannot cut the torn tail: %s", strerror(-rc));
                        goto fail;
                }
        }
        l->n = i;
        l->rec_end = pos;

        /* Pass 2: the stored hashes proofs are served from. */
        uint64_t valid = 0;
        rc = repair_hashes(l, i, buf, &valid, err, errlen);
        l->hashes_ok = rc == 0;
        if (rc && !(rc == -ENOSPC && have_cp && valid >= cp.size))
                goto fail;
        if (rc == 0 && (!have_cp || i > cp.size)) {
                merkle_hash root;
                merkle_border_root(&l->border, root);
                if ((rc = sign_checkpoint(l, i, root, &l->signed_note, &l->signed_len))) {
                        errf(err, errlen, "ledger: cannot sign the checkpoint: %s",
                             rc < 0 ? strerror(-rc) : gh_strerror(rc));
                        goto fail;
                }
                rc = write_checkpoint(l, l->signed_note, l->signed_len);
                if (rc == -EDQUOT)
                        rc = -ENOSPC;
                if (rc && !(rc == -ENOSPC && have_cp)) {
                        char why[1400];
                        errf(err, errlen, "ledger: cannot write the checkpoint: %s",
                             cp_strerror(l, rc, why, sizeof why));
                        goto fail;
                }
                if (rc == 0) {
                        free(note);
                        note = l->signed_note;
                        note_len = l->signed_len;
                        l->signed_note = NULL;
                        if (have_cp)
                                log_notice("ledger: signed %" PRIu64 " durable records appended "
                                           "after the last checkpoint (size %" PRIu64 ")",
                                           i - cp.size, cp.size);
                }
        }
        bool degraded = rc != 0;
        if (degraded) {
                /*
                 * No space to finish the recovery: serve the signed prefix now
                 * and finish (hashes, then this very checkpoint) at the next append.
                 */
                log_warn("%s; serving the %" PRIu64 " signed records and finishing the "
                         "recovery of %" PRIu64 " more when space returns",
                         err, cp.size, i - cp.size);
                if (err && errlen)
                        err[0] = '\0';
        }
        pthread_rwlock_wrlock(&l->lock);
        l->pub_size = degraded ? cp.size : i;
        if (degraded)
                memcpy(l->pub_root, cp.root, MERKLE_HASH_LEN);
        else
                merkle_border_root(&l->border, l->pub_root);
        l->cp_note = note;
        l->cp_len = note_len;
        pthread_rwlock_unlock(&l->lock);
        free(buf);
        return 0;
fail:
        free(buf);
        free(note);
        return rc ? rc : -EIO;
}

int ledger_open(const char *state_dir, const struct signer *signer, struct ledger **out,
                char *err, size_t errlen) {
        struct ledger *l = calloc(1, sizeof *l);
        if (!l) {
                errf(err, errlen, "ledger: out of memory");
                return -ENOMEM;
        }
        l->dirfd = l->rec_fd = l->hash_fd = -1;
        l->signer = signer;
        pthread_rwlockattr_t attr;
        pthread_rwlockattr_init(&attr);
        /* HTTP readers must not starve the sampling thread's publish. */
        pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
        pthread_rwlock_init(&l->lock, &attr);
        pthread_rwlockattr_destroy(&attr);

        int rc;
        l->dir = strdup(state_dir);
        if (!l->dir) {
                errf(err, errlen, "ledger: out of memory");
                ledger_close(l);
                return -ENOMEM;
        }
        rc = signer_dup(signer, &l->attest_signer);
        if (rc) {
                errf(err, errlen, "ledger: cannot duplicate the signer: %s",
                     rc < 0 ? strerror(-rc) : gh_strerror(rc));
                goto fail;
        }
        l->dirfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (l->dirfd < 0) {
                rc = -errno;
                errf(err, errlen, "ledger: state directory '%s': %s", state_dir, strerror(errno));
                goto fail;
        }
        (void)unlinkat(l->dirfd, CP_TMP, 0);
        if ((rc = open_ledger_file(l, REC_FILE, O_RDWR | O_CREAT, &l->rec_fd, err, errlen)) ||
            (rc = open_ledger_file(l, HASH_FILE, O_RDWR | O_CREAT, &l->hash_fd, err, errlen)))
                goto fail;
        if (fsync(l->dirfd) != 0) {
                rc = -errno;
                errf(err, errlen, "ledger: fsync '%s': %s", state_dir, strerror(errno));
                goto fail;
        }
        if ((rc = recover(l, err, errlen)))
                goto fail;
        *out = l;
        return 0;
fail:
        ledger_close(l);
        return rc;
}

void ledger_close(struct ledger *l) {
        if (!l)
                return;
        if (l->rec_fd >= 0)
                close(l->rec_fd);
        if (l->hash_fd >= 0)
                close(l->hash_fd);
        if (l->dirfd >= 0)
                close(l->dirfd);
        pthread_rwlock_destroy(&l->lock);
        signer_free(&l->attest_signer);
        free(l->cp_note);
        free(l->signed_note);
        free(l->dir);
        free(l->offsets);
        free(l);
}

int ledger_append(struct ledger *l, const struct record *r, char *err, size_t errlen) {
        struct writer w;
        uint8_t *frame = NULL;
        size_t flen = 0;
        char *note = NULL;
        size_t note_len = 0;
        int rc;

        /* A tree signed earlier goes out first, with its own note. */
        if (ledger_unpublished(l) && (rc = finish_publish(l, err, errlen)) != 0)
                return rc;

        /* Reserve first: nothing may fail after the checkpoint is replaced. */
        pthread_rwlock_wrlock(&l->lock);
        rc = offsets_reserve(l, (size_t)l->n + 2);
        pthread_rwlock_unlock(&l->lock);
        if (rc) {
                errf(err, errlen, "ledger: out of memory");
                return rc;
        }

        writer_init(&w, FRAME_MAX);
        writer_u32(&w, 0);
        rc = record_encode(r, &w);
        if (rc == 0) {
                writer_put_u32_at(&w, 0, (uint32_t)(writer_len(&w) - 4));
                rc = writer_finish(&w, &frame, &flen);
        } else {
                writer_free(&w);
        }
        if (rc) {
                errf(err, errlen, "ledger: cannot encode the %s record: %s",
                     record_kind_name(r->kind) ? record_kind_name(r->kind) : "unknown",
                     gh_strerror(rc));
                return rc;
        }

        uint64_t old_end = l->rec_end, n = l->n;
        uint64_t hash_at = merkle_stored_count(n) * MERKLE_HASH_LEN;
        merkle_hash leaf, hashes[MERKLE_MAX_LEVELS + 1], root;
        size_t count = 0;
        struct merkle_border border = l->border;
        const char *stage = "write the record";

        rc = pwrite_all(l->rec_fd, frame, flen, old_end);
        if (rc == 0 && fdatasync(l->rec_fd) != 0)
                rc = -errno;
        if (rc)
                goto undo;

        stage = "store the Merkle hashes";
        merkle_leaf_hash(frame + 4, flen - 4, leaf);
        rc = merkle_stored_append(n, leaf, read_hashes, l, hashes, &count);
        if (rc == 0)
                rc = pwrite_all(l->hash_fd, hashes, count * MERKLE_HASH_LEN, hash_at);
        if (rc == 0 && fdatasync(l->hash_fd) != 0)
                rc = -errno;
        if (rc)
                goto undo;

        stage = "sign the checkpoint";
        rc = merkle_border_append(&border, leaf);
        if (rc == 0) {
                merkle_border_root(&border, root);
                rc = sign_checkpoint(l, n + 1, root, &note, &note_len);
        }
        if (rc)
                goto undo;
        /*
         * Signed: from here on the record stays. Cutting it back would let a
         * different record be signed at this size later, two valid signatures
         * for one size. If the checkpoint cannot be written, the same note is
         * retried (ledger_publish_pending, or the next append) and a restart
         * signs the same tree again (Ed25519 is deterministic: the same note).
         */
        free(frame);
        l->n = n + 1;
        l->rec_end = old_end + flen;
        l->border = border;
        pthread_rwlock_wrlock(&l->lock);
        l->offsets[n + 1] = l->rec_end;
        pthread_rwlock_unlock(&l->lock);
        rc = write_checkpoint(l, note, note_len);
        if (rc) {
                bool nospace = rc == -ENOSPC || rc == -EDQUOT;
                char why[1400];
                errf(err, errlen, "ledger: cannot write the checkpoint of size %" PRIu64 ": %s%s",
                     n + 1, cp_strerror(l, rc, why, sizeof why),
                     nospace ? " (the signed record is kept; the same checkpoint is retried)"
                             : "");
                if (!nospace) {
                        free(note);
                        return -EIO;
                }
                l->signed_note = note;
                l->signed_len = note_len;
                return -EINPROGRESS;
        }
        publish(l, root, note, note_len);
        return 0;

undo:
        free(frame);
        free(note);
        {
                int e1 = cut_back(l->hash_fd, hash_at);
                int e2 = cut_back(l->rec_fd, old_end);
                if (e1 || e2) {
                        errf(err, errlen, "ledger: cannot %s (%s) and cannot cut it back (%s)",
                             stage, rc < 0 ? strerror(-rc) : gh_strerror(rc),
                             strerror(-(e1 ? e1 : e2)));
                        return -EIO;
                }
        }
        errf(err, errlen, "ledger: cannot %s: %s", stage, rc < 0 ? strerror(-rc) : gh_strerror(rc));
        /* Only ENOSPC (and EDQUOT) are retryable; every other I/O failure is fatal. */
        if (rc == -EDQUOT)
                return -ENOSPC;
        if (rc < 0 && rc != -ENOSPC && rc != -ENOMEM)
                return -EIO;
        return rc;
}

uint64_t ledger_size(struct ledger *l) {
        pthread_rwlock_rdlock(&l->lock);
        uint64_t n = l->pub_size;
        pthread_rwlock_unlock(&l->lock);
        return n;
}

int ledger_checkpoint(struct ledger *l, char **note, size_t *len, uint64_t *size) {
        pthread_rwlock_rdlock(&l->lock);
        char *p = malloc(l->cp_len + 1);
        if (p) {
                memcpy(p, l->cp_note, l->cp_len);
                p[l->cp_len] = '\0';
                *note = p;
                *len = l->cp_len;
                if (size)
                        *size = l->pub_size;
        }
        pthread_rwlock_unlock(&l->lock);
        return p ? 0 : -ENOMEM;
}

int ledger_last_record(struct ledger *l, struct record *out) {
        uint8_t *buf = malloc(FRAME_MAX);
        if (!buf)
                return -ENOMEM;
        int rc;
        pthread_rwlock_rdlock(&l->lock);
        if (l->pub_size == 0) {
                rc = GH_E_RANGE;
        } else {
                uint64_t off = l->offsets[l->pub_size - 1];
                size_t flen = (size_t)(l->offsets[l->pub_size] - off);
                rc = pread_all(l->rec_fd, buf, flen, off);
                if (rc == 0)
                        rc = record_decode(buf + 4, flen - 4, out);
        }
        pthread_rwlock_unlock(&l->lock);
        free(buf);
        return rc;
}

int ledger_read_records(struct ledger *l, uint64_t start, uint64_t end, size_t max_records,
                        size_t max_bytes, uint8_t **out, size_t *outlen, uint64_t *served_end) {
        int rc = 0;
        pthread_rwlock_rdlock(&l->lock);
        if (start >= end || end > l->pub_size) {
                rc = GH_E_RANGE;
                goto out;
        }
        uint64_t stop = start + 1;
        if (max_records == 0)
                max_records = 1;
        while (stop < end && stop - start < max_records &&
               l->offsets[stop + 1] - l->offsets[start] <= max_bytes)
                stop++;
        size_t len = (size_t)(l->offsets[stop] - l->offsets[start]);
        uint8_t *p = malloc(len);
        if (!p) {
                rc = -ENOMEM;
                goto out;
        }
        rc = pread_all(l->rec_fd, p, len, l->offsets[start]);
        if (rc) {
                free(p);
                goto out;
        }
        *out = p;
        *outlen = len;
        *served_end = stop;
out:
        pthread_rwlock_unlock(&l->lock);
        return rc;
}

int ledger_prove_inclusion(struct ledger *l, uint64_t index, uint64_t size,
                           merkle_hash proof[MERKLE_MAX_PROOF], size_t *n) {
        int rc;
        pthread_rwlock_rdlock(&l->lock);
        if (index >= size || size > l->pub_size)
                rc = GH_E_RANGE;
        else
                rc = merkle_prove_inclusion(index, size, read_hashes, l, proof, n);
        pthread_rwlock_unlock(&l->lock);
        return rc;
}

int ledger_prove_consistency(struct ledger *l, uint64_t old_size, uint64_t new_size,
                             merkle_hash proof[MERKLE_MAX_PROOF], size_t *n) {
        int rc;
        pthread_rwlock_rdlock(&l->lock);
        if (old_size == 0 || old_size > new_size || new_size > l->pub_size)
                rc = GH_E_RANGE;
        else
                rc = merkle_prove_consistency(old_size, new_size, read_hashes, l, proof, n);
        pthread_rwlock_unlock(&l->lock);
        return rc;
}

int ledger_attest(struct ledger *l, const uint8_t nonce[32], char **note, size_t *len) {
        struct attest a;
        struct timespec ts;
        char text[ATTEST_TEXT_MAX + 1];
        memset(&a, 0, sizeof a);
        snprintf(a.origin, sizeof a.origin, "%s", l->signer->name);
        memcpy(a.nonce, nonce, 32);
        pthread_rwlock_rdlock(&l->lock);
        a.size = l->pub_size;
        memcpy(a.root, l->pub_root, MERKLE_HASH_LEN);
        pthread_rwlock_unlock(&l->lock);
        clock_gettime(CLOCK_REALTIME, &ts);
        a.time_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        size_t n;
        int rc = attest_format(&a, text, sizeof text, &n);
        if (rc)
                return rc;
        return note_sign(text, n, &l->attest_signer, note, len);
}
