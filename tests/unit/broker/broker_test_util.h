#pragma once
// Test harness for the MQTT core: a FakeStream that captures what the broker writes, a hex
// helper, and a fixture that owns a Broker on a ManualClock. Wire bytes are the contract: tests
// feed hand-written frames and compare the exact reply bytes.

#include <gtest/gtest.h>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "broker/broker.h"
#include "broker/byte_stream.h"
#include "common/hex.h"
#include "log/log.h"
#include "util/clock.h"

namespace mquictt::broker::test {

using mquictt::test::hex;
using mquictt::test::str_hex;
using mquictt::test::to_hex;
inline std::string norm(std::string_view s) {
  return mquictt::test::norm_hex(s);
}

class FakeStream final : public ByteStream {
 public:
  explicit FakeStream(std::string name = "client") : name_(std::move(name)) {}

  void write(std::span<const uint8_t> bytes) override {
    if (closed) return;
    out.insert(out.end(), bytes.begin(), bytes.end());
    ++writes;
  }
  void write_shared(SharedBytes frame) override {
    if (closed) return;
    ++shared_writes;
    last_shared = frame;
    write(*frame);
  }
  size_t pending_bytes() const override { return pending; }
  void set_reading(bool enabled) override { reading = enabled; }
  void close() override { closed = true; }
  void abort() override { closed = aborted = true; }
  void abort_with_error(uint64_t code) override {
    abort();
    abort_code = code;
  }
  std::string describe() const override { return "fake " + name_; }
  bool early_data() const override { return early; }
  std::string tls_identity() const override { return identity; }
  bool tracing() const override { return trace_packets; }
  // One line per traced packet: "sent PUBLISH len=9 id=1 topic=a/b qos=1 rc=..".
  void trace(const PacketTrace& t) override {
    std::string s = std::string(t.sent ? "sent " : "recv ") + codec::packet_type_name(t.type) +
                    " len=" + std::to_string(t.length);
    if (t.packet_id) s += " id=" + std::to_string(*t.packet_id);
    if (t.qos) s += " topic=" + std::string(t.topic) + " qos=" + std::to_string(*t.qos);
    if (t.reason_code) s += " rc=" + std::to_string(*t.reason_code);
    for (uint8_t r : t.reason_codes)
      s += " rcs=" + std::to_string(r);
    for (const codec::Subscription& sub : t.subscriptions)
      s += " filter=" + sub.filter + "/" + std::to_string(sub.options.qos);
    for (const std::string& f : t.filters)
      s += " filter=" + f;
    if (t.protocol_version) s += " client_id=" + std::string(t.client_id);
    traces.push_back(std::move(s));
  }

  // Everything written since the last take(), as hex.
  std::string take() {
    std::string s = to_hex(out);
    out.clear();
    return s;
  }

  std::vector<uint8_t> out;
  size_t pending = 0;
  bool reading = true;
  bool early = false;  // early_data(): input arrives as 0-RTT until the test says otherwise
  bool closed = false;
  bool aborted = false;
  std::optional<uint64_t> abort_code;  // from abort_with_error()
  int writes = 0;
  int shared_writes = 0;
  SharedBytes last_shared;
  std::string identity;             // tls_identity(): a verified certificate's CN
  bool trace_packets = false;       // tracing(); read by the broker when it takes the stream
  std::vector<std::string> traces;  // trace() calls, formatted as above

 private:
  std::string name_;
};

// One client connection: the stream plus the handler the broker returned for it.
struct Conn {
  FakeStream stream;
  std::unique_ptr<ByteStreamHandler> handler;
  bool notified_closed = false;

  explicit Conn(std::string name) : stream(std::move(name)) {}
  void send(std::string_view hex_bytes) { handler->on_data(hex(hex_bytes)); }
  void send_bytes(std::span<const uint8_t> b) { handler->on_data(b); }
  std::string recv() { return stream.take(); }
  // The transport reports the end of the connection (after our close(), or the peer went away).
  void transport_closed(CloseCause cause = CloseCause::kPeerClosed) {
    if (notified_closed) return;
    notified_closed = true;
    handler->on_closed(cause);
  }
};

class BrokerTest : public ::testing::Test {
 protected:
  // Config whose MQTT 5 CONNACK carries no properties (all limits at their spec defaults), so
  // golden bytes stay short: 20 03 00 00 00.
  static BrokerConfig plain_config() {
    BrokerConfig c;
    c.max_packet_size_bytes = 0;
    c.receive_maximum = 65535;
    c.topic_alias_maximum = 0;
    return c;
  }

  void SetUp() override {
    config = plain_config();
    // Quiet unless asked for: MQUICTT_TEST_LOG=1 shows the broker's log lines.
    if (!std::getenv("MQUICTT_TEST_LOG")) log::set_level(spdlog::level::off);
  }

  Broker& broker() {
    if (!broker_) broker_ = std::make_unique<Broker>(config, clock);
    return *broker_;
  }

  std::unique_ptr<Conn> open(std::string name = "client",
                             ListenerInfo listener = {"tcp", "tcp", 0}) {
    auto c = std::make_unique<Conn>(std::move(name));
    c->handler = broker().accept(c->stream, listener);
    return c;
  }

  // Opens a connection, sends `connect_hex` and checks the CONNACK.
  std::unique_ptr<Conn> connect(std::string_view connect_hex, std::string_view connack_hex,
                                std::string name = "client") {
    auto c = open(std::move(name));
    c->send(connect_hex);
    EXPECT_EQ(c->recv(), norm(connack_hex));
    return c;
  }

  void advance(TimeMs ms) {
    clock.advance(ms);
    broker().tick();
  }

  ManualClock clock;
  BrokerConfig config;

 private:
  std::unique_ptr<Broker> broker_;
};

// --- Frequently used frames ---

// CONNECT, MQTT 3.1.1, clean session 1, keep alive 60, client id "c<n>" (n one digit).
inline std::string connect_v4(char n, bool clean = true, uint16_t keep_alive = 60) {
  std::string s = "10 0e 00 04 4d 51 54 54 04 ";
  s += clean ? "02 " : "00 ";
  s += to_hex(std::vector<uint8_t>{static_cast<uint8_t>(keep_alive >> 8),
                                   static_cast<uint8_t>(keep_alive)});
  s += " 00 02 63 " + to_hex(std::vector<uint8_t>{static_cast<uint8_t>(n)});
  return s;
}

// CONNECT, MQTT 5, keep alive 60, no will, client id "c<n>", optional property block (hex,
// without its length byte; must be < 128 bytes).
inline std::string connect_v5(char n, bool clean = true, std::string_view props = "",
                              uint16_t keep_alive = 60) {
  const std::vector<uint8_t> p = hex(props);
  const size_t remaining = 10 + 1 + p.size() + 4;
  std::vector<uint8_t> f = {0x10,
                            static_cast<uint8_t>(remaining),
                            0,
                            4,
                            'M',
                            'Q',
                            'T',
                            'T',
                            5,
                            static_cast<uint8_t>(clean ? 0x02 : 0x00),
                            static_cast<uint8_t>(keep_alive >> 8),
                            static_cast<uint8_t>(keep_alive),
                            static_cast<uint8_t>(p.size())};
  f.insert(f.end(), p.begin(), p.end());
  f.insert(f.end(), {0, 2, 'c', static_cast<uint8_t>(n)});
  return to_hex(f);
}

inline constexpr std::string_view kConnAckV4 = "20 02 00 00";
inline constexpr std::string_view kConnAckV4Present = "20 02 01 00";
inline constexpr std::string_view kConnAckV5 = "20 03 00 00 00";
inline constexpr std::string_view kConnAckV5Present = "20 03 01 00 00";

}  // namespace mquictt::broker::test
