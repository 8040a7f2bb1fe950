// MQTT over QUIC multi-stream mode (EMQX semantics) in the broker core, with fake streams: a
// connection's control stream plus data streams from ByteStreamHandler::add_stream(). Stream
// affinity of acks and deliveries, stream-scoped subscriptions, holding before CONNACK,
// keepalive, per-stream failure isolation, what survives a stream or the connection, and the
// lifetime rules between the handlers (see protocol_handler.h "Streams").
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

// A data stream of a connection: its transport side (FakeStream) and its handler.
struct Data {
  FakeStream stream{"data"};
  std::unique_ptr<ByteStreamHandler> handler;

  void send(std::string_view hex_bytes) { handler->on_data(hex(hex_bytes)); }
  std::string recv() { return stream.take(); }
};

class MultiStreamTest : public BrokerTest {
 protected:
  static std::unique_ptr<Data> data(Conn& c) {
    auto d = std::make_unique<Data>();
    d->handler = c.handler->add_stream(d->stream);
    EXPECT_TRUE(d->handler);
    return d;
  }
};

// MQTT 5 frames on topic "a/b".
std::string sub(uint8_t packet_id, uint8_t qos) {
  return "82 09 00 " + to_hex(std::vector<uint8_t>{packet_id}) + " 00 00 03 61 2f 62 " +
         to_hex(std::vector<uint8_t>{qos});
}
std::string suback(uint8_t packet_id, uint8_t code) {
  return "90 04 00 " + to_hex(std::vector<uint8_t>{packet_id}) + " 00 " +
         to_hex(std::vector<uint8_t>{code});
}
std::string unsub(uint8_t packet_id) {
  return "a2 08 00 " + to_hex(std::vector<uint8_t>{packet_id}) + " 00 00 03 61 2f 62";
}
std::string unsuback(uint8_t packet_id, uint8_t code) {
  return "b0 04 00 " + to_hex(std::vector<uint8_t>{packet_id}) + " 00 " +
         to_hex(std::vector<uint8_t>{code});
}
// PUBLISH "hi"; QoS 1 or 2 with `packet_id`.
std::string pub(uint8_t qos, uint8_t packet_id = 0, bool dup = false) {
  if (qos == 0) return "30 08 00 03 61 2f 62 00 68 69";
  const uint8_t first = static_cast<uint8_t>(0x30 | (qos << 1) | (dup ? 0x08 : 0));
  return to_hex(std::vector<uint8_t>{first}) + " 0a 00 03 61 2f 62 00 " +
         to_hex(std::vector<uint8_t>{packet_id}) + " 00 68 69";
}
std::string ack(uint8_t type_byte, uint8_t packet_id) {
  return to_hex(std::vector<uint8_t>{type_byte, 2, 0, packet_id});
}

// --- Stream affinity ---

TEST_F(MultiStreamTest, AcksGoBackOnThePublishStream) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  c->send(sub(1, 2));
  EXPECT_EQ(c->recv(), norm(suback(1, 2)));

  d->send(pub(1, 7));
  EXPECT_EQ(d->recv(), norm(ack(0x40, 7)));  // PUBACK on the PUBLISH's stream
  EXPECT_EQ(c->recv(), norm(pub(1, 1)));     // delivery on the SUBSCRIBE's stream
  d->send(pub(2, 8));
  EXPECT_EQ(d->recv(), norm(ack(0x50, 8)));  // PUBREC
  EXPECT_EQ(c->recv(), norm(pub(2, 2)));
  d->send(ack(0x62, 8));                     // PUBREL
  EXPECT_EQ(d->recv(), norm(ack(0x70, 8)));  // PUBCOMP
  EXPECT_EQ(c->recv(), "");
  // The control stream's own flows stay on the control stream.
  c->send(ack(0x40, 1));
  c->send(ack(0x50, 2));
  EXPECT_EQ(c->recv(), norm(ack(0x62, 2)));
  c->send(ack(0x70, 2));
  EXPECT_EQ(d->recv(), "");
  EXPECT_FALSE(d->stream.closed);
}

TEST_F(MultiStreamTest, DeliveriesGoOnTheSubscribeStreamAndItsAcksComeBackThere) {
  config.max_inflight_messages = 1;  // the second message waits for the ack on the data stream
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  d->send(sub(1, 2));
  EXPECT_EQ(d->recv(), norm(suback(1, 2)));
  EXPECT_EQ(c->recv(), "");

  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(1, 7));
  EXPECT_EQ(p->recv(), norm(ack(0x40, 7)));
  p->send(pub(2, 8));
  EXPECT_EQ(p->recv(), norm(ack(0x50, 8)));
  EXPECT_EQ(d->recv(), norm(pub(1, 1)));
  EXPECT_EQ(c->recv(), "");
  d->send(ack(0x40, 1));  // frees the window: the QoS 2 message follows on the same stream
  EXPECT_EQ(d->recv(), norm(pub(2, 2)));
  d->send(ack(0x50, 2));
  EXPECT_EQ(d->recv(), norm(ack(0x62, 2)));  // PUBREL on the PUBREC's stream
  d->send(ack(0x70, 2));
  EXPECT_EQ(d->recv(), "");
  EXPECT_EQ(c->recv(), "");
}

TEST_F(MultiStreamTest, UnsubscribeFromAnotherStreamFindsNothing) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  d->send(sub(1, 0));
  EXPECT_EQ(d->recv(), norm(suback(1, 0)));
  c->send(unsub(2));
  EXPECT_EQ(c->recv(), norm(unsuback(2, 0x11)));  // No subscription existed
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(0));
  EXPECT_EQ(d->recv(), norm(pub(0)));  // still subscribed
  d->send(unsub(3));
  EXPECT_EQ(d->recv(), norm(unsuback(3, 0x00)));
  p->send(pub(0));
  EXPECT_EQ(d->recv(), "");
  EXPECT_EQ(c->recv(), "");
  EXPECT_EQ(broker().stats().subscriptions, 0u);
}

TEST_F(MultiStreamTest, SameFilterOnTwoStreamsDeliversOnBoth) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  auto e = data(*c);
  c->send(sub(1, 0));
  d->send(sub(1, 1));
  e->send(sub(1, 0));
  EXPECT_EQ(c->recv(), norm(suback(1, 0)));
  EXPECT_EQ(d->recv(), norm(suback(1, 1)));
  EXPECT_EQ(e->recv(), norm(suback(1, 0)));
  EXPECT_EQ(broker().stats().subscriptions, 3u);
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(1, 5));
  EXPECT_EQ(c->recv(), norm(pub(0)));
  EXPECT_EQ(d->recv(), norm(pub(1, 1)));
  EXPECT_EQ(e->recv(), norm(pub(0)));
}

TEST_F(MultiStreamTest, RetainedMessagesGoOnTheSubscribeStream) {
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send("31 08 00 03 61 2f 62 00 68 69");
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  d->send(sub(1, 0));
  EXPECT_EQ(d->recv(), norm(suback(1, 0) + " 31 08 00 03 61 2f 62 00 68 69"));
  EXPECT_EQ(c->recv(), "");
}

TEST_F(MultiStreamTest, OutboundTopicAliasesOnlyOnTheControlStream) {
  auto c = connect(connect_v5('1', true, "22 00 05"), kConnAckV5);  // Topic Alias Maximum 5
  auto d = data(*c);
  c->send(sub(1, 0));
  d->send(sub(1, 0));
  c->recv();
  d->recv();
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(0));
  p->send(pub(0));
  EXPECT_EQ(c->recv(),
            norm("30 0b 00 03 61 2f 62 03 23 00 01 68 69  30 08 00 00 03 23 00 01 68 69"));
  EXPECT_EQ(d->recv(), norm(pub(0) + " " + pub(0)));
}

TEST_F(MultiStreamTest, V311ClientsMayUseDataStreamsToo) {
  auto c = connect(connect_v4('1'), kConnAckV4);
  auto d = data(*c);
  d->send("82 08 00 01 00 03 61 2f 62 01");
  EXPECT_EQ(d->recv(), norm("90 03 00 01 01"));
  c->send("32 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(c->recv(), norm("40 02 00 07"));
  EXPECT_EQ(d->recv(), norm("32 09 00 03 61 2f 62 00 01 68 69"));
}

// --- Before CONNACK ---

TEST_F(MultiStreamTest, DataStreamBeforeConnackIsHeldThenProcessed) {
  auto c = open();
  auto d = data(*c);
  EXPECT_FALSE(d->stream.reading);  // QUIC withholds the stream's credit
  // A transport may still hand over bytes: they wait, unprocessed.
  d->send(sub(1, 1));
  EXPECT_EQ(d->recv(), "");
  EXPECT_EQ(c->recv(), "");
  EXPECT_EQ(broker().stats().subscriptions, 0u);
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  EXPECT_EQ(d->recv(), norm(suback(1, 1)));
  EXPECT_TRUE(d->stream.reading);
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(1, 3));
  EXPECT_EQ(d->recv(), norm(pub(1, 1)));
}

TEST_F(MultiStreamTest, RefusedConnectClosesTheHeldDataStreams) {
  config.max_client_id_length = 1;  // "c1" is too long
  auto c = open();
  auto d = data(*c);
  d->send(sub(1, 1));
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm("20 03 00 85 00"));
  EXPECT_TRUE(c->stream.closed);
  EXPECT_TRUE(d->stream.closed);
  EXPECT_EQ(d->recv(), "");
  EXPECT_EQ(broker().stats().subscriptions, 0u);
  // A closed connection takes no more streams.
  FakeStream late("late");
  EXPECT_EQ(c->handler->add_stream(late), nullptr);
}

TEST_F(MultiStreamTest, OversizedFrameWhileHeldClosesOnlyThatStream) {
  config.max_packet_size_bytes = 20;
  auto c = open();
  auto d = data(*c);
  d->send("30 13 00 03 61 2f 62 00 68 69 68 69 68 69 68 69 68 69 68 69 68");  // 21 bytes
  EXPECT_EQ(d->stream.abort_code, 0x95u);
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm("20 08 00 00 05 27 00 00 00 14"));
  EXPECT_FALSE(c->stream.closed);
}

// --- Keepalive ---

TEST_F(MultiStreamTest, KeepaliveCountsDataStreamTraffic) {
  auto c = connect(connect_v5('1', true, "", 10), kConnAckV5);
  auto d = data(*c);
  advance(10'000);
  d->send(pub(0));  // no PINGREQ on the control stream: this frame is the activity
  advance(14'000);  // 24 s after connect, 14 s after the publish
  EXPECT_FALSE(c->stream.closed);
  advance(1'000);
  EXPECT_EQ(c->recv(), norm("e0 01 8d"));
  EXPECT_TRUE(c->stream.closed);
  EXPECT_TRUE(d->stream.closed);
}

// --- Failure isolation ---

TEST_F(MultiStreamTest, MalformedFrameOnADataStreamClosesOnlyThatStream) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  c->send(sub(1, 0));
  c->recv();
  // QoS 1 PUBLISH without its packet id, then a valid frame that must not be processed.
  d->send("32 05 00 03 61 2f 62  " + pub(0));
  EXPECT_TRUE(d->stream.aborted);
  EXPECT_EQ(d->stream.abort_code, 0x81u);
  EXPECT_EQ(d->recv(), "");
  EXPECT_EQ(c->recv(), "");  // no DISCONNECT, and the valid PUBLISH behind it was not routed
  EXPECT_FALSE(c->stream.closed);
  d->send(pub(0));  // the transport may still deliver: ignored
  EXPECT_EQ(c->recv(), "");
  c->send("c0 00");
  EXPECT_EQ(c->recv(), norm("d0 00"));
  // The client opens a new stream and carries on.
  auto e = data(*c);
  e->send(pub(0));
  EXPECT_EQ(c->recv(), norm(pub(0)));
}

TEST_F(MultiStreamTest, OversizedFrameOnADataStreamClosesOnlyThatStream) {
  config.max_packet_size_bytes = 20;
  auto c = connect(connect_v5('1'), "20 08 00 00 05 27 00 00 00 14");
  auto d = data(*c);
  auto e = data(*c);
  d->send("30 13 00 03 61 2f 62 00 68 69 68 69 68 69 68 69 68 69 68 69 68");
  EXPECT_EQ(d->stream.abort_code, 0x95u);
  EXPECT_FALSE(c->stream.closed);
  EXPECT_FALSE(e->stream.closed);
  e->send(sub(1, 0));
  EXPECT_EQ(e->recv(), norm(suback(1, 0)));
}

TEST_F(MultiStreamTest, ProtocolErrorOnADataStreamClosesOnlyThatStream) {
  config.maximum_qos = 1;
  auto c = open();
  c->send(connect_v5('1'));
  c->recv();  // CONNACK with Maximum QoS 1
  auto d = data(*c);
  d->send(pub(2, 1));  // QoS 2 above Maximum QoS: a DISCONNECT 0x9B on the control stream
  EXPECT_EQ(d->stream.abort_code, 0x9bu);
  EXPECT_EQ(c->recv(), "");
  EXPECT_FALSE(c->stream.closed);
}

TEST_F(MultiStreamTest, ControlStreamPacketsOnADataStream) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  // PINGREQ: answered on the control stream.
  auto d = data(*c);
  d->send("c0 00");
  EXPECT_EQ(c->recv(), norm("d0 00"));
  EXPECT_EQ(d->recv(), "");
  EXPECT_FALSE(d->stream.closed);
  // CONNECT, DISCONNECT, AUTH and server-to-client packets: that stream's protocol error.
  for (const std::string& frame :
       {connect_v5('1'), std::string("e0 00"), std::string("f0 02 18 00"),
        std::string("90 04 00 01 00 00"), std::string("20 03 00 00 00")}) {
    auto e = data(*c);
    e->send(frame);
    EXPECT_EQ(e->stream.abort_code, 0x82u) << frame;
    EXPECT_EQ(e->recv(), "") << frame;
    EXPECT_FALSE(c->stream.closed) << frame;
    EXPECT_EQ(c->recv(), "") << frame;
  }
  c->send("c0 00");
  EXPECT_EQ(c->recv(), norm("d0 00"));
}

// --- What outlives a stream ---

TEST_F(MultiStreamTest, EndedDataStreamLosesItsQosStateAndItsSubscriptionsMoveToControl) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  d->send(sub(1, 1));
  d->recv();
  // Inbound QoS 2 awaiting PUBREL on the data stream.
  d->send(pub(2, 9));
  EXPECT_EQ(d->recv(), norm(pub(1, 1) + " " + ack(0x50, 9)));  // our own delivery, PUBREC
  // The client resets the stream: the unacknowledged delivery (id 1) and id 9 are gone.
  d->handler->on_closed(CloseCause::kError);
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
  EXPECT_EQ(broker().stats().subscriptions, 1u);
  // id 9 is new again: routed (to the moved subscription, on the control stream, with id 2).
  c->send(pub(2, 9));
  EXPECT_EQ(c->recv(), norm(pub(1, 2) + " " + ack(0x50, 9)));
  c->send(ack(0x62, 9));
  c->send(ack(0x40, 2));
  EXPECT_EQ(c->recv(), norm(ack(0x70, 9)));
  c->send(unsub(3));
  EXPECT_EQ(c->recv(), norm(unsuback(3, 0x00)));
  EXPECT_EQ(broker().stats().subscriptions, 0u);
}

TEST_F(MultiStreamTest, EndedDataStreamReleasesItsInboundQos2IdsV311) {
  auto c = connect(connect_v4('1'), kConnAckV4);
  c->send("82 08 00 01 00 03 61 2f 62 00");
  c->recv();
  auto d = data(*c);
  d->send("34 09 00 03 61 2f 62 00 09 68 69");
  EXPECT_EQ(d->recv(), norm("50 02 00 09"));
  EXPECT_EQ(c->recv(), norm("30 07 00 03 61 2f 62 68 69"));
  d->handler->on_closed(CloseCause::kError);  // no PUBREL will come on that stream
  // The id is free again: a new message, routed (not taken for a duplicate).
  c->send("34 09 00 03 61 2f 62 00 09 68 6f");
  EXPECT_EQ(c->recv(), norm("30 07 00 03 61 2f 62 68 6f  50 02 00 09"));
}

TEST_F(MultiStreamTest, ResumedSessionDeliversOnTheControlStream) {
  const std::string expiry = "11 00 00 00 3c";
  auto c = connect(connect_v5('1', true, expiry), kConnAckV5);
  auto d = data(*c);
  d->send(sub(1, 1));
  d->recv();
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(1, 4));
  EXPECT_EQ(d->recv(), norm(pub(1, 1)));  // not acknowledged
  c->transport_closed();
  EXPECT_TRUE(d->stream.closed);
  d->handler->on_closed(CloseCause::kTransportGone);

  auto c2 = open("again");
  c2->send(connect_v5('1', false, expiry));
  // CONNACK, and the inflight message resent on the control stream.
  EXPECT_EQ(c2->recv(), norm(std::string(kConnAckV5Present) + " " + pub(1, 1, true)));
  p->send(pub(1, 5));
  EXPECT_EQ(c2->recv(), norm(pub(1, 2)));
  // A new data stream of the new connection does not inherit anything.
  auto d2 = data(*c2);
  p->send(pub(1, 6));
  EXPECT_EQ(c2->recv(), norm(pub(1, 3)));
  EXPECT_EQ(d2->recv(), "");
  d2->send(unsub(2));
  EXPECT_EQ(d2->recv(), norm(unsuback(2, 0x11)));
  c2->send(unsub(3));
  EXPECT_EQ(c2->recv(), norm(unsuback(3, 0x00)));
}

TEST_F(MultiStreamTest, DisconnectClosesTheDataStreams) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  d->send(pub(1, 3));
  c->send("e0 00");
  EXPECT_TRUE(c->stream.closed);
  EXPECT_TRUE(d->stream.closed);
  EXPECT_FALSE(d->stream.aborted);  // FIN after its queued PUBACK, not a reset
  EXPECT_EQ(d->recv(), norm("40 03 00 03 10"));
}

// --- Backpressure ---

TEST_F(MultiStreamTest, SlowDataStreamPausesReadingOnEveryStream) {
  config.outbound_high_watermark_bytes = 100;
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  d->send(sub(1, 0));
  c->send(sub(1, 0));
  d->recv();
  c->recv();
  d->stream.pending = 101;
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(0));
  EXPECT_EQ(d->recv(), "");            // dropped for the slow stream...
  EXPECT_EQ(c->recv(), norm(pub(0)));  // ...not for the other one
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
  c->send("c0 00");
  EXPECT_FALSE(c->stream.reading);
  EXPECT_FALSE(d->stream.reading);
  auto e = data(*c);
  EXPECT_FALSE(e->stream.reading);
  d->stream.pending = 0;
  d->handler->on_writable();
  EXPECT_TRUE(c->stream.reading);
  EXPECT_TRUE(d->stream.reading);
  EXPECT_TRUE(e->stream.reading);
}

// --- Lifetimes ---

TEST_F(MultiStreamTest, ControlHandlerMayGoFirst) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  c->transport_closed();
  c->handler.reset();
  d->send(pub(0));  // ignored, no access to the destroyed handler
  d->handler->on_writable();
  d->handler->on_closed(CloseCause::kTransportGone);
  d->handler.reset();
}

TEST_F(MultiStreamTest, ControlHandlerDestroyedWithoutOnClosed) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  c->handler.reset();
  d->send(pub(0));
  d->handler.reset();  // destroyed without on_closed either
  auto again = connect(connect_v5('1'), kConnAckV5, "again");
}

TEST_F(MultiStreamTest, DataHandlerMayGoFirst) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  {
    auto d = data(*c);
    d->send(sub(1, 0));
    d->recv();
  }  // destroyed without on_closed: the connection forgets it, its subscription moves
  auto p = connect(connect_v5('2'), kConnAckV5);
  p->send(pub(0));
  EXPECT_EQ(c->recv(), norm(pub(0)));
  c->send("e0 00");
  c->transport_closed();
}

TEST_F(MultiStreamTest, ShutdownClosesTheDataStreams) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  auto d = data(*c);
  broker().shutdown();
  EXPECT_TRUE(d->stream.closed);
  d->send(pub(0));
  d->handler->on_closed(CloseCause::kLocal);
  c->transport_closed();
}

}  // namespace
}  // namespace mquictt::broker::test
