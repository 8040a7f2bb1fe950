#pragma once
// Base fixture for black-box tests: one fresh mquicttd per test, plus helpers to open raw clients.
// On failure the daemon's log is printed.

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "integration/daemon_process.h"
#include "integration/raw_client.h"

namespace mquictt::test {

class BrokerTest : public ::testing::Test {
 protected:
  // Extra YAML appended to the default test config (a TCP listener on 127.0.0.1:0).
  virtual std::string extra_config() const { return ""; }

  void SetUp() override {
    ASSERT_TRUE(daemon_.start(extra_config())) << "daemon did not start:\n" << daemon_.logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
  }

  std::unique_ptr<RawClient> client() {
    auto c = std::make_unique<RawClient>();
    EXPECT_TRUE(c->connect(daemon_.port()));
    return c;
  }

  DaemonProcess daemon_;
};

}  // namespace mquictt::test
