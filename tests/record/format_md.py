#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""An independent reader of the gpuhours record and bundle formats, written
from proto/FORMAT.md alone (hashlib + PyNaCl, no code shared with proto/).

  format_md.py annotate FILE   print FILE (a record) as annotated hex
  format_md.py check           TAP test: every "<!-- vector: NAME -->" block in
                               FORMAT.md is exactly the annotated dump of
                               tests/vectors/NAME; every record vector decodes
                               strictly; the bundle vector verifies end to end.
"""
import base64
import hashlib
import os
import struct
import sys

import nacl.exceptions
import nacl.signing

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from ghrecord import RECORD_MAX_SIZE, Bad, decode  # noqa: E402  (the one record reader)

NOTE_MAX_SIZE = 8192


def annotate(data):
    out = []
    for b, comment in decode(data)[1]:
        if not b:
            out.append("%-47s  # %s" % ("", comment))
            continue
        for i in range(0, len(b), 16):
            hx = " ".join("%02x" % c for c in b[i:i + 16])
            out.append(("%-47s  # %s" % (hx, comment)) if i == 0 else hx)
    return "\n".join(line.rstrip() for line in out) + "\n"


def b64_strict(s):
    """Standard base64 with padding, canonical: it must re-encode to exactly s."""
    b = base64.b64decode(s, validate=True)
    if base64.b64encode(b).decode() != s:
        raise Bad("non-canonical base64")
    return b


def verify_bundle(data, vkey):
    """FORMAT.md "verifying a ledger end to end", for a bundle. Returns (size, root)."""
    name, keyid_hex, key_b64 = vkey.split("+", 2)
    key = b64_strict(key_b64)
    if len(key) != 33 or key[0] != 1:
        raise Bad("vkey")
    keyid = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    if keyid.hex() != keyid_hex:
        raise Bad("vkey id")
    if data[:8] != b"GHBUNDL1":
        raise Bad("magic")
    (note_len,) = struct.unpack(">I", data[8:12])
    if not 1 <= note_len <= NOTE_MAX_SIZE or len(data) < 12 + note_len + 8:
        raise Bad("note length")
    note = data[12:12 + note_len].decode("utf-8")
    (count,) = struct.unpack(">Q", data[12 + note_len:20 + note_len])
    text, sep, sigs = note.partition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise Bad("note syntax")
    text += "\n"
    for line in sigs[:-1].split("\n"):
        # strict: every signature line must be ours and verify
        dash, lname, sig_b64 = line.split(" ")
        sig = b64_strict(sig_b64)
        if dash != "\u2014" or lname != name or sig[:4] != keyid or len(sig) != 68:
            raise Bad("foreign or malformed signature line")
        try:
            nacl.signing.VerifyKey(key[1:]).verify(text.encode(), sig[4:])
        except nacl.exceptions.BadSignatureError:
            raise Bad("bad signature")
    origin, size_s, root_b64, rest = text.split("\n", 3)
    if rest or origin != name or size_s != str(int(size_s)) or int(size_s) != count:
        raise Bad("checkpoint")
    off, leaves = 20 + note_len, []
    for _ in range(count):
        (n,) = struct.unpack(">I", data[off:off + 4])
        if not 1 <= n <= RECORD_MAX_SIZE or off + 4 + n > len(data):
            raise Bad("frame")
        rec = data[off + 4:off + 4 + n]
        decode(rec)
        leaves.append(hashlib.sha256(b"\x00" + rec).digest())
        off += 4 + n
    if off != len(data):
        raise Bad("trailing bytes")

    def mth(hs):
        if not hs:
            return hashlib.sha256(b"").digest()
        if len(hs) == 1:
            return hs[0]
        k = 1
        while k * 2 < len(hs):
            k *= 2
        return hashlib.sha256(b"\x01" + mth(hs[:k]) + mth(hs[k:])).digest()

    if mth(leaves) != b64_strict(root_b64):
        raise Bad("root mismatch")
    return count, root_b64, text


def md_blocks(md):
    """(name, block text) for every '<!-- vector: NAME -->' followed by a ``` block."""
    lines = md.split("\n")
    out = []
    for i, line in enumerate(lines):
        if line.startswith("<!-- vector: ") and line.endswith(" -->"):
            name = line[len("<!-- vector: "):-len(" -->")]
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            k = j + 1
            while k < len(lines) and lines[k] != "```":
                k += 1
            out.append((name, "\n".join(lines[j + 1:k]) + "\n"))
    return out


def check():
    src = os.environ.get("GH_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
    vdir = os.path.join(src, "tests", "vectors")
    results = []

    def t(ok, name):
        results.append((ok, name))

    md = open(os.path.join(src, "proto", "FORMAT.md"), encoding="utf-8").read()
    blocks = md_blocks(md)
    recs = sorted(f for f in os.listdir(vdir) if f.startswith("record-") and f.endswith(".bin"))
    t(len(recs) >= 5, "at least five record vectors committed (%d)" % len(recs))
    for f in recs:
        data = open(os.path.join(vdir, f), "rb").read()
        try:
            decode(data)
            t(True, "%s decodes strictly" % f)
        except Bad as e:
            t(False, "%s decodes strictly: %s" % (f, e))
            continue
        for cut in range(len(data)):
            try:
                decode(data[:cut])
                t(False, "%s truncated to %d bytes is rejected" % (f, cut))
                break
            except Bad:
                pass
        else:
            t(True, "%s: every truncation rejected" % f)
    # Version 2 is start and inventory only; its bytes are not a version 1 record.
    for f in recs:
        data = open(os.path.join(vdir, f), "rb").read()
        other = bytes([3 - data[0]]) + data[1:]
        try:
            decode(other)
            t(False, "%s with version %d in its header is rejected" % (f, other[0]))
        except Bad:
            t(True, "%s with version %d in its header is rejected" % (f, other[0]))
    seen = set()
    for f in recs:
        try:
            d = decode(open(os.path.join(vdir, f), "rb").read())[0]
            seen.add((d["version"], d["kind"]))
        except Bad:
            pass
    t({(2, "start"), (2, "inventory")} <= seen, "version 2 start and inventory vectors committed")
    t(len(blocks) >= 2, "FORMAT.md holds vector blocks (%d)" % len(blocks))
    for name, block in blocks:
        if not name.startswith(("record-", "bundle-")):
            continue  # other sections' vectors are checked by their own tests
        path = os.path.join(vdir, name)
        if name.endswith(".bin") and name.startswith("record-"):
            data = open(path, "rb").read()
            hexed = bytes.fromhex("".join(l.split("#")[0] for l in block.split("\n")))
            t(hexed == data, "FORMAT.md hex of %s is the committed vector" % name)
            t(annotate(data) == block, "FORMAT.md annotations of %s match this reader" % name)
        elif name.endswith(".vkey"):
            t(open(path).read() == block, "FORMAT.md shows %s verbatim" % name)
        elif name.endswith(".note"):
            bundle = open(os.path.join(vdir, name[:-5] + ".bin"), "rb").read()
            (n,) = struct.unpack(">I", bundle[8:12])
            t(bundle[12:12 + n].decode() == block, "FORMAT.md shows the note of %s" % name)
    bundles = sorted(f for f in os.listdir(vdir) if f.startswith("bundle-") and f.endswith(".bin"))
    t(len(bundles) >= 1, "bundle vector committed")
    for f in bundles:
        data = open(os.path.join(vdir, f), "rb").read()
        vkey = open(os.path.join(vdir, f[:-4] + ".vkey")).read().strip()
        try:
            verify_bundle(data, vkey)
            t(True, "%s verifies end to end (PyNaCl, hashlib)" % f)
        except (Bad, ValueError) as e:
            t(False, "%s verifies end to end: %s" % (f, e))
        # Every single-bit flip must fail here too.
        missed = []
        for bit in range(len(data) * 8):
            y = bytearray(data)
            y[bit // 8] ^= 1 << (bit % 8)
            try:
                verify_bundle(bytes(y), vkey)
                missed.append(bit)
            except (Bad, ValueError, UnicodeDecodeError, struct.error):
                pass
        t(not missed, "%s: flipped bits rejected by this reader too %s" % (f, missed[:5]))

    print("1..%d" % len(results))
    for i, (ok, name) in enumerate(results, 1):
        print("%s %d - %s" % ("ok" if ok else "not ok", i, name))
    return 0 if all(ok for ok, _ in results) else 1


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "annotate":
        sys.stdout.write(annotate(open(sys.argv[2], "rb").read()))
        return 0
    if len(sys.argv) == 2 and sys.argv[1] == "check":
        return check()
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
