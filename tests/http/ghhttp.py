#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers for the HTTP tests: raw requests, proto's verifiers (ghverify) and
independent Python ones (RFC 9162 proofs with hashlib, signed notes with
PyNaCl), and a Prometheus text-format parser."""

import base64
import hashlib
import os
import re
import socket
import subprocess
import tempfile

import ghtest


def ghverify_bin():
    return os.path.join(ghtest.build_root(), "tests", "http", "ghverify")


def ghverify(*args, files=None):
    """Runs ghverify; files: {placeholder: bytes} written to temp files and substituted.
    Returns (exit code, stdout text, stderr text)."""
    with tempfile.TemporaryDirectory() as td:
        argv = [ghverify_bin()]
        for a in args:
            if files and a in files:
                p = os.path.join(td, a)
                with open(p, "wb") as f:
                    f.write(files[a])
                a = p
            argv.append(str(a))
        r = subprocess.run(argv, capture_output=True, timeout=30)
        return r.returncode, r.stdout.decode(), r.stderr.decode()


def request(port, method, path, src="127.0.0.1", body=None, timeout=10):
    """One HTTP/1.1 request on a fresh connection: (status, headers (lowercase), body)."""
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(src, 0))
    try:
        c.putrequest(method, path, skip_accept_encoding=True)
        if body is not None:
            c.putheader("Content-Length", str(len(body)))
        c.endheaders(body)
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    finally:
        c.close()


def raw_exchange(port, data, timeout=12, src="127.0.0.1"):
    """Sends raw bytes, returns everything the server sent until it closed or went quiet."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(src, 0))
    out = b""
    try:
        try:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server may close while we still send
        while len(out) < 1 << 20:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            out += chunk
    finally:
        s.close()
    return out


# ---------------------------------------------------------------- RFC 9162 (independent of proto)

def verify_inclusion(index, size, leaf, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = ghtest.node_hash(p, r)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = ghtest.node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(m, n, r1, r2, proof):
    if m == n:
        return not proof and r1 == r2
    if m == 0 or m > n or not proof:
        return False
    if m & (m - 1) == 0:
        proof = [r1] + list(proof)
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = ghtest.node_hash(c, fr)
            sr = ghtest.node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = ghtest.node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == r1 and sr == r2


def parse_proof(body):
    """Proof text (one base64 hash per line) to a list of 32-byte hashes; raises if malformed."""
    text = body.decode("ascii")
    if text and not text.endswith("\n"):
        raise ValueError("proof does not end in a newline")
    out = []
    for line in text.split("\n")[:-1]:
        h = base64.b64decode(line, validate=True)
        if len(h) != 32:
            raise ValueError("proof line is not a 32-byte hash")
        out.append(h)
    return out


def note_signed_text(note, vkey):
    """Verifies a C2SP signed note against vkey with PyNaCl; returns the signed text."""
    import nacl.signing
    name, keyid_hex, key_b64 = vkey.split("+", 2)  # base64 may hold '+' too
    raw = base64.b64decode(key_b64)
    pk = raw[1:]
    keyid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    if raw[0] != 1 or len(pk) != 32 or keyid.hex() != keyid_hex:
        raise ValueError("bad vkey")
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        raise ValueError("no blank line")
    text += "\n"
    good = False
    for line in sigs.split("\n"):
        if not line:
            continue
        sname, sig_b64 = line[len("\u2014 "):].split(" ")
        sig = base64.b64decode(sig_b64)
        if sname == name and sig[:4] == keyid:
            nacl.signing.VerifyKey(pk).verify(text.encode(), sig[4:])
            good = True
    if not good:
        raise ValueError("no signature by the vkey")
    return text


def verify_checkpoint(note, vkey):
    """Verifies a checkpoint note with PyNaCl: (origin, size, root bytes) or raises."""
    lines = note_signed_text(note, vkey).split("\n")
    if len(lines) != 4 or lines[3] != "" or lines[0] != vkey.split("+", 1)[0]:
        raise ValueError("not a checkpoint for this key")
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise ValueError("bad size line")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("bad root")
    return lines[0], int(lines[1]), root


# ---------------------------------------------------------------- Prometheus text format 0.0.4

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\\\|\\"|\\n)*)"(,|$)')


def parse_prometheus(text):
    """Returns {family: {"help", "type", "samples": [(labels dict, float)]}}; raises on any
    violation: a line without its final newline, HELP/TYPE missing, repeated or after
    samples, a counter not ending in _total, unparsable labels or values."""
    if not text.endswith("\n"):
        raise ValueError("last line does not end in a newline")
    fams = {}
    for line in text.split("\n")[:-1]:
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            kind, rest = line[2:6], line[7:]
            name, _, val = rest.partition(" ")
            f = fams.setdefault(name, {"help": None, "type": None, "samples": []})
            key = kind.lower()
            if f[key] is not None or f["samples"]:
                raise ValueError("%s for %s repeated or after its samples" % (kind, name))
            if not val:
                raise ValueError("empty %s for %s" % (kind, name))
            f[key] = val
            continue
        if line.startswith("#") or not line:
            raise ValueError("unexpected line %r" % line)
        m = _SAMPLE.match(line)
        if not m:
            raise ValueError("bad sample line %r" % line)
        name, labels_txt, value = m.group(1), m.group(3), m.group(4)
        f = fams.get(name)
        if f is None or f["help"] is None or f["type"] is None:
            raise ValueError("sample %s before its HELP and TYPE" % name)
        labels = {}
        pos = 0
        while labels_txt and pos < len(labels_txt):
            lm = _LABEL.match(labels_txt, pos)
            if not lm:
                raise ValueError("bad labels in %r" % line)
            labels[lm.group(1)] = lm.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            pos = lm.end()
        f["samples"].append((labels, float(value)))
    for name, f in fams.items():
        if f["type"] not in ("counter", "gauge", "untyped", "summary", "histogram"):
            raise ValueError("family %s has type %r" % (name, f["type"]))
        if (f["type"] == "counter") != name.endswith("_total"):
            raise ValueError("family %s: counters (and only counters) end in _total" % name)
        if f["help"] is None or f["type"] is None:
            raise ValueError("family %s lacks HELP or TYPE" % name)
    return fams


def summaries(records):
    """Decodes framed records with proto (ghverify records): list of dicts per record."""
    framed = b"".join(len(r).to_bytes(4, "big") + r for r in records)
    rc, out, err = ghverify("records", "F", files={"F": framed})
    if rc != 0:
        raise ValueError("ghverify records: " + err.strip())
    res = []
    for line in out.splitlines():
        f = line.split()
        d = {"kind": f[0], "wall_ns": int(f[1])}
        if f[0] == "summary":
            d.update(period_start_ns=int(f[2]), period_s=int(f[3]), flags=int(f[4]),
                     obs_end_wall_ns=int(f[5]))
        res.append(d)
    return res
