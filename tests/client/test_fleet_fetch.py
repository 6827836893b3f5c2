#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""fetch --fleet FILE -o DIR writes DIR/<escaped origin>.bundle only over
nothing or a regular file: a symlink or a FIFO planted under that name is
refused with one line, never followed (the symlink's target stays untouched,
no bundle is written there), exit 3; the other nodes' bundles are written."""

import os
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-fleetfetch-")
    env = cltest.client_env(tmp)
    origins = ["fa.test/gpuhours", "fb.test/gpuhours", "fc.test/gpuhours"]
    nodes = []
    for i, o in enumerate(origins):
        d = ghtest.Daemon(os.path.join(tmp, "n%d" % i), gpus=1, period=1, interval=0.5,
                          extra_args=["--origin", o])
        d.start()
        nodes.append(d)
    fleet = os.path.join(tmp, "fleet")
    with open(fleet, "w") as f:
        for d in nodes:
            f.write("%s %s\n" % (d.url, d.vkey()))
    for d in nodes:
        d.wait_size(2, timeout=30)
    out_dir = os.path.join(tmp, "out")
    os.mkdir(out_dir)

    # A clean run: one bundle per node.
    rc, out, err, _ = cltest.run(["fetch", "--fleet", fleet, "-o", out_dir], env, timeout=120)
    names = sorted(os.listdir(out_dir))
    tap.ok(rc in (0, 1) and names == ["fa.test%2Fgpuhours.bundle", "fb.test%2Fgpuhours.bundle",
                                      "fc.test%2Fgpuhours.bundle"],
           "fetch --fleet -o DIR writes DIR/ORIGIN.bundle for each node (exit %d)" % rc,
           diag=(names, err[-800:]))

    # Plant a symlink (to a file outside DIR) and a FIFO under the names fetch writes.
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    link = os.path.join(out_dir, "fa.test%2Fgpuhours.bundle")
    os.unlink(link)
    os.symlink(victim, link)
    fifo = os.path.join(out_dir, "fb.test%2Fgpuhours.bundle")
    os.unlink(fifo)
    os.mkfifo(fifo)
    good = os.path.join(out_dir, "fc.test%2Fgpuhours.bundle")
    before = os.path.getsize(good)
    for d in nodes:
        d.wait_size(d.checkpoint()["size"] + 1, timeout=30)
    rc, out, err, _ = cltest.run(["fetch", "--fleet", fleet, "-o", out_dir], env, timeout=120)
    lines = [ln for ln in err.splitlines() if "cannot write" in ln]
    tap.ok(rc == 3, "a planted symlink or FIFO makes fetch --fleet exit 3 (got %d)" % rc,
           diag=err[-800:])
    tap.ok(any("fa.test%2Fgpuhours.bundle" in ln and "symbolic link" in ln for ln in lines),
           "the symlink is refused with one clear line", diag=lines)
    tap.ok(any("fb.test%2Fgpuhours.bundle" in ln and "FIFO" in ln for ln in lines),
           "the FIFO is refused with one clear line", diag=lines)
    tap.ok(os.path.islink(link) and os.readlink(link) == victim,
           "the symlink is still there, pointing where it did")
    with open(victim) as f:
        tap.ok(f.read() == "precious\n", "the symlink's target is untouched")
    tap.ok(stat.S_ISFIFO(os.lstat(fifo).st_mode), "the FIFO is still a FIFO")
    tap.ok(os.path.getsize(good) > before,
           "the node whose name was free still got its (newer) bundle")
    tap.ok(not [n for n in os.listdir(out_dir) if ".tmp-" in n], "no temporary file left behind",
           diag=os.listdir(out_dir))
    for d in nodes:
        d.stop()


tap.run(main)
