#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""make-seeds.py - writes the fuzz targets' seed corpora, reproducibly.

    fuzz/make-seeds.py          (re)write fuzz/corpus/{codec,request,conn}/
    fuzz/make-seeds.py --check  exit 1 if a committed seed differs

Every seed is built here from the FastCGI 1.0 wire format (spec 3.3 record
headers, 3.4 name-value pairs, 5.1 BEGIN_REQUEST bodies), so the corpus can
be read and changed as code; the generated files are committed too, so
`make check` replays them without Python.  Only the files named here are
written: a crash input added by hand (see fuzz/README.md) is never touched.

Input layouts (the targets' top comments are the reference):
  codec    the bytes themselves: records, a bare name-value buffer, encoder
           data, all at once
  request  a flags byte, then the stream the web server sends
  conn     a flags byte, a split count n, n chunk sizes (b means b + 1
           bytes), then the stream
"""

import os
import struct
import sys

VERSION = 1
BEGIN_REQUEST, ABORT_REQUEST, END_REQUEST, PARAMS, STDIN, STDOUT, STDERR, \
    DATA, GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = range(1, 12)
RESPONDER, AUTHORIZER, FILTER = 1, 2, 3
KEEP_CONN = 1
MAX_LENGTH = 0xFFFF
FCGI_HEADER_LEN = 8

# fuzz_request.c flags
REQ_NO_ADMIT, REQ_SMALL_CAPS = 0x01, 0x02
# fuzz_conn.c flags
BLOCK, TIMER, OFFLOAD = 0, 1, 2
CONN_SMALL_CAPS, CONN_NO_ADMIT, CONN_TINY_WATER, CONN_SERVED, \
    CONN_LINGER = 0x04, 0x08, 0x10, 0x20, 0x40


def record(rtype, rid, content=b"", padding=0, version=VERSION):
    """One record (spec 3.3); padding bytes are zeros."""
    assert len(content) <= MAX_LENGTH and padding <= 255
    return struct.pack(">BBHHBB", version, rtype, rid, len(content),
                       padding, 0) + content + bytes(padding)


def length(n, long_form=False):
    """A name-value length field (spec 3.4)."""
    if n < 128 and not long_form:
        return bytes([n])
    return struct.pack(">I", n | 0x80000000)


def nv(name, value, long_form=False):
    if isinstance(name, str):
        name = name.encode()
    if isinstance(value, str):
        value = value.encode()
    return (length(len(name), long_form) + length(len(value), long_form)
            + name + value)


def begin(rid, role=RESPONDER, flags=0):
    return record(BEGIN_REQUEST, rid, struct.pack(">HB5x", role, flags))


def cgi_params(uri="/async", method="GET", query="", extra=(),
               content_length="0"):
    pairs = [("GATEWAY_INTERFACE", "CGI/1.1"), ("REQUEST_METHOD", method),
             ("REQUEST_URI", uri + ("?" + query if query else "")),
             ("QUERY_STRING", query), ("SCRIPT_NAME", uri),
             ("SERVER_PROTOCOL", "HTTP/1.1"),
             ("CONTENT_LENGTH", content_length),
             ("REMOTE_ADDR", "127.0.0.1")]
    pairs.extend(extra)
    return b"".join(nv(n, v) for n, v in pairs)


def stream(rtype, rid, data, chunk=MAX_LENGTH, end=True):
    """data as records of at most chunk bytes, then the empty record."""
    out = b"".join(record(rtype, rid, data[i:i + chunk])
                   for i in range(0, len(data), chunk))
    return out + (record(rtype, rid) if end else b"")


def request(rid=1, flags=0, params=None, body=b"", params_chunk=MAX_LENGTH):
    if params is None:
        params = cgi_params()
    return (begin(rid, flags=flags) + stream(PARAMS, rid, params, params_chunk)
            + stream(STDIN, rid, body))


# The CVE-2025-23016 shape: two 31-bit lengths near 2^31 whose sum, plus
# the length fields, wraps a 32-bit counter to a small number, or whose sum
# overflows a signed 32-bit int; and huge lengths with little data behind.
CVE_PAIRS = {
    "both-max": struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + b"AAAAAAAA",
    "sum-wraps-to-6": struct.pack(">II", 0xFFFFFFFF, 0xFFFFFFFF) + b"AB",
    "sum-overflows-int32": struct.pack(">II", 0xFFFFFFFC, 0x80000004) + b"xy",
    "name-huge-value-short": struct.pack(">I", 0xFFFFFFF8) + b"\x08"
    + b"B" * 16,
    "name-short-value-huge": b"\x04" + struct.pack(">I", 0xFFFFFFFF)
    + b"NAME" + b"v" * 8,
    "after-valid-pair": nv("REQUEST_METHOD", "GET")
    + struct.pack(">II", 0xFFFFFFFF, 0x80000009) + b"\x00" * 9,
}

VALID = request(flags=KEEP_CONN)
GET_VALUES_BODY = (nv("FCGI_MAX_CONNS", "") + nv("FCGI_MAX_REQS", "")
                   + nv("FCGI_MPXS_CONNS", "") + nv("UNKNOWN_NAME", "")
                   + nv("FCGI_MAX_CONNS", ""))


def split_params_mid_pair():
    """PARAMS whose records end inside a length field and inside a name."""
    p = cgi_params(extra=[("HTTP_X_LONG", "v" * 300)])
    cuts = [1, 3, 17, 18, 40, len(p) - 5, len(p)]
    out, prev = begin(1, flags=KEEP_CONN), 0
    for cut in cuts:
        out += record(PARAMS, 1, p[prev:cut])
        prev = cut
    return out + record(PARAMS, 1) + stream(STDIN, 1, b"")


def every_type(rid):
    return b"".join(record(t, rid, bytes([t]) * (t % 9))
                    for t in list(range(0, 13)) + [127, 255])


def max_content_with_padding(rtype=STDIN):
    return record(rtype, 1, b"\xa5" * MAX_LENGTH, padding=255)


def codec_seeds():
    seeds = {
        "valid-request": VALID,
        "valid-request-padded": begin(1) + record(PARAMS, 1, cgi_params(),
                                                  padding=7)
        + record(PARAMS, 1, padding=255) + record(STDIN, 1, padding=1),
        "params-nv-buffer": cgi_params(),
        "params-long-form-lengths": nv("HTTP_COOKIE", "c" * 200)
        + nv("N" * 130, "") + nv("A", "B", long_form=True),
        "params-split-mid-pair": split_params_mid_pair(),
        "get-values": record(GET_VALUES, 0, GET_VALUES_BODY),
        "get-values-body": GET_VALUES_BODY,
        "every-record-type": every_type(1),
        "truncated-header": VALID[:5],
        "truncated-record": VALID[:FCGI_HEADER_LEN + 3],
        "truncated-nv-length": b"\x0e\x80\x00\x01",
        "bad-version": record(BEGIN_REQUEST, 1, bytes(8), version=0)
        + VALID,
        "begin-body-short": record(BEGIN_REQUEST, 1, b"\x00\x01"),
        "max-content-and-padding": max_content_with_padding(PARAMS),
        "end-request-record": record(END_REQUEST, 1,
                                     struct.pack(">IB3x", 0, 0)),
        "empty": b"",
    }
    for name, body in CVE_PAIRS.items():
        seeds["cve-" + name] = body
        seeds["cve-" + name + "-in-params"] = record(PARAMS, 1, body)
    return seeds



def request_seeds():
    two = request(1, KEEP_CONN) + request(2, KEEP_CONN,
                                          cgi_params("/async/stats"))
    active = begin(1, flags=KEEP_CONN) + stream(PARAMS, 1, cgi_params())
    seeds = {
        "valid-keep-conn": bytes([0]) + VALID,
        "valid-close": bytes([0]) + request(),
        "two-pipelined": bytes([0]) + two,
        "finish-late": bytes([0x30]) + request(7, KEEP_CONN)
        + record(STDIN, 7) + record(ABORT_REQUEST, 7) + record(PARAMS, 7)
        + request(8),
        "params-split-mid-pair": bytes([0]) + split_params_mid_pair(),
        "params-one-byte-records": bytes([0]) + request(
            3, KEEP_CONN, params_chunk=1),
        "get-values": bytes([0]) + record(GET_VALUES, 0, GET_VALUES_BODY)
        + VALID,
        "management-unknown-types": bytes([0]) + every_type(0),
        "every-type-active": bytes([0]) + active + every_type(1),
        "every-type-inactive": bytes([0]) + VALID + every_type(9),
        "every-type-before-begin": bytes([0]) + every_type(1),
        "abort-receiving": bytes([0]) + begin(1, flags=KEEP_CONN)
        + record(PARAMS, 1, cgi_params()[:20]) + record(ABORT_REQUEST, 1)
        + record(PARAMS, 1) + VALID,
        "abort-running": bytes([0x20]) + VALID + record(ABORT_REQUEST, 1),
        "second-begin-other-id": bytes([0]) + active + begin(2)
        + stream(STDIN, 1, b""),
        "second-begin-same-id": bytes([0]) + active + begin(1),
        "authorizer-role": bytes([0]) + begin(1, AUTHORIZER, KEEP_CONN)
        + begin(2, FILTER) + VALID,
        "overloaded": bytes([REQ_NO_ADMIT]) + request(1, KEEP_CONN)
        + VALID,
        "small-caps-params": bytes([REQ_SMALL_CAPS]) + VALID,
        "small-caps-stdin": bytes([REQ_SMALL_CAPS]) + request(
            1, KEEP_CONN, b"", b"x" * 65),
        "stdin-before-params-end": bytes([0]) + begin(1)
        + record(STDIN, 1, b"body"),
        "stdin-after-end": bytes([0x10]) + VALID + record(STDIN, 1, b"x"),
        "data-record": bytes([0]) + active + record(DATA, 1, b"data"),
        "nul-in-param": bytes([0]) + request(params=nv("A\0B", "v")),
        "truncated-record": bytes([0]) + VALID[:-3],
        "truncated-header": bytes([0]) + begin(1)[:5],
        "bad-version-mid-stream": bytes([0]) + active
        + record(STDIN, 1, version=2),
        "max-content-and-padding-stdin": bytes([0]) + active
        + max_content_with_padding() + record(STDIN, 1),
        "empty-flags-only": bytes([0]),
    }
    for name, body in CVE_PAIRS.items():
        seeds["cve-" + name] = bytes([0]) + begin(1) + record(
            PARAMS, 1, body) + record(PARAMS, 1) + stream(STDIN, 1, b"")
    return seeds


def conn(flags, stream_bytes, splits=b""):
    return bytes([flags, len(splits)]) + splits + stream_bytes


def one_by_one(*pieces):
    """conn splits that write each piece (in chunks of at most 256 bytes)
    and then wait for the server's answers before the next piece."""
    sizes = []
    for piece in pieces:
        left = len(piece)
        while left > 0:
            sizes.append(min(left, 256) - 1)
            left -= min(left, 256)
        sizes.append(255)
    return bytes(sizes[:-1])


def conn_seeds():
    every_byte = bytes(64)                  # 64 one-byte chunks
    mid_header = bytes([3, 5, 0, 2, 7])     # 4, 6, 1, 3, 8 bytes
    first, stats = request(1, KEEP_CONN), request(
        2, KEEP_CONN, cgi_params("/async/stats"))
    two = first + stats
    seeds = {
        "block-valid": conn(BLOCK, request()),
        "timer-valid": conn(TIMER, request()),
        "offload-valid": conn(OFFLOAD, request()),
        "timer-keep-conn-three": conn(TIMER | CONN_LINGER,
                                      two + request(3),
                                      one_by_one(first, stats)),
        "offload-keep-conn-three": conn(OFFLOAD | CONN_LINGER,
                                        two + request(3),
                                        one_by_one(first, stats)),
        "offload-abort-linger": conn(OFFLOAD | CONN_LINGER, VALID
                                     + record(ABORT_REQUEST, 1)
                                     + request(2)),
        "block-split-every-byte": conn(BLOCK, VALID, every_byte),
        "timer-split-mid-header": conn(TIMER, two + VALID, mid_header),
        "offload-pipelined-cant-mpx": conn(OFFLOAD, two + request(3)),
        "stats": conn(BLOCK, request(params=cgi_params("/async/stats"))),
        "not-found": conn(BLOCK, request(params=cgi_params("/nowhere"))),
        "post-not-allowed": conn(BLOCK, request(
            params=cgi_params(method="POST"), body=b"a=1")),
        "head": conn(TIMER | CONN_LINGER, request(params=cgi_params(method="HEAD"))),
        "bad-content-length": conn(BLOCK, request(params=cgi_params(
            content_length="99999999999999999999"))),
        "params-split-mid-pair": conn(OFFLOAD | CONN_LINGER,
                                      split_params_mid_pair(),
                                      bytes([9, 1, 30, 2])),
        "get-values": conn(BLOCK, record(GET_VALUES, 0, GET_VALUES_BODY)
                           + every_type(0) + request()),
        "abort-timer": conn(TIMER, VALID + record(ABORT_REQUEST, 1)
                            + request(2)),
        "abort-offload": conn(OFFLOAD, VALID + record(ABORT_REQUEST, 1)
                              + request(2)),
        "abort-receiving": conn(BLOCK, begin(1, flags=KEEP_CONN)
                                + record(ABORT_REQUEST, 1) + request(2)),
        "cant-mpx": conn(TIMER, begin(1, flags=KEEP_CONN) + begin(2)
                         + stream(PARAMS, 1, cgi_params())
                         + stream(STDIN, 1, b"")),
        "overloaded": conn(CONN_NO_ADMIT, request(1, KEEP_CONN) + request()),
        "small-caps": conn(CONN_SMALL_CAPS, VALID),
        "tiny-high-water": conn(TIMER | CONN_TINY_WATER | CONN_LINGER,
                                record(GET_VALUES, 0, GET_VALUES_BODY) * 8
                                + two + VALID),
        "served-block-valid": conn(BLOCK | CONN_SERVED, request()),
        "served-offload-keep-conn": conn(OFFLOAD | CONN_SERVED | CONN_LINGER,
                                         two, one_by_one(first)),
        "served-term-receiving": conn(TIMER | CONN_SERVED,
                                     VALID, bytes([20, 40])),
        "served-term-idle": conn(OFFLOAD | CONN_SERVED,
                                record(GET_VALUES, 0, GET_VALUES_BODY)
                                + VALID, bytes([30])),
        "max-content-and-padding": conn(BLOCK, begin(1)
                                        + stream(PARAMS, 1, cgi_params())
                                        + max_content_with_padding() * 3
                                        + record(STDIN, 1)),
        "bad-version": conn(BLOCK, VALID[:8] + b"GET / HTTP/1.1\r\n\r\n"),
        "truncated-record": conn(OFFLOAD, VALID[:-3]),
        "before-begin": conn(BLOCK, record(PARAMS, 1, cgi_params())),
        "nul-in-param": conn(BLOCK, request(params=nv("A\0B", "v"))),
        "empty-stream": conn(BLOCK, b""),
    }
    for name, body in CVE_PAIRS.items():
        seeds["cve-" + name] = conn(BLOCK, begin(1) + record(PARAMS, 1, body)
                                    + record(PARAMS, 1)
                                    + stream(STDIN, 1, b""))
    return seeds


def main():
    check = sys.argv[1:] == ["--check"]
    if sys.argv[1:] and not check:
        sys.exit(__doc__)
    top = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
    stale = 0
    for target, seeds in (("codec", codec_seeds()),
                          ("request", request_seeds()),
                          ("conn", conn_seeds())):
        directory = os.path.join(top, target)
        os.makedirs(directory, exist_ok=True)
        for name, data in sorted(seeds.items()):
            path = os.path.join(directory, "seed-" + name)
            if check:
                try:
                    with open(path, "rb") as f:
                        same = f.read() == data
                except OSError:
                    same = False
                if not same:
                    print("stale or missing: " + path)
                    stale += 1
                continue
            with open(path, "wb") as f:
                f.write(data)
    sys.exit(1 if stale else 0)


if __name__ == "__main__":
    main()
