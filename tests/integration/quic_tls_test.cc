// TLS of the QUIC listener against the real daemon: use_identity_as_username (the client
// certificate's CN becomes the MQTT user name) and certificate reload on SIGHUP.

#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <thread>

#include "integration/daemon_process.h"
#include "integration/raw_client.h"

namespace mquictt::test {
namespace {

using namespace std::chrono_literals;

// MQTT 3.1.1 CONNECT "i1" with user name "bob" (clean session, keep alive 60).
constexpr const char* kConnectBob =
    "10 13 00 04 4d 51 54 54 04 82 00 3c 00 02 69 31 00 03 62 6f 62";
// MQTT 5 CONNECT "i2", no user name.
constexpr const char* kConnectV5 = "10 0f 00 04 4d 51 54 54 05 02 00 3c 00 00 02 69 32";

class QuicTls : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
  }
  // A QUIC client trusting `ca` (and presenting client.pem when `with_cert`).
  std::unique_ptr<RawClient> quic(const std::string& ca, bool with_cert = false) {
    auto c = std::make_unique<RawClient>();
    if (!c->connect_quic(daemon_.quic_port(), [&](quic::QuicClientOptions& o) {
          o.tls.ca_file = test_cert(ca);
          if (with_cert) {
            o.tls.cert_file = test_cert("client.pem");
            o.tls.key_file = test_cert("client.key");
          }
        })) {
      return nullptr;
    }
    return c;
  }
  DaemonProcess daemon_;
};

// --- use_identity_as_username ---

class QuicIdentity : public QuicTls {
 protected:
  void SetUp() override {
    // Continues the listener's tls: block.
    ASSERT_TRUE(daemon_.start_with_quic("", "      ca_file: \"" + test_cert("ca.pem") +
                                                "\"\n      use_identity_as_username: true\n"))
        << daemon_.logs();
  }
};

TEST_F(QuicIdentity, CertificateCnIsTheUserName) {
  auto c = quic("ca.pem", true);
  ASSERT_NE(c, nullptr);
  c->send_hex(kConnectBob);
  ASSERT_TRUE(c->expect_hex("20 02 00 00"));
  // The CN of client.pem replaced "bob" for everything after CONNECT, the log line included.
  EXPECT_TRUE(daemon_.wait_for_log("connected client_id=i1", 5s));
  EXPECT_NE(daemon_.logs().find("username=quic-client"), std::string::npos);
  EXPECT_EQ(daemon_.logs().find("username=bob"), std::string::npos);
}

TEST_F(QuicIdentity, NoCertificateIsNotAuthorized) {
  auto v311 = quic("ca.pem");
  ASSERT_NE(v311, nullptr);
  v311->send_hex(kConnectBob);
  EXPECT_TRUE(v311->expect_hex("20 02 00 05"));  // 5: Not authorized
  EXPECT_TRUE(v311->expect_closed());
  auto v5 = quic("ca.pem");
  ASSERT_NE(v5, nullptr);
  v5->send_hex(kConnectV5);
  EXPECT_TRUE(v5->expect_hex("20 03 00 87 00"));  // 0x87 Not authorized
  EXPECT_TRUE(v5->expect_closed());
}

// Without the option the CONNECT's user name stays, certificate or not.
TEST_F(QuicTls, WithoutTheOptionTheConnectUserNameStays) {
  ASSERT_TRUE(daemon_.start_with_quic("", "      ca_file: \"" + test_cert("ca.pem") + "\"\n"))
      << daemon_.logs();
  auto c = quic("ca.pem", true);
  ASSERT_NE(c, nullptr);
  c->send_hex(kConnectBob);
  ASSERT_TRUE(c->expect_hex("20 02 00 00"));
  EXPECT_TRUE(daemon_.wait_for_log("username=bob", 5s));
}

// --- Certificate reload on SIGHUP ---

class QuicCertReload : public QuicTls {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mquictt-certs-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    install("server.pem", "server.key");  // certificate A, signed by ca.pem
    const std::string cfg = tcp_and_quic_listeners(dir_ + "/cert.pem", dir_ + "/key.pem");
    ASSERT_TRUE(daemon_.start_with_config(cfg, 20s)) << daemon_.logs();
  }
  void TearDown() override {
    QuicTls::TearDown();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  // Overwrites the configured files in place (as a certificate renewal does).
  void install(const std::string& cert, const std::string& key) {
    std::filesystem::copy_file(test_cert(cert), dir_ + "/cert.pem",
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(test_cert(key), dir_ + "/key.pem",
                               std::filesystem::copy_options::overwrite_existing);
  }
  // SIGHUP, then waits for the daemon's `count`-th log line containing `needle`.
  bool hup_and_wait(const std::string& needle, size_t count) {
    kill(daemon_.pid(), SIGHUP);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (std::chrono::steady_clock::now() < deadline) {
      size_t n = 0;
      const std::string logs = daemon_.logs();
      for (size_t at = logs.find(needle); at != std::string::npos; at = logs.find(needle, at + 1))
        ++n;
      if (n >= count) return true;
      std::this_thread::sleep_for(20ms);
    }
    return false;
  }
  static bool mqtt_works(RawClient& c, const char* connect_hex) {
    c.send_hex(connect_hex);
    return c.expect_hex("20 02 00 00");
  }
  std::string dir_;
};

// CONNECT "r1" / "r2" / "r3", 3.1.1.
constexpr const char* kConnectR1 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 72 31";
constexpr const char* kConnectR2 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 72 32";
constexpr const char* kConnectR3 = "10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 72 33";

TEST_F(QuicCertReload, NewConnectionsGetTheNewCertificateOldOnesKeepWorking) {
  auto old_conn = quic("ca.pem");
  ASSERT_NE(old_conn, nullptr);
  ASSERT_TRUE(mqtt_works(*old_conn, kConnectR1));
  EXPECT_EQ(quic("other-ca.pem"), nullptr);  // A is not signed by other-ca

  // A broken file: the error names it and certificate A stays.
  { std::ofstream(dir_ + "/cert.pem") << "-----BEGIN CERTIFICATE-----\nnot base64\n"; }
  ASSERT_TRUE(hup_and_wait("keeping the current certificate", 1)) << daemon_.logs();
  EXPECT_NE(daemon_.logs().find("cannot load certificate " + dir_ + "/cert.pem"),
            std::string::npos);
  auto still_a = quic("ca.pem");
  ASSERT_NE(still_a, nullptr);
  EXPECT_TRUE(mqtt_works(*still_a, kConnectR2));

  // Certificate B (signed by other-ca) in place of A.
  install("other-server.pem", "other-server.key");
  ASSERT_TRUE(hup_and_wait("TLS certificate reloaded", 1)) << daemon_.logs();
  EXPECT_EQ(quic("ca.pem"), nullptr);  // no longer A
  auto b = quic("other-ca.pem");
  ASSERT_NE(b, nullptr);
  EXPECT_TRUE(mqtt_works(*b, kConnectR3));

  // The connection made under A is unaffected (its TLS session keeps A's context).
  old_conn->send_hex("c0 00");
  EXPECT_TRUE(old_conn->expect_hex("d0 00"));
  still_a->send_hex("c0 00");
  EXPECT_TRUE(still_a->expect_hex("d0 00"));
}

}  // namespace
}  // namespace mquictt::test
