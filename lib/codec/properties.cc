#include "codec/properties.h"

#include <array>

#include "codec/reason_code.h"
#include "codec/topic.h"
#include "util/utf8.h"

namespace mquictt::codec {

namespace {

// Wire data type of a property (MQTT 5 §2.2.2.2).
enum class Kind : uint8_t {
  kUnknown,
  kByte,
  kTwoByte,
  kFourByte,
  kVarint,
  kString,
  kBinary,
  kPair
};

constexpr uint16_t bit(PropertyContext c) {
  return static_cast<uint16_t>(1u << static_cast<unsigned>(c));
}

struct Spec {
  Kind kind = Kind::kUnknown;
  uint16_t allowed = 0;  // bit(PropertyContext) set
};

using C = PropertyContext;
constexpr uint16_t kPubAcks = bit(C::kPubAck);
constexpr uint16_t kEvery = bit(C::kConnect) | bit(C::kWill) | bit(C::kConnAck) | bit(C::kPublish) |
                            bit(C::kPubAck) | bit(C::kSubscribe) | bit(C::kSubAck) |
                            bit(C::kUnsubscribe) | bit(C::kUnsubAck) | bit(C::kDisconnect) |
                            bit(C::kAuth);
constexpr uint16_t kMessage = bit(C::kPublish) | bit(C::kWill);

// Identifier -> type and the packets it may appear in (the table of MQTT 5 §2.2.2.2). Every
// identifier defined by MQTT 5 is below 0x2B; everything else is unknown.
constexpr std::array<Spec, 0x2B> make_specs() {
  std::array<Spec, 0x2B> s{};
  s[prop::kPayloadFormatIndicator] = {Kind::kByte, kMessage};
  s[prop::kMessageExpiryInterval] = {Kind::kFourByte, kMessage};
  s[prop::kContentType] = {Kind::kString, kMessage};
  s[prop::kResponseTopic] = {Kind::kString, kMessage};
  s[prop::kCorrelationData] = {Kind::kBinary, kMessage};
  s[prop::kSubscriptionIdentifier] = {Kind::kVarint,
                                      static_cast<uint16_t>(bit(C::kPublish) | bit(C::kSubscribe))};
  s[prop::kSessionExpiryInterval] = {
      Kind::kFourByte,
      static_cast<uint16_t>(bit(C::kConnect) | bit(C::kConnAck) | bit(C::kDisconnect))};
  s[prop::kAssignedClientIdentifier] = {Kind::kString, bit(C::kConnAck)};
  s[prop::kServerKeepAlive] = {Kind::kTwoByte, bit(C::kConnAck)};
  s[prop::kAuthenticationMethod] = {
      Kind::kString, static_cast<uint16_t>(bit(C::kConnect) | bit(C::kConnAck) | bit(C::kAuth))};
  s[prop::kAuthenticationData] = {
      Kind::kBinary, static_cast<uint16_t>(bit(C::kConnect) | bit(C::kConnAck) | bit(C::kAuth))};
  s[prop::kRequestProblemInformation] = {Kind::kByte, bit(C::kConnect)};
  s[prop::kWillDelayInterval] = {Kind::kFourByte, bit(C::kWill)};
  s[prop::kRequestResponseInformation] = {Kind::kByte, bit(C::kConnect)};
  s[prop::kResponseInformation] = {Kind::kString, bit(C::kConnAck)};
  s[prop::kServerReference] = {Kind::kString,
                               static_cast<uint16_t>(bit(C::kConnAck) | bit(C::kDisconnect))};
  s[prop::kReasonString] = {
      Kind::kString,
      static_cast<uint16_t>(bit(C::kConnAck) | kPubAcks | bit(C::kSubAck) | bit(C::kUnsubAck) |
                            bit(C::kDisconnect) | bit(C::kAuth))};
  s[prop::kReceiveMaximum] = {Kind::kTwoByte,
                              static_cast<uint16_t>(bit(C::kConnect) | bit(C::kConnAck))};
  s[prop::kTopicAliasMaximum] = {Kind::kTwoByte,
                                 static_cast<uint16_t>(bit(C::kConnect) | bit(C::kConnAck))};
  s[prop::kTopicAlias] = {Kind::kTwoByte, bit(C::kPublish)};
  s[prop::kMaximumQos] = {Kind::kByte, bit(C::kConnAck)};
  s[prop::kRetainAvailable] = {Kind::kByte, bit(C::kConnAck)};
  s[prop::kUserProperty] = {Kind::kPair, kEvery};
  s[prop::kMaximumPacketSize] = {Kind::kFourByte,
                                 static_cast<uint16_t>(bit(C::kConnect) | bit(C::kConnAck))};
  s[prop::kWildcardSubscriptionAvailable] = {Kind::kByte, bit(C::kConnAck)};
  s[prop::kSubscriptionIdentifierAvailable] = {Kind::kByte, bit(C::kConnAck)};
  s[prop::kSharedSubscriptionAvailable] = {Kind::kByte, bit(C::kConnAck)};
  return s;
}
constexpr std::array<Spec, 0x2B> kSpecs = make_specs();

constexpr Error kBadUtf8{rc::kMalformedPacket, "property string is not valid UTF-8"};

Result<std::string> read_utf8(ByteReader& r) {
  MQ_ASSIGN_OR_RETURN(std::string_view s, r.string());
  if (!valid_mqtt_utf8(s)) return kBadUtf8;
  return std::string(s);
}

Result<std::vector<uint8_t>> read_binary(ByteReader& r) {
  MQ_ASSIGN_OR_RETURN(auto b, r.binary());
  return std::vector<uint8_t>(b.begin(), b.end());
}

// Properties whose only legal values are 0 and 1.
Result<uint8_t> read_bool_byte(ByteReader& r) {
  MQ_ASSIGN_OR_RETURN(uint8_t v, r.u8());
  if (v > 1) return Error{rc::kProtocolError, "property value must be 0 or 1"};
  return v;
}

Result<uint16_t> read_nonzero_u16(ByteReader& r, const char* what) {
  MQ_ASSIGN_OR_RETURN(uint16_t v, r.u16());
  if (v == 0) return Error{rc::kProtocolError, what};
  return v;
}

// Reads the value of property `id` (already known to be allowed) into `p`.
Result<void> read_value(ByteReader& r, uint8_t id, Properties& p) {
  switch (id) {
    case prop::kPayloadFormatIndicator: {
      MQ_ASSIGN_OR_RETURN(p.payload_format_indicator, read_bool_byte(r));
      return ok();
    }
    case prop::kMessageExpiryInterval: {
      MQ_ASSIGN_OR_RETURN(p.message_expiry_interval, r.u32());
      return ok();
    }
    case prop::kContentType: {
      MQ_ASSIGN_OR_RETURN(p.content_type, read_utf8(r));
      return ok();
    }
    case prop::kResponseTopic: {
      MQ_ASSIGN_OR_RETURN(std::string t, read_utf8(r));
      // MQTT 5 §3.3.2.3.5: a Topic Name, so no wildcards (and not empty) [MQTT-3.3.2-14].
      if (!valid_topic_name(t)) return Error{rc::kProtocolError, "invalid Response Topic"};
      p.response_topic = std::move(t);
      return ok();
    }
    case prop::kCorrelationData: {
      MQ_ASSIGN_OR_RETURN(p.correlation_data, read_binary(r));
      return ok();
    }
    case prop::kSubscriptionIdentifier: {
      MQ_ASSIGN_OR_RETURN(uint32_t v, r.varint());
      if (v == 0) return Error{rc::kProtocolError, "Subscription Identifier 0"};
      p.subscription_identifiers.push_back(v);
      return ok();
    }
    case prop::kSessionExpiryInterval: {
      MQ_ASSIGN_OR_RETURN(p.session_expiry_interval, r.u32());
      return ok();
    }
    case prop::kAssignedClientIdentifier: {
      MQ_ASSIGN_OR_RETURN(p.assigned_client_identifier, read_utf8(r));
      return ok();
    }
    case prop::kServerKeepAlive: {
      MQ_ASSIGN_OR_RETURN(p.server_keep_alive, r.u16());
      return ok();
    }
    case prop::kAuthenticationMethod: {
      MQ_ASSIGN_OR_RETURN(p.authentication_method, read_utf8(r));
      return ok();
    }
    case prop::kAuthenticationData: {
      MQ_ASSIGN_OR_RETURN(p.authentication_data, read_binary(r));
      return ok();
    }
    case prop::kRequestProblemInformation: {
      MQ_ASSIGN_OR_RETURN(p.request_problem_information, read_bool_byte(r));
      return ok();
    }
    case prop::kWillDelayInterval: {
      MQ_ASSIGN_OR_RETURN(p.will_delay_interval, r.u32());
      return ok();
    }
    case prop::kRequestResponseInformation: {
      MQ_ASSIGN_OR_RETURN(p.request_response_information, read_bool_byte(r));
      return ok();
    }
    case prop::kResponseInformation: {
      MQ_ASSIGN_OR_RETURN(p.response_information, read_utf8(r));
      return ok();
    }
    case prop::kServerReference: {
      MQ_ASSIGN_OR_RETURN(p.server_reference, read_utf8(r));
      return ok();
    }
    case prop::kReasonString: {
      MQ_ASSIGN_OR_RETURN(p.reason_string, read_utf8(r));
      return ok();
    }
    case prop::kReceiveMaximum: {
      MQ_ASSIGN_OR_RETURN(p.receive_maximum, read_nonzero_u16(r, "Receive Maximum 0"));
      return ok();
    }
    case prop::kTopicAliasMaximum: {
      MQ_ASSIGN_OR_RETURN(p.topic_alias_maximum, r.u16());
      return ok();
    }
    case prop::kTopicAlias: {
      MQ_ASSIGN_OR_RETURN(uint16_t v, r.u16());
      // MQTT 5 §3.3.4 names the code: "A Topic Alias value of 0 ... is a Protocol Error, the
      // receiver uses DISCONNECT with Reason Code of 0x94 (Topic Alias invalid)".
      if (v == 0) return Error{rc::kTopicAliasInvalid, "Topic Alias 0"};
      p.topic_alias = v;
      return ok();
    }
    case prop::kMaximumQos: {
      MQ_ASSIGN_OR_RETURN(p.maximum_qos, read_bool_byte(r));
      return ok();
    }
    case prop::kRetainAvailable: {
      MQ_ASSIGN_OR_RETURN(p.retain_available, read_bool_byte(r));
      return ok();
    }
    case prop::kUserProperty: {
      MQ_ASSIGN_OR_RETURN(std::string key, read_utf8(r));
      MQ_ASSIGN_OR_RETURN(std::string value, read_utf8(r));
      p.user_properties.emplace_back(std::move(key), std::move(value));
      return ok();
    }
    case prop::kMaximumPacketSize: {
      MQ_ASSIGN_OR_RETURN(uint32_t v, r.u32());
      if (v == 0) return Error{rc::kProtocolError, "Maximum Packet Size 0"};
      p.maximum_packet_size = v;
      return ok();
    }
    case prop::kWildcardSubscriptionAvailable: {
      MQ_ASSIGN_OR_RETURN(p.wildcard_subscription_available, read_bool_byte(r));
      return ok();
    }
    case prop::kSubscriptionIdentifierAvailable: {
      MQ_ASSIGN_OR_RETURN(p.subscription_identifier_available, read_bool_byte(r));
      return ok();
    }
    case prop::kSharedSubscriptionAvailable: {
      MQ_ASSIGN_OR_RETURN(p.shared_subscription_available, read_bool_byte(r));
      return ok();
    }
    default:
      break;
  }
  return Error{rc::kMalformedPacket, "unknown property identifier"};
}

// Size of one string/binary property: identifier + two-byte length + data.
size_t sized_field(size_t len) {
  return 1 + 2 + len;
}

}  // namespace

bool Properties::empty() const {
  return *this == Properties{};
}

bool property_allowed(uint8_t id, PropertyContext ctx) {
  return id < kSpecs.size() && (kSpecs[id].allowed & bit(ctx)) != 0;
}

Result<Properties> decode_properties(ByteReader& r, PropertyContext ctx) {
  MQ_ASSIGN_OR_RETURN(uint32_t len, r.varint());
  MQ_ASSIGN_OR_RETURN(auto block, r.bytes(len));
  Properties p;
  ByteReader br(block);  // reads stop at the block end: a value crossing it is truncated (0x81)
  uint64_t seen = 0;     // one bit per identifier, for the "at most once" rule
  while (!br.empty()) {
    // The identifier is formally a Variable Byte Integer, but every MQTT 5 identifier fits in
    // one byte; a first byte >= 0x80 can only start an unknown identifier.
    MQ_ASSIGN_OR_RETURN(uint8_t id, br.u8());
    if (id >= kSpecs.size() || kSpecs[id].kind == Kind::kUnknown) {
      return Error{rc::kMalformedPacket, "unknown property identifier"};
    }
    if (!property_allowed(id, ctx)) {
      return Error{rc::kMalformedPacket, "property not allowed on this packet"};
    }
    // The value is parsed before the repetition check so that a truncated value is reported as
    // Malformed (structural damage wins within one property).
    MQ_TRY(read_value(br, id, p));
    const bool repeatable =
        id == prop::kUserProperty || (id == prop::kSubscriptionIdentifier && ctx == C::kPublish);
    if (!repeatable) {
      const uint64_t mask = uint64_t{1} << id;
      if (seen & mask) return Error{rc::kProtocolError, "property included more than once"};
      seen |= mask;
    }
  }
  // MQTT 5 §3.1.2.11.10: Authentication Data without an Authentication Method is a Protocol Error.
  if (ctx == C::kConnect && p.authentication_data && !p.authentication_method) {
    return Error{rc::kProtocolError, "Authentication Data without Authentication Method"};
  }
  // MQTT 5 §3.15.2.2.2: an AUTH that has a property block must name the method. (An AUTH with
  // remaining length 0 or 1 has no block; decode() does not call us for it.)
  if (ctx == C::kAuth && !p.authentication_method) {
    return Error{rc::kProtocolError, "AUTH without Authentication Method"};
  }
  return p;
}

size_t properties_content_size(const Properties& p) {
  size_t n = 0;
  if (p.payload_format_indicator) n += 2;
  if (p.message_expiry_interval) n += 5;
  if (p.content_type) n += sized_field(p.content_type->size());
  if (p.response_topic) n += sized_field(p.response_topic->size());
  if (p.correlation_data) n += sized_field(p.correlation_data->size());
  for (uint32_t id : p.subscription_identifiers)
    n += 1 + varint_size(id);
  if (p.session_expiry_interval) n += 5;
  if (p.assigned_client_identifier) n += sized_field(p.assigned_client_identifier->size());
  if (p.server_keep_alive) n += 3;
  if (p.authentication_method) n += sized_field(p.authentication_method->size());
  if (p.authentication_data) n += sized_field(p.authentication_data->size());
  if (p.request_problem_information) n += 2;
  if (p.will_delay_interval) n += 5;
  if (p.request_response_information) n += 2;
  if (p.response_information) n += sized_field(p.response_information->size());
  if (p.server_reference) n += sized_field(p.server_reference->size());
  if (p.reason_string) n += sized_field(p.reason_string->size());
  if (p.receive_maximum) n += 3;
  if (p.topic_alias_maximum) n += 3;
  if (p.topic_alias) n += 3;
  if (p.maximum_qos) n += 2;
  if (p.retain_available) n += 2;
  for (const auto& [k, v] : p.user_properties)
    n += 1 + 2 + k.size() + 2 + v.size();
  if (p.maximum_packet_size) n += 5;
  if (p.wildcard_subscription_available) n += 2;
  if (p.subscription_identifier_available) n += 2;
  if (p.shared_subscription_available) n += 2;
  return n;
}

void encode_properties(const Properties& p, ByteWriter& w) {
  w.varint(static_cast<uint32_t>(properties_content_size(p)));
  // Ascending identifier order; the struct's field order matches it.
  auto u8 = [&w](uint8_t id, const std::optional<uint8_t>& v) {
    if (v) {
      w.u8(id);
      w.u8(*v);
    }
  };
  auto u16 = [&w](uint8_t id, const std::optional<uint16_t>& v) {
    if (v) {
      w.u8(id);
      w.u16(*v);
    }
  };
  auto u32 = [&w](uint8_t id, const std::optional<uint32_t>& v) {
    if (v) {
      w.u8(id);
      w.u32(*v);
    }
  };
  auto str = [&w](uint8_t id, const std::optional<std::string>& v) {
    if (v) {
      w.u8(id);
      w.string(*v);
    }
  };
  auto bin = [&w](uint8_t id, const std::optional<std::vector<uint8_t>>& v) {
    if (v) {
      w.u8(id);
      w.binary(*v);
    }
  };
  u8(prop::kPayloadFormatIndicator, p.payload_format_indicator);
  u32(prop::kMessageExpiryInterval, p.message_expiry_interval);
  str(prop::kContentType, p.content_type);
  str(prop::kResponseTopic, p.response_topic);
  bin(prop::kCorrelationData, p.correlation_data);
  for (uint32_t id : p.subscription_identifiers) {
    w.u8(prop::kSubscriptionIdentifier);
    w.varint(id);
  }
  u32(prop::kSessionExpiryInterval, p.session_expiry_interval);
  str(prop::kAssignedClientIdentifier, p.assigned_client_identifier);
  u16(prop::kServerKeepAlive, p.server_keep_alive);
  str(prop::kAuthenticationMethod, p.authentication_method);
  bin(prop::kAuthenticationData, p.authentication_data);
  u8(prop::kRequestProblemInformation, p.request_problem_information);
  u32(prop::kWillDelayInterval, p.will_delay_interval);
  u8(prop::kRequestResponseInformation, p.request_response_information);
  str(prop::kResponseInformation, p.response_information);
  str(prop::kServerReference, p.server_reference);
  str(prop::kReasonString, p.reason_string);
  u16(prop::kReceiveMaximum, p.receive_maximum);
  u16(prop::kTopicAliasMaximum, p.topic_alias_maximum);
  u16(prop::kTopicAlias, p.topic_alias);
  u8(prop::kMaximumQos, p.maximum_qos);
  u8(prop::kRetainAvailable, p.retain_available);
  for (const auto& [k, v] : p.user_properties) {
    w.u8(prop::kUserProperty);
    w.string(k);
    w.string(v);
  }
  u32(prop::kMaximumPacketSize, p.maximum_packet_size);
  u8(prop::kWildcardSubscriptionAvailable, p.wildcard_subscription_available);
  u8(prop::kSubscriptionIdentifierAvailable, p.subscription_identifier_available);
  u8(prop::kSharedSubscriptionAvailable, p.shared_subscription_available);
}

}  // namespace mquictt::codec
