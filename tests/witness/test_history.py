#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The witness's check-in history stays compact and bounded: a seeded
history of twenty years of check-ins is thinned exactly as
gpuhours-witness(8) documents (checked against an independent
implementation of the rule here), stays under the cap, keeps the newest
entries and the latest cosigned checkpoint's; a kill -9 during compaction
loses nothing acknowledged."""

import base64
import os
import random
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghtest  # noqa: E402
import wtest  # noqa: E402

# The rule, from gpuhours-witness(8).
KEEP_NEWEST = 2048
MINUTES_S = 7 * 86400
HOURS_S = 90 * 86400
CAP = 16384
COMPACT_EVERY = 1024

tap = ghtest.Tap()
T = {}
rng = random.Random(int(os.environ.get("GH_TEST_SEED", "8")))


def bucket(t, now):
    age = max(now - t, 0)
    if age < MINUTES_S:
        return (0, t // 60)
    if age < HOURS_S:
        return (1, t // 3600)
    return (2, t // 86400)


def expected(entries, now, pin):
    """entries: [(t, size, root)] in file order; pin: (size, root) of the latest cosigned."""
    n = len(entries)
    pin_idx = max((i for i, e in enumerate(entries) if (e[1], e[2]) == pin), default=None)
    kept = []
    for i, e in enumerate(entries):
        last = i == n - 1
        if last or i >= n - KEEP_NEWEST or i == pin_idx or bucket(e[0], now) != bucket(entries[i + 1][0], now):
            kept.append(i)
    if len(kept) > CAP:
        extra = len(kept) - CAP
        if pin_idx is not None and pin_idx in kept[:extra + 1]:
            kept = [pin_idx] + kept[extra + 1:]
        else:
            kept = kept[extra:]
    return [entries[i] for i in kept]


def hist_path(w, origin):
    return os.path.join(w.state_dir, "logs", wtest.hashlib.sha256(origin.encode()).hexdigest() + ".history")


def read_hist(path):
    out = []
    with open(path) as f:
        for line in f:
            t, size, root = line.rstrip("\n").split(" ")
            assert len(base64.b64decode(root, validate=True)) == 32
            out.append((int(t), int(size), root))
    return out


def write_hist(path, entries):
    with open(path, "w") as f:
        f.write("".join("%d %d %s\n" % e for e in entries))


def rand_root():
    return base64.b64encode(rng.randbytes(32)).decode()


def synthetic(now, spans):
    """[(start_age, end_age, step)] -> entries, oldest first, sizes counting up."""
    out = []
    size = 1
    for start, end, step in spans:
        t = now - start
        while t < now - end:
            out.append((t, size, rand_root()))
            size += 1
            t += step
    return out


def setup():
    tmp = ghtest.tmpdir("gh-whist-")
    T["tmp"] = tmp
    a = wtest.Log("lab.example/hist-a")
    T["a"] = a
    wtest.write_list(os.path.join(tmp, "logs.list"), [a])
    w = wtest.Witness(tmp)
    T["w"] = w
    w.start()
    a.grow(3)
    st, _, _ = w.add(a.body(0))
    tap.ok(st == 200, "first check-in", diag=st)
    T["old"] = 3


def push(w, a, n=1):
    a.grow(n)
    st, _, body = w.add(a.body(T["old"]))
    if st == 200:
        T["old"] = len(a.leaves)
    return st


def pin_of(a):
    return (len(a.leaves), a.text().split("\n")[2])


def thinning():
    """Twenty years of check-ins, seeded: one compaction gives exactly the documented result."""
    w, a = T["w"], T["a"]
    path = hist_path(w, a.origin)
    w.stop()
    real = read_hist(path)
    now = int(time.time())
    seed = synthetic(now, [(20 * 365 * 86400, 91 * 86400, 6 * 3600),   # every 6 h: one a day kept
                           (89 * 86400, 8 * 86400, 600),               # every 10 min: one an hour
                           (int(6.9 * 86400), 3600, 20)])             # every 20 s: one a minute
    write_hist(path, seed + real)
    w.start()
    t0 = int(time.time())
    st = push(w, a, 2)
    t1 = int(time.time())
    tap.ok(st == 200, "a check-in after the seeded history", diag=st)
    before = seed + real + [e for e in read_hist(path)[-1:]]
    got = read_hist(path)
    pin = pin_of(a)
    tap.diag("seeded %d entries; after the compaction %d" % (len(seed) + len(real) + 1, len(got)))
    # Without the cap the rule would keep more than CAP: the cap is exercised.
    tap.ok(len(got) <= CAP, "the history is under the cap (%d <= %d)" % (len(got), CAP))
    tap.ok(got[-1][1:] == pin, "the newest entry is the latest cosigned checkpoint", diag=got[-3:])
    tap.ok(got[-KEEP_NEWEST:] == before[-KEEP_NEWEST:], "the newest %d check-ins are all kept" % KEEP_NEWEST)
    ok = any(got == expected(before, now_c, pin) for now_c in range(t0, t1 + 1))
    tap.ok(ok, "the kept entries are exactly the documented rule's (minute/hour/day buckets, cap, "
           "oldest dropped first)", diag=(len(got), len(expected(before, t1, pin))))
    days = [e for e in got if t1 - e[0] >= HOURS_S]
    tap.ok(days and days[0][0] > before[0][0] + 86400,
           "the cap dropped the oldest daily entries first (oldest kept %d days old)"
           % ((t1 - days[0][0]) // 86400 if days else -1))
    tap.ok(os.path.getsize(path) < (CAP + COMPACT_EVERY) * 100, "about %d KB on disk" % (os.path.getsize(path) // 1024))
    # Every later check-in is kept, and the file stays bounded.
    for _ in range(40):
        push(w, a)
    got2 = read_hist(path)
    tap.ok(got2[:len(got)] == got and len(got2) == len(got) + 40 and got2[-1][1:] == pin_of(a),
           "40 more check-ins are all recorded", diag=(len(got), len(got2)))


def pin_survives():
    """The latest cosigned checkpoint's entry is kept even when more than the
    cap of newer lines follow it (check-ins whose store failed after the
    history line was written)."""
    w, a = T["w"], T["a"]
    path = hist_path(w, a.origin)
    w.stop()
    real = read_hist(path)
    pin = real[-1]
    assert pin[1:] == pin_of(a)
    now = int(time.time())
    after = [(now - 3600 + i // 10, 10**9 + i, rand_root()) for i in range(CAP + 500)]
    write_hist(path, real + after)
    w.start()
    st = push(w, a, 1)
    got = read_hist(path)
    tap.ok(st == 200 and pin in got and len(got) <= CAP,
           "the entry of the latest cosigned checkpoint survives %d newer entries (%d kept)"
           % (len(after), len(got)), diag=st)


def kill_during_compaction():
    """kill -9 while a large history is being compacted: the witness restarts,
    serves at least the last acknowledged checkpoint, and its history holds
    every acknowledged check-in and the stored checkpoint's entry."""
    w, a = T["w"], T["a"]
    path = hist_path(w, a.origin)
    acked = []  # history entries (size, root) of acknowledged check-ins
    outcomes = {"compacted": 0, "old file": 0}
    bad = []
    durations = []
    for rnd in range(7):
        w.stop() if w.proc and w.proc.poll() is None else None
        now = int(time.time())
        real = [e for e in read_hist(path) if e[0] > now - 1800]  # not the earlier rounds' seeds
        seed = synthetic(now, [(60 * 86400, 3600, 8)])  # ~650 k lines: a compaction that takes a while
        write_hist(path, seed + real)
        big = os.path.getsize(path)
        w.start()
        a.grow(1)
        body = a.body(T["old"])
        want = pin_of(a)
        res = {}

        def submit():
            try:
                res["st"] = w.add(body)[0]
            except OSError:
                res["st"] = None
        th = threading.Thread(target=submit)
        t_start = time.monotonic()
        th.start()
        if rnd == 0:
            th.join(120)  # the first round measures a whole compaction
            durations.append(time.monotonic() - t_start)
        else:
            time.sleep(rng.uniform(0.0, durations[0] * 1.1))
            w.kill9()
            th.join(30)
        if res.get("st") == 200:
            acked.append(want)
            T["old"] = want[0]
        if w.proc.poll() is not None:
            w.start()
        st, _, cp = w.latest(a.origin)
        size = int(cp.decode().split("\n")[1])
        root = cp.decode().split("\n")[2]
        hist = read_hist(path)
        keys = {e[1:] for e in hist}
        outcomes["compacted" if os.path.getsize(path) < big // 2 else "old file"] += 1
        if res.get("st") is None:
            outcomes["stored before the kill" if size == want[0] else "killed before the store"] = \
                outcomes.get("stored before the kill" if size == want[0] else "killed before the store", 0) + 1
        if size < acked[-1][0] or (size, root) not in keys or any(k not in keys for k in acked):
            bad.append((rnd, size, acked[-1], len(hist)))
        a.leaves = a.leaves[:size]  # continue from what the witness stored
        T["old"] = size
        tap.diag("round %d: answered %s, stored size %d, history %d lines" % (rnd, res.get("st"), size, len(hist)))
    tap.diag("compaction of %d lines took %.2f s; after the kills: %s" % (len(seed) + 1, durations[0], outcomes))
    tap.ok(not bad, "kill -9 during compaction: the acknowledged checkpoint and every acknowledged "
           "check-in survive, and the stored checkpoint's entry is in the history", diag=bad)
    w.stop()


tap.run(setup, thinning, pin_survives, kill_during_compaction)
