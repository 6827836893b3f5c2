#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack: a fork shown through several sources of one run. The operator
copies the node's state directory (key and ledger) and runs the clone beside
the original: two real gpuhoursd sign two different histories of one origin
with one key. Given both (as URLs, as bundles, or one of each, in any order),
the auditor must report FORK on every source whose tree is not consistent
with another one's, print both signed notes, and remember neither; sources
consistent with every other (an older archive) stay clean.

With --period 600 a daemon appends exactly one record when it starts and two
when it stops, so the sizes are exact: the common history has 3 records,
each side then starts (4: same size, different roots) and restarts (7)."""

import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

ghtest = al.ghtest
cltest = al.cltest
tap = ghtest.Tap()
ORIGIN = "fork.test/gpuhours"
STATE_NAME = "fork.test%2Fgpuhours"


class Auditor:
    """A fresh auditor: its own XDG directories, the node's vkey trusted."""

    n = 0

    def __init__(self, tmp, vkey):
        Auditor.n += 1
        self.dir = os.path.join(tmp, "auditor%d" % Auditor.n)
        os.makedirs(self.dir)
        self.env = cltest.client_env(self.dir)
        rc, out, err, _ = cltest.run(["trust", "add", vkey], self.env)
        if rc != 0:
            raise RuntimeError("trust add: " + out + err)

    def state_path(self):
        return os.path.join(self.dir, "state", "gpuhours", "checkpoints", STATE_NAME)

    def state(self):
        try:
            with open(self.state_path(), "rb") as f:
                return f.read()
        except OSError:
            return None

    def verify(self, sources, label, extra=()):
        """verify (text, recorded) and verify --json on the same sources."""
        rc_t, out, err, _ = cltest.run(["verify"] + list(extra) + sources, self.env, timeout=60)
        al.record("%s: gpuhours verify %s -> exit %d\n%s%s" % (label, " ".join(sources), rc_t,
                                                                out, err))
        tap.diag("%s (exit %d):\n%s%s" % (label, rc_t, out, err))
        return rc_t, out, err


def kinds_by_source(doc):
    return {s["source"]: [f["kind"] for f in s.get("findings", [])] for s in doc["sources"]}


def verify_json(a, sources, extra=()):
    rc, out, err, _ = cltest.run(["verify", "--json"] + list(extra) + sources, a.env, timeout=60)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return rc, doc, err


def fork_notes_ok(doc, srcs, vkey):
    """Every source has a FORK finding with both signed notes: its own, then the other
    source's ({from: "source", name, size, note}), each verifying on its own. (A FORK
    against the fork remembered from an earlier run comes first, without notes.)"""
    by = {x["source"]: x for x in doc["sources"]} if doc else {}
    for s in srcs:
        src = by.get(s)
        forks = [f for f in (src or {}).get("findings", []) if f["kind"] == "FORK" and
                 "notes" in f]
        if len(forks) != 1:
            return False, "%s: %d FORK findings with notes" % (s, len(forks))
        n = forks[0]["notes"]
        if (len(n) != 2 or any(x.get("from") != "source" for x in n) or n[0]["name"] != s or
                n[1]["name"] == s or n[1]["name"] not in srcs or n[0]["size"] != src["tree_size"] or
                n[1]["size"] != by[n[1]["name"]]["tree_size"] or n[0]["note"] == n[1]["note"] or
                list(forks[0].keys())[-1] != "notes"):
            return False, "%s: notes %r" % (s, n)
        for x in n:
            try:
                ghtest.verify_checkpoint(x["note"], vkey)
            except Exception as e:  # noqa: BLE001 (any failure to verify is a failure)
                return False, "%s: a note does not verify (%s): %r" % (s, e, x["note"])
            if not x["note"].startswith("%s\n%d\n" % (ORIGIN, x["size"])):
                return False, "%s: a note is not of its size: %r" % (s, x)
    return True, ""


def check_json(a, sources, tmp):
    rules = os.path.join(tmp, "rules-same-origin")
    with open(rules, "w") as f:
        f.write("cap gpu-hours 1000\n")
    rc, out, err, _ = cltest.run(["check", "--no-state", "--json", "--rules", rules] + sources,
                                 a.env, timeout=60)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return rc, doc, out + err


def fetch(env, url, path):
    rc, out, err, _ = cltest.run(["fetch", "--no-state", "--no-store", url, "-o", path], env)
    if rc not in (0, 1):
        raise RuntimeError("fetch %s: %s%s" % (url, out, err))
    return path


def main():
    tmp = ghtest.tmpdir("gh-attack-fork-")
    a = ghtest.Daemon(os.path.join(tmp, "a"), gpus=1, period=600,
                      extra_args=["--origin", ORIGIN])
    a.start()
    vkey = a.vkey()
    op = cltest.client_env(os.path.join(tmp, "operator"))
    cltest.run(["trust", "add", vkey], op)
    base1 = fetch(op, a.url, os.path.join(tmp, "base1.bundle"))
    a.stop()
    # The clone: the same key and ledger in a second state directory.
    b = ghtest.Daemon(os.path.join(tmp, "b"), gpus=1, period=600,
                      extra_args=["--origin", ORIGIN])
    shutil.copytree(a.state_dir, b.state_dir)
    a.start()
    b.start()
    ca, cb = a.checkpoint(), b.checkpoint()
    tap.ok(ca["size"] == cb["size"] == 4 and ca["root_b64"] != cb["root_b64"],
           "original and clone sign trees of size 4 with different roots (%d, %d)"
           % (ca["size"], cb["size"]))
    a4 = fetch(op, a.url, os.path.join(tmp, "a4.bundle"))
    b4 = fetch(op, b.url, os.path.join(tmp, "b4.bundle"))

    # 1. Same size, different roots: FORK on both, in either order, bundles or URLs.
    for srcs, label in (([a4, b4], "two bundles"), ([b4, a4], "two bundles, reversed"),
                        ([a.url, b.url], "two URLs"), ([b4, a.url], "a bundle and a URL")):
        au = Auditor(tmp, vkey)
        au.verify(srcs, "same size, different roots (%s)" % label)
        rc, doc, err = verify_json(au, srcs)
        ks = kinds_by_source(doc) if doc else {}
        tap.ok(rc == 2 and all("FORK" in ks.get(s, []) for s in srcs),
               "same size, different roots, %s: FORK on both, exit %d" % (label, rc),
               diag=(ks, err[-1500:]))
        tap.ok(ca["root_b64"] in err and cb["root_b64"] in err and err.count(ORIGIN + "\n4\n") >= 2,
               "%s: both signed notes are printed as evidence" % label, diag=err[-1500:])
        tap.ok(au.state() is None, "%s: neither checkpoint is remembered" % label)
        good, why = fork_notes_ok(doc, srcs, vkey)
        tap.ok(good, "%s: --json: each FORK carries both signed notes" % label, diag=why)

    # check judges a fork as an integrity failure, never as one GPU on two nodes.
    au = Auditor(tmp, vkey)
    rc, doc, out = check_json(au, [a4, b4], tmp)
    good, why = fork_notes_ok(doc, [a4, b4], vkey)
    tap.ok(rc == 2 and doc and doc["verdict"] == "FAIL" and good and
           not [f for f in doc["findings"] if f["kind"] == "GPU_ON_TWO_NODES"],
           "check of the original's and the clone's bundles: FAIL by FORK, both notes in --json "
           "(exit %d)" % rc, diag=(why, out[-2000:]))

    # report and fetch go through the same check: nothing reported, nothing written.
    au = Auditor(tmp, vkey)
    rc, out, err, _ = cltest.run(["report", a4, b.url], au.env, timeout=60)
    tap.ok(rc == 2 and "FORK" in err and au.state() is None,
           "report of the original's bundle and the clone: exit %d, FORK, nothing remembered" % rc,
           diag=(out + err)[-1500:])
    out_dir = os.path.join(au.dir, "bundles")
    os.mkdir(out_dir)
    rc, out, err, _ = cltest.run(["fetch", "-o", out_dir, a.url, b.url], au.env, timeout=60)
    tap.ok(rc == 2 and out.count("FORK") >= 2 and os.listdir(out_dir) == [],
           "fetch -o DIR of the original and the clone: exit %d, FORK, no bundle written" % rc,
           diag=(out + err)[-1500:])

    # 2. Three sources, one diverging: the two identical trees and the clone all FORK,
    #    the common older archive (a prefix of both) stays clean.
    au = Auditor(tmp, vkey)
    srcs = [base1, a4, a.url, b.url]
    au.verify(srcs, "an archive, the original twice and the clone")
    rc, doc, err = verify_json(au, srcs)
    ks = kinds_by_source(doc) if doc else {}
    tap.ok(rc == 2 and all("FORK" in ks.get(s, []) for s in (a4, a.url, b.url)) and
           "FORK" not in ks.get(base1, ["?"]),
           "archive + original x2 + clone: FORK on the three of size 4, none on the archive",
           diag=ks)

    # 3. --no-state: the run itself still sees the fork.
    au = Auditor(tmp, vkey)
    rc, doc, err = verify_json(au, [a4, b4], extra=["--no-state"])
    ks = kinds_by_source(doc) if doc else {}
    tap.ok(rc == 2 and all("FORK" in ks.get(s, []) for s in (a4, b4)),
           "--no-state: FORK on both", diag=ks)

    # 4. The clone restarts (size 7): a smaller tree that is not its prefix.
    b.stop()
    b.start()
    tap.ok(b.checkpoint()["size"] == 7, "the clone restarted: size 7")
    b7 = fetch(op, b.url, os.path.join(tmp, "b7.bundle"))
    for srcs, label in (([a4, b7], "bundles, smaller first"), ([b7, a4], "bundles, larger first"),
                        ([b.url, a4], "URL larger, bundle smaller"),
                        ([a.url, b7], "URL smaller, bundle larger"),
                        ([a.url, b.url], "two URLs")):
        au = Auditor(tmp, vkey)
        # The auditor had verified the common history before: it must stay as it was.
        rc0, _, _ = au.verify([base1], "before the fork pair: the common archive")
        before = au.state()
        au.verify(srcs, "prefix violated (%s)" % label)
        rc, doc, err = verify_json(au, srcs)
        ks = kinds_by_source(doc) if doc else {}
        tap.ok(rc == 2 and all("FORK" in ks.get(s, []) for s in srcs),
               "size 4 not a prefix of size 7, %s: FORK on both, exit %d" % (label, rc),
               diag=(ks, err[-1500:]))
        good, why = fork_notes_ok(doc, srcs, vkey)
        tap.ok(good, "size 4 not a prefix of size 7, %s: --json: both notes" % label, diag=why)
        tap.ok(rc0 in (0, 1) and before is not None and au.state() == before,
               "%s: the remembered checkpoint is unchanged (byte for byte)" % label)

    # A node that will not prove its tree extends the smaller one: not consistent until
    # proven. Through a proxy that forwards everything but /v1/proof/consistency.
    def forward(h, query, path):
        st, hdr, body = b.get(path + ("?" + query if query else ""))
        extra = {k: v for k, v in hdr.items() if k == "x-gpuhours-range"}
        h.reply(st, body, extra)
    proxy = cltest.Hostile({
        "/checkpoint": lambda h, q: forward(h, q, "/checkpoint"),
        "/v1/records": lambda h, q: forward(h, q, "/v1/records"),
        "/v1/proof/consistency": lambda h, q: h.reply(500, b"error: not today\n"),
    })
    au = Auditor(tmp, vkey)  # nothing remembered: only the run's own check asks for a proof
    srcs = [a4, proxy.url]
    au.verify(srcs, "the larger node refuses the consistency proof")
    rc, doc, err = verify_json(au, srcs)
    st = {x["source"]: x for x in doc["sources"]} if doc else {}
    tap.ok(rc == 3 and st.get(proxy.url, {}).get("status") == "error" and
           "consistency proof" in st.get(proxy.url, {}).get("error", "") and
           "is a prefix of" in st.get(proxy.url, {}).get("error", ""),
           "a node refusing the consistency proof: its source is incomplete, exit %d" % rc,
           diag=(st, err[-800:]))
    tap.ok(au.state() is None and "not proven consistent" in err,
           "and neither checkpoint is remembered", diag=err[-800:])
    proxy.close()

    # 5. Consistent sources are fine: the original restarts; its older bundle and its
    #    URL agree, in either order, and the newest is remembered.
    a.stop()
    a.start()
    ca7 = a.checkpoint()
    for srcs in ([a4, a.url], [a.url, base1, a4]):
        au = Auditor(tmp, vkey)
        au.verify(srcs, "consistent sources (an older archive and the live node)")
        rc, doc, err = verify_json(au, srcs)
        ks = kinds_by_source(doc) if doc else {}
        st = au.state() or b""
        tap.ok(rc in (0, 1) and not any("FORK" in k for k in ks.values()),
               "consistent: %d sources, no FORK (exit %d)" % (len(srcs), rc), diag=(ks, err[-800:]))
        tap.ok(st.startswith(("%s\n%d\n%s\n" % (ORIGIN, ca7["size"], ca7["root_b64"])).encode()),
               "consistent: the newest checkpoint (size %d) is remembered" % ca7["size"],
               diag=st[:200])

    # check and report: two consistent sources of one origin are one node, judged once
    # from the larger tree, never one GPU on two nodes (nor counted twice).
    a7 = fetch(op, a.url, os.path.join(tmp, "a7.bundle"))
    for srcs, big in (([a4, a.url], a.url), ([a.url, a4], a.url), ([a4, a7], a7),
                      ([a7, base1, a4], a7), ([a7, a7], a7)):
        au = Auditor(tmp, vkey)
        rc, doc, out = check_json(au, srcs, tmp)
        fs = (doc or {}).get("findings", [])
        same = [f for f in fs if f["kind"] == "SAME_ORIGIN"]
        ev = [x.get("evidence") or {} for x in (doc or {}).get("sources", [])]
        first = srcs.index(big)
        others = [i for i in range(len(srcs)) if i != first]
        tap.ok(rc in (0, 1) and not [f for f in fs if f["kind"] == "GPU_ON_TWO_NODES"] and
               len(same) == len(others) and
               all(f["severity"] == "info" and f["sources"][1] == big for f in same) and
               len(ev) == len(srcs) and ev[first].get("state") == "ok" and ev[first]["gpus"] and
               all(ev[i].get("state") == "same-origin" and ev[i].get("judged_as") == big and
                   ev[i].get("gpus") == [] for i in others),
               "check %s: one node, judged from %s (exit %d)" % (" ".join(
                   os.path.basename(s) for s in srcs), os.path.basename(big), rc),
               diag=out[-2500:])
        rc, out, err, _ = cltest.run(["check", "--no-state", "--rules",
                                      os.path.join(tmp, "rules-same-origin")] + srcs,
                                     au.env, timeout=60)
        tap.ok(rc in (0, 1) and "GPU_ON_TWO_NODES" not in out and
               out.count("info SAME_ORIGIN") == len(others),
               "check (text) %d sources of one origin: one info SAME_ORIGIN line per extra "
               "source (exit %d)" % (len(srcs), rc), diag=(out + err)[-2000:])
    au = Auditor(tmp, vkey)
    rc, out, err, _ = cltest.run(["report", "--no-state", "--format", "json", a4, a.url],
                                 au.env, timeout=60)
    try:
        rep = json.loads(out)
    except ValueError:
        rep = None
    one = [s for s in (rep or {}).get("sources", []) if s["source"] == a.url]
    tap.ok(rc in (0, 1) and rep and rep["total"]["sources"] == 1 and
           rep["total"]["same_origin_sources"] == 1 and one and
           abs(rep["total"]["gpu_hours"] - one[0]["gpu_hours"]) < 1e-9,
           "report --format json of a bundle and the live node: the total counts the origin "
           "once, from the larger tree", diag=(out + err)[-2000:])
    rc, out, err, _ = cltest.run(["report", "--no-state", a4, a.url], au.env, timeout=60)
    tap.ok(rc in (0, 1) and "# total (1 source" in out and "the same origin as" in err,
           "report (table) of a bundle and the live node: '# total (1 source)', said on "
           "stderr", diag=(out + err)[-2000:])

    # 6. Both live nodes at size 7 with different roots, with the evidence store on.
    au = Auditor(tmp, vkey)
    rc, doc, err = verify_json(au, [a.url, b.url])
    ks = kinds_by_source(doc) if doc else {}
    tap.ok(rc == 2 and all("FORK" in ks.get(s, []) for s in (a.url, b.url)),
           "two live nodes of size 7, evidence store on: FORK on both", diag=(ks, err[-1500:]))
    tap.ok(au.state() is None, "and neither is remembered")
    a.stop()
    b.stop()


tap.run(main)
