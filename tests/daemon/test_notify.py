#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# systemd integration from the daemon's side: READY/STATUS/WATCHDOG/STOPPING
# over a NOTIFY_SOCKET datagram listener, the watchdog stopping while the sim
# sampler hangs (<sim-dir>/stall), and socket activation (LISTEN_FDS).
import os
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


class Listener:
    def __init__(self, path):
        self.path = path
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.s.bind(path)
        self.msgs = []  # (monotonic time, {key: value})

    def pump(self, seconds):
        deadline = time.monotonic() + seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            self.s.settimeout(left)
            try:
                data = self.s.recv(4096)
            except socket.timeout:
                return
            kv = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
            self.msgs.append((time.monotonic(), kv))

    def wait_for(self, key, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for t, kv in self.msgs:
                if key in kv:
                    return t, kv
            self.pump(0.05)
        return None, None

    def pings(self, since=0.0, until=1e18):
        return [t for t, kv in self.msgs if kv.get("WATCHDOG") == "1" and since <= t <= until]


def main():
    tmp = ghtest.tmpdir("gh-notify-")
    lst = Listener(os.path.join(tmp, "notify.sock"))
    d = ghtest.Daemon(tmp, gpus=1, env={"NOTIFY_SOCKET": lst.path, "WATCHDOG_USEC": "1000000"})
    d.start(wait_ready=False)
    t_ready, kv = lst.wait_for("READY", 15)
    tap.ok(t_ready is not None, "READY=1 arrives")
    cp = d.checkpoint() if t_ready else None
    tap.ok(cp is not None and cp["size"] >= 1, "at READY the ledger is recovered and the start record is signed")
    tap.ok(kv is not None and "records" in kv.get("STATUS", "") and "sampler ok" in kv.get("STATUS", ""),
           "READY carries a one-line STATUS", kv)
    lst.pump(3)
    t0 = t_ready
    pings = lst.pings(since=t0)
    gaps = [b - a for a, b in zip(pings, pings[1:])]
    tap.ok(len(pings) >= 5 and max(gaps) < 0.8, "WATCHDOG=1 at least every WatchdogSec/2 (%d pings, max gap %.2f s)"
           % (len(pings), max(gaps) if gaps else -1))
    stall = os.path.join(d.sim_dir, "stall")
    open(stall, "w").close()
    t_stall = time.monotonic()
    lst.pump(2.5)
    late = lst.pings(since=t_stall + 0.4)
    tap.ok(not late, "no WATCHDOG=1 while the sampler hangs (%d late pings)" % len(late))
    os.unlink(stall)
    t_unstall = time.monotonic()
    lst.pump(1.5)
    tap.ok(len(lst.pings(since=t_unstall)) >= 2, "pings resume when the sampler recovers")
    d.proc.send_signal(signal.SIGTERM)
    t_stop, kv = lst.wait_for("STOPPING", 10)
    tap.ok(t_stop is not None, "STOPPING=1 on SIGTERM")
    tap.ok(d.stop() == 0, "exit 0")

    # Socket activation: serve on the socket passed as fd 3 (LISTEN_FDS=1, LISTEN_PID=own pid).
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(16)
    port = ls.getsockname()[1]
    other = ghtest.free_port()
    d2 = ghtest.Daemon(os.path.join(tmp, "sa"), gpus=1, port=other)
    fd = ls.fileno()
    cmd = "exec 3<&%d %d<&-; LISTEN_PID=$$ LISTEN_FDS=1 exec \"$@\"" % (fd, fd)
    os.makedirs(d2.tmpdir, exist_ok=True)
    log = open(d2.log_path, "ab")
    d2.proc = subprocess.Popen(["sh", "-c", cmd, "sh"] + d2.args(), pass_fds=(fd,), stdin=subprocess.DEVNULL,
                               stdout=log, stderr=log, env=d2._environ())
    ghtest._live.append(d2)
    d2._log = log
    d2.port = port  # talk to the passed socket
    d2.wait_ready()
    tap.ok(d2.checkpoint()["size"] >= 1, "socket activation: serves on the passed socket")
    try:
        socket.create_connection(("127.0.0.1", other), timeout=1).close()
        bound = True
    except OSError:
        bound = False
    tap.ok(not bound, "socket activation: --listen is ignored")
    tap.ok(d2.stop() == 0, "socket activation: clean stop")
    # the socket stays usable for the next activation (MHD quiesced, no shutdown())
    c = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    c.settimeout(2)
    try:
        c.connect(("127.0.0.1", port))
        ok = True
    except OSError:
        ok = False
    c.close()
    tap.ok(ok, "socket activation: the listening socket still accepts after the daemon stops")
    ls.close()


tap.run(main)
