/* SPDX-License-Identifier: MIT */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "stats.h"

/*
 * Whether the node is healthy, defined once: /healthz answers 200 only for
 * HEALTH_OK; the sampling loop pings the systemd watchdog unless the state is
 * HEALTH_STALLED.
 *
 * HEALTH_STALLED: the GPUs are not being observed (no sample yet, sampler
 * reads failing, or the last good sample older than max(3 s, 3 intervals)):
 * a hung or broken driver, which a restart by the watchdog may cure.
 * HEALTH_DEGRADED: sampling works but the evidence is not being kept or
 * published (appends failing, no checkpoint yet or none within a period + 5 s,
 * the next summary more than 5 s overdue). A restart would not help (a full
 * disk stays full) and would drop the summaries the daemon holds in memory
 * until it can append them, so the watchdog keeps being pinged.
 */
enum health { HEALTH_OK = 0, HEALTH_DEGRADED, HEALTH_STALLED };

/*
 * The state at now (CLOCK_BOOTTIME ns) from the counters the sampling thread
 * publishes; interval_ns is the sample interval, period_s the summary period.
 * Writes the reason for anything but HEALTH_OK into why (one line, no newline);
 * a stall is reported before a degradation.
 */
enum health health_check(const struct daemon_stats *st, uint64_t interval_ns, unsigned period_s,
                         uint64_t now, char *why, size_t whylen);
