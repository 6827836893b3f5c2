#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""gpuhours show against the real daemon: every record listed with its kind
and numbers (checked against an independent Python decoder of the records),
one record in full, bundles and URLs, and nothing shown from a ledger that
does not verify (tampered bundle, untrusted key)."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def ms(v):
    return "%d.%03d" % (v // 1000, v % 1000)


def main():
    tmp = ghtest.tmpdir("gh-client-show-")
    env = cltest.client_env(tmp)
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=2, period=1, interval=0.1)
    d.set_load([80, 30])
    d.start()
    d.wait_size(3)
    d.stop()  # a STOP record
    d.start()
    d.wait_size(d.checkpoint()["size"] + 2)
    vkey = d.vkey()
    size = d.checkpoint()["size"]
    recs = [ghtest.decode_record(b) for b in d.records(0, size)]

    bundle = os.path.join(tmp, "node.bundle")
    rc, out, err, _ = cltest.run(["fetch", "--key", vkey, "--no-state", d.url, "-o", bundle], env)
    tap.ok(rc in (0, 1) and os.path.exists(bundle), "fetch a bundle (exit %d)" % rc,
           diag=out + err)
    d.stop()
    bsize = None
    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", bundle], env)
    lines = out.splitlines()
    tap.ok(rc in (0, 1) and "VERIFIED" in err and len(lines) >= size,
           "show BUNDLE: %d lines, the verification on stderr (exit %d)" % (len(lines), rc),
           diag=out + err)
    bsize = len(lines)
    kinds = [ln.split()[1] if len(ln.split()) > 1 else "" for ln in lines]
    want = [r["kind"] for r in recs]
    tap.ok(kinds[:size] == want and all(ln.startswith("#%d " % i) for i, ln in enumerate(lines)),
           "one line per record, numbered from 0, with its kind: %s" % " ".join(kinds),
           diag=(kinds, want))
    stop_i = want.index("stop") if "stop" in want else -1
    tap.ok(stop_i > 0 and "stopped cleanly (SIGTERM)" in lines[stop_i],
           "the stop record reads 'stopped cleanly (SIGTERM)'", diag=lines[stop_i:stop_i + 1])
    starts = [i for i, k in enumerate(want) if k == "start"]
    tap.ok(len(starts) == 2 and all("started: sim, 2 GPU(s), period 1 s, sample every 0.100 s"
                                    in lines[i] for i in starts),
           "both start records read 'started: sim, 2 GPU(s), period 1 s, ...'",
           diag=[lines[i] for i in starts])

    # One summary in full: every GPU's numbers as the independent decoder has them.
    si = next(i for i, r in enumerate(recs) if r["kind"] == "summary" and not r["flags"] & 1)
    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", "--record", str(si),
                                  bundle], env)
    s = recs[si]
    ok = rc in (0, 1) and out.startswith("record %d: summary" % si)
    for g in s["gpus"]:
        ok = ok and ("GPU %s\n    observed %s s, busy %s s, occupied %s s\n    energy %s J "
                     "(counter %d -> %d mJ)" % (g["uuid"], ms(g["observed_ms"]), ms(g["busy_ms"]),
                                               ms(g["occupied_ms"]), ms(g["energy_used_mj"]),
                                               g["energy_start_mj"], g["energy_end_mj"])) in out
    ok = ok and ("samples     %d taken of %d expected" % (s["samples_taken"],
                                                         s["samples_expected"])) in out
    tap.ok(ok, "show --record %d: every field as the records hold it" % si, diag=out + err)
    busy = sum(g["busy_ms"] for g in s["gpus"])
    tap.ok(("busy %s GPU-s" % ms(busy)) in lines[si],
           "its line sums busy time over the GPUs (%s GPU-s)" % ms(busy), diag=lines[si])
    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", "--record", "0",
                                  bundle], env)
    tap.ok(rc in (0, 1) and all(("GPU %s\n    name %s, serial %s" % (g["uuid"], g["name"],
                                                                     g["serial"])) in out
                                for g in recs[0]["gpus"]),
           "show --record 0: the start record's GPUs with name and serial", diag=out)
    # Version 2 start records: each GPU's counter epoch, kept by the sim across a restart.
    eps = [[g["counter_epoch"] for g in recs[i]["gpus"]] for i in starts]
    tap.ok(rc in (0, 1) and recs[0]["version"] == 2 and "start (version 2)" in out and
           all(e and ("energy counter %d mJ, counter epoch %d\n" % (g["energy_mj"], e)) in out
               for g, e in zip(recs[0]["gpus"], eps[0])) and len(eps) == 2 and eps[0] == eps[1],
           "show --record 0: version 2, each GPU's counter epoch (%s), the same after a restart"
           % eps, diag=out)

    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", "--record",
                                  str(bsize), bundle], env)
    tap.ok(rc == 3 and out == "" and "the ledger has %d records" % bsize in err,
           "--record past the end: exit 3 (exit %d)" % rc, diag=out + err)
    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", "--record", "x1",
                                  bundle], env)
    tap.ok(rc == 3 and "--record 'x1'" in err, "--record x1: exit 3 quoting it", diag=err)

    # Nothing from a ledger that does not verify.
    other = cltest.Key(recs and vkey.split("+", 1)[0])
    rc, out, err, _ = cltest.run(["show", "--key", other.vkey, "--no-state", bundle], env)
    tap.ok(rc == 2 and out == "" and "nothing shown" in err,
           "another key of the same name: exit 2, nothing shown (exit %d)" % rc, diag=out + err)
    with open(bundle, "rb") as f:
        data = bytearray(f.read())
    data[-20] ^= 0x01  # inside the last record
    bad = os.path.join(tmp, "bad.bundle")
    with open(bad, "wb") as f:
        f.write(data)
    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", bad], env)
    tap.ok(rc == 2 and out == "" and "nothing shown" in err,
           "a bundle with one bit flipped: exit 2, nothing shown (exit %d)" % rc,
           diag=out + err)

    # A URL, and '--' before the source.
    d.start()
    d.wait_size(size + 2)
    rc, out, err, _ = cltest.run(["show", "--key", vkey, "--no-state", "--", d.url], env)
    tap.ok(rc in (0, 1) and len(out.splitlines()) >= size + 2 and
           out.splitlines()[0].split()[1] == "start",
           "show -- URL lists the live ledger (%d records, exit %d)" % (len(out.splitlines()), rc),
           diag=out + err)
    d.stop()


tap.run(main)
