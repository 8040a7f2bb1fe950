// A measurement, not run by default: does UDP GSO (quic.gso) help the daemon send a bulk transfer
// over MQTT over QUIC on loopback? A TCP publisher sends large QoS 0 messages one at a time,
// the daemon forwards them to a QUIC subscriber; we report the throughput and the daemon's CPU
// time per forwarded MB, with gso off and on, alternating. Results: docs/quic.md (GSO).
//
//   integration_tests --gtest_also_run_disabled_tests --gtest_filter='*GsoMeasure*'
//
// Environment: MQUICTT_GSO_MB (total MB per run, default 100), MQUICTT_GSO_REPEATS (default 3).
// It still checks what arrives (count and size), so it can fail.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "integration/daemon_process.h"
#include "integration/raw_client.h"

namespace mquictt::test {
namespace {

// utime + stime of `pid` in seconds.
double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// PUBLISH QoS 0 "g/b" with `payload` bytes.
std::vector<uint8_t> big_publish(size_t payload) {
  std::vector<uint8_t> p = {0x30};
  size_t remaining = payload + 5;
  do {
    uint8_t b = remaining % 128;
    remaining /= 128;
    if (remaining) b |= 0x80;
    p.push_back(b);
  } while (remaining);
  for (uint8_t b : {0x00, 0x03, 0x67, 0x2f, 0x62})
    p.push_back(b);
  for (size_t i = 0; i < payload; ++i)
    p.push_back(static_cast<uint8_t>(i * 13));
  return p;
}

struct Sample {
  double seconds = 0;
  double daemon_cpu = 0;
};

Sample one_run(bool gso, size_t messages, const std::vector<uint8_t>& pkt) {
  DaemonProcess daemon;
  EXPECT_TRUE(daemon.start_with_quic(
      "", std::string("    quic:\n      gso: ") + (gso ? "true" : "false") + "\n"))
      << daemon.logs();
  RawClient sub;
  EXPECT_TRUE(sub.connect_quic(daemon.quic_port(), [](quic::QuicClientOptions& o) {
    o.stream_window_bytes = 8 * 1024 * 1024;
    o.connection_window_bytes = 16 * 1024 * 1024;
  }));
  sub.send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 67 73");  // CONNECT "gs"
  EXPECT_TRUE(sub.expect_hex("20 02 00 00"));
  sub.send_hex("82 08 00 01 00 03 67 2f 62 00");  // SUBSCRIBE "g/b" QoS 0
  EXPECT_TRUE(sub.expect_hex("90 03 00 01 00"));
  RawClient pub;
  EXPECT_TRUE(pub.connect(daemon.port()));
  pub.send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 67 70");  // CONNECT "gp"
  EXPECT_TRUE(pub.expect_hex("20 02 00 00"));

  const double cpu0 = cpu_seconds(daemon.pid());
  const auto t0 = std::chrono::steady_clock::now();
  // One message at a time: QoS 0 beyond the subscriber's high watermark would be dropped, and
  // each 1 MB message is already a bulk transfer of ~700 packets.
  size_t got = 0;
  for (; got < messages; ++got) {
    pub.send(pkt);
    auto f = sub.read_frame(30s);
    if (!f || f->size() != pkt.size()) break;
  }
  const auto t1 = std::chrono::steady_clock::now();
  const double cpu1 = cpu_seconds(daemon.pid());
  EXPECT_EQ(got, messages);
  EXPECT_EQ(daemon.logs().find("refused UDP GSO"), std::string::npos);
  return {std::chrono::duration<double>(t1 - t0).count(), cpu1 - cpu0};
}

TEST(QuicGsoMeasure, DISABLED_BulkTransferOnLoopback) {
  const char* mb_env = std::getenv("MQUICTT_GSO_MB");
  const char* rep_env = std::getenv("MQUICTT_GSO_REPEATS");
  const size_t total_mb = mb_env ? std::strtoul(mb_env, nullptr, 10) : 100;
  const int repeats = rep_env ? std::atoi(rep_env) : 3;
  const size_t messages = std::max<size_t>(total_mb, 1);
  const auto pkt = big_publish(1000 * 1000);  // 1 MB payload per message
  std::vector<Sample> off, on;
  for (int r = 0; r < repeats; ++r) {
    for (bool gso : {false, true}) {
      Sample run = one_run(gso, messages, pkt);
      (gso ? on : off).push_back(run);
      std::cout << "gso " << (gso ? "on " : "off") << ": " << messages << " MB in " << run.seconds
                << " s = " << static_cast<double>(messages) / run.seconds << " MB/s; daemon CPU "
                << run.daemon_cpu
                << " s = " << 1000.0 * run.daemon_cpu / static_cast<double>(messages) << " ms/MB\n";
    }
  }
  auto median = [](std::vector<Sample> v, auto field) {
    std::sort(v.begin(), v.end(),
              [&](const Sample& a, const Sample& b) { return a.*field < b.*field; });
    return v[v.size() / 2].*field;
  };
  for (const auto& [name, v] : {std::pair{"off", off}, std::pair{"on ", on}}) {
    std::cout << "median gso " << name << ": "
              << static_cast<double>(messages) / median(v, &Sample::seconds) << " MB/s, daemon "
              << 1000.0 * median(v, &Sample::daemon_cpu) / static_cast<double>(messages)
              << " ms CPU/MB\n";
  }
}

}  // namespace
}  // namespace mquictt::test
