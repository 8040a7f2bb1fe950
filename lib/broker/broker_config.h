#pragma once
// Plain settings of the MQTT core, filled by lib/config from YAML and validated there. Existing
// connections keep the snapshot they negotiated with (a reload only affects new connections).
// Units are in the names: _s seconds, _ms milliseconds, _bytes bytes.

#include <cstdint>
#include <string>

namespace mquictt::broker {

enum class SharedStrategy : uint8_t { kRoundRobin, kRandom, kSticky };

// What happens when a subscriber's outbound queue (connected) or offline queue is full.
//  - QoS 0 messages are dropped (counted in metrics) -- always.
//  - QoS 1/2 messages: kDropNewest drops the new message (mosquitto's behaviour);
//    kDisconnect disconnects a connected slow subscriber (0x97 Quota exceeded) and keeps the
//    session, so the queued messages are delivered on reconnect.
enum class OverflowPolicy : uint8_t { kDropNewest, kDisconnect };

struct BrokerConfig {
  // --- Limits announced in CONNACK / enforced on input ---
  uint32_t max_packet_size_bytes = 1024 * 1024;  // inbound limit; also CONNACK Maximum Packet Size
  uint16_t receive_maximum = 100;     // inbound QoS 1/2 window per client (CONNACK Receive Max)
  uint16_t topic_alias_maximum = 10;  // inbound aliases per connection (CONNACK); 0 disables
  uint8_t maximum_qos = 2;            // CONNACK Maximum QoS
  bool retain_available = true;
  bool wildcard_subscription_available = true;
  bool subscription_identifiers_available = true;
  bool shared_subscription_available = true;
  uint16_t max_keepalive_s = 0;  // 0 = accept any; else Server Keep Alive caps it
  uint32_t max_session_expiry_interval_s = 0xFFFFFFFF;  // caps the client's request
  uint32_t connect_timeout_ms = 10'000;    // CONNECT must arrive within this after accept
  uint16_t max_topic_alias_outbound = 10;  // aliases we use towards a client (<= its maximum)

  // --- Client ids ---
  bool allow_zero_length_clientid = true;
  std::string auto_id_prefix = "auto-";
  uint32_t max_client_id_length = 65535;

  // --- Queues and flow control ---
  uint16_t max_inflight_messages = 20;  // outbound window; min(this, client's Receive Maximum)
  uint32_t max_queued_messages = 1000;  // per session, queued beyond the inflight window
  uint64_t max_queued_bytes = 0;        // per session; 0 = unlimited
  bool queue_qos0_messages = false;     // queue QoS 0 for offline persistent sessions
  OverflowPolicy overflow_policy = OverflowPolicy::kDropNewest;
  uint64_t outbound_high_watermark_bytes = 1024 * 1024;  // above: stop reading from this client
  uint64_t outbound_low_watermark_bytes = 256 * 1024;    // below: resume

  // --- Features ---
  SharedStrategy shared_strategy = SharedStrategy::kRoundRobin;
  bool validate_payload_format = false;   // check UTF-8 when Payload Format Indicator = 1
  uint32_t message_size_limit_bytes = 0;  // max PUBLISH payload; 0 = no limit beyond packet size
};

// Which listener a connection arrived on (for logs, metrics and per-listener policy).
struct ListenerInfo {
  std::string name;              // "tcp", "tls", "quic", or the configured name
  std::string transport;         // "tcp" | "tls" | "quic"
  uint32_t max_connections = 0;  // 0 = unlimited
  // mosquitto's use_identity_as_username: the CN of the verified client certificate
  // (ByteStream::tls_identity()) replaces the CONNECT user name; without one, CONNACK 0x87 Not
  // authorized (3.1.1: 5).
  bool use_identity_as_username = false;
  // Highest PUBLISH QoS processed while a stream's input is early data (ByteStream::early_data(),
  // QUIC 0-RTT); a PUBLISH above it is held until the handshake completes (protocol_handler.h
  // "Early data").
  uint8_t early_data_max_publish_qos = 0;
};

}  // namespace mquictt::broker
