#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""A hostile node: garbage, oversized, truncated, slow, inconsistent and badly
signed answers. The client must exit 2 or 3 with a clear one-line message,
never crash, never hang past its timeout."""

import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cltest  # noqa: E402
from cltest import ghtest  # noqa: E402

tap = ghtest.Tap()
ORIGIN = "hostile.test/gpuhours"


def bundle_records(path):
    """The framed records of a bundle file (independent parse)."""
    d = open(path, "rb").read()
    assert d[:8] == b"GHBUNDL1"
    n = int.from_bytes(d[8:12], "big")
    pos = 12 + n
    count = int.from_bytes(d[pos:pos + 8], "big")
    recs = ghtest.split_frames(d[pos + 8:])
    assert len(recs) == count
    return recs


def main():
    tmp = tempfile.mkdtemp(prefix="gh-hostile-")
    env = cltest.client_env(tmp)
    key = cltest.Key(ORIGIN)
    recs = bundle_records(os.path.join(ghtest.source_root(), "tests", "vectors", "bundle-3.bin"))
    root = ghtest.merkle_root([ghtest.leaf_hash(r) for r in recs])
    good_cp = key.sign(cltest.checkpoint_text(ORIGIN, len(recs), root)).encode()
    body = b"".join(cltest.frame(r) for r in recs)

    def cp_route(note):
        return lambda h, q: h.reply(200, note)

    def records_route(data, rng="0-%d" % len(recs)):
        return lambda h, q: h.reply(200, data, {"X-Gpuhours-Range": rng})

    def case(name, routes, expect, args=(), max_secs=20, want=None):
        srv = cltest.Hostile(routes)
        try:
            rc, out, err, secs = cltest.run(["verify", "--no-state", "--key", key.vkey,
                                             "--timeout", "3"] + list(args) + [srv.url], env,
                                            timeout=60)
        finally:
            srv.close()
        text = out + err
        ok = rc in expect and secs < max_secs and "Sanitizer" not in text and (
            want is None or want in text)
        tap.ok(ok, "%s: exit %d in %.1f s" % (name, rc, secs), diag=text[-1500:])
        return text, srv

    # Sanity: the same server, honest, verifies (stale data: exit 1).
    text, _ = case("honest node verifies", {"/checkpoint": cp_route(good_cp),
                                             "/v1/records": records_route(body)}, (0, 1),
                   want="VERIFIED")

    rnd = os.urandom(3000)
    case("garbage checkpoint", {"/checkpoint": cp_route(rnd)}, (2,), want="MALFORMED")
    case("garbage records", {"/checkpoint": cp_route(good_cp),
                             "/v1/records": records_route(rnd)}, (2,))
    case("oversized checkpoint", {"/checkpoint": cp_route(b"A" * 100000)}, (2, 3),
         want="larger than")

    def huge_nolength(h, q):
        h.send_response(200)
        h.send_header("Connection", "close")
        h.send_header("X-Gpuhours-Range", "0-3")
        h.end_headers()
        chunk = b"\0" * 65536
        for _ in range(18 * 16 + 8):  # 18.5 MiB, no Content-Length
            h.wfile.write(chunk)
        h.close_connection = True

    case("oversized records without length", {"/checkpoint": cp_route(good_cp),
                                              "/v1/records": huge_nolength}, (2, 3),
         want="larger than")

    def truncated(h, q):
        h.send_response(200)
        h.send_header("Content-Length", str(len(body) + 1000))
        h.send_header("X-Gpuhours-Range", "0-3")
        h.end_headers()
        h.wfile.write(body[:50])
        h.wfile.flush()
        h.close_connection = True

    case("truncated records", {"/checkpoint": cp_route(good_cp), "/v1/records": truncated},
         (2, 3))

    def slow(h, q):
        h.send_response(200)
        h.send_header("Content-Length", str(len(good_cp)))
        h.end_headers()
        for b in good_cp:
            h.wfile.write(bytes([b]))
            h.wfile.flush()
            time.sleep(0.25)

    text, _ = case("slow drip with --timeout 3", {"/checkpoint": slow}, (3,), max_secs=9,
                   want="timed out")

    case("range header disagrees with the frames",
         {"/checkpoint": cp_route(good_cp), "/v1/records": records_route(body, "0-2")}, (2,),
         want="MALFORMED")
    case("more records than the checkpoint",
         {"/checkpoint": cp_route(good_cp),
          "/v1/records": records_route(body + cltest.frame(recs[0]), "0-4")}, (2,))
    short_cp = key.sign(cltest.checkpoint_text(ORIGIN, 5, root)).encode()
    case("checkpoint size larger than the records served",
         {"/checkpoint": cp_route(short_cp),
          "/v1/records": lambda h, q: h.reply(404, b"error: no such records\n")}, (2, 3))
    other = [r for r in recs]
    other[1] = other[1][:-1] + bytes([other[1][-1] ^ 1])
    case("records that do not hash to the signed root",
         {"/checkpoint": cp_route(good_cp),
          "/v1/records": records_route(b"".join(cltest.frame(r) for r in other))}, (2,),
         want="ROOT_MISMATCH")
    junk = [os.urandom(40) for _ in range(3)]
    junk_root = ghtest.merkle_root([ghtest.leaf_hash(r) for r in junk])
    case("signed records that do not decode",
         {"/checkpoint": cp_route(key.sign(cltest.checkpoint_text(ORIGIN, 3, junk_root)).encode()),
          "/v1/records": records_route(b"".join(cltest.frame(r) for r in junk))}, (2,),
         want="MALFORMED")

    bad = bytearray(good_cp)
    bad[-10] = ord("A") if bad[-10] != ord("A") else ord("B")
    case("bad signature", {"/checkpoint": cp_route(bytes(bad))}, (2,), want="BAD_SIGNATURE")
    stranger = cltest.Key(ORIGIN)
    case("signed by an untrusted key of the same name",
         {"/checkpoint": cp_route(stranger.sign(cltest.checkpoint_text(ORIGIN, 3, root)).encode()),
          "/v1/records": records_route(body)}, (2,), want="KEY_MISMATCH")
    other_name = cltest.Key("other.test/gpuhours")
    srv_note = other_name.sign(cltest.checkpoint_text(ORIGIN, 3, root)).encode()
    case("signed by a trusted key of another name",
         {"/checkpoint": cp_route(srv_note), "/v1/records": records_route(body)}, (2,),
         args=["--key", other_name.vkey], want="KEY_MISMATCH")

    target = cltest.Hostile({"/checkpoint": cp_route(good_cp), "/v1/records": records_route(body)})
    text, _ = case("redirect is not followed",
                   {"/checkpoint": lambda h, q: h.reply(302, b"",
                                                        {"Location": target.url + "/checkpoint"})},
                   (3,))
    tap.ok(not target.hits, "redirect target never contacted", diag=target.hits)
    target.close()
    case("HTTP 500", {"/checkpoint": lambda h, q: h.reply(500, b"error: boom\n")}, (3,),
         want="500")
    rc, out, err, secs = cltest.run(["verify", "--no-state", "--timeout", "3",
                                     "http://127.0.0.1:%d" % ghtest.free_port()], env)
    tap.ok(rc == 3 and secs < 10, "unreachable node: exit %d in %.1f s" % (rc, secs),
           diag=out + err)
    tap.ok(len((out.strip()).splitlines()) <= 3, "unreachable: short clear message", diag=out)


tap.run(main)
