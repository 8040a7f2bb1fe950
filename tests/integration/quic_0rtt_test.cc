// Session resumption and 0-RTT against the real daemon (docs/quic.md "0-RTT and resumption"):
// a client resumes with the ticket of its previous connection and sends MQTT as early data;
// the broker processes CONNECT, SUBSCRIBE and QoS 0 PUBLISH at once and holds a QoS 1 PUBLISH
// until the handshake completes. Tickets survive a restart with the same static secret.
//
// Our client's TLS stack (GnuTLS 3.7) derives its 0-RTT key only after the ServerHello, so the
// tests make the client hold the server's Handshake packets (QuicClientOptions::hold_handshake):
// its early data goes out in 0-RTT packets and the server has it, but the handshake cannot
// complete until the test releases it. That window is what the broker's replay policy is about.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "common/hex.h"
#include "integration/daemon_process.h"
#include "integration/golden_frames.h"
#include "integration/raw_client.h"

namespace mquictt::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kSubscribeAP = "82 08 00 01 00 03 61 2f 70 00";  // "a/p" QoS 0
constexpr const char* kSubAckAP = "90 03 00 01 00";
constexpr const char* kPublish0 = "30 07 00 03 61 2f 71 68 69";        // "a/q" QoS 0 "hi"
constexpr const char* kPublish1 = "32 09 00 03 61 2f 71 00 07 68 69";  // "a/q" QoS 1 id 7
constexpr const char* kPubAck7 = "40 02 00 07";

class QuicZeroRttBroker : public ::testing::Test {
 protected:
  virtual bool with_secret() const { return true; }
  virtual std::string early_data_config() const { return ""; }

  void SetUp() override {
    char tmpl[] = "/tmp/mquictt-0rtt-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/secret") << std::string(40, 's');
    ASSERT_TRUE(daemon_->start_with_config(config(0), 20s)) << daemon_->logs();
    ASSERT_NE(daemon_->quic_port(), 0);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_->logs() << "----\n";
    daemon_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::string config(uint16_t quic_port) const {
    std::string quic = "    quic:\n";
    if (with_secret()) quic += "      static_secret_file: \"" + dir_ + "/secret\"\n";
    quic += early_data_config();
    return tcp_and_quic_listeners(test_cert("server.pem"), test_cert("server.key"), quic_port) +
           quic + "log:\n  level: debug\n";
  }

  // The daemon stops and another one starts on the same UDP port with the same config.
  void restart() {
    const uint16_t port = daemon_->quic_port();
    ASSERT_EQ(daemon_->stop(), 0) << daemon_->logs();  // a clean exit (also under sanitizers)
    daemon_ = std::make_unique<DaemonProcess>();
    ASSERT_TRUE(daemon_->start_with_config(config(port), 20s)) << daemon_->logs();
    ASSERT_EQ(daemon_->quic_port(), port);
  }

  std::unique_ptr<RawClient> tcp() {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->connect(daemon_->port()));
    return c;
  }

  // A full connection that leaves with a session ticket.
  quic::ResumptionState ticket() {
    RawClient c;
    EXPECT_TRUE(c.connect_quic(daemon_->quic_port()));
    c.send_hex(kConnectQ1);
    EXPECT_TRUE(c.expect_hex(kConnAckOk));
    EXPECT_TRUE(c.quic()->wait_until([&] { return c.quic()->resumption_state().has_value(); }, 5s))
        << "no session ticket";
    auto state = c.quic()->resumption_state().value_or(quic::ResumptionState{});
    c.send_hex("e0 00");
    EXPECT_TRUE(c.expect_closed());
    return state;
  }

  // Resumes with `state`, writes `hex_bytes` as early data and waits until they went out in 0-RTT
  // packets (the handshake is held: see the file comment).
  std::unique_ptr<RawClient> resume(const quic::ResumptionState& state,
                                    const std::string& hex_bytes) {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->begin_quic(daemon_->quic_port(), [&](quic::QuicClientOptions& o) {
      o.resumption = state;
      o.hold_handshake = true;
    }));
    const std::vector<uint8_t> bytes = hex(hex_bytes);
    c->send_early(bytes);
    quic::QuicClient& q = *c->quic();
    EXPECT_TRUE(q.wait_until([&] { return q.held_packets() != 0; }, 5s)) << q.error();
    // Whatever the client could send before the handshake (all of it, unless the early data
    // was refused at once).
    q.wait_until([&] { return q.early_bytes_sent(c->stream_id()) == bytes.size(); }, 1s);
    return c;
  }

  std::string dir_;
  std::unique_ptr<DaemonProcess> daemon_ = std::make_unique<DaemonProcess>();
};

TEST_F(QuicZeroRttBroker, ConnectSubscribeQos0InZeroRttQos1WaitsForTheHandshake) {
  auto sub = tcp();
  sub->send_hex(kConnectT1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 61 2f 71 01");  // "a/q" QoS 1
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 01"));

  const quic::ResumptionState state = ticket();
  ASSERT_FALSE(state.ticket.empty());
  const std::string early =
      std::string(kConnectQ1) + " " + kSubscribeAP + " " + kPublish0 + " " + kPublish1;
  auto p = resume(state, early);
  quic::QuicClient& q = *p->quic();
  // Everything left in 0-RTT packets, and the handshake has not completed.
  EXPECT_EQ(q.early_bytes_sent(p->stream_id()), hex(early).size());
  EXPECT_FALSE(q.connected());

  // The broker accepted the CONNECT and routed the QoS 0 PUBLISH before the handshake ...
  EXPECT_TRUE(sub->expect_hex(kPublish0));
  // ... but holds the QoS 1 PUBLISH (a replay could duplicate it) while the handshake is held.
  EXPECT_TRUE(sub->expect_silence(500ms));
  EXPECT_FALSE(q.connected());

  q.release_handshake();
  EXPECT_TRUE(p->expect_hex(kConnAckOk));
  EXPECT_TRUE(p->expect_hex(kSubAckAP));
  EXPECT_TRUE(p->expect_hex(kPubAck7));
  EXPECT_TRUE(sub->expect_hex("32 09 00 03 61 2f 71 00 01 68 69"));
  sub->send_hex("40 02 00 01");
  EXPECT_TRUE(q.connected());
  EXPECT_TRUE(q.resumed());
  EXPECT_TRUE(q.early_data_attempted());
  EXPECT_TRUE(q.early_data_accepted());
  EXPECT_FALSE(q.early_data_rejected());
  EXPECT_TRUE(daemon_->wait_for_log("early data: PUBLISH held until the handshake completes", 1s));
}

// The ticket key derives from static_secret_file: a restarted daemon still resumes the session
// (no full handshake), but takes no early data for a ticket older than its anti-replay record:
// the client resends it after the handshake and nothing is lost.
TEST_F(QuicZeroRttBroker, TicketSurvivesARestartWithTheSameSecret) {
  const quic::ResumptionState state = ticket();
  restart();
  auto p = resume(state, kConnectQ1);
  // The CONNECT did leave as 0-RTT; the restarted server refused it.
  EXPECT_EQ(p->quic()->early_bytes_sent(p->stream_id()), hex(kConnectQ1).size());
  p->quic()->release_handshake();
  EXPECT_TRUE(p->expect_hex(kConnAckOk));
  EXPECT_TRUE(p->quic()->resumed());
  EXPECT_TRUE(p->quic()->early_data_rejected());
}

class QuicZeroRttNoSecret : public QuicZeroRttBroker {
 protected:
  bool with_secret() const override { return false; }
};

// Without a static secret the ticket key is random per process: after a restart the ticket is
// useless, the client falls back to a full handshake and its early data is resent.
TEST_F(QuicZeroRttNoSecret, AfterARestartResumptionFallsBackToAFullHandshake) {
  const quic::ResumptionState state = ticket();
  restart();
  auto p = resume(state, kConnectQ1);
  p->quic()->release_handshake();
  EXPECT_TRUE(p->expect_hex(kConnAckOk));
  EXPECT_FALSE(p->quic()->resumed());
  EXPECT_TRUE(p->quic()->early_data_rejected());
}

class QuicZeroRttOff : public QuicZeroRttBroker {
 protected:
  std::string early_data_config() const override {
    return "      early_data:\n        enabled: false\n";
  }
};

// early_data.enabled: false keeps resumption but nothing is processed before the handshake.
TEST_F(QuicZeroRttOff, EarlyDataDisabledMeansNothingBeforeTheHandshake) {
  auto sub = tcp();
  sub->send_hex(kConnectT1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 61 2f 71 00");
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 00"));
  const quic::ResumptionState state = ticket();
  auto p = resume(state, std::string(kConnectQ1) + " " + kPublish0);
  EXPECT_TRUE(sub->expect_silence(500ms));
  p->quic()->release_handshake();
  EXPECT_TRUE(p->expect_hex(kConnAckOk));
  EXPECT_TRUE(sub->expect_hex(kPublish0));
  EXPECT_TRUE(p->quic()->resumed());
  EXPECT_TRUE(p->quic()->early_data_rejected());
}

}  // namespace
}  // namespace mquictt::test
