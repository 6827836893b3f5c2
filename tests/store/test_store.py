#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The evidence store: incremental audits equal cold ones on random ledgers
(findings, totals, JSON, reports), only new records are fetched, history
rewritten between two audits is FORK (ROLLBACK when shrunk), kill -9 during
an audit loses nothing, a corrupted store is refused, store export writes a
bundle that verifies, and hostile nodes (drip, a tree of 2^62) cannot hold
the auditor past --deadline. Nodes: ledgerserver.py on 127.0.0.1."""

import json
import os
import signal
import sqlite3
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ledgerserver  # noqa: E402
from ledgerserver import cltest, ghtest  # noqa: E402

tap = ghtest.Tap()
GEN = sys.argv[1]


def gen(tmp, seed, count, gpus, period=60):
    path = os.path.join(tmp, "ledger-%d-%d.bin" % (seed, count))
    subprocess.run([GEN, str(seed), str(count), str(gpus), str(period), path], check=True)
    return ghtest.split_frames(open(path, "rb").read())


def verify_doc(args, env):
    rc, out, err, _ = cltest.run(["verify", "--json"] + args, env)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return rc, doc, out + err


def strip_volatile(doc):
    """STALE and "generated" depend on 'now', "source" on how the node was named
    (URL or origin): drop them and nothing else."""
    if doc is None:
        return None
    doc = json.loads(json.dumps(doc))
    doc.pop("generated", None)
    for s in doc.get("sources", []):
        s.pop("source", None)
        s["findings"] = [f for f in s.get("findings", []) if f.get("kind") != "STALE"]
    return doc


def parse_json(text):
    try:
        return json.loads(text)
    except ValueError:
        return None


def store_rows(path, sql):
    con = sqlite3.connect(path)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def incremental_equals_cold(tmp):
    for seed in (1, 2, 3, 4, 5):
        recs = gen(tmp, seed, 400 + 37 * seed, 1 + seed % 4)
        node = ledgerserver.Node("seed%d.test/gpuhours" % seed, recs, page=50 + seed)
        srv = ledgerserver.LedgerServer([node])
        env = cltest.client_env(os.path.join(tmp, "inc%d" % seed))
        cold_env = cltest.client_env(os.path.join(tmp, "cold%d" % seed))
        url = srv.node_url(0)
        key = ["--key", node.key.vkey, "--min-page", "1"]
        db = os.path.join(tmp, "inc%d" % seed, "data", "gpuhours", "store.sqlite")
        # Audit boundaries that split events: between the two records of a gap, a counter
        # reset (driver reload), a restart or a reboot, so that the analysis resumed from
        # the saved state must judge them across two audits.
        _, full, _ = verify_doc(key + ["--no-state", "--no-store", url], cold_env)
        straddle = {}
        for f in (full or {"sources": [{}]})["sources"][0].get("findings", []):
            a, b = f.get("first_leaf"), f.get("last_leaf")
            if f["kind"] in ("TIME_GAP", "COUNTER_RESET", "RESTART_UNCLEAN", "REBOOT",
                             "ENERGY_UNACCOUNTED") and a is not None and b is not None and \
                    a < b and f["kind"] not in straddle:
                straddle[f["kind"]] = b
        node.size = len(recs)
        sizes = sorted({1, 2, 3, 60 + seed, 61 + seed, 200, 333, len(recs)} |
                       set(straddle.values()))
        same = True
        fetched_only_new = True
        no_proof = True  # the new records extend the stored border to the signed root
        resumed = True
        diag = "events split by an audit boundary (kind: first size after it): %r\n" % straddle
        prev = 0
        try:
            for n in sizes:
                node.size = n
                node.starts = []
                node.proof_reqs = []
                rc_i, doc_i, text_i = verify_doc(key + [url], env)
                starts = list(node.starts)
                if node.proof_reqs:
                    no_proof = False
                    diag += "size %d: consistency proofs asked %r\n" % (n, node.proof_reqs)
                # The state was saved with the records, and the next audit resumes from it.
                saved = store_rows(db, "SELECT size FROM astate")
                if saved != [(n,)] or "re-analysing" in text_i:
                    resumed = False
                    diag += "size %d: saved analysis state %r\n%s\n" % (n, saved, text_i[-500:])
                rc_c, doc_c, text_c = verify_doc(key + ["--no-state", "--no-store", url],
                                                 cold_env)
                if rc_i != rc_c or strip_volatile(doc_i) != strip_volatile(doc_c) or \
                        doc_i is None:
                    same = False
                    diag += "size %d: incremental exit %d, cold exit %d\n%s\n%s\n" % (
                        n, rc_i, rc_c, text_i[-1500:], text_c[-1500:])
                if prev and starts and min(starts) < prev:
                    fetched_only_new = False
                    diag += "size %d: fetched from %d, stored %d\n" % (n, min(starts), prev)
                prev = n
            # Report by day, month and gpu: store-backed online, offline and cold agree.
            for by in ("day", "month", "gpu"):
                a = cltest.run(["report", "--by", by, "--format", "json"] + key + [url], env)
                b = cltest.run(["report", "--by", by, "--format", "json", "--offline"] + key +
                               [node.origin], env)
                c = cltest.run(["report", "--by", by, "--format", "json", "--no-state",
                                "--no-store"] + key + [url], cold_env)
                ja, jb, jc = (strip_volatile(parse_json(x[1])) for x in (a, b, c))
                if ja is None or not (ja == jb == jc) or a[0] != c[0]:
                    same = False
                    diag += "report --by %s differs:\n%s\n%s\n%s\n" % (by, a[1][-800:],
                                                                       b[1][-800:], c[1][-800:])
            rc_o, doc_o, text_o = verify_doc(["--offline"] + key + [node.origin], env)
            rc_c, doc_c, _ = verify_doc(key + ["--no-state", "--no-store", url], cold_env)
            doc_o = strip_volatile(doc_o)
            doc_c = strip_volatile(doc_c)
            # Offline has no 'now', so no STALE either; everything else is the same.
            if rc_o > 1 or doc_o != doc_c:
                same = False
                diag += "offline differs: %s\n" % text_o[-1500:]
        finally:
            srv.close()
        tap.ok(same, "seed %d (%d records, audits at %s): incremental = cold = offline "
               "(exit, findings, totals, JSON, reports)" % (seed, len(recs), sizes), diag=diag)
        tap.ok(fetched_only_new, "seed %d: each incremental audit fetched only records after "
               "the stored size" % seed, diag=diag)
        tap.ok(no_proof, "seed %d: no incremental audit of the grown node asked for a "
               "consistency proof (its new records prove it)" % seed, diag=diag)
        tap.ok(resumed and len(straddle) >= 2,
               "seed %d: every audit saved the analysis state and the next resumed from it, "
               "across %s" % (seed, ", ".join(sorted(straddle)) or "no events"), diag=diag)


def fork_and_rollback(tmp):
    recs = gen(tmp, 7, 300, 2)
    other = gen(tmp, 8, 300, 2)
    node = ledgerserver.Node("fork.test/gpuhours", recs, page=100)
    srv = ledgerserver.LedgerServer([node])
    env = cltest.client_env(os.path.join(tmp, "fork"))
    key = ["--key", node.key.vkey, "--min-page", "1"]
    url = srv.node_url(0)
    statedir = os.path.join(tmp, "fork", "state", "gpuhours", "checkpoints")
    try:
        node.size = 150
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        tap.ok(rc in (0, 1), "fork: first audit of 150 records (exit %d)" % rc, diag=out + err)
        # Rewrite history: record 10 replaced, the tree grown to 200 and signed anew.
        node.set_records(recs[:10] + [other[10]] + recs[11:])
        node.size = 200
        # The state file would catch it too: remove it, so only the store decides.
        for f in os.listdir(statedir):
            os.unlink(os.path.join(statedir, f))
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        # The new records do not extend the stored border to the signed root: the
        # node's consistency proof (fetched only then) tells FORK from ROOT_MISMATCH.
        tap.ok(rc == 2 and "FORK" in out + err and "ROOT_MISMATCH" not in out + err and
               "consistency proof from the checkpoint verified before (size 150) to size 200 "
               "does not verify" in out + err,
               "history rewritten between two incremental audits: FORK by the node's "
               "consistency proof, exit %d" % rc, diag=out + err)
        rows = store_rows(os.path.join(tmp, "fork", "data", "gpuhours", "store.sqlite"),
                          "SELECT size FROM origin")
        tap.ok(rows == [(150,)], "the forked audit recorded nothing (store size %s)" % rows)
        db = os.path.join(tmp, "fork", "data", "gpuhours", "store.sqlite")

        def forget(kind):
            """The fork evidence the last audit left (kind, sizes 150 and the node's),
            then store forget-fork: the next audit is judged afresh."""
            ev = store_rows(db, "SELECT kind, note_a, note_b FROM fork")
            sizes = [int(n.split("\n")[1]) for n in ev[0][1:]] if len(ev) == 1 else None
            tap.ok(len(ev) == 1 and ev[0][0] == kind and sizes == [150, node.size],
                   "%s evidence recorded with both notes (sizes %s)" % (kind, sizes))
            rc, out, err, _ = cltest.run(["store", "forget-fork", node.origin], env)
            tap.ok(rc == 0 and store_rows(db, "SELECT count(*) FROM fork") == [(0,)],
                   "store forget-fork clears it (exit %d)" % rc, diag=out + err)
        forget("FORK")
        # Same size, different root.
        node.size = 150
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        tap.ok(rc == 2 and "FORK" in out + err and "evidence store" in out + err,
               "same size, another root: FORK, exit %d" % rc, diag=out + err)
        forget("FORK")
        node.set_records(recs)
        node.size = 100
        for f in os.listdir(statedir):
            os.unlink(os.path.join(statedir, f))
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        tap.ok(rc == 2 and "ROLLBACK" in out + err, "tree shrunk below the stored size: "
               "ROLLBACK, exit %d" % rc, diag=out + err)
        forget("ROLLBACK")
        node.size = 300
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        tap.ok(rc in (0, 1), "the honest history grows on: verified (exit %d)" % rc,
               diag=out + err)
    finally:
        srv.close()


def forge_state(con):
    """Change a digit of the first TIME_GAP's detail in the saved analysis state and recompute
    its checksum (client/store.h); returns the forged detail's number, or None."""
    import hashlib
    oid, size, nwins, chain, data = con.execute(
        "SELECT origin, size, nwins, wchain, data FROM astate").fetchone()
    root = con.execute("SELECT root FROM origin WHERE id = ?", (oid,)).fetchone()[0]
    data = bytearray(data)
    at = data.find(b" s unobserved")
    if at < 0:
        return None
    num = bytes(data[at - 5:at])  # "d.ddd"
    data[at - 5] = ord("7") if data[at - 5] != ord("7") else ord("8")
    h = hashlib.sha256(b"gpuhours analyzer state v1\0" + struct.pack("<QQ", oid, size) + root +
                       struct.pack("<Q", nwins) + chain + bytes(data)).digest()
    con.execute("UPDATE astate SET data = ?, hash = ?", (bytes(data), h))
    return (bytes(data[at - 5:at]) + b" s unobserved").decode() if num else None


def kill9_and_corruption(tmp):
    recs = gen(tmp, 9, 2000, 4)
    node = ledgerserver.Node("crash.test/gpuhours", recs, page=100)
    srv = ledgerserver.LedgerServer([node])
    home = os.path.join(tmp, "crash")
    env = cltest.client_env(home)
    db = os.path.join(home, "data", "gpuhours", "store.sqlite")
    key = ["--key", node.key.vkey, "--min-page", "1"]
    url = srv.node_url(0)
    try:
        node.size = 500
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        tap.ok(rc in (0, 1), "crash: first audit of 500 records (exit %d)" % rc, diag=out + err)
        node.size = 2000
        node.delay = 0.3
        p = subprocess.Popen([ghtest.client_bin(), "verify"] + key + [url], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        staged = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            try:
                staged = store_rows(db, "SELECT coalesce(sum(n), 0) FROM stage")[0][0]
            except sqlite3.Error:
                staged = 0
            if staged >= 300:
                break
            time.sleep(0.05)
        p.send_signal(signal.SIGKILL)
        p.wait()
        tap.ok(staged >= 300, "kill -9 with %d records staged mid-audit" % staged)
        node.delay = 0
        rc, out, err, _ = cltest.run(["store", "verify"] + key[:2], env)
        tap.ok(rc == 0 and "ok crash.test/gpuhours: 500 records" in out and
               "interrupted audit ignored" in out,
               "after kill -9: store verify passes, 500 verified records, staged ones ignored "
               "(exit %d)" % rc, diag=out + err)
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        tap.ok(rc in (0, 1), "re-audit after the crash completes (exit %d)" % rc, diag=out + err)
        rc, out, err, _ = cltest.run(["store", "verify"] + key[:2], env)
        tap.ok(rc == 0 and "2000 records" in out and "interrupted" not in out,
               "store verify after the re-audit: 2000 records, nothing staged", diag=out + err)

        # Export: a standard bundle that verifies like the node.
        bundle = os.path.join(tmp, "export.bundle")
        rc, out, err, _ = cltest.run(["store", "export", node.origin, "-o", bundle] + key[:2],
                                     env)
        rc_b, doc_b, text_b = verify_doc(key + ["--no-state", "--no-store", bundle], env)
        rc_n, doc_n, _ = verify_doc(key + ["--no-state", "--no-store", url], env)
        tap.ok(rc == 0 and rc_b in (0, 1) and doc_b and doc_b["sources"][0]["tree_size"] == 2000,
               "store export writes a bundle that verifies (exit %d, %d)" % (rc, rc_b),
               diag=out + err + text_b[-800:])

        good = open(db, "rb").read()
        cases = [
            ("a byte of a stored record", "UPDATE pagedata SET data = "
             "substr(data, 1, 40) || char((unicode(substr(data, 41, 1)) + 1) % 256) || "
             "substr(data, 42) WHERE id = (SELECT blob FROM page ORDER BY key LIMIT 1 OFFSET 1)"),
            ("a byte of the border", "UPDATE origin SET border = "
             "x'00' || substr(border, 2)"),
            ("a byte of the latest checkpoint note", "UPDATE origin SET note = "
             "replace(note, '2000', '2001')"),
            ("an older stored checkpoint's note", "UPDATE checkpoint SET root = "
             "zeroblob(32) WHERE size = 500"),
            ("a missing page", "DELETE FROM page WHERE key = "
             "(SELECT key FROM page ORDER BY key LIMIT 1 OFFSET 1)"),
            ("a page's bytes missing", "DELETE FROM pagedata WHERE id = "
             "(SELECT blob FROM page ORDER BY key LIMIT 1 OFFSET 2)"),
            ("a page holding one record fewer than it says", "UPDATE page SET n = n + 1 "
             "WHERE key = (SELECT key FROM page ORDER BY key LIMIT 1 OFFSET 1)"),
            ("a page cut short", "UPDATE pagedata SET data = substr(data, 1, length(data) - 3) "
             "WHERE id = (SELECT blob FROM page ORDER BY key LIMIT 1)"),
            ("overlapping pages", "UPDATE page SET key = key - 1 "
             "WHERE key = (SELECT key FROM page ORDER BY key LIMIT 1 OFFSET 1)"),
            ("a hole between pages", "UPDATE page SET key = key + 1 "
             "WHERE key = (SELECT key FROM page ORDER BY key LIMIT 1 OFFSET 1)"),
            ("a page past the verified size", "INSERT INTO page(key, n, blob) SELECT "
             "(SELECT max(key + n) FROM page), n, blob FROM page ORDER BY key LIMIT 1"),
            ("a byte of the saved analysis state", "UPDATE astate SET data = "
             "substr(data, 1, 60) || x'5a' || substr(data, 62)"),
            ("a saved window", "UPDATE awin SET data = zeroblob(48) || substr(data, 49) "
             "WHERE key = (SELECT min(key) FROM awin)"),
            ("the saved analysis state, forged with a matching checksum", None),
        ]
        for what, sql in cases:
            with open(db, "wb") as f:
                f.write(good)
            for ext in ("-wal", "-shm"):
                if os.path.exists(db + ext):
                    os.unlink(db + ext)
            con = sqlite3.connect(db)
            if sql:
                con.execute(sql)
            else:
                forged = forge_state(con)
            con.commit()
            con.close()
            rc, out, err, _ = cltest.run(["store", "verify"] + key[:2], env)
            tap.ok(rc == 2 and "DAMAGED crash.test/gpuhours" in out,
                   "corrupted store (%s): store verify exit %d, DAMAGED" % (what, rc),
                   diag=out + err)
            if sql and "analysis state" in what:
                # An audit does not trust it: it says so and re-analyses the stored records.
                rc_o, doc_o, text_o = verify_doc(["--offline"] + key + [node.origin], env)
                tap.ok(rc_o in (0, 1) and "re-analysing" in text_o and
                       strip_volatile(doc_o) == strip_volatile(doc_n),
                       "corrupted store (%s): --offline names it and re-analyses the records "
                       "(the result equals the node's)" % what, diag=text_o[-1500:])
            if not sql:
                # The checksum cannot tell a forgery by someone who can write the store: an
                # audit resumes from it (what shows the resumed path is live); store verify,
                # which re-derives the state from the signed records, does not accept it.
                rc_o, _, text_o = verify_doc(["--offline"] + key + [node.origin], env)
                tap.ok(forged and forged in text_o and "unobserved" in out + err + text_o and
                       "differs from the analysis of the stored records" in out,
                       "forged analysis state: store verify re-derives it and says so",
                       diag=out + err + text_o[-800:])
        # The tables against each other (store-wide, whatever origins are named): rows no
        # page accounts for, pages pointing at nothing, rows of an origin not in the store.
        other = "(SELECT max(id) + 1 FROM origin)"
        wide = [
            ("an orphaned pagedata row", "INSERT INTO pagedata(id, data) VALUES "
             "((SELECT max(id) + 1 FROM pagedata), x'00')",
             "1 pagedata rows that no page and no staged page references"),
            ("a committed page's pagedata also staged", "INSERT INTO stage(sid, first, origin, "
             "run, n, blob) SELECT 7, 0, (SELECT id FROM origin), 7, n, blob FROM page "
             "ORDER BY key LIMIT 1", "1 pagedata rows referenced by more than one page"),
            ("a staged page without its pagedata", "INSERT INTO stage(sid, first, origin, run, "
             "n, blob) VALUES (7, 0, (SELECT id FROM origin), 7, 1, "
             "(SELECT max(id) + 1 FROM pagedata))", "1 staged pages whose pagedata row is missing"),
            ("a page of an origin not in the store", "INSERT INTO pagedata(id, data) SELECT "
             "(SELECT max(id) + 1 FROM pagedata), data FROM pagedata LIMIT 1; "
             "INSERT INTO page(key, n, blob) SELECT (%s << 40), n, (SELECT max(id) FROM "
             "pagedata) FROM page ORDER BY key LIMIT 1" % other,
             "1 pages of an origin that is not in the store"),
            ("a checkpoint of an origin not in the store", "INSERT INTO checkpoint SELECT "
             "%s, size, root, note, verified_ns FROM checkpoint LIMIT 1" % other,
             "1 checkpoints of an origin that is not in the store"),
            ("a saved analyzer window of an origin not in the store", "INSERT INTO awin(key, "
             "data) SELECT (%s << 40), data FROM awin LIMIT 1" % other,
             "1 saved analyzer windows of an origin that is not in the store"),
        ]
        for what, sql, line in wide:
            with open(db, "wb") as f:
                f.write(good)
            for ext in ("-wal", "-shm"):
                if os.path.exists(db + ext):
                    os.unlink(db + ext)
            con = sqlite3.connect(db)
            con.executescript(sql)
            con.commit()
            con.close()
            for named in ([], [node.origin]):
                rc, out, err, _ = cltest.run(["store", "verify"] + key[:2] + named, env)
                tap.ok(rc == 2 and out.count("DAMAGED store ") == 1 and line in out and
                       "1 inconsistency between its tables" in out,
                       "store verify%s, %s: exit %d, one DAMAGED store line" % (
                           " ORIGIN" if named else "", what, rc), diag=out + err)
        with open(db, "wb") as f:
            f.write(good)
        for ext in ("-wal", "-shm"):
            if os.path.exists(db + ext):
                os.unlink(db + ext)
        rc, out, err, _ = cltest.run(["store", "verify"] + key[:2], env)
        tap.ok(rc == 0 and "DAMAGED" not in out, "the intact store again: store verify exit %d"
               % rc, diag=out + err)

        # The border or note damaged: audits refuse the store instead of trusting it.
        with open(db, "wb") as f:
            f.write(good)
        con = sqlite3.connect(db)
        con.execute(cases[1][1])
        con.commit()
        con.close()
        rc, out, err, _ = cltest.run(["verify"] + key + [url], env)
        rc2, out2, err2, _ = cltest.run(["verify", "--offline"] + key + [node.origin], env)
        tap.ok(rc == 3 and rc2 == 3 and "refusing" in out + err and "refusing" in out2 + err2,
               "damaged border: online and --offline audits refuse the store (exit %d, %d)" %
               (rc, rc2), diag=out + err + out2 + err2)
    finally:
        srv.close()


def hostile_deadlines(tmp):
    recs = gen(tmp, 11, 400, 1)
    drip = ledgerserver.Node("drip.test/gpuhours", recs)
    drip.mode = "drip"
    huge = ledgerserver.Node("huge.test/gpuhours", recs)
    huge.mode = "huge"
    srv = ledgerserver.LedgerServer([drip, huge])
    env = cltest.client_env(os.path.join(tmp, "hostile"))
    try:
        for node, i in ((drip, 0), (huge, 1)):
            args = ["verify", "--key", node.key.vkey, srv.node_url(i)]
            rc, out, err, secs = cltest.run(args, env, timeout=60)
            tap.ok(rc == 3 and "--min-page" in out + err and secs < 10,
                   "%s: a short page is refused (exit %d in %.1f s)" % (node.origin, rc, secs),
                   diag=out + err)
            rc, out, err, secs = cltest.run(args + ["--min-page", "1", "--deadline", "3",
                                                    "--timeout", "2"], env, timeout=60)
            tap.ok(rc == 3 and "deadline" in out + err and secs < 3 + 2 + 3,
                   "%s with --min-page 1: stopped by --deadline 3 (exit %d in %.1f s)" %
                   (node.origin, rc, secs), diag=out + err)
        rows = store_rows(os.path.join(tmp, "hostile", "data", "gpuhours", "store.sqlite"),
                          "SELECT (SELECT count(*) FROM page) + (SELECT count(*) FROM stage) + "
                          "(SELECT count(*) FROM pagedata)")
        tap.ok(rows == [(0,)], "nothing of the hostile nodes stays in the store (%s)" % rows)
    finally:
        srv.close()


def fleet_file(tmp):
    """--fleet with the store: 40 nodes (one unreachable, one forked), the summary line,
    the progress bar only on a terminal, and a warm second audit."""
    import pty
    recs = gen(tmp, 12, 120, 2)
    nodes = [ledgerserver.Node("f%02d.test/gpuhours" % i, recs, page=60) for i in range(40)]
    srv = ledgerserver.LedgerServer(nodes)
    env = cltest.client_env(os.path.join(tmp, "fleet"))
    fleet = os.path.join(tmp, "fleet.txt")
    dead = "http://127.0.0.1:%d" % ghtest.free_port()
    with open(fleet, "w") as f:
        f.write("# test fleet\n")
        for i, n in enumerate(nodes[:-1]):
            f.write("%s %s\n" % (srv.node_url(i), n.key.vkey))
        f.write("%s %s\n" % (dead, nodes[-1].key.vkey))
    try:
        rc, out, err, secs = cltest.run(["verify", "--fleet", fleet, "--min-page", "1",
                                         "--timeout", "2"], env, timeout=120)
        tap.ok(rc == 3 and "40 sources: 0 verified, 39 with findings, 0 failed integrity, "
               "1 unreachable or incomplete" in err and "\r" not in err,
               "--fleet: summary line, no progress bar without a terminal (exit %d, %.1f s)" %
               (rc, secs), diag=err[-1500:])
        node_starts = [list(n.starts) for n in nodes]
        for n in nodes:
            n.starts = []
            n.size = 120
        nodes[3].set_records(gen(tmp, 13, 120, 2))
        rc, out, err, secs = cltest.run(["verify", "--fleet", fleet, "--min-page", "1",
                                         "--timeout", "2"], env, timeout=120)
        tap.ok(rc == 3 and "38 with findings, 1 failed integrity, 1 unreachable" in err and
               "FORK" in out and all(not n.starts for n in nodes[:3]),
               "second --fleet audit: nothing new fetched, the rewritten node is FORK",
               diag=err[-800:] + str(node_starts[:2]))
        pid, fd = pty.fork()
        if pid == 0:
            os.execve(ghtest.client_bin(), [ghtest.client_bin(), "verify", "--no-state",
                                            "--min-page", "1", "--timeout", "2",
                                            "--fleet", fleet], env)
        text = b""
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            text += chunk
        os.waitpid(pid, 0)
        t = text.decode("utf-8", "replace")
        tap.ok("/40 nodes" in t and "records/s" in t and "\r" in t,
               "on a terminal: a progress bar with nodes done/total and records/s",
               diag=t[-600:])
    finally:
        srv.close()

def staged_state(tmp):
    """A large analysis state is staged in the store when its node completes, not kept
    in memory until the run's commit (which waits for every source): kill -9 while it
    waits leaves nothing committed, and the next audit drops the staged row and saves
    a state that resumes like a cold audit."""
    big = ledgerserver.Node("stagebig.test/gpuhours", gen(tmp, 21, 3000, 2, period=300),
                            page=1000)
    slow = ledgerserver.Node("stageslow.test/gpuhours", gen(tmp, 22, 60, 1), page=10)
    srv = ledgerserver.LedgerServer([big, slow])
    home = os.path.join(tmp, "stage")
    env = cltest.client_env(home)
    db = os.path.join(home, "data", "gpuhours", "store.sqlite")
    fleet = os.path.join(tmp, "stage-fleet.txt")
    with open(fleet, "w") as f:
        f.write("%s %s\n%s %s\n" % (srv.node_url(0), big.key.vkey, srv.node_url(1),
                                      slow.key.vkey))
    args = ["verify", "--fleet", fleet, "--min-page", "1"]
    try:
        slow.delay = 0.5
        p = subprocess.Popen([ghtest.client_bin()] + args, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        staged = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None:
            try:
                staged = store_rows(db, "SELECT o.name, s.size, s.nwins FROM astage s "
                                        "JOIN origin o ON o.id = s.origin")
            except sqlite3.Error:
                staged = []
            if staged:
                break
            time.sleep(0.05)
        running = p.poll() is None
        p.send_signal(signal.SIGKILL)
        p.wait()
        saved = store_rows(db, "SELECT count(*) FROM astate")[0][0]
        sizes = store_rows(db, "SELECT name, size FROM origin ORDER BY name")
        tap.ok(running and len(staged) == 1 and staged[0][:2] == (big.origin, 3000) and
               staged[0][2] >= 1000 and saved == 0 and
               all(size == 0 for _, size in sizes),
               "the completed node's state is staged while the run waits for a slow source; "
               "after kill -9 nothing is committed", diag="%r %r %r" % (staged, saved, sizes))
        slow.delay = 0
        rc, out, err, _ = cltest.run(["store", "verify", "--key", big.key.vkey, "--key",
                                      slow.key.vkey], env)
        tap.ok(rc == 0, "store verify passes after the kill (exit %d)" % rc, diag=out + err)
        rc, out, err, _ = cltest.run(args, env, timeout=120)
        left = store_rows(db, "SELECT count(*) FROM astage")[0][0]
        saved = store_rows(db, "SELECT o.name, a.size FROM astate a JOIN origin o "
                               "ON o.id = a.origin ORDER BY o.name")
        tap.ok(rc in (0, 1) and left == 0 and
               saved == [(big.origin, 3000), (slow.origin, 60)],
               "the re-audit commits both states and leaves nothing staged (exit %d)" % rc,
               diag="%r %r\n%s" % (left, saved, err[-800:]))
        big.size = 3000
        key = ["--key", big.key.vkey, "--min-page", "1"]
        rc_i, doc_i, text_i = verify_doc(key + [srv.node_url(0)], env)
        rc_c, doc_c, _ = verify_doc(key + ["--no-state", "--no-store", srv.node_url(0)],
                                    cltest.client_env(os.path.join(tmp, "stage-cold")))
        tap.ok(doc_i is not None and rc_i == rc_c and "re-analysing" not in text_i and
               strip_volatile(doc_i) == strip_volatile(doc_c),
               "an audit resumed from the state staged then committed equals a cold audit",
               diag=text_i[-1200:])
        # Another gpuhours drops the staged state before the commit: not recorded.
        home2 = os.path.join(tmp, "stage2")
        env2 = cltest.client_env(home2)
        db2 = os.path.join(home2, "data", "gpuhours", "store.sqlite")
        slow.delay = 0.5
        p = subprocess.Popen([ghtest.client_bin()] + args, env=env2,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        dropped = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and p.poll() is None and not dropped:
            try:
                con = sqlite3.connect(db2, timeout=10)
                try:
                    dropped = con.execute("DELETE FROM astage").rowcount
                    con.commit()
                finally:
                    con.close()
            except sqlite3.Error:
                dropped = 0
            time.sleep(0.05)
        err2 = p.communicate(timeout=120)[1].decode("utf-8", "replace")
        slow.delay = 0
        sizes = store_rows(db2, "SELECT name, size FROM origin ORDER BY name")
        tap.ok(dropped == 1 and "stagebig.test" not in str(store_rows(
                   db2, "SELECT o.name FROM astate a JOIN origin o ON o.id = a.origin")) and
               sizes == [(big.origin, 0), (slow.origin, 60)] and
               "the staged analysis state is gone" in err2,
               "a staged state dropped before the commit: that audit is not recorded, the "
               "other is", diag="%r %r\n%s" % (dropped, sizes, err2[-800:]))
        rc, out, err, _ = cltest.run(["store", "verify", "--key", big.key.vkey, "--key",
                                      slow.key.vkey], env)
        tap.ok(rc == 0 and "interrupted" not in out,
               "store verify passes after the re-audit (exit %d)" % rc, diag=out + err)
    finally:
        srv.close()


def to_v1(db, staged_extra=True, drop_leaf=None):
    """Rewrites a store in place to the schema version 1 layout (one row per record,
    key = origin id * 2^40 + leaf), as the gpuhours before pages wrote it; with a row
    staged past the size (an interrupted audit) and, drop_leaf, one record missing."""
    con = sqlite3.connect(db)
    try:
        con.execute("CREATE TABLE record (key INTEGER PRIMARY KEY, data BLOB NOT NULL)")
        rows = con.execute("SELECT p.key, p.n, d.data FROM page p JOIN pagedata d "
                           "ON d.id = p.blob ORDER BY p.key").fetchall()
        n = 0
        for key, count, data in rows:
            recs = ghtest.split_frames(bytes(data))
            assert len(recs) == count
            for i, r in enumerate(recs):
                if key + i != drop_leaf:
                    con.execute("INSERT INTO record VALUES (?, ?)", (key + i, r))
                n += 1
        if staged_extra:
            for oid, size in con.execute("SELECT id, size FROM origin").fetchall():
                con.execute("INSERT INTO record VALUES (?, ?)", ((oid << 40) + size + 5,
                                                                 b"\x01staged"))
        con.execute("DROP TABLE page")
        con.execute("DROP TABLE pagedata")
        con.execute("DROP TABLE stage")
        con.execute("DROP TABLE astage")
        con.execute("CREATE TABLE astage (sid INTEGER PRIMARY KEY, origin INTEGER NOT NULL "
                    "REFERENCES origin(id), size INTEGER NOT NULL, root BLOB NOT NULL, first "
                    "INTEGER NOT NULL, nwins INTEGER NOT NULL, wchain BLOB NOT NULL, hash BLOB "
                    "NOT NULL, data BLOB NOT NULL, wins BLOB NOT NULL)")
        con.execute("PRAGMA user_version=1")
        con.commit()
        return n
    finally:
        con.close()


def migrate_v1(tmp):
    """A version-1 store (one row per record) is migrated in place on open: store verify
    re-checks it, --offline reports from it as before, and a record missing from it is
    named, not trusted."""
    recs = gen(tmp, 31, 1500, 2)
    node = ledgerserver.Node("migrate.test/gpuhours", recs, page=100)
    srv = ledgerserver.LedgerServer([node])
    home = os.path.join(tmp, "migrate")
    env = cltest.client_env(home)
    db = os.path.join(home, "data", "gpuhours", "store.sqlite")
    key = ["--key", node.key.vkey, "--min-page", "1"]
    try:
        node.size = 700
        rc, out, err, _ = cltest.run(["verify"] + key + [srv.node_url(0)], env)
        node.size = 1500
        rc, out, err, _ = cltest.run(["verify"] + key + [srv.node_url(0)], env)
        tap.ok(rc in (0, 1), "migrate: two audits into a new store (exit %d)" % rc,
               diag=out + err)
        want_doc = verify_doc(["--offline"] + key + [node.origin], env)[1]
        good = open(db, "rb").read()
        n = to_v1(db)
        tap.ok(n == 1500 and store_rows(db, "PRAGMA user_version") == [(1,)],
               "migrate: the store rewritten to the version 1 layout (%d records)" % n)
        rc, out, err, _ = cltest.run(["store", "verify"] + key[:2], env)
        version = store_rows(db, "PRAGMA user_version")
        tables = [t for (t,) in store_rows(db, "SELECT name FROM sqlite_master WHERE "
                                               "type = 'table' ORDER BY name")]
        pages = store_rows(db, "SELECT count(*), sum(n) FROM page")[0]
        tap.ok(rc == 0 and "ok migrate.test/gpuhours: 1500 records, 2 checkpoints" in out and
               "interrupted" not in out and version == [(3,)] and "record" not in tables and
               "fork" in tables and
               pages[1] == 1500 and 1 < pages[0] < 100,
               "migrate: opened by this gpuhours, migrated to version 3 (%r pages), store "
               "verify passes" % (pages,), diag=out + err + str(tables))
        rc_o, doc_o, text_o = verify_doc(["--offline"] + key + [node.origin], env)
        tap.ok(rc_o in (0, 1) and doc_o is not None and
               strip_volatile(doc_o) == strip_volatile(want_doc),
               "migrate: --offline from the migrated store equals it before", diag=text_o[-800:])
        a = cltest.run(["report", "--by", "day", "--format", "json", "--offline"] + key +
                       [node.origin], env)
        tap.ok(a[0] in (0, 1) and parse_json(a[1]) is not None,
               "migrate: report --offline from the migrated store", diag=a[1][-300:] + a[2])
        # A damaged version-1 store stays damaged: the missing record is named.
        with open(db, "wb") as f:
            f.write(good)
        for ext in ("-wal", "-shm"):
            if os.path.exists(db + ext):
                os.unlink(db + ext)
        oid = store_rows(db, "SELECT id FROM origin")[0][0]
        to_v1(db, drop_leaf=(oid << 40) + 1000)
        rc, out, err, _ = cltest.run(["store", "verify"] + key[:2], env)
        rc_e, out_e, err_e, _ = cltest.run(["store", "export", node.origin, "-o",
                                            os.path.join(tmp, "migrate.bundle")] + key[:2], env)
        tap.ok(rc == 2 and "DAMAGED migrate.test/gpuhours" in out and "record 1000" in out and
               rc_e == 2 and "record 1000" in err_e,
               "migrate: a version-1 store missing a record is DAMAGED after the migration, "
               "store export refuses it (exit %d, %d)" % (rc, rc_e), diag=out + err + err_e)
    finally:
        srv.close()


def twin_sources(tmp):
    """Two sources of one origin in one run stage apart: the larger is recorded when both
    verify as one history, the one that verifies when the other fails."""
    recs = gen(tmp, 41, 800, 2)
    a = ledgerserver.Node("twin.test/gpuhours", recs, seed=b"t" * 32, page=100)
    b = ledgerserver.Node("twin.test/gpuhours", None, seed=b"t" * 32, page=100,
                          ledger=a.ledger)
    srv = ledgerserver.LedgerServer([a, b], ports=2)
    key = ["--key", a.key.vkey, "--min-page", "1"]
    try:
        for i, order in enumerate(((0, 1), (1, 0))):
            home = os.path.join(tmp, "twin%d" % i)
            env = cltest.client_env(home)
            db = os.path.join(home, "data", "gpuhours", "store.sqlite")
            a.size, b.size = 800, 450
            rc, out, err, _ = cltest.run(["verify"] + key + [srv.node_url(j) for j in order],
                                         env, timeout=120)
            sizes = store_rows(db, "SELECT name, size FROM origin")
            staged = store_rows(db, "SELECT count(*) FROM stage")[0][0]
            rc2, out2, err2, _ = cltest.run(["store", "verify"] + key[:2], env)
            tap.ok(rc in (0, 1) and sizes == [(a.origin, 800)] and staged == 0 and rc2 == 0 and
                   "ok twin.test/gpuhours: 800 records" in out2,
                   "two sources of one origin (sizes 800 and 450, order %r): the larger is "
                   "recorded, nothing left staged" % (order,),
                   diag="%r %r\n%s%s%s" % (sizes, staged, err[-800:], out2, err2))
        # The larger source fails (its pages never come): the smaller one is recorded.
        home = os.path.join(tmp, "twin-fail")
        env = cltest.client_env(home)
        db = os.path.join(home, "data", "gpuhours", "store.sqlite")
        a.size, b.size = 800, 450
        a.delay = 3
        rc, out, err, _ = cltest.run(["verify"] + key + ["--deadline", "2", "--timeout", "5",
                                                         srv.node_url(0), srv.node_url(1)],
                                     env, timeout=120)
        a.delay = 0
        sizes = store_rows(db, "SELECT name, size FROM origin")
        staged = store_rows(db, "SELECT count(*) FROM stage")[0][0]
        tap.ok(rc == 3 and sizes == [(a.origin, 450)] and staged == 0,
               "two sources of one origin, the larger fails: the one that verifies is recorded "
               "(exit %d)" % rc, diag="%r %r\n%s" % (sizes, staged, out[-600:] + err[-800:]))
    finally:
        srv.close()


def main():
    tmp = ghtest.tmpdir("gh-store-")
    tap.run(lambda: incremental_equals_cold(tmp), lambda: fork_and_rollback(tmp),
            lambda: kill9_and_corruption(tmp), lambda: hostile_deadlines(tmp),
            lambda: fleet_file(tmp), lambda: staged_state(tmp), lambda: migrate_v1(tmp),
            lambda: twin_sources(tmp))


if __name__ == "__main__":
    main()
