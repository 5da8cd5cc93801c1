# SPDX-License-Identifier: ISC
"""fcgi_wire.py - the FastCGI 1.0 wire format, for the tests and the bench.

Pure functions over bytes, after the FastCGI Specification 1.0: record headers, records and streams,
name-value pairs with 1- or 4-byte lengths, BEGIN_REQUEST bodies, a whole
responder request (PARAMS cut into records of any size, which may split a
pair or a length field), and the CGI response carried on STDOUT.  Encoders
mask fields instead of range-checking them, so tests can build any byte
sequence.  No sockets, no processes; standard library only.
"""
import struct

# Record types, roles, flags and protocol statuses (spec, appendix A).
VERSION_1 = 1
BEGIN_REQUEST = 1
ABORT_REQUEST = 2
END_REQUEST = 3
PARAMS = 4
STDIN = 5
STDOUT = 6
STDERR = 7
DATA = 8
GET_VALUES = 9
GET_VALUES_RESULT = 10
UNKNOWN_TYPE = 11

RESPONDER = 1
AUTHORIZER = 2
FILTER = 3

KEEP_CONN = 1

REQUEST_COMPLETE = 0
CANT_MPX_CONN = 1
OVERLOADED = 2
UNKNOWN_ROLE = 3

HEADER_LEN = 8
MAX_CONTENT = 65535

STATUS_NAMES = {REQUEST_COMPLETE: "REQUEST_COMPLETE", CANT_MPX_CONN: "CANT_MPX_CONN",
                OVERLOADED: "OVERLOADED", UNKNOWN_ROLE: "UNKNOWN_ROLE"}


class Record:
    """One decoded record."""

    def __init__(self, version, rtype, request_id, content, padding=0):
        self.version = version
        self.type = rtype
        self.request_id = request_id
        self.content = content
        self.padding = padding

    def end_request(self):
        """(app_status, protocol_status) of an END_REQUEST body."""
        app_status, protocol_status = struct.unpack(">IB3x", self.content[:8])
        return app_status, protocol_status

    def __repr__(self):
        return "Record(type=%d, id=%d, %d bytes)" % (self.type, self.request_id,
                                                      len(self.content))


def encode_header(rtype, request_id, content_length, padding=0, version=VERSION_1):
    """The 8-byte record header; fields are masked, never range-checked, so
    tests can build any header."""
    return struct.pack(">BBHHBx", version & 0xff, rtype & 0xff, request_id & 0xffff,
                       content_length & 0xffff, padding & 0xff)


def encode_record(rtype, request_id, content=b"", padding=0, version=VERSION_1):
    """A whole record: header, content (at most 65535 bytes), padding zeros."""
    if len(content) > MAX_CONTENT:
        raise ValueError("record content over 65535 bytes")
    return encode_header(rtype, request_id, len(content), padding, version) + \
        content + b"\0" * padding


def encode_stream(rtype, request_id, data, record_size=MAX_CONTENT, padding=0,
                  terminate=True):
    """data as records of at most record_size bytes, then (terminate) the
    empty record that ends the stream."""
    out = b""
    for i in range(0, len(data), record_size):
        out += encode_record(rtype, request_id, data[i:i + record_size], padding)
    if terminate:
        out += encode_record(rtype, request_id, b"", padding)
    return out


def decode_records(buf):
    """Splits buf into whole records; returns (records, leftover bytes)."""
    records = []
    pos = 0
    while len(buf) - pos >= HEADER_LEN:
        version, rtype, rid, clen, plen = struct.unpack(">BBHHBx", buf[pos:pos + HEADER_LEN])
        total = HEADER_LEN + clen + plen
        if len(buf) - pos < total:
            break
        content = buf[pos + HEADER_LEN:pos + HEADER_LEN + clen]
        records.append(Record(version, rtype, rid, content, plen))
        pos += total
    return records, buf[pos:]


def encode_length(n, force_long=False):
    """A name-value length: 1 byte below 128, else 4 bytes with the top bit set."""
    if n < 128 and not force_long:
        return bytes([n])
    return struct.pack(">I", (n & 0x7fffffff) | 0x80000000)


def encode_nv(name, value, force_long=False):
    """One name-value pair (bytes or str)."""
    if isinstance(name, str):
        name = name.encode()
    if isinstance(value, str):
        value = value.encode()
    return encode_length(len(name), force_long) + encode_length(len(value), force_long) + \
        name + value


def encode_params(params, force_long=False):
    """A PARAMS stream body from a dict or a list of (name, value) pairs."""
    items = params.items() if isinstance(params, dict) else params
    return b"".join(encode_nv(n, v, force_long) for n, v in items)


def decode_nv(data):
    """Name-value pairs of a stream body (well-formed input), as a list."""
    pairs = []
    pos = 0

    def length():
        nonlocal pos
        if data[pos] & 0x80:
            n = struct.unpack(">I", data[pos:pos + 4])[0] & 0x7fffffff
            pos += 4
        else:
            n = data[pos]
            pos += 1
        return n
    while pos < len(data):
        nlen = length()
        vlen = length()
        pairs.append((data[pos:pos + nlen], data[pos + nlen:pos + nlen + vlen]))
        pos += nlen + vlen
    return pairs


def begin_body(role=RESPONDER, flags=0):
    """FCGI_BeginRequestBody: role (2 bytes), flags, 5 reserved bytes."""
    return struct.pack(">HB5x", role, flags)


def default_params(uri="/async", method="GET", query="", extra=None):
    """A CGI environment like lighttpd's, enough for async_fcgi to route."""
    params = [("REQUEST_METHOD", method), ("REQUEST_URI", uri + ("?" + query if query else "")),
              ("QUERY_STRING", query), ("SCRIPT_NAME", uri), ("SERVER_PROTOCOL", "HTTP/1.1"),
              ("GATEWAY_INTERFACE", "CGI/1.1"), ("REMOTE_ADDR", "127.0.0.1")]
    if extra:
        params += list(extra.items()) if isinstance(extra, dict) else list(extra)
    return params


def build_request(params=None, stdin=b"", request_id=1, keep_conn=False, role=RESPONDER,
                  params_record_size=MAX_CONTENT, stdin_record_size=MAX_CONTENT,
                  padding=0, force_long=False, params_bytes=None):
    """A whole responder request: BEGIN_REQUEST, PARAMS records of at most
    params_record_size bytes (cut anywhere, mid-pair included) and the empty
    PARAMS, STDIN records and the empty STDIN.  params_bytes, if given, is
    sent as the PARAMS stream verbatim instead of encoding params."""
    if params_bytes is None:
        params_bytes = encode_params(params if params is not None else default_params(),
                                     force_long)
    flags = KEEP_CONN if keep_conn else 0
    return (encode_record(BEGIN_REQUEST, request_id, begin_body(role, flags), padding) +
            encode_stream(PARAMS, request_id, params_bytes, params_record_size, padding) +
            encode_stream(STDIN, request_id, stdin, stdin_record_size, padding))


def parse_stdout(data):
    """A CGI response into (status, {lower-case name: value}, body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return None, {}, data
    headers = {}
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    status = None
    if "status" in headers:
        try:
            status = int(headers["status"].split()[0])
        except (ValueError, IndexError):
            status = None
    return status, headers, body


def stdout_of(records, request_id=1):
    """(STDOUT bytes, (app_status, protocol_status) or None) of request_id's
    records: the END_REQUEST, if it is among them, ends the response."""
    out = b""
    for rec in records:
        if rec.request_id != request_id:
            continue
        if rec.type == STDOUT:
            out += rec.content
        elif rec.type == END_REQUEST:
            return out, rec.end_request()
    return out, None
