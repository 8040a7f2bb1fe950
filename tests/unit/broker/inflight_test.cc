// QoS 1 / QoS 2 state machines (inflight.h), table by table.
#include "broker/inflight.h"

#include <gtest/gtest.h>

#include <memory>

namespace mquictt::broker {
namespace {

using AckResult = OutboundInflight::AckResult;

Outgoing out(uint8_t qos) {
  auto m = std::make_shared<Message>();
  m->topic = "t";
  m->qos = qos;
  return Outgoing{m, qos, false, {}};
}

TEST(OutboundInflightTest, Qos1CompletesOnPuback) {
  OutboundInflight f;
  const uint16_t id = *f.allocate_id();
  EXPECT_EQ(id, 1);
  f.add(id, out(1));
  EXPECT_EQ(f.size(), 1u);
  EXPECT_EQ(f.on_pubrec(id, 0), AckResult::kWrongState);
  EXPECT_EQ(f.on_pubcomp(id), AckResult::kWrongState);
  EXPECT_EQ(f.on_puback(id), AckResult::kCompleted);
  EXPECT_TRUE(f.empty());
  EXPECT_EQ(f.on_puback(id), AckResult::kUnknown);
}

TEST(OutboundInflightTest, Qos2ReleasesThenCompletes) {
  OutboundInflight f;
  const uint16_t id = *f.allocate_id();
  f.add(id, out(2));
  EXPECT_EQ(f.on_puback(id), AckResult::kWrongState);
  EXPECT_EQ(f.on_pubcomp(id), AckResult::kWrongState);
  EXPECT_EQ(f.on_pubrec(id, 0x00), AckResult::kReleased);
  EXPECT_EQ(f.entries().front().state, OutboundInflight::State::kAwaitPubComp);
  EXPECT_EQ(f.entries().front().out.msg, nullptr);         // the message is released
  EXPECT_EQ(f.size(), 1u);                                 // but the slot is still taken
  EXPECT_EQ(f.on_pubrec(id, 0x00), AckResult::kReleased);  // repeated PUBREC: PUBREL again
  EXPECT_EQ(f.on_pubcomp(id), AckResult::kCompleted);
  EXPECT_TRUE(f.empty());
}

TEST(OutboundInflightTest, Qos2RefusedByPubrecError) {
  OutboundInflight f;
  f.add(1, out(2));
  EXPECT_EQ(f.on_pubrec(1, 0x80), AckResult::kCompleted);
  EXPECT_TRUE(f.empty());
}

TEST(OutboundInflightTest, Qos2NoMatchingSubscribersIsStillSuccess) {
  OutboundInflight f;
  f.add(1, out(2));
  EXPECT_EQ(f.on_pubrec(1, 0x10), AckResult::kReleased);
}

TEST(OutboundInflightTest, PacketIdsSkipIdsInUseAndWrap) {
  OutboundInflight f;
  for (int i = 0; i < 3; ++i)
    f.add(*f.allocate_id(), out(1));  // 1, 2, 3
  EXPECT_EQ(f.on_puback(2), AckResult::kCompleted);
  // Ids keep increasing (2 is free but we don't reuse it until the counter wraps).
  EXPECT_EQ(*f.allocate_id(), 4);
  OutboundInflight g;
  for (int i = 1; i <= 65535; ++i) {
    const auto id = g.allocate_id();
    ASSERT_TRUE(id.has_value());
    g.add(*id, out(1));
  }
  EXPECT_FALSE(g.allocate_id().has_value());
  EXPECT_EQ(g.on_puback(300), AckResult::kCompleted);
  EXPECT_EQ(*g.allocate_id(), 300);  // the only free id
}

TEST(OutboundInflightTest, WrapSkipsIdsStillInFlight) {
  OutboundInflight f;
  f.add(*f.allocate_id(), out(1));  // 1 stays in flight
  for (int i = 2; i <= 65535; ++i) {
    const uint16_t id = *f.allocate_id();
    ASSERT_EQ(id, i);
    f.add(id, out(1));
    ASSERT_EQ(f.on_puback(id), AckResult::kCompleted);
  }
  EXPECT_EQ(*f.allocate_id(), 2);  // wrapped past 65535, skipped 1
}

TEST(OutboundInflightTest, EntriesKeepSendOrder) {
  OutboundInflight f;
  f.add(7, out(1));
  f.add(3, out(2));
  f.add(5, out(1));
  ASSERT_EQ(f.on_pubrec(3, 0), AckResult::kReleased);
  std::vector<uint16_t> ids;
  for (const auto& e : f.entries())
    ids.push_back(e.packet_id);
  EXPECT_EQ(ids, (std::vector<uint16_t>{7, 3, 5}));
  f.erase(3);
  EXPECT_FALSE(f.contains(3));
  EXPECT_EQ(f.size(), 2u);
}

TEST(InboundQos2Test, DedupUntilRelease) {
  InboundQos2 in;
  EXPECT_TRUE(in.begin(10));   // new: route
  EXPECT_FALSE(in.begin(10));  // duplicate: don't route
  EXPECT_TRUE(in.pending(10));
  EXPECT_TRUE(in.release(10));   // PUBREL: PUBCOMP
  EXPECT_FALSE(in.release(10));  // unknown: PUBCOMP 0x92
  EXPECT_TRUE(in.begin(10));     // the id is new again
}

}  // namespace
}  // namespace mquictt::broker
