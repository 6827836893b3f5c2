#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Helpers for the HTTP tests: raw requests, proto's verifiers (ghverify) and a
Prometheus text-format parser. The independent Python verifiers (RFC 9162 proofs,
signed notes, checkpoints) are ghtest's."""

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
