#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Bundles, keys, state: fetch -o, 200 single-byte changes, truncation, the
untouched bundle equals online, wrong/missing key, paging, XDG directories,
--since/--until, and a rolled-back node (ROLLBACK or FORK)."""

import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()


def strip_source(doc):
    for s in doc["sources"]:
        s.pop("source", None)
    return doc


def main():
    tmp = tempfile.mkdtemp(prefix="gh-client-bundle-")
    env = cltest.client_env(tmp)
    # Paging: at most 3 records per /v1/records response.
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=2, period=1, interval=0.1,
                      env={"GPUHOURSD_TEST_MAX_RECORDS": "3"})
    d.set_load([70, 20])
    d.start()
    vkey = d.vkey()
    d.wait_size(8)
    # 3-record pages are short on purpose here: admit them (the default --min-page is 100).
    pg = ["--min-page", "1"]

    # Missing key, then a wrong key of the same name: KEY_MISMATCH, exit 2.
    rc, doc, text = cltest.verify_json(pg + [d.url], env)
    tap.ok(rc == 2 and doc and doc["sources"][0]["findings"][0]["kind"] == "KEY_MISMATCH",
           "no trusted key: exit %d KEY_MISMATCH" % rc, diag=text)
    origin = d.checkpoint()["origin"]
    wrong = cltest.Key(origin)
    rc, doc, text = cltest.verify_json(pg + ["--key", wrong.vkey, d.url], env)
    tap.ok(rc == 2 and doc and doc["sources"][0]["findings"][0]["kind"] == "KEY_MISMATCH",
           "wrong key: exit %d KEY_MISMATCH" % rc, diag=text)
    tap.ok(not os.path.exists(os.path.join(tmp, "state", "gpuhours", "checkpoints")),
           "nothing remembered from a failed verification")

    # fetch -o, then the same result offline.
    bundle = os.path.join(tmp, "node.bundle")
    rc, out, err, _ = cltest.run(["fetch"] + pg + [d.url, "--key", vkey, "-o", bundle], env)
    tap.ok(rc in (0, 1) and os.path.getsize(bundle) > 0, "fetch -o: exit %d" % rc,
           diag=out + err)
    online_lines = [l.split(None, 1)[1] for l in out.splitlines()
                    if l and not l.startswith("wrote")]
    rc_b, out_b, err_b, _ = cltest.run(["verify", "--key", vkey, bundle], env)
    bundle_lines = [l.split(None, 1)[1] for l in out_b.splitlines() if l]
    tap.ok(rc_b == rc and online_lines == bundle_lines,
           "untouched bundle: same verdict, totals and findings as online (exit %d)" % rc_b,
           diag="online:\n%s\nbundle:\n%s" % ("\n".join(online_lines), "\n".join(bundle_lines)))
    sd = os.path.join(tmp, "state", "gpuhours", "checkpoints")
    names = os.listdir(sd) if os.path.isdir(sd) else []
    tap.ok(len(names) == 1 and "%2F" in names[0],
           "state written under XDG_STATE_HOME with an escaped origin", diag=names)
    tap.ok(not os.path.exists(os.path.join(tmp, "home", ".local")) and
           not os.path.exists(os.path.join(tmp, "home", ".config")),
           "nothing written under HOME when XDG dirs are set")

    # 200 random single-byte changes: exit 2 every time.
    data = open(bundle, "rb").read()
    rng = random.Random(4)
    bad = []
    mod = os.path.join(tmp, "mod.bundle")
    crashed = []
    for i in range(200):
        off = rng.randrange(len(data))
        b = bytearray(data)
        b[off] = (b[off] + rng.randrange(1, 256)) & 0xff
        with open(mod, "wb") as f:
            f.write(b)
        rc, out, err, _ = cltest.run(["verify", "--no-state", "--key", vkey, mod], env)
        if rc != 2:
            bad.append((off, rc, out[-300:]))
        if "Sanitizer" in err or rc < 0:
            crashed.append((off, err[-300:]))
    tap.ok(not bad, "200 single-byte changes: all exit 2", diag=bad[:5])
    tap.ok(not crashed, "no crash on changed bundles", diag=crashed[:3])
    bad = []
    for n in sorted({0, 1, 7, 8, 12, len(data) // 2, len(data) - 1} |
                    {rng.randrange(len(data)) for _ in range(10)}):
        with open(mod, "wb") as f:
            f.write(data[:n])
        rc, out, err, _ = cltest.run(["verify", "--no-state", "--key", vkey, mod], env)
        if rc != 2:
            bad.append((n, rc, out[-300:]))
    tap.ok(not bad, "truncated bundles: all exit 2", diag=bad[:5])

    # --since/--until clip the audited interval; bad values are a usage error.
    rc, doc, text = cltest.verify_json(pg + ["--key", vkey, "--since", "-3s", d.url], env)
    full = cltest.verify_json(pg + ["--key", vkey, d.url], env)[1]
    tap.ok(rc in (0, 1) and doc and full and
           doc["sources"][0]["observed_seconds"] < full["sources"][0]["observed_seconds"],
           "--since -3s audits less than everything", diag=text)
    rc, out, err, _ = cltest.run(["verify"] + pg + ["--key", vkey, "--since", "yesterday",
                                                    d.url], env)
    tap.ok(rc == 3 and "--since" in err, "bad --since: exit 3, clear message", diag=err)

    # --json document: the documented fields and types.
    rc, doc, text = cltest.verify_json(pg + ["--key", vkey, d.url, bundle], env)
    ok = doc is not None and doc["verdict"] in ("ok", "findings") and len(doc["sources"]) == 2
    for s in (doc or {}).get("sources", []):
        for k, t in (("source", str), ("origin", str), ("status", str), ("tree_size", int),
                     ("first_time", str), ("last_time", str), ("gpu_hours", float),
                     ("occupied_gpu_hours", float), ("energy_joules", float),
                     ("observed_seconds", float), ("gap_seconds", float), ("findings", list)):
            ok = ok and isinstance(s.get(k), t)
        for f in s["findings"]:
            ok = ok and isinstance(f.get("kind"), str) and f.get("severity") in (
                "info", "warning", "error") and isinstance(f.get("detail"), str)
            if "start" in f:
                ok = ok and f["start"].endswith("Z") and isinstance(f.get("seconds"), float)
    tap.ok(ok, "--json: documented fields with their types", diag=text[:3000])

    # Rollback: copy the node's state, let it grow, verify, restore the copy.
    d.stop()
    saved = os.path.join(tmp, "saved-state")
    shutil.copytree(d.state_dir, saved)
    d.start()
    size = d.checkpoint()["size"]
    d.wait_size(size + 6)
    rc, out, err, _ = cltest.run(["verify"] + pg + ["--key", vkey, d.url], env)
    tap.ok(rc in (0, 1), "grown node verifies (exit %d)" % rc, diag=out + err)
    d.stop()
    shutil.rmtree(d.state_dir)
    shutil.copytree(saved, d.state_dir)
    d.start()
    rc, doc, text = cltest.verify_json(pg + ["--key", vkey, d.url], env)
    kinds = doc and [f["kind"] for f in doc["sources"][0]["findings"]]
    tap.ok(rc == 2 and kinds and kinds[0] in ("ROLLBACK", "FORK"),
           "restored old state: exit %d %s" % (rc, kinds), diag=text)
    # And attest sees the same.
    rc, out, err, _ = cltest.run(["attest", "--key", vkey, d.url], env)
    tap.ok(rc == 2 and ("ROLLBACK" in out or "FORK" in out),
           "attest on the rolled-back node: exit %d" % rc, diag=out + err)
    # --no-state does not know about the past: it verifies.
    rc, out, err, _ = cltest.run(["verify"] + pg + ["--no-state", "--key", vkey, d.url], env)
    tap.ok(rc in (0, 1), "--no-state ignores the remembered checkpoint (exit %d)" % rc,
           diag=out + err)
    d.stop()
    shutil.rmtree(tmp, ignore_errors=True)


tap.run(main)
