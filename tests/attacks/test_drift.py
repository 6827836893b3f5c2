#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 4: the wall clock moved forward in small steps, each below the
daemon's step tolerance (+0.9 s per window, libfaketime; the boot clock
stays real). No single step is large, but the wall-boot offset over the
boot moves by their sum: the client reports it as CLOCK_STEP with
step_seconds adding up to the drift, and the coverage identity holds."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

LIB = al.faketime_lib()
if LIB is None:
    print("1..0 # SKIP libfaketime (Debian package faketime) is not installed")
    sys.exit(0)
tap = al.ghtest.Tap()
STEP = 0.9
STEPS = 4


def set_offset(path, secs):
    with open(path + ".tmp", "w") as f:
        f.write("%+.3f\n" % secs)
    os.rename(path + ".tmp", path)


def main():
    n = al.Node(tap, "drift", gpus=2, loads=[60])
    ts = os.path.join(n.tmp, "faketime")
    set_offset(ts, 0)
    n.d.env = {"LD_PRELOAD": LIB, "FAKETIME_TIMESTAMP_FILE": ts, "FAKETIME_NO_CACHE": "1",
               "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if os.environ.get("ASAN_OPTIONS") is not None:
        n.d.env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    n.start()
    n.trust()
    n.wait_summaries(2)
    for k in range(1, STEPS + 1):
        set_offset(ts, STEP * k)
        n.wait_summaries(1)
    n.wait_summaries(1)
    recs = n.summaries()
    tap.ok(not [r for r in recs if r["kind"] == "clock_step"],
           "each step is below the daemon's tolerance: no clock-step record")
    rc, doc, text = n.verify(label=" (wall clock +%.1f s per window, %d times)" % (STEP, STEPS))
    tap.ok(rc == 1, "verify exits 1 (exit %d)" % rc, diag=text[-2000:])
    steps = al.findings(doc, "CLOCK_STEP")
    total = sum(s.get("step_seconds", 0.0) for s in steps)
    net = al.source(doc).get("step_seconds", 0.0)
    tap.ok(abs(net - STEP * STEPS) <= 0.3, "the source's step_seconds is the drift: %+.2f s of %+.1f s"
           % (net, STEP * STEPS), diag=text[-2000:])
    tap.ok(steps and abs(total - net) < 1.0 + 0.001,
           "CLOCK_STEP findings add up to it (%+.2f s), up to less than the 1 s tolerance" % total,
           diag=al.json.dumps(steps, indent=1) if doc else text)
    al.check_identity(tap, doc, "drift")
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
