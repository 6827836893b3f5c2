#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 2: restart the daemon with its boot clock moved back 8 s (a time
namespace, unshare --time --boottime -8), same boot ID. In v1 the
overlapping windows were "counted once": signed busy time vanished and the
restart gap shrank to 0. A boot clock that runs backwards within one boot
ID is impossible, so the client must report an integrity failure
(IMPLAUSIBLE, exit 2: the evidence is not accepted at all), and the daemon
logs what it saw."""

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
    tap.ok(n.d.stop() == 0, "clean stop before the restart")
    time.sleep(DOWN)
    n.d.prefix = ["unshare", "--time", "--boottime", "-8", "--fork", "--kill-child"]
    n.d.start()
    n.wait_summaries(3)
    rc, doc, text = n.verify(label=" (restarted with the boot clock 8 s back, same boot ID)")
    tap.ok(rc == 2, "verify exits 2: the boot clock ran backwards within one boot ID (exit %d)" % rc,
           diag=text[-2000:])
    errs = [f for f in al.source(doc).get("findings", []) if f["severity"] == "error"]
    tap.ok(errs and any("boot" in f.get("detail", "").lower() for f in errs),
           "an error finding names the boot clock", diag=al.json.dumps(errs, indent=1) if doc else text)
    imp = [f for f in errs if f["kind"] == "IMPLAUSIBLE"]
    tap.ok(imp, "the finding is IMPLAUSIBLE (signed data that contradicts physics)", diag=errs)
    warns = [x for x in n.d.log_text().splitlines() if "boot clock" in x and "behind" in x]
    tap.ok(len(warns) == 1, "the daemon logged the boot clock going backwards", diag=n.d.log_tail(10))
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
