#pragma once
// PacketTrace: one MQTT packet as the protocol handler received or sent it, for a transport that
// records a trace (MQTT over QUIC writes them into the connection's qlog, docs/qlog.md).
//
// The handler builds one only for a stream whose ByteStream::tracing() was true when the handler
// took it, and passes it to ByteStream::trace() once per packet: every packet decoded from the
// stream (after the frame decoded; a malformed frame is not traced, the DISCONNECT or CONNACK it
// causes is) and every packet written to it, acks, PINGREQ/PINGRESP and DISCONNECT included.
//
// Ownership: a view. The strings and spans point into the packet or message being handled and are
// valid only during the trace() call.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "codec/packet.h"

namespace mquictt::broker {

struct PacketTrace {
  bool sent = false;  // false: received from the peer
  codec::PacketType type = codec::PacketType::kConnect;
  size_t length = 0;  // bytes of the whole packet, fixed header included
  std::optional<uint16_t> packet_id;
  // CONNACK (3.1.1: the return code), DISCONNECT, AUTH; PUBACK, PUBREC, PUBREL, PUBCOMP in MQTT 5.
  std::optional<uint8_t> reason_code;
  // SUBACK (3.1.1: granted QoS or 0x80), UNSUBACK (MQTT 5): one per filter.
  std::span<const uint8_t> reason_codes;
  // PUBLISH. The topic as on the wire: empty in MQTT 5 when only a Topic Alias is sent.
  std::string_view topic;
  std::optional<uint8_t> qos;
  bool dup = false;
  bool retain = false;
  std::optional<uint16_t> topic_alias;
  size_t payload_length = 0;
  // SUBSCRIBE (filter and options) and UNSUBSCRIBE (filters).
  std::span<const codec::Subscription> subscriptions;
  std::span<const std::string> filters;
  // CONNECT.
  std::string_view client_id;
  std::optional<uint8_t> protocol_version;  // 4 = 3.1.1, 5 = 5.0
  bool clean_start = false;
  uint16_t keep_alive = 0;
  // CONNACK.
  bool session_present = false;
};

// The trace of `p` as decoded from (sent = false) or encoded into (sent = true) `length` bytes.
// `v5`: the connection's version, which decides whether an ack carries a reason code.
PacketTrace trace_of(const codec::Packet& p, size_t length, bool sent, bool v5);

}  // namespace mquictt::broker
