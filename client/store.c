/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "note.h"
#include "record.h"
#include "status.h"
#include "util.h"

struct store {
        sqlite3 *db;
        char *path;
};

static const char schema[] =
        "CREATE TABLE IF NOT EXISTS origin ("
        " id INTEGER PRIMARY KEY,"
        " name TEXT NOT NULL UNIQUE,"
        " url TEXT NOT NULL DEFAULT '',"
        " size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),"
        " root BLOB,"
        " border BLOB NOT NULL DEFAULT x'',"
        " note TEXT);"
        "CREATE TABLE IF NOT EXISTS checkpoint ("
        " origin INTEGER NOT NULL REFERENCES origin(id),"
        " size INTEGER NOT NULL,"
        " root BLOB NOT NULL,"
        " note TEXT NOT NULL,"
        " verified_ns INTEGER NOT NULL,"
        " PRIMARY KEY (origin, size));"
        "CREATE TABLE IF NOT EXISTS record (key INTEGER PRIMARY KEY, data BLOB NOT NULL);";

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
                                                      ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
        return -1;
}

static int db_fail(struct store *st, char *err, size_t errlen, const char *what) {
        return fail(err, errlen, "evidence store %s: %s: %s", st->path, what,
                    sqlite3_errmsg(st->db));
}

static int exec(struct store *st, const char *sql, char *err, size_t errlen) {
        if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, sql);
        return 0;
}

static sqlite3_int64 rec_key(int64_t id, uint64_t leaf) {
        return (sqlite3_int64)(((uint64_t)id << STORE_LEAF_BITS) | leaf);
}

int store_border_decode(uint64_t size, const uint8_t *p, size_t len, struct merkle_border *b) {
        merkle_border_init(b);
        if (len != (size_t)__builtin_popcountll(size) * MERKLE_HASH_LEN)
                return -1;
        b->size = size;
        for (unsigned i = 0; i < MERKLE_MAX_LEVELS; i++)
                if ((size >> i) & 1) {
                        memcpy(b->level[i], p, MERKLE_HASH_LEN);
                        p += MERKLE_HASH_LEN;
                }
        return 0;
}

size_t store_border_encode(const struct merkle_border *b, uint8_t out[MERKLE_MAX_LEVELS * 32]) {
        size_t n = 0;
        for (unsigned i = 0; i < MERKLE_MAX_LEVELS; i++)
                if ((b->size >> i) & 1) {
                        memcpy(out + n, b->level[i], MERKLE_HASH_LEN);
                        n += MERKLE_HASH_LEN;
                }
        return n;
}

int store_open(const char *path, struct store **out, char *err, size_t errlen) {
        *out = NULL;
        struct store *st = calloc(1, sizeof(*st));
        if (!st)
                return fail(err, errlen, "out of memory");
        if (path) {
                st->path = strdup(path);
        } else {
                _cleanup_free_ char *dir = xdg_dir("XDG_DATA_HOME", ".local/share");
                if (!dir) {
                        free(st);
                        return fail(err, errlen,
                                    "no place for the evidence store (set XDG_DATA_HOME or HOME, "
                                    "or give --store PATH)");
                }
                int r = mkdir_p(dir, 0700);
                if (r < 0) {
                        fail(err, errlen, "cannot create %s: %s", dir, strerror(-r));
                        free(st);
                        return -1;
                }
                st->path = str_concat3(dir, "/", "store.sqlite");
        }
        if (!st->path) {
                free(st);
                return fail(err, errlen, "out of memory");
        }
        if (sqlite3_open_v2(st->path, &st->db,
                            SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOFOLLOW,
                            NULL) != SQLITE_OK) {
                fail(err, errlen, "cannot open the evidence store %s: %s", st->path,
                     st->db ? sqlite3_errmsg(st->db) : "out of memory");
                store_close(st);
                return -1;
        }
        sqlite3_busy_timeout(st->db, 10000);
        sqlite3_extended_result_codes(st->db, 1);
        if (exec(st, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
            exec(st, "PRAGMA synchronous=NORMAL", err, errlen) != 0 ||
            exec(st, "PRAGMA foreign_keys=ON", err, errlen) != 0 ||
            exec(st, "BEGIN IMMEDIATE", err, errlen) != 0) {
                store_close(st);
                return -1;
        }
        sqlite3_stmt *q = NULL;
        int version = -1;
        if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &q, NULL) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
                version = sqlite3_column_int(q, 0);
        sqlite3_finalize(q);
        int r = 0;
        if (version == 0) {
                r = exec(st, schema, err, errlen);
                if (r == 0)
                        r = exec(st, "PRAGMA user_version=1", err, errlen);
        } else if (version != STORE_SCHEMA_VERSION) {
                r = fail(err, errlen,
                         "evidence store %s has schema version %d; this gpuhours reads version "
                         "%d only",
                         st->path, version, STORE_SCHEMA_VERSION);
        }
        if (r == 0)
                r = exec(st, "COMMIT", err, errlen);
        if (r != 0) {
                store_close(st);
                return -1;
        }
        *out = st;
        return 0;
}

void store_close(struct store *st) {
        if (!st)
                return;
        sqlite3_close(st->db);
        free(st->path);
        free(st);
}

const char *store_path(const struct store *st) {
        return st->path;
}

void store_origin_free(struct store_origin *o) {
        free(o->note);
        o->note = NULL;
}

/* Reads the current row of "SELECT id, name, url, size, root, border, note". */
static int origin_row(struct store *st, sqlite3_stmt *q, struct store_origin *o, char *err,
                      size_t errlen) {
        memset(o, 0, sizeof(*o));
        o->id = sqlite3_column_int64(q, 0);
        const char *name = (const char *)sqlite3_column_text(q, 1);
        const char *url = (const char *)sqlite3_column_text(q, 2);
        sqlite3_int64 size = sqlite3_column_int64(q, 3);
        snprintf(o->name, sizeof(o->name), "%s", name ? name : "");
        snprintf(o->url, sizeof(o->url), "%s", url ? url : "");
        if (size < 0 || (uint64_t)size >= (1ull << STORE_LEAF_BITS))
                return fail(err, errlen, "evidence store %s: origin '%s' has size %lld",
                            st->path, o->name, (long long)size);
        o->size = (uint64_t)size;
        if (o->size == 0)
                return 0;
        const void *root = sqlite3_column_blob(q, 4);
        const void *border = sqlite3_column_blob(q, 5);
        const char *note = (const char *)sqlite3_column_text(q, 6);
        int note_len = sqlite3_column_bytes(q, 6);
        if (!root || sqlite3_column_bytes(q, 4) != MERKLE_HASH_LEN || !note || note_len <= 0 ||
            (size_t)note_len > NOTE_MAX_SIZE ||
            store_border_decode(o->size, border, (size_t)sqlite3_column_bytes(q, 5),
                                &o->border) != 0)
                return fail(err, errlen,
                            "evidence store %s: origin '%s' (size %llu) has a damaged root, "
                            "border or note; run gpuhours store verify",
                            st->path, o->name, (unsigned long long)o->size);
        memcpy(o->root, root, MERKLE_HASH_LEN);
        o->note = malloc((size_t)note_len + 1);
        if (!o->note)
                return fail(err, errlen, "out of memory");
        memcpy(o->note, note, (size_t)note_len);
        o->note[note_len] = '\0';
        o->note_len = (size_t)note_len;
        return 0;
}

static int origin_query(struct store *st, const char *sql, const char *key,
                        struct store_origin *o, bool *found, char *err, size_t errlen) {
        *found = false;
        memset(o, 0, sizeof(*o));
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading an origin");
        sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q), r = 0;
        if (rc == SQLITE_ROW) {
                r = origin_row(st, q, o, err, errlen);
                if (r == 0 && o->size > 0)
                        *found = true;
                else if (r != 0)
                        store_origin_free(o);
        } else if (rc != SQLITE_DONE) {
                r = db_fail(st, err, errlen, "reading an origin");
        }
        sqlite3_finalize(q);
        return r;
}

int store_origin_load(struct store *st, const char *origin, struct store_origin *o, bool *found,
                      char *err, size_t errlen) {
        return origin_query(st,
                            "SELECT id, name, url, size, root, border, note FROM origin WHERE "
                            "name = ?1",
                            origin, o, found, err, errlen);
}

int store_origin_by_url(struct store *st, const char *url, struct store_origin *o, bool *found,
                        char *err, size_t errlen) {
        return origin_query(st,
                            "SELECT id, name, url, size, root, border, note FROM origin WHERE "
                            "url = ?1 AND size > 0 ORDER BY id LIMIT 1",
                            url, o, found, err, errlen);
}

void store_names_free(char **names, size_t n) {
        for (size_t i = 0; i < n; i++)
                free(names[i]);
        free(names);
}

int store_origin_names(struct store *st, char ***names, size_t *n, char *err, size_t errlen) {
        *names = NULL;
        *n = 0;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, "SELECT name FROM origin WHERE size > 0 ORDER BY name", -1,
                               &q, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, "listing origins");
        char **v = NULL;
        size_t k = 0, cap = 0;
        int rc, r = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                if (k == cap) {
                        cap = cap ? 2 * cap : 64;
                        char **nv = cap <= STORE_MAX_ORIGINS ? realloc(v, cap * sizeof(*v)) : NULL;
                        if (!nv) {
                                r = fail(err, errlen, "out of memory");
                                break;
                        }
                        v = nv;
                }
                const char *s = (const char *)sqlite3_column_text(q, 0);
                if (!(v[k] = strdup(s ? s : ""))) {
                        r = fail(err, errlen, "out of memory");
                        break;
                }
                k++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(st, err, errlen, "listing origins");
        sqlite3_finalize(q);
        if (r != 0) {
                store_names_free(v, k);
                return r;
        }
        *names = v;
        *n = k;
        return 0;
}

int store_records(struct store *st, int64_t id, uint64_t from, uint64_t to, store_record_fn fn,
                  void *ctx, char *err, size_t errlen) {
        if (from >= to)
                return 0;
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db,
                               "SELECT key, data FROM record WHERE key >= ?1 AND key < ?2 "
                               "ORDER BY key",
                               -1, &q, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading records");
        sqlite3_bind_int64(q, 1, rec_key(id, from));
        sqlite3_bind_int64(q, 2, rec_key(id, to));
        uint64_t want = from;
        int rc, r = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                uint64_t leaf = (uint64_t)sqlite3_column_int64(q, 0) & ((1ull << STORE_LEAF_BITS) - 1);
                const uint8_t *p = sqlite3_column_blob(q, 1);
                int len = sqlite3_column_bytes(q, 1);
                if (leaf != want || len <= 0 || len > (int)RECORD_MAX_SIZE) {
                        r = fail(err, errlen,
                                 "evidence store %s: record %llu of origin id %lld is missing or "
                                 "has length %d; run gpuhours store verify",
                                 st->path, (unsigned long long)want, (long long)id,
                                 leaf != want ? 0 : len);
                        break;
                }
                r = fn(ctx, leaf, p, (size_t)len);
                if (r != 0)
                        break;
                want++;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(st, err, errlen, "reading records");
        if (r == 0 && want != to)
                r = fail(err, errlen,
                         "evidence store %s: origin id %lld holds %llu of its %llu records; run "
                         "gpuhours store verify",
                         st->path, (long long)id, (unsigned long long)want,
                         (unsigned long long)to);
        sqlite3_finalize(q);
        return r;
}

int store_staged_count(struct store *st, int64_t id, uint64_t size, uint64_t *n, char *err,
                       size_t errlen) {
        sqlite3_stmt *q = NULL;
        *n = 0;
        if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM record WHERE key >= ?1 AND key < ?2",
                               -1, &q, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, "counting staged records");
        sqlite3_bind_int64(q, 1, rec_key(id, size));
        sqlite3_bind_int64(q, 2, rec_key(id + 1, 0));
        int r = 0;
        if (sqlite3_step(q) == SQLITE_ROW)
                *n = (uint64_t)sqlite3_column_int64(q, 0);
        else
                r = db_fail(st, err, errlen, "counting staged records");
        sqlite3_finalize(q);
        return r;
}

int store_checkpoints(struct store *st, int64_t id, store_checkpoint_fn fn, void *ctx, char *err,
                      size_t errlen) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db,
                               "SELECT size, root, note FROM checkpoint WHERE origin = ?1 "
                               "ORDER BY size",
                               -1, &q, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading checkpoints");
        sqlite3_bind_int64(q, 1, id);
        int rc, r = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                sqlite3_int64 size = sqlite3_column_int64(q, 0);
                const char *note = (const char *)sqlite3_column_text(q, 2);
                r = fn(ctx, size < 0 ? UINT64_MAX : (uint64_t)size, sqlite3_column_blob(q, 1),
                       (size_t)sqlite3_column_bytes(q, 1), note ? note : "",
                       (size_t)sqlite3_column_bytes(q, 2));
                if (r != 0)
                        break;
        }
        if (r == 0 && rc != SQLITE_DONE)
                r = db_fail(st, err, errlen, "reading checkpoints");
        sqlite3_finalize(q);
        return r;
}

static int delete_staged(struct store *st, int64_t id, uint64_t size) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, "DELETE FROM record WHERE key >= ?1 AND key < ?2", -1, &q,
                               NULL) != SQLITE_OK)
                return -1;
        sqlite3_bind_int64(q, 1, rec_key(id, size));
        sqlite3_bind_int64(q, 2, rec_key(id + 1, 0));
        int rc = sqlite3_step(q);
        sqlite3_finalize(q);
        return rc == SQLITE_DONE ? 0 : -1;
}

int store_stage_begin(struct store *st, const char *origin, const char *url, int64_t *id,
                      uint64_t *size, char *err, size_t errlen) {
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        sqlite3_stmt *q = NULL;
        int r = -1;
        if (sqlite3_prepare_v2(st->db,
                               "INSERT INTO origin(name, url) VALUES (?1, ?2) ON CONFLICT(name) "
                               "DO UPDATE SET url = excluded.url RETURNING id, size",
                               -1, &q, NULL) != SQLITE_OK) {
                db_fail(st, err, errlen, "adding an origin");
                goto out;
        }
        sqlite3_bind_text(q, 1, origin, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, url ? url : "", -1, SQLITE_STATIC);
        if (sqlite3_step(q) != SQLITE_ROW) {
                db_fail(st, err, errlen, "adding an origin");
                goto out;
        }
        *id = sqlite3_column_int64(q, 0);
        sqlite3_int64 sz = sqlite3_column_int64(q, 1);
        sqlite3_finalize(q);
        q = NULL;
        if (*id <= 0 || *id >= STORE_MAX_ORIGINS || sz < 0 ||
            (uint64_t)sz >= (1ull << STORE_LEAF_BITS)) {
                fail(err, errlen, "evidence store %s: origin '%s' has id %lld, size %lld",
                     st->path, origin, (long long)*id, (long long)sz);
                goto out;
        }
        *size = (uint64_t)sz;
        if (delete_staged(st, *id, *size) != 0) {
                db_fail(st, err, errlen, "deleting staged records");
                goto out;
        }
        r = exec(st, "COMMIT", err, errlen);
out:
        sqlite3_finalize(q);
        if (r != 0)
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int store_stage_frames(struct store *st, int64_t id, uint64_t first, const uint8_t *frames,
                       size_t len, char *err, size_t errlen) {
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        sqlite3_stmt *q = NULL;
        int r = -1;
        if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO record(key, data) VALUES (?1, ?2)",
                               -1, &q, NULL) != SQLITE_OK) {
                db_fail(st, err, errlen, "staging records");
                goto out;
        }
        struct reader rd;
        reader_init(&rd, frames, len);
        uint64_t leaf = first;
        while (reader_left(&rd) > 0) {
                const uint8_t *p;
                size_t n;
                if (record_frame_next(&rd, &p, &n) != 0 || leaf >= (1ull << STORE_LEAF_BITS) - 1) {
                        fail(err, errlen, "staging records: bad framing at leaf %llu",
                             (unsigned long long)leaf);
                        goto out;
                }
                sqlite3_bind_int64(q, 1, rec_key(id, leaf));
                sqlite3_bind_blob(q, 2, p, (int)n, SQLITE_STATIC);
                if (sqlite3_step(q) != SQLITE_DONE) {
                        db_fail(st, err, errlen, "staging records");
                        goto out;
                }
                sqlite3_reset(q);
                leaf++;
        }
        r = exec(st, "COMMIT", err, errlen);
out:
        sqlite3_finalize(q);
        if (r != 0)
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

int store_commit(struct store *st, int64_t id, uint64_t old_size, const struct merkle_border *b,
                 const merkle_hash root, const char *note, size_t note_len, uint64_t now_ns,
                 char *err, size_t errlen) {
        if (b->size >= (1ull << STORE_LEAF_BITS) || note_len > NOTE_MAX_SIZE)
                return fail(err, errlen, "evidence store: tree too large to store");
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        uint8_t border[MERKLE_MAX_LEVELS * 32];
        size_t blen = store_border_encode(b, border);
        sqlite3_stmt *q = NULL;
        int r = -1;
        /* Only if nobody moved this origin meanwhile (another gpuhours on the same store). */
        if (sqlite3_prepare_v2(st->db,
                               "UPDATE origin SET size = ?1, root = ?2, border = ?3, note = ?4 "
                               "WHERE id = ?5 AND size = ?6",
                               -1, &q, NULL) != SQLITE_OK) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        sqlite3_bind_int64(q, 1, (sqlite3_int64)b->size);
        sqlite3_bind_blob(q, 2, root, MERKLE_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_blob(q, 3, border, (int)blen, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, note, (int)note_len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, id);
        sqlite3_bind_int64(q, 6, (sqlite3_int64)old_size);
        if (sqlite3_step(q) != SQLITE_DONE) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        if (sqlite3_changes(st->db) != 1) {
                fail(err, errlen,
                     "evidence store %s: the origin changed during this audit (another gpuhours "
                     "on the same store?); not recorded",
                     st->path);
                goto out;
        }
        sqlite3_finalize(q);
        q = NULL;
        /* Every staged record is there (another gpuhours may have dropped them meanwhile). */
        uint64_t have = 0;
        if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM record WHERE key >= ?1 AND key < ?2",
                               -1, &q, NULL) != SQLITE_OK) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        sqlite3_bind_int64(q, 1, rec_key(id, old_size));
        sqlite3_bind_int64(q, 2, rec_key(id, b->size));
        if (sqlite3_step(q) != SQLITE_ROW) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        have = (uint64_t)sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        q = NULL;
        if (have != b->size - old_size) {
                fail(err, errlen,
                     "evidence store %s: %llu of the %llu new records are staged (another "
                     "gpuhours on the same store?); not recorded",
                     st->path, (unsigned long long)have, (unsigned long long)(b->size - old_size));
                goto out;
        }
        if (sqlite3_prepare_v2(st->db,
                               "INSERT OR IGNORE INTO checkpoint(origin, size, root, note, "
                               "verified_ns) VALUES (?1, ?2, ?3, ?4, ?5)",
                               -1, &q, NULL) != SQLITE_OK) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)b->size);
        sqlite3_bind_blob(q, 3, root, MERKLE_HASH_LEN, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, note, (int)note_len, SQLITE_STATIC);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)now_ns);
        if (sqlite3_step(q) != SQLITE_DONE) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        r = exec(st, "COMMIT", err, errlen);
out:
        sqlite3_finalize(q);
        if (r != 0)
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

void store_stage_abort(struct store *st, int64_t id) {
        sqlite3_stmt *q = NULL;
        if (sqlite3_prepare_v2(st->db, "SELECT size FROM origin WHERE id = ?1", -1, &q, NULL) !=
            SQLITE_OK)
                return;
        sqlite3_bind_int64(q, 1, id);
        sqlite3_int64 size = -1;
        if (sqlite3_step(q) == SQLITE_ROW)
                size = sqlite3_column_int64(q, 0);
        sqlite3_finalize(q);
        if (size >= 0)
                (void)delete_staged(st, id, (uint64_t)size);
}

/* The stored note must be a checkpoint signed by a trusted key named after the origin. */
int store_origin_check(const struct store_origin *so, const struct note_verifier *keys,
                       size_t nkeys, char *why, size_t whylen) {
        struct checkpoint cp;
        size_t text_len = 0, which = 0;
        struct note_verifier *mine = malloc((nkeys ? nkeys : 1) * sizeof(*mine));
        if (!mine) {
                snprintf(why, whylen, "out of memory");
                return -1;
        }
        size_t nmine = 0;
        for (size_t i = 0; i < nkeys; i++)
                if (strcmp(keys[i].name, so->name) == 0)
                        mine[nmine++] = keys[i];
        int r = nmine ? note_verify(so->note, so->note_len, mine, nmine, false, &text_len, &which)
                      : GH_E_NO_KEY;
        free(mine);
        if (r != 0) {
                snprintf(why, whylen, "its stored checkpoint is not signed by a trusted key of "
                                      "the origin (%s)",
                         gh_strerror(r));
                return -1;
        }
        if (checkpoint_parse(so->note, text_len, &cp) != 0 || strcmp(cp.origin, so->name) != 0 ||
            cp.size != so->size || memcmp(cp.root, so->root, MERKLE_HASH_LEN) != 0) {
                snprintf(why, whylen, "its stored checkpoint does not match its size and root");
                return -1;
        }
        merkle_hash br;
        merkle_border_root(&so->border, br);
        if (memcmp(br, so->root, MERKLE_HASH_LEN) != 0) {
                snprintf(why, whylen, "its stored Merkle border does not hash to its root");
                return -1;
        }
        return 0;
}

