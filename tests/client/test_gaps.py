#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The client against the real daemon: a clean run, a clean restart, a
kill -9, energy used while the daemon was down, and a wall-clock step."""

import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()
FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
                 "/usr/lib/faketime/libfaketime.so.1"]


def findings(doc, kind):
    return [f for f in doc["sources"][0]["findings"] if f["kind"] == kind]


def wait_records(d, extra, timeout=20):
    size = d.checkpoint()["size"]
    d.wait_size(size + extra, timeout)


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-gaps-")
    env = cltest.client_env(tmp)
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=2, period=1, interval=0.1)
    d.set_load([100, 50])
    d.start()
    vkey = d.vkey()
    rc, out, err, _ = cltest.run(["trust", "add", vkey], env)
    tap.ok(rc == 0, "trust add the node's vkey", diag=out + err)

    # 1. Clean run: exit 0, GPU-hours as the load implies (100% + 50%).
    wait_records(d, 6)
    rc, doc, text = cltest.verify_json([d.url], env)
    src = doc and doc["sources"][0]
    tap.ok(rc == 0 and src and src["status"] == "ok", "clean run: exit %d" % rc, diag=text)
    if src:
        bad = [f for f in src["findings"] if f["severity"] != "info"]
        tap.ok(not bad, "clean run: no finding above info", diag=bad)
        want = 1.5 * src["observed_seconds"]
        got = src["gpu_hours"] * 3600
        tap.ok(want > 0 and abs(got - want) <= 0.02 * want,
               "clean run: %.2f busy GPU-seconds, load implies %.2f" % (got, want))

    # 2. SIGTERM, wait, restart: TIME_GAP of the right length, RESTART_CLEAN,
    #    and ENERGY_UNACCOUNTED for the 100% load while nobody observed.
    d.stop()
    t0 = time.monotonic()
    time.sleep(4)
    d.start()
    down = time.monotonic() - t0
    wait_records(d, 3)
    rc, doc, text = cltest.verify_json([d.url], env)
    gaps = doc and [f for f in findings(doc, "TIME_GAP") if f["seconds"] > 1.0]
    tap.ok(rc == 1 and doc and doc["sources"][0]["status"] == "findings",
           "after a restart: exit %d (findings)" % rc, diag=text)
    tap.ok(gaps and len(gaps) == 1 and down - 0.5 <= gaps[0]["seconds"] <= down + 1.5,
           "TIME_GAP of %s s for %.2f s down" % (gaps and [g["seconds"] for g in gaps], down),
           diag=text)
    tap.ok(doc and findings(doc, "RESTART_CLEAN"), "RESTART_CLEAN reported", diag=text)
    tap.ok(doc and not findings(doc, "RESTART_UNCLEAN"), "no RESTART_UNCLEAN after SIGTERM")
    en = doc and findings(doc, "ENERGY_UNACCOUNTED")
    if gaps and en:
        gap_s = gaps[0]["seconds"]
        truth_j = (640.0 + 320.0) * gap_s  # sim: 60 W + util x 640 W, idle 60 W
        truth_gs = 1.5 * gap_s
        # the bound counts energy above idle at the H100 row's minimum power limit
        # (200 W, ANALYSIS.md 6), at most the gap a GPU: min(gap, 640 or 320 W x gap / 140 W)
        want_gs = sum(min(gap_s, w * gap_s / (200.0 - 60.0)) for w in (640.0, 320.0))
        tap.ok(abs(en[0]["energy_joules"] - truth_j) <= 0.1 * truth_j,
               "ENERGY_UNACCOUNTED %.0f J, sim truth %.0f J" % (en[0]["energy_joules"], truth_j))
        tap.ok(en[0]["gpu_seconds"] >= truth_gs and
               abs(en[0]["gpu_seconds"] - want_gs) <= 0.1 * want_gs,
               "ENERGY_UNACCOUNTED %.2f GPU-s, sim truth %.2f GPU-s, at the minimum power "
               "limit %.2f" % (en[0]["gpu_seconds"], truth_gs, want_gs))
    else:
        tap.ok(False, "ENERGY_UNACCOUNTED reported for the gap", diag=text)
        tap.ok(False, "ENERGY_UNACCOUNTED GPU-seconds")
    # The gap is also in the human output with ISO bounds.
    rc2, out, err, _ = cltest.run(["verify", d.url], env)
    tap.ok(rc2 == 1 and "TIME_GAP" in out and "VERIFIED WITH FINDINGS" in out,
           "human output names the gap", diag=out + err)

    # 3. kill -9: RESTART_UNCLEAN.
    d.kill9()
    time.sleep(1.5)
    d.start()
    wait_records(d, 3)
    rc, doc, text = cltest.verify_json([d.url], env)
    tap.ok(rc == 1 and doc and findings(doc, "RESTART_UNCLEAN"),
           "kill -9 then restart: RESTART_UNCLEAN (exit %d)" % rc, diag=text)
    d.stop()

    # 4. Clock step: libfaketime moves the wall clock by +40 s while the
    #    daemon runs (monotonic and boot clocks untouched).
    lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
    if not lib:
        tap.skip("libfaketime not installed: clock step")
        return
    ft = os.path.join(tmp, "faketime")
    with open(ft, "w") as f:
        f.write("+0\n")
    env2 = cltest.client_env(os.path.join(tmp, "c2"))
    d2 = ghtest.Daemon(os.path.join(tmp, "node2"), gpus=1, period=1, interval=0.1,
                       env={"LD_PRELOAD": lib, "FAKETIME_TIMESTAMP_FILE": ft,
                            "FAKETIME_NO_CACHE": "1", "FAKETIME_DONT_FAKE_MONOTONIC": "1"})
    d2.set_load([50])
    d2.start()
    vk2 = d2.vkey()
    wait_records(d2, 3)
    with open(ft + ".tmp", "w") as f:
        f.write("+40\n")
    os.rename(ft + ".tmp", ft)
    time.sleep(0.5)
    wait_records(d2, 4)
    rc, doc, text = cltest.verify_json(["--key", vk2, d2.url], env2)
    d2.stop()
    steps = doc and findings(doc, "CLOCK_STEP")
    big_gaps = doc and [g for g in findings(doc, "TIME_GAP") if g["seconds"] > 10]
    tap.ok(bool(steps), "wall clock +40 s: CLOCK_STEP reported (exit %d)" % rc,
           diag=text + "\n--- daemon log\n" + d2.log_tail(15))
    tap.ok(doc is not None and not big_gaps, "wall clock +40 s: no 40 s TIME_GAP", diag=text)
    shutil.rmtree(tmp, ignore_errors=True)


tap.run(main)
