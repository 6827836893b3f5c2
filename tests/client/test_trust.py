#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""trust add/list/remove, --tofu (real daemon and a lying node), the XDG
config directory, --help for every command, --version, usage errors."""

import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-trust-")
    env = cltest.client_env(tmp)
    tf = os.path.join(tmp, "config", "gpuhours", "trusted_keys")
    a = cltest.Key("a.example/gpuhours")
    b = cltest.Key("b.example/gpuhours")
    a2 = cltest.Key("a.example/gpuhours")

    rc, out, err, _ = cltest.run(["trust", "list"], env)
    tap.ok(rc == 0 and out == "", "empty trust list", diag=out + err)
    for k in (a, b, a2):
        rc, out, err, _ = cltest.run(["trust", "add", k.vkey], env)
        tap.ok(rc == 0, "trust add %s" % k.vkey, diag=out + err)
    rc, out, err, _ = cltest.run(["trust", "add", a.vkey], env)
    tap.ok(rc == 0 and "already" in out, "adding a key twice is harmless", diag=out + err)
    tap.ok(os.path.isfile(tf), "trust file under XDG_CONFIG_HOME")
    rc, out, err, _ = cltest.run(["trust", "list"], env)
    tap.ok(rc == 0 and out.split() == [a.vkey, b.vkey, a2.vkey], "trust list shows the keys",
           diag=out)
    with open(tf, "a") as f:
        f.write("# a comment stays\n\n")
    rc, out, err, _ = cltest.run(["trust", "remove", "a.example/gpuhours"], env)
    tap.ok(rc == 0 and "2 keys" in out, "trust remove drops every key of that name",
           diag=out + err)
    rc, out, err, _ = cltest.run(["trust", "list"], env)
    tap.ok(out.split() == [b.vkey], "only the other key is left", diag=out)
    tap.ok("# a comment stays" in open(tf).read(), "comments survive a rewrite")
    rc, out, err, _ = cltest.run(["trust", "remove", "nobody"], env)
    tap.ok(rc == 3 and "no trusted key named 'nobody'" in err, "remove unknown: exit 3",
           diag=err)
    rc, out, err, _ = cltest.run(["trust", "add", "not-a-vkey"], env)
    tap.ok(rc == 3 and "not a vkey" in err, "add garbage: exit 3 with a clear message",
           diag=err)
    # A valid origin may start with '-': its vkey goes after "--" (else it would read as an
    # option); without "--" one clear line, nothing written.
    d = cltest.Key("-dash.example/gpuhours")
    before = open(tf).read()
    rc, out, err, _ = cltest.run(["trust", "add", d.vkey], env)
    tap.ok(rc == 3 and len(err.strip().splitlines()) == 1 and "reads as an option" in err and
           "gpuhours trust add -- VKEY" in err and open(tf).read() == before,
           "add a vkey that starts with '-' without '--': exit 3, one line saying to use '--'",
           diag=err)
    rc, out, err, _ = cltest.run(["trust", "add", "-x"], env)
    tap.ok(rc == 3 and err.strip() == "gpuhours trust add: unknown option '-x' (a VKEY that "
           "starts with '-' goes after '--')", "add -x: unknown option, one line", diag=err)
    rc, out, err, _ = cltest.run(["trust", "add", "--", d.vkey], env)
    tap.ok(rc == 0 and d.vkey in open(tf).read(), "trust add -- VKEY: a name starting with '-'",
           diag=out + err)
    rc, out, err, _ = cltest.run(["trust", "list"], env)
    tap.ok(rc == 0 and d.vkey in out.split(), "it is listed", diag=out)
    for args, want in ((["trust", "add"], "missing VKEY"),
                       (["trust", "add", "--"], "missing VKEY"),
                       (["trust", "add", "--", d.vkey, "x"], "unexpected argument 'x'"),
                       (["trust", "add", "--tofu"], "missing URL"),
                       (["trust", "remove", d.name], "unknown option"),
                       (["trust", "remove"], "missing NAME")):
        rc, out, err, _ = cltest.run(args, env)
        tap.ok(rc == 3 and want in err and len(err.strip().splitlines()) == 1,
               "%s: exit 3, %r" % (" ".join(args[1:]), want), diag=err)
    rc, out, err, _ = cltest.run(["trust", "remove", "--", d.name], env)
    tap.ok(rc == 0 and "1 key" in out and d.vkey not in open(tf).read(),
           "trust remove -- NAME", diag=out + err)
    with open(tf, "a") as f:
        f.write("garbage line\n")
    rc, out, err, _ = cltest.run(["verify", "--no-state", "/nonexistent"], env)
    tap.ok(rc == 3 and "line" in err and "trusted_keys" in err,
           "a broken trust file is a clear error", diag=err)
    # A good key before the bad line: list and add fail cleanly (under ASan
    # the keys parsed before the bad line must not leak).
    for cmd in (["trust", "list"], ["trust", "add", a.vkey]):
        rc, out, err, _ = cltest.run(cmd, env)
        tap.ok(rc == 3 and "line 4" in err and "not a valid vkey" in err and out == "",
               "%s with a broken trust file: exit 3, says which line" % " ".join(cmd[:2]),
               diag=out + err)
    os.remove(tf)

    # TOFU against the real daemon.
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=1, period=1, interval=0.1)
    d.start()
    vkey = d.vkey()
    rc, out, err, _ = cltest.run(["trust", "add", "--tofu", d.url], env)
    tap.ok(rc == 0 and vkey in out and "fingerprint" in out and "WARNING" in err and
           "first use" in err, "trust add --tofu pins the node's key with a warning",
           diag=out + err)
    rc, out, err, _ = cltest.run(["trust", "list"], env)
    tap.ok(out.split() == [vkey], "the pinned key is listed", diag=out)
    d.wait_size(2)
    rc, out, err, _ = cltest.run(["verify", d.url], env)
    tap.ok(rc in (0, 1), "verify with the pinned key (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["trust", "add", "--tofu", d.url], env)
    tap.ok(rc == 0 and "already remembered" in err,
           "tofu on an origin with a remembered checkpoint warns", diag=out + err)
    d.stop()
    # Another node (another key) claiming the same origin: TOFU warns loudly.
    d2 = ghtest.Daemon(os.path.join(tmp, "node2"), gpus=1, period=1, interval=0.1)
    d2.start()
    rc, out, err, _ = cltest.run(["trust", "add", "--tofu", d2.url], env)
    tap.ok(d2.vkey() != vkey and "already has another trusted key" in err and
           "already remembered" in err,
           "tofu on an origin that has another trusted key warns", diag=out + err)
    d2.stop()
    cltest.run(["trust", "remove", d2.vkey().split("+")[0]], env)

    # TOFU against a node whose checkpoint is not signed by the key it offers.
    liar = cltest.Key("liar.example/gpuhours")
    other = cltest.Key("liar.example/gpuhours")
    note = other.sign(cltest.checkpoint_text(liar.name, 0, ghtest.merkle_root([]))).encode()
    node = json.dumps({"origin": liar.name, "vkey": liar.vkey}).encode()
    srv = cltest.Hostile({"/checkpoint": lambda h, q: h.reply(200, note),
                          "/v1/node": lambda h, q: h.reply(200, node)})
    rc, out, err, _ = cltest.run(["trust", "add", "--tofu", srv.url], env)
    srv.close()
    tap.ok(rc == 2 and "does not verify" in err, "tofu refuses a key the node cannot sign with",
           diag=out + err)
    rc, out, err, _ = cltest.run(["trust", "list"], env)
    tap.ok(liar.vkey not in out, "the liar's key was not pinned")
    srv = cltest.Hostile({"/v1/node": lambda h, q: h.reply(200, b"{\"origin\": 5}"),
                          "/checkpoint": lambda h, q: h.reply(200, note)})
    rc, out, err, _ = cltest.run(["trust", "add", "--tofu", srv.url], env)
    srv.close()
    tap.ok(rc == 3 and "vkey" in err, "tofu: bad /v1/node JSON is a clear error", diag=err)

    # --help for every command, --version, usage errors.
    for cmd in ("verify", "fetch", "report", "trust", "attest", "check", "show"):
        rc, out, err, _ = cltest.run([cmd, "--help"], env)
        tap.ok(rc == 0 and out.startswith("usage: gpuhours " + cmd), "%s --help" % cmd,
               diag=out + err)
    rc, out, err, _ = cltest.run(["--version"], env)
    tap.ok(rc == 0 and out.startswith("gpuhours "), "--version", diag=out)
    for args in (["nope"], ["verify"], ["verify", "--bogus", "x"], ["report", "--by", "week", "x"],
                 ["fetch", "http://127.0.0.1:1"], ["verify", "--timeout", "0", "x"], [],
                 ["report", "--format", "csv", "a", "b"]):
        rc, out, err, _ = cltest.run(args, env)
        tap.ok(rc == 3 and err.strip() and len(err.strip().splitlines()) <= 16,
               "usage error %s: exit 3 with a message" % args, diag=err)
    shutil.rmtree(tmp, ignore_errors=True)


tap.run(main)
