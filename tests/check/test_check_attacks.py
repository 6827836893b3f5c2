#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhours check on crafted, correctly signed ledgers (craft-check.c, fixed
seeds), judged by the real client.

1. Consistency: on random ledgers (gaps, in-window freezes, restarts,
   reboots with the wall clock set back or forward, wall clock steps,
   counter resets) the verified GPU-hours check uses (the lower bound of a
   cap over the whole interval) equal report's busy GPU-hours, check's
   per-GPU observed seconds equal verify's, its coverage equals report's
   coverage, and its upper bound is at least the busy time the simulated
   hardware really did.
2. An operator hiding work from a pause rule: gaps on the pause's edges, wall
   clock steps forward and back, the boot clock running backwards, a reboot
   with the wall clock set back, a GPU leaving the node's set and coming
   back, one UUID on two nodes, a GPU moving between nodes, a pause reaching
   into the future. None may PASS; each gets the verdict atk.txt names.
3. Ledgers that end 20 s before the test's clock (rb.txt): a reboot
   whose wall clock was set back by less than the boot clocks' slack, a
   busy window labelled just before the pause (UNKNOWN, naming that window;
   main's check said PASS), its honest control (PASS), and a wall clock an
   hour ahead (CLOCK_AHEAD)."""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "client"))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()
ISO = "%Y-%m-%dT%H:%M:%SZ"


def iso(sec):
    return time.strftime(ISO, time.gmtime(sec))


class W:
    pass


def setup():
    W.tmp = ghtest.tmpdir()
    W.dir = os.path.join(W.tmp, "craft")
    os.mkdir(W.dir)
    subprocess.run([sys.argv[1], W.dir], check=True, timeout=60)
    W.env = cltest.client_env(W.tmp)


def key(name):
    return open(os.path.join(W.dir, name + ".vkey")).read().strip()


def bundle(name):
    return os.path.join(W.dir, name + ".bundle")


def run_json(args):
    rc, out, err, _ = cltest.run(args, W.env, timeout=60)
    try:
        return rc, json.loads(out), out + err
    except ValueError:
        return rc, None, out + err


def test_consistency():
    names = sorted(f[:-7] for f in os.listdir(W.dir) if f.startswith("random-") and
                   f.endswith(".bundle"))
    tap.ok(len(names) >= 20, "%d random ledgers" % len(names))
    rules = os.path.join(W.tmp, "rules-consistency")
    with open(rules, "w") as f:
        f.write("cap gpu-hours 1000000\ncoverage 0\n")
    bad = []
    for name in names:
        k = key(name)
        rc, v, log = run_json(["verify", "--json", "--no-state", "--key", k, bundle(name)])
        src = v["sources"][0] if v else None
        if rc not in (0, 1) or not src:
            bad.append("%s: verify exit %d: %s" % (name, rc, log[-300:]))
            continue
        first = int(ghtest_time(src["first_time"])) - 60
        last = int(ghtest_time(src["last_time"])) + 60
        span = ["--since", iso(first), "--until", iso(last)]
        rc, v, log = run_json(["verify", "--json", "--no-state", "--key", k] + span + [bundle(name)])
        src = v["sources"][0]
        rc2, rep, log2 = run_json(["report", "--format", "json", "--no-state", "--key", k] + span +
                                  [bundle(name)])
        rc3, chk, log3 = run_json(["check", "--json", "--no-state", "--key", k, "--rules", rules] +
                                  span + [bundle(name)])
        if not rep or not chk or rc3 not in (0, 1):
            bad.append("%s: report exit %d, check exit %d: %s" % (name, rc2, rc3, log2 + log3))
            continue
        cap, cov = chk["rules"][0], chk["rules"][1]
        rep = rep["sources"][0]
        cgpus = {g["uuid"].strip("'"): g for g in chk["sources"][0]["evidence"]["gpus"]}
        vgpus = {g["uuid"]: g for g in src["gpus"]}
        truth = float(open(os.path.join(W.dir, name + ".truth")).read())
        problems = []
        if abs(cap["lower"] - rep["gpu_hours"]) > 1e-9 * max(1, rep["gpu_hours"]):
            problems.append("check verified %.9f GPU-h, report %.9f" % (cap["lower"],
                                                                     rep["gpu_hours"]))
        if abs(cap["lower"] - src["gpu_hours"]) > 1e-9 * max(1, src["gpu_hours"]):
            problems.append("check verified %.9f GPU-h, verify %.9f" % (cap["lower"],
                                                                     src["gpu_hours"]))
        if sorted(cgpus) != sorted(vgpus):
            problems.append("GPUs differ: %s vs %s" % (sorted(cgpus), sorted(vgpus)))
        for u in vgpus:
            if u in cgpus and (cgpus[u]["observed_seconds"] != vgpus[u]["observed_seconds"] or
                               cgpus[u]["unobserved_seconds"] != vgpus[u]["unobserved_seconds"]):
                problems.append("%s observed %s/%s vs verify %s/%s" % (
                    u, cgpus[u]["observed_seconds"], cgpus[u]["unobserved_seconds"],
                    vgpus[u]["observed_seconds"], vgpus[u]["unobserved_seconds"]))
        if abs(cov["lower"] - rep["coverage_pct"]) > 1e-6:
            problems.append("check coverage %.9f %%, report %.9f %%" % (cov["lower"],
                                                                     rep["coverage_pct"]))
        if cap["upper"] is not None and cap["upper"] * 3600 < truth - 1e-3:
            problems.append("upper %.3f GPU-s below the truth %.3f GPU-s" % (cap["upper"] * 3600,
                                                                          truth))
        if problems:
            bad.append("%s: %s" % (name, "; ".join(problems)))
    tap.ok(not bad, "check's verified GPU-hours, per-GPU observed time and coverage equal "
           "verify's and report's on %d random ledgers; upper bounds hold the truth" % len(names),
           diag="\n".join(bad))


def ghtest_time(s):
    # "2026-11-26T12:02:16.798Z"
    return time.mktime(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone


def test_attacks():
    rows = [line.split() for line in open(os.path.join(W.dir, "atk.txt")).read().splitlines()]
    tap.ok(len(rows) >= 10, "%d pause attacks" % len(rows))
    extra = {"atk-twonodes-a": "atk-twonodes-b", "atk-move-a": "atk-move-b"}
    for name, p0, p1, expect in rows:
        names = [name] + ([extra[name]] if name in extra else [])
        rules = os.path.join(W.tmp, "rules-" + name)
        with open(rules, "w") as f:
            f.write("pause %s %s\n" % (iso(int(p0)), iso(int(p1))))
        args = ["check", "--json", "--no-state", "--rules", rules]
        for n in names:
            args += ["--key", key(n)]
        rc, doc, log = run_json(args + [bundle(n) for n in names])
        verdict = doc["rules"][0]["verdict"] if doc else None
        want_rc = {"PASS": 0, "UNKNOWN": 1, "FAIL": 2}[expect]
        tap.ok(verdict == expect and rc == want_rc,
               "%s: pause %s .. %s is %s (exit %d), expected %s" % (
                   name, iso(int(p0)), iso(int(p1)), verdict, rc, expect),
               diag=log if verdict != expect else (doc["rules"][0]["why"] if doc else log))


def test_peaks():
    """cap flop on a model without a known peak (busy 300 GPU-s: hi infinite, UNKNOWN,
    never a pass from a zero peak), and on a name holding two table substrings
    ("H200 NVL" holds "H200": the NVL entry, listed first, is the one used)."""
    name = "cap-unknown-model"
    rules = os.path.join(W.tmp, "rules-" + name)
    with open(rules, "w") as f:
        f.write("cap flop 1\ncap gpu-hours 1\n")
    rc, doc, log = run_json(["check", "--json", "--no-state", "--rules", rules, "--key", key(name),
                             bundle(name)])
    r = doc["rules"] if doc else [{}, {}]
    tap.ok(rc == 1 and r[0].get("verdict") == "UNKNOWN" and r[0].get("upper") is None and
           r[0].get("lower") in (0, 0.0, None) and r[1].get("verdict") == "PASS" and
           abs(r[1].get("upper", 0) - 300 / 3600.0) < 1e-6,
           "cap flop, a model without a peak, busy 300 GPU-s: UNKNOWN, upper infinite; "
           "cap gpu-hours 1 PASS (exit %d)" % rc, diag=log[-2500:])
    name = "cap-two-peaks"
    busy = 300.0
    for peak, label in ((1.671e15, "H200 NVL"), (1.979e15, "H200")):
        with open(rules, "w") as f:
            f.write("cap flop %.9g\n" % (busy * peak * 0.999))
        rc, doc, log = run_json(["check", "--json", "--no-state", "--rules", rules, "--key",
                                 key(name), bundle(name)])
        v = doc["rules"][0]["verdict"] if doc else None
        want = "FAIL" if label == "H200 NVL" else "PASS"
        tap.ok(v == want, "cap flop just under %s peak x 300 s on 'NVIDIA H200 NVL': %s (got %s)"
               % (label, want, v), diag=log[-1500:])


def test_reboot_slack():
    # crafted now, judged within seconds: the audit's time bounds the labels (20 s after the end)
    subprocess.run([sys.argv[1], W.dir, str(int(time.time()))], check=True, timeout=60)
    rows = [line.split() for line in open(os.path.join(W.dir, "rb.txt")).read().splitlines()]
    tap.ok(len(rows) == 2, "%d repay-capacity ledgers" % len(rows))
    for name, p0, p1, expect, _before in rows:
        rules = os.path.join(W.tmp, "rules-" + name)
        with open(rules, "w") as f:
            f.write("pause %s %s\n" % (iso(int(p0)), iso(int(p1))))
        rc, doc, log = run_json(["check", "--json", "--no-state", "--rules", rules, "--key",
                                 key(name), bundle(name)])
        r = doc["rules"][0] if doc else {}
        want_rc = {"PASS": 0, "UNKNOWN": 1}[expect]
        tap.ok(r.get("verdict") == expect and rc == want_rc,
               "%s: pause %s .. %s is %s (exit %d), expected %s" % (
                   name, iso(int(p0)), iso(int(p1)), r.get("verdict"), rc, expect),
               diag=log[-2500:])
        if name == "rb-reboot-slack":
            # the busy window really ran at the pause's start; it is labelled 100 s early,
            # i.e. [p0 - 100 s, p0 - 40 s)
            lab = "window labelled %s .. %s, 60 s busy" % (iso(int(p0) - 100), iso(int(p0) - 40))
            tap.ok(lab.replace("Z", "") in r.get("why", "").replace(".000Z", "").replace("Z", ""),
                   "the UNKNOWN names the busy window (%s)" % lab, diag=r.get("why"))
            gp = doc["sources"][0]["evidence"]["gpus"][0]["unobserved"]
            win = [p for p in gp if p["source"] == "window" and not p["exact"]]
            tap.ok(win and all(not p["exact"] for p in win),
                   "its windows are inexact in check --json (placed by the repay capacity)",
                   diag=gp)
    name = "rb-ahead"
    rules = os.path.join(W.tmp, "rules-ahead")
    with open(rules, "w") as f:
        f.write("coverage 0\n")
    rc, doc, log = run_json(["check", "--json", "--no-state", "--rules", rules, "--key", key(name),
                             bundle(name)])
    fs = [f for f in (doc or {}).get("findings", []) if f["kind"] == "CLOCK_AHEAD"]
    tap.ok(rc == 0 and len(fs) == 1 and fs[0]["severity"] == "warning" and
           3000 < fs[0]["step_seconds"] < 3600,
           "a wall clock an hour ahead: one CLOCK_AHEAD warning (%s s ahead)" %
           (fs[0]["step_seconds"] if fs else None), diag=log[-1500:])
    rc, out, err, _ = cltest.run(["check", "--no-state", "--rules", rules, "--key", key(name),
                                  bundle(name)], W.env, timeout=60)
    tap.ok("warning CLOCK_AHEAD" in out, "the text output names it", diag=out + err)


tap.run(setup, test_consistency, test_attacks, test_peaks, test_reboot_slack)
