// use_identity_as_username (ListenerInfo): the verified certificate's CN replaces the CONNECT
// user name for the authenticator and the hooks after it; no certificate, no connection.
#include "broker/authenticator.h"
#include "broker_test_util.h"

namespace mquictt::broker::test {
namespace {

// Records the user name of every authenticate() and publish authorization.
class RecordingAuth final : public Authenticator {
 public:
  uint8_t authenticate(const ClientInfo& info) override {
    seen.push_back(info.username && *info.username ? **info.username : "<none>");
    return 0;
  }
  bool authorize_publish(const ClientInfo& info, std::string_view, uint8_t, bool) override {
    seen.push_back("pub:" + (info.username && *info.username ? **info.username : "<none>"));
    return true;
  }
  std::vector<std::string> seen;
};

class IdentityTest : public BrokerTest {
 protected:
  void SetUp() override {
    BrokerTest::SetUp();
    broker().set_authenticator(auth);
  }
  std::unique_ptr<Conn> open_with(std::string identity, bool use_identity) {
    auto c = std::make_unique<Conn>("c");
    c->stream.identity = std::move(identity);
    c->handler = broker().accept(c->stream, {"quic", "quic", 0, use_identity});
    return c;
  }
  std::shared_ptr<RecordingAuth> auth = std::make_shared<RecordingAuth>();
};

// CONNECT 3.1.1, client id "c1", user name "bob".
constexpr std::string_view kConnectBob =
    "10 13 00 04 4d 51 54 54 04 82 00 3c 00 02 63 31 00 03 62 6f 62";

TEST_F(IdentityTest, CertificateCnReplacesTheUserName) {
  auto c = open_with("quic-client", true);
  c->send(kConnectBob);
  EXPECT_EQ(c->recv(), norm(kConnAckV4));
  c->send("30 07 00 03 61 2f 62 68 69");
  EXPECT_EQ(auth->seen, (std::vector<std::string>{"quic-client", "pub:quic-client"}));
}

TEST_F(IdentityTest, OffKeepsTheConnectUserName) {
  auto c = open_with("quic-client", false);
  c->send(kConnectBob);
  EXPECT_EQ(c->recv(), norm(kConnAckV4));
  EXPECT_EQ(auth->seen, (std::vector<std::string>{"bob"}));
}

TEST_F(IdentityTest, NoCertificateIsNotAuthorized) {
  auto v4 = open_with("", true);
  v4->send(kConnectBob);
  EXPECT_EQ(v4->recv(), norm("20 02 00 05"));  // 3.1.1: 5 Not authorized
  EXPECT_TRUE(v4->stream.closed);
  auto v5 = open_with("", true);
  v5->send(connect_v5('2'));
  EXPECT_EQ(v5->recv(), norm("20 03 00 87 00"));  // 0x87 Not authorized
  EXPECT_TRUE(v5->stream.closed);
  EXPECT_TRUE(auth->seen.empty());  // refused before the authenticator
}

}  // namespace
}  // namespace mquictt::broker::test
