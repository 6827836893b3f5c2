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


def untraceable_leaks(env):
    """LeakSanitizer cannot run under ptrace (it exits with a fatal error at the
    daemon's exit): in a sanitizer build, a traced daemon runs without it."""
    if "ASAN_OPTIONS" in env:
        env = dict(env)
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    return env


class TracedDaemon(ghtest.Daemon):
    """A ghtest.Daemon run under strace -f -xx -y, restricted (-P) to the ledger files."""

    def __init__(self, tmpdir, trace, inject=None, syscalls=None, files=None, **kw):
        super().__init__(tmpdir, **kw)
        # -P: the state directory (its fsync, the *at calls on it) and the ledger files,
        # or only the names in files.
        self.files = files
        self.trace = trace
        self.inject = inject
        self.syscalls = syscalls or ["pwrite64", "fsync", "fdatasync", "ftruncate", "renameat",
                                     "openat"]

    def args(self):
        a = ["strace", "-f", "-qq", "-xx", "-y", "-s", "65536", "-o", self.trace,
             "-e", "trace=" + ",".join(self.syscalls)]
        if self.files is None:
            a += ["-P", self.state_dir]
        for f in LEDGER_FILES if self.files is None else self.files:
            a += ["-P", os.path.join(self.state_dir, f)]
        if self.inject:
            a += ["-e", "inject=" + self.inject]
        return a + super().args()

    def _environ(self):
        return untraceable_leaks(super()._environ())

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


# ---------------------------------------------------------------- power-loss states

_CALL = re.compile(r'^(?:\d+ +)?(\w+)\((.*)\) += (-?\d+)')
_FDPATH = re.compile(r'^-?\d+<((?:\\x[0-9a-f]{2})*)>')
_STR = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


def _fd_path(arg):
    m = _FDPATH.match(arg.strip())
    return unhex(m.group(1)).decode("utf-8", "replace") if m else None


def parse_ops(trace_path, state_dir):
    """The daemon's successful state-directory mutations and syncs, in order, from an
    strace -f -xx -y log: (op, name, args) with names relative to state_dir."""
    ops = []
    with open(trace_path, "r", errors="replace") as f:
        lines = f.read().splitlines()
    for line in lines:
        m = _CALL.match(line)
        if not m or int(m.group(3)) < 0:
            continue
        call, args, ret = m.group(1), m.group(2), int(m.group(3))
        strs = [unhex(x).decode("utf-8", "replace") for x in _STR.findall(args)]
        first = _fd_path(args.split(",", 1)[0])

        def rel(p):
            if p and p.startswith(state_dir + "/"):
                return p[len(state_dir) + 1:]
            return None
        if call == "pwrite64":
            name = rel(first)
            data = unhex(_STR.search(args).group(1))
            off = int(args.rsplit(",", 1)[1])
            if name:
                ops.append(("write", name, (off, data[:ret])))
        elif call == "ftruncate":
            if rel(first):
                ops.append(("truncate", rel(first), int(args.rsplit(",", 1)[1])))
        elif call in ("fsync", "fdatasync"):
            if first == state_dir:
                ops.append(("dirsync", None, None))
            elif rel(first):
                ops.append(("sync", rel(first), None))
        elif call == "openat" and first == state_dir and strs and "O_CREAT" in args:
            ops.append(("create", strs[0], "O_TRUNC" in args))
        elif call == "renameat" and first == state_dir and len(strs) == 2:
            ops.append(("rename", strs[0], strs[1]))
        elif call == "unlinkat" and first == state_dir and strs:
            ops.append(("unlink", strs[0], None))
    return ops


class _Model:
    """Names and inodes; each inode has its written and its durable contents."""

    def __init__(self, files):
        self.inodes = {}
        self.cur = {}
        for i, (name, data) in enumerate(files.items()):
            self.inodes[i] = {"cur": bytearray(data), "dur": bytes(data)}
            self.cur[name] = i
        self.dur = dict(self.cur)
        self.next = len(self.inodes)
        self.last_unsynced = None  # (inode, off, data) of the last write not yet synced

    def apply(self, op):
        kind, name, arg = op
        if kind == "create":
            if name not in self.cur:
                self.inodes[self.next] = {"cur": bytearray(), "dur": b""}
                self.cur[name] = self.next
                self.next += 1
            elif arg:
                self.inodes[self.cur[name]]["cur"] = bytearray()
        elif kind == "write" and name in self.cur:
            off, data = arg
            buf = self.inodes[self.cur[name]]["cur"]
            if len(buf) < off:
                buf.extend(b"\0" * (off - len(buf)))
            buf[off:off + len(data)] = data
            self.last_unsynced = (self.cur[name], off, data)
        elif kind == "truncate" and name in self.cur:
            buf = self.inodes[self.cur[name]]["cur"]
            del buf[arg:]
            if len(buf) < arg:
                buf.extend(b"\0" * (arg - len(buf)))
        elif kind == "sync" and name in self.cur:
            ino = self.inodes[self.cur[name]]
            ino["dur"] = bytes(ino["cur"])
            if self.last_unsynced and self.last_unsynced[0] == self.cur[name]:
                self.last_unsynced = None
        elif kind == "dirsync":
            self.dur = dict(self.cur)
        elif kind == "rename" and name in self.cur:
            self.cur[arg] = self.cur.pop(name)
        elif kind == "unlink":
            self.cur.pop(name, None)

    def states(self):
        """Directory states a power loss now could leave: {label: {name: bytes}}."""
        out = {
            "synced": {n: self.inodes[i]["dur"] for n, i in self.dur.items()},
            "all-written": {n: bytes(self.inodes[i]["cur"]) for n, i in self.cur.items()},
            "names-now,synced-data": {n: self.inodes[i]["dur"] for n, i in self.cur.items()},
        }
        if self.last_unsynced:
            ino, off, data = self.last_unsynced
            half = {n: self.inodes[i]["dur"] for n, i in self.dur.items()}
            for n, i in self.dur.items():
                if i == ino:
                    b = bytearray(self.inodes[i]["dur"])
                    part = data[:max(1, len(data) // 2)]
                    if len(b) < off:
                        b.extend(b"\0" * (off - len(b)))
                    b[off:off + len(part)] = part
                    half[n] = bytes(b)
            out["torn-write"] = half
        return out


def power_loss_states(ops, base_files, every=1):
    """Distinct states after each op (every N-th op): list of (op index, label, files,
    acknowledged notes, signed notes). Acknowledged: renamed into place and the directory
    synced (only then are they served). Signed: every note written to checkpoint.tmp by
    then (each was signed after its records were synced, so each must survive)."""
    m = _Model(base_files)
    seen = set()
    out = []
    acked = []
    signed = []
    pending_cp = None
    for k, op in enumerate(ops):
        m.apply(op)
        if op[0] == "write" and op[1] == "checkpoint.tmp" and op[2][0] == 0:
            signed.append(op[2][1].decode("utf-8", "replace"))
        if op[0] == "rename" and op[2] == "checkpoint":
            pending_cp = bytes(m.inodes[m.cur["checkpoint"]]["cur"])
        if op[0] == "dirsync" and pending_cp is not None:
            acked.append(pending_cp.decode("utf-8", "replace"))
            pending_cp = None
        if k % every:
            continue
        for label, files in m.states().items():
            key = tuple(sorted((n, hash(b)) for n, b in files.items()))
            if key in seen:
                continue
            seen.add(key)
            out.append((k, label, files, list(acked), list(signed)))
    return out
