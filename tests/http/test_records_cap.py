#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""/v1/records memory cap: with 10,000-record responses held by slow clients,
the bytes in flight stay under 64 MiB (503 + Retry-After beyond it), and the
bytes come back once the clients go away. Loopback addresses only."""

import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

ORIGIN = "cap.test/gpuhours"
tap = ghtest.Tap()


def status_line(sock):
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 8192:
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


def main():
    tmp = tempfile.mkdtemp(prefix="gh-http-cap-")
    d = ghtest.Daemon(tmp, gpus=2, extra_args=["--origin", ORIGIN])
    os.makedirs(d.state_dir, mode=0o700)
    gen = os.path.join(ghtest.build_root(), "tests", "http", "genledger")
    out = subprocess.run([gen, d.state_dir, ORIGIN, "10000", "8"], capture_output=True, timeout=480)
    tap.ok(out.returncode == 0, "genledger wrote 10,000 records", diag=out.stderr)
    d.start()
    st, hdr, body = d.get("/v1/records?start=0&end=10000", timeout=30)
    one = len(body)
    tap.ok(st == 200 and hdr.get("x-gpuhours-range") == "0-10000" and one > 8 << 20,
           "one response carries 10,000 records (%d bytes)" % one, diag=(st, hdr))

    # Slow clients, one per loopback address (per-IP cap), none reading its body.
    socks, heads = [], []
    req = b"GET /v1/records?start=0&end=10000 HTTP/1.1\r\nHost: x\r\n\r\n"
    for i in range(9):
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10,
                                     source_address=("127.0.0.%d" % (10 + i), 0))
        s.sendall(req)
        socks.append(s)
        time.sleep(0.3)
    for s in socks:
        heads.append(status_line(s))
    codes = [h.split(b" ")[1] if h.startswith(b"HTTP/1.1 ") else h[:20] for h in heads]
    held = codes.count(b"200")
    busy = [h for h in heads if h.startswith(b"HTTP/1.1 503")]
    tap.ok(held * one <= 64 << 20 and held >= (64 << 20) // one - 1 and busy,
           "%d responses held (%d MiB), the rest get 503" % (held, held * one >> 20), diag=codes)
    tap.ok(busy and all(b"Retry-After: 1" in h for h in busy),
           "503 answers carry Retry-After: 1", diag=busy[:1])
    for s in socks:
        s.close()

    # The held bytes are given back when the clients go away.
    deadline = time.monotonic() + 15
    st = None
    while time.monotonic() < deadline:
        st, _, _ = d.get("/v1/records?start=0&end=10000", timeout=30)
        if st == 200:
            break
        time.sleep(0.3)
    tap.ok(st == 200, "records are served again after the slow clients left")
    tap.ok(d.stop() == 0, "gpuhoursd exits 0", diag=d.log_tail())


tap.run(main)
