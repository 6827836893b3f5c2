#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The sd_notify protocol of gpuhoursd, seen from outside the way systemd sees
# it: a datagram socket at $NOTIFY_SOCKET, WATCHDOG_USEC=1 s. READY=1 only
# once the start record is signed, STATUS= lines, WATCHDOG=1 at least every
# 0.5 s (+ slack), no pings while the sampler hangs (<sim-dir>/stall), pings
# again once it recovers, STOPPING=1 on SIGTERM, exit 0.
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
WATCHDOG_USEC = 1000000
# Half the watchdog interval is what sd_watchdog_enabled(3) asks for; the
# slack is for two loaded cores shared with other tests.
MAX_PING_GAP = WATCHDOG_USEC / 1e6 / 2 + 0.4


class WatchdogDaemon(ghtest.Daemon):
    """sd_watchdog_enabled() needs WATCHDOG_PID == getpid(): set it in a shell that execs the daemon."""

    def args(self):
        return ["/bin/sh", "-c", 'WATCHDOG_PID=$$; export WATCHDOG_PID; exec "$@"', "sh"] + super().args()


class Listener:
    """Collects (monotonic time, field) for every line of every datagram."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.2)
        self.msgs = []
        self.lock = threading.Lock()
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            now = time.monotonic()
            with self.lock:
                for line in data.decode("utf-8", "replace").split("\n"):
                    if line:
                        self.msgs.append((now, line))

    def snapshot(self):
        with self.lock:
            return list(self.msgs)

    def wait_for(self, field, timeout, after=0.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, m in self.snapshot():
                if m == field and t >= after:
                    return t
            time.sleep(0.02)
        return None

    def close(self):
        self.stop = True
        self.thread.join(2)
        self.sock.close()


def pings(msgs, start, end):
    return [t for t, m in msgs if m == "WATCHDOG=1" and start <= t <= end]


def max_gap(times, start, end):
    edges = [start] + times + [end]
    return max(b - a for a, b in zip(edges, edges[1:]))


def main():
    with tempfile.TemporaryDirectory(prefix="gh-notify-") as tmp:
        path = os.path.join(tmp, "notify.sock")
        lst = Listener(path)
        d = WatchdogDaemon(os.path.join(tmp, "d"), gpus=2, period=1, interval=0.1,
                           env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": str(WATCHDOG_USEC)})
        try:
            d.start(wait_ready=False)
            t_ready = lst.wait_for("READY=1", 20)
            if not tap.ok(t_ready is not None, "READY=1 arrives", diag=d.log_tail()):
                return
            # READY only after recovery and the start record: a signed checkpoint with >= 1 leaf.
            try:
                cp = d.checkpoint()
            except (OSError, RuntimeError) as e:
                cp = None
                tap.diag(str(e))
            tap.ok(cp is not None and cp["size"] >= 1, "at READY=1 the start record is signed (checkpoint size >= 1)",
                   diag=repr(cp))
            before = [m for t, m in lst.snapshot() if t <= t_ready]
            tap.ok(before.count("READY=1") == 1, "READY=1 sent once")
            time.sleep(3.0)
            msgs = lst.snapshot()
            status = [m for _, m in msgs if m.startswith("STATUS=")]
            tap.ok(len(status) >= 1 and all(len(m) > len("STATUS=") for m in status),
                   "STATUS= lines with text (%d)" % len(status), diag=repr(status[:5]))
            if status:
                tap.diag("last " + status[-1])
            w0, w1 = t_ready + 0.5, time.monotonic()
            p = pings(msgs, w0, w1)
            gap = max_gap(p, w0, w1)
            tap.ok(len(p) >= 4 and gap <= MAX_PING_GAP,
                   "WATCHDOG=1 at least every %.2f s with WATCHDOG_USEC=1000000 (%d pings in %.1f s, largest gap %.2f s)"
                   % (MAX_PING_GAP, len(p), w1 - w0, gap))

            # The sampler hangs: the pings must stop (this is what makes systemd restart a hung daemon).
            stall = os.path.join(d.sim_dir, "stall")
            open(stall, "w").close()
            t_stall = time.monotonic()
            time.sleep(3.0)
            quiet_from = t_stall + 0.6  # one sample interval + one ping already on its way
            late = pings(lst.snapshot(), quiet_from, time.monotonic())
            tap.ok(len(late) == 0, "no WATCHDOG=1 while <sim-dir>/stall exists (%d pings in 2.4 s)" % len(late))
            tap.ok(d.running(), "the daemon is still running while stalled (systemd would abort it)")
            os.unlink(stall)
            t_unstall = time.monotonic()
            t_again = lst.wait_for("WATCHDOG=1", 5, after=t_unstall)
            tap.ok(t_again is not None, "WATCHDOG=1 resumes after the stall ends (%.2f s)"
                   % ((t_again or 0) - t_unstall))

            t_term = time.monotonic()
            d.proc.send_signal(signal.SIGTERM)
            try:
                rc = d.proc.wait(15)
            except subprocess.TimeoutExpired:
                rc = None
            tap.ok(rc == 0, "exit 0 after SIGTERM", diag="rc=%r\n%s" % (rc, d.log_tail()))
            time.sleep(0.3)
            t_stop = lst.wait_for("STOPPING=1", 2, after=t_term)
            tap.ok(t_stop is not None, "STOPPING=1 after SIGTERM")
            late = [m for t, m in lst.snapshot() if t > t_term and m == "READY=1"]
            tap.ok(not late, "no READY=1 during shutdown")
        finally:
            d.stop()
            lst.close()

        # Without WATCHDOG_USEC the daemon must not ping (sd_watchdog_enabled() is false).
        path2 = os.path.join(tmp, "notify2.sock")
        lst2 = Listener(path2)
        d2 = ghtest.Daemon(os.path.join(tmp, "d2"), gpus=1, period=1, interval=0.1, env={"NOTIFY_SOCKET": path2})
        try:
            d2.start(wait_ready=False)
            t_ready = lst2.wait_for("READY=1", 20)
            tap.ok(t_ready is not None, "READY=1 without a watchdog", diag=d2.log_tail())
            time.sleep(1.5)
            n = len(pings(lst2.snapshot(), 0, time.monotonic()))
            tap.ok(n == 0, "no WATCHDOG=1 when WATCHDOG_USEC is not set (%d)" % n)
        finally:
            d2.stop()
            lst2.close()


tap.run(main)
