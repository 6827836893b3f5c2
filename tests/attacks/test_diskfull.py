#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 5a: a disk-full gap at full load. The state directory sits on a
small tmpfs (private mount namespace, root); while it is full the daemon
drops summaries, so the time is a TIME_GAP between the last summary before
and the first after. The sim's own directory is elsewhere and needs no
space. The gap must carry a hidden-compute bound from energy (the counter
ran on) that covers what the GPUs did meanwhile."""

import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

if os.environ.get("GH_ATTACK_NS") != "1":
    if os.geteuid() == 0 and al.unshare_ok("-m"):
        env = dict(os.environ, GH_ATTACK_NS="1")
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv, env)
    print("1..0 # SKIP needs root for unshare -m and a tmpfs mount")
    sys.exit(0)
tap = al.ghtest.Tap()
FULL = 4.0


def main():
    n = al.Node(tap, "diskfull", gpus=2, loads=[100, 40])
    mnt = os.path.join(n.tmp, "mnt")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mnt], check=True)
    try:
        run(n, mnt)
    finally:
        al.ghtest._cleanup_all()
        subprocess.run(["umount", "-l", mnt])


def run(n, mnt):
    n.d.state_dir = os.path.join(mnt, "state")
    n.start()
    n.trust()
    n.wait_summaries(2)
    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    t_full = time.time()
    time.sleep(FULL)
    os.unlink(filler)
    recs = n.wait_summaries(3, timeout=40)
    sums = [r for r in recs if r["kind"] == "summary"]
    holes = [(a["obs_end_wall_ns"] / 1e9, b["obs_start_wall_ns"] / 1e9) for a, b in zip(sums, sums[1:])
             if b["obs_start_wall_ns"] != a["obs_end_wall_ns"]]
    # The daemon keeps what it could not write pending and writes it when space
    # returns, so the hole can be shorter than the full stretch; at least one
    # period must have been dropped for this test to measure a disk-full gap.
    tap.ok(len(holes) == 1 and holes[0][1] - holes[0][0] >= 1.0,
           "the dropped summaries left one hole between summaries", diag=holes)
    rc, doc, text = n.verify(label=" (state directory full for %.0f s, loads 100 %% and 40 %%)" % FULL)
    tap.ok(rc == 1, "verify exits 1 (exit %d)" % rc, diag=text[-2000:])
    if not holes:
        return
    a, b = holes[0]
    gaps = al.gaps_over(doc, a, b)
    covered = sum(al.overlap(g, a, b) for g in gaps)
    tap.ok(abs(covered - (b - a)) <= 0.05, "a TIME_GAP covers the hole: %.2f s of %.2f s" % (covered, b - a),
           diag=text[-3000:])
    busy, joules = n.truth(a, b)
    al.check_bound(tap, gaps, busy, "disk full")
    ej = sum(g.get("energy_joules", 0.0) or 0.0 for g in gaps)
    tap.ok(abs(ej - joules) <= 0.05 * joules + 1, "energy above idle in the gap %.1f J, the sim used %.1f J" % (ej, joules))
    al.check_identity(tap, doc, "disk full")
    tap.ok(n.d.stop() == 0, "clean stop")
    tap.ok(t_full < b, "sanity: the hole is after the disk filled")


tap.run(main)
