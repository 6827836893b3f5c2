#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Client inputs and outputs that must not surprise: fetch -o never replaces
a symlink, FIFO, device or directory (and '-o -' writes to stdout); clear
messages for a directory, a name that is neither a file nor a URL, another
URL scheme; a node's /checkpoint URL is accepted; --since in the future is an
error, --until in the future is clamped with a note; a URL's password never
appears in any output."""

import os
import stat
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-inputs-")
    env = cltest.client_env(tmp)
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=2)
    d.start()
    vkey = d.vkey()
    d.wait_size(3)
    k = ["--key", vkey]

    # 10. fetch -o: only a regular file (or nothing) is replaced.
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    link = os.path.join(tmp, "link")
    os.symlink(victim, link)
    rc, out, err, _ = cltest.run(["fetch", d.url] + k + ["-o", link], env)
    tap.ok(rc == 3 and "symbolic link" in err and os.path.islink(link)
           and open(victim).read() == "precious\n",
           "fetch -o SYMLINK is refused; the link and its target are untouched", diag=err)
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    rc, out, err, _ = cltest.run(["fetch", d.url] + k + ["-o", fifo], env, timeout=30)
    tap.ok(rc == 3 and "a FIFO" in err and stat.S_ISFIFO(os.lstat(fifo).st_mode),
           "fetch -o FIFO is refused without hanging", diag=err)
    rc, out, err, _ = cltest.run(["fetch", d.url] + k + ["-o", os.path.join(tmp, "nodir", "")],
                                 env)
    tap.ok(rc == 3 and "Permission denied" not in err and not os.path.exists(
        os.path.join(tmp, "nodir")), "fetch -o MISSING-DIR/ is refused clearly", diag=err)
    bundle = os.path.join(tmp, "b.bundle")
    with open(bundle, "w") as f:
        f.write("old\n")
    rc, out, err, _ = cltest.run(["fetch", d.url] + k + ["-o", bundle], env)
    tap.ok(rc in (0, 1) and open(bundle, "rb").read(4) != b"old\n",
           "fetch -o over a regular file replaces it", diag=err)
    import subprocess
    p = subprocess.run([ghtest.client_bin(), "fetch", d.url] + k + ["-o", "-"], env=env,
                       capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    piped = os.path.join(tmp, "piped.bundle")
    with open(piped, "wb") as f:
        f.write(p.stdout)
    rc2, out2, err2, _ = cltest.run(["verify"] + k + [piped], env)
    tap.ok(p.returncode in (0, 1) and rc2 in (0, 1) and b"VERIFIED" not in p.stdout,
           "fetch -o - writes the bundle to stdout (it verifies; the report went to stderr)",
           diag=(p.returncode, rc2, out2[-300:], p.stderr[-300:]))

    # 11. messages
    rc, out, err, _ = cltest.run(["verify"] + k + [tmp], env)
    text = out + err
    tap.ok(rc == 3 and "is a directory" in text and "Invalid argument" not in text,
           "verify DIR says it is a directory", diag=text[-300:])
    rc, out, err, _ = cltest.run(["verify"] + k + ["127.0.0.1:%d" % d.port], env)
    text = out + err
    tap.ok(rc == 3 and "neither a file nor an http:// or https:// URL" in text,
           "a source without http:// is 'neither a file nor a URL'", diag=text[-300:])
    rc, out, err, _ = cltest.run(["verify"] + k + ["ftp://127.0.0.1/"], env)
    text = out + err
    tap.ok(rc == 3 and "unsupported URL scheme" in text, "ftp:// is an unsupported URL scheme",
           diag=text[-300:])
    rc, out, err, _ = cltest.run(["verify"] + k + [d.url + "/checkpoint"], env)
    tap.ok(rc in (0, 1), "a node's /checkpoint URL is accepted (exit %d)" % rc,
           diag=(out + err)[-300:])

    # 12. time in the future
    rc, out, err, _ = cltest.run(["verify"] + k + ["--since", "2099-01-01", d.url], env)
    tap.ok(rc == 3 and "in the future" in err, "--since in the future is an error (exit %d)" % rc,
           diag=err[-300:])
    rc, out, err, _ = cltest.run(["verify"] + k + ["--until", "2099-01-01", d.url], env)
    tap.ok(rc in (0, 1) and "auditing up to now" in err,
           "--until in the future is clamped to now with a note (exit %d)" % rc, diag=err[-300:])

    # 14. passwords in URLs
    secret = "s3cr3tpw"
    url = "http://auditor:%s@127.0.0.1:%d" % (secret, d.port)
    rc, out, err, _ = cltest.run(["verify"] + k + [url], env)
    tap.ok(rc in (0, 1) and secret not in out + err and "auditor:***@" in out + err,
           "a URL's password is not echoed (shown as ***)", diag=(out + err)[-300:])
    dead = "http://auditor:%s@127.0.0.1:%d" % (secret, ghtest.free_port())
    rc, out, err, _ = cltest.run(["verify", "--json"] + k + [dead], env)
    tap.ok(rc == 3 and secret not in out + err, "... nor in errors or JSON", diag=(out + err)[-300:])
    d.stop()


tap.run(main)
