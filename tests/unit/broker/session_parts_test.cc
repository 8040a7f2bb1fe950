// Session building blocks with a ManualClock: message queue limits and expiry, deadline queue,
// topic alias tables, CONNECT negotiation, session registry, payload UTF-8 check.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "broker/connection_state.h"
#include "broker/deadline_queue.h"
#include "broker/message_queue.h"
#include "broker/session_registry.h"
#include "broker/topic_aliases.h"
#include "util/clock.h"
#include "util/utf8.h"

namespace mquictt::broker {
namespace {

Outgoing msg(std::string topic, std::string payload, std::optional<TimeMs> expires = {}) {
  auto m = std::make_shared<Message>();
  m->topic = std::move(topic);
  m->payload.assign(payload.begin(), payload.end());
  m->qos = 1;
  m->expires_at_ms = expires;
  return Outgoing{m, 1, false, {}};
}

// --- MessageQueue ---

TEST(MessageQueueTest, CountLimit) {
  MessageQueue q;
  const QueueLimits lim{2, 0};
  EXPECT_TRUE(q.push(msg("a", "1"), lim));
  EXPECT_TRUE(q.push(msg("a", "2"), lim));
  EXPECT_FALSE(q.push(msg("a", "3"), lim));
  EXPECT_EQ(q.size(), 2u);
}

TEST(MessageQueueTest, ByteLimitCountsTopicAndPayload) {
  MessageQueue q;
  const QueueLimits lim{0, 6};
  EXPECT_TRUE(q.push(msg("ab", "c"), lim));  // 3
  EXPECT_TRUE(q.push(msg("ab", "c"), lim));  // 6
  EXPECT_FALSE(q.push(msg("a", ""), lim));   // 7 > 6
  EXPECT_EQ(q.bytes(), 6u);
  uint64_t expired = 0;
  ASSERT_TRUE(q.pop_front_live(0, &expired).has_value());
  EXPECT_EQ(q.bytes(), 3u);
  EXPECT_TRUE(q.push(msg("a", ""), lim));
}

TEST(MessageQueueTest, UnlimitedWhenZero) {
  MessageQueue q;
  for (int i = 0; i < 5000; ++i)
    ASSERT_TRUE(q.push(msg("t", "p"), {}));
}

TEST(MessageQueueTest, ExpiryWhileQueued) {
  ManualClock clock(0);
  MessageQueue q;
  q.push(msg("a", "1", 5'000), {});
  q.push(msg("a", "2"), {});
  q.push(msg("a", "3", 2'000), {});
  EXPECT_EQ(q.earliest_expiry(), 2'000);
  clock.advance(2'000);
  EXPECT_EQ(q.purge_expired(clock.now_ms()), 1u);
  EXPECT_EQ(q.earliest_expiry(), 5'000);
  clock.advance(3'000);
  uint64_t expired = 0;
  auto first = q.pop_front_live(clock.now_ms(), &expired);  // "1" expired at 5000: skipped
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(std::string(first->msg->payload.begin(), first->msg->payload.end()), "2");
  EXPECT_EQ(expired, 1u);
  EXPECT_TRUE(q.empty());
  EXPECT_EQ(q.bytes(), 0u);
}

TEST(MessageQueueTest, PushFrontRestoresOrder) {
  MessageQueue q;
  q.push(msg("a", "2"), {});
  q.push_front(msg("a", "1"));
  uint64_t e = 0;
  EXPECT_EQ(q.pop_front_live(0, &e)->msg->payload[0], '1');
  EXPECT_EQ(q.pop_front_live(0, &e)->msg->payload[0], '2');
}

// --- DeadlineQueue ---

TEST(DeadlineQueueTest, PopsInDeadlineOrderAndOnlyWhenDue) {
  DeadlineQueue d;
  EXPECT_FALSE(d.next().has_value());
  const TimerId a = d.schedule(300, {TimerKind::kKeepAlive, 1});
  const TimerId b = d.schedule(100, {TimerKind::kWillDelay, 2});
  d.schedule(200, {TimerKind::kSessionExpiry, 3});
  EXPECT_EQ(d.next(), 100);
  EXPECT_FALSE(d.pop_due(99).has_value());
  auto first = d.pop_due(250);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->first, b);
  EXPECT_EQ(first->second.kind, TimerKind::kWillDelay);
  EXPECT_EQ(d.pop_due(250)->second.id, 3u);
  EXPECT_FALSE(d.pop_due(250).has_value());
  d.cancel(a);
  EXPECT_FALSE(d.next().has_value());
  d.cancel(a);  // twice: no-op
  d.cancel(kNoTimer);
}

TEST(DeadlineQueueTest, SameDeadlineKeepsScheduleOrder) {
  DeadlineQueue d;
  d.schedule(5, {TimerKind::kKeepAlive, 1});
  d.schedule(5, {TimerKind::kKeepAlive, 2});
  EXPECT_EQ(d.pop_due(5)->second.id, 1u);
  EXPECT_EQ(d.pop_due(5)->second.id, 2u);
}

// --- Topic aliases ---

TEST(InboundTopicAliasesTest, Table) {
  InboundTopicAliases in(2);
  std::string t = "a/b";
  EXPECT_TRUE(in.resolve(t, std::nullopt).ok());
  t = "";
  EXPECT_EQ(in.resolve(t, std::nullopt).error().reason, 0x82);
  t = "a/b";
  EXPECT_EQ(in.resolve(t, uint16_t{3}).error().reason, 0x94);
  EXPECT_EQ(in.resolve(t, uint16_t{0}).error().reason, 0x94);
  t = "";
  EXPECT_EQ(in.resolve(t, uint16_t{1}).error().reason, 0x82);  // unbound
  t = "a/b";
  EXPECT_TRUE(in.resolve(t, uint16_t{1}).ok());
  t = "";
  EXPECT_TRUE(in.resolve(t, uint16_t{1}).ok());
  EXPECT_EQ(t, "a/b");
  t = "c";
  EXPECT_TRUE(in.resolve(t, uint16_t{1}).ok());  // re-binding
  t = "";
  EXPECT_TRUE(in.resolve(t, uint16_t{1}).ok());
  EXPECT_EQ(t, "c");
}

TEST(OutboundTopicAliasesTest, AssignsReusesAndEvictsLeastRecentlyUsed) {
  OutboundTopicAliases out(2);
  auto a1 = out.choose("a");
  EXPECT_EQ(a1->alias, 1);
  EXPECT_TRUE(a1->send_topic);
  auto a2 = out.choose("a");
  EXPECT_EQ(a2->alias, 1);
  EXPECT_FALSE(a2->send_topic);
  EXPECT_EQ(out.choose("b")->alias, 2);
  out.choose("a");           // "b" is now least recently used
  auto c = out.choose("c");  // evicts "b"
  EXPECT_EQ(c->alias, 2);
  EXPECT_TRUE(c->send_topic);
  auto b = out.choose("b");  // "b" comes back on the LRU slot ("a")
  EXPECT_EQ(b->alias, 1);
  EXPECT_TRUE(b->send_topic);
  EXPECT_FALSE(OutboundTopicAliases(0).choose("a").has_value());
}

// --- CONNECT negotiation ---

codec::Connect connect5() {
  codec::Connect c;
  c.version = codec::ProtocolVersion::kV5;
  c.client_id = "c";
  return c;
}

TEST(NegotiateTest, DefaultsV5) {
  BrokerConfig cfg;
  auto n = negotiate(connect5(), cfg);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(n->keep_alive_s, 60);
  EXPECT_FALSE(n->server_keep_alive.has_value());
  EXPECT_EQ(n->session_expiry_s, 0u);
  EXPECT_EQ(n->send_window, cfg.max_inflight_messages);
  EXPECT_EQ(n->max_outbound_packet, 0u);
  EXPECT_EQ(n->outbound_alias_max, 0);
}

TEST(NegotiateTest, ClientLimitsV5) {
  BrokerConfig cfg;
  cfg.max_inflight_messages = 20;
  cfg.max_topic_alias_outbound = 4;
  auto c = connect5();
  c.props.receive_maximum = 5;
  c.props.maximum_packet_size = 1000;
  c.props.topic_alias_maximum = 50;
  c.props.session_expiry_interval = 30;
  auto n = negotiate(c, cfg);
  EXPECT_EQ(n->send_window, 5);
  EXPECT_EQ(n->max_outbound_packet, 1000u);
  EXPECT_EQ(n->outbound_alias_max, 4);
  EXPECT_EQ(n->session_expiry_s, 30u);
  EXPECT_FALSE(n->session_expiry_changed);
}

TEST(NegotiateTest, V311SessionExpiry) {
  BrokerConfig cfg;
  codec::Connect c;
  c.version = codec::ProtocolVersion::kV311;
  c.clean_start = false;
  EXPECT_EQ(negotiate(c, cfg)->session_expiry_s, 0xFFFFFFFFu);
  cfg.max_session_expiry_interval_s = 3600;
  EXPECT_EQ(negotiate(c, cfg)->session_expiry_s, 3600u);
  c.clean_start = true;
  EXPECT_EQ(negotiate(c, cfg)->session_expiry_s, 0u);
}

TEST(NegotiateTest, KeepAliveCap) {
  BrokerConfig cfg;
  cfg.max_keepalive_s = 30;
  auto c = connect5();
  c.keep_alive = 20;
  EXPECT_FALSE(negotiate(c, cfg)->server_keep_alive.has_value());
  c.keep_alive = 0;
  EXPECT_EQ(negotiate(c, cfg)->server_keep_alive, 30);
  c.version = codec::ProtocolVersion::kV311;
  EXPECT_EQ(negotiate(c, cfg).error().reason, 0x85);
}

TEST(NegotiateTest, WillChecks) {
  BrokerConfig cfg;
  cfg.maximum_qos = 1;
  cfg.retain_available = false;
  auto c = connect5();
  c.will = codec::Will{"w", {}, 2, false, {}};
  EXPECT_EQ(negotiate(c, cfg).error().reason, 0x9B);
  c.will->qos = 1;
  c.will->retain = true;
  EXPECT_EQ(negotiate(c, cfg).error().reason, 0x9A);
}

TEST(NegotiateTest, ConnAckPropertiesOnlyWhenNotDefault) {
  BrokerConfig cfg;
  cfg.max_packet_size_bytes = 0;
  cfg.receive_maximum = 65535;
  cfg.topic_alias_maximum = 0;
  Negotiated n;
  EXPECT_TRUE(connack_properties(n, cfg, std::nullopt).empty());
  auto p = connack_properties(n, cfg, std::string("auto-1"));
  EXPECT_EQ(p.assigned_client_identifier, "auto-1");
}

// --- SessionRegistry ---

TEST(SessionRegistryTest, IdsAreUniqueAndCarryTheShard) {
  SessionRegistry r(3);
  Session& a = r.create("a");
  Session& b = r.create("b");
  EXPECT_NE(a.id(), b.id());
  EXPECT_EQ(a.id() >> 48, 3u);
  EXPECT_EQ(r.find_by_client_id("b"), &b);
  const SessionId old = a.id();
  r.erase(old);
  EXPECT_EQ(r.find(old), nullptr);
  EXPECT_EQ(r.find_by_client_id("a"), nullptr);
  EXPECT_NE(r.create("a").id(), old);  // never reused
  EXPECT_EQ(r.size(), 2u);
}

TEST(SessionStateTest, ExpiryDeadline) {
  Session s(1, "c");
  s.set_expiry_interval_s(10);
  EXPECT_EQ(s.expiry_deadline(1000), 11'000);
  s.set_expiry_interval_s(kSessionNeverExpires);
  EXPECT_FALSE(s.expiry_deadline(1000).has_value());
}

// --- Payload format ---

TEST(PayloadFormatTest, WellFormedUtf8) {
  auto ok = [](std::initializer_list<uint8_t> b) {
    return well_formed_utf8(std::vector<uint8_t>(b));
  };
  EXPECT_TRUE(ok({}));
  EXPECT_TRUE(ok({'a', 0x00, 'b'}));          // U+0000 is fine in a payload
  EXPECT_TRUE(ok({0xC3, 0xA9}));              // é
  EXPECT_TRUE(ok({0xF0, 0x9F, 0x98, 0x80}));  // U+1F600
  EXPECT_FALSE(ok({0xFF}));
  EXPECT_FALSE(ok({0xC0, 0x80}));              // over-long NUL
  EXPECT_FALSE(ok({0xED, 0xA0, 0x80}));        // surrogate
  EXPECT_FALSE(ok({0xF4, 0x90, 0x80, 0x80}));  // > U+10FFFF
  EXPECT_FALSE(ok({0xE2, 0x82}));              // truncated
  EXPECT_FALSE(ok({0x80}));                    // stray continuation
}

}  // namespace
}  // namespace mquictt::broker
