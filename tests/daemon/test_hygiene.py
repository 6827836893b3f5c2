#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# State hygiene, identity changes and log lines that name the real problem:
# a FIFO or a directory as 'checkpoint', a group-writable state directory, a
# key with a second hard link, an empty checkpoint, a torn tail, a temporary
# key left by a crash, a ledger whose key is gone, a brand-new key, EIO on
# the key read and ENOSPC on a directory fsync (the last two by strace).
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def fresh(tmp, name):
    d = ghtest.Daemon(os.path.join(tmp, name))
    d.start()
    d.wait_size(2)
    d.stop()
    return d


def refused(d, timeout=20, prefix=None):
    """Run d to its exit (it must refuse); returns (exit code, log)."""
    args = (prefix or []) + d.args()
    with open(d.log_path, "w") as log:
        try:
            env = d._environ()
            if prefix and "ASAN_OPTIONS" in env:
                # LeakSanitizer cannot run under ptrace (strace): a fatal error at exit.
                env["ASAN_OPTIONS"] += ":detect_leaks=0"
            p = subprocess.run(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, timeout=timeout,
                               env=env)
            code = p.returncode
        except subprocess.TimeoutExpired:
            code = None
    return code, d.log_text()


def main():
    tmp = ghtest.tmpdir("gh-hygiene-")

    d = fresh(tmp, "fifo")
    cp = os.path.join(d.state_dir, "checkpoint")
    os.unlink(cp)
    os.mkfifo(cp)
    code, log = refused(d)
    tap.ok(code == 1 and "checkpoint' is not a regular file" in log,
           "a FIFO as checkpoint: exits 1 at once naming the file (got %s)" % code, diag=log[-400:])

    d = fresh(tmp, "dir")
    cp = os.path.join(d.state_dir, "checkpoint")
    os.unlink(cp)
    os.mkdir(cp)
    code, log = refused(d)
    tap.ok(code == 1 and cp + "' is a directory" in log,
           "a directory as checkpoint: the message names the file (got %s)" % code, diag=log[-400:])

    d = fresh(tmp, "mode")
    os.chmod(d.state_dir, 0o770)
    code, log = refused(d)
    tap.ok(code == 1 and "mode 0770" in log and "group/others can write" in log,
           "a group-writable state directory is refused (got %s)" % code, diag=log[-400:])

    d = fresh(tmp, "link")
    os.link(os.path.join(d.state_dir, "node.key"), os.path.join(tmp, "stolen.key"))
    code, log = refused(d)
    tap.ok(code == 1 and "2 hard links" in log, "a key with a second hard link is refused "
           "(got %s)" % code, diag=log[-400:])

    d = fresh(tmp, "empty")
    open(os.path.join(d.state_dir, "checkpoint"), "w").close()
    code, log = refused(d)
    tap.ok(code == 1 and "is empty" in log and "not a key problem" in log,
           "an empty checkpoint is reported as empty, not as a key problem", diag=log[-400:])

    d = fresh(tmp, "torn")
    with open(os.path.join(d.state_dir, "records"), "rb") as f:
        n = len(ghtest.split_frames(f.read()))
    with open(os.path.join(d.state_dir, "records"), "ab") as f:
        f.write(b"\x00\x00\x01\x00partial")
    tmpkey = os.path.join(d.state_dir, ".node.key.4242.tmp")
    with open(tmpkey, "wb") as f:
        f.write(b"k" * 32)
    d.start()
    d.wait_size(n + 1)
    d.stop()
    log = d.log_text()
    tap.ok("after the %d intact records" % n in log, "the torn tail is cut after the %d intact "
           "records (no off-by-one)" % n, diag=[x for x in log.splitlines() if "torn" in x])
    tap.ok(not os.path.exists(tmpkey) and ".node.key.4242.tmp" in log,
           "a temporary key copy left by a crash is removed and logged")

    d = fresh(tmp, "nokey")
    os.unlink(os.path.join(d.state_dir, "node.key"))
    code, log = refused(d)
    tap.ok(code == 1 and "refusing to create a new identity" in log
           and not os.path.exists(os.path.join(d.state_dir, "node.key")),
           "a ledger whose key is gone: refused, no new key created (got %s)" % code, diag=log[-400:])

    d = ghtest.Daemon(os.path.join(tmp, "new"))
    d.start()
    d.stop()
    warn = [x for x in d.log_text().splitlines() if x.startswith("<4>") and "NEW node key" in x]
    tap.ok(len(warn) == 1, "a brand-new key is a warning, not an info line", diag=d.log_tail(5))

    if shutil.which("strace"):
        d = fresh(tmp, "keyeio")
        key = os.path.join(d.state_dir, "node.key")
        code, log = refused(d, prefix=["strace", "-f", "-qq", "-o", "/dev/null", "-P", key,
                                       "-e", "trace=pread64", "-e", "inject=pread64:error=EIO"])
        tap.ok(code == 1 and "cannot read: Input/output error" in log and "short read" not in log,
               "EIO on the key read says EIO, not 'short read'", diag=log[-400:])

        d = fresh(tmp, "dirfsync")
        code, log = refused(d, prefix=["strace", "-f", "-qq", "-o", "/dev/null", "-P", d.state_dir,
                                       "-e", "trace=fsync", "-e", "inject=fsync:error=ENOSPC:when=2"])
        tap.ok(code == 1 and "fsync of the directory" in log and "No space left" in log,
               "ENOSPC from a directory fsync is reported as such, not as EIO", diag=log[-400:])
    else:
        tap.skip("strace missing")
        tap.skip("strace missing")


tap.run(main)
