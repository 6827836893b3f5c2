/* SPDX-License-Identifier: MIT */
#include "health.h"

#include <stdatomic.h>
#include <stdio.h>

#define NS 1000000000ull
#define HEALTH_SAMPLE_FLOOR_NS (3 * NS) /* a sample at least this recent is fresh */
#define HEALTH_SAMPLE_INTERVALS 3u      /* or within this many sample intervals */
#define HEALTH_SLACK_NS (5 * NS)        /* checkpoint and summary lateness allowed */

static unsigned long long ms(uint64_t ns) { return (unsigned long long)(ns / 1000000u); }

enum health health_check(const struct daemon_stats *st, uint64_t interval_ns, unsigned period_s,
                         uint64_t now, char *why, size_t whylen) {
        uint64_t fresh = interval_ns * HEALTH_SAMPLE_INTERVALS;
        if (fresh < HEALTH_SAMPLE_FLOOR_NS)
                fresh = HEALTH_SAMPLE_FLOOR_NS;
        uint64_t per_period = (uint64_t)period_s * NS + HEALTH_SLACK_NS;
        uint64_t last_sample = atomic_load(&st->last_sample_boot_ns);
        uint64_t last_cp = atomic_load(&st->last_checkpoint_boot_ns);
        uint64_t due = atomic_load(&st->next_summary_due_boot_ns);

        if (last_sample == 0) {
                snprintf(why, whylen, "no sample taken yet");
                return HEALTH_STALLED;
        }
        if (!atomic_load(&st->sampler_ok)) {
                snprintf(why, whylen, "sampler reads are failing: the GPUs are unobserved");
                return HEALTH_STALLED;
        }
        if (now > last_sample && now - last_sample > fresh) {
                snprintf(why, whylen, "sampling stalled: last sample %llu ms ago",
                         ms(now - last_sample));
                return HEALTH_STALLED;
        }
        if (!atomic_load(&st->appending_ok)) {
                snprintf(why, whylen, "ledger appends are failing");
                return HEALTH_DEGRADED;
        }
        if (last_cp == 0) {
                snprintf(why, whylen, "no checkpoint signed yet");
                return HEALTH_DEGRADED;
        }
        if (now > last_cp && now - last_cp > per_period) {
                snprintf(why, whylen, "signing stalled: last checkpoint %llu ms ago",
                         ms(now - last_cp));
                return HEALTH_DEGRADED;
        }
        if (due != 0 && now > due + HEALTH_SLACK_NS) {
                snprintf(why, whylen, "summary overdue by %llu ms", ms(now - due));
                return HEALTH_DEGRADED;
        }
        return HEALTH_OK;
}
