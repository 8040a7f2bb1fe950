// Sessions across connections: persistence and expiry, takeover, offline queue and its limits,
// resend on reconnect, outbound window, wills, backpressure, shutdown -- as wire bytes.
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

using SessionTest = BrokerTest;

std::string sub_v4(uint8_t qos) {
  return "82 08 00 01 00 03 61 2f 62 " + to_hex(std::vector<uint8_t>{qos});
}
std::string sub_v5(uint8_t options) {
  return "82 09 00 01 00 00 03 61 2f 62 " + to_hex(std::vector<uint8_t>{options});
}
constexpr std::string_view kExpiry60 = "11 00 00 00 3c";

// CONNECT v5 with a will on topic "w", payload "x". `flags` adds will QoS / retain bits.
std::string connect_v5_will(char n, bool clean, std::string_view props, std::string_view will_props,
                            uint8_t flags = 0, uint16_t keep_alive = 60) {
  const std::vector<uint8_t> p = hex(props);
  const std::vector<uint8_t> wp = hex(will_props);
  std::vector<uint8_t> body = {0,
                               4,
                               'M',
                               'Q',
                               'T',
                               'T',
                               5,
                               static_cast<uint8_t>((clean ? 0x02 : 0x00) | 0x04 | flags),
                               static_cast<uint8_t>(keep_alive >> 8),
                               static_cast<uint8_t>(keep_alive),
                               static_cast<uint8_t>(p.size())};
  body.insert(body.end(), p.begin(), p.end());
  body.insert(body.end(), {0, 2, 'c', static_cast<uint8_t>(n), static_cast<uint8_t>(wp.size())});
  body.insert(body.end(), wp.begin(), wp.end());
  body.insert(body.end(), {0, 1, 'w', 0, 1, 'x'});
  std::vector<uint8_t> f = {0x10, static_cast<uint8_t>(body.size())};
  f.insert(f.end(), body.begin(), body.end());
  return to_hex(f);
}

// v3.1.1 CONNECT "c<n>" with will "w" / "x", QoS 0.
std::string connect_v4_will(char n, bool clean = true, uint16_t keep_alive = 60) {
  std::vector<uint8_t> f = {0x10,
                            0x14,
                            0,
                            4,
                            'M',
                            'Q',
                            'T',
                            'T',
                            4,
                            static_cast<uint8_t>((clean ? 0x02 : 0x00) | 0x04),
                            static_cast<uint8_t>(keep_alive >> 8),
                            static_cast<uint8_t>(keep_alive),
                            0,
                            2,
                            'c',
                            static_cast<uint8_t>(n),
                            0,
                            1,
                            'w',
                            0,
                            1,
                            'x'};
  return to_hex(f);
}

class WillTest : public BrokerTest {
 protected:
  // A v3.1.1 subscriber to "w".
  std::unique_ptr<Conn> watcher() {
    auto w = connect(connect_v4('9'), kConnAckV4, "watcher");
    w->send("82 06 00 01 00 01 77 00");
    EXPECT_EQ(w->recv(), norm("90 03 00 01 00"));
    return w;
  }
  static constexpr std::string_view kWill = "30 04 00 01 77 78";
};

// --- Persistence and expiry ---

TEST_F(SessionTest, PersistentSessionQueuesQos1WhileOffline) {
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->transport_closed();
  EXPECT_EQ(broker().stats().sessions, 1u);
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("32 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(pub->recv(), norm("40 02 00 07"));
  pub->send("30 07 00 03 61 2f 62 6e 6f");  // QoS 0: not queued by default
  auto again = open();
  again->send(connect_v4('1', false));
  EXPECT_EQ(again->recv(), norm("20 02 01 00  32 09 00 03 61 2f 62 00 01 68 69"));
}

TEST_F(SessionTest, Qos0QueuedWhenConfigured) {
  config.queue_qos0_messages = true;
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->transport_closed();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("30 07 00 03 61 2f 62 6e 6f");
  auto again = open();
  again->send(connect_v4('1', false));
  EXPECT_EQ(again->recv(), norm("20 02 01 00  30 07 00 03 61 2f 62 6e 6f"));
}

TEST_F(SessionTest, CleanSessionDiscardsState) {
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->transport_closed();
  auto again = connect(connect_v4('1', true), kConnAckV4);
  EXPECT_EQ(broker().stats().subscriptions, 0u);
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("30 07 00 03 61 2f 62 68 69");
  EXPECT_EQ(again->recv(), "");
}

TEST_F(SessionTest, V311CleanSessionEndsAtDisconnect) {
  auto sub = connect(connect_v4('1', true), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->send("e0 00");
  EXPECT_TRUE(sub->stream.closed);
  EXPECT_EQ(broker().stats().sessions, 0u);
  EXPECT_EQ(broker().stats().subscriptions, 0u);
}

TEST_F(SessionTest, ResendWithDupOnReconnect) {
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("32 09 00 03 61 2f 62 00 07 68 69");
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 01 68 69"));
  sub->transport_closed();  // never acked
  auto again = open();
  again->send(connect_v4('1', false));
  EXPECT_EQ(again->recv(), norm("20 02 01 00  3a 09 00 03 61 2f 62 00 01 68 69"));
  again->send("40 02 00 01");
  // The id is free again and the next message takes the next one.
  pub->send("32 09 00 03 61 2f 62 00 08 68 69");
  EXPECT_EQ(again->recv(), norm("32 09 00 03 61 2f 62 00 02 68 69"));
}

TEST_F(SessionTest, PubrelResentAfterReconnect) {
  auto sub = connect(connect_v5('1', true, kExpiry60), kConnAckV5);
  sub->send(sub_v5(2));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("34 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(sub->recv(), norm("34 0a 00 03 61 2f 62 00 01 00 68 69"));
  sub->send("50 02 00 01");
  EXPECT_EQ(sub->recv(), norm("62 02 00 01"));
  sub->transport_closed();
  auto again = open();
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(again->recv(), norm("20 03 01 00 00  62 02 00 01"));
  again->send("70 02 00 01");
  EXPECT_EQ(again->recv(), "");
}

TEST_F(SessionTest, InboundQos2StateSurvivesReconnect) {
  auto watcher = connect(connect_v4('9'), kConnAckV4);
  watcher->send(sub_v4(0));
  watcher->recv();
  auto pub = connect(connect_v5('1', true, kExpiry60), kConnAckV5);
  pub->send("34 0a 00 03 61 2f 62 00 07 00 68 69");
  EXPECT_EQ(pub->recv(), norm("50 02 00 07"));
  EXPECT_EQ(watcher->recv(), norm("30 07 00 03 61 2f 62 68 69"));
  pub->transport_closed();
  auto again = open();
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(again->recv(), norm(kConnAckV5Present));
  again->send("3c 0a 00 03 61 2f 62 00 07 00 68 69");  // resent with DUP: still a duplicate
  EXPECT_EQ(again->recv(), norm("50 02 00 07"));
  EXPECT_EQ(watcher->recv(), "");
  again->send("62 02 00 07");
  EXPECT_EQ(again->recv(), norm("70 02 00 07"));
}

TEST_F(SessionTest, SessionExpiresAfterInterval) {
  auto sub = connect(connect_v5('1', true, "11 00 00 00 0a"), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  sub->transport_closed();
  advance(9'999);
  EXPECT_EQ(broker().stats().sessions, 1u);
  advance(1);
  EXPECT_EQ(broker().stats().sessions, 0u);
  EXPECT_EQ(broker().stats().subscriptions, 0u);
  auto again = open();
  again->send(connect_v5('1', false, "11 00 00 00 0a"));
  EXPECT_EQ(again->recv(), norm(kConnAckV5));
}

TEST_F(SessionTest, ReconnectBeforeExpiryResumes) {
  auto sub = connect(connect_v5('1', true, "11 00 00 00 0a"), kConnAckV5);
  sub->transport_closed();
  advance(9'000);
  auto again = open();
  again->send(connect_v5('1', false, "11 00 00 00 0a"));
  EXPECT_EQ(again->recv(), norm(kConnAckV5Present));
  advance(60'000);  // connected: no expiry
  EXPECT_EQ(broker().stats().sessions, 1u);
}

TEST_F(SessionTest, SessionExpiryZeroEndsAtDisconnect) {
  auto sub = connect(connect_v5('1', false), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  sub->transport_closed();
  EXPECT_EQ(broker().stats().sessions, 0u);
  auto again = open();
  again->send(connect_v5('1', false));
  EXPECT_EQ(again->recv(), norm(kConnAckV5));
}

TEST_F(SessionTest, SessionExpiryMaxNeverExpires) {
  auto sub = connect(connect_v5('1', true, "11 ff ff ff ff"), kConnAckV5);
  sub->transport_closed();
  EXPECT_FALSE(broker().next_deadline().has_value());
  advance(1'000'000'000);
  EXPECT_EQ(broker().stats().sessions, 1u);
}

TEST_F(SessionTest, V311PersistentSessionCappedByMaxSessionExpiry) {
  config.max_session_expiry_interval_s = 5;
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->transport_closed();
  advance(5'000);
  EXPECT_EQ(broker().stats().sessions, 0u);
}

TEST_F(SessionTest, DisconnectCannotRaiseSessionExpiryFromZero) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send("e0 07 00 05 11 00 00 00 0a");
  EXPECT_EQ(c->recv(), norm("e0 01 82"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(SessionTest, DisconnectCanShortenSessionExpiry) {
  auto c = connect(connect_v5('1', true, kExpiry60), kConnAckV5);
  c->send("e0 07 00 05 11 00 00 00 00");
  EXPECT_TRUE(c->stream.closed);
  EXPECT_EQ(c->recv(), "");
  EXPECT_EQ(broker().stats().sessions, 0u);
}

// --- Takeover ---

TEST_F(SessionTest, TakeoverV5) {
  auto first = connect(connect_v5('1', true, kExpiry60), kConnAckV5, "first");
  first->send(sub_v5(0));
  first->recv();
  auto second = open("second");
  second->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(first->recv(), norm("e0 01 8e"));
  EXPECT_TRUE(first->stream.closed);
  EXPECT_EQ(second->recv(), norm(kConnAckV5Present));
  // The transport reports the old connection's end later: the session stays with `second`.
  first->transport_closed(CloseCause::kLocal);
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("30 08 00 03 61 2f 62 00 68 69");
  EXPECT_EQ(second->recv(), norm("30 08 00 03 61 2f 62 00 68 69"));
  EXPECT_EQ(first->recv(), "");
  EXPECT_EQ(broker().stats().clients_connected, 2u);
}

TEST_F(SessionTest, TakeoverV311) {
  auto first = connect(connect_v4('1', false), kConnAckV4, "first");
  auto second = open("second");
  second->send(connect_v4('1', false));
  EXPECT_EQ(first->recv(), "");
  EXPECT_TRUE(first->stream.closed);
  EXPECT_EQ(second->recv(), norm(kConnAckV4Present));
}

TEST_F(SessionTest, TakeoverWithCleanStartStartsFresh) {
  auto first = connect(connect_v5('1', true, kExpiry60), kConnAckV5, "first");
  first->send(sub_v5(0));
  first->recv();
  auto second = open("second");
  second->send(connect_v5('1', true, kExpiry60));
  EXPECT_EQ(first->recv(), norm("e0 01 8e"));
  EXPECT_EQ(second->recv(), norm(kConnAckV5));
  EXPECT_EQ(broker().stats().subscriptions, 0u);
}

// --- Queue limits and the outbound window ---

TEST_F(SessionTest, OfflineQueueLimitDropsNewest) {
  config.max_queued_messages = 2;
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->transport_closed();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("32 07 00 03 61 2f 62 00 01  32 07 00 03 61 2f 62 00 02  32 07 00 03 61 2f 62 00 03");
  EXPECT_EQ(pub->recv(), norm("40 02 00 01 40 02 00 02 40 02 00 03"));
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
  auto again = open();
  again->send(connect_v4('1', false));
  EXPECT_EQ(again->recv(),
            norm("20 02 01 00  32 07 00 03 61 2f 62 00 01  32 07 00 03 61 2f 62 00 02"));
}

TEST_F(SessionTest, OfflineQueueByteLimit) {
  config.max_queued_bytes = 10;  // topic + payload: 5 bytes each
  auto sub = connect(connect_v4('1', false), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->transport_closed();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  for (int i = 0; i < 3; ++i)
    pub->send("32 09 00 03 61 2f 62 00 01 68 69");
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
}

TEST_F(SessionTest, OutboundWindowFollowsClientReceiveMaximum) {
  auto sub = connect(connect_v5('1', true, "21 00 01"), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("32 09 00 03 61 2f 62 00 01 00 61  32 09 00 03 61 2f 62 00 02 00 62");
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 01 00 61"));
  sub->send("40 02 00 01");
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 02 00 62"));
}

TEST_F(SessionTest, OutboundWindowFromConfig) {
  config.max_inflight_messages = 1;
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(2));
  sub->recv();
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("34 08 00 03 61 2f 62 00 01 61  34 08 00 03 61 2f 62 00 02 62");
  EXPECT_EQ(sub->recv(), norm("34 08 00 03 61 2f 62 00 01 61"));
  sub->send("50 02 00 01");
  EXPECT_EQ(sub->recv(), norm("62 02 00 01"));  // still in flight until PUBCOMP
  sub->send("70 02 00 01");
  EXPECT_EQ(sub->recv(), norm("34 08 00 03 61 2f 62 00 02 62"));
}

TEST_F(SessionTest, ExpiredQueuedQos0DoesNotLetQos1PastTheWindow) {
  config.queue_qos0_messages = true;
  auto sub = connect(connect_v5('1', true, "11 00 00 00 3c 21 00 01"), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  sub->transport_closed();
  auto pub = connect(connect_v5('2', true, "", 0), kConnAckV5);
  pub->send("32 09 00 03 61 2f 62 00 01 00 61");           // QoS 1 "a"
  pub->send("30 0c 00 03 61 2f 62 05 02 00 00 00 01 62");  // QoS 0 "b", expires in 1 s
  pub->send("32 09 00 03 61 2f 62 00 02 00 63");           // QoS 1 "c"
  clock.advance(1'000);  // "b" expires without a tick: found expired while draining
  auto again = open();
  again->send(connect_v5('1', false, "11 00 00 00 3c 21 00 01"));
  EXPECT_EQ(again->recv(), norm("20 03 01 00 00  32 09 00 03 61 2f 62 00 01 00 61"));
  again->send("40 02 00 01");
  EXPECT_EQ(again->recv(), norm("32 09 00 03 61 2f 62 00 02 00 63"));
}

TEST_F(SessionTest, QueuedMessageExpiryCountsDown) {
  auto sub = connect(connect_v5('1', true, kExpiry60), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  sub->transport_closed();
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("32 0f 00 03 61 2f 62 00 07 05 02 00 00 00 0a 68 69");  // expiry 10 s
  advance(4'000);
  auto again = open();
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(again->recv(),
            norm("20 03 01 00 00  32 0f 00 03 61 2f 62 00 01 05 02 00 00 00 06 68 69"));
}

TEST_F(SessionTest, ExpiredQueuedMessageIsDropped) {
  auto sub = connect(connect_v5('1', true, kExpiry60), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  sub->transport_closed();
  auto pub = connect(connect_v5('2', true, "", 0), kConnAckV5);
  pub->send("32 0f 00 03 61 2f 62 00 07 05 02 00 00 00 0a 68 69");
  advance(10'000);  // the queue timer drops it
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
  auto again = open();
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(again->recv(), norm(kConnAckV5Present));
}

// --- Backpressure ---

TEST_F(SessionTest, SlowSubscriberDropsQos0AndQueuesQos1) {
  config.outbound_high_watermark_bytes = 100;
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->stream.pending = 101;
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("30 07 00 03 61 2f 62 68 69");        // dropped
  pub->send("32 09 00 03 61 2f 62 00 05 68 69");  // queued
  EXPECT_EQ(pub->recv(), norm("40 02 00 05"));
  EXPECT_EQ(sub->recv(), "");
  EXPECT_EQ(broker().stats().messages_dropped, 1u);
  sub->stream.pending = 0;
  sub->handler->on_writable();
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 01 68 69"));
}

TEST_F(SessionTest, FlushResumesBlockedSubscriberWithoutTransportSignal) {
  config.outbound_high_watermark_bytes = 100;
  auto sub = connect(connect_v4('1'), kConnAckV4);
  sub->send(sub_v4(1));
  sub->recv();
  sub->stream.pending = 101;
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->send("32 09 00 03 61 2f 62 00 05 68 69");
  broker().flush();
  EXPECT_EQ(sub->recv(), "");
  sub->stream.pending = 0;
  broker().flush();
  EXPECT_EQ(sub->recv(), norm("32 09 00 03 61 2f 62 00 01 68 69"));
}

TEST_F(SessionTest, FlushWaitsForLowWatermark) {
  config.outbound_high_watermark_bytes = 100;
  config.outbound_low_watermark_bytes = 50;
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->stream.pending = 101;
  pub->send("c0 00");
  EXPECT_FALSE(pub->stream.reading);
  pub->stream.pending = 80;  // below high, above low
  broker().flush();
  EXPECT_FALSE(pub->stream.reading);
  pub->stream.pending = 50;
  broker().flush();
  EXPECT_TRUE(pub->stream.reading);
}

TEST_F(SessionTest, SlowPublisherStopsReading) {
  config.outbound_high_watermark_bytes = 100;
  auto pub = connect(connect_v4('2'), kConnAckV4);
  pub->stream.pending = 101;
  pub->send("32 09 00 03 61 2f 62 00 05 68 69");
  EXPECT_FALSE(pub->stream.reading);
  pub->stream.pending = 0;
  pub->handler->on_writable();
  EXPECT_TRUE(pub->stream.reading);
}

TEST_F(SessionTest, OverflowPolicyDisconnect) {
  config.outbound_high_watermark_bytes = 100;
  config.max_queued_messages = 1;
  config.overflow_policy = OverflowPolicy::kDisconnect;
  auto sub = connect(connect_v5('1', true, kExpiry60), kConnAckV5);
  sub->send(sub_v5(1));
  sub->recv();
  sub->stream.pending = 101;
  auto pub = connect(connect_v5('2'), kConnAckV5);
  pub->send("32 09 00 03 61 2f 62 00 01 00 61");
  EXPECT_EQ(sub->recv(), "");
  pub->send("32 09 00 03 61 2f 62 00 02 00 62");
  EXPECT_EQ(sub->recv(), norm("e0 01 97"));
  EXPECT_TRUE(sub->stream.closed);
  // The session keeps the queued message for the next connection.
  auto again = open();
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(again->recv(), norm("20 03 01 00 00  32 09 00 03 61 2f 62 00 01 00 61"));
}

TEST_F(SessionTest, Qos0FanOutSharesOneEncoding) {
  std::vector<std::unique_ptr<Conn>> subs;
  for (char n : {'1', '2', '3'}) {
    subs.push_back(connect(connect_v4(n), kConnAckV4));
    subs.back()->send(sub_v4(0));
    subs.back()->recv();
  }
  auto pub = connect(connect_v4('4'), kConnAckV4);
  pub->send("30 07 00 03 61 2f 62 68 69");
  for (auto& s : subs) {
    EXPECT_EQ(s->recv(), norm("30 07 00 03 61 2f 62 68 69"));
    EXPECT_EQ(s->stream.shared_writes, 1);
    EXPECT_EQ(s->stream.last_shared.get(), subs[0]->stream.last_shared.get());
  }
}

TEST_F(SessionTest, ShutdownDisconnectsEveryone) {
  auto c5 = connect(connect_v5('1'), kConnAckV5);
  auto c4 = connect(connect_v4('2'), kConnAckV4);
  auto idle = open();
  broker().shutdown();
  EXPECT_EQ(c5->recv(), norm("e0 01 8b"));
  EXPECT_EQ(c4->recv(), "");
  EXPECT_TRUE(c5->stream.closed);
  EXPECT_TRUE(c4->stream.closed);
  EXPECT_TRUE(idle->stream.closed);
}

// --- Wills ---

TEST_F(WillTest, PublishedOnAbruptClose) {
  auto w = watcher();
  auto c = connect(connect_v4_will('1'), kConnAckV4);
  c->transport_closed(CloseCause::kPeerClosed);
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, NotPublishedAfterNormalDisconnect) {
  auto w = watcher();
  auto c = connect(connect_v4_will('1'), kConnAckV4);
  c->send("e0 00");
  c->transport_closed(CloseCause::kLocal);
  EXPECT_EQ(w->recv(), "");
}

TEST_F(WillTest, PublishedAfterDisconnectWithWill) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, "", ""), kConnAckV5);
  c->send("e0 01 04");
  EXPECT_TRUE(c->stream.closed);
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, PublishedOnKeepAliveTimeout) {
  auto w = watcher();
  auto c = connect(connect_v4_will('1', true, 10), kConnAckV4);
  advance(15'000);
  EXPECT_TRUE(c->stream.closed);
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, PublishedOnProtocolError) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, "", ""), kConnAckV5);
  c->send("d0 00");
  EXPECT_EQ(c->recv(), norm("e0 01 82"));
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, DelayedByWillDelayInterval) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, kExpiry60, "18 00 00 00 05"), kConnAckV5);
  c->transport_closed();
  EXPECT_EQ(w->recv(), "");
  advance(4'999);
  EXPECT_EQ(w->recv(), "");
  advance(1);
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, CancelledByReconnectWithinDelay) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, kExpiry60, "18 00 00 00 05"), kConnAckV5);
  c->transport_closed();
  advance(2'000);
  auto again = open();
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(again->recv(), norm(kConnAckV5Present));
  advance(10'000);
  EXPECT_EQ(w->recv(), "");
}

TEST_F(WillTest, DelayCappedBySessionExpiry) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, "11 00 00 00 03", "18 00 00 00 0a"), kConnAckV5);
  c->transport_closed();
  advance(2'999);
  EXPECT_EQ(w->recv(), "");
  advance(1);
  EXPECT_EQ(w->recv(), norm(kWill));
  EXPECT_EQ(broker().stats().sessions, 1u);  // only the watcher's
}

TEST_F(WillTest, SessionExpiryZeroPublishesAtOnceDespiteDelay) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, "", "18 00 00 00 0a"), kConnAckV5);
  c->transport_closed();
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, WillPropertiesAndQos) {
  auto w5 = connect(connect_v5('8'), kConnAckV5, "w5");
  w5->send("82 07 00 01 00 00 01 77 01");  // "w" QoS 1
  w5->recv();
  // will QoS 1 (flags 0x08), content type "t", retain 0
  auto c = connect(connect_v5_will('1', true, "", "03 00 01 74", 0x08), kConnAckV5);
  c->transport_closed();
  EXPECT_EQ(w5->recv(), norm("32 0b 00 01 77 00 01 04 03 00 01 74 78"));
}

TEST_F(WillTest, RetainedWill) {
  auto c = connect(connect_v5_will('1', true, "", "", 0x20), kConnAckV5);
  c->transport_closed();
  auto late = connect(connect_v4('8'), kConnAckV4);
  late->send("82 06 00 01 00 01 77 00");
  EXPECT_EQ(late->recv(), norm("90 03 00 01 00  31 04 00 01 77 78"));
}

TEST_F(WillTest, TakeoverResumingSessionDropsWill) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, kExpiry60, ""), kConnAckV5, "first");
  auto again = open("second");
  again->send(connect_v5('1', false, kExpiry60));
  EXPECT_EQ(c->recv(), norm("e0 01 8e"));
  c->transport_closed(CloseCause::kLocal);
  EXPECT_EQ(w->recv(), "");
}

TEST_F(WillTest, TakeoverWithCleanStartPublishesWill) {
  auto w = watcher();
  auto c = connect(connect_v5_will('1', true, kExpiry60, "18 00 00 00 0a"), kConnAckV5, "first");
  auto again = open("second");
  again->send(connect_v5('1', true, kExpiry60));
  EXPECT_EQ(w->recv(), norm(kWill));
}

TEST_F(WillTest, NotPublishedOnShutdown) {
  auto w = watcher();
  auto c = connect(connect_v4_will('1'), kConnAckV4);
  broker().shutdown();
  EXPECT_EQ(w->recv(), "");
}

}  // namespace
}  // namespace mquictt::broker::test
