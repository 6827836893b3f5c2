#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# gpuhoursd end to end: records every period, signed checkpoints, contiguous
# summary windows, proofs, and a clean restart that continues the same log.
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
MS = 1000000


def summaries(recs):
    return [r for r in recs if r["kind"] == "summary"]


def check_contiguous(sums):
    for a, b in zip(sums, sums[1:]):
        if a["obs_end_wall_ns"] != b["obs_start_wall_ns"] or a["obs_end_boot_ns"] != b["obs_start_boot_ns"]:
            return False, (a, b)
    return True, None


def main():
    tmp = ghtest.tmpdir("gh-basic-")
    d = ghtest.Daemon(tmp, gpus=2, period=1, interval=0.1, extra_args=["--origin", "test.example/basic"])
    d.set_load([50, 0])
    t0 = time.time()
    d.start()
    cp = d.wait_size(7, timeout=20)
    elapsed = time.time() - t0
    vkey = d.vkey()
    tap.ok(vkey.startswith("test.example/basic+"), "vkey names the origin", vkey)
    try:
        origin, size, root = ghtest.verify_checkpoint(cp["note"], vkey)
        tap.ok(origin == "test.example/basic" and size == cp["size"], "checkpoint verifies with the vkey")
    except Exception as e:  # noqa: BLE001
        tap.ok(False, "checkpoint verifies with the vkey", repr(e))
        root = None
    raw = d.records(0, cp["size"])
    leaves = [ghtest.leaf_hash(r) for r in raw]
    tap.ok(ghtest.merkle_root(leaves) == root, "root recomputed from /v1/records matches the checkpoint")
    recs = [ghtest.decode_record(r) for r in raw]
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot_id = f.read().strip().replace("-", "")
    tap.ok(recs[0]["kind"] == "start" and recs[0]["backend"] == "sim" and recs[0]["period_s"] == 1
           and recs[0]["sample_interval_us"] == 100000 and len(recs[0]["gpus"]) == 2,
           "first record is a start record with the config and 2 GPUs", recs[0])
    tap.ok(all(r["boot_id"] == boot_id for r in recs), "records carry the boot ID")
    g = recs[0]["gpus"]
    tap.ok(all(x["uuid"].startswith("GPU-") and len(x["uuid"]) == 40 and x["name"] == "gpuhours simulated H100"
               for x in g) and g[0]["uuid"] < g[1]["uuid"], "sim GPUs have UUIDs, sorted", g)

    # A few more periods to measure the rate.
    size0 = cp["size"]
    time.sleep(3.2)
    cp = d.checkpoint()
    tap.ok(3 <= cp["size"] - size0 <= 4, "about one record per period (%d in 3.2 s)" % (cp["size"] - size0))
    raw = d.records(0, cp["size"])
    recs = [ghtest.decode_record(r) for r in raw]
    sums = summaries(recs)
    ok, bad = check_contiguous(sums)
    tap.ok(ok, "summary windows are contiguous (end of one == start of next, both clocks)", bad)
    tap.ok(sums[0]["flags"] & 1 == 1, "first summary after start is partial")
    full = sums[1:]
    tap.ok(all(s["flags"] == 0 for s in full), "later summaries are full periods", [s["flags"] for s in full])
    late = [(s["obs_end_wall_ns"] - (s["period_start_ns"] + 1000 * MS)) / MS for s in full]
    tap.ok(all(0 <= x < 100 for x in late), "windows end within 100 ms after the UTC boundary (max %.1f ms)"
           % max(late), late)
    written = [(r["wall_ns"] - (r["period_start_ns"] + 1000 * MS)) / MS for r in full]
    tap.ok(all(0 <= x < 100 for x in written), "summaries are made within 100 ms of the boundary (max %.1f ms)"
           % max(written), written)
    tap.ok(all(s["period_start_ns"] % (1000 * MS) == 0 for s in sums), "periods are aligned to UTC seconds")
    tap.ok(all(abs(s["samples_taken"] - s["samples_expected"]) <= 1 and s["samples_expected"] == 10 for s in full),
           "full windows: 10 samples taken of 10 expected",
           [(s["samples_taken"], s["samples_expected"]) for s in full])
    errs = []
    for s in full:
        win_ms = (s["obs_end_boot_ns"] - s["obs_start_boot_ns"]) / MS
        busy = sorted(x["busy_ms"] / max(1, x["observed_ms"]) for x in s["gpus"])
        for x in s["gpus"]:
            if abs(x["observed_ms"] - win_ms) > 1:
                errs.append(("observed", x["observed_ms"], win_ms))
            if x["energy_end_mj"] - x["energy_start_mj"] != x["energy_used_mj"]:
                errs.append(("energy", x))
            # 60 W idle, 380 W at 50 %: energy used == avg power x time (1 %)
            if abs(x["energy_used_mj"] - x["power_avg_mw"] * x["observed_ms"] / 1000) > 0.01 * x["energy_used_mj"] + 2:
                errs.append(("power", x))
        if not (busy[0] == 0 and abs(busy[1] - 0.5) < 0.02):
            errs.append(("busy", busy))
    tap.ok(not errs, "per-GPU busy/observed/energy/power are consistent with the load", errs[:3])
    tap.ok(all(a["energy_end_mj"] == b["energy_start_mj"] for a, b in zip(sums, sums[1:]) for a, b in
               zip(a["gpus"], b["gpus"])), "energy counters continue from window to window")
    tap.ok(elapsed < 12, "ready and 7 records in %.1f s" % elapsed)

    # Inclusion proofs for random (index, size) pairs, verified independently.
    st, _, _ = d.get("/v1/proof/inclusion?index=0&size=1")
    if st == 404:
        tap.skip("inclusion proofs: /v1/proof/inclusion not served yet")
    else:
        bad = []
        for _ in range(15):
            n = random.randint(1, cp["size"])
            i = random.randrange(n)
            st, _, body = d.get("/v1/proof/inclusion?index=%d&size=%d" % (i, n))
            root_n = ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw[:n]])
            if st != 200 or not ghtest.verify_inclusion(i, n, ghtest.leaf_hash(raw[i]), ghtest.parse_proof(body), root_n):
                bad.append((i, n, st, body[:100]))
        tap.ok(not bad, "inclusion proofs verify for random (index, size)", bad)

    # Clean stop: final partial summary + stop record.
    old = d.checkpoint()
    rc = d.stop()
    tap.ok(rc == 0, "SIGTERM: exit 0", rc)
    d.start()
    new = d.wait_size(old["size"] + 3, timeout=20)
    raw2 = d.records(0, new["size"])
    recs2 = [ghtest.decode_record(r) for r in raw2]
    # records up to the old size may have grown by the final summary + stop record
    tap.ok(raw2[:old["size"]] == d.records(0, old["size"]) and raw2[:len(raw)] == raw,
           "restart keeps every earlier record byte for byte")
    kinds = [r["kind"] for r in recs2]
    si = max(i for i, k in enumerate(kinds) if k == "stop")
    tap.ok(kinds[si - 1] == "summary" and recs2[si - 1]["flags"] & 1 and recs2[si]["reason"] == "SIGTERM"
           and kinds[si + 1] == "start", "stop: partial summary, stop record (SIGTERM), then a new start",
           kinds)
    old_root = ghtest.verify_checkpoint(old["note"], vkey)[2]
    new_origin, new_size, new_root = ghtest.verify_checkpoint(new["note"], vkey)
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw2[:old["size"]]]) == old_root,
           "the old checkpoint root is the root of the first m records of the new log")
    st, _, body = d.get("/v1/proof/consistency?old=%d&new=%d" % (old["size"], new_size))
    if st == 404:
        tap.skip("consistency proof: /v1/proof/consistency not served yet")
    else:
        tap.ok(st == 200 and ghtest.verify_consistency(old["size"], new_size, old_root, new_root,
                                                       ghtest.parse_proof(body)),
               "consistency proof old -> new verifies", (st, body[:200]))
    rc = d.stop()
    tap.ok(rc == 0, "second stop: exit 0")
    tap.ok("<3>" not in d.log_text(), "no errors logged", d.log_tail())


tap.run(main)
