#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Sim energy model: 60 W + util x 640 W, integrated over time, also while the
# daemon is down (the counter at the next start includes it).
import os
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def summaries(d):
    cp = d.checkpoint()
    return [ghtest.decode_record(r) for r in d.records(0, cp["size"])]


def rate_w(a, b, gi):
    """Average power (W) of GPU gi between the end of summary a and the end of summary b."""
    de = b["gpus"][gi]["energy_end_mj"] - a["gpus"][gi]["energy_end_mj"]
    dt = (b["obs_end_wall_ns"] - a["obs_end_wall_ns"]) / 1e9
    return de / 1000 / dt


def main():
    tmp = ghtest.tmpdir("gh-energy-")
    d = ghtest.Daemon(tmp, gpus=2)
    d.set_load([100])
    d.start()
    d.wait_size(6)
    recs = summaries(d)
    sums = [r for r in recs if r["kind"] == "summary"]
    a, b = sums[0], sums[-1]
    w = [rate_w(a, b, i) for i in range(2)]
    tap.ok(all(abs(x - 700) / 700 < 0.02 for x in w), "100%% load: counters advance by 700 W x time (%s)"
           % ["%.1f" % x for x in w])
    used = [sum(s["gpus"][i]["energy_used_mj"] for s in sums[1:]) for i in range(2)]
    span = (b["obs_end_wall_ns"] - a["obs_end_wall_ns"]) / 1e9
    tap.ok(all(abs(u / 1000 / span - 700) / 700 < 0.02 for u in used), "energy_used sums to the same")
    tap.ok(all(g["power_avg_mw"] == 700000 and g["power_max_mw"] == 700000 and g["busy_ms"] == g["observed_ms"]
               and g["procs_max"] == 1 for s in sums[1:] for g in s["gpus"]), "100%: power 700 W, busy == observed")

    d.set_load([0, 25])
    time.sleep(0.3)
    n0 = d.checkpoint()["size"]
    d.wait_size(n0 + 4)
    sums = [r for r in summaries(d) if r["kind"] == "summary"][-3:]
    w0, w1 = rate_w(sums[0], sums[-1], 0), rate_w(sums[0], sums[-1], 1)
    # the mapping of load index to UUID order is not fixed: compare as a set
    got = sorted([w0, w1])
    tap.ok(abs(got[0] - 60) / 60 < 0.02 and abs(got[1] - 220) / 220 < 0.02,
           "load file re-read: 0%% -> 60 W, 25%% -> 220 W (%.1f, %.1f)" % (got[0], got[1]))

    # Energy used while the daemon is down shows up in the next start record.
    d.set_load([100])
    time.sleep(0.5)
    d.stop()
    last = [r for r in summaries_after_stop(d) if r["kind"] == "summary"][-1]
    time.sleep(3)
    d.start()
    recs = summaries(d)
    start = [r for r in recs if r["kind"] == "start"][-1]
    down_s = (start["wall_ns"] - last["obs_end_wall_ns"]) / 1e9
    inc = [(start["gpus"][i]["energy_mj"] - last["gpus"][i]["energy_end_mj"]) / 1000 / down_s for i in range(2)]
    tap.ok(all(abs(x - 700) / 700 < 0.02 for x in inc),
           "energy used while stopped (%.1f s at 100%%) is in the counter at start: %s W"
           % (down_s, ["%.1f" % x for x in inc]))
    tap.ok(start["gpus"][0]["uuid"] == last["gpus"][0]["uuid"], "same GPUs (UUIDs) across restarts")
    tap.ok(d.stop() == 0, "clean stop")
    # bad load file: complained about once, previous load kept
    d.start()
    d.set_load(["abc"])
    n0 = d.checkpoint()["size"]
    d.wait_size(n0 + 3)
    sums = [r for r in summaries(d) if r["kind"] == "summary"][-2:]
    complaints = [x for x in d.log_text().splitlines() if "bad value 'abc'" in x]
    tap.ok(len(complaints) == 1 and all(g["power_avg_mw"] == 700000 for g in sums[-1]["gpus"]),
           "a bad load file is reported once and the previous load is kept", d.log_tail(5))
    tap.ok(d.stop() == 0, "clean stop")


def summaries_after_stop(d):
    # the daemon is stopped: read the ledger's records file directly
    data = open(os.path.join(d.state_dir, "records"), "rb").read()
    return [ghtest.decode_record(r) for r in ghtest.split_frames(data)]


tap.run(main)
