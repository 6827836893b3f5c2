#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An auditor's day with the real daemon and client: no HOME (a system
service), --trusted-keys FILE, "--" before operands, and colour only on a
terminal that has it (not with TERM=dumb or NO_COLOR)."""

import base64
import hashlib
import json
import os
import pty
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def bare_env(extra=None):
    """What a system service gets: no HOME, no XDG_*."""
    e = {k: v for k, v in os.environ.items()
         if k != "HOME" and not k.startswith("XDG_")}
    e["NO_COLOR"] = "1"
    if extra:
        e.update(extra)
    return e


def run_tty(args, env, timeout=60):
    """Run the client with stdout on a pseudo-terminal; returns (rc, output)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([ghtest.client_bin()] + args, stdin=subprocess.DEVNULL, stdout=slave,
                         stderr=subprocess.DEVNULL, env=env)
    os.close(slave)
    chunks = []
    while True:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO once the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    rc = p.wait(timeout)
    return rc, b"".join(chunks).decode("utf-8", "replace")


def main():
    tmp = ghtest.tmpdir("gh-client-auditor-")
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=1, period=1, interval=0.1)
    d.start()
    d.wait_size(2)
    vkey = d.vkey()

    # -- no HOME: --key is enough, the trust file is not needed
    env = bare_env()
    rc, out, err, _ = cltest.run(["verify", "--key", vkey, "--no-state", d.url], env)
    tap.ok(rc in (0, 1) and "VERIFIED" in out,
           "verify --key K --no-state works without HOME and XDG_* (exit %d)" % rc,
           diag=out + err)
    rc, out, err, _ = cltest.run(["verify", "--no-state", d.url], env)
    tap.ok(rc == 3 and "neither XDG_CONFIG_HOME nor HOME is set" in err and
           "--trusted-keys FILE" in err,
           "without HOME and without --key: exit 3 saying what to give (exit %d)" % rc,
           diag=out + err)

    # -- the node's public key trusted under another name: KEY_MISMATCH, and
    # the client says which trusted key it is and what the node signs as
    name, _, b64 = vkey.split("+", 2)
    other = "old-name.example/gpuhours"
    kid = hashlib.sha256(other.encode() + b"\n" + base64.b64decode(b64)).digest()[:4].hex()
    renamed = "%s+%s+%s" % (other, kid, b64)
    rc, out, err, _ = cltest.run(["verify", "--key", renamed, "--no-state", d.url], bare_env())
    tap.ok(rc == 2 and "KEY_MISMATCH" in out and
           "the trusted key '%s' has the public key that signed it" % other in out and
           "the node signs as '%s'" % name in out,
           "the right public key under another name: KEY_MISMATCH naming both names (exit %d)"
           % rc, diag=out + err)
    stranger = cltest.Key(other)
    rc, out, err, _ = cltest.run(["verify", "--key", stranger.vkey, "--no-state", d.url],
                                 bare_env())
    tap.ok(rc == 2 and "KEY_MISMATCH" in out and "has the public key" not in out,
           "another public key under another name: KEY_MISMATCH without that hint (exit %d)"
           % rc, diag=out + err)

    # -- --trusted-keys FILE replaces the user's trust file
    env = cltest.client_env(os.path.join(tmp, "c1"))
    tk = os.path.join(tmp, "archive-keys")
    with open(tk, "w") as f:
        f.write("# keys of the 2026 audit\n%s\n" % vkey)
    rc, out, err, _ = cltest.run(["verify", "--trusted-keys", tk, "--no-state", d.url], env)
    tap.ok(rc in (0, 1) and "VERIFIED" in out,
           "verify --trusted-keys FILE (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["verify", "--trusted-keys=" + tk, "--no-state", d.url],
                                 bare_env())
    tap.ok(rc in (0, 1), "--trusted-keys=FILE works without HOME too (exit %d)" % rc,
           diag=out + err)
    rc, _, err, _ = cltest.run(["trust", "add", vkey], env)
    tap.ok(rc == 0, "trust add the key to the user's file", diag=err)
    empty = os.path.join(tmp, "no-keys")
    open(empty, "w").close()
    rc, out, err, _ = cltest.run(["verify", "--trusted-keys", empty, "--no-state", d.url], env)
    tap.ok(rc == 2, "--trusted-keys EMPTY: the user's trusted key is not used (exit %d)" % rc,
           diag=out + err)
    missing = os.path.join(tmp, "missing-keys")
    rc, out, err, _ = cltest.run(["verify", "--trusted-keys", missing, "--no-state", d.url], env)
    tap.ok(rc == 3 and missing in err and "No such file" in err,
           "--trusted-keys MISSING: exit 3 naming the file (exit %d)" % rc, diag=out + err)
    bad = os.path.join(tmp, "bad-keys")
    with open(bad, "w") as f:
        f.write("not a vkey\n")
    rc, out, err, _ = cltest.run(["verify", "--trusted-keys", bad, "--no-state", d.url], env)
    tap.ok(rc == 3 and bad in err, "--trusted-keys with a bad line: exit 3 naming the file",
           diag=out + err)

    # -- "--": operands that start with '-'
    os.chdir(tmp)
    rc, out, err, _ = cltest.run(["fetch", "--no-state", d.url, "-o", "-bundle"], env)
    tap.ok(rc in (0, 1) and os.path.exists(os.path.join(tmp, "-bundle")),
           "fetch -o -bundle writes a file named '-bundle' (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["verify", "--no-state", "-bundle"], env)
    tap.ok(rc == 3 and "unknown option '-bundle'" in err,
           "verify -bundle: an unknown option (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["verify", "--no-state", "--", "-bundle"], env)
    tap.ok(rc in (0, 1) and "VERIFIED" in out,
           "verify -- -bundle: the bundle is verified (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["verify", "--no-state", "--", "--json"], env)
    tap.ok(rc == 3 and "'--json' is neither a file nor an http:// or https:// URL" in out + err and
           not out.lstrip().startswith("{"),
           "verify -- --json: '--json' is a source, not the option (exit %d)" % rc,
           diag=out + err)
    rc, out, err, _ = cltest.run(["report", "--no-state", "--", "-bundle"], env)
    tap.ok(rc in (0, 1) and out.strip() != "" and "VERIFIED" in err,
           "report -- -bundle: the table, the verification on stderr (exit %d)" % rc,
           diag=out + err)
    rc, out2, err, _ = cltest.run(["report", "--quiet", "--no-state", "--", "-bundle"], env)
    tap.ok(rc in (0, 1) and out2 == out and err == "",
           "report --quiet: the same table, nothing on stderr (exit %d)" % rc, diag=err)
    rc, out, err, _ = cltest.run(["report", "-q", "--no-state", "--", "-bundle",
                                  "missing.bundle"], env)
    tap.ok(rc == 3 and "missing.bundle: not verified, nothing reported" in err and
           "VERIFIED" not in err,
           "report -q: a source that did not verify still gets its line (exit %d)" % rc,
           diag=out + err)

    # -- findings for a human: records (not leaves), and GPU_SET_CHANGED
    # names the GPUs that came and went
    d2 = ghtest.Daemon(os.path.join(tmp, "node2"), gpus=1, period=1, interval=0.1)
    d2.start()
    d2.wait_size(2)
    before = {g["uuid"] for g in json.loads(d2.get("/v1/node")[2])["gpus"]}
    d2.stop()
    d2.gpus = 2
    d2.start()
    d2.wait_size(d2.checkpoint()["size"] + 2)
    after = {g["uuid"] for g in json.loads(d2.get("/v1/node")[2])["gpus"]}
    new = sorted(after - before)
    rc, out, err, _ = cltest.run(["verify", "--key", d2.vkey(), "--no-state", d2.url], bare_env())
    d2.stop()
    line = next((ln for ln in out.splitlines() if "GPU_SET_CHANGED" in ln), "")
    tap.ok(len(new) == 1 and ("1 added (%s), 0 gone" % new[0]) in line,
           "GPU_SET_CHANGED names the GPU that appeared: %s" % line.strip(), diag=out + err)
    tap.ok(" leaves " not in out and (" record " in out or " records " in out),
           "findings name ledger positions as records, not leaves", diag=out)

    # -- colour: only on a terminal that has it
    base = {k: v for k, v in env.items() if k != "NO_COLOR"}
    rc, out = run_tty(["verify", "--no-state", d.url], dict(base, TERM="xterm-256color"))
    tap.ok("\x1b[" in out, "TERM=xterm-256color on a terminal: coloured (exit %d)" % rc,
           diag=repr(out[:300]))
    rc, out = run_tty(["verify", "--no-state", d.url], dict(base, TERM="dumb"))
    tap.ok("\x1b[" not in out and "VERIFIED" in out,
           "TERM=dumb on a terminal: no escape sequences (exit %d)" % rc, diag=repr(out[:300]))
    rc, out = run_tty(["verify", "--no-state", d.url],
                      dict(base, TERM="xterm-256color", NO_COLOR="1"))
    tap.ok("\x1b[" not in out and "VERIFIED" in out,
           "NO_COLOR=1 on a terminal: no escape sequences (exit %d)" % rc, diag=repr(out[:300]))
    d.stop()


tap.run(main)
