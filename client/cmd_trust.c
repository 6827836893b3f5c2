/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "cli.h"
#include "fetch.h"
#include "source.h"
#include "status.h"
#include "state.h"
#include "trust.h"
#include "util.h"

static const char trust_help[] =
        "usage: " PROG " trust add [--] VKEY\n"
        "       " PROG " trust add --tofu URL [--timeout SECONDS]\n"
        "       " PROG " trust list\n"
        "       " PROG " trust remove [--] NAME\n"
        "\n"
        "Manages the trusted verifier keys in $XDG_CONFIG_HOME/gpuhours/trusted_keys\n"
        "(default ~/.config/gpuhours/trusted_keys), one vkey per line. A vkey is\n"
        "NAME+KEYID+BASE64 as printed by 'gpuhoursd --print-key'; NAME is the node's\n"
        "origin. Get it from the operator out of band. --tofu instead fetches it from\n"
        "the node itself (trust on first use: weaker, see the warning it prints).\n"
        "'remove' drops every key with that name. A VKEY or NAME that starts with '-'\n"
        "goes after '--'.\n";

/* The current file text ("" if absent) and its parsed keys. */
static int load_text(const char *path, char **text, size_t *len, struct trust_list *keys) {
        int r = read_file_capped(path, TRUST_FILE_MAX, text, len);
        if (r == -ENOENT) {
                *text = calloc(1, 1);
                *len = 0;
                return *text ? 0 : -ENOMEM;
        }
        if (r != 0) {
                fprintf(stderr, PROG " trust: %s: %s\n", path,
                        r == -EFBIG ? "larger than 1 MiB" : strerror(-r));
                return r;
        }
        char err[200];
        r = trust_parse(*text, *len, keys, err, sizeof(err));
        if (r != 0) {
                /* Keys before the bad line were added: free them too. */
                fprintf(stderr, PROG " trust: %s: %s\n", path, r < 0 ? strerror(-r) : err);
                trust_list_free(keys);
                free(*text);
                *text = NULL;
        }
        return r;
}

static int save_text(const char *path, const char *text, size_t len) {
        char dir[4096];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
                *slash = '\0';
        int r = slash ? mkdir_p(dir, 0700) : 0;
        if (r == 0)
                r = atomic_write_file(path, text, len, 0644);
        if (r != 0)
                fprintf(stderr, PROG " trust: cannot write %s: %s\n", path, strerror(-r));
        return r;
}

/* Append vkey (already validated) unless present. 0 or EXIT_INCOMPLETE. */
static int add_key(const char *vkey, const struct note_verifier *v, const char *comment) {
        _cleanup_free_ char *path = trust_file_path();
        if (!path) {
                fprintf(stderr, PROG " trust: neither XDG_CONFIG_HOME nor HOME is set\n");
                return EXIT_INCOMPLETE;
        }
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct trust_list keys = {0};
        if (load_text(path, &text, &len, &keys) != 0)
                return EXIT_INCOMPLETE;
        long found = trust_list_find(&keys, v->name, v->key_id);
        trust_list_free(&keys);
        if (found >= 0) {
                printf("already trusted: %s\n", vkey);
                return 0;
        }
        size_t clen = comment ? strlen(comment) : 0;
        size_t vlen = strlen(vkey);
        _cleanup_free_ char *out = malloc(len + clen + vlen + 8);
        if (!out)
                return EXIT_INCOMPLETE;
        memcpy(out, text, len);
        size_t o = len;
        if (o > 0 && out[o - 1] != '\n')
                out[o++] = '\n';
        if (clen) {
                memcpy(out + o, comment, clen);
                o += clen;
        }
        memcpy(out + o, vkey, vlen);
        o += vlen;
        out[o++] = '\n';
        if (save_text(path, out, o) != 0)
                return EXIT_INCOMPLETE;
        printf("trusted: %s\n", vkey);
        return 0;
}

struct tofu {
        char origin[NOTE_NAME_MAX + 1];
        char vkey[VKEY_MAX_LEN + 1];
        char *checkpoint;
        size_t checkpoint_len;
        char err[600];
};

static bool tofu_ok(struct tofu *t, const struct fetch_result *res) {
        if (t->err[0])
                return false;
        if (!res->ok) {
                snprintf(t->err, sizeof(t->err), "%s: %s", res->url, res->error);
                return false;
        }
        if (res->http_status != 200) {
                snprintf(t->err, sizeof(t->err), "%s: HTTP status %ld", res->url, res->http_status);
                return false;
        }
        return true;
}

static void on_node(void *ctx, struct fetch_result *res) {
        struct tofu *t = ctx;
        if (!tofu_ok(t, res))
                return;
        char err[200];
        if (node_json_parse((const char *)res->body, res->len, t->origin, sizeof(t->origin),
                            t->vkey, sizeof(t->vkey), err, sizeof(err)) != 0)
                snprintf(t->err, sizeof(t->err), "%s: %s", res->url, err);
}

static void on_cp(void *ctx, struct fetch_result *res) {
        struct tofu *t = ctx;
        if (!tofu_ok(t, res))
                return;
        t->checkpoint = (char *)res->body;
        t->checkpoint_len = res->len;
        res->body = NULL;
}

/*
 * TOFU on an origin the auditor already knows is suspicious: the node may
 * have been replaced, or its key rotated by someone else. Warn when another
 * key is trusted for the origin or a checkpoint of it is remembered.
 */
static void tofu_warn_known_origin(const struct note_verifier *v) {
        struct trust_list keys = {0};
        struct checkpoint rem;
        bool found = false;
        char err[400], q[NOTE_NAME_MAX + 3];

        quote_bytes(v->name, strlen(v->name), q, sizeof(q));
        if (trust_load(&keys, err, sizeof(err)) == 0) {
                for (size_t i = 0; i < keys.n; i++)
                        if (strcmp(keys.keys[i].name, v->name) == 0 &&
                            keys.keys[i].key_id != v->key_id)
                                fprintf(stderr,
                                        "WARNING: origin '%s' already has another trusted key "
                                        "(key ID %08x); the node now offers key ID %08x. A "
                                        "replaced node or key is exactly what TOFU cannot "
                                        "tell from an attack: check out of band.\n",
                                        q, (unsigned)keys.keys[i].key_id, (unsigned)v->key_id);
                trust_list_free(&keys);
        }
        if (state_load(v->name, &rem, &found, err, sizeof(err)) == 0 && found)
                fprintf(stderr,
                        "WARNING: a checkpoint of origin '%s' (tree size %llu) is already "
                        "remembered from an earlier verification: this origin was audited "
                        "before, so a new key for it needs an out-of-band check.\n",
                        q, (unsigned long long)rem.size);
}

static int tofu(const char *url, long timeout_ms) {
        if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0) {
                fprintf(stderr, PROG " trust: '%s' is not an http:// or https:// URL\n", url);
                return EXIT_INCOMPLETE;
        }
        struct tofu t = {0};
        struct fetch *f = fetch_new(timeout_ms, false);
        _cleanup_free_ char *u1 = url_join(url, API_PATH_NODE);
        _cleanup_free_ char *u2 = url_join(url, API_PATH_CHECKPOINT);
        if (!f || !u1 || !u2 || fetch_add(f, u1, NODE_JSON_MAX, on_node, &t) != 0 ||
            fetch_add(f, u2, SOURCE_CHECKPOINT_MAX_BYTES, on_cp, &t) != 0 || fetch_run(f) != 0) {
                fetch_free(f);
                free(t.checkpoint);
                fprintf(stderr, PROG " trust: out of memory or transfer engine failure\n");
                return EXIT_INCOMPLETE;
        }
        fetch_free(f);
        _cleanup_free_ char *cp = t.checkpoint;
        if (t.err[0]) {
                fprintf(stderr, PROG " trust: %s\n", t.err);
                return EXIT_INCOMPLETE;
        }
        struct note_verifier v;
        char q[VKEY_MAX_LEN + 8];
        quote_bytes(t.vkey, strlen(t.vkey), q, sizeof(q));
        if (vkey_parse(t.vkey, strlen(t.vkey), &v) != 0) {
                fprintf(stderr, PROG " trust: the node's vkey '%s' is not valid\n", q);
                return EXIT_INTEGRITY;
        }
        if (strcmp(v.name, t.origin) != 0) {
                fprintf(stderr, PROG " trust: the node's vkey '%s' is not named after its origin\n",
                        q);
                return EXIT_INTEGRITY;
        }
        /* The node must hold the key: its current checkpoint must verify with it. */
        size_t text_len, which;
        struct checkpoint c;
        int r = note_verify(cp, t.checkpoint_len, &v, 1, false, &text_len, &which);
        if (r != 0 || checkpoint_parse(cp, text_len, &c) != 0 || strcmp(c.origin, v.name) != 0) {
                fprintf(stderr,
                        PROG " trust: the node's checkpoint does not verify with the vkey it "
                             "offers (%s); not trusting it\n",
                        r ? gh_strerror(r) : "wrong origin");
                return EXIT_INTEGRITY;
        }
        char fp[160];
        vkey_fingerprint(t.vkey, v.key_id, fp, sizeof(fp));
        fprintf(stderr,
                "WARNING: trust on first use. This key came from the node itself over the\n"
                "network, so anyone who controls the node or the path to it could have\n"
                "supplied it. Compare the fingerprint below with the one the operator gives\n"
                "you out of band (gpuhoursd --print-key); a vkey obtained out of band is\n"
                "stronger than this.\n");
        printf("origin: %s\nvkey: %s\nfingerprint: %s\n", v.name, t.vkey, fp);
        tofu_warn_known_origin(&v);
        char comment[300];
        snprintf(comment, sizeof(comment), "# pinned on first use from %.200s\n", url);
        return add_key(t.vkey, &v, comment);
}

static int list_keys(void) {
        struct trust_list keys = {0};
        char err[400];
        if (trust_load(&keys, err, sizeof(err)) != 0) {
                fprintf(stderr, PROG " trust: %s\n", err);
                trust_list_free(&keys);
                return EXIT_INCOMPLETE;
        }
        for (size_t i = 0; i < keys.n; i++) {
                char vk[VKEY_MAX_LEN + 1];
                size_t vlen;
                int rc = vkey_format(&keys.keys[i], vk, sizeof(vk), &vlen);
                if (rc == 0)
                        printf("%s\n", vk);
                else
                        fprintf(stderr, PROG " trust: cannot format key '%s': %s\n",
                                keys.keys[i].name, gh_strerror(rc));
        }
        if (keys.n == 0)
                fprintf(stderr, PROG " trust: no trusted keys\n");
        trust_list_free(&keys);
        return 0;
}

static int remove_keys(const char *name) {
        _cleanup_free_ char *path = trust_file_path();
        if (!path) {
                fprintf(stderr, PROG " trust: neither XDG_CONFIG_HOME nor HOME is set\n");
                return EXIT_INCOMPLETE;
        }
        _cleanup_free_ char *text = NULL;
        size_t len;
        struct trust_list keys = {0};
        if (load_text(path, &text, &len, &keys) != 0)
                return EXIT_INCOMPLETE;
        trust_list_free(&keys);
        _cleanup_free_ char *out = NULL;
        size_t olen, removed;
        if (trust_text_without(text, len, name, &out, &olen, &removed) != 0)
                return EXIT_INCOMPLETE;
        char q[300];
        quote_bytes(name, strlen(name), q, sizeof(q));
        if (removed == 0) {
                fprintf(stderr, PROG " trust: no trusted key named '%s'\n", q);
                return EXIT_INCOMPLETE;
        }
        if (save_text(path, out, olen) != 0)
                return EXIT_INCOMPLETE;
        printf("removed %zu key%s named '%s'\n", removed, removed == 1 ? "" : "s", q);
        return 0;
}

/*
 * The one operand of "trust add VKEY" / "trust remove NAME" (argv[2..]):
 * "--" ends the options, so that a vkey or a name that starts with '-' (an
 * origin may) can be given after it; without "--" an argument starting with
 * '-' is an option, and these subcommands have none (add's --tofu is handled
 * by the caller). 0 and *out set, or EXIT_INCOMPLETE with one line on stderr.
 */
static int one_operand(const char *sub, const char *what, int argc, char **argv,
                       const char **out) {
        int i = 2;
        char q[120];
        if (i < argc && strcmp(argv[i], "--") == 0)
                i++;
        else if (i < argc && argv[i][0] == '-' && argv[i][1] != '\0') {
                struct note_verifier v;
                quote_bytes(argv[i], strlen(argv[i]), q, sizeof(q));
                if (strcmp(what, "VKEY") == 0 && vkey_parse(argv[i], strlen(argv[i]), &v) == 0)
                        fprintf(stderr,
                                PROG " trust %s: '%s' starts with '-', so it reads as an option; "
                                     "give it after '--': " PROG " trust %s -- %s\n",
                                sub, q, sub, what);
                else
                        fprintf(stderr,
                                PROG " trust %s: unknown option '%s' (a %s that starts with '-' "
                                     "goes after '--')\n",
                                sub, q, what);
                return EXIT_INCOMPLETE;
        }
        if (i >= argc) {
                fprintf(stderr, PROG " trust %s: missing %s (see " PROG " trust --help)\n", sub,
                        what);
                return EXIT_INCOMPLETE;
        }
        if (i + 1 < argc) {
                quote_bytes(argv[i + 1], strlen(argv[i + 1]), q, sizeof(q));
                fprintf(stderr, PROG " trust %s: unexpected argument '%s' after the %s\n", sub, q,
                        what);
                return EXIT_INCOMPLETE;
        }
        *out = argv[i];
        return 0;
}

int cmd_trust(int argc, char **argv) {
        if (argc < 2 || is_help(argv[1])) {
                fputs(trust_help, argc < 2 ? stderr : stdout);
                return argc < 2 ? EXIT_INCOMPLETE : 0;
        }
        const char *sub = argv[1], *arg = NULL;
        if (strcmp(sub, "list") == 0 && argc == 2)
                return list_keys();
        if (strcmp(sub, "remove") == 0) {
                int r = one_operand("remove", "NAME", argc, argv, &arg);
                return r != 0 ? r : remove_keys(arg);
        }
        if (strcmp(sub, "add") == 0 && !(argc >= 3 && strcmp(argv[2], "--tofu") == 0)) {
                int r = one_operand("add", "VKEY", argc, argv, &arg);
                if (r != 0)
                        return r;
                struct note_verifier v;
                if (vkey_parse(arg, strlen(arg), &v) != 0) {
                        char q[120];
                        quote_bytes(arg, strlen(arg), q, sizeof(q));
                        fprintf(stderr,
                                PROG " trust: '%s' is not a vkey (NAME+KEYID+BASE64, as printed "
                                     "by gpuhoursd --print-key)\n",
                                q);
                        return EXIT_INCOMPLETE;
                }
                return add_key(arg, &v, NULL);
        }
        if (strcmp(sub, "add") == 0 && argc >= 4 && strcmp(argv[2], "--tofu") == 0) {
                long timeout_ms = FETCH_DEFAULT_TIMEOUT_MS;
                struct common_opts c = {0};
                for (int i = 4; i < argc; i++) {
                        int r = common_opt("trust", NULL, argc, argv, &i, &c, &(int){0});
                        if (r <= 0 || c.nextra || c.since || c.until || c.no_state) {
                                if (r == 0 || c.nextra || c.since || c.until || c.no_state)
                                        fprintf(stderr, PROG " trust: unexpected argument '%s'\n",
                                                argv[i]);
                                common_free(&c);
                                return EXIT_INCOMPLETE;
                        }
                }
                common_free(&c);
                if (c.timeout_ms)
                        timeout_ms = c.timeout_ms;
                return tofu(argv[3], timeout_ms);
        }
        if (strcmp(sub, "add") == 0 && argc == 3)
                fprintf(stderr, PROG " trust add --tofu: missing URL\n");
        else
                fprintf(stderr, PROG " trust: bad arguments (see " PROG " trust --help)\n");
        return EXIT_INCOMPLETE;
}
