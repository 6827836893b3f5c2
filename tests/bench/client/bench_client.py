#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Client benchmark (tests/bench/run client):
1. verify rate of a 1,000,000-record bundle (records/s) against a bare loop
   doing the same SHA-256 work over the same bytes (ratio; goal >= 0.5);
2. wall time to verify 100 daemons on loopback in one command."""

import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

RECORDS = int(os.environ.get("GH_BENCH_RECORDS", "1000000"))
DAEMONS = int(os.environ.get("GH_BENCH_DAEMONS", "100"))


def timed(args, env=None):
    t0 = time.monotonic()
    p = subprocess.run(args, capture_output=True, env=env, timeout=600)
    return time.monotonic() - t0, p


def main():
    gen, loop = sys.argv[1], sys.argv[2]
    tmp = tempfile.mkdtemp(prefix="gh-bench-client-")
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(tmp, "c"),
               XDG_STATE_HOME=os.path.join(tmp, "s"), NO_COLOR="1")
    try:
        bundle = os.path.join(tmp, "bench.bundle")
        p = subprocess.run([gen, bundle, str(RECORDS), "2"], capture_output=True, check=True)
        vkey = p.stdout.decode().strip()
        size = os.path.getsize(bundle)
        bare = []
        for _ in range(3):
            out = subprocess.run([loop, bundle], capture_output=True, check=True).stdout.split()
            assert int(out[0]) == RECORDS
            bare.append(float(out[1]))
        ver = []
        for _ in range(3):
            secs, p = timed([ghtest.client_bin(), "verify", "--no-state", "--key", vkey, bundle],
                            env)
            if p.returncode not in (0, 1):
                print("verify failed (exit %d): %s" % (p.returncode, p.stdout.decode()[-500:]))
                return 1
            ver.append(secs)
        tb, tv = min(bare), min(ver)
        print("bundle: %d records, %.1f MB" % (RECORDS, size / 1e6))
        print("bare SHA-256 loop: %.3f s (%.0f records/s)" % (tb, RECORDS / tb))
        print("gpuhours verify:   %.3f s (%.0f records/s)" % (tv, RECORDS / tv))
        print("ratio verify/bare rate: %.2f (goal >= 0.5)" % (tb / tv))

        nodes = []
        for i in range(DAEMONS):
            d = ghtest.Daemon(os.path.join(tmp, "n%03d" % i), gpus=1, period=1, interval=1,
                              extra_args=["--origin", "n%03d.bench/gpuhours" % i])
            d.start(wait_ready=False)
            nodes.append(d)
        for d in nodes:
            d.wait_ready(60)
        keys = []
        for d in nodes:
            keys += ["--key", d.vkey()]
        for d in nodes:
            d.wait_size(3, timeout=60)
        secs, p = timed([ghtest.client_bin(), "verify", "--no-state", "--json"] + keys +
                        [d.url for d in nodes], env)
        ok = p.returncode in (0, 1)
        if not ok:
            print(p.stdout.decode()[-1500:] + p.stderr.decode()[-1500:])
        print("verify %d daemons on loopback in one command: %.2f s (exit %d)"
              % (DAEMONS, secs, p.returncode))
        for d in nodes:
            d.stop()
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


sys.exit(main())
