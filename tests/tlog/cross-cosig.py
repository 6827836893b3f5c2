#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Cross-check proto/cosig.c (C2SP tlog-cosignature, cosignature/v1 with
Ed25519, signature type 0x04) against an independent implementation written
here from the C2SP text with hashlib and PyNaCl. Drives tlog-tool. TAP."""

import base64
import hashlib
import os
import struct
import subprocess
import sys

import nacl.exceptions
import nacl.signing

BUILD = os.environ["GH_BUILD_ROOT"]
TOOL = os.path.join(BUILD, "tests", "tlog", "tlog-tool")
SEED = bytes(range(100, 132))
NAME = "witness.example/w1"
CHECKPOINT = b"node17.example.org/gpuhours\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

n = 0
failed = 0


def ok(cond, msg, diag=None):
    global n, failed
    n += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n, msg))
    if not cond:
        failed += 1
        if diag is not None:
            print("# " + repr(diag))


def tool(*args, stdin=b""):
    p = subprocess.run([TOOL] + list(args), input=stdin, capture_output=True, timeout=30)
    return p.returncode, p.stdout, p.stderr


# --- the spec, written out here ---
def key_id(name, pk):
    # tlog-cosignature: SHA-256(<name> || "\n" || 0x04 || 32-byte public key)[:4]
    return hashlib.sha256(name.encode() + b"\n" + b"\x04" + pk).digest()[:4]


def vkey(name, pk):
    return "%s+%s+%s" % (name, key_id(name, pk).hex(), base64.b64encode(b"\x04" + pk).decode())


def message(t, checkpoint):
    return b"cosignature/v1\ntime " + str(t).encode() + b"\n" + checkpoint


def py_cosign(sk, name, t, checkpoint):
    sig = sk.sign(message(t, checkpoint)).signature
    payload = key_id(name, bytes(sk.verify_key)) + struct.pack(">Q", t) + sig
    return ("\u2014 %s %s\n" % (name, base64.b64encode(payload).decode())).encode()


def py_verify(line, name, pk, checkpoint):
    text = line.decode()
    assert text.startswith("\u2014 ") and text.endswith("\n")
    got_name, b = text[2:-1].split(" ")
    raw = base64.b64decode(b, validate=True)
    if got_name != name or len(raw) != 76 or raw[:4] != key_id(name, pk):
        return None
    t = struct.unpack(">Q", raw[4:12])[0]
    try:
        nacl.signing.VerifyKey(pk).verify(message(t, checkpoint), raw[12:])
    except nacl.exceptions.BadSignatureError:
        return None
    return t


def main():
    sk = nacl.signing.SigningKey(SEED)
    pk = bytes(sk.verify_key)
    rc, out, err = tool("cosig-vkey", SEED.hex(), NAME)
    ok(rc == 0 and out.decode().strip() == vkey(NAME, pk), "cosigner vkey (type 0x04, key ID over 0x04)",
       (out, vkey(NAME, pk)))

    for t in (1, 1679315147, 2**32 + 7, 2**63 - 1):
        rc, line, err = tool("cosign", SEED.hex(), NAME, str(t), stdin=CHECKPOINT)
        mine = py_cosign(sk, NAME, t, CHECKPOINT)
        ok(rc == 0 and line == mine, "cosignature line at time %d is byte-identical to PyNaCl's" % t,
           (line, mine, err))
        ok(py_verify(line, NAME, pk, CHECKPOINT) == t, "PyNaCl verifies our cosignature at time %d" % t)
        note = CHECKPOINT + b"\n" + mine
        rc, out, _ = tool("cosig-verify", vkey(NAME, pk), stdin=note)
        ok(rc == 0 and out.decode().strip() == str(t), "proto verifies PyNaCl's cosignature at time %d" % t,
           out)

    rc, _, _ = tool("cosign", SEED.hex(), NAME, "0", stdin=CHECKPOINT)
    ok(rc != 0, "a zero timestamp is refused (tlog-witness: MUST be non-zero)")
    rc, _, _ = tool("cosign", SEED.hex(), NAME, str(2**63), stdin=CHECKPOINT)
    ok(rc != 0, "a timestamp above 2^63-1 is refused")

    # A signature over the timestamp t, relabelled as t+1, must fail.
    mine = py_cosign(sk, NAME, 1000, CHECKPOINT)
    raw = bytearray(base64.b64decode(mine.decode()[2:-1].split(" ")[1]))
    raw[4:12] = struct.pack(">Q", 1001)
    forged = ("\u2014 %s %s\n" % (NAME, base64.b64encode(bytes(raw)).decode())).encode()
    rc, out, _ = tool("cosig-verify", vkey(NAME, pk), stdin=CHECKPOINT + b"\n" + forged)
    ok(rc != 0 and b"signature" in out, "a changed timestamp breaks the cosignature", out)
    # Signed over another checkpoint.
    other = CHECKPOINT.replace(b"20852163", b"20852164")
    rc, out, _ = tool("cosig-verify", vkey(NAME, pk), stdin=other + b"\n" + mine)
    ok(rc != 0, "a cosignature does not carry over to another checkpoint", out)
    # A plain Ed25519 note signature under the same name is not a cosignature.
    plain_id = hashlib.sha256(NAME.encode() + b"\n\x01" + pk).digest()[:4]
    plain = ("\u2014 %s %s\n" % (NAME, base64.b64encode(plain_id + sk.sign(CHECKPOINT).signature).decode())).encode()
    rc, out, _ = tool("cosig-verify", vkey(NAME, pk), stdin=CHECKPOINT + b"\n" + plain)
    ok(rc != 0 and out.decode().strip() == "0", "a 0x01 signature under the same name is ignored, not taken as a 0x04 cosignature", out)

    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
