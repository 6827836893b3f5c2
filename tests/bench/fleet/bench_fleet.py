#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fleet benchmark (tests/bench/run fleet; not part of tools/check).

GH_BENCH_NODES nodes (default 1000) behind one server on 127.0.0.1
(fastserver.py: ledgerserver.py's nodes and node API, /checkpoint,
/v1/records, consistency proofs, on one thread with keep-alive; the
server's CPU seconds are printed with each audit), each serving GH_BENCH_DAYS days (default 30) of 5-minute records
with 8 GPUs, made by gen-ledger with proto (seed 0: deterministic, the same
record bytes on every node, each node with its own Ed25519 key and origin).
Figures:
1. cold audit of the whole fleet with a fresh evidence store: records/s
   against a bare OpenSSL EVP SHA-256 loop (hash-loop) over the same bytes
   (ratio; goal >= 0.5); the client's peak RSS, also for a tenth of the
   fleet (flat in the number of nodes; goal < 200 MiB);
2. warm audit after one more hour (12 records) on every node: seconds
   (goal < 10 s for 1,000 nodes) and cold/warm (goal >= 50);
3. report --by month --offline over the whole store: seconds (goal < 2 s)."""

import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "store"))
import ledgerserver  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fastserver  # noqa: E402
from ledgerserver import cltest, ghtest  # noqa: E402

NODES = int(os.environ.get("GH_BENCH_NODES", "1000"))
DAYS = float(os.environ.get("GH_BENCH_DAYS", "30"))
GPUS = 8
PERIOD = 300
HOUR = 3600 // PERIOD


CPU = {}  # CPU seconds (user + system) of the last run_rss, by argv[1]
SRV = {}  # this process's CPU seconds meanwhile (the node server's thread), by argv[1]


def run_rss(args, env):
    """(seconds, exit code, peak RSS in MiB, stdout, stderr) of one client run; its CPU
    seconds in CPU[args[1]] (the machine is shared: wall time includes waiting)."""
    # Peak RSS through GNU time: a child forked from this Python process and exec'ed
    # inherits Python's RSS high-water mark in ru_maxrss (Linux carries it across
    # exec), so wait4's figure would be this process's, not the client's.
    key = args[1]
    rssf = None
    if os.path.exists("/usr/bin/time"):
        fd, rssf = tempfile.mkstemp(prefix="gh-bench-rss-")
        os.close(fd)
        args = ["/usr/bin/time", "-f", "%M", "-o", rssf] + list(args)
    import resource
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.monotonic()
    p = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # Drain stdout/stderr in threads so a large report cannot block the child.
    import threading

    def drain(f, acc):
        acc.append(f.read())
    a, b = [], []
    ta = threading.Thread(target=drain, args=(p.stdout, a))
    tb = threading.Thread(target=drain, args=(p.stderr, b))
    ta.start()
    tb.start()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - t0
    CPU[key] = ru.ru_utime + ru.ru_stime
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    SRV[key] = r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime
    ta.join()
    tb.join()
    p.returncode = os.waitstatus_to_exitcode(status)
    out = (a[0] if a else b"").decode("utf-8", "replace")
    err = (b[0] if b else b"").decode("utf-8", "replace")
    rss = ru.ru_maxrss / 1024.0
    if rssf:
        try:
            with open(rssf) as f:
                rss = int(f.read().strip().splitlines()[-1]) / 1024.0
        finally:
            os.unlink(rssf)
    return secs, p.returncode, rss, out, err


def write_bundle(path, node, size):
    note = node.checkpoint()
    with open(path, "wb") as f:
        f.write(b"GHBUNDL1" + struct.pack(">I", len(note)) + note + struct.pack(">Q", size))
        f.write(b"".join(node.frames[:size]))


def main():
    gen, loop = sys.argv[1], sys.argv[2]
    client = ghtest.client_bin()
    tmp = tempfile.mkdtemp(prefix="gh-bench-fleet-")
    count = int(DAYS * 24 * HOUR)
    try:
        path = os.path.join(tmp, "ledger.bin")
        subprocess.run([gen, "0", str(count + HOUR), str(GPUS), str(PERIOD), path], check=True)
        t0 = time.monotonic()
        ledger = ledgerserver.Ledger(ghtest.split_frames(open(path, "rb").read()))
        nodes = []
        for i in range(NODES):
            n = ledgerserver.Node("node%04d.bench/gpuhours" % i, None, ledger=ledger)
            n.size = count
            nodes.append(n)
        ledger.cps[count] = ghtest.merkle_root(ledger.leaves[:count])
        ledger.cps[count + HOUR] = ghtest.merkle_root(ledger.leaves[:count + HOUR])
        srv = fastserver.FastLedgerServer(nodes, ports=32)
        per_node = sum(len(f) for f in ledger.frames[:count])
        print("fleet: %d nodes x %d records (%.1f days, %d GPUs, %d s period), %.1f MB per node, "
              "%.2f GB in all; server ready in %.1f s"
              % (NODES, count, DAYS, GPUS, PERIOD, per_node / 1e6, NODES * per_node / 1e9,
                 time.monotonic() - t0))

        bundle = os.path.join(tmp, "one.bundle")
        write_bundle(bundle, nodes[0], count)
        bare, bare_cpu = [], []
        reps = max(3, min(200, NODES // 5))
        for _ in range(3):
            # reps runs of one node's bytes, as CPU seconds (wait4) and as wall seconds.
            t0 = time.monotonic()
            cpu = 0.0
            for _ in range(reps):
                p = subprocess.Popen([loop, bundle], stdout=subprocess.DEVNULL)
                _, st, ru = os.wait4(p.pid, 0)
                cpu += ru.ru_utime + ru.ru_stime
            bare.append((time.monotonic() - t0) / reps)
            bare_cpu.append(cpu / reps)
        bare_rate = count / min(bare)
        bare_cpu_rate = count / min(bare_cpu)
        os.unlink(bundle)
        print("bare EVP SHA-256 loop (hash-loop, one node's %.1f MB, whole process): %.4f s wall, "
              "%.4f s CPU: %.0f records/s wall, %.0f records/CPU-s"
              % (per_node / 1e6, min(bare), min(bare_cpu), bare_rate, bare_cpu_rate))

        def fleet_file(k, name):
            f = os.path.join(tmp, name)
            with open(f, "w") as fh:
                for i in range(k):
                    fh.write("%s %s\n" % (srv.node_url(i), nodes[i].key.vkey))
            return f

        env = cltest.client_env(os.path.join(tmp, "auditor"))
        full = fleet_file(NODES, "fleet.txt")
        common = ["--min-page", "1", "--timeout", "120", "--deadline", "3600"]

        tenth = max(1, NODES // 10)
        env10 = cltest.client_env(os.path.join(tmp, "auditor10"))
        s10, rc10, rss10, _, err10 = run_rss([client, "verify", "--fleet",
                                             fleet_file(tenth, "tenth.txt")] + common, env10)
        shutil.rmtree(os.path.join(tmp, "auditor10"), ignore_errors=True)
        print("cold audit of %d nodes: %.2f s, exit %d, peak RSS %.1f MiB"
              % (tenth, s10, rc10, rss10))

        req0 = srv.requests
        cold, rc, rss, out, err = run_rss([client, "verify", "--fleet", full] + common, env)
        rate = NODES * count / cold
        print("cold audit of %d nodes: %.2f s, exit %d, %.0f records/s, %.1f MB/s, "
              "peak RSS %.1f MiB; client CPU %.2f s, server CPU %.2f s, %d requests"
              % (NODES, cold, rc, rate, NODES * per_node / cold / 1e6, rss, CPU["verify"],
                 SRV["verify"], srv.requests - req0))
        print("  " + err.strip().splitlines()[-1] if err.strip() else "  (no summary)")
        cpu_rate = NODES * count / CPU["verify"]
        print("ratio cold audit / bare EVP SHA-256 loop: %.2f by wall time (goal >= 0.5); "
              "by CPU time: %.0f / %.0f records/CPU-s = %.2f"
              % (rate / bare_rate, cpu_rate, bare_cpu_rate, cpu_rate / bare_cpu_rate))
        print("peak RSS %d nodes / %d nodes: %.1f / %.1f MiB (goal: flat, < 200 MiB)"
              % (NODES, tenth, rss, rss10))
        db = os.path.join(tmp, "auditor", "data", "gpuhours", "store.sqlite")
        print("evidence store: %.2f GB" % (os.path.getsize(db) / 1e9))

        for n in nodes:
            n.size = count + HOUR
            n.starts = []
        cold_cpu = CPU["verify"]
        req0 = srv.requests
        warm, rcw, rssw, _, errw = run_rss([client, "verify", "--fleet", full] + common, env)
        fetched = sum(len(n.starts) for n in nodes)
        print("warm audit after one more hour (%d records) on every node: %.2f s, exit %d, "
              "%d requests (%d for records), peak RSS %.1f MiB; client CPU %.2f s, server CPU "
              "%.2f s (goal < 10 s for 1,000 nodes)"
              % (HOUR, warm, rcw, srv.requests - req0, fetched, rssw, CPU["verify"],
                 SRV["verify"]))
        print("ratio cold / warm: %.1f by wall time (goal >= 50); by client CPU time: "
              "%.2f / %.2f s = %.1f" % (cold / warm, cold_cpu, CPU["verify"],
                                         cold_cpu / max(CPU["verify"], 1e-9)))

        rep, rcr, rssr, outr, errr = run_rss([client, "report", "--by", "month", "--offline",
                                              "--format", "json", "--fleet", full] + common, env)
        print("report --by month --offline over the whole store (%d origins): %.2f s, %.2f s "
              "CPU, exit %d, %d bytes, peak RSS %.1f MiB (goal < 2 s)"
              % (NODES, rep, CPU["report"], rcr, len(outr), rssr))
        if rcr > 1:
            print(errr[:1500])
        srv.close()
        return 0 if max(rc, rcw, rcr, rc10) <= 1 else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
