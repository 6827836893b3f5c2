#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# ENOSPC: the state directory on a small tmpfs (in a private mount
# namespace, as root). While it is full the daemon keeps sampling and
# serving, drops summaries (a gap the client sees) and logs once; when space
# returns, appends resume and the log stays consistent.
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

if os.environ.get("GH_ENOSPC_NS") != "1":
    # Re-run this script inside a private mount namespace (needs root / CAP_SYS_ADMIN).
    if os.geteuid() == 0 and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0:
        env = dict(os.environ, GH_ENOSPC_NS="1")
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv, env)
    print("1..0 # SKIP needs root for unshare -m and a tmpfs mount")
    sys.exit(0)

tap = ghtest.Tap()


def main():
    tmp = ghtest.tmpdir("gh-enospc-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mnt], check=True)
    try:
        run(tmp, mnt)
    finally:
        ghtest._cleanup_all()
        subprocess.run(["umount", "-l", mnt])


def run(tmp, mnt):
    d = ghtest.Daemon(tmp, gpus=2)
    d.state_dir = os.path.join(mnt, "state")
    d.set_load([40])
    d.start()
    d.wait_size(3)
    vkey = d.vkey()
    filler = os.path.join(mnt, "filler")
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)
    full_at = time.time()
    time.sleep(0.5)
    size_full = d.checkpoint()["size"]
    time.sleep(3.5)
    cp_full = d.checkpoint()
    tap.ok(d.running(), "still running with the disk full")
    tap.ok(cp_full["size"] == size_full, "no records land while the disk is full (%d -> %d)"
           % (size_full, cp_full["size"]))
    st, _, _ = d.get("/v1/records?start=0&end=%d" % cp_full["size"])
    tap.ok(st == 200, "still serving records while the disk is full")
    warns = [x for x in d.log_text().splitlines() if "No space left" in x or "no space" in x.lower()]
    tap.ok(len(warns) == 1, "logged once for the episode", d.log_tail(10))
    os.unlink(filler)
    freed_at = time.time()
    try:
        cp = d.wait_size(cp_full["size"] + 3, timeout=25)
    except RuntimeError as e:
        tap.ok(False, "appends resume after space returns", str(e))
        return
    took = time.time() - freed_at
    tap.ok(took < 20, "appends resume after space returns (%.1f s, backoff at most 10 s)" % took)
    tap.ok("appends resumed" in d.log_text(), "the end of the episode is logged")
    raw = d.records(0, cp["size"])
    o, s, root = ghtest.verify_checkpoint(cp["note"], vkey)
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw]) == root, "the checkpoint after the episode verifies")
    recs = [ghtest.decode_record(r) for r in raw]
    sums = [r for r in recs if r["kind"] == "summary"]
    gaps = [(b["obs_start_wall_ns"] - a["obs_end_wall_ns"]) / 1e9 for a, b in zip(sums, sums[1:])
            if b["obs_start_wall_ns"] != a["obs_end_wall_ns"]]
    tap.ok(len(gaps) == 1 and gaps[0] >= 2, "the dropped summaries show up as one gap (%s s)" % gaps)
    after = [x for x in sums if x["obs_start_wall_ns"] > full_at * 1e9]
    tap.ok(after and all(x["samples_taken"] >= 9 for x in after[1:]) and all(x["flags"] == 0 for x in after[1:]),
           "sampling never stopped: windows after the episode are full", [(x["samples_taken"], x["flags"]) for x in after])
    # A second episode, then stop with space: exit 0.
    tap.ok(d.stop() == 0, "clean stop after the episode")
    tap.ok("<3>" not in d.log_text(), "no errors logged", d.log_tail())


tap.run(main)
