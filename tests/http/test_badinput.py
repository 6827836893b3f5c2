#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bad input and abuse against a real gpuhoursd on 127.0.0.1: clear 4xx answers,
no crash, connection limits hold, and summaries keep landing on time throughout."""

import os
import random
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghtest  # noqa: E402
import ghhttp  # noqa: E402

tap = ghtest.Tap()
U64_MAX = 2**64 - 1


def one_line_error(body):
    return body.startswith(b"error: ") and body.endswith(b"\n") and body.count(b"\n") == 1 \
        and len(body) <= 300


def main():
    rng = random.Random(int(os.environ.get("GH_TEST_SEED", "1977")))
    tmp = tempfile.mkdtemp(prefix="gh-http-bad-")
    d = ghtest.Daemon(tmp, gpus=2, period=1, interval=0.1)
    d.start()
    port = d.port
    d.wait_size(3, timeout=20)
    t_begin = time.monotonic()
    size0 = d.checkpoint()["size"]
    S = size0

    # An idle connection from another loopback address: the 10 s timeout must close it.
    idle = socket.create_connection(("127.0.0.1", port), timeout=1, source_address=("127.0.0.3", 0))
    idle_opened = time.monotonic()

    # -- malformed, huge, negative, duplicated, unknown and missing parameters
    bad400 = [
        "/v1/records?start=abc&end=1", "/v1/records?start=0&end=18446744073709551616",
        "/v1/records?start=0&end=99999999999999999999", "/v1/records?start=0&end=%d" % U64_MAX,
        "/v1/records?start=0&end=100000000000000000000000", "/v1/records?start=-1&end=1",
        "/v1/records?start=+0&end=1", "/v1/records?start=00&end=1", "/v1/records?start=01&end=2",
        "/v1/records?start=%200&end=1", "/v1/records?start=0%20&end=1", "/v1/records?start=0x1&end=2",
        "/v1/records?start=1e2&end=200", "/v1/records?start=&end=1", "/v1/records?start&end=1",
        "/v1/records?start=0&start=0&end=1", "/v1/records?start=0&end=1&end=1",
        "/v1/records?start=0&end=1&foo=1", "/v1/records?start=0", "/v1/records?end=1",
        "/v1/records", "/v1/records?start=1&end=1", "/v1/records?start=2&end=1",
        "/v1/records?start=0&end=%d" % (S + 1000), "/v1/records?start=%d&end=%d" % (U64_MAX - 1, U64_MAX),
        "/v1/records?start=0&end=1&a=1&b=2&c=3", "/v1/records?start=0%00&end=1",
        "/v1/proof/inclusion?index=%d&size=%d" % (S - 1, S - 1),
        "/v1/proof/inclusion?index=0&size=0", "/v1/proof/inclusion?index=0&size=%d" % (S + 100),
        "/v1/proof/inclusion?index=0&size=18446744073709551616", "/v1/proof/inclusion?index=-1&size=2",
        "/v1/proof/inclusion?index=0", "/v1/proof/inclusion?index=0&size=1&size=1",
        "/v1/proof/inclusion?index=0&size=1&old=1",
        "/v1/proof/consistency?old=0&new=1", "/v1/proof/consistency?old=3&new=2",
        "/v1/proof/consistency?old=1&new=%d" % (S + 100), "/v1/proof/consistency?old=1",
        "/v1/proof/consistency?old=1&new=99999999999999999999",
        "/v1/attest", "/v1/attest?nonce=", "/v1/attest?nonce=" + "ab" * 31,
        "/v1/attest?nonce=" + "ab" * 32 + "0", "/v1/attest?nonce=" + "zz" * 32,
        "/v1/attest?nonce=" + "ab" * 32 + "&nonce=" + "ab" * 32, "/v1/attest?nonce=-" + "a" * 63,
        "/checkpoint?x=1", "/v1/node?verbose", "/metrics?name[]=x", "/healthz?x=",
    ]
    fails = []
    for path in bad400:
        st, hdr, body = d.get(path)
        if st != 400 or not one_line_error(body) or not hdr.get("content-type", "").startswith("text/plain"):
            fails.append((path, st, body[:120]))
    tap.ok(not fails, "%d malformed or out-of-range requests get 400 with a one-line error"
           % len(bad400), diag=fails)

    # The strict parser still accepts the largest and the smallest valid values.
    st, _, body = d.get("/v1/records?start=0&end=1")
    st2, _, _ = d.get("/v1/proof/inclusion?index=0&size=1")
    tap.ok(st == 200 and st2 == 200, "valid minimal requests still succeed")

    # -- very long URLs
    for n in (4097 + 100, 8 * 1024, 100 * 1024):
        path = "/v1/records?start=0&end=1&pad=" + "a" * n
        try:
            st, hdr, body = d.get(path)
        except (ConnectionError, OSError) as e:
            st, body = repr(e), b""
        tap.ok(st in (414, 431) or (st == 400 and n > 60000),
               "a %d-byte URL gets 414 (or MHD's own 4xx for huge ones)" % len(path),
               diag=(st, body[:120]))
    st, _, body = d.get("/v1/records?start=0&end=1&" + "a" * 4000)
    tap.ok(st == 400, "a URL just under 4 KiB is parsed (and its unknown parameter refused)",
           diag=(st, body))

    # -- methods other than GET and HEAD
    fails = []
    for m in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "BREW"):
        for path in ("/checkpoint", "/v1/records?start=0&end=1", "/nope"):
            body = b"x=1" if m in ("POST", "PUT", "PATCH") else None
            try:
                st, hdr, rb = ghhttp.request(port, m, path, body=body)
            except OSError as e:
                fails.append((m, path, repr(e)))
                continue
            if st != 405 or hdr.get("allow") != "GET, HEAD" or not one_line_error(rb):
                fails.append((m, path, st, hdr.get("allow"), rb[:80]))
    tap.ok(not fails, "other methods get 405 with Allow: GET, HEAD", diag=fails)

    # -- raw garbage on the socket
    garbage = [
        bytes(rng.randrange(256) for _ in range(4096)),
        b"\x00" * 1000 + b"\r\n\r\n",
        b"GET /checkpoint HTTP/9.9\r\n\r\n",
        b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
        b"GET /checkpoint HTTP/1.1\r\n" + b"X-A: " + b"b" * 200000 + b"\r\n\r\n",
        b"GET /checkpoint HTTP/1.1\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(20000)) + b"\r\n",
        b"\r\n" * 5000,
        b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    ]
    fails = []
    t0 = time.monotonic()
    for g in garbage:
        try:
            out = ghhttp.raw_exchange(port, g, timeout=12)
        except OSError as e:
            out = repr(e).encode()
        # Either an HTTP 4xx/5xx answer or a closed connection; never a 200 for garbage.
        first = out.split(b"\r\n", 1)[0]
        if first.startswith(b"HTTP/1.") and first.split(b" ")[1:2] in ([b"200"],):
            fails.append((g[:40], first))
    tap.ok(not fails and time.monotonic() - t0 < 60,
           "%d raw garbage requests get an error or a closed connection, never a 200" % len(garbage),
           diag=fails)
    # A NUL inside the request line: libmicrohttpd may serve the path before the NUL; the
    # daemon just has to answer in HTTP and keep running.
    out = ghhttp.raw_exchange(port, b"GET /checkpoint\x00junk HTTP/1.1\r\nHost: x\r\n\r\n")
    tap.ok(out == b"" or out.startswith(b"HTTP/1.1 "), "a NUL in the request line gets an HTTP "
           "answer or a close", diag=out[:80])
    tap.ok(d.running(), "gpuhoursd survived the garbage", diag=d.log_tail())

    # -- many idle connections from one address: per-IP cap 16, total cap 256
    socks = []
    connect_errors = 0
    for _ in range(300):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.setblocking(False)
            socks.append(s)
        except OSError:
            connect_errors += 1
    time.sleep(1.0)
    # Another loopback address is still served while 127.0.0.1 is saturated.
    st, _, _ = ghhttp.request(port, "GET", "/checkpoint", src="127.0.0.2", timeout=5)
    tap.ok(st == 200, "another client address is served during the idle flood", diag=st)
    time.sleep(2.0)
    open_count = 0
    for s in socks:
        try:
            data = s.recv(1)
            if data:
                open_count += 1  # unexpected bytes: count as open
        except BlockingIOError:
            open_count += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    tap.ok(open_count <= 16, "at most 16 of 300 idle connections from one address stay open "
           "(%d open, %d refused)" % (open_count, connect_errors), diag=open_count)

    # Requests from 127.0.0.1 are served again once the idle sockets are gone.
    deadline = time.monotonic() + 10
    st = None
    while time.monotonic() < deadline:
        try:
            st, _, _ = d.get("/checkpoint", timeout=3)
            if st == 200:
                break
        except OSError:
            pass
        time.sleep(0.2)
    tap.ok(st == 200, "127.0.0.1 is served again after the flood")

    # -- the idle connection from 127.0.0.3 (it never sent a byte) is closed by the
    # 5 s header deadline or, at the latest, the 10 s idle timeout (with slack);
    # never before the header deadline.
    idle.settimeout(max(0.5, idle_opened + 16 - time.monotonic()))
    try:
        closed = idle.recv(1) == b""
    except socket.timeout:
        closed = False
    except OSError:
        closed = True
    idle_age = time.monotonic() - idle_opened
    idle.close()
    tap.ok(closed and idle_age >= 5, "an idle connection is closed by the 5 s header deadline "
           "or the 10 s timeout (closed after %.1f s)" % idle_age, diag=(closed, idle_age))

    # -- sampling and signing stayed on time throughout
    time.sleep(1.5)
    elapsed = time.monotonic() - t_begin
    cp = d.checkpoint()
    grown = cp["size"] - size0
    tap.ok(grown >= int(elapsed) - 2, "the tree grew by %d in %.1f s of abuse (~1 per second)"
           % (grown, elapsed), diag=(size0, cp["size"], elapsed))
    recs = d.records(size0, cp["size"])
    sums = [r for r in ghhttp.summaries(recs) if r["kind"] == "summary"]
    starts = [r["period_start_ns"] for r in sums]
    missing = [b for a, b in zip(starts, starts[1:]) if b - a != 1_000_000_000]
    tap.ok(len(sums) >= int(elapsed) - 2 and not missing,
           "%d consecutive one-second summaries, no period missing" % len(sums), diag=missing)
    late_ms = max(((r["wall_ns"] - r["period_start_ns"] - r["period_s"] * 10**9) / 1e6
                   for r in sums), default=0)
    tap.diag("worst summary lateness during the abuse: %.1f ms" % late_ms)
    tap.ok(late_ms < 1000, "every summary was appended within 1 s of its period boundary "
           "(worst %.1f ms)" % late_ms)
    st, _, body = d.get("/healthz")
    tap.ok(st == 200 and body == b"ok\n", "/healthz is 200 after the abuse", diag=(st, body))
    tap.ok(d.running() and d.stop() == 0, "gpuhoursd is still running and exits 0",
           diag=d.log_tail())


tap.run(main)
