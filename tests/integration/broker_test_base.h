#pragma once
// Base fixture for black-box tests: one fresh mquicttd per test, plus helpers to open raw clients.
// On failure the daemon's log is printed.
//
// With MQUICTT_TEST_TRANSPORT=quic in the environment every test of this fixture runs over MQTT
// over QUIC instead: the daemon also gets a QUIC listener and client() connects to it (ctest runs
// the golden-bytes suites both ways; see tests/CMakeLists.txt).

#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "integration/daemon_process.h"
#include "integration/raw_client.h"

namespace mquictt::test {

// True when the golden-bytes suites should run over QUIC (MQUICTT_TEST_TRANSPORT=quic).
inline bool quic_transport_selected() {
  const char* t = std::getenv("MQUICTT_TEST_TRANSPORT");
  return t && std::string(t) == "quic";
}

class BrokerTest : public ::testing::Test {
 protected:
  // Extra YAML appended to the default test config (a TCP listener on 127.0.0.1:0).
  virtual std::string extra_config() const { return ""; }

  void SetUp() override {
    const bool started = quic_transport_selected() ? daemon_.start_with_quic(extra_config())
                                                   : daemon_.start(extra_config());
    ASSERT_TRUE(started) << "daemon did not start:\n" << daemon_.logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
  }

  std::unique_ptr<RawClient> client() {
    auto c = std::make_unique<RawClient>();
    if (quic_transport_selected()) {
      EXPECT_TRUE(c->connect_quic(daemon_.quic_port()))
          << (c->quic() ? c->quic()->error() : std::string());
    } else {
      EXPECT_TRUE(c->connect(daemon_.port()));
    }
    return c;
  }

  DaemonProcess daemon_;
};

}  // namespace mquictt::test
