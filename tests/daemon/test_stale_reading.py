#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A sampler reading taken just before the daemon stops (SIGSTOP, a debugger,
# a paused VM) must not be stamped with the time the daemon resumes: its
# energy counter belongs to the instant of the read, and stamped later it
# moves the energy of the whole stop into the window after it (and out of the
# gap, where the client looks for it).
#
# The stop is made deterministic with strace: attached to the sampling
# thread, it delays the return of the sim backend's first file access inside
# a read (sim.c advance(), after the read has fixed its instant), so the
# thread is frozen for STOP_S between the counters and the daemon's stamp,
# exactly as a SIGSTOP right after the read would freeze it.
#
# Sim model: 100 % load is 700 W, so every stretch of wall time, inside a
# summary window or in the gap between two, must show 700 W in the counters.
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
STOP_S = 3
WATTS = 700


def summaries(path):
    data = open(path, "rb").read()
    return [r for r in (ghtest.decode_record(x) for x in ghtest.split_frames(data))
            if r["kind"] == "summary"]


def watts(e0_mj, e1_mj, t0_ns, t1_ns):
    return (e1_mj - e0_mj) / 1000 / ((t1_ns - t0_ns) / 1e9)


def main():
    if not shutil.which("strace"):
        tap.skip("strace missing")
        return
    tmp = ghtest.tmpdir("gh-stale-")
    d = ghtest.Daemon(tmp, gpus=1, period=1, interval=0.1)
    d.set_load([100])
    d.start()
    d.wait_size(4)
    slog = os.path.join(tmp, "strace.log")
    st = subprocess.Popen(["strace", "-qq", "-o", slog, "-p", str(d.proc.pid), "-P", d.sim_dir,
                           "-e", "trace=openat",
                           "-e", "inject=openat:delay_exit=%d:when=1" % (STOP_S * 1000000)],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + STOP_S + 10
    delayed = False
    while time.monotonic() < deadline and st.poll() is None and not delayed:
        time.sleep(0.2)
        try:
            delayed = "DELAYED" in open(slog).read()
        except OSError:
            pass
    # Detaching ends the delay: wait until the daemon has resumed and seen the stall.
    while delayed and time.monotonic() < deadline and "sampling stalled for" not in d.log_text():
        time.sleep(0.2)
    st.terminate()  # detaches
    _, err = st.communicate(timeout=10)
    if not delayed:
        tap.skip("strace could not stop the sampling thread (%s)" % err.decode(errors="replace").strip())
        d.stop()
        return
    time.sleep(2.5)  # windows after the stop
    tap.ok("sampling stalled for" in d.log_text(), "the daemon logs the stop as a stall", d.log_tail(5))
    tap.ok(d.stop() == 0, "clean stop")
    sums = summaries(os.path.join(d.state_dir, "records"))
    gap = [i for i in range(1, len(sums))
           if sums[i]["obs_start_boot_ns"] - sums[i - 1]["obs_end_boot_ns"] > (STOP_S - 0.5) * 1e9]
    if not tap.ok(len(gap) == 1, "the stop is one gap between summaries",
                  [(s["obs_start_boot_ns"], s["obs_end_boot_ns"]) for s in sums]):
        return
    a, b, z = sums[gap[0] - 1], sums[gap[0]], sums[-1]
    ga, gb, gz = a["gpus"][0], b["gpus"][0], z["gpus"][0]
    in_gap = watts(ga["energy_end_mj"], gb["energy_start_mj"], a["obs_end_wall_ns"], b["obs_start_wall_ns"])
    after = watts(gb["energy_start_mj"], gz["energy_end_mj"], b["obs_start_wall_ns"], z["obs_end_wall_ns"])
    first = watts(gb["energy_start_mj"], gb["energy_end_mj"], b["obs_start_wall_ns"], b["obs_end_wall_ns"])
    tap.diag("gap %.3f s: %.1f W in the gap, %.1f W in the first window after it, %.1f W after it"
             % ((b["obs_start_wall_ns"] - a["obs_end_wall_ns"]) / 1e9, in_gap, first, after))
    tap.ok(abs(in_gap - WATTS) / WATTS < 0.05,
           "the energy of the stop is in the gap: %.1f W over it, want %d" % (in_gap, WATTS))
    tap.ok(abs(after - WATTS) / WATTS < 0.05,
           "the windows after the stop start at their own counter value: %.1f W, want %d" % (after, WATTS))


tap.run(main)
