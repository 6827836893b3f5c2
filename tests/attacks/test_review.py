#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Attacks on this session's new code, with the real gpuhoursd and gpuhours
on 127.0.0.1.

1. An origin the auditor cannot remember. The operator names the node with a
   long origin (255 bytes, or 127 non-ASCII characters: each byte escapes to
   %XX), so that the file name of its remembered checkpoint is longer than the
   file system allows. The auditor verifies the original, later the operator
   shows a clone (same key, a different history): if the first checkpoint was
   never remembered, the clone verifies too and the fork goes unseen. Such an
   origin must not verify with state at all (exit 3, a one-line reason), and
   --no-state still verifies it.
2. Origins that look like paths ('../../x', '%2e%2e/x', '.hidden', bidi
   characters): the state file stays a single file directly in
   $XDG_STATE_HOME/gpuhours/checkpoints, and state show|forget find it.
3. A fork shown once, then hidden: the operator's two histories are shown
   together once (FORK), later only the one the operator prefers. The
   recorded fork evidence must keep every later run of the origin a FORK
   (nothing verified, nothing remembered) until `gpuhours state forget`.
4. A hostile node's bytes (terminal escapes, NUL, bytes above 0x7f in an
   error body, a garbage checkpoint, a Range header) never reach the
   terminal raw, and --json stays valid JSON.
5. A fork masked by a node that proves nothing: two bundles of one size with
   different roots (a plain FORK) plus a larger node URL of the origin that
   refuses every consistency proof. The unprovable relation to the larger
   tree must not make the two bundles look like one history.
6. The daemon's route table: duplicated, empty, non-canonical or overlong
   parameters, a trailing slash or '//' are refused; HEAD answers as GET does;
   the daemon keeps serving.
"""

import json
import os
import shutil
import socket
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import attacklib as al  # noqa: E402

ghtest = al.ghtest
cltest = al.cltest
tap = ghtest.Tap()


def auditor(tmp, name, vkey):
    env = cltest.client_env(os.path.join(tmp, name))
    rc, out, err, _ = cltest.run(["trust", "add", vkey], env)
    if rc != 0:
        raise RuntimeError("trust add: " + out + err)
    return env


def state_files(env):
    """Every file under $XDG_STATE_HOME, relative to it."""
    base = env["XDG_STATE_HOME"]
    found = []
    for root, _, files in os.walk(base):
        for f in files:
            found.append(os.path.relpath(os.path.join(root, f), base))
    return sorted(found)


def clone_pair(tmp, tag, origin):
    """The original and a clone (the same key and ledger copied, then both started):
    two trees of one origin, size 4 each, different roots."""
    a = ghtest.Daemon(os.path.join(tmp, tag + "-a"), gpus=1, period=600,
                      extra_args=["--origin", origin])
    a.start()
    a.stop()
    b = ghtest.Daemon(os.path.join(tmp, tag + "-b"), gpus=1, period=600,
                      extra_args=["--origin", origin])
    shutil.copytree(a.state_dir, b.state_dir)
    a.start()
    b.start()
    return a, b


def long_origins(tmp):
    # The control: a short origin, where the fork against remembered state is seen.
    for origin, label in (("short.test/gpuhours", "a short origin (control)"),
                          ("a" * 255, "an origin of 255 ASCII bytes"),
                          ("\u00fc" * 127, "an origin of 127 two-byte characters")):
        a, b = clone_pair(tmp, "long%d" % len(origin), origin)
        ca, cb = a.checkpoint(), b.checkpoint()
        tap.ok(ca["size"] == cb["size"] and ca["root_b64"] != cb["root_b64"],
               "%s: original and clone sign different trees of size %d" % (label, ca["size"]))
        env = auditor(tmp, "aud-long%d" % len(origin), a.vkey())
        rc1, out1, err1, _ = cltest.run(["verify", a.url], env, timeout=60)
        rc2, out2, err2, _ = cltest.run(["verify", "--json", b.url], env, timeout=60)
        al.record("%s: verify original -> exit %d\n%s%s\nverify clone -> exit %d\n%s" %
                  (label, rc1, out1, err1, rc2, err2))
        try:
            doc = json.loads(out2)
        except ValueError:
            doc = {}
        kinds = [f["kind"] for s in doc.get("sources", []) for f in s.get("findings", [])]
        if len(origin) < 100:
            tap.ok(rc1 in (0, 1) and rc2 == 2 and "FORK" in kinds,
                   "%s: the clone, verified after the original, is a FORK (exit %d)"
                   % (label, rc2), diag=(out1 + err1 + out2 + err2)[-1500:])
        else:
            # Never remembered means never compared: neither may pass as verified.
            tap.ok(rc1 == 3 and rc2 == 3, "%s: original and clone do not verify with state "
                   "(exit %d, %d), nothing can be remembered" % (label, rc1, rc2),
                   diag=(out1 + err1 + out2 + err2)[-1500:])
            tap.ok("cannot be remembered" in out1 + err1 and "--no-state" in out1 + err1,
                   "%s: the reason says so and names --no-state" % label,
                   diag=(out1 + err1)[-600:])
            rc3, out3, err3, _ = cltest.run(["verify", "--no-state", a.url], env, timeout=60)
            tap.ok(rc3 in (0, 1) and "VERIFIED" in out3,
                   "%s: --no-state verifies it (exit %d)" % (label, rc3),
                   diag=(out3 + err3)[-600:])
            rc4, out4, err4, _ = cltest.run(["state", "show", origin], env)
            tap.ok(rc4 == 3 and "cannot be remembered" in err4,
                   "%s: state show ORIGIN says why (exit %d)" % (label, rc4), diag=err4[-400:])
        a.stop()
        b.stop()


def path_origins(tmp):
    for origin in ("../../../x", "%2e%2e/x", ".hidden", "a/../../b",
                   "x\u200b/\u202egh", "..", "~root"):
        d = ghtest.Daemon(os.path.join(tmp, "path%d" % path_origins.n), gpus=1, period=600,
                          extra_args=["--origin", origin])
        path_origins.n += 1
        d.start()
        env = auditor(tmp, "aud-path%d" % path_origins.n, d.vkey())
        rc, out, err, _ = cltest.run(["verify", d.url], env, timeout=60)
        files = state_files(env)
        cps = [f for f in files if f.startswith("gpuhours/checkpoints/")]
        others = [f for f in files if f not in cps and f != "gpuhours/checkpoints.lock"]
        tap.ok(rc in (0, 1) and len(cps) == 1 and cps[0].count("/") == 2 and
               not os.path.basename(cps[0]).startswith(".") and others == [],
               "origin %s: verified (exit %d), one state file directly in checkpoints/: %s"
               % (ascii(origin), rc, files), diag=(out + err)[-800:])
        rc, out, err, _ = cltest.run(["state", "show"], env)
        # The text output shows a non-ASCII origin with '?' for every byte outside ASCII.
        shown = "".join(c if ord(c) < 128 else "?" * len(c.encode()) for c in origin)
        tap.ok(rc == 0 and shown in out, "origin %s: state show lists it" % ascii(origin),
               diag=(out + err)[-400:])
        rc, out, err, _ = cltest.run(["state", "forget", origin], env)
        tap.ok(rc == 0 and [f for f in state_files(env) if "checkpoints/" in f] == [],
               "origin %s: state forget removes exactly that file (exit %d)"
               % (ascii(origin), rc), diag=(out + err)[-400:])
        d.stop()


path_origins.n = 0


def fork_then_hide(tmp):
    origin = "hide.test/gpuhours"
    a, b = clone_pair(tmp, "hide", origin)
    env = auditor(tmp, "aud-hide", a.vkey())
    state = os.path.join(env["XDG_STATE_HOME"], "gpuhours", "checkpoints", "hide.test%2Fgpuhours")
    rc, out, err, _ = cltest.run(["verify", a.url, b.url], env, timeout=60)
    tap.ok(rc == 2 and out.count("FORK") >= 2, "both histories in one run: FORK (exit %d)" % rc,
           diag=(out + err)[-800:])
    for src, label in ((b.url, "the clone alone"), (a.url, "the original alone")):
        for fmt in ([], ["--json"]):
            rc, out, err, _ = cltest.run(["verify"] + fmt + [src], env, timeout=60)
            al.record("after the fork, %s: verify %s -> exit %d\n%s%s" %
                      (label, " ".join(fmt), rc, out, err))
            tap.ok(rc == 2 and "FORK" in out and "state forget" in out + err and
                   not os.path.exists(state),
                   "after the fork, %s%s: still FORK (exit %d), nothing remembered" %
                   (label, " (--json)" if fmt else "", rc), diag=(out + err)[-800:])
    rc, out, err, _ = cltest.run(["report", b.url], env, timeout=60)
    tap.ok(rc == 2 and "FORK" in out + err, "report of the clone alone: FORK (exit %d)" % rc,
           diag=(out + err)[-600:])
    rc, out, err, _ = cltest.run(["verify", "--no-state", b.url], env, timeout=60)
    tap.ok(rc in (0, 1), "--no-state reads no state: the clone verifies (exit %d)" % rc,
           diag=(out + err)[-600:])
    rc, out, err, _ = cltest.run(["state", "forget", origin], env)
    tap.ok(rc == 0 and "fork evidence" in out, "state forget removes the evidence (exit %d)" % rc,
           diag=(out + err)[-400:])
    rc, out, err, _ = cltest.run(["verify", b.url], env, timeout=60)
    tap.ok(rc == 2 and "store forget-fork" in out + err,
           "the evidence store still holds the FORK (exit %d)" % rc, diag=(out + err)[-600:])
    rc, out, err, _ = cltest.run(["store", "forget-fork", origin], env)
    tap.ok(rc == 0 and "fork evidence deleted" in err,
           "store forget-fork removes the store's evidence (exit %d)" % rc,
           diag=(out + err)[-400:])
    rc, out, err, _ = cltest.run(["verify", b.url], env, timeout=60)
    tap.ok(rc in (0, 1) and os.path.exists(state),
           "after forget: the clone verifies as a first sight (exit %d)" % rc,
           diag=(out + err)[-600:])
    a.stop()
    b.stop()


def masked_fork(tmp):
    origin = "mask.test/gpuhours"
    a, b = clone_pair(tmp, "mask", origin)
    env = auditor(tmp, "aud-mask", a.vkey())
    op = auditor(tmp, "op-mask", a.vkey())
    a4, b4 = os.path.join(tmp, "mask-a4.bundle"), os.path.join(tmp, "mask-b4.bundle")
    for d, path in ((a, a4), (b, b4)):
        rc, out, err, _ = cltest.run(["fetch", "--no-state", "--no-store", d.url, "-o", path], op)
        if rc not in (0, 1):
            raise RuntimeError("fetch: " + out + err)
    b.stop()
    b.start()  # size 7

    def forward(h, query, path):
        st, hdr, body = b.get(path + ("?" + query if query else ""))
        h.reply(st, body, {k: v for k, v in hdr.items() if k == "x-gpuhours-range"})
    proxy = cltest.Hostile({
        "/checkpoint": lambda h, q: forward(h, q, "/checkpoint"),
        "/v1/records": lambda h, q: forward(h, q, "/v1/records"),
        "/v1/proof/consistency": lambda h, q: h.reply(500, b"error: not today\n"),
    })
    state = os.path.join(env["XDG_STATE_HOME"], "gpuhours", "checkpoints", "mask.test%2Fgpuhours")
    for srcs in ([proxy.url, a4, b4], [a4, proxy.url, b4], [b4, a4, proxy.url]):
        rc, out, err, _ = cltest.run(["verify", "--json", "--no-store"] + srcs, env, timeout=60)
        al.record("masked fork: verify %s -> exit %d\n%s" % (" ".join(srcs), rc, err))
        try:
            doc = json.loads(out)
        except ValueError:
            doc = {}
        st = {x["source"]: x for x in doc.get("sources", [])}
        ks = {k: [f["kind"] for f in v.get("findings", [])] for k, v in st.items()}
        tap.ok(rc in (2, 3) and "FORK" in ks.get(a4, []) and "FORK" in ks.get(b4, []) and
               st.get(a4, {}).get("status") != "verified" and
               st.get(b4, {}).get("status") != "verified" and not os.path.exists(state),
               "a node refusing proofs beside two forked bundles (%s first): both bundles "
               "FORK (exit %d), nothing remembered" % (os.path.basename(srcs[0]), rc),
               diag=(ks, {k: v.get("status") for k, v in st.items()}, err[-1200:]))
        tap.ok(st.get(proxy.url, {}).get("status") in ("error", "failed"),
               "and the node that proves nothing is not verified (%s)"
               % st.get(proxy.url, {}).get("status"))
    # The node that proves nothing, beside one bundle it should extend: incomplete, so
    # report leaves it out of its table and its total (it is not verified); the
    # bundle, whose tree is not in question, is reported.
    for k, srcs in enumerate(([a4, proxy.url], [b4, proxy.url])):
        env = auditor(tmp, "aud-mask-report%d" % k, a.vkey())  # no fork evidence yet
        rc, out, err, _ = cltest.run(["report", "--format", "json", "--no-store"] + srcs, env,
                                     timeout=60)
        try:
            doc = json.loads(out)
        except ValueError:
            doc = {}
        st = {x["source"]: x for x in doc.get("sources", [])}
        px = st.get(proxy.url, {})
        tot = doc.get("total", {})
        tap.ok(rc in (2, 3) and px.get("status") == "error" and px.get("buckets") is None and
               tot.get("sources") == 1 and tot.get("unreported_sources") == 1,
               "report %s + the node that proves nothing: that node is not reported nor "
               "summed (exit %d, total.sources %s)" % (os.path.basename(srcs[0]), rc,
                                                       tot.get("sources")),
               diag=({k: (v.get("status"), v.get("buckets") is None) for k, v in st.items()},
                     tot, err[-800:]))
        rc, out, err, _ = cltest.run(["report", "--no-store"] + srcs, env, timeout=60)
        tap.ok(rc in (2, 3) and ("%s: not verified, nothing reported" % proxy.url) in err,
               "report (table) %s + that node: it is named as not reported (exit %d)"
               % (os.path.basename(srcs[0]), rc), diag=(out + err)[-1200:])
    proxy.close()
    a.stop()
    b.stop()


def node_bytes(tmp):
    d = ghtest.Daemon(os.path.join(tmp, "bytes"), gpus=1, period=600)
    d.start()
    env = auditor(tmp, "aud-bytes", d.vkey())
    esc = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mVERIFIED\r\n\x00\xff\xc2\x9b"

    def fwd(h, q, p):
        st, hdr, body = d.get(p + ("?" + q if q else ""))
        h.reply(st, body, {k: v for k, v in hdr.items() if k == "x-gpuhours-range"})
    cases = {
        "an error body on /checkpoint": {"/checkpoint": lambda h, q: h.reply(500, b"error: " + esc)},
        "a garbage checkpoint": {"/checkpoint": lambda h, q: h.reply(200, esc * 3)},
        "an error body on /v1/records": {
            "/checkpoint": lambda h, q: fwd(h, q, "/checkpoint"),
            "/v1/records": lambda h, q: h.reply(500, b"error: " + esc)},
        "a Range header": {
            "/checkpoint": lambda h, q: fwd(h, q, "/checkpoint"),
            "/v1/records": lambda h, q: h.reply(200, b"", {"X-Gpuhours-Range": "\x1b[31m0-1"})},
    }
    for label, routes in cases.items():
        p = cltest.Hostile(routes)
        for cmd in (["verify", p.url], ["verify", "--json", p.url], ["report", p.url],
                    ["fetch", "--no-state", "-o", os.path.join(tmp, "bytes.bundle"), p.url]):
            rc, out, err, _ = cltest.run(cmd, env, timeout=30)
            bad = [ch for ch in out + err
                   if (ord(ch) < 32 and ch not in "\n\t") or 0x7f <= ord(ch) < 0xa0]
            ok_json = True
            if "--json" in cmd:
                try:
                    json.loads(out)
                except ValueError:
                    ok_json = False
            tap.ok(rc in (2, 3) and not bad and ok_json,
                   "%s, %s: not verified (exit %d), no control byte in the output%s"
                   % (label, " ".join(cmd[:2 if "--json" in cmd else 1]), rc,
                      ", valid JSON" if "--json" in cmd else ""), diag=ascii((out + err)[-600:]))
        p.close()
    d.stop()


def raw(port, req):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(req)
    data = b""
    try:
        while len(data) < 1 << 20:
            b = s.recv(65536)
            if not b:
                break
            data += b
    except socket.timeout:
        data += b"<timeout>"
    s.close()
    return data


def status_of(resp):
    try:
        return int(resp.split(b"\r\n", 1)[0].split()[1])
    except (IndexError, ValueError):
        return None


def routes(tmp):
    d = ghtest.Daemon(os.path.join(tmp, "routes"), gpus=1, period=600)
    d.start()
    refused = ["/checkpoint/", "//checkpoint", "/v1/../checkpoint", "/checkpoint?x=1",
               "/v1/records?start=0&end=1&start=0", "/v1/records?start=0&start=0&end=1",
               "/v1/records?start=&end=1", "/v1/records?start&end=1",
               "/v1/records?start=0&end=1&start", "/v1/records?start=00&end=1",
               "/v1/records?start=+0&end=1", "/v1/records?start=0x0&end=1",
               "/v1/records?start=0&end=1%00", "/v1/records?start=0;end=1",
               "/v1/records?start=0&end=18446744073709551616", "/v1/records?start=0&end=1&&",
               "/v1/records?end=1", "/v1/proof/consistency?old=0&new=1",
               "/v1/proof/inclusion?index=1&size=1", "/v1/attest?nonce=" + "A" * 5000,
               "/healthz?a=" + "b" * 9000]
    for p in refused:
        st = {}
        for m in ("GET", "HEAD"):
            st[m] = status_of(raw(d.port, ("%s %s HTTP/1.1\r\nHost: x\r\nConnection: close"
                                           "\r\n\r\n" % (m, p)).encode()))
        tap.ok(st["GET"] is not None and 400 <= st["GET"] < 500 and st["HEAD"] == st["GET"],
               "%s: refused, GET %s, HEAD %s" % (p[:60], st["GET"], st["HEAD"]))
    for p in ("/checkpoint", "/v1/records?start=0&end=1", "/healthz"):
        g = raw(d.port, ("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % p).encode())
        h = raw(d.port, ("HEAD %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % p).encode())
        tap.ok(status_of(g) == 200 and status_of(h) == 200 and h.endswith(b"\r\n\r\n"),
               "%s: GET and HEAD 200, HEAD without a body" % p, diag=h[-200:])
    for req, want in ((b"POST /checkpoint HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                       b"Connection: close\r\n\r\nhello", 405),
                      (b"GET /checkpoint HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX: " +
                       b"a" * 100000 + b"\r\n\r\n", 431)):
        tap.ok(status_of(raw(d.port, req)) == want, "%s: %d" % (req[:20], want))
    tap.ok(d.running() and d.checkpoint()["size"] >= 1, "the daemon still serves")
    d.stop()


def main():
    tmp = ghtest.tmpdir("gh-attack-review-")
    long_origins(tmp)
    path_origins(tmp)
    fork_then_hide(tmp)
    node_bytes(tmp)
    masked_fork(tmp)
    routes(tmp)


tap.run(main)
