// MQTT over QUIC against the real daemon: what is specific to the QUIC listener (ALPN, control
// stream semantics and application error codes, limits, Retry, keepalive, idle timeout, qlog,
// shutdown) and traffic crossing between QUIC and TCP clients. The golden-bytes suites (v311_test,
// v5_test) also run over QUIC as the ctest entry integration_golden_over_quic.

#include <gtest/gtest.h>
#include <ngtcp2/ngtcp2.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "integration/daemon_process.h"
#include "integration/golden_frames.h"
#include "integration/raw_client.h"

namespace mquictt::test {
namespace {

using namespace std::chrono_literals;

// CONNECT "w1" with will "w/t" = "bye" QoS 0 (flags 0x06), keepalive 60.
constexpr const char* kConnectWithWill =
    "10 18 00 04 4d 51 54 54 04 06 00 3c 00 02 77 31 00 03 77 2f 74 00 03 62 79 65";

class QuicBroker : public ::testing::Test {
 protected:
  virtual std::string extra_config() const { return ""; }
  // Goes into the QUIC listener's mapping.
  virtual std::string quic_config() const { return ""; }

  void SetUp() override {
    ASSERT_TRUE(daemon_.start_with_quic(extra_config(), quic_config())) << "daemon did not start:\n"
                                                                        << daemon_.logs();
    ASSERT_NE(daemon_.quic_port(), 0);
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
  }

  std::unique_ptr<RawClient> tcp() {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->connect(daemon_.port()));
    return c;
  }
  std::unique_ptr<RawClient> quic(
      const std::function<void(quic::QuicClientOptions&)>& tweak = nullptr) {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->connect_quic(daemon_.quic_port(), tweak))
        << (c->quic() ? c->quic()->error() : std::string());
    return c;
  }
  // A QUIC client that only runs the handshake (no stream), for refusal tests.
  std::unique_ptr<quic::QuicClient> raw_quic(
      const std::function<void(quic::QuicClientOptions&)>& tweak = nullptr) {
    quic::QuicClientOptions o;
    o.port = daemon_.quic_port();
    o.tls.ca_file = test_cert("ca.pem");
    if (tweak) tweak(o);
    return std::make_unique<quic::QuicClient>(o);
  }

  // How the server ended `c`'s connection (waits for it).
  static ::testing::AssertionResult closed_by_server_with(RawClient& c, uint64_t app_code) {
    quic::QuicClient* q = c.quic();
    if (!q->wait_until([&] { return q->closed(); }, 5s)) {
      return ::testing::AssertionFailure() << "QUIC connection still open";
    }
    const auto& info = q->close_info();
    if (!info || !info->by_peer) return ::testing::AssertionFailure() << q->error();
    if (!info->application || info->code != app_code) {
      return ::testing::AssertionFailure()
             << (info->application ? "application" : "transport") << " error " << info->code
             << ", expected application error " << app_code;
    }
    return ::testing::AssertionSuccess();
  }

  DaemonProcess daemon_;
};

TEST_F(QuicBroker, LogsTheRealQuicPort) {
  EXPECT_NE(
      daemon_.logs().find("listening on quic 127.0.0.1:" + std::to_string(daemon_.quic_port())),
      std::string::npos);
}

TEST_F(QuicBroker, ConnectPingDisconnect) {
  auto c = quic();
  c->send_hex(kConnectQ1);
  EXPECT_TRUE(c->expect_hex(kConnAckOk));
  c->send_hex("c0 00");
  EXPECT_TRUE(c->expect_hex("d0 00"));
  c->send_hex("e0 00");
  // DISCONNECT: the server ends the control stream, then closes the connection normally (0).
  EXPECT_TRUE(c->expect_closed());
  EXPECT_TRUE(closed_by_server_with(*c, 0));
}

// Publish on QUIC, receive on TCP, and the other way round; QoS 0, 1 and 2.
TEST_F(QuicBroker, CrossTransportPublishAndSubscribe) {
  auto q = quic();
  q->send_hex(kConnectQ1);
  ASSERT_TRUE(q->expect_hex(kConnAckOk));
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  // Both subscribe to their own topic at QoS 2: "a/q" (QUIC) and "a/t" (TCP).
  q->send_hex("82 08 00 01 00 03 61 2f 71 02");
  ASSERT_TRUE(q->expect_hex("90 03 00 01 02"));
  t->send_hex("82 08 00 01 00 03 61 2f 74 02");
  ASSERT_TRUE(t->expect_hex("90 03 00 01 02"));

  // QUIC -> TCP: QoS 0 "hi", QoS 1 pid 7, QoS 2 pid 9.
  q->send_hex("30 07 00 03 61 2f 74 68 69");
  EXPECT_TRUE(t->expect_hex("30 07 00 03 61 2f 74 68 69"));
  q->send_hex("32 09 00 03 61 2f 74 00 07 68 69");
  EXPECT_TRUE(q->expect_hex("40 02 00 07"));
  EXPECT_TRUE(t->expect_hex("32 09 00 03 61 2f 74 00 01 68 69"));
  t->send_hex("40 02 00 01");
  q->send_hex("34 09 00 03 61 2f 74 00 09 68 69");
  EXPECT_TRUE(q->expect_hex("50 02 00 09"));
  q->send_hex("62 02 00 09");
  EXPECT_TRUE(q->expect_hex("70 02 00 09"));
  EXPECT_TRUE(t->expect_hex("34 09 00 03 61 2f 74 00 02 68 69"));
  t->send_hex("50 02 00 02");
  EXPECT_TRUE(t->expect_hex("62 02 00 02"));
  t->send_hex("70 02 00 02");

  // TCP -> QUIC, same exchanges.
  t->send_hex("30 07 00 03 61 2f 71 68 6f");
  EXPECT_TRUE(q->expect_hex("30 07 00 03 61 2f 71 68 6f"));
  t->send_hex("32 09 00 03 61 2f 71 00 05 68 6f");
  EXPECT_TRUE(t->expect_hex("40 02 00 05"));
  EXPECT_TRUE(q->expect_hex("32 09 00 03 61 2f 71 00 01 68 6f"));
  q->send_hex("40 02 00 01");
  t->send_hex("34 09 00 03 61 2f 71 00 06 68 6f");
  EXPECT_TRUE(t->expect_hex("50 02 00 06"));
  t->send_hex("62 02 00 06");
  EXPECT_TRUE(t->expect_hex("70 02 00 06"));
  EXPECT_TRUE(q->expect_hex("34 09 00 03 61 2f 71 00 02 68 6f"));
  q->send_hex("50 02 00 02");
  EXPECT_TRUE(q->expect_hex("62 02 00 02"));
  q->send_hex("70 02 00 02");
  EXPECT_TRUE(q->expect_silence());
  EXPECT_TRUE(t->expect_silence());
}

// A large payload (many QUIC packets, beyond the default stream window) crosses intact.
TEST_F(QuicBroker, LargePublishAcrossTransports) {
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  t->send_hex("82 08 00 01 00 03 62 2f 69 00");  // "b/i" QoS 0
  ASSERT_TRUE(t->expect_hex("90 03 00 01 00"));
  auto q = quic();
  q->send_hex(kConnectQ1);
  ASSERT_TRUE(q->expect_hex(kConnAckOk));
  // PUBLISH QoS 0 "b/i" with a 600000-byte payload: remaining length 600005 = c5 cf 24.
  std::vector<uint8_t> pkt = {0x30, 0xc5, 0xcf, 0x24, 0x00, 0x03, 0x62, 0x2f, 0x69};
  for (size_t i = 0; i < 600000; ++i)
    pkt.push_back(static_cast<uint8_t>(i * 7));
  q->send(pkt);
  auto got = t->read_frame(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(*got == pkt);
}

// With quic.gso the server's bursts to a QUIC subscriber go out as UDP GSO sends (the
// in-process transport test GsoBurstsArriveIntact checks that batches happen); a large payload
// still crosses intact, both ways, and the kernel did not refuse GSO.
class QuicBrokerGso : public QuicBroker {
 protected:
  std::string quic_config() const override {
    return "    quic:\n"
           "      gso: true\n";
  }
};

TEST_F(QuicBrokerGso, LargePublishesBothWays) {
  auto q = quic([](quic::QuicClientOptions& o) { o.stream_window_bytes = 4 * 1024 * 1024; });
  q->send_hex(kConnectQ1);
  ASSERT_TRUE(q->expect_hex(kConnAckOk));
  q->send_hex("82 08 00 01 00 03 62 2f 71 00");  // "b/q" QoS 0
  ASSERT_TRUE(q->expect_hex("90 03 00 01 00"));
  auto t = tcp();
  t->send_hex(kConnectT1);
  ASSERT_TRUE(t->expect_hex(kConnAckOk));
  t->send_hex("82 08 00 01 00 03 62 2f 74 00");  // "b/t" QoS 0
  ASSERT_TRUE(t->expect_hex("90 03 00 01 00"));
  // PUBLISH QoS 0 with a 600000-byte payload: remaining length 600005 = c5 cf 24.
  auto publish = [](uint8_t last_topic_byte) {
    std::vector<uint8_t> pkt = {0x30, 0xc5, 0xcf, 0x24, 0x00, 0x03, 0x62, 0x2f, last_topic_byte};
    for (size_t i = 0; i < 600000; ++i)
      pkt.push_back(static_cast<uint8_t>(i * 7 + last_topic_byte));
    return pkt;
  };
  const auto to_quic = publish(0x71);
  t->send(to_quic);
  auto got = q->read_frame(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(*got == to_quic);
  const auto to_tcp = publish(0x74);
  q->send(to_tcp);
  got = t->read_frame(10s);
  ASSERT_TRUE(got.has_value());
  EXPECT_TRUE(*got == to_tcp);
  EXPECT_EQ(daemon_.logs().find("refused UDP GSO"), std::string::npos) << daemon_.logs();
}

// Malformed input over QUIC: the server closes the control stream and the connection normally;
// other clients are unaffected.
TEST_F(QuicBroker, MalformedPacketClosesThatConnection) {
  auto good = quic();
  good->send_hex(kConnectQ2);
  ASSERT_TRUE(good->expect_hex(kConnAckOk));
  auto bad = quic();
  bad->send_hex(kConnectQ1);
  ASSERT_TRUE(bad->expect_hex(kConnAckOk));
  bad->send_hex("32 02 00 00");  // QoS 1 PUBLISH too short for topic and packet id
  EXPECT_TRUE(bad->expect_closed());
  EXPECT_TRUE(closed_by_server_with(*bad, 0));
  good->send_hex("c0 00");
  EXPECT_TRUE(good->expect_hex("d0 00"));
}

// MQTT 5: malformed input gets DISCONNECT 0x81 on the control stream before the close.
TEST_F(QuicBroker, MalformedPacketV5GetsDisconnect) {
  auto c = quic();
  // CONNECT v5 "q5", clean start, keepalive 60, no properties.
  c->send_hex("10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 71 35");
  ASSERT_TRUE(c->read_frame(5s).has_value());  // CONNACK (with properties)
  c->send_hex("32 02 00 00");
  bool got_disconnect = false;
  while (auto f = c->read_frame(3s)) {
    // DISCONNECT with a reason code >= 0x80 (malformed packet or protocol error).
    if (!f->empty() && (*f)[0] == 0xe0) got_disconnect = f->size() >= 3 && (*f)[2] >= 0x80;
  }
  EXPECT_TRUE(got_disconnect);
  EXPECT_TRUE(closed_by_server_with(*c, 0));
}

// EMQX convention: the client closing its control stream is "control stream down" (error 1),
// and for MQTT an abrupt loss, so the will is published.
TEST_F(QuicBroker, ControlStreamFinClosesWithError1AndPublishesWill) {
  auto sub = tcp();
  sub->send_hex(kConnectT1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 77 2f 23 00");  // "w/#"
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 00"));
  auto c = quic();
  c->send_hex(kConnectWithWill);
  ASSERT_TRUE(c->expect_hex(kConnAckOk));
  c->quic()->finish(0);
  EXPECT_TRUE(closed_by_server_with(*c, 1));
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 77 2f 74 62 79 65"));
}

TEST_F(QuicBroker, WrongAlpnIsRefused) {
  auto c = raw_quic([](quic::QuicClientOptions& o) { o.tls.alpn = "h3"; });
  EXPECT_FALSE(c->connect(5s));
  ASSERT_TRUE(c->close_info().has_value()) << c->error();
  EXPECT_EQ(c->close_info()->code, 0x178u);  // CRYPTO_ERROR no_application_protocol
}

TEST_F(QuicBroker, ServerCertificateMustVerify) {
  auto c = raw_quic([](quic::QuicClientOptions& o) { o.tls.ca_file = test_cert("other-ca.pem"); });
  EXPECT_FALSE(c->connect(5s));
}

// SIGTERM: MQTT 5 clients get DISCONNECT 0x8B, then the connection closes normally; the daemon
// exits quickly (no closing period while shutting down).
TEST_F(QuicBroker, GracefulShutdown) {
  auto c = quic();
  c->send_hex("10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 71 35");
  ASSERT_TRUE(c->read_frame(5s).has_value());  // CONNACK
  auto start = std::chrono::steady_clock::now();
  ::kill(daemon_.pid(), SIGTERM);
  // The client must keep acknowledging for the server to finish its graceful close.
  auto disconnect = c->read_frame(5s);
  ASSERT_TRUE(disconnect.has_value());
  ASSERT_GE(disconnect->size(), 3u);
  EXPECT_EQ((*disconnect)[0], 0xe0);
  EXPECT_EQ((*disconnect)[2], 0x8b);  // Server shutting down
  EXPECT_TRUE(closed_by_server_with(*c, 0));
  int status = daemon_.stop(SIGTERM, 10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

class QuicBrokerLimits : public QuicBroker {
 protected:
  std::string quic_config() const override {
    return "    max_connections: 1\n"
           "    quic:\n"
           "      retry: always\n"
           "      congestion_control: bbr\n";
  }
};

TEST_F(QuicBrokerLimits, RetryAndConnectionLimit) {
  auto c = quic();
  EXPECT_EQ(c->quic()->retries(), 1);
  c->send_hex(kConnectQ1);
  EXPECT_TRUE(c->expect_hex(kConnAckOk));
  auto second = raw_quic();
  EXPECT_FALSE(second->connect(5s));
  ASSERT_TRUE(second->close_info().has_value()) << second->error();
  EXPECT_EQ(second->close_info()->code, static_cast<uint64_t>(NGTCP2_CONNECTION_REFUSED));
  // The first one is unaffected.
  c->send_hex("c0 00");
  EXPECT_TRUE(c->expect_hex("d0 00"));
}

// The QUIC idle timeout ends a connection whose client vanished without a word, and that is an
// abrupt loss for MQTT: the will goes out.
class QuicBrokerIdle : public QuicBroker {
 protected:
  std::string quic_config() const override {
    return "    quic:\n"
           "      idle_timeout_ms: 500\n";
  }
};

TEST_F(QuicBrokerIdle, IdleTimeoutPublishesWill) {
  auto sub = tcp();
  sub->send_hex(kConnectT1);
  ASSERT_TRUE(sub->expect_hex(kConnAckOk));
  sub->send_hex("82 08 00 01 00 03 77 2f 23 00");
  ASSERT_TRUE(sub->expect_hex("90 03 00 01 00"));
  auto c = quic();
  c->send_hex(kConnectWithWill);
  ASSERT_TRUE(c->expect_hex(kConnAckOk));
  c->quic()->drop();  // silence: no CONNECTION_CLOSE, no more packets
  EXPECT_TRUE(sub->expect_hex("30 08 00 03 77 2f 74 62 79 65", 5s));
}

// With keepalive_ms the server PINGs an idle client, so the idle timeout never fires while the
// client is alive (and answering).
class QuicBrokerKeepalive : public QuicBroker {
 protected:
  std::string quic_config() const override {
    return "    quic:\n"
           "      idle_timeout_ms: 1000\n"
           "      keepalive_ms: 200\n";
  }
};

TEST_F(QuicBrokerKeepalive, PingsKeepAnIdleConnectionOpen) {
  auto c = quic();
  c->send_hex(kConnectQ1);
  ASSERT_TRUE(c->expect_hex(kConnAckOk));
  // 2.5 idle timeouts without MQTT traffic; the client only acknowledges what the server sends.
  c->quic()->wait_until([] { return false; }, 2500ms);
  EXPECT_FALSE(c->quic()->closed()) << c->quic()->error();
  c->send_hex("c0 00");
  EXPECT_TRUE(c->expect_hex("d0 00"));
}

// With a static secret the restarted daemon recognises its predecessor's connection IDs: the
// client's next packet is answered with a Stateless Reset, so it gives up at once instead of
// waiting for its idle timeout.
class QuicBrokerRestart : public QuicBroker {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mquictt-secret-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::ofstream(dir_ + "/secret") << std::string(32, 'k') << "-more-key-material";
    QuicBroker::SetUp();
  }
  void TearDown() override {
    QuicBroker::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string quic_config() const override {
    return "    quic:\n"
           "      static_secret_file: \"" +
           dir_ + "/secret\"\n";
  }
  std::string dir_;
};

TEST_F(QuicBrokerRestart, StatelessResetAfterRestart) {
  auto c = quic();
  c->send_hex(kConnectQ1);
  ASSERT_TRUE(c->expect_hex(kConnAckOk));
  const uint16_t port = daemon_.quic_port();
  daemon_.stop(SIGKILL);  // no CONNECTION_CLOSE: the client still believes in its connection
  DaemonProcess again;
  const std::string cfg =
      tcp_and_quic_listeners(test_cert("server.pem"), test_cert("server.key"), port) +
      quic_config();
  ASSERT_TRUE(again.start_with_config(cfg, 20s)) << again.logs();
  ASSERT_EQ(again.quic_port(), port);
  auto start = std::chrono::steady_clock::now();
  c->send_hex("c0 00");
  EXPECT_TRUE(c->expect_closed(5s));
  EXPECT_TRUE(c->quic()->stateless_reset()) << c->quic()->error();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

class QuicBrokerQlog : public QuicBroker {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mquictt-qlog-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    qlog_dir_ = tmpl;
    QuicBroker::SetUp();
  }
  void TearDown() override {
    QuicBroker::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(qlog_dir_, ec);
  }
  std::string quic_config() const override {
    return "    quic:\n"
           "      qlog_dir: \"" +
           qlog_dir_ + "\"\n";
  }
  std::string qlog_dir_;
};

TEST_F(QuicBrokerQlog, OneQlogFilePerConnection) {
  {
    auto c = quic();
    c->send_hex(kConnectQ1);
    ASSERT_TRUE(c->expect_hex(kConnAckOk));
    c->send_hex("e0 00");
    EXPECT_TRUE(c->expect_closed());
  }
  size_t files = 0;
  std::string text;
  for (const auto& e : std::filesystem::directory_iterator(qlog_dir_)) {
    ++files;
    EXPECT_EQ(e.path().extension(), ".sqlog");
    std::ifstream in(e.path());
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  EXPECT_EQ(files, 1u);
  EXPECT_NE(text.find("qlog_version"), std::string::npos) << text.substr(0, 200);
}

}  // namespace
}  // namespace mquictt::test
