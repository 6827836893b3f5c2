#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Shared helpers for gpuhours integration tests (TAP output, a real daemon).

    import sys, os
    sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
    import ghtest

Every daemon started through Daemon is killed at interpreter exit, also when
the test fails with an exception.
"""

import atexit
import base64
import http.client
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import traceback

import ghrecord  # the one record reader; tests/lib is on sys.path wherever ghtest is

__all__ = ["Tap", "Daemon", "daemon_bin", "client_bin", "build_root", "source_root", "free_port"]


# ---------------------------------------------------------------- paths

def source_root():
    return os.environ.get("GH_SOURCE_ROOT",
                          os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def build_root():
    root = os.environ.get("GH_BUILD_ROOT")
    if not root:
        raise RuntimeError("GH_BUILD_ROOT is not set (run the test through meson test)")
    return root


def daemon_bin():
    return os.path.join(build_root(), "daemon", "gpuhoursd")


def client_bin():
    return os.path.join(build_root(), "client", "gpuhours")


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- TAP

class Tap:
    """Minimal TAP producer: tap.ok(cond, msg, diag=None); tap.skip(msg); tap.done()."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        sys.stdout.reconfigure(line_buffering=True)

    @staticmethod
    def _clean(msg):
        return str(msg).replace("\n", " ").replace("#", "\\#")

    def diag(self, text):
        for line in str(text).splitlines() or [""]:
            print("# " + line)

    def ok(self, cond, msg, diag=None):
        self.n += 1
        if cond:
            print("ok %d - %s" % (self.n, self._clean(msg)))
        else:
            self.failed += 1
            print("not ok %d - %s" % (self.n, self._clean(msg)))
            if diag is not None:
                self.diag(diag)
        return bool(cond)

    def skip(self, msg):
        self.n += 1
        print("ok %d - # SKIP %s" % (self.n, self._clean(msg)))

    def done(self):
        """Print the plan, stop every daemon and exit (1 if anything failed).
        Directories from ghtest.tmpdir() are removed when everything passed."""
        _cleanup_all()
        if not self.failed:
            import shutil
            for d in _tmpdirs:
                shutil.rmtree(d, ignore_errors=True)
        print("1..%d" % self.n)
        sys.stdout.flush()
        sys.exit(1 if self.failed or self.n == 0 else 0)

    def crash(self, exc_info=None):
        """Report an unexpected exception as a failure and finish."""
        self.ok(False, "test raised an exception", diag="".join(traceback.format_exception(*(exc_info or sys.exc_info()))))
        self.done()

    def run(self, *steps):
        """Run a test script's steps in order; an unexpected exception is one
        failure with its traceback. Ends with done() either way."""
        try:
            for step in steps:
                step()
        except Exception:  # noqa: BLE001 - any escape is a failed test
            self.crash()
        self.done()


# ---------------------------------------------------------------- daemon

_live = []
_tmpdirs = []


def tmpdir(prefix="gh-"):
    """A fresh temporary directory, removed by Tap.done() if every test passed."""
    import tempfile
    d = tempfile.mkdtemp(prefix=prefix)
    _tmpdirs.append(d)
    return d


def _cleanup_all():
    for d in list(_live):
        try:
            d.kill9()
        except Exception:
            pass


atexit.register(_cleanup_all)


def _term_handler(signum, frame):
    _cleanup_all()
    sys.exit(128 + signum)


# meson test sends SIGTERM on timeout: make sure no daemon outlives the test.
signal.signal(signal.SIGTERM, _term_handler)


class Daemon:
    """A real gpuhoursd on 127.0.0.1 with its own state and sim directories."""

    def __init__(self, tmpdir, gpus=2, period=1, interval=0.1, extra_args=None, env=None,
                 backend="sim", port=None):
        self.tmpdir = tmpdir
        self.gpus = gpus
        self.period = period
        self.interval = interval
        self.extra_args = list(extra_args or [])
        self.env = env
        self.backend = backend
        self.port = port if port is not None else free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        self.state_dir = os.path.join(tmpdir, "state")
        self.sim_dir = os.path.join(tmpdir, "sim")
        self.log_path = os.path.join(tmpdir, "gpuhoursd.log")
        self.proc = None
        self._log = None

    # -- process control
    def args(self):
        a = [daemon_bin(), "--state-dir", self.state_dir, "--listen", "127.0.0.1:%d" % self.port,
             "--backend", self.backend, "--period", str(self.period),
             "--sample-interval", str(self.interval)]
        if self.backend == "sim":
            a += ["--sim-dir", self.sim_dir, "--sim-gpus", str(self.gpus)]
        return a + self.extra_args

    def _environ(self):
        e = dict(os.environ)
        e.pop("NOTIFY_SOCKET", None)
        e.pop("LISTEN_FDS", None)
        e.pop("LISTEN_PID", None)
        if self.env:
            e.update(self.env)
        return e

    def start(self, wait_ready=True, timeout=15):
        os.makedirs(self.tmpdir, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=self._log, env=self._environ())
        _live.append(self)
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gpuhoursd exited with %d before it was ready:\n%s"
                                   % (self.proc.returncode, self.log_tail()))
            try:
                st, _, _ = self.get("/checkpoint", timeout=2)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("gpuhoursd not ready after %s s:\n%s" % (timeout, self.log_tail()))

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _reap(self):
        if self in _live:
            _live.remove(self)
        if self._log:
            self._log.close()
            self._log = None

    def stop(self, timeout=10):
        """SIGTERM, wait; returns the exit code (SIGKILL after timeout: returns -9)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reap()
        return self.proc.returncode

    def kill9(self):
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._reap()
        return self.proc.returncode

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=40):
        return "\n".join(self.log_text().splitlines()[-n:])

    # -- sim control
    def set_load(self, loads):
        """Write sim-dir/load atomically (percentages, GPU i takes the i-th value)."""
        os.makedirs(self.sim_dir, exist_ok=True)
        tmp = os.path.join(self.sim_dir, ".load.tmp")
        with open(tmp, "w") as f:
            f.write(" ".join(str(x) for x in loads) + "\n")
        os.rename(tmp, os.path.join(self.sim_dir, "load"))

    # -- HTTP
    def get(self, path, timeout=10):
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("GET", path)
            r = c.getresponse()
            body = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, body
        finally:
            c.close()

    def checkpoint(self):
        """The latest checkpoint, parsed (not verified): dict(origin, size, root_b64, note)."""
        st, _, body = self.get("/checkpoint")
        if st != 200:
            raise RuntimeError("/checkpoint answered %d: %r" % (st, body[:200]))
        note = body.decode("utf-8")
        lines = note.split("\n")
        return dict(origin=lines[0], size=int(lines[1]), root_b64=lines[2], note=note)

    def vkey(self):
        """The node's vkey line, from `gpuhoursd --print-key` with the same settings."""
        a = [daemon_bin(), "--state-dir", self.state_dir]
        ea = self.extra_args
        for i, x in enumerate(ea):
            if x in ("--origin", "--config") and i + 1 < len(ea):
                a += [x, ea[i + 1]]
            elif x.startswith("--origin=") or x.startswith("--config="):
                a.append(x)
        a.append("--print-key")
        out = subprocess.run(a, stdin=subprocess.DEVNULL, capture_output=True, env=self._environ(),
                             timeout=20, check=True)
        return out.stdout.decode().strip()

    def wait_size(self, n, timeout=20):
        """Wait until the published checkpoint size is >= n; returns the checkpoint dict."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = self.checkpoint()
                if last["size"] >= n:
                    return last
            except (OSError, RuntimeError):
                pass
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError("gpuhoursd exited with %d:\n%s" % (self.proc.returncode, self.log_tail()))
            time.sleep(0.05)
        raise RuntimeError("checkpoint size did not reach %d in %s s (last %r)\n%s"
                           % (n, timeout, last and last["size"], self.log_tail()))

    def records(self, start, end):
        """Raw record bytes [start, end), following the server's paging."""
        out = []
        pos = start
        while pos < end:
            st, hdr, body = self.get("/v1/records?start=%d&end=%d" % (pos, end))
            if st != 200:
                raise RuntimeError("/v1/records?start=%d&end=%d answered %d: %r" % (pos, end, st, body[:200]))
            got = split_frames(body)
            if not got:
                raise RuntimeError("/v1/records returned no records")
            out.extend(got)
            pos += len(got)
        if pos != end:
            raise RuntimeError("/v1/records returned too many records")
        return out


def split_frames(data):
    """Framed records (u32 big-endian length + bytes, back to back) to a list of bytes."""
    recs = []
    i = 0
    while i < len(data):
        if len(data) - i < 4:
            raise ValueError("truncated frame length at offset %d" % i)
        (n,) = struct.unpack(">I", data[i:i + 4])
        if n == 0 or n > 65536 or len(data) - i - 4 < n:
            raise ValueError("bad frame length %d at offset %d" % (n, i))
        recs.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return recs


# ---------------------------------------------------------------- RFC 6962 / C2SP helpers
# Independent of proto/: hashlib + PyNaCl (imported lazily).

def leaf_hash(data):
    import hashlib
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    import hashlib
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaves):
    """RFC 6962 MTH over a list of leaf hashes."""
    import hashlib
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(merkle_root(leaves[:k]), merkle_root(leaves[k:]))


def parse_proof(body):
    """Proof text (one base64 hash per line) to a list of 32-byte hashes."""
    text = body.decode("ascii") if isinstance(body, bytes) else body
    out = []
    if text and not text.endswith("\n"):
        raise ValueError("proof text does not end in a newline")
    for line in text.split("\n")[:-1]:
        h = base64.b64decode(line, validate=True)
        if len(h) != 32:
            raise ValueError("bad hash length in proof")
        out.append(h)
    return out


def verify_inclusion(index, size, leaf, proof, root):
    """RFC 9162 2.1.3.2; True if the audit path proves leaf at index in the tree with root."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_hash, second_hash, proof):
    """RFC 9162 2.1.4.2."""
    if first == 0 or first > second:
        return False
    if first == second:
        return len(proof) == 0 and first_hash == second_hash
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_hash)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def note_signed_text(note, vkey):
    """Verifies a C2SP signed note against vkey with PyNaCl; returns the signed text (ending
    in a newline) or raises."""
    import hashlib
    import nacl.signing
    name, keyid_hex, key_b64 = vkey.split("+", 2)  # base64 may hold '+' too
    keybytes = base64.b64decode(key_b64)
    if len(keybytes) != 33 or keybytes[0] != 1:
        raise ValueError("bad vkey")
    pk = keybytes[1:]
    keyid = hashlib.sha256(name.encode() + b"\n\x01" + pk).digest()[:4]
    if keyid.hex() != keyid_hex:
        raise ValueError("vkey key id mismatch")
    text, sep, sigs = note.partition("\n\n")
    if not sep:
        raise ValueError("no blank line in note")
    text += "\n"
    good = False
    for line in sigs.split("\n"):
        if not line:
            continue
        if not line.startswith("\u2014 "):
            raise ValueError("bad signature line %r" % line)
        sname, sig_b64 = line[2:].split(" ", 1)
        raw = base64.b64decode(sig_b64)
        if sname == name and raw[:4] == keyid:
            nacl.signing.VerifyKey(pk).verify(text.encode(), raw[4:])
            good = True
    if not good:
        raise ValueError("no signature by the vkey")
    return text


def verify_checkpoint(note, vkey):
    """Verify a C2SP signed checkpoint note (origin, size, root; no extension lines) with a
    vkey; returns (origin, size, root bytes) or raises."""
    name = vkey.split("+", 1)[0]
    lines = note_signed_text(note, vkey).split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise ValueError("not a checkpoint: %d lines" % (len(lines) - 1))
    if lines[0] != name:
        raise ValueError("origin %r is not the key name %r" % (lines[0], name))
    if not lines[1].isdigit() or (lines[1] != "0" and lines[1][0] == "0"):
        raise ValueError("bad size line %r" % lines[1])
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("bad root")
    return lines[0], int(lines[1]), root


# ---------------------------------------------------------------- record decoding (proto/FORMAT.md)

def decode_record(b):
    """Decode one record (without its frame) into a dict with 'kind' as a name.

    Strict (tests/lib/ghrecord.py, the one Python record reader): raises
    ValueError on anything proto's record_decode would reject.
    """
    return ghrecord.decode(b)[0]
