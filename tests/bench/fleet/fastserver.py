# SPDX-License-Identifier: MIT
"""The fleet benchmark's node server: the node API of tests/store/ledgerserver.py
(/checkpoint, /v1/records, /v1/proof/consistency under <url>/n/<i>, the same
status codes, bodies and X-Gpuhours-Range header) for the same
ledgerserver.Node objects (each node's own Ed25519-signed checkpoint, the real
records and RFC 9162 consistency proofs), but on one thread with non-blocking
sockets and HTTP/1.1 keep-alive, parsing only the request line, instead of a
thread per connection and http.server's header parsing: the server's share of
the benchmark's wall time is then small next to the client's. Record pages
are joined once per range and shared by the nodes (they serve the same
bytes); the hostile modes (drip, huge, delay) are ledgerserver.py's only."""

import selectors
import socket
import threading

REASON = {200: b"OK", 400: b"Bad Request", 404: b"Not Found"}
MAX_REQUEST = 16384  # bytes of request head


class _Conn:
    __slots__ = ("sock", "inbuf", "out")

    def __init__(self, sock):
        self.sock = sock
        self.inbuf = b""
        self.out = []  # memoryviews still to send


class FastLedgerServer:
    """Node i on the (i % ports)'th listening port of 127.0.0.1, as
    ledgerserver.LedgerServer(nodes, ports)."""

    def __init__(self, nodes, ports=1):
        self.nodes = nodes
        self.requests = 0
        self.pages = {}  # (id(ledger), start, end) -> joined frames
        self.sel = selectors.DefaultSelector()
        self.listeners = []
        for _ in range(ports):
            ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            ls.bind(("127.0.0.1", 0))
            ls.listen(256)
            ls.setblocking(False)
            self.sel.register(ls, selectors.EVENT_READ, None)
            self.listeners.append(ls)
        self.urls = ["http://127.0.0.1:%d" % s.getsockname()[1] for s in self.listeners]
        self.url = self.urls[0]
        self.stop = False
        self.wake_r, self.wake_w = socket.socketpair()
        self.wake_r.setblocking(False)
        self.sel.register(self.wake_r, selectors.EVENT_READ, "wake")
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def node_url(self, i):
        return "%s/n/%d" % (self.urls[i % len(self.urls)], i)

    def _reply(self, c, status, body, extra=b""):
        head = b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\n%s\r\n" % (
            status, REASON[status], len(body), extra)
        c.out.append(memoryview(head))
        if body:
            c.out.append(memoryview(body))

    def _handle(self, c, target):
        self.requests += 1
        path, _, query = target.partition(b"?")
        parts = path.split(b"/", 3)
        if len(parts) < 4 or parts[1] != b"n" or not parts[2].isdigit() or \
                int(parts[2]) >= len(self.nodes):
            return self._reply(c, 404, b"error: no such node\n")
        node = self.nodes[int(parts[2])]
        route = b"/" + parts[3]
        q = dict(kv.split(b"=", 1) for kv in query.split(b"&") if b"=" in kv)
        try:
            if route == b"/checkpoint":
                return self._reply(c, 200, node.checkpoint())
            if route == b"/v1/records":
                start, end = int(q.get(b"start", 0)), int(q.get(b"end", 0))
                node.starts.append(start)
                end = min(end, node.size, start + node.page)
                if start < 0 or start >= end:
                    return self._reply(c, 400, b"error: bad range\n")
                k = (id(node.ledger), start, end)
                body = self.pages.get(k)
                if body is None:
                    body = self.pages[k] = b"".join(node.frames[start:end])
                return self._reply(c, 200, body, b"X-Gpuhours-Range: %d-%d\r\n" % (start, end))
            if route == b"/v1/proof/consistency":
                m, n = int(q.get(b"old", 0)), int(q.get(b"new", 0))
                if not (0 < m <= n <= node.size):
                    return self._reply(c, 400, b"error: bad sizes\n")
                return self._reply(c, 200, node.proof(m, n))
        except ValueError:
            return self._reply(c, 400, b"error: bad number\n")
        return self._reply(c, 404, b"error: not found\n")

    def _close(self, c):
        self.sel.unregister(c.sock)
        c.sock.close()

    def _flush(self, c):
        while c.out:
            try:
                n = c.sock.send(c.out[0])
            except BlockingIOError:
                break
            except OSError:
                self._close(c)
                return False
            if n < len(c.out[0]):
                c.out[0] = c.out[0][n:]
                break
            c.out.pop(0)
        self.sel.modify(c.sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if c.out else 0), c)
        return True

    def _read(self, c):
        try:
            data = c.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            return self._close(c)
        c.inbuf += data
        while True:
            i = c.inbuf.find(b"\r\n\r\n")
            if i < 0:
                if len(c.inbuf) > MAX_REQUEST:
                    self._close(c)
                    return
                break
            head, c.inbuf = c.inbuf[:i], c.inbuf[i + 4:]
            words = head.split(b"\r\n", 1)[0].split(b" ")
            if len(words) != 3 or words[0] != b"GET":
                self._reply(c, 400, b"error: bad request\n")
            else:
                self._handle(c, words[1])
        self._flush(c)

    def _loop(self):
        while not self.stop:
            for key, ev in self.sel.select():
                if key.data == "wake":
                    return
                if key.data is None:
                    try:
                        s, _ = key.fileobj.accept()
                    except BlockingIOError:
                        continue
                    s.setblocking(False)
                    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                    c = _Conn(s)
                    self.sel.register(s, selectors.EVENT_READ, c)
                    continue
                c = key.data
                if ev & selectors.EVENT_WRITE and not self._flush(c):
                    continue
                if ev & selectors.EVENT_READ:
                    self._read(c)

    def close(self):
        self.stop = True
        self.wake_w.send(b"x")
        self.thread.join()
        for key in list(self.sel.get_map().values()):
            key.fileobj.close()
        self.sel.close()
        self.wake_w.close()
