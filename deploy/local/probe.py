#!/usr/bin/env python3
"""Readiness probes for the local stack, standard library only (no pip installs).

    probe.py kafka HOST:PORT[,HOST:PORT...]   # ApiVersions + Metadata request
    probe.py cql   HOST:PORT[,HOST:PORT...]   # CQL v4 STARTUP + SELECT release_version

Each address is tried in turn; the first that answers wins. Exit 0 and print a
one-line summary on success, exit 1 and print the last error otherwise. The
probes speak the wire protocols directly, so "ready" means the server really
serves requests, not merely that a port is open.
"""

import socket
import struct
import sys

TIMEOUT_S = 3.0


class ProbeError(Exception):
    """The server answered something we cannot accept (or did not answer)."""


def _recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ProbeError("connection closed by server")
        buf += chunk
    return bytes(buf)


def _split_addr(addr, default_port):
    addr = addr.strip()
    if addr.startswith("["):  # [ipv6]:port
        host, _, rest = addr[1:].partition("]")
        port = rest.lstrip(":") or default_port
    elif addr.count(":") == 1:
        host, port = addr.split(":")
    else:
        host, port = addr, default_port
    return host, int(port)


# ---------------------------------------------------------------- Kafka ----

class _Reader:
    """Cursor over a Kafka response body (big-endian primitives)."""

    def __init__(self, data):
        self.data, self.pos = data, 0

    def take(self, fmt):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise ProbeError("truncated response")
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return value

    def string(self):
        n = self.take(">h")
        if n < 0:
            return None
        if self.pos + n > len(self.data):
            raise ProbeError("truncated string")
        s = self.data[self.pos:self.pos + n].decode("utf-8", "replace")
        self.pos += n
        return s


def _kafka_call(sock, api_key, version, corr, body):
    client_id = b"docflow-stack-probe"
    # Request header v1: api_key, api_version, correlation_id, client_id.
    header = struct.pack(">hhih", api_key, version, corr, len(client_id)) + client_id
    msg = header + body
    sock.sendall(struct.pack(">i", len(msg)) + msg)
    size = struct.unpack(">i", _recv_exact(sock, 4))[0]
    if size < 4 or size > 64 << 20:
        raise ProbeError(f"implausible response size {size}")
    resp = _recv_exact(sock, size)
    if struct.unpack_from(">i", resp)[0] != corr:
        raise ProbeError("correlation id mismatch")
    return _Reader(resp[4:])


def probe_kafka(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        # ApiVersions v0 is understood by every broker and tells us which
        # Metadata versions it serves (Kafka 4 dropped Metadata v0-v3).
        r = _kafka_call(sock, 18, 0, 1, b"")
        err = r.take(">h")
        if err != 0:
            raise ProbeError(f"ApiVersions error code {err}")
        meta_range = None
        for _ in range(r.take(">i")):
            key, lo, hi = r.take(">h"), r.take(">h"), r.take(">h")
            if key == 3:
                meta_range = (lo, hi)
        if meta_range is None:
            raise ProbeError("broker does not serve Metadata")
        # Versions 1..7 share the non-flexible layout built and parsed below; take the
        # newest of those (v2+ carries the cluster id).
        version = min(meta_range[1], 7)
        if version < max(meta_range[0], 1):
            raise ProbeError(f"no supported Metadata version in {meta_range}")
        body = struct.pack(">i", 0)  # empty topic list: brokers + cluster only
        if version >= 4:
            body += b"\x00"  # allow_auto_topic_creation = false
        r = _kafka_call(sock, 3, version, 2, body)
        if version >= 3:
            r.take(">i")  # throttle_time_ms
        brokers = []
        for _ in range(r.take(">i")):
            node, bhost, bport = r.take(">i"), r.string(), r.take(">i")
            r.string()  # rack
            brokers.append(f"{node}@{bhost}:{bport}")
        cluster = r.string() if version >= 2 else None
        controller = r.take(">i")
        if not brokers:
            raise ProbeError("metadata lists no brokers yet")
        if controller < 0:
            raise ProbeError("no active controller yet")
        return f"kafka {host}:{port} ok: cluster={cluster} brokers={','.join(brokers)} controller={controller}"


# ------------------------------------------------------------------ CQL ----

def _cql_frame(opcode, body, stream=1):
    return struct.pack(">BBhBi", 0x04, 0, stream, opcode, len(body)) + body


def _cql_read(sock):
    version, _flags, _stream, opcode, length = struct.unpack(">BBhBi", _recv_exact(sock, 9))
    if version != 0x84:
        raise ProbeError(f"unexpected CQL response version 0x{version:02x}")
    if length < 0 or length > 64 << 20:
        raise ProbeError(f"implausible CQL frame length {length}")
    body = _recv_exact(sock, length)
    if opcode == 0x00:  # ERROR: [int code][string message]
        code = struct.unpack_from(">i", body)[0]
        n = struct.unpack_from(">H", body, 4)[0]
        raise ProbeError(f"CQL error 0x{code:04x}: {body[6:6 + n].decode('utf-8', 'replace')}")
    return opcode, body


def _cql_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def probe_cql(host, port):
    with socket.create_connection((host, port), timeout=TIMEOUT_S) as sock:
        sock.settimeout(TIMEOUT_S)
        startup = struct.pack(">H", 1) + _cql_string("CQL_VERSION") + _cql_string("3.0.0")
        sock.sendall(_cql_frame(0x01, startup))
        opcode, _ = _cql_read(sock)
        if opcode == 0x03:
            raise ProbeError("server requires authentication (AUTHENTICATE)")
        if opcode != 0x02:
            raise ProbeError(f"expected READY, got opcode 0x{opcode:02x}")
        query = "SELECT release_version FROM system.local"
        qbytes = query.encode()
        # QUERY: [long string][consistency ONE][flags 0]
        body = struct.pack(">i", len(qbytes)) + qbytes + struct.pack(">HB", 0x0001, 0)
        sock.sendall(_cql_frame(0x07, body, stream=2))
        opcode, body = _cql_read(sock)
        if opcode != 0x08:
            raise ProbeError(f"expected RESULT, got opcode 0x{opcode:02x}")
        r = _Reader(body)
        if r.take(">i") != 2:
            raise ProbeError("expected a Rows result")
        flags, ncols = r.take(">i"), r.take(">i")
        if flags & 0x0002:  # has_more_pages: paging state
            r.pos += max(r.take(">i"), 0)
        if not flags & 0x0004:  # metadata present
            global_spec = flags & 0x0001
            if global_spec:
                r.string(), r.string()
            for _ in range(ncols):
                if not global_spec:
                    r.string(), r.string()
                r.string()
                r.take(">H")  # type id; release_version is varchar (no extra)
        if r.take(">i") < 1:
            raise ProbeError("system.local returned no row")
        n = r.take(">i")
        version = r.data[r.pos:r.pos + n].decode("utf-8", "replace") if n >= 0 else None
        return f"cql {host}:{port} ok: release_version={version}"


def main(argv):
    if len(argv) != 3 or argv[1] not in ("kafka", "cql"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    kind, addrs = argv[1], argv[2]
    probe, default_port = (probe_kafka, 9092) if kind == "kafka" else (probe_cql, 9042)
    last = "no address given"
    for addr in filter(None, addrs.split(",")):
        try:
            host, port = _split_addr(addr, default_port)
            print(probe(host, port))
            return 0
        except (OSError, ProbeError, ValueError, struct.error) as exc:
            last = f"{kind} {addr.strip()}: {exc}"
    print(last)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
