#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# Socket activation. (1) Under systemd-socket-activate the daemon serves on the
# passed fd (fd 3, LISTEN_FDS/LISTEN_PID), ignores --listen, and gets its
# environment through -E. (2) Restarts behind a socket that outlives the
# daemon, as a systemd .socket unit does: the port never refuses a connection,
# and a connection made while no daemon runs is served by the next one.
# systemd-socket-activate cannot show (2): it execs the daemon in its own
# process, so the socket dies with the daemon; the test holds the socket
# itself and passes it in exactly as systemd does.
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.environ["GH_SOURCE_ROOT"], "tests", "lib"))
import ghtest  # noqa: E402

tap = ghtest.Tap()


def http_get(port, path="/checkpoint", timeout=20):
    """(status, body) of one HTTP/1.0 request; raises OSError on refusal or reset."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"GET " + path.encode() + b" HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        return read_response(s)


def read_response(s):
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
        raise ConnectionResetError("no HTTP response (%d bytes)" % len(data))
    return int(parts[1]), body


def refused(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return False
    except ConnectionRefusedError:
        return True


def recv_fields(sock, until, want):
    """Lines from the notify socket until `want` is seen or the deadline passes."""
    got = []
    while time.monotonic() < until:
        sock.settimeout(max(0.05, until - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            break
        got += [ln for ln in data.decode("utf-8", "replace").split("\n") if ln]
        if want in got:
            break
    return got


def part_socket_activate(tmp):
    sa = shutil.which("systemd-socket-activate")
    if sa is None:
        tap.skip("systemd-socket-activate is not installed (package systemd)")
        return
    port, other = ghtest.free_port(), ghtest.free_port()
    npath = os.path.join(tmp, "notify.sock")
    nsock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    nsock.bind(npath)
    d = ghtest.Daemon(os.path.join(tmp, "sa"), gpus=1, period=1, interval=0.1, port=other)
    args = [sa, "-l", "127.0.0.1:%d" % port, "-E", "NOTIFY_SOCKET=" + npath] + d.args()
    log = open(os.path.join(tmp, "sa.log"), "wb")
    env = dict(os.environ)
    for k in ("NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "WATCHDOG_USEC", "WATCHDOG_PID"):
        env.pop(k, None)
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    try:
        # It listens first and execs the daemon only on the first connection.
        deadline = time.monotonic() + 10
        first = None
        while time.monotonic() < deadline and first is None:
            try:
                first = http_get(port, "/checkpoint", timeout=20)
            except ConnectionRefusedError:
                time.sleep(0.05)
        tap.ok(first is not None, "the first connection to the activation socket gets an HTTP answer (%s)"
               % (first and first[0]))
        fields = recv_fields(nsock, time.monotonic() + 20, "READY=1")
        tap.ok("READY=1" in fields, "READY=1 over the NOTIFY_SOCKET passed with -E", diag=repr(fields[:10]))
        st = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and st != 200:
            st, body = http_get(port, "/checkpoint")
            time.sleep(0.05)
        tap.ok(st == 200 and body.split(b"\n")[1].isdigit(), "serves /checkpoint on the passed socket")
        tap.ok(refused(other), "--listen is ignored when a socket is passed (port %d not bound)" % other)
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(15)
        except subprocess.TimeoutExpired:
            rc = None
        fields = recv_fields(nsock, time.monotonic() + 2, "STOPPING=1")
        tap.ok(rc == 0 and "STOPPING=1" in fields, "SIGTERM: STOPPING=1 and exit 0 (rc %r)" % rc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        nsock.close()
        with open(os.path.join(tmp, "sa.log"), "rb") as f:
            tap.diag(f.read().decode("utf-8", "replace")[-1500:])


class PassedSocketDaemon(ghtest.Daemon):
    """The daemon with a listening socket passed as fd 3, LISTEN_FDS=1, LISTEN_PID=its pid."""

    def __init__(self, tmpdir, lsock, **kw):
        super().__init__(tmpdir, port=lsock.getsockname()[1], **kw)
        self.lsock = lsock

    def args(self):
        wrap = 'exec 3<&0 0</dev/null; LISTEN_PID=$$; LISTEN_FDS=1; export LISTEN_PID LISTEN_FDS; exec "$@"'
        return ["/bin/sh", "-c", wrap, "sh"] + super().args()

    def start(self, wait_ready=True, timeout=15):
        os.makedirs(self.tmpdir, exist_ok=True)
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=self.lsock.fileno(), stdout=self._log,
                                     stderr=self._log, env=self._environ())
        ghtest._live.append(self)
        if wait_ready:
            self.wait_ready(timeout)
        return self


class Prober(threading.Thread):
    """Connects again and again; counts answers, refusals and other failures."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = False
        self.answers = 0
        self.refusals = 0
        self.failures = []

    def run(self):
        while not self.stop:
            try:
                st, _ = http_get(self.port, "/checkpoint", timeout=20)
                if st == 200:
                    self.answers += 1
                else:
                    self.failures.append("HTTP %d" % st)
            except ConnectionRefusedError:
                self.refusals += 1
            except OSError as e:
                self.failures.append(repr(e))
            time.sleep(0.01)


def part_restart(tmp):
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(128)
    port = lsock.getsockname()[1]
    dirs = os.path.join(tmp, "rs")
    d1 = PassedSocketDaemon(dirs, lsock, gpus=1, period=1, interval=0.1)
    d2 = PassedSocketDaemon(dirs, lsock, gpus=1, period=1, interval=0.1)
    prober = Prober(port)
    try:
        d1.start()
        size1 = d1.wait_size(2)["size"]
        tap.ok(True, "daemon 1 serves on the passed socket (tree size %d)" % size1)
        prober.start()
        time.sleep(0.5)
        # A request in progress when the daemon is told to stop: the daemon finishes the
        # connections it accepted (for a bounded time) instead of closing them unanswered.
        half = socket.create_connection(("127.0.0.1", port), timeout=20)
        half.sendall(b"GET /checkpoint HTTP/1.0\r\n")
        time.sleep(0.3)
        d1.proc.send_signal(signal.SIGTERM)
        time.sleep(0.8)
        try:
            half.sendall(b"Host: 127.0.0.1\r\n\r\n")
            st, body = read_response(half)
        except OSError as e:
            st, body = None, repr(e).encode()
        half.close()
        tap.ok(st == 200, "a request in progress at SIGTERM is answered, not reset (HTTP %s)" % st,
               diag=body[:200])
        try:
            d1.proc.wait(15)
        except subprocess.TimeoutExpired:
            pass
        rc = d1.stop()
        tap.ok(rc == 0, "daemon 1 exits 0 on SIGTERM", diag=d1.log_tail())
        # No daemon now: the connection must still be accepted by the kernel...
        try:
            pending = socket.create_connection(("127.0.0.1", port), timeout=5)
            pending.sendall(b"GET /checkpoint HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            tap.ok(True, "a connection made while no daemon runs is accepted")
        except OSError as e:
            pending = None
            tap.ok(False, "a connection made while no daemon runs is accepted", diag=repr(e))
        time.sleep(0.5)
        d2.start(wait_ready=False)
        # ...and answered by the next daemon.
        if pending is not None:
            pending.settimeout(20)
            try:
                st, body = read_response(pending)
            except OSError as e:
                st, body = None, repr(e).encode()
            pending.close()
            tap.ok(st == 200, "it is answered by the restarted daemon (HTTP %s)" % st, diag=body[:200])
        d2.wait_ready()
        cp = d2.wait_size(size1 + 2)
        tap.ok(cp["size"] > size1, "the restarted daemon continues the same log (size %d -> %d)"
               % (size1, cp["size"]))
        time.sleep(1.0)
        prober.stop = True
        prober.join(25)
        tap.ok(prober.refusals == 0 and prober.answers > 10,
               "the port never refused a connection across the restart (%d answers, %d refusals)"
               % (prober.answers, prober.refusals))
        tap.ok(not prober.failures, "every connection across the restart got a 200 answer",
               diag="\n".join(prober.failures[:10]))
        tap.ok(d2.stop() == 0, "daemon 2 exits 0 on SIGTERM")
        # The listening socket is still usable after both daemons are gone.
        probe = socket.create_connection(("127.0.0.1", port), timeout=5)
        probe.close()
        tap.ok(True, "the passed socket still accepts after the daemons exit (not shut down by them)")
    finally:
        prober.stop = True
        d1.kill9()
        d2.kill9()
        lsock.close()


def main():
    with tempfile.TemporaryDirectory(prefix="gh-sockact-") as tmp:
        part_socket_activate(tmp)
        part_restart(tmp)


tap.run(main)
