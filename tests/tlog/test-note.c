/* SPDX-License-Identifier: MIT */
/* Unit tests for proto/note.c: keys, signed notes, checkpoints, attest notes (cmocka, TAP). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "merkle.h"
#include "note.h"
#include "status.h"

#define ORIGIN "node17.example.org/gpuhours"
#define VEC_LEAVES 1100
#define VEC_TIME UINT64_C(1764201600123456789)

static struct signer signer; /* seed 00 01 .. 1f, name ORIGIN */
static struct signer other;  /* seed ff .. ff, name "witness.example" */
static struct note_verifier vkey; /* of signer */
static struct note_verifier vother;

static int setup(void **state) {
        uint8_t seed[32];

        (void)state;
        if (sodium_init() < 0)
                return -1;
        for (int i = 0; i < 32; i++)
                seed[i] = (uint8_t)i;
        if (signer_init_ed25519(&signer, ORIGIN, seed) != 0)
                return -1;
        memset(seed, 0xff, sizeof(seed));
        if (signer_init_ed25519(&other, "witness.example", seed) != 0)
                return -1;
        signer_verifier(&signer, &vkey);
        signer_verifier(&other, &vother);
        return 0;
}

static int teardown(void **state) {
        (void)state;
        signer_free(&signer);
        signer_free(&other);
        return 0;
}

/* Concatenates NUL-terminated strings (list ends with NULL) into buf; returns the length. */
static size_t join(char *buf, size_t cap, ...) {
        va_list ap;
        const char *piece;
        size_t len = 0;

        va_start(ap, cap);
        while ((piece = va_arg(ap, const char *)) != NULL) {
                size_t n = strlen(piece);

                assert_true(len + n < cap);
                memcpy(buf + len, piece, n);
                len += n;
        }
        va_end(ap);
        buf[len] = '\0';
        return len;
}

/* Reads tests/vectors/<name> into a malloc'd, NUL-terminated buffer. */
static char *read_vector(const char *name, size_t *len) {
        const char *root = getenv("GH_SOURCE_ROOT");
        char path[4096];
        FILE *f;
        char *buf;

        assert_non_null(root);
        join(path, sizeof(path), root, "/tests/vectors/", name, (const char *)NULL);
        f = fopen(path, "rb");
        if (f == NULL)
                fail_msg("cannot open %s", path);
        buf = malloc(NOTE_MAX_SIZE + 1);
        assert_non_null(buf);
        *len = fread(buf, 1, NOTE_MAX_SIZE, f);
        fclose(f);
        buf[*len] = '\0';
        return buf;
}

static void vector_root(merkle_hash out) {
        struct merkle_border b;

        merkle_border_init(&b);
        for (unsigned i = 0; i < VEC_LEAVES; i++) {
                char data[64];
                merkle_hash leaf;
                int len = snprintf(data, sizeof(data), "gpuhours leaf %u", i);

                merkle_leaf_hash((const uint8_t *)data, (size_t)len, leaf);
                assert_int_equal(merkle_border_append(&b, leaf), 0);
        }
        merkle_border_root(&b, out);
}

static char *sign_text(const char *text, const struct signer *s, size_t *len) {
        char *note = NULL;

        assert_int_equal(note_sign(text, strlen(text), s, &note, len), 0);
        assert_non_null(note);
        return note;
}

static char *signed_checkpoint(size_t *len) {
        struct checkpoint c;
        char text[CHECKPOINT_TEXT_MAX + 1];
        size_t tlen;

        memset(&c, 0, sizeof(c));
        strcpy(c.origin, ORIGIN);
        c.size = VEC_LEAVES;
        vector_root(c.root);
        assert_int_equal(checkpoint_format(&c, text, sizeof(text), &tlen), 0);
        assert_int_equal(tlen, strlen(text));
        return sign_text(text, &signer, len);
}

/* --- names, key ids, vkeys --- */

static void test_names(void **state) {
        char big[NOTE_NAME_MAX + 2];

        (void)state;
        assert_true(note_name_valid("a", 1));
        assert_true(note_name_valid(ORIGIN, strlen(ORIGIN)));
        assert_true(note_name_valid("h\xc3\xa9llo", 6));
        assert_false(note_name_valid("", 0));
        assert_false(note_name_valid("a b", 3));
        assert_false(note_name_valid("a+b", 3));
        assert_false(note_name_valid("a\tb", 3));
        assert_false(note_name_valid("a\nb", 3));
        assert_false(note_name_valid("a\x7f", 2));
        assert_false(note_name_valid("a\0b", 3));
        assert_false(note_name_valid("a\xc2\xa0", 3));     /* NBSP */
        assert_false(note_name_valid("a\xe3\x80\x80", 4)); /* ideographic space */
        assert_false(note_name_valid("a\xc0\xaf", 3));     /* overlong '/' */
        assert_false(note_name_valid("a\xed\xa0\x80", 4)); /* surrogate */
        assert_false(note_name_valid("a\xf4\x90\x80\x80", 5));
        assert_false(note_name_valid("a\xe2\x80", 3)); /* truncated */
        memset(big, 'x', sizeof(big));
        assert_true(note_name_valid(big, NOTE_NAME_MAX));
        assert_false(note_name_valid(big, NOTE_NAME_MAX + 1));
}

static void test_signer_init(void **state) {
        struct signer s;
        struct signer zero;
        uint8_t seed[32] = {0};

        (void)state;
        assert_int_equal(signer_init_ed25519(&s, "bad name", seed), GH_E_MALFORMED);
        assert_null(s.ctx);
        assert_int_equal(signer_init_ed25519(&s, "", seed), GH_E_MALFORMED);
        memset(&zero, 0, sizeof(zero));
        signer_free(&zero); /* accepts a zeroed struct */
        signer_free(&zero);
        assert_int_equal(signer_init_ed25519(&s, "ok", seed), 0);
        assert_non_null(s.ctx);
        signer_free(&s);
        assert_null(s.ctx);
        assert_int_equal(s.key_id, 0);
}

/* Go's note_test.go vectors: an independent golden signature. */
#define PETER_VKEY "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
#define PETER_TEXT                                                                                 \
        "If you think cryptography is the answer to your problem,\n"                               \
        "then you don't know what your problem is.\n"
#define PETER_SIG                                                                                  \
        "\xe2\x80\x94 PeterNeumann "                                                               \
        "x08go/ZJkuBS9UG/"                                                                         \
        "SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
#define ENOCH_VKEY "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
#define ENOCH_SIG                                                                                  \
        "\xe2\x80\x94 EnochRoot "                                                                  \
        "rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/"                                             \
        "5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

static void test_go_vectors(void **state) {
        static const uint8_t peter_seed[32] = {0x81, 0x0a, 0x14, 0x02, 0xd5, 0x14, 0x6c, 0x8d,
                                               0x84, 0xf2, 0x44, 0x33, 0x30, 0xf5, 0x40, 0x80,
                                               0xeb, 0xf9, 0x8e, 0xe1, 0x7d, 0x9c, 0x74, 0xf6,
                                               0x25, 0x2f, 0xc5, 0xd5, 0xc7, 0x28, 0x31, 0x73};
        struct signer peter;
        struct note_verifier pv, ev, keys[2];
        char out[VKEY_MAX_LEN + 1];
        char *note;
        size_t len, tlen = 0, which = 9;
        const char *both = PETER_TEXT "\n" PETER_SIG ENOCH_SIG;

        (void)state;
        assert_int_equal(vkey_parse(PETER_VKEY, strlen(PETER_VKEY), &pv), 0);
        assert_int_equal(pv.key_id, 0xc74f20a3);
        assert_string_equal(pv.name, "PeterNeumann");
        assert_int_equal(vkey_format(&pv, out, sizeof(out), &tlen), 0);
        assert_int_equal(tlen, strlen(PETER_VKEY));
        assert_string_equal(out, PETER_VKEY);
        assert_int_equal(vkey_parse(ENOCH_VKEY, strlen(ENOCH_VKEY), &ev), 0);

        assert_int_equal(signer_init_ed25519(&peter, "PeterNeumann", peter_seed), 0);
        assert_int_equal(peter.key_id, 0xc74f20a3);
        assert_memory_equal(peter.pk, pv.pk, 32);
        note = sign_text(PETER_TEXT, &peter, &len);
        assert_int_equal(len, strlen(PETER_TEXT "\n" PETER_SIG));
        assert_memory_equal(note, PETER_TEXT "\n" PETER_SIG, len);
        free(note);
        signer_free(&peter);

        /* One known key, one unknown: the unknown one is ignored. */
        assert_int_equal(note_verify(both, strlen(both), &pv, 1, false, &tlen, &which), 0);
        assert_int_equal(tlen, strlen(PETER_TEXT));
        assert_int_equal(which, 0);
        assert_int_equal(note_verify(both, strlen(both), &ev, 1, false, &tlen, &which), 0);
        /* Strict: every signature must be from a known key. */
        assert_int_equal(note_verify(both, strlen(both), &pv, 1, true, NULL, NULL), GH_E_NO_KEY);
        keys[0] = ev;
        keys[1] = pv;
        assert_int_equal(note_verify(both, strlen(both), keys, 2, true, &tlen, &which), 0);
        assert_int_equal(which, 1); /* the first line that verified is Peter's, keys[1] */
        /* No known key at all. */
        assert_int_equal(note_verify(both, strlen(both), &vkey, 1, false, NULL, NULL), GH_E_NO_KEY);
        assert_int_equal(note_verify(both, strlen(both), NULL, 0, false, NULL, NULL), GH_E_NO_KEY);
}

static void test_vkey(void **state) {
        char out[VKEY_MAX_LEN + 1], buf[VKEY_MAX_LEN + 8];
        struct note_verifier v;
        size_t vlen = 0, flen, again;
        char *file = read_vector("note-vkey.txt", &flen);

        (void)state;
        assert_int_equal(vkey_format(&vkey, out, sizeof(out), &vlen), 0);
        assert_true(vlen > 0);
        /* Golden: file holds the vkey and a newline. */
        assert_int_equal(flen, vlen + 1);
        assert_memory_equal(file, out, vlen);
        assert_int_equal(file[vlen], '\n');
        free(file);

        assert_int_equal(vkey_parse(out, vlen, &v), 0);
        assert_memory_equal(&v, &vkey, sizeof(v));
        /* Cap too small by one. */
        again = 7;
        assert_int_equal(vkey_format(&vkey, buf, vlen, &again), GH_E_TOO_LARGE);
        assert_int_equal(again, 7); /* untouched on failure */
        assert_int_equal(vkey_format(&vkey, buf, vlen + 1, &again), 0);
        assert_int_equal(again, vlen);

        /* Every truncation and every extension fails. */
        for (size_t t = 0; t < vlen; t++)
                assert_int_equal(vkey_parse(out, t, &v), GH_E_MALFORMED);
        memcpy(buf, out, vlen);
        buf[vlen] = '\n';
        assert_int_equal(vkey_parse(buf, vlen + 1, &v), GH_E_MALFORMED);
        buf[vlen] = '=';
        assert_int_equal(vkey_parse(buf, vlen + 1, &v), GH_E_MALFORMED);
        /* Every single-bit flip fails, except a case change of a hex digit of the key id. */
        for (size_t i = 0; i < vlen; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        size_t name_len = strlen(ORIGIN);
                        bool hex = i > name_len && i <= name_len + 8;
                        int r;

                        memcpy(buf, out, vlen);
                        buf[i] ^= (char)(1 << bit);
                        r = vkey_parse(buf, vlen, &v);
                        if (hex && bit == 5 && ((buf[i] | 0x20) >= 'a' && (buf[i] | 0x20) <= 'f') &&
                            ((out[i] | 0x20) == (buf[i] | 0x20)))
                                assert_int_equal(r, 0);
                        else
                                assert_int_equal(r, GH_E_MALFORMED);
                }
        }
        /* Wrong algorithm byte (with a matching key id), missing '+', bad names. */
        {
                uint8_t key[33], id[32], in[sizeof(ORIGIN) + 33];
                char b64[45], hex[9];

                key[0] = 0x02;
                memcpy(key + 1, vkey.pk, 32);
                /* key id as Go would compute it for this algorithm byte */
                memcpy(in, ORIGIN "\n", sizeof(ORIGIN));
                memcpy(in + sizeof(ORIGIN), key, 33);
                crypto_hash_sha256(id, in, sizeof(in));
                sodium_bin2base64(b64, sizeof(b64), key, sizeof(key),
                                  sodium_base64_VARIANT_ORIGINAL);
                sodium_bin2hex(hex, sizeof(hex), id, 4);
                join(buf, sizeof(buf), ORIGIN "+", hex, "+", b64, (const char *)NULL);
                assert_int_equal(vkey_parse(buf, strlen(buf), &v), GH_E_MALFORMED);
        }
        assert_int_equal(vkey_parse("a", 1, &v), GH_E_MALFORMED);
        assert_int_equal(vkey_parse("", 0, &v), GH_E_MALFORMED);
        assert_int_equal(
                vkey_parse("+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 53, &v),
                GH_E_MALFORMED);
        assert_int_equal(
                vkey_parse("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW==",
                           68, &v),
                GH_E_MALFORMED);
        assert_int_equal(
                vkey_parse("PeterNeumann+c74f20a+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWa", 66,
                           &v),
                GH_E_MALFORMED);
        assert_int_equal(
                vkey_parse("PeterNeumann c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 66,
                           &v),
                GH_E_MALFORMED);
        /* Upper-case key id is accepted (Go accepts it); formatting is lower-case. */
        assert_int_equal(
                vkey_parse("PeterNeumann+C74F20A3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW", 66,
                           &v),
                0);
        assert_int_equal(v.key_id, 0xc74f20a3);
}

/* --- notes --- */

static void test_sign_verify(void **state) {
        size_t len, tlen = 0, which = 5;
        char *note;

        (void)state;
        note = sign_text("hello\n", &signer, &len);
        assert_int_equal(note_verify(note, len, &vkey, 1, false, &tlen, &which), 0);
        assert_int_equal(tlen, 6);
        assert_int_equal(which, 0);
        assert_int_equal(note_verify(note, len, &vkey, 1, true, NULL, NULL), 0);
        assert_int_equal(note_verify(note, len, &vother, 1, false, NULL, NULL), GH_E_NO_KEY);
        free(note);

        /* Texts that cannot be signed. */
        note = NULL;
        assert_int_equal(note_sign("no newline", 10, &signer, &note, &len), GH_E_MALFORMED);
        assert_int_equal(note_sign("", 0, &signer, &note, &len), GH_E_MALFORMED);
        assert_int_equal(note_sign("tab\there\n", 10, &signer, &note, &len), GH_E_MALFORMED);
        assert_int_equal(note_sign("bad \xff utf8\n", 11, &signer, &note, &len), GH_E_MALFORMED);
        assert_int_equal(note_sign("cr\r\n", 4, &signer, &note, &len), GH_E_MALFORMED);
        assert_null(note);
        {
                static char big[NOTE_MAX_SIZE];

                memset(big, 'a', sizeof(big));
                big[sizeof(big) - 1] = '\n';
                assert_int_equal(note_sign(big, sizeof(big), &signer, &note, &len), GH_E_TOO_LARGE);
                /* The largest text that fits with one signature line. */
                size_t fit = NOTE_MAX_SIZE - (1 + 4 + strlen(ORIGIN) + 1 + 92 + 1);
                big[fit - 1] = '\n';
                assert_int_equal(note_sign(big, fit, &signer, &note, &len), 0);
                assert_int_equal(len, NOTE_MAX_SIZE);
                assert_int_equal(note_verify(note, len, &vkey, 1, true, NULL, NULL), 0);
                free(note);
                big[fit - 1] = 'a';
                big[fit] = '\n';
                assert_int_equal(note_sign(big, fit + 1, &signer, &note, &len), GH_E_TOO_LARGE);
        }
}

/* Appends a signature line by another key to a signed note. */
static char *cosign(const char *note, size_t len, const struct signer *s, size_t *outlen) {
        size_t tlen = 0, l2;
        char *text, *n2, *out;

        assert_int_equal(note_verify(note, len, NULL, 0, false, &tlen, NULL), GH_E_NO_KEY);
        /* note_verify does not report tlen on failure; find the split ourselves. */
        for (tlen = len - 1; tlen > 0; tlen--)
                if (note[tlen] == '\n' && note[tlen - 1] == '\n')
                        break;
        text = strndup(note, tlen);
        assert_non_null(text);
        n2 = sign_text(text, s, &l2);
        out = malloc(len + (l2 - tlen - 1) + 1);
        assert_non_null(out);
        memcpy(out, note, len);
        memcpy(out + len, n2 + tlen + 1, l2 - tlen - 1);
        *outlen = len + l2 - tlen - 1;
        out[*outlen] = '\0';
        free(text);
        free(n2);
        return out;
}

static void test_unknown_and_bad(void **state) {
        size_t len, l2, which = 9;
        char *note = sign_text("checkpoint-ish\n1\n", &signer, &len);
        char *two = cosign(note, len, &other, &l2);
        struct note_verifier keys[2] = {vother, vkey};
        char *bad;

        (void)state;
        /* Unknown (other) signature ignored in non-strict mode, rejected in strict. */
        assert_int_equal(note_verify(two, l2, &vkey, 1, false, NULL, &which), 0);
        assert_int_equal(which, 0);
        assert_int_equal(note_verify(two, l2, &vkey, 1, true, NULL, NULL), GH_E_NO_KEY);
        assert_int_equal(note_verify(two, l2, keys, 2, true, NULL, &which), 0);
        assert_int_equal(which, 1);

        /* A known key's bad signature rejects the note even when another verifies. */
        bad = strdup(two);
        assert_non_null(bad);
        {
                /* Flip a bit in the signature bytes of the second line (the other key's). */
                char *line2 = strchr(bad + len + 4, ' ') + 1;
                line2[20] = line2[20] == 'A' ? 'B' : 'A';
        }
        assert_int_equal(note_verify(bad, l2, keys, 2, false, NULL, NULL), GH_E_BAD_SIGNATURE);
        assert_int_equal(note_verify(bad, l2, &vkey, 1, false, NULL, NULL),
                         0); /* unknown: ignored */
        free(bad);

        /* A signature line with a known name but another key id is unknown. */
        {
                struct note_verifier w = vkey;

                w.key_id ^= 1;
                assert_int_equal(note_verify(note, len, &w, 1, false, NULL, NULL), GH_E_NO_KEY);
                /* Same name and id but a different public key: bad signature. */
                w = vkey;
                w.pk[0] ^= 1;
                assert_int_equal(note_verify(note, len, &w, 1, false, NULL, NULL),
                                 GH_E_BAD_SIGNATURE);
        }
        /* Known key with a signature of the wrong length. */
        {
                char buf[512];
                uint8_t raw[4 + 63];
                char b64[128];

                raw[0] = (uint8_t)(vkey.key_id >> 24);
                raw[1] = (uint8_t)(vkey.key_id >> 16);
                raw[2] = (uint8_t)(vkey.key_id >> 8);
                raw[3] = (uint8_t)vkey.key_id;
                memset(raw + 4, 7, 63);
                sodium_bin2base64(b64, sizeof(b64), raw, sizeof(raw),
                                  sodium_base64_VARIANT_ORIGINAL);
                join(buf, sizeof(buf), "x\n\n\xe2\x80\x94 " ORIGIN " ", b64, "\n",
                     (const char *)NULL);
                assert_int_equal(note_verify(buf, strlen(buf), &vkey, 1, false, NULL, NULL),
                                 GH_E_BAD_SIGNATURE);
                /* Unknown key with a short (5-byte) signature: ignored; 4 bytes: malformed. */
                join(buf, sizeof(buf), note, "\xe2\x80\x94 someone AAAAAAA=\n", (const char *)NULL);
                assert_int_equal(note_verify(buf, strlen(buf), &vkey, 1, false, NULL, NULL), 0);
                join(buf, sizeof(buf), note, "\xe2\x80\x94 someone AAAAAA==\n", (const char *)NULL);
                assert_int_equal(note_verify(buf, strlen(buf), &vkey, 1, false, NULL, NULL),
                                 GH_E_MALFORMED);
        }
        free(two);
        free(note);
}

static void test_syntax(void **state) {
        size_t len;
        char *note = sign_text("a\n", &signer, &len);
        char buf[1024];
        const char *sig = strstr(note, "\xe2\x80\x94");

        (void)state;
        assert_non_null(sig);
        char *sig_nonl = strdup(sig);

        assert_non_null(sig_nonl);
        sig_nonl[strlen(sig_nonl) - 1] = '\0';
#define REJECT(...)                                                                                \
        do {                                                                                       \
                size_t n_ = join(buf, sizeof(buf), __VA_ARGS__, (const char *)NULL);               \
                assert_int_equal(note_verify(buf, n_, &vkey, 1, false, NULL, NULL),                \
                                 GH_E_MALFORMED);                                                  \
        } while (0)
        REJECT("a\n", sig);                      /* no blank line */
        REJECT("a\n\n", sig_nonl);               /* no final newline */
        REJECT("a\n\n", sig, "\n");              /* empty line after the signatures */
        REJECT("a\n\n-", sig + 3);               /* ASCII dash */
        REJECT("a\n\n\xe2\x80\x94", sig + 4);    /* no space after the dash */
        REJECT("a\r\n\n", sig);                  /* CR in text */
        REJECT("a\x01\n\n", sig);                /* control char */
        REJECT("a\x7f\n\n", sig);                /* DEL */
        REJECT("a\xff\n\n", sig);                /* invalid UTF-8 */
        REJECT("a\n\n", sig, "\xe2\x80\x94 \n"); /* empty signature line */
        REJECT("a\n\n", sig, "\xe2\x80\x94 x\n");
        REJECT("a\n\n", sig, "\xe2\x80\x94 x AAAAAAA\n");  /* unpadded */
        REJECT("a\n\n", sig, "\xe2\x80\x94 x AAAAAAB=\n"); /* non-canonical bits */
        REJECT("a\n\n", sig, "\xe2\x80\x94 x  AAAAAAA=\n");
        REJECT("a\n\n", sig, "\xe2\x80\x94 x+y AAAAAAA=\n");
        REJECT("a\n\n", sig, "\xe2\x80\x94 x AAAA AAA=\n");
        REJECT("a\n\n", sig, "\xe2\x80\x94 x AAAAAAA=\r\n");
        REJECT("");
        REJECT("\n\n");
        free(sig_nonl);
#undef REJECT
        /* A text with a blank line inside is a valid note text (split at the last blank line). */
        free(note);
        note = sign_text("a\n\nb\n", &signer, &len);
        {
                size_t tlen = 0;

                assert_int_equal(note_verify(note, len, &vkey, 1, false, &tlen, NULL), 0);
                assert_int_equal(tlen, 5);
        }
        free(note);
}

/* note_split and note_sig_next: the split every verifier and reader shares. */
static void test_split_and_sig_lines(void **state) {
        static const char n2[] = "a\nb\n\n\xe2\x80\x94 k1 AAAAAAA=\n\xe2\x80\x94 k2 AQIDBAU=\n";
        struct note_sigs it;
        struct note_sig sl;
        size_t tl = 0, off = 0;
        bool done = true;
        char buf[4096];
        size_t n = 0;

        (void)state;
        assert_true(note_split(n2, strlen(n2), &tl, &off));
        assert_int_equal(tl, 4);
        assert_int_equal(off, 5);
        note_sigs_init(&it, n2, strlen(n2), off);
        assert_int_equal(note_sig_next(&it, &sl, &done), 0);
        assert_false(done);
        assert_int_equal(sl.name_len, 2);
        assert_memory_equal(sl.name, "k1", 2);
        assert_int_equal(sl.key_id, 0);
        assert_int_equal(sl.sig_len, 5);
        assert_int_equal(note_sig_next(&it, &sl, &done), 0);
        assert_false(done);
        assert_memory_equal(sl.name, "k2", 2);
        assert_int_equal(sl.key_id, 0x01020304u);
        assert_int_equal(note_sig_next(&it, &sl, &done), 0);
        assert_true(done);
        /* note_keep_sigs: the text, the blank line and k2's line only. */
        assert_int_equal(note_keep_sigs(n2, strlen(n2), "k2", 2, buf, sizeof(buf), &n), 0);
        assert_int_equal(n, strlen("a\nb\n\n\xe2\x80\x94 k2 AQIDBAU=\n"));
        assert_memory_equal(buf, "a\nb\n\n\xe2\x80\x94 k2 AQIDBAU=\n", n);
        assert_int_equal(note_keep_sigs(n2, strlen(n2), "k", 1, buf, sizeof(buf), &n), 0);
        assert_int_equal(n, 5);
        assert_int_equal(note_keep_sigs(n2, strlen(n2), "k1", 2, buf, 4, &n), GH_E_TOO_LARGE);
        /* The split is at the last blank line; none, or nothing after it: no split. */
        assert_true(note_split("a\n\nb\n\nc\n", 8, &tl, &off));
        assert_int_equal(tl, 5);
        assert_false(note_split("a\nb\n", 4, &tl, &off));
        assert_false(note_split("a\n\n", 3, &tl, &off));
        /* Line NOTE_MAX_SIGS + 1 is too many, even if well-formed. */
        n = (size_t)snprintf(buf, sizeof(buf), "a\n\n");
        for (unsigned i = 0; i <= NOTE_MAX_SIGS; i++)
                n += (size_t)snprintf(buf + n, sizeof(buf) - n, "\xe2\x80\x94 k AAAAAAA=\n");
        note_sigs_init(&it, buf, n, 3);
        for (unsigned i = 0; i < NOTE_MAX_SIGS; i++)
                assert_int_equal(note_sig_next(&it, &sl, &done), 0);
        assert_int_equal(note_sig_next(&it, &sl, &done), GH_E_TOO_LARGE);
        /* A 4-byte signature, a bad name, no space: malformed. */
        static const char *bad[] = {"a\n\n\xe2\x80\x94 k AAAAAA==\n",
                                    "a\n\n\xe2\x80\x94 k+1 AAAAAAA=\n",
                                    "a\n\n\xe2\x80\x94 kAAAAAAA=\n", "a\n\n- k AAAAAAA=\n"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                note_sigs_init(&it, bad[i], strlen(bad[i]), 3);
                assert_int_equal(note_sig_next(&it, &sl, &done), GH_E_MALFORMED);
        }
}

static void test_caps(void **state) {
        size_t len, nl;
        char *note = sign_text("capped\n", &signer, &len);
        static char buf[NOTE_MAX_SIZE + 512];
        const char *unknown = "\xe2\x80\x94 someone AAAAAAA=\n";

        (void)state;
        /* 32 signature lines pass, 33 fail. */
        memcpy(buf, note, len);
        nl = len;
        for (unsigned i = 1; i < NOTE_MAX_SIGS; i++) {
                memcpy(buf + nl, unknown, strlen(unknown));
                nl += strlen(unknown);
        }
        assert_int_equal(note_verify(buf, nl, &vkey, 1, false, NULL, NULL), 0);
        memcpy(buf + nl, unknown, strlen(unknown));
        nl += strlen(unknown);
        assert_int_equal(note_verify(buf, nl, &vkey, 1, false, NULL, NULL), GH_E_TOO_LARGE);

        /* 8192 bytes pass, 8193 fail: pad an unknown signature line. */
        memcpy(buf, note, len);
        nl = len;
        {
                size_t room = NOTE_MAX_SIZE - len - strlen("\xe2\x80\x94 x \n");
                size_t b64len = room / 4 * 4;
                size_t namelen = room - b64len + 1;

                memcpy(buf + nl, "\xe2\x80\x94 ", 4);
                nl += 4;
                memset(buf + nl, 'x', namelen);
                nl += namelen;
                buf[nl++] = ' ';
                memset(buf + nl, 'A', b64len);
                nl += b64len;
                buf[nl++] = '\n';
                assert_int_equal(nl, NOTE_MAX_SIZE);
                assert_int_equal(note_verify(buf, nl, &vkey, 1, false, NULL, NULL), 0);
                /* One more byte in the name: 8193 bytes. */
                memmove(buf + len + 5, buf + len + 4, nl - len - 4);
                buf[len + 4] = 'x';
                nl++;
                assert_int_equal(note_verify(buf, nl, &vkey, 1, false, NULL, NULL), GH_E_TOO_LARGE);
        }
        free(note);
}

/* Every truncation and every single-bit flip of a signed checkpoint fails. */
static void test_tamper_checkpoint(void **state) {
        size_t len;
        char *note = signed_checkpoint(&len);
        char *buf = malloc(len);

        (void)state;
        assert_non_null(buf);
        assert_int_equal(note_verify(note, len, &vkey, 1, true, NULL, NULL), 0);
        for (size_t t = 0; t < len; t++)
                assert_int_not_equal(note_verify(note, t, &vkey, 1, false, NULL, NULL), 0);
        for (size_t i = 0; i < len; i++) {
                for (int bit = 0; bit < 8; bit++) {
                        memcpy(buf, note, len);
                        buf[i] ^= (char)(1 << bit);
                        assert_int_not_equal(note_verify(buf, len, &vkey, 1, false, NULL, NULL), 0);
                }
        }
        free(buf);
        free(note);
}

/* --- checkpoints --- */

static void test_checkpoint_vector(void **state) {
        size_t len, flen, tlen = 0;
        char *note = signed_checkpoint(&len);
        char *file = read_vector("note-checkpoint.txt", &flen);
        struct checkpoint c;
        merkle_hash root;

        (void)state;
        assert_int_equal(flen, len);
        assert_memory_equal(file, note, len);
        assert_int_equal(note_verify(file, flen, &vkey, 1, true, &tlen, NULL), 0);
        assert_int_equal(checkpoint_parse(file, tlen, &c), 0);
        assert_string_equal(c.origin, ORIGIN);
        assert_int_equal(c.size, VEC_LEAVES);
        vector_root(root);
        assert_memory_equal(c.root, root, 32);
        free(file);
        free(note);
}

static void test_checkpoint_parse(void **state) {
        struct checkpoint c, back;
        char text[CHECKPOINT_TEXT_MAX + 1];
        size_t len;

        (void)state;
        memset(&c, 0, sizeof(c));
        strcpy(c.origin, "o");
        memset(c.root, 0xab, 32);
        static const uint64_t sizes[] = {0, 1, 9, 10, 1100, (UINT64_C(1) << 63) - 1};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
                c.size = sizes[i];
                assert_int_equal(checkpoint_format(&c, text, sizeof(text), &len), 0);
                assert_int_equal(len, strlen(text));
                assert_int_equal(checkpoint_parse(text, len, &back), 0);
                assert_memory_equal(&back, &c, sizeof(c));
        }
        c.size = UINT64_C(1) << 63;
        assert_int_equal(checkpoint_format(&c, text, sizeof(text), &len), GH_E_MALFORMED);
        c.size = 5;
        assert_int_equal(checkpoint_format(&c, text, sizeof(text), &len), 0);
        assert_int_equal(len, 2 + 2 + 45);
        assert_int_equal(checkpoint_format(&c, text, len, &len), GH_E_TOO_LARGE);
        assert_int_equal(len, 2 + 2 + 45); /* untouched on failure */
        strcpy(c.origin, "gpuhours-attest/v1");
        assert_int_equal(checkpoint_format(&c, text, sizeof(text), &len), GH_E_MALFORMED);
        strcpy(c.origin, "has space");
        assert_int_equal(checkpoint_format(&c, text, sizeof(text), &len), GH_E_MALFORMED);

#define BAD(s) assert_int_equal(checkpoint_parse(s, strlen(s), &back), GH_E_MALFORMED)
#define ROOT "q6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s="
        assert_int_equal(checkpoint_parse("o\n5\n" ROOT "\n", 49, &back), 0);
        BAD("o\n05\n" ROOT "\n");
        BAD("o\n00\n" ROOT "\n");
        BAD("o\n+5\n" ROOT "\n");
        BAD("o\n-0\n" ROOT "\n");
        BAD("o\n5 \n" ROOT "\n");
        BAD("o\n\n" ROOT "\n");
        BAD("o\n9223372036854775808\n" ROOT "\n");
        BAD("o\n18446744073709551616\n" ROOT "\n");
        BAD("o\n5\n" ROOT);
        BAD("o\n5\n" ROOT "\next\n");
        BAD("o\n5\n" ROOT "\n\n");
        BAD("o\n5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6t=\n"); /* non-canonical */
        BAD("o\n5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s\n");
        BAD("o\n5\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6ur\n");
        BAD("o o\n5\n" ROOT "\n");
        BAD("\n5\n" ROOT "\n");
        BAD("gpuhours-attest/v1\n5\n" ROOT "\n");
        BAD("o\r\n5\n" ROOT "\n");
        BAD("");
        assert_int_equal(checkpoint_parse("o\n9223372036854775807\n" ROOT "\n",
                                          strlen("o\n9223372036854775807\n" ROOT "\n"), &back),
                         0);
        assert_int_equal(back.size, (UINT64_C(1) << 63) - 1);
#undef BAD
}

/* --- attest --- */

static void test_attest(void **state) {
        struct attest a, back;
        struct checkpoint c;
        char text[ATTEST_TEXT_MAX + 1];
        size_t len, flen, tlen = 0;
        char *note, *file;
        size_t tl;

        (void)state;
        memset(&a, 0, sizeof(a));
        strcpy(a.origin, ORIGIN);
        for (int i = 0; i < 32; i++)
                a.nonce[i] = (uint8_t)(0xa0 + i);
        a.time_ns = VEC_TIME;
        a.size = VEC_LEAVES;
        vector_root(a.root);
        assert_int_equal(attest_format(&a, text, sizeof(text), &tl), 0);
        assert_int_equal(tl, strlen(text));
        assert_int_equal(attest_parse(text, tl, &back), 0);
        assert_memory_equal(&back, &a, sizeof(a));
        /* Cross-parse fails both ways. */
        assert_int_equal(checkpoint_parse(text, tl, &c), GH_E_MALFORMED);
        note = signed_checkpoint(&len);
        assert_int_equal(note_verify(note, len, &vkey, 1, true, &tlen, NULL), 0);
        assert_int_equal(attest_parse(note, tlen, &back), GH_E_MALFORMED);
        free(note);

        /* Golden vector. */
        note = sign_text(text, &signer, &len);
        file = read_vector("note-attest.txt", &flen);
        assert_int_equal(flen, len);
        assert_memory_equal(file, note, len);
        free(file);
        free(note);

        /* Each truncation of the text fails; upper-case nonce and leading zeros fail. */
        for (size_t t = 0; t < tl; t++)
                assert_int_equal(attest_parse(text, t, &back), GH_E_MALFORMED);
        {
                char buf[ATTEST_TEXT_MAX + 1];
                char *p;

                memcpy(buf, text, tl);
                p = strstr(buf, "nonce ") + 6;
                p[0] = 'A';
                assert_int_equal(attest_parse(buf, tl, &back), GH_E_MALFORMED);
                memcpy(buf, text, tl);
                p = strstr(buf, "size ") + 5;
                p[0] = '0';
                assert_int_equal(attest_parse(buf, tl, &back), GH_E_MALFORMED);
                memcpy(buf, text, tl);
                p = strstr(buf, "time ");
                p[4] = '\t';
                assert_int_equal(attest_parse(buf, tl, &back), GH_E_MALFORMED);
                memcpy(buf, text, tl);
                buf[tl] = '\n';
                assert_int_equal(attest_parse(buf, tl + 1, &back), GH_E_MALFORMED);
        }
        /* The tag as origin is refused. */
        strcpy(a.origin, "gpuhours-attest/v1");
        assert_int_equal(attest_format(&a, text, sizeof(text), &tl), GH_E_MALFORMED);
        strcpy(a.origin, ORIGIN);
        a.time_ns = UINT64_MAX;
        assert_int_equal(attest_format(&a, text, sizeof(text), &tl), 0);
        assert_int_equal(attest_parse(text, tl, &back), 0);
        assert_int_equal(back.time_ns, UINT64_MAX);
        assert_int_equal(attest_format(&a, text, tl, &tl), GH_E_TOO_LARGE);
}

static void test_nonce(void **state) {
        uint8_t n[32], want[32];
        char hex[65];

        (void)state;
        for (int i = 0; i < 32; i++)
                want[i] = (uint8_t)(i * 7 + 3);
        sodium_bin2hex(hex, sizeof(hex), want, 32);
        assert_true(nonce_parse_hex(hex, 64, n));
        assert_memory_equal(n, want, 32);
        for (int i = 0; i < 64; i++)
                if (hex[i] >= 'a')
                        hex[i] = (char)(hex[i] - 32);
        assert_true(nonce_parse_hex(hex, 64, n));
        assert_memory_equal(n, want, 32);
        memset(n, 0x55, sizeof(n));
        assert_false(nonce_parse_hex(hex, 63, n));
        assert_false(nonce_parse_hex(hex, 65, n));
        hex[10] = 'g';
        assert_false(nonce_parse_hex(hex, 64, n));
        hex[10] = ' ';
        assert_false(nonce_parse_hex(hex, 64, n));
        assert_int_equal(n[0], 0x55); /* untouched on failure */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_signer_init),
                cmocka_unit_test(test_go_vectors),
                cmocka_unit_test(test_vkey),
                cmocka_unit_test(test_sign_verify),
                cmocka_unit_test(test_unknown_and_bad),
                cmocka_unit_test(test_syntax),
                cmocka_unit_test(test_split_and_sig_lines),
                cmocka_unit_test(test_caps),
                cmocka_unit_test(test_tamper_checkpoint),
                cmocka_unit_test(test_checkpoint_vector),
                cmocka_unit_test(test_checkpoint_parse),
                cmocka_unit_test(test_attest),
                cmocka_unit_test(test_nonce),
        };
        return cmocka_run_group_tests(tests, setup, teardown);
}
