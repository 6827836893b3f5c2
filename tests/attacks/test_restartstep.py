#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 4b: the wall clock moved while the daemon was down, same boot
(stop, restart under libfaketime +100 s). The daemon logs the step it sees
against the ledger's last record of this boot; the client judges the start
record's clocks against the boot's first record: one CLOCK_STEP of +100 s,
a restart gap measured on the boot clock (not 100 s of wall time), and a
hidden-compute bound from energy for the downtime."""

import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

LIB = al.faketime_lib()
if LIB is None:
    print("1..0 # SKIP libfaketime (Debian package faketime) is not installed")
    sys.exit(0)
tap = al.ghtest.Tap()
STEP = 100
DOWN = 2.0


def main():
    n = al.Node(tap, "restartstep", gpus=2, loads=[100, 50])
    n.start()
    n.trust()
    n.wait_summaries(2)
    tap.ok(n.d.stop() == 0, "clean stop")
    time.sleep(DOWN)
    n.d.env = {"LD_PRELOAD": LIB, "FAKETIME": "+%d" % STEP, "FAKETIME_DONT_FAKE_MONOTONIC": "1"}
    if os.environ.get("ASAN_OPTIONS") is not None:
        n.d.env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    n.d.start()
    recs = n.wait_summaries(2)
    tap.ok(not [r for r in recs if r["kind"] == "clock_step"], "no clock-step record: the start record shows the step")
    warns = [x for x in n.d.log_text().splitlines()
             if (m := re.search(r"wall time moved \+([0-9.]+) s", x)) and abs(float(m.group(1)) - STEP) < 1.0]
    tap.ok(len(warns) == 1, "the daemon logged the step since the last record once", diag=n.d.log_tail(8))
    rc, doc, text = n.verify(label=" (stopped, wall clock +%d s, restarted, same boot)" % STEP)
    tap.ok(rc == 1, "verify exits 1 (exit %d)" % rc, diag=text[-2000:])
    steps = al.findings(doc, "CLOCK_STEP")
    tap.ok(len(steps) == 1 and abs(steps[0].get("step_seconds", 0) - STEP) < 0.1,
           "one CLOCK_STEP of +%d s" % STEP, diag=al.json.dumps(steps, indent=1))
    stop = [r for r in recs if r["kind"] == "stop"][-1]
    last_before = [r for r in recs[:recs.index(stop)] if r["kind"] == "summary"][-1]
    first_after = [r for r in recs[recs.index(stop):] if r["kind"] == "summary"][0]
    down_boot = (first_after["obs_start_boot_ns"] - last_before["obs_end_boot_ns"]) / 1e9
    gaps = [g for g in al.findings(doc, "TIME_GAP") if g["first_leaf"] <= recs.index(stop) <= g["last_leaf"]]
    length = sum(g["seconds"] for g in gaps)
    tap.ok(gaps and abs(length - down_boot) <= 0.002 and length < DOWN + 3,
           "the restart gap is %.3f s on the boot clock (%.3f s), not %d s of wall time" % (length, down_boot, STEP),
           diag=text[-3000:])
    a = last_before["obs_end_wall_ns"] / 1e9
    busy, _ = n.truth(a, a + down_boot)
    al.check_bound(tap, gaps, busy, "restart with the wall clock moved")
    al.check_identity(tap, doc, "restart with the wall clock moved")
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
