#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhours-witness against C2SP tlog-witness: every status code in the
spec's order, cosignatures checked with PyNaCl, the monitoring endpoint,
/metrics, SIGHUP (a log is never forgotten), kill -9 crash safety (no
acknowledged cosignature lost, never two roots for one size)."""

import base64
import os
import random
import re
import shutil
import subprocess
import sys
import threading

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghtest  # noqa: E402
import wtest  # noqa: E402

tap = ghtest.Tap()
T = {}


def setup():
    tmp = ghtest.tmpdir("gh-witness-")
    T["tmp"] = tmp
    a = wtest.Log("lab.example/node-a")
    b = wtest.Log("lab.example/node-b")
    T["a"], T["b"] = a, b
    wtest.write_list(os.path.join(tmp, "logs.list"), [a])
    w = wtest.Witness(tmp)
    T["w"] = w
    vk = w.print_key()
    T["wname"], T["wpk"] = wtest.parse_cosigner_vkey(vk)
    tap.ok(T["wname"] == w.name, "--print-key prints a cosigner vkey (type 0x04) named --name", diag=vk)
    tap.ok(w.print_key() == vk, "--print-key is stable (the key was created once)")
    w.start()


def cosig_ok(body, text):
    line = body.decode()
    return line.endswith("\n") and line.count("\n") == 1 and \
        wtest.verify_cosig_line(line, T["wname"], T["wpk"], text)


def status_codes():
    w, a, b = T["w"], T["a"], T["b"]
    a.grow(5)
    st, hdr, body = w.add(a.body(0))
    t = cosig_ok(body, a.text()) if st == 200 else None
    tap.ok(st == 200 and t, "200: old 0 -> size 5 is cosigned (PyNaCl verifies the line)", diag=(st, body))
    st, _, body = w.latest(a.origin)
    note = body.decode()
    tap.ok(st == 200 and note.startswith(a.text() + "\n"), "GET /<sha256(origin)>/checkpoint serves it")
    sigs = note.split("\n\n", 1)[1].splitlines(True)
    tap.ok(len(sigs) == 2 and any(wtest.verify_cosig_line(s, T["wname"], T["wpk"], a.text()) for s in sigs)
           and ghtest.verify_checkpoint(note, a.vkey)[1] == 5,
           "the served note carries the log's signature and the cosignature", diag=note)

    a.grow(3)
    st, hdr, body = w.add(a.body(0))
    tap.ok(st == 409 and hdr.get("content-type") == "text/x.tlog.size" and body == b"5\n",
           "409 text/x.tlog.size with the cosigned size for a stale old size", diag=(st, hdr, body))
    st, _, body = w.add(a.body(5))
    tap.ok(st == 200 and cosig_ok(body, a.text()), "200: old 5 -> 8 with a consistency proof", diag=(st, body))

    st, _, body = w.add(b.body(0, 0) if b.leaves else (b.grow(1) or b.body(0)))
    tap.ok(st == 404, "404 for an origin not in the log list", diag=(st, body))

    other = wtest.Log(a.origin, seed=b"\x09" * 32)
    other.leaves = list(a.leaves)
    st, _, _ = w.add(other.body(8))
    tap.ok(st == 403, "403 for a checkpoint signed by another key under the log's origin", diag=st)
    bad = a.checkpoint()
    sig = bad.rsplit(" ", 1)[1]
    raw = bytearray(base64.b64decode(sig))
    raw[10] ^= 1
    st, _, _ = w.add(a.body(8, note=bad.rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(raw)).decode() + "\n"))
    tap.ok(st == 403, "403 for a bad signature by the log's key", diag=st)
    # Order: 403 comes before the size checks (a stale old size with a bad signature is 403).
    st, _, _ = w.add(other.body(0))
    tap.ok(st == 403, "403 is checked before 409 (spec order)", diag=st)

    st, _, _ = w.add(a.body(9, size=8, proof=[]))
    tap.ok(st == 400, "400 when old > checkpoint size", diag=st)
    st, _, _ = w.add(a.body(9, size=8, proof=[]).replace(b"old 9", b"old 12"))
    tap.ok(st == 400, "400 is checked before 409 (old 12 > size 8, cosigned 8)", diag=st)

    a.grow(4)
    proof = wtest.consistency(8, a.leaves)
    proof[0] = bytes(32)
    st, _, _ = w.add(a.body(8, proof=proof))
    tap.ok(st == 422, "422 for a consistency proof that does not verify", diag=st)
    fork = wtest.Log(a.origin)
    fork.leaves = a.leaves[:7] + [wtest.leaf(99)]
    st, _, _ = w.add(fork.body(8, size=8))
    tap.ok(st == 422, "422 for the cosigned size with a different root (no second root per size)", diag=st)
    st, _, body = w.add(a.body(8, size=8))
    tap.ok(st == 200 and cosig_ok(body, a.text(8)),
           "200 for an unchanged re-submission (same size, same root)", diag=st)
    st, _, _ = w.add(a.body(8, size=8, proof=[bytes(32)]))
    tap.ok(st == 422, "422 for a non-empty proof between equal sizes", diag=st)
    st, _, _ = w.add(a.body(8))
    tap.ok(st == 200, "200: old 8 -> 12", diag=st)

    for name, body in [("no old line", b"\n" + a.checkpoint().encode()),
                       ("leading zero", a.body(12).replace(b"old 12", b"old 012")),
                       ("no blank line", b"old 12\n" + a.checkpoint().encode()),
                       ("short hash", b"old 12\nAAAA\n\n" + a.checkpoint().encode()),
                       ("extension line", a.body(12, note=a.sign(a.text() + "ext\n")))]:
        st, _, _ = w.add(body)
        tap.ok(st == 400, "400 for a malformed body: %s" % name, diag=st)
    big = b"old 12\n" + b"A" * (64 * 1024) + b"\n\n"
    st, _, _ = w.add(big)
    tap.ok(st == 413, "413 for a body over the hard cap", diag=st)
    st, _, _ = w.request("GET", "/add-checkpoint")
    tap.ok(st == 404, "GET /add-checkpoint is not an endpoint", diag=st)
    st, _, _ = w.latest(b.origin)
    tap.ok(st == 404, "404 from the monitoring endpoint for an unknown origin")

    m = w.metrics()
    tap.ok(re.search(r'^gpuhours_witness_cosigned_size\{origin="lab.example/node-a"\} 12$', m, re.M),
           "/metrics: latest cosigned size per origin", diag=m)
    tap.ok(re.search(r'^gpuhours_witness_seconds_since_checkin\{origin="lab.example/node-a"\} \d+$', m, re.M),
           "/metrics: seconds since the last check-in per origin")
    codes = dict(re.findall(r'^gpuhours_witness_requests_total\{code="(\w+)"\} (\d+)$', m, re.M))
    tap.ok(codes == {"200": "4", "400": "7", "403": "3", "404": "1", "409": "1", "422": "3", "other": "1"},
           "/metrics: requests by status code", diag=codes)
    hist = open(os.path.join(w.state_dir, "logs", wtest.hashlib.sha256(a.origin.encode()).hexdigest()
                             + ".history")).read().splitlines()
    tap.ok([int(x.split()[1]) for x in hist] == [5, 8, 8, 12], "check-in history: one line per cosigned check-in",
           diag=hist)


def sighup():
    w, a, b = T["w"], T["a"], T["b"]
    wtest.write_list(w.logs_file, [b])  # a removed from the file, b added
    w.hup()
    ok = False
    for _ in range(200):
        st, _, _ = w.add(b.body(0))
        if st == 200:
            ok = True
            break
        wtest.time.sleep(0.05)
    tap.ok(ok, "SIGHUP: a log added to the list is witnessed")
    a.grow(1)
    st, _, _ = w.add(a.body(12))
    tap.ok(st == 200, "SIGHUP: a log removed from the list is never forgotten", diag=st)
    with open(w.logs_file, "w") as f:
        f.write("logs/v0\nvkey nonsense\n")
    w.hup()
    wtest.time.sleep(0.3)
    st, _, _ = w.add(a.body(13))
    tap.ok(st == 200 and w.proc.poll() is None, "SIGHUP with a broken list keeps the configured logs")
    tap.ok("want an Ed25519 key" in w.log_text() or "bad vkey" in w.log_text(),
           "the broken list is reported with the bad value", diag=w.log_text()[-400:])
    w.stop()
    wtest.write_list(w.logs_file, [b])
    w.start()
    a.grow(1)
    st, _, _ = w.add(a.body(13))
    tap.ok(st == 200, "after a restart with a list lacking it, the log is still known (known-logs)", diag=st)


def crash_safety():
    """Concurrent submitters, kill -9 at a random moment; every acknowledged
    cosignature must be covered by the stored state after restart."""
    w, a = T["w"], T["a"]
    rng = random.Random(int(os.environ.get("GH_TEST_SEED", "13")))
    lost = []
    two_roots = []
    cosigned = {}  # size -> root b64 seen in 200 answers
    for rnd in range(3):
        acked = []
        stop = threading.Event()

        def submitter():
            while not stop.is_set():
                size = len(a.leaves)
                st, hdr, body = None, None, b""
                try:
                    st, hdr, body = w.add(a.body(size_stored[0]))
                except OSError:
                    return
                if st == 200:
                    acked.append(size)
                    root = a.text().split("\n")[2]
                    if cosigned.setdefault(size, root) != root:
                        two_roots.append(size)
                    size_stored[0] = size
                    a.grow(rng.randint(1, 3))
                elif st == 409:
                    size_stored[0] = int(body)
        st, _, body = w.latest(a.origin)
        size_stored = [int(body.decode().split("\n")[1])]
        th = threading.Thread(target=submitter)
        th.start()
        wtest.time.sleep(rng.uniform(0.3, 1.2))
        w.kill9()
        stop.set()
        th.join(20)
        w.start()
        st, _, body = w.latest(a.origin)
        stored = int(body.decode().split("\n")[1])
        if acked and stored < max(acked):
            lost.append((rnd, max(acked), stored))
        tap.diag("round %d: %d acknowledged, last %s, stored %d" % (rnd, len(acked), acked[-1:] or None, stored))
        a.leaves = a.leaves[:stored]  # continue from what the witness has
        a.grow(1)
    tap.ok(not lost, "kill -9: no acknowledged cosignature is lost", diag=lost)
    tap.ok(not two_roots, "never two cosigned roots for one size", diag=two_roots)


def restore_old_state():
    """A witness restored from an older state answers 409 with the older size;
    a client retrying from it recovers."""
    w, a = T["w"], T["a"]
    hexname = wtest.hashlib.sha256(a.origin.encode()).hexdigest()
    path = os.path.join(w.state_dir, "logs", hexname + ".checkpoint")
    old_size = len(a.leaves) - 1
    shutil.copy(path, path + ".bak")
    st, _, _ = w.add(a.body(old_size))
    tap.ok(st == 200, "one more check-in before the restore", diag=st)
    w.stop()
    shutil.copy(path + ".bak", path)
    w.start()
    a.grow(2)
    st, hdr, body = w.add(a.body(len(a.leaves) - 2))
    tap.ok(st == 409 and int(body) == old_size, "restored witness: 409 with its older size", diag=(st, body))
    st, _, _ = w.add(a.body(int(body)))
    tap.ok(st == 200, "retry from the returned size is cosigned", diag=st)
    w.stop()


def exit_status():
    """Exit status: 78 (EX_CONFIG) for a configuration that cannot work until edited (the unit's
    RestartPreventExitStatus= stops the restart loop on it), 2 for a usage error, each with one
    line saying why; a good configuration still starts."""
    tmp = os.path.join(T["tmp"], "exit")
    os.makedirs(tmp)
    st = os.path.join(tmp, "state")
    port = ghtest.free_port()
    base = ["--state-dir", st, "--name", "witness.test/exit", "--listen", "127.0.0.1:%d" % port]

    def run(args):
        p = subprocess.run([wtest.witness_bin()] + args, capture_output=True, timeout=20,
                           stdin=subprocess.DEVNULL)
        return p.returncode, p.stderr.decode("utf-8", "replace")

    conf = os.path.join(tmp, "w.conf")
    with open(conf, "w") as f:
        f.write("[witness]\nname = witness.test/exit\nnot an ini line\n")
    bad_list = os.path.join(tmp, "bad.list")
    with open(bad_list, "w") as f:
        f.write("garbage\n")
    good_list = os.path.join(tmp, "good.list")
    wtest.write_list(good_list, [T["a"]])
    for args, code, want in (
            (base + ["--logs", os.path.join(tmp, "missing.list")], 78, "No such file"),
            (base + ["--logs", bad_list], 78, "logs/v0"),
            (["--config", conf] + base + ["--logs", good_list], 78, "error on line 3"),
            (["--config", os.path.join(tmp, "missing.conf")] + base + ["--logs", good_list], 78,
             "cannot read it"),
            (["--state-dir", st, "--listen", "127.0.0.1:%d" % port, "--logs", good_list], 78,
             "required"),
            (base[:2] + ["--name", "bad name"] + base[4:] + ["--logs", good_list], 78,
             "not a valid key name"),
            (base + ["--logs", good_list, "--bogus"], 2, "unrecognized option"),
            (base + ["--logs", good_list, "extra"], 2, "unexpected argument")):
        rc, err = run(args)
        tap.ok(rc == code and want in err, "exit %d with %r" % (code, want), diag=(rc, err[-600:]))
    # The same arguments with a good log list: it starts and serves (not an exit at all).
    w = wtest.Witness(tmp, name="witness.test/exit", port=port)
    w.state_dir, w.logs_file = st, good_list
    w.start()
    tap.ok(w.proc.poll() is None, "with a good log list the same witness runs")
    w.stop()


tap.run(setup, status_codes, sighup, crash_safety, restore_old_state, exit_status)
