#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# The signing key as a systemd credential (LoadCredential=node.key:...): with
# $CREDENTIALS_DIRECTORY/node.key present, gpuhoursd signs with that key and
# creates none in its state directory.
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def print_key(state, env=None):
    e = dict(os.environ)
    e.pop("CREDENTIALS_DIRECTORY", None)
    e.update(env or {})
    r = subprocess.run([ghtest.daemon_bin(), "--state-dir", state, "--origin", "cred.example/gpuhours",
                        "--print-key"], capture_output=True, text=True, timeout=30, env=e,
                       stdin=subprocess.DEVNULL)
    return r.returncode, r.stdout.strip(), r.stderr


def main():
    with tempfile.TemporaryDirectory(prefix="gh-cred-") as tmp:
        a = os.path.join(tmp, "a")
        rc, vkey_a, err = print_key(a)
        tap.ok(rc == 0 and vkey_a.startswith("cred.example/gpuhours+"), "a key in state dir A", diag=err)
        # What systemd does for LoadCredential=: a private directory, the file read-only.
        cred = os.path.join(tmp, "credentials")
        os.mkdir(cred, 0o700)
        shutil.copy(os.path.join(a, "node.key"), os.path.join(cred, "node.key"))
        os.chmod(os.path.join(cred, "node.key"), 0o400)
        b = os.path.join(tmp, "b")
        rc, vkey_b, err = print_key(b, {"CREDENTIALS_DIRECTORY": cred})
        tap.ok(rc == 0 and vkey_b == vkey_a, "with $CREDENTIALS_DIRECTORY/node.key the daemon uses that key",
               diag="%s vs %s\n%s" % (vkey_b, vkey_a, err))
        tap.ok(not os.path.exists(os.path.join(b, "node.key")), "and creates no key in its state dir")
        rc, vkey_c, err = print_key(os.path.join(tmp, "c"))
        tap.ok(rc == 0 and vkey_c != vkey_a, "without the credential a fresh state dir gets a new key")

        d = ghtest.Daemon(os.path.join(tmp, "run"), gpus=1, period=1, interval=0.1,
                          extra_args=["--origin", "cred.example/gpuhours"], env={"CREDENTIALS_DIRECTORY": cred})
        try:
            d.start()
            cp = d.wait_size(2)
            try:
                origin, size, _ = ghtest.verify_checkpoint(cp["note"], vkey_a)
                good = origin == "cred.example/gpuhours" and size >= 2
                why = ""
            except Exception as e:  # noqa: BLE001 - any failure to verify is the finding
                good, why = False, repr(e)
            tap.ok(good, "the running daemon signs its checkpoints with the credential key", diag=why)
            tap.ok(not os.path.exists(os.path.join(d.state_dir, "node.key")), "no node.key in the running daemon's state dir")
        finally:
            d.stop()


tap.run(main)
