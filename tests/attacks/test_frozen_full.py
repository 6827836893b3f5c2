#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 5b: a frozen stretch at full load (kill -STOP while the GPUs run
at 100 % and keep running after kill -CONT). The gap between summaries gets
a hidden-compute bound from energy: the GPU-seconds the energy used in the
gap could have bought, within 15 % of what the sim really did."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

tap = al.ghtest.Tap()
FREEZE = 3.0


def main():
    n = al.Node(tap, "frozen-full", gpus=2, loads=[100, 30])
    n.start()
    n.trust()
    n.wait_summaries(2)
    t0, t1 = n.freeze(FREEZE)
    n.wait_summaries(2)
    rc, doc, text = n.verify(label=" (kill -STOP %.0f s, loads 100 %% and 30 %% throughout)" % FREEZE)
    tap.ok(rc == 1, "verify exits 1 (found: %d)" % rc, diag=text[-2000:])
    gaps = al.gaps_over(doc, t0, t1)
    length = sum(g.get("seconds", 0.0) for g in gaps)
    tap.ok(gaps and FREEZE - 0.3 <= length <= FREEZE + 1.0,
           "a TIME_GAP of %.2f s covers the %.1f s freeze" % (length, FREEZE), diag=text[-3000:])
    if gaps:
        a = min(al.iso(g["start"]) for g in gaps)
        b = max(al.iso(g["end"]) for g in gaps)
        busy, joules = n.truth(a, b)
        al.check_bound(tap, gaps, busy, "frozen at full load")
        ej = sum(g.get("energy_joules", 0.0) or 0.0 for g in gaps)
        tap.ok(abs(ej - joules) <= 0.05 * joules + 1, "energy above idle in the gap %.1f J, the sim used %.1f J" % (ej, joules))
    else:
        tap.ok(False, "no gap to compare with the truth")
        tap.ok(False, "no gap energy")
    al.check_identity(tap, doc, "frozen at full load")
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
