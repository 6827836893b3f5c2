# SPDX-License-Identifier: MIT
"""Helpers for the client's integration tests: a client runner with private
XDG directories, an independent (PyNaCl) signer for C2SP notes, and a small
hostile HTTP server on 127.0.0.1."""

import base64
import hashlib
import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

EM_DASH = "\u2014"


def client_env(tmp, extra=None):
    """Environment with XDG dirs inside tmp (never the user's real ones)."""
    e = dict(os.environ)
    e["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
    e["XDG_STATE_HOME"] = os.path.join(tmp, "state")
    e["XDG_DATA_HOME"] = os.path.join(tmp, "data")
    e["HOME"] = os.path.join(tmp, "home")
    e["NO_COLOR"] = "1"
    if extra:
        e.update(extra)
    return e


def run(args, env, timeout=60):
    """Run the client; returns (rc, stdout, stderr, seconds)."""
    t0 = time.monotonic()
    p = subprocess.run([ghtest.client_bin()] + list(args), env=env, capture_output=True,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return (p.returncode, p.stdout.decode("utf-8", "replace"),
            p.stderr.decode("utf-8", "replace"), time.monotonic() - t0)


def verify_json(args, env, timeout=60):
    rc, out, err, secs = run(["verify", "--json"] + list(args), env, timeout)
    try:
        doc = json.loads(out)
    except ValueError:
        doc = None
    return rc, doc, out + err


class Key:
    """An Ed25519 note signer independent of proto/ (PyNaCl)."""

    def __init__(self, name, seed=None):
        import nacl.signing
        self.name = name
        self.sk = nacl.signing.SigningKey(seed or os.urandom(32))
        self.pk = bytes(self.sk.verify_key)
        self.key_id = hashlib.sha256(name.encode() + b"\n\x01" + self.pk).digest()[:4]
        self.vkey = "%s+%s+%s" % (name, self.key_id.hex(),
                                  base64.b64encode(b"\x01" + self.pk).decode())

    def sign(self, text):
        sig = self.sk.sign(text.encode()).signature
        return text + "\n" + "%s %s %s\n" % (EM_DASH, self.name,
                                            base64.b64encode(self.key_id + sig).decode())


def checkpoint_text(origin, size, root):
    return "%s\n%d\n%s\n" % (origin, size, base64.b64encode(root).decode())


def frame(rec):
    return len(rec).to_bytes(4, "big") + rec


class Hostile:
    """HTTP server on 127.0.0.1 answering from routes: path (without query)
    -> function(handler, query) that writes the whole response."""

    def __init__(self, routes):
        outer = self
        self.routes = routes
        self.hits = []

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_GET(self):
                path, _, query = self.path.partition("?")
                outer.hits.append(self.path)
                fn = outer.routes.get(path)
                try:
                    if fn is None:
                        self.reply(404, b"error: not found\n")
                    else:
                        fn(self, query)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def reply(self, status, body, headers=None, length=None):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) if length is None else length))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

        class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True
            allow_reuse_address = True

            def handle_error(self, request, client_address):
                pass  # clients that hang up on us are the point of these tests

        self.server = S(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
