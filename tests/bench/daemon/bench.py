#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhoursd benchmark (not pass/fail): RSS, CPU per hour of sampling,
/checkpoint requests/s against a bare libmicrohttpd server, /v1/records MB/s
and the worst summary lateness while wrk floods. Each figure is printed with
its baseline or goal and the ratio. Runs in about 2 minutes."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "http"))
import ghtest  # noqa: E402
import ghhttp  # noqa: E402

ORIGIN = "bench.example/gpuhours"
GPUS = 8
BUILD = ghtest.build_root()
GEN = os.path.join(BUILD, "tests", "http", "genledger")
BARE = os.path.join(BUILD, "tests", "bench", "daemon", "baremhd")
CPU_SECONDS = 60
procs = []


def say(name, value, unit, baseline, base_label, higher_is_better, goal_ratio=1.0):
    """One figure, its baseline and the ratio; higher_is_better None: no goal, just the ratio."""
    ratio = value / baseline if baseline else float("nan")
    if higher_is_better is None:
        verdict = "(no goal)"
    elif (ratio >= goal_ratio) if higher_is_better else (ratio <= goal_ratio):
        verdict = "(meets goal)"
    else:
        verdict = "(MISSES goal)"
    print("%-44s %12.3f %-6s | %-30s %12.3f | ratio %.3f %s" % (
        name, value, unit, base_label, baseline, ratio, verdict))
    sys.stdout.flush()


def gen(state, count):
    os.makedirs(state, mode=0o700)
    t = time.monotonic()
    out = subprocess.run([GEN, state, ORIGIN, str(count), str(GPUS)], capture_output=True,
                         timeout=300)
    if out.returncode != 0:
        raise RuntimeError("genledger failed: " + out.stderr.decode())
    return int(out.stdout), time.monotonic() - t


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime (fields 14, 15)


def run_ns(pid):
    """CPU time of all the process's threads in ns (/proc/PID/task/*/schedstat)."""
    total = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except OSError:
            pass
    return total


def wrk(url, seconds=5, conns=32):
    out = subprocess.run(["wrk", "-t1", "-c%d" % conns, "-d%ds" % seconds, url],
                         capture_output=True, text=True, timeout=seconds + 30).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errs = re.search(r"Socket errors: (.*)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return float(m.group(1)) if m else 0.0, (errs.group(1) if errs else "none"), \
        int(non2xx.group(1)) if non2xx else 0


def fetch_time(port, path, tries=3):
    best = None
    size = 0
    for _ in range(tries):
        t = time.monotonic()
        st, _, body = ghhttp.request(port, "GET", path, timeout=60)
        dt = time.monotonic() - t
        if st != 200:
            raise RuntimeError("%s answered %d" % (path, st))
        size = len(body)
        best = dt if best is None else min(best, dt)
    return size, best


def main():
    tmp = tempfile.mkdtemp(prefix="gh-bench-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    try:
        run(tmp)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        ghtest._cleanup_all()
        shutil.rmtree(tmp, ignore_errors=True)


def run(tmp):
    print("gpuhoursd benchmark (%d GPUs, state on %s)" % (GPUS, tmp))

    # CPU: a daemon sampling 8 GPUs at 1 s intervals (default period 300 s),
    # measured over CPU_SECONDS while the other phases run on other processes.
    dcpu = ghtest.Daemon(os.path.join(tmp, "cpu"), gpus=GPUS, period=300, interval=1,
                         extra_args=["--origin", ORIGIN])
    dcpu.start()
    time.sleep(2)  # past start-up (key, first record)
    cpu_t0, cpu_ticks0, cpu_ns0 = time.monotonic(), cpu_ticks(dcpu.proc.pid), run_ns(dcpu.proc.pid)

    # RSS after 1,000 records with 8 GPUs, after serving /v1/records once.
    d1 = ghtest.Daemon(os.path.join(tmp, "rss"), gpus=GPUS, period=1, interval=1,
                       extra_args=["--origin", ORIGIN])
    n, dt = gen(d1.state_dir, 1000)
    d1.start()
    size = d1.checkpoint()["size"]
    st, _, body = d1.get("/v1/records?start=0&end=%d" % size)
    ps = proc_status(d1.proc.pid)
    rss = int(ps["VmRSS"].split()[0]) / 1024
    hwm = int(ps["VmHWM"].split()[0]) / 1024
    print("ledger of %d records written in %.1f s; /v1/records served %d bytes (status %d)"
          % (n, dt, len(body), st))
    say("daemon VmRSS, 1,000 records, 8 GPUs", rss, "MiB", 6, "goal", False)
    say("daemon VmHWM, 1,000 records, 8 GPUs", hwm, "MiB", 6, "goal", False)
    with open("/proc/%d/smaps_rollup" % d1.proc.pid) as f:
        roll = {k: int(v.split()[0]) / 1024 for k, _, v in (ln.partition(":") for ln in f) if v.strip().endswith("kB")}
    print("  of which RssAnon %.2f MiB (the daemon's own memory) and RssFile %.2f MiB (shared "
          "libraries: libc, and gnutls/p11-kit/nettle that libmicrohttpd initialises); PSS %.2f MiB"
          % (int(ps["RssAnon"].split()[0]) / 1024, int(ps["RssFile"].split()[0]) / 1024, roll.get("Pss", 0)))
    d1.stop()

    # /v1/records MB/s for 10,000 records, and /checkpoint req/s, each against baremhd.
    d2 = ghtest.Daemon(os.path.join(tmp, "big"), gpus=GPUS, period=1, interval=0.1,
                       extra_args=["--origin", ORIGIN])
    n, dt = gen(d2.state_dir, 10000)
    print("ledger of %d records written in %.1f s" % (n, dt))
    d2.start()
    cp_note = d2.get("/checkpoint")[2]
    path = "/v1/records?start=0&end=10000"
    st, hdr, recs = d2.get(path, timeout=60)
    cp_file, rec_file = os.path.join(tmp, "cp"), os.path.join(tmp, "recs")
    with open(cp_file, "wb") as f:
        f.write(cp_note)
    with open(rec_file, "wb") as f:
        f.write(recs)
    bport = ghtest.free_port()
    bare = subprocess.Popen([BARE, str(bport), cp_file, rec_file], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    procs.append(bare)
    bare.stdout.readline()
    nbytes, t_d = fetch_time(d2.port, path, tries=5)
    nbytes_b, t_b = fetch_time(bport, path, tries=5)
    print("/v1/records: %d records (%s), %d bytes per response" % (
        len(ghtest.split_frames(recs)), hdr.get("x-gpuhours-range"), nbytes))
    say("/v1/records MB/s (10,000 records)", nbytes / t_d / 1e6, "MB/s", nbytes_b / t_b / 1e6,
        "bare libmicrohttpd MB/s", None)

    # Flood /checkpoint; summaries of d2 (period 1 s) must stay on time meanwhile.
    flood_from = d2.checkpoint()["size"]
    # Interleaved rounds, best of each: the machine is shared, single runs are noisy.
    # wrk -c32 as specified; both servers cap connections per client IP at 16, so half of
    # wrk's connections are refused and reopened all the time (wrk counts read errors).
    # -c16 (the per-IP cap) measures the request path alone.
    best = {}
    for rnd in range(3):
        for conns, secs in ((32, 5), (16, 3)):
            if conns == 32 and rnd == 2:
                continue
            rd, errs_d, _ = wrk(d2.url + "/checkpoint", secs, conns)
            rb, errs_b, _ = wrk("http://127.0.0.1:%d/checkpoint" % bport, secs, conns)
            best[conns] = (max(best.get(conns, (0, 0))[0], rd), max(best.get(conns, (0, 0))[1], rb))
            print("round %d wrk -t1 -c%d -d%ds /checkpoint: gpuhoursd %.0f req/s (socket errors: %s);"
                  " bare %.0f req/s (socket errors: %s)" % (rnd + 1, conns, secs, rd, errs_d, rb, errs_b))
    say("/checkpoint req/s (wrk -t1 -c32 -d5s)", best[32][0], "req/s", best[32][1],
        "bare libmicrohttpd", True, 0.9)
    say("/checkpoint req/s (wrk -t1 -c16, per-IP cap)", best[16][0], "req/s", best[16][1],
        "bare libmicrohttpd", True, 0.9)
    time.sleep(1.5)
    flood_to = d2.checkpoint()["size"]
    sums = [r for r in ghhttp.summaries(d2.records(flood_from, flood_to)) if r["kind"] == "summary"
            and not r["flags"] & 1]
    late = [(r["wall_ns"] - r["period_start_ns"] - r["period_s"] * 10**9) / 1e6 for r in sums]
    obs = [(r["obs_end_wall_ns"] - r["period_start_ns"] - r["period_s"] * 10**9) / 1e6 for r in sums]
    print("%d summaries appended during the floods" % len(sums))
    if sums:
        say("worst summary append lateness under flood", max(late), "ms", 100, "goal (DESIGN.md)",
            False)
        say("worst obs_end_wall - boundary under flood", max(obs), "ms", 100, "goal (DESIGN.md)",
            False)
    d2.stop()
    bare.terminate()
    bare.wait()

    # CPU per hour of sampling.
    left = CPU_SECONDS - (time.monotonic() - cpu_t0)
    if left > 0:
        time.sleep(left)
    wall = time.monotonic() - cpu_t0
    used_ticks = (cpu_ticks(dcpu.proc.pid) - cpu_ticks0) / os.sysconf("SC_CLK_TCK")
    used = (run_ns(dcpu.proc.pid) - cpu_ns0) / 1e9
    pct = 100.0 * used / wall
    print("CPU: %.4f s (schedstat; utime+stime says %.2f s at 10 ms resolution) over %.1f s of "
          "sampling 8 GPUs at 1 s, period 300 s -> %.1f s per hour" % (
              used, used_ticks, wall, used * 3600 / wall))
    say("daemon CPU, % of one core", pct, "%", 0.1, "goal", False)
    dcpu.stop()


if __name__ == "__main__":
    main()
