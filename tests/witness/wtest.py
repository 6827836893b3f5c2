# SPDX-License-Identifier: MIT
"""Helpers for the witness tests: a real gpuhours-witness on 127.0.0.1, and an
independent log (PyNaCl keys, RFC 6962 trees and proofs written here)."""

import base64
import hashlib
import http.client
import os
import signal
import struct
import subprocess
import time

import nacl.exceptions
import nacl.signing

import ghtest


def witness_bin():
    return os.path.join(ghtest.build_root(), "witness", "gpuhours-witness")


# ------------------------------------------------------------ C2SP, written from the specs

def key_id(name, typ, pk):
    return hashlib.sha256(name.encode() + b"\n" + bytes([typ]) + pk).digest()[:4]


def vkey(name, typ, pk):
    return "%s+%s+%s" % (name, key_id(name, typ, pk).hex(), base64.b64encode(bytes([typ]) + pk).decode())


def parse_cosigner_vkey(v):
    name, kid, b = v.split("+", 2)
    raw = base64.b64decode(b)
    assert raw[0] == 4 and len(raw) == 33 and key_id(name, 4, raw[1:]).hex() == kid, v
    return name, raw[1:]


def cosig_message(t, text):
    return b"cosignature/v1\ntime " + str(t).encode() + b"\n" + text


def verify_cosig_line(line, name, pk, text):
    """The timestamp of a valid cosignature line by (name, pk) over text, else None."""
    if not line.startswith("\u2014 "):
        return None
    sname, b = line[2:].rstrip("\n").split(" ", 1)
    raw = base64.b64decode(b, validate=True)
    if sname != name or len(raw) != 76 or raw[:4] != key_id(name, 4, pk):
        return None
    t = struct.unpack(">Q", raw[4:12])[0]
    try:
        nacl.signing.VerifyKey(pk).verify(cosig_message(t, text.encode()), raw[12:])
    except nacl.exceptions.BadSignatureError:
        return None
    return t


def leaf(i, tag=b""):
    return hashlib.sha256(b"\x00" + b"leaf %d" % i + tag).digest()


def mth(leaves):
    return ghtest.merkle_root(leaves)


def _subproof(m, leaves, b):
    n = len(leaves)
    if m == n:
        return [] if b else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return _subproof(m, leaves[:k], b) + [mth(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def consistency(m, leaves):
    """RFC 6962 2.1.2 PROOF(m, D[n])."""
    if m == 0 or m == len(leaves):
        return []
    return _subproof(m, leaves, True)


class Log:
    """An independent C2SP log: an Ed25519 key and a list of leaves."""

    def __init__(self, origin, seed=None, tag=b""):
        self.origin = origin
        self.sk = nacl.signing.SigningKey(seed or hashlib.sha256(origin.encode()).digest())
        self.pk = bytes(self.sk.verify_key)
        self.vkey = vkey(origin, 1, self.pk)
        self.tag = tag
        self.leaves = []

    def grow(self, n):
        for _ in range(n):
            self.leaves.append(leaf(len(self.leaves), self.tag))

    def text(self, size=None, root=None):
        size = len(self.leaves) if size is None else size
        root = mth(self.leaves[:size]) if root is None else root
        return "%s\n%d\n%s\n" % (self.origin, size, base64.b64encode(root).decode())

    def sign(self, text, sk=None):
        sk = sk or self.sk
        sig = key_id(self.origin, 1, bytes(sk.verify_key)) + sk.sign(text.encode()).signature
        return text + "\n\u2014 %s %s\n" % (self.origin, base64.b64encode(sig).decode())

    def checkpoint(self, size=None):
        return self.sign(self.text(size))

    def body(self, old, size=None, proof=None, note=None):
        size = len(self.leaves) if size is None else size
        if proof is None:
            proof = consistency(old, self.leaves[:size]) if old else []
        note = note or self.checkpoint(size)
        return ("old %d\n" % old + "".join(base64.b64encode(h).decode() + "\n" for h in proof)
                + "\n" + note).encode()

    def list_entry(self, qpd=288, contact="ops@example.org"):
        return "vkey %s\nqpd %d\ncontact %s\n" % (self.vkey, qpd, contact)


def write_list(path, logs):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write("logs/v0\n# written by the test\n")
        for lg in logs:
            f.write(lg.list_entry())
    os.rename(tmp, path)


class Witness:
    """A real gpuhours-witness with its own state dir and log list."""

    def __init__(self, tmpdir, name="witness.test/w1", port=None):
        self.tmpdir = tmpdir
        self.name = name
        self.state_dir = os.path.join(tmpdir, "wstate")
        self.logs_file = os.path.join(tmpdir, "logs.list")
        self.port = port or ghtest.free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.log_path = os.path.join(tmpdir, "witness.log")
        self.proc = None

    def args(self):
        return [witness_bin(), "--state-dir", self.state_dir, "--listen", "127.0.0.1:%d" % self.port,
                "--logs", self.logs_file, "--name", self.name]

    def print_key(self):
        p = subprocess.run([witness_bin(), "--state-dir", self.state_dir, "--name", self.name,
                            "--print-key"], capture_output=True, timeout=20, check=True)
        return p.stdout.decode().strip()

    def start(self, timeout=15):
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        log.close()
        ghtest._live.append(self)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gpuhours-witness exited %d:\n%s" % (self.proc.returncode, self.log_text()))
            try:
                st, _, _ = self.request("GET", "/metrics", timeout=2)
                if st == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gpuhours-witness not ready:\n" + self.log_text())

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self in ghtest._live:
            ghtest._live.remove(self)

    def stop(self, timeout=10):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self in ghtest._live:
            ghtest._live.remove(self)
        return self.proc.returncode

    def hup(self):
        self.proc.send_signal(signal.SIGHUP)

    def request(self, method, path, body=None, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request(method, path, body=body)
            r = c.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            c.close()

    def add(self, body):
        return self.request("POST", "/add-checkpoint", body)

    def latest(self, origin):
        return self.request("GET", "/%s/checkpoint" % hashlib.sha256(origin.encode()).hexdigest())

    def metrics(self):
        st, _, body = self.request("GET", "/metrics")
        return body.decode() if st == 200 else ""
