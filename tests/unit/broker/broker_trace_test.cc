// Packet tracing at the ByteStream seam (packet_trace.h): a stream that says tracing() gets one
// trace() per MQTT packet received and sent, with its fields; one that does not gets none.
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

class TraceTest : public BrokerTest {
 protected:
  std::unique_ptr<Conn> traced(std::string name) {
    auto c = std::make_unique<Conn>(std::move(name));
    c->stream.trace_packets = true;
    c->handler = broker().accept(c->stream, {"quic", "quic", 0});
    return c;
  }
};

using Lines = std::vector<std::string>;

TEST_F(TraceTest, EveryPacketOfAV311ExchangeOnce) {
  auto c = traced("c1");
  c->send(connect_v4('1'));
  c->send("82 08 00 01 00 03 61 2f 62 02");     // SUBSCRIBE a/b QoS 2
  c->send("82 08 00 02 00 03 24 2f 23 00");     // SUBSCRIBE $/# QoS 0
  c->send("32 09 00 03 61 2f 62 00 07 68 69");  // PUBLISH QoS 1 id 7, delivered back to us
  c->send("40 02 00 01");                       // PUBACK for the delivery
  c->send("c0 00");                             // PINGREQ
  c->send("a2 07 00 03 00 03 61 2f 62");        // UNSUBSCRIBE a/b
  c->send("e0 00");                             // DISCONNECT
  EXPECT_EQ(
      c->stream.traces,
      (Lines{"recv CONNECT len=16 client_id=c1", "sent CONNACK len=4 rc=0",
             "recv SUBSCRIBE len=10 id=1 filter=a/b/2", "sent SUBACK len=5 id=1 rcs=2",
             "recv SUBSCRIBE len=10 id=2 filter=$/#/0", "sent SUBACK len=5 id=2 rcs=0",
             "recv PUBLISH len=11 id=7 topic=a/b qos=1", "sent PUBLISH len=11 id=1 topic=a/b qos=1",
             "sent PUBACK len=4 id=7", "recv PUBACK len=4 id=1", "recv PINGREQ len=2",
             "sent PINGRESP len=2", "recv UNSUBSCRIBE len=9 id=3 filter=a/b",
             "sent UNSUBACK len=4 id=3", "recv DISCONNECT len=2"}));
}

TEST_F(TraceTest, Qos2AndReasonCodesV5) {
  auto c = traced("c1");
  c->send(connect_v5('1'));
  c->send("82 09 00 01 00 00 03 61 2f 62 02");     // SUBSCRIBE a/b QoS 2
  c->send("34 0a 00 03 61 2f 62 00 09 00 68 69");  // PUBLISH QoS 2 id 9
  c->send("62 02 00 09");                          // PUBREL 9
  c->send("50 02 00 01");                          // PUBREC for our delivery (id 1)
  c->send("70 02 00 01");                          // PUBCOMP 1
  c->send("d0 00");  // PINGRESP from a client: DISCONNECT 0x82 Protocol Error
  EXPECT_EQ(
      c->stream.traces,
      (Lines{"recv CONNECT len=17 client_id=c1", "sent CONNACK len=5 rc=0",
             "recv SUBSCRIBE len=11 id=1 filter=a/b/2", "sent SUBACK len=6 id=1 rcs=2",
             "recv PUBLISH len=12 id=9 topic=a/b qos=2", "sent PUBLISH len=12 id=1 topic=a/b qos=2",
             "sent PUBREC len=4 id=9 rc=0", "recv PUBREL len=4 id=9 rc=0",
             "sent PUBCOMP len=4 id=9 rc=0", "recv PUBREC len=4 id=1 rc=0",
             "sent PUBREL len=4 id=1 rc=0", "recv PUBCOMP len=4 id=1 rc=0", "recv PINGRESP len=2",
             "sent DISCONNECT len=3 rc=130"}));
}

TEST_F(TraceTest, RefusedConnectShowsTheConnackReason) {
  config.allow_zero_length_clientid = false;
  auto c = traced("c1");
  c->send("10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00");  // v5, empty client id
  EXPECT_EQ(c->stream.traces,
            (Lines{"recv CONNECT len=15 client_id=", "sent CONNACK len=5 rc=133"}));
}

// A QoS 0 fan-out shares one encoded frame between subscribers; each is still traced.
TEST_F(TraceTest, SharedQos0FrameIsTracedPerSubscriber) {
  auto s1 = traced("s1");
  s1->send(connect_v4('1'));
  s1->send("82 08 00 01 00 03 61 2f 62 00");
  auto s2 = traced("s2");
  s2->send(connect_v4('2'));
  s2->send("82 08 00 01 00 03 61 2f 62 00");
  auto pub = connect(connect_v4('3'), kConnAckV4);
  pub->send("30 07 00 03 61 2f 62 68 69");
  EXPECT_EQ(s1->recv(), norm("20 02 00 00 90 03 00 01 00 30 07 00 03 61 2f 62 68 69"));
  EXPECT_EQ(s2->recv(), norm("20 02 00 00 90 03 00 01 00 30 07 00 03 61 2f 62 68 69"));
  EXPECT_EQ(s1->stream.shared_writes + s2->stream.shared_writes, 2);
  ASSERT_FALSE(s1->stream.traces.empty());
  ASSERT_FALSE(s2->stream.traces.empty());
  EXPECT_EQ(s1->stream.traces.back(), "sent PUBLISH len=9 topic=a/b qos=0");
  EXPECT_EQ(s2->stream.traces.back(), "sent PUBLISH len=9 topic=a/b qos=0");
  EXPECT_TRUE(pub->stream.traces.empty());  // not tracing: never called
}

}  // namespace
}  // namespace mquictt::broker::test
