// The replay policy for early data (TLS 1.3 0-RTT; protocol_handler.h "Early data"), with fake
// streams whose early_data() the test switches: what is processed at once, what is held (in
// order, with everything behind it, reading off) until on_early_data_confirmed(), and that held
// input dies with a connection that never confirms.
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

constexpr std::string_view kSubAB = "82 09 00 01 00 00 03 61 2f 62 01";  // SUBSCRIBE a/b QoS 1
constexpr std::string_view kSubAckAB = "90 04 00 01 00 01";
constexpr std::string_view kPub0 = "30 08 00 03 61 2f 62 00 68 69";        // QoS 0 "hi"
constexpr std::string_view kPub1 = "32 0a 00 03 61 2f 62 00 07 00 68 69";  // QoS 1, id 7
constexpr std::string_view kPub2 = "34 0a 00 03 61 2f 62 00 08 00 68 69";  // QoS 2, id 8
constexpr std::string_view kPubAck7 = "40 02 00 07";
// Without a subscriber: reason 0x10 No matching subscribers.
constexpr std::string_view kPubAck7NoSubs = "40 03 00 07 10";
constexpr std::string_view kPubRec8NoSubs = "50 03 00 08 10";

class EarlyDataTest : public BrokerTest {
 protected:
  // A connection whose input is early data, on a QUIC listener allowing PUBLISH up to `max_qos`.
  std::unique_ptr<Conn> open_early(uint8_t max_qos = 0) {
    ListenerInfo info{"quic", "quic", 0};
    info.early_data_max_publish_qos = max_qos;
    auto c = std::make_unique<Conn>("early");
    c->stream.early = true;
    c->handler = broker().accept(c->stream, info);
    return c;
  }
  // The handshake completes.
  static void confirm(Conn& c) {
    c.stream.early = false;
    c.handler->on_early_data_confirmed();
  }
  std::unique_ptr<Conn> subscriber() {
    auto s = connect(connect_v5('9'), kConnAckV5, "subscriber");
    s->send(kSubAB);
    EXPECT_EQ(s->recv(), norm(kSubAckAB));
    return s;
  }
};

TEST_F(EarlyDataTest, ConnectSubscribeAndQos0PublishAreProcessedAtOnce) {
  auto sub = subscriber();
  auto c = open_early();
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  c->send(kSubAB);
  EXPECT_EQ(c->recv(), norm(kSubAckAB));
  c->send("c0 00");  // PINGREQ
  EXPECT_EQ(c->recv(), norm("d0 00"));
  c->send(kPub0);
  EXPECT_EQ(sub->recv(), norm(kPub0));
  EXPECT_EQ(c->recv(), norm(kPub0));  // its own subscription
  EXPECT_TRUE(c->stream.reading);
  c->send("a2 08 00 02 00 00 03 61 2f 62");  // UNSUBSCRIBE
  EXPECT_EQ(c->recv(), norm("b0 04 00 02 00 00"));
}

TEST_F(EarlyDataTest, Qos1PublishIsHeldWithEverythingBehindItUntilConfirmed) {
  auto sub = subscriber();
  auto c = open_early();
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  c->send(std::string(kPub1) + " " + std::string(kSubAB) + " " + std::string(kPub0));
  EXPECT_EQ(c->recv(), "");  // no PUBACK, and the SUBSCRIBE behind it waits too
  EXPECT_EQ(sub->recv(), "");
  EXPECT_FALSE(c->stream.reading);  // the transport withholds credit: the hold is bounded
  // More input while held (a transport may still deliver): queued behind, in order.
  c->send("c0 00");
  EXPECT_EQ(c->recv(), "");
  confirm(*c);
  EXPECT_EQ(c->recv(), norm(std::string(kPubAck7) + " " + std::string(kSubAckAB) + " " +
                            std::string(kPub0) + " d0 00"));
  EXPECT_EQ(sub->recv(), norm("32 0a 00 03 61 2f 62 00 01 00 68 69 " + std::string(kPub0)));
  EXPECT_TRUE(c->stream.reading);
}

TEST_F(EarlyDataTest, HeldInputDiesWithAConnectionThatNeverConfirms) {
  auto sub = subscriber();
  auto c = open_early();
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  c->send(kPub1);
  c->transport_closed(CloseCause::kTransportGone);  // a replayed flight: no handshake
  EXPECT_EQ(sub->recv(), "");
  EXPECT_EQ(broker().stats().messages_received, 0u);
}

TEST_F(EarlyDataTest, AcksAndDisconnectAreHeld) {
  auto c = open_early();
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  c->send("e0 00");  // DISCONNECT
  EXPECT_FALSE(c->stream.closed);
  confirm(*c);
  EXPECT_TRUE(c->stream.closed);

  auto d = open_early();
  d->send(connect_v5('2'));
  EXPECT_EQ(d->recv(), norm(kConnAckV5));
  d->send(kPubAck7);  // an ack for nothing: a protocol matter, but only after the handshake
  EXPECT_EQ(d->recv(), "");
  EXPECT_FALSE(d->stream.reading);
  confirm(*d);
  EXPECT_TRUE(d->stream.reading);
}

TEST_F(EarlyDataTest, MaxPublishQosIsTheListenersChoice) {
  auto c = open_early(1);
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  c->send(kPub1);
  EXPECT_EQ(c->recv(), norm(kPubAck7NoSubs));  // QoS 1 allowed
  c->send(kPub2);
  EXPECT_EQ(c->recv(), "");  // QoS 2 held
  confirm(*c);
  EXPECT_EQ(c->recv(), norm(kPubRec8NoSubs));
}

TEST_F(EarlyDataTest, WithoutEarlyDataNothingIsHeld) {
  auto c = open_early();
  c->stream.early = false;
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  c->send(kPub1);
  EXPECT_EQ(c->recv(), norm(kPubAck7NoSubs));
}

TEST_F(EarlyDataTest, DataStreamsHoldOnTheirOwn) {
  auto c = open_early();
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  FakeStream ds_stream("data");
  ds_stream.early = true;
  auto ds = c->handler->add_stream(ds_stream);
  ASSERT_TRUE(ds);
  ds->on_data(hex(kPub1));
  EXPECT_EQ(ds_stream.take(), "");
  EXPECT_FALSE(ds_stream.reading);
  c->send("c0 00");  // the control stream goes on
  EXPECT_EQ(c->recv(), norm("d0 00"));
  EXPECT_TRUE(c->stream.reading);
  c->stream.early = false;
  ds_stream.early = false;
  ds->on_early_data_confirmed();
  EXPECT_EQ(ds_stream.take(), norm(kPubAck7NoSubs));
  EXPECT_TRUE(ds_stream.reading);
  ds->on_closed(CloseCause::kTransportGone);
}

}  // namespace
}  // namespace mquictt::broker::test
