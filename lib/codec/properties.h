#pragma once
// MQTT 5 properties (MQTT 5 §2.2.2). One struct holds every property; absent ones are nullopt /
// empty. decode_properties() enforces, per packet (PropertyContext):
//   - the property identifier is known                         -> 0x81 Malformed Packet
//   - it is allowed on this packet                             -> 0x81 Malformed Packet
//   - non-repeatable properties appear at most once            -> 0x82 Protocol Error
//   - values in range (bytes that must be 0/1, Receive Maximum,
//     Maximum Packet Size, Topic Alias, Subscription Id != 0)  -> 0x82 Protocol Error
//   - strings are valid MQTT UTF-8, lengths fit the block      -> 0x81 Malformed Packet
//   except where the spec names the code: Topic Alias 0 -> 0x94 Topic Alias invalid (§3.3.4).
// Per-packet rules checked here too (0x82): CONNECT Authentication Data without Authentication
// Method; AUTH property block without Authentication Method; Response Topic not a topic name.
// User Properties keep their wire order; Subscription Identifier may repeat only in PUBLISH.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "util/byte_reader.h"
#include "util/byte_writer.h"
#include "util/result.h"

namespace mquictt::codec {

namespace prop {
inline constexpr uint8_t kPayloadFormatIndicator = 0x01;
inline constexpr uint8_t kMessageExpiryInterval = 0x02;
inline constexpr uint8_t kContentType = 0x03;
inline constexpr uint8_t kResponseTopic = 0x08;
inline constexpr uint8_t kCorrelationData = 0x09;
inline constexpr uint8_t kSubscriptionIdentifier = 0x0B;
inline constexpr uint8_t kSessionExpiryInterval = 0x11;
inline constexpr uint8_t kAssignedClientIdentifier = 0x12;
inline constexpr uint8_t kServerKeepAlive = 0x13;
inline constexpr uint8_t kAuthenticationMethod = 0x15;
inline constexpr uint8_t kAuthenticationData = 0x16;
inline constexpr uint8_t kRequestProblemInformation = 0x17;
inline constexpr uint8_t kWillDelayInterval = 0x18;
inline constexpr uint8_t kRequestResponseInformation = 0x19;
inline constexpr uint8_t kResponseInformation = 0x1A;
inline constexpr uint8_t kServerReference = 0x1C;
inline constexpr uint8_t kReasonString = 0x1F;
inline constexpr uint8_t kReceiveMaximum = 0x21;
inline constexpr uint8_t kTopicAliasMaximum = 0x22;
inline constexpr uint8_t kTopicAlias = 0x23;
inline constexpr uint8_t kMaximumQos = 0x24;
inline constexpr uint8_t kRetainAvailable = 0x25;
inline constexpr uint8_t kUserProperty = 0x26;
inline constexpr uint8_t kMaximumPacketSize = 0x27;
inline constexpr uint8_t kWildcardSubscriptionAvailable = 0x28;
inline constexpr uint8_t kSubscriptionIdentifierAvailable = 0x29;
inline constexpr uint8_t kSharedSubscriptionAvailable = 0x2A;
}  // namespace prop

// Which packet a property block belongs to; decides the allowed set.
enum class PropertyContext : uint8_t {
  kConnect,
  kWill,
  kConnAck,
  kPublish,
  kPubAck,  // also PUBREC, PUBREL, PUBCOMP
  kSubscribe,
  kSubAck,
  kUnsubscribe,
  kUnsubAck,
  kDisconnect,
  kAuth,
};

using UserProperty = std::pair<std::string, std::string>;

struct Properties {
  std::optional<uint8_t> payload_format_indicator;
  std::optional<uint32_t> message_expiry_interval;  // seconds
  std::optional<std::string> content_type;
  std::optional<std::string> response_topic;
  std::optional<std::vector<uint8_t>> correlation_data;
  std::vector<uint32_t> subscription_identifiers;   // PUBLISH: any number; SUBSCRIBE: at most one
  std::optional<uint32_t> session_expiry_interval;  // seconds
  std::optional<std::string> assigned_client_identifier;
  std::optional<uint16_t> server_keep_alive;  // seconds
  std::optional<std::string> authentication_method;
  std::optional<std::vector<uint8_t>> authentication_data;
  std::optional<uint8_t> request_problem_information;
  std::optional<uint32_t> will_delay_interval;  // seconds
  std::optional<uint8_t> request_response_information;
  std::optional<std::string> response_information;
  std::optional<std::string> server_reference;
  std::optional<std::string> reason_string;
  std::optional<uint16_t> receive_maximum;
  std::optional<uint16_t> topic_alias_maximum;
  std::optional<uint16_t> topic_alias;
  std::optional<uint8_t> maximum_qos;
  std::optional<uint8_t> retain_available;
  std::vector<UserProperty> user_properties;    // wire order preserved
  std::optional<uint32_t> maximum_packet_size;  // bytes
  std::optional<uint8_t> wildcard_subscription_available;
  std::optional<uint8_t> subscription_identifier_available;
  std::optional<uint8_t> shared_subscription_available;

  bool empty() const;
  bool operator==(const Properties&) const = default;
};

// Whether property `id` may appear in a packet of context `ctx`.
bool property_allowed(uint8_t id, PropertyContext ctx);

// Reads "Property Length (varint) + properties" at the reader's position.
Result<Properties> decode_properties(ByteReader& r, PropertyContext ctx);

// Size of the property block content, excluding the Property Length varint itself.
size_t properties_content_size(const Properties& p);
// Size including the Property Length varint.
inline size_t properties_encoded_size(const Properties& p) {
  size_t n = properties_content_size(p);
  return varint_size(static_cast<uint32_t>(n)) + n;
}
// Writes Property Length + properties in ascending identifier order (user properties in order).
void encode_properties(const Properties& p, ByteWriter& w);

}  // namespace mquictt::codec
