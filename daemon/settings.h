/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "record.h"

/*
 * gpuhoursd settings: defaults, then the INI file ([gpuhoursd] section),
 * then the command line (which wins).
 */

#define CONFIG_DEFAULT_FILE "/etc/gpuhours/gpuhoursd.conf"
#define CONFIG_DEFAULT_STATE_DIR "/var/lib/gpuhours"
#define CONFIG_DEFAULT_LISTEN "[::]:9477"
#define CONFIG_DEFAULT_BACKEND "nvml"
#define CONFIG_DEFAULT_SIM_GPUS 4u
#define CONFIG_DEFAULT_PERIOD 300u
#define CONFIG_DEFAULT_INTERVAL_US 1000000u
#define CONFIG_PATH_MAX 1024u
/* The record format's bounds (proto/record.h): a setting outside them could not be recorded. */
#define CONFIG_PERIOD_MAX REC_PERIOD_MAX_S
#define CONFIG_INTERVAL_MIN_US REC_INTERVAL_MIN_US
#define CONFIG_INTERVAL_MAX_US REC_INTERVAL_MAX_US
#define CONFIG_SIM_GPUS_MAX RECORD_MAX_GPUS

/* Exit codes of gpuhoursd. */
enum {
        EXIT_RUNTIME = 1, /* a failure while running (storage, key, sampler, network) */
        EXIT_USAGE = 2,   /* bad command line or configuration */
        EXIT_NO_GPUS = 3, /* the GPU backend cannot start (no NVML, no GPU): not restarted */
};

enum config_action {
        CONFIG_RUN = 0,
        CONFIG_HELP,
        CONFIG_VERSION,
        CONFIG_PRINT_KEY,
};

struct config {
        enum config_action action;
        char config_file[CONFIG_PATH_MAX]; /* "" when none was read */
        char state_dir[CONFIG_PATH_MAX];
        char listen[CONFIG_PATH_MAX];
        char backend[16]; /* "sim" | "nvml" */
        unsigned sim_gpus;
        char sim_dir[CONFIG_PATH_MAX]; /* defaults to <state_dir>/sim */
        unsigned period_s;
        uint32_t sample_interval_us;
        char origin[256]; /* defaults to <hostname>/gpuhours */
        char witnesses[CONFIG_PATH_MAX]; /* tlog-policy file of witnesses to push to; "" = none */
};

/*
 * Parse argv and the config file into *cfg. 0 on success; EXIT_USAGE with a
 * one-line message in err (naming the option, or file:line and key).
 */
int config_load(int argc, char **argv, struct config *cfg, char *err, size_t errlen);

/* The --help text. */
void config_usage(FILE *f);

/* Parsers shared with tests; false if the text is not a valid value. */
bool config_parse_uint(const char *s, unsigned min, unsigned max, unsigned *out);
bool config_parse_interval(const char *s, uint32_t *out_us);
bool config_listen_valid(const char *s);
