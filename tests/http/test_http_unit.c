/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for daemon/http.c statics (included, chrony style) and
 * daemon/metrics.c: strict numbers, quoting, /healthz rules, listen
 * addresses and the Prometheus text.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "../../daemon/http.c"

static void test_parse_u64_cstr(void **state) {
        (void)state;
        uint64_t v = 7;
        assert_true(parse_u64_cstr("0", &v) && v == 0);
        assert_true(parse_u64_cstr("18446744073709551615", &v) && v == UINT64_MAX);
        assert_true(parse_u64_cstr("10", &v) && v == 10);
        const char *bad[] = {"",
                             "-1",
                             "+1",
                             "01",
                             "00",
                             " 1",
                             "1 ",
                             "1e3",
                             "0x1",
                             "18446744073709551616",
                             "99999999999999999999",
                             "100000000000000000000",
                             "1.0",
                             "١"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                v = 42;
                assert_false(parse_u64_cstr(bad[i], &v));
                assert_int_equal(v, 42); /* untouched on failure */
        }
        assert_false(parse_u64_cstr(NULL, &v));
}

static void test_sanitize(void **state) {
        (void)state;
        char out[64];
        sanitize("a\nb'c\x01", out, sizeof out);
        assert_string_equal(out, "a?b'c?");
        char longer[200];
        memset(longer, 'x', sizeof longer - 1);
        longer[sizeof longer - 1] = '\0';
        sanitize(longer, out, sizeof out);
        assert_true(strlen(out) <= 44 && strcmp(out + strlen(out) - 3, "...") == 0);
}

static struct daemon_stats st;

static void healthy_stats(void) {
        memset(&st, 0, sizeof st);
        uint64_t now = now_ns(CLOCK_BOOTTIME);
        atomic_store(&st.appending_ok, 1);
        atomic_store(&st.sampler_ok, 1);
        atomic_store(&st.last_sample_boot_ns, now);
        atomic_store(&st.last_checkpoint_boot_ns, now);
        atomic_store(&st.next_summary_due_boot_ns, now + 1000000000u);
}

/* daemon/health.c: what /healthz and the watchdog both decide on. */
static void test_health_rules(void **state) {
        (void)state;
        char why[160];
        const uint64_t s = 1000000000u;
        uint64_t iv = s / 10; /* 0.1 s sample interval */
        uint64_t now = now_ns(CLOCK_BOOTTIME);

        healthy_stats();
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_OK);

        /* Appends failing: unhealthy, but a restart would not help: the watchdog is pinged. */
        healthy_stats();
        atomic_store(&st.appending_ok, 0);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_DEGRADED);
        assert_non_null(strstr(why, "appends"));

        healthy_stats();
        atomic_store(&st.last_sample_boot_ns, 0);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_STALLED);

        /* Sampler reads failing: the GPUs are unobserved, also with a recent good sample. */
        healthy_stats();
        atomic_store(&st.sampler_ok, 0);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_STALLED);
        assert_non_null(strstr(why, "sampler reads"));

        /* A stall is reported before a degradation (the watchdog must see it). */
        healthy_stats();
        atomic_store(&st.appending_ok, 0);
        atomic_store(&st.last_sample_boot_ns, now - 10 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_STALLED);

        healthy_stats(); /* 3 s floor: 2 s old is fine, 4 s old is stale */
        atomic_store(&st.last_sample_boot_ns, now - 2 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_OK);
        atomic_store(&st.last_sample_boot_ns, now - 4 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_STALLED);
        assert_non_null(strstr(why, "sampling stalled"));

        healthy_stats(); /* 3 sample intervals when that is longer than 3 s */
        atomic_store(&st.last_sample_boot_ns, now - 25 * s);
        assert_int_equal(health_check(&st, 10 * s, 60, now, why, sizeof why), HEALTH_OK);
        atomic_store(&st.last_sample_boot_ns, now - 35 * s);
        assert_int_equal(health_check(&st, 10 * s, 60, now, why, sizeof why), HEALTH_STALLED);

        healthy_stats(); /* one checkpoint per period: period + 5 s */
        atomic_store(&st.last_checkpoint_boot_ns, now - 60 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_OK);
        atomic_store(&st.last_checkpoint_boot_ns, now - 70 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_DEGRADED);
        assert_non_null(strstr(why, "signing stalled"));

        healthy_stats(); /* the next summary may be up to 5 s overdue */
        atomic_store(&st.next_summary_due_boot_ns, now - 3 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_OK);
        atomic_store(&st.next_summary_due_boot_ns, now - 7 * s);
        assert_int_equal(health_check(&st, iv, 60, now, why, sizeof why), HEALTH_DEGRADED);
        assert_non_null(strstr(why, "overdue"));
}

/* The route table: every path once, exact matching, and parse_request's checks and bounds. */
static void test_routes(void **state) {
        (void)state;
        size_t n = sizeof routes / sizeof routes[0];
        for (size_t i = 0; i < n; i++) {
                assert_ptr_equal(route_find(routes[i].path), &routes[i]);
                assert_non_null(routes[i].fn);
                assert_true(routes[i].flags & ROUTE_GET);
                for (size_t j = i + 1; j < n; j++)
                        assert_string_not_equal(routes[i].path, routes[j].path);
        }
        assert_null(route_find("/checkpoint/"));
        assert_null(route_find("/v1/records/x"));
        assert_null(route_find("/"));
        assert_int_equal(route_method("GET"), ROUTE_GET);
        assert_int_equal(route_method("HEAD"), ROUTE_GET);
        assert_int_equal(route_method("POST"), 0);

        const struct route *rec = route_find(API_PATH_RECORDS);
        const struct route *cons = route_find(API_PATH_CONSISTENCY);
        const struct route *att = route_find(API_PATH_ATTEST);
        struct http_server h = {0};
        struct request rq;
        char why[160];
        struct {
                const struct route *rt;
                const char *k0, *v0, *k1, *v1;
                const char *why;
        } cases[] = {
                {rec, "start", "1", NULL, NULL, "missing parameter 'end'"},
                {rec, "start", "1", "x", "2", "unknown parameter 'x'"},
                {rec, "start", "01", "end", "2", "parameter 'start' is not a decimal"},
                {rec, "start", "2", "end", "2", "start must be less than end"},
                {cons, "old", "0", "new", "2", "old must be at least 1"},
                {cons, "old", "3", "new", "2", "old must not exceed new"},
                {att, "nonce", "00", NULL, NULL, "parameter 'nonce' must be exactly 64 hex digits"},
                {att, "nonce", NULL, NULL, NULL, "parameter 'nonce' must be exactly 64 hex digits"},
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                struct params p = {.n = cases[i].k1 ? 2 : 1};
                p.key[0] = cases[i].k0;
                p.val[0] = cases[i].v0;
                p.key[1] = cases[i].k1;
                p.val[1] = cases[i].v1;
                assert_false(parse_request(&h, cases[i].rt, &p, &rq, why, sizeof why));
                assert_non_null(strstr(why, cases[i].why));
        }
        struct params dup = {.n = 1, .dup = "start", .key = {"start"}, .val = {"1"}};
        assert_false(parse_request(&h, rec, &dup, &rq, why, sizeof why));
        assert_non_null(strstr(why, "duplicated parameter 'start'"));
        char hex[65];
        memset(hex, 'a', 64);
        hex[64] = '\0';
        struct params ok = {.n = 1, .key = {"nonce"}, .val = {hex}};
        assert_true(parse_request(&h, att, &ok, &rq, why, sizeof why));
        assert_int_equal(rq.nonce[0], 0xaa);
        struct params none = {0};
        assert_true(parse_request(&h, route_find(API_PATH_HEALTHZ), &none, &rq, why, sizeof why));
}

static void test_bind_listen(void **state) {
        (void)state;
        char err[256];
        int fd = -1;
        const char *bad[] = {"",           "9477",      ":9477",         "localhost:9477",
                             "1.2.3:9477", "1.2.3.4:0", "1.2.3.4:65536", "1.2.3.4:09477",
                             "1.2.3.4:-1", "[::1:9477", "[]:9477",       "[zz]:9477",
                             "::1:9477",   "[::1]9477", "1.2.3.4:94 77"};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                err[0] = '\0';
                assert_int_equal(http_bind(bad[i], &fd, err, sizeof err), -EINVAL);
                assert_non_null(strstr(err, "invalid listen address"));
                assert_int_equal(fd, -1);
        }
        /* A free loopback port: bound, listening, non-blocking. */
        int probe = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t alen = sizeof a;
        assert_int_equal(bind(probe, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(probe, (struct sockaddr *)&a, &alen), 0);
        close(probe); /* its port is very likely free again */
        char spec[64];
        snprintf(spec, sizeof spec, "127.0.0.1:%u", ntohs(a.sin_port));
        assert_int_equal(http_bind(spec, &fd, err, sizeof err), 0);
        assert_true(fd >= 0 && (fcntl(fd, F_GETFL) & O_NONBLOCK));
        int fd2 = -1;
        assert_int_equal(http_bind(spec, &fd2, err, sizeof err), -EADDRINUSE);
        assert_non_null(strstr(err, spec));
        assert_int_equal(fd2, -1);
        close(fd);
}

static void test_metrics_text(void **state) {
        (void)state;
        memset(&st, 0, sizeof st);
        atomic_store(&st.records_appended_total, 12);
        atomic_store(&st.appending_ok, 1);
        atomic_store(&st.last_summary_wall_ns, 1700000000123456789u);
        atomic_store(&st.gpu_count, 2);
        strcpy(st.gpu_uuid[0], "GPU-a\"b\\c\nd");
        strcpy(st.gpu_uuid[1], "GPU-2");
        atomic_store(&st.gpu_busy_ms_total[0], 1234567);
        atomic_store(&st.gpu_energy_mj_total[1], 5);
        atomic_store(&st.last_sample_wall_ns, 1700000001500000000u);
        atomic_store(&st.sampler_ok, 1);
        static struct gpu_info inv[RECORD_MAX_GPUS];
        memset(inv, 0, sizeof inv);
        strcpy(inv[0].uuid, "GPU-2");
        strcpy(inv[0].name, "NVIDIA H100 80GB HBM3");
        char *text = NULL;
        size_t len = 0;
        assert_int_equal(metrics_render(&st, inv, 1, 99, 1600000000000000000u, &text, &len), 0);
        assert_int_equal(strlen(text) == len ? 0 : 1, 0);
        assert_true(len > 0 && text[len - 1] == '\n');
        assert_non_null(strstr(text, "\ngpuhours_records_appended_total 12\n"));
        assert_non_null(strstr(text, "\ngpuhours_tree_size 99\n"));
        assert_non_null(strstr(text, "\ngpuhours_appending 1\n"));
        assert_non_null(
                strstr(text, "\ngpuhours_last_period_end_timestamp_seconds 1700000000.123456789\n"));
        assert_non_null(
                strstr(text, "\ngpuhours_last_sample_timestamp_seconds 1700000001.500000000\n"));
        assert_non_null(strstr(text, "\ngpuhours_sampler_up 1\n"));
        assert_non_null(strstr(text, "\ngpuhours_gpus 1\n"));
        assert_null(strstr(text, "summary"));
        /* An unknown GPU (not in the inventory) gets an empty model_name. */
        assert_non_null(strstr(text, "\ngpuhours_gpu_busy_seconds_total{gpu=\"0\",UUID=\"GPU-a\\\"b"
                                     "\\\\c\\nd\",model_name=\"\"} 1234.567\n"));
        assert_non_null(strstr(text, "\ngpuhours_gpu_energy_joules_total{gpu=\"1\",UUID=\"GPU-2\","
                                     "model_name=\"NVIDIA H100 80GB HBM3\"} 0.005\n"));
        assert_non_null(strstr(text, "\nprocess_start_time_seconds 1600000000.000000000\n"));
        assert_non_null(strstr(text, "# TYPE gpuhours_gpu_energy_joules_total counter\n"));
        assert_non_null(strstr(text, "# TYPE gpuhours_build_info gauge\n"));
        free(text);

        /* 64 GPUs with the longest UUIDs and names still fit under the cap. */
        atomic_store(&st.gpu_count, RECORD_MAX_GPUS);
        for (unsigned i = 0; i < RECORD_MAX_GPUS; i++) {
                memset(st.gpu_uuid[i], '"', REC_UUID_MAX); /* worst case: every byte escaped */
                st.gpu_uuid[i][REC_UUID_MAX] = '\0';
                atomic_store(&st.gpu_busy_ms_total[i], UINT64_MAX);
                atomic_store(&st.gpu_energy_mj_total[i], UINT64_MAX);
                memcpy(inv[i].uuid, st.gpu_uuid[i], sizeof inv[i].uuid);
                memset(inv[i].name, '\\', REC_NAME_MAX);
                inv[i].name[REC_NAME_MAX] = '\0';
        }
        assert_int_equal(metrics_render(&st, inv, RECORD_MAX_GPUS, UINT64_MAX, UINT64_MAX, &text,
                                        &len),
                         0);
        assert_true(len <= METRICS_MAX_SIZE);
        free(text);
}

static struct sockaddr_in6 v6(const char *text) {
        struct sockaddr_in6 a = {.sin6_family = AF_INET6};
        assert_int_equal(inet_pton(AF_INET6, text, &a.sin6_addr), 1);
        return a;
}

static struct sockaddr_in v4(const char *text) {
        struct sockaddr_in a = {.sin_family = AF_INET};
        assert_int_equal(inet_pton(AF_INET, text, &a.sin_addr), 1);
        return a;
}

/* Slowloris accounting: one /64 is one source, the header deadline, the waiting share. */
static void test_connguard(void **state) {
        (void)state;
        struct connguard g;
        int ev[CONNGUARD_EVICT_MAX];
        size_t n;
        const uint64_t s = 1000000000u;
        assert_int_equal(connguard_init(&g, 8, 2, 6, 5 * s), 0);
        struct sockaddr_in6 a = v6("2001:db8:1:2::1"), b = v6("2001:db8:1:2:ffff::9"),
                            c = v6("2001:db8:1:3::1");
        assert_true(connguard_admit(&g, (struct sockaddr *)&a, sizeof a, 0, ev, &n));
        assert_true(connguard_add(&g, 10, (struct sockaddr *)&a, sizeof a, 0) >= 0);
        assert_true(connguard_admit(&g, (struct sockaddr *)&b, sizeof b, 0, ev, &n));
        assert_true(connguard_add(&g, 11, (struct sockaddr *)&b, sizeof b, 0) >= 0);
        /* A third address in the same /64 is refused; the next /64 is not. */
        assert_false(connguard_admit(&g, (struct sockaddr *)&b, sizeof b, 0, ev, &n));
        assert_true(connguard_admit(&g, (struct sockaddr *)&c, sizeof c, 0, ev, &n));
        assert_int_equal(n, 0);
        /* An IPv4-mapped address counts as its IPv4 address. */
        struct sockaddr_in p = v4("127.0.0.5");
        struct sockaddr_in6 pm = v6("::ffff:127.0.0.5");
        long i1 = connguard_add(&g, 12, (struct sockaddr *)&p, sizeof p, s);
        connguard_add(&g, 13, (struct sockaddr *)&pm, sizeof pm, s);
        assert_false(connguard_admit(&g, (struct sockaddr *)&p, sizeof p, s, ev, &n));
        /* Serving connections are not subject to the deadline; waiting ones are. */
        connguard_serving(&g, i1);
        assert_int_equal(connguard_expired(&g, 6 * s + 1, ev, CONNGUARD_EVICT_MAX), 3);
        assert_int_equal(connguard_expired(&g, 6 * s + 1, ev, CONNGUARD_EVICT_MAX), 0);
        connguard_free(&g);

        /* The waiting share: a newcomer beyond it evicts the oldest waiting connection. */
        assert_int_equal(connguard_init(&g, 8, 8, 3, 100 * s), 0);
        for (int i = 0; i < 3; i++) {
                struct sockaddr_in q = v4("127.0.0.9");
                assert_true(connguard_admit(&g, (struct sockaddr *)&q, sizeof q, (uint64_t)i, ev,
                                            &n));
                assert_int_equal(n, 0);
                connguard_add(&g, 20 + i, (struct sockaddr *)&q, sizeof q, (uint64_t)i);
        }
        struct sockaddr_in q = v4("127.0.0.10");
        assert_true(connguard_admit(&g, (struct sockaddr *)&q, sizeof q, 10, ev, &n));
        assert_int_equal(n, 1);
        assert_int_equal(ev[0], 20);
        connguard_free(&g);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_u64_cstr), cmocka_unit_test(test_sanitize),
                cmocka_unit_test(test_health_rules), cmocka_unit_test(test_routes),    cmocka_unit_test(test_bind_listen),
                cmocka_unit_test(test_metrics_text),     cmocka_unit_test(test_connguard),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
