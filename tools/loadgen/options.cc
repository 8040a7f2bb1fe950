#include "options.h"

#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <functional>
#include <map>
#include <string_view>

#include "wire.h"

namespace mquictt::loadgen {

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::kFanIn:
      return "fan-in";
    case Scenario::kFanOut:
      return "fan-out";
    case Scenario::kPairs:
      return "pairs";
    case Scenario::kConnectRate:
      return "connect-rate";
    case Scenario::kIdle:
      return "idle";
  }
  return "?";
}

const char* usage_text() {
  return R"(usage: mquictt-loadgen [options]

Scenarios (--scenario):
  fan-in        P publishers -> K subscribers on one topic (defaults P=8, K=1)
  fan-out       P publishers -> K subscribers on one topic (defaults P=1, K=16)
  pairs         N publisher/subscriber pairs on N topics (--pairs, default 16)
  connect-rate  CONNECT/CONNACK/DISCONNECT/close cycles, --concurrency in flight
  idle          open --connections idle connections and hold them for --duration

Options:
  --host ADDR          broker address, 127.0.0.1 or ::1 (default 127.0.0.1)
  --port N             broker port (default 1883)
  --transport T        tcp (default), tls (TLS 1.3 over TCP, OpenSSL) or quic (MQTT over
                       QUIC, ALPN "mqtt"); tls and quic always do full handshakes
  --cafile FILE        tls/quic: CA certificate (PEM) to verify the broker with
  --insecure           tls/quic: do not verify the broker's certificate
  --server-name NAME   tls/quic: SNI and certificate name (default localhost)
  --allow-remote       allow a non-loopback numeric address
  --duration S         measured seconds (default 10); idle: hold time
  --warmup S           unmeasured seconds before the measurement (default 2)
  --drain S            longest wait for in-flight messages afterwards (default 5)
  --publishers P       publishers (fan-in / fan-out)
  --subscribers K      subscribers (fan-in / fan-out)
  --pairs N            pairs (pairs scenario)
  --qos Q              0, 1 or 2 for publish and subscribe (default 0)
  --size B             payload bytes, >= 16 (default 64)
  --rate R             open loop: R messages/s over all publishers; 0 = closed loop (default)
  --inflight W         per-publisher window, messages (default 64)
  --pace e2e|socket    closed-loop limit: e2e = W messages not yet delivered to every
                       subscriber (default); socket = only socket backpressure and, for
                       QoS > 0, the W unacknowledged packet ids
  --wildcard           fan-in: publisher i uses <prefix>/in/i, subscribers <prefix>/in/+
  --mqtt-version 4|5   protocol version (default 4 = MQTT 3.1.1)
  --threads T          event-loop threads (default 1)
  --concurrency C      connect-rate: handshakes in flight; idle: connects in flight (32)
  --connections N      idle: connections to hold (default 1000)
  --keepalive S        CONNECT keep alive (default 0 = none)
  --ready-file PATH    idle: create PATH once all connections are up
  --broker-pid PID     report the broker's CPU use (and idle RSS) from /proc
  --verify             decode every received frame with the full codec decoder
  --topic-prefix T     topic prefix (default loadgen/<pid>)
  --json               one JSON object instead of the table
  --help
)";
}

namespace {

bool parse_int(std::string_view s, long long lo, long long hi, long long& out) {
  long long v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < lo || v > hi) return false;
  out = v;
  return true;
}

bool parse_double(const std::string& s, double lo, double hi, double& out) {
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (s.empty() || end != s.c_str() + s.size() || !(v >= lo && v <= hi)) return false;
  out = v;
  return true;
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, std::string& error) {
  Options o;
  bool publishers_set = false;
  bool subscribers_set = false;
  error.clear();

  using Setter = std::function<bool(const std::string&)>;
  auto int_opt = [](auto& field, long long lo, long long hi) -> Setter {
    return [&field, lo, hi](const std::string& v) {
      long long x = 0;
      if (!parse_int(v, lo, hi, x)) return false;
      field = static_cast<std::remove_reference_t<decltype(field)>>(x);
      return true;
    };
  };
  auto dbl_opt = [](double& field, double lo, double hi) -> Setter {
    return [&field, lo, hi](const std::string& v) { return parse_double(v, lo, hi, field); };
  };

  std::map<std::string, Setter, std::less<>> valued = {
      {"--scenario",
       [&](const std::string& v) {
         for (auto s : {Scenario::kFanIn, Scenario::kFanOut, Scenario::kPairs,
                        Scenario::kConnectRate, Scenario::kIdle}) {
           if (v == scenario_name(s)) {
             o.scenario = s;
             return true;
           }
         }
         return false;
       }},
      {"--host",
       [&](const std::string& v) {
         o.host = v;
         return !v.empty();
       }},
      {"--port", int_opt(o.port, 1, 65535)},
      {"--transport",
       [&](const std::string& v) {
         for (auto t : {Transport::kTcp, Transport::kTls, Transport::kQuic}) {
           if (v == transport_name(t)) {
             o.link.transport = t;
             return true;
           }
         }
         return false;
       }},
      {"--cafile",
       [&](const std::string& v) {
         o.link.ca_file = v;
         return !v.empty();
       }},
      {"--server-name",
       [&](const std::string& v) {
         o.link.server_name = v;
         return !v.empty();
       }},
      {"--duration", dbl_opt(o.duration_s, 0.1, 86400)},
      {"--warmup", dbl_opt(o.warmup_s, 0, 3600)},
      {"--drain", dbl_opt(o.drain_s, 0, 3600)},
      {"--publishers",
       [&](const std::string& v) {
         publishers_set = true;
         return int_opt(o.publishers, 1, 100000)(v);
       }},
      {"--subscribers",
       [&](const std::string& v) {
         subscribers_set = true;
         return int_opt(o.subscribers, 1, 100000)(v);
       }},
      {"--pairs", int_opt(o.pairs, 1, 100000)},
      {"--qos", int_opt(o.qos, 0, 2)},
      {"--size", int_opt(o.size, static_cast<long long>(kStampSize), 64 * 1024 * 1024)},
      {"--rate", dbl_opt(o.rate, 0, 1e9)},
      {"--inflight", int_opt(o.inflight, 1, 65535)},
      {"--pace",
       [&](const std::string& v) {
         if (v == "e2e") {
           o.pace = Pace::kE2e;
         } else if (v == "socket") {
           o.pace = Pace::kSocket;
         } else {
           return false;
         }
         return true;
       }},
      {"--mqtt-version",
       [&](const std::string& v) {
         if (v == "4" || v == "3.1.1") {
           o.version = codec::ProtocolVersion::kV311;
         } else if (v == "5") {
           o.version = codec::ProtocolVersion::kV5;
         } else {
           return false;
         }
         return true;
       }},
      {"--threads", int_opt(o.threads, 1, 256)},
      {"--concurrency", int_opt(o.concurrency, 1, 100000)},
      {"--connections", int_opt(o.connections, 1, 1000000)},
      {"--keepalive", int_opt(o.keepalive, 0, 65535)},
      {"--ready-file",
       [&](const std::string& v) {
         o.ready_file = v;
         return true;
       }},
      {"--broker-pid", int_opt(o.broker_pid, 1, 1 << 30)},
      {"--topic-prefix",
       [&](const std::string& v) {
         o.topic_prefix = v;
         return !v.empty() && v.find_first_of("+#") == std::string::npos;
       }},
  };
  std::map<std::string, bool*, std::less<>> flags = {
      {"--allow-remote", &o.allow_remote},
      {"--insecure", &o.link.insecure},
      {"--wildcard", &o.wildcard},
      {"--verify", &o.verify},
      {"--json", &o.json},
  };

  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") return std::nullopt;
    std::string value;
    bool has_value = false;
    if (auto eq = arg.find('='); eq != std::string::npos && arg.starts_with("--")) {
      value = arg.substr(eq + 1);
      arg.resize(eq);
      has_value = true;
    }
    if (auto f = flags.find(arg); f != flags.end()) {
      if (has_value) {
        error = arg + " takes no value";
        return std::nullopt;
      }
      *f->second = true;
      continue;
    }
    auto v = valued.find(arg);
    if (v == valued.end()) {
      error = "unknown option " + arg;
      return std::nullopt;
    }
    if (!has_value) {
      if (i + 1 >= argc) {
        error = arg + " needs a value";
        return std::nullopt;
      }
      value = argv[++i];
    }
    if (!v->second(value)) {
      error = "bad value for " + arg + ": '" + value + "'";
      return std::nullopt;
    }
  }

  switch (o.scenario) {
    case Scenario::kFanIn:
      if (!publishers_set) o.publishers = 8;
      if (!subscribers_set) o.subscribers = 1;
      break;
    case Scenario::kFanOut:
      if (!publishers_set) o.publishers = 1;
      if (!subscribers_set) o.subscribers = 16;
      break;
    case Scenario::kPairs:
      o.publishers = o.pairs;
      o.subscribers = o.pairs;
      break;
    case Scenario::kConnectRate:
    case Scenario::kIdle:
      break;
  }
  if (o.topic_prefix.empty()) o.topic_prefix = "loadgen/" + std::to_string(::getpid());
  return o;
}

}  // namespace mquictt::loadgen
