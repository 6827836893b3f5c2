#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The truthful sim: energy counters follow sim-dir/schedule over real wall
time, while the daemon runs and while it is down; the load file is in force
from its mtime; a bad schedule line is reported once and it and the lines
after it are ignored; the energy file is written only when the load
changes; a reading's power is the average since the previous one, so that
no window's energy exceeds its largest power reading times its length (the
client's plausibility check B5), however a load change falls."""

import math
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def records_live(d):
    cp = d.checkpoint()
    return [ghtest.decode_record(r) for r in d.records(0, cp["size"])]


def records_file(d):
    data = open(os.path.join(d.state_dir, "records"), "rb").read()
    return [ghtest.decode_record(r) for r in ghtest.split_frames(data)]


class Schedule:
    def __init__(self, path):
        self.path = path
        self.ev = []

    def add(self, t, load):
        with open(self.path, "a") as f:
            f.write("%.6f %s\n" % (t, load))
        self.ev.append((t, load))

    def joules(self, a, b):
        """Energy of one GPU over [a, b] (all GPUs run the same load here)."""
        j = 0.0
        for k, (t, load) in enumerate(self.ev):
            end = self.ev[k + 1][0] if k + 1 < len(self.ev) else float("inf")
            lo, hi = max(a, t), min(b, end)
            if hi > lo:
                j += (60 + 6.4 * load) * (hi - lo)
        return j


def main():
    tmp = ghtest.tmpdir("gh-sim-")
    d = ghtest.Daemon(tmp, gpus=2, period=1)
    os.makedirs(d.sim_dir)
    sched = Schedule(os.path.join(d.sim_dir, "schedule"))
    now = time.time()
    sched.add(now - 10, 0)
    sched.add(now + 1.5, 100)
    sched.add(now + 3.0, 20)
    d.start()
    d.wait_size(7, timeout=30)
    time.sleep(3.5)
    recs = records_live(d)
    sums = [r for r in recs if r["kind"] == "summary"]
    probs = []
    for s in sums:
        a, b = s["obs_start_wall_ns"] / 1e9, s["obs_end_wall_ns"] / 1e9
        want = sched.joules(a, b)
        for g in s["gpus"]:
            got = (g["energy_end_mj"] - g["energy_start_mj"]) / 1000
            if abs(got - want) > 0.002 * want + 0.01:
                probs.append((a, b, got, want))
    tap.ok(len(sums) >= 5 and not probs, "window energy follows the schedule (%d windows)" % len(sums), probs[:5])
    st = os.stat(os.path.join(d.sim_dir, "energy"))
    time.sleep(1.0)
    tap.ok(os.stat(os.path.join(d.sim_dir, "energy")).st_mtime_ns == st.st_mtime_ns,
           "the energy file is not rewritten while the load stays the same")
    tap.ok(d.stop() == 0, "clean stop")

    # Down: the load changes twice while nobody runs; the counter still follows.
    recs = records_file(d)
    last = [r for r in recs if r["kind"] == "summary"][-1]
    t_last = last["obs_end_wall_ns"] / 1e9
    now = time.time()
    sched.add(now + 0.5, 100)
    sched.add(now + 1.5, 0)
    time.sleep(2.5)
    d.start()
    d.wait_size(len(recs) + 2)
    start = [r for r in records_live(d) if r["kind"] == "start"][-1]
    want = sched.joules(t_last, start["wall_ns"] / 1e9)
    got = [(g["energy_mj"] - h["energy_end_mj"]) / 1000
           for g, h in zip(start["gpus"], last["gpus"])]
    tap.ok(all(abs(x - want) <= 0.002 * want + 0.05 for x in got),
           "energy used while the daemon was down follows the schedule: %s J, truth %.2f J" % (got, want))

    # A bad line: reported once, it and the lines after it are ignored.
    with open(sched.path, "a") as f:
        f.write("soon 100\n%.6f 100\n" % (time.time() + 0.2))
    time.sleep(1.5)
    n0 = d.checkpoint()["size"]
    d.wait_size(n0 + 2)
    complaints = [x for x in d.log_text().splitlines() if "schedule line" in x]
    s = [r for r in records_live(d) if r["kind"] == "summary"][-1]
    tap.ok(len(complaints) == 1 and "'soon'" in complaints[0] and all(g["busy_ms"] == 0 for g in s["gpus"]),
           "a bad schedule line is reported once, quoting it; the lines after it are ignored",
           d.log_tail(5))
    # The load file still works, from its modification time.
    d.set_load([50])
    n0 = d.checkpoint()["size"]
    d.wait_size(n0 + 3)
    s = [r for r in records_live(d) if r["kind"] == "summary"][-1]
    tap.ok(all(abs(g["power_avg_mw"] - 380000) <= 1000 for g in s["gpus"]), "the load file still sets the load",
           [g["power_avg_mw"] for g in s["gpus"]])
    tap.ok(d.stop() == 0, "clean stop")



def drops_after_baseline():
    """A load that drops just after a window's first reading (its baseline): every
    reading of the window comes after the drop. An instantaneous power reading then
    says 60 W while the energy still holds the 700 W part of the first interval: the
    window looks implausible (energy above max power x time + 10 % + 1 J) and the
    client fails an honest node. The drops are placed from the windows' own phase."""
    tmp = ghtest.tmpdir("gh-sim-drop-")
    d = ghtest.Daemon(tmp, gpus=1, period=1, interval=0.1)
    os.makedirs(d.sim_dir)
    sched = Schedule(os.path.join(d.sim_dir, "schedule"))
    sched.add(time.time() - 10, 100)
    d.start()
    d.wait_size(5, timeout=30)
    sums = [r for r in records_live(d) if r["kind"] == "summary"]
    phase = sums[-1]["obs_start_wall_ns"] % 10**9 / 1e9  # the baseline reading's offset
    t0 = math.ceil(time.time()) + 1
    drops = []
    for k, off in enumerate((0.02, 0.04, 0.06, 0.08)):
        t = t0 + 2 * k + phase + off
        sched.add(t, 0)
        sched.add(t0 + 2 * k + 1.5, 100)
        drops.append(t)
    while time.time() < drops[-1] + 2.5:
        time.sleep(0.2)
    sums = [r for r in records_live(d) if r["kind"] == "summary"]
    bad, hit = [], 0
    for s in sums:
        ln = (s["obs_end_boot_ns"] - s["obs_start_boot_ns"]) / 1e9
        a, b = s["obs_start_wall_ns"] / 1e9, s["obs_end_wall_ns"] / 1e9
        hit += any(a < t < b for t in drops)
        for g in s["gpus"]:
            if g["energy_used_mj"] / 1e3 > 1.1 * g["power_max_mw"] / 1e3 * ln + 1.0:
                bad.append((round(a, 3), round(ln, 3), g["energy_used_mj"], g["power_max_mw"]))
    tap.ok(hit == len(drops) and not bad,
           "load drops just after a window's first reading: every window's energy within its "
           "largest power reading x length (%d drops in %d windows)" % (hit, len(sums)),
           diag=bad[:5])
    tap.ok(d.stop() == 0, "clean stop")


tap.run(main, drops_after_baseline)
