/* SPDX-License-Identifier: MIT */
/* gpuhours store verify | export | list: the evidence store (store.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analyze-state.h"
#include "bundle.h"
#include "cli.h"
#include "record.h"
#include "sha256_evp.h"
#include "source.h"
#include "status.h"
#include "store.h"
#include "util.h"

static const char store_help[] =
        "usage: " PROG " store verify [ORIGIN...] [--store PATH] [--key VKEY]...\n"
        "       " PROG " store export ORIGIN -o FILE [--store PATH] [--key VKEY]...\n"
        "       " PROG " store list [--store PATH]\n"
        "       " PROG " store forget-fork ORIGIN... [--store PATH]\n"
        "\n"
        "The evidence store (default $XDG_DATA_HOME/gpuhours/store.sqlite) holds every\n"
        "record, checkpoint and Merkle border that verify, report and fetch verified.\n"
        "  verify  re-hash every stored record of each ORIGIN (default: all) to the Merkle\n"
        "          border and the signed root, decode every record, and check every stored\n"
        "          checkpoint's signature by a trusted key and its root against the\n"
        "          records, and re-analyse the records against the saved analysis state;\n"
        "          then the tables against each other (orphaned or missing page data, rows\n"
        "          of an origin not in the store): 'DAMAGED store PATH: N WHAT'. An origin\n"
        "          with fork evidence (a FORK or ROLLBACK an audit proved: both signed\n"
        "          notes, re-verified) is reported 'FORK ORIGIN: ...' or 'ROLLBACK ...'.\n"
        "          Exit 0 all intact, 2 some origin forked or damaged or the tables\n"
        "          damaged, 3 could not check.\n"
        "  export  write ORIGIN's records and latest checkpoint as a standard offline\n"
        "          bundle (what '" PROG " fetch' writes), after the same checks; refused\n"
        "          for an origin with fork evidence.\n"
        "  list    one line per origin: name, records, last URL (and FORK or ROLLBACK).\n"
        "  forget-fork  delete the fork evidence of each ORIGIN, so that audits of it\n"
        "          from the store verify again (its records are kept).\n";

#define STORE_CHECKPOINTS_MAX 10000000u

struct cp_row {
        uint64_t size;
        merkle_hash root;
        bool bad; /* signature, syntax or root length */
};

struct cp_list {
        const struct store_origin *so;
        struct note_verifier *mine; /* the trusted keys named after the origin */
        size_t nmine;
        struct cp_row *v;
        size_t n, cap;
        int err;
};

static int cp_collect(void *ctx, uint64_t size, const uint8_t *root, size_t root_len,
                      const char *note, size_t note_len) {
        struct cp_list *l = ctx;
        if (l->n == l->cap) {
                size_t cap = l->cap ? 2 * l->cap : 64;
                struct cp_row *v = cap <= STORE_CHECKPOINTS_MAX ? realloc(l->v, cap * sizeof(*v))
                                                                : NULL;
                if (!v) {
                        l->err = -ENOMEM;
                        return -1;
                }
                l->v = v;
                l->cap = cap;
        }
        struct cp_row *c = &l->v[l->n++];
        memset(c, 0, sizeof(*c));
        c->size = size;
        /* The note must be a checkpoint of this origin, signed by its trusted key, for this row. */
        struct checkpoint cp;
        size_t text_len = 0, which = 0;
        c->bad = root_len != MERKLE_HASH_LEN || note_len > NOTE_MAX_SIZE || l->nmine == 0 ||
                 note_verify(note, note_len, l->mine, l->nmine, false, &text_len, &which) != 0 ||
                 checkpoint_parse(note, text_len, &cp) != 0 ||
                 strcmp(cp.origin, l->so->name) != 0 || cp.size != size ||
                 memcmp(cp.root, root, MERKLE_HASH_LEN) != 0;
        if (!c->bad)
                memcpy(c->root, root, MERKLE_HASH_LEN);
        return 0;
}

struct rehash {
        struct sha256_evp *sha;
        struct merkle_border b;
        struct record *rec;
        struct cp_list *cps;
        size_t next_cp;
        uint64_t bad_leaf;
        int bad;                  /* first record that does not decode: its error */
        uint64_t cp_mismatch_size; /* first checkpoint whose root the records do not give */
        bool cp_mismatch;
        struct analyzer *az; /* re-derives the saved analysis state */
};

static void rehash_check_cps(struct rehash *h) {
        while (h->next_cp < h->cps->n && h->cps->v[h->next_cp].size <= h->b.size) {
                struct cp_row *c = &h->cps->v[h->next_cp++];
                if (c->size != h->b.size || c->bad)
                        continue; /* reported from the row itself */
                merkle_hash r;
                merkle_border_root_with(&h->b, sha256_evp_hasher(h->sha), r);
                if (memcmp(r, c->root, MERKLE_HASH_LEN) != 0 && !h->cp_mismatch) {
                        h->cp_mismatch = true;
                        h->cp_mismatch_size = c->size;
                }
        }
}

static int rehash_one(void *ctx, uint64_t leaf, const uint8_t *p, size_t len) {
        struct rehash *h = ctx;
        const struct gh_sha256 *hs = sha256_evp_hasher(h->sha);
        merkle_hash lh;
        merkle_leaf_hash_with(hs, p, len, lh);
        if (merkle_border_append_with(&h->b, hs, lh) != 0)
                return -1;
        int r = record_decode(p, len, h->rec);
        if (r != 0 && !h->bad) {
                h->bad = r;
                h->bad_leaf = leaf;
        }
        if (r == 0 && !h->bad && analyzer_add(h->az, leaf, h->rec) != 0)
                return -1;
        rehash_check_cps(h);
        return 0;
}

/*
 * The saved analyzer state of so (if any) against az, the analysis of every
 * stored record: checksum, then byte for byte (state and windows). 0 (with
 * *note set for a state of another gpuhours build, which audits ignore), -1
 * with the damage in err, or -ENOMEM.
 */
static int check_state(struct store *st, const struct store_origin *so, const struct analyzer *az,
                       const char **note, char *err, size_t errlen) {
        struct store_state ss;
        bool found;
        if (store_state_load(st, so->id, so->size, so->root, &ss, &found, err, errlen) != 0)
                return -1;
        if (!found)
                return 0;
        int r = -1;
        uint8_t *mine = NULL, *wins = NULL;
        size_t mine_len = 0, wins_len = 0;
        struct analyzer *probe = analyzer_new(&(struct analyze_opts){0});
        if (!probe) {
                r = -ENOMEM;
                goto out;
        }
        int lr = analyzer_state_load(probe, ss.data, ss.len, NULL, 0);
        if (lr == -EPROTO) {
                *note = ", a saved analysis state of another gpuhours build ignored";
                r = 0;
                goto out;
        }
        if (store_state_windows(st, so->id, &ss, &wins, &wins_len, err, errlen) != 0)
                goto out;
        const uint8_t *want_wins;
        size_t want_wins_len;
        int er = analyzer_state_save(az, &mine, &mine_len);
        if (er == -ENOMEM) {
                r = -ENOMEM;
                goto out;
        }
        if (lr != 0 || er != 0 || analyzer_state_windows(az, 0, &want_wins, &want_wins_len) != 0 ||
            mine_len != ss.len || memcmp(mine, ss.data, mine_len) != 0 ||
            want_wins_len != wins_len || (wins_len && memcmp(want_wins, wins, wins_len) != 0)) {
                snprintf(err, errlen,
                         "the saved analysis state differs from the analysis of the stored "
                         "records");
                goto out;
        }
        r = 0;
out:
        analyzer_free(probe);
        free(mine);
        free(wins);
        store_state_free(&ss);
        return r;
}

/* One origin: 0 intact, 2 damaged (line printed), 3 could not check. */
static int verify_origin(struct store *st, const char *name, const struct verify_opts *o) {
        char err[600], why[300];
        struct store_origin so;
        bool found;
        if (store_origin_load(st, name, &so, &found, err, sizeof(err)) != 0) {
                printf("DAMAGED %s: %s\n", name, err);
                return EXIT_INTEGRITY;
        }
        if (!found) {
                fprintf(stderr, PROG " store verify: '%s' is not in %s\n", name, store_path(st));
                return EXIT_INCOMPLETE;
        }
        int rc = EXIT_INCOMPLETE;
        struct cp_list cps = {.so = &so};
        struct rehash h = {.cps = &cps};
        merkle_border_init(&h.b);
        h.sha = sha256_evp_new();
        h.rec = malloc(sizeof(*h.rec));
        h.az = analyzer_new(&(struct analyze_opts){0});
        cps.mine = malloc((o->nkeys ? o->nkeys : 1) * sizeof(*cps.mine));
        if (!h.sha || !h.rec || !h.az || !cps.mine) {
                fprintf(stderr, PROG " store verify: out of memory\n");
                goto out;
        }
        if (store_origin_check(&so, o->keys, o->nkeys, why, sizeof(why)) != 0) {
                printf("DAMAGED %s: %s\n", name, why);
                rc = EXIT_INTEGRITY;
                goto out;
        }
        for (size_t i = 0; i < o->nkeys; i++)
                if (strcmp(o->keys[i].name, so.name) == 0)
                        cps.mine[cps.nmine++] = o->keys[i];
        if (store_checkpoints(st, so.id, cp_collect, &cps, err, sizeof(err)) != 0) {
                if (cps.err)
                        fprintf(stderr, PROG " store verify: out of memory\n");
                else
                        printf("DAMAGED %s: %s\n", name, err);
                rc = cps.err ? EXIT_INCOMPLETE : EXIT_INTEGRITY;
                goto out;
        }
        snprintf(err, sizeof(err), "out of memory"); /* rehash_one's only failure */
        if (store_records(st, so.id, 0, so.size, rehash_one, &h, err, sizeof(err)) != 0) {
                printf("DAMAGED %s: %s\n", name, err);
                rc = EXIT_INTEGRITY;
                goto out;
        }
        uint64_t end = 0, pages = 0;
        if (store_pages_end(st, so.id, &end, &pages, err, sizeof(err)) != 0) {
                printf("DAMAGED %s: %s\n", name, err);
                rc = EXIT_INTEGRITY;
                goto out;
        }
        if (end != so.size) {
                printf("DAMAGED %s: a stored page ends at record %llu, past the verified size "
                       "%llu\n",
                       name, (unsigned long long)end, (unsigned long long)so.size);
                rc = EXIT_INTEGRITY;
                goto out;
        }
        merkle_hash root;
        merkle_border_root_with(&h.b, sha256_evp_hasher(h.sha), root);
        if (sha256_evp_failed(h.sha)) {
                fprintf(stderr, PROG " store verify: SHA-256 failed inside libcrypto\n");
                goto out;
        }
        rc = EXIT_INTEGRITY;
        if (memcmp(root, so.root, MERKLE_HASH_LEN) != 0) {
                printf("DAMAGED %s: the %llu stored records do not hash to the signed root\n",
                       name, (unsigned long long)so.size);
                goto out;
        }
        uint8_t a[MERKLE_MAX_LEVELS * 32], b[MERKLE_MAX_LEVELS * 32];
        size_t na = store_border_encode(&h.b, a), nb = store_border_encode(&so.border, b);
        if (na != nb || memcmp(a, b, na) != 0) {
                printf("DAMAGED %s: the stored Merkle border differs from the records' border\n",
                       name);
                goto out;
        }
        if (h.bad) {
                printf("DAMAGED %s: stored record %llu does not decode: %s\n", name,
                       (unsigned long long)h.bad_leaf, gh_strerror(h.bad));
                goto out;
        }
        for (size_t i = 0; i < cps.n; i++) {
                if (cps.v[i].bad || cps.v[i].size > so.size || cps.v[i].size == 0) {
                        printf("DAMAGED %s: the stored checkpoint of size %llu is not a "
                               "checkpoint of this origin signed by its trusted key\n",
                               name, (unsigned long long)cps.v[i].size);
                        goto out;
                }
        }
        if (h.cp_mismatch) {
                printf("DAMAGED %s: the stored records do not give the root of the stored "
                       "checkpoint of size %llu\n",
                       name, (unsigned long long)h.cp_mismatch_size);
                goto out;
        }
        if (cps.n == 0 || cps.v[cps.n - 1].size != so.size) {
                printf("DAMAGED %s: no stored checkpoint for the verified size %llu\n", name,
                       (unsigned long long)so.size);
                goto out;
        }
        const char *state_note = "";
        int sr = check_state(st, &so, h.az, &state_note, err, sizeof(err));
        if (sr == -ENOMEM) {
                fprintf(stderr, PROG " store verify: out of memory\n");
                rc = EXIT_INCOMPLETE;
                goto out;
        }
        if (sr != 0) {
                printf("DAMAGED %s: %s\n", name, err);
                goto out;
        }
        uint64_t staged = 0;
        if (store_staged_count(st, so.id, so.size, &staged, err, sizeof(err)) != 0) {
                printf("DAMAGED %s: %s\n", name, err);
                goto out;
        }
        printf("ok %s: %llu records, %zu checkpoints", name, (unsigned long long)so.size, cps.n);
        if (staged)
                printf(", %llu unverified records of an interrupted audit ignored",
                       (unsigned long long)staged);
        printf("%s\n", state_note);
        rc = EXIT_VERIFIED;
out:
        free(cps.v);
        free(cps.mine);
        free(h.rec);
        analyzer_free(h.az);
        sha256_evp_free(h.sha);
        store_origin_free(&so);
        return rc;
}

/*
 * The fork evidence of one origin: 0 none, 2 reported (the line printed:
 * 'FORK ORIGIN: ...', or DAMAGED when its notes do not verify), 3 could not
 * check.
 */
static int verify_fork(struct store *st, const char *name, const struct verify_opts *o) {
        char err[600], why[300];
        struct store_fork f;
        bool found;
        if (store_fork_load(st, name, &f, &found, err, sizeof(err)) != 0) {
                printf("DAMAGED %s: %s\n", name, err);
                return EXIT_INTEGRITY;
        }
        if (!found)
                return EXIT_VERIFIED;
        struct checkpoint cp[2];
        if (store_fork_check(name, &f, o->keys, o->nkeys, cp, why, sizeof(why)) != 0) {
                printf("DAMAGED %s: %s\n", name, why);
        } else {
                char when[40];
                time_format_iso(f.detected_ns > 0 ? (uint64_t)f.detected_ns : 0, false, when,
                                sizeof(when));
                printf("%s %s: recorded %s: signed checkpoints of %llu and %llu records that "
                       "conflict (both notes verify; gpuhours store forget-fork clears it)\n",
                       f.kind, name, when, (unsigned long long)cp[0].size,
                       (unsigned long long)cp[1].size);
        }
        store_fork_free(&f);
        return EXIT_INTEGRITY;
}

static int forget_forks(struct store *st, const char **names, size_t n) {
        int rc = EXIT_VERIFIED;
        for (size_t i = 0; i < n; i++) {
                char err[600];
                bool had;
                if (store_fork_clear(st, names[i], &had, err, sizeof(err)) != 0) {
                        fprintf(stderr, PROG " store forget-fork: %s\n", err);
                        rc = EXIT_INCOMPLETE;
                } else if (had) {
                        fprintf(stderr,
                                PROG " store forget-fork: '%s': fork evidence deleted from %s; "
                                     "its audits from the store verify again\n",
                                names[i], store_path(st));
                } else {
                        fprintf(stderr, PROG " store forget-fork: '%s': no fork evidence in %s\n",
                                names[i], store_path(st));
                        rc = rc > EXIT_FINDINGS ? rc : EXIT_FINDINGS;
                }
        }
        return rc;
}

static void print_problem(void *ctx, uint64_t rows, const char *what) {
        printf("DAMAGED store %s: %llu %s\n", (const char *)ctx, (unsigned long long)rows, what);
}

struct frames {
        struct writer *w;
};

static int frame_one(void *ctx, uint64_t leaf, const uint8_t *p, size_t len) {
        struct frames *f = ctx;
        record_frame_write(f->w, p, len);
        return 0;
}

static int export_origin(struct store *st, const char *name, const char *outpath,
                         const struct verify_opts *o) {
        char err[600], why[300];
        struct store_origin so;
        bool found;
        if (store_origin_load(st, name, &so, &found, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " store export: %s\n", err);
                return EXIT_INTEGRITY;
        }
        if (!found) {
                fprintf(stderr, PROG " store export: '%s' is not in %s\n", name, store_path(st));
                return EXIT_INCOMPLETE;
        }
        int rc = EXIT_INTEGRITY;
        struct writer w;
        writer_init(&w, SOURCE_BUNDLE_MAX_BYTES);
        if (store_origin_check(&so, o->keys, o->nkeys, why, sizeof(why)) != 0) {
                fprintf(stderr, PROG " store export: '%s': %s (gpuhours store verify)\n", name,
                        why);
                goto out;
        }
        struct store_fork fk;
        bool forked;
        if (store_fork_load(st, so.name, &fk, &forked, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " store export: %s\n", err);
                goto out;
        }
        if (forked) {
                fprintf(stderr,
                        PROG " store export: '%s': the store holds %s evidence for it (gpuhours "
                             "store verify); not exported as a clean bundle\n",
                        name, fk.kind[0] ? fk.kind : "fork");
                store_fork_free(&fk);
                goto out;
        }
        bundle_write_header(&w, so.note, so.note_len, so.size);
        struct frames f = {.w = &w};
        if (store_records(st, so.id, 0, so.size, frame_one, &f, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " store export: %s\n", err);
                goto out;
        }
        uint8_t *data;
        size_t len;
        if (writer_finish(&w, &data, &len) != 0) {
                fprintf(stderr, PROG " store export: bundle larger than 4 GiB or out of memory\n");
                rc = EXIT_INCOMPLETE;
                goto out;
        }
        int r = atomic_write_file(outpath, data, len, 0644);
        free(data);
        if (r != 0) {
                fprintf(stderr, PROG " store export: cannot write '%s': %s\n", outpath,
                        strerror(-r));
                rc = EXIT_INCOMPLETE;
                goto out;
        }
        printf("wrote %s: %llu records, %zu bytes\n", outpath, (unsigned long long)so.size, len);
        rc = EXIT_VERIFIED;
out:
        writer_free(&w);
        store_origin_free(&so);
        return rc;
}

static int list_origins(struct store *st, char **names, size_t n) {
        for (size_t i = 0; i < n; i++) {
                char err[600];
                struct store_origin so;
                bool found;
                if (store_origin_load(st, names[i], &so, &found, err, sizeof(err)) != 0) {
                        printf("%s\tDAMAGED: %s\n", names[i], err);
                        continue;
                }
                struct store_fork fk;
                bool forked = false;
                if (store_fork_load(st, so.name, &fk, &forked, err, sizeof(err)) != 0)
                        snprintf(fk.kind, sizeof(fk.kind), "DAMAGED"), forked = true;
                printf("%s\t%llu records\t%s%s%s\n", so.name, (unsigned long long)so.size,
                       so.url[0] ? so.url : "-", forked ? "\t" : "", forked ? fk.kind : "");
                store_fork_free(&fk);
                store_origin_free(&so);
        }
        return EXIT_VERIFIED;
}

int cmd_store(int argc, char **argv) {
        struct common_opts c = {0};
        const char *outpath = NULL, *action = NULL;
        const char **names = calloc((size_t)argc, sizeof(*names));
        size_t n = 0;
        int rc = EXIT_INCOMPLETE;
        if (!names) {
                fprintf(stderr, PROG " store: out of memory\n");
                return rc;
        }
        for (int i = 1; i < argc; i++) {
                const char *v;
                int r = common_opt("store", store_help, argc, argv, &i, &c, &rc);
                if (r < 0)
                        goto out;
                if (r > 0)
                        continue;
                if ((r = arg_value("store", argc, argv, &i, "-o", &v)) != 0 ||
                    (r = arg_value("store", argc, argv, &i, "--output", &v)) != 0) {
                        if (r < 0)
                                goto out;
                        outpath = v;
                } else if (argv[i][0] == '-') {
                        fprintf(stderr, PROG " store: unknown option '%s'\n", argv[i]);
                        goto out;
                } else if (!action) {
                        action = argv[i];
                } else {
                        names[n++] = argv[i];
                }
        }
        bool verify = action && strcmp(action, "verify") == 0;
        bool export = action && strcmp(action, "export") == 0;
        bool list = action && strcmp(action, "list") == 0;
        bool forget = action && strcmp(action, "forget-fork") == 0;
        if (!verify && !export && !list && !forget) {
                fprintf(stderr, PROG " store: expected verify, export, list or forget-fork (see "
                                PROG " store --help)\n");
                goto out;
        }
        if (forget && n == 0) {
                fprintf(stderr, PROG " store forget-fork: need one ORIGIN or more\n");
                goto out;
        }
        if (export && (n != 1 || !outpath)) {
                fprintf(stderr, PROG " store export: need one ORIGIN and -o FILE\n");
                goto out;
        }
        if (c.no_store || c.no_state || c.offline || c.since || c.until ||
            (outpath && !export) || (list && n)) {
                fprintf(stderr, PROG " store %s: options or arguments it does not take\n",
                        action);
                goto out;
        }
        struct verify_opts o = {0};
        if (common_finish("store", &c, &o) != 0)
                goto out;
        if (export) {
                rc = export_origin(c.store, names[0], outpath, &o);
                goto out;
        }
        if (forget) {
                rc = forget_forks(c.store, names, n);
                goto out;
        }
        char **all = NULL;
        size_t nall = 0;
        char err[600];
        if (store_origin_names(c.store, &all, &nall, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " store: %s\n", err);
                rc = EXIT_INTEGRITY;
                goto out;
        }
        if (list) {
                rc = list_origins(c.store, all, nall);
        } else {
                rc = EXIT_VERIFIED;
                size_t damaged = 0, total = n ? n : nall;
                size_t forked = 0;
                for (size_t i = 0; i < total; i++) {
                        const char *name = n ? names[i] : all[i];
                        int r = verify_origin(c.store, name, &o);
                        damaged += r == EXIT_INTEGRITY;
                        int fr = verify_fork(c.store, name, &o);
                        forked += fr == EXIT_INTEGRITY;
                        if (r > rc)
                                rc = r;
                        if (fr > rc)
                                rc = fr;
                }
                /* Fork evidence of origins with no records (every origin: none named). */
                char **fnames = NULL;
                size_t nf = 0;
                if (!n && store_fork_names(c.store, &fnames, &nf, err, sizeof(err)) != 0) {
                        printf("DAMAGED store %s: %s\n", store_path(c.store), err);
                        rc = rc > EXIT_INTEGRITY ? rc : EXIT_INTEGRITY;
                }
                for (size_t i = 0; i < nf; i++) {
                        bool listed = false;
                        for (size_t k = 0; k < nall && !listed; k++)
                                listed = strcmp(all[k], fnames[i]) == 0;
                        if (listed)
                                continue;
                        int fr = verify_fork(c.store, fnames[i], &o);
                        forked += fr == EXIT_INTEGRITY;
                        total++;
                        if (fr > rc)
                                rc = fr;
                }
                store_names_free(fnames, nf);
                /* The tables against each other: whatever origins were named. */
                unsigned bad = 0;
                if (store_check_references(c.store, print_problem, (void *)store_path(c.store),
                                           &bad, err, sizeof(err)) != 0) {
                        printf("DAMAGED store %s: %s\n", store_path(c.store), err);
                        bad = 1;
                }
                if (bad)
                        rc = rc > EXIT_INTEGRITY ? rc : EXIT_INTEGRITY;
                printf("store %s: %zu origins checked, %zu damaged", store_path(c.store), total,
                       damaged);
                if (forked)
                        printf(", %zu with fork evidence", forked);
                if (bad)
                        printf("; %u inconsistenc%s between its tables", bad,
                               bad == 1 ? "y" : "ies");
                printf("\n");
        }
        store_names_free(all, nall);
        if (fflush(stdout) != 0 && rc < EXIT_INCOMPLETE)
                rc = EXIT_INCOMPLETE;
out:
        common_free(&c);
        free(names);
        return rc;
}
