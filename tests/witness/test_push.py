#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A real gpuhoursd pushing to two real gpuhours-witness processes on
127.0.0.1: cosignatures appear on /checkpoint (verified with PyNaCl), are
stored durably, /metrics shows gpuhours_witness_*; a witness restored from
an older state file answers 409 and the node recovers from the size it
returns; a node restored from a snapshot (a rewritten history) is refused by
the witness and the failure shows in /metrics."""

import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ghtest  # noqa: E402
import wtest  # noqa: E402

tap = ghtest.Tap()
T = {}


def cosigs(note, witnesses):
    """{name: timestamp} of the valid cosignatures of note by the witnesses."""
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    out = {}
    for line in sigs.splitlines(True):
        for name, pk in witnesses:
            t = wtest.verify_cosig_line(line, name, pk, text)
            if t:
                out[name] = t
    return out


def wait_for(cond, timeout=30, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return None


def metric(d, name, label):
    st, _, body = d.get("/metrics")
    m = re.search(r'^%s\{witness="%s"\} (\d+)$' % (name, re.escape(label)), body.decode(), re.M)
    return int(m.group(1)) if m else None


def setup():
    tmp = ghtest.tmpdir("gh-push-")
    T["tmp"] = tmp
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=1, period=1, interval=0.1,
                      extra_args=["--origin", "lab.example/n1", "--witnesses", os.path.join(tmp, "policy")],
                      env={"GPUHOURSD_TEST_WITNESS_REFRESH_S": "2"})
    T["d"] = d
    node_vkey = d.vkey()
    ws = []
    for i in range(2):
        wdir = os.path.join(tmp, "w%d" % i)
        os.makedirs(wdir)
        w = wtest.Witness(wdir, name="witness%d.test/w" % i)
        with open(w.logs_file, "w") as f:
            f.write("logs/v0\nvkey %s\nqpd 86400\ncontact test\n" % node_vkey)
        vk = w.print_key()
        w.vk = vk
        w.start()
        ws.append(w)
    T["ws"] = ws
    T["keys"] = [wtest.parse_cosigner_vkey(w.vk) for w in ws]
    with open(os.path.join(tmp, "policy"), "w") as f:
        for i, w in enumerate(ws):
            f.write("witness w%d %s %s\n" % (i, w.vk, w.url))
        f.write("group both all w0 w1\nquorum both\n")
    d.start()
    T["vkey"] = node_vkey


def cosigned():
    d, ws, keys = T["d"], T["ws"], T["keys"]
    got = wait_for(lambda: (lambda cp: cp if len(cosigs(cp["note"], keys)) == 2 else None)(d.checkpoint()))
    tap.ok(got is not None, "/checkpoint carries cosignatures from both witnesses (PyNaCl verifies them)",
           diag=d.checkpoint()["note"] + d.log_tail())
    if got:
        ghtest.verify_checkpoint(got["note"], T["vkey"])
        tap.ok(True, "the cosigned /checkpoint still verifies with the node key")
    size1 = d.checkpoint()["size"]
    later = wait_for(lambda: (lambda cp: cp if cp["size"] >= size1 + 3 and len(cosigs(cp["note"], keys)) == 2
                              else None)(d.checkpoint()))
    tap.ok(later is not None, "new checkpoints keep being cosigned (size %d -> %s)"
           % (size1, later and later["size"]))
    for i in range(2):
        tap.ok(metric(d, "gpuhours_witness_up", "w%d" % i) == 1, "/metrics: gpuhours_witness_up{w%d} 1" % i)
    cs = metric(d, "gpuhours_witness_cosigned_size", "w0")
    tap.ok(cs is not None and cs >= size1, "/metrics: gpuhours_witness_cosigned_size", diag=cs)
    files = [f for f in os.listdir(d.state_dir) if f.endswith(".cosigned")]
    tap.ok(len(files) == 2, "cosignatures are stored in the state directory", diag=files)
    wm = ws[0].metrics()
    tap.ok(re.search(r'^gpuhours_witness_cosigned_size\{origin="lab.example/n1"\} (\d+)$', wm, re.M),
           "the witness's /metrics shows the node's cosigned size", diag=wm)


def monitoring():
    """The witness's monitoring endpoint serves the node's cosigned checkpoint."""
    d, ws = T["d"], T["ws"]
    w = ws[0]
    st, _, body = w.latest("lab.example/n1")
    t0 = wtest.verify_cosig_line(body.decode().partition("\n\n")[2].splitlines(True)[-1],
                                 *T["keys"][0], body.decode().partition("\n\n")[0] + "\n")
    tap.ok(t0, "the witness serves its latest cosigned checkpoint of the node")


class Silent:
    """A loopback port that accepts connections and never answers."""

    def __init__(self):
        import socket
        import threading
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        for c in self.conns:
            c.close()
        self.sock.close()


class Static:
    """A monitoring endpoint serving one fixed body (a delayed mirror of a witness)."""

    def __init__(self, path, body):
        import http.server
        import threading

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(h):
                ok = h.path == path
                h.send_response(200 if ok else 404)
                h.send_header("Content-Length", str(len(body) if ok else 0))
                h.end_headers()
                if ok:
                    h.wfile.write(body)

            def log_message(h, *a):
                pass

        self.srv = http.server.HTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def silent_witnesses():
    """Witnesses that accept connections and never answer cost one bounded
    deadline in all, not one timeout each, and each is a clear note."""
    import nacl.signing
    d = T["d"]
    silent = [Silent() for _ in range(4)]
    pol = os.path.join(T["tmp"], "policy-silent")
    with open(T["pol"]) as f, open(pol, "w") as g:
        g.write(f.read())
        for i, sl in enumerate(silent):
            k = nacl.signing.SigningKey(bytes([0x40 + i]) * 32)
            g.write("witness s%d %s http://127.0.0.1:%d\n" % (i, wtest.vkey("silent%d.test/w" % i, 4,
                                                              bytes(k.verify_key)), sl.port))
    t0 = time.monotonic()
    rc, out = settled(["verify", d.url, "--key", T["vkey"], "--witnesses", pol, "--no-state", "--timeout", "3"])
    took = time.monotonic() - t0
    for sl in silent:
        sl.close()
    tap.ok(rc in (0, 1) and "WITNESS_QUORUM" not in out,
           "four silent witnesses outside the quorum do not fail the verification", diag=(rc, out[-2000:]))
    tap.ok(all(("witness s%d is unreachable" % i) in out for i in range(4)),
           "each silent witness is a clear 'unreachable' note", diag=out[-2000:])
    # Sequentially that would be 4 x 3 s; concurrently one 3 s deadline.
    tap.ok(took < 9.0, "the witness fetches share one deadline (%.1f s for 4 silent witnesses, --timeout 3)"
           % took)
    # Two sources (the node under two spellings of its URL): the silent witnesses
    # are not asked again for the second.
    t0 = time.monotonic()
    rc, out = settled(["verify", d.url, d.url + "/", "--key", T["vkey"], "--witnesses", pol, "--no-state",
                      "--timeout", "3"])
    took = time.monotonic() - t0
    tap.ok(rc in (0, 1) and out.count("unreachable for an earlier source") == 4 and took < 9.0,
           "with two sources, a silent witness costs one deadline in all (%.1f s)" % took, diag=(rc, out[-2500:]))


def silent_peer():
    """A node with a live witness and one that accepts connections and never
    answers: the live witness's cosignatures of new checkpoints are not held
    up by the silent one (each of whose requests runs to the 10 s timeout)."""
    tmp = os.path.join(T["tmp"], "silent-peer")
    os.makedirs(tmp)
    pol = os.path.join(tmp, "policy")
    d = ghtest.Daemon(os.path.join(tmp, "node"), gpus=1, period=1, interval=0.1,
                      extra_args=["--origin", "lab.example/n2", "--witnesses", pol])
    wdir = os.path.join(tmp, "w")
    os.makedirs(wdir)
    w = wtest.Witness(wdir, name="live.test/w")
    with open(w.logs_file, "w") as f:
        f.write("logs/v0\nvkey %s\nqpd 86400\ncontact test\n" % d.vkey())
    vk = w.print_key()
    key = wtest.parse_cosigner_vkey(vk)
    w.start()
    silent = Silent()
    import nacl.signing
    sk = nacl.signing.SigningKey(b"\x51" * 32)
    with open(pol, "w") as f:
        # The silent witness first: a single push loop would try it first, every time.
        f.write("witness s %s http://127.0.0.1:%d\n" % (wtest.vkey("silent.test/w", 4, bytes(sk.verify_key)),
                                                       silent.port))
        f.write("witness live %s %s\nquorum live\n" % (vk, w.url))
    d.start()
    first = {}   # size -> when first served
    signed = {}  # size -> when first served with the live witness's cosignature
    deadline = time.monotonic() + 16
    while time.monotonic() < deadline:
        cp = d.checkpoint()
        now = time.monotonic()
        first.setdefault(cp["size"], now)
        if cosigs(cp["note"], [key]):
            signed.setdefault(cp["size"], now)
        time.sleep(0.05)
    lags = sorted(signed[k] - first[k] for k in signed if k in first)
    # For each checkpoint served, the time until it or a later one is served
    # with the live witness's cosignature (a checkpoint may be superseded
    # before its cosignature comes back).
    worst = max((min([signed[j] for j in signed if j >= k] + [deadline]) - first[k]
                 for k in first if first[k] < deadline - 4), default=99)
    tap.ok(len(signed) >= 5 and worst < 3.0,
           "a silent witness does not hold up the live one's cosignatures (%d checkpoints cosigned, "
           "worst lag %.1f s)" % (len(signed), worst), diag=(lags, d.log_tail()))
    d.stop()
    w.stop()
    silent.close()


class Proxy:
    """Forwards GETs to the node, except: /checkpoint answers a fixed note if
    set, and consistency proofs answer proof_status if set."""

    def __init__(self, node_url):
        import http.client
        import http.server
        import threading
        import urllib.parse
        u = urllib.parse.urlparse(node_url)
        me = self
        self.checkpoint = None
        self.proof_status = None

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(h):
                if h.path == "/checkpoint" and me.checkpoint is not None:
                    return h.answer(200, me.checkpoint, {})
                if h.path.startswith("/v1/proof/consistency") and me.proof_status is not None:
                    return h.answer(me.proof_status, b"unavailable\n", {})
                c = http.client.HTTPConnection(u.hostname, u.port, timeout=20)
                try:
                    c.request("GET", h.path)
                    r = c.getresponse()
                    body = r.read()
                    hdr = {k: v for k, v in r.getheaders() if k.lower().startswith("x-gpuhours")}
                    h.answer(r.status, body, hdr)
                finally:
                    c.close()

            def answer(h, code, body, hdr):
                h.send_response(code)
                for k, v in hdr.items():
                    h.send_header(k, v)
                h.send_header("Content-Length", str(len(body)))
                h.end_headers()
                h.wfile.write(body)

            def log_message(h, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()


def grown_node():
    """The node grew after serving the auditor its checkpoint, so a witness
    holds a larger one: the node proves its checkpoint a prefix of the
    witness's, and that is no FORK. A node that answers that proof request
    with a server error is not verified (before, such an answer let the
    comparison pass as 'cannot tell')."""
    d = T["d"]
    # A checkpoint both witnesses have cosigned already (right after a new
    # checkpoint the node serves it without cosignatures, which would fail
    # the quorum for a reason this case is not about).
    old = None
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        old = d.checkpoint()
        if old["note"].count("\n\u2014 ") >= 3:  # the node's signature and two cosignatures
            break
        time.sleep(0.05)
    old_note = old["note"]
    d.wait_size(old["size"] + 3, timeout=40)
    wait_for(lambda: (metric(d, "gpuhours_witness_cosigned_size", "w0") or 0) > old["size"], timeout=40)
    px = Proxy(d.url)
    px.checkpoint = old_note.encode()
    rc, out = client(["verify", px.url, "--key", T["vkey"], "--witnesses", T["pol"], "--no-state"])
    tap.ok(rc in (0, 1) and "FORK" not in out and "VERIFIED" in out,
           "a node that grew after serving its checkpoint (size %d) is no FORK: it proves it a prefix of "
           "the witnesses' larger one" % old["size"], diag=(rc, out[-2000:]))
    px.proof_status = 503
    rc, out = client(["verify", px.url, "--key", T["vkey"], "--witnesses", T["pol"], "--no-state"])
    tap.ok(rc not in (0, 1) and "VERIFIED" not in out and "no consistency proof from the node" in out
           and "HTTP 503" in out,
           "a node that answers the proof request with HTTP 503 is not verified", diag=(rc, out[-2000:]))
    px.close()


def lagging_witness():
    """A witness whose latest cosigned checkpoint is older than the node's
    newest (here a monitoring mirror that lags, as the spec allows): the
    quorum fails, and the finding says the witnesses may not have cosigned
    the newest checkpoint yet, instead of only 'not satisfied'."""
    d, ws = T["d"], T["ws"]
    w = ws[1]
    hexname = wtest.hashlib.sha256(b"lab.example/n1").hexdigest()
    w.stop()
    old = open(os.path.join(w.state_dir, "logs", hexname + ".checkpoint"), "rb").read()
    old_size = int(old.decode().split("\n")[1])
    d.wait_size(old_size + 2, timeout=40)
    mirror = Static("/%s/checkpoint" % hexname, old)
    pol = os.path.join(T["tmp"], "policy-lag")
    with open(T["pol"]) as f, open(pol, "w") as g:
        g.write(f.read().replace(w.url, mirror.url))
    rc, out = client(["verify", d.url, "--key", T["vkey"], "--witnesses", pol, "--no-state"])
    # The same, without a quorum, through a node that will not prove its
    # checkpoint consistent with the witness's older one (HTTP 503): no pass.
    px = Proxy(d.url)
    px.proof_status = 503
    nopol = pol + "-none"
    with open(pol) as f, open(nopol, "w") as g:
        g.write(f.read().replace("quorum both", "quorum none"))
    rc2, out2 = client(["verify", px.url, "--key", T["vkey"], "--witnesses", nopol, "--no-state"])
    px.close()
    tap.ok(rc2 not in (0, 1) and "VERIFIED" not in out2 and "no consistency proof from the node" in out2,
           "a node that answers HTTP 503 for the proof from a witness's older checkpoint is not verified",
           diag=(rc2, out2[-1500:]))
    mirror.close()
    if os.environ.get("GH_WITNESS_SHOW"):
        sys.stdout.write("".join("# " + ln + "\n" for ln in out.splitlines()))
    tap.ok(rc == 2 and "WITNESS_QUORUM" in out and "may not be cosigned yet" in out and "retry" in out,
           "a quorum missing because a witness has only an older consistent checkpoint says so (retry)",
           diag=(rc, out[-2000:]))
    tap.ok("FORK" not in out, "an older consistent checkpoint is no FORK", diag=out[-2000:])
    w.start()
    ok = wait_for(lambda: len(cosigs(d.checkpoint()["note"], T["keys"])) == 2, timeout=40)
    tap.ok(ok, "the witness back up, the node's checkpoints carry both cosignatures again")
    rc, out = settled(["verify", d.url, "--key", T["vkey"], "--witnesses", T["pol"], "--no-state"])
    tap.ok(rc in (0, 1) and "WITNESS_QUORUM" not in out, "and the quorum policy passes again", diag=out[-1500:])



def restored_witness():
    d, ws = T["d"], T["ws"]
    w = ws[1]
    hexname = wtest.hashlib.sha256(b"lab.example/n1").hexdigest()
    path = os.path.join(w.state_dir, "logs", hexname + ".checkpoint")
    old = open(path).read()
    old_size = int(old.split("\n")[1])
    # Let the node move on, then roll the witness back to the old file.
    target = old_size + 4
    wait_for(lambda: metric(d, "gpuhours_witness_cosigned_size", "w1") and
             metric(d, "gpuhours_witness_cosigned_size", "w1") >= target, timeout=40)
    w.stop()
    with open(path, "w") as f:
        f.write(old)
    w.start()
    st, _, body = w.latest("lab.example/n1")
    tap.ok(int(body.decode().split("\n")[1]) == old_size, "the witness restarted from an older state (%d)" % old_size)
    before = d.checkpoint()["size"]
    ok = wait_for(lambda: (lambda s: s if s and s > before else None)(
        int(w.latest("lab.example/n1")[2].decode().split("\n")[1])), timeout=40)
    tap.ok(ok, "after a 409 the node retried from the returned size and was cosigned again (%s > %d)"
           % (ok, before), diag=d.log_tail())
    tap.ok(re.search(r'^gpuhours_witness_requests_total\{code="409"\} [1-9]', w.metrics(), re.M),
           "the restored witness answered 409", diag=w.metrics())


def settled(args):
    """client(args), retried (a few times, 1 s apart) while it fails only with
    the quorum hint that the newest checkpoint may not be cosigned yet: what
    an auditor does; the node signs a new checkpoint every second here."""
    for _ in range(6):
        rc, out = client(args)
        if not (rc == 2 and "retry in a few seconds" in out):
            break
        time.sleep(1)
    return rc, out


def cenv():
    return dict(os.environ, HOME=T["tmp"], XDG_CONFIG_HOME=os.path.join(T["tmp"], "cfg"),
                XDG_STATE_HOME=os.path.join(T["tmp"], "st"))


def client(args, timeout=120):
    p = subprocess.run([ghtest.client_bin()] + args, capture_output=True, text=True, timeout=timeout,
                       env=cenv())
    return p.returncode, p.stdout + p.stderr


def auditor():
    d = T["d"]
    pol = os.path.join(T["tmp"], "policy")
    rc, out = settled(["verify", d.url, "--key", T["vkey"], "--witnesses", pol, "--no-state"])
    tap.ok(rc in (0, 1) and "WITNESSED" in out and "WITNESS_QUORUM" not in out,
           "verify with a quorum of both witnesses passes and reports their times", diag=out[-1500:])
    strict = os.path.join(T["tmp"], "policy-3")
    import nacl.signing
    extra = nacl.signing.SigningKey(b"\x33" * 32)
    with open(pol) as f, open(strict, "w") as g:
        body = f.read().replace("group both all w0 w1\nquorum both\n", "")
        g.write(body + "witness w2 %s\ngroup all3 all w0 w1 w2\nquorum all3\n"
                % wtest.vkey("absent.test/w", 4, bytes(extra.verify_key)))
    rc, out = client(["verify", d.url, "--key", T["vkey"], "--witnesses", strict, "--no-state"])
    tap.ok(rc == 2 and "WITNESS_QUORUM" in out, "verify fails with WITNESS_QUORUM (exit 2) when a required "
           "witness has not cosigned", diag=(rc, out[-1500:]))
    T["pol"] = pol


def split_notes(out):
    """The two notes of the client's FORK evidence (witness's, node's), or None."""
    a = "gpuhours: FORK evidence: the checkpoint witness "
    b = "gpuhours: FORK evidence: the checkpoint the node serves:\n"
    if a not in out or b not in out:
        return None
    rest = out.split(a, 1)[1].split(":\n", 1)[1]
    wnote, rest = rest.split(b, 1)
    # The node's note: its text and the signature lines that follow it.
    lines = rest.splitlines(True)
    text = "".join(lines[:3])
    sigs = []
    for ln in lines[4:]:
        if not ln.startswith("\u2014 "):
            break
        sigs.append(ln)
    return wnote, text + "\n" + "".join(sigs)


def split_view():
    """Restore the node from a snapshot: it then signs a different history
    for sizes the witnesses already cosigned. The witness refuses it."""
    d, ws = T["d"], T["ws"]
    snap = os.path.join(T["tmp"], "snapshot")
    d.stop()
    shutil.copytree(d.state_dir, snap)
    d.start()
    grown = d.checkpoint()["size"] + 5
    d.wait_size(grown, timeout=40)
    wait_for(lambda: (metric(d, "gpuhours_witness_cosigned_size", "w0") or 0) >= grown, timeout=40)
    d.stop()
    shutil.rmtree(d.state_dir)
    shutil.copytree(snap, d.state_dir)
    d.start()
    down = wait_for(lambda: metric(d, "gpuhours_witness_up", "w0") == 0 and
                    metric(d, "gpuhours_witness_push_failures_total", "w0"), timeout=40)
    tap.ok(down, "a node restored from a snapshot is not cosigned: gpuhours_witness_up 0, failures counted",
           diag=d.log_tail())
    log = d.log_text()
    tap.ok("larger than this ledger" in log or "HTTP 422" in log,
           "the node logs why (the witness has seen a larger or different tree)", diag=log[-800:])
    tap.ok(log.count("push failed") <= 4, "failures are logged once per episode, not per try",
           diag=log.count("push failed"))
    # The policy requires both witnesses (a quorum the restored node's new
    # checkpoints lack): the split view must still be a FORK, with the note
    # the witness cosigned and the one the node serves, not only a missing
    # quorum.
    rc, out = client(["verify", d.url, "--key", T["vkey"], "--witnesses", T["pol"], "--no-state"])
    if os.environ.get("GH_WITNESS_SHOW"):
        sys.stdout.write("".join("# " + ln + "\n" for ln in ("exit %d" % rc + "\n" + out).splitlines()))
    tap.ok(rc == 2 and "FORK" in out and "WITNESS_QUORUM" not in out,
           "under a quorum policy the split view is a FORK, not only WITNESS_QUORUM", diag=(rc, out[-2500:]))
    notes = split_notes(out)
    wnote, nnote = notes if notes else (None, None)
    node_now = d.checkpoint()["note"]
    tap.ok(notes is not None and wnote != nnote, "the FORK evidence carries two different notes",
           diag=out[-2500:])
    if notes:
        wsize = int(wnote.split("\n")[1])
        tap.ok(cosigs(wnote, T["keys"][:1]) and wsize >= grown,
               "evidence 1: the checkpoint witness w0 cosigned (size %d, PyNaCl verifies its cosignature)" % wsize,
               diag=wnote)
        ghtest.verify_checkpoint(wnote, T["vkey"])
        nsize = ghtest.verify_checkpoint(nnote, T["vkey"])[1]
        tap.ok(nnote.split("\n\n")[0] != wnote.split("\n\n")[0] and nsize <= d.checkpoint()["size"],
               "evidence 2: the checkpoint the node serves (size %d), signed by the node key" % nsize,
               diag=nnote)
    p = subprocess.run([ghtest.client_bin(), "verify", d.url, "--key", T["vkey"], "--witnesses", T["pol"],
                        "--no-state", "--json"], capture_output=True, timeout=120, env=cenv(),
                       stdin=subprocess.DEVNULL)
    out = p.stdout.decode()
    tap.ok(p.returncode == 2 and '"FORK"' in out, "the JSON output names the FORK finding too",
           diag=(p.returncode, out[-2500:]))
    # --json: the FORK finding carries both signed notes (JSON.md 5, "notes"), the same two as
    # the stderr evidence, each verifiable again from the document alone.
    try:
        doc = json.loads(out)
    except ValueError:
        doc = {}
    forks = [f for src in doc.get("sources", []) for f in src.get("findings", []) if f.get("kind") == "FORK"]
    jn = forks[0].get("notes") if forks else None
    tap.ok(forks and isinstance(jn, list) and len(jn) == 2 and
           [n.get("from") for n in jn] == ["witness", "node"] and jn[0].get("name") == "w0" and
           jn[1].get("name") is None and list(forks[0].keys())[-1] == "notes" and
           all(list(n.keys()) == ["from", "name", "size", "note"] for n in jn),
           "--json: the FORK finding's notes: [witness w0's, the node's], keys from, name, size, note",
           diag=json.dumps(forks, indent=1)[-2500:])
    if forks and isinstance(jn, list) and len(jn) == 2 and notes:
        jw, jnode = jn[0].get("note", ""), jn[1].get("note", "")
        tap.ok(jw == wnote and cosigs(jw, T["keys"][:1]) and jn[0].get("size") == int(jw.split("\n")[1]),
               "--json notes[0]: exactly the note w0 cosigned (as on stderr; PyNaCl verifies it)", diag=jw)
        tap.ok(ghtest.verify_checkpoint(jnode, T["vkey"])[1] == jn[1].get("size") and
               jnode.split("\n\n")[0] != jw.split("\n\n")[0] and p.stderr.decode().count(jnode) == 1,
               "--json notes[1]: the node's signed note (as on stderr), another history", diag=jnode)
    else:
        tap.ok(False, "--json notes: both notes exact")
        tap.ok(False, "--json notes: the node's note")
    none = os.path.join(T["tmp"], "policy-none")
    with open(T["pol"]) as f, open(none, "w") as g:
        g.write(f.read().replace("quorum both", "quorum none"))
    rc, out = client(["verify", d.url, "--key", T["vkey"], "--witnesses", none, "--no-state"])
    tap.ok(rc == 2 and "FORK" in out and len(split_notes(out) or ()) == 2,
           "without a quorum too, the split view is a FORK with both notes",
           diag=(rc, out[-2000:]))
    d.stop()
    for w in ws:
        w.stop()


tap.run(setup, cosigned, monitoring, auditor, silent_witnesses, silent_peer, grown_node, lagging_witness, restored_witness, split_view)
