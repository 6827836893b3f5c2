#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# kill -9 at random moments, 100 cycles: after every restart each record
# covered by a checkpoint seen before is still there byte for byte, every
# checkpoint seen is consistent with the new tree, and the daemon never
# refuses its own ledger. Half of the kills aim at the append just after a
# period boundary.
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()
CYCLES = int(os.environ.get("GH_CRASH_CYCLES", "100"))
BUDGET_S = 200  # stop early (and say so) rather than overrun the meson timeout


def main():
    seed = int(os.environ.get("GH_CRASH_SEED", str(int(time.time()))))
    random.seed(seed)
    tap.diag("seed %d" % seed)
    tmp = ghtest.tmpdir("gh-crash-")
    d = ghtest.Daemon(tmp, gpus=2)
    d.set_load([30, 80])
    vkey = None
    known = []          # raw records covered by the largest checkpoint seen
    seen = []           # (size, root) of every checkpoint seen
    problems = []
    refused = 0
    t_start = time.monotonic()
    cycles = 0
    for cycle in range(CYCLES):
        if time.monotonic() - t_start > BUDGET_S:
            break
        try:
            d.start(timeout=20)
        except RuntimeError as e:
            refused += 1
            problems.append("cycle %d: daemon did not start: %s" % (cycle, e))
            break
        if vkey is None:
            vkey = d.vkey()
        cp = d.checkpoint()
        origin, size, root = ghtest.verify_checkpoint(cp["note"], vkey)
        raw = d.records(0, size) if size else []
        if raw[:len(known)] != known:
            problems.append("cycle %d: records covered by an earlier checkpoint changed" % cycle)
        if ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw]) != root:
            problems.append("cycle %d: checkpoint root does not match the records" % cycle)
        for m, r in seen[-3:]:
            if m and ghtest.merkle_root([ghtest.leaf_hash(x) for x in raw[:m]]) != r:
                problems.append("cycle %d: earlier checkpoint (size %d) inconsistent" % (cycle, m))
        if cycle % 10 == 0 and seen and seen[-1][0]:
            m, r = seen[random.randrange(len(seen))]
            if m:
                st, _, body = d.get("/v1/proof/consistency?old=%d&new=%d" % (m, size))
                if st != 404 and (st != 200 or not ghtest.verify_consistency(m, size, r, root, ghtest.parse_proof(body))):
                    problems.append("cycle %d: consistency proof %d -> %d failed (%d)" % (cycle, m, size, st))
        # let it run a random while, aiming at the append after a boundary half the time
        if random.random() < 0.5:
            now = time.time()
            wait = (1 - now % 1) + random.uniform(0, 0.04)
            if wait < 0.2:
                wait += 1
        else:
            wait = random.uniform(0.2, 1.3)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline - 0.15:
            try:
                c = d.checkpoint()
                o, s, r = ghtest.verify_checkpoint(c["note"], vkey)
                if not seen or seen[-1][0] != s:
                    recs = d.records(0, s) if s else []
                    if ghtest.merkle_root([ghtest.leaf_hash(x) for x in recs]) != r:
                        problems.append("cycle %d: live checkpoint %d does not match its records" % (cycle, s))
                    seen.append((s, r))
                    if s >= len(known):
                        known = recs
            except (OSError, RuntimeError, ValueError) as e:
                problems.append("cycle %d: live fetch failed: %r" % (cycle, e))
            time.sleep(0.1)
        time.sleep(max(0, deadline - time.monotonic()))
        d.kill9()
        cycles += 1
    # one last start: the ledger must still be accepted and consistent
    d.start(timeout=20)
    cp = d.checkpoint()
    o, size, root = ghtest.verify_checkpoint(cp["note"], vkey)
    raw = d.records(0, size)
    tap.ok(raw[:len(known)] == known and ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw]) == root,
           "after %d kill -9 cycles: every record seen is intact and the root matches" % cycles)
    kinds = [ghtest.decode_record(r)["kind"] for r in raw]
    tap.ok(kinds.count("start") == cycles + 1, "one start record per start (%d)" % kinds.count("start"))
    tap.ok(refused == 0, "the daemon never refused its own ledger")
    tap.ok(not problems, "no inconsistency in any cycle (%d checkpoints seen)" % len(seen), "\n".join(problems[:20]))
    tap.ok(cycles >= min(CYCLES, 60), "ran %d cycles in %.0f s" % (cycles, time.monotonic() - t_start))
    tap.ok(d.stop() == 0, "final clean stop")
    log = d.log_text()
    tap.diag("recoveries seen: %d torn tails cut, %d unsigned records signed at start, %d hash file rebuilds"
             % (log.count("torn tail"), log.count("durable records appended after"),
                log.count("rebuilt stored Merkle hashes")))


tap.run(main)
