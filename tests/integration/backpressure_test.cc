// A subscriber that stops reading must not make the broker's memory grow without bound, and must
// not stop the broker from serving others (docs/architecture.md, "Backpressure").

#include <sys/socket.h>

#include <cstdlib>

#include "common/hex.h"
#include "integration/broker_test_base.h"

namespace mquictt::test {
namespace {

class Backpressure : public BrokerTest {
 protected:
  // Small queues so the bound is reached quickly.
  std::string extra_config() const override {
    return "limits:\n"
           "  max_queued_messages: 100\n"
           "  outbound_high_watermark_bytes: 262144\n"
           "  outbound_low_watermark_bytes: 65536\n";
  }
  void SetUp() override {
    // Under AddressSanitizer freed memory sits in a quarantine (256 MiB by default), which would
    // show up as RSS growth here; keep it small so RSS reflects what the broker holds.
    const char* asan = std::getenv("ASAN_OPTIONS");
    daemon_.set_env("ASAN_OPTIONS", std::string(asan ? asan : "") + ":quarantine_size_mb=1");
    BrokerTest::SetUp();
  }
};

TEST_F(Backpressure, StalledSubscriberDoesNotGrowBrokerMemory) {
  auto slow = client();
  slow->send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 73 31");  // "s1"
  ASSERT_TRUE(slow->expect_hex("20 02 00 00"));
  slow->send_hex("82 08 00 01 00 03 62 2f 70 01");  // "b/p" QoS 1
  ASSERT_TRUE(slow->expect_hex("90 03 00 01 01"));
  // From here on `slow` never reads: its socket buffers fill, then the broker's outbound buffer.

  auto pub = client();
  pub->send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 70 31");  // "p1"
  ASSERT_TRUE(pub->expect_hex("20 02 00 00"));

  long rss_before = daemon_.rss_kib();
  ASSERT_GT(rss_before, 0);
  // 64 MiB of QoS 0 and some QoS 1, in 16 KiB payloads, on "b/p".
  std::vector<uint8_t> qos0 = from_hex("30 85 80 01 00 03 62 2f 70");  // remaining length 16389
  qos0.resize(qos0.size() + 16384, 0x55);
  for (int i = 0; i < 4096; ++i) {
    pub->send(qos0);
    if (i % 256 == 0) {
      // A QoS 1 publish in between: the publisher keeps getting its PUBACK.
      std::vector<uint8_t> q1 = from_hex("32 08 00 03 62 2f 70 00 01 78");
      q1[8] = static_cast<uint8_t>(1 + i / 256);
      pub->send(q1);
      auto ack = pub->read_frame(10s);
      ASSERT_TRUE(ack.has_value()) << "publisher stalled at message " << i;
      EXPECT_EQ((*ack)[0], 0x40);
    }
  }
  pub->send_hex("c0 00");
  EXPECT_TRUE(pub->expect_hex("d0 00", 20s));

  long rss_after = daemon_.rss_kib();
  // Bounded by watermarks + queue limits (a few MiB), not by the 64 MiB sent. 32 MiB leaves
  // room for allocator and sanitizer overhead while still catching unbounded buffering.
  EXPECT_LT(rss_after - rss_before, 32 * 1024)
      << "RSS grew from " << rss_before << " to " << rss_after << " KiB";

  // Another client is still served promptly.
  auto other = client();
  other->send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 6f 31");
  EXPECT_TRUE(other->expect_hex("20 02 00 00"));
}

}  // namespace
}  // namespace mquictt::test
