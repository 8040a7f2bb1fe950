// CONNECT / CONNACK, AUTH, keepalive, connect timeout and error handling, as wire bytes.
#include <memory>

#include "broker/authenticator.h"
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

using ConnectTest = BrokerTest;

TEST_F(ConnectTest, V311ConnectGetsConnAck) {
  auto c = open();
  c->send("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 63 31");
  EXPECT_EQ(c->recv(), norm("20 02 00 00"));
  EXPECT_FALSE(c->stream.closed);
  EXPECT_EQ(broker().stats().clients_connected, 1u);
}

TEST_F(ConnectTest, V5ConnAckAnnouncesLimitsThatDifferFromDefaults) {
  config = BrokerConfig{};  // receive max 100, topic alias max 10, max packet size 1 MiB
  auto c = open();
  c->send("10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 63 31");
  EXPECT_EQ(c->recv(), norm("20 0e 00 00 0b 21 00 64 22 00 0a 27 00 10 00 00"));
}

TEST_F(ConnectTest, V5PlainConnAck) {
  auto c = open();
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
}

TEST_F(ConnectTest, ConnAckAnnouncesDisabledFeatures) {
  config.maximum_qos = 1;
  config.retain_available = false;
  config.wildcard_subscription_available = false;
  config.subscription_identifiers_available = false;
  config.shared_subscription_available = false;
  auto c = open();
  c->send(connect_v5('1'));
  // 24 01 | 25 00 | 28 00 | 29 00 | 2a 00
  EXPECT_EQ(c->recv(), norm("20 0d 00 00 0a 24 01 25 00 28 00 29 00 2a 00"));
}

TEST_F(ConnectTest, FirstPacketNotConnectClosesSilently) {
  auto c = open();
  c->send("c0 00");  // PINGREQ
  EXPECT_EQ(c->recv(), "");
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, SecondConnectIsProtocolErrorV5) {
  auto c = connect(connect_v5('1'), kConnAckV5);
  c->send(connect_v5('1'));
  EXPECT_EQ(c->recv(), norm("e0 01 82"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, SecondConnectClosesV311WithoutDisconnect) {
  auto c = connect(connect_v4('1'), kConnAckV4);
  c->send(connect_v4('1'));
  EXPECT_EQ(c->recv(), "");
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, V311EmptyClientIdWithCleanSession0IsRejected) {
  auto c = open();
  c->send("10 0c 00 04 4d 51 54 54 04 00 00 3c 00 00");
  EXPECT_EQ(c->recv(), norm("20 02 00 02"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, V311EmptyClientIdWithCleanSessionIsAssigned) {
  auto c = open();
  c->send("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00");
  EXPECT_EQ(c->recv(), norm("20 02 00 00"));
  EXPECT_FALSE(c->stream.closed);
}

TEST_F(ConnectTest, V5EmptyClientIdGetsAssignedClientIdentifier) {
  auto c = open();
  c->send("10 0d 00 04 4d 51 54 54 05 00 00 3c 00 00 00");  // even with clean start 0
  const std::vector<uint8_t> ack = hex(c->recv());
  // 20 1b 00 00 18 | 12 00 15 "auto-" + 16 hex digits
  ASSERT_EQ(ack.size(), 29u);
  EXPECT_EQ(to_hex(std::span(ack).first(8)), norm("20 1b 00 00 18 12 00 15"));
  EXPECT_EQ(std::string(ack.begin() + 8, ack.begin() + 13), "auto-");
  EXPECT_FALSE(c->stream.closed);
}

TEST_F(ConnectTest, ZeroLengthClientIdCanBeForbidden) {
  config.allow_zero_length_clientid = false;
  auto c4 = open();
  c4->send("10 0c 00 04 4d 51 54 54 04 02 00 3c 00 00");
  EXPECT_EQ(c4->recv(), norm("20 02 00 02"));
  auto c5 = open();
  c5->send("10 0d 00 04 4d 51 54 54 05 02 00 3c 00 00 00");
  EXPECT_EQ(c5->recv(), norm("20 03 00 85 00"));
}

TEST_F(ConnectTest, UnsupportedProtocolLevelGetsV311Refusal) {
  auto c = open();
  c->send("10 0e 00 04 4d 51 54 54 06 02 00 3c 00 02 63 31");
  EXPECT_EQ(c->recv(), norm("20 02 00 01"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, MalformedV5ConnectGetsConnAckWithReason) {
  auto c = open();
  // Reserved connect flag bit 0 set: Malformed Packet.
  c->send("10 0f 00 04 4d 51 54 54 05 03 00 3c 00 00 02 63 31");
  EXPECT_EQ(c->recv(), norm("20 03 00 81 00"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, MalformedV311ConnectJustCloses) {
  auto c = open();
  c->send("10 0e 00 04 4d 51 54 54 04 03 00 3c 00 02 63 31");
  EXPECT_EQ(c->recv(), "");
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, ConnectSplitAcrossReadsByteByByte) {
  auto c = open();
  for (uint8_t b : hex(connect_v4('1')))
    c->send_bytes(std::span(&b, 1));
  EXPECT_EQ(c->recv(), norm(kConnAckV4));
}

TEST_F(ConnectTest, ConnectTimeoutClosesIdleSocket) {
  config.connect_timeout_ms = 5000;
  auto c = open();
  ASSERT_TRUE(broker().next_deadline().has_value());
  EXPECT_EQ(*broker().next_deadline(), clock.now_ms() + 5000);
  advance(4999);
  EXPECT_FALSE(c->stream.closed);
  advance(1);
  EXPECT_TRUE(c->stream.closed);
  EXPECT_EQ(c->recv(), "");
}

TEST_F(ConnectTest, ConnectTimeoutCancelledByConnect) {
  config.connect_timeout_ms = 5000;
  auto c = connect(connect_v4('1', true, 0), kConnAckV4);
  advance(60'000);
  EXPECT_FALSE(c->stream.closed);
  EXPECT_FALSE(broker().next_deadline().has_value());
}

TEST_F(ConnectTest, KeepAliveTimeoutAfterOneAndAHalfIntervals) {
  auto c = connect(connect_v5('1', true, "", 10), kConnAckV5);
  advance(14'999);
  EXPECT_FALSE(c->stream.closed);
  advance(1);
  EXPECT_EQ(c->recv(), norm("e0 01 8d"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, KeepAliveExtendedByAnyPacket) {
  auto c = connect(connect_v4('1', true, 10), kConnAckV4);
  advance(10'000);
  c->send("c0 00");
  EXPECT_EQ(c->recv(), norm("d0 00"));
  advance(14'000);  // 24 s after connect, 14 s after the ping
  EXPECT_FALSE(c->stream.closed);
  advance(1'000);
  EXPECT_TRUE(c->stream.closed);
  EXPECT_EQ(c->recv(), "");  // 3.1.1: no DISCONNECT from the server
}

TEST_F(ConnectTest, ServerKeepAliveCapsV5) {
  config.max_keepalive_s = 30;
  auto c = open();
  c->send(connect_v5('1', true, "", 60));
  EXPECT_EQ(c->recv(), norm("20 06 00 00 03 13 00 1e"));
  advance(44'999);
  EXPECT_FALSE(c->stream.closed);
  advance(1);
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, ServerKeepAliveReplacesZero) {
  config.max_keepalive_s = 30;
  auto c = open();
  c->send(connect_v5('1', true, "", 0));
  EXPECT_EQ(c->recv(), norm("20 06 00 00 03 13 00 1e"));
}

TEST_F(ConnectTest, V311KeepAliveAboveMaximumIsRejected) {
  config.max_keepalive_s = 30;
  auto c = open();
  c->send(connect_v4('1', true, 60));
  EXPECT_EQ(c->recv(), norm("20 02 00 02"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, SessionExpiryIsCappedAndAnnounced) {
  config.max_session_expiry_interval_s = 100;
  auto c = open();
  c->send(connect_v5('1', true, "11 00 00 0e 10"));  // asks for 3600 s
  EXPECT_EQ(c->recv(), norm("20 08 00 00 05 11 00 00 00 64"));
}

TEST_F(ConnectTest, AuthenticationMethodWithoutAuthenticatorIsBadMethod) {
  auto c = open();
  c->send(connect_v5('1', true, "15 00 04 58 54 53 54"));  // method "XTST"
  EXPECT_EQ(c->recv(), norm("20 03 00 8c 00"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, WillQosAboveMaximumIsRejected) {
  config.maximum_qos = 1;
  auto c = open();
  // v5, will flag + will QoS 2 (flags 0x16), will props empty, will topic "w", payload "x"
  c->send("10 16 00 04 4d 51 54 54 05 16 00 3c 00 00 02 63 31 00 00 01 77 00 01 78");
  EXPECT_EQ(c->recv(), norm("20 03 00 9b 00"));
}

// --- Authenticator hooks ---

class PasswordAuth : public Authenticator {
 public:
  uint8_t authenticate(const ClientInfo& info) override {
    if (!info.username || !*info.username || **info.username != "u") return 0x86;
    return 0;
  }
  bool authorize_publish(const ClientInfo&, std::string_view topic, uint8_t, bool) override {
    return topic != "secret";
  }
  bool authorize_subscribe(const ClientInfo&, std::string_view filter, uint8_t) override {
    return filter != "secret";
  }
};

TEST_F(ConnectTest, AuthenticatorRejectsBadUser) {
  broker().set_authenticator(std::make_shared<PasswordAuth>());
  auto c4 = open();
  // user name "x" (flags 0x82)
  c4->send("10 11 00 04 4d 51 54 54 04 82 00 3c 00 02 63 31 00 01 78");
  EXPECT_EQ(c4->recv(), norm("20 02 00 04"));
  auto c5 = open();
  c5->send("10 12 00 04 4d 51 54 54 05 82 00 3c 00 00 02 63 32 00 01 78");
  EXPECT_EQ(c5->recv(), norm("20 03 00 86 00"));
  auto ok = open();
  ok->send("10 11 00 04 4d 51 54 54 04 82 00 3c 00 02 63 33 00 01 75");
  EXPECT_EQ(ok->recv(), norm(kConnAckV4));
}

TEST_F(ConnectTest, AuthorizationDeniesPublishAndSubscribe) {
  broker().set_authenticator(std::make_shared<PasswordAuth>());
  auto c = open();
  c->send("10 12 00 04 4d 51 54 54 05 82 00 3c 00 00 02 63 31 00 01 75");
  EXPECT_EQ(c->recv(), norm(kConnAckV5));
  // SUBSCRIBE "secret" and "ok": 0x87 for the first.
  c->send("82 11 00 01 00 00 06 73 65 63 72 65 74 00 00 02 6f 6b 00");
  EXPECT_EQ(c->recv(), norm("90 05 00 01 00 87 00"));
  // PUBLISH QoS 1 to "secret": PUBACK 0x87.
  c->send("32 0b 00 06 73 65 63 72 65 74 00 05 00");
  EXPECT_EQ(c->recv(), norm("40 03 00 05 87"));
}

// Two-step challenge/response: client sends "a", server challenges "b", client answers "c".
class ChallengeAuth : public Authenticator {
 public:
  class Exchange : public AuthExchange {
   public:
    AuthStep step(std::span<const uint8_t> data) override {
      const std::string d(data.begin(), data.end());
      if (step_++ == 0) return d == "a" ? AuthStep::next({'b'}) : AuthStep::fail(0x87);
      return d == "c" ? AuthStep::success({'d'}) : AuthStep::fail(0x87);
    }
    int step_ = 0;
  };
  std::unique_ptr<AuthExchange> start_auth(std::string_view method, const ClientInfo&) override {
    if (method != "XTST") return nullptr;
    return std::make_unique<Exchange>();
  }
};

TEST_F(ConnectTest, EnhancedAuthenticationExchange) {
  broker().set_authenticator(std::make_shared<ChallengeAuth>());
  auto c = open();
  // props: 15 "XTST", 16 "a"
  c->send(connect_v5('1', true, "15 00 04 58 54 53 54 16 00 01 61"));
  // AUTH 0x18, props: 15 "XTST" 16 "b"
  EXPECT_EQ(c->recv(), norm("f0 0d 18 0b 15 00 04 58 54 53 54 16 00 01 62"));
  c->send("f0 0d 18 0b 15 00 04 58 54 53 54 16 00 01 63");
  // CONNACK with method and data "d"
  EXPECT_EQ(c->recv(), norm("20 0e 00 00 0b 15 00 04 58 54 53 54 16 00 01 64"));
  // Re-authentication (0x19) goes through the same exchange and ends with AUTH 0x00.
  c->send("f0 0d 19 0b 15 00 04 58 54 53 54 16 00 01 61");
  EXPECT_EQ(c->recv(), norm("f0 0d 18 0b 15 00 04 58 54 53 54 16 00 01 62"));
  c->send("f0 0d 18 0b 15 00 04 58 54 53 54 16 00 01 63");
  EXPECT_EQ(c->recv(), norm("f0 0d 00 0b 15 00 04 58 54 53 54 16 00 01 64"));
  EXPECT_FALSE(c->stream.closed);
}

TEST_F(ConnectTest, EnhancedAuthenticationFailure) {
  broker().set_authenticator(std::make_shared<ChallengeAuth>());
  auto c = open();
  c->send(connect_v5('1', true, "15 00 04 58 54 53 54 16 00 01 7a"));
  EXPECT_EQ(c->recv(), norm("20 03 00 87 00"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, PublishDuringAuthExchangeIsProtocolError) {
  broker().set_authenticator(std::make_shared<ChallengeAuth>());
  auto c = open();
  c->send(connect_v5('1', true, "15 00 04 58 54 53 54 16 00 01 61"));
  c->recv();
  c->send("30 05 00 01 61 00 78");
  EXPECT_EQ(c->recv(), norm("20 03 00 82 00"));
  EXPECT_TRUE(c->stream.closed);
}

TEST_F(ConnectTest, ListenerConnectionLimit) {
  auto a = open("a", {"tcp", "tcp", 1});
  auto b = open("b", {"tcp", "tcp", 1});
  EXPECT_FALSE(a->stream.closed);
  EXPECT_TRUE(b->stream.closed);
  b->transport_closed(CloseCause::kLocal);
  b.reset();
  auto c = open("c", {"tcp", "tcp", 1});
  EXPECT_TRUE(c->stream.closed);  // `a` still holds the only slot
  c->transport_closed(CloseCause::kLocal);
  a->transport_closed();
  auto d = open("d", {"tcp", "tcp", 1});
  EXPECT_FALSE(d->stream.closed);
}

}  // namespace
}  // namespace mquictt::broker::test
