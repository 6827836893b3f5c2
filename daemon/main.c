/* SPDX-License-Identifier: MIT */
/*
 * gpuhoursd: the sampling loop. One thread samples, accumulates, appends
 * and signs; libmicrohttpd's thread serves the ledger read-only.
 *
 * Timing: samples every interval on CLOCK_BOOTTIME (absolute deadlines, so no
 * drift and no effect from clock steps; ppoll on the signalfd waits), with
 * an extra wake-up at each UTC period boundary (detected on CLOCK_REALTIME)
 * so that summary windows meet at the boundary sample: the end of one
 * window is exactly the start of the next.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "accum.h"
#include "fsutil.h"
#include "config.h" /* GH_VERSION (generated) */
#include "health.h"
#include "http.h"
#include "key.h"
#include "ledger.h"
#include "log.h"
#include "notify.h"
#include "push.h"
#include "sampler.h"
#include "settings.h"
#include "statedir.h"
#include "stats.h"
#include "status.h"

#define NS UINT64_C(1000000000)
#define PENDING_MAX 16
#define BACKOFF_MIN_NS (1 * NS)
#define BACKOFF_MAX_NS (10 * NS)

struct daemon {
        struct config cfg;
        struct signer signer;
        char vkey[VKEY_MAX_LEN + 1];
        struct ledger *ledger;
        const struct sampler_ops *ops;
        struct sampler *sampler;
        struct http_server *http;
        struct push *push; /* NULL without --witnesses */
        struct daemon_stats stats;
        struct accum acc;
        uint8_t boot_id[16];
        int sfd;
        int state_fd;      /* the state directory, locked for the process lifetime */
        int own_listen_fd; /* bound by us, not yet handed to http_start; or -1 */
        uint64_t key_created_ns; /* node.key's mtime (its creation), 0 when unknown */
        uint64_t interval_ns, period_ns;

        /* sampling state */
        bool have_prev;
        uint64_t prev_wall, prev_boot; /* last sample */
        uint64_t next_tick;            /* boot ns */
        uint64_t next_boundary;        /* wall ns */
        uint64_t obs_wall, obs_boot;   /* last clock observation (any wake) */
        struct gpu_reading rd[RECORD_MAX_GPUS];
        size_t nrd;
        bool sampler_ok;
        uint64_t busy_us_total[RECORD_MAX_GPUS];
        struct sampler_inventory inv;

        /* ENOSPC episode */
        bool nospace;
        uint64_t retry_at, backoff_ns, dropped;
        struct record *pending[PENDING_MAX];
        size_t npending;
        struct record *scratch;

        /* watchdog */
        uint64_t wd_half_ns, next_wd; /* boot ns of the next watchdog check */
};

static void clocks_now(uint64_t *wall, uint64_t *boot) {
        struct timespec w, b;
        clock_gettime(CLOCK_BOOTTIME, &b);
        clock_gettime(CLOCK_REALTIME, &w);
        *wall = (uint64_t)w.tv_sec * NS + (uint64_t)w.tv_nsec;
        *boot = (uint64_t)b.tv_sec * NS + (uint64_t)b.tv_nsec;
}

static uint64_t boot_now(void) {
        struct timespec b;
        clock_gettime(CLOCK_BOOTTIME, &b);
        return (uint64_t)b.tv_sec * NS + (uint64_t)b.tv_nsec;
}

static void read_boot_id(uint8_t out[16]) {
        char buf[64] = "";
        memset(out, 0, 16);
        int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
        if (fd >= 0)
                close(fd);
        if (n <= 0 || !boot_id_parse(buf, (size_t)n, out))
                log_warn("cannot read the boot ID; records carry an all-zero boot ID");
}

static void update_status(struct daemon *d, bool ready) {
        char st[256], wst[64] = "";
        uint64_t size = ledger_size(d->ledger);
        if (d->push)
                push_status(d->push, wst, sizeof wst);
        snprintf(st, sizeof st, "records %" PRIu64 ", checkpoint size %" PRIu64 ", sampler %s%s%s",
                 atomic_load(&d->stats.records_appended_total), size,
                 d->sampler_ok ? "ok" : "failing",
                 d->nospace ? ", appends paused: no space left" : "", wst);
        if (ready)
                notify_ready(st);
        else
                notify_status(st);
}

static void header(struct daemon *d, struct record *r, uint8_t kind, uint64_t wall, uint64_t boot) {
        memset(r, 0, sizeof *r);
        /* start and inventory carry counter epochs (version 2); the other kinds are v1 */
        r->version = kind == REC_START || kind == REC_INVENTORY ? RECORD_VERSION_EPOCH
                                                                : RECORD_VERSION;
        r->kind = kind;
        r->wall_ns = wall;
        r->boot_ns = boot;
        memcpy(r->boot_id, d->boot_id, 16);
}

/* ---------------------------------------------------------------- appending */

static void episode_fail(struct daemon *d, const char *msg) {
        uint64_t now = boot_now();
        atomic_fetch_add(&d->stats.append_errors_total, 1);
        if (!d->nospace) {
                log_warn("%s; appends paused (summaries are dropped and show up as gaps), "
                         "retrying with backoff",
                         msg);
                d->nospace = true;
                d->backoff_ns = BACKOFF_MIN_NS;
                atomic_store(&d->stats.appending_ok, 0);
                update_status(d, false);
        } else {
                d->backoff_ns =
                        d->backoff_ns * 2 > BACKOFF_MAX_NS ? BACKOFF_MAX_NS : d->backoff_ns * 2;
        }
        d->retry_at = now + d->backoff_ns;
}

static void episode_end(struct daemon *d) {
        if (!d->nospace)
                return;
        log_notice("ledger: appends resumed; %" PRIu64 " summaries were dropped while the "
                   "disk was full",
                   d->dropped);
        d->nospace = false;
        d->dropped = 0;
        atomic_store(&d->stats.appending_ok, 1);
}

static void stats_after_append(struct daemon *d, const struct record *r) {
        atomic_fetch_add(&d->stats.records_appended_total, 1);
        atomic_fetch_add(&d->stats.checkpoints_signed_total, 1);
        atomic_store(&d->stats.last_checkpoint_boot_ns, boot_now());
        if (r->kind == REC_SUMMARY)
                atomic_store(&d->stats.last_summary_wall_ns, r->u.summary.obs_end_wall_ns);
}

/* 0 appended; 1 ENOSPC (ledger unchanged); negative: fatal. */
static int append_one(struct daemon *d, const struct record *r) {
        char err[512];
        int rc = ledger_append(d->ledger, r, err, sizeof err);
        if (rc == 0) {
                stats_after_append(d, r);
                return 0;
        }
        if (rc == -ENOSPC) {
                episode_fail(d, err);
                return 1;
        }
        if (rc == -EINPROGRESS) { /* kept and signed; its checkpoint waits for space */
                stats_after_append(d, r);
                episode_fail(d, err);
                return 0;
        }
        log_err("%s", err);
        return rc < 0 ? rc : -EIO;
}

static void enqueue(struct daemon *d, const struct record *r) {
        if (d->npending == PENDING_MAX) {
                log_warn("ledger: %d records are waiting for disk space; dropping the oldest "
                         "%s record",
                         PENDING_MAX, record_kind_name(d->pending[0]->kind));
                free(d->pending[0]);
                memmove(&d->pending[0], &d->pending[1], (PENDING_MAX - 1) * sizeof d->pending[0]);
                d->npending--;
        }
        struct record *c = malloc(sizeof *c);
        if (!c) {
                log_err("out of memory queueing a %s record", record_kind_name(r->kind));
                return;
        }
        memcpy(c, r, sizeof *c);
        d->pending[d->npending++] = c;
}

/* Try the records waiting for space. 0 all done; 1 still no space; negative fatal. */
static int flush_pending(struct daemon *d) {
        if (ledger_unpublished(d->ledger)) {
                char err[512];
                int rc = ledger_publish_pending(d->ledger, err, sizeof err);
                if (rc == -ENOSPC) {
                        episode_fail(d, err);
                        return 1;
                }
                if (rc) {
                        log_err("%s", err);
                        return rc < 0 ? rc : -EIO;
                }
        }
        while (d->npending) {
                int rc = append_one(d, d->pending[0]);
                if (rc)
                        return rc;
                free(d->pending[0]);
                memmove(&d->pending[0], &d->pending[1], (d->npending - 1) * sizeof d->pending[0]);
                d->npending--;
        }
        return 0;
}

/*
 * Append r (or only retry the queue when r is NULL). Summaries are dropped
 * while the disk is full; other records wait in a small queue, in order.
 * Returns 0, or a negative errno when the daemon must exit.
 */
static int submit(struct daemon *d, const struct record *r) {
        bool droppable = r && r->kind == REC_SUMMARY;
        int rc = 0;
        if (d->nospace && boot_now() < d->retry_at)
                goto defer;
        rc = flush_pending(d);
        if (rc < 0)
                return rc;
        if (rc == 0 && r) {
                rc = append_one(d, r);
                if (rc < 0)
                        return rc;
        }
        if (rc == 0) {
                if (d->npending == 0 && !ledger_unpublished(d->ledger))
                        episode_end(d);
                update_status(d, false);
                return 0;
        }
defer:
        if (!r)
                return 0;
        if (droppable)
                d->dropped++;
        else
                enqueue(d, r);
        return 0;
}

/* ---------------------------------------------------------------- records */

static void stats_gpus(struct daemon *d) {
        for (size_t i = 0; i < d->nrd; i++) {
                const struct gpu_reading *g = &d->rd[i];
                uint_fast32_t n = atomic_load(&d->stats.gpu_count);
                size_t k = 0;
                while (k < n && strcmp(d->stats.gpu_uuid[k], g->uuid) != 0)
                        k++;
                if (k == n) {
                        if (n >= RECORD_MAX_GPUS)
                                continue;
                        snprintf(d->stats.gpu_uuid[k], sizeof d->stats.gpu_uuid[k], "%s", g->uuid);
                        atomic_store(&d->stats.gpu_count, n + 1);
                }
                d->busy_us_total[k] += g->busy_us;
                atomic_store(&d->stats.gpu_busy_ms_total[k], d->busy_us_total[k] / 1000);
                atomic_fetch_add(&d->stats.gpu_energy_mj_total[k], g->energy_used_mj);
        }
}

static int write_start(struct daemon *d, uint64_t wall, uint64_t boot) {
        struct record *r = d->scratch;
        header(d, r, REC_START, wall, boot);
        struct rec_start *s = &r->u.start;
        snprintf(s->daemon_version, sizeof s->daemon_version, "%s", GH_VERSION);
        snprintf(s->backend, sizeof s->backend, "%s", d->ops->name);
        s->period_s = d->cfg.period_s;
        s->sample_interval_us = d->cfg.sample_interval_us;
        memcpy(s->driver_version, d->inv.driver_version, sizeof s->driver_version);
        memcpy(s->nvml_version, d->inv.nvml_version, sizeof s->nvml_version);
        s->gpu_count = d->inv.gpu_count;
        memcpy(s->gpus, d->inv.gpus, sizeof s->gpus);
        return submit(d, r);
}

static int write_inventory(struct daemon *d, uint64_t wall, uint64_t boot) {
        struct sampler_inventory *now = malloc(sizeof *now);
        if (!now)
                return -ENOMEM;
        int rc = d->ops->inventory(d->sampler, now);
        if (rc != 0) {
                log_warn("sampler: inventory failed after a change (%s); keeping the old list",
                         gh_strerror(rc));
                free(now);
                return 0;
        }
        struct record *r = d->scratch;
        header(d, r, REC_INVENTORY, wall, boot);
        struct rec_inventory *v = &r->u.inventory;
        uint8_t reason = now->reason & INV_REASON_ALL; /* what the backend knows */
        reason |= gpu_set_diff(d->inv.gpus, d->inv.gpu_count, gpu_info_uuid, now->gpus,
                               now->gpu_count, gpu_info_uuid);
        if (strcmp(now->driver_version, d->inv.driver_version) != 0 ||
            strcmp(now->nvml_version, d->inv.nvml_version) != 0)
                reason |= INV_DRIVER_CHANGED;
        v->reason = reason ? reason : INV_REINIT;
        memcpy(v->driver_version, now->driver_version, sizeof v->driver_version);
        memcpy(v->nvml_version, now->nvml_version, sizeof v->nvml_version);
        v->gpu_count = now->gpu_count;
        memcpy(v->gpus, now->gpus, sizeof v->gpus);
        d->inv = *now;
        free(now);
        log_notice("sampler: GPU inventory changed (%u GPUs now)", v->gpu_count);
        http_set_inventory(d->http, d->inv.gpus, d->inv.gpu_count);
        return submit(d, r);
}

static int close_window(struct daemon *d, uint64_t wall, uint64_t boot, bool at_boundary) {
        if (!d->acc.open)
                return 0;
        struct record *r = d->scratch;
        header(d, r, REC_SUMMARY, wall, boot);
        accum_finish(&d->acc, wall, boot, at_boundary, &r->u.summary);
        return submit(d, r);
}

/* ---------------------------------------------------------------- sampling */

static int64_t clock_offset(uint64_t wall, uint64_t boot) {
        return (int64_t)(wall - boot);
}

static uint64_t step_threshold_ns(const struct daemon *d) {
        uint64_t two = 2 * d->interval_ns;
        return two > NS ? two : NS;
}

/* Sampling that stops longer than this (boot clock) is a stall: a gap between windows. */
static uint64_t stall_threshold_ns(const struct daemon *d) {
        uint64_t three = 3 * d->interval_ns;
        return three > NS ? three : NS;
}

static void log_stall(uint64_t from_boot, uint64_t to_boot) {
        uint64_t len = to_boot - from_boot;
        log_warn("sampling stalled for %" PRIu64 ".%03" PRIu64 " s (a stopped process, a hung "
                 "driver call or a paused VM); the summary ends at the last sample before "
                 "the stall and a new one starts now, so the stall is a gap between summaries",
                 len / NS, len % NS / 1000000);
}

/*
 * At start-up, against the ledger's last record of the same boot ID: a boot
 * clock behind it (a time namespace, a tampered clock) is impossible within
 * one boot; a wall clock that moved against the boot clock since then beyond
 * the step tolerance is a clock step. Both are logged; the start record's
 * header is the record of them (the client judges every header's
 * wall - boot offset against the boot's first reading, proto/ANALYSIS.md
 * section 5, and a backwards boot clock is its rule B2). A clock-step record
 * here would make the client count the same step twice.
 */
static void check_clock_since_last(const struct daemon *d, const struct record *last, uint64_t wall,
                                   uint64_t boot) {
        if (memcmp(last->boot_id, d->boot_id, 16) != 0)
                return; /* a reboot: no common boot clock to compare with */
        if (boot < last->boot_ns) {
                uint64_t back = last->boot_ns - boot;
                log_warn("clock: the boot clock is %" PRIu64 ".%03" PRIu64 " s behind the "
                         "ledger's last record of this boot (boot ID unchanged): impossible "
                         "within one boot; the start record shows it",
                         back / NS, back % NS / 1000000);
                return;
        }
        int64_t moved = clock_offset(wall, boot) - clock_offset(last->wall_ns, last->boot_ns);
        uint64_t amoved = moved < 0 ? (uint64_t)-moved : (uint64_t)moved;
        if (amoved > step_threshold_ns(d))
                log_warn("clock: wall time moved %s%" PRIu64 ".%03" PRIu64 " s against boot "
                         "time since the ledger's last record of this boot; the start record "
                         "shows it",
                         moved < 0 ? "-" : "+", amoved / NS, amoved % NS / 1000000);
}

/*
 * Read the sampler into d->rd for the instant (*wall, *boot), taken just
 * before the call; dt_us as for sampler_ops.read. A read that returns more
 * than the stall threshold after that instant (a hung driver call, or the
 * daemon stopped by SIGSTOP, a debugger or a paused VM before, during or
 * after the read) holds counters of an unknown instant in that span, and
 * stamped with the time it returned, a reading taken before a stop would
 * move the energy of the whole stop out of the gap and into the next
 * window. So it is read again, and the reading is stamped with the instant
 * just before that second read. Only if that one is slow too is the
 * reading stamped with the instant it returned (the latest its values can
 * be from). Returns the read's result: 0, 1 when any of the reads reported
 * an inventory change, or negative.
 */
static int read_sampler(struct daemon *d, uint64_t *wall, uint64_t *boot, uint64_t dt_us,
                        size_t *n) {
        bool changed = false;
        int rc = 0;
        for (int attempt = 0; attempt < 2; attempt++) {
                uint64_t wall2, boot2;
                *n = 0;
                rc = d->ops->read(d->sampler, dt_us, d->rd, n);
                changed = changed || rc == 1;
                clocks_now(&wall2, &boot2);
                if (boot2 - *boot <= stall_threshold_ns(d))
                        break;
                if (attempt == 0) {
                        uint64_t late = boot2 - *boot;
                        log_info("sampler: a read returned %" PRIu64 ".%03" PRIu64 " s late; "
                                 "reading again so that the values belong to their time stamp",
                                 late / NS, late % NS / 1000000);
                        clocks_now(wall, boot);
                        dt_us = *boot / 1000 - boot2 / 1000;
                } else {
                        *wall = wall2;
                        *boot = boot2;
                }
        }
        return rc < 0 ? rc : changed ? 1 : 0;
}

/*
 * Take one sample at (wall, boot). final: the last one before exiting.
 * Returns 0 or a negative errno (fatal).
 */
static int take_sample(struct daemon *d, uint64_t wall, uint64_t boot, bool final) {
        uint64_t dt_us = d->have_prev ? boot / 1000 - d->prev_boot / 1000 : 0;
        size_t n = 0;
        int rc = read_sampler(d, &wall, &boot, dt_us, &n);
        bool ok = rc >= 0;
        if (!ok) {
                atomic_fetch_add(&d->stats.sampler_errors_total, 1);
                if (d->sampler_ok)
                        log_err("sampler: %s read failed (%s); the GPUs are unobserved until it "
                                "recovers",
                                d->ops->name, gh_strerror(rc));
                d->sampler_ok = false;
                atomic_store(&d->stats.sampler_ok, 0);
                d->nrd = 0;
                update_status(d, false);
        } else {
                if (!d->sampler_ok && d->have_prev) {
                        log_notice("sampler: %s reads work again", d->ops->name);
                        d->sampler_ok = true;
                        update_status(d, false);
                }
                d->sampler_ok = true;
                atomic_store(&d->stats.sampler_ok, 1);
                d->nrd = n;
                atomic_fetch_add(&d->stats.samples_total, 1);
                atomic_store(&d->stats.last_sample_boot_ns, boot);
                atomic_store(&d->stats.last_sample_wall_ns, wall);
                stats_gpus(d);
        }
        if (ok && rc == 1) {
                int e = write_inventory(d, wall, boot);
                if (e < 0)
                        return e;
        }

        if (!d->have_prev) {
                accum_begin(&d->acc, wall, boot, false, d->rd, d->nrd);
                d->next_boundary = accum_period_start(wall, d->cfg.period_s) + d->period_ns;
        } else {
                int64_t moved = clock_offset(wall, boot) - clock_offset(d->prev_wall, d->prev_boot);
                uint64_t amoved = moved < 0 ? (uint64_t)-moved : (uint64_t)moved;
                if (amoved > step_threshold_ns(d)) {
                        log_warn("clock: wall time moved %s%" PRIu64 ".%03" PRIu64
                                 " s against boot time; writing a clock-step record",
                                 moved < 0 ? "-" : "+", amoved / NS, amoved % NS / 1000000);
                        /* Close the window at the last sample before the step. */
                        rc = close_window(d, d->prev_wall, d->prev_boot, false);
                        if (rc < 0)
                                return rc;
                        struct record *r = d->scratch;
                        header(d, r, REC_CLOCK_STEP, wall, boot);
                        r->u.clock_step.prev_wall_ns = d->prev_wall;
                        r->u.clock_step.prev_boot_ns = d->prev_boot;
                        rc = submit(d, r);
                        if (rc < 0)
                                return rc;
                        accum_begin(&d->acc, wall, boot, false, d->rd, d->nrd);
                        d->next_boundary = accum_period_start(wall, d->cfg.period_s) + d->period_ns;
                        if (boot - d->prev_boot > stall_threshold_ns(d))
                                log_stall(d->prev_boot, boot);
                } else if (boot - d->prev_boot > stall_threshold_ns(d)) {
                        /*
                         * A stall: end the window at the last good sample, start a new
                         * one here (this reading is its baseline), so the stalled time is
                         * a gap between summaries, not an average inside one.
                         */
                        log_stall(d->prev_boot, boot);
                        rc = close_window(d, d->prev_wall, d->prev_boot, false);
                        if (rc < 0)
                                return rc;
                        if (!final) {
                                accum_begin(&d->acc, wall, boot, false, d->rd, d->nrd);
                                d->next_boundary =
                                        accum_period_start(wall, d->cfg.period_s) + d->period_ns;
                        }
                } else {
                        if (ok)
                                accum_add(&d->acc, dt_us, d->rd, d->nrd);
                        if (final) {
                                rc = close_window(d, wall, boot, false);
                                if (rc < 0)
                                        return rc;
                        } else if (wall >= d->next_boundary) {
                                /* One boundary crossed: a full window if it began at one. */
                                bool one = wall < d->next_boundary + d->period_ns;
                                rc = close_window(d, wall, boot, one);
                                if (rc < 0)
                                        return rc;
                                accum_begin(&d->acc, wall, boot, one, d->rd, d->nrd);
                                d->next_boundary =
                                        accum_period_start(wall, d->cfg.period_s) + d->period_ns;
                        }
                }
        }
        d->have_prev = true;
        d->prev_wall = wall;
        d->prev_boot = boot;
        d->obs_wall = wall;
        d->obs_boot = boot;
        return 0;
}

/*
 * Called at every wake: pings at most every WatchdogSec/2, and only while
 * sampling works (health.h: a stalled sampler is worth a restart, a full disk
 * is not).
 */
static void maybe_ping(struct daemon *d, uint64_t boot) {
        if (!d->wd_half_ns || boot < d->next_wd)
                return;
        d->next_wd = boot + d->wd_half_ns;
        char why[160];
        if (health_check(&d->stats, d->interval_ns, d->cfg.period_s, boot, why, sizeof why) !=
            HEALTH_STALLED)
                notify_watchdog();
}

/* The boundary as a CLOCK_BOOTTIME instant, from the latest clock observation. */
static uint64_t boundary_boot(const struct daemon *d) {
        if (d->next_boundary <= d->obs_wall)
                return d->obs_boot;
        return d->obs_boot + (d->next_boundary - d->obs_wall);
}

/* Runs until SIGTERM/SIGINT; returns the stop reason in reason, or a negative errno. */
static int run_loop(struct daemon *d, char *reason, size_t reasonlen) {
        for (;;) {
                uint64_t target = d->next_tick;
                bool boundary = false;
                uint64_t bb = boundary_boot(d);
                if (bb <= d->next_tick + 1000000u) {
                        target = bb;
                        boundary = true;
                }
                uint64_t wake = target;
                if (d->wd_half_ns && d->next_wd < wake)
                        wake = d->next_wd;
                /*
                 * Sleep until the absolute CLOCK_BOOTTIME deadline. The relative
                 * timeout is recomputed from the deadline at every wake, so
                 * nothing drifts; an early wake just sleeps again.
                 */
                uint64_t now = boot_now();
                uint64_t rel = wake > now ? wake - now : 0;
                struct timespec ts = {.tv_sec = (time_t)(rel / NS), .tv_nsec = (long)(rel % NS)};
                struct pollfd p[1] = {{.fd = d->sfd, .events = POLLIN}};
                if (ppoll(p, 1, &ts, NULL) < 0) {
                        if (errno == EINTR)
                                continue;
                        log_err("poll: %s", strerror(errno));
                        return -errno;
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(d->sfd, &si, sizeof si) == sizeof si) {
                                if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
                                        snprintf(reason, reasonlen, "%s",
                                                 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
                                        return 0;
                                }
                                log_info("ignoring signal %u", si.ssi_signo);
                        }
                        continue;
                }
                uint64_t wall, boot;
                clocks_now(&wall, &boot);
                d->obs_wall = wall;
                d->obs_boot = boot;
                if (boot < target) { /* a watchdog-only wake */
                        maybe_ping(d, boot);
                        continue;
                }
                if (boundary && wall < d->next_boundary &&
                    d->next_boundary - wall < d->interval_ns &&
                    d->next_boundary - wall < 1000000000u) {
                        continue; /* wall time lags: wake again at the corrected instant */
                }
                if (d->nospace && (d->npending || ledger_unpublished(d->ledger)) &&
                    boot >= d->retry_at) {
                        int rc = submit(d, NULL);
                        if (rc < 0)
                                return rc;
                }
                int rc = take_sample(d, wall, boot, false);
                if (rc < 0)
                        return rc;
                maybe_ping(d, boot);
                d->next_tick = target + d->interval_ns;
                if (d->next_tick <= d->obs_boot) {
                        /* Late (a stalled sampler): skip the missed ticks, keep the phase. */
                        uint64_t behind = d->obs_boot - d->next_tick;
                        d->next_tick += (behind / d->interval_ns + 1) * d->interval_ns;
                }
                atomic_store(&d->stats.next_summary_due_boot_ns, boundary_boot(d));
        }
}

/* ---------------------------------------------------------------- main */

/*
 * Load (or create) the node key into d->signer and d->vkey; src tells where
 * the key came from. 0 or EXIT_RUNTIME (logged).
 */
static int load_key(struct daemon *d, char *src, size_t src_size, bool *created) {
        char err[1024];
        int rc = key_load(d->cfg.state_dir, d->cfg.origin, &d->signer, src, src_size, created,
                          err, sizeof err);
        if (rc) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        struct note_verifier v;
        signer_verifier(&d->signer, &v);
        size_t vlen;
        rc = vkey_format(&v, d->vkey, sizeof d->vkey, &vlen);
        if (rc) {
                log_err("cannot format the vkey: %s", gh_strerror(rc));
                return EXIT_RUNTIME;
        }
        return 0;
}

static int print_key(struct daemon *d) {
        char src[1300], err[1300];
        /* No lock: --print-key runs beside the daemon that holds it. */
        int rc = statedir_open_unlocked(d->cfg.state_dir, &d->state_fd, err, sizeof err);
        if (rc) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        rc = load_key(d, src, sizeof src, NULL);
        if (rc)
                return rc;
        printf("%s\n", d->vkey);
        return fflush(stdout) == 0 ? 0 : EXIT_RUNTIME;
}

static int setup_signals(struct daemon *d) {
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGTERM);
        sigaddset(&set, SIGINT);
        sigaddset(&set, SIGHUP);
        /* Blocked before any thread exists, so only the signalfd sees them. */
        if (sigprocmask(SIG_BLOCK, &set, NULL) != 0)
                return -errno;
        signal(SIGPIPE, SIG_IGN);
        d->sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
        if (d->sfd < 0)
                return -errno;
        return 0;
}

/*
 * Start-up, in order, so that a typo never reaches the ledger: the settings
 * were parsed and validated by config_load; then the listening socket is
 * bound, the state directory locked, the key and the ledger opened (with
 * recovery) and the sampler opened; only then is the first record written
 * and the API served (connections wait in the bound socket's backlog).
 */
static int run(struct daemon *d) {
        char err[1024], src[1300];
        int rc;

        if ((rc = setup_signals(d)) != 0) {
                log_err("signal setup: %s", strerror(-rc));
                return EXIT_RUNTIME;
        }
        int lfd = notify_listen_fd(err, sizeof err);
        if (lfd == -2) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        bool own_fd = lfd < 0;
        if (own_fd && (rc = http_bind(d->cfg.listen, &lfd, err, sizeof err)) != 0) {
                log_err("%s", err);
                return rc == -EINVAL ? EXIT_USAGE : EXIT_RUNTIME;
        }
        if (own_fd)
                d->own_listen_fd = lfd; /* closed by cleanup until http_start takes it */
        if (statedir_open(d->cfg.state_dir, &d->state_fd, err, sizeof err) != 0) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        bool key_created = false;
        if ((rc = load_key(d, src, sizeof src, &key_created)) != 0)
                return rc;
        if (key_created)
                log_warn("created a NEW node key (%s): this is a new identity for '%s'; "
                         "auditors who trusted an earlier key for this origin will see a "
                         "different key (if the state directory was moved, deleted or "
                         "unmounted, stop and restore it)",
                         src, d->signer.name);
        else
                log_info("signing as '%s' with the key %s", d->signer.name, src);
        struct stat kst;
        if (fstatat(d->state_fd, KEY_FILE, &kst, AT_SYMLINK_NOFOLLOW) == 0 &&
            strncmp(src, "from the credential", 19) != 0)
                d->key_created_ns = (uint64_t)kst.st_mtim.tv_sec * NS + (uint64_t)kst.st_mtim.tv_nsec;

        rc = ledger_open(d->cfg.state_dir, &d->signer, &d->ledger, err, sizeof err);
        if (rc) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        log_info("ledger: %" PRIu64 " records in '%s'", ledger_size(d->ledger), d->cfg.state_dir);
        if (d->cfg.witnesses[0]) {
                struct note_verifier nv;
                signer_verifier(&d->signer, &nv);
                rc = push_start(d->cfg.witnesses, d->cfg.state_dir, d->ledger, &nv, d->cfg.period_s,
                                &d->push, err, sizeof err);
                if (rc) {
                        log_err("%s", err);
                        return rc == EXIT_USAGE ? EXIT_USAGE : EXIT_RUNTIME;
                }
        }

        d->ops = strcmp(d->cfg.backend, "sim") == 0 ? &sampler_sim_ops : &sampler_nvml_ops;
        struct sampler_config scfg = {.sim_gpus = d->cfg.sim_gpus, .sim_dir = d->cfg.sim_dir};
        rc = d->ops->open(&scfg, &d->sampler, err, sizeof err);
        if (rc && d->ops != &sampler_nvml_ops) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        if (rc) {
                /* No driver or no GPU: restarting cannot help (the unit's
                 * RestartPreventExitStatus=3); say so instead of a restart
                 * every RestartSec= forever. */
                log_err("%s", err);
                log_err("exiting with status %d: no usable GPU backend; systemd will not "
                        "restart gpuhoursd (install the NVIDIA driver or set backend = sim, "
                        "then: systemctl restart gpuhoursd)",
                        EXIT_NO_GPUS);
                notify_status("failed: no usable GPU backend (see the journal)");
                return EXIT_NO_GPUS;
        }
        rc = d->ops->inventory(d->sampler, &d->inv);
        if (rc) {
                log_err("sampler: %s inventory failed: %s", d->ops->name, gh_strerror(rc));
                return EXIT_RUNTIME;
        }
        d->sampler_ok = true;
        atomic_store(&d->stats.appending_ok, 1);

        struct record *last = malloc(sizeof *last);
        if (!last) {
                log_err("out of memory");
                return EXIT_RUNTIME;
        }
        bool have_last = ledger_last_record(d->ledger, last) == 0;
        uint64_t wall, boot;
        clocks_now(&wall, &boot);
        atomic_store(&d->stats.start_wall_ns, wall);
        if (have_last)
                check_clock_since_last(d, last, wall, boot);
        free(last);
        rc = write_start(d, wall, boot);
        if (rc < 0)
                return EXIT_RUNTIME;
        clocks_now(&wall, &boot);
        if (take_sample(d, wall, boot, false) < 0)
                return EXIT_RUNTIME;
        d->next_tick = boot + d->interval_ns;
        struct http_config hc = {
                .listen = d->cfg.listen,
                .listen_fd = lfd,
                .own_listen_fd = own_fd,
                .ledger = d->ledger,
                .stats = &d->stats,
                .push = d->push,
                .node = {.origin = d->cfg.origin,
                         .vkey = d->vkey,
                         .backend = d->ops->name,
                         .period_s = d->cfg.period_s,
                         .key_created_ns = d->key_created_ns,
                         .sample_interval_s = (double)d->cfg.sample_interval_us / 1e6},
        };
        rc = http_start(&hc, &d->http, err, sizeof err);
        d->own_listen_fd = -1; /* http_start owns it now, even when it fails */
        if (rc) {
                log_err("%s", err);
                return EXIT_RUNTIME;
        }
        http_set_inventory(d->http, d->inv.gpus, d->inv.gpu_count);
        if (d->push && (rc = push_run(d->push)) != 0) {
                log_err("witnesses: cannot start the push thread: %s", strerror(-rc));
                return EXIT_RUNTIME;
        }
        /* http_start logged the address it listens on: not repeated here. */
        log_info("started: sampling %u %s GPU(s) every %u.%06u s, period %u s%s",
                 d->inv.gpu_count, d->ops->name, d->cfg.sample_interval_us / 1000000u,
                 d->cfg.sample_interval_us % 1000000u, d->cfg.period_s,
                 !own_fd ? "; HTTP on the socket passed by systemd" : "");

        uint64_t wd = notify_watchdog_usec();
        d->wd_half_ns = wd * 1000u / 2;
        update_status(d, true);
        maybe_ping(d, boot_now());

        char reason[32] = "";
        rc = run_loop(d, reason, sizeof reason);
        if (rc < 0)
                return EXIT_RUNTIME;

        notify_stopping();
        log_info("stopping (%s)", reason);
        /* Stopping during a no-space backoff: one last attempt for each record. */
        d->retry_at = 0;
        clocks_now(&wall, &boot);
        if (take_sample(d, wall, boot, true) < 0)
                return EXIT_RUNTIME;
        struct record *r = d->scratch;
        header(d, r, REC_STOP, wall, boot);
        d->retry_at = 0;
        snprintf(r->u.stop.reason, sizeof r->u.stop.reason, "%s", reason);
        if (submit(d, r) < 0)
                return EXIT_RUNTIME;
        if (d->npending || d->nospace || ledger_unpublished(d->ledger)) {
                log_err("ledger: exiting with %zu record(s) unwritten (no space left)%s",
                        d->npending,
                        ledger_unpublished(d->ledger)
                                ? "; signed records wait for their checkpoint (the next start "
                                  "publishes the same tree)"
                                : "");
                return EXIT_RUNTIME;
        }
        return 0;
}

static void cleanup(struct daemon *d) {
        http_stop(d->http);
        push_stop(d->push);
        if (d->sampler)
                d->ops->close(d->sampler);
        ledger_close(d->ledger);
        signer_free(&d->signer);
        for (size_t i = 0; i < d->npending; i++)
                free(d->pending[i]);
        free(d->scratch);
        if (d->sfd >= 0)
                close(d->sfd);
        if (d->own_listen_fd >= 0)
                close(d->own_listen_fd);
        if (d->state_fd >= 0)
                close(d->state_fd);
}

int main(int argc, char **argv) {
        char err[1024];
        log_init();
        struct daemon *d = calloc(1, sizeof *d);
        if (!d) {
                fprintf(stderr, "gpuhoursd: out of memory\n");
                return EXIT_RUNTIME;
        }
        d->sfd = d->state_fd = d->own_listen_fd = -1;
        int rc = config_load(argc, argv, &d->cfg, err, sizeof err);
        if (rc) {
                fprintf(stderr, "gpuhoursd: %s\n", err);
                free(d);
                return EXIT_USAGE;
        }
        switch (d->cfg.action) {
        case CONFIG_HELP:
                config_usage(stdout);
                free(d);
                return 0;
        case CONFIG_VERSION:
                printf("gpuhoursd %s\n", GH_VERSION);
                free(d);
                return 0;
        case CONFIG_PRINT_KEY:
        case CONFIG_RUN:
                break;
        }
        if (sodium_init() < 0) {
                log_err("libsodium failed to initialise");
                free(d);
                return EXIT_RUNTIME;
        }
        if (d->cfg.action == CONFIG_PRINT_KEY) {
                rc = print_key(d);
                signer_free(&d->signer);
                if (d->state_fd >= 0)
                        close(d->state_fd);
                free(d);
                return rc;
        }
        d->interval_ns = (uint64_t)d->cfg.sample_interval_us * 1000u;
        d->period_ns = (uint64_t)d->cfg.period_s * NS;
        accum_init(&d->acc, d->cfg.period_s, d->cfg.sample_interval_us);
        read_boot_id(d->boot_id);
        d->scratch = malloc(sizeof *d->scratch);
        if (!d->scratch) {
                log_err("out of memory");
                free(d);
                return EXIT_RUNTIME;
        }
        rc = run(d);
        cleanup(d);
        free(d);
        return rc;
}
