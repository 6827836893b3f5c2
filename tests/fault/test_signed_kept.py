#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A signed tree is never thrown away (issue: ENOSPC after signing). strace
# fails the checkpoint's fsync with ENOSPC three times in a row, after the
# tree was signed. The daemon must keep the record and publish the SAME
# signed note when space returns: strace's record of every note written to
# checkpoint.tmp holds exactly one note per size (the old code cut the record
# back and later signed a different tree of that size), and every checkpoint
# served is a prefix of the ledger found afterwards.
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import faultlib  # noqa: E402
from faultlib import ghtest  # noqa: E402

tap = ghtest.Tap()


def main():
    tmp = ghtest.tmpdir("gh-signed-")
    trace = os.path.join(tmp, "trace")
    d = faultlib.TracedDaemon(tmp, trace, inject="fsync:error=ENOSPC:when=4..6",
                              syscalls=["pwrite64", "fsync"], files=["checkpoint.tmp"])
    d.start(timeout=30)
    seen = {}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and faultlib.injected_count(trace) < 3:
        faultlib.poll_served(d, seen, time.monotonic() + 0.5)
    tap.ok(faultlib.injected_count(trace) == 3, "three ENOSPC injected into the checkpoint fsync")
    size = max(seen) if seen else 0
    faultlib.poll_served(d, seen, time.monotonic() + 0.5)
    try:
        d.wait_size(size + 3, timeout=30)
        resumed = True
    except RuntimeError:
        resumed = False
    tap.ok(resumed, "appends resume after the failures", diag=d.log_tail(15))
    faultlib.poll_served(d, seen, time.monotonic() + 0.5)
    vkey = d.vkey()
    tap.ok(d.stop() == 0, "clean stop")
    notes = faultlib.written_notes(trace)
    sizes = [s for s, _ in notes]
    retried = sorted({s for s in sizes if sizes.count(s) > 1})
    tap.ok(retried, "a signed note was written again after the failure (sizes %s)" % retried)
    tap.ok(faultlib.forks(notes) == [], "never two different signed notes for one size "
           "(%d notes written)" % len(notes), diag="forked sizes: %s" % faultlib.forks(notes))
    log = d.log_text()
    tap.ok("the signed record is kept" in log, "the log says the signed record is kept")
    ok, msg = faultlib.check_after(tmp, d.state_dir, vkey, seen)
    tap.ok(ok is True, "nothing served is lost: " + msg)


tap.run(main)
