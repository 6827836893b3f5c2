# SPDX-License-Identifier: MIT
"""Fault injection for gpuhoursd: run the real daemon under strace, inject
errors into its ledger syscalls, record every checkpoint it writes, and
check the invariants a transparency log lives by.

  - nothing served is lost: every checkpoint a client saw is a prefix of the
    ledger found after the run (same records, same root);
  - never two signed trees of one size: every checkpoint note ever written
    (seen in strace's record of the writes to checkpoint.tmp) is the only
    one for its size;
  - the daemon starts, or refuses with one clear line (never a crash, never
    a silent empty ledger).
"""
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

# The ledger's own syscalls (daemon/ledger.c) that can fail on a sick disk.
LEDGER_SYSCALLS = ["pwrite64", "fdatasync", "fsync", "ftruncate", "renameat", "openat"]
ERRORS = ["EIO", "ENOSPC"]
LEDGER_FILES = ["records", "hashes", "checkpoint", "checkpoint.tmp"]

_HEX = re.compile(r'\\x([0-9a-f]{2})')


def unhex(s):
    return bytes(int(m, 16) for m in _HEX.findall(s))


class TracedDaemon(ghtest.Daemon):
    """A ghtest.Daemon run under strace -f -xx -y, restricted (-P) to the ledger files."""

    def __init__(self, tmpdir, trace, inject=None, syscalls=None, **kw):
        super().__init__(tmpdir, **kw)
        self.trace = trace
        self.inject = inject
        self.syscalls = syscalls or ["pwrite64", "fsync", "fdatasync", "ftruncate", "renameat",
                                     "openat"]

    def args(self):
        a = ["strace", "-f", "-qq", "-xx", "-y", "-s", "65536", "-o", self.trace,
             "-e", "trace=" + ",".join(self.syscalls)]
        for f in LEDGER_FILES:
            a += ["-P", os.path.join(self.state_dir, f)]
        if self.inject:
            a += ["-e", "inject=" + self.inject]
        return a + super().args()

    def daemon_pid(self):
        """The traced gpuhoursd (strace's child)."""
        try:
            with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                kids = f.read().split()
            return int(kids[0]) if kids else None
        except OSError:
            return None

    def stop(self, timeout=20):
        if self.proc is None:
            return None
        pid = self.daemon_pid()
        if self.proc.poll() is None and pid:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._reap()
        return self.proc.returncode

    def kill9(self):
        pid = self.daemon_pid()
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return super().kill9()


def written_notes(trace_path):
    """Every checkpoint note the daemon wrote to checkpoint.tmp: list of (size, note)."""
    notes = []
    try:
        with open(trace_path, "r", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return notes
    for line in lines:
        m = re.search(r'pwrite64\(\d+<([^>]*)>, "((?:\\x[0-9a-f]{2})*)"', line)
        if not m or not unhex(m.group(1)).endswith(b"/checkpoint.tmp"):
            continue
        note = unhex(m.group(2)).decode("utf-8", "replace")
        parts = note.split("\n")
        if len(parts) > 2 and parts[1].isdigit():
            notes.append((int(parts[1]), note))
    return notes


def injected_count(trace_path):
    try:
        with open(trace_path, "r", errors="replace") as f:
            return f.read().count("(INJECTED)")
    except OSError:
        return 0


def forks(notes):
    """Sizes for which two different signed notes exist."""
    by = {}
    for size, note in notes:
        by.setdefault(size, set()).add(note)
    return sorted(s for s, v in by.items() if len(v) > 1)


def poll_served(d, seen, until, step=0.05):
    """Collect every checkpoint served until the deadline (or the daemon exits)."""
    while time.monotonic() < until:
        if not d.running():
            return
        try:
            cp = d.checkpoint()
            seen.setdefault(cp["size"], set()).add(cp["note"])
        except (OSError, RuntimeError):
            pass
        time.sleep(step)


def check_after(tmp, state_dir, vkey, seen, timeout=20):
    """Start a clean daemon on state_dir; every served checkpoint must be a prefix of its
    ledger. Returns (ok, message)."""
    d = ghtest.Daemon(os.path.join(tmp, "after"))
    d.state_dir = state_dir
    d.start(wait_ready=False)
    try:
        d.wait_ready(timeout)
    except RuntimeError as e:
        text = d.log_text()
        lines = [x for x in text.splitlines() if x.startswith("<3>")]
        d.kill9()
        if lines:
            return None, "refused: " + lines[-1]
        return False, "did not start and said nothing: %s" % str(e)[-300:]
    try:
        cp = d.checkpoint()
        raw = d.records(0, cp["size"]) if cp["size"] else []
        leaves = [ghtest.leaf_hash(r) for r in raw]
        for size, notes in seen.items():
            for note in notes:
                _, s, root = ghtest.verify_checkpoint(note, vkey)
                if s > cp["size"]:
                    return False, "served size %d lost: the ledger now has %d" % (s, cp["size"])
                if ghtest.merkle_root(leaves[:s]) != root:
                    return False, "served checkpoint of size %d is not a prefix" % s
        return True, "ledger %d records, %d served sizes are prefixes" % (cp["size"], len(seen))
    finally:
        d.stop()
