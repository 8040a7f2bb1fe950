// Peer input never throws and never hurts other clients; handler / broker teardown in any order.
#include <iterator>
#include <random>

#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

using RobustnessTest = BrokerTest;

// Random frames (valid fixed header + random body, or plain random bytes) at a connected client,
// for both protocol versions. Whatever happens to that client, a bystander keeps working.
TEST_F(RobustnessTest, RandomInputAfterConnect) {
  std::mt19937 rng(12345);
  auto sub = connect(connect_v5('0', true, "", 0), kConnAckV5, "bystander");
  sub->send("82 09 00 01 00 00 03 61 2f 62 00");
  sub->recv();
  auto pub = connect(connect_v4('9', true, 0), kConnAckV4, "publisher");
  for (int round = 0; round < 400; ++round) {
    const bool v5 = round % 2 == 0;
    auto c = open("fuzz");
    c->send(v5 ? connect_v5('1', round % 4 == 0) : connect_v4('1', round % 4 == 1));
    for (int k = 0; k < 16 && !c->stream.closed; ++k) {
      std::vector<uint8_t> f;
      const size_t body = rng() % 24;
      static constexpr uint8_t kFirst[] = {0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x3a, 0x40,
                                           0x50, 0x62, 0x70, 0x82, 0xa2, 0xc0, 0xe0, 0xf0};
      switch (rng() % 4) {
        case 0:  // raw bytes
          break;
        case 1:  // any first byte
          f.push_back(static_cast<uint8_t>(rng()));
          f.push_back(static_cast<uint8_t>(body));
          break;
        default:  // a client-to-server packet type with valid flags, random body
          f.push_back(kFirst[rng() % std::size(kFirst)]);
          f.push_back(static_cast<uint8_t>(body));
          break;
      }
      for (size_t i = 0; i < body; ++i)
        f.push_back(static_cast<uint8_t>(rng()));
      c->send_bytes(f);
      if (rng() % 8 == 0) advance(static_cast<TimeMs>(rng() % 100'000));
    }
    c->transport_closed(rng() % 2 ? CloseCause::kPeerClosed : CloseCause::kError);
    c.reset();
    pub->send("30 07 00 03 61 2f 62 68 69");
    // The bystander may also get messages the fuzz client published; it must get ours last.
    const std::string got = sub->recv();
    ASSERT_GE(got.size(), norm("30 08 00 03 61 2f 62 00 68 69").size()) << "round " << round;
    EXPECT_EQ(got.substr(got.size() - norm("30 08 00 03 61 2f 62 00 68 69").size()),
              norm("30 08 00 03 61 2f 62 00 68 69"))
        << "round " << round;
    ASSERT_FALSE(sub->stream.closed);
    ASSERT_FALSE(pub->stream.closed);
  }
}

TEST_F(RobustnessTest, HandlerDestroyedWithoutOnClosedActsAsConnectionLoss) {
  auto w = connect(connect_v4('9'), kConnAckV4, "watcher");
  w->send("82 06 00 01 00 01 77 00");
  w->recv();
  {
    auto c = open();
    // CONNECT v3.1.1 with will "w" / "x"
    c->send("10 14 00 04 4d 51 54 54 04 06 00 3c 00 02 63 31 00 01 77 00 01 78");
    c->recv();
    EXPECT_EQ(broker().stats().clients_connected, 2u);
  }  // the transport deletes the handler without on_closed()
  EXPECT_EQ(w->recv(), norm("30 04 00 01 77 78"));
  EXPECT_EQ(broker().stats().clients_connected, 1u);
}

TEST(BrokerLifetimeTest, BrokerDestroyedBeforeHandlers) {
  ManualClock clock;
  BrokerConfig cfg;
  log::set_level(spdlog::level::off);
  auto broker = std::make_unique<Broker>(cfg, clock);
  Conn a("a");
  a.handler = broker->accept(a.stream, {"tcp", "tcp", 0});
  a.send(connect_v4('1'));
  Conn b("b");
  b.handler = broker->accept(b.stream, {"tcp", "tcp", 0});
  broker.reset();
  // Late callbacks from the transport are harmless.
  a.send("c0 00");
  a.handler->on_writable();
  a.transport_closed();
  b.send(connect_v4('2'));
  b.handler.reset();
  a.handler.reset();
}

TEST_F(RobustnessTest, TickWithoutTimersIsCheap) {
  EXPECT_FALSE(broker().next_deadline().has_value());
  broker().tick();
  broker().flush();
  broker().flush();  // idempotent
}

}  // namespace
}  // namespace mquictt::broker::test
