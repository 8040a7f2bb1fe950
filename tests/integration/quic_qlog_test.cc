// qlog of MQTT over QUIC (docs/qlog.md) against the real daemon: one file per connection, valid
// JSON-SEQ record by record (checked with Python's json module by tests/scripts/check_qlog.py),
// ngtcp2's QUIC events and the MQTT packet events of a CONNECT / SUBSCRIBE / PUBLISH QoS 1 and 2
// exchange in one time-ordered trace, including a topic that needs JSON escaping.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "codec/packet.h"
#include "common/hex.h"
#include "integration/daemon_process.h"
#include "integration/raw_client.h"
#include "transport/quic/quic_client.h"

namespace mquictt::test {
namespace {

using namespace std::chrono_literals;
using codec::ProtocolVersion;

// Runs tests/scripts/check_qlog.py on `file` with `expected` events; exit status and output.
std::pair<int, std::string> check_qlog(const std::string& file,
                                       const std::vector<std::string>& expected) {
  const std::string script = std::string(MQUICTT_SOURCE_DIR) + "/tests/scripts/check_qlog.py";
  std::vector<std::string> args{"/usr/bin/python3", script, file};
  args.insert(args.end(), expected.begin(), expected.end());
  int fds[2];
  if (pipe(fds) != 0) return {-1, "pipe failed"};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], 1);
    dup2(fds[1], 2);
    close(fds[0]);
    close(fds[1]);
    std::vector<char*> argv;
    for (std::string& a : args)
      argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(fds[1]);
  std::string out;
  char buf[4096];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;)
    out.append(buf, static_cast<size_t>(n));
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

class QuicQlog : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/mquictt-qlog-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(daemon_.start_with_quic("", "    quic:\n      qlog_dir: \"" + dir_ + "\"\n"))
        << daemon_.logs();
  }
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- mquicttd log ----\n" << daemon_.logs() << "----\n";
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::vector<std::filesystem::path> files() const {
    std::vector<std::filesystem::path> out;
    for (const auto& e : std::filesystem::directory_iterator(dir_))
      out.push_back(e.path());
    return out;
  }

  DaemonProcess daemon_;
  std::string dir_;
};

// A topic with a quote, a backslash, a tab, U+0001 and a non-ASCII letter (é).
const std::string kTopic = "q/\"\\\t\x01\xC3\xA9";
// The same as a JSON string (what check_qlog.py compares after decoding both).
const std::string kTopicJson = R"("q/\"\\\t\u0001)"
                               "\xC3\xA9\"";

// An expected MQTT event: name, stream and `data` fields (a JSON object's members, no braces).
std::string event(const char* name, const std::string& data, int64_t stream = 0) {
  return std::string(R"({"name":"mqtt:)") + name + R"(","data":{"stream_id":)" +
         std::to_string(stream) + "," + data + "}}";
}

TEST_F(QuicQlog, MqttPacketsOfAnExchangeAreInTheConnectionsQlog) {
  auto c = std::make_unique<RawClient>();
  ASSERT_TRUE(c->connect_quic(daemon_.quic_port()));
  c->send_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 71 31");  // CONNECT q1, 3.1.1
  ASSERT_TRUE(c->expect_hex("20 02 00 00"));
  const ProtocolVersion v = ProtocolVersion::kV311;
  c->send_packet(codec::Subscribe{1, {{kTopic, {2}}}, {}}, v);
  ASSERT_TRUE(c->expect_hex("90 03 00 01 02"));

  codec::Publish p;
  p.topic = kTopic;
  p.payload = {'h', 'i'};
  p.qos = 1;
  p.packet_id = 7;
  c->send_packet(p, v);  // back to ourselves as QoS 1, id 1, and PUBACK 7
  auto got = c->read_packet(v);
  ASSERT_TRUE(got && std::holds_alternative<codec::Publish>(*got));
  EXPECT_EQ(std::get<codec::Publish>(*got).topic, kTopic);
  ASSERT_TRUE(c->expect_hex("40 02 00 07"));
  c->send_hex("40 02 00 01");

  p.qos = 2;
  p.packet_id = 9;
  c->send_packet(p, v);  // back to ourselves as QoS 2, id 2, and PUBREC 9
  got = c->read_packet(v);
  ASSERT_TRUE(got && std::holds_alternative<codec::Publish>(*got));
  ASSERT_TRUE(c->expect_hex("50 02 00 09"));
  c->send_hex("62 02 00 09");
  ASSERT_TRUE(c->expect_hex("70 02 00 09"));
  c->send_hex("50 02 00 02");
  ASSERT_TRUE(c->expect_hex("62 02 00 02"));
  c->send_hex("70 02 00 02");
  c->send_hex("c0 00");
  ASSERT_TRUE(c->expect_hex("d0 00"));
  c->send_hex("e0 00");
  EXPECT_TRUE(c->expect_closed());
  // Ending the daemon deletes the connection, after which ngtcp2 finishes (and we close) the file.
  EXPECT_EQ(daemon_.stop(SIGTERM, 10s), 0);

  const auto f = files();
  ASSERT_EQ(f.size(), 1u);
  EXPECT_EQ(f[0].extension(), ".sqlog");
  const std::string t = kTopicJson;
  const auto [status, out] = check_qlog(
      f[0], {
                event("packet_received", R"("packet_type":"connect","client_id":"q1",)"
                                         R"("protocol_version":4,"clean_start":true,)"
                                         R"("keep_alive":60,"length":16)"),
                event("packet_sent", R"("packet_type":"connack","session_present":false,)"
                                     R"("reason_code":0)"),
                event("packet_received", R"("packet_type":"subscribe","packet_id":1,)"
                                         R"("subscriptions":[{"topic_filter":)" +
                                             t + R"(,"qos":2}])"),
                event("packet_sent", R"("packet_type":"suback","packet_id":1,"reason_codes":[2])"),
                event("packet_received", R"("packet_type":"publish","packet_id":7,"topic":)" + t +
                                             R"(,"qos":1,"dup":false,"retain":false,)"
                                             R"("payload_length":2)"),
                event("packet_sent",
                      R"("packet_type":"publish","packet_id":1,"topic":)" + t + R"(,"qos":1)"),
                event("packet_sent", R"("packet_type":"puback","packet_id":7,"length":4)"),
                event("packet_received", R"("packet_type":"puback","packet_id":1)"),
                event("packet_received",
                      R"("packet_type":"publish","packet_id":9,"topic":)" + t + R"(,"qos":2)"),
                event("packet_sent",
                      R"("packet_type":"publish","packet_id":2,"topic":)" + t + R"(,"qos":2)"),
                event("packet_sent", R"("packet_type":"pubrec","packet_id":9)"),
                event("packet_received", R"("packet_type":"pubrel","packet_id":9)"),
                event("packet_sent", R"("packet_type":"pubcomp","packet_id":9)"),
                event("packet_received", R"("packet_type":"pubrec","packet_id":2)"),
                event("packet_sent", R"("packet_type":"pubrel","packet_id":2)"),
                event("packet_received", R"("packet_type":"pubcomp","packet_id":2)"),
                event("packet_received", R"("packet_type":"pingreq","length":2)"),
                event("packet_sent", R"("packet_type":"pingresp","length":2)"),
                event("packet_received", R"("packet_type":"disconnect")"),
            });
  EXPECT_EQ(status, 0) << out;
  // ngtcp2's own records are in the same file.
  std::ifstream in(f[0]);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("\"name\":\"transport:packet_received\""), std::string::npos);
}

// Multi-stream mode: packets on a data stream carry that stream's QUIC id.
TEST_F(QuicQlog, DataStreamPacketsCarryTheirStreamId) {
  quic::QuicClientOptions o;
  o.host = "127.0.0.1";
  o.port = daemon_.quic_port();
  o.tls.ca_file = test_cert("ca.pem");
  o.qlog_path = daemon_.dir() + "/client.sqlog";  // the client's own qlog (same QlogWriter)
  auto client = std::make_unique<quic::QuicClient>(o);
  quic::QuicClient& q = *client;
  ASSERT_TRUE(q.connect(5s)) << q.error();
  std::optional<int64_t> control, data;
  ASSERT_TRUE(q.wait_until([&] { return (control = q.open_stream()).has_value(); }, 5s));
  ASSERT_TRUE(q.wait_until([&] { return (data = q.open_stream()).has_value(); }, 5s));
  ASSERT_EQ(*control, 0);
  ASSERT_EQ(*data, 4);
  q.send(0, from_hex("10 0e 00 04 4d 51 54 54 04 02 00 3c 00 02 71 32"));  // CONNECT q2
  ASSERT_TRUE(q.wait_until([&] { return q.available(0) >= 4; }, 5s));
  EXPECT_EQ(to_hex(q.take(0)), norm_hex("20 02 00 00"));
  q.send(4, from_hex("82 08 00 05 00 03 61 2f 62 01"));  // SUBSCRIBE a/b QoS 1, id 5
  ASSERT_TRUE(q.wait_until([&] { return q.available(4) >= 5; }, 5s));
  EXPECT_EQ(to_hex(q.take(4)), norm_hex("90 03 00 05 01"));
  q.send(0, from_hex("e0 00"));
  ASSERT_TRUE(q.wait_until([&] { return q.closed(); }, 5s));
  client.reset();  // ngtcp2_conn_del: the client's qlog is complete
  EXPECT_EQ(check_qlog(o.qlog_path, {}).first, 0) << check_qlog(o.qlog_path, {}).second;
  EXPECT_EQ(daemon_.stop(SIGTERM, 10s), 0);

  const auto f = files();
  ASSERT_EQ(f.size(), 1u);
  const auto [status, out] = check_qlog(
      f[0],
      {
          event("packet_received", R"("packet_type":"connect")", 0),
          event("packet_sent", R"("packet_type":"connack")", 0),
          event("packet_received",
                R"("packet_type":"subscribe","packet_id":5,)"
                R"("subscriptions":[{"topic_filter":"a/b","qos":1}])",
                4),
          event("packet_sent", R"("packet_type":"suback","packet_id":5,"reason_codes":[1])", 4),
          event("packet_received", R"("packet_type":"disconnect")", 0),
      });
  EXPECT_EQ(status, 0) << out;
}

// The checker is able to fail: a record with an unescaped quote, and a missing event.
TEST_F(QuicQlog, CheckerRejectsBrokenFiles) {
  const std::string path = dir_ + "/broken.sqlog";
  const std::string header =
      "\x1e{\"qlog_format\":\"JSON-SEQ\",\"qlog_version\":\"0.3\",\"trace\":{\"common_fields\":"
      "{\"time_format\":\"relative\"}}}\n";
  {
    std::ofstream out(path);
    out << header
        << "\x1e{\"time\":1,\"name\":\"mqtt:packet_received\",\"data\":{\"stream_id\":0,"
           "\"packet_type\":\"publish\",\"length\":9,\"topic\":\"a\"b\"}}\n";
  }
  EXPECT_EQ(check_qlog(path, {}).first, 1);
  {
    std::ofstream out(path);
    out << header
        << "\x1e{\"time\":1,\"name\":\"mqtt:packet_received\",\"data\":{\"stream_id\":0,"
           "\"packet_type\":\"pingreq\",\"length\":2}}\n";
  }
  EXPECT_EQ(check_qlog(path, {}).first, 0);
  EXPECT_EQ(check_qlog(path, {event("packet_received", R"("packet_type":"pingresp")")}).first, 1);
}

}  // namespace
}  // namespace mquictt::test
