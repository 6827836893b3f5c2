#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""report --offline over a multi-node evidence store prints what an online
report (store-backed, and cold with --no-store) prints: table and CSV byte
for byte, JSON the same values in the same order (less "generated" and the
STALE findings, which need a 'now' that offline has not), for every --by.
The store is built by two audits per node (the second resumes the saved
analysis state, so each origin's windows are in two chunks), one node's
ledger spans three months. Nodes: ledgerserver.py on 127.0.0.1."""

import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgerserver  # noqa: E402
from ledgerserver import cltest, ghtest  # noqa: E402

tap = ghtest.Tap()
GEN = sys.argv[1]

# (seed, records, GPUs, period s): events of every kind (seed != 0); the last spans months.
LEDGERS = [(21, 420, 1, 60), (22, 517, 2, 60), (23, 388, 3, 60), (24, 650, 4, 300),
           (25, 1500, 2, 3600)]


def gen(tmp, seed, count, gpus, period):
    path = os.path.join(tmp, "ledger-%d.bin" % seed)
    subprocess.run([GEN, str(seed), str(count), str(gpus), str(period), path], check=True)
    return ghtest.split_frames(open(path, "rb").read())


def canon(text):
    """A JSON document as text again, key order kept, with "generated" and every STALE
    and CLOCK_AHEAD finding left out; None when it does not parse."""
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    doc.pop("generated", None)
    for s in doc.get("sources", []):
        # STALE and CLOCK_AHEAD are judged against the audit's own time (ANALYSIS.md 5.1,
        # 8): their numbers differ between any two runs (gen-ledger's ledgers lie ahead)
        s["findings"] = [f for f in s.get("findings", [])
                         if f.get("kind") not in ("STALE", "CLOCK_AHEAD")]
    return json.dumps(doc, indent=2)


def main():
    tmp = ghtest.tmpdir("gh-store-report-")
    nodes = [ledgerserver.Node("rep%d.test/gpuhours" % seed, gen(tmp, seed, n, g, p), page=97)
             for seed, n, g, p in LEDGERS]
    srv = ledgerserver.LedgerServer(nodes)
    fleet = os.path.join(tmp, "fleet.txt")
    with open(fleet, "w") as f:
        for i, n in enumerate(nodes):
            f.write("%s %s\n" % (srv.node_url(i), n.key.vkey))
    env = cltest.client_env(os.path.join(tmp, "store"))
    cold_env = cltest.client_env(os.path.join(tmp, "cold"))
    base = ["--fleet", fleet, "--min-page", "1", "--timeout", "20"]
    try:
        full = [n.size for n in nodes]
        for n in nodes:
            n.size = n.size * 2 // 3
        rc1, _, err1, _ = cltest.run(["verify"] + base, env, timeout=120)
        for n, size in zip(nodes, full):
            n.size = size
        rc2, _, err2, _ = cltest.run(["verify"] + base, env, timeout=120)
        tap.ok(rc1 == 1 and rc2 == 1 and "re-analysing" not in err2 and
               "5 sources: 0 verified, 5 with findings" in err2,
               "two audits of 5 nodes into the store (exit %d, %d)" % (rc1, rc2),
               diag=(err1 + err2)[-1500:])

        for by in ("hour", "day", "month", "gpu"):
            for fmt in ("table", "csv", "json"):
                args = ["report", "--by", by, "--format", fmt]
                off = cltest.run(args + ["--offline"] + base, env, timeout=120)
                onl = cltest.run(args + base, env, timeout=120)
                cold = cltest.run(args + ["--no-store", "--no-state"] + base, cold_env,
                                  timeout=120)
                if fmt == "json":
                    same = canon(off[1]) is not None and \
                        canon(off[1]) == canon(onl[1]) == canon(cold[1])
                    if not same and os.environ.get("GH_DEBUG_DIR"):
                        for nm, t in (("off", off[1]), ("onl", onl[1]), ("cold", cold[1])):
                            with open(os.path.join(os.environ["GH_DEBUG_DIR"], nm + ".json"), "w") as f:
                                f.write(canon(t) or t)
                else:
                    same = off[1] != "" and off[1] == onl[1] == cold[1]
                tap.ok(same and off[0] == onl[0] == cold[0] == 1,
                       "report --by %s --format %s: --offline = online = cold "
                       "(exit %d, %d, %d; %d bytes)" % (by, fmt, off[0], onl[0], cold[0],
                                                        len(off[1])),
                       diag="offline:\n%s\n%s\nonline:\n%s\ncold:\n%s" % (
                           off[1][-1200:], off[2][-600:], onl[1][-1200:], cold[1][-1200:]))
        # The month report of the long ledger has three months, each in every format.
        m = cltest.run(["report", "--by", "month", "--format", "csv", "--offline"] + base, env)
        months = {line.split(",")[1][:7] for line in m[1].splitlines()[1:]
                  if line.startswith("rep25.")}
        tap.ok(len(months) >= 3, "--by month: rep25 spans %d months %s" % (len(months),
                                                                          sorted(months)),
               diag=m[1][-800:])
    finally:
        srv.close()


if __name__ == "__main__":
    tap.run(main)
