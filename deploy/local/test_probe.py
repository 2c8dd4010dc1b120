#!/usr/bin/env python3
"""Tests for probe.py against the real local stack (`deploy/local/stack.sh up`).

Run: python3 -m unittest deploy/local/test_probe.py -v   (or python3 deploy/local/test_probe.py)

Addresses come from DOCFLOW_KAFKA_BROKERS / DOCFLOW_SCYLLA_NODES (defaults
127.0.0.1:9092 / 127.0.0.1:9042). When a server does not answer, the tests
needing it fail, unless DOCFLOW_SKIP_INTEGRATION=1, in which case they print
"skipped: <reason>" and pass over. The failure-mode tests need no server.
"""

import os
import socket
import subprocess
import sys
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "probe.py")
KAFKA = os.environ.get("DOCFLOW_KAFKA_BROKERS", "127.0.0.1:9092")
CQL = os.environ.get("DOCFLOW_SCYLLA_NODES", "127.0.0.1:9042")
SKIP = os.environ.get("DOCFLOW_SKIP_INTEGRATION") == "1"


def run_probe(kind, addrs):
    proc = subprocess.run([sys.executable, PROBE, kind, addrs],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, proc.stdout.strip()


def reachable(addrs):
    host, port = addrs.split(",")[0].rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=2).close()
        return True
    except OSError:
        return False


def need(addrs, what):
    """Skip (only when allowed) if the server is not there; otherwise carry on and fail."""
    if not reachable(addrs) and SKIP:
        print(f"skipped: {what} at {addrs} unreachable (DOCFLOW_SKIP_INTEGRATION=1)")
        raise unittest.SkipTest(f"{what} unreachable")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class ServerThread:
    """A loopback TCP server that answers every connection with fixed bytes."""

    def __init__(self, reply):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.reply = reply
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.recv(4096)
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self):
        self.sock.close()


class LiveStack(unittest.TestCase):
    def test_kafka_answers_metadata(self):
        need(KAFKA, "Kafka")
        rc, out = run_probe("kafka", KAFKA)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"ok: cluster=\S+ brokers=\d+@\S+:\d+ controller=\d+")

    def test_cql_answers_release_version(self):
        need(CQL, "Cassandra")
        rc, out = run_probe("cql", CQL)
        self.assertEqual(rc, 0, out)
        self.assertRegex(out, r"ok: release_version=\d+\.\d+")

    def test_first_dead_address_falls_through_to_live_one(self):
        need(KAFKA, "Kafka")
        rc, out = run_probe("kafka", f"127.0.0.1:{free_port()},{KAFKA}")
        self.assertEqual(rc, 0, out)

    def test_wrong_protocol_is_rejected(self):
        # A Kafka probe against the CQL port (and vice versa) must not pass.
        need(CQL, "Cassandra")
        need(KAFKA, "Kafka")
        rc, out = run_probe("kafka", CQL)
        self.assertEqual(rc, 1, out)
        rc, out = run_probe("cql", KAFKA)
        self.assertEqual(rc, 1, out)


class FailureModes(unittest.TestCase):
    def test_refused_port_fails(self):
        for kind in ("kafka", "cql"):
            rc, out = run_probe(kind, f"127.0.0.1:{free_port()}")
            self.assertEqual(rc, 1, out)
            self.assertIn("refused", out.lower())

    def test_garbage_reply_fails_cleanly(self):
        srv = ServerThread(b"\xff" * 64)
        try:
            for kind in ("kafka", "cql"):
                rc, out = run_probe(kind, srv.addr)
                self.assertEqual(rc, 1, out)
                self.assertNotIn("Traceback", out)
        finally:
            srv.close()

    def test_server_closing_early_fails_cleanly(self):
        srv = ServerThread(b"")
        try:
            for kind in ("kafka", "cql"):
                rc, out = run_probe(kind, srv.addr)
                self.assertEqual(rc, 1, out)
                self.assertIn("closed", out)
        finally:
            srv.close()

    def test_usage_error(self):
        rc, _ = run_probe("redis", "127.0.0.1:1")
        self.assertEqual(rc, 2)


if __name__ == "__main__":
    unittest.main(verbosity=2)
