"""Smoke test of mquictt-loadgen's secure transports, so the benchmark tools cannot silently rot.

QUIC runs against the real mquicttd; TLS against Debian's mosquitto with a TLS listener (the
daemon has none), skipped when mosquitto is not installed. A few connections, a few messages,
well under a second of load per case; these are not benchmarks (bench/compare.sh is).

Usage: loadgen_smoke_test.py /path/to/mquicttd /path/to/mquictt-loadgen
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "interop"))
from daemon import Daemon  # noqa: E402

DAEMON = None
LOADGEN = None
CERTS = os.path.join(os.path.dirname(__file__), "..", "data", "certs")
CA = os.path.join(CERTS, "ca.pem")
OTHER_CA = os.path.join(CERTS, "other-ca.pem")  # did not sign the server certificate

# Short runs: a fraction of a second of load, no warmup.
SHORT = ["--duration", "0.5", "--warmup", "0", "--drain", "3", "--json"]


def loadgen(port, *args):
    p = subprocess.run([LOADGEN, "--port", str(port), *args], capture_output=True, text=True,
                       timeout=60)
    try:
        return json.loads(p.stdout)
    except ValueError:
        raise AssertionError("no JSON from loadgen (rc %d): %s %s" % (p.returncode, p.stdout,
                                                                        p.stderr))


class Checks:
    """The same cases for each transport; subclasses set port and transport args."""

    def args(self, ca=CA):
        return ["--transport", self.transport, "--cafile", ca]

    def check_pubsub(self, qos):
        r = loadgen(self.port, *self.args(), "--scenario", "fan-in", "--publishers", "2",
                    "--qos", str(qos), "--inflight", "20", "--rate", "2000", *SHORT)
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["transport"], self.transport)
        self.assertGreater(r["received"], 100, r)
        self.assertEqual(r["lost"], 0, r)
        self.assertEqual(r["errors"], 0, r)
        if qos == 1:
            self.assertEqual(r["unacked_at_end"], 0, r)

    def test_fan_in_qos0(self):
        self.check_pubsub(0)

    def test_fan_in_qos1(self):
        self.check_pubsub(1)

    def test_connect_rate(self):
        r = loadgen(self.port, *self.args(), "--scenario", "connect-rate", "--concurrency", "4",
                    *SHORT)
        self.assertTrue(r["ok"], r)
        self.assertGreater(r["connections"], 5, r)
        self.assertEqual(r["failures"], 0, r)
        self.assertEqual(r["close_timeouts"], 0, r)

    def test_idle(self):
        r = loadgen(self.port, *self.args(), "--scenario", "idle", "--connections", "20",
                    "--duration", "0.2", "--json")
        self.assertTrue(r["ok"], r)
        self.assertEqual(r["connections_up"], 20, r)

    def test_wrong_ca_is_refused(self):
        # The broker's certificate really is verified: a CA that did not sign it fails, while the
        # same run with the right CA (the control: the broker is up) succeeds.
        for ca, ok in ((CA, True), (OTHER_CA, False)):
            r = loadgen(self.port, *self.args(ca), "--scenario", "idle", "--connections", "1",
                        "--duration", "0.1", "--json")
            self.assertEqual(r["ok"], ok, r)


class Quic(Checks, unittest.TestCase):
    transport = "quic"

    @classmethod
    def setUpClass(cls):
        yaml = ('  - name: quic\n    transport: quic\n    bind: "127.0.0.1:0"\n'
                '    tls:\n      cert_file: %s\n      key_file: %s\n'
                % (os.path.join(CERTS, "server.pem"), os.path.join(CERTS, "server.key")))
        cls.daemon = Daemon(DAEMON, yaml, wait_for=("tcp", "quic")).start()
        cls.port = cls.daemon.ports["quic"]

    @classmethod
    def tearDownClass(cls):
        cls.daemon.stop()


def free_tcp_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@unittest.skipUnless(shutil.which("mosquitto"), "mosquitto is not installed")
class Tls(Checks, unittest.TestCase):
    transport = "tls"

    @classmethod
    def setUpClass(cls):
        # mosquitto started as root reads its files after dropping to its own user: copy them
        # somewhere it can read.
        cls.dir = tempfile.mkdtemp(prefix="mquictt-loadgen-smoke-")
        os.chmod(cls.dir, 0o755)
        for f in ("server.pem", "server.key"):
            shutil.copy(os.path.join(CERTS, f), cls.dir)
            os.chmod(os.path.join(cls.dir, f), 0o644)
        cls.port = free_tcp_port()
        conf = os.path.join(cls.dir, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("listener %d 127.0.0.1\nallow_anonymous true\npersistence false\n"
                    "certfile %s/server.pem\nkeyfile %s/server.key\ntls_version tlsv1.3\n"
                    % (cls.port, cls.dir, cls.dir))
        cls.proc = subprocess.Popen(["mosquitto", "-c", conf], stdout=subprocess.DEVNULL,
                                    stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 10
        while time.time() < deadline:
            if cls.proc.poll() is not None:
                err = cls.proc.stderr.read()
                cls.tearDownClass()
                raise RuntimeError("mosquitto exited: " + err)
            try:
                socket.create_connection(("127.0.0.1", cls.port), 0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        cls.tearDownClass()
        raise RuntimeError("mosquitto did not open its port")

    @classmethod
    def tearDownClass(cls):
        if cls.proc.poll() is None:
            cls.proc.terminate()
            cls.proc.wait(10)
        shutil.rmtree(cls.dir, ignore_errors=True)


if __name__ == "__main__":
    DAEMON, LOADGEN = sys.argv[1], sys.argv[2]
    unittest.main(argv=[sys.argv[0], "-v"])
