/* SPDX-License-Identifier: MIT */
/*
 * C2SP signed notes (Ed25519), verifier keys, tlog checkpoints and the
 * gpuhours attest note. The reference is Go's golang.org/x/mod/sumdb/note.
 */
#include "note.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "text.h"

#define ALG_ED25519 0x01
#define SIG_LEN 64
#define B64_HASH_LEN 44   /* base64 of 32 bytes */
#define B64_VKEY_LEN 44   /* base64 of 0x01 || 32-byte key */
#define B64_SIG_LEN 92    /* base64 of 4-byte key id || 64-byte signature */
#define SIG_DECODED_MIN 5 /* key id and at least one byte (as Go's note.Open) */
#define ATTEST_TAG "gpuhours-attest/v1"
#define SIZE_MAX_VALUE ((UINT64_C(1) << 63) - 1)

/* --- UTF-8 and names --- */

/*
 * Decodes one UTF-8 code point at s[0..len) (len >= 1). Returns its length
 * (1..4) and sets *cp, or 0 if the bytes are not well-formed UTF-8
 * (overlong forms, surrogates and values above U+10FFFF are rejected).
 */
static size_t utf8_decode(const uint8_t *s, size_t len, uint32_t *cp) {
        uint32_t c = s[0], min;
        size_t n;

        if (c < 0x80) {
                *cp = c;
                return 1;
        }
        if (c >= 0xc2 && c <= 0xdf) {
                n = 2;
                c &= 0x1f;
                min = 0x80;
        } else if (c >= 0xe0 && c <= 0xef) {
                n = 3;
                c &= 0x0f;
                min = 0x800;
        } else if (c >= 0xf0 && c <= 0xf4) {
                n = 4;
                c &= 0x07;
                min = 0x10000;
        } else {
                return 0;
        }
        if (len < n)
                return 0;
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                c = (c << 6) | (s[i] & 0x3fu);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
                return 0;
        *cp = c;
        return n;
}

/* Control characters: C0, DEL and C1. */
static bool is_control(uint32_t c) {
        return c < 0x20 || (c >= 0x7f && c <= 0x9f);
}

/* Unicode White_Space (what Go's unicode.IsSpace reports). */
static bool is_space(uint32_t c) {
        return (c >= 0x09 && c <= 0x0d) || c == 0x20 || c == 0x85 || c == 0xa0 || c == 0x1680 ||
               (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f ||
               c == 0x205f || c == 0x3000;
}

bool note_name_valid(const char *name, size_t len) {
        const uint8_t *s = (const uint8_t *)name;

        if (name == NULL || len == 0 || len > NOTE_NAME_MAX)
                return false;
        for (size_t i = 0; i < len;) {
                uint32_t c;
                size_t n = utf8_decode(s + i, len - i, &c);

                if (n == 0 || c == '+' || is_space(c) || is_control(c))
                        return false;
                i += n;
        }
        return true;
}

/* Whole-note syntax: well-formed UTF-8, no control characters but '\n'. */
static bool note_chars_valid(const uint8_t *s, size_t len) {
        for (size_t i = 0; i < len;) {
                uint32_t c;
                size_t n = utf8_decode(s + i, len - i, &c);

                if (n == 0 || (c != '\n' && (c < 0x20 || c == 0x7f)))
                        return false;
                i += n;
        }
        return true;
}

uint32_t note_key_id(const char *name, const uint8_t pk[32]) {
        return signer_key_id(name, ALG_ED25519, pk);
}

/* --- base64: libsodium ORIGINAL variant, canonical only --- */

/* Standard base64 alphabet, without '='. */
static bool b64_char(char c) {
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
               c == '+' || c == '/';
}

/*
 * Decodes s[0..len) into out (at most cap bytes). Only canonical padded
 * standard base64 passes. The alphabet is checked here because libsodium
 * 1.0.18 compares sign-extended chars and so also takes some bytes >= 0x80
 * (0xaf decodes as '/'); libsodium then rejects missing or extra padding
 * and non-zero bits after the last byte.
 */
static bool b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen) {
        size_t binlen = 0, data = len;

        if (len == 0 || len % 4 != 0)
                return false;
        if (s[data - 1] == '=')
                data--;
        if (s[data - 1] == '=')
                data--;
        for (size_t i = 0; i < data; i++)
                if (!b64_char(s[i]))
                        return false;
        if (sodium_base642bin(out, cap, s, len, NULL, &binlen, NULL,
                              sodium_base64_VARIANT_ORIGINAL) != 0)
                return false;
        if (sodium_base64_ENCODED_LEN(binlen, sodium_base64_VARIANT_ORIGINAL) != len + 1)
                return false;
        *outlen = binlen;
        return true;
}

/* Exactly 44 base64 characters decoding canonically to 32 bytes. */
static bool hash_decode(const char *s, size_t len, uint8_t out[32]) {
        uint8_t tmp[33];
        size_t n = 0;

        if (len != B64_HASH_LEN || !b64_decode(s, len, tmp, sizeof(tmp), &n) || n != 32)
                return false;
        memcpy(out, tmp, 32);
        return true;
}

/* --- keys --- */

void signer_verifier(const struct signer *s, struct note_verifier *out) {
        memset(out, 0, sizeof(*out));
        memcpy(out->name, s->name, sizeof(out->name));
        out->key_id = s->key_id;
        memcpy(out->pk, s->pk, sizeof(out->pk));
}

int vkey_parse(const char *s, size_t len, struct note_verifier *out) {
        struct note_verifier v;
        const char *plus;
        size_t name_len, n = 0;
        uint8_t key[33 + 1];
        uint32_t id = 0;

        if (s == NULL || len > VKEY_MAX_LEN)
                return GH_E_MALFORMED;
        plus = memchr(s, '+', len);
        if (plus == NULL)
                return GH_E_MALFORMED;
        name_len = (size_t)(plus - s);
        /* name '+' 8 hex '+' 44 base64: exact length. */
        if (len != name_len + 1 + 8 + 1 + B64_VKEY_LEN || s[name_len + 9] != '+' ||
            !note_name_valid(s, name_len))
                return GH_E_MALFORMED;
        for (size_t i = 0; i < 8; i++) {
                int d = hex_digit_value(s[name_len + 1 + i]);

                if (d < 0)
                        return GH_E_MALFORMED;
                id = id << 4 | (uint32_t)d;
        }
        if (!b64_decode(s + name_len + 10, B64_VKEY_LEN, key, sizeof(key), &n) || n != 33 ||
            key[0] != ALG_ED25519)
                return GH_E_MALFORMED;
        memset(&v, 0, sizeof(v));
        memcpy(v.name, s, name_len);
        memcpy(v.pk, key + 1, 32);
        v.key_id = note_key_id(v.name, v.pk);
        if (v.key_id != id)
                return GH_E_MALFORMED;
        *out = v;
        return 0;
}

int vkey_format(const struct note_verifier *v, char *out, size_t cap, size_t *ret_len) {
        static const char hex[] = "0123456789abcdef";
        size_t name_len = strnlen(v->name, sizeof(v->name));
        size_t len = name_len + 1 + 8 + 1 + B64_VKEY_LEN;
        uint8_t key[33];
        char *p = out;

        if (!note_name_valid(v->name, name_len))
                return GH_E_MALFORMED;
        if (cap < len + 1)
                return GH_E_TOO_LARGE;
        memcpy(p, v->name, name_len);
        p += name_len;
        *p++ = '+';
        for (int i = 7; i >= 0; i--)
                *p++ = hex[(v->key_id >> (4 * i)) & 0xf];
        *p++ = '+';
        key[0] = ALG_ED25519;
        memcpy(key + 1, v->pk, 32);
        sodium_bin2base64(p, B64_VKEY_LEN + 1, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
        *ret_len = len;
        return 0;
}

/* --- notes --- */

/* Finds the start of the last "\n\n" in s[0..len), or returns false. */
static bool find_split(const char *s, size_t len, size_t *at) {
        if (len < 2)
                return false;
        for (size_t i = len - 1; i > 0; i--) {
                if (s[i] == '\n' && s[i - 1] == '\n') {
                        *at = i - 1;
                        return true;
                }
        }
        return false;
}

int note_verify(const char *note, size_t len, const struct note_verifier *keys, size_t nkeys,
                bool strict, size_t *text_len, size_t *which) {
        struct note_sigs it;
        struct note_sig sl;
        bool done;
        size_t tlen, off, first = 0;
        bool verified = false;
        int r;

        if (note == NULL)
                return GH_E_MALFORMED;
        if (len > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        /* The text keeps its final '\n'; the blank line is not signed. */
        if (!note_split(note, len, &tlen, &off))
                return GH_E_MALFORMED;

        note_sigs_init(&it, note, len, off);
        while ((r = note_sig_next(&it, &sl, &done)) == 0 && !done) {
                bool known = false;

                for (size_t k = 0; k < nkeys; k++) {
                        size_t kl = strnlen(keys[k].name, sizeof(keys[k].name));

                        if (kl != sl.name_len || memcmp(keys[k].name, sl.name, kl) != 0 ||
                            keys[k].key_id != sl.key_id)
                                continue;
                        /* A known key's signature must verify (every such line is checked). */
                        known = true;
                        if (sl.sig_len != 4 + SIG_LEN ||
                            crypto_sign_verify_detached(sl.sig + 4, (const uint8_t *)note, tlen,
                                                        keys[k].pk) != 0)
                                return GH_E_BAD_SIGNATURE;
                        if (!verified) {
                                verified = true;
                                first = k;
                        }
                }
                if (!known && strict)
                        return GH_E_NO_KEY;
        }
        if (r != 0)
                return r;
        if (!verified)
                return GH_E_NO_KEY;
        if (text_len != NULL)
                *text_len = tlen;
        if (which != NULL)
                *which = first;
        return 0;
}

int note_sign(const char *text, size_t len, const struct signer *s, char **out,
              size_t *outlen) {
        struct note_verifier v;
        uint8_t sig[4 + SIG_LEN];
        size_t name_len, total, tlen = 0;
        char *note, *p;
        int r;

        if (text == NULL || s == NULL || s->type != SIG_TYPE_ED25519 || len == 0 ||
            text[len - 1] != '\n')
                return GH_E_MALFORMED;
        name_len = strnlen(s->name, sizeof(s->name));
        if (!note_name_valid(s->name, name_len))
                return GH_E_MALFORMED;
        if (len > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        total = len + 1 + NOTE_SIG_PREFIX_LEN + name_len + 1 + B64_SIG_LEN + 1;
        if (total > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        note = malloc(total + 1);
        if (note == NULL)
                return -ENOMEM;

        sig[0] = (uint8_t)(s->key_id >> 24);
        sig[1] = (uint8_t)(s->key_id >> 16);
        sig[2] = (uint8_t)(s->key_id >> 8);
        sig[3] = (uint8_t)s->key_id;
        r = signer_sign(s, (const uint8_t *)text, len, sig + 4);
        if (r != 0) {
                free(note);
                return r;
        }

        p = note;
        memcpy(p, text, len);
        p += len;
        *p++ = '\n';
        memcpy(p, NOTE_SIG_PREFIX, NOTE_SIG_PREFIX_LEN);
        p += NOTE_SIG_PREFIX_LEN;
        memcpy(p, s->name, name_len);
        p += name_len;
        *p++ = ' ';
        sodium_bin2base64(p, B64_SIG_LEN + 1, sig, sizeof(sig), sodium_base64_VARIANT_ORIGINAL);
        p += B64_SIG_LEN;
        *p++ = '\n';
        *p = '\0';

        /* Re-verify what we signed; it must split back into exactly this text. */
        signer_verifier(s, &v);
        r = note_verify(note, total, &v, 1, true, &tlen, NULL);
        if (r == 0 && tlen != len)
                r = GH_E_MALFORMED;
        if (r != 0) {
                free(note);
                return r;
        }
        *out = note;
        *outlen = total;
        return 0;
}

/* --- numbers --- */

/* Writes v in decimal; returns the number of digits. buf holds >= 20. */
static size_t format_decimal(uint64_t v, char *buf) {
        char tmp[20];
        size_t n = 0;

        do {
                tmp[n++] = (char)('0' + v % 10);
                v /= 10;
        } while (v != 0);
        for (size_t i = 0; i < n; i++)
                buf[i] = tmp[n - 1 - i];
        return n;
}

/* Splits off the next line of text (without its '\n'); false if none is left. */
static bool next_line(const char **p, const char *end, const char **line, size_t *len) {
        const char *eol;

        if (*p >= end)
                return false;
        eol = memchr(*p, '\n', (size_t)(end - *p));
        if (eol == NULL)
                return false;
        *line = *p;
        *len = (size_t)(eol - *p);
        *p = eol + 1;
        return true;
}

/* A simple appender for texts of bounded size. */
struct text {
        char *p;
        size_t len, cap;
        bool over;
};

static void text_put(struct text *t, const char *s, size_t n) {
        if (t->over || t->cap - t->len < n) {
                t->over = true;
                return;
        }
        memcpy(t->p + t->len, s, n);
        t->len += n;
}

static void text_str(struct text *t, const char *s) {
        text_put(t, s, strlen(s));
}

static void text_u64(struct text *t, uint64_t v) {
        char buf[20];

        text_put(t, buf, format_decimal(v, buf));
}

static void text_hash(struct text *t, const uint8_t h[32]) {
        char b64[B64_HASH_LEN + 1];

        sodium_bin2base64(b64, sizeof(b64), h, 32, sodium_base64_VARIANT_ORIGINAL);
        text_put(t, b64, B64_HASH_LEN);
}

/* Finishes with a NUL; 0 and *ret_len = the length (NUL excluded), or GH_E_TOO_LARGE. */
static int text_finish(struct text *t, size_t *ret_len) {
        text_put(t, "", 1);
        if (t->over)
                return GH_E_TOO_LARGE;
        *ret_len = t->len - 1;
        return 0;
}

/* An origin: a valid key name that is not the attest tag. */
static bool origin_valid(const char *s, size_t len) {
        return note_name_valid(s, len) &&
               !(len == sizeof(ATTEST_TAG) - 1 && memcmp(s, ATTEST_TAG, len) == 0);
}

/* --- checkpoints --- */

int checkpoint_format(const struct checkpoint *c, char *out, size_t cap, size_t *ret_len) {
        size_t olen = strnlen(c->origin, sizeof(c->origin));
        struct text t = {out, 0, cap, false};

        if (!origin_valid(c->origin, olen) || c->size > SIZE_MAX_VALUE)
                return GH_E_MALFORMED;
        text_put(&t, c->origin, olen);
        text_str(&t, "\n");
        text_u64(&t, c->size);
        text_str(&t, "\n");
        text_hash(&t, c->root);
        text_str(&t, "\n");
        return text_finish(&t, ret_len);
}

int checkpoint_parse(const char *text, size_t len, struct checkpoint *out) {
        const char *p = text, *end, *l1, *l2, *l3;
        size_t n1, n2, n3;
        struct checkpoint c;

        if (text == NULL || len > CHECKPOINT_TEXT_MAX)
                return GH_E_MALFORMED;
        end = text + len;
        if (!next_line(&p, end, &l1, &n1) || !next_line(&p, end, &l2, &n2) ||
            !next_line(&p, end, &l3, &n3) || p != end)
                return GH_E_MALFORMED;
        memset(&c, 0, sizeof(c));
        if (!origin_valid(l1, n1) || !parse_u64_max(l2, n2, SIZE_MAX_VALUE, &c.size) ||
            !hash_decode(l3, n3, c.root))
                return GH_E_MALFORMED;
        memcpy(c.origin, l1, n1);
        *out = c;
        return 0;
}

bool note_b64_decode(const char *s, size_t len, uint8_t *out, size_t cap, size_t *outlen) {
        return s != NULL && b64_decode(s, len, out, cap, outlen);
}

bool note_split(const char *note, size_t len, size_t *text_len, size_t *sigs_off) {
        size_t split;

        if (note == NULL || len > NOTE_MAX_SIZE || !note_chars_valid((const uint8_t *)note, len) ||
            !find_split(note, len, &split) || split + 2 >= len || note[len - 1] != '\n')
                return false;
        *text_len = split + 1;
        *sigs_off = split + 2;
        return true;
}

void note_sigs_init(struct note_sigs *it, const char *note, size_t len, size_t sigs_off) {
        it->p = note + sigs_off;
        it->end = note + len;
        it->n = 0;
}

int note_sig_next(struct note_sigs *it, struct note_sig *out, bool *done) {
        const char *eol, *name, *sp;

        *done = it->p >= it->end;
        if (*done)
                return 0;
        if (++it->n > NOTE_MAX_SIGS)
                return GH_E_TOO_LARGE;
        eol = memchr(it->p, '\n', (size_t)(it->end - it->p));
        if (eol == NULL || (size_t)(eol - it->p) < NOTE_SIG_PREFIX_LEN ||
            memcmp(it->p, NOTE_SIG_PREFIX, NOTE_SIG_PREFIX_LEN) != 0)
                return GH_E_MALFORMED;
        name = it->p + NOTE_SIG_PREFIX_LEN;
        sp = memchr(name, ' ', (size_t)(eol - name));
        if (sp == NULL)
                return GH_E_MALFORMED;
        out->name = name;
        out->name_len = (size_t)(sp - name);
        out->sig_len = 0;
        if (!note_name_valid(name, out->name_len) ||
            !b64_decode(sp + 1, (size_t)(eol - sp - 1), out->sig, sizeof(out->sig),
                        &out->sig_len) ||
            out->sig_len < SIG_DECODED_MIN)
                return GH_E_MALFORMED;
        out->key_id = (uint32_t)out->sig[0] << 24 | (uint32_t)out->sig[1] << 16 |
                      (uint32_t)out->sig[2] << 8 | out->sig[3];
        it->p = eol + 1;
        return 0;
}

int note_keep_sigs(const char *note, size_t len, const char *name, size_t name_len, char *out,
                   size_t cap, size_t *out_len) {
        size_t tlen, off, o;
        struct note_sigs it;
        struct note_sig sl;
        const char *line;
        bool done;
        int r;

        if (!note_split(note, len, &tlen, &off))
                return GH_E_MALFORMED;
        if (cap < len)
                return GH_E_TOO_LARGE;
        memcpy(out, note, off);
        o = off;
        note_sigs_init(&it, note, len, off);
        line = it.p;
        while ((r = note_sig_next(&it, &sl, &done)) == 0 && !done) {
                if (sl.name_len == name_len && memcmp(sl.name, name, name_len) == 0) {
                        memcpy(out + o, line, (size_t)(it.p - line));
                        o += (size_t)(it.p - line);
                }
                line = it.p;
        }
        if (r != 0)
                return r;
        *out_len = o;
        return 0;
}

/* --- attest note --- */

int attest_format(const struct attest *a, char *out, size_t cap, size_t *ret_len) {
        static const char hex[] = "0123456789abcdef";
        size_t olen = strnlen(a->origin, sizeof(a->origin));
        struct text t = {out, 0, cap, false};
        char nonce[64];

        if (!origin_valid(a->origin, olen) || a->size > SIZE_MAX_VALUE)
                return GH_E_MALFORMED;
        for (size_t i = 0; i < 32; i++) {
                nonce[2 * i] = hex[a->nonce[i] >> 4];
                nonce[2 * i + 1] = hex[a->nonce[i] & 0xf];
        }
        text_str(&t, ATTEST_TAG "\norigin ");
        text_put(&t, a->origin, olen);
        text_str(&t, "\nnonce ");
        text_put(&t, nonce, sizeof(nonce));
        text_str(&t, "\ntime ");
        text_u64(&t, a->time_ns);
        text_str(&t, "\nsize ");
        text_u64(&t, a->size);
        text_str(&t, "\nroot ");
        text_hash(&t, a->root);
        text_str(&t, "\n");
        return text_finish(&t, ret_len);
}

/* Line "<key> <value>": returns the value part, or false. */
static bool keyed_line(const char **p, const char *end, const char *key, const char **val,
                       size_t *vlen) {
        size_t klen = strlen(key), n;
        const char *line;

        if (!next_line(p, end, &line, &n) || n < klen + 1 || memcmp(line, key, klen) != 0 ||
            line[klen] != ' ')
                return false;
        *val = line + klen + 1;
        *vlen = n - klen - 1;
        return true;
}

int attest_parse(const char *text, size_t len, struct attest *out) {
        const char *p = text, *end, *line, *v;
        size_t n;
        struct attest a;

        if (text == NULL || len > ATTEST_TEXT_MAX)
                return GH_E_MALFORMED;
        end = text + len;
        memset(&a, 0, sizeof(a));
        if (!next_line(&p, end, &line, &n) || n != sizeof(ATTEST_TAG) - 1 ||
            memcmp(line, ATTEST_TAG, n) != 0)
                return GH_E_MALFORMED;
        if (!keyed_line(&p, end, "origin", &v, &n) || !origin_valid(v, n))
                return GH_E_MALFORMED;
        memcpy(a.origin, v, n);
        /* The nonce is lowercase here so that the text has one form only. */
        if (!keyed_line(&p, end, "nonce", &v, &n) || n != 64 || !nonce_parse_hex(v, n, a.nonce))
                return GH_E_MALFORMED;
        for (size_t i = 0; i < n; i++)
                if (v[i] >= 'A' && v[i] <= 'F')
                        return GH_E_MALFORMED;
        if (!keyed_line(&p, end, "time", &v, &n) || !parse_u64_max(v, n, UINT64_MAX, &a.time_ns))
                return GH_E_MALFORMED;
        if (!keyed_line(&p, end, "size", &v, &n) || !parse_u64_max(v, n, SIZE_MAX_VALUE, &a.size))
                return GH_E_MALFORMED;
        if (!keyed_line(&p, end, "root", &v, &n) || !hash_decode(v, n, a.root) || p != end)
                return GH_E_MALFORMED;
        *out = a;
        return 0;
}

bool nonce_parse_hex(const char *s, size_t len, uint8_t out[32]) {
        uint8_t tmp[32];

        if (s == NULL || len != 64)
                return false;
        for (size_t i = 0; i < 32; i++) {
                int hi = hex_digit_value(s[2 * i]), lo = hex_digit_value(s[2 * i + 1]);

                if (hi < 0 || lo < 0)
                        return false;
                tmp[i] = (uint8_t)(hi << 4 | lo);
        }
        memcpy(out, tmp, 32);
        return true;
}
