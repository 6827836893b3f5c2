# SPDX-License-Identifier: MIT
"""Many ledgers behind one HTTP server speaking the node API (/checkpoint,
/v1/records, /v1/proof/consistency) for the evidence-store tests and the
fleet benchmark. Node i lives at <url>/n/<i>. Records come from
gen-ledger (framed, signed by nobody); each node signs its checkpoints with
its own PyNaCl key (cltest.Key), independent of proto/. A node can be
grown (size), rewritten (records replaced), or made hostile (drip: one
record per page, slowly; huge: announce a tree of 2^62 records)."""

import base64
import http.server
import os
import socketserver
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "client"))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402


def frames_to_records(data):
    return ghtest.split_frames(data)


def consistency_proof(leaves, m, n):
    """RFC 9162 2.1.4.1 PROOF(m, D[0:n]) over leaf hashes."""
    def root(hs):
        return ghtest.merkle_root(hs)

    def sub(m, hs, b):
        n = len(hs)
        if m == n:
            return [] if b else [root(hs)]
        k = 1
        while k * 2 < n:
            k *= 2
        if m <= k:
            return sub(m, hs[:k], b) + [root(hs[k:])]
        return sub(m - k, hs[k:], False) + [root(hs[:k])]
    return sub(m, leaves[:n], True)


class Ledger:
    """Records with their leaf hashes, frames and prefix roots (shareable by many nodes)."""

    def __init__(self, records):
        self.records = list(records)
        self.leaves = [ghtest.leaf_hash(r) for r in self.records]
        self.frames = [cltest.frame(r) for r in self.records]
        self.cps = {}
        self.proofs = {}


class Node:
    def __init__(self, origin, records, seed=None, page=10000, ledger=None):
        self.origin = origin
        self.key = cltest.Key(origin, seed)
        self.page = page
        self.mode = None  # None, "drip", "huge"
        self.delay = 0.0  # seconds before each records page
        self.starts = []  # start= of every records request
        self.proof_reqs = []  # (old, new) of every consistency proof request
        if ledger is not None:
            self.use(ledger)
        else:
            self.set_records(records)

    def use(self, ledger):
        self.ledger = ledger
        self.records, self.leaves = ledger.records, ledger.leaves
        self.frames, self.cps = ledger.frames, ledger.cps
        self._note = (None,)
        self.size = len(self.records)

    def set_records(self, records):
        self.use(Ledger(records))

    def root(self, n):
        if n not in self.cps:
            self.cps[n] = ghtest.merkle_root(self.leaves[:n])
        return self.cps[n]

    def checkpoint(self):
        size = (1 << 62) if self.mode == "huge" else self.size
        root = self.root(self.size) if self.mode != "huge" else b"\x07" * 32
        k = (size, root)
        if self._note[0] != k:
            self._note = (k, self.key.sign(cltest.checkpoint_text(self.origin, size, root)).encode())
        return self._note[1]

    def proof(self, m, n):
        if (m, n) not in self.ledger.proofs:
            p = consistency_proof(self.leaves, m, n)
            self.ledger.proofs[(m, n)] = b"".join(base64.b64encode(h) + b"\n" for h in p)
        return self.ledger.proofs[(m, n)]


class LedgerServer:
    """ports > 1: node i is served on the (i % ports)'th of several listening
    ports of this one process, so that a client keeping one connection per
    host:port (libcurl's per-host limit) can fetch several nodes at once."""

    def __init__(self, nodes, ports=1):
        self.nodes = nodes
        self.lock = threading.Lock()
        self.requests = 0
        outer = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body in separate writes: no 40 ms stall

            def log_message(self, *a):
                pass

            def reply(self, status, body, headers=None):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                try:
                    outer.handle(self)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True
            request_queue_size = 256

            def handle_error(self, request, client_address):
                pass

        self.servers = [S(("127.0.0.1", 0), H) for _ in range(ports)]
        self.urls = ["http://127.0.0.1:%d" % s.server_address[1] for s in self.servers]
        self.url = self.urls[0]
        for s in self.servers:
            threading.Thread(target=s.serve_forever, daemon=True).start()

    def node_url(self, i):
        return "%s/n/%d" % (self.urls[i % len(self.urls)], i)

    def handle(self, h):
        with self.lock:
            self.requests += 1
        path, _, query = h.path.partition("?")
        parts = path.split("/", 3)
        if len(parts) < 4 or parts[1] != "n" or not parts[2].isdigit() or \
                int(parts[2]) >= len(self.nodes):
            return h.reply(404, b"error: no such node\n")
        node = self.nodes[int(parts[2])]
        route = "/" + parts[3]
        q = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv)
        if route == "/checkpoint":
            return h.reply(200, node.checkpoint())
        if route == "/v1/records":
            start, end = int(q.get("start", 0)), int(q.get("end", 0))
            node.starts.append(start)
            if node.delay:
                time.sleep(node.delay)
            if node.mode == "drip":
                time.sleep(0.2)
                end = start + 1
            if node.mode == "huge":
                i = start % max(1, len(node.frames))
                end = start + 1
                return h.reply(200, node.frames[i], {"X-Gpuhours-Range": "%d-%d" % (start, end)})
            end = min(end, node.size, start + node.page)
            if start >= end:
                return h.reply(400, b"error: bad range\n")
            body = b"".join(node.frames[start:end])
            return h.reply(200, body, {"X-Gpuhours-Range": "%d-%d" % (start, end)})
        if route == "/v1/proof/consistency":
            m, n = int(q.get("old", 0)), int(q.get("new", 0))
            node.proof_reqs.append((m, n))
            if not (0 < m <= n <= node.size):
                return h.reply(400, b"error: bad sizes\n")
            return h.reply(200, node.proof(m, n))
        return h.reply(404, b"error: not found\n")

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()
