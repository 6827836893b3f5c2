#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 2: restart the daemon with its boot clock moved back 8 s (a time
namespace, unshare --time --boottime -8), same boot ID. Overlapping windows
must not swallow signed busy time or shrink the gap: a boot clock that runs
backwards within one boot ID is impossible, so the client reports an
integrity failure (exit 2), and the daemon logs what it saw."""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

if os.geteuid() != 0 or not al.unshare_ok("--time", "--boottime", "-8", "--fork"):
    print("1..0 # SKIP needs root and time namespaces (unshare --time)")
    sys.exit(0)
tap = al.ghtest.Tap()
DOWN = 1.5


def main():
    n = al.Node(tap, "bootclock", gpus=2, loads=[50])
    n.start()
    n.trust()
    n.wait_summaries(3)
    before = n.summaries()
    busy_before = sum(g["busy_ms"] for r in before if r["kind"] == "summary" for g in r["gpus"]) / 1000
    tap.ok(n.d.stop() == 0, "clean stop before the restart")
    t_down = time.time()
    time.sleep(DOWN)
    n.d.prefix = ["unshare", "--time", "--boottime", "-8", "--fork", "--kill-child"]
    n.d.start()
    t_up = time.time()
    n.wait_summaries(3)
    rc, doc, text = n.verify(label=" (restarted with the boot clock 8 s back, same boot ID)")
    tap.ok(rc == 2, "verify exits 2: the boot clock ran backwards within one boot ID (exit %d)" % rc,
           diag=text[-2000:])
    errs = [f for f in al.source(doc).get("findings", []) if f["severity"] == "error"]
    tap.ok(errs and any("boot" in f.get("detail", "").lower() for f in errs),
           "an error finding names the boot clock", diag=al.json.dumps(errs, indent=1) if doc else text)
    gaps = al.gaps_over(doc, t_down - 1, t_up + 0.5)
    length = sum(g.get("seconds", 0.0) for g in gaps)
    tap.ok(gaps and length >= DOWN - 0.2, "the gap across the restart is not shrunk: %.2f s >= %.1f s down"
           % (length, DOWN), diag=text[-3000:])
    src = al.source(doc)
    total = src.get("gpu_hours", 0) * 3600
    recs = n.summaries()
    busy_all = sum(g["busy_ms"] for r in recs if r["kind"] == "summary" for g in r["gpus"]) / 1000
    tap.ok(busy_before > 0 and abs(total - busy_all) <= 0.01 * busy_all + 0.01,
           "no signed busy time disappears: %.2f GPU-s reported, %.2f GPU-s signed" % (total, busy_all))
    if gaps:
        a = min(al.iso(g["start"]) for g in gaps)
        b = max(al.iso(g["end"]) for g in gaps)
        al.check_bound(tap, gaps, n.truth(a, b)[0], "restart with the boot clock moved back")
    else:
        tap.ok(False, "no gap for the hidden-compute bound")
    al.check_identity(tap, doc, "boot clock moved back")
    warns = [x for x in n.d.log_text().splitlines() if "boot clock" in x and "behind" in x]
    tap.ok(len(warns) == 1, "the daemon logged the boot clock going backwards", diag=n.d.log_tail(10))
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
