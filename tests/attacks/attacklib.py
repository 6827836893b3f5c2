# SPDX-License-Identifier: MIT
"""Helpers for the attack regression tests: a real gpuhoursd on 127.0.0.1
whose simulated GPUs follow a load schedule with times (sim-dir/schedule),
the real client with private XDG directories, and the simulated truth.

The truth: the sim's energy counter follows the schedule over real wall
time, whatever the daemon does (see gpuhoursd(8), "Simulated GPUs"). So
for any interval [a, b] of real wall time, busy GPU-seconds and joules
follow from the schedule alone: power = 60 W + 640 W x load. The client
counts energy above idle as busy time at the H100 row's minimum power limit
(200 W, proto/ANALYSIS.md section 6), so the sim's full-load second (640 W
above idle) reads as up to 640 / 140 = 4.57 busy seconds, never more than the
gap's length a GPU.
"""

import datetime
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "client"))
import ghtest  # noqa: E402
import cltest  # noqa: E402

IDLE_W = 60.0
SPAN_W = 640.0
MIN_LIMIT_W = 200.0  # client/peaks.c, the H100 row's minimum power limit
PERIOD = 2          # s, summary period of every attack test
INTERVAL = 0.1      # s, sample interval
FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"]


def faketime_lib():
    for c in FAKETIME_LIBS:
        if os.path.exists(c):
            return c
    return None


def iso(t):
    """The client's instants: '2026-12-01T21:10:51.674Z' -> Unix seconds (float)."""
    s = t.rstrip("Z")
    if "." in s:
        main, frac = s.split(".")
    else:
        main, frac = s, "0"
    dt = datetime.datetime.strptime(main, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return dt.timestamp() + float("0." + frac)


class WrappedDaemon(ghtest.Daemon):
    """gpuhoursd started through a wrapper command (prefix), e.g. unshare. stop() sends
    SIGTERM to gpuhoursd itself (unshare ignores it) and waits for the wrapper."""

    prefix = []

    def args(self):
        return list(self.prefix) + super().args()

    def daemon_pid(self):
        if not self.prefix:
            return self.proc.pid
        deadline = time.monotonic() + 10
        pid = self.proc.pid
        while time.monotonic() < deadline:
            try:
                with open("/proc/%d/exe" % pid, "rb"):
                    exe = os.readlink("/proc/%d/exe" % pid)
            except OSError:
                exe = ""
            if os.path.basename(exe) == "gpuhoursd":
                return pid
            try:
                with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            if kids:
                pid = int(kids[0])
            else:
                time.sleep(0.05)
        raise RuntimeError("no gpuhoursd under the wrapper")

    def stop(self, timeout=10):
        if self.proc is None:
            return None
        if self.prefix and self.proc.poll() is None:
            try:
                os.kill(self.daemon_pid(), signal.SIGTERM)
                self.proc.wait(timeout)
            except (subprocess.TimeoutExpired, RuntimeError, OSError):
                pass
        return super().stop(timeout)


class Node:
    """One node under attack: daemon, schedule, client, and a log of what the client said."""

    def __init__(self, tap, name, gpus=2, loads=(0,), period=PERIOD, interval=INTERVAL):
        self.tap = tap
        self.name = name
        self.tmp = ghtest.tmpdir("gh-attack-%s-" % name)
        self.env = cltest.client_env(self.tmp)
        self.gpus = gpus
        self.d = WrappedDaemon(os.path.join(self.tmp, "node"), gpus=gpus, period=period,
                               interval=interval)
        self.events = []  # (unix time, [load % per GPU])
        self.load(list(loads))

    # ---------------------------------------------------------------- the sim's truth
    def load(self, loads, at=None):
        """From now (or at), the GPUs run at loads (GPU i takes loads[i], the last applies
        to the rest). Appends a line to sim-dir/schedule and rewrites sim-dir/load."""
        t = time.time() if at is None else at
        os.makedirs(self.d.sim_dir, exist_ok=True)
        with open(os.path.join(self.d.sim_dir, "schedule"), "a") as f:
            f.write("%.6f %s\n" % (t, " ".join(str(x) for x in loads)))
        self.events.append((t, list(loads)))
        if at is None:
            self.d.set_load(loads)
        return t

    def _load_of(self, loads, i):
        return loads[i] if i < len(loads) else loads[-1]

    def truth(self, a, b):
        """(busy GPU-seconds, joules above idle) summed over all GPUs in real wall time [a, b]."""
        busy = joules = 0.0
        ev = sorted(self.events)
        for k, (t, loads) in enumerate(ev):
            end = ev[k + 1][0] if k + 1 < len(ev) else float("inf")
            lo, hi = max(a, t), min(b, end)
            if hi <= lo:
                continue
            for i in range(self.gpus):
                u = self._load_of(loads, i) / 100.0
                busy += u * (hi - lo)
                joules += SPAN_W * u * (hi - lo)
        return busy, joules

    # ---------------------------------------------------------------- daemon
    def start(self, **kw):
        self.d.start(**kw)
        return self

    def trust(self):
        rc, out, err, _ = cltest.run(["trust", "add", self.d.vkey()], self.env)
        if rc != 0:
            raise RuntimeError("trust add failed: %s%s" % (out, err))

    def summaries(self):
        cp = self.d.checkpoint()
        recs = [ghtest.decode_record(r) for r in self.d.records(0, cp["size"])]
        return recs

    def wait_summaries(self, n, timeout=30):
        """Wait for n more summary records than there are now."""
        have = sum(1 for r in self.summaries() if r["kind"] == "summary")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recs = self.summaries()
            if sum(1 for r in recs if r["kind"] == "summary") >= have + n:
                return recs
            if not self.d.running():
                raise RuntimeError("gpuhoursd exited:\n" + self.d.log_tail())
            time.sleep(0.1)
        raise RuntimeError("no %d new summaries in %d s\n%s" % (n, timeout, self.d.log_tail()))

    def freeze(self, seconds, during=None, before_cont=None):
        """kill -STOP, wait (calling during() halfway, before_cont() at the end), kill -CONT.
        Returns (t_stop, t_cont)."""
        t0 = time.time()
        pid = self.d.daemon_pid()
        os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds / 2)
        if during:
            during()
        time.sleep(seconds / 2)
        if before_cont:
            before_cont()
        t1 = time.time()
        os.kill(pid, signal.SIGCONT)
        return t0, t1

    # ---------------------------------------------------------------- client
    def client(self, args, timeout=60):
        return cltest.run(args, self.env, timeout)

    def verify(self, sources=None, label=""):
        """verify (text, for the record) and verify --json; returns (rc, doc, text)."""
        src = sources or [self.d.url]
        rc_t, out, err, _ = cltest.run(["verify"] + src, self.env)
        rc, doc, text = cltest.verify_json(src, self.env)
        record("%s%s: gpuhours verify -> exit %d\n%s%s" % (self.name, label, rc_t, out, err))
        self.tap.diag("gpuhours verify (exit %d):\n%s%s" % (rc_t, out, err))
        return rc, doc, text


def record(text):
    """Append the client's output to $GH_ATTACK_LOG (before/after evidence), if set."""
    path = os.environ.get("GH_ATTACK_LOG")
    if path:
        with open(path, "a") as f:
            f.write(text.rstrip("\n") + "\n\n")


def findings(doc, kind):
    if not doc or not doc.get("sources"):
        return []
    return [f for f in doc["sources"][0].get("findings", []) if f["kind"] == kind]


def source(doc):
    return doc["sources"][0] if doc and doc.get("sources") else {}


def overlap(f, a, b):
    """Seconds of finding f's [start, end] inside [a, b]."""
    s, e = iso(f["start"]), iso(f["end"])
    return max(0.0, min(e, b) - max(s, a))


def gaps_over(doc, a, b, kinds=("TIME_GAP",)):
    """The findings of the given kinds that overlap [a, b]."""
    out = []
    for k in kinds:
        out += [f for f in findings(doc, k) if overlap(f, a, b) > 0]
    return out


def check_identity(tap, doc, what):
    """The coverage identity (proto/ANALYSIS.md section 3): observed + unobserved + step =
    wall span of the audited interval, and per GPU observed + unobserved = interval."""
    src = source(doc)
    obs, gap, step = src.get("observed_seconds"), src.get("unobserved_seconds"), src.get("step_seconds")
    span = None
    if src.get("first_time") and src.get("last_time"):
        span = iso(src["last_time"]) - iso(src["first_time"])
    ok = None not in (obs, gap, step, span) and abs(obs + gap + step - span) <= 0.003
    tap.ok(ok, "%s: observed %s + unobserved %s + step %s = wall span %s" % (what, obs, gap, step, span),
           diag=json.dumps({k: v for k, v in src.items() if k != "findings"}, indent=1)[:3000])
    iv = src.get("interval_seconds")
    gpus = src.get("gpus") or []
    bad = [g for g in gpus if iv is None or abs(g["observed_seconds"] + g["unobserved_seconds"] - iv) > 0.0005]
    tap.ok(gpus and not bad, "%s: per GPU observed + unobserved = interval %s" % (what, iv), diag=bad or gpus)


def check_bound(tap, fs, truth_busy, what, continuous=True):
    """hidden-compute bound of the findings fs against the simulated truth: bound >= truth,
    and where the energy counter is continuous within 15 % of what the truth's energy
    gives at the minimum power limit (truth x 640 / 140: the sim draws 700 W busy)."""
    bound = sum(f.get("gpu_seconds", 0.0) or 0.0 for f in fs)
    have = fs and all("gpu_seconds" in f for f in fs)
    ok = have and bound >= truth_busy * 0.995 - 0.05
    if continuous and truth_busy > 0.5:
        ok = ok and bound <= truth_busy * SPAN_W / (MIN_LIMIT_W - IDLE_W) * 1.15 + 0.05
    tap.ok(ok, "%s: hidden-compute bound %.2f GPU-s vs simulated truth %.2f GPU-s" % (what, bound, truth_busy),
           diag=json.dumps(fs, indent=1)[:3000])
    return bound


def unshare_ok(*flags):
    try:
        return subprocess.run(["unshare"] + list(flags) + ["true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False
