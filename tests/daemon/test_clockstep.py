#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Clock steps (libfaketime moves CLOCK_REALTIME only; CLOCK_BOOTTIME stays
# real): the daemon closes the window at the last sample before the step,
# writes a clock-step record and starts a new window at the step.
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

LIB = None
for cand in ("/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
             "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1"):
    if os.path.exists(cand):
        LIB = cand
if LIB is None:
    print("1..0 # SKIP libfaketime (Debian package faketime) is not installed")
    sys.exit(0)
tap = ghtest.Tap()
S = 1e9


def records(d):
    cp = d.checkpoint()
    return [ghtest.decode_record(r) for r in d.records(0, cp["size"])]


def wait_kind(d, kind, count, timeout=15):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = records(d)
        if sum(1 for r in recs if r["kind"] == kind) >= count:
            return recs
        time.sleep(0.1)
    raise RuntimeError("no %d %s record(s) after %d s\n%s" % (count, kind, timeout, d.log_tail()))


def check_step(recs, idx, expect_s):
    """Checks around the clock-step record at recs[idx]; returns a list of problems."""
    p = []
    cs = recs[idx]
    before, after = recs[idx - 1], recs[idx + 1]
    moved = ((cs["wall_ns"] - cs["prev_wall_ns"]) - (cs["boot_ns"] - cs["prev_boot_ns"])) / S
    if abs(moved - expect_s) > 0.5:
        p.append("moved %.3f s, expected %.0f" % (moved, expect_s))
    if not 0 < (cs["boot_ns"] - cs["prev_boot_ns"]) / S < 0.5:
        p.append("boot time between the samples around the step: %.3f s" % ((cs["boot_ns"] - cs["prev_boot_ns"]) / S))
    if before["kind"] != "summary" or not before["flags"] & 1 or before["obs_end_wall_ns"] != cs["prev_wall_ns"] \
            or before["obs_end_boot_ns"] != cs["prev_boot_ns"]:
        p.append("the summary before the step does not end at the last sample before it: %r" % before)
    if after["kind"] != "summary" or not after["flags"] & 1 or after["obs_start_wall_ns"] != cs["wall_ns"] \
            or after["obs_start_boot_ns"] != cs["boot_ns"]:
        p.append("the summary after the step does not start at the step: %r" % after)
    return p


def main():
    tmp = ghtest.tmpdir("gh-clock-")
    ts = os.path.join(tmp, "faketime")
    with open(ts, "w") as f:
        f.write("+0\n")
    env = {"LD_PRELOAD": LIB, "FAKETIME_TIMESTAMP_FILE": ts, "FAKETIME_NO_CACHE": "1",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if os.environ.get("ASAN_OPTIONS") is not None:
        env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    d = ghtest.Daemon(tmp, gpus=2, env=env)
    d.start()
    d.wait_size(3)
    with open(ts + ".tmp", "w") as f:
        f.write("+3600\n")
    os.rename(ts + ".tmp", ts)
    recs = wait_kind(d, "clock_step", 1)
    n = len(recs)
    d.wait_size(n + 3)
    recs = records(d)
    idx = [i for i, r in enumerate(recs) if r["kind"] == "clock_step"]
    tap.ok(len(idx) == 1, "one clock-step record for a +1 h step", [r["kind"] for r in recs])
    probs = check_step(recs, idx[0], 3600)
    tap.ok(not probs, "+1 h: window closed at the last sample before the step, new one starts at the step", probs)
    later = [r for r in recs[idx[0] + 2:] if r["kind"] == "summary"]
    tap.ok(later and all(r["flags"] == 0 and r["period_start_ns"] % int(S) == 0 for r in later)
           and all(a["obs_end_wall_ns"] == b["obs_start_wall_ns"] for a, b in zip(recs[idx[0] + 1:], later)),
           "after the step: full, aligned, contiguous windows again")

    with open(ts + ".tmp", "w") as f:
        f.write("-100\n")
    os.rename(ts + ".tmp", ts)
    recs = wait_kind(d, "clock_step", 2)
    d.wait_size(len(recs) + 2)
    recs = records(d)
    idx = [i for i, r in enumerate(recs) if r["kind"] == "clock_step"]
    probs = check_step(recs, idx[1], -3700)
    tap.ok(len(idx) == 2 and not probs, "a backwards step (-3700 s) is recorded the same way", probs)
    o, size, root = ghtest.verify_checkpoint(d.checkpoint()["note"], d.vkey())
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in d.records(0, size)]) == root,
           "the log verifies across the steps")
    tap.ok(d.stop() == 0, "clean stop")


tap.run(main)
