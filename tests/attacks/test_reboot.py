#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 3: a reboot with the wall clock set back. The reboot is simulated
without rebooting: the daemon is killed (kill -9, the GPUs keep working at
full load) and comes back in a private mount namespace with a new boot ID
bind-mounted over /proc/sys/kernel/random/boot_id, in a time namespace whose
boot clock says the new kernel booted when the old daemon died, and with
libfaketime setting its wall clock back one hour. The gap across the reboot
must be at least the new boot's uptime at its start record (not the
negative wall-clock difference), with a hidden-compute bound that covers
what the GPUs did while nobody was looking."""

import os
import sys
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

LIB = al.faketime_lib()
if os.geteuid() != 0 or LIB is None or not al.unshare_ok("--mount", "--time", "--boottime", "-1", "--fork"):
    print("1..0 # SKIP needs root, mount and time namespaces, and libfaketime")
    sys.exit(0)
tap = al.ghtest.Tap()
DOWN = 4.0
BACK = 3600


def boottime():
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def main():
    n = al.Node(tap, "reboot", gpus=2, loads=[100])
    n.start()
    n.trust()
    n.wait_summaries(3)
    # Die just after a whole second of the boot clock: the new boot's clock
    # then starts (to within 0.1 s) at the instant of the "crash".
    deadline = time.monotonic() + 5
    while boottime() % 1 > 0.05 and time.monotonic() < deadline:
        time.sleep(0.005)
    b_kill = boottime()
    t_kill = time.time()
    n.d.kill9()
    time.sleep(DOWN)
    bid = os.path.join(n.tmp, "boot_id")
    with open(bid, "w") as f:
        f.write(str(uuid.uuid4()) + "\n")
    script = ('mount --bind "$0" /proc/sys/kernel/random/boot_id && '
              'exec env LD_PRELOAD="$GH_FT_LIB" FAKETIME="-%d" FAKETIME_DONT_FAKE_MONOTONIC=1 "$@"' % BACK)
    n.d.env = dict(GH_FT_LIB=LIB)
    if os.environ.get("ASAN_OPTIONS") is not None:
        n.d.env["ASAN_OPTIONS"] = os.environ["ASAN_OPTIONS"] + ":verify_asan_link_order=0"
    n.d.prefix = ["unshare", "--mount", "--propagation", "private", "--time",
                  "--boottime", "-%d" % int(b_kill), "--fork", "--kill-child", "sh", "-c", script, bid]
    n.d.start()
    t_up = time.time()
    recs = n.wait_summaries(2)
    rc, doc, text = n.verify(label=" (kill -9 at 100 %% load, %.0f s down, new boot ID, wall clock set back %d s)"
                             % (DOWN, BACK))
    tap.ok(rc == 1, "verify exits 1 (exit %d)" % rc, diag=text[-2000:])
    boots = []
    for r in recs:
        if not boots or boots[-1] != r["boot_id"]:
            boots.append(r["boot_id"])
    start2 = [r for r in recs if r["kind"] == "start"][-1]
    uptime = start2["boot_ns"] / 1e9
    tap.ok(len(boots) == 2 and start2["wall_ns"] / 1e9 < t_kill - BACK + 60,
           "the new boot has a new boot ID and a wall clock %d s back" % BACK)
    tap.ok(DOWN - 0.2 <= uptime <= DOWN + 2, "the new boot's uptime at its start record: %.2f s" % uptime)
    reb = al.findings(doc, "REBOOT")
    tap.ok(len(reb) == 1, "one REBOOT finding", diag=text[-2000:])
    # The gap across the reboot: the TIME_GAP findings that end at or after the new boot's start.
    old_last = [r for r in recs if r["boot_id"] == boots[0]][-1]
    gaps = [g for g in al.findings(doc, "TIME_GAP")
            if al.iso(g["end"]) >= start2["wall_ns"] / 1e9 - 0.01 and al.iso(g["start"]) <= old_last["wall_ns"] / 1e9 + 0.01]
    length = sum(g.get("seconds", 0.0) for g in gaps)
    tap.ok(gaps and length >= uptime - 0.01,
           "the gap across the reboot (%.2f s) is at least the new boot's uptime %.2f s" % (length, uptime),
           diag=al.json.dumps(al.source(doc).get("findings"), indent=1)[:3000] if doc else text)
    # Truth in real time: from the old boot's last record to the new boot's first sample.
    first2 = [r for r in recs if r["kind"] == "summary" and r["boot_id"] == boots[1]][0]
    a = old_last["wall_ns"] / 1e9
    b = first2["obs_start_wall_ns"] / 1e9 + BACK
    busy, _ = n.truth(a, b)
    al.check_bound(tap, gaps, busy, "reboot with the wall clock set back")
    steps = al.findings(doc, "CLOCK_STEP")
    tap.ok(steps and sum(s.get("step_seconds", 0) for s in steps) <= -(BACK - 60),
           "a CLOCK_STEP of about -%d s" % BACK, diag=al.json.dumps(steps, indent=1))
    al.check_identity(tap, doc, "reboot with the wall clock set back")
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
