#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The real client on crafted, correctly signed ledgers (tests/analyze/
craft-ledgers.c, fixed seed): every plausibility rule of proto/ANALYSIS.md
section 7 is an integrity failure (exit 2), the plausible control verifies
(exit 0), each attack class is flagged with its bound; and on every bundle
verify --json and report --json (--by hour and --by gpu) agree."""

import json
import os
import subprocess
import sys

import cltest
import ghtest

tap = ghtest.Tap()


def main():
    craft = sys.argv[1]
    tmp = ghtest.tmpdir()
    subprocess.run([craft, tmp], check=True, timeout=60)
    env = cltest.client_env(tmp)
    key = open(os.path.join(tmp, "craft.vkey")).read().strip()
    key2 = open(os.path.join(tmp, "craft2.vkey")).read().strip()

    def verify(name):
        rc, out, err, _ = cltest.run(["verify", "--json", "--no-state", "--key", key,
                                      os.path.join(tmp, name + ".bundle")], env)
        try:
            src = json.loads(out)["sources"][0]
        except (ValueError, KeyError, IndexError):
            src = None
        return rc, src, out + err

    def kinds(src, kind):
        return [f for f in src["findings"] if f["kind"] == kind]

    # The plausible control.
    rc, src, log = verify("control")
    tap.ok(rc == 0 and src and src["status"] == "ok" and src["unobserved_seconds"] == 0 and
           src["hidden_gpu_seconds"] == 0 and not src["findings"],
           "plausible control verifies: exit 0, no findings", diag=log)

    # One ledger per plausibility rule: IMPLAUSIBLE, exit 2, and the reason.
    rules = {
        "b1-no-start": "does not begin with a start record",
        "b2-boot-backwards": "boot clock ran backwards",
        "b2-overlap": "boot clock ran backwards",
        "b3-busy": "busy 90000 ms but observed 60000 ms",
        "b3-observed": "observed 120000 ms in a 60.000 s window",
        "b3-occupied": "occupied 61000 ms but observed 60000 ms",
        "b4-power": "average power 700000 mW above the maximum 300000 mW",
        "b5-energy": "more than the maximum power",
        "b6-omits": "summary omits GPU",
        "b6-unknown": "that no start or inventory record names",
        "b7-gap-energy": "needs more than full load",
    }
    for name, why in rules.items():
        rc, src, log = verify(name)
        imp = kinds(src, "IMPLAUSIBLE") if src else []
        tap.ok(rc == 2 and src["status"] == "failed" and
               any(why in f["detail"] and f["severity"] == "error" for f in imp) and
               src["error"].startswith("IMPLAUSIBLE: "),
               "%s: IMPLAUSIBLE (%s), exit 2" % (name, why), diag=log)

    # Attack 1 (old daemon, frozen 30 s inside a window at full load on 2 GPUs).
    rc, src, log = verify("a1-freeze")
    gaps = kinds(src, "TIME_GAP") if src else []
    tap.ok(rc == 1 and len(gaps) == 1 and gaps[0]["source"] == "in_window" and
           gaps[0]["seconds"] == 30.0 and abs(gaps[0]["gpu_seconds"] - 60.0) < 0.01 and
           "energy_joules" in gaps[0] and src["unobserved_seconds"] == 30.0 and
           all(g["unobserved_seconds"] == 30.0 for g in src["gpus"]),
           "frozen daemon inside a window: 30 s in_window TIME_GAP, <= 60 GPU-s from energy",
           diag=log)
    tap.ok(rc == 1 and kinds(src, "ENERGY_UNACCOUNTED"),
           "frozen daemon: ENERGY_UNACCOUNTED beside the gap", diag=log)

    # Attack 3: reboot with the wall clock set back (wall 5 s, new boot up 100 s).
    rc, src, log = verify("a3-reboot-wall-back")
    gaps = kinds(src, "TIME_GAP") if src else []
    steps = kinds(src, "CLOCK_STEP") if src else []
    tap.ok(rc == 1 and len(gaps) == 1 and gaps[0]["source"] == "reboot" and
           gaps[0]["seconds"] == 100.0 and gaps[0]["gpu_seconds"] == 200.0 and
           len(steps) == 1 and steps[0]["step_seconds"] == -95.0,
           "reboot with the wall clock set back: gap >= the new boot's uptime, step -95 s",
           diag=log)

    # Attack 4: +0.9 s per window, each below the tolerance.
    rc, src, log = verify("a4-drift")
    steps = kinds(src, "CLOCK_STEP") if src else []
    tap.ok(rc == 1 and len(steps) >= 2 and all(s["step_seconds"] > 1.0 for s in steps),
           "small drifts accumulate into CLOCK_STEP findings", diag=log)
    tap.ok(src and abs(src["observed_seconds"] + src["unobserved_seconds"] +
                       src["step_seconds"] - 364.5) < 1e-9,
           "observed + unobserved + steps = wall span", diag=log)

    # Attack 5: crash loop (STARTs only) and a disk-full gap at full load.
    rc, src, log = verify("a5-crash-loop")
    gaps = kinds(src, "TIME_GAP") if src else []
    tap.ok(rc == 1 and len(gaps) == 1 and gaps[0]["source"] == "after_last" and
           gaps[0]["seconds"] == 80.0 and gaps[0]["gpu_seconds"] == 160.0,
           "crash loop: the tail up to the last START is an 80 s gap, worst case 160 GPU-s",
           diag=log)
    rc, src, log = verify("a5-enospc")
    gaps = kinds(src, "TIME_GAP") if src else []
    eu = kinds(src, "ENERGY_UNACCOUNTED") if src else []
    tap.ok(rc == 1 and len(gaps) == 1 and gaps[0]["seconds"] == 120.0 and
           abs(gaps[0]["gpu_seconds"] - 240.0) < 0.01 and len(eu) == 1 and
           abs(eu[0]["energy_joules"] - 153600.0) < 1,
           "disk-full gap at full load: ENERGY_UNACCOUNTED, 240 GPU-s bound from energy",
           diag=log)

    # A source that failed (IMPLAUSIBLE keeps its analysis) is never reported nor
    # summed: not in the table, buckets null in JSON, outside the fleet total.
    # The good source is of another origin: two crafted ledgers of one origin
    # are two histories, a FORK on both (tested below).
    bad, good = os.path.join(tmp, "b3-busy.bundle"), os.path.join(tmp, "control-other.bundle")
    rc, out, err, _ = cltest.run(["report", "--quiet", "--no-state", "--key", key, "--key", key2,
                                  bad, good], env)
    tap.ok(rc == 2 and "b3-busy" not in out and "# total (1 source)" in out and
           "b3-busy.bundle: not verified, nothing reported" in err,
           "report: the IMPLAUSIBLE source is not in the table nor its total (exit %d)" % rc,
           diag=out + err)
    rc, out, err, _ = cltest.run(["report", "--quiet", "--format", "json", "--no-state", "--key",
                                  key, "--key", key2, bad, good], env)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    srcs = doc["sources"] if doc else []
    tap.ok(rc == 2 and len(srcs) == 2 and srcs[0]["status"] == "failed" and
           srcs[0]["buckets"] is None and srcs[0]["gpu_hours"] is not None and
           srcs[0]["error"].startswith("IMPLAUSIBLE") and isinstance(srcs[1]["buckets"], list) and
           doc["total"]["sources"] == 1 and doc["total"]["unreported_sources"] == 1 and
           doc["total"]["gpu_hours"] == srcs[1]["gpu_hours"],
           "report --format json: the IMPLAUSIBLE source is present, unreported, not summed",
           diag=out + err)
    # Two ledgers of one origin that are not one history: FORK on both, nothing summed.
    rc, out, err, _ = cltest.run(["report", "--quiet", "--no-state", "--key", key,
                                  os.path.join(tmp, "control.bundle"), bad], env)
    tap.ok(rc == 2 and "# total (0 sources)" in out and "FORK" in err,
           "report: two crafted ledgers of one origin are a FORK, nothing summed (exit %d)" % rc,
           diag=out + err)

    # verify and report agree, on every bundle that verifies (report prints
    # nothing from a source that failed).
    for name in ["control", "a1-freeze", "a3-reboot-wall-back", "a4-drift", "a5-crash-loop",
                 "a5-enospc"]:
        rc, src, log = verify(name)
        path = os.path.join(tmp, name + ".bundle")
        docs = {}
        for by in ("hour", "gpu"):
            r2, out, err, _ = cltest.run(["report", "--format", "json", "--no-state", "--key",
                                          key, "--by", by, path], env)
            try:
                docs[by] = json.loads(out)["sources"][0]
            except (ValueError, KeyError, IndexError):
                docs[by] = None
                log += out + err
        h, g = docs["hour"], docs["gpu"]
        ok = src is not None and h is not None and g is not None
        if ok:
            # the same source object in both documents, report adding only "buckets"
            ok = {k: v for k, v in h.items() if k != "buckets"} == src and \
                {k: v for k, v in g.items() if k != "buckets"} == src
            ok = (abs(h["observed_seconds"] - src["observed_seconds"]) < 1e-9 and
                  abs(h["unobserved_seconds"] - src["unobserved_seconds"]) < 1e-9 and
                  abs(h["gap_seconds"] - src["gap_seconds"]) < 1e-9 and
                  abs(h["hidden_gpu_seconds"] - src["hidden_gpu_seconds"]) < 1e-9 and
                  h["first_time"] == src["first_time"] and h["last_time"] == src["last_time"])
            bsum_o = sum(b["observed_seconds"] for b in h["buckets"])
            bsum_u = sum(b["unobserved_seconds"] for b in h["buckets"])
            ok = ok and abs(bsum_o - src["observed_seconds"]) < 2e-3 and \
                abs(bsum_u - src["unobserved_seconds"]) < 2e-3
            rows = {b["gpu"]: b for b in g["buckets"]}
            for gpu in src["gpus"]:
                b = rows.get(gpu["uuid"])
                ok = ok and b is not None and \
                    b["unobserved_seconds"] == gpu["unobserved_seconds"] and \
                    b["observed_seconds"] == gpu["observed_seconds"] and \
                    abs(b["hidden_gpu_seconds"] - gpu["hidden_gpu_seconds"]) < 1e-9 and \
                    gpu["observed_seconds"] + gpu["unobserved_seconds"] == \
                    src["interval_seconds"]
        tap.ok(ok, "%s: verify and report (by hour, by gpu) agree" % name,
               diag=log + json.dumps(docs)[:3000])


tap.run(main)
