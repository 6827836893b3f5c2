/* SPDX-License-Identifier: MIT */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t wall_now_ns(void) {
        struct timespec ts;
        if (clock_gettime(CLOCK_REALTIME, &ts) != 0 || ts.tv_sec < 0)
                return 0;
        return (uint64_t)ts.tv_sec * NS_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
        y -= m <= 2;
        int64_t era = (y >= 0 ? y : y - 399) / 400;
        unsigned yoe = (unsigned)(y - era * 400);
        unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
        unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
        z += 719468;
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;
        *d = doy - (153 * mp + 2) / 5 + 1;
        *m = mp < 10 ? mp + 3 : mp - 9;
        *y = (int64_t)yoe + era * 400 + (*m <= 2);
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
        int64_t days = days_from_civil(y, mo, d);
        uint64_t secs = (uint64_t)days * 86400u + h * 3600u + mi * 60u + sec;
        if (secs > UINT64_MAX / NS_PER_SEC)
                return false;
        *out = secs * NS_PER_SEC;
        return true;
}

void time_format_iso(uint64_t ns, bool millis, char *out, size_t cap) {
        uint64_t secs = ns / NS_PER_SEC;
        int64_t days = (int64_t)(secs / 86400);
        unsigned rem = (unsigned)(secs % 86400);
        int64_t y;
        unsigned m, d;
        civil_from_days(days, &y, &m, &d);
        if (millis)
                snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", (long long)y, m, d,
                         rem / 3600, rem / 60 % 60, rem % 60,
                         (unsigned)(ns % NS_PER_SEC / 1000000));
        else
                snprintf(out, cap, "%04lld-%02u-%02uT%02u:%02u:%02uZ", (long long)y, m, d,
                         rem / 3600, rem / 60 % 60, rem % 60);
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

int mkdir_p(const char *path, mode_t mode) {
        size_t len = strlen(path);
        if (len == 0 || len >= PATH_MAX)
                return -EINVAL;
        char buf[PATH_MAX];
        memcpy(buf, path, len + 1);
        for (size_t i = 1; i <= len; i++) {
                if (buf[i] != '/' && buf[i] != '\0')
                        continue;
                char c = buf[i];
                buf[i] = '\0';
                if (mkdir(buf, mode) != 0 && errno != EEXIST)
                        return -errno;
                buf[i] = c;
        }
        struct stat st;
        if (stat(path, &st) != 0)
                return -errno;
        return S_ISDIR(st.st_mode) ? 0 : -ENOTDIR;
}

static int fsync_dir_of(const char *path) {
        char dir[PATH_MAX];
        const char *slash = strrchr(path, '/');
        if (!slash) {
                strcpy(dir, ".");
        } else {
                size_t n = (size_t)(slash - path);
                if (n == 0)
                        n = 1;
                if (n >= sizeof(dir))
                        return -ENAMETOOLONG;
                memcpy(dir, path, n);
                dir[n] = '\0';
        }
        int fd = open(dir, O_RDONLY);
        if (fd < 0)
                return -errno;
        int r = fsync(fd) != 0 && errno != EINVAL ? -errno : 0;
        close(fd);
        return r;
}

int atomic_write_file(const char *path, const void *data, size_t len, mode_t mode) {
        char tmp[PATH_MAX];
        int n = snprintf(tmp, sizeof(tmp), "%s.tmp-XXXXXX", path);
        if (n < 0 || (size_t)n >= sizeof(tmp))
                return -ENAMETOOLONG;
        int fd = mkstemp(tmp);
        if (fd < 0)
                return -errno;
        int r = 0;
        const uint8_t *p = data;
        size_t left = len;
        if (fchmod(fd, mode) != 0)
                r = -errno;
        while (r == 0 && left > 0) {
                ssize_t w = write(fd, p, left);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        r = -errno;
                        break;
                }
                p += w;
                left -= (size_t)w;
        }
        if (r == 0 && fsync(fd) != 0)
                r = -errno;
        if (close(fd) != 0 && r == 0)
                r = -errno;
        if (r == 0 && rename(tmp, path) != 0)
                r = -errno;
        if (r != 0) {
                unlink(tmp);
                return r;
        }
        return fsync_dir_of(path);
}

int read_file_capped(const char *path, size_t cap, char **out, size_t *len) {
        int fd = open(path, O_RDONLY);
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
                return -EINVAL;
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

int origin_file_name(const char *origin, char *out, size_t cap) {
        static const char hex[] = "0123456789ABCDEF";
        size_t o = 0;
        if (!origin[0])
                return -EINVAL;
        for (size_t i = 0; origin[i]; i++) {
                unsigned char c = (unsigned char)origin[i];
                bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '_' || c == '-' || (c == '.' && i > 0);
                if (o + 4 > cap)
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

bool parse_u64(const char *s, size_t len, uint64_t *out) {
        if (len == 0 || len > 20 || (len > 1 && s[0] == '0'))
                return false;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
                if (s[i] < '0' || s[i] > '9')
                        return false;
                unsigned dgt = (unsigned)(s[i] - '0');
                if (v > (UINT64_MAX - dgt) / 10)
                        return false;
                v = v * 10 + dgt;
        }
        *out = v;
        return true;
}

char *url_join(const char *base, const char *path) {
        size_t bl = strlen(base);
        while (bl > 0 && base[bl - 1] == '/')
                bl--;
        size_t n = bl + strlen(path) + 1;
        char *u = malloc(n);
        if (u) {
                memcpy(u, base, bl);
                strcpy(u + bl, path);
        }
        return u;
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
