/* SPDX-License-Identifier: MIT */
/* Unit tests for the daemon's accumulator and option parsers (the .c files are included). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../../daemon/accum.c"
#include "../../daemon/settings.c"

#include <dirent.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsutil.h"

static void reading(struct gpu_reading *r, const char *uuid, uint64_t busy_us, uint64_t occ_us,
                    uint64_t energy_mj, uint64_t used_mj, uint32_t power_mw) {
        memset(r, 0, sizeof *r);
        snprintf(r->uuid, sizeof r->uuid, "%s", uuid);
        r->busy_us = busy_us;
        r->occupied_us = occ_us;
        r->energy_mj = energy_mj;
        r->energy_used_mj = used_mj;
        r->power_mw = power_mw;
        r->procs = occ_us ? 1 : 0;
        r->mem_used_bytes = busy_us * 10;
}

static struct rec_summary sum;

static void test_accum_full_window(void **state) {
        (void)state;
        struct accum a;
        struct gpu_reading r[2];
        accum_init(&a, 1, 100000);
        const uint64_t t0 = 1700000000ull * 1000000000ull, b0 = 5000000000ull;
        reading(&r[0], "GPU-a", 0, 0, 1000, 0, 60000);
        reading(&r[1], "GPU-b", 0, 0, 5000, 0, 60000);
        accum_begin(&a, t0, b0, true, r, 2);
        uint64_t e = 1000;
        for (int i = 0; i < 10; i++) {
                e += 38;
                reading(&r[0], "GPU-a", 50000, 100000, e, 38, i < 5 ? 60000 : 700000);
                reading(&r[1], "GPU-b", 333, 0, 5000 + 6 * (uint64_t)(i + 1), 6, 60000);
                accum_add(&a, 100000, r, 2);
        }
        accum_finish(&a, t0 + 1000000000ull, b0 + 1000000000ull, true, &sum);
        assert_int_equal(sum.flags, 0);
        assert_int_equal(sum.period_start_ns, t0);
        assert_int_equal(sum.samples_taken, 10);
        assert_int_equal(sum.samples_expected, 10);
        assert_int_equal(sum.gpu_count, 2);
        assert_string_equal(sum.gpus[0].uuid, "GPU-a");
        assert_int_equal(sum.gpus[0].observed_ms, 1000);
        assert_int_equal(sum.gpus[0].busy_ms, 500);
        assert_int_equal(sum.gpus[0].occupied_ms, 1000);
        assert_int_equal(sum.gpus[0].energy_start_mj, 1000);
        assert_int_equal(sum.gpus[0].energy_end_mj, 1380);
        assert_int_equal(sum.gpus[0].energy_used_mj, 380);
        assert_int_equal(sum.gpus[0].power_avg_mw, 380000); /* time-weighted */
        assert_int_equal(sum.gpus[0].power_max_mw, 700000);
        assert_int_equal(sum.gpus[0].procs_max, 1);
        /* 10 x 333 us = 3330 us: rounded to ms only at the end (3), not per sample (0) */
        assert_int_equal(sum.gpus[1].busy_ms, 3);
        assert_int_equal(sum.gpus[1].occupied_ms, 0);
        assert_int_equal(sum.gpus[1].energy_used_mj, 60);
        assert_false(a.open);
}

static void test_accum_partial_and_gpu_changes(void **state) {
        (void)state;
        struct accum a;
        struct gpu_reading r[2];
        accum_init(&a, 300, 1000000);
        const uint64_t t0 = 1700000123ull * 1000000000ull;
        reading(&r[0], "GPU-b", 0, 0, 10, 0, 60000);
        accum_begin(&a, t0, 7, false, r, 1);
        assert_int_equal(a.period_start_ns, 1700000100ull * 1000000000ull);
        /* GPU-a appears: its first reading is only a baseline */
        reading(&r[0], "GPU-a", 1000000, 1000000, 500, 400, 700000);
        reading(&r[1], "GPU-b", 0, 0, 70, 60, 60000);
        accum_add(&a, 1000000, r, 2);
        reading(&r[0], "GPU-a", 1000000, 1000000, 1200, 700, 700000);
        accum_add(&a, 1000000, r, 1); /* GPU-b missing from this reading */
        accum_finish(&a, t0 + 2400000000ull, 7 + 2400000000ull, true, &sum);
        assert_int_equal(sum.flags, SUMMARY_PARTIAL); /* did not start at a boundary */
        assert_int_equal(sum.samples_taken, 2);
        assert_int_equal(sum.samples_expected, 2); /* 2.4 s / 1 s rounded */
        assert_int_equal(sum.gpu_count, 2);
        assert_string_equal(sum.gpus[0].uuid, "GPU-a");
        assert_int_equal(sum.gpus[0].observed_ms, 1000);
        assert_int_equal(sum.gpus[0].energy_start_mj, 500);
        assert_int_equal(sum.gpus[0].energy_end_mj, 1200);
        assert_int_equal(sum.gpus[0].energy_used_mj, 700);
        assert_int_equal(sum.gpus[0].flags, 0);
        assert_string_equal(sum.gpus[1].uuid, "GPU-b");
        assert_int_equal(sum.gpus[1].observed_ms, 1000);
        assert_int_equal(sum.gpus[1].flags, GPU_LOST);
        /* busy can never exceed the interval, whatever the backend says */
        accum_begin(&a, t0, 0, true, r, 1);
        reading(&r[0], "GPU-a", 5000000, 5000000, 1200, 0, 700000);
        accum_add(&a, 1000000, r, 1);
        accum_finish(&a, t0 + 1000000000ull, 1000000000ull, false, &sum);
        assert_int_equal(sum.gpus[0].busy_ms, 1000);
        assert_int_equal(sum.flags, SUMMARY_PARTIAL); /* did not end at a boundary */
        /* a reading 5 intervals late: 2 intervals observed, energy in full */
        accum_begin(&a, t0, 0, true, r, 1);
        reading(&r[0], "GPU-a", 2500000, 5000000, 4700, 3500, 700000);
        accum_add(&a, 5000000, r, 1);
        accum_finish(&a, t0 + 5000000000ull, 5000000000ull, true, &sum);
        assert_int_equal(sum.samples_taken, 1);
        assert_int_equal(sum.samples_expected, 5);
        assert_int_equal(sum.gpus[0].observed_ms, 2000);
        assert_int_equal(sum.gpus[0].busy_ms, 1000);
        assert_int_equal(sum.gpus[0].occupied_ms, 2000);
        assert_int_equal(sum.gpus[0].energy_used_mj, 3500);
        assert_int_equal(sum.gpus[0].power_avg_mw, 700000);
}

static void test_parse_interval(void **state) {
        (void)state;
        uint32_t us = 0;
        assert_true(config_parse_interval("0.1", &us));
        assert_int_equal(us, 100000);
        assert_true(config_parse_interval("1", &us));
        assert_int_equal(us, 1000000);
        assert_true(config_parse_interval("0.05", &us));
        assert_int_equal(us, 50000);
        assert_true(config_parse_interval("60.000000", &us));
        assert_int_equal(us, 60000000);
        assert_true(config_parse_interval("2.5", &us));
        assert_int_equal(us, 2500000);
        const char *bad[] = {"0.049999", "60.000001", ".5", "1.", "1e3",  "0.1234567",
                             "",         "-1",        "+1", "1 ", "0x10", "100000"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                us = 42;
                assert_false(config_parse_interval(bad[i], &us));
                assert_int_equal(us, 42);
        }
}

static void test_parse_uint_and_listen(void **state) {
        (void)state;
        unsigned v = 0;
        assert_true(config_parse_uint("86400", 1, 86400, &v));
        assert_int_equal(v, 86400);
        assert_false(config_parse_uint("86401", 1, 86400, &v));
        assert_false(config_parse_uint("0", 1, 86400, &v));
        assert_false(config_parse_uint("007", 1, 86400, &v));
        assert_false(config_parse_uint("4294967296", 0, 4294967295u, &v));
        assert_false(config_parse_uint("", 0, 10, &v));
        assert_true(config_listen_valid("[::]:9477"));
        assert_true(config_listen_valid("127.0.0.1:1"));
        assert_true(config_listen_valid("*:65535"));
        assert_true(config_listen_valid("[::1]:9477"));
        /* http_bind takes numeric addresses only: refuse names before anything is written. */
        assert_false(config_listen_valid("node17.example:65535"));
        assert_false(config_listen_valid("localhost:9477"));
        assert_false(config_listen_valid("[localhost]:9477"));
        assert_false(config_listen_valid("127.0.0.1.5:9477"));
        assert_false(config_listen_valid("::1:9477"));
        assert_false(config_listen_valid("9477"));
        assert_false(config_listen_valid(":9477"));
        assert_false(config_listen_valid("[]:9477"));
        assert_false(config_listen_valid("host:65536"));
        assert_false(config_listen_valid("host:0"));
        assert_false(config_listen_valid("ho st:80"));
}

static void test_config_defaults(void **state) {
        (void)state;
        struct config cfg;
        char err[256];
        char a0[] = "gpuhoursd", a1[] = "--state-dir", a2[] = "/tmp/x", a3[] = "--period",
             a4[] = "60", a5[] = "x";
        char *argv[] = {a0, a1, a2, a3, a4, NULL};
        assert_int_equal(config_load(5, argv, &cfg, err, sizeof err), 0);
        assert_string_equal(cfg.sim_dir, "/tmp/x/sim");
        assert_int_equal(cfg.period_s, 60);
        assert_int_equal(cfg.sample_interval_us, 1000000);
        assert_string_equal(cfg.backend, "nvml");
        assert_int_equal(cfg.sim_gpus, 4);
        assert_non_null(strstr(cfg.origin, "/gpuhours"));
        char *argv2[] = {a0, a3, a4, a3, a5, NULL};
        assert_int_equal(config_load(5, argv2, &cfg, err, sizeof err), EXIT_USAGE);
        assert_non_null(strstr(err, "--period"));
}

/* common/fsutil.c, as the daemon uses it: mkdir_p and atomic_write_at (replace, exclusive, no temp left). */
static void test_fsutil(void **state) {
        (void)state;
        char dir[] = "/tmp/gh-units-XXXXXX";
        assert_non_null(mkdtemp(dir));
        char sub[64];
        snprintf(sub, sizeof sub, "%s/a/b", dir);
        assert_int_equal(mkdir_p(sub, 0750), 0);
        assert_int_equal(mkdir_p(sub, 0750), 0); /* exists: fine */
        int dfd = open(sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        assert_true(dfd >= 0);
        assert_int_equal(atomic_write_at(dfd, "f", "one", 3, 0640, 0), 0);
        assert_int_equal(atomic_write_at(dfd, "f", "two!", 4, 0640, ATOMIC_NO_SYNC), 0);
        char buf[8] = "";
        int fd = openat(dfd, "f", O_RDONLY);
        assert_true(fd >= 0);
        assert_int_equal(read(fd, buf, sizeof buf), 4);
        close(fd);
        assert_memory_equal(buf, "two!", 4);
        assert_int_equal(atomic_write_at(dfd, "f", "x", 1, 0640, ATOMIC_EXCLUSIVE), -EEXIST);
        assert_int_equal(atomic_write_at(dfd, "g", "x", 1, 0640, ATOMIC_EXCLUSIVE), 0);
        struct stat st;
        assert_int_equal(fstatat(dfd, "g", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0640);
        DIR *d = fdopendir(dup(dfd));
        assert_non_null(d);
        unsigned names = 0;
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.' || strstr(e->d_name, ".tmp"))
                        names++; /* f, g, and no temp file */
        closedir(d);
        assert_int_equal(names, 2);
        /* ATOMIC_FIXED_TEMP: "NAME.tmp", so a stale one (a crash) is overwritten, not kept. */
        fd = openat(dfd, "h.tmp", O_WRONLY | O_CREAT, 0640);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "stale-and-long", 14), 14);
        close(fd);
        int dir_errno = -1;
        assert_int_equal(
                atomic_write_at_dir_errno(dfd, "h", "new", 3, 0640, ATOMIC_FIXED_TEMP, &dir_errno),
                0);
        assert_int_equal(dir_errno, 0);
        assert_int_equal(fstatat(dfd, "h", &st, 0), 0);
        assert_int_equal(st.st_size, 3);
        assert_int_not_equal(fstatat(dfd, "h.tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
        /*
         * ATOMIC_SECRET: the mode whatever the umask, and a file hard-linked at
         * the temp name is replaced, never written through.
         */
        fd = openat(dfd, "victim", O_WRONLY | O_CREAT, 0644);
        assert_true(fd >= 0);
        assert_int_equal(write(fd, "keep", 4), 4);
        close(fd);
        assert_int_equal(linkat(dfd, "victim", dfd, "k.tmp", 0), 0);
        mode_t old_mask = umask(0277);
        assert_int_equal(atomic_write_at(dfd, "k", "secret", 6, 0600,
                                         ATOMIC_SECRET | ATOMIC_EXCLUSIVE | ATOMIC_FIXED_TEMP),
                         0);
        umask(old_mask);
        assert_int_equal(fstatat(dfd, "k", &st, 0), 0);
        assert_int_equal(st.st_mode & 0777, 0600);
        assert_int_equal(st.st_size, 6);
        assert_int_equal(fstatat(dfd, "victim", &st, 0), 0);
        assert_int_equal(st.st_size, 4);
        assert_int_not_equal(fstatat(dfd, "k.tmp", &st, AT_SYMLINK_NOFOLLOW), 0);
        assert_int_equal(mkdir_p("", 0750), -EINVAL);
        unlinkat(dfd, "f", 0);
        unlinkat(dfd, "g", 0);
        unlinkat(dfd, "h", 0);
        unlinkat(dfd, "k", 0);
        unlinkat(dfd, "victim", 0);
        close(dfd);
        rmdir(sub);
        snprintf(sub, sizeof sub, "%s/a", dir);
        rmdir(sub);
        rmdir(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accum_full_window),
                cmocka_unit_test(test_accum_partial_and_gpu_changes),
                cmocka_unit_test(test_parse_interval),
                cmocka_unit_test(test_parse_uint_and_listen),
                cmocka_unit_test(test_config_defaults),
                cmocka_unit_test(test_fsutil),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
