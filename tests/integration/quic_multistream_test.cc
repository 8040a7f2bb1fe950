// MQTT over QUIC multi-stream mode (EMQX semantics) against the real daemon, with our QuicClient
// opening several bidirectional streams on one connection: acks on the PUBLISH's stream,
// deliveries on the SUBSCRIBE's stream, stream-scoped subscriptions, data streams sent before
// CONNACK, per-stream failure isolation (reset with the MQTT reason code), keepalive fed by data
// streams, and the control stream's close ending the connection (application error 1).

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "codec/frame_splitter.h"
#include "common/hex.h"
#include "integration/daemon_process.h"
#include "integration/golden_frames.h"
#include "integration/raw_client.h"
#include "transport/quic/quic_client.h"

namespace mquictt::test {
namespace {

using namespace std::chrono_literals;

// One QUIC connection with any number of client streams, each read frame by frame.
class MultiStreamClient {
 public:
  explicit MultiStreamClient(uint16_t port) {
    quic::QuicClientOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.tls.ca_file = test_cert("ca.pem");
    q_ = std::make_unique<quic::QuicClient>(o);
  }

  bool connect() { return q_->connect(5s); }
  quic::QuicClient& quic() { return *q_; }

  // The next client bidirectional stream (0 is the control stream).
  int64_t open() {
    std::optional<int64_t> sid;
    EXPECT_TRUE(q_->wait_until([&] { return (sid = q_->open_stream()).has_value(); }, 5s));
    return sid.value_or(-1);
  }

  // Sends and waits until the server acknowledged the bytes (see RawClient::send).
  void send(int64_t sid, std::string_view hex) {
    q_->send(sid, from_hex(hex));
    q_->wait_until([&] { return q_->unacked(sid) == 0; }, 5s);
  }

  std::optional<std::vector<uint8_t>> read(int64_t sid, std::chrono::milliseconds timeout) {
    codec::FrameSplitter& sp = splitters_[sid];
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      auto f = sp.next();
      if (!f.ok()) return std::nullopt;
      if (f->has_value()) return std::vector<uint8_t>((*f)->begin(), (*f)->end());
      if (q_->available(sid) != 0) {
        if (!sp.feed(q_->take(sid)).ok()) return std::nullopt;
        continue;
      }
      if (q_->peer_finished(sid) || q_->closed()) return std::nullopt;
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() < 0) return std::nullopt;
      q_->poll(std::min(left, 20ms));
    }
  }

  ::testing::AssertionResult expect(int64_t sid, std::string_view hex,
                                    std::chrono::milliseconds timeout = 5s) {
    const auto want = from_hex(hex);
    auto got = read(sid, timeout);
    if (!got) {
      return ::testing::AssertionFailure()
             << "stream " << sid << ": expected " << to_hex(want) << ", got nothing";
    }
    if (*got != want) {
      return ::testing::AssertionFailure() << "stream " << sid << ": expected " << to_hex(want)
                                           << "\n          got " << to_hex(*got);
    }
    return ::testing::AssertionSuccess();
  }

  ::testing::AssertionResult silence(int64_t sid, std::chrono::milliseconds window = 300ms) {
    if (auto f = read(sid, window)) {
      return ::testing::AssertionFailure() << "stream " << sid << ": unexpected " << to_hex(*f);
    }
    return ::testing::AssertionSuccess();
  }

  // Waits for the server's RESET_STREAM on `sid`; its application error code.
  std::optional<uint64_t> wait_reset(int64_t sid) {
    q_->wait_until([&] { return q_->peer_reset(sid); }, 5s);
    return q_->peer_reset_code(sid);
  }

 private:
  std::unique_ptr<quic::QuicClient> q_;
  std::map<int64_t, codec::FrameSplitter> splitters_;
};

// MQTT 5 CONNECT "m5", clean start, keepalive 60, no properties.
constexpr const char* kConnectV5 = "10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 6d 35";

class QuicMultiStream : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_.start_with_quic()) << "daemon did not start:\n" << daemon_.logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
  }

  std::unique_ptr<MultiStreamClient> client() {
    auto c = std::make_unique<MultiStreamClient>(daemon_.quic_port());
    EXPECT_TRUE(c->connect()) << c->quic().error();
    return c;
  }
  std::unique_ptr<RawClient> tcp() {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->connect(daemon_.port()));
    return c;
  }
  // Control stream with an accepted MQTT 5 CONNECT (the CONNACK carries properties).
  static int64_t connect_v5(MultiStreamClient& c) {
    const int64_t ctrl = c.open();
    c.send(ctrl, kConnectV5);
    auto ack = c.read(ctrl, 5s);
    EXPECT_TRUE(ack && ack->size() >= 4 && (*ack)[0] == 0x20 && (*ack)[3] == 0x00);
    return ctrl;
  }

  DaemonProcess daemon_;
};

TEST_F(QuicMultiStream, AcksOnThePublishStreamDeliveriesOnTheSubscribeStream) {
  auto c = client();
  const int64_t ctrl = c->open();
  c->send(ctrl, kConnectM1);
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  const int64_t subs = c->open();
  const int64_t pubs = c->open();
  ASSERT_EQ(subs, 4);
  ASSERT_EQ(pubs, 8);
  c->send(subs, "82 08 00 01 00 03 61 2f 62 01");  // "a/b" QoS 1
  ASSERT_TRUE(c->expect(subs, "90 03 00 01 01"));

  // From another client (TCP): delivered on the SUBSCRIBE's stream, acked there.
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  t->send_hex("32 09 00 03 61 2f 62 00 07 68 69");
  ASSERT_TRUE(t->expect_hex("40 02 00 07"));
  ASSERT_TRUE(c->expect(subs, "32 09 00 03 61 2f 62 00 01 68 69"));
  c->send(subs, "40 02 00 01");

  // From the client itself on a third stream: acks there, the delivery on the SUBSCRIBE's.
  c->send(pubs, "32 09 00 03 61 2f 62 00 09 68 69");
  ASSERT_TRUE(c->expect(pubs, "40 02 00 09"));
  ASSERT_TRUE(c->expect(subs, "32 09 00 03 61 2f 62 00 02 68 69"));
  c->send(subs, "40 02 00 02");
  c->send(pubs, "34 09 00 03 61 2f 62 00 0a 68 69");
  ASSERT_TRUE(c->expect(pubs, "50 02 00 0a"));
  c->send(pubs, "62 02 00 0a");
  ASSERT_TRUE(c->expect(pubs, "70 02 00 0a"));
  ASSERT_TRUE(c->expect(subs, "32 09 00 03 61 2f 62 00 03 68 69"));
  c->send(subs, "40 02 00 03");
  EXPECT_TRUE(c->silence(ctrl));  // nothing of this on the control stream
  EXPECT_FALSE(c->quic().closed());
}

TEST_F(QuicMultiStream, SubscriptionsAreStreamScoped) {
  auto c = client();
  const int64_t ctrl = connect_v5(*c);
  const int64_t data = c->open();
  c->send(data, "82 09 00 01 00 00 03 61 2f 62 00");  // "a/b" QoS 0 on the data stream
  ASSERT_TRUE(c->expect(data, "90 04 00 01 00 00"));
  // UNSUBSCRIBE on another stream: 0x11 No subscription existed.
  c->send(ctrl, "a2 08 00 02 00 00 03 61 2f 62");
  ASSERT_TRUE(c->expect(ctrl, "b0 04 00 02 00 11"));
  // The same filter on the control stream too: a message is delivered on both.
  c->send(ctrl, "82 09 00 03 00 00 03 61 2f 62 00");
  ASSERT_TRUE(c->expect(ctrl, "90 04 00 03 00 00"));
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  t->send_hex("30 07 00 03 61 2f 62 68 69");
  ASSERT_TRUE(c->expect(data, "30 08 00 03 61 2f 62 00 68 69"));
  ASSERT_TRUE(c->expect(ctrl, "30 08 00 03 61 2f 62 00 68 69"));
  // UNSUBSCRIBE on its own stream removes only that stream's subscription.
  c->send(data, "a2 08 00 04 00 00 03 61 2f 62");
  ASSERT_TRUE(c->expect(data, "b0 04 00 04 00 00"));
  t->send_hex("30 07 00 03 61 2f 62 68 6f");
  ASSERT_TRUE(c->expect(ctrl, "30 08 00 03 61 2f 62 00 68 6f"));
  EXPECT_TRUE(c->silence(data));
}

// A client does not have to wait for CONNACK: what it sends on a data stream first is processed
// once the CONNECT is accepted.
TEST_F(QuicMultiStream, DataStreamSentBeforeConnectIsProcessedAfterConnack) {
  auto c = client();
  const int64_t ctrl = c->open();
  const int64_t data = c->open();
  c->send(data, "82 08 00 01 00 03 61 2f 62 00");  // before any byte on the control stream
  EXPECT_TRUE(c->silence(data));
  c->send(ctrl, kConnectM1);
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  ASSERT_TRUE(c->expect(data, "90 03 00 01 00"));
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  t->send_hex("30 07 00 03 61 2f 62 68 69");
  ASSERT_TRUE(c->expect(data, "30 07 00 03 61 2f 62 68 69"));
}

// A refused CONNECT takes the held data streams with it.
TEST_F(QuicMultiStream, RefusedConnectClosesTheDataStreams) {
  auto c = client();
  const int64_t ctrl = c->open();
  const int64_t data = c->open();
  c->send(data, "82 08 00 01 00 03 61 2f 62 00");
  // MQTT 3.1.1 CONNECT with clean session 0 and an empty client id: identifier rejected.
  c->send(ctrl, "10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00");
  ASSERT_TRUE(c->expect(ctrl, "20 02 00 02"));
  ASSERT_TRUE(c->quic().wait_until([&] { return c->quic().closed(); }, 5s));
  EXPECT_EQ(c->quic().available(data), 0u);  // no SUBACK
}

TEST_F(QuicMultiStream, MalformedPacketResetsOnlyItsStream) {
  auto c = client();
  const int64_t ctrl = connect_v5(*c);
  const int64_t bad = c->open();
  const int64_t good = c->open();
  c->send(good, "82 09 00 01 00 00 03 61 2f 62 00");
  ASSERT_TRUE(c->expect(good, "90 04 00 01 00 00"));
  c->send(bad, "32 02 00 00");           // QoS 1 PUBLISH too short for topic and packet id
  EXPECT_EQ(c->wait_reset(bad), 0x81u);  // Malformed Packet
  // No DISCONNECT, the connection and the other streams go on.
  c->send(ctrl, "c0 00");
  ASSERT_TRUE(c->expect(ctrl, "d0 00"));
  const int64_t again = c->open();
  c->send(again, "30 08 00 03 61 2f 62 00 68 69");
  ASSERT_TRUE(c->expect(good, "30 08 00 03 61 2f 62 00 68 69"));
  EXPECT_FALSE(c->quic().closed());
}

TEST_F(QuicMultiStream, ControlPacketsOnADataStream) {
  auto c = client();
  const int64_t ctrl = c->open();
  c->send(ctrl, kConnectM1);
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  const int64_t data = c->open();
  c->send(data, "c0 00");  // PINGREQ: PINGRESP comes on the control stream
  ASSERT_TRUE(c->expect(ctrl, "d0 00"));
  EXPECT_TRUE(c->silence(data));
  c->send(data, "e0 00");  // DISCONNECT: that stream's protocol error, not the connection's
  EXPECT_EQ(c->wait_reset(data), 0x82u);
  c->send(ctrl, "c0 00");
  ASSERT_TRUE(c->expect(ctrl, "d0 00"));
}

TEST_F(QuicMultiStream, DataStreamTrafficCountsForKeepAlive) {
  auto c = client();
  const int64_t ctrl = c->open();
  // Keep alive 1 s: the server gives up after 1.5 s without a packet.
  c->send(ctrl, "10 0e 00 04 4d 51 54 54 04 02 00 01 00 02 6d 31");
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  const int64_t data = c->open();
  for (int i = 0; i < 8; ++i) {
    c->send(data, "30 07 00 03 61 2f 62 68 69");
    c->quic().poll(400ms);
  }
  EXPECT_FALSE(c->quic().closed());  // 3.2 s without a byte on the control stream
  c->send(ctrl, "c0 00");
  ASSERT_TRUE(c->expect(ctrl, "d0 00"));
  // Silence everywhere: the keepalive ends the connection.
  ASSERT_TRUE(c->quic().wait_until([&] { return c->quic().closed(); }, 5s));
  ASSERT_TRUE(c->quic().close_info().has_value());
  EXPECT_EQ(c->quic().close_info()->code, 0u);
}

TEST_F(QuicMultiStream, FinishingADataStreamKeepsTheConnection) {
  auto c = client();
  const int64_t ctrl = c->open();
  c->send(ctrl, kConnectM1);
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  const int64_t data = c->open();
  c->send(data, "82 08 00 01 00 03 61 2f 62 00");
  c->quic().finish(data);
  ASSERT_TRUE(c->expect(data, "90 03 00 01 00"));  // its reply still arrives, then our FIN
  ASSERT_TRUE(c->quic().wait_until([&] { return c->quic().stream_closed(data); }, 5s));
  // Its subscription moved to the control stream.
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  t->send_hex("30 07 00 03 61 2f 62 68 69");
  ASSERT_TRUE(c->expect(ctrl, "30 07 00 03 61 2f 62 68 69"));
  EXPECT_FALSE(c->quic().closed());
}

// EMQX: closing the control stream closes the connection with application error 1, whatever
// data streams are open.
TEST_F(QuicMultiStream, ClosingTheControlStreamClosesTheConnection) {
  auto c = client();
  const int64_t ctrl = c->open();
  c->send(ctrl, kConnectM1);
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  const int64_t data = c->open();
  c->send(data, "82 08 00 01 00 03 61 2f 62 00");
  ASSERT_TRUE(c->expect(data, "90 03 00 01 00"));
  c->quic().finish(ctrl);
  ASSERT_TRUE(c->quic().wait_until([&] { return c->quic().closed(); }, 5s));
  ASSERT_TRUE(c->quic().close_info().has_value());
  EXPECT_TRUE(c->quic().close_info()->by_peer);
  EXPECT_TRUE(c->quic().close_info()->application);
  EXPECT_EQ(c->quic().close_info()->code, 1u);
}

// The server ending the MQTT connection (here DISCONNECT) finishes the data streams too, then
// closes the connection normally (0).
TEST_F(QuicMultiStream, DisconnectFinishesTheDataStreams) {
  auto c = client();
  const int64_t ctrl = c->open();
  c->send(ctrl, kConnectM1);
  ASSERT_TRUE(c->expect(ctrl, kConnAckOk));
  const int64_t data = c->open();
  c->send(data, "82 08 00 01 00 03 61 2f 62 00");
  ASSERT_TRUE(c->expect(data, "90 03 00 01 00"));
  c->send(ctrl, "e0 00");
  ASSERT_TRUE(c->quic().wait_until([&] { return c->quic().closed(); }, 5s));
  EXPECT_TRUE(c->quic().peer_finished(data));
  EXPECT_FALSE(c->quic().peer_reset(data));
  EXPECT_EQ(c->quic().close_info()->code, 0u);
}

}  // namespace
}  // namespace mquictt::test
