#pragma once
// The daemon's configuration as plain data. lib/config is the only code that reads YAML; it knows
// nothing about the broker, sockets or the event loop (lib/server maps these structs onto
// broker::BrokerConfig and the listeners).
//
// Loading is strict and complete: unknown keys (with a "did you mean" hint), duplicate keys, wrong
// types and out-of-range values are all errors, every error carries file:line:col and the key
// path, and *all* errors of a document are returned together, never just the first one.
//
// YAML layout (docs/config.md is the reference, config/mquictt.yaml the annotated default):
//   listeners: [{name, transport, protocol, bind, max_connections, tcp_nodelay, tls: {...},
//                quic: {...}}]
//   limits:    {max_packet_size, receive_maximum, max_inflight_messages, ...}
//   mqtt:      {maximum_qos, retain_available, shared_subscriptions: {enabled, strategy}, ...}
//   log:       {level}
//
// Units are in the struct field names (_s seconds, _ms milliseconds, _bytes bytes); the YAML keys
// follow mosquitto's names where one exists (max_keepalive is in seconds, as in MQTT).

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mquictt::config {

enum class Transport : uint8_t { kTcp, kTls, kQuic, kWs };
enum class SharedStrategy : uint8_t { kRoundRobin, kRandom, kSticky };
enum class OverflowPolicy : uint8_t { kDropNewest, kDisconnect };
enum class LogLevel : uint8_t { kTrace, kDebug, kInfo, kWarning, kError, kCritical, kOff };
enum class CongestionControl : uint8_t { kCubic, kReno, kBbr };
enum class RetryPolicy : uint8_t {
  kNever,            // never send Retry
  kAlways,           // validate every new client address with a Retry round trip
  kAboveHandshakes,  // only while more than retry_handshakes_above handshakes are in progress
};

std::string_view to_string(Transport t);
std::string_view to_string(SharedStrategy s);
std::string_view to_string(OverflowPolicy p);
std::string_view to_string(LogLevel l);
std::string_view to_string(CongestionControl c);
std::string_view to_string(RetryPolicy r);

// Position in a YAML file, 1-based. line == 0 means "unknown" (e.g. a default value).
struct SourceMark {
  int line = 0;
  int column = 0;
};

struct ConfigError {
  std::string file;  // as given to load_file()/parse(); may be empty
  SourceMark mark;
  std::string path;  // key path: "limits.max_packet_size", "listeners[1].bind"
  std::string message;

  // "broker.yaml:12:5: limits.max_packet_size: expected an integer between 16 and 268435460"
  std::string to_string() const;
};

// Certificate settings of a TLS or QUIC listener. Used by QUIC listeners; TLS listeners are not
// implemented yet, so a listener with transport: tls is rejected.
struct TlsSettings {
  std::string cert_file;
  std::string key_file;
  std::string ca_file;               // empty: client certificates are not verified
  bool require_certificate = false;  // needs ca_file
  // The verified client certificate's CN is the MQTT user name (mosquitto's option); clients
  // without one are refused with CONNACK Not authorized. Needs ca_file.
  bool use_identity_as_username = false;
};

// QUIC transport settings of a `transport: quic` listener (the `quic:` block). Defaults follow
// the EMQX/NanoMQ conventions where they have one (docs/quic.md).
struct QuicSettings {
  uint32_t idle_timeout_ms = 120'000;              // QUIC max_idle_timeout; 0 = no idle timeout
  uint32_t handshake_timeout_ms = 10'000;          // give up a handshake after this long
  uint32_t max_streams_per_connection = 10;        // client-initiated bidirectional streams
  uint64_t stream_window_bytes = 256 * 1024;       // initial per-stream receive window
  uint64_t connection_window_bytes = 1024 * 1024;  // initial per-connection receive window
  uint8_t node_id = 0;  // first byte of every server connection ID (CID-based load balancing)
  CongestionControl congestion_control = CongestionControl::kCubic;
  uint32_t initial_rtt_ms = 333;  // RTT assumed before the first sample (RFC 9002's 333 ms)
  uint32_t max_ack_delay_ms = 25;
  uint32_t keepalive_ms = 0;  // send a QUIC PING after this much idle time; 0 = never
  RetryPolicy retry = RetryPolicy::kNever;
  uint32_t retry_handshakes_above = 0;  // for RetryPolicy::kAboveHandshakes
  std::string qlog_dir;                 // one qlog file per connection; empty = no qlog
  // Send bursts of same-size packets as one UDP GSO sendmsg (UDP_SEGMENT); falls back to one by
  // one if the kernel refuses. On by default: less CPU per bulk MB, no downside measured
  // (docs/quic.md, GSO).
  bool gso = true;
  // File with the key material for stateless resets and address validation tokens (at least 32
  // bytes, e.g. from /dev/urandom). Empty: random per process, so a restarted server cannot
  // reset its predecessor's connections or accept its tokens.
  std::string static_secret_file;
  // Session resumption: the server issues TLS session tickets (keys derive from
  // static_secret_file when set, so tickets survive restarts). Off: every handshake is full.
  bool session_tickets = true;
  // How long a ticket is valid; GnuTLS rotates the key it seals tickets with every 3x this.
  uint32_t ticket_lifetime_s = 21'600;
  // 0-RTT for resuming clients (needs session_tickets; not with client certificates).
  struct EarlyData {
    bool enabled = true;
    uint8_t max_publish_qos = 0;              // higher-QoS PUBLISH in 0-RTT waits for the handshake
    uint32_t anti_replay_window_ms = 10'000;  // ClientHello age tolerance and replay record
  } early_data;
};

struct ListenerConfig {
  std::string name;  // unique; default "<transport>-<port>", e.g. "tcp-1883"
  Transport transport = Transport::kTcp;
  std::string protocol = "mqtt";  // the only protocol so far (MQTT 3.1.1 and 5.0 on one port)
  std::string bind;               // as written: "0.0.0.0:1883", "[::]:1883"
  std::string host;               // numeric address without brackets: "0.0.0.0", "::"
  uint16_t port = 1883;           // 0 = kernel-chosen (tests)
  bool ipv6 = false;
  uint32_t max_connections = 0;  // 0 = unlimited
  bool tcp_nodelay = true;       // disable Nagle on accepted sockets
  std::optional<TlsSettings> tls;
  std::optional<QuicSettings> quic;  // only on transport: quic (defaults when absent)
};

// UDP port of a QUIC listener whose bind has no port (EMQX / NanoMQ convention).
inline constexpr uint16_t kDefaultQuicPort = 14567;

// Mirrors broker::BrokerConfig field by field (lib/server copies it across); the defaults here are
// the ones documented in config/mquictt.yaml.
struct BrokerSettings {
  // limits
  uint32_t max_packet_size_bytes = 1024 * 1024;
  uint32_t message_size_limit_bytes = 0;  // 0 = only max_packet_size applies
  uint16_t receive_maximum = 100;
  uint16_t max_inflight_messages = 20;
  uint32_t max_queued_messages = 1000;
  uint64_t max_queued_bytes = 0;  // 0 = unlimited
  bool queue_qos0_messages = false;
  OverflowPolicy overflow_policy = OverflowPolicy::kDropNewest;
  uint16_t max_keepalive_s = 0;  // 0 = accept the client's value
  uint32_t max_session_expiry_interval_s = 0xFFFFFFFF;
  uint16_t topic_alias_maximum = 10;
  uint16_t max_topic_alias_outbound = 10;
  uint32_t max_client_id_length = 65535;
  uint32_t connect_timeout_ms = 10'000;
  uint64_t outbound_high_watermark_bytes = 1024 * 1024;
  uint64_t outbound_low_watermark_bytes = 256 * 1024;
  // mqtt features
  uint8_t maximum_qos = 2;
  bool retain_available = true;
  bool wildcard_subscription_available = true;
  bool subscription_identifiers_available = true;
  bool shared_subscription_available = true;
  SharedStrategy shared_strategy = SharedStrategy::kRoundRobin;
  bool allow_zero_length_clientid = true;
  std::string auto_id_prefix = "auto-";
  bool validate_payload_format = false;
};

struct LogSettings {
  LogLevel level = LogLevel::kInfo;
};

struct Config {
  // Empty when the document has no `listeners` key: the daemon then listens on 127.0.0.1:1883
  // only, like mosquitto 2 without a listener (see default_listener()).
  std::vector<ListenerConfig> listeners;
  BrokerSettings broker;
  LogSettings log;

  // Where values came from, for cross-field errors in validate(): key path -> position of the
  // value. Empty for a default-constructed Config.
  std::string source_file;
  std::map<std::string, SourceMark> marks;
};

struct LoadResult {
  Config config;                    // defaults + every value that parsed; meaningful if ok()
  std::vector<ConfigError> errors;  // in document order
  bool ok() const { return errors.empty(); }
};

// Reads and validates a YAML file. I/O errors are reported as a ConfigError without a position.
LoadResult load_file(const std::string& path);
// Same for YAML text; `file_name` is only used in error messages.
LoadResult parse(std::string_view yaml, std::string file_name = "<string>");

// Cross-field checks on an already-typed Config (watermark order, unique listener names and
// addresses, transports that are not implemented yet). parse()/load_file() call it; it is public
// so that code which builds or edits a Config (daemon -p, tests) can re-check it.
std::vector<ConfigError> validate(const Config& config);

// "host:port" with a numeric IPv4 host or a bracketed IPv6 host ("[::1]:1883"). Returns an error
// message, or nullopt on success with `out` filled (bind, host, port, ipv6).
std::optional<std::string> parse_bind_address(std::string_view text, ListenerConfig& out);

// Every key the loader accepts, as full paths: "limits.max_packet_size", "listeners[].bind",
// "mqtt.shared_subscriptions.strategy". Used to keep docs and the default file complete.
std::vector<std::string> known_keys();

// The listener used when none is configured: TCP on 127.0.0.1:<port> (loopback only, as mosquitto
// 2 does without a configured listener).
ListenerConfig default_listener(uint16_t port = 1883);

}  // namespace mquictt::config
