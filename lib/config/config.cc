#include "config/config.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <set>
#include <span>
#include <sstream>
#include <utility>

#include <yaml-cpp/yaml.h>

namespace mquictt::config {

std::string_view to_string(Transport t) {
  switch (t) {
    case Transport::kTcp:
      return "tcp";
    case Transport::kTls:
      return "tls";
    case Transport::kQuic:
      return "quic";
    case Transport::kWs:
      return "ws";
  }
  return "?";
}

std::string_view to_string(SharedStrategy s) {
  switch (s) {
    case SharedStrategy::kRoundRobin:
      return "round_robin";
    case SharedStrategy::kRandom:
      return "random";
    case SharedStrategy::kSticky:
      return "sticky";
  }
  return "?";
}

std::string_view to_string(OverflowPolicy p) {
  switch (p) {
    case OverflowPolicy::kDropNewest:
      return "drop_newest";
    case OverflowPolicy::kDisconnect:
      return "disconnect";
  }
  return "?";
}

std::string_view to_string(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace:
      return "trace";
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarning:
      return "warning";
    case LogLevel::kError:
      return "error";
    case LogLevel::kCritical:
      return "critical";
    case LogLevel::kOff:
      return "off";
  }
  return "?";
}

std::string_view to_string(CongestionControl c) {
  switch (c) {
    case CongestionControl::kCubic:
      return "cubic";
    case CongestionControl::kReno:
      return "reno";
    case CongestionControl::kBbr:
      return "bbr";
  }
  return "?";
}

std::string_view to_string(RetryPolicy r) {
  switch (r) {
    case RetryPolicy::kNever:
      return "never";
    case RetryPolicy::kAlways:
      return "always";
    case RetryPolicy::kAboveHandshakes:
      return "when_handshakes_above";
  }
  return "?";
}

std::string ConfigError::to_string() const {
  std::string s = file.empty() ? std::string("<config>") : file;
  if (mark.line > 0) {
    s += ':' + std::to_string(mark.line) + ':' + std::to_string(mark.column);
  }
  s += ": ";
  if (!path.empty()) s += path + ": ";
  s += message;
  return s;
}

std::optional<std::string> parse_bind_address(std::string_view text, ListenerConfig& out) {
  std::string_view host;
  std::string_view port;
  bool ipv6 = false;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return "expected \"[address]:port\", e.g. \"[::]:1883\"";
    }
    port = text.substr(close + 2);
    ipv6 = true;
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return "expected \"address:port\", e.g. \"0.0.0.0:1883\" or \"[::]:1883\"";
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return "IPv6 addresses need brackets, e.g. \"[::1]:1883\"";
    }
  }
  std::string host_str(host);
  unsigned char buf[16];
  if (host_str.empty() || inet_pton(ipv6 ? AF_INET6 : AF_INET, host_str.c_str(), buf) != 1) {
    return std::string("'") + host_str + "' is not a numeric " + (ipv6 ? "IPv6" : "IPv4") +
           " address (host names are not resolved)";
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size() || value > 65535) {
    return "port must be a number between 0 and 65535";
  }
  out.bind = std::string(text);
  out.host = std::move(host_str);
  out.port = static_cast<uint16_t>(value);
  out.ipv6 = ipv6;
  return std::nullopt;
}

ListenerConfig default_listener(uint16_t port) {
  ListenerConfig l;
  l.name = "tcp-" + std::to_string(port);
  l.transport = Transport::kTcp;
  l.host = "127.0.0.1";
  l.port = port;
  l.bind = "127.0.0.1:" + std::to_string(port);
  return l;
}

namespace {

SourceMark to_mark(const YAML::Mark& m) {
  if (m.is_null() || m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

// Edit distance for "did you mean" hints; keys are short, so the quadratic table is fine.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j)
    prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The closest candidate within a distance that still reads as a typo, or "".
std::string closest(std::string_view word, std::span<const std::string_view> candidates) {
  std::string best;
  size_t best_d = std::numeric_limits<size_t>::max();
  size_t limit = std::max<size_t>(2, word.size() / 3);
  for (auto c : candidates) {
    size_t d = edit_distance(word, c);
    // An abbreviation ("warn" for "warning") is as good a hint as a one-letter typo.
    if (word.size() >= 3 && c.substr(0, word.size()) == word) d = std::min<size_t>(d, 1);
    if (d < best_d && d <= limit) {
      best_d = d;
      best = std::string(c);
    }
  }
  return best;
}

std::string quote(std::string_view s) {
  constexpr size_t kMax = 40;
  std::string out = "\"";
  out += s.size() > kMax ? std::string(s.substr(0, kMax)) + "..." : std::string(s);
  out += '"';
  return out;
}

// What a node is, for "expected X, got Y" messages.
std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  return quote(n.Scalar());
}

// A value being read: its node, its key path and the best known position (the value's own mark,
// or the key's when yaml-cpp gives the value none, e.g. for an empty value).
struct Item {
  const YAML::Node& node;
  std::string path;
  SourceMark mark;
};

class Reader {
 public:
  Reader(std::string file, std::vector<ConfigError>& errors,
         std::map<std::string, SourceMark>& marks)
      : file_(std::move(file)), errors_(errors), marks_(marks) {}

  void error(SourceMark mark, std::string path, std::string message) {
    errors_.push_back({file_, mark, std::move(path), std::move(message)});
  }
  void error(const Item& item, std::string message) {
    error(item.mark, item.path, std::move(message));
  }
  void remember(const Item& item) { marks_[item.path] = item.mark; }

  // Plain (unquoted) scalars only: a quoted "100" is a string in YAML, and silently converting it
  // would hide a mistake such as a quoted boolean.
  static bool plain_scalar(const YAML::Node& n) { return n.IsScalar() && n.Tag() != "!"; }

  template <typename T>
  void integer(const Item& item, uint64_t lo, uint64_t hi, T& out) {
    static_assert(std::is_unsigned_v<T>);
    auto fail = [&] {
      error(item, "expected an integer between " + std::to_string(lo) + " and " +
                      std::to_string(hi) + ", got " + describe(item.node));
    };
    if (!plain_scalar(item.node)) return fail();
    std::string_view s = item.node.Scalar();
    if (!s.empty() && s.front() == '+') s.remove_prefix(1);
    uint64_t v = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (s.empty() || ec != std::errc() || end != s.data() + s.size() || v < lo || v > hi) {
      return fail();
    }
    out = static_cast<T>(v);
  }

  void boolean(const Item& item, bool& out) {
    if (plain_scalar(item.node)) {
      const std::string& s = item.node.Scalar();
      if (s == "true" || s == "True" || s == "TRUE") {
        out = true;
        return;
      }
      if (s == "false" || s == "False" || s == "FALSE") {
        out = false;
        return;
      }
    }
    error(item, "expected true or false, got " + describe(item.node));
  }

  void string(const Item& item, size_t max_len, std::string& out) {
    if (!item.node.IsScalar()) {
      return error(item, "expected a string, got " + describe(item.node));
    }
    if (item.node.Scalar().size() > max_len) {
      return error(item, "must be at most " + std::to_string(max_len) + " characters");
    }
    out = item.node.Scalar();
  }

  template <typename E>
  void enumeration(const Item& item, std::span<const std::pair<std::string_view, E>> names,
                   E& out) {
    if (item.node.IsScalar()) {
      for (const auto& [name, value] : names) {
        if (item.node.Scalar() == name) {
          out = value;
          return;
        }
      }
    }
    std::string msg = "expected one of ";
    std::vector<std::string_view> candidates;
    for (size_t i = 0; i < names.size(); ++i) {
      msg += (i ? ", " : "") + std::string(names[i].first);
      candidates.push_back(names[i].first);
    }
    msg += ", got " + describe(item.node);
    if (item.node.IsScalar()) {
      auto hint = closest(item.node.Scalar(), candidates);
      if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
    }
    error(item, std::move(msg));
  }

 private:
  std::string file_;
  std::vector<ConfigError>& errors_;
  std::map<std::string, SourceMark>& marks_;
};

template <typename Target>
struct Field {
  std::string_view key;
  void (*read)(Reader&, const Item&, Target&);
};

// A key that does not belong where it was written but exists elsewhere ("max_packet_size" at the
// top level): the caller supplies where, and the hint names the full path.
using ElsewhereFn = std::string (*)(std::string_view key);

// Reads a mapping against a whitelist of keys. Unknown and duplicate keys are errors; every known
// key is dispatched to its reader. Returns the keys that were present.
template <typename Target>
std::set<std::string> read_map(Reader& r, const Item& item, std::span<const Field<Target>> fields,
                               Target& target, ElsewhereFn elsewhere = nullptr) {
  std::set<std::string> seen;
  if (!item.node.IsMap()) {
    if (item.node.IsNull()) return seen;  // "limits:" with nothing under it: all defaults
    r.error(item, "expected a mapping, got " + describe(item.node));
    return seen;
  }
  auto child_path = [&](const std::string& key) {
    return item.path.empty() ? key : item.path + "." + key;
  };
  for (auto it = item.node.begin(); it != item.node.end(); ++it) {
    // Copies, not references: yaml-cpp's iterator hands out a temporary proxy pair.
    const YAML::Node key_node = it->first;
    const YAML::Node value_node = it->second;
    SourceMark key_mark = to_mark(key_node.Mark());
    if (!key_node.IsScalar()) {
      r.error(key_mark, item.path, "keys must be plain strings, got " + describe(key_node));
      continue;
    }
    const std::string& key = key_node.Scalar();
    const std::string path = child_path(key);
    if (!seen.insert(key).second) {
      r.error(key_mark, path, "duplicate key");
      continue;
    }
    auto field = std::find_if(fields.begin(), fields.end(),
                              [&](const Field<Target>& f) { return f.key == key; });
    if (field == fields.end()) {
      std::string msg = "unknown key";
      std::string other = elsewhere ? elsewhere(key) : std::string();
      if (!other.empty()) {
        msg += " here (did you mean '" + other + "'?)";
      } else {
        std::vector<std::string_view> names;
        for (const auto& f : fields)
          names.push_back(f.key);
        auto hint = closest(key, names);
        if (!hint.empty()) msg += " (did you mean '" + hint + "'?)";
      }
      r.error(key_mark, path, std::move(msg));
      continue;
    }
    // An empty value ("key:") gets the position of whatever follows it from yaml-cpp, which
    // would point at the wrong line; the key's position is the useful one.
    SourceMark value_mark = value_node.IsNull() ? SourceMark{} : to_mark(value_node.Mark());
    Item child{value_node, path, value_mark.line > 0 ? value_mark : key_mark};
    r.remember(child);
    field->read(r, child, target);
  }
  return seen;
}

// ---- Schema -------------------------------------------------------------------------------------
// Each table is the complete whitelist of one mapping; docs/config.md and config/mquictt.yaml list
// the same keys in the same order.

constexpr uint64_t kMaxU16 = 0xFFFF;
constexpr uint64_t kMaxU32 = 0xFFFFFFFF;
// Largest MQTT packet: 1 byte fixed header + 4 bytes remaining length + 268435455.
constexpr uint64_t kMaxMqttPacket = 268'435'460;
constexpr uint64_t kMaxPayload = 268'435'455;
constexpr uint64_t kMaxWatermark = uint64_t{1} << 40;  // 1 TiB: a typo guard, not a real limit

using B = BrokerSettings;
using L = ListenerConfig;

constexpr Field<B> kLimitFields[] = {
    {"max_packet_size", [](Reader& r, const Item& i,
                           B& b) { r.integer(i, 16, kMaxMqttPacket, b.max_packet_size_bytes); }},
    {"message_size_limit", [](Reader& r, const Item& i,
                              B& b) { r.integer(i, 0, kMaxPayload, b.message_size_limit_bytes); }},
    {"receive_maximum",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 1, kMaxU16, b.receive_maximum); }},
    {"max_inflight_messages",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 1, kMaxU16, b.max_inflight_messages); }},
    {"max_queued_messages",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 0, kMaxU32, b.max_queued_messages); }},
    {"max_queued_bytes",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 0, kMaxWatermark, b.max_queued_bytes); }},
    {"queue_qos0_messages",
     [](Reader& r, const Item& i, B& b) { r.boolean(i, b.queue_qos0_messages); }},
    {"overflow_policy",
     [](Reader& r, const Item& i, B& b) {
       static constexpr std::pair<std::string_view, OverflowPolicy> kNames[] = {
           {"drop_newest", OverflowPolicy::kDropNewest},
           {"disconnect", OverflowPolicy::kDisconnect}};
       r.enumeration<OverflowPolicy>(i, kNames, b.overflow_policy);
     }},
    {"max_keepalive",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 0, kMaxU16, b.max_keepalive_s); }},
    {"max_session_expiry_interval",
     [](Reader& r, const Item& i, B& b) {
       r.integer(i, 0, kMaxU32, b.max_session_expiry_interval_s);
     }},
    {"topic_alias_maximum",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 0, kMaxU16, b.topic_alias_maximum); }},
    {"outbound_topic_alias_maximum",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 0, kMaxU16, b.max_topic_alias_outbound); }},
    {"max_client_id_length",
     // MQTT 3.1.1 (3.1.3-5) requires accepting client ids of 1 to 23 characters.
     [](Reader& r, const Item& i, B& b) { r.integer(i, 23, kMaxU16, b.max_client_id_length); }},
    {"connect_timeout_ms",
     [](Reader& r, const Item& i, B& b) { r.integer(i, 100, 3'600'000, b.connect_timeout_ms); }},
    {"outbound_high_watermark_bytes",
     [](Reader& r, const Item& i, B& b) {
       r.integer(i, 1024, kMaxWatermark, b.outbound_high_watermark_bytes);
     }},
    {"outbound_low_watermark_bytes",
     [](Reader& r, const Item& i, B& b) {
       r.integer(i, 0, kMaxWatermark, b.outbound_low_watermark_bytes);
     }},
};

constexpr Field<B> kSharedFields[] = {
    {"enabled",
     [](Reader& r, const Item& i, B& b) { r.boolean(i, b.shared_subscription_available); }},
    {"strategy",
     [](Reader& r, const Item& i, B& b) {
       static constexpr std::pair<std::string_view, SharedStrategy> kNames[] = {
           {"round_robin", SharedStrategy::kRoundRobin},
           {"random", SharedStrategy::kRandom},
           {"sticky", SharedStrategy::kSticky}};
       r.enumeration<SharedStrategy>(i, kNames, b.shared_strategy);
     }},
};

constexpr Field<B> kMqttFields[] = {
    {"maximum_qos", [](Reader& r, const Item& i, B& b) { r.integer(i, 0, 2, b.maximum_qos); }},
    {"retain_available", [](Reader& r, const Item& i, B& b) { r.boolean(i, b.retain_available); }},
    {"wildcard_subscription_available",
     [](Reader& r, const Item& i, B& b) { r.boolean(i, b.wildcard_subscription_available); }},
    {"subscription_identifiers_available",
     [](Reader& r, const Item& i, B& b) { r.boolean(i, b.subscription_identifiers_available); }},
    {"shared_subscriptions",
     [](Reader& r, const Item& i, B& b) { read_map<B>(r, i, kSharedFields, b); }},
    {"allow_zero_length_clientid",
     [](Reader& r, const Item& i, B& b) { r.boolean(i, b.allow_zero_length_clientid); }},
    {"auto_id_prefix", [](Reader& r, const Item& i, B& b) { r.string(i, 64, b.auto_id_prefix); }},
    {"validate_payload_format",
     [](Reader& r, const Item& i, B& b) { r.boolean(i, b.validate_payload_format); }},
};

constexpr Field<LogSettings> kLogFields[] = {
    {"level",
     [](Reader& r, const Item& i, LogSettings& l) {
       static constexpr std::pair<std::string_view, LogLevel> kNames[] = {
           {"trace", LogLevel::kTrace}, {"debug", LogLevel::kDebug},
           {"info", LogLevel::kInfo},   {"warning", LogLevel::kWarning},
           {"error", LogLevel::kError}, {"critical", LogLevel::kCritical},
           {"off", LogLevel::kOff}};
       r.enumeration<LogLevel>(i, kNames, l.level);
     }},
};

constexpr Field<TlsSettings> kTlsFields[] = {
    {"cert_file", [](Reader& r, const Item& i, TlsSettings& t) { r.string(i, 4096, t.cert_file); }},
    {"key_file", [](Reader& r, const Item& i, TlsSettings& t) { r.string(i, 4096, t.key_file); }},
    {"ca_file", [](Reader& r, const Item& i, TlsSettings& t) { r.string(i, 4096, t.ca_file); }},
    {"require_certificate",
     [](Reader& r, const Item& i, TlsSettings& t) { r.boolean(i, t.require_certificate); }},
    {"use_identity_as_username",
     [](Reader& r, const Item& i, TlsSettings& t) { r.boolean(i, t.use_identity_as_username); }},
};

using Q = QuicSettings;

// `retry: {when_handshakes_above: N}`: the only key of the mapping form of `retry`.
constexpr Field<Q> kRetryFields[] = {
    {"when_handshakes_above",
     [](Reader& r, const Item& i, Q& q) {
       r.integer(i, 0, 1'000'000, q.retry_handshakes_above);
       q.retry = RetryPolicy::kAboveHandshakes;
     }},
};

// `early_data: {...}`.
constexpr Field<Q> kEarlyDataFields[] = {
    {"enabled", [](Reader& r, const Item& i, Q& q) { r.boolean(i, q.early_data.enabled); }},
    {"max_publish_qos",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 0, 2, q.early_data.max_publish_qos); }},
    {"anti_replay_window_ms",
     [](Reader& r, const Item& i, Q& q) {
       r.integer(i, 1000, 600'000, q.early_data.anti_replay_window_ms);
     }},
};

constexpr Field<Q> kQuicFields[] = {
    {"idle_timeout_ms",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 0, 86'400'000, q.idle_timeout_ms); }},
    {"handshake_timeout_ms",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 100, 600'000, q.handshake_timeout_ms); }},
    {"max_streams_per_connection",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 1, 1000, q.max_streams_per_connection); }},
    // QUIC carries MQTT packets of up to 256 MiB, but the windows only bound how much a client
    // may send ahead of what the broker consumed; 1 KiB keeps a connection able to progress.
    {"stream_window_bytes",
     [](Reader& r, const Item& i, Q& q) {
       r.integer(i, 1024, uint64_t{1} << 30, q.stream_window_bytes);
     }},
    {"connection_window_bytes",
     [](Reader& r, const Item& i, Q& q) {
       r.integer(i, 1024, uint64_t{1} << 32, q.connection_window_bytes);
     }},
    {"node_id", [](Reader& r, const Item& i, Q& q) { r.integer(i, 0, 255, q.node_id); }},
    {"congestion_control",
     [](Reader& r, const Item& i, Q& q) {
       static constexpr std::pair<std::string_view, CongestionControl> kNames[] = {
           {"cubic", CongestionControl::kCubic},
           {"reno", CongestionControl::kReno},
           {"bbr", CongestionControl::kBbr}};
       r.enumeration<CongestionControl>(i, kNames, q.congestion_control);
     }},
    {"initial_rtt_ms",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 1, 60'000, q.initial_rtt_ms); }},
    // RFC 9000 18.2: values of 2^14 ms or more are invalid.
    {"max_ack_delay_ms",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 0, 16'383, q.max_ack_delay_ms); }},
    {"keepalive_ms",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 0, 86'400'000, q.keepalive_ms); }},
    {"retry",
     [](Reader& r, const Item& i, Q& q) {
       if (i.node.IsMap()) {
         auto seen = read_map<Q>(r, i, kRetryFields, q);
         if (!seen.count("when_handshakes_above")) {
           r.error(i, "expected never, always or {when_handshakes_above: N}");
         }
         return;
       }
       static constexpr std::pair<std::string_view, RetryPolicy> kNames[] = {
           {"never", RetryPolicy::kNever}, {"always", RetryPolicy::kAlways}};
       r.enumeration<RetryPolicy>(i, kNames, q.retry);
     }},
    {"qlog_dir", [](Reader& r, const Item& i, Q& q) { r.string(i, 4096, q.qlog_dir); }},
    {"gso", [](Reader& r, const Item& i, Q& q) { r.boolean(i, q.gso); }},
    {"static_secret_file",
     [](Reader& r, const Item& i, Q& q) { r.string(i, 4096, q.static_secret_file); }},
    {"session_tickets", [](Reader& r, const Item& i, Q& q) { r.boolean(i, q.session_tickets); }},
    // RFC 8446 4.6.1: at most 7 days.
    {"ticket_lifetime_s",
     [](Reader& r, const Item& i, Q& q) { r.integer(i, 60, 604'800, q.ticket_lifetime_s); }},
    {"early_data", [](Reader& r, const Item& i, Q& q) { read_map<Q>(r, i, kEarlyDataFields, q); }},
};

bool valid_listener_name(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

constexpr Field<L> kListenerFields[] = {
    {"name",
     [](Reader& r, const Item& i, L& l) {
       if (!i.node.IsScalar()) return r.error(i, "expected a string, got " + describe(i.node));
       const std::string& name = i.node.Scalar();
       if (name.empty() || name.size() > 64 || !valid_listener_name(name)) {
         return r.error(i, "expected 1 to 64 letters, digits, '-', '_' or '.', got " + quote(name));
       }
       l.name = name;
     }},
    {"transport",
     [](Reader& r, const Item& i, L& l) {
       static constexpr std::pair<std::string_view, Transport> kNames[] = {
           {"tcp", Transport::kTcp},
           {"tls", Transport::kTls},
           {"quic", Transport::kQuic},
           {"ws", Transport::kWs}};
       r.enumeration<Transport>(i, kNames, l.transport);
     }},
    {"protocol",
     [](Reader& r, const Item& i, L& l) {
       static constexpr std::pair<std::string_view, int> kNames[] = {{"mqtt", 0}};
       int unused = 0;
       r.enumeration<int>(i, kNames, unused);
       l.protocol = "mqtt";
     }},
    // Only stored here: whether the port may be left out depends on the transport, which can
    // come later in the mapping; read_listeners() parses it.
    {"bind",
     [](Reader& r, const Item& i, L& l) {
       if (!i.node.IsScalar()) {
         return r.error(i, "expected \"address:port\", got " + describe(i.node));
       }
       l.bind = i.node.Scalar();
     }},
    {"max_connections",
     [](Reader& r, const Item& i, L& l) { r.integer(i, 0, kMaxU32, l.max_connections); }},
    {"tcp_nodelay", [](Reader& r, const Item& i, L& l) { r.boolean(i, l.tcp_nodelay); }},
    {"tls",
     [](Reader& r, const Item& i, L& l) {
       TlsSettings tls;
       read_map<TlsSettings>(r, i, kTlsFields, tls);
       l.tls = std::move(tls);
     }},
    {"quic",
     [](Reader& r, const Item& i, L& l) {
       QuicSettings quic;
       read_map<QuicSettings>(r, i, kQuicFields, quic);
       l.quic = std::move(quic);
     }},
};

// A bare address ("0.0.0.0", "[::]") with no port: allowed for QUIC listeners only.
bool is_portless_address(std::string_view text) {
  if (!text.empty() && text.front() == '[') return text.back() == ']';
  return !text.empty() && text.find(':') == std::string_view::npos;
}

void parse_listener_bind(Reader& r, const std::map<std::string, SourceMark>& marks,
                         const std::string& path, ListenerConfig& l) {
  auto it = marks.find(path);
  SourceMark mark = it == marks.end() ? SourceMark{} : it->second;
  std::string text = l.bind;
  if (l.transport == Transport::kQuic && is_portless_address(text)) {
    text += ":" + std::to_string(kDefaultQuicPort);
  }
  l.bind.clear();
  if (auto err = parse_bind_address(text, l)) r.error(mark, path, *err);
}

// Where a misplaced key really lives, for hints such as "did you mean 'limits.max_packet_size'?".
std::string find_elsewhere(std::string_view key, std::string_view except_section) {
  auto search = [&](std::string_view section, auto fields) -> std::string {
    if (section == except_section) return {};
    for (const auto& f : fields) {
      if (f.key == key) return std::string(section) + "." + std::string(key);
    }
    return {};
  };
  for (auto s : {search("limits", std::span(kLimitFields)), search("mqtt", std::span(kMqttFields)),
                 search("log", std::span(kLogFields))}) {
    if (!s.empty()) return s;
  }
  return {};
}

void read_listeners(Reader& r, const Item& item, Config& c) {
  if (!item.node.IsSequence()) {
    return r.error(item, "expected a list of listeners, got " + describe(item.node));
  }
  if (item.node.size() == 0) {
    return r.error(item,
                   "expected at least one listener (omit 'listeners' for the default "
                   "127.0.0.1:1883)");
  }
  for (size_t idx = 0; idx < item.node.size(); ++idx) {
    const YAML::Node entry = item.node[idx];
    SourceMark mark = to_mark(entry.Mark());
    Item li{entry, item.path + "[" + std::to_string(idx) + "]", mark.line > 0 ? mark : item.mark};
    r.remember(li);
    ListenerConfig l;
    if (!entry.IsMap()) {
      r.error(li, "expected a mapping with at least 'bind', got " + describe(entry));
      continue;
    }
    auto seen = read_map<ListenerConfig>(r, li, kListenerFields, l);
    if (!seen.count("bind")) {
      r.error(li, "missing required key 'bind' (e.g. bind: \"0.0.0.0:1883\")");
    } else if (!l.bind.empty()) {
      parse_listener_bind(r, c.marks, li.path + ".bind", l);
    }
    if (!seen.count("name"))
      l.name = std::string(to_string(l.transport)) + "-" + std::to_string(l.port);
    c.listeners.push_back(std::move(l));
  }
}

constexpr Field<Config> kRootFields[] = {
    {"listeners", read_listeners},
    {"limits",
     [](Reader& r, const Item& i, Config& c) {
       read_map<B>(r, i, kLimitFields, c.broker,
                   [](std::string_view k) { return find_elsewhere(k, "limits"); });
     }},
    {"mqtt",
     [](Reader& r, const Item& i, Config& c) {
       read_map<B>(r, i, kMqttFields, c.broker,
                   [](std::string_view k) { return find_elsewhere(k, "mqtt"); });
     }},
    {"log",
     [](Reader& r, const Item& i, Config& c) {
       read_map<LogSettings>(r, i, kLogFields, c.log,
                             [](std::string_view k) { return find_elsewhere(k, "log"); });
     }},
};

std::vector<ConfigError> validate_impl(const Config& c, const std::set<std::string>& bad_paths);

void sort_errors(std::vector<ConfigError>& errors) {
  std::stable_sort(errors.begin(), errors.end(), [](const ConfigError& a, const ConfigError& b) {
    // Errors without a position (I/O, defaults) go last.
    auto key = [](const ConfigError& e) {
      return std::pair(e.mark.line > 0 ? e.mark.line : std::numeric_limits<int>::max(),
                       e.mark.column);
    };
    return key(a) < key(b);
  });
}

}  // namespace

std::vector<std::string> known_keys() {
  std::vector<std::string> keys;
  auto add = [&](std::string_view prefix, auto fields) {
    for (const auto& f : fields)
      keys.push_back(std::string(prefix) + std::string(f.key));
  };
  add("", std::span(kRootFields));
  add("listeners[].", std::span(kListenerFields));
  add("listeners[].tls.", std::span(kTlsFields));
  add("listeners[].quic.", std::span(kQuicFields));
  add("listeners[].quic.retry.", std::span(kRetryFields));
  add("listeners[].quic.early_data.", std::span(kEarlyDataFields));
  add("limits.", std::span(kLimitFields));
  add("mqtt.", std::span(kMqttFields));
  add("mqtt.shared_subscriptions.", std::span(kSharedFields));
  add("log.", std::span(kLogFields));
  return keys;
}

LoadResult parse(std::string_view yaml, std::string file_name) {
  LoadResult result;
  result.config.source_file = file_name;
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::Exception& e) {
    // Syntax errors stop the parser, so there is only ever one.
    result.errors.push_back({file_name, to_mark(e.mark), "", "invalid YAML: " + e.msg});
    return result;
  }
  Reader reader(file_name, result.errors, result.config.marks);
  if (root.IsDefined() && !root.IsNull()) {
    Item item{root, "", to_mark(root.Mark())};
    if (!root.IsMap()) {
      reader.error(item, "expected a mapping at the top level, got " + describe(root));
      return result;
    }
    read_map<Config>(reader, item, kRootFields, result.config,
                     [](std::string_view k) { return find_elsewhere(k, ""); });
  }
  // Cross-field checks run too (all errors are reported at once), but skip values that did not
  // parse: a listener with a bad bind would otherwise also "collide" with its neighbours.
  std::set<std::string> bad_paths;
  for (const auto& e : result.errors)
    bad_paths.insert(e.path);
  for (auto& e : validate_impl(result.config, bad_paths))
    result.errors.push_back(std::move(e));
  sort_errors(result.errors);
  return result;
}

LoadResult load_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.config.source_file = path;
    result.errors.push_back(
        {path, {}, "", std::string("cannot open the configuration file: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), path);
}

std::vector<ConfigError> validate(const Config& config) {
  return validate_impl(config, {});
}

namespace {

std::vector<ConfigError> validate_impl(const Config& c, const std::set<std::string>& bad_paths) {
  std::vector<ConfigError> errors;
  // True if `path` or anything below it failed to parse.
  auto is_bad = [&](const std::string& path) {
    for (auto it = bad_paths.lower_bound(path); it != bad_paths.end(); ++it) {
      if (it->compare(0, path.size(), path) != 0) break;
      if (it->size() == path.size() || (*it)[path.size()] == '.') return true;
    }
    return false;
  };
  auto mark_of = [&](const std::string& path) {
    auto it = c.marks.find(path);
    return it == c.marks.end() ? SourceMark{} : it->second;
  };
  auto error = [&](const std::string& path, std::string msg) {
    errors.push_back({c.source_file, mark_of(path), path, std::move(msg)});
  };

  for (size_t i = 0; i < c.listeners.size(); ++i) {
    const ListenerConfig& l = c.listeners[i];
    const std::string p = "listeners[" + std::to_string(i) + "]";
    if (is_bad(p)) continue;
    if (l.transport != Transport::kTcp && l.transport != Transport::kQuic) {
      error(p + ".transport", "transport '" + std::string(to_string(l.transport)) +
                                  "' is not supported yet (only tcp and quic are)");
    }
    if (l.quic && l.transport != Transport::kQuic) {
      error(p + ".quic", "quic settings need transport: quic");
    }
    if (l.tls && l.transport != Transport::kTls && l.transport != Transport::kQuic) {
      error(p + ".tls", "tls settings need transport: tls or quic");
    }
    if (l.tls && l.tls->require_certificate && l.tls->ca_file.empty()) {
      error(p + ".tls.require_certificate", "needs tls.ca_file to verify client certificates");
    }
    if (l.tls && l.tls->use_identity_as_username && l.tls->ca_file.empty()) {
      error(p + ".tls.use_identity_as_username", "needs tls.ca_file to verify client certificates");
    }
    if ((l.transport == Transport::kTls || l.transport == Transport::kQuic) &&
        (!l.tls || l.tls->cert_file.empty() || l.tls->key_file.empty())) {
      error(p, "transport " + std::string(to_string(l.transport)) +
                   " needs tls.cert_file and tls.key_file");
    }
    for (size_t j = 0; j < i; ++j) {
      const ListenerConfig& o = c.listeners[j];
      const std::string op = "listeners[" + std::to_string(j) + "]";
      if (is_bad(op)) continue;
      if (o.name == l.name) {
        error(c.marks.count(p + ".name") ? p + ".name" : p,
              "duplicate listener name '" + l.name + "' (also used by " + op + ")");
      }
      // Port 0 asks the kernel for a fresh port each time, so it never collides.
      bool same_socket_type =
          (o.transport == Transport::kQuic) == (l.transport == Transport::kQuic);
      if (l.port != 0 && o.port == l.port && o.host == l.host && same_socket_type) {
        error(p + ".bind", "address " + l.bind + " is already used by " + op);
      }
    }
  }

  const BrokerSettings& b = c.broker;
  if (!is_bad("limits.outbound_low_watermark_bytes") &&
      !is_bad("limits.outbound_high_watermark_bytes") &&
      b.outbound_low_watermark_bytes >= b.outbound_high_watermark_bytes) {
    error("limits.outbound_low_watermark_bytes",
          "must be lower than limits.outbound_high_watermark_bytes (" +
              std::to_string(b.outbound_high_watermark_bytes) + ")");
  }
  return errors;
}

}  // namespace

}  // namespace mquictt::config
