/* SPDX-License-Identifier: MIT */
#include "store.h"

#include <errno.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze-state.h"
#include "buf.h"
#include "hash.h"
#include "note.h"
#include "record.h"
#include "sha256_evp.h"
#include "status.h"
#include "util.h"

#define STORE_STMT_CACHE 64

struct store {
        sqlite3 *db;
        char *path;
        int64_t run; /* this process's staging (random; a row of another run is stale) */
        struct sha256_evp *sha; /* the saved windows' chain (made on first use) */
        bool batch; /* inside store_batch_begin: commits are savepoints of its transaction */
        /*
         * Prepared statements kept for reuse (prep, unprep), by their SQL text:
         * an audit runs a dozen statements per node, and parsing them anew
         * each time cost more than running them.
         */
        struct cached_stmt {
                char *sql;
                sqlite3_stmt *q;
                bool busy;
        } cache[STORE_STMT_CACHE];
        size_t ncache;
};

/* sqlite3_prepare_v2 of sql, reusing a cached statement that is not in use. */
static int prep(struct store *st, const char *sql, sqlite3_stmt **q) {
        for (size_t i = 0; i < st->ncache; i++)
                if (!st->cache[i].busy && strcmp(st->cache[i].sql, sql) == 0) {
                        st->cache[i].busy = true;
                        *q = st->cache[i].q;
                        return SQLITE_OK;
                }
        int rc = sqlite3_prepare_v2(st->db, sql, -1, q, NULL);
        if (rc != SQLITE_OK || !*q || st->ncache == STORE_STMT_CACHE)
                return rc;
        char *copy = strdup(sql);
        if (copy)
                st->cache[st->ncache++] = (struct cached_stmt){.sql = copy, .q = *q, .busy = true};
        return rc;
}

/* Done with a statement from prep: reset for reuse (bindings cleared), or finalized. */
static void unprep(struct store *st, sqlite3_stmt *q) {
        if (!q)
                return;
        for (size_t i = 0; i < st->ncache; i++)
                if (st->cache[i].q == q) {
                        sqlite3_reset(q);
                        sqlite3_clear_bindings(q);
                        st->cache[i].busy = false;
                        return;
                }
        sqlite3_finalize(q);
}

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
        " PRIMARY KEY (origin, size));";

/*
 * Schema version 3: the fork evidence of an origin (store.h), one row per
 * origin name (the first kept), whether or not the origin has records.
 */
static const char fork_schema[] =
        "CREATE TABLE IF NOT EXISTS fork ("
        " name TEXT PRIMARY KEY,"
        " kind TEXT NOT NULL,"
        " detected_ns INTEGER NOT NULL,"
        " source TEXT NOT NULL,"
        " detail TEXT NOT NULL,"
        " note_a TEXT NOT NULL,"
        " note_b TEXT NOT NULL);";

/* Schema version 2: records in pages (store.h). */
static const char page_schema[] =
        "CREATE TABLE IF NOT EXISTS pagedata (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS page ("
        " key INTEGER PRIMARY KEY,"
        " n INTEGER NOT NULL,"
        " blob INTEGER NOT NULL);"
        "CREATE TABLE IF NOT EXISTS stage ("
        " sid INTEGER NOT NULL,"
        " first INTEGER NOT NULL,"
        " origin INTEGER NOT NULL,"
        " run INTEGER NOT NULL,"
        " n INTEGER NOT NULL,"
        " blob INTEGER NOT NULL,"
        " PRIMARY KEY (sid, first)) WITHOUT ROWID;"
        "CREATE INDEX IF NOT EXISTS stage_origin ON stage(origin);";

static const char state_schema[] =
        "CREATE TABLE IF NOT EXISTS astate ("
        " origin INTEGER PRIMARY KEY REFERENCES origin(id),"
        " size INTEGER NOT NULL,"
        " nwins INTEGER NOT NULL,"
        " wchain BLOB NOT NULL,"
        " hash BLOB NOT NULL,"
        " data BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS awin (key INTEGER PRIMARY KEY, data BLOB NOT NULL);"
        "CREATE TABLE IF NOT EXISTS astage ("
        " sid INTEGER PRIMARY KEY,"
        " origin INTEGER NOT NULL REFERENCES origin(id),"
        " audit INTEGER NOT NULL,"
        " run INTEGER NOT NULL,"
        " size INTEGER NOT NULL,"
        " root BLOB NOT NULL,"
        " first INTEGER NOT NULL,"
        " nwins INTEGER NOT NULL,"
        " wchain BLOB NOT NULL,"
        " hash BLOB NOT NULL,"
        " data BLOB NOT NULL,"
        " wins BLOB NOT NULL);";

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

/*
 * An audit's commit (and the drop of its staged rows): its own transaction,
 * or a savepoint of the batch's (store_batch_begin), so that a failed one is
 * undone alone and the others stay for the batch's COMMIT.
 */
static int audit_tx_begin(struct store *st, char *err, size_t errlen) {
        return exec(st, st->batch ? "SAVEPOINT audit" : "BEGIN IMMEDIATE", err, errlen);
}

static int audit_tx_commit(struct store *st, char *err, size_t errlen) {
        return exec(st, st->batch ? "RELEASE audit" : "COMMIT", err, errlen);
}

static void audit_tx_rollback(struct store *st) {
        if (st->batch) {
                sqlite3_exec(st->db, "ROLLBACK TO audit", NULL, NULL, NULL);
                sqlite3_exec(st->db, "RELEASE audit", NULL, NULL, NULL);
        } else {
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        }
}

int store_batch_begin(struct store *st, char *err, size_t errlen) {
        if (st->batch)
                return fail(err, errlen, "evidence store %s: nested batch", st->path);
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        st->batch = true;
        return 0;
}

int store_batch_end(struct store *st, char *err, size_t errlen) {
        if (!st->batch)
                return 0;
        st->batch = false;
        if (exec(st, "COMMIT", err, errlen) != 0) {
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
                return -1;
        }
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

/*
 * Checkpoint the WAL into the database every about `bytes` rather than every
 * 1,000 pages: each checkpoint syncs twice, and an audit of a fleet commits
 * a few pages per node (the WAL's crash guarantees are the same).
 */
static int wal_checkpoint_every(struct store *st, unsigned bytes, char *err, size_t errlen) {
        sqlite3_stmt *q = NULL;
        int page = 0;
        if (prep(st, "PRAGMA page_size", &q) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
                page = sqlite3_column_int(q, 0);
        unprep(st, q);
        if (page < 512 || page > 65536)
                return fail(err, errlen, "evidence store %s: page size %d", st->path, page);
        char sql[64];
        snprintf(sql, sizeof(sql), "PRAGMA wal_autocheckpoint=%u", bytes / (unsigned)page);
        return exec(st, sql, err, errlen);
}

/* Inside a transaction: frames of records first … first+n-1 as one page of origin id. */
static int page_insert(struct store *st, int64_t id, uint64_t first, uint64_t n,
                       const uint8_t *frames, size_t len, char *err, size_t errlen) {
        sqlite3_stmt *q = NULL;
        if (len > INT32_MAX)
                return fail(err, errlen, "evidence store %s: page too large", st->path);
        if (prep(st, "INSERT INTO pagedata(data) VALUES (?1)", &q) !=
            SQLITE_OK)
                return db_fail(st, err, errlen, "writing records");
        sqlite3_bind_blob(q, 1, frames, (int)len, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        unprep(st, q);
        if (rc != SQLITE_DONE)
                return db_fail(st, err, errlen, "writing records");
        sqlite3_int64 blob = sqlite3_last_insert_rowid(st->db);
        if (prep(st, "INSERT INTO page(key, n, blob) VALUES (?1, ?2, ?3)", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "writing records");
        sqlite3_bind_int64(q, 1, rec_key(id, first));
        sqlite3_bind_int64(q, 2, (sqlite3_int64)n);
        sqlite3_bind_int64(q, 3, blob);
        rc = sqlite3_step(q);
        unprep(st, q);
        return rc == SQLITE_DONE ? 0 : db_fail(st, err, errlen, "writing records");
}

#define MIGRATE_PAGE (256u << 10)

/*
 * Schema version 1 (one row per record) to 2, inside store_open's
 * transaction: the records [0, size) of every origin become pages of about
 * MIGRATE_PAGE bytes, each record framed as it was stored (a damaged one,
 * empty or too long, is kept so that store verify names it; a missing one
 * leaves a hole that it names). Rows past an origin's size (staged by an
 * interrupted audit, never read) and the staged analysis states are not
 * kept: the next audit of that origin would have dropped them.
 */
static int migrate_v1(struct store *st, char *err, size_t errlen) {
        if (exec(st, page_schema, err, errlen) != 0 ||
            exec(st, "DROP TABLE IF EXISTS astage", err, errlen) != 0 ||
            exec(st, state_schema, err, errlen) != 0)
                return -1;
        sqlite3_stmt *o = NULL, *q = NULL;
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        int r = -1;
        if (prep(st, "SELECT id, size FROM origin ORDER BY id", &o) !=
                    SQLITE_OK ||
            prep(st,
                               "SELECT key, data FROM record WHERE key >= ?1 AND key < ?2 ORDER "
                               "BY key", &q) != SQLITE_OK) {
                db_fail(st, err, errlen, "migrating schema version 1");
                goto out;
        }
        int orc;
        while ((orc = sqlite3_step(o)) == SQLITE_ROW) {
                int64_t id = sqlite3_column_int64(o, 0);
                sqlite3_int64 size = sqlite3_column_int64(o, 1);
                if (id <= 0 || id >= STORE_MAX_ORIGINS || size < 0 ||
                    (uint64_t)size >= (1ull << STORE_LEAF_BITS)) {
                        fail(err, errlen,
                             "evidence store %s: origin id %lld has size %lld; cannot migrate "
                             "schema version 1",
                             st->path, (long long)id, (long long)size);
                        goto out;
                }
                sqlite3_reset(q);
                sqlite3_bind_int64(q, 1, rec_key(id, 0));
                sqlite3_bind_int64(q, 2, rec_key(id, (uint64_t)size));
                uint64_t first = 0, n = 0;
                len = 0;
                int rc;
                while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                        uint64_t leaf = (uint64_t)sqlite3_column_int64(q, 0) &
                                        ((1ull << STORE_LEAF_BITS) - 1);
                        const uint8_t *p = sqlite3_column_blob(q, 1);
                        int dl = sqlite3_column_bytes(q, 1);
                        if (n && (leaf != first + n || len >= MIGRATE_PAGE)) {
                                if (page_insert(st, id, first, n, buf, len, err, errlen) != 0)
                                        goto out;
                                n = 0;
                                len = 0;
                        }
                        if (!n)
                                first = leaf;
                        if (dl < 0 || (size_t)dl > INT32_MAX - 4 - len) {
                                fail(err, errlen, "evidence store %s: record too large", st->path);
                                goto out;
                        }
                        if (len + 4 + (size_t)dl > cap) {
                                size_t nc = (len + 4 + (size_t)dl) * 2;
                                uint8_t *nb = realloc(buf, nc);
                                if (!nb) {
                                        fail(err, errlen, "out of memory");
                                        goto out;
                                }
                                buf = nb;
                                cap = nc;
                        }
                        uint32_t u = (uint32_t)dl;
                        buf[len] = (uint8_t)(u >> 24);
                        buf[len + 1] = (uint8_t)(u >> 16);
                        buf[len + 2] = (uint8_t)(u >> 8);
                        buf[len + 3] = (uint8_t)u;
                        if (dl)
                                memcpy(buf + len + 4, p, (size_t)dl);
                        len += 4 + (size_t)dl;
                        n++;
                }
                if (rc != SQLITE_DONE) {
                        db_fail(st, err, errlen, "migrating schema version 1");
                        goto out;
                }
                if (n && page_insert(st, id, first, n, buf, len, err, errlen) != 0)
                        goto out;
        }
        if (orc != SQLITE_DONE) {
                db_fail(st, err, errlen, "migrating schema version 1");
                goto out;
        }
        unprep(st, q);
        q = NULL;
        r = exec(st, "DROP TABLE record", err, errlen);
out:
        unprep(st, o);
        unprep(st, q);
        free(buf);
        return r;
}

static int64_t random_id(void) {
        uint64_t v = 0;
        sqlite3_randomness((int)sizeof(v), &v);
        v &= (uint64_t)INT64_MAX;
        return v ? (int64_t)v : 1;
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
        st->run = random_id();
        sqlite3_extended_result_codes(st->db, 1);
        /*
         * 64 KiB pages for a new store (an existing one keeps its own): an audit
         * appends some 1 KiB records by the million, and each page costs a
         * B-tree cell split, a WAL frame (header and checksum) and a write
         * call twice (WAL, then checkpoint); a 4 KiB page costs that 16 times
         * as often for the same bytes.
         */
        if (exec(st, "PRAGMA page_size=65536", err, errlen) != 0 ||
            exec(st, "PRAGMA journal_mode=WAL", err, errlen) != 0 ||
            exec(st, "PRAGMA synchronous=NORMAL", err, errlen) != 0 ||
            exec(st, "PRAGMA temp_store=MEMORY", err, errlen) != 0 ||
            wal_checkpoint_every(st, 64u << 20, err, errlen) != 0 ||
            exec(st, "PRAGMA foreign_keys=ON", err, errlen) != 0 ||
            exec(st, "BEGIN IMMEDIATE", err, errlen) != 0) {
                store_close(st);
                return -1;
        }
        sqlite3_stmt *q = NULL;
        int version = -1;
        if (prep(st, "PRAGMA user_version", &q) == SQLITE_OK &&
            sqlite3_step(q) == SQLITE_ROW)
                version = sqlite3_column_int(q, 0);
        unprep(st, q);
        int r = 0;
        if (version == 0) {
                r = exec(st, schema, err, errlen);
                if (r == 0)
                        r = exec(st, page_schema, err, errlen);
                if (r == 0)
                        r = exec(st, state_schema, err, errlen);
                if (r == 0)
                        r = exec(st, fork_schema, err, errlen);
                if (r == 0)
                        r = exec(st, "PRAGMA user_version=3", err, errlen);
        } else if (version == 1 || version == 2) {
                /* 1 -> 2: records in pages; 2 -> 3: the fork table (nothing else changes). */
                r = version == 1 ? migrate_v1(st, err, errlen) : 0;
                if (r == 0)
                        r = exec(st, fork_schema, err, errlen);
                if (r == 0)
                        r = exec(st, "PRAGMA user_version=3", err, errlen);
        } else if (version != STORE_SCHEMA_VERSION) {
                r = fail(err, errlen,
                         "evidence store %s has schema version %d; this gpuhours reads versions "
                         "1 to %d only",
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
        for (size_t i = 0; i < st->ncache; i++) {
                sqlite3_finalize(st->cache[i].q);
                free(st->cache[i].sql);
        }
        st->ncache = 0;
        sqlite3_close(st->db);
        sha256_evp_free(st->sha);
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
        if (prep(st, sql, &q) != SQLITE_OK)
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
        unprep(st, q);
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
        /* Two origins audited at one URL (a node reinstalled with a new key, or another
         * node behind the address): which one the URL means is not recorded, and the
         * older one's evidence must not stand for the newer one's. */
        sqlite3_stmt *q = NULL;
        *found = false;
        memset(o, 0, sizeof(*o));
        if (sqlite3_prepare_v2(st->db,
                               "SELECT name FROM origin WHERE url = ?1 AND size > 0 ORDER BY id "
                               "LIMIT 2",
                               -1, &q, NULL) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading an origin");
        sqlite3_bind_text(q, 1, url, -1, SQLITE_STATIC);
        char names[2][NOTE_NAME_MAX + 3] = {"", ""};
        int rc, rows = 0;
        while (rows < 2 && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                const char *name = (const char *)sqlite3_column_text(q, 0);
                if (name)
                        quote_bytes(name, strlen(name), names[rows], sizeof(names[rows]));
                rows++;
        }
        sqlite3_finalize(q);
        if (rows == 2) {
                char qu[300];
                quote_bytes(url, strlen(url), qu, sizeof(qu));
                return fail(err, errlen,
                            "evidence store %s: more than one origin was audited at %s ('%s', "
                            "'%s'): name the origin instead of the URL",
                            st->path, qu, names[0], names[1]);
        }
        if (rows == 0 && rc != SQLITE_DONE)
                return db_fail(st, err, errlen, "reading an origin");
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

/* The text column of every row of sql (a list, at most STORE_MAX_ORIGINS long). */
static int store_name_list(struct store *st, const char *sql, const char *what, char ***names,
                           size_t *n, char *err, size_t errlen) {
        *names = NULL;
        *n = 0;
        sqlite3_stmt *q = NULL;
        if (prep(st, sql, &q) != SQLITE_OK)
                return db_fail(st, err, errlen, what);
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
                r = db_fail(st, err, errlen, what);
        unprep(st, q);
        if (r != 0) {
                store_names_free(v, k);
                return r;
        }
        *names = v;
        *n = k;
        return 0;
}

int store_origin_names(struct store *st, char ***names, size_t *n, char *err, size_t errlen) {
        return store_name_list(st, "SELECT name FROM origin WHERE size > 0 ORDER BY name",
                               "listing origins", names, n, err, errlen);
}

int store_records(struct store *st, int64_t id, uint64_t from, uint64_t to, store_record_fn fn,
                  void *ctx, char *err, size_t errlen) {
        if (from >= to)
                return 0;
        sqlite3_stmt *q = NULL;
        /* From the page holding from (the last one starting at or before it). */
        if (prep(st,
                               "SELECT p.key, p.n, d.data FROM page p LEFT JOIN pagedata d ON "
                               "d.id = p.blob WHERE p.key >= coalesce((SELECT max(key) FROM page "
                               "WHERE key >= ?1 AND key <= ?2), ?2) AND p.key < ?3 ORDER BY p.key", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading records");
        sqlite3_bind_int64(q, 1, rec_key(id, 0));
        sqlite3_bind_int64(q, 2, rec_key(id, from));
        sqlite3_bind_int64(q, 3, rec_key(id, to));
        uint64_t want = from;
        int rc = SQLITE_DONE, r = 0;
        bool first_page = true;
        while (want < to && (rc = sqlite3_step(q)) == SQLITE_ROW) {
                uint64_t first =
                        (uint64_t)sqlite3_column_int64(q, 0) & ((1ull << STORE_LEAF_BITS) - 1);
                sqlite3_int64 n = sqlite3_column_int64(q, 1);
                const uint8_t *p = sqlite3_column_blob(q, 2);
                int len = sqlite3_column_bytes(q, 2);
                if (first > want || (first_page ? (n > 0 && first + (uint64_t)n <= want)
                                                : first < want)) {
                        r = fail(err, errlen,
                                 "evidence store %s: origin id %lld: %s at record %llu; run "
                                 "gpuhours store verify",
                                 st->path, (long long)id,
                                 first > want ? "a missing page" : "overlapping pages",
                                 (unsigned long long)want);
                        break;
                }
                first_page = false;
                if (n <= 0 || (uint64_t)n >= (1ull << STORE_LEAF_BITS) || !p || len <= 0) {
                        r = fail(err, errlen,
                                 "evidence store %s: origin id %lld: the page at record %llu is "
                                 "missing or empty; run gpuhours store verify",
                                 st->path, (long long)id, (unsigned long long)first);
                        break;
                }
                struct reader rd;
                reader_init(&rd, p, (size_t)len);
                uint64_t leaf = first;
                for (; leaf < first + (uint64_t)n; leaf++) {
                        const uint8_t *rec;
                        size_t rl;
                        if (record_frame_next(&rd, &rec, &rl) != 0)
                                break;
                        if (leaf >= want && leaf < to) {
                                if ((r = fn(ctx, leaf, rec, rl)) != 0)
                                        break;
                                want = leaf + 1;
                        }
                }
                if (r != 0)
                        break;
                if (leaf != first + (uint64_t)n || reader_left(&rd) != 0) {
                        r = fail(err, errlen,
                                 "evidence store %s: origin id %lld: the page of records %llu to "
                                 "%llu does not parse as %lld records; run gpuhours store verify",
                                 st->path, (long long)id, (unsigned long long)first,
                                 (unsigned long long)(first + (uint64_t)n - 1), (long long)n);
                        break;
                }
        }
        if (r == 0 && want < to && rc != SQLITE_DONE)
                r = db_fail(st, err, errlen, "reading records");
        if (r == 0 && want != to)
                r = fail(err, errlen,
                         "evidence store %s: origin id %lld holds %llu of its %llu records; run "
                         "gpuhours store verify",
                         st->path, (long long)id, (unsigned long long)want,
                         (unsigned long long)to);
        unprep(st, q);
        return r;
}

int store_pages_end(struct store *st, int64_t id, uint64_t *end, uint64_t *pages, char *err,
                    size_t errlen) {
        sqlite3_stmt *q = NULL;
        *end = 0;
        *pages = 0;
        if (prep(st,
                               "SELECT count(*), coalesce(max(key + n), ?1) - ?1 FROM page WHERE "
                               "key >= ?1 AND key < ?2", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "counting pages");
        sqlite3_bind_int64(q, 1, rec_key(id, 0));
        sqlite3_bind_int64(q, 2, rec_key(id + 1, 0));
        int r = 0;
        if (sqlite3_step(q) == SQLITE_ROW) {
                *pages = (uint64_t)sqlite3_column_int64(q, 0);
                *end = (uint64_t)sqlite3_column_int64(q, 1);
        } else
                r = db_fail(st, err, errlen, "counting pages");
        unprep(st, q);
        return r;
}

int store_check_references(struct store *st, store_problem_fn fn, void *ctx, unsigned *found,
                           char *err, size_t errlen) {
        /* origin of a page or window key: key >> STORE_LEAF_BITS (rec_key) */
        static const struct {
                const char *sql, *what;
        } checks[] = {
                {"SELECT count(*) FROM pagedata WHERE id NOT IN (SELECT blob FROM page) AND "
                 "id NOT IN (SELECT blob FROM stage)",
                 "pagedata rows that no page and no staged page references (orphaned records' "
                 "bytes)"},
                {"SELECT count(*) FROM page WHERE blob NOT IN (SELECT id FROM pagedata)",
                 "pages whose pagedata row is missing"},
                {"SELECT count(*) FROM stage WHERE blob NOT IN (SELECT id FROM pagedata)",
                 "staged pages whose pagedata row is missing"},
                {"SELECT count(*) FROM (SELECT blob FROM (SELECT blob FROM page UNION ALL "
                 "SELECT blob FROM stage) GROUP BY blob HAVING count(*) > 1)",
                 "pagedata rows referenced by more than one page or staged page"},
                {"SELECT count(*) FROM page WHERE (key >> 40) NOT IN (SELECT id FROM origin)",
                 "pages of an origin that is not in the store"},
                {"SELECT count(*) FROM awin WHERE (key >> 40) NOT IN (SELECT id FROM origin)",
                 "saved analyzer windows of an origin that is not in the store"},
                {"SELECT count(*) FROM checkpoint WHERE origin NOT IN (SELECT id FROM origin)",
                 "checkpoints of an origin that is not in the store"},
                {"SELECT count(*) FROM astate WHERE origin NOT IN (SELECT id FROM origin)",
                 "saved analyzer states of an origin that is not in the store"},
                {"SELECT count(*) FROM astage WHERE origin NOT IN (SELECT id FROM origin)",
                 "staged analyzer states of an origin that is not in the store"},
                {"SELECT count(*) FROM stage WHERE origin NOT IN (SELECT id FROM origin)",
                 "staged pages of an origin that is not in the store"},
                {"SELECT (SELECT count(*) FROM page WHERE n <= 0) + "
                 "(SELECT count(*) FROM stage WHERE n <= 0)",
                 "pages or staged pages of no records"},
        };
        _Static_assert(STORE_LEAF_BITS == 40, "the queries' key >> 40");
        *found = 0;
        for (size_t i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
                sqlite3_stmt *q = NULL;
                if (sqlite3_prepare_v2(st->db, checks[i].sql, -1, &q, NULL) != SQLITE_OK)
                        return db_fail(st, err, errlen, "checking the tables' references");
                int rc = sqlite3_step(q);
                sqlite3_int64 rows = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
                sqlite3_finalize(q);
                if (rc != SQLITE_ROW)
                        return db_fail(st, err, errlen, "checking the tables' references");
                if (rows > 0) {
                        (*found)++;
                        fn(ctx, (uint64_t)rows, checks[i].what);
                }
        }
        return 0;
}

int store_staged_count(struct store *st, int64_t id, uint64_t size, uint64_t *n, char *err,
                       size_t errlen) {
        (void)size;
        sqlite3_stmt *q = NULL;
        *n = 0;
        if (prep(st, "SELECT coalesce(sum(n), 0) FROM stage WHERE origin = ?1", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "counting staged records");
        sqlite3_bind_int64(q, 1, id);
        int r = 0;
        if (sqlite3_step(q) == SQLITE_ROW)
                *n = (uint64_t)sqlite3_column_int64(q, 0);
        else
                r = db_fail(st, err, errlen, "counting staged records");
        unprep(st, q);
        return r;
}

int store_checkpoints(struct store *st, int64_t id, store_checkpoint_fn fn, void *ctx, char *err,
                      size_t errlen) {
        sqlite3_stmt *q = NULL;
        if (prep(st,
                               "SELECT size, root, note FROM checkpoint WHERE origin = ?1 "
                               "ORDER BY size", &q) != SQLITE_OK)
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
        unprep(st, q);
        return r;
}

/*
 * Staged rows (pages and analyzer states) matching cond, "origin = ?1 AND
 * run <> ?2" or "sid = ?1" ("audit = ?1" for astage).
 */
static int delete_stage_rows(struct store *st, const char *cond, const char *acond, int64_t a1,
                             int64_t a2) {
        char sql[3][200];
        snprintf(sql[0], sizeof(sql[0]),
                 "DELETE FROM pagedata WHERE id IN (SELECT blob FROM stage WHERE %s)", cond);
        snprintf(sql[1], sizeof(sql[1]), "DELETE FROM stage WHERE %s", cond);
        snprintf(sql[2], sizeof(sql[2]), "DELETE FROM astage WHERE %s", acond);
        for (unsigned i = 0; i < 3; i++) {
                sqlite3_stmt *q = NULL;
                if (prep(st, sql[i], &q) != SQLITE_OK)
                        return -1;
                sqlite3_bind_int64(q, 1, a1);
                if (sqlite3_bind_parameter_count(q) > 1)
                        sqlite3_bind_int64(q, 2, a2);
                int rc = sqlite3_step(q);
                unprep(st, q);
                if (rc != SQLITE_DONE)
                        return -1;
        }
        return 0;
}

/* What other runs (interrupted audits) staged for this origin. */
static int delete_staged(struct store *st, int64_t id) {
        return delete_stage_rows(st, "origin = ?1 AND run <> ?2", "origin = ?1 AND run <> ?2", id,
                                 st->run);
}

/*
 * A known origin at the same URL with nothing staged: nothing to write (a
 * write transaction per node costs WAL pages and, at checkpoints, syncs).
 * 1 when so (*id, *size set), 0 when store_stage_begin must write.
 */
static int stage_unchanged(struct store *st, const char *origin, const char *url, int64_t *id,
                           uint64_t *size) {
        sqlite3_stmt *q = NULL;
        int r = 0;
        if (prep(st,
                               "SELECT id, size, url = ?2 AND NOT EXISTS (SELECT 1 FROM stage "
                               "WHERE stage.origin = origin.id AND stage.run <> ?3) AND NOT "
                               "EXISTS (SELECT 1 FROM astage WHERE astage.origin = origin.id AND "
                               "astage.run <> ?3) FROM origin WHERE name = ?1", &q) != SQLITE_OK)
                return 0;
        sqlite3_bind_text(q, 1, origin, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, url ? url : "", -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, st->run);
        if (sqlite3_step(q) == SQLITE_ROW && sqlite3_column_int(q, 2) == 1) {
                sqlite3_int64 i = sqlite3_column_int64(q, 0), sz = sqlite3_column_int64(q, 1);
                if (i > 0 && i < STORE_MAX_ORIGINS && sz >= 0 &&
                    (uint64_t)sz < (1ull << STORE_LEAF_BITS)) {
                        *id = i;
                        *size = (uint64_t)sz;
                        r = 1;
                }
        }
        unprep(st, q);
        return r;
}

int store_stage_begin(struct store *st, const char *origin, const char *url, int64_t *id,
                      uint64_t *size, int64_t *sid, char *err, size_t errlen) {
        *sid = random_id();
        if (stage_unchanged(st, origin, url, id, size) == 1)
                return 0;
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        sqlite3_stmt *q = NULL;
        int r = -1;
        if (prep(st,
                               "INSERT INTO origin(name, url) VALUES (?1, ?2) ON CONFLICT(name) "
                               "DO UPDATE SET url = excluded.url RETURNING id, size", &q) != SQLITE_OK) {
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
        unprep(st, q);
        q = NULL;
        if (*id <= 0 || *id >= STORE_MAX_ORIGINS || sz < 0 ||
            (uint64_t)sz >= (1ull << STORE_LEAF_BITS)) {
                fail(err, errlen, "evidence store %s: origin '%s' has id %lld, size %lld",
                     st->path, origin, (long long)*id, (long long)sz);
                goto out;
        }
        *size = (uint64_t)sz;
        if (delete_staged(st, *id) != 0) {
                db_fail(st, err, errlen, "deleting staged records");
                goto out;
        }
        r = exec(st, "COMMIT", err, errlen);
out:
        unprep(st, q);
        if (r != 0)
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* In a transaction: frames (record_frame_write format) of leaves first, … as one staged page. */
static int stage_rows(struct store *st, int64_t id, int64_t sid, uint64_t first,
                      const uint8_t *frames, size_t len, char *err, size_t errlen) {
        struct reader rd;
        reader_init(&rd, frames, len);
        uint64_t n = 0;
        while (reader_left(&rd) > 0) {
                const uint8_t *p;
                size_t rl;
                if (record_frame_next(&rd, &p, &rl) != 0 ||
                    first + n >= (1ull << STORE_LEAF_BITS) - 1)
                        return fail(err, errlen, "staging records: bad framing at leaf %llu",
                                    (unsigned long long)first + n);
                n++;
        }
        if (n == 0)
                return 0;
        if (len > INT32_MAX)
                return fail(err, errlen, "staging records: page too large");
        sqlite3_stmt *q = NULL;
        if (prep(st, "INSERT INTO pagedata(data) VALUES (?1)", &q) !=
            SQLITE_OK)
                return db_fail(st, err, errlen, "staging records");
        sqlite3_bind_blob(q, 1, frames, (int)len, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        unprep(st, q);
        if (rc != SQLITE_DONE)
                return db_fail(st, err, errlen, "staging records");
        sqlite3_int64 blob = sqlite3_last_insert_rowid(st->db);
        if (prep(st,
                               "INSERT INTO stage(sid, first, origin, run, n, blob) VALUES (?1, "
                               "?2, ?3, ?4, ?5, ?6)", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "staging records");
        sqlite3_bind_int64(q, 1, sid);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)first);
        sqlite3_bind_int64(q, 3, id);
        sqlite3_bind_int64(q, 4, st->run);
        sqlite3_bind_int64(q, 5, (sqlite3_int64)n);
        sqlite3_bind_int64(q, 6, blob);
        rc = sqlite3_step(q);
        unprep(st, q);
        return rc == SQLITE_DONE ? 0 : db_fail(st, err, errlen, "staging records");
}

int store_stage_frames(struct store *st, int64_t id, int64_t sid, uint64_t first,
                       const uint8_t *frames, size_t len, char *err, size_t errlen) {
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        int r = stage_rows(st, id, sid, first, frames, len, err, errlen);
        if (r == 0)
                r = exec(st, "COMMIT", err, errlen);
        if (r != 0)
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}

/* --- saved analyzer state --- */

static const char state_domain[] = "gpuhours analyzer state v1";

static void le64(uint8_t *p, uint64_t v) {
        for (unsigned i = 0; i < 8; i++)
                p[i] = (uint8_t)(v >> (8 * i));
}

/* Through libcrypto (hundreds of KB per origin on every report). 0 or -1 (no SHA-256). */
static int state_chain(struct store *st, const uint8_t prev[32], uint64_t first,
                       const uint8_t *wins, size_t len, uint8_t out[32]) {
        if (!st->sha && !(st->sha = sha256_evp_new()))
                return -1;
        uint8_t head[40];
        memcpy(head, prev, 32);
        le64(head + 32, first);
        const struct gh_sha256 *h = sha256_evp_hasher(st->sha);
        h->hash2(h->ctx, head, sizeof(head), wins, len, out);
        return sha256_evp_failed(st->sha) ? -1 : 0;
}

static void state_hash(int64_t id, uint64_t size, const merkle_hash root, uint64_t nwins,
                       const uint8_t wchain[32], const uint8_t *data, size_t len,
                       uint8_t out[32]) {
        uint8_t head[sizeof(state_domain) + 8 + 8 + 32 + 8 + 32];
        uint8_t *w = head;
        memcpy(w, state_domain, sizeof(state_domain));
        w += sizeof(state_domain);
        le64(w, (uint64_t)id);
        le64(w + 8, size);
        memcpy(w + 16, root, 32);
        le64(w + 48, nwins);
        memcpy(w + 56, wchain, 32);
        const struct gh_sha256 *h = gh_sha256_sodium();
        h->hash2(h->ctx, head, sizeof(head), data, len, out);
}

static int step_done(struct store *st, sqlite3_stmt *q) {
        int rc = sqlite3_step(q);
        unprep(st, q);
        return rc == SQLITE_DONE ? 0 : -1;
}

/* One statement with a single integer parameter ?1, run to its end. 0 or -1. */
static int exec_i64(struct store *st, const char *sql, int64_t v) {
        sqlite3_stmt *q = NULL;
        if (prep(st, sql, &q) != SQLITE_OK)
                return -1;
        sqlite3_bind_int64(q, 1, v);
        return step_done(st, q);
}

/* sw's windows chain and state hash for origin id at size with root. 0 or -1 (bad sw). */
static int state_seal(struct store *st, int64_t id, uint64_t size, const merkle_hash root,
                      const struct store_state_write *sw, uint8_t chain[32], uint8_t hash[32]) {
        if (sw->wins_len % ANALYZER_STATE_WIN_SIZE != 0 ||
            sw->first + sw->wins_len / ANALYZER_STATE_WIN_SIZE != sw->nwins ||
            sw->nwins >= (1ull << STORE_LEAF_BITS) || sw->wins_len > INT32_MAX ||
            sw->len > INT32_MAX)
                return -1;
        if (sw->wins_len) {
                if (state_chain(st, sw->prev_wchain, sw->first, sw->wins, sw->wins_len, chain) != 0)
                        return -1;
        } else
                memcpy(chain, sw->prev_wchain, 32);
        state_hash(id, size, root, sw->nwins, chain, sw->data, sw->len, hash);
        return 0;
}

static int delete_wins(struct store *st, int64_t id, uint64_t from) {
        sqlite3_stmt *q = NULL;
        if (prep(st, "DELETE FROM awin WHERE key >= ?1 AND key < ?2", &q) != SQLITE_OK)
                return -1;
        sqlite3_bind_int64(q, 1, rec_key(id, from));
        sqlite3_bind_int64(q, 2, rec_key(id + 1, 0));
        return step_done(st, q);
}

/* Inside the commit's transaction: replace (or, sw NULL, drop) the origin's state. */
static int state_write(struct store *st, int64_t id, uint64_t size, const merkle_hash root,
                       const struct store_state_write *sw) {
        sqlite3_stmt *q = NULL;
        uint8_t chain[32], hash[32];
        if (sw && state_seal(st, id, size, root, sw, chain, hash) != 0)
                return -1;
        if (delete_wins(st, id, sw ? sw->first : 0) != 0)
                return -1;
        if (!sw) {
                if (prep(st, "DELETE FROM astate WHERE origin = ?1", &q) != SQLITE_OK)
                        return -1;
                sqlite3_bind_int64(q, 1, id);
                return step_done(st, q);
        }
        if (sw->wins_len) {
                if (prep(st, "INSERT INTO awin(key, data) VALUES (?1, ?2)", &q) != SQLITE_OK)
                        return -1;
                sqlite3_bind_int64(q, 1, rec_key(id, sw->first));
                sqlite3_bind_blob(q, 2, sw->wins, (int)sw->wins_len, SQLITE_STATIC);
                if (step_done(st, q) != 0)
                        return -1;
        }
        if (prep(st,
                               "INSERT OR REPLACE INTO astate(origin, size, nwins, wchain, hash, "
                               "data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &q) != SQLITE_OK)
                return -1;
        sqlite3_bind_int64(q, 1, id);
        sqlite3_bind_int64(q, 2, (sqlite3_int64)size);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)sw->nwins);
        sqlite3_bind_blob(q, 4, chain, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(q, 5, hash, 32, SQLITE_TRANSIENT);
        sqlite3_bind_blob(q, 6, sw->data, (int)sw->len, SQLITE_STATIC);
        return step_done(st, q);
}

/*
 * Inside the commit's transaction: make the state staged as sid the
 * origin's (its windows moved into awin), and drop the staged row. 1 when
 * sid is not staged for id at size with root, 0 done, -1 error.
 */
static int state_unstage(struct store *st, int64_t id, uint64_t size, const merkle_hash root,
                         int64_t sid) {
        sqlite3_stmt *q = NULL;
        if (prep(st,
                               "SELECT first FROM astage WHERE sid = ?1 AND origin = ?2 AND "
                               "size = ?3 AND root = ?4", &q) != SQLITE_OK)
                return -1;
        sqlite3_bind_int64(q, 1, sid);
        sqlite3_bind_int64(q, 2, id);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)size);
        sqlite3_bind_blob(q, 4, root, MERKLE_HASH_LEN, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        sqlite3_int64 first = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : -1;
        unprep(st, q);
        if (rc == SQLITE_DONE)
                return 1;
        if (rc != SQLITE_ROW || first < 0 || (uint64_t)first >= (1ull << STORE_LEAF_BITS))
                return -1;
        if (delete_wins(st, id, (uint64_t)first) != 0)
                return -1;
        static const char *const sql[] = {
                "INSERT INTO awin(key, data) SELECT ?2, wins FROM astage WHERE sid = ?1 AND "
                "length(wins) > 0",
                "INSERT OR REPLACE INTO astate(origin, size, nwins, wchain, hash, data) SELECT "
                "origin, size, nwins, wchain, hash, data FROM astage WHERE sid = ?1",
                "DELETE FROM astage WHERE sid = ?1",
        };
        for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
                if (prep(st, sql[i], &q) != SQLITE_OK)
                        return -1;
                sqlite3_bind_int64(q, 1, sid);
                if (i == 0)
                        sqlite3_bind_int64(q, 2, rec_key(id, (uint64_t)first));
                if (step_done(st, q) != 0)
                        return -1;
        }
        return 0;
}

int store_stage_state(struct store *st, int64_t id, int64_t audit, uint64_t size,
                      const merkle_hash root, const struct store_frames *last,
                      const struct store_state_write *sw, int64_t *sid, char *err,
                      size_t errlen) {
        *sid = 0;
        uint8_t chain[32], hash[32];
        if (sw && (size >= (1ull << STORE_LEAF_BITS) ||
                   state_seal(st, id, size, root, sw, chain, hash) != 0))
                return fail(err, errlen, "evidence store: bad analysis state to stage");
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        int r = -1;
        sqlite3_stmt *q = NULL;
        if (last && last->len &&
            stage_rows(st, id, audit, last->first, last->frames, last->len, err, errlen) != 0)
                goto out;
        if (sw) {
                if (prep(st,
                                       "INSERT INTO astage(origin, size, root, first, nwins, "
                                       "wchain, hash, data, wins, audit, run) VALUES (?1, ?2, "
                                       "?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING sid", &q) != SQLITE_OK) {
                        db_fail(st, err, errlen, "staging the analysis state");
                        goto out;
                }
                sqlite3_bind_int64(q, 1, id);
                sqlite3_bind_int64(q, 2, (sqlite3_int64)size);
                sqlite3_bind_blob(q, 3, root, MERKLE_HASH_LEN, SQLITE_STATIC);
                sqlite3_bind_int64(q, 4, (sqlite3_int64)sw->first);
                sqlite3_bind_int64(q, 5, (sqlite3_int64)sw->nwins);
                sqlite3_bind_blob(q, 6, chain, 32, SQLITE_STATIC);
                sqlite3_bind_blob(q, 7, hash, 32, SQLITE_STATIC);
                sqlite3_bind_blob(q, 8, sw->len ? sw->data : (const uint8_t *)"", (int)sw->len,
                                  SQLITE_STATIC);
                sqlite3_bind_blob(q, 9, sw->wins_len ? sw->wins : (const uint8_t *)"",
                                  (int)sw->wins_len, SQLITE_STATIC);
                sqlite3_bind_int64(q, 10, audit);
                sqlite3_bind_int64(q, 11, st->run);
                if (sqlite3_step(q) != SQLITE_ROW) {
                        db_fail(st, err, errlen, "staging the analysis state");
                        goto out;
                }
                int64_t v = sqlite3_column_int64(q, 0);
                if (sqlite3_step(q) != SQLITE_DONE || v <= 0) {
                        db_fail(st, err, errlen, "staging the analysis state");
                        goto out;
                }
                unprep(st, q);
                q = NULL;
                *sid = v;
        }
        r = exec(st, "COMMIT", err, errlen);
out:
        unprep(st, q);
        if (r != 0) {
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
                *sid = 0;
        }
        return r;
}

void store_state_free(struct store_state *ss) {
        free(ss->data);
        memset(ss, 0, sizeof(*ss));
}

int store_state_load(struct store *st, int64_t id, uint64_t size, const merkle_hash root,
                     struct store_state *ss, bool *found, char *err, size_t errlen) {
        sqlite3_stmt *q = NULL;
        memset(ss, 0, sizeof(*ss));
        *found = false;
        if (prep(st,
                               "SELECT size, nwins, wchain, hash, data FROM astate WHERE origin "
                               "= ?1", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading the analysis state");
        sqlite3_bind_int64(q, 1, id);
        int rc = sqlite3_step(q), r = 0;
        if (rc == SQLITE_DONE)
                goto out;
        if (rc != SQLITE_ROW) {
                r = db_fail(st, err, errlen, "reading the analysis state");
                goto out;
        }
        sqlite3_int64 sz = sqlite3_column_int64(q, 0), nw = sqlite3_column_int64(q, 1);
        if (sz < 0 || (uint64_t)sz != size)
                goto out; /* of another tree size (an older gpuhours committed since): unused */
        const uint8_t *chain = sqlite3_column_blob(q, 2);
        int chain_len = sqlite3_column_bytes(q, 2);
        const uint8_t *hash = sqlite3_column_blob(q, 3);
        int hash_len = sqlite3_column_bytes(q, 3);
        const uint8_t *data = sqlite3_column_blob(q, 4);
        int len = sqlite3_column_bytes(q, 4);
        uint8_t want[32];
        if (nw < 0 || chain_len != 32 || hash_len != 32 || len <= 0 || !data) {
                r = fail(err, errlen, "evidence store %s: the saved analysis state of origin id "
                                      "%lld is malformed",
                         st->path, (long long)id);
                goto out;
        }
        state_hash(id, size, root, (uint64_t)nw, chain, data, (size_t)len, want);
        if (memcmp(want, hash, 32) != 0) {
                r = fail(err, errlen,
                         "evidence store %s: the saved analysis state of origin id %lld does "
                         "not match its checksum",
                         st->path, (long long)id);
                goto out;
        }
        ss->data = malloc((size_t)len);
        if (!ss->data) {
                r = fail(err, errlen, "out of memory");
                goto out;
        }
        memcpy(ss->data, data, (size_t)len);
        ss->len = (size_t)len;
        ss->size = size;
        ss->nwins = (uint64_t)nw;
        memcpy(ss->wchain, chain, 32);
        *found = true;
out:
        unprep(st, q);
        return r;
}

int store_state_windows(struct store *st, int64_t id, const struct store_state *ss, uint8_t **out,
                        size_t *len, char *err, size_t errlen) {
        *out = NULL;
        *len = 0;
        bool too_many = ss->nwins >= (1ull << STORE_LEAF_BITS);
#if SIZE_MAX < UINT64_MAX
        too_many = too_many || ss->nwins > SIZE_MAX / ANALYZER_STATE_WIN_SIZE;
#endif
        if (too_many)
                return fail(err, errlen, "evidence store %s: saved windows too many", st->path);
        size_t total = (size_t)ss->nwins * ANALYZER_STATE_WIN_SIZE;
        uint8_t *buf = malloc(total ? total : 1);
        if (!buf)
                return fail(err, errlen, "out of memory");
        /* Each chunk read straight into buf (sqlite3_blob_read: no copy through SQLite). */
        sqlite3_stmt *q = NULL;
        sqlite3_blob *blob = NULL;
        if (prep(st,
                               "SELECT key, length(data) FROM awin WHERE key >= ?1 AND key < ?2 "
                               "ORDER BY key", &q) != SQLITE_OK) {
                free(buf);
                return db_fail(st, err, errlen, "reading saved windows");
        }
        sqlite3_bind_int64(q, 1, rec_key(id, 0));
        sqlite3_bind_int64(q, 2, rec_key(id, ss->nwins));
        uint8_t chain[32] = {0};
        size_t have = 0;
        int rc, r = 0;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                sqlite3_int64 key = sqlite3_column_int64(q, 0);
                uint64_t first = (uint64_t)key & ((1ull << STORE_LEAF_BITS) - 1);
                sqlite3_int64 n = sqlite3_column_int64(q, 1);
                if (first * ANALYZER_STATE_WIN_SIZE != have || n <= 0 || n > INT32_MAX ||
                    (size_t)n % ANALYZER_STATE_WIN_SIZE != 0 || (size_t)n > total - have) {
                        r = -1;
                        break;
                }
                int br = blob ? sqlite3_blob_reopen(blob, key)
                              : sqlite3_blob_open(st->db, "main", "awin", "data", key, 0, &blob);
                if (br != SQLITE_OK || sqlite3_blob_bytes(blob) != (int)n ||
                    sqlite3_blob_read(blob, buf + have, (int)n, 0) != SQLITE_OK) {
                        r = -1;
                        break;
                }
                if (state_chain(st, chain, first, buf + have, (size_t)n, chain) != 0) {
                        sqlite3_blob_close(blob);
                        unprep(st, q);
                        free(buf);
                        return fail(err, errlen, "SHA-256 failed inside libcrypto");
                }
                have += (size_t)n;
        }
        sqlite3_blob_close(blob);
        if (r == 0 && rc != SQLITE_DONE) {
                unprep(st, q);
                free(buf);
                return db_fail(st, err, errlen, "reading saved windows");
        }
        unprep(st, q);
        if (r != 0 || have != total || memcmp(chain, ss->wchain, 32) != 0) {
                free(buf);
                return fail(err, errlen,
                            "evidence store %s: the saved windows of origin id %lld do not "
                            "match their chain",
                            st->path, (long long)id);
        }
        *out = buf;
        *len = total;
        return 0;
}

int store_commit(struct store *st, int64_t id, int64_t sid, uint64_t old_size,
                 const struct merkle_border *b, const merkle_hash root, const char *note,
                 size_t note_len, uint64_t now_ns, const struct store_frames *last,
                 const struct store_state_write *sw, int64_t state_sid, char *err, size_t errlen) {
        if (b->size >= (1ull << STORE_LEAF_BITS) || note_len > NOTE_MAX_SIZE)
                return fail(err, errlen, "evidence store: tree too large to store");
        if (audit_tx_begin(st, err, errlen) != 0)
                return -1;
        if (last && last->len &&
            stage_rows(st, id, sid, last->first, last->frames, last->len, err, errlen) != 0) {
                audit_tx_rollback(st);
                return -1;
        }
        uint8_t border[MERKLE_MAX_LEVELS * 32];
        size_t blen = store_border_encode(b, border);
        sqlite3_stmt *q = NULL;
        int r = -1;
        /* Only if nobody moved this origin meanwhile (another gpuhours on the same store). */
        if (prep(st,
                               "UPDATE origin SET size = ?1, root = ?2, border = ?3, note = ?4 "
                               "WHERE id = ?5 AND size = ?6", &q) != SQLITE_OK) {
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
        unprep(st, q);
        q = NULL;
        /*
         * This audit's staged pages tile [old_size, size) exactly (another
         * gpuhours may have dropped them meanwhile): they become the origin's.
         */
        uint64_t have = old_size;
        bool tiled = true;
        if (prep(st,
                               "SELECT first, n, origin FROM stage WHERE sid = ?1 ORDER BY first", &q) != SQLITE_OK) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        sqlite3_bind_int64(q, 1, sid);
        int rc;
        while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
                sqlite3_int64 first = sqlite3_column_int64(q, 0), n = sqlite3_column_int64(q, 1);
                if (sqlite3_column_int64(q, 2) != id || first < 0 || (uint64_t)first != have ||
                    n <= 0 || (uint64_t)n > b->size - have)
                        tiled = false;
                else
                        have += (uint64_t)n;
        }
        unprep(st, q);
        q = NULL;
        if (rc != SQLITE_DONE) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        if (!tiled || have != b->size) {
                fail(err, errlen,
                     "evidence store %s: %llu of the %llu new records are staged (another "
                     "gpuhours on the same store?); not recorded",
                     st->path, (unsigned long long)(have - old_size),
                     (unsigned long long)(b->size - old_size));
                goto out;
        }
        if (exec_i64(st,
                     "INSERT INTO page(key, n, blob) SELECT (origin << 40) + first, n, blob "
                     "FROM stage WHERE sid = ?1",
                     sid) != 0 ||
            exec_i64(st, "DELETE FROM stage WHERE sid = ?1", sid) != 0) {
                db_fail(st, err, errlen, "committing an audit");
                goto out;
        }
        if (prep(st,
                               "INSERT OR IGNORE INTO checkpoint(origin, size, root, note, "
                               "verified_ns) VALUES (?1, ?2, ?3, ?4, ?5)", &q) != SQLITE_OK) {
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
        unprep(st, q);
        q = NULL;
        if (state_sid > 0) {
                int u = state_unstage(st, id, b->size, root, state_sid);
                if (u != 0) {
                        if (u > 0)
                                fail(err, errlen,
                                     "evidence store %s: the staged analysis state is gone "
                                     "(another gpuhours on the same store?); not recorded",
                                     st->path);
                        else
                                db_fail(st, err, errlen, "saving the analysis state");
                        goto out;
                }
        } else if (state_write(st, id, b->size, root, sw) != 0) {
                db_fail(st, err, errlen, "saving the analysis state");
                goto out;
        }
        r = audit_tx_commit(st, err, errlen);
out:
        unprep(st, q);
        if (r != 0)
                audit_tx_rollback(st);
        return r;
}

void store_stage_abort(struct store *st, int64_t id, int64_t sid) {
        (void)id;
        char err[200];
        if (audit_tx_begin(st, err, sizeof(err)) != 0)
                return;
        if (delete_stage_rows(st, "sid = ?1", "audit = ?1", sid, 0) != 0 ||
            audit_tx_commit(st, err, sizeof(err)) != 0)
                audit_tx_rollback(st);
}

/* The keys of keys[0..nkeys) named name (malloc'd, *n of them), or NULL: out of memory. */
static struct note_verifier *keys_named(const struct note_verifier *keys, size_t nkeys,
                                        const char *name, size_t *n) {
        struct note_verifier *mine = malloc((nkeys ? nkeys : 1) * sizeof(*mine));
        *n = 0;
        if (!mine)
                return NULL;
        for (size_t i = 0; i < nkeys; i++)
                if (strcmp(keys[i].name, name) == 0)
                        mine[(*n)++] = keys[i];
        return mine;
}

/* The stored note must be a checkpoint signed by a trusted key named after the origin. */
int store_origin_check(const struct store_origin *so, const struct note_verifier *keys,
                       size_t nkeys, char *why, size_t whylen) {
        struct checkpoint cp;
        size_t text_len = 0, which = 0;
        size_t nmine;
        struct note_verifier *mine = keys_named(keys, nkeys, so->name, &nmine);
        if (!mine) {
                snprintf(why, whylen, "out of memory");
                return -1;
        }
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


/* --- fork evidence (store.h) --- */

void store_fork_free(struct store_fork *f) {
        free(f->note[0]);
        free(f->note[1]);
        f->note[0] = f->note[1] = NULL;
}

int store_fork_record(struct store *st, const char *origin, const struct store_fork *f,
                      bool *kept_older, char *err, size_t errlen) {
        *kept_older = false;
        if (f->note_len[0] > NOTE_MAX_SIZE || f->note_len[1] > NOTE_MAX_SIZE)
                return fail(err, errlen, "evidence store %s: fork note too large", st->path);
        /* Its own transaction, outside any batch: the audit that found it failed. */
        if (st->batch)
                return fail(err, errlen, "evidence store %s: fork evidence inside a batch",
                            st->path);
        if (exec(st, "BEGIN IMMEDIATE", err, errlen) != 0)
                return -1;
        sqlite3_stmt *q = NULL;
        if (prep(st,
                 "INSERT OR IGNORE INTO fork(name, kind, detected_ns, source, detail, note_a, "
                 "note_b) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                 &q) != SQLITE_OK) {
                db_fail(st, err, errlen, "recording fork evidence");
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
                return -1;
        }
        sqlite3_bind_text(q, 1, origin, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 2, f->kind, -1, SQLITE_STATIC);
        sqlite3_bind_int64(q, 3, (sqlite3_int64)f->detected_ns);
        sqlite3_bind_text(q, 4, f->source, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, f->detail, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 6, f->note[0], (int)f->note_len[0], SQLITE_STATIC);
        sqlite3_bind_text(q, 7, f->note[1], (int)f->note_len[1], SQLITE_STATIC);
        int rc = sqlite3_step(q);
        unprep(st, q);
        if (rc != SQLITE_DONE) {
                db_fail(st, err, errlen, "recording fork evidence");
                sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
                return -1;
        }
        *kept_older = sqlite3_changes(st->db) == 0;
        return exec(st, "COMMIT", err, errlen);
}

static int fork_text(sqlite3_stmt *q, int col, char **out, size_t *len) {
        const char *t = (const char *)sqlite3_column_text(q, col);
        int n = sqlite3_column_bytes(q, col);
        if (!t || n < 0 || (size_t)n > NOTE_MAX_SIZE)
                return -1;
        *out = malloc((size_t)n + 1);
        if (!*out)
                return -1;
        memcpy(*out, t, (size_t)n);
        (*out)[n] = '\0';
        *len = (size_t)n;
        return 0;
}

int store_fork_load(struct store *st, const char *origin, struct store_fork *f, bool *found,
                    char *err, size_t errlen) {
        memset(f, 0, sizeof(*f));
        *found = false;
        sqlite3_stmt *q = NULL;
        if (prep(st,
                 "SELECT kind, detected_ns, source, detail, note_a, note_b FROM fork WHERE "
                 "name = ?1",
                 &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "reading fork evidence");
        sqlite3_bind_text(q, 1, origin, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q), r = 0;
        if (rc == SQLITE_ROW) {
                const char *kind = (const char *)sqlite3_column_text(q, 0);
                const char *src = (const char *)sqlite3_column_text(q, 2);
                const char *detail = (const char *)sqlite3_column_text(q, 3);
                snprintf(f->kind, sizeof(f->kind), "%s", kind ? kind : "");
                f->detected_ns = sqlite3_column_int64(q, 1);
                snprintf(f->source, sizeof(f->source), "%s", src ? src : "");
                snprintf(f->detail, sizeof(f->detail), "%s", detail ? detail : "");
                *found = true;
                if (fork_text(q, 4, &f->note[0], &f->note_len[0]) != 0 ||
                    fork_text(q, 5, &f->note[1], &f->note_len[1]) != 0) {
                        store_fork_free(f);
                        /* found, with no notes: the caller's check calls it damaged */
                }
        } else if (rc != SQLITE_DONE) {
                r = db_fail(st, err, errlen, "reading fork evidence");
        }
        unprep(st, q);
        return r;
}

int store_fork_clear(struct store *st, const char *origin, bool *had, char *err,
                     size_t errlen) {
        *had = false;
        sqlite3_stmt *q = NULL;
        if (prep(st, "DELETE FROM fork WHERE name = ?1", &q) != SQLITE_OK)
                return db_fail(st, err, errlen, "clearing fork evidence");
        sqlite3_bind_text(q, 1, origin, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        unprep(st, q);
        if (rc != SQLITE_DONE)
                return db_fail(st, err, errlen, "clearing fork evidence");
        *had = sqlite3_changes(st->db) > 0;
        return 0;
}

int store_fork_names(struct store *st, char ***names, size_t *n, char *err, size_t errlen) {
        return store_name_list(st, "SELECT name FROM fork ORDER BY name", "listing fork evidence",
                               names, n, err, errlen);
}

int store_fork_check(const char *origin, const struct store_fork *f,
                     const struct note_verifier *keys, size_t nkeys, struct checkpoint cp[2],
                     char *why, size_t whylen) {
        bool fork = strcmp(f->kind, "FORK") == 0, rollback = strcmp(f->kind, "ROLLBACK") == 0;
        if (!fork && !rollback) {
                snprintf(why, whylen, "its fork evidence is of unknown kind");
                return -1;
        }
        size_t nmine;
        struct note_verifier *mine = keys_named(keys, nkeys, origin, &nmine);
        if (!mine) {
                snprintf(why, whylen, "out of memory");
                return -1;
        }
        int r = 0;
        for (int i = 0; i < 2 && r == 0; i++) {
                size_t text_len = 0, which = 0;
                if (!f->note[i]) {
                        snprintf(why, whylen, "its fork evidence has a damaged note");
                        r = -1;
                        break;
                }
                int vr = nmine ? note_verify(f->note[i], f->note_len[i], mine, nmine, false,
                                             &text_len, &which)
                               : GH_E_NO_KEY;
                if (vr != 0) {
                        snprintf(why, whylen,
                                 "a note of its fork evidence is not signed by a trusted key of "
                                 "the origin (%s)",
                                 gh_strerror(vr));
                        r = -1;
                } else if (checkpoint_parse(f->note[i], text_len, &cp[i]) != 0 ||
                           strcmp(cp[i].origin, origin) != 0) {
                        snprintf(why, whylen,
                                 "a note of its fork evidence is not a checkpoint of the origin");
                        r = -1;
                }
        }
        free(mine);
        if (r != 0)
                return -1;
        bool same = cp[0].size == cp[1].size &&
                    memcmp(cp[0].root, cp[1].root, MERKLE_HASH_LEN) == 0;
        if (same || (rollback && cp[0].size <= cp[1].size)) {
                snprintf(why, whylen, "the two notes of its %s evidence do not conflict",
                         f->kind);
                return -1;
        }
        return 0;
}
