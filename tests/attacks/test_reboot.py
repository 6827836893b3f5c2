#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 3: a reboot with the wall clock set back. The reboot is simulated
without rebooting: the daemon stops (the GPUs keep working at full load)
and comes back in a private mount namespace with a new boot ID
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
    # A clean shutdown (the usual reboot), timed so that the daemon is gone just
    # after a whole second of the boot clock: the new boot's clock then starts
    # (to within a fraction of a second) at the instant the old daemon died.
    deadline = time.monotonic() + 5
    while not 0.85 <= boottime() % 1 <= 0.95 and time.monotonic() < deadline:
        time.sleep(0.005)
    tap.ok(n.d.stop() == 0, "clean stop before the reboot")
    t_dead, b_dead = time.time(), boottime()
    # The new kernel "boots" when the host's boot clock passes this whole second.
    off = round(b_dead)
    t_boot = t_dead - (b_dead - off)
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
                  "--boottime", "-%d" % off, "--fork", "--kill-child", "sh", "-c", script, bid]
    n.d.start()
    t_up = time.time()
    recs = n.wait_summaries(2)
    rc, doc, text = n.verify(label=" (stop at 100 %% load, %.0f s down, new boot ID, wall clock set back %d s)"
                             % (DOWN, BACK))
    tap.ok(rc == 1, "verify exits 1 (exit %d)" % rc, diag=text[-2000:])
    boots = []
    for r in recs:
        if not boots or boots[-1] != r["boot_id"]:
            boots.append(r["boot_id"])
    start2 = [r for r in recs if r["kind"] == "start"][-1]
    uptime = start2["boot_ns"] / 1e9
    tap.ok(len(boots) == 2 and start2["wall_ns"] / 1e9 < time.time() - BACK + 60,
           "the new boot has a new boot ID and a wall clock %d s back" % BACK)
    tap.ok(DOWN - 0.2 <= uptime <= DOWN + 2, "the new boot's uptime at its start record: %.2f s" % uptime)
    reb = al.findings(doc, "REBOOT")
    tap.ok(len(reb) == 1, "one REBOOT finding", diag=text[-2000:])
    # The gap across the reboot: the TIME_GAP piece of source "reboot" (proto/ANALYSIS.md 4.4).
    gaps = [g for g in al.findings(doc, "TIME_GAP") if g.get("source") == "reboot"]
    length = sum(g.get("seconds", 0.0) for g in gaps)
    tap.ok(gaps and length >= uptime - 0.01,
           "the gap across the reboot (%.2f s) is at least the new boot's uptime %.2f s" % (length, uptime),
           diag=al.json.dumps(al.source(doc).get("findings"), indent=1)[:3000] if doc else text)
    # Truth in real time, over what the boot clocks can prove: from the new kernel's
    # boot to its first window (the old boot's last record is its stop record at the
    # end of its last window; nothing bounds its life after that when the wall clock
    # was set back, so the test lets the new boot begin when the old daemon died).
    first2 = [r for r in recs if r["kind"] == "summary" and r["boot_id"] == boots[1]][0]
    b = first2["obs_start_wall_ns"] / 1e9 + BACK
    busy, _ = n.truth(t_boot, b)
    up_first = first2["obs_start_boot_ns"] / 1e9
    tap.ok(abs((b - t_boot) - up_first) <= 0.05,
           "sanity: the simulated boot clock tells the real time since the new boot (%.2f s vs %.2f s)"
           % (up_first, b - t_boot))
    al.check_bound(tap, gaps, busy, "reboot with the wall clock set back")
    steps = al.findings(doc, "CLOCK_STEP")
    tap.ok(steps and sum(s.get("step_seconds", 0) for s in steps) <= -(BACK - 60),
           "a CLOCK_STEP of about -%d s" % BACK, diag=al.json.dumps(steps, indent=1))
    al.check_identity(tap, doc, "reboot with the wall clock set back")
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
