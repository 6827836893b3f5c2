/* SPDX-License-Identifier: MIT */
#include "text.h"

#include <stdio.h>
#include <string.h>

#define NS_PER_S 1000000000ull

bool parse_u64(const char *s, size_t len, uint64_t *out) {
        uint64_t v = 0;

        if (s == NULL || len == 0 || len > 20 || (len > 1 && s[0] == '0'))
                return false;
        for (size_t i = 0; i < len; i++) {
                unsigned dgt;

                if (s[i] < '0' || s[i] > '9')
                        return false;
                dgt = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - dgt) / 10)
                        return false;
                v = v * 10 + dgt;
        }
        *out = v;
        return true;
}

bool parse_u64_max(const char *s, size_t len, uint64_t max, uint64_t *out) {
        uint64_t v;

        if (!parse_u64(s, len, &v) || v > max)
                return false;
        *out = v;
        return true;
}

bool parse_u64_cstr(const char *s, uint64_t *out) {
        return s != NULL && parse_u64(s, strlen(s), out);
}

void quote_bytes(const void *p, size_t len, char *out, size_t cap) {
        const unsigned char *s = p;
        size_t o = 0;

        if (cap == 0)
                return;
        for (size_t i = 0; i < len; i++) {
                if (o + 1 >= cap || (o + 4 >= cap && i + 1 < len)) {
                        if (cap >= 4) {
                                o = o > cap - 4 ? cap - 4 : o;
                                memcpy(out + o, "...", 3);
                                o += 3;
                        }
                        break;
                }
                out[o++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
        }
        out[o] = '\0';
}

bool text_next_line(const char *buf, size_t len, size_t *pos, const char **line, size_t *n) {
        const char *nl, *p;
        size_t k;

        if (*pos >= len)
                return false;
        p = buf + *pos;
        nl = memchr(p, '\n', len - *pos);
        k = nl ? (size_t)(nl - p) : len - *pos;
        *pos += k + (nl ? 1 : 0);
        if (k > 0 && p[k - 1] == '\r')
                k--;
        *line = p;
        *n = k;
        return true;
}

int64_t date_days_from_civil(int64_t y, unsigned m, unsigned d) {
        int64_t era;
        unsigned yoe, doy, doe;

        y -= m <= 2;
        era = (y >= 0 ? y : y - 399) / 400;
        yoe = (unsigned)(y - era * 400);
        doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
        doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

void date_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d) {
        int64_t z = days + 719468, era;
        unsigned doe, yoe, doy, mp;

        era = (z >= 0 ? z : z - 146096) / 146097;
        doe = (unsigned)(z - era * 146097);
        yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

void time_format_iso(uint64_t ns, bool millis, char *out, size_t cap) {
        uint64_t secs = ns / NS_PER_S;
        unsigned rem = (unsigned)(secs % 86400);
        int64_t y;
        unsigned m, d;

        date_civil_from_days((int64_t)(secs / 86400), &y, &m, &d);
        if (millis)
                snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d,
                         rem / 3600, rem / 60 % 60, rem % 60, (unsigned)(ns % NS_PER_S / 1000000));
        else
                snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
                         rem / 3600, rem / 60 % 60, rem % 60);
}

int hex_digit_value(char c) {
        if (c >= '0' && c <= '9')
                return c - '0';
        if (c >= 'a' && c <= 'f')
                return c - 'a' + 10;
        if (c >= 'A' && c <= 'F')
                return c - 'A' + 10;
        return -1;
}
