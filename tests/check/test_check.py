#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhours check against real daemons (sim) on 127.0.0.1 with known loads and
known outages: node A (2 GPUs) and node B (1 GPU), period 1 s.

  phase 1  A [100, 0] %, B [100] %            ~3 s: two GPUs busy on two nodes
  phase 2  everything idle                    ~2 s
  phase 3  B stopped ~3 s while idle          (gap whose energy proves idle)
  phase 4  A stopped ~6.5 s, 6 s of it at 100 % on both (gap whose energy shows activity)
  phase 5  idle                               ~3 s

The evidence is fetched as bundles (gpuhours fetch --fleet) and judged over
whole seconds inside it, so every expected number is computed here by hand
from the records (an independent decoder, tests/lib/ghtest.py)."""

import calendar
import datetime
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "client"))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()
PEAK_H100 = 1979e12  # the table's H100 SXM figure; the sim's GPUs are named "... H100"


def iso(ns):
    return datetime.datetime.fromtimestamp(ns // 10**9, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def ceil_s(ns):
    return (ns + 10**9 - 1) // 10**9 * 10**9


def floor_s(ns):
    return ns // 10**9 * 10**9


def summaries(d):
    cp = d.checkpoint()
    recs = [ghtest.decode_record(b) for b in d.records(0, cp["size"])]
    return [r for r in recs if r["kind"] == "summary"]


def gap_after_restart(sums, t_stop):
    """(end of the last window before t_stop, start of the first window after)."""
    before = [s for s in sums if s["obs_end_wall_ns"] <= t_stop]
    after = [s for s in sums if s["obs_start_wall_ns"] >= t_stop]
    return before[-1]["obs_end_wall_ns"], after[0]["obs_start_wall_ns"]


class World:
    pass


W = World()


def check(args, timeout=120):
    rc, out, err, _ = cltest.run(["check", "--no-state"] + W.keys + args, W.env, timeout=timeout)
    return rc, out, err


def check_json(rules_text, extra=None, sources=None, name="rules"):
    path = os.path.join(W.tmp, name)
    with open(path, "w") as f:
        f.write(rules_text)
    args = ["--rules", path, "--json", "--since", iso(W.since), "--until", iso(W.until)]
    rc, out, err = check(args + (extra or []) + (sources if sources is not None else W.bundles))
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return rc, doc, out + err


def setup():
    W.tmp = tempfile.mkdtemp(prefix="gh-check-")
    W.env = cltest.client_env(W.tmp)
    W.a = ghtest.Daemon(os.path.join(W.tmp, "a"), gpus=2, period=1, interval=0.1,
                        extra_args=["--origin", "a.test/gpuhours"])
    W.b = ghtest.Daemon(os.path.join(W.tmp, "b"), gpus=1, period=1, interval=0.1,
                        extra_args=["--origin", "b.test/gpuhours"])
    W.a.set_load([100, 0])
    W.b.set_load([100])
    W.a.start()
    W.b.start()
    W.keys = ["--key", W.a.vkey(), "--key", W.b.vkey()]
    W.a.wait_size(3)
    W.b.wait_size(3)
    time.sleep(3.2)
    W.a.set_load([0, 0])
    W.b.set_load([0])
    # B idles 8 s before its outage: more than check's repay capacity of its windows
    # (ANALYSIS.md 10: the time from the bundle's last record to the judging, plus
    # 2 tol_step), so that its busy windows cannot reach into a pause over the outage.
    time.sleep(8)
    W.b.stop()
    W.b_stop = time.time_ns()
    time.sleep(3)
    W.b.start()
    time.sleep(2)
    W.a.stop()
    W.a_stop = time.time_ns()
    # The sim's schedule: both GPUs run at 100 % for exactly 6 s while nobody observes
    # them, then idle again before the daemon restarts.
    t100 = time.time() + 0.2
    with open(os.path.join(W.a.sim_dir, "schedule"), "a") as f:
        f.write("%.3f 100 100\n%.3f 0 0\n" % (t100, t100 + 6.0))
    W.a_truth = 2 * 6.0
    time.sleep(6.6)
    W.a.start()
    time.sleep(3.5)
    W.fleet = os.path.join(W.tmp, "fleet")
    with open(W.fleet, "w") as f:
        f.write("# the two nodes\n%s %s\n%s %s  # node b\n" % (W.a.url, W.a.vkey(), W.b.url,
                                                                 W.b.vkey()))
    W.sa, W.sb = summaries(W.a), summaries(W.b)
    # Judge whole seconds: from the second full window of the later node to the end of the
    # earlier node's last window.
    W.since = ceil_s(max(W.sa[1]["obs_start_wall_ns"], W.sb[1]["obs_start_wall_ns"]))
    W.until = floor_s(min(W.sa[-1]["obs_end_wall_ns"], W.sb[-1]["obs_end_wall_ns"]))
    W.gap_b = gap_after_restart(W.sb, W.b_stop)
    W.gap_a = gap_after_restart(W.sa, W.a_stop)
    outdir = os.path.join(W.tmp, "bundles")
    os.mkdir(outdir)
    rc, out, err, _ = cltest.run(["fetch", "--no-state", "--fleet", W.fleet, "-o", outdir], W.env)
    W.bundles = sorted(os.path.join(outdir, x) for x in os.listdir(outdir))
    tap.ok(rc in (0, 1) and len(W.bundles) == 2, "fetch --fleet wrote both bundles (exit %d)" % rc,
           diag=out + err)
    for d in (W.a, W.b):
        d.stop()
    # Busy seconds by hand: every window inside [since, until).
    W.busy = 0.0
    for sums in (W.sa, W.sb):
        for s in sums:
            if s["obs_start_wall_ns"] >= W.since and s["obs_end_wall_ns"] <= W.until:
                W.busy += sum(g["busy_ms"] for g in s["gpus"]) / 1000.0
    tap.diag("since %s until %s; gap B %.2f s, gap A %.2f s, busy %.2f s" % (
        iso(W.since), iso(W.until), (W.gap_b[1] - W.gap_b[0]) / 1e9,
        (W.gap_a[1] - W.gap_a[0]) / 1e9, W.busy))


def rules_by_line(doc):
    return {r["line"]: r for r in doc["rules"]} if doc else {}


def test_pause():
    gb0, gb1 = ceil_s(W.gap_b[0]), floor_s(W.gap_b[1])
    ga0, ga1 = ceil_s(W.gap_a[0]), floor_s(W.gap_a[1])
    busy_win = [s for s in W.sa if s["gpus"][0]["busy_ms"] >= 900 or s["gpus"][1]["busy_ms"] >= 900]
    busy_win = [s for s in busy_win if s["obs_start_wall_ns"] >= W.since]
    p0 = ceil_s(busy_win[0]["obs_start_wall_ns"])
    text = ("pause %s %s\n" % (iso(gb0), iso(gb1)) +           # 1: B down, idle energy: PASS
            "pause %s %s\n" % (iso(ga0), iso(ga1)) +           # 2: A down at 100 %: UNKNOWN
            "pause %s %s\n" % (iso(p0), iso(p0 + 10**9)) +     # 3: A busy, observed: FAIL
            "pause %s 2099-01-01 max-busy 50%%\n" % iso(W.until - 10**9))  # 4: future: UNKNOWN
    rc, doc, out = check_json(text)
    r = rules_by_line(doc)
    tap.ok(r.get(1, {}).get("verdict") == "PASS" and r[1]["upper"] <= 1.0,
           "pause across B's outage: the gap's energy proves idle: PASS", diag=[r.get(1), doc and [s["evidence"]["gpus"] for s in doc["sources"] if s["origin"] == "b.test/gpuhours"]])
    tap.ok(r.get(2, {}).get("verdict") == "UNKNOWN" and r[2]["upper"] > 50,
           "pause across A's outage at full load: energy shows activity: UNKNOWN",
           diag=r.get(2))
    # The hidden bound of A's whole outage against the simulated truth: the time both GPUs
    # ran at 100 % while A was down.
    truth = W.a_truth
    pieces = [p for s in (doc or {}).get("sources", []) if s["origin"] == "a.test/gpuhours"
              for g in s["evidence"]["gpus"] for p in g["unobserved"] if p["bound"] == "energy"]
    hid = sum(p["hidden_gpu_seconds"] for p in pieces)
    tap.ok(len(pieces) == 2 and abs(hid - truth) <= 0.15 * truth,
           "hidden busy in A's outage %.2f GPU-s (from energy) vs simulated %.2f (within 15 %%)"
           % (hid, truth), diag=pieces)
    tap.ok(r.get(3, {}).get("verdict") == "FAIL" and r[3]["lower"] >= 90,
           "pause while a GPU was verified busy: FAIL (lower %.1f %%)" % r.get(3, {}).get("lower", -1))
    tap.ok(r.get(4, {}).get("verdict") == "UNKNOWN" and "future" in r[4]["why"],
           "pause reaching into the future: UNKNOWN, not PASS", diag=r.get(4))
    tap.ok(rc == 2, "exit 2 when some rule FAILs (got %d)" % rc)
    # The text names the part of a window no record can cover (here: after --until).
    path = os.path.join(W.tmp, "rules-future")
    with open(path, "w") as f:
        f.write("pause %s 2099-01-01 max-busy 50%%\n" % iso(W.until - 10**9))
    rc4, out4, err4 = check(["--rules", path, "--since", iso(W.since), "--until", iso(W.until)]
                            + W.bundles)
    after = (calendar.timegm((2099, 1, 1, 0, 0, 0)) * 10**9 - W.until) / 1e9
    want = "and %.3f s of the window lie outside the audited interval (0.000 s before it, " \
           "%.3f s after it): no evidence there" % (after, after)
    tap.ok(rc4 == 1 and want in out4, "text: UNKNOWN says how much of the window has no "
           "evidence (%s)" % want, diag=(out4 + err4)[-1500:])
    # The same evidence with the energy-idle gap only: PASS alone exits 0.
    rc, doc, out = check_json("pause %s %s\n" % (iso(gb0), iso(gb1)), name="rules-pass")
    tap.ok(rc == 0 and doc and doc["verdict"] == "PASS", "a PASS-only rules file exits 0 (%d)" % rc,
           diag=out[-1500:])
    rc, doc, out = check_json("pause %s %s\n" % (iso(ga0), iso(ga1)), name="rules-unknown")
    tap.ok(rc == 1 and doc and doc["verdict"] == "UNKNOWN", "an UNKNOWN-only file exits 1 (%d)" % rc)


def test_caps():
    X = W.busy
    hours = X / 3600
    text = ("cap gpu-hours %.9g\n" % (hours * 0.5) +             # 1 FAIL
            "cap gpu-hours %.9g\n" % (hours * 1000) +            # 2 PASS
            "cap gpu-hours %.9g\n" % ((X + 1.0) / 3600) +        # 3 UNKNOWN (A's gap could hide ~12 s)
            "cap flop %.9g\n" % (X * PEAK_H100 * 0.5) +          # 4 FAIL
            "cap flop 1e25\n" +                                  # 5 PASS
            "cap flop %.9g\n" % ((X + 1.0) * PEAK_H100) +        # 6 UNKNOWN
            # 7, 8: a calendar period only partly audited (the ledger covers seconds of
            # the day and month) has an unknown total, however large the cap
            "cap gpu-hours %.9g per day\n" % (hours * 1000) +    # 7 UNKNOWN
            "cap flop 1e25 per month\n")                         # 8 UNKNOWN
    rc, doc, out = check_json(text, name="rules-caps")
    r = rules_by_line(doc)
    tap.ok([r.get(i, {}).get("verdict") for i in range(1, 9)] ==
           ["FAIL", "PASS", "UNKNOWN", "FAIL", "PASS", "UNKNOWN", "UNKNOWN", "UNKNOWN"] and
           all(r.get(i, {}).get("upper") is None for i in (7, 8)),
           "cap gpu-hours and cap flop: FAIL, PASS, UNKNOWN each; a partly audited day or "
           "month is UNKNOWN (upper unbounded)",
           diag=[(x["rule"], x["verdict"], x["lower"], x["upper"]) for x in doc["rules"]] if doc else out)
    lo = r.get(4, {}).get("lower") or 0
    tap.ok(abs(lo - X * PEAK_H100) <= 0.005 * X * PEAK_H100,
           "FLOP lower bound %.4e = busy %.3f s x peak %.4g by hand" % (lo, X, PEAK_H100))
    up = r.get(4, {}).get("upper") or 0
    unobs = r.get(4, {}).get("unobserved_gpu_seconds", 0)
    tap.ok(lo <= up <= (X + unobs) * PEAK_H100 * 1.0001,
           "FLOP upper bound within busy + unobserved GPU-seconds x peak")
    tap.ok(r.get(5, {}).get("upper_fraction_of_1e25") is not None and
           abs(r[5]["upper_fraction_of_1e25"] * 1e25 - r[5]["upper"]) < 1e-6 * r[5]["upper"],
           "FLOP reported as a fraction of 1e25 and 1e26")
    rc, doc, out = check_json("peak simulated 1e12\ncap flop %.9g\n" % (X * 1e12 * 0.5),
                              name="rules-peak")
    r = rules_by_line(doc)
    tap.ok(r.get(2, {}).get("verdict") == "FAIL" and
           abs(r[2]["lower"] - X * 1e12) <= 0.005 * X * 1e12,
           "a peak line overrides the table (lower %.4e)" % (r.get(2, {}).get("lower") or 0))
    rc, out, err = check(["--rules", os.path.join(W.tmp, "rules-caps"), "--since", iso(W.since),
                          "--until", iso(W.until)] + W.bundles)
    tap.ok(rc == 2 and "cap flop 1e25 " in out and "of 1e25" in out and
           "evidence that decided" in out, "text output: one line per rule, then the evidence",
           diag=out + err)
    tap.diag("text output:\n" + out)


def test_concurrency_coverage():
    text = ("concurrency 1 for 1s\n"     # 1 FAIL: A GPU0 and B GPU0 busy together ~3 s
            "concurrency 2 for 1s\n"     # 2 PASS
            "concurrency 1 for 4s\n"     # 3 UNKNOWN: both A GPUs could be busy in A's 6 s gap
            "coverage 50\n"              # 4 PASS
            "coverage 99.5\n")           # 5 FAIL
    rc, doc, out = check_json(text)
    r = rules_by_line(doc)
    tap.ok([r.get(i, {}).get("verdict") for i in range(1, 6)] ==
           ["FAIL", "PASS", "UNKNOWN", "PASS", "FAIL"],
           "concurrency across two nodes and coverage: FAIL, PASS, UNKNOWN, PASS, FAIL",
           diag=[(x["rule"], x["verdict"], x["lower"], x["upper"], x["why"])
                 for x in doc["rules"]] if doc else out)
    # Coverage by hand: observed = interval x GPUs - the two outages.
    span = (W.until - W.since) / 1e9
    gaps = (W.gap_b[1] - W.gap_b[0]) / 1e9 + 2 * (W.gap_a[1] - W.gap_a[0]) / 1e9
    want = 100 * (3 * span - gaps) / (3 * span)
    got = r.get(4, {}).get("lower", -1)
    tap.ok(abs(got - want) < 1.5, "coverage %.2f %% vs %.2f %% by hand" % (got, want))
    # A node that gives no evidence: coverage can only be UNKNOWN.
    dead = "http://127.0.0.1:%d" % ghtest.free_port()
    rc, doc, out = check_json("coverage 50\n", extra=["--timeout", "5"],
                              sources=W.bundles + [dead], name="rules-dead")
    r = rules_by_line(doc)
    tap.ok(rc == 1 and r.get(1, {}).get("verdict") == "UNKNOWN" and
           any(s["evidence"]["state"] == "missing" and s["status"] == "error"
               for s in doc["sources"]),
           "an unreachable node makes coverage UNKNOWN, exit 1 (got %d)" % rc, diag=out[-2000:])


def test_fleet_and_conflicts():
    rules = os.path.join(W.tmp, "rules-cov")
    with open(rules, "w") as f:
        f.write("coverage 10\n")
    # Swapped keys: each node serves an origin the fleet file does not pin for it.
    bad = os.path.join(W.tmp, "fleet-swapped")
    with open(bad, "w") as f:
        f.write("%s %s\n%s %s\n" % (W.a.url, W.b.vkey(), W.b.url, W.a.vkey()))
    W.a.start()
    W.b.start()
    W.a.wait_size(len(W.sa) + 3)
    rc, out, err = check(["--rules", rules, "--fleet", bad])
    tap.ok(rc == 2 and "FAIL" in out and "pins origin" in out,
           "fleet file: a node serving another origin FAILs (exit %d)" % rc, diag=out + err)
    rc, out, err = check(["--rules", rules, "--fleet", W.fleet])
    tap.ok(rc in (0, 1) and "coverage 10" in out, "check --fleet over live nodes (exit %d)" % rc,
           diag=out + err)
    # A gap without a continuous counter: B's energy state is lost while it is down (its
    # counter starts again at 0): the pause over that gap is UNKNOWN, never PASS.
    W.b.stop()
    t_stop = time.time_ns()
    os.unlink(os.path.join(W.b.sim_dir, "energy"))
    time.sleep(2.5)
    W.b.start()
    n0 = W.b.checkpoint()["size"]
    W.b.wait_size(n0 + 2)
    g0, g1 = gap_after_restart(summaries(W.b), t_stop)
    rules_nc = os.path.join(W.tmp, "rules-no-counter")
    with open(rules_nc, "w") as f:
        f.write("pause %s %s\n" % (iso(ceil_s(g0)), iso(floor_s(g1))))
    rc, out, err = check(["--rules", rules_nc, "--json", W.b.url])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    bounds = [p["bound"] for s in (doc or {}).get("sources", []) for g in s["evidence"]["gpus"]
              for p in g["unobserved"] if p["start"] < iso(floor_s(g1)) and
              p["end"] > iso(ceil_s(g0))]
    tap.ok(rc == 1 and doc["rules"][0]["verdict"] == "UNKNOWN" and "no-counter" in bounds,
           "pause over a gap without a continuous energy counter: UNKNOWN (exit %d)" % rc,
           diag=json.dumps((doc or {}).get("rules"), indent=1) + "\n" + err[-1500:])
    # One GPU on two nodes at once: node C cloned from A's sim seed.
    cdir = os.path.join(W.tmp, "c")
    os.makedirs(os.path.join(cdir, "sim"))
    shutil.copy(os.path.join(W.a.sim_dir, "seed"), os.path.join(cdir, "sim", "seed"))
    c = ghtest.Daemon(cdir, gpus=2, period=1, interval=0.1, extra_args=["--origin", "c.test/gpuhours"])
    c.start()
    c.wait_size(3)
    rc, out, err = check(["--rules", rules, "--key", c.vkey(), "--fleet", W.fleet, c.url])
    tap.ok(rc == 2 and "GPU_ON_TWO_NODES" in out, "a GPU UUID on two nodes at once: FAIL (exit %d)"
           % rc, diag=out + err)
    rc, out, err = check(["--rules", rules, "--json", "--key", c.vkey(), "--fleet", W.fleet,
                          c.url])
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    cf = [f for f in (doc or {}).get("findings", []) if f.get("kind") == "GPU_ON_TWO_NODES"]
    tap.ok(rc == 2 and doc and doc["schema"] == "gpuhours/1" and cf and
           all(f["severity"] == "error" and c.url in f["sources"] and len(f["gpus"]) == 1 and
               f["start"].endswith("Z") for f in cf),
           "--json: the GPU on two nodes is a fleet finding naming both sources", diag=out[-2500:])
    for d in (W.a, W.b, c):
        d.stop()


def test_rules_errors():
    cases = [
        ("pause 2026-11-01\n", ":1: missing FROM and TO"),
        ("# ok\ncap gpu-hours lots\n", ":2: cap N 'lots'"),
        ("coverage 101\n", ":1: coverage '101'"),
        ("concurrency 2 for 5y\n", ":1: for '5y'"),
        ("cap flop 1e25 per year\n", ":1: per 'year'"),
        ("pausee 2026-11-01 2026-11-02\n", ":1: unknown rule 'pausee'"),
        ("pause 2026-11-02 2026-11-01\n", ":1: pause: FROM must be before TO"),
        ("peak H100 1e15\n", "no rule to check"),
        ("coverage 50\n" + "x" * 2000 + "\n", ":2: line longer than"),
        ("coverage 50 \x01\n", ":1: control character"),
    ]
    for i, (text, want) in enumerate(cases):
        path = os.path.join(W.tmp, "bad%d.rules" % i)
        with open(path, "w") as f:
            f.write(text)
        rc, out, err = check(["--rules", path] + W.bundles)
        lines = err.strip().splitlines()
        tap.ok(rc == 3 and len(lines) == 1 and want in lines[0] and path in lines[0] and out == "",
               "rules error %r: exit 3, one line with file:line" % want, diag=(rc, err))


def test_html_metrics():
    rules = os.path.join(W.tmp, "rules-caps")  # from test_caps
    html = os.path.join(W.tmp, "check.html")
    prom = os.path.join(W.tmp, "check.prom")
    rc, out, err = check(["--rules", rules, "--html", html, "--metrics", prom, "--since",
                          iso(W.since), "--until", iso(W.until)] + W.bundles)
    page = open(html).read() if os.path.exists(html) else ""
    tap.ok(rc == 2 and "<svg" in page and "<script" not in page.lower() and
           "http://" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "") and
           "https://" not in page, "--html: a self-contained page (no script, no URL)",
           diag=err)
    metrics = open(prom).read() if os.path.exists(prom) else ""
    tap.ok('gpuhours_check_verdict{line="1",kind="cap gpu-hours"' in metrics and
           "gpuhours_check_evidence_age_seconds" in metrics and
           "gpuhours_check_exit_code 2" in metrics, "--metrics: verdicts, bounds and evidence age",
           diag=metrics[:2000])
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=metrics.encode(),
                           capture_output=True, timeout=60)
        tap.ok(p.returncode == 0, "promtool check metrics accepts the file",
               diag=(p.stdout + p.stderr).decode()[-2000:])
    else:
        tap.skip("promtool not installed")
    chromium = shutil.which("chromium")
    if not chromium:
        tap.skip("chromium not installed: the HTML is not rendered")
        return
    prof = os.path.join(W.tmp, "chromium-profile")
    shot = os.path.join(W.tmp, "shot.png")
    base = [chromium, "--headless", "--no-sandbox", "--disable-gpu",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--no-first-run", "--user-data-dir=" + prof, "--enable-logging=stderr", "--v=0"]
    p = subprocess.run(base + ["--window-size=1400,900", "--screenshot=" + shot, "file://" + html],
                       capture_output=True, timeout=120)
    log = (p.stdout + p.stderr).decode("utf-8", "replace")
    console = [ln for ln in log.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    ok_png = os.path.exists(shot) and os.path.getsize(shot) > 2000
    colours = set()
    if ok_png:
        colours = png_colours(shot)
    tap.ok(p.returncode == 0 and ok_png and len(colours) >= 4,
           "headless Chromium rendered a non-blank screenshot (%d colours)" % len(colours),
           diag=log[-2000:])
    tap.ok(not console, "no console messages while rendering", diag=console[:10])
    p = subprocess.run(base + ["--dump-dom", "file://" + html], capture_output=True, timeout=120)
    dom = p.stdout.decode("utf-8", "replace")
    tap.ok("UNKNOWN" in dom and "<svg" in dom, "the rendered DOM holds the verdicts and timeline")


def test_packaging():
    rules = os.path.join(ghtest.source_root(), "packaging", "gpuhours-check.rules.yml")
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "rules", rules], capture_output=True, timeout=60)
        tap.ok(p.returncode == 0, "promtool check rules: the alert rules load",
               diag=(p.stdout + p.stderr).decode()[-2000:])
    else:
        tap.skip("promtool not installed")
    unit = os.path.join(ghtest.build_root(), "packaging", "gpuhours-check.service")
    sa = shutil.which("systemd-analyze")
    if not sa or not os.path.exists(unit):
        tap.skip("systemd-analyze or the configured unit missing")
        return
    d = os.path.join(W.tmp, "units")
    os.makedirs(d, exist_ok=True)
    text = open(unit).read()
    exec_line = [ln for ln in text.splitlines() if ln.startswith("ExecStart=")][0]
    text = text.replace(exec_line.split()[0], "ExecStart=" + ghtest.client_bin())
    with open(os.path.join(d, "gpuhours-check.service"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(ghtest.source_root(), "packaging", "gpuhours-check.timer"), d)
    p = subprocess.run([sa, "verify", "--man=no", os.path.join(d, "gpuhours-check.service"),
                        os.path.join(d, "gpuhours-check.timer")], capture_output=True, timeout=60)
    msg = (p.stdout + p.stderr).decode()
    tap.ok(p.returncode == 0 and "gpuhours-check" not in msg,
           "systemd-analyze verify accepts gpuhours-check.service and .timer", diag=msg[-2000:])
    p = subprocess.run([sa, "security", "--offline=yes", "--no-pager",
                        os.path.join(d, "gpuhours-check.service")], capture_output=True, timeout=60)
    out = p.stdout.decode()
    level = [ln for ln in out.splitlines() if "Overall exposure level" in ln]
    tap.diag("systemd-analyze security: %s" % (level[-1] if level else out[-300:]))


def test_crafted():
    """Signed but impossible records (the coverage model's plausibility rules) FAIL every
    rule; the plausible control PASSes."""
    craft = os.path.join(ghtest.build_root(), "tests", "analyze", "craft-ledgers")
    if not os.path.exists(craft):
        tap.skip("craft-ledgers not built")
        return
    d = os.path.join(W.tmp, "crafted")
    os.makedirs(d)
    subprocess.run([craft, d], check=True, timeout=60, capture_output=True)
    key = open(os.path.join(d, "craft.vkey")).read().strip()
    rules = os.path.join(W.tmp, "rules-crafted")
    with open(rules, "w") as f:
        f.write("cap gpu-hours 1e9\n")
    res = {}
    for name in ("control", "b3-busy"):
        rc, out, err, _ = cltest.run(["check", "--no-state", "--key", key, "--rules", rules,
                                      os.path.join(d, name + ".bundle")], W.env)
        res[name] = (rc, out + err)
    tap.ok(res["control"][0] == 0 and "PASS" in res["control"][1],
           "crafted plausible control: PASS, exit 0", diag=res["control"][1])
    tap.ok(res["b3-busy"][0] == 2 and "FAIL" in res["b3-busy"][1] and
           "integrity" in res["b3-busy"][1],
           "crafted impossible busy time (IMPLAUSIBLE): FAIL, exit 2", diag=res["b3-busy"][1])


def png_colours(path):
    """Distinct RGB colours of a PNG (8-bit RGB/RGBA, non-interlaced), decoded with zlib."""
    import struct
    import zlib
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return set()
    i, idat, w, h, ct = 8, b"", 0, 0, 0
    while i < len(data):
        n, typ = struct.unpack(">I4s", data[i:i + 8])
        body = data[i + 8:i + 8 + n]
        if typ == b"IHDR":
            w, h, depth, ct = struct.unpack(">IIBB", body[:10])
        elif typ == b"IDAT":
            idat += body
        i += 12 + n
    bpp = {2: 3, 6: 4}.get(ct)
    if not bpp:
        return set()
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    colours = set()
    pos = 0
    for _ in range(h):
        f = raw[pos]
        line = bytearray(raw[pos + 1:pos + 1 + stride])
        pos += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if f == 1:
                line[x] = (line[x] + a) & 255
            elif f == 2:
                line[x] = (line[x] + b) & 255
            elif f == 3:
                line[x] = (line[x] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pr = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pr) & 255
        for x in range(0, stride, bpp * 7):
            colours.add(bytes(line[x:x + 3]))
            if len(colours) > 64:
                return colours
        prev = line
    return colours


tap.run(setup, test_pause, test_packaging, test_crafted, test_caps, test_concurrency_coverage, test_rules_errors,
        test_html_metrics, test_fleet_and_conflicts)
