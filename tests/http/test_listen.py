#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""--listen: an IPv6 loopback address works; bad addresses and a busy port make
gpuhoursd exit non-zero with a one-line error naming the value. Loopback only."""

import http.client
import os
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def get6(port, path):
    c = http.client.HTTPConnection("::1", port, timeout=5)
    try:
        c.request("GET", path)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def exits_with_error(tmp, listen):
    d = ghtest.Daemon(tmp, gpus=1, extra_args=["--listen", listen])
    d.start(wait_ready=False)
    try:
        d.proc.wait(15)
    except Exception:  # noqa: BLE001
        pass
    code = d.proc.poll()
    log = d.log_text()
    d.kill9()
    return code, log


def main():
    tmp = tempfile.mkdtemp(prefix="gh-http-listen-")
    try:
        socket.socket(socket.AF_INET6).close()
        has_v6 = True
    except OSError:
        has_v6 = False

    if has_v6:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
            port = s.getsockname()[1]
        d = ghtest.Daemon(os.path.join(tmp, "v6"), gpus=1, extra_args=["--listen", "[::1]:%d" % port])
        d.start(wait_ready=False)
        st = None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and d.running():
            try:
                st, _ = get6(port, "/checkpoint")
                if st == 200:
                    break
            except OSError:
                pass
            time.sleep(0.1)
        tap.ok(st == 200, "--listen [::1]:PORT serves /checkpoint over IPv6", diag=d.log_tail())
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            v4 = True
        except OSError:
            v4 = False
        tap.ok(not v4, "[::1] does not also listen on 127.0.0.1")
        tap.ok("listening on [::1]:%d" % port in d.log_text(), "the bound address is logged",
               diag=d.log_tail())
        tap.ok(d.stop() == 0, "gpuhoursd on [::1] exits 0")
    else:
        for _ in range(4):
            tap.skip("no IPv6 on this host")

    for i, bad in enumerate(["localhost:%d" % ghtest.free_port(), "1.2.3:%d" % ghtest.free_port(),
                             "[fe80::zz]:%d" % ghtest.free_port(), "256.0.0.1:9477",
                             "127.0.0.1:70000", "[::1:9477"]):
        code, log = exits_with_error(os.path.join(tmp, "bad%d" % i), bad)
        tap.ok(code not in (None, 0) and bad in log,
               "--listen %r: exits %s with an error naming the value" % (bad, code),
               diag=log[-400:])

    # A port that is already taken.
    with socket.socket(socket.AF_INET) as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        code, log = exits_with_error(os.path.join(tmp, "busy"), "127.0.0.1:%d" % port)
    tap.ok(code not in (None, 0) and "127.0.0.1:%d" % port in log and "in use" in log,
           "a busy port: exits %s with 'Address already in use'" % code, diag=log[-400:])


tap.run(main)
