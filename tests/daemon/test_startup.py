#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Start-up order and the single-instance lock:
# - a second gpuhoursd on the same state directory exits 1 with one clear line
#   and writes nothing; the first keeps running, one START in its ledger;
# - bad configuration (a host name in --listen, --config naming a directory or
#   a FIFO) exits 2 and writes nothing, not even the state directory;
# - a port that is taken exits 1 before the key or the ledger are created.
import os
import socket
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def run_daemon(args, timeout=20):
    p = subprocess.run([ghtest.daemon_bin()] + args, stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stderr.decode("utf-8", "replace")


def base(tmp, name, listen=None):
    state = os.path.join(tmp, name, "state")
    return state, ["--state-dir", state, "--listen", listen or "127.0.0.1:%d" % ghtest.free_port(),
                   "--backend", "sim", "--sim-dir", os.path.join(tmp, name, "sim"),
                   "--period", "1", "--sample-interval", "0.1"]


def main():
    tmp = ghtest.tmpdir("gh-startup-")

    # 1. one daemon per ledger
    d = ghtest.Daemon(tmp)
    d.start()
    d.wait_size(2)
    second = [a if a != "127.0.0.1:%d" % d.port else "127.0.0.1:%d" % ghtest.free_port()
              for a in d.args()[1:]]
    code, err = run_daemon(second)
    lines = [x for x in err.splitlines() if x.strip()]
    tap.ok(code == 1, "a second gpuhoursd on the same state directory exits 1 (got %s)" % code,
           diag=err[-600:])
    tap.ok(len(lines) == 1 and "locked by another gpuhoursd" in lines[0]
           and d.state_dir in lines[0],
           "... with one line naming the directory and the lock", diag=err[-600:])
    tap.ok(d.running(), "the first daemon keeps running")
    cp = d.wait_size(d.checkpoint()["size"] + 2)
    recs = [ghtest.decode_record(r) for r in d.records(0, cp["size"])]
    starts = [r for r in recs if r["kind"] == "start"]
    tap.ok(len(starts) == 1, "the ledger holds one START (the second daemon wrote nothing): %d"
           % len(starts))
    o, s, root = ghtest.verify_checkpoint(cp["note"], d.vkey())
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in d.records(0, cp["size"])]) == root,
           "the first daemon's checkpoint still verifies")
    tap.ok(d.stop() == 0, "the first daemon exits 0")

    # 5. bad configuration exits 2 and writes nothing
    state, args = base(tmp, "typo", listen="localhost:%d" % ghtest.free_port())
    code, err = run_daemon(args)
    tap.ok(code == 2 and "localhost" in err, "--listen localhost:PORT exits 2 naming the value "
           "(got %s)" % code, diag=err[-400:])
    tap.ok(not os.path.exists(os.path.dirname(state)), "... and writes nothing (no state dir)")

    confdir = os.path.join(tmp, "confdir")
    os.mkdir(confdir)
    state, args = base(tmp, "dirconf")
    code, err = run_daemon(["--config", confdir] + args)
    tap.ok(code == 2 and "is a directory" in err and confdir in err,
           "--config DIR exits 2: 'is a directory' (got %s)" % code, diag=err[-400:])
    tap.ok(not os.path.exists(os.path.dirname(state)), "... and writes nothing")

    fifo = os.path.join(tmp, "conf.fifo")
    os.mkfifo(fifo)
    state, args = base(tmp, "fifo")
    try:
        code, err = run_daemon(["--config", fifo] + args, timeout=10)
    except subprocess.TimeoutExpired:
        code, err = None, "hung on the FIFO"
    tap.ok(code == 2 and "not a regular file" in err, "--config FIFO exits 2 without hanging "
           "(got %s)" % code, diag=err[-400:])

    # A taken port: exits 1 after validation, before the state directory is touched.
    with socket.socket(socket.AF_INET) as sk:
        sk.bind(("127.0.0.1", 0))
        sk.listen(1)
        state, args = base(tmp, "busy", listen="127.0.0.1:%d" % sk.getsockname()[1])
        code, err = run_daemon(args)
    tap.ok(code == 1 and "in use" in err, "a busy port exits 1 (got %s)" % code, diag=err[-400:])
    tap.ok(not os.path.exists(state), "... before the state directory, key or ledger exist")


tap.run(main)
