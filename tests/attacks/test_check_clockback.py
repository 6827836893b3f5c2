#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack on the verdicts: hide work in a daemon outage and set the wall
clock back by more than the outage before restarting (same boot). In wall
time the windows before and after the outage then touch or overlap, so a
timeline laid out in wall time alone sees no unobserved time at all. The
boot clock proves the outage; `gpuhours check` must not PASS a pause over
it: the energy the GPUs used while nobody looked is hidden work."""

import os
import sys
import time

ISO = "%Y-%m-%dT%H:%M:%SZ"

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

LIB = al.faketime_lib()
if LIB is None:
    print("1..0 # SKIP libfaketime (Debian package faketime) is not installed")
    sys.exit(0)
tap = al.ghtest.Tap()
DOWN = 4.0
BACK = 10


def main():
    n = al.Node(tap, "check-clockback", gpus=2, loads=[0, 0])
    n.start()
    n.trust()
    n.wait_summaries(2)
    t0 = time.time()
    tap.ok(n.d.stop() == 0, "clean stop")
    # While the daemon is down the GPUs work at full load, then go idle again.
    n.load([100, 100], at=time.time())
    time.sleep(DOWN)
    n.load([0, 0], at=time.time())
    n.d.set_load([0, 0])
    n.d.env = {"LD_PRELOAD": LIB, "FAKETIME": "-%d" % BACK, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if os.environ.get("ASAN_OPTIONS") is not None:
        n.d.env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    n.d.start()
    n.wait_summaries(3)
    rules = os.path.join(n.tmp, "rules")
    sums = [r for r in n.summaries() if r["kind"] == "summary"]
    lo = min(r["obs_start_wall_ns"] for r in sums) / 1e9
    hi = max(r["obs_end_wall_ns"] for r in sums) / 1e9
    since = time.strftime(ISO, time.gmtime(int(lo) + 1))
    until = time.strftime(ISO, time.gmtime(int(hi)))
    with open(rules, "w") as f:
        f.write("pause %s %s\n" % (since, until))
    bundle = os.path.join(n.tmp, "node.bundle")
    rc, out, err = n.client(["fetch", "--no-state", "-o", bundle, n.d.url])[:3]
    tap.ok(rc in (0, 1), "fetch the bundle (exit %d)" % rc, diag=out + err)
    n.d.stop()
    rc, out, err = n.client(["check", "--no-state", "--rules", rules, "--since", since,
                             "--until", until, bundle])[:3]
    al.record("check-clockback: gpuhours check -> exit %d\n%s%s" % (rc, out, err))
    tap.diag("gpuhours check (exit %d):\n%s%s" % (rc, out, err))
    line = [x for x in out.splitlines() if x.startswith("pause ")]
    tap.ok(line and " PASS " not in line[0] and rc in (1, 2),
           "pause over an outage at full load hidden by a wall clock set back: not PASS (exit %d)" % rc,
           diag=out + err)
    busy, _ = n.truth(t0, time.time())
    tap.ok(busy >= 2 * DOWN * 0.9, "sanity: the sim ran %.1f GPU-s while the daemon was down" % busy)


tap.run(main)
