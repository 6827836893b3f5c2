#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""report --format csv over several sources (and --fleet): one header with
"origin" first, then the rows of every verified source, each with its own
origin; a source that did not verify is named on stderr and sets exit 3,
never silently dropped; the table gets a fleet total; the rows' numbers are those of each node alone."""

import csv
import io
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def rows_of(out):
    return list(csv.reader(io.StringIO(out)))


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-reportcsv-")
    env = cltest.client_env(tmp)
    origins = ["csv-a.test/gpuhours", "csv-b.test/gpuhours"]
    nodes = []
    for i, o in enumerate(origins):
        d = ghtest.Daemon(os.path.join(tmp, "n%d" % i), gpus=1, period=1, interval=0.5,
                          extra_args=["--origin", o])
        d.start()
        nodes.append(d)
    k = []
    for d in nodes:
        k += ["--key", d.vkey()]
    for d in nodes:
        d.wait_size(3, timeout=30)
    for d in nodes:
        d.stop()  # frozen ledgers: every run below sees the same records
    bundles = []
    for i, d in enumerate(nodes):
        d.start()
        b = os.path.join(tmp, "b%d.bundle" % i)
        rc, out, err, _ = cltest.run(["fetch", d.url, "-o", b] + k, env)
        d.stop()
        bundles.append(b)
    rc, out, err, _ = cltest.run(["report", "--quiet", "--by", "gpu", "--format", "csv"] + k +
                                 bundles, env)
    rows = rows_of(out)
    tap.ok(rc in (0, 1) and rows and rows[0][:2] == ["origin", "gpu"] and
           sum(1 for r in rows if r[:1] == ["origin"]) == 1,
           "several sources: one header, 'origin' first", diag=(rc, out[-800:], err[-300:]))
    body = rows[1:]
    tap.ok(len(body) == 2 and sorted(r[0] for r in body) == sorted(origins),
           "one row per node's GPU, each with its own origin", diag=out[-800:])
    singles = {}
    for i, b in enumerate(bundles):
        rc1, out1, err1, _ = cltest.run(["report", "--quiet", "--by", "gpu", "--format", "csv"] +
                                        k + [b], env)
        r1 = rows_of(out1)
        singles[origins[i]] = r1[1:] if len(r1) > 1 else None
    tap.ok(all(singles[r[0]] == [r] for r in body),
           "each row equals that node's single-source report (origin column included)",
           diag=(body, singles))

    # The table over several sources ends with a fleet total: the sources' totals summed.
    rc, out, err, _ = cltest.run(["report", "--quiet", "--by", "gpu"] + k + bundles, env)
    lines = out.splitlines()
    per = [ln.split() for ln in lines if ln.startswith("total ")]
    head = [i for i, ln in enumerate(lines) if ln.startswith("# total (2 sources)")]
    ok = rc in (0, 1) and len(per) == 2 and len(head) == 1 and head[0] + 2 < len(lines)
    if ok:
        tot = lines[head[0] + 2].split()
        busy = sum(float(p[3]) for p in per)  # total, first, last, busy, occupied, energy
        energy = sum(float(p[5]) for p in per)
        gap = sum(float(p[7]) for p in per)
        ok = (abs(float(tot[0]) - busy) < 0.002 and abs(float(tot[2]) - energy) < 0.002 and
              abs(float(tot[4]) - gap) < 0.002)
    tap.ok(ok, "table over two sources: a final '# total' section summing both",
           diag=out[-1200:])

    dead = "http://127.0.0.1:%d" % ghtest.free_port()
    rc, out, err, _ = cltest.run(["report", "--quiet", "--format", "csv", "--timeout", "5"] + k +
                                 bundles + [dead], env, timeout=120)
    rows = rows_of(out)
    tap.ok(rc == 3 and dead in err and "nothing reported" in err and
           {r[0] for r in rows[1:]} == set(origins),
           "a failed source: rows of the others, the failure on stderr, exit 3",
           diag=(rc, out[-500:], err[-500:]))

    for d in nodes:
        d.start()
    fleet = os.path.join(tmp, "fleet")
    with open(fleet, "w") as f:
        for d in nodes:
            f.write("%s %s\n" % (d.url, d.vkey()))
    rc, out, err, _ = cltest.run(["report", "--quiet", "--format", "csv", "--fleet", fleet], env,
                                 timeout=120)
    rows = rows_of(out)
    tap.ok(rc in (0, 1) and rows and rows[0][0] == "origin" and
           {r[0] for r in rows[1:]} == set(origins),
           "--fleet: CSV rows from every node", diag=(rc, out[-500:], err[-500:]))
    for d in nodes:
        d.stop()


tap.run(main)
