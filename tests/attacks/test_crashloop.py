#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 5c: a crash loop. The daemon is killed (kill -9) right after each
start record, before its first summary, while the GPUs run at full load;
then it runs normally. Every stretch from a start record to the next one
is unobserved: the gaps add up to the time between the last summary before
the loop and the first window after it, and their hidden-compute bound
covers the work the GPUs did in that time."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

tap = al.ghtest.Tap()
LOOPS = 3


def main():
    n = al.Node(tap, "crashloop", gpus=2, loads=[100])
    n.start()
    n.trust()
    n.wait_summaries(2)
    n.d.kill9()
    for _ in range(LOOPS):
        # Start just after a period boundary, die before the next one.
        deadline = time.monotonic() + 2 * al.PERIOD
        while not 0.05 <= time.time() % al.PERIOD <= 0.2 and time.monotonic() < deadline:
            time.sleep(0.01)
        n.d.start()
        n.d.kill9()
        time.sleep(0.5)
    n.d.start()
    recs = n.wait_summaries(2)
    starts = [i for i, r in enumerate(recs) if r["kind"] == "start"]
    tap.ok(len(starts) == LOOPS + 2, "%d start records" % len(starts))
    loop_sums = [r for r in recs[starts[1]:starts[-1]] if r["kind"] == "summary"]
    tap.ok(not loop_sums, "no summary was written during the crash loop", diag=loop_sums)
    rc, doc, text = n.verify(label=" (kill -9 before each first summary, %d times, 100 %% load)" % LOOPS)
    tap.ok(rc == 1, "verify exits 1 (exit %d)" % rc, diag=text[-2000:])
    last_before = [r for r in recs[:starts[1]] if r["kind"] == "summary"][-1]
    first_after = [r for r in recs[starts[-1]:] if r["kind"] == "summary"][0]
    a = last_before["obs_end_wall_ns"] / 1e9
    b = first_after["obs_start_wall_ns"] / 1e9
    gaps = al.gaps_over(doc, a, b)
    covered = sum(al.overlap(g, a, b) for g in gaps)
    tap.ok(abs(covered - (b - a)) <= 0.05,
           "the gaps cover the whole loop: %.2f s of %.2f s" % (covered, b - a),
           diag=al.json.dumps(al.source(doc).get("findings"), indent=1)[:4000] if doc else text)
    al.check_bound(tap, gaps, n.truth(a, b)[0], "crash loop")
    al.check_identity(tap, doc, "crash loop")
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
