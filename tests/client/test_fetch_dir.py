#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""fetch -o DIR URL...: one bundle per verified node, named
DIR/<escaped origin>-<YYYY-MM-DD>.bundle (UTC), each of which verifies offline;
a node that does not verify gets no bundle and the exit code says so; an
existing symlink at the dated name is refused and untouched; several URLs need
an existing directory; the same origin twice is not silently overwritten."""

import datetime
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def days():
    return {datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")}


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-fetchdir-")
    env = cltest.client_env(tmp)
    origins = ["node-a.test/gpuhours", "node:b.test/gpuhours"]
    escaped = ["node-a.test%2Fgpuhours", "node%3Ab.test%2Fgpuhours"]
    nodes = []
    for i, o in enumerate(origins):
        d = ghtest.Daemon(os.path.join(tmp, "n%d" % i), gpus=1, period=1, interval=0.5,
                          extra_args=["--origin", o])
        d.start()
        nodes.append(d)
    k = []
    for d in nodes:
        k += ["--key", d.vkey()]
    for d in nodes:
        d.wait_size(3, timeout=30)

    # Several URLs into a directory: dated, escaped names; each bundle verifies offline.
    out_dir = os.path.join(tmp, "evidence")
    os.mkdir(out_dir)
    before = days()
    rc, out, err, _ = cltest.run(["fetch", "-o", out_dir] + k + [d.url for d in nodes], env,
                                 timeout=120)
    dates = before | days()
    files = sorted(os.listdir(out_dir))
    want = [sorted("%s-%s.bundle" % (e, day) for e in escaped) for day in dates]
    tap.ok(rc in (0, 1) and files in want,
           "fetch -o DIR URL URL writes DIR/<origin>-<date>.bundle for each", diag=(rc, files,
                                                                                   err[-500:]))
    ok = True
    for f in files:
        rc2, out2, err2, _ = cltest.run(["verify"] + k + [os.path.join(out_dir, f)], env)
        ok = ok and rc2 in (0, 1) and "VERIFIED" in out2
    tap.ok(files and ok, "each dated bundle verifies offline", diag=files)
    tap.ok(all(os.path.join(out_dir, f) in out for f in files),
           "fetch says which files it wrote", diag=out[-500:])

    # One URL, -o an existing directory: the same dated name.
    one_dir = os.path.join(tmp, "one")
    os.mkdir(one_dir)
    rc, out, err, _ = cltest.run(["fetch", nodes[0].url, "-o", one_dir] + k, env)
    files = os.listdir(one_dir)
    tap.ok(rc in (0, 1) and len(files) == 1 and
           any(files[0] == "%s-%s.bundle" % (escaped[0], day) for day in dates | days()),
           "fetch -o DIR URL (an existing directory) writes a dated bundle in it",
           diag=(rc, files, err[-300:]))

    # A node that does not answer: no bundle for it, exit 3; the other is written.
    dead_dir = os.path.join(tmp, "dead")
    os.mkdir(dead_dir)
    dead_url = "http://127.0.0.1:%d" % ghtest.free_port()
    rc, out, err, _ = cltest.run(["fetch", "--timeout", "5", "-o", dead_dir] + k +
                                 [nodes[0].url, dead_url], env, timeout=120)
    files = os.listdir(dead_dir)
    tap.ok(rc == 3 and len(files) == 1 and files[0].startswith(escaped[0] + "-") and
           dead_url in err and "no bundle written" in err,
           "a node that does not verify gets no bundle, is named on stderr, exit 3",
           diag=(rc, files, err[-500:]))

    # The dated name exists as a symlink: refused, link and target untouched.
    link_dir = os.path.join(tmp, "links")
    os.mkdir(link_dir)
    victim = os.path.join(tmp, "victim")
    with open(victim, "w") as f:
        f.write("precious\n")
    for day in dates | days():
        os.symlink(victim, os.path.join(link_dir, "%s-%s.bundle" % (escaped[0], day)))
    rc, out, err, _ = cltest.run(["fetch", "-o", link_dir] + k + [d.url for d in nodes], env,
                                 timeout=120)
    links = [f for f in os.listdir(link_dir) if os.path.islink(os.path.join(link_dir, f))]
    tap.ok(rc == 3 and "symbolic link" in err and len(links) == len(dates | days()) and
           open(victim).read() == "precious\n" and
           any(f.startswith(escaped[1] + "-") for f in os.listdir(link_dir)),
           "a symlink at the dated name is refused (exit 3); the other node is still written",
           diag=(rc, os.listdir(link_dir), err[-500:]))

    # Several URLs need an existing directory; nothing is created.
    missing = os.path.join(tmp, "missing")
    rc, out, err, _ = cltest.run(["fetch", "-o", missing] + k + [d.url for d in nodes], env)
    tap.ok(rc == 3 and "existing directory" in err and not os.path.exists(missing),
           "several URLs with -o NOT-A-DIR: exit 3, nothing written", diag=err[-300:])

    # The same origin twice (two URLs of one node): one bundle, the second refused.
    twice_dir = os.path.join(tmp, "twice")
    os.mkdir(twice_dir)
    url2 = nodes[0].url + "/checkpoint"
    rc, out, err, _ = cltest.run(["fetch", "-o", twice_dir] + k + [nodes[0].url, url2], env,
                                 timeout=120)
    tap.ok(rc == 3 and len(os.listdir(twice_dir)) == 1 and "already fetched" in err,
           "the same origin from two URLs: one bundle, the second refused (exit 3)",
           diag=(rc, os.listdir(twice_dir), err[-500:]))

    for d in nodes:
        d.stop()


tap.run(main)
