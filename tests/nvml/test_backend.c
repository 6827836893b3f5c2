/* SPDX-License-Identifier: MIT */
/*
 * The NVML backend (daemon/nvml.c) driven directly through sampler_nvml_ops
 * against the NVML test double (libnvidia-ml.so.1 built next to this test),
 * scripted through $FAKE_NVML_CONFIG. Real time: the double's samples follow
 * CLOCK_BOOTTIME, so the tests sleep (short sample periods keep them fast).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "sampler.h"

static char fake_dir[4096], cfg_path[4096];

static const char *lib(const char *variant) {
        static char path[4096 + 64];
        snprintf(path, sizeof path, "%s/%s%slibnvidia-ml.so.1", fake_dir, variant,
                 variant[0] ? "/" : "");
        return path;
}

static void write_cfg(const char *text) {
        char tmp[4096 + 8];
        snprintf(tmp, sizeof tmp, "%s.tmp", cfg_path);
        FILE *f = fopen(tmp, "w");
        assert_non_null(f);
        fputs(text, f);
        assert_int_equal(fclose(f), 0);
        assert_int_equal(rename(tmp, cfg_path), 0);
}

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_BOOTTIME, &ts);
        return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_us(uint64_t us) {
        struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000};
        nanosleep(&ts, NULL);
}

struct run {
        struct sampler *s;
        struct sampler_inventory inv;
        struct gpu_reading out[RECORD_MAX_GPUS];
        size_t n;
        uint64_t last;
};

static struct run *run_open(const char *variant, const char *cfg) {
        write_cfg(cfg);
        struct run *r = calloc(1, sizeof *r);
        assert_non_null(r);
        struct sampler_config c = {.nvml_lib = lib(variant)};
        char err[512] = "";
        int rc = sampler_nvml_ops.open(&c, &r->s, err, sizeof err);
        if (rc != 0)
                fail_msg("open: %d %s", rc, err);
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        r->last = now_us();
        return r;
}

/* One read with the real elapsed time; returns read()'s result. */
static int run_read(struct run *r) {
        uint64_t t = now_us();
        int rc = sampler_nvml_ops.read(r->s, t - r->last, r->out, &r->n);
        r->last = t;
        return rc;
}

static void run_close(struct run *r) {
        sampler_nvml_ops.close(r->s);
        free(r);
}

static const struct gpu_reading *find_reading(const struct run *r, const char *uuid) {
        for (size_t i = 0; i < r->n; i++)
                if (strcmp(r->out[i].uuid, uuid) == 0)
                        return &r->out[i];
        return NULL;
}

/* The reading of that GPU, which must be there. */
static const struct gpu_reading *reading(const struct run *r, const char *uuid) {
        const struct gpu_reading *g = find_reading(r, uuid);
        if (!g) {
                print_error("no reading for %s\n", uuid);
                abort();
        }
        return g;
}

/* Totals of one GPU over reads for `us` microseconds, one read every 20 ms. */
struct totals {
        uint64_t dt, busy, occupied, energy, reads;
        uint8_t flags_or, flags_and;
        uint32_t procs_max, xids;
};

static struct totals read_for(struct run *r, const char *uuid, uint64_t us) {
        struct totals t = {.flags_and = 0xff};
        uint64_t end = now_us() + us;
        while (now_us() < end) {
                sleep_us(20000);
                uint64_t before = r->last;
                assert_true(run_read(r) >= 0);
                const struct gpu_reading *g = reading(r, uuid);
                t.dt += r->last - before;
                t.busy += g->busy_us;
                t.occupied += g->occupied_us;
                t.energy += g->energy_used_mj;
                t.flags_or |= g->flags;
                t.flags_and &= g->flags;
                t.procs_max = g->procs > t.procs_max ? g->procs : t.procs_max;
                t.xids += g->xids;
                t.reads++;
        }
        return t;
}

static void test_missing_library(void **state) {
        struct sampler *s = NULL;
        char err[512] = "";
        struct sampler_config c = {.nvml_lib = "/nonexistent/libnvidia-ml.so.1"};
        int rc = sampler_nvml_ops.open(&c, &s, err, sizeof err);
        assert_int_equal(rc, -ENOENT);
        assert_null(s);
        assert_non_null(strstr(err, "not found"));
        assert_non_null(strstr(err, "use --backend sim"));
        assert_null(strchr(err, '\n'));
}

static void test_missing_required_symbol(void **state) {
        write_cfg("gpu GPU-a\n");
        struct sampler *s = NULL;
        char err[512] = "";
        struct sampler_config c = {.nvml_lib = lib("broken")};
        int rc = sampler_nvml_ops.open(&c, &s, err, sizeof err);
        assert_int_equal(rc, -ENOSYS);
        assert_null(s);
        assert_non_null(strstr(err, "nvmlDeviceGetUUID"));
}

static void test_driver_not_loaded_at_start(void **state) {
        write_cfg("driver_not_loaded 1\ngpu GPU-a\n");
        struct sampler *s = NULL;
        char err[512] = "";
        struct sampler_config c = {.nvml_lib = lib("")};
        int rc = sampler_nvml_ops.open(&c, &s, err, sizeof err);
        assert_true(rc < 0);
        assert_null(s);
        assert_non_null(strstr(err, "Driver Not Loaded"));
}

static void test_inventory(void **state) {
        struct run *r = run_open("", "driver 550.54.15\n"
                                     "nvml 12.550.54.15\n"
                                     "gpu GPU-bbbb\nserial 1651\nname NVIDIA H100 80GB HBM3\n"
                                     "pci 00000000:18:00.0\n"
                                     "gpu GPU-aaaa\nserial -\npci 00000000:17:00.0\nmig 1\n");
        assert_string_equal(r->inv.driver_version, "550.54.15");
        assert_string_equal(r->inv.nvml_version, "12.550.54.15");
        assert_int_equal(r->inv.gpu_count, 2);
        assert_int_equal(r->inv.reason, 0);
        assert_string_equal(r->inv.gpus[0].uuid, "GPU-aaaa"); /* sorted by UUID */
        assert_string_equal(r->inv.gpus[0].serial, "");       /* NOT_SUPPORTED */
        assert_int_equal(r->inv.gpus[0].mig_mode, MIG_ON);
        assert_true(r->inv.gpus[0].flags & GPU_UTIL_UNSUPPORTED);
        assert_string_equal(r->inv.gpus[1].uuid, "GPU-bbbb");
        assert_string_equal(r->inv.gpus[1].serial, "1651");
        assert_string_equal(r->inv.gpus[1].name, "NVIDIA H100 80GB HBM3");
        assert_string_equal(r->inv.gpus[1].pci_bus_id, "00000000:18:00.0");
        assert_int_equal(r->inv.gpus[1].mig_mode, MIG_OFF);
        assert_int_equal(r->inv.gpus[1].flags, 0);
        assert_true(r->inv.gpus[1].energy_mj > 0);
        assert_int_equal(run_read(r), 0);
        assert_int_equal(r->n, 2);
        assert_string_equal(r->out[0].uuid, "GPU-aaaa");
        run_close(r);
}

/* <fake_dir>/sysfs-pci/BDF/driver as a new symlink (a driver bind); returns its inode. */
static uint64_t bind_driver(const char *bdf) {
        char dir[3200], link[3300], tmp[3300];
        struct stat st;
        assert_true(strlen(fake_dir) < 3000 && strlen(bdf) < 32);
        snprintf(dir, sizeof dir, "%.3000s/sysfs-pci", fake_dir);
        (void)mkdir(dir, 0755);
        snprintf(dir, sizeof dir, "%.3000s/sysfs-pci/%.32s", fake_dir, bdf);
        (void)mkdir(dir, 0755);
        snprintf(link, sizeof link, "%.3100s/driver", dir);
        snprintf(tmp, sizeof tmp, "%.3100s/driver.new", dir);
        (void)unlink(tmp);
        /* made before the old one goes, so the inode number cannot be reused */
        assert_int_equal(symlink("../../bus/pci/drivers/nvidia", tmp), 0);
        assert_int_equal(rename(tmp, link), 0);
        assert_int_equal(lstat(link, &st), 0);
        return (uint64_t)st.st_ino;
}

/* The counter epoch: the inode of the GPU's sysfs driver link, 0 without one. */
static void test_counter_epoch(void **state) {
        (void)state;
        const char *cfg = "gpu GPU-e1\npci 00000000:3B:00.0\n"
                          "gpu GPU-e2\npci 00000000:5e:00.0\n"
                          "gpu GPU-e3\npci 0000:3B:00\n"; /* not a bus id */
        uint64_t ino = bind_driver("0000:3b:00.0");
        struct run *r = run_open("", cfg);
        assert_int_equal(r->inv.gpu_count, 3);
        assert_int_equal(r->inv.gpus[0].counter_epoch, ino); /* upper-case hex, lower in sysfs */
        assert_int_equal(r->inv.gpus[1].counter_epoch, 0);   /* no driver link */
        assert_int_equal(r->inv.gpus[2].counter_epoch, 0);   /* malformed bus id */
        run_close(r);
        /* the same binding: the same epoch at the next start */
        r = run_open("", cfg);
        assert_int_equal(r->inv.gpus[0].counter_epoch, ino);
        run_close(r);
        /* rebound (a driver reload): a new epoch */
        uint64_t ino2 = bind_driver("0000:3b:00.0");
        assert_int_not_equal(ino2, ino);
        r = run_open("", cfg);
        assert_int_equal(r->inv.gpus[0].counter_epoch, ino2);
        /* rebound while open: the inventory cannot vouch for one epoch */
        (void)bind_driver("0000:3b:00.0");
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        assert_int_equal(r->inv.gpus[0].counter_epoch, 0);
        run_close(r);
}

static void test_no_gpus(void **state) {
        struct run *r = run_open("", "driver 550.54.15\n");
        assert_int_equal(r->inv.gpu_count, 0);
        assert_int_equal(run_read(r), 0);
        assert_int_equal(r->n, 0);
        run_close(r);
}

static void check_busy(const char *util, double want) {
        char cfg[256];
        snprintf(cfg, sizeof cfg, "gpu GPU-u\nsample_us 10000\nutil %s\n", util);
        struct run *r = run_open("", cfg);
        read_for(r, "GPU-u", 100000); /* settle: cursor established */
        struct totals t = read_for(r, "GPU-u", 1500000);
        double got = (double)t.busy / (double)t.dt;
        if (got < want - 0.02 || got > want + 0.02)
                fail_msg("util %s: busy fraction %.4f, want %.2f (busy %llu of %llu us)", util, got,
                         want, (unsigned long long)t.busy, (unsigned long long)t.dt);
        assert_int_equal(t.flags_or & GPU_UTIL_UNSUPPORTED, 0);
        run_close(r);
}

static void test_busy_from_samples(void **state) {
        check_busy("75", 0.75);
        check_busy("100,0", 0.50);
        check_busy("100,0,0,0", 0.25);
        check_busy("0", 0.0);
}

static void test_busy_from_rates(void **state) {
        /* GetSamples NOT_SUPPORTED: the polled rate x dt is used. */
        struct run *r = run_open("", "gpu GPU-u\nsample_us 10000\nutil 40\n"
                                     "notsup nvmlDeviceGetSamples\n");
        struct totals t = read_for(r, "GPU-u", 1000000);
        double got = (double)t.busy / (double)t.dt;
        assert_true(got > 0.38 && got < 0.42);
        assert_int_equal(t.flags_or & GPU_UTIL_UNSUPPORTED, 0);
        run_close(r);
}

static void check_procs(unsigned stride, unsigned procs) {
        char cfg[256];
        snprintf(cfg, sizeof cfg, "gpu GPU-p\nprocs %u\nstride %u\n", procs, stride);
        struct run *r = run_open("", cfg);
        struct totals t = read_for(r, "GPU-p", 300000);
        assert_int_equal(t.procs_max, procs);
        assert_int_equal(t.occupied, procs ? t.dt : 0);
        assert_int_equal(t.flags_or & GPU_PROCS_UNSUPPORTED, 0);
        run_close(r);
}

static void test_process_strides(void **state) {
        check_procs(24, 3);
        check_procs(32, 3);
        check_procs(32, 1);
        check_procs(24, 0);
        check_procs(32, 64); /* exactly the initial buffer: 64 x 32 B must fit */
        check_procs(24, 64);
        check_procs(32, 100); /* more than the initial buffer: INSUFFICIENT_SIZE, grow, retry */
}

static void test_counter_reset(void **state) {
        struct run *r = run_open("", "gpu GPU-e\npower_mw 500000\nenergy_reset_after 5\n");
        uint64_t before = r->inv.gpus[0].energy_mj;
        int resets = 0;
        for (int i = 0; i < 10; i++) {
                sleep_us(20000);
                assert_int_equal(run_read(r), 0);
                const struct gpu_reading *g = &r->out[0];
                assert_int_equal(g->flags & GPU_ENERGY_UNSUPPORTED, 0);
                if (g->flags & GPU_COUNTER_RESET) {
                        resets++;
                        assert_true(g->energy_mj < before);
                        assert_int_equal(g->energy_used_mj, g->energy_mj); /* lower bound */
                } else {
                        assert_int_equal(g->energy_used_mj, g->energy_mj - before);
                }
                before = g->energy_mj;
        }
        assert_int_equal(resets, 1);
        run_close(r);
}

static void test_energy_from_power(void **state) {
        struct run *r = run_open("", "gpu GPU-e\npower_mw 300000\n"
                                     "notsup nvmlDeviceGetTotalEnergyConsumption\n");
        assert_true(r->inv.gpus[0].flags & GPU_ENERGY_UNSUPPORTED);
        assert_true(r->inv.gpus[0].flags & GPU_ENERGY_FROM_POWER);
        struct totals t = read_for(r, "GPU-e", 500000);
        assert_true(t.flags_and & GPU_ENERGY_UNSUPPORTED);
        assert_true(t.flags_and & GPU_ENERGY_FROM_POWER);
        double want = 300000.0 * (double)t.dt / 1e6; /* mJ */
        assert_true((double)t.energy > want * 0.99 && (double)t.energy < want * 1.01 + 1);
        run_close(r);
}

static void test_mig(void **state) {
        struct run *r = run_open("", "gpu GPU-m\nmig 1\nutil 100\nsample_us 10000\nprocs 2\n");
        assert_int_equal(r->inv.gpus[0].mig_mode, MIG_ON);
        struct totals t = read_for(r, "GPU-m", 300000);
        assert_true(t.flags_and & GPU_UTIL_UNSUPPORTED); /* not a silent zero */
        assert_int_equal(t.busy, 0);
        assert_int_equal(t.flags_or & (GPU_ENERGY_UNSUPPORTED | GPU_POWER_UNSUPPORTED), 0);
        assert_true(t.energy > 0);
        assert_int_equal(t.occupied, t.dt);
        run_close(r);
}

static void test_gpu_lost(void **state) {
        struct run *r = run_open("", "gpu GPU-a\ngpu GPU-b\nlost_after 40\n");
        assert_int_equal(r->inv.gpu_count, 2);
        int rc = 0, i;
        for (i = 0; i < 40 && rc == 0; i++) {
                sleep_us(10000);
                rc = run_read(r);
        }
        assert_int_equal(rc, 1);
        const struct gpu_reading *b = reading(r, "GPU-b");
        assert_true(b->flags & GPU_LOST);
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        assert_int_equal(r->inv.gpu_count, 1);
        assert_string_equal(r->inv.gpus[0].uuid, "GPU-a");
        assert_true(r->inv.reason & INV_GPU_VANISHED);
        assert_int_equal(run_read(r), 0);
        assert_int_equal(r->n, 1);
        assert_string_equal(r->out[0].uuid, "GPU-a");
        assert_int_equal(r->out[0].flags, 0);
        /* The periodic rescan (every 0.5 s in this build) does not bring it back. */
        for (i = 0; i < 40; i++) {
                sleep_us(20000);
                assert_int_equal(run_read(r), 0);
                assert_int_equal(r->n, 1);
        }
        run_close(r);
}

static void test_gpu_appears(void **state) {
        struct run *r = run_open("", "gpu GPU-b\n");
        assert_int_equal(run_read(r), 0);
        write_cfg("gpu GPU-b\ngpu GPU-a\nprocs 1\n");
        int rc = 0;
        uint64_t end = now_us() + 3000000;
        while (rc == 0 && now_us() < end) {
                sleep_us(20000);
                rc = run_read(r);
        }
        assert_int_equal(rc, 1); /* found by the rescan */
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        assert_int_equal(r->inv.reason, INV_GPU_APPEARED);
        assert_int_equal(r->inv.gpu_count, 2);
        assert_string_equal(r->inv.gpus[0].uuid, "GPU-a");
        sleep_us(20000);
        assert_int_equal(run_read(r), 0);
        assert_int_equal(r->n, 2);
        assert_int_equal(reading(r, "GPU-a")->procs, 1);
        run_close(r);
}

static void test_driver_change(void **state) {
        struct run *r = run_open("", "driver 535.104.05\ngpu GPU-a\npower_mw 200000\n");
        assert_int_equal(run_read(r), 0);
        write_cfg("driver 550.54.15\ngpu GPU-a\npower_mw 200000\n");
        sleep_us(20000);
        assert_int_equal(run_read(r), 1); /* LIB_RM_VERSION_MISMATCH -> reload + re-init */
        assert_int_equal(r->n, 1);
        assert_true(r->out[0].flags & GPU_COUNTER_RESET); /* new energy epoch */
        assert_int_equal(r->out[0].flags & GPU_LOST, 0);
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        assert_string_equal(r->inv.driver_version, "550.54.15");
        assert_int_equal(r->inv.reason, INV_REINIT | INV_DRIVER_CHANGED);
        assert_int_equal(r->inv.gpu_count, 1);
        sleep_us(20000);
        assert_int_equal(run_read(r), 0);
        assert_int_equal(r->out[0].flags, 0);
        run_close(r);
}

static void test_driver_unloaded_and_back(void **state) {
        struct run *r = run_open("", "gpu GPU-a\n");
        write_cfg("driver_not_loaded 1\ngpu GPU-a\n");
        sleep_us(20000);
        assert_int_equal(run_read(r), 1);
        assert_int_equal(r->n, 1);
        assert_true(r->out[0].flags & GPU_LOST);
        assert_true(r->out[0].flags & GPU_UTIL_UNSUPPORTED);
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        assert_int_equal(r->inv.gpu_count, 0);
        assert_true(r->inv.reason & INV_GPU_VANISHED);
        /* Down: reads return no GPUs and do not block. */
        uint64_t t0 = now_us();
        assert_int_equal(run_read(r), 0);
        assert_int_equal(r->n, 0);
        assert_true(now_us() - t0 < 100000);
        write_cfg("gpu GPU-a\n");
        /* Backoff: the first retry is due 1 s after the failure. */
        int rc = 0;
        uint64_t end = now_us() + 5000000;
        while (rc == 0 && now_us() < end) {
                sleep_us(50000);
                rc = run_read(r);
        }
        assert_int_equal(rc, 1);
        assert_int_equal(r->n, 1);
        assert_int_equal(sampler_nvml_ops.inventory(r->s, &r->inv), 0);
        assert_int_equal(r->inv.gpu_count, 1);
        assert_true(r->inv.reason & INV_REINIT);
        assert_true(r->inv.reason & INV_GPU_APPEARED);
        run_close(r);
}

static void test_missing_optional_symbols(void **state) {
        struct run *r = run_open("minimal", "gpu GPU-a\nutil 60\nsample_us 10000\n"
                                            "power_mw 100000\nprocs 1\n");
        assert_int_equal(r->inv.gpus[0].mig_mode, MIG_UNKNOWN);
        struct totals t = read_for(r, "GPU-a", 500000);
        assert_true(t.flags_and & GPU_ENERGY_UNSUPPORTED);
        assert_true(t.flags_and & GPU_ENERGY_FROM_POWER);
        assert_true(t.flags_and & GPU_MEM_UNSUPPORTED);
        assert_int_equal(t.flags_or & (GPU_UTIL_UNSUPPORTED | GPU_PROCS_UNSUPPORTED), 0);
        double got = (double)t.busy / (double)t.dt;
        assert_true(got > 0.58 && got < 0.62); /* from the polled rate */
        assert_true(t.energy > 0);
        run_close(r);
}

static void test_xid(void **state) {
        struct run *r = run_open("", "gpu GPU-a\ngpu GPU-x\nxid_after 30 79\n");
        struct totals a = {0}, x = {0};
        for (int i = 0; i < 20; i++) {
                sleep_us(5000);
                assert_int_equal(run_read(r), 0);
                a.xids += reading(r, "GPU-a")->xids;
                x.xids += reading(r, "GPU-x")->xids;
        }
        assert_int_equal(a.xids, 0);
        assert_int_equal(x.xids, 1);
        run_close(r);
}

int main(void) {
        const char *dir = getenv("NVML_FAKE_DIR");
        if (!dir) {
                fprintf(stderr, "NVML_FAKE_DIR is not set\n");
                return 1;
        }
        snprintf(fake_dir, sizeof fake_dir, "%s", dir);
        snprintf(cfg_path, sizeof cfg_path, "%s/test-backend-%ld.conf", dir, (long)getpid());
        setenv("FAKE_NVML_CONFIG", cfg_path, 1);
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_missing_library),
                cmocka_unit_test(test_missing_required_symbol),
                cmocka_unit_test(test_driver_not_loaded_at_start),
                cmocka_unit_test(test_inventory),
                cmocka_unit_test(test_counter_epoch),
                cmocka_unit_test(test_no_gpus),
                cmocka_unit_test(test_busy_from_samples),
                cmocka_unit_test(test_busy_from_rates),
                cmocka_unit_test(test_process_strides),
                cmocka_unit_test(test_counter_reset),
                cmocka_unit_test(test_energy_from_power),
                cmocka_unit_test(test_mig),
                cmocka_unit_test(test_gpu_lost),
                cmocka_unit_test(test_gpu_appears),
                cmocka_unit_test(test_driver_change),
                cmocka_unit_test(test_driver_unloaded_and_back),
                cmocka_unit_test(test_missing_optional_symbols),
                cmocka_unit_test(test_xid),
        };
        int rc = cmocka_run_group_tests(tests, NULL, NULL);
        unlink(cfg_path);
        return rc;
}
