#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Slowloris: 320 half-open connections from 20 loopback addresses (127.0.0.2
# .. 127.0.0.21), each trickling one header line every 2 s and reconnecting
# when closed, must not stop service: a normal client keeps getting
# /checkpoint answers, and sampling stays on time (the summaries written
# during the attack are full). Connections that never finish their headers
# are closed after the absolute deadline (5 s) even though they trickle. From
# ::1, connections count per /64: at most 16 stay open.
import os
import selectors
import socket
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
ADDRS = ["127.0.0.%d" % i for i in range(2, 22)]
PER_ADDR = 16


def half_open(port, src, family=socket.AF_INET, dst="127.0.0.1"):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setblocking(False)
    if src:
        s.bind((src, 0))
    try:
        s.connect((dst, port))
    except BlockingIOError:
        pass
    return s


class Attack:
    def __init__(self, port):
        self.port = port
        self.sel = selectors.DefaultSelector()
        self.conns = {}  # sock -> (src, opened, last_trickle, sent_head)
        self.closed = 0
        self.lifetimes = []

    def open_all(self):
        for src in ADDRS:
            have = sum(1 for v in self.conns.values() if v[0] == src)
            for _ in range(PER_ADDR - have):
                s = half_open(self.port, src)
                self.conns[s] = [src, time.monotonic(), 0.0, False]
                self.sel.register(s, selectors.EVENT_READ)

    def step(self):
        now = time.monotonic()
        for key, _ in self.sel.select(timeout=0.05):
            s = key.fileobj
            try:
                data = s.recv(4096)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                data = b""
            if not data:
                self._drop(s, now)
        for s, v in list(self.conns.items()):
            try:
                if not v[3]:
                    s.send(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n")
                    v[3] = True
                    v[2] = now
                elif now - v[2] >= 2.0:
                    s.send(b"X-Slow: 1\r\n")
                    v[2] = now
            except (BlockingIOError, InterruptedError):
                pass
            except OSError:
                self._drop(s, now)
        self.open_all()

    def _drop(self, s, now):
        v = self.conns.pop(s, None)
        if v is None:
            return
        self.closed += 1
        self.lifetimes.append(now - v[1])
        self.sel.unregister(s)
        s.close()

    def close(self):
        for s in list(self.conns):
            self.sel.unregister(s)
            s.close()
        self.conns.clear()


def main():
    tmp = ghtest.tmpdir("gh-slowloris-")
    d = ghtest.Daemon(tmp, gpus=2, period=1, interval=0.1)
    d.start()
    d.wait_size(2)
    a = Attack(d.port)
    a.open_all()
    t0 = time.monotonic()
    while time.monotonic() - t0 < 2:
        a.step()
    attack_start_wall = time.time()
    ok = fail = 0
    worst = 0.0
    next_probe = time.monotonic()
    t1 = time.monotonic()
    while time.monotonic() - t1 < 14:
        a.step()
        if time.monotonic() >= next_probe:
            next_probe = time.monotonic() + 0.5
            s = time.monotonic()
            try:
                st, _, _ = d.get("/checkpoint", timeout=4)
                ok += st == 200
                fail += st != 200
            except OSError:
                fail += 1
            worst = max(worst, time.monotonic() - s)
    attack_end_wall = time.time()
    held = len(a.conns)
    lifetimes = sorted(a.lifetimes)
    a.close()
    tap.diag("attack: %d connections open at the end, %d closed by the server, lifetimes "
             "median %.1f s, max %.1f s" % (held, a.closed,
                                            lifetimes[len(lifetimes) // 2] if lifetimes else 0,
                                            lifetimes[-1] if lifetimes else 0))
    tap.ok(ok >= 0.9 * (ok + fail) and ok > 10,
           "a normal client is served during the attack: %d of %d probes, worst %.2f s"
           % (ok, ok + fail, worst))
    tap.ok(a.closed > 0, "with the waiting share full, the oldest half-open connections "
           "make room for new ones (%d closed)" % a.closed)
    # A few trickling connections (no pressure): closed at the absolute header deadline.
    few = []
    for _ in range(4):
        s = half_open(d.port, "127.0.0.30")
        few.append([s, time.monotonic(), None])
    time.sleep(0.2)
    for v in few:
        v[0].send(b"GET /checkpoint HTTP/1.1\r\nHost: x\r\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(v[2] is None for v in few):
        for v in few:
            if v[2] is not None:
                continue
            try:
                v[0].send(b"X-Slow: 1\r\n")
                v[0].setblocking(False)
                if v[0].recv(1) == b"":
                    v[2] = time.monotonic() - v[1]
            except BlockingIOError:
                pass
            except OSError:
                v[2] = time.monotonic() - v[1]
        time.sleep(1.0)
    lives = [v[2] for v in few]
    for v in few:
        v[0].close()
    tap.ok(all(x is not None and 4.5 <= x <= 12 for x in lives),
           "connections trickling a header line every second are closed after the 5 s header "
           "deadline (%s s)" % ["%.1f" % x if x is not None else "open" for x in lives])
    cp = d.wait_size(d.checkpoint()["size"] + 1)
    recs = [ghtest.decode_record(r) for r in d.records(0, cp["size"])]
    during = [r for r in recs if r["kind"] == "summary"
              and r["obs_start_wall_ns"] >= attack_start_wall * 1e9
              and r["obs_end_wall_ns"] <= attack_end_wall * 1e9]
    tap.ok(len(during) >= 8 and all(r["samples_taken"] >= 9 for r in during),
           "sampling stayed on time: %d full summaries during the attack" % len(during),
           diag=[r["samples_taken"] for r in during])
    tap.ok(d.stop() == 0, "clean stop after the attack")

    # IPv6: connections from one /64 count together.
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0))
        v6 = True
    except OSError:
        v6 = False
    if not v6:
        tap.skip("no IPv6 loopback")
        return
    port = ghtest.free_port()
    d6 = ghtest.Daemon(os.path.join(tmp, "v6"), extra_args=["--listen", "[::1]:%d" % port])
    d6.port = port
    d6.start(wait_ready=False)
    deadline = time.monotonic() + 15
    up = False
    while time.monotonic() < deadline and not up:
        try:
            with socket.create_connection(("::1", port), timeout=1):
                up = True
        except OSError:
            time.sleep(0.1)
    socks = [half_open(port, None, socket.AF_INET6, "::1") for _ in range(40)]
    time.sleep(1.0)
    alive = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.send(b"GET / HTTP/1.1\r\n")
            data = s.recv(1)
            alive += data != b""
        except BlockingIOError:
            alive += 1
        except OSError:
            pass
    for s in socks:
        s.close()
    tap.ok(alive <= 16, "from ::1 (one /64) at most 16 connections stay open: %d of 40" % alive)
    d6.stop()


tap.run(main)
