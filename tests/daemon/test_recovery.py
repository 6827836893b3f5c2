#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Recovery on start: torn tails are cut, the hash file is rebuilt, and a
# ledger that does not reproduce its signed checkpoint is refused.
import os
import random
import struct
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def frames(path):
    data = open(path, "rb").read()
    out, i = [], 0
    while i + 4 <= len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        out.append((i, n))
        i += 4 + n
    return data, out


def run_once(d, timeout=15):
    """Start the daemon expecting it to refuse; returns (rc, stderr)."""
    p = subprocess.run(d.args(), stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout,
                       env=d._environ())
    return p.returncode, p.stderr.decode("utf-8", "replace")


def main():
    tmp = ghtest.tmpdir("gh-recovery-")
    d = ghtest.Daemon(tmp, gpus=2)
    d.start()
    d.wait_size(4)
    tap.ok(d.stop() == 0, "first run stops cleanly")
    rec_path = os.path.join(d.state_dir, "records")
    hash_path = os.path.join(d.state_dir, "hashes")
    cp_path = os.path.join(d.state_dir, "checkpoint")
    good_records = open(rec_path, "rb").read()
    good_cp = open(cp_path, "rb").read()
    size = int(good_cp.split(b"\n")[1])
    vkey = d.vkey()

    # 1. torn tail: a partial frame plus random garbage after the signed records
    with open(rec_path, "ab") as f:
        f.write(struct.pack(">I", 500) + os.urandom(123))
    d.start()
    cp = d.wait_size(size + 1)
    raw = d.records(0, cp["size"])
    tap.ok(b"".join(struct.pack(">I", len(r)) + r for r in raw[:size]) == good_records,
           "torn tail: the signed records are intact")
    tap.ok("torn tail" in d.log_text(), "torn tail: cut and logged")
    tap.ok(ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw]) == ghtest.verify_checkpoint(cp["note"], vkey)[2],
           "torn tail: the new checkpoint covers the records after the cut")
    tap.ok(d.stop() == 0, "torn tail: stops cleanly")

    # 2. damaged hash file: rebuilt, proofs still verify
    h = bytearray(open(hash_path, "rb").read())
    h[40] ^= 0xff
    open(hash_path, "wb").write(bytes(h[:len(h) // 2 + 7]))
    d.start()
    cp = d.wait_size(1)
    raw = d.records(0, cp["size"])
    bad = []
    for _ in range(10):
        n = random.randint(1, cp["size"])
        i = random.randrange(n)
        st, _, body = d.get("/v1/proof/inclusion?index=%d&size=%d" % (i, n))
        if st == 404:
            break
        root_n = ghtest.merkle_root([ghtest.leaf_hash(r) for r in raw[:n]])
        if st != 200 or not ghtest.verify_inclusion(i, n, ghtest.leaf_hash(raw[i]), ghtest.parse_proof(body), root_n):
            bad.append((i, n, st))
    tap.ok(not bad and "rebuilt stored Merkle hashes" in d.log_text(),
           "damaged hash file: rebuilt from the records, proofs verify", (bad, d.log_tail(5)))
    tap.ok(d.stop() == 0, "hash rebuild run stops cleanly")

    # 3. one byte changed inside a signed record (still decodes): refused, nothing touched
    data, fr = frames(rec_path)
    signed = int(open(cp_path, "rb").read().split(b"\n")[1])
    k = 2
    off, n = fr[k]
    pos = data.index(b"GPU-", off + 4) + 4
    tampered = bytearray(data)
    tampered[pos] = ord("0") if tampered[pos] != ord("0") else ord("1")
    open(rec_path, "wb").write(bytes(tampered))
    before = (open(rec_path, "rb").read(), open(cp_path, "rb").read())
    rc, err = run_once(d)
    lines = [x for x in err.splitlines() if x.startswith("<3>")]
    want = "ledger: record %d does not match the signed checkpoint (tampered or corrupt" % k
    tap.ok(rc not in (0, None) and len(lines) == 1 and want in lines[0],
           "one byte changed: refuses to start with one line naming record %d" % k, err)
    tap.ok((open(rec_path, "rb").read(), open(cp_path, "rb").read()) == before,
           "refusal leaves the records and the checkpoint untouched")

    # 4. a length byte changed (the record no longer decodes)
    tampered = bytearray(data)
    off, n = fr[1]
    tampered[off + 3] ^= 0x01
    open(rec_path, "wb").write(bytes(tampered))
    rc, err = run_once(d)
    tap.ok(rc not in (0, None) and "ledger: record 1 does not match the signed checkpoint" in err,
           "damaged frame inside the signed range: refused, naming record 1", err)

    # 5. a record deleted
    off1, n1 = fr[1]
    open(rec_path, "wb").write(data[:off1] + data[off1 + 4 + n1:])
    rc, err = run_once(d)
    tap.ok(rc not in (0, None) and "does not match the signed checkpoint" in err and "refusing to sign" in err,
           "deleted record: refused", err)

    # 6. records swapped (reordered)
    o1, n1 = fr[1]
    o2, n2 = fr[2]
    swapped = data[:o1] + data[o2:o2 + 4 + n2] + data[o1:o1 + 4 + n1] + data[o2 + 4 + n2:]
    open(rec_path, "wb").write(swapped)
    rc, err = run_once(d)
    tap.ok(rc not in (0, None) and "ledger: record 1 does not match the signed checkpoint" in err,
           "reordered records: refused, naming record 1", err)

    # 7. the checkpoint edited (not signed by this key)
    open(rec_path, "wb").write(data)
    cpb = open(cp_path, "rb").read().replace(b"\n%d\n" % signed, b"\n%d\n" % (signed - 1), 1)
    open(cp_path, "wb").write(cpb)
    rc, err = run_once(d)
    tap.ok(rc not in (0, None) and "does not verify with this node's key" in err,
           "edited checkpoint: refused", err)
    open(cp_path, "wb").write(before[1])

    # 7b. the checkpoint removed: with more than one record that is never a crash
    os.unlink(cp_path)
    rc, err = run_once(d)
    tap.ok(rc not in (0, None) and "no signed checkpoint" in err and "refusing to sign" in err,
           "removed checkpoint: refused", err)
    tap.ok(not os.path.exists(cp_path), "removed checkpoint: the daemon signed nothing")
    open(cp_path, "wb").write(before[1])

    # 8. restored ledger starts again
    d.start()
    d.wait_size(signed + 1)
    tap.ok(d.records(0, signed) == ghtest.split_frames(data[:fr[signed - 1][0] + 4 + fr[signed - 1][1]]),
           "restored ledger: starts and extends the same log")
    tap.ok(d.stop() == 0, "restored ledger stops cleanly")

    # 9. key file checks
    key_path = os.path.join(d.state_dir, "node.key")
    os.chmod(key_path, 0o640)
    rc, err = run_once(d)
    tap.ok(rc == 1 and "node.key" in err and "0640" in err, "key readable by group: refused", err)
    os.chmod(key_path, 0o600)
    key = open(key_path, "rb").read()
    open(key_path, "wb").write(key + b"\n")
    rc, err = run_once(d)
    tap.ok(rc == 1 and "33 bytes" in err, "key of 33 bytes: refused", err)
    open(key_path, "wb").write(key)

    # 10. credential directory key wins (and does not touch the state dir key)
    cred = os.path.join(tmp, "creds")
    os.mkdir(cred)
    ck = os.path.join(cred, "node.key")
    with open(ck, "wb") as f:
        f.write(bytes(range(32)))
    os.chmod(ck, 0o400)
    p = subprocess.run([ghtest.daemon_bin(), "--state-dir", d.state_dir, "--origin", "cred.test/x", "--print-key"],
                       capture_output=True, env=dict(os.environ, CREDENTIALS_DIRECTORY=cred), timeout=10)
    p2 = subprocess.run([ghtest.daemon_bin(), "--state-dir", d.state_dir, "--origin", "cred.test/x", "--print-key"],
                        capture_output=True, env={k: v for k, v in os.environ.items() if k != "CREDENTIALS_DIRECTORY"},
                        timeout=10)
    # Ed25519 public key for seed 00..1f (RFC 8032 style, computed with PyNaCl)
    import nacl.signing
    import base64
    pk = nacl.signing.SigningKey(bytes(range(32))).verify_key.encode()
    tap.ok(p.returncode == 0 and p.stdout.decode().strip().endswith(base64.b64encode(b"\x01" + pk).decode())
           and p2.stdout != p.stdout, "CREDENTIALS_DIRECTORY/node.key wins over the state dir key",
           (p.stdout, p2.stdout, p.stderr))


tap.run(main)
