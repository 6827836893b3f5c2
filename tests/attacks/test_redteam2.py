#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Red team, wave 2: an operator hiding a training run from `gpuhours check`
and `gpuhours verify`, on correctly signed ledgers crafted by
craft-redteam2.c (the hardware model of tests/check/craft-check.c with the
knobs an operator has: summary period, GPU model, the real idle and full
power, driver reloads while the daemon is down), judged by the real client.

Each test states the sound answer. A test marked expectedFailure is a hole
in the current code (the comment names it, the file and function, and a
proposed fix): it asserts the sound answer and fails today, so the suite
stays green until the hole is fixed; then the mark must go. The unmarked
tests are attacks that held (regression guards).

Run by meson as: test_redteam2.py CRAFT-REDTEAM2-BINARY."""

import json
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "client"))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

GEN = None
H100_PCIE_PEAK = 1513e12
H100_SXM_PEAK = 1979e12


def iso(ns):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ns // 10**9))


class Crafted(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = ghtest.tmpdir()
        cls.dir = os.path.join(cls.tmp, "craft")
        os.mkdir(cls.dir)
        cls.env = cltest.client_env(cls.tmp)

    # Failures to craft or to judge at all (a crash, no JSON): recorded here, so that
    # an expected failure cannot hide one; test_zz_every_ledger_judged, run last,
    # fails on any.
    broken = []

    def sound(self, cond, msg):
        if not cond:
            Crafted.broken.append("%s: %s" % (self.id(), msg))
            self.fail(msg)

    def craft(self, script):
        """Runs the generator; returns the marks (wall ns) and 'truth:NAME' (busy GPU-s)."""
        p = subprocess.run([GEN, self.dir], input=script.encode(), capture_output=True,
                           timeout=60)
        self.sound(p.returncode == 0, "craft-redteam2: " + p.stderr.decode()[-500:])
        marks = {}
        for line in p.stdout.decode().splitlines():
            w = line.split()
            if w[0] == "truth":
                marks["truth:" + w[1]] = float(w[2])
            else:
                marks[w[0]] = int(w[1])
        return marks

    def key(self, name):
        with open(os.path.join(self.dir, name + ".vkey")) as f:
            return f.read().strip()

    def client(self, cmd, names, extra=()):
        args = list(cmd) + ["--json", "--no-state"] + list(extra)
        for n in names:
            args += ["--key", self.key(n)]
        args += [os.path.join(self.dir, n + ".bundle") for n in names]
        rc, out, err, _ = cltest.run(args, self.env, timeout=60)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = None
        self.sound(doc is not None, "no JSON from %s (exit %d): %s" % (cmd, rc, err[-800:]))
        return rc, doc

    def check(self, names, rules, extra=()):
        path = os.path.join(self.tmp, "rules")
        with open(path, "w") as f:
            f.write(rules)
        rc, doc = self.client(["check", "--rules", path], names, extra)
        self.sound(rc in (0, 1, 2), "check exit %d" % rc)
        return rc, doc["rules"], doc

    def verdicts(self, rules):
        return [(r["rule"], r["verdict"], r["lower"], r["upper"], r["why"]) for r in rules]

    def assertNotPass(self, rules):
        bad = [v for v in self.verdicts(rules) if v[1] == "PASS"]
        self.assertEqual(bad, [], "a rule the real GPU activity broke PASSes")

    def hidden(self, name):
        rc, doc = self.client(["verify"], [name])
        self.sound(rc in (0, 1), "verify exit %d" % rc)
        return doc["sources"][0]["hidden_gpu_seconds"]

    # ---- attacks that held (regression guards) ----

    def test_control_idle_pause_passes(self):
        """Control: idle and observed through the pause: PASS (so the attacks below
        are judged by a client that can pass)."""
        m = self.craft("init 2\nstart\nrun 5\nmark p0\nrun 5\nmark p1\nrun 5\nstop\n"
                       "write rt-control\n")
        rc, rules, _ = self.check(["rt-control"], "pause %s %s\n" % (iso(m["p0"]), iso(m["p1"])))
        self.assertEqual((rc, rules[0]["verdict"]), (0, "PASS"), self.verdicts(rules))

    def test_idle_long_window_pause_passes(self):
        """A 10-minute pause inside a 1-hour summary window of an idle GPU: PASS
        (the fix for the long-window hole below must not make idle windows fail)."""
        m = self.craft("init 1\nperiod 3600\nstart\nrun 2\ntick 1200 1\nmark p0\ntick 600 1\n"
                       "mark p1\ntick 1800 1\nsummary\nrun 1\nstop\nwrite rt-longidle\n")
        rc, rules, _ = self.check(["rt-longidle"], "pause %s %s\n" % (iso(m["p0"]),
                                                                      iso(m["p1"])))
        self.assertEqual((rc, rules[0]["verdict"]), (0, "PASS"), self.verdicts(rules))

    def test_counter_below_last_window_is_worst_case(self):
        """A driver reload (counter back to 0) in a gap whose START reading is below the
        last window's end: the counter is not continuous, the gap is the worst case
        (hidden = the gap), the pause is UNKNOWN and a cap that the worst case exceeds
        is UNKNOWN."""
        m = self.craft("init 1\nstart\nrun 5\nstop\nmark p0\nmjset 0 0\nload 1\ntick 60 0\n"
                       "load 0\ntick 540 0\nmark p1\nstart\nrun 5\nstop\nwrite rt-resetlow\n")
        rc, rules, doc = self.check(["rt-resetlow"], "pause %s %s\ncap gpu-hours 0.1 from %s "
                                    "to %s\n" % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]),
                                                 iso(m["p1"])))
        self.assertEqual([r["verdict"] for r in rules], ["UNKNOWN", "UNKNOWN"],
                         self.verdicts(rules))
        self.assertGreaterEqual(self.hidden("rt-resetlow"), 600 - 1e-3)

    def test_h100_sxm_gap_energy_bound_holds(self):
        """An H100 SXM (700 W) at full load through a 1-hour gap, counter continuous:
        hidden >= the truth (3600 GPU-s), cap 0.5 GPU-h UNKNOWN, cap flop just below
        its work UNKNOWN."""
        m = self.craft("init 1\nstart\nrun 5\nstop\nmark p0\nload 1\ntick 3600 0\nload 0\n"
                       "mark p1\nstart\nrun 5\nstop\nwrite rt-sxm\n")
        truth = m["truth:rt-sxm"]
        rc, rules, _ = self.check(["rt-sxm"], "cap gpu-hours 0.5 from %s to %s\ncap flop %.6g\n"
                                  % (iso(m["p0"]), iso(m["p1"]), truth * H100_SXM_PEAK * 0.99))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-sxm"), truth - 1e-3)

    def test_capped_idle_gap_passes(self):
        """An honest H100 SXM capped at 200 W (as in hole 3b) that idles (60 W) through a
        1-hour gap, counter continuous: the energy is within tolerance of idle x time, so
        it proves the GPU idle (hidden 0, energy-idle): the pause and cap 0.01 GPU-h
        PASS. The minimum-power-limit bound must not turn an idle gap into busy time."""
        m = self.craft("init 1\npower 60 200\nstart\nrun 5\nstop\nmark p0\ntick 3600 0\n"
                       "mark p1\nstart\nrun 5\nstop\nwrite rt-cappedidle\n")
        self.assertEqual(m["truth:rt-cappedidle"], 0)
        rc, rules, _ = self.check(["rt-cappedidle"], "pause %s %s\ncap gpu-hours 0.01 from %s "
                                  "to %s\n" % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]),
                                               iso(m["p1"])))
        self.assertEqual((rc, [r["verdict"] for r in rules]), (0, ["PASS", "PASS"]),
                         self.verdicts(rules))
        self.assertEqual(self.hidden("rt-cappedidle"), 0)

    def test_concurrency_short_period_fails(self):
        """Two GPUs busy together for 2 hours, 60-s windows: concurrency 1 for 1h FAILs."""
        self.craft("init 2\nstart\nrun 5\nload 1\nrun 120\nload 0\nrun 5\nstop\n"
                   "write rt-conc60\n")
        rc, rules, _ = self.check(["rt-conc60"], "concurrency 1 for 1h\n")
        self.assertEqual((rc, rules[0]["verdict"]), (2, "FAIL"), self.verdicts(rules))

    def test_window_across_midnight_per_day(self):
        """A 1-hour window 23:30..00:30 busy only before midnight: the per-day upper
        bound of the first day holds that 0.5 GPU-h (UNKNOWN for cap 0.4, not PASS)."""
        self.craft("init 1\nperiod 3600\nstart\ntick 41400 1\nsummary\nload 1\ntick 1800 1\n"
                   "load 0\ntick 1800 1\nsummary\nrun 3\nstop\nwrite rt-midnight\n")
        rc, rules, _ = self.check(["rt-midnight"], "cap gpu-hours 0.4 per day\n")
        self.assertEqual(rules[0]["verdict"], "UNKNOWN", self.verdicts(rules))
        # None: unbounded (the day is only partly audited, VERDICTS.md section 5)
        self.assertTrue(rules[0]["upper"] is None or rules[0]["upper"] >= 0.5 - 1e-9,
                        self.verdicts(rules))

    def test_rules_parser_edges(self):
        """Rules that would judge nothing or judge against a nonsense bound are refused
        (exit 3, one line naming the line), never read as 0 or infinity."""
        self.craft("init 1\nstart\nrun 3\nstop\nwrite rt-parse\n")
        path = os.path.join(self.tmp, "rules-parse")
        for text in ("cap gpu-hours 1e400\n", "cap gpu-hours -1\n", "cap gpu-hours nan\n",
                     "cap gpu-hours inf\n", "cap gpu-hours 0x10\n", "cap flop 1e25e3\n",
                     "pause 2026-11-27 2026-11-26\n", "pause 2026-11-26 2026-11-26\n",
                     "pause 2026-11-26 2026-11-27 max-busy 101\n",
                     "pause 2026-11-26 2026-11-27 max-busy -1\n", "coverage 100.5\n",
                     "concurrency 1 for 0s\n", "concurrency -1\n",
                     "cap gpu-hours 1 from 2026-11-27 to 2026-11-27\n",
                     "cap gpu-hours 1 per day per week\n", "peak H100 0\n"):
            with open(path, "w") as f:
                f.write(text)
            rc, out, err, _ = cltest.run(["check", "--no-state", "--rules", path, "--key",
                                          self.key("rt-parse"),
                                          os.path.join(self.dir, "rt-parse.bundle")], self.env)
            self.assertEqual(rc, 3, "%r: exit %d: %s" % (text, rc, out + err))
            self.assertIn("rules-parse:1:", err, text)

    # ---- holes (expected failures until fixed) ----

    # HOLE 1 (client/verdict.c judge_pause; proto/VERDICTS.md section 5, pause): a
    # piece with observed time is judged as a share of the WHOLE window (hi = upper /
    # ulen), so a pause much shorter than the operator-chosen summary period (--period
    # goes up to 86400 s) hides busy time that all lies inside the pause: 30 s at full
    # load in a 10-minute pause (5 %) inside a 1-hour window is 0.83 % of the window,
    # PASS at max-busy 1 %. With --period 86400 a 1-hour pause hides 14 minutes.
    # Sound: the busy time that can lie in R as a share of the part of the window in R
    # (hi = upper / ov_hi, as for pieces without observed time); keep lo as it is.
    def test_hole_pause_inside_long_window(self):
        m = self.craft("init 1\nperiod 3600\nstart\nrun 2\ntick 1200 1\nmark p0\ntick 100 1\n"
                       "load 1\ntick 30 1\nload 0\ntick 470 1\nmark p1\ntick 1800 1\nsummary\n"
                       "run 2\nstop\nwrite rt-longwin\n")
        rc, rules, _ = self.check(["rt-longwin"], "pause %s %s\n" % (iso(m["p0"]),
                                                                     iso(m["p1"])))
        self.assertNotPass(rules)

    # HOLE 2 (client/analyze-energy.c hidden_from_energy, via every energy bound;
    # proto/ANALYSIS.md section 6): the declared idle power is subtracted as if it were a
    # floor of the real idle power. A GPU that idles at 40 W (the ledger's own windows
    # show 40 W, below the declared 60 W; real A100 PCIe, H100 PCIe and L40 boards idle
    # below their table entry) works 100 s at full load in a 1-hour gap: the gap's energy
    # is below 60 W x 1 h, the bound is 0 ('energy-idle'): pause PASS, cap 0.02 GPU-h
    # (72 s) PASS, verify hidden_gpu_seconds 0. Sound: energy below idle x L contradicts
    # the declaration (or the counter's continuity) and must give the worst case, and the
    # idle subtracted must not exceed what the GPU's own observed windows drew.
    def test_hole_idle_power_below_declared(self):
        m = self.craft("init 1\npower 40 700\nstart\nrun 5\nstop\nmark p0\ntick 1700 0\n"
                       "load 1\ntick 100 0\nload 0\ntick 1800 0\nmark p1\nstart\nrun 5\nstop\n"
                       "write rt-idle40\n")
        rc, rules, _ = self.check(["rt-idle40"], "pause %s %s\ncap gpu-hours 0.02 from %s to "
                                  "%s\n" % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]),
                                            iso(m["p1"])))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-idle40"), m["truth:rt-idle40"] - 1e-3)

    # HOLE 3 (client/analyze-energy.c declared_powers and client/peaks.c powers;
    # proto/ANALYSIS.md section 6 table): every name containing "H100" is declared 700 W
    # full, but the H100 PCIe board is 350 W (H100 NVL 400 W; likewise A100 PCIe 250 W vs
    # 400, L40 300 W vs 350, H200 NVL 600 W vs 700). An honest "NVIDIA H100 PCIe" at full
    # load through a 1-hour gap (counter continuous) is bounded at 1631 GPU-s: cap 0.5
    # GPU-h PASS (truth 1.0), cap flop 3e18 PASS (truth 5.4e18). Sound: per-variant
    # entries before the family ("H100 PCIe" 350 W, "H100 NVL" 400 W, "A100-PCIE" 250 W,
    # ...), each full power at least no higher than the board's power limit.
    def test_hole_h100_pcie_full_power(self):
        m = self.craft("init 1\npower 60 350\nmodel NVIDIA H100 PCIe\nstart\nrun 5\nstop\n"
                       "mark p0\nload 1\ntick 3600 0\nload 0\nmark p1\nstart\nrun 5\nstop\n"
                       "write rt-pcie\n")
        truth = m["truth:rt-pcie"]
        rc, rules, _ = self.check(["rt-pcie"], "cap gpu-hours 0.5 from %s to %s\ncap flop "
                                  "%.6g\n" % (iso(m["p0"]), iso(m["p1"]),
                                              truth * H100_PCIE_PEAK * 0.55))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-pcie"), truth - 1e-3)

    # HOLE 3b, CLOSED (same place; a per-variant table does not fix it): the operator
    # lowers the power limit of an H100 SXM to 200 W (nvidia-smi -pl; 200 W is the
    # board's minimum) while the daemon is down; the GPU runs at 100 % utilization for
    # the 1-hour gap at 200 W. With the bound at the full power (700 W) it gave 787.5
    # GPU-s and cap 0.5 GPU-h PASSed (truth 1.0 busy GPU-h). Fixed: the energy above
    # idle is turned into busy time at the board's minimum power limit (client/peaks.c
    # min_limit_w, 200 W; ANALYSIS.md section 6): (200 - 60) W x 3600 s / (200 - 60) W
    # = 3600 GPU-s, the whole gap, and the cap is UNKNOWN.
    def test_hole_power_capped_sxm(self):
        m = self.craft("init 1\npower 60 200\nstart\nrun 5\nstop\nmark p0\nload 1\n"
                       "tick 3600 0\nload 0\nmark p1\nstart\nrun 5\nstop\nwrite rt-capped\n")
        rc, rules, _ = self.check(["rt-capped"], "cap gpu-hours 0.5 from %s to %s\n"
                                  % (iso(m["p0"]), iso(m["p1"])))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-capped"), m["truth:rt-capped"] - 1e-3)

    # HOLE 4 (client/analyze-energy.c counter_readings / the between_windows bound;
    # proto/ANALYSIS.md section 6 "Continuous means"; needs the daemon too): with the
    # daemon stopped, the operator reloads the NVIDIA driver (same boot ID; NVML's
    # energy counter restarts at 0), trains, and restarts the daemon once the counter
    # has climbed past the last window's reading. Continuity is judged only by
    # "START reading >= last window end", so the counter looks continuous and the gap's
    # energy is the new counter minus the old: 2 h 5 min at full load in a 3-hour gap on
    # a node up for a day gives 0 GPU-s ('energy-idle'): pause PASS, cap 1 GPU-h PASS,
    # verify hidden 0. Sound: the daemon records a driver epoch at START/INVENTORY (e.g.
    # the nvidia module's load identity), the client treats a changed epoch as a
    # counter reset; at least, energy below idle x L (hole 2) gives the worst case.
    def test_hole_driver_reload_in_gap(self):
        m = self.craft("init 1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\nmjset 0 0\nload 1\n"
                       "tick 7500 0\nload 0\ntick 3300 0\nmark p1\nstart\nrun 2\nstop\n"
                       "write rt-reload\n")
        rc, rules, _ = self.check(["rt-reload"], "pause %s %s\ncap gpu-hours 1 from %s to %s\n"
                                  % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]), iso(m["p1"])))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-reload"), m["truth:rt-reload"] - 1e-3)

    # HOLE 4b, CLOSED (the careful version of hole 4; proto/ANALYSIS.md section 6
    # "Continuous means"): the operator trains 2 h 20 min after the reload, until the
    # new counter passes the last reading by more than 0.9 x idle floor x gap, so the
    # gap's energy looks like a GPU that idled (truth 8400 GPU-s). The daemon records
    # each GPU's counter epoch at START/INVENTORY (version 2 records; on NVML the
    # kernfs inode of the GPU's sysfs driver link, new at every bind): the START after
    # the reload carries another epoch, so the counter is not continuous across the
    # gap: COUNTER_RESET, the gap is the worst case.
    def test_hole_driver_reload_careful(self):
        m = self.craft("init 1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\nreload\nload 1\n"
                       "tick 8400 0\nload 0\ntick 2400 0\nmark p1\nstart\nrun 2\nstop\n"
                       "write rt-reload2\n")
        rc, rules, _ = self.check(["rt-reload2"], "pause %s %s\ncap gpu-hours 1 from %s to %s\n"
                                  % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]), iso(m["p1"])))
        self.assertNotPass(rules)
        self.assertEqual([r["verdict"] for r in rules], ["UNKNOWN", "UNKNOWN"],
                         self.verdicts(rules))
        self.assertGreaterEqual(self.hidden("rt-reload2"), m["truth:rt-reload2"] - 1e-3)
        rc, doc = self.client(["verify"], ["rt-reload2"])
        kinds = [f["kind"] for f in doc["sources"][0]["findings"]]
        self.assertIn("COUNTER_RESET", kinds)

    def test_same_epoch_restart_keeps_energy_bound(self):
        """Control for 4b: the same gap without a reload (same epoch, counter continuous):
        idle through the gap, the energy proves it: pause PASS, hidden 0."""
        m = self.craft("init 1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\n"
                       "tick 10800 0\nmark p1\nstart\nrun 2\nstop\nwrite rt-noreload\n")
        rc, rules, _ = self.check(["rt-noreload"], "pause %s %s\n" % (iso(m["p0"]), iso(m["p1"])))
        self.assertEqual([r["verdict"] for r in rules], ["PASS"], self.verdicts(rules))
        self.assertLess(self.hidden("rt-noreload"), 1.0)

    def test_epoch_unknown_is_worst_case(self):
        """A START whose counter epoch is 0 (the daemon could not read one) never
        proves continuity: the same idle gap as the control above is the worst case."""
        m = self.craft("init 1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\nepoch0\n"
                       "tick 10800 0\nmark p1\nstart\nrun 2\nstop\nwrite rt-epoch0\n")
        rc, rules, _ = self.check(["rt-epoch0"], "pause %s %s\n" % (iso(m["p0"]), iso(m["p1"])))
        self.assertEqual([r["verdict"] for r in rules], ["UNKNOWN"], self.verdicts(rules))
        self.assertGreaterEqual(self.hidden("rt-epoch0"), 10800 - 1e-3)

    # HOLE 4c, FIXED (proto/ANALYSIS.md section 6): hole 4b on a ledger of a daemon that
    # writes version 1 START/INVENTORY records (no counter epoch): nothing in the records
    # tells the reload, so it was hidden 0, pause PASS. A version 1 entry now never proves
    # the counter continuous: the gap is the worst case.
    def test_hole_driver_reload_careful_v1(self):
        m = self.craft("init 1\nv1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\nreload\nload 1\n"
                       "tick 8400 0\nload 0\ntick 2400 0\nmark p1\nstart\nrun 2\nstop\n"
                       "write rt-reload2v1\n")
        rc, rules, _ = self.check(["rt-reload2v1"], "pause %s %s\ncap gpu-hours 1 from %s to %s\n"
                                  % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]), iso(m["p1"])))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-reload2v1"), m["truth:rt-reload2v1"] - 1e-3)

    def test_v1_restart_is_worst_case(self):
        """Control for 4c: the idle gap of test_same_epoch_restart_keeps_energy_bound on a
        version 1 ledger: its energy cannot prove the GPU idle (a reload would look the
        same): pause UNKNOWN, the gap the worst case."""
        m = self.craft("init 1\nv1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\n"
                       "tick 10800 0\nmark p1\nstart\nrun 2\nstop\nwrite rt-v1idle\n")
        rc, rules, _ = self.check(["rt-v1idle"], "pause %s %s\n" % (iso(m["p0"]), iso(m["p1"])))
        self.assertEqual([r["verdict"] for r in rules], ["UNKNOWN"], self.verdicts(rules))
        self.assertGreaterEqual(self.hidden("rt-v1idle"), 10800 - 1e-3)

    def test_hole_v1_to_v2_upgrade_reload(self):
        """Hole 4b across an in-place upgrade in one boot: version 1 records before the
        gap, the driver reloaded and the daemon upgraded in it, version 2 after. The first
        version 2 epoch has nothing to differ from; it must not prove continuity."""
        m = self.craft("init 1\nv1\nperiod 3600\nstart\nrun 24\nstop\nmark p0\nreload\n"
                       "load 1\ntick 8400 0\nload 0\ntick 2400 0\nmark p1\nv2\nstart\nrun 2\n"
                       "stop\nwrite rt-upgrade\n")
        rc, rules, _ = self.check(["rt-upgrade"], "pause %s %s\ncap gpu-hours 1 from %s to %s\n"
                                  % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]), iso(m["p1"])))
        self.assertEqual([r["verdict"] for r in rules], ["UNKNOWN", "UNKNOWN"],
                         self.verdicts(rules))
        self.assertGreaterEqual(self.hidden("rt-upgrade"), m["truth:rt-upgrade"] - 1e-3)

    # HOLE 5 (client/verdict.c judge_concurrency; proto/VERDICTS.md section 5,
    # concurrency): the slot is the smallest summary period in the fleet, which the
    # operator chooses (up to 86400 s), and a GPU counts as busy only at >= 50 % of a
    # slot, with m = floor(D / S) + 1 = 1. Two GPUs busy together for 11 hours, every
    # second observed, in one daily window: 11 h < 12 h, neither counts:
    # concurrency 1 for 1h PASS ("at most 0 GPUs"). Sound: slots no longer than D / 2
    # (so a window longer than D cannot prove the limit: UNKNOWN), or count a GPU at the
    # upper bound when its upper busy in the slot reaches min(D, s_j / 2).
    def test_hole_concurrency_long_period(self):
        self.craft("init 2\nperiod 86400\nstart\ntick 43200 1\nsummary\nload 1\ntick 39600 1\n"
                   "load 0\ntick 46800 1\nsummary\ntick 43200 1\nsummary\nstop\n"
                   "write rt-conclong\n")
        rc, rules, _ = self.check(["rt-conclong"], "concurrency 1 for 1h\n")
        self.assertNotPass(rules)

    # HOLE 6 (client/evidence.c, the GPU's name for peak_lookup; proto/VERDICTS.md
    # section 6; needs a false name in an INVENTORY record, i.e. the "feeds the daemon
    # false readings" row of docs/THREAT-MODEL.md, but cheap to refuse): the peak is
    # looked up on the GPU's LAST name only. An H100 busy 1 hour, then an INVENTORY
    # that names the same UUID "NVIDIA A100-SXM4-80GB": all its busy time is judged at
    # the A100's 1.248e15 FLOP/s: cap flop 5e18 PASS (truth at the H100's peak 7.1e18).
    # Sound: a UUID whose model changes is IMPLAUSIBLE, or its peak is the largest of
    # its names'.
    def test_hole_rename_lowers_peak(self):
        self.craft("init 1\nstart\nload 1\nrun 60\nload 0\nmodel NVIDIA A100-SXM4-80GB\n"
                   "inventory 8\nwin\nrun 2\nstop\nwrite rt-rename\n")
        rc, rules, _ = self.check(["rt-rename"], "cap flop 5e18\n")
        self.assertNotPass(rules)

    # HOLE 7, FIXED (client/analyze.c, the in-window shortfall bound; proto/ANALYSIS.md
    # section 6, in_window): the in-window bound uses the window's energy_used_mj
    # whenever the GPU has a counter, also when the window carries GPU_COUNTER_RESET.
    # The daemon is frozen for 49 s of a 60-s window while the GPU works at full load;
    # a GPU reset (counter back to 0) just before it resumes loses that energy from the
    # window's total (the daemon counts the new value as a lower bound): 49 s
    # unobserved, bound 0 ('energy-idle'): pause PASS, cap 0.005 GPU-h (18 s) PASS,
    # verify hidden 0. Sound: a window with GPU_COUNTER_RESET for the GPU gives no
    # energy bound (worst case), as between windows. Fixed: analyze.c takes no
    # in-window bound from a window with GPU_COUNTER_RESET.
    def test_hole_counter_reset_in_window(self):
        m = self.craft("init 1\nstart\nrun 5\nmark p0\ntick 10 1\nload 1\ntick 49 0\nreset 0\n"
                       "load 0\ntick 1 1\nsummary\nmark p1\nrun 5\nstop\nwrite rt-winreset\n")
        rc, rules, _ = self.check(["rt-winreset"], "pause %s %s\ncap gpu-hours 0.005 from %s "
                                  "to %s\n" % (iso(m["p0"]), iso(m["p1"]), iso(m["p0"]),
                                               iso(m["p1"])))
        self.assertNotPass(rules)
        self.assertGreaterEqual(self.hidden("rt-winreset"), m["truth:rt-winreset"] - 1e-3)

    def test_cap_per_day_from_before_ledger_unknown(self):
        """The same ledger (below) with `from` the day's start: the window reaches outside
        the audited interval, UNKNOWN."""
        self.craft(self.MORNING)
        rc, rules, _ = self.check(["rt-morning"], "cap gpu-hours 1 per day from 2026-11-26\n")
        self.assertEqual(rules[0]["verdict"], "UNKNOWN", self.verdicts(rules))

    # HOLE 8 (client/verdict.c judge_cap; proto/VERDICTS.md section 5, cap: "hi = inf
    # when the period reaches outside [A, B)"): the code tests the period clipped to R,
    # and R defaults to [A, B), so a calendar period is never "outside" without `from`/
    # `to`. The operator starts the ledger at noon: the GPU worked the whole morning
    # (the START's counter since driver load shows it; verify raises ENERGY_UNACCOUNTED,
    # up to 43200 GPU-s before the ledger began), and `cap gpu-hours 1 per day` PASSes
    # for "2026-11-26" on one audited hour. Sound: a day/week/month that reaches outside
    # [A, B) has hi = inf (UNKNOWN), as the spec says, whatever R is.
    MORNING = ("init 1\nuptime 43200\nmjset 0 30240000000\nstart\nrun 60\nstop\n"
               "write rt-morning\n")

    def test_hole_cap_per_day_partial_day(self):
        self.craft(self.MORNING)
        rc, rules, _ = self.check(["rt-morning"], "cap gpu-hours 1 per day\n")
        self.assertNotPass(rules)

    def test_zz_every_ledger_judged(self):
        """Every crafted ledger above was written and judged (check and verify exited
        with a verdict and valid JSON): the expected failures fail on their verdicts,
        not on a crash."""
        self.assertEqual(Crafted.broken, [])


class RealDaemon(unittest.TestCase):
    """Hole 1 on the real gpuhoursd (sim backend, 10-s windows) and a live node URL. The
    run happens once in setUpClass; test_sim_judged fails on anything but a verdict (so
    the expected failure below fails on its verdict only)."""

    @classmethod
    def setUpClass(cls):
        cls.rule, cls.error = None, None
        tmp = ghtest.tmpdir()
        d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=1, period=10, interval=0.1)
        os.makedirs(d.sim_dir, exist_ok=True)
        w = (int(time.time()) // 10 + 2) * 10  # a window start at least 10 s ahead
        with open(os.path.join(d.sim_dir, "schedule"), "w") as f:
            f.write("%.6f 100\n%.6f 0\n" % (w + 4.3, w + 4.38))
        try:
            d.start()
            env = cltest.client_env(tmp)
            rc, out, err, _ = cltest.run(["trust", "add", d.vkey()], env)
            if rc != 0:
                raise RuntimeError("trust add: " + out + err)
            while time.time() < w + 12.5:  # the window [w, w + 10) is written
                time.sleep(0.2)
            rules = os.path.join(tmp, "rules")
            with open(rules, "w") as f:
                f.write("pause %s %s\n" % (iso((w + 4) * 10**9), iso((w + 5) * 10**9)))
            rc, out, err, _ = cltest.run(["check", "--json", "--rules", rules, d.url], env)
            if rc not in (0, 1, 2):
                raise RuntimeError("check exit %d: %s" % (rc, err[-800:]))
            cls.rule = json.loads(out)["rules"][0]
        except Exception as e:  # noqa: BLE001 - reported by test_sim_judged
            cls.error = repr(e)
        finally:
            d.stop()

    def test_sim_judged(self):
        """The sim daemon ran and check gave a verdict on its live URL."""
        self.assertIsNone(self.error)
        self.assertIsNotNone(self.rule)

    # HOLE 1 again, honest daemon: the sim's GPU runs at 100 % for 80 ms inside a 1-s
    # pause (8 % of the pause) in the middle of a 10-s window (0.8 % of the window):
    # pause ... max-busy 1 % PASSes with upper 0.80 %.
    def test_hole_pause_inside_window_sim(self):
        r = self.rule or {}
        self.assertIn(r.get("verdict"), ("UNKNOWN", "FAIL"),
                      (r.get("verdict"), r.get("upper"), r.get("why")))

class RealDaemonReload(unittest.TestCase):
    """Hole 4b on the real gpuhoursd (sim backend, 1-s windows): the daemon runs, stops
    for an idle gap (the control: same counter epoch), runs, stops; in the second gap
    the sim's driver reloads (sim-dir/reload: counters restart at 0, new epoch) and the
    GPU works at 100 % just long enough for the new counter to pass the last reading by
    idle x gap (the careful operator), then idles; the daemon starts again. Judged by
    check and verify on the live URL."""

    @classmethod
    def setUpClass(cls):
        cls.error, cls.doc, cls.ver, cls.starts, cls.gaps = None, None, None, [], []
        cls.readings = (0, 0)
        tmp = ghtest.tmpdir()
        d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=1, period=1, interval=0.1)
        try:
            d.start()
            d.wait_size(4)
            d.stop()
            t0 = time.time_ns()
            time.sleep(3.5)  # the control gap: idle, no reload
            t1 = time.time_ns()
            d.start()
            d.wait_size(d.checkpoint()["size"] + 3)
            d.stop()
            t2 = time.time_ns()
            # The sim's counter now: idle (60 W) since its first start (the energy file's
            # anchor, no load change since). Work for old / 640 W after the reload.
            with open(os.path.join(d.sim_dir, "energy")) as f:
                anchor = int(f.read().split("\nwall_ns ")[1].split()[0])
            busy_s = 60.0 * (t2 - anchor) / 1e9 / 640.0
            with open(os.path.join(d.sim_dir, "reload"), "w"):
                pass
            tr = time.time()
            with open(os.path.join(d.sim_dir, "schedule"), "w") as f:
                f.write("%.6f 100\n%.6f 0\n" % (tr + 0.1, tr + 0.1 + busy_s))
            while time.time() < tr + 0.1 + busy_s + 3.5:
                time.sleep(0.1)
            t3 = time.time_ns()
            d.start()
            d.wait_size(d.checkpoint()["size"] + 3)
            recs = [ghtest.decode_record(b) for b in d.records(0, d.checkpoint()["size"])]
            cls.starts = [(r["version"], [g["counter_epoch"] for g in r["gpus"]]) for r in recs
                          if r["kind"] == "start"]
            # the last reading before the reload and the first after it (the START)
            last = [r for r in recs if r["kind"] == "summary" and r["obs_end_wall_ns"] <= t2]
            cls.readings = (last[-1]["gpus"][0]["energy_end_mj"],
                            [r for r in recs if r["kind"] == "start"][-1]["gpus"][0]["energy_mj"])
            cls.gaps = [(ceil_s(t0), floor_s(t1)), (ceil_s(t2), floor_s(t3))]
            env = cltest.client_env(tmp)
            rules = os.path.join(tmp, "rules")
            with open(rules, "w") as f:
                for a, b in cls.gaps:
                    f.write("pause %s %s\n" % (iso(a), iso(b)))
            rc, out, err, _ = cltest.run(["check", "--json", "--no-state", "--rules", rules,
                                          "--key", d.vkey(), d.url], env, timeout=60)
            if rc not in (0, 1, 2):
                raise RuntimeError("check exit %d: %s" % (rc, err[-800:]))
            cls.doc = json.loads(out)
            rc, out, err, _ = cltest.run(["verify", "--json", "--no-state", "--key", d.vkey(),
                                          d.url], env, timeout=60)
            if rc not in (0, 1):
                raise RuntimeError("verify exit %d: %s" % (rc, err[-800:]))
            cls.ver = json.loads(out)["sources"][0]
        except Exception as e:  # noqa: BLE001 - reported by test_judged
            cls.error = repr(e)
        finally:
            d.stop()

    def test_judged(self):
        self.assertIsNone(self.error)
        self.assertIsNotNone(self.doc)
        self.assertIsNotNone(self.ver)

    def test_epochs_recorded(self):
        """Three version 2 STARTs; the epoch is kept across the plain restart and
        changes across the reload."""
        self.assertEqual([v for v, _ in self.starts], [2, 2, 2], self.starts)
        e = [eps[0] for _, eps in self.starts]
        self.assertTrue(e[0] != 0 and e[0] == e[1] and e[2] not in (0, e[1]), self.starts)

    def restart_pieces(self, gap):
        a, b = gap
        return [p for s in (self.doc or {}).get("sources", []) for g in s["evidence"]["gpus"]
                for p in g["unobserved"] if p["source"] == "restart" and p["start"] < iso(b) and
                p["end"] > iso(a)]

    def test_control_gap_energy_bound(self):
        """The idle gap without a reload: the continuous counter bounds it (energy)."""
        pieces = self.restart_pieces(self.gaps[0])
        self.assertTrue(pieces and all(p["bound"] in ("energy-idle", "energy") and
                                       p["hidden_gpu_seconds"] < 0.5 for p in pieces), pieces)

    def test_reload_was_careful(self):
        """The START after the reload reads above the last reading: the counter does not
        go backwards, so only the epoch tells the reload."""
        old, new = self.readings
        self.assertTrue(0 < old <= new, self.readings)

    def test_reload_gap_not_idle(self):
        """The reload gap: another counter epoch, no energy bound: the pause is UNKNOWN,
        the gap's pieces are 'no-counter' and count whole, COUNTER_RESET is raised."""
        rules = (self.doc or {}).get("rules", [])
        self.assertEqual(len(rules), 2)
        self.assertEqual(rules[1]["verdict"], "UNKNOWN", (rules[1]["upper"], rules[1]["why"]))
        a, b = self.gaps[1]
        pieces = self.restart_pieces(self.gaps[1])
        self.assertTrue(pieces and all(p["bound"] == "no-counter" and
                                       p["hidden_gpu_seconds"] >= (b - a) / 1e9 for p in pieces),
                        pieces)
        self.assertGreaterEqual(self.ver["hidden_gpu_seconds"], (b - a) / 1e9)
        self.assertIn("COUNTER_RESET", [f["kind"] for f in self.ver["findings"]])


def ceil_s(ns):
    return (ns + 10**9 - 1) // 10**9 * 10**9


def floor_s(ns):
    return ns // 10**9 * 10**9


if __name__ == "__main__":
    GEN = sys.argv.pop(1)
    unittest.main(verbosity=2)
