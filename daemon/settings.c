/* SPDX-License-Identifier: MIT */
#include "settings.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <ini.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "note.h"
#include "text.h"

/* The setting names, shared by the file (key) and the command line (--key with '-'). */
enum setting {
        SET_STATE_DIR,
        SET_LISTEN,
        SET_BACKEND,
        SET_SIM_GPUS,
        SET_SIM_DIR,
        SET_PERIOD,
        SET_INTERVAL,
        SET_ORIGIN,
        SET_WITNESSES,
        SET_COUNT,
};

static const char *const setting_key[SET_COUNT] = {
        [SET_STATE_DIR] = "state_dir",      [SET_LISTEN] = "listen",   [SET_BACKEND] = "backend",
        [SET_SIM_GPUS] = "sim_gpus",        [SET_SIM_DIR] = "sim_dir", [SET_PERIOD] = "period",
        [SET_INTERVAL] = "sample_interval", [SET_ORIGIN] = "origin",
        [SET_WITNESSES] = "witnesses",
};

void config_usage(FILE *f) {
        fprintf(f,
                "Usage: gpuhoursd [OPTION]...\n"
                "Sample the node's GPUs and keep a signed, append-only ledger of GPU-hours,\n"
                "served over HTTP. Runs in the foreground.\n"
                "\n"
                "  --config FILE            INI settings file, section [gpuhoursd]\n"
                "                           (default " CONFIG_DEFAULT_FILE ", if it exists)\n"
                "  --state-dir DIR          ledger and node key (default " CONFIG_DEFAULT_STATE_DIR
                ")\n"
                "  --listen ADDR:PORT       HTTP address (default " CONFIG_DEFAULT_LISTEN
                ", IPv4 too)\n"
                "  --backend sim|nvml       GPU backend (default " CONFIG_DEFAULT_BACKEND ")\n"
                "  --sim-gpus N             simulated GPUs, 1..64 (default 4)\n"
                "  --sim-dir DIR            simulator state and load file (default STATE-DIR/sim)\n"
                "  --period SECONDS         summary period, 1..86400 (default 300)\n"
                "  --sample-interval SECONDS  sampling interval, 0.05..60, fractions allowed\n"
                "                           (default 1)\n"
                "  --origin NAME            log origin and key name (default HOSTNAME/gpuhours)\n"
                "  --witnesses FILE         push checkpoints to the witnesses of this C2SP\n"
                "                           tlog-policy file ('witness NAME VKEY URL' lines)\n"
                "  --print-key              print the node's verifier key (vkey) and exit;\n"
                "                           creates the key if absent\n"
                "  --help                   show this help and exit\n"
                "  --version                show the version and exit\n"
                "\n"
                "The config file takes the same settings as keys: state_dir, listen, backend,\n"
                "sim_gpus, sim_dir, period, sample_interval, origin, witnesses. Command-line\n"
                "options "
                "override the file. Exit status: 0 ok, 1 runtime failure, 2 bad usage or "
                "config.\n");
}

static void errf(char *err, size_t errlen, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
}

bool config_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out) {
        uint64_t v;
        if (!parse_u64(s, strlen(s), &v) || v < min || v > max)
                return false;
        *out = (unsigned)v;
        return true;
}

/* Decimal seconds, at most 6 fractional digits, no sign or exponent. */
bool config_parse_interval(const char *s, uint32_t *out_us) {
        uint64_t whole = 0, frac = 0;
        unsigned wdigits = 0, fdigits = 0;
        const char *p = s;
        for (; *p >= '0' && *p <= '9'; p++) {
                if (++wdigits > 5)
                        return false;
                whole = whole * 10 + (uint64_t)(*p - '0');
        }
        if (*p == '.') {
                p++;
                for (; *p >= '0' && *p <= '9'; p++) {
                        if (++fdigits > 6)
                                return false;
                        frac = frac * 10 + (uint64_t)(*p - '0');
                }
                if (fdigits == 0)
                        return false;
        }
        if (*p || wdigits == 0)
                return false;
        for (unsigned i = fdigits; i < 6; i++)
                frac *= 10;
        uint64_t us = whole * 1000000u + frac;
        if (us < CONFIG_INTERVAL_MIN_US || us > CONFIG_INTERVAL_MAX_US)
                return false;
        *out_us = (uint32_t)us;
        return true;
}

/*
 * "A.B.C.D:PORT", "[V6]:PORT" or "*:PORT" with a numeric address and PORT
 * 1..65535: the forms http_bind accepts, so that a name such as
 * "localhost:9477" is refused here, before anything is written.
 */
bool config_listen_valid(const char *s) {
        const char *colon = strrchr(s, ':');
        unsigned port;
        char host[64];
        size_t hl = colon ? (size_t)(colon - s) : 0;
        if (!colon || hl == 0 || hl >= sizeof host)
                return false;
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (!config_parse_uint(colon + 1, 1, 65535, &port))
                return false;
        if (strcmp(host, "*") == 0)
                return true;
        unsigned char addr[sizeof(struct in6_addr)];
        if (host[0] == '[') {
                if (hl < 3 || host[hl - 1] != ']')
                        return false;
                host[hl - 1] = '\0';
                return inet_pton(AF_INET6, host + 1, addr) == 1;
        }
        return inet_pton(AF_INET, host, addr) == 1;
}

static bool set_path(char *dst, const char *v) {
        size_t n = strlen(v);
        if (n == 0 || n >= CONFIG_PATH_MAX)
                return false;
        memcpy(dst, v, n + 1);
        return true;
}

/* Apply one setting; false with a reason if the value is bad. */
static bool apply(struct config *cfg, enum setting k, const char *v, const char **why) {
        switch (k) {
        case SET_STATE_DIR:
                *why = "expected a directory path (1..1023 bytes)";
                return set_path(cfg->state_dir, v);
        case SET_SIM_DIR:
                *why = "expected a directory path (1..1023 bytes)";
                return set_path(cfg->sim_dir, v);
        case SET_LISTEN:
                *why = "expected a numeric A.B.C.D:PORT, [IPV6]:PORT or *:PORT with PORT 1..65535 "
                       "(no host names)";
                return config_listen_valid(v) && set_path(cfg->listen, v);
        case SET_BACKEND:
                *why = "expected 'sim' or 'nvml'";
                if (strcmp(v, "sim") != 0 && strcmp(v, "nvml") != 0)
                        return false;
                strcpy(cfg->backend, v);
                return true;
        case SET_SIM_GPUS:
                *why = "expected an integer 1..64";
                return config_parse_uint(v, 1, CONFIG_SIM_GPUS_MAX, &cfg->sim_gpus);
        case SET_PERIOD:
                *why = "expected whole seconds 1..86400";
                return config_parse_uint(v, 1, CONFIG_PERIOD_MAX, &cfg->period_s);
        case SET_INTERVAL:
                *why = "expected seconds 0.05..60 (up to 6 decimals)";
                return config_parse_interval(v, &cfg->sample_interval_us);
        case SET_ORIGIN:
                *why = "expected 1..255 bytes without spaces, '+' or control characters";
                if (!note_name_valid(v, strlen(v)) || strlen(v) >= sizeof cfg->origin)
                        return false;
                strcpy(cfg->origin, v);
                return true;
        case SET_WITNESSES:
                *why = "expected a file path (1..1023 bytes)";
                return set_path(cfg->witnesses, v);
        case SET_COUNT:
                break;
        }
        *why = "unknown setting";
        return false;
}

struct ini_state {
        struct config *cfg;
        bool failed;
        char msg[512];
};

static void quote(char *out, size_t cap, const char *s) {
        /* Printable ASCII only, capped, for log and error lines. */
        size_t j = 0;
        for (size_t i = 0; s[i] && j + 5 < cap; i++) {
                unsigned char c = (unsigned char)s[i];
                if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
                        out[j++] = (char)c;
                else
                        j += (size_t)snprintf(out + j, cap - j, "\\x%02x", c);
                if (i >= 120) {
                        j += (size_t)snprintf(out + j, cap - j, "...");
                        break;
                }
        }
        out[j < cap ? j : cap - 1] = '\0';
}

static int config_ini_handler(void *user, const char *section, const char *name,
                              const char *value) {
        struct ini_state *st = user;
        char qn[200], qv[200], qs[200];
        if (st->failed)
                return 0;
        quote(qn, sizeof qn, name);
        quote(qv, sizeof qv, value);
        if (strcmp(section, "gpuhoursd") != 0) {
                quote(qs, sizeof qs, section);
                snprintf(st->msg, sizeof st->msg,
                         "key '%s' in unknown section [%s] (settings belong in [gpuhoursd])", qn,
                         qs);
                st->failed = true;
                return 0;
        }
        for (int k = 0; k < SET_COUNT; k++) {
                if (strcmp(name, setting_key[k]) != 0)
                        continue;
                const char *why = "";
                if (!apply(st->cfg, (enum setting)k, value, &why)) {
                        snprintf(st->msg, sizeof st->msg, "key '%s': bad value '%s': %s", qn, qv,
                                 why);
                        st->failed = true;
                        return 0;
                }
                return 1;
        }
        snprintf(st->msg, sizeof st->msg, "unknown key '%s'", qn);
        st->failed = true;
        return 0;
}

static int load_file(struct config *cfg, const char *path, char *err, size_t errlen) {
        struct ini_state st = {.cfg = cfg};
        char qp[300];
        quote(qp, sizeof qp, path);
        /* O_NONBLOCK: a FIFO named as the config must not hang start-up. */
        int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
        struct stat fst;
        if (fd < 0 || fstat(fd, &fst) != 0) {
                errf(err, errlen, "config '%s': %s", qp, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return EXIT_USAGE;
        }
        if (!S_ISREG(fst.st_mode)) {
                errf(err, errlen, "config '%s': %s", qp,
                     S_ISDIR(fst.st_mode) ? "is a directory, not a configuration file"
                                         : "is not a regular file");
                close(fd);
                return EXIT_USAGE;
        }
        FILE *f = fdopen(fd, "r");
        if (!f) {
                errf(err, errlen, "config '%s': %s", qp, strerror(errno));
                close(fd);
                return EXIT_USAGE;
        }
        int line = ini_parse_file(f, config_ini_handler, &st);
        fclose(f);
        if (line != 0) {
                if (st.failed)
                        errf(err, errlen, "config '%s' line %d: %s", qp, line, st.msg);
                else
                        errf(err, errlen,
                             "config '%s' line %d: syntax error (expected [section] or key = "
                             "value)",
                             qp, line);
                return EXIT_USAGE;
        }
        snprintf(cfg->config_file, sizeof cfg->config_file, "%s", path);
        return 0;
}

static void defaults(struct config *cfg) {
        memset(cfg, 0, sizeof *cfg);
        strcpy(cfg->state_dir, CONFIG_DEFAULT_STATE_DIR);
        strcpy(cfg->listen, CONFIG_DEFAULT_LISTEN);
        strcpy(cfg->backend, CONFIG_DEFAULT_BACKEND);
        cfg->sim_gpus = CONFIG_DEFAULT_SIM_GPUS;
        cfg->period_s = CONFIG_DEFAULT_PERIOD;
        cfg->sample_interval_us = CONFIG_DEFAULT_INTERVAL_US;
}

enum { OPT_CONFIG = 1000, OPT_PRINT_KEY, OPT_HELP, OPT_VERSION };

int config_load(int argc, char **argv, struct config *cfg, char *err, size_t errlen) {
        static const struct option opts[] = {
                {"config", required_argument, NULL, OPT_CONFIG},
                {"state-dir", required_argument, NULL, SET_STATE_DIR},
                {"listen", required_argument, NULL, SET_LISTEN},
                {"backend", required_argument, NULL, SET_BACKEND},
                {"sim-gpus", required_argument, NULL, SET_SIM_GPUS},
                {"sim-dir", required_argument, NULL, SET_SIM_DIR},
                {"period", required_argument, NULL, SET_PERIOD},
                {"sample-interval", required_argument, NULL, SET_INTERVAL},
                {"origin", required_argument, NULL, SET_ORIGIN},
                {"witnesses", required_argument, NULL, SET_WITNESSES},
                {"print-key", no_argument, NULL, OPT_PRINT_KEY},
                {"help", no_argument, NULL, OPT_HELP},
                {"version", no_argument, NULL, OPT_VERSION},
                {NULL, 0, NULL, 0},
        };
        const char *cli[SET_COUNT] = {0};
        const char *config_path = NULL;
        char q[300];

        defaults(cfg);
        opterr = 0;
        optind = 1;
        for (;;) {
                int longidx = -1;
                int c = getopt_long(argc, argv, ":", opts, &longidx);
                if (c == -1)
                        break;
                if (c >= 0 && c < SET_COUNT) {
                        cli[c] = optarg;
                } else if (c == OPT_CONFIG) {
                        config_path = optarg;
                } else if (c == OPT_PRINT_KEY) {
                        cfg->action = CONFIG_PRINT_KEY;
                } else if (c == OPT_HELP) {
                        cfg->action = CONFIG_HELP;
                        return 0;
                } else if (c == OPT_VERSION) {
                        cfg->action = CONFIG_VERSION;
                        return 0;
                } else if (c == ':') {
                        quote(q, sizeof q, argv[optind - 1]);
                        errf(err, errlen, "option '%s' needs a value (see --help)", q);
                        return EXIT_USAGE;
                } else {
                        quote(q, sizeof q, argv[optind - 1]);
                        errf(err, errlen, "unknown option '%s' (see --help)", q);
                        return EXIT_USAGE;
                }
        }
        if (optind < argc) {
                quote(q, sizeof q, argv[optind]);
                errf(err, errlen, "unexpected argument '%s' (see --help)", q);
                return EXIT_USAGE;
        }

        if (config_path) {
                int rc = load_file(cfg, config_path, err, errlen);
                if (rc)
                        return rc;
        } else if (access(CONFIG_DEFAULT_FILE, F_OK) == 0) {
                int rc = load_file(cfg, CONFIG_DEFAULT_FILE, err, errlen);
                if (rc)
                        return rc;
        }

        for (int k = 0; k < SET_COUNT; k++) {
                const char *why = "";
                if (!cli[k])
                        continue;
                if (!apply(cfg, (enum setting)k, cli[k], &why)) {
                        char qv[200], opt[40];
                        quote(qv, sizeof qv, cli[k]);
                        snprintf(opt, sizeof opt, "--%s", setting_key[k]);
                        for (char *p = opt; *p; p++)
                                if (*p == '_')
                                        *p = '-';
                        errf(err, errlen, "%s: bad value '%s': %s", opt, qv, why);
                        return EXIT_USAGE;
                }
        }

        if (cfg->sample_interval_us > (uint64_t)cfg->period_s * 1000000u) {
                errf(err, errlen, "sample interval (%u.%06u s) must not exceed the period (%u s)",
                     cfg->sample_interval_us / 1000000u, cfg->sample_interval_us % 1000000u,
                     cfg->period_s);
                return EXIT_USAGE;
        }
        if (!cfg->sim_dir[0]) {
                if (snprintf(cfg->sim_dir, sizeof cfg->sim_dir, "%s/sim", cfg->state_dir) >=
                    (int)sizeof cfg->sim_dir) {
                        errf(err, errlen, "state directory path too long");
                        return EXIT_USAGE;
                }
        }
        if (!cfg->origin[0]) {
                char host[256] = "";
                if (gethostname(host, sizeof host - 1) != 0 || !host[0])
                        strcpy(host, "localhost");
                host[sizeof host - 1] = '\0';
                snprintf(cfg->origin, sizeof cfg->origin, "%.200s/gpuhours", host);
                if (!note_name_valid(cfg->origin, strlen(cfg->origin))) {
                        quote(q, sizeof q, host);
                        errf(err, errlen,
                             "hostname '%s' does not make a valid origin; set --origin", q);
                        return EXIT_USAGE;
                }
        }
        return 0;
}
