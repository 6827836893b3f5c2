#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every JSON document of the client is one gpuhours/1 shape (proto/JSON.md):
the schema and envelope on verify, report, attest and check; one source gives
a one-element array; an unreachable source (a closed loopback port) is present
with its status and error; the report's fleet total is the sum of its
sources; verify and report print the same source object for the same source
(a bundle, judged as of its own checkpoint, so both runs see the same
evidence)."""

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()

SCHEMA = "gpuhours/1"
ENVELOPE = ["schema", "command", "generated", "verdict", "exit"]
SOURCE_KEYS = ["source", "origin", "status", "error", "tree_size", "first_time", "last_time",
               "gpu_hours", "occupied_gpu_hours", "energy_joules", "coverage_pct",
               "interval_seconds", "observed_seconds", "unobserved_seconds", "gap_seconds",
               "step_seconds", "hidden_gpu_seconds", "gpus", "findings"]
TIME_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TOTAL_SUMS = ["gpu_hours", "occupied_gpu_hours", "energy_joules", "interval_seconds",
              "observed_seconds", "unobserved_seconds", "gap_seconds", "step_seconds",
              "hidden_gpu_seconds"]


def load(out):
    try:
        return json.loads(out)
    except ValueError:
        return None


def times_ok(v):
    """Every value of a key that names an instant is RFC 3339 UTC with ms."""
    if isinstance(v, dict):
        for k, x in v.items():
            if k in ("generated", "first_time", "last_time", "start", "end", "node_time",
                     "last_record") and x is not None:
                if not (isinstance(x, str) and TIME_RE.match(x)):
                    return False
            elif not times_ok(x):
                return False
    elif isinstance(v, list):
        return all(times_ok(x) for x in v)
    return True


def envelope_ok(doc, command, extra):
    """The envelope keys in their order, then the command's own, then sources/findings."""
    if not isinstance(doc, dict):
        return False
    keys = list(doc.keys())
    return (keys[:5] == ENVELOPE and doc["schema"] == SCHEMA and doc["command"] == command and
            keys[5:] == extra and isinstance(doc["sources"], list) and
            isinstance(doc["findings"], list) and times_ok(doc))


def source_ok(s, extra=()):
    return isinstance(s, dict) and list(s.keys()) == SOURCE_KEYS + list(extra)


def main():
    tmp = ghtest.tmpdir()
    env = cltest.client_env(tmp)
    d = ghtest.Daemon(os.path.join(tmp, "n"), gpus=2, period=1, interval=0.5,
                      extra_args=["--origin", "json.test/gpuhours"])
    d.set_load([40, 70])
    d.start()
    d.wait_size(6, timeout=30)
    dead = "http://127.0.0.1:%d" % ghtest.free_port()
    k = ["--key", d.vkey(), "--no-state"]

    # One source: a one-element array, the envelope, every source key in order.
    rc, out, err, _ = cltest.run(["verify", "--json"] + k + [d.url], env)
    doc = load(out)
    tap.ok(rc in (0, 1) and envelope_ok(doc, "verify", ["sources", "findings"]) and
           len(doc["sources"]) == 1 and source_ok(doc["sources"][0]) and
           doc["sources"][0]["source"] == d.url and doc["exit"] == rc and
           doc["verdict"] == doc["sources"][0]["status"],
           "verify --json, one source: schema %s, a one-element array" % SCHEMA,
           diag=(out + err)[-3000:])

    # A live source and a closed port: both present, in command-line order.
    rc, out, err, _ = cltest.run(["verify", "--json"] + k + [d.url, dead], env)
    doc = load(out)
    srcs = doc["sources"] if envelope_ok(doc, "verify", ["sources", "findings"]) else []
    bad = srcs[1] if len(srcs) == 2 else {}
    tap.ok(rc == 3 and doc["verdict"] == "error" and doc["exit"] == 3 and
           [s["source"] for s in srcs] == [d.url, dead] and source_ok(bad) and
           bad["status"] == "error" and isinstance(bad["error"], str) and
           str(dead.rsplit(":", 1)[1]) in bad["error"] and "\n" not in bad["error"] and
           bad["gpu_hours"] is None and bad["tree_size"] is None and bad["findings"] == [],
           "verify --json: the unreachable source is present with status and a one-line error",
           diag=(out + err)[-3000:])

    # report: the same, with buckets (null for the unreachable one) and the fleet total.
    rc, out, err, _ = cltest.run(["report", "--quiet", "--format", "json", "--by", "hour"] + k +
                                 [d.url, dead], env)
    rep = load(out)
    srcs = rep["sources"] if envelope_ok(rep, "report", ["by", "sources", "total",
                                                         "findings"]) else []
    tap.ok(rc == 3 and rep["by"] == "hour" and len(srcs) == 2 and
           source_ok(srcs[0], ["buckets"]) and source_ok(srcs[1], ["buckets"]) and
           isinstance(srcs[0]["buckets"], list) and srcs[0]["buckets"] and
           srcs[1]["buckets"] is None and srcs[1]["status"] == "error" and
           srcs[1]["source"] == dead and srcs[1]["error"],
           "report --format json: every source, the unreachable one with its error, "
           "buckets null", diag=(out + err)[-3000:])
    tot = rep.get("total", {}) if isinstance(rep, dict) else {}
    ok = tot.get("sources") == 1 and tot.get("unreported_sources") == 1
    for key in TOTAL_SUMS:
        want = sum(s[key] for s in srcs if s["buckets"] is not None)
        ok = ok and isinstance(tot.get(key), float) and abs(tot[key] - want) <= 1e-9 * max(1, want)
    tap.ok(ok, "report: the total is the sum of the reported sources", diag=tot)

    # Two reported sources of one origin: the node and a bundle of it are one node, in
    # the total once, from the larger tree (the first of equal ones), never summed twice.
    bundle = os.path.join(tmp, "n.bundle")
    rc, out, err, _ = cltest.run(["fetch"] + k + ["-o", bundle, d.url], env)
    tap.ok(rc == 0 and os.path.exists(bundle), "fetch a bundle (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["report", "--quiet", "--format", "json"] + k +
                                 [bundle, d.url], env)
    rep2 = load(out)
    srcs2 = rep2.get("sources", []) if isinstance(rep2, dict) else []
    tot = rep2.get("total", {}) if isinstance(rep2, dict) else {}
    ok = (rc in (0, 1) and len(srcs2) == 2 and tot.get("sources") == 1 and
          tot.get("same_origin_sources") == 1 and tot.get("unreported_sources") == 0)
    if len(srcs2) == 2:
        big = srcs2[1] if srcs2[1]["tree_size"] > srcs2[0]["tree_size"] else srcs2[0]
        for key in TOTAL_SUMS:
            ok = ok and abs(tot.get(key, -1) - big[key]) <= 1e-9 * max(1, abs(big[key]))
    else:
        ok = False
    tap.ok(ok, "report over a node and a bundle of it: the total counts the origin once, "
           "from the larger tree", diag=(out + err)[-2000:])

    # verify and report: the same source object for the same source (a bundle).
    rc_v, out_v, err_v, _ = cltest.run(["verify", "--json"] + k + [bundle], env)
    ok = True
    diag = out_v[-1500:]
    for by in ("hour", "day", "gpu"):
        rc_r, out_r, err_r, _ = cltest.run(["report", "--quiet", "--format", "json", "--by",
                                            by] + k + [bundle], env)
        v, r = load(out_v), load(out_r)
        rs = r["sources"][0] if r and len(r.get("sources", [])) == 1 else {}
        buckets = rs.pop("buckets", None)
        ok = ok and v is not None and rs == v["sources"][0] and isinstance(buckets, list) and \
            rc_v == rc_r and v["verdict"] == r["verdict"] and v["exit"] == r["exit"]
        if by == "gpu":
            ok = ok and sorted(b["gpu"] for b in buckets) == sorted(
                g["uuid"] for g in v["sources"][0]["gpus"])
        diag += out_r[-1500:]
    tap.ok(ok, "verify and report (by hour, day, gpu) print the same source object", diag=diag)

    # attest: the same envelope and source object, with "attest".
    rc, out, err, _ = cltest.run(["attest", "--json"] + k + [d.url], env)
    doc = load(out)
    s = doc["sources"][0] if envelope_ok(doc, "attest", ["sources", "findings"]) and \
        len(doc["sources"]) == 1 else {}
    tap.ok(rc == 0 and source_ok(s, ["attest"]) and s["origin"] == "json.test/gpuhours" and
           s["status"] == "ok" and s["error"] is None and isinstance(s["tree_size"], int) and
           TIME_RE.match(s["attest"]["node_time"]) and
           isinstance(s["attest"]["clock_offset_seconds"], float),
           "attest --json: the envelope, one source object with attest", diag=out + err)
    rc, out, err, _ = cltest.run(["attest", "--json"] + k + [dead], env)
    doc = load(out)
    s = doc["sources"][0] if envelope_ok(doc, "attest", ["sources", "findings"]) and \
        len(doc["sources"]) == 1 else {}
    tap.ok(rc == 3 and doc["exit"] == 3 and source_ok(s, ["attest"]) and
           s["status"] == "error" and s["error"] and s["attest"] is None and s["source"] == dead,
           "attest --json on a closed port: status error, the error, attest null", diag=out + err)
    other = cltest.Key("json.test/gpuhours")
    rc, out, err, _ = cltest.run(["attest", "--json", "--no-state", "--key", other.vkey, d.url],
                                 env)
    doc = load(out)
    s = doc["sources"][0] if doc and doc.get("sources") else {}
    tap.ok(rc == 2 and s.get("status") == "failed" and s.get("error") and
           [f["kind"] for f in s.get("findings", [])] == ["KEY_MISMATCH"],
           "attest --json with another key of that name: failed, a KEY_MISMATCH finding",
           diag=out + err)

    # check: the same envelope, the same source objects with their evidence.
    rules = os.path.join(tmp, "rules")
    with open(rules, "w") as f:
        f.write("cap gpu-hours 1000 per month\n")
    rc, out, err, _ = cltest.run(["check", "--rules", rules, "--json"] + k + [d.url, dead], env)
    doc = load(out)
    srcs = doc["sources"] if envelope_ok(doc, "check", ["interval", "rules", "sources",
                                                        "findings"]) else []
    tap.ok(rc == 1 and doc["verdict"] == "UNKNOWN" and len(srcs) == 2 and
           all(source_ok(s, ["evidence"]) for s in srcs) and
           [s["source"] for s in srcs] == [d.url, dead] and srcs[1]["status"] == "error" and
           srcs[1]["evidence"]["state"] == "missing" and srcs[1]["error"] and
           srcs[0]["evidence"]["state"] == "ok" and len(srcs[0]["evidence"]["gpus"]) == 2,
           "check --json: the envelope, every source object with its evidence",
           diag=(out + err)[-3000:])
    d.stop()


tap.run(main)
