#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Fleet: 20 daemons on loopback verified in one command, one of them
stopped: that one exits 1 (STALE) or 3 (unreachable), the rest verify, all
are reported; plus `report` across the fleet."""

import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()
N = 20


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-fleet-")
    env = cltest.client_env(tmp)
    nodes = []
    for i in range(N):
        d = ghtest.Daemon(os.path.join(tmp, "n%02d" % i), gpus=1, period=1, interval=0.5,
                          extra_args=["--origin", "node%02d.test/gpuhours" % i])
        d.set_load([i * 5])
        d.start()
        nodes.append(d)
    keys = []
    for d in nodes:
        keys += ["--key", d.vkey()]
    for d in nodes:
        d.wait_size(3, timeout=30)
    down = nodes[7]
    down.stop()
    t0 = time.monotonic()
    rc, doc, text = cltest.verify_json(keys + ["--timeout", "10"] + [d.url for d in nodes], env,
                                       timeout=120)
    secs = time.monotonic() - t0
    tap.ok(doc is not None and len(doc["sources"]) == N, "all %d sources reported in %.1f s"
           % (N, secs), diag=text[-2000:])
    if doc:
        st = {s["source"]: s for s in doc["sources"]}
        dead = st.get(down.url, {})
        tap.ok(dead.get("status") == "error" or (
            dead.get("status") == "findings" and
            any(f["kind"] == "STALE" for f in dead.get("findings", []))),
            "the stopped node: %s" % dead.get("status"), diag=dead)
        tap.ok("error" in dead and str(down.port) in dead["error"],
               "the stopped node's error names it", diag=dead)
        live = [st.get(d.url, {}) for d in nodes if d is not down]
        tap.ok(all(s.get("status") in ("ok", "findings") for s in live) and
               all(s.get("origin") == "node%02d.test/gpuhours" % i
                   for i, s in enumerate(st.get(d.url, {}) for d in nodes) if i != 7),
               "the other %d nodes verified, each with its own origin" % (N - 1),
               diag=[(s.get("source"), s.get("status"), s.get("error")) for s in live])
        tap.ok(rc == 3 and doc["verdict"] == "error", "exit %d: the highest code wins" % rc)
    rc, out, err, _ = cltest.run(["report", "--by", "gpu"] + keys +
                                 [d.url for d in nodes if d is not down], env, timeout=120)
    tap.ok(rc in (0, 1) and out.count("\n# node") == N - 2 and "busy" in out,
           "report --by gpu over %d nodes (exit %d)" % (N - 1, rc), diag=(out + err)[-2000:])
    rc, out, err, _ = cltest.run(["report", "--by", "hour", "--format", "json"] + keys +
                                 [d.url for d in nodes[:5]] + [down.url], env, timeout=120)
    try:
        rep = json.loads(out)
    except ValueError:
        rep = None
    srcs = rep.get("sources", []) if isinstance(rep, dict) else []
    tap.ok(rc == 3 and rep["schema"] == "gpuhours/1" and len(srcs) == 6 and
           [r["origin"] for r in srcs[:5]] == ["node%02d.test/gpuhours" % i for i in range(5)] and
           all(isinstance(r.get("buckets"), list) for r in srcs[:5]) and
           srcs[5]["source"] == down.url and srcs[5]["status"] == "error" and
           srcs[5]["buckets"] is None and str(down.port) in srcs[5]["error"],
           "report --format json over 5 nodes and a stopped one: every source, in order, "
           "the stopped one with its error and no buckets (exit %d)" % rc,
           diag=(out + err)[-2000:])
    if srcs:
        tot = rep["total"]
        ok = tot["sources"] == 5 and tot["unreported_sources"] == 1
        for k in ("gpu_hours", "occupied_gpu_hours", "energy_joules", "observed_seconds",
                  "unobserved_seconds", "interval_seconds", "hidden_gpu_seconds"):
            want = sum(r[k] for r in srcs if r["buckets"] is not None)
            ok = ok and abs(tot[k] - want) <= 1e-9 * max(1.0, abs(want))
        tap.ok(ok, "the fleet total is the sum of the reported sources", diag=tot)
    for d in nodes:
        d.stop()
    shutil.rmtree(tmp, ignore_errors=True)


tap.run(main)
