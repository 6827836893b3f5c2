#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attack 7: the auditor's remembered state must never go backwards. The
auditor fetches a bundle, later verifies the node online (newer), then
verifies the old bundle; the operator then rolls the node back (restores
the old state directory). The rollback must still be detected: verifying
the old bundle must not have replaced the newer remembered checkpoint."""

import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

tap = al.ghtest.Tap()


def main():
    n = al.Node(tap, "rollback", gpus=2, loads=[30])
    n.start()
    n.trust()
    n.wait_summaries(2)
    old_size = n.d.checkpoint()["size"]
    bundle = os.path.join(n.tmp, "old.bundle")
    rc, out, err, _ = n.client(["fetch", n.d.url, "-o", bundle])
    tap.ok(rc in (0, 1) and os.path.getsize(bundle) > 0, "fetch an (old) bundle: exit %d" % rc, diag=out + err)
    # The operator keeps a copy of the state directory (stopped, so it is whole);
    # the bundle's tree is a prefix of it.
    tap.ok(n.d.stop() == 0, "clean stop to copy the state directory")
    saved = os.path.join(n.tmp, "saved-state")
    shutil.copytree(n.d.state_dir, saved)
    n.d.start()
    n.wait_summaries(4)
    rc, doc, text = n.verify(label=" (online, newer than the bundle)")
    new_size = al.source(doc).get("tree_size", 0)
    tap.ok(rc in (0, 1) and new_size > old_size + 3, "verify online: exit %d, tree %d" % (rc, new_size),
           diag=text[-2000:])
    rc, doc, text = n.verify([bundle], label=" (the old bundle, after the newer online verify)")
    tap.ok(rc in (0, 1), "verify the old bundle: exit %d (old history is still valid)" % rc, diag=text[-2000:])
    # Roll the node back to the saved state directory.
    tap.ok(n.d.stop() == 0, "clean stop before the rollback")
    shutil.rmtree(n.d.state_dir)
    shutil.copytree(saved, n.d.state_dir)
    n.d.start()
    size = n.d.checkpoint()["size"]
    tap.ok(size < new_size, "the rolled-back node serves a smaller tree (%d < %d)" % (size, new_size))
    rc, doc, text = n.verify(label=" (node rolled back to the saved state directory)")
    kinds = [f["kind"] for f in al.source(doc).get("findings", [])]
    tap.ok(rc == 2 and ("ROLLBACK" in kinds or "FORK" in kinds),
           "the rollback is detected: exit %d, %s" % (rc, [k for k in kinds if k in ("ROLLBACK", "FORK")]),
           diag=text[-2000:])
    tap.ok(n.d.stop() == 0, "clean stop")


tap.run(main)
