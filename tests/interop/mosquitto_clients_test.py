"""Interoperability with Debian's mosquitto_pub / mosquitto_sub (clients we did not write).

Usage: mosquitto_clients_test.py /path/to/mquicttd
"""
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from daemon import Daemon  # noqa: E402

DAEMON = None


class MosquittoClients(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(DAEMON).start()
        self.port = str(self.d.port)
        self.procs = []

    def tearDown(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        self.d.stop()
        if hasattr(self, "_outcome") and any(e for _, e in getattr(self._outcome, "errors", [])):
            print(self.d.logs())

    def sub(self, *args, count=1):
        p = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", self.port, "-C", str(count),
                              "-W", "10", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
        self.procs.append(p)
        return p

    def pub(self, *args):
        r = subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", self.port, *args],
                           capture_output=True, text=True, timeout=10)
        self.assertEqual(r.returncode, 0, r.stderr + self.d.logs())

    def wait_subscribed(self, client_id):
        # mosquitto_sub has no "ready" signal; the broker logs each SUBSCRIBE with the client id.
        deadline = time.time() + 5
        while time.time() < deadline:
            if any("subscribe" in l.lower() and client_id in l for l in self.d.log):
                return
            time.sleep(0.02)
        self.fail("no SUBSCRIBE logged for " + client_id + "\n" + self.d.logs())

    def finish(self, p):
        out, err = p.communicate(timeout=15)
        self.assertEqual(p.returncode, 0, "mosquitto_sub failed: " + err + "\n" + self.d.logs())
        return out

    def test_qos_0_1_2_v311_and_v5(self):
        for version in ("mqttv311", "mqttv5"):
            for qos in ("0", "1", "2"):
                cid = f"sub-{version}-{qos}"
                s = self.sub("-V", version, "-q", qos, "-t", "t/" + qos, "-i", cid)
                self.wait_subscribed(cid)
                self.pub("-V", version, "-q", qos, "-t", "t/" + qos, "-m", "hello-" + qos)
                self.assertEqual(self.finish(s), "hello-" + qos + "\n")

    def test_retained(self):
        self.pub("-r", "-q", "1", "-t", "ret/a", "-m", "kept")
        s = self.sub("-t", "ret/#", "-i", "r1")
        self.assertEqual(self.finish(s), "kept\n")
        s5 = self.sub("-V", "mqttv5", "-t", "ret/#", "-i", "r2")
        self.assertEqual(self.finish(s5), "kept\n")

    def test_will_on_abrupt_disconnect(self):
        s = self.sub("-t", "will/#", "-i", "watcher")
        self.wait_subscribed("watcher")
        victim = subprocess.Popen(["mosquitto_sub", "-h", "127.0.0.1", "-p", self.port, "-t", "x",
                                   "-i", "victim", "--will-topic", "will/victim",
                                   "--will-payload", "gone", "-k", "60"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(victim)
        self.wait_subscribed("victim")
        victim.send_signal(signal.SIGKILL)  # no DISCONNECT: the will must be published
        victim.wait()
        self.assertEqual(self.finish(s), "gone\n")

    def test_persistent_session_with_c(self):
        # -c: clean session off; QoS 1 subscription survives the client's absence.
        first = self.sub("-c", "-i", "persist", "-q", "1", "-t", "p/t", count=1)
        self.wait_subscribed("persist")
        first.send_signal(signal.SIGKILL)
        first.wait()
        self.pub("-q", "1", "-t", "p/t", "-m", "while-away")
        again = self.sub("-c", "-i", "persist", "-q", "1", "-t", "p/t", count=1)
        self.assertEqual(self.finish(again), "while-away\n")

    def test_v5_user_properties_and_response_topic(self):
        s = self.sub("-V", "mqttv5", "-t", "v5/t", "-i", "v5sub", "-F", "%t %p %P")
        self.wait_subscribed("v5sub")
        self.pub("-V", "mqttv5", "-t", "v5/t", "-m", "body", "-D", "publish", "user-property",
                 "k", "v")
        out = self.finish(s)
        self.assertIn("v5/t body", out)
        self.assertIn("k:v", out)


if __name__ == "__main__":
    DAEMON = sys.argv.pop(1)
    unittest.main(verbosity=2)
