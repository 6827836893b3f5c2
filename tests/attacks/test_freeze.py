#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 1: freeze the daemon (kill -STOP ... kill -CONT, shorter than any
watchdog) or hang its driver call (the sim's stall hook) while the GPUs
work, and put the load back to idle before it resumes. The frozen time
must be a TIME_GAP between summaries whose hidden-compute bound, from the
energy counter that kept running, covers the work done meanwhile."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

tap = al.ghtest.Tap()
FREEZE = 3.0


def one(kind):
    n = al.Node(tap, "freeze-" + kind, gpus=2, loads=[0])
    n.start()
    n.trust()
    n.wait_summaries(2)
    if kind == "sigstop":
        t0, t1 = n.freeze(FREEZE, during=lambda: n.load([100]), before_cont=lambda: n.load([0]))
    else:
        stall = os.path.join(n.d.sim_dir, "stall")
        open(stall, "w").close()
        t0 = time.time()
        n.load([100])
        time.sleep(FREEZE)
        n.load([0])
        t1 = time.time()
        os.unlink(stall)
    n.wait_summaries(2)
    rc, doc, text = n.verify(label=" (%s %.0f s at 100 %% load, idle again before it resumed)" % (kind, FREEZE))
    tap.ok(rc == 1, "%s: verify exits 1 (found: %d)" % (kind, rc), diag=text[-2000:])
    gaps = al.gaps_over(doc, t0, t1)
    length = sum(g.get("seconds", 0.0) for g in gaps)
    tap.ok(gaps and FREEZE - 0.3 <= length <= FREEZE + 1.0,
           "%s: a TIME_GAP of %.2f s covers the %.1f s freeze" % (kind, length, FREEZE),
           diag=al.json.dumps(al.source(doc).get("findings"), indent=1)[:3000] if doc else text)
    if gaps:
        a = min(al.iso(g["start"]) for g in gaps)
        b = max(al.iso(g["end"]) for g in gaps)
        busy, _ = n.truth(a, b)
        tap.ok(busy >= 2 * FREEZE / 2 - 0.5, "%s: the sim really ran %.2f GPU-s in the gap" % (kind, busy))
        al.check_bound(tap, gaps, busy, kind)
    else:
        tap.ok(False, "%s: no gap to compare with the truth" % kind)
        tap.ok(False, "%s: hidden-compute bound" % kind)
    al.check_identity(tap, doc, kind)
    log = n.d.log_text()
    stalls = [x for x in log.splitlines() if "stalled" in x]
    tap.ok(len(stalls) == 1 and x_seconds(stalls[0]) >= FREEZE - 0.3,
           "%s: the daemon logged the stall once, with its length" % kind, diag=n.d.log_tail(15))
    tap.ok(n.d.stop() == 0, "%s: clean stop" % kind)


def x_seconds(line):
    import re
    m = re.search(r"stalled for ([0-9.]+) s", line)
    return float(m.group(1)) if m else -1


def main():
    one("sigstop")
    one("stall-hook")


tap.run(main)
