#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhours state show|forget with real daemons: the remembered checkpoint
(note as stored, size, root, key, when), the fork evidence recorded when a
node forks from what was remembered (the original and a clone of its state
directory sign two trees of one size), --json, the listing, forget (what it
removed; an unknown origin is exit 3), and that verify neither regresses the
remembered checkpoint nor replaces the first fork evidence."""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()
ORIGIN = "state.test/gpuhours"


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-state-")
    env = cltest.client_env(tmp)
    a = ghtest.Daemon(os.path.join(tmp, "a"), gpus=1, period=600, extra_args=["--origin", ORIGIN])
    a.start()
    a.stop()
    b = ghtest.Daemon(os.path.join(tmp, "b"), gpus=1, period=600, extra_args=["--origin", ORIGIN])
    shutil.copytree(a.state_dir, b.state_dir)
    a.start()
    b.start()
    vkey = a.vkey()
    key_id = vkey.split("+")[1]
    cltest.run(["trust", "add", vkey], env)
    state_dir = os.path.join(tmp, "state", "gpuhours")

    rc, out, err, _ = cltest.run(["state", "show"], env)
    tap.ok(rc == 0 and out == "" and "nothing is remembered" in err,
           "state show with nothing remembered says so (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["state", "show", ORIGIN], env)
    tap.ok(rc == 3 and "nothing is remembered for origin" in err,
           "state show of an unknown origin: exit 3 and one line", diag=out + err)

    rc, out, err, _ = cltest.run(["verify", a.url], env)
    tap.ok(rc in (0, 1), "verify the original node (exit %d)" % rc, diag=err[-500:])
    ca = a.checkpoint()
    rc, out, err, _ = cltest.run(["state", "show", ORIGIN], env)
    tap.ok(rc == 0 and "size: %d\n" % ca["size"] in out and "root: %s\n" % ca["root_b64"] in out
           and ("key ID %s" % key_id) in out and "remembered: 20" in out and ca["note"] in out
           and "FORK" not in out,
           "state show ORIGIN: size, root, key ID, time, the note as stored", diag=out + err)
    rc, out, err, _ = cltest.run(["state", "show", "--json", ORIGIN], env)
    doc = json.loads(out) if rc == 0 else {}
    cp = doc.get("checkpoint") or {}
    tap.ok(doc.get("origin") == ORIGIN and cp.get("size") == ca["size"] and
           cp.get("root") == ca["root_b64"] and cp.get("note") == ca["note"] and
           cp.get("signatures") == [{"name": ORIGIN, "key_id": key_id}] and doc.get("fork") is None,
           "state show --json ORIGIN", diag=out + err)

    # The clone: same size, another root, against what is remembered.
    remembered = open(os.path.join(state_dir, "checkpoints", "state.test%2Fgpuhours"), "rb").read()
    rc, out, err, _ = cltest.run(["verify", b.url], env)
    tap.ok(rc == 2 and "FORK" in out, "the clone forks from the remembered checkpoint (exit %d)" % rc,
           diag=out[-800:])
    tap.ok(open(os.path.join(state_dir, "checkpoints", "state.test%2Fgpuhours"), "rb").read() ==
           remembered, "the remembered checkpoint is unchanged")
    cb = b.checkpoint()
    rc, out, err, _ = cltest.run(["state", "show", ORIGIN], env)
    tap.ok(rc == 0 and "FORK recorded" in out and out.count(ORIGIN + "\n%d\n" % ca["size"]) == 3 and
           ca["note"] in out and cb["note"] in out and b.url in out,
           "state show prints the fork: both signed notes and where the second came from",
           diag=out)
    rc, out, err, _ = cltest.run(["state", "show", "--json", ORIGIN], env)
    doc = json.loads(out) if rc == 0 else {}
    notes = (doc.get("fork") or {}).get("notes") or []
    tap.ok([n.get("note") for n in notes] == [ca["note"], cb["note"]] and
           notes[1].get("source") == b.url and notes[0].get("root") == ca["root_b64"] and
           notes[1].get("root") == cb["root_b64"],
           "state show --json: fork.notes holds both notes, with source and root", diag=out)
    fork_file = os.path.join(state_dir, "forks", "state.test%2Fgpuhours")
    evidence = open(fork_file, "rb").read()

    # The listing.
    rc, out, err, _ = cltest.run(["state", "show"], env)
    tap.ok(rc == 0 and out.startswith(ORIGIN + "  size %d  remembered " % ca["size"]) and
           "FORK recorded" in out, "state show lists the origin, its size and the fork", diag=out)
    rc, out, err, _ = cltest.run(["state", "show", "--json"], env)
    doc = json.loads(out) if rc == 0 else {}
    tap.ok(doc.get("origins") and doc["origins"][0]["origin"] == ORIGIN and
           doc["origins"][0]["fork"] is True and doc["origins"][0]["size"] == ca["size"],
           "state show --json lists origins", diag=out)

    # A second fork (two sources in one run) does not replace the first evidence.
    a.stop()
    a.start()
    rc, out, err, _ = cltest.run(["verify", "--no-store", a.url, b.url], env)
    tap.ok(rc == 2, "verify the restarted original and the clone together: exit %d" % rc)
    tap.ok(open(fork_file, "rb").read() == evidence, "the first fork evidence is kept")

    # Hand-edited or damaged state: a clear error, not a crash or a silent pass.
    with open(fork_file, "wb") as f:
        f.write(evidence[:-5])
    rc, out, err, _ = cltest.run(["state", "show", ORIGIN], env)
    tap.ok(rc == 2 and "fork evidence" in err and "not valid" in err,
           "a truncated fork record: exit 2 and one line (exit %d)" % rc, diag=err)
    with open(fork_file, "wb") as f:
        f.write(evidence)

    # forget: what it removed; the next verify starts over.
    rc, out, err, _ = cltest.run(["state", "forget", ORIGIN], env)
    tap.ok(rc == 0 and "forgot the remembered checkpoint" in out and "size %d" % ca["size"] in out
           and "fork evidence" in out, "state forget says what it removed", diag=out + err)
    tap.ok(not os.path.exists(fork_file) and
           not os.path.exists(os.path.join(state_dir, "checkpoints", "state.test%2Fgpuhours")),
           "both files are gone")
    rc, out, err, _ = cltest.run(["state", "forget", ORIGIN], env)
    tap.ok(rc == 3 and "nothing is remembered for origin" in err,
           "state forget of an unknown origin: exit 3 and one line", diag=out + err)
    for bad in (["state"], ["state", "forget"], ["state", "show", "a", "b"], ["state", "forget", "-x"],
                ["state", "frobnicate"], ["state", "forget", "a b"]):
        rc, out, err, _ = cltest.run(bad, env)
        tap.ok(rc == 3 and err.strip() and len(err.strip().splitlines()) <= 12,
               "usage error %r: exit 3" % bad[1:], diag=err)
    rc, out, err, _ = cltest.run(["verify", "--no-store", b.url], env)
    tap.ok(rc in (0, 1), "after forget, the clone verifies as a first sight (exit %d)" % rc)
    a.stop()
    b.stop()
    shutil.rmtree(tmp, ignore_errors=True)


tap.run(main)
