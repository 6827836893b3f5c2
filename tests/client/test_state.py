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
import subprocess
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
    bidi_origin(tmp)
    shutil.rmtree(tmp, ignore_errors=True)


def raw(args, env):
    """The client's stdout as bytes (cltest.run decodes it, replacing bad bytes)."""
    p = subprocess.run([ghtest.client_bin()] + list(args), env=env, capture_output=True,
                       timeout=60, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def terminal_safe(out):
    """Every byte printable ASCII or a newline, but the note signature prefix (em dash, space)."""
    return all(0x20 <= c < 0x7f or c == 0x0a for c in out.replace(b"\xe2\x80\x94 ", b""))


def bidi_origin(tmp):
    """An origin with a right-to-left override and an isolate (valid note names): state show
    prints them as '?' in text mode, like verify, everywhere a node's bytes appear (the origin,
    the key name, both notes of a fork); --json keeps them exact, written in JSON escaping."""
    origin = "state.test/\u202egpuhours\u2066x"
    env = cltest.client_env(os.path.join(tmp, "bidi"))
    c = ghtest.Daemon(os.path.join(tmp, "c"), gpus=1, period=600, extra_args=["--origin", origin])
    c.start()
    c.stop()
    d = ghtest.Daemon(os.path.join(tmp, "d"), gpus=1, period=600, extra_args=["--origin", origin])
    shutil.copytree(c.state_dir, d.state_dir)
    c.start()
    d.start()
    try:
        rc, out, err, _ = cltest.run(["trust", "add", c.vkey()], env)
        tap.ok(rc == 0, "trust the key of an origin with bidi characters", diag=err)
        rc, out, err, _ = cltest.run(["verify", c.url], env)
        tap.ok(rc in (0, 1), "verify it (exit %d)" % rc, diag=err[-500:])
        rc, out, err, _ = cltest.run(["verify", d.url], env)
        tap.ok(rc == 2, "its clone forks (exit %d)" % rc, diag=out[-500:])
        cc, cd = c.checkpoint(), d.checkpoint()
        rc, out, err = raw(["state", "show", origin], env)
        tap.ok(rc == 0 and terminal_safe(out) and b"FORK recorded" in out and
               b"origin: state.test/???gpuhours???x\n" in out and
               b"signed by: state.test/???gpuhours???x, key ID" in out and
               out.count(b"\nstate.test/???gpuhours???x\n%d\n" % cc["size"]) == 3 and
               ("\u2014 state.test/???gpuhours???x " + cd["note"].split(" ")[-1]).encode() in out and
               b"shown as '?'" in out,
               "state show ORIGIN: no bidi byte raw in the origin, the key name or a note; "
               "the signature lines keep their prefix", diag=repr(out))
        rc, out, err = raw(["state", "show"], env)
        tap.ok(rc == 0 and terminal_safe(out) and out.startswith(b"state.test/???gpuhours???x  size"),
               "state show lists the origin sanitised", diag=repr(out))
        rc, out, err = raw(["state", "show", "--json", origin], env)
        doc = json.loads(out) if rc == 0 else {}
        notes = (doc.get("fork") or {}).get("notes") or []
        tap.ok(all(c < 0x80 for c in out) and doc.get("origin") == origin and
               (doc.get("checkpoint") or {}).get("note") == cc["note"] and
               [n.get("note") for n in notes] == [cc["note"], cd["note"]] and
               doc["checkpoint"]["signatures"][0]["name"] == origin,
               "state show --json: the origin and notes exact, in JSON escaping (ASCII only)",
               diag=repr(out[:600]))
        rc, out, err = raw(["state", "show", "--json"], env)
        doc = json.loads(out) if rc == 0 else {}
        tap.ok(all(c < 0x80 for c in out) and
               [o.get("origin") for o in doc.get("origins") or []] == [origin],
               "state show --json lists the origin exactly", diag=repr(out))
    finally:
        c.stop()
        d.stop()


tap.run(main)
