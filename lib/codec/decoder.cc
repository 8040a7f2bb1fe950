// Frame -> Packet. What is rejected, and with which MQTT 5 reason code (the decoder returns the
// same code for 3.1.1; the caller maps it or just closes). Errors are reported in wire order: the
// first offending field decides the code; within one field, unreadable beats illegal.
//
// Classes follow MQTT 5 §1.2: what cannot be parsed (or the spec names "Malformed") is 0x81;
// what parses but is not allowed is 0x82, unless the spec names another code. The same choices
// are written up in tests/data/packets/README.md (the golden catalogue).
//
//   rule                                                         3.1.1   5.0    spec
//   ----------------------------------------------------------- ------- ------ ----------------
//   any field truncated, trailing bytes after the last field      0x81    0x81   §4.13 / §2.1.4
//   remaining length != bytes after it, varint > 4 bytes         0x81    0x81   §2.1.4
//   packet type 0; type 15 (AUTH) under 3.1.1                    0x81    0x81   §2.1.2
//   fixed-header flags: PUBREL/SUBSCRIBE/UNSUBSCRIBE != 0010,    0x81    0x81   §2.1.3
//     others != 0000 (except PUBLISH)
//   PUBLISH QoS 3                                                0x81    0x81   MQTT-3.3.1-4
//   PUBLISH DUP=1 with QoS 0 (spec: "MUST be 0", no class; we    0x81    0x81   MQTT-3.3.1-2
//     treat it like the other fixed-header flag rules)
//   string not MQTT UTF-8 (topic, client id, user name, will     0x81    0x81   §1.5.4
//     topic, filters, string properties, user property pairs)
//   PUBLISH topic contains + or #                                0x90    0x90   MQTT-3.3.2-2
//   PUBLISH empty topic (v5: and no Topic Alias property)        0x81    0x82   §3.3.2.1
//   packet identifier 0 (PUBLISH QoS>0, PUBACK..PUBCOMP,         0x82    0x82   §2.2.1
//     SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK)
//   CONNECT protocol name != "MQTT"                              0x84    0x84   MQTT-3.1.2-1
//   CONNECT protocol level not 4 or 5                            0x84    0x84   MQTT-3.1.2-2
//   CONNECT reserved flag (bit 0) set                            0x81    0x81   MQTT-3.1.2-3
//   CONNECT will QoS 3 (the spec says Malformed)                 0x81    0x81   §3.1.2.6
//   CONNECT will flag 0 but will QoS != 0 or will retain 1       0x82    0x82   MQTT-3.1.2-11/13
//     (a "MUST" with no class: the byte parses, so Protocol Error)
//   CONNECT password flag without user name flag                 0x81    ok     3.1.1 §3.1.2.9
//   CONNECT empty client id with clean session 0                 0x85    ok     3.1.1 §3.1.3.1
//   CONNECT will topic empty or with + / #                       0x90    0x90   §3.1.3.3
//   CONNACK acknowledge flags bits 7..1 set                      0x81    0x81   MQTT-3.2.2-1
//   CONNACK session present with non-zero reason                 0x82    0x82   §3.2.2.1.1
//   reason / return code not defined for the packet (CONNACK,    0x82    0x82   §2.4 and each
//     PUBACK..PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH; 3.1.1                packet's "MUST
//     CONNACK > 5, SUBACK not 0, 1, 2, 0x80): the byte parses,                   use one of"
//     unlike an unknown property identifier, which cannot be skipped
//   SUBSCRIBE / UNSUBSCRIBE without any entry                    0x82    0x82   MQTT-3.8.3-3
//   SUBACK / UNSUBACK (v5) without any reason code               0x82    0x82   §2.4
//   filter invalid (misplaced # or +, empty, bad $share)         0x8F    0x8F   §4.7 / §4.8.2
//   3.1.1 subscription QoS byte: upper 6 bits set or QoS 3       0x81    -      MQTT-3-8.3-4
//   v5 subscription options bits 7..6 set                        -       0x81   MQTT-3.8.3-5
//   v5 subscription Maximum QoS 3 / Retain Handling 3            -       0x82   §3.8.3.1 (the
//     spec calls both a Protocol Error)
//   v5 No Local on a shared subscription                         -       0x82   MQTT-3.8.3-4
//   properties: unknown id / not allowed on the packet / bad     -       0x81   §2.2.2
//     length; duplicate / out-of-range value                             0x82   (properties.cc)
//   Topic Alias 0 (the spec names 0x94)                          -       0x94   §3.3.4
//   AUTH with a property block but no Authentication Method      -       0x82   §3.15.2.2.2
//   PINGREQ / PINGRESP / 3.1.1 DISCONNECT with a body            0x81    0x81   §3.12 - §3.14
//   v5 DISCONNECT / AUTH with remaining length 0 -> reason 0x00   -      ok     §3.14.2.1
//   v5 PUBACK..PUBCOMP with remaining length 2 -> reason 0x00     -      ok     §3.4.2.1

#include "codec/decoder.h"

#include <algorithm>
#include <initializer_list>
#include <string_view>

#include "codec/properties.h"
#include "codec/reason_code.h"
#include "codec/topic.h"
#include "util/byte_reader.h"
#include "util/utf8.h"

namespace mquictt::codec {

namespace {

constexpr Error malformed(const char* detail) {
  return Error{rc::kMalformedPacket, detail};
}
constexpr Error protocol_error(const char* detail) {
  return Error{rc::kProtocolError, detail};
}

// Reason codes each packet may carry (MQTT 5 §2.4 table plus each packet's section).
constexpr uint8_t kConnAckReasons[] = {0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86,
                                       0x87, 0x88, 0x89, 0x8A, 0x8C, 0x90, 0x95, 0x97,
                                       0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F};
constexpr uint8_t kPubAckReasons[] = {0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99};
constexpr uint8_t kPubRelReasons[] = {0x00, 0x92};  // also PUBCOMP
constexpr uint8_t kSubAckReasons[] = {0x00, 0x01, 0x02, 0x80, 0x83, 0x87,
                                      0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2};
constexpr uint8_t kSubAckReturnCodes311[] = {0x00, 0x01, 0x02, 0x80};
constexpr uint8_t kUnsubAckReasons[] = {0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91};
constexpr uint8_t kDisconnectReasons[] = {
    0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E, 0x8F, 0x90, 0x93, 0x94,
    0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F, 0xA0, 0xA1, 0xA2};
constexpr uint8_t kAuthReasons[] = {0x00, 0x18, 0x19};

template <size_t N>
bool one_of(uint8_t v, const uint8_t (&set)[N]) {
  return std::find(set, set + N, v) != set + N;
}

Result<std::string_view> read_utf8(ByteReader& r) {
  MQ_ASSIGN_OR_RETURN(std::string_view s, r.string());
  if (!valid_mqtt_utf8(s)) return malformed("string is not valid MQTT UTF-8");
  return s;
}

Result<uint16_t> read_packet_id(ByteReader& r) {
  MQ_ASSIGN_OR_RETURN(uint16_t id, r.u16());
  if (id == 0) return protocol_error("packet identifier 0");
  return id;
}

Result<void> expect_end(const ByteReader& r) {
  if (!r.empty()) return malformed("trailing bytes after the last field");
  return ok();
}

Result<Properties> read_props(ByteReader& r, bool v5, PropertyContext ctx) {
  if (!v5) return Properties{};
  return decode_properties(r, ctx);
}

Result<Packet> decode_connect(ByteReader& r) {
  MQ_ASSIGN_OR_RETURN(std::string_view name, r.string());
  if (name != "MQTT") {
    return Error{rc::kUnsupportedProtocolVersion, "protocol name is not \"MQTT\""};
  }
  MQ_ASSIGN_OR_RETURN(uint8_t level, r.u8());
  if (level != 4 && level != 5) {
    return Error{rc::kUnsupportedProtocolVersion, "protocol level is not 4 or 5"};
  }
  const bool v5 = level == 5;
  MQ_ASSIGN_OR_RETURN(uint8_t flags, r.u8());
  if (flags & 0x01) return malformed("CONNECT reserved flag set");
  const bool will_flag = flags & 0x04;
  const uint8_t will_qos = (flags >> 3) & 0x03;
  const bool will_retain = flags & 0x20;
  const bool password_flag = flags & 0x40;
  const bool username_flag = flags & 0x80;
  if (will_qos == 3) return malformed("will QoS 3");
  if (!will_flag && (will_qos != 0 || will_retain)) {
    return protocol_error("will QoS or will retain set without will flag");
  }
  if (!v5 && password_flag && !username_flag) {
    return malformed("password flag without user name flag");
  }

  Packet packet(std::in_place_type<Connect>);
  auto& c = std::get<Connect>(packet);
  c.version = v5 ? ProtocolVersion::kV5 : ProtocolVersion::kV311;
  c.clean_start = flags & 0x02;
  MQ_ASSIGN_OR_RETURN(c.keep_alive, r.u16());
  MQ_ASSIGN_OR_RETURN(c.props, read_props(r, v5, PropertyContext::kConnect));

  MQ_ASSIGN_OR_RETURN(std::string_view client_id, read_utf8(r));
  if (!v5 && client_id.empty() && !c.clean_start) {
    // 3.1.1 §3.1.3.1: answered with CONNACK 0x02 Identifier rejected (to_v311_connack(0x85)).
    return Error{rc::kClientIdentifierNotValid, "empty client id requires clean session"};
  }
  c.client_id.assign(client_id);

  if (will_flag) {
    Will& w = c.will.emplace();
    w.qos = will_qos;
    w.retain = will_retain;
    MQ_ASSIGN_OR_RETURN(w.props, read_props(r, v5, PropertyContext::kWill));
    MQ_ASSIGN_OR_RETURN(std::string_view topic, read_utf8(r));
    if (!valid_topic_name(topic)) return Error{rc::kTopicNameInvalid, "invalid will topic"};
    w.topic.assign(topic);
    MQ_ASSIGN_OR_RETURN(auto payload, r.binary());
    w.payload.assign(payload.begin(), payload.end());
  }
  if (username_flag) {
    MQ_ASSIGN_OR_RETURN(std::string_view username, read_utf8(r));
    c.username.emplace(username);
  }
  if (password_flag) {
    MQ_ASSIGN_OR_RETURN(auto password, r.binary());
    c.password.emplace(password.begin(), password.end());
  }
  MQ_TRY(expect_end(r));
  return packet;
}

Result<Packet> decode_connack(ByteReader& r, bool v5) {
  ConnAck a;
  MQ_ASSIGN_OR_RETURN(uint8_t ack_flags, r.u8());
  if (ack_flags & 0xFE) return malformed("CONNACK reserved acknowledge flags set");
  a.session_present = ack_flags & 0x01;
  MQ_ASSIGN_OR_RETURN(a.reason, r.u8());
  if (v5 ? !one_of(a.reason, kConnAckReasons) : a.reason > rc311::kNotAuthorized) {
    return protocol_error("CONNACK reason code not defined");
  }
  if (a.session_present && a.reason != 0) {
    return protocol_error("CONNACK session present with a non-zero reason code");
  }
  MQ_ASSIGN_OR_RETURN(a.props, read_props(r, v5, PropertyContext::kConnAck));
  MQ_TRY(expect_end(r));
  return Packet(std::in_place_type<ConnAck>, std::move(a));
}

Result<Packet> decode_publish(uint8_t flags, ByteReader& r, bool v5) {
  const uint8_t qos = (flags >> 1) & 0x03;
  if (qos == 3) return malformed("PUBLISH QoS 3");
  const bool dup = flags & 0x08;
  if (dup && qos == 0) return malformed("PUBLISH DUP set with QoS 0");

  // Built in place: the topic and the payload are the only allocations.
  Packet packet(std::in_place_type<Publish>);
  auto& p = std::get<Publish>(packet);
  p.dup = dup;
  p.qos = qos;
  p.retain = flags & 0x01;
  MQ_ASSIGN_OR_RETURN(std::string_view topic, read_utf8(r));
  if (topic.empty()) {
    // MQTT 5 allows it when a Topic Alias is present: checked after the properties.
    if (!v5) return malformed("empty topic name");
  } else if (!valid_topic_name(topic)) {
    return Error{rc::kTopicNameInvalid, "wildcard in topic name"};
  }
  p.topic.assign(topic);
  if (qos > 0) {
    MQ_ASSIGN_OR_RETURN(p.packet_id, read_packet_id(r));
  }
  MQ_ASSIGN_OR_RETURN(p.props, read_props(r, v5, PropertyContext::kPublish));
  if (topic.empty() && !p.props.topic_alias) {
    return protocol_error("empty topic name without Topic Alias");
  }
  auto payload = r.rest();
  p.payload.assign(payload.begin(), payload.end());
  return packet;
}

// PUBACK, PUBREC, PUBREL, PUBCOMP.
template <typename T, size_t N>
Result<Packet> decode_ack(ByteReader& r, bool v5, const uint8_t (&reasons)[N]) {
  T a;
  MQ_ASSIGN_OR_RETURN(a.packet_id, read_packet_id(r));
  // MQTT 5 short forms (§3.4.2.1, §3.4.2.2.1): no reason -> 0x00, no property length -> none.
  if (v5 && !r.empty()) {
    MQ_ASSIGN_OR_RETURN(a.reason, r.u8());
    if (!one_of(a.reason, reasons))
      return protocol_error("reason code not defined for this packet");
    if (!r.empty()) {
      MQ_ASSIGN_OR_RETURN(a.props, decode_properties(r, PropertyContext::kPubAck));
    }
  }
  MQ_TRY(expect_end(r));
  return Packet(std::in_place_type<T>, std::move(a));
}

Result<Packet> decode_subscribe(ByteReader& r, bool v5) {
  Packet packet(std::in_place_type<Subscribe>);
  auto& s = std::get<Subscribe>(packet);
  MQ_ASSIGN_OR_RETURN(s.packet_id, read_packet_id(r));
  MQ_ASSIGN_OR_RETURN(s.props, read_props(r, v5, PropertyContext::kSubscribe));
  if (r.empty()) return protocol_error("SUBSCRIBE without topic filters");
  while (!r.empty()) {
    MQ_ASSIGN_OR_RETURN(std::string_view filter, read_utf8(r));
    if (!valid_topic_filter(filter)) return Error{rc::kTopicFilterInvalid, "invalid topic filter"};
    MQ_ASSIGN_OR_RETURN(uint8_t options, r.u8());
    SubscriptionOptions o;
    o.qos = options & 0x03;
    if (v5) {
      if (options & 0xC0) return malformed("subscription options reserved bits set");
      if (o.qos == 3) return protocol_error("subscription Maximum QoS 3");
      o.no_local = options & 0x04;
      o.retain_as_published = options & 0x08;
      o.retain_handling = (options >> 4) & 0x03;
      if (o.retain_handling == 3) return protocol_error("Retain Handling 3");
      if (o.no_local && is_shared(filter)) {
        return protocol_error("No Local on a shared subscription");
      }
    } else {
      if (options & 0xFC) return malformed("requested QoS reserved bits set");
      if (o.qos == 3) return malformed("requested QoS 3");
    }
    s.subscriptions.push_back(Subscription{std::string(filter), o});
  }
  return packet;
}

Result<Packet> decode_suback(ByteReader& r, bool v5) {
  Packet packet(std::in_place_type<SubAck>);
  auto& a = std::get<SubAck>(packet);
  MQ_ASSIGN_OR_RETURN(a.packet_id, read_packet_id(r));
  MQ_ASSIGN_OR_RETURN(a.props, read_props(r, v5, PropertyContext::kSubAck));
  if (r.empty()) return protocol_error("SUBACK without reason codes");
  auto codes = r.rest();
  for (uint8_t c : codes) {
    if (v5 ? !one_of(c, kSubAckReasons) : !one_of(c, kSubAckReturnCodes311)) {
      return protocol_error("SUBACK reason code not defined");
    }
  }
  a.reasons.assign(codes.begin(), codes.end());
  return packet;
}

Result<Packet> decode_unsubscribe(ByteReader& r, bool v5) {
  Packet packet(std::in_place_type<Unsubscribe>);
  auto& u = std::get<Unsubscribe>(packet);
  MQ_ASSIGN_OR_RETURN(u.packet_id, read_packet_id(r));
  MQ_ASSIGN_OR_RETURN(u.props, read_props(r, v5, PropertyContext::kUnsubscribe));
  if (r.empty()) return protocol_error("UNSUBSCRIBE without topic filters");
  while (!r.empty()) {
    MQ_ASSIGN_OR_RETURN(std::string_view filter, read_utf8(r));
    if (!valid_topic_filter(filter)) return Error{rc::kTopicFilterInvalid, "invalid topic filter"};
    u.filters.emplace_back(filter);
  }
  return packet;
}

Result<Packet> decode_unsuback(ByteReader& r, bool v5) {
  Packet packet(std::in_place_type<UnsubAck>);
  auto& a = std::get<UnsubAck>(packet);
  MQ_ASSIGN_OR_RETURN(a.packet_id, read_packet_id(r));
  if (v5) {
    MQ_ASSIGN_OR_RETURN(a.props, decode_properties(r, PropertyContext::kUnsubAck));
    if (r.empty()) return protocol_error("UNSUBACK without reason codes");
    auto codes = r.rest();
    for (uint8_t c : codes) {
      if (!one_of(c, kUnsubAckReasons)) return protocol_error("UNSUBACK reason code not defined");
    }
    a.reasons.assign(codes.begin(), codes.end());
  }
  MQ_TRY(expect_end(r));
  return packet;
}

// DISCONNECT and AUTH (MQTT 5 form): optional reason, then optional properties.
template <typename T, size_t N>
Result<Packet> decode_reason_and_props(ByteReader& r, PropertyContext ctx,
                                       const uint8_t (&reasons)[N]) {
  T d;
  if (!r.empty()) {
    MQ_ASSIGN_OR_RETURN(d.reason, r.u8());
    if (!one_of(d.reason, reasons))
      return protocol_error("reason code not defined for this packet");
    if (!r.empty()) {
      MQ_ASSIGN_OR_RETURN(d.props, decode_properties(r, ctx));
    }
  }
  MQ_TRY(expect_end(r));
  return Packet(std::in_place_type<T>, std::move(d));
}

// Required fixed-header flag nibble per packet type (index = type); PUBLISH is checked apart.
constexpr uint8_t kRequiredFlags[16] = {0, 0, 0, 0, 0, 0, 2, 0, 2, 0, 2, 0, 0, 0, 0, 0};

}  // namespace

Result<Packet> decode(std::span<const uint8_t> frame, ProtocolVersion version) {
  ByteReader header(frame);
  MQ_ASSIGN_OR_RETURN(uint8_t first, header.u8());
  MQ_ASSIGN_OR_RETURN(uint32_t remaining_length, header.varint());
  if (remaining_length != header.remaining()) {
    return malformed("remaining length does not match the frame");
  }
  ByteReader r(header.rest());

  const uint8_t type = first >> 4;
  const uint8_t flags = first & 0x0F;
  const bool v5 = version == ProtocolVersion::kV5;
  if (type == 0) return malformed("reserved packet type 0");
  if (type == static_cast<uint8_t>(PacketType::kAuth) && !v5) {
    return malformed("AUTH (type 15) is reserved in MQTT 3.1.1");
  }
  if (type != static_cast<uint8_t>(PacketType::kPublish) && flags != kRequiredFlags[type]) {
    return malformed("invalid fixed header flags");
  }

  switch (static_cast<PacketType>(type)) {
    case PacketType::kConnect:
      return decode_connect(r);
    case PacketType::kConnAck:
      return decode_connack(r, v5);
    case PacketType::kPublish:
      return decode_publish(flags, r, v5);
    case PacketType::kPubAck:
      return decode_ack<PubAck>(r, v5, kPubAckReasons);
    case PacketType::kPubRec:
      return decode_ack<PubRec>(r, v5, kPubAckReasons);
    case PacketType::kPubRel:
      return decode_ack<PubRel>(r, v5, kPubRelReasons);
    case PacketType::kPubComp:
      return decode_ack<PubComp>(r, v5, kPubRelReasons);
    case PacketType::kSubscribe:
      return decode_subscribe(r, v5);
    case PacketType::kSubAck:
      return decode_suback(r, v5);
    case PacketType::kUnsubscribe:
      return decode_unsubscribe(r, v5);
    case PacketType::kUnsubAck:
      return decode_unsuback(r, v5);
    case PacketType::kPingReq:
      MQ_TRY(expect_end(r));
      return Packet(PingReq{});
    case PacketType::kPingResp:
      MQ_TRY(expect_end(r));
      return Packet(PingResp{});
    case PacketType::kDisconnect:
      if (!v5) {
        MQ_TRY(expect_end(r));
        return Packet(Disconnect{});
      }
      return decode_reason_and_props<Disconnect>(r, PropertyContext::kDisconnect,
                                                 kDisconnectReasons);
    case PacketType::kAuth:
      return decode_reason_and_props<Auth>(r, PropertyContext::kAuth, kAuthReasons);
  }
  return malformed("reserved packet type");  // unreachable: every nibble 1..15 is handled
}

std::optional<uint8_t> peek_connect_level(std::span<const uint8_t> frame) {
  // Works on a partial frame too: only the bytes up to the level are needed.
  ByteReader r(frame);
  auto first = r.u8();
  if (!first || (*first >> 4) != static_cast<uint8_t>(PacketType::kConnect)) return std::nullopt;
  if (!r.varint()) return std::nullopt;
  auto name = r.string();
  if (!name || *name != "MQTT") return std::nullopt;
  auto level = r.u8();
  if (!level) return std::nullopt;
  return *level;
}

}  // namespace mquictt::codec
