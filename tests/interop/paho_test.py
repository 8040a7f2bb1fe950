"""Interoperability with Debian's python3-paho-mqtt (1.6), MQTT 3.1.1 and 5.0.

Usage: /usr/bin/python3 paho_test.py /path/to/mquicttd
"""
import os
import queue
import sys
import time
import unittest

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

sys.path.insert(0, os.path.dirname(__file__))
from daemon import Daemon  # noqa: E402

DAEMON = None
TIMEOUT = 5


class Client:
    """A paho client running its network loop in a thread, with queues for events."""

    def __init__(self, port, client_id, v5=False, clean=True, **connect_kw):
        proto = mqtt.MQTTv5 if v5 else mqtt.MQTTv311
        kw = {"protocol": proto}
        if not v5:
            kw["clean_session"] = clean
        self.c = mqtt.Client(client_id=client_id, **kw)
        self.v5 = v5
        self.messages = queue.Queue()
        self.events = queue.Queue()
        self.c.on_connect = lambda c, u, f, rc, p=None: self.events.put(("connack", f, rc, p))
        self.c.on_subscribe = lambda c, u, mid, granted, p=None: self.events.put(("suback", mid, granted))
        self.c.on_publish = lambda c, u, mid: self.events.put(("puback", mid))
        self.c.on_message = lambda c, u, m: self.messages.put(m)
        self.c.on_disconnect = lambda c, u, rc, p=None: self.events.put(("disconnect", rc))
        if v5:
            self.c.connect("127.0.0.1", port, keepalive=30, clean_start=clean, **connect_kw)
        else:
            self.c.connect("127.0.0.1", port, keepalive=30)
        self.c.loop_start()
        ev = self.expect("connack")
        self.connack = ev

    def expect(self, kind):
        while True:
            ev = self.events.get(timeout=TIMEOUT)
            if ev[0] == kind:
                return ev

    def subscribe(self, topic, qos=0, **kw):
        if self.v5:
            _, mid = self.c.subscribe(topic, options=SubscribeOptions(qos=qos, **{
                k: v for k, v in kw.items() if k != "properties"}), properties=kw.get("properties"))
        else:
            _, mid = self.c.subscribe(topic, qos)
        return self.expect("suback")

    def publish(self, topic, payload, qos=0, retain=False, properties=None):
        info = self.c.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        info.wait_for_publish(TIMEOUT)
        return info

    def message(self):
        return self.messages.get(timeout=TIMEOUT)

    def no_message(self, wait=0.3):
        try:
            m = self.messages.get(timeout=wait)
            return m
        except queue.Empty:
            return None

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


class Paho(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(DAEMON).start()
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            try:
                c.close()
            except Exception:
                pass
        self.d.stop()

    def client(self, cid, **kw):
        c = Client(self.d.port, cid, **kw)
        self.clients.append(c)
        return c

    def test_v311_qos_levels(self):
        sub = self.client("s311")
        self.assertEqual(sub.subscribe("a/+", qos=2)[2], (2,))
        pub = self.client("p311")
        for qos in (0, 1, 2):
            info = pub.publish("a/b", f"m{qos}".encode(), qos=qos)
            self.assertTrue(info.is_published())
            m = sub.message()
            self.assertEqual((m.topic, m.payload, m.qos), ("a/b", f"m{qos}".encode(), qos))

    def test_v5_qos_levels_and_properties(self):
        sub = self.client("s5", v5=True)
        props = Properties(PacketTypes.SUBSCRIBE)
        props.SubscriptionIdentifier = 42
        sub.subscribe("v5/#", qos=2, properties=props)
        pub = self.client("p5", v5=True)
        pp = Properties(PacketTypes.PUBLISH)
        pp.ResponseTopic = "reply/here"
        pp.CorrelationData = b"\x01\x02"
        pp.UserProperty = [("a", "1"), ("b", "2")]
        pp.ContentType = "text/plain"
        pp.MessageExpiryInterval = 100
        for qos in (0, 1, 2):
            info = pub.publish("v5/x", b"body", qos=qos, properties=pp)
            self.assertTrue(info.is_published())
            m = sub.message()
            self.assertEqual((m.topic, m.payload, m.qos), ("v5/x", b"body", qos))
            p = m.properties
            self.assertEqual(p.ResponseTopic, "reply/here")
            self.assertEqual(p.CorrelationData, b"\x01\x02")
            self.assertEqual(p.UserProperty, [("a", "1"), ("b", "2")])
            self.assertEqual(p.ContentType, "text/plain")
            self.assertEqual(p.SubscriptionIdentifier, [42])
            self.assertLessEqual(p.MessageExpiryInterval, 100)

    def test_v5_shared_subscription_round_robin(self):
        a = self.client("sa", v5=True)
        b = self.client("sb", v5=True)
        a.subscribe("$share/g/job/#", qos=1)
        b.subscribe("$share/g/job/#", qos=1)
        pub = self.client("pj", v5=True)
        for i in range(10):
            pub.publish("job/1", str(i).encode(), qos=1)
        got_a, got_b = [], []
        deadline = time.time() + TIMEOUT
        while len(got_a) + len(got_b) < 10 and time.time() < deadline:
            for c, got in ((a, got_a), (b, got_b)):
                try:
                    got.append(c.messages.get(timeout=0.05).payload)
                except queue.Empty:
                    pass
        # Round robin: members alternate, each message goes to exactly one member.
        self.assertEqual(sorted(got_a + got_b, key=int), [str(i).encode() for i in range(10)])
        self.assertEqual(len(got_a) + len(got_b), 10)
        self.assertEqual(len(got_a), 5)
        self.assertEqual(len(got_b), 5)

    def test_v5_no_local_and_retain_handling(self):
        c = self.client("nl", v5=True)
        c.subscribe("self/t", qos=0, noLocal=True)
        c.publish("self/t", b"x")
        self.assertIsNone(c.no_message())
        pub = self.client("rp", v5=True)
        pub.publish("keep/t", b"r", qos=1, retain=True)
        s = self.client("rh", v5=True)
        s.subscribe("keep/t", qos=0, retainHandling=2)
        self.assertIsNone(s.no_message())
        s2 = self.client("rh2", v5=True)
        s2.subscribe("keep/t", qos=0, retainHandling=0)
        m = s2.message()
        self.assertTrue(m.retain)
        self.assertEqual(m.payload, b"r")

    def test_v5_session_resume(self):
        sp = Properties(PacketTypes.CONNECT)
        sp.SessionExpiryInterval = 300
        s = self.client("resume", v5=True, clean=False, properties=sp)
        s.subscribe("res/t", qos=1)
        s.close()
        self.clients.remove(s)
        pub = self.client("rpub", v5=True)
        pub.publish("res/t", b"later", qos=1)
        s2 = self.client("resume", v5=True, clean=False, properties=sp)
        flags = s2.connack[1]
        self.assertEqual(flags.get("session present"), 1)
        m = s2.message()
        self.assertEqual(m.payload, b"later")


if __name__ == "__main__":
    DAEMON = sys.argv.pop(1)
    unittest.main(verbosity=2)
