#pragma once
// MQTT control packets as plain value types (MQTT 3.1.1 and 5.0). The codec decodes wire frames
// into these and encodes them back; nothing here knows about sessions, sockets or time.
//
// Conventions:
//  - Strings are std::string and hold validated UTF-8 after decoding.
//  - Binary data and payloads are std::vector<uint8_t> (owned; a decoded packet does not point
//    into the frame).
//  - `props` is ignored when encoding/decoding MQTT 3.1.1.
//  - Reason codes are the MQTT 5 byte values (see reason_code.h); for 3.1.1 CONNACK the field holds
//    the 3.1.1 return code.

#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "codec/properties.h"

namespace mquictt::codec {

enum class ProtocolVersion : uint8_t { kV311 = 4, kV5 = 5 };

enum class PacketType : uint8_t {
  kConnect = 1,
  kConnAck = 2,
  kPublish = 3,
  kPubAck = 4,
  kPubRec = 5,
  kPubRel = 6,
  kPubComp = 7,
  kSubscribe = 8,
  kSubAck = 9,
  kUnsubscribe = 10,
  kUnsubAck = 11,
  kPingReq = 12,
  kPingResp = 13,
  kDisconnect = 14,
  kAuth = 15,
};

using Bytes = std::vector<uint8_t>;

struct Will {
  std::string topic;
  Bytes payload;
  uint8_t qos = 0;
  bool retain = false;
  Properties props;  // Will Properties (MQTT 5 §3.1.3.2)
  bool operator==(const Will&) const = default;
};

struct Connect {
  ProtocolVersion version = ProtocolVersion::kV5;
  bool clean_start = true;  // "Clean Session" in 3.1.1
  uint16_t keep_alive = 60;  // seconds
  std::string client_id;
  std::optional<Will> will;
  std::optional<std::string> username;
  std::optional<Bytes> password;
  Properties props;
  bool operator==(const Connect&) const = default;
};

struct ConnAck {
  bool session_present = false;
  uint8_t reason = 0;  // v5 reason code, or v3.1.1 return code
  Properties props;
  bool operator==(const ConnAck&) const = default;
};

struct Publish {
  bool dup = false;
  uint8_t qos = 0;
  bool retain = false;
  std::string topic;       // may be empty in MQTT 5 when a Topic Alias is present
  uint16_t packet_id = 0;  // only for QoS > 0
  Properties props;
  Bytes payload;
  bool operator==(const Publish&) const = default;
};

// PUBACK, PUBREC, PUBREL and PUBCOMP share one layout. In MQTT 5 the reason code and properties
// are omitted on the wire when the reason is 0x00 and there are no properties.
struct AckFields {
  uint16_t packet_id = 0;
  uint8_t reason = 0;
  Properties props;
  bool operator==(const AckFields&) const = default;
};
struct PubAck : AckFields {};
struct PubRec : AckFields {};
struct PubRel : AckFields {};
struct PubComp : AckFields {};

struct SubscriptionOptions {
  uint8_t qos = 0;
  bool no_local = false;             // MQTT 5 only
  bool retain_as_published = false;  // MQTT 5 only
  uint8_t retain_handling = 0;       // MQTT 5 only: 0 send, 1 send if new, 2 don't send
  bool operator==(const SubscriptionOptions&) const = default;
};

struct Subscription {
  std::string filter;  // full filter, including any "$share/<group>/" prefix
  SubscriptionOptions options;
  bool operator==(const Subscription&) const = default;
};

struct Subscribe {
  uint16_t packet_id = 0;
  std::vector<Subscription> subscriptions;  // at least one
  Properties props;
  bool operator==(const Subscribe&) const = default;
};

struct SubAck {
  uint16_t packet_id = 0;
  std::vector<uint8_t> reasons;  // one per subscription; 3.1.1: 0,1,2 or 0x80
  Properties props;
  bool operator==(const SubAck&) const = default;
};

struct Unsubscribe {
  uint16_t packet_id = 0;
  std::vector<std::string> filters;  // at least one
  Properties props;
  bool operator==(const Unsubscribe&) const = default;
};

struct UnsubAck {
  uint16_t packet_id = 0;
  std::vector<uint8_t> reasons;  // MQTT 5 only; empty and not encoded for 3.1.1
  Properties props;
  bool operator==(const UnsubAck&) const = default;
};

struct PingReq {
  bool operator==(const PingReq&) const = default;
};
struct PingResp {
  bool operator==(const PingResp&) const = default;
};

struct Disconnect {
  uint8_t reason = 0;
  Properties props;
  bool operator==(const Disconnect&) const = default;
};

struct Auth {  // MQTT 5 only
  uint8_t reason = 0;
  Properties props;
  bool operator==(const Auth&) const = default;
};

// Alternative index + 1 == PacketType value.
using Packet = std::variant<Connect, ConnAck, Publish, PubAck, PubRec, PubRel, PubComp, Subscribe,
                            SubAck, Unsubscribe, UnsubAck, PingReq, PingResp, Disconnect, Auth>;

inline PacketType packet_type(const Packet& p) { return static_cast<PacketType>(p.index() + 1); }

// "CONNECT", "PUBLISH", ... for logs.
const char* packet_type_name(PacketType t);

}  // namespace mquictt::codec
