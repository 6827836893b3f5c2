/* SPDX-License-Identifier: MIT */
/*
 * gpuhours state show [ORIGIN] [--json], gpuhours state forget ORIGIN: the
 * remembered checkpoints (client/state.h) and the fork evidence kept beside
 * them, for an auditor to inspect, export or start over.
 */
#include <errno.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "state.h"
#include "util.h"

static const char state_help[] =
        "usage: " PROG " state show [ORIGIN] [--json]\n"
        "       " PROG " state forget ORIGIN\n"
        "\n"
        "'show' lists the origins with a remembered checkpoint or fork evidence; 'show\n"
        "ORIGIN' prints the remembered checkpoint (the signed note as stored, size, root,\n"
        "signing key, when) and the two conflicting signed notes of any fork seen. Text\n"
        "mode prints a node's bytes outside printable ASCII as '?'; --json keeps them\n"
        "exact. 'forget ORIGIN' removes both, so the next verification starts over.\n"
        "Files: $XDG_STATE_HOME/gpuhours/ (default ~/.local/state/gpuhours/). Exit: 0,\n"
        "2 if a stored file is not valid, 3 for bad usage or nothing remembered.\n";

/*
 * Text mode prints no node-supplied byte raw: every byte outside 0x20..0x7e
 * becomes '?', as quote_bytes (proto/text.h) and verify's output do, so that
 * a bidi override or an escape sequence in an origin, a key name or a note
 * cannot rearrange or hide what the auditor reads. The fixed signature-line
 * prefix of a note ("\u2014 ", NOTE_SIG_PREFIX) is kept, so that an all-ASCII
 * note prints exactly as stored; --json gives every note exactly.
 */
static bool safe_bytes_replaced;

static void put_safe(const char *p, size_t len, FILE *out) {
        for (size_t i = 0; i < len; i++) {
                unsigned char c = (unsigned char)p[i];
                if (c >= 0x20 && c < 0x7f) {
                        fputc(c, out);
                } else {
                        fputc('?', out);
                        safe_bytes_replaced = true;
                }
        }
}

/* A note (or any text) line by line: each line sanitised, its '\n' kept. */
static void put_safe_note(const char *note, size_t len, FILE *out) {
        size_t pos = 0;
        while (pos < len) {
                const char *nl = memchr(note + pos, '\n', len - pos);
                size_t k = nl ? (size_t)(nl - (note + pos)) : len - pos;
                const char *line = note + pos;
                if (k >= NOTE_SIG_PREFIX_LEN &&
                    memcmp(line, NOTE_SIG_PREFIX, NOTE_SIG_PREFIX_LEN) == 0) {
                        fwrite(NOTE_SIG_PREFIX, 1, NOTE_SIG_PREFIX_LEN, out);
                        put_safe(line + NOTE_SIG_PREFIX_LEN, k - NOTE_SIG_PREFIX_LEN, out);
                } else {
                        put_safe(line, k, out);
                }
                if (nl)
                        fputc('\n', out);
                pos += k + (nl ? 1 : 0);
        }
}

/*
 * --json keeps every string exact, in JSON escaping: JSON_ENSURE_ASCII writes
 * every non-ASCII character as \uXXXX (so no raw bidi or control byte reaches
 * a terminal either way); a string that is not UTF-8 (a file edited by hand) is
 * null, not a missing key.
 */
static json_t *jstr(const char *s) {
        json_t *j = json_string(s);
        return j ? j : json_null();
}

/* "— NAME BASE64" lines of a note: the key names and IDs that signed it. */
static json_t *signers_json(const char *note, size_t len, FILE *human) {
        size_t text_len, off;
        struct note_sigs it;
        struct note_sig sl;
        json_t *a = json_array();
        if (!a || !note_split(note, len, &text_len, &off))
                return a;
        note_sigs_init(&it, note, len, off);
        bool done;
        while (note_sig_next(&it, &sl, &done) == 0 && !done) {
                char name[NOTE_NAME_MAX + 1], id[9];
                memcpy(name, sl.name, sl.name_len);
                name[sl.name_len] = '\0';
                hex_encode(sl.sig, 4, id);
                json_t *o = json_object();
                if (o) {
                        json_object_set_new(o, "name", jstr(name));
                        json_object_set_new(o, "key_id", json_string(id));
                        json_array_append_new(a, o);
                }
                if (human) {
                        fputs("signed by: ", human);
                        put_safe(name, sl.name_len, human);
                        fprintf(human, ", key ID %s\n", id);
                }
        }
        return a;
}

static void root_b64(const uint8_t *root, char *out, size_t cap) {
        if (cap < sodium_base64_ENCODED_LEN(MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL) ||
            !sodium_bin2base64(out, cap, root, MERKLE_HASH_LEN, sodium_base64_VARIANT_ORIGINAL))
                snprintf(out, cap, "?");
}

static void iso_s(int64_t s, char *out, size_t cap) {
        if (s < 0) {
                snprintf(out, cap, "unknown");
                return;
        }
        time_format_iso((uint64_t)s * NS_PER_SEC, false, out, cap);
}

/* The note as stored, or a warning line if it is not a valid note (a file edited by hand). */
static bool print_note(const char *note, size_t len) {
        size_t tl, off;
        if (!note_split(note, len, &tl, &off)) {
                printf("(the stored note is not a valid signed note)\n");
                return false;
        }
        put_safe_note(note, len, stdout);
        return true;
}

static int show_one(const char *origin, bool json) {
        struct state_entry e;
        struct state_fork f;
        bool have_cp = false, have_fork = false;
        char err[600], q[NOTE_NAME_MAX + 3];
        quote_bytes(origin, strlen(origin), q, sizeof(q));
        if (!note_name_valid(origin, strlen(origin))) {
                fprintf(stderr, PROG " state: '%s' is not an origin name\n", q);
                return EXIT_INCOMPLETE;
        }
        int r = state_entry_load(origin, &e, &have_cp, err, sizeof(err));
        if (r != 0) {
                fprintf(stderr, PROG " state: %s\n", err);
                state_entry_free(&e);
                return r > 0 ? EXIT_INTEGRITY : EXIT_INCOMPLETE;
        }
        r = state_fork_load(origin, &f, &have_fork, err, sizeof(err));
        if (r != 0) {
                fprintf(stderr, PROG " state: %s\n", err);
                state_entry_free(&e);
                return r > 0 ? EXIT_INTEGRITY : EXIT_INCOMPLETE;
        }
        if (!have_cp && !have_fork) {
                fprintf(stderr, PROG " state: nothing is remembered for origin '%s' (" PROG
                                " state show lists the origins)\n",
                        q);
                return EXIT_INCOMPLETE;
        }
        int rc = 0;
        char root[64], when[40];
        json_t *doc = json ? json_object() : NULL;
        if (json && !doc)
                return EXIT_INCOMPLETE;
        if (json)
                json_object_set_new(doc, "origin", jstr(origin));
        else
                printf("origin: %s\n", q);
        if (have_cp) {
                root_b64(e.cp.root, root, sizeof(root));
                iso_s(e.mtime_s, when, sizeof(when));
                if (json) {
                        json_t *c = json_object();
                        json_object_set_new(c, "size", json_integer((json_int_t)e.cp.size));
                        json_object_set_new(c, "root", json_string(root));
                        json_object_set_new(c, "remembered", json_string(when));
                        json_object_set_new(c, "signatures", signers_json(e.note, e.note_len, NULL));
                        json_t *ns = json_stringn(e.note, e.note_len);
                        json_object_set_new(c, "note", ns ? ns : json_null());
                        json_object_set_new(doc, "checkpoint", c);
                } else {
                        printf("size: %llu\nroot: %s\nremembered: %s\n",
                               (unsigned long long)e.cp.size, root, when);
                        json_decref(signers_json(e.note, e.note_len, stdout));
                        printf("note:\n");
                        if (!print_note(e.note, e.note_len))
                                rc = EXIT_INTEGRITY;
                }
        } else if (json) {
                json_object_set_new(doc, "checkpoint", json_null());
        } else {
                printf("no remembered checkpoint\n");
        }
        if (have_fork) {
                iso_s(f.time_s, when, sizeof(when));
                json_t *fo = json ? json_object() : NULL, *arr = json ? json_array() : NULL;
                if (!json)
                        printf("\nFORK recorded %s: two signed checkpoints of this origin that "
                               "are not consistent:\n",
                               when);
                for (int i = 0; i < 2; i++) {
                        root_b64(f.cp[i].root, root, sizeof(root));
                        if (json) {
                                json_t *n = json_object();
                                json_object_set_new(n, "source", jstr(f.source[i]));
                                json_object_set_new(n, "size",
                                                    json_integer((json_int_t)f.cp[i].size));
                                json_object_set_new(n, "root", json_string(root));
                                json_object_set_new(
                                        n, "signatures",
                                        signers_json(f.note[i], f.note_len[i], NULL));
                                json_t *ns = json_stringn(f.note[i], f.note_len[i]);
                                json_object_set_new(n, "note", ns ? ns : json_null());
                                json_array_append_new(arr, n);
                        } else {
                                printf("\n%s, from ", i == 0 ? "first" : "second");
                                put_safe(f.source[i], strlen(f.source[i]), stdout);
                                printf(": size %llu, root %s\n", (unsigned long long)f.cp[i].size,
                                       root);
                                put_safe_note(f.note[i], f.note_len[i], stdout);
                        }
                }
                if (json) {
                        json_object_set_new(fo, "recorded", json_string(when));
                        json_object_set_new(fo, "notes", arr);
                        json_object_set_new(doc, "fork", fo);
                }
        } else if (json) {
                json_object_set_new(doc, "fork", json_null());
        }
        if (json) {
                if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 ||
                    fputc('\n', stdout) == EOF)
                        rc = EXIT_INCOMPLETE;
                json_decref(doc);
        } else if (safe_bytes_replaced) {
                printf("\n(bytes outside printable ASCII are shown as '?'; " PROG
                       " state show --json ORIGIN gives the notes exactly)\n");
        }
        state_entry_free(&e);
        state_fork_free(&f);
        return rc;
}

static int show_all(bool json) {
        char **v = NULL;
        size_t n = 0;
        char err[600];
        if (state_list(&v, &n, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " state: %s\n", err);
                return EXIT_INCOMPLETE;
        }
        json_t *arr = json ? json_array() : NULL;
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
                struct state_entry e;
                struct state_fork f;
                bool have_cp = false, have_fork = false;
                char q[NOTE_NAME_MAX + 3], when[40];
                quote_bytes(v[i], strlen(v[i]), q, sizeof(q));
                int r1 = state_entry_load(v[i], &e, &have_cp, err, sizeof(err));
                if (r1 != 0)
                        fprintf(stderr, PROG " state: %s\n", err);
                int r2 = state_fork_load(v[i], &f, &have_fork, err, sizeof(err));
                if (r2 != 0)
                        fprintf(stderr, PROG " state: %s\n", err);
                if (r1 != 0 || r2 != 0)
                        rc = EXIT_INTEGRITY;
                iso_s(have_cp ? e.mtime_s : -1, when, sizeof(when));
                if (json) {
                        json_t *o = json_object();
                        json_object_set_new(o, "origin", jstr(v[i]));
                        json_object_set_new(o, "size", have_cp ? json_integer((json_int_t)e.cp.size)
                                                               : json_null());
                        json_object_set_new(o, "remembered",
                                            have_cp ? json_string(when) : json_null());
                        json_object_set_new(o, "fork", json_boolean(have_fork));
                        json_array_append_new(arr, o);
                } else if (have_cp) {
                        printf("%s  size %llu  remembered %s%s\n", q,
                               (unsigned long long)e.cp.size, when,
                               have_fork ? "  FORK recorded" : "");
                } else {
                        printf("%s  no remembered checkpoint%s\n", q,
                               have_fork ? "  FORK recorded" : "");
                }
                state_entry_free(&e);
                state_fork_free(&f);
        }
        if (json) {
                json_t *doc = json_object();
                json_object_set_new(doc, "origins", arr);
                if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) != 0 ||
                    fputc('\n', stdout) == EOF)
                        rc = EXIT_INCOMPLETE;
                json_decref(doc);
        } else if (n == 0) {
                fprintf(stderr, PROG " state: nothing is remembered\n");
        }
        state_list_free(v, n);
        return rc;
}

static int forget(const char *origin) {
        char err[600], q[NOTE_NAME_MAX + 3], root[64];
        quote_bytes(origin, strlen(origin), q, sizeof(q));
        if (!note_name_valid(origin, strlen(origin))) {
                fprintf(stderr, PROG " state: '%s' is not an origin name\n", q);
                return EXIT_INCOMPLETE;
        }
        /* What is there, to say what was removed (a file that does not parse goes too). */
        struct state_entry e;
        bool have_cp = false, had_cp, had_fork;
        (void)state_entry_load(origin, &e, &have_cp, err, sizeof(err));
        if (state_forget(origin, &had_cp, &had_fork, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " state: %s\n", err);
                state_entry_free(&e);
                return EXIT_INCOMPLETE;
        }
        if (!had_cp && !had_fork) {
                fprintf(stderr, PROG " state: nothing is remembered for origin '%s'\n", q);
                state_entry_free(&e);
                return EXIT_INCOMPLETE;
        }
        if (had_cp && have_cp) {
                root_b64(e.cp.root, root, sizeof(root));
                printf("forgot the remembered checkpoint of '%s': size %llu, root %s\n", q,
                       (unsigned long long)e.cp.size, root);
        } else if (had_cp) {
                printf("removed the (unreadable) remembered checkpoint of '%s'\n", q);
        }
        if (had_fork)
                printf("removed the recorded fork evidence of '%s'\n", q);
        state_entry_free(&e);
        return 0;
}

int cmd_state(int argc, char **argv) {
        if (argc < 2 || is_help(argv[1])) {
                fputs(state_help, argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_INCOMPLETE : 0;
        }
        if (strcmp(argv[1], "show") == 0) {
                bool json = false;
                const char *origin = NULL;
                for (int i = 2; i < argc; i++) {
                        if (strcmp(argv[i], "--json") == 0) {
                                json = true;
                        } else if (argv[i][0] != '-' && !origin) {
                                origin = argv[i];
                        } else {
                                fprintf(stderr, PROG " state: unexpected argument '%s' (see " PROG
                                                     " state --help)\n",
                                        argv[i]);
                                return EXIT_INCOMPLETE;
                        }
                }
                return origin ? show_one(origin, json) : show_all(json);
        }
        if (strcmp(argv[1], "forget") == 0 && argc == 3 && argv[2][0] != '-')
                return forget(argv[2]);
        fprintf(stderr, PROG " state: bad arguments (see " PROG " state --help)\n");
        return EXIT_INCOMPLETE;
}
