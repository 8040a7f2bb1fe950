#pragma once
// Command line of mquictt-loadgen (see usage_text() and docs/benchmarks.md).

#include <cstdint>
#include <optional>
#include <string>

#include "codec/packet.h"
#include "link.h"

namespace mquictt::loadgen {

enum class Scenario : uint8_t {
  kFanIn,        // P publishers -> K subscribers (default 8 -> 1) on one topic
  kFanOut,       // P publishers -> K subscribers (default 1 -> 16) on one topic
  kPairs,        // N publisher/subscriber pairs on N topics
  kConnectRate,  // CONNECT -> CONNACK -> DISCONNECT -> close, C in flight
  kIdle,         // hold N idle connections (for RSS per connection)
};

// How closed-loop publishers are held back (see docs/benchmarks.md, "Pacing").
enum class Pace : uint8_t {
  kE2e,     // at most --inflight messages per publisher not yet delivered to every subscriber
  kSocket,  // only the socket (and, for QoS > 0, the --inflight ack window) holds them back
};

struct Options {
  Scenario scenario = Scenario::kFanIn;
  LinkOptions link;  // --transport, --cafile, --insecure, --server-name
  std::string host = "127.0.0.1";
  uint16_t port = 1883;
  bool allow_remote = false;
  double duration_s = 10;
  double warmup_s = 2;
  double drain_s = 5;  // longest wait for outstanding messages after the measurement
  int publishers = 0;  // 0 = scenario default
  int subscribers = 0;
  int pairs = 16;
  uint8_t qos = 0;
  uint32_t size = 64;  // payload bytes, >= kStampSize
  double rate = 0;     // messages/s over all publishers; 0 = closed loop (max)
  uint32_t inflight = 64;
  Pace pace = Pace::kE2e;
  codec::ProtocolVersion version = codec::ProtocolVersion::kV311;
  bool wildcard = false;  // fan-in: per-publisher topics, subscribers use "<prefix>/+"
  int threads = 1;
  int concurrency = 32;    // connect-rate: handshakes in flight; idle: connects in flight
  int connections = 1000;  // idle
  uint16_t keepalive = 0;  // seconds; 0 = no keepalive (nothing is idle for long in a run)
  std::string ready_file;  // idle: created once every connection has its CONNACK
  int broker_pid = 0;      // if set: report its CPU use and (idle) RSS from /proc
  bool verify = false;     // decode every received frame with the full codec decoder
  bool json = false;
  std::string topic_prefix;  // default "loadgen/<pid>"
};

const char* scenario_name(Scenario s);
const char* usage_text();

// Parses argv. Returns nullopt with `error` set on bad input, or with `error` empty for --help.
std::optional<Options> parse_options(int argc, char** argv, std::string& error);

}  // namespace mquictt::loadgen
