#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Every /v1 endpoint's happy path against a real gpuhoursd on 127.0.0.1, with
proofs checked by proto (ghverify) and independently in Python."""

import json
import os
import random
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghtest  # noqa: E402
import ghhttp  # noqa: E402

PAGE = 3  # GPUHOURSD_TEST_MAX_RECORDS: a small per-response cap to exercise paging

tap = ghtest.Tap()


def main():
    rng = random.Random(int(os.environ.get("GH_TEST_SEED", "6962")))
    tmp = tempfile.mkdtemp(prefix="gh-http-api-")
    d = ghtest.Daemon(tmp, gpus=2, period=1, interval=0.1,
                      env={"GPUHOURSD_TEST_MAX_RECORDS": str(PAGE)})
    d.set_load([100, 25])
    d.start()
    vkey = d.vkey()
    d.wait_size(9, timeout=30)
    port = d.port

    # -- /checkpoint
    st, hdr, body = d.get("/checkpoint")
    tap.ok(st == 200 and hdr.get("content-type", "").startswith("text/plain"),
           "/checkpoint is 200 text/plain", diag=(st, hdr))
    note = body.decode()
    origin, size, root = ghtest.verify_checkpoint(note, vkey)
    tap.ok(size >= 9 and origin == vkey.split("+")[0], "checkpoint verifies in Python (PyNaCl)")
    rc, out, err = ghhttp.ghverify("checkpoint", vkey, "N", files={"N": body})
    tap.ok(rc == 0 and out.split() == [str(size), root.hex()],
           "checkpoint verifies with proto's note_verify", diag=(rc, out, err))
    bad = bytearray(body)
    bad[len(origin) + 1] ^= 1  # a digit of the size
    rc, _, _ = ghhttp.ghverify("checkpoint", vkey, "N", files={"N": bytes(bad)})
    tap.ok(rc == 1, "an altered checkpoint fails proto's verifier")

    st, hdr, hbody = ghhttp.request(port, "HEAD", "/checkpoint")
    tap.ok(st == 200 and hbody == b"" and int(hdr.get("content-length", "-1")) >= len(body) - 8,
           "HEAD /checkpoint: 200, no body, a Content-Length", diag=(st, hdr, hbody))

    # -- /v1/node
    st, hdr, body = d.get("/v1/node")
    node = json.loads(body) if st == 200 else {}
    tap.ok(st == 200 and hdr.get("content-type") == "application/json", "/v1/node is 200 JSON",
           diag=(st, hdr, body[:200]))
    keys = {"origin", "vkey", "version", "backend", "period_s", "sample_interval_s", "tree_size",
            "key_created_s", "gpus"}
    tap.ok(set(node) == keys, "/v1/node has exactly the documented keys", diag=sorted(node))
    kst = os.stat(os.path.join(d.state_dir, "node.key"))
    tap.ok(node.get("key_created_s") == int(kst.st_mtime),
           "/v1/node key_created_s is the key file's creation time", diag=node.get("key_created_s"))
    tap.ok(node.get("origin") == origin and node.get("vkey") == vkey and
           node.get("backend") == "sim" and node.get("period_s") == 1 and
           abs(node.get("sample_interval_s", 0) - 0.1) < 1e-9 and node.get("tree_size", 0) >= size
           and isinstance(node.get("version"), str) and node["version"],
           "/v1/node values match the daemon's settings", diag=node)
    gpus = node.get("gpus", [])
    tap.ok(len(gpus) == 2 and all(set(g) == {"uuid", "serial", "name", "pci_bus_id", "mig_mode"}
                                  and g["mig_mode"] in ("off", "on", "unknown") and g["uuid"]
                                  for g in gpus) and len({g["uuid"] for g in gpus}) == 2,
           "/v1/node lists 2 GPUs with uuid, serial, name, pci_bus_id, mig_mode", diag=gpus)

    # -- /v1/records: paging with the lowered cap
    st, hdr, body = d.get("/v1/records?start=0&end=%d" % size)
    recs = ghtest.split_frames(body) if st == 200 else []
    tap.ok(st == 200 and hdr.get("content-type") == "application/octet-stream" and
           len(recs) == PAGE and hdr.get("x-gpuhours-range") == "0-%d" % PAGE,
           "/v1/records caps a response at %d records and says so in X-Gpuhours-Range" % PAGE,
           diag=(st, hdr, len(recs)))
    st, hdr, body = d.get("/v1/records?start=%d&end=%d" % (size - 1, size))
    tap.ok(st == 200 and hdr.get("x-gpuhours-range") == "%d-%d" % (size - 1, size) and
           len(ghtest.split_frames(body)) == 1, "/v1/records serves a single last record")
    st, hdr, hbody = ghhttp.request(port, "HEAD", "/v1/records?start=0&end=1")
    tap.ok(st == 200 and hbody == b"" and hdr.get("x-gpuhours-range") == "0-1",
           "HEAD /v1/records: 200, headers, no body", diag=(st, hdr))
    all_recs = d.records(0, size)  # follows M' until it has everything
    leaves = [ghtest.leaf_hash(r) for r in all_recs]
    tap.ok(len(all_recs) == size and ghtest.merkle_root(leaves) == root,
           "paged records [0, %d) reproduce the signed root" % size)
    decoded = ghhttp.summaries(all_recs)
    kinds = [x["kind"] for x in decoded]
    tap.ok(kinds[0] == "start" and kinds.count("summary") >= 5,
           "records decode strictly with proto: a start record, then summaries", diag=kinds)

    # -- inclusion proofs: random (index, size) pairs plus the edges
    pairs = [(0, 1), (size - 1, size), (0, size)]
    pairs += [(i, n) for n in (rng.randint(1, size) for _ in range(20)) for i in [rng.randrange(n)]]
    roots = {n: ghtest.merkle_root(leaves[:n]) for n in range(1, size + 1)}
    py_ok = proto_ok = True
    bad_diag = []
    for i, n in pairs:
        st, _, body = d.get("/v1/proof/inclusion?index=%d&size=%d" % (i, n))
        if st != 200:
            py_ok = proto_ok = False
            bad_diag.append((i, n, st, body))
            continue
        proof = ghtest.parse_proof(body)
        if not ghtest.verify_inclusion(i, n, leaves[i], proof, roots[n]):
            py_ok = False
            bad_diag.append(("python", i, n))
        rc, _, err = ghhttp.ghverify("inclusion", i, n, "R", roots[n].hex(), "P",
                                     files={"R": all_recs[i], "P": body})
        if rc != 0:
            proto_ok = False
            bad_diag.append(("proto", i, n, err))
    tap.ok(py_ok, "%d inclusion proofs verify in Python (RFC 9162)" % len(pairs), diag=bad_diag)
    tap.ok(proto_ok, "%d inclusion proofs verify with proto" % len(pairs), diag=bad_diag)
    # The verifiers can fail: a proof for the wrong leaf, and a flipped bit.
    st, _, body = d.get("/v1/proof/inclusion?index=1&size=%d" % size)
    proof = ghtest.parse_proof(body)
    tap.ok(not ghtest.verify_inclusion(2, size, leaves[2], proof, root) and
           ghhttp.ghverify("inclusion", 2, size, "R", root.hex(), "P",
                           files={"R": all_recs[2], "P": body})[0] == 1,
           "an inclusion proof for another leaf fails both verifiers")

    # -- consistency proofs
    cpairs = [(1, size), (size, size), (size - 1, size)]
    for _ in range(20):
        n = rng.randint(1, size)
        cpairs.append((rng.randint(1, n), n))
    py_ok = proto_ok = True
    bad_diag = []
    for m, n in cpairs:
        st, _, body = d.get("/v1/proof/consistency?old=%d&new=%d" % (m, n))
        if st != 200:
            py_ok = proto_ok = False
            bad_diag.append((m, n, st, body))
            continue
        proof = ghtest.parse_proof(body)
        if not ghtest.verify_consistency(m, n, roots[m], roots[n], proof):
            py_ok = False
            bad_diag.append(("python", m, n))
        rc, _, err = ghhttp.ghverify("consistency", m, n, roots[m].hex(), roots[n].hex(), "P",
                                     files={"P": body})
        if rc != 0:
            proto_ok = False
            bad_diag.append(("proto", m, n, err))
    tap.ok(py_ok, "%d consistency proofs verify in Python (RFC 9162)" % len(cpairs), diag=bad_diag)
    tap.ok(proto_ok, "%d consistency proofs verify with proto" % len(cpairs), diag=bad_diag)
    st, _, body = d.get("/v1/proof/consistency?old=%d&new=%d" % (size, size))
    tap.ok(st == 200 and body == b"", "consistency old == new is an empty proof")
    if size > 3:
        st, _, body = d.get("/v1/proof/consistency?old=3&new=%d" % size)
        other = roots[2]
        tap.ok(not ghtest.verify_consistency(3, size, other, root, ghtest.parse_proof(body)) and
               ghhttp.ghverify("consistency", 3, size, other.hex(), root.hex(), "P",
                               files={"P": body})[0] == 1,
               "a consistency proof against a wrong old root fails both verifiers")

    # Growth between two signed checkpoints is provably append-only.
    cp2 = d.wait_size(size + 2, timeout=20)
    n2 = cp2["size"]
    st, _, body = d.get("/v1/proof/consistency?old=%d&new=%d" % (size, n2))
    rc1, out2, _ = ghhttp.ghverify("checkpoint", vkey, "N", files={"N": cp2["note"].encode()})
    root2 = bytes.fromhex(out2.split()[1]) if rc1 == 0 else b""
    rc2, _, err = ghhttp.ghverify("consistency", size, n2, root.hex(), root2.hex(), "P",
                                  files={"P": body})
    tap.ok(st == 200 and rc1 == 0 and rc2 == 0 and
           ghtest.verify_consistency(size, n2, root, root2, ghtest.parse_proof(body)),
           "consistency from signed checkpoint %d to signed checkpoint %d verifies" % (size, n2),
           diag=(st, rc1, rc2, err))

    # -- /v1/attest
    nonce = bytes(rng.randrange(256) for _ in range(32))
    t0 = time.time_ns()
    st, hdr, body = d.get("/v1/attest?nonce=" + nonce.hex().upper())
    t1 = time.time_ns()
    rc, out, err = ghhttp.ghverify("attest", vkey, "N", nonce.hex(), files={"N": body})
    fields = out.split()
    tap.ok(st == 200 and rc == 0, "/v1/attest note verifies with proto and binds the nonce",
           diag=(st, body[:300], rc, err))
    try:
        ghtest.note_signed_text(body.decode(), vkey)
        py_sig = True
    except Exception as e:  # noqa: BLE001
        py_sig = repr(e)
    tap.ok(py_sig is True, "/v1/attest signature verifies in Python (PyNaCl)", diag=py_sig)
    if rc == 0:
        a_size, a_root, a_time = int(fields[0]), bytes.fromhex(fields[1]), int(fields[2])
        more = d.records(0, a_size) if a_size > size else all_recs
        tap.ok(a_size >= size and ghtest.merkle_root([ghtest.leaf_hash(r) for r in more]) == a_root,
               "attest binds the published size and its root")
        tap.ok(t0 - 2_000_000_000 <= a_time <= t1 + 2_000_000_000,
               "attest time is the node's current wall time", diag=(t0, a_time, t1))
    rc, _, _ = ghhttp.ghverify("attest", vkey, "N", (b"\x01" * 32).hex(), files={"N": body})
    tap.ok(rc == 1, "the attest note does not verify for another nonce")

    # -- /metrics
    st, hdr, body = d.get("/metrics")
    tap.ok(st == 200 and hdr.get("content-type", "").startswith("text/plain; version=0.0.4"),
           "/metrics is 200 text/plain; version=0.0.4", diag=(st, hdr))
    try:
        fams = ghhttp.parse_prometheus(body.decode("utf-8"))
        perr = None
    except ValueError as e:
        fams, perr = {}, str(e)
    tap.ok(perr is None, "/metrics parses as Prometheus text (HELP+TYPE per family, _total counters)",
           diag=perr)
    want = {"gpuhours_records_appended_total": "counter",
            "gpuhours_checkpoints_signed_total": "counter",
            "gpuhours_append_errors_total": "counter",
            "gpuhours_sampler_errors_total": "counter", "gpuhours_samples_total": "counter",
            "gpuhours_tree_size": "gauge", "gpuhours_last_period_end_timestamp_seconds": "gauge",
            "gpuhours_last_sample_timestamp_seconds": "gauge", "gpuhours_sampler_up": "gauge",
            "gpuhours_gpus": "gauge",
            "gpuhours_appending": "gauge", "gpuhours_gpu_busy_seconds_total": "counter",
            "gpuhours_gpu_energy_joules_total": "counter", "gpuhours_build_info": "gauge",
            "process_start_time_seconds": "gauge"}
    tap.ok(all(fams.get(k, {}).get("type") == t for k, t in want.items()),
           "every documented family is present with its type",
           diag=[k for k, t in want.items() if fams.get(k, {}).get("type") != t])

    def val(name):
        s = fams.get(name, {}).get("samples", [])
        return s[0][1] if len(s) == 1 else None
    now = time.time()
    tap.ok((val("gpuhours_records_appended_total") or 0) >= 9 and
           (val("gpuhours_tree_size") or 0) >= n2 and (val("gpuhours_samples_total") or 0) >= 50
           and val("gpuhours_appending") == 1 and val("gpuhours_append_errors_total") == 0 and
           now - 5 < (val("gpuhours_last_period_end_timestamp_seconds") or 0) <= now + 1 and
           now - 5 < (val("gpuhours_last_sample_timestamp_seconds") or 0) <= now + 1 and
           val("gpuhours_sampler_up") == 1 and val("gpuhours_gpus") == len(gpus) and
           now - 600 < (val("process_start_time_seconds") or 0) <= now,
           "metric values reflect a healthy running daemon",
           diag={k: val(k) for k in want if not k.startswith("gpuhours_gpu_")})
    busy = fams.get("gpuhours_gpu_busy_seconds_total", {}).get("samples", [])
    energy = fams.get("gpuhours_gpu_energy_joules_total", {}).get("samples", [])
    uuids = sorted(g["uuid"] for g in gpus)
    names = {g["uuid"]: g["name"] for g in gpus}
    tap.ok(sorted(l["UUID"] for l, _ in busy) == uuids and
           sorted(l["UUID"] for l, _ in energy) == uuids and
           sorted(l["gpu"] for l, _ in busy) == [str(i) for i in range(len(uuids))] and
           all(l["model_name"] == names[l["UUID"]] for l, _ in busy + energy),
           "per-GPU counters carry the labels gpu and UUID (as dcgm-exporter) and model_name",
           diag=(busy, energy, uuids))
    tap.ok(max((v for _, v in busy), default=0) >= 3 and min((v for _, v in energy), default=0) > 0,
           "busy seconds and energy joules advance under load", diag=(busy, energy))
    bi = fams.get("gpuhours_build_info", {}).get("samples", [])
    tap.ok(len(bi) == 1 and bi[0][0].get("version") == node.get("version") and bi[0][1] == 1,
           "gpuhours_build_info{version} is 1 and matches /v1/node", diag=bi)

    # -- /healthz and 404
    st, _, body = d.get("/healthz")
    tap.ok(st == 200 and body == b"ok\n", "/healthz is 200 ok", diag=(st, body))
    st, hdr, body = d.get("/nope")
    tap.ok(st == 404 and body.startswith(b"error: ") and body.count(b"\n") == 1,
           "unknown path is 404 with a one-line error", diag=(st, body))

    tap.ok(d.stop() == 0, "gpuhoursd exits 0 on SIGTERM", diag=d.log_tail())


tap.run(main)
