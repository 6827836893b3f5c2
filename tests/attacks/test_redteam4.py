#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Red team, wave 4: the analyzer's clock-ahead judgement across incremental
(store-backed) audits, version 1 / version 2 records mixed in one boot, and a
GPU whose UUID is respelled across a daemon restart, many short restarts at
full load, rule edges exactly at a window's boundaries, on correctly signed
ledgers crafted by craft-redteam2.c (served over HTTP by tests/store/
ledgerserver.py where an evidence store is involved), judged by the real
client.

Each test states the sound answer. A test marked expectedFailure is a hole
in the current code (the comment names the code, the spec section and the
sound fix); the unmarked tests are attacks that held or holes fixed on this
branch (regression guards), and controls (honest ledgers that must PASS).

Run by meson as: test_redteam4.py CRAFT-REDTEAM2-BINARY."""

import os
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_redteam3 as rt3  # noqa: E402
from test_redteam3 import iso, ledgerserver  # noqa: E402


def ahead_findings(doc):
    return [(f["start"], f["step_seconds"]) for f in doc["sources"][0]["findings"]
            if f["kind"] == "CLOCK_AHEAD"]


class Crafted(rt3.Base):
    """Bundles only: check and verify on crafted ledgers."""

    check = rt3.Crafted.check

    def verify(self, name, extra=()):
        rc, doc, _ = self.json_doc(["verify", "--json", "--no-state", "--key", self.key(name),
                                    self.bundle(name)] + list(extra), self.env())
        self.assertIn(rc, (0, 1), doc)
        return doc["sources"][0]

    # ---- controls: honest ledgers that must PASS ----

    def test_control_v2_idle_restart_passes(self):
        """Control: a version 2 ledger, the daemon stopped 3 h while the GPU idles (same
        counter epoch, counter continuous): the energy proves it idle: pause PASS, cap
        PASS, hidden 0."""
        m = self.craft("init 1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\ntick 10800 0\n"
                       "mark p1\nstart\nrun 2\nstop\nwrite c-idle\n")
        rc, v = self.check(["c-idle"], "pause %s %s\ncap gpu-hours 0.01 from %s to %s\n"
                           % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]), iso(m["p1"])))
        self.assertEqual([x[1] for x in v], ["PASS", "PASS"], v)
        self.assertLess(self.verify("c-idle")["hidden_gpu_seconds"], 1.0)

    def test_control_observed_busy_within_cap(self):
        """Control: every second observed, 30 min at full load: cap 1 GPU-h PASS, and the
        lower bound is the truth (FAIL at 0.25)."""
        m = self.craft("init 1\nstart\nrun 10\nload 1\nrun 30\nload 0\nrun 10\nstop\n"
                       "write c-busy\n")
        rc, v = self.check(["c-busy"], "cap gpu-hours 1\ncap gpu-hours 0.25\n")
        self.assertEqual([x[1] for x in v], ["PASS", "FAIL"], v)
        self.assertAlmostEqual(v[0][2], m["truth:c-busy"] / 3600, places=3)

    # ---- attacks that held (regression guards) ----

    def test_v2_v1_v2_in_one_boot_reload(self):
        """The daemon is downgraded in place to one that writes version 1 START records,
        then upgraded again, all in one boot; the driver is reloaded (a new epoch) while
        the daemon is stopped after the version 1 stretch, and the operator trains until
        the counter passes the last reading plus the gap's idle energy. The version 1
        entry counts as epoch 0, so the version 2 START after the gap has nothing equal
        to compare with: the gap is the worst case (ANALYSIS.md 6, "Continuous means"):
        pause and cap UNKNOWN, hidden >= the truth."""
        m = self.craft("init 1\nperiod 3600\nstart\nrun 12\nstop\nv1\nstart\nrun 12\nstop\n"
                       "mark p0\nreload\nload 1\ntick 8400 0\nload 0\ntick 2400 0\nmark p1\n"
                       "v2\nstart\nrun 2\nstop\nwrite v212\n")
        rc, v = self.check(["v212"], "pause %s %s\ncap gpu-hours 1 from %s to %s\n"
                           % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]), iso(m["p1"])))
        self.assertEqual([x[1] for x in v], ["UNKNOWN", "UNKNOWN"], v)
        self.assertGreaterEqual(self.verify("v212")["hidden_gpu_seconds"],
                                m["truth:v212"] - 1e-3)

    def test_uuid_respelled_across_restart(self):
        """The daemon is stopped, the GPU trains 1 h, and the daemon comes back reporting
        the same GPU's UUID in upper case (a driver or shim that respells it): the two
        spellings are two GPUs of one node, neither continuous across the gap: coverage
        FAILs, the cap and the pause are UNKNOWN, never PASS; hidden >= the truth."""
        m = self.craft("init 1\nstart\nrun 10\nstop\nmark p0\nload 1\ntick 3600 0\nload 0\n"
                       "mark p1\nuuid 0 GPU-7ED7EA00-0000-0000-0000-000000000000\nstart\n"
                       "run 10\nstop\nwrite respell\n")
        rc, v = self.check(["respell"], "coverage 90\ncap gpu-hours 0.5 from %s to %s\n"
                           "pause %s %s\n" % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]),
                                              iso(m["p1"])))
        self.assertNotIn("PASS", [x[1] for x in v], v)
        self.assertGreaterEqual(v[1][3], m["truth:respell"] / 3600 - 1e-6, v)
        self.assertGreaterEqual(self.verify("respell")["hidden_gpu_seconds"],
                                m["truth:respell"] - 1e-3)

    def test_many_short_restarts_at_full_load(self):
        """The daemon is restarted 100 times, each time down 2 s while the GPU runs at full
        load (counter continuous, same epoch): every restart gap's energy bounds it at its
        whole length, so the hidden bound covers the truth (200 GPU-s) and a cap of 0.05
        GPU-h (180 s) over the hour is UNKNOWN, never PASS (ANALYSIS.md 6: the 1 J slack
        per piece cannot add up to hide a gap)."""
        script = "init 1\nstart\nrun 2\nmark p0\n"
        script += "stop\nload 1\ntick 2 0\nload 0\nstart\ntick 10 1\nsummary\n" * 100
        script += "mark p1\nrun 2\nstop\nwrite restarts\n"
        m = self.craft(script)
        rc, v = self.check(["restarts"], "cap gpu-hours 0.05 from %s to %s\n"
                           % (iso(m["p0"]), iso(m["p1"])))
        self.assertEqual(v[0][1], "UNKNOWN", v)
        self.assertGreaterEqual(v[0][3], m["truth:restarts"] / 3600 - 1e-6, v)
        self.assertGreaterEqual(self.verify("restarts")["hidden_gpu_seconds"],
                                m["truth:restarts"] - 1e-3)

    def test_rule_edges_at_window_boundaries(self):
        """Rule windows whose edges are exactly a busy window's start and end: a pause
        [ws, we) of a window at full load FAILs; a pause ending exactly at its start PASSes
        (every second observed; labels can only be early, so the window cannot lie before
        them); a pause beginning exactly at its end is UNKNOWN, not PASS: the bundle is
        judged days after its last record, so the boot's labels may be that much early
        (ANALYSIS.md 10, repay capacity; VERDICTS.md 5, pause) and the busy window may lie
        in the pause; a cap from its start to its end has the truth as lower bound."""
        m = self.craft("init 1\nstart\nrun 5\nmark ws\nload 1\nrun 1\nload 0\nmark we\n"
                       "run 5\nstop\nwrite edges\n")
        ws, we = m["ws"], m["we"]
        cases = [("pause %s %s\n" % (iso(ws), iso(we)), "FAIL"),
                 ("pause %s %s\n" % (iso(ws - 240 * 10**9), iso(ws)), "PASS"),
                 ("pause %s %s\n" % (iso(we), iso(we + 240 * 10**9)), "UNKNOWN"),
                 ("cap gpu-hours 0.01 from %s to %s\n" % (iso(ws), iso(we)), "FAIL")]
        for rules, want in cases:
            rc, v = self.check(["edges"], rules)
            self.assertEqual(v[0][1], want, (rules, v))
        rc, v = self.check(["edges"], "cap gpu-hours 1 from %s to %s\n" % (iso(ws), iso(we)))
        self.assertAlmostEqual(v[0][2], m["truth:edges"] / 3600, places=4)


class Served(rt3.Base):
    """Crafted ledgers behind ledgerserver.py, audited into an evidence store."""

    # HOLE 1, FIXED (client/analyze.c clock_reading / analyzer_finish, client/
    # analyze-state.c layout 6; proto/ANALYSIS.md section 5.1): CLOCK_AHEAD was raised
    # while the readings were folded, against the anchor of the audit doing the fold,
    # and the saved analyzer state kept the finding and a per-boot "raised" flag. A node
    # whose wall clock runs 9 s ahead is audited (incremental, store-backed): CLOCK_AHEAD
    # 9 s. Its clock is then moved 1 h ahead and the next audit (15 s later) resumed from
    # the saved state: it still said "9.0 s after the audit's time" (a record that is no
    # longer ahead) and never named the records labelled 3654 s ahead, which a cold audit
    # names; `gpuhours store verify` (a cold re-derivation, no anchor) called the store
    # DAMAGED (exit 2) after the first audit alone: an operator could make an auditor's
    # honest store look tampered with at will. Sound (now): the analyzer keeps the latest
    # label (a record fact) and judges CLOCK_AHEAD at analyzer_finish against this audit's
    # anchor: incremental = cold, store verify ok.
    def test_hole_clock_ahead_incremental(self):
        p = self.craft("init 1\nmark a\nwrite ah-probe\n")
        ahead = 10
        gap = (time.time_ns() - p["a"]) // 10**9 + ahead - 240
        m = self.craft("init 1\nstart\nrun 2\nstop\ntick %d 0\nstart\nrun 2\nmark e\nstop\n"
                       "tick 3600 0\nstart\nrun 1\nmark f\nstop\nwrite ah\n" % gap)
        self.assertGreater(m["e"], time.time_ns() + 3 * 10**9, "crafting took too long")
        recs = self.records("ah")
        srv = ledgerserver.LedgerServer([])
        try:
            n = ledgerserver.Node("ahead.example/gpuhours", recs, page=4)
            srv.nodes.append(n)
            url = srv.node_url(0)
            inc = self.env()
            key = ["--key", n.key.vkey, "--min-page", "1"]
            n.size = len(recs) - 3  # up to the STOP labelled ~10 s ahead
            rc, d1, _ = self.json_doc(["verify", "--json"] + key + [url], inc)
            self.assertEqual(len(ahead_findings(d1)), 1, d1)
            rc, out, err = self.run_client(["store", "verify"] + key[:2], inc)
            self.assertEqual(rc, 0, out + err)
            wait = (m["e"] - time.time_ns()) / 1e9 + 3
            time.sleep(max(wait, 0))
            for size in (len(recs) - 3, len(recs)):
                n.size = size
                rc_i, di, _ = self.json_doc(["verify", "--json"] + key + [url], inc)
                rc_c, dc, _ = self.json_doc(["verify", "--json", "--no-store"] + key + [url],
                                            self.env())
                ai, ac = ahead_findings(di), ahead_findings(dc)
                self.assertEqual((rc_i, [a[0] for a in ai]), (rc_c, [a[0] for a in ac]),
                                 (size, ai, ac))
                for x, y in zip(ai, ac):
                    self.assertAlmostEqual(x[1], y[1], delta=5)
                if size == len(recs):
                    self.assertEqual(len(ac), 1, dc)
                    self.assertGreater(ac[0][1], 3000, ac)
                else:
                    self.assertEqual(ac, [], dc)
                rc, out, err = self.run_client(["store", "verify"] + key[:2], inc)
                self.assertEqual(rc, 0, (size, out + err))
        finally:
            srv.close()


if __name__ == "__main__":
    rt3.GEN = sys.argv.pop(1)
    unittest.main(verbosity=2)
