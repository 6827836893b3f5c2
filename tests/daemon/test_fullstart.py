#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A full disk at start-up and at stop (the state directory on a small tmpfs in
# a private mount namespace, as root):
# - recovery needs space (unsigned records whose stored hashes are missing):
#   the daemon still starts, serves the signed prefix, samples, and finishes
#   the recovery (the same records, signed) when space returns;
# - SIGTERM while appends back off: one last attempt, so the final summary and
#   the STOP record land when space has returned, and the exit is clean.
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

if os.environ.get("GH_ENOSPC_NS") != "1":
    if os.geteuid() == 0 and subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode == 0:
        env = dict(os.environ, GH_ENOSPC_NS="1")
        os.execvpe("unshare", ["unshare", "-m", "--propagation", "private", sys.executable] + sys.argv, env)
    print("1..0 # SKIP needs root for unshare -m and a tmpfs mount")
    sys.exit(0)

tap = ghtest.Tap()


def fill(path):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    os.close(fd)


def main():
    tmp = ghtest.tmpdir("gh-fullstart-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", mnt], check=True)
    try:
        recovery_on_full_disk(tmp, mnt)
        sigterm_in_backoff(tmp, mnt)
    finally:
        ghtest._cleanup_all()
        subprocess.run(["umount", "-l", mnt])


def recovery_on_full_disk(tmp, mnt):
    d = ghtest.Daemon(os.path.join(tmp, "a"), gpus=2)
    d.state_dir = os.path.join(mnt, "a")
    d.start()
    d.wait_size(3)
    tap.ok(d.stop() == 0, "first run stops cleanly")
    snap = os.path.join(tmp, "snap")
    os.mkdir(snap)
    for f in ("checkpoint", "hashes"):
        shutil.copy(os.path.join(d.state_dir, f), os.path.join(snap, f))
    d.start()
    k = d.checkpoint()["size"]
    d.wait_size(k + 6)
    vkey = d.vkey()
    tap.ok(d.stop() == 0, "second run stops cleanly")
    with open(os.path.join(d.state_dir, "records"), "rb") as f:
        before = ghtest.split_frames(f.read())
    # The state a crash after the record writes could leave: the older checkpoint,
    # hashes only for it; the later records durable but unsigned.
    for f in ("checkpoint", "hashes"):
        shutil.copy(os.path.join(snap, f), os.path.join(d.state_dir, f))
    with open(os.path.join(snap, "checkpoint")) as f:
        signed = int(f.read().split("\n")[1])
    filler = os.path.join(mnt, "filler")
    fill(filler)
    d.start(timeout=30)
    cp = d.checkpoint()
    tap.ok(d.running() and cp["size"] == signed,
           "starts on a full disk and serves the signed prefix (size %d of %d records)"
           % (cp["size"], len(before)))
    o, s, root = ghtest.verify_checkpoint(cp["note"], vkey)
    served = d.records(0, cp["size"])
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in served]) == root,
           "the served prefix verifies")
    tap.ok("when space returns" in d.log_text(), "the unfinished recovery is logged",
           diag=d.log_tail(8))
    os.unlink(filler)
    try:
        cp = d.wait_size(len(before) + 2, timeout=30)
        ok = True
    except RuntimeError:
        ok = False
    tap.ok(ok, "the recovery finishes and appends resume when space returns", diag=d.log_tail(8))
    raw = d.records(0, cp["size"])
    tap.ok(raw[:len(before)] == before, "the recovered records are the ones on disk, in order")
    o, s, root = ghtest.verify_checkpoint(cp["note"], vkey)
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw]) == root, "the new checkpoint verifies")
    tap.ok(d.stop() == 0, "clean stop after recovering")


def sigterm_in_backoff(tmp, mnt):
    d = ghtest.Daemon(os.path.join(tmp, "b"), gpus=2)
    d.state_dir = os.path.join(mnt, "b")
    d.start()
    d.wait_size(3)
    filler = os.path.join(mnt, "filler")
    fill(filler)
    # Let the backoff grow past the next retry (1, 2, 4 s ...).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and d.log_text().count("retrying with backoff") < 1:
        time.sleep(0.1)
    time.sleep(2.5)
    size_full = d.checkpoint()["size"]
    os.unlink(filler)
    d.proc.send_signal(signal.SIGTERM)
    try:
        code = d.proc.wait(20)
    except subprocess.TimeoutExpired:
        code = None
    d.stop()
    tap.ok(code == 0, "SIGTERM during the backoff with space back: exits 0 (got %s)" % code,
           diag=d.log_tail(6))
    with open(os.path.join(d.state_dir, "records"), "rb") as f:
        recs = [ghtest.decode_record(r) for r in ghtest.split_frames(f.read())]
    tap.ok(len(recs) > size_full and recs[-1]["kind"] == "stop" and recs[-2]["kind"] == "summary",
           "the final summary and the STOP record were written on the last attempt (%s)"
           % [r["kind"] for r in recs[-3:]])


tap.run(main)
