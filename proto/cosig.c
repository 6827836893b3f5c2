/* SPDX-License-Identifier: MIT */
/* C2SP tlog-cosignature (cosignature/v1, Ed25519) and the tlog-witness request body. */
#include "cosig.h"

#include <errno.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "status.h"
#include "text.h"

#define COSIG_PAYLOAD 76     /* key id 4 || time 8 || signature 64 */
#define COSIG_B64_LEN 104    /* base64 of 76 bytes */
#define VKEY_B64_LEN 44      /* base64 of 0x04 || 32 bytes */
#define MSG_HEADER "cosignature/v1\ntime "

static size_t put_decimal(uint64_t v, char *buf) {
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

static int hexval(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        return -1; /* vkeys are written in lowercase hex */
}

int cosig_vkey_parse(const char *s, size_t len, struct note_verifier *out) {
        struct note_verifier v;
        const char *plus;
        size_t name_len, n = 0;
        uint8_t key[34];
        uint32_t id = 0;

        if (s == NULL || len > VKEY_MAX_LEN)
                return GH_E_MALFORMED;
        plus = memchr(s, '+', len);
        if (plus == NULL)
                return GH_E_MALFORMED;
        name_len = (size_t)(plus - s);
        if (len != name_len + 1 + 8 + 1 + VKEY_B64_LEN || s[name_len + 9] != '+' ||
            !note_name_valid(s, name_len))
                return GH_E_MALFORMED;
        for (size_t i = 0; i < 8; i++) {
                int d = hexval(s[name_len + 1 + i]);

                if (d < 0)
                        return GH_E_MALFORMED;
                id = id << 4 | (uint32_t)d;
        }
        if (!note_b64_decode(s + name_len + 10, VKEY_B64_LEN, key, sizeof(key), &n) || n != 33 ||
            key[0] != SIG_TYPE_COSIGNATURE)
                return GH_E_MALFORMED;
        memset(&v, 0, sizeof(v));
        memcpy(v.name, s, name_len);
        memcpy(v.pk, key + 1, 32);
        v.key_id = signer_key_id(v.name, SIG_TYPE_COSIGNATURE, v.pk);
        if (v.key_id != id)
                return GH_E_MALFORMED;
        *out = v;
        return 0;
}

int cosig_vkey_format(const struct note_verifier *v, char *out, size_t cap, size_t *len) {
        static const char hex[] = "0123456789abcdef";
        size_t name_len = strnlen(v->name, sizeof(v->name));
        size_t total = name_len + 1 + 8 + 1 + VKEY_B64_LEN;
        uint8_t key[33];
        char *p = out;

        if (!note_name_valid(v->name, name_len))
                return GH_E_MALFORMED;
        if (cap < total + 1)
                return GH_E_TOO_LARGE;
        memcpy(p, v->name, name_len);
        p += name_len;
        *p++ = '+';
        for (int i = 7; i >= 0; i--)
                *p++ = hex[(v->key_id >> (4 * i)) & 0xf];
        *p++ = '+';
        key[0] = SIG_TYPE_COSIGNATURE;
        memcpy(key + 1, v->pk, 32);
        sodium_bin2base64(p, VKEY_B64_LEN + 1, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
        *len = total;
        return 0;
}

int cosig_message(const char *text, size_t tlen, uint64_t t, uint8_t *out, size_t cap,
                  size_t *len) {
        char num[20];
        size_t nd, hl = sizeof(MSG_HEADER) - 1, total;

        if (text == NULL || tlen == 0 || text[tlen - 1] != '\n' || t > COSIG_TIME_MAX)
                return GH_E_MALFORMED;
        nd = put_decimal(t, num);
        total = hl + nd + 1 + tlen;
        if (total > cap)
                return GH_E_TOO_LARGE;
        memcpy(out, MSG_HEADER, hl);
        memcpy(out + hl, num, nd);
        out[hl + nd] = '\n';
        memcpy(out + hl + nd + 1, text, tlen);
        *len = total;
        return 0;
}

int cosig_sign(const struct signer *s, const char *text, size_t tlen, uint64_t t, char *out,
               size_t cap, size_t *len) {
        uint8_t msg[COSIG_MSG_MAX], payload[COSIG_PAYLOAD];
        struct checkpoint cp;
        size_t mlen = 0, name_len, total;
        int rc;

        if (s == NULL || s->type != SIG_TYPE_COSIGNATURE || t == 0 || t > COSIG_TIME_MAX)
                return GH_E_MALFORMED;
        if ((rc = checkpoint_parse(text, tlen, &cp)) != 0)
                return rc;
        if ((rc = cosig_message(text, tlen, t, msg, sizeof(msg), &mlen)) != 0)
                return rc;
        name_len = strnlen(s->name, sizeof(s->name));
        total = NOTE_SIG_PREFIX_LEN + name_len + 1 + COSIG_B64_LEN + 1;
        if (cap < total + 1)
                return GH_E_TOO_LARGE;
        for (int i = 0; i < 4; i++)
                payload[i] = (uint8_t)(s->key_id >> (24 - 8 * i));
        for (int i = 0; i < 8; i++)
                payload[4 + i] = (uint8_t)(t >> (56 - 8 * i));
        if ((rc = signer_sign(s, msg, mlen, payload + 12)) != 0)
                return rc;
        memcpy(out, NOTE_SIG_PREFIX, NOTE_SIG_PREFIX_LEN);
        memcpy(out + NOTE_SIG_PREFIX_LEN, s->name, name_len);
        out[NOTE_SIG_PREFIX_LEN + name_len] = ' ';
        sodium_bin2base64(out + NOTE_SIG_PREFIX_LEN + name_len + 1, COSIG_B64_LEN + 1, payload,
                          sizeof(payload), sodium_base64_VARIANT_ORIGINAL);
        out[total - 1] = '\n';
        out[total] = '\0';
        *len = total;
        return 0;
}

int cosig_verify(const char *note, size_t len, const struct note_verifier *keys, size_t nkeys,
                 uint64_t *times) {
        struct note_sigs it;
        struct note_sig sl;
        bool done;
        size_t tlen, off;
        int r;

        for (size_t k = 0; k < nkeys; k++)
                times[k] = 0;
        if (note == NULL)
                return GH_E_MALFORMED;
        if (len > NOTE_MAX_SIZE)
                return GH_E_TOO_LARGE;
        if (!note_split(note, len, &tlen, &off))
                return GH_E_MALFORMED;
        note_sigs_init(&it, note, len, off);
        while ((r = note_sig_next(&it, &sl, &done)) == 0 && !done) {
                for (size_t k = 0; k < nkeys; k++) {
                        uint8_t msg[COSIG_MSG_MAX];
                        size_t kl = strnlen(keys[k].name, sizeof(keys[k].name)), mlen = 0;
                        uint64_t t = 0;

                        if (kl != sl.name_len || memcmp(keys[k].name, sl.name, kl) != 0 ||
                            keys[k].key_id != sl.key_id)
                                continue;
                        if (sl.sig_len != COSIG_PAYLOAD)
                                return GH_E_BAD_SIGNATURE;
                        for (int i = 0; i < 8; i++)
                                t = t << 8 | sl.sig[4 + i];
                        if (t == 0 || t > COSIG_TIME_MAX ||
                            cosig_message(note, tlen, t, msg, sizeof(msg), &mlen) != 0 ||
                            crypto_sign_verify_detached(sl.sig + 12, msg, mlen, keys[k].pk) != 0)
                                return GH_E_BAD_SIGNATURE;
                        if (t > times[k])
                                times[k] = t;
                }
        }
        if (r != 0)
                return r;
        return 0;
}

/* --- add-checkpoint body --- */

int addcp_parse(const char *body, size_t len, struct addcp_request *out) {
        const char *p = body, *end, *eol;
        size_t n = 0;

        if (body == NULL)
                return GH_E_MALFORMED;
        end = body + len;
        if (len > ADDCP_BODY_MAX)
                return GH_E_TOO_LARGE;
        memset(out, 0, sizeof(*out));
        eol = memchr(p, '\n', len);
        if (eol == NULL || (size_t)(eol - p) < 5 || memcmp(p, "old ", 4) != 0 ||
            !parse_u64_max(p + 4, (size_t)(eol - p - 4), COSIG_TIME_MAX, &out->old_size))
                return GH_E_MALFORMED;
        p = eol + 1;
        for (;;) {
                size_t hn = 0;

                if (p >= end)
                        return GH_E_MALFORMED;
                eol = memchr(p, '\n', (size_t)(end - p));
                if (eol == NULL)
                        return GH_E_MALFORMED;
                if (eol == p)
                        break; /* the blank line */
                if (n == ADDCP_MAX_PROOF)
                        return GH_E_TOO_LARGE;
                if ((size_t)(eol - p) != 44 ||
                    !note_b64_decode(p, 44, out->proof[n], sizeof(out->proof[n]), &hn) || hn != 32)
                        return GH_E_MALFORMED;
                n++;
                p = eol + 1;
        }
        p++;
        if (p >= end)
                return GH_E_MALFORMED;
        out->proof_len = n;
        out->note = p;
        out->note_len = (size_t)(end - p);
        return 0;
}

int addcp_format(uint64_t old_size, const merkle_hash *proof, size_t proof_len, const char *note,
                 size_t note_len, char **out, size_t *outlen) {
        size_t cap, pos = 0;
        char *b;

        if (proof_len > ADDCP_MAX_PROOF || note == NULL || note_len == 0 ||
            note_len > NOTE_MAX_SIZE || old_size > COSIG_TIME_MAX)
                return GH_E_MALFORMED;
        cap = 4 + 20 + 1 + proof_len * 45 + 1 + note_len + 1;
        b = malloc(cap);
        if (b == NULL)
                return -ENOMEM;
        memcpy(b, "old ", 4);
        pos = 4 + put_decimal(old_size, b + 4);
        b[pos++] = '\n';
        for (size_t i = 0; i < proof_len; i++) {
                sodium_bin2base64(b + pos, 45, proof[i], 32, sodium_base64_VARIANT_ORIGINAL);
                pos += 44;
                b[pos++] = '\n';
        }
        b[pos++] = '\n';
        memcpy(b + pos, note, note_len);
        pos += note_len;
        b[pos] = '\0';
        *out = b;
        *outlen = pos;
        return 0;
}
