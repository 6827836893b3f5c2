/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api.h"

uint64_t wall_now_ns(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
                return 0;
        return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Exactly n decimal digits at s. */
static bool digits(const char *s, size_t n, unsigned *out) {
        unsigned v = 0;
        for (size_t i = 0; i < n; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                v = v * 10 + (unsigned)(s[i] - '0');
        }
        *out = v;
        return true;
}

static bool is_leap(unsigned y) {
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

bool time_parse_arg(const char *s, uint64_t now_ns, uint64_t *out) {
        size_t len = strlen(s);
        if (len >= 3 && s[0] == '-') {
                /* -<digits><unit> */
                uint64_t v = 0;
                size_t i = 1;
                for (; i < len - 1; i++) {
                        if (s[i] < '0' || s[i] > '9' || i > 10)
                                return false;
                        v = v * 10 + (uint64_t)(s[i] - '0');
                }
                uint64_t mul;
                switch (s[len - 1]) {
                case 's':
                        mul = 1;
                        break;
                case 'm':
                        mul = 60;
                        break;
                case 'h':
                        mul = 3600;
                        break;
                case 'd':
                        mul = 86400;
                        break;
                default:
                        return false;
                }
                if (v > UINT64_MAX / NS_PER_SEC / mul)
                        return false;
                uint64_t delta = v * mul * NS_PER_SEC;
                if (delta > now_ns)
                        return false;
                *out = now_ns - delta;
                return true;
        }
        unsigned y, mo, d, h = 0, mi = 0, sec = 0;
        if (len < 10 || !digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
            !digits(s + 8, 2, &d))
                return false;
        if (len != 10) {
                if (s[10] != 'T')
                        return false;
                if (len == 17 && digits(s + 11, 2, &h) && s[13] == ':' && digits(s + 14, 2, &mi) &&
                    s[16] == 'Z') {
                        /* hh:mmZ */
                } else if (len == 20 && digits(s + 11, 2, &h) && s[13] == ':' &&
                           digits(s + 14, 2, &mi) && s[16] == ':' && digits(s + 17, 2, &sec) &&
                           s[19] == 'Z') {
                        /* hh:mm:ssZ */
                } else {
                        return false;
                }
        }
        static const unsigned mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
        if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59)
                return false;
        if (d > mdays[mo - 1] + (mo == 2 && is_leap(y) ? 1u : 0u))
                return false;
        int64_t days = date_days_from_civil(y, mo, d);
        uint64_t secs = (uint64_t)days * 86400u + h * 3600u + mi * 60u + sec;
        if (secs > UINT64_MAX / NS_PER_SEC)
                return false;
        *out = secs * NS_PER_SEC;
        return true;
}

char *str_concat3(const char *a, const char *b, const char *c) {
        size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
        char *r = malloc(la + lb + lc + 1);
        if (!r)
                return NULL;
        memcpy(r, a, la);
        memcpy(r + la, b, lb);
        memcpy(r + la + lb, c, lc + 1);
        return r;
}

static char *join2(const char *a, const char *b) {
        return str_concat3(a, "/", b);
}

char *xdg_dir(const char *env_name, const char *home_fallback) {
        const char *e = getenv(env_name);
        if (e && e[0] == '/')
                return join2(e, "gpuhours");
        const char *home = getenv("HOME");
        if (!home || home[0] != '/')
                return NULL;
        _cleanup_free_ char *base = join2(home, home_fallback);
        if (!base)
                return NULL;
        return join2(base, "gpuhours");
}

int read_file_capped(const char *path, size_t cap, char **out, size_t *len) {
        /* O_NONBLOCK: a FIFO must not hang the client; it is refused below. */
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        if (fd < 0)
                return -errno;
        struct stat st;
        if (fstat(fd, &st) != 0) {
                int e = -errno;
                close(fd);
                return e;
        }
        if (!S_ISREG(st.st_mode)) {
                close(fd);
                return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
        }
        if ((uint64_t)st.st_size > cap) {
                close(fd);
                return -EFBIG;
        }
        size_t want = (size_t)st.st_size;
        char *buf = malloc(want + 1);
        if (!buf) {
                close(fd);
                return -ENOMEM;
        }
        size_t got = 0;
        for (;;) {
                if (got == want) {
                        /* The file may have grown: one more byte means too large. */
                        char extra;
                        ssize_t r = read(fd, &extra, 1);
                        if (r < 0 && errno == EINTR)
                                continue;
                        if (r != 0) {
                                int e = r < 0 ? -errno : -EFBIG;
                                free(buf);
                                close(fd);
                                return e;
                        }
                        break;
                }
                ssize_t r = read(fd, buf + got, want - got);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = -errno;
                        free(buf);
                        close(fd);
                        return e;
                }
                if (r == 0)
                        break; /* shrank: take what is there */
                got += (size_t)r;
        }
        close(fd);
        buf[got] = '\0';
        *out = buf;
        *len = got;
        return 0;
}

int origin_file_name(const char *origin, char *out, size_t cap) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        if (!origin[0])
                return -EINVAL;
        for (size_t i = 0; origin[i]; i++) {
                unsigned char c = (unsigned char)origin[i];
                bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && i > 0);
                if (o + 4 > cap || o + (keep ? 1 : 3) > ORIGIN_FILE_NAME_MAX)
                        return -ENAMETOOLONG;
                if (keep) {
                        out[o++] = (char)c;
                } else {
                        out[o++] = '%';
                        out[o++] = hex[c >> 4];
                        out[o++] = hex[c & 15];
                }
        }
        out[o] = '\0';
        return 0;
}

void hex_encode(const uint8_t *p, size_t n, char *out) {
        static const char hex[] = "0123456789abcdef";
        for (size_t i = 0; i < n; i++) {
                out[2 * i] = hex[p[i] >> 4];
                out[2 * i + 1] = hex[p[i] & 15];
        }
        out[2 * n] = '\0';
}

char *url_join(const char *base, const char *path) {
        size_t bl = strlen(base);
        while (bl > 0 && base[bl - 1] == '/')
                bl--;
        /* The node's /checkpoint URL, pasted from a browser, names the node too. */
        static const char cp[] = API_PATH_CHECKPOINT;
        const size_t cpl = sizeof cp - 1;
        const char *scheme = strstr(base, "://");
        if (scheme && bl >= cpl && memcmp(base + bl - cpl, cp, cpl) == 0 &&
            base + bl - cpl > scheme + 3)
                bl -= cpl;
        size_t n = bl + strlen(path) + 1;
        char *u = malloc(n);
        if (u) {
                memcpy(u, base, bl);
                strcpy(u + bl, path);
        }
        return u;
}

char *url_redact(const char *url) {
        const char *scheme = strstr(url, "://");
        if (!scheme)
                return strdup(url);
        const char *auth = scheme + 3;
        size_t alen = strcspn(auth, "/?#");
        const char *at = NULL, *colon = NULL;
        for (size_t i = 0; i < alen; i++)
                if (auth[i] == '@')
                        at = auth + i; /* the last '@' ends the userinfo */
        for (const char *p = auth; at && p < at && !colon; p++)
                if (*p == ':')
                        colon = p;
        if (!colon)
                return strdup(url);
        size_t head = (size_t)(colon + 1 - url), tail = strlen(at);
        char *out = malloc(head + 3 + tail + 1);
        if (out) {
                memcpy(out, url, head);
                memcpy(out + head, "***", 3);
                memcpy(out + head + 3, at, tail + 1);
        }
        return out;
}

bool range_header_parse(const char *s, uint64_t *start, uint64_t *end) {
        const char *dash = strchr(s, '-');
        uint64_t a, b;
        if (!dash || !parse_u64(s, (size_t)(dash - s), &a) ||
            !parse_u64(dash + 1, strlen(dash + 1), &b) || a >= b)
                return false;
        *start = a;
        *end = b;
        return true;
}

/*
 * A length for a human: "0.356 s", "59.000 s" below a minute, then the two
 * largest units: "5 min 3 s", "2 h 5 min", "23 d 3 h". Negative: "-" first.
 */
void duration_human(double s, char *buf, size_t cap) {
        const char *sign = s < 0 ? "-" : "";
        double a = s < 0 ? -s : s;
        if (a < 60.0 || a != a) {
                snprintf(buf, cap, "%s%.3f s", sign, a);
                return;
        }
        uint64_t t = (uint64_t)(a + 0.5);
        if (t >= 86400u)
                snprintf(buf, cap, "%s%llu d %llu h", sign, (unsigned long long)(t / 86400u),
                         (unsigned long long)(t % 86400u / 3600u));
        else if (t >= 3600u)
                snprintf(buf, cap, "%s%llu h %llu min", sign, (unsigned long long)(t / 3600u),
                         (unsigned long long)(t % 3600u / 60u));
        else
                snprintf(buf, cap, "%s%llu min %llu s", sign, (unsigned long long)(t / 60u),
                         (unsigned long long)(t % 60u));
}
