#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Cross-check proto/merkle.c and proto/note.c against an independent
implementation written here with hashlib (RFC 6962 / RFC 9162) and PyNaCl
(Ed25519, C2SP signed notes). Drives build/tests/tlog/tlog-tool. TAP output."""

import base64
import functools
import hashlib
import os
import random
import subprocess
import sys

import nacl.exceptions
import nacl.signing

BUILD = os.environ["GH_BUILD_ROOT"]
SRC = os.environ["GH_SOURCE_ROOT"]
TOOL = os.path.join(BUILD, "tests", "tlog", "tlog-tool")
VEC = os.path.join(SRC, "tests", "vectors")
N = 1100
SEED = bytes(range(32))
ORIGIN = "node17.example.org/gpuhours"

results = []


def check(ok, name, detail=""):
    results.append((bool(ok), name, detail))


def b64(b):
    return base64.b64encode(b).decode()


# ------------------------------------------------------------ RFC 6962 reference

def leaf_data(i):
    return b"gpuhours leaf %d" % i


LEAF = [hashlib.sha256(b"\x00" + leaf_data(i)).digest() for i in range(N)]


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def largest_pow2_below(n):
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.lru_cache(maxsize=None)
def mth(lo, hi):
    """MTH(D[lo:hi]) by the recursive definition of RFC 6962 §2.1."""
    n = hi - lo
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAF[lo]
    k = largest_pow2_below(n)
    return node(mth(lo, lo + k), mth(lo + k, hi))


def path(m, lo, hi):
    """PATH(m, D[lo:hi]), RFC 6962 §2.1.1; m is relative to lo."""
    n = hi - lo
    if n == 1:
        return []
    k = largest_pow2_below(n)
    if m < k:
        return path(m, lo, lo + k) + [mth(lo + k, hi)]
    return path(m - k, lo + k, hi) + [mth(lo, lo + k)]


def subproof(m, lo, hi, b):
    """SUBPROOF(m, D[lo:hi], b), RFC 6962 §2.1.2."""
    n = hi - lo
    if m == n:
        return [] if b else [mth(lo, hi)]
    k = largest_pow2_below(n)
    if m <= k:
        return subproof(m, lo, lo + k, b) + [mth(lo + k, hi)]
    return subproof(m - k, lo + k, hi, False) + [mth(lo, lo + k)]


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 §2.1.4.2 (with first == second handled as equal roots, empty proof)."""
    if first == 0 or first > second:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_hash] + proof
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node(c, fr)
            sr = node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_hash and sr == second_hash


def parse_proof(line):
    if line == "-":
        return []
    return [base64.b64decode(x, validate=True) for x in line.split(",")]


# ------------------------------------------------------------ Merkle checks

def merkle_checks():
    rng = random.Random(6962)
    cmds, expect = [], []
    for n in range(N + 1):
        cmds.append("root %d" % n)
        expect.append(("root", n))
    pairs = [(m, n) for n in range(1, 41) for m in range(1, n + 1)]
    pairs += [(rng.randint(1, n), n) for n in (rng.randint(1, N) for _ in range(1500))]
    pairs += [(1, N), (N, N), (1024, N), (N - 1, N), (512, 1024), (513, 1024)]
    for m, n in pairs:
        cmds.append("incl %d %d" % (m - 1, n))
        expect.append(("incl", m - 1, n))
        cmds.append("cons %d %d" % (m, n))
        expect.append(("cons", m, n))
    out = subprocess.run([TOOL, "tree", str(N)], input="\n".join(cmds) + "\n", capture_output=True,
                         text=True, timeout=120, check=True).stdout.splitlines()
    check(len(out) == len(cmds), "tlog-tool answered every command", "%d/%d" % (len(out), len(cmds)))

    bad_root = bad_incl = bad_cons = bad_vi = bad_vc = 0
    first_fail = ""
    for (kind, *args), line in zip(expect, out):
        if kind == "root":
            (n,) = args
            if line != b64(mth(0, n)):
                bad_root += 1
                first_fail = first_fail or "root %d: %s" % (n, line)
        elif kind == "incl":
            i, n = args
            proof = parse_proof(line)
            if proof != path(i, 0, n):
                bad_incl += 1
                first_fail = first_fail or "incl %d %d" % (i, n)
            if not verify_inclusion(i, n, LEAF[i], proof, mth(0, n)):
                bad_vi += 1
        else:
            m, n = args
            proof = parse_proof(line)
            if proof != subproof(m, 0, n, True):
                bad_cons += 1
                first_fail = first_fail or "cons %d %d" % (m, n)
            if not verify_consistency(m, n, mth(0, m), mth(0, n), proof):
                bad_vc += 1
    check(bad_root == 0, "roots for every size 0..%d equal the RFC 6962 definition" % N,
          "%d differ; %s" % (bad_root, first_fail))
    check(bad_incl == 0, "%d inclusion proofs equal RFC 6962 PATH" % len(pairs), first_fail)
    check(bad_vi == 0, "our inclusion proofs verify with the Python RFC 9162 verifier", str(bad_vi))
    check(bad_cons == 0, "%d consistency proofs equal RFC 6962 PROOF" % len(pairs), first_fail)
    check(bad_vc == 0, "our consistency proofs verify with the Python RFC 9162 verifier", str(bad_vc))


def vector_checks():
    """tests/vectors/tlog-proofs.txt, recomputed from the definitions."""
    bad, count = [], 0
    with open(os.path.join(VEC, "tlog-proofs.txt")) as f:
        for line in f:
            if line.startswith("#"):
                continue
            cmd, answer = line.rstrip("\n").split(": ")
            kind, *args = cmd.split()
            args = [int(a) for a in args]
            if kind == "root":
                want = [mth(0, args[0])]
            elif kind == "incl":
                want = path(args[0], 0, args[1])
            else:
                want = subproof(args[0], 0, args[1], True)
            count += 1
            if answer != (",".join(b64(h) for h in want) or "-"):
                bad.append(cmd)
    check(count >= 20 and not bad, "vector tlog-proofs.txt (%d lines) equals the RFC 6962 definitions" % count,
          " ".join(bad))


# ------------------------------------------------------------ notes

def key_id(name, pk):
    return hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]


def vkey_of(name, pk):
    return "%s+%s+%s" % (name, key_id(name, pk).hex(), b64(b"\x01" + pk))


def py_open(note, name, pk):
    """Minimal independent signed-note verifier: returns the text or raises."""
    split = note.rindex(b"\n\n")
    text, sigs = note[:split + 1], note[split + 2:]
    assert sigs.endswith(b"\n")
    ok = False
    for line in sigs[:-1].split(b"\n"):
        assert line.startswith("\u2014 ".encode())
        nm, sig = line[len("\u2014 ".encode()):].split(b" ")
        raw = base64.b64decode(sig, validate=True)
        if nm.decode() == name and raw[:4] == key_id(name, pk):
            nacl.signing.VerifyKey(pk).verify(text, raw[4:])
            ok = True
    if not ok:
        raise ValueError("no known signature")
    return text


def py_sign(text, name, sk):
    sig = sk.sign(text).signature
    pk = bytes(sk.verify_key)
    return text + b"\n" + "\u2014 ".encode() + name.encode() + b" " + \
        base64.b64encode(key_id(name, pk) + sig) + b"\n"


def tool_verify(note, vkeys):
    p = subprocess.run([TOOL, "verify"] + vkeys, input=note, capture_output=True, timeout=30)
    return p.returncode == 0


def note_checks():
    sk = nacl.signing.SigningKey(SEED)
    pk = bytes(sk.verify_key)
    want_vkey = vkey_of(ORIGIN, pk)
    with open(os.path.join(VEC, "note-vkey.txt")) as f:
        check(f.read() == want_vkey + "\n", "vector note-vkey.txt equals PyNaCl's key and the C2SP key id")
    out = subprocess.run([TOOL, "vkey", SEED.hex(), ORIGIN], capture_output=True, text=True,
                         check=True).stdout
    check(out == want_vkey + "\n", "tlog-tool vkey equals the Python vkey")

    with open(os.path.join(VEC, "note-checkpoint.txt"), "rb") as f:
        cp = f.read()
    try:
        text = py_open(cp, ORIGIN, pk)
        ok = text == ("%s\n%d\n%s\n" % (ORIGIN, N, b64(mth(0, N)))).encode()
    except Exception as e:  # noqa: BLE001 - any failure is the test failing
        ok, text = False, str(e)
    check(ok, "vector note-checkpoint.txt verifies with PyNaCl and holds the Python root", text)
    # Deterministic Ed25519: Python's signature over the same text is byte-identical.
    check(ok and py_sign(text, ORIGIN, sk) == cp, "PyNaCl signs the checkpoint text to the same bytes")

    with open(os.path.join(VEC, "note-attest.txt"), "rb") as f:
        at = f.read()
    want = ("gpuhours-attest/v1\norigin %s\nnonce %s\ntime 1764201600123456789\nsize %d\nroot %s\n" %
            (ORIGIN, bytes(range(0xa0, 0xc0)).hex(), N, b64(mth(0, N)))).encode()
    try:
        ok = py_open(at, ORIGIN, pk) == want
    except Exception:  # noqa: BLE001
        ok = False
    check(ok, "vector note-attest.txt verifies with PyNaCl and has the documented text")

    # Our fresh signature over a Python-chosen text verifies with PyNaCl.
    text = ("%s\n%d\n%s\n" % (ORIGIN, 777, b64(mth(0, 777)))).encode()
    out = subprocess.run([TOOL, "checkpoint", SEED.hex(), ORIGIN, "777", b64(mth(0, 777))],
                         capture_output=True, check=True).stdout
    try:
        ok = py_open(out, ORIGIN, pk) == text
    except Exception:  # noqa: BLE001
        ok = False
    check(ok, "tlog-tool checkpoint (size 777) verifies with PyNaCl")

    # PyNaCl-signed notes verify with ours; tampered ones do not.
    sk2 = nacl.signing.SigningKey(hashlib.sha256(b"python key").digest())
    name2 = "python.example/log"
    vk2 = vkey_of(name2, bytes(sk2.verify_key))
    note = py_sign(text, name2, sk2)
    check(tool_verify(note, [vk2]), "a PyNaCl-signed checkpoint verifies with note_verify")
    check(not tool_verify(note, [want_vkey]), "... and not with another key")
    bad = bytearray(note)
    bad[3] ^= 1
    check(not tool_verify(bytes(bad), [vk2]), "... and not after a flipped bit in the text")
    # A note with our signature and a PyNaCl cosignature: both keys known, either alone works.
    both = py_sign(text, ORIGIN, sk) + note[len(text) + 1:]
    check(tool_verify(both, [want_vkey]) and tool_verify(both, [vk2]) and
          tool_verify(both, [want_vkey, vk2]), "two-signature note verifies with either or both keys")


def format_md_checks():
    """The examples in proto/FORMAT.md are the vectors, byte for byte, and agree with the definitions."""
    with open(os.path.join(SRC, "proto", "FORMAT.md"), encoding="utf-8") as f:
        doc = f.read()
    for name in ("note-vkey.txt", "note-checkpoint.txt", "note-attest.txt"):
        with open(os.path.join(VEC, name), encoding="utf-8") as f:
            vec = f.read()
        check("```\n" + vec + "```" in doc or "```\n" + vec + "\n```" in doc,
              "FORMAT.md shows %s verbatim" % name)
    l0 = LEAF[0].hex()
    l1 = LEAF[1].hex()
    r2 = mth(0, 2)
    check(l0 in doc and l1 in doc and r2.hex() in doc and b64(r2) in doc and
          hashlib.sha256(b"").hexdigest() in doc, "FORMAT.md Merkle example hashes are correct")
    proof = "".join(b64(h) + "\n" for h in subproof(4, 0, 7, True))
    check("```\n" + proof + "```" in doc, "FORMAT.md proof-body example is PROOF(4, D[0:7])")


def main():
    for fn in (merkle_checks, vector_checks, note_checks, format_md_checks):
        try:
            fn()
        except Exception as e:  # noqa: BLE001
            check(False, fn.__name__ + " raised", repr(e))
    print("1..%d" % len(results))
    for i, (ok, name, detail) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
        if not ok and detail:
            print("# " + detail.replace("\n", "\n# "))
    return 0 if all(r[0] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
