#include "codec/encoder.h"

#include <string_view>

#include "util/byte_writer.h"

namespace mquictt::codec {

namespace {

// The body size and the body writer for each packet are kept next to each other: encoded_size()
// must agree byte for byte with encode().

size_t string_size(std::string_view s) {
  return 2 + s.size();
}

// Reason + properties of the PUBACK family, DISCONNECT and AUTH in their MQTT 5 short forms.
size_t reason_and_props_size(uint8_t reason, const Properties& props) {
  if (props.empty()) return reason == 0 ? 0 : 1;
  return 1 + properties_encoded_size(props);
}
void write_reason_and_props(uint8_t reason, const Properties& props, ByteWriter& w) {
  if (props.empty()) {
    if (reason != 0) w.u8(reason);
    return;
  }
  w.u8(reason);
  encode_properties(props, w);
}

uint8_t subscription_options_byte(const SubscriptionOptions& o, bool v5) {
  if (!v5) return o.qos;
  return static_cast<uint8_t>(o.qos | (o.no_local ? 0x04 : 0) | (o.retain_as_published ? 0x08 : 0) |
                              (o.retain_handling << 4));
}

struct BodySize {
  bool v5;

  size_t operator()(const Connect& c) const {
    const bool cv5 = c.version == ProtocolVersion::kV5;
    size_t n = string_size("MQTT") + 1 + 1 + 2;  // protocol name, level, flags, keep alive
    if (cv5) n += properties_encoded_size(c.props);
    n += string_size(c.client_id);
    if (c.will) {
      if (cv5) n += properties_encoded_size(c.will->props);
      n += string_size(c.will->topic) + 2 + c.will->payload.size();
    }
    if (c.username) n += string_size(*c.username);
    if (c.password) n += 2 + c.password->size();
    return n;
  }
  size_t operator()(const ConnAck& a) const {
    return 2 + (v5 ? properties_encoded_size(a.props) : 0);
  }
  size_t operator()(const Publish& p) const {
    return string_size(p.topic) + (p.qos > 0 ? 2 : 0) +
           (v5 ? properties_encoded_size(p.props) : 0) + p.payload.size();
  }
  size_t operator()(const AckFields& a) const {
    return 2 + (v5 ? reason_and_props_size(a.reason, a.props) : 0);
  }
  size_t operator()(const Subscribe& s) const {
    size_t n = 2 + (v5 ? properties_encoded_size(s.props) : 0);
    for (const auto& sub : s.subscriptions)
      n += string_size(sub.filter) + 1;
    return n;
  }
  size_t operator()(const SubAck& a) const {
    return 2 + (v5 ? properties_encoded_size(a.props) : 0) + a.reasons.size();
  }
  size_t operator()(const Unsubscribe& u) const {
    size_t n = 2 + (v5 ? properties_encoded_size(u.props) : 0);
    for (const auto& f : u.filters)
      n += string_size(f);
    return n;
  }
  size_t operator()(const UnsubAck& a) const {
    return 2 + (v5 ? properties_encoded_size(a.props) + a.reasons.size() : 0);
  }
  size_t operator()(const PingReq&) const { return 0; }
  size_t operator()(const PingResp&) const { return 0; }
  size_t operator()(const Disconnect& d) const {
    return v5 ? reason_and_props_size(d.reason, d.props) : 0;
  }
  size_t operator()(const Auth& a) const { return reason_and_props_size(a.reason, a.props); }
};

struct BodyWriter {
  bool v5;
  ByteWriter& w;

  void operator()(const Connect& c) const {
    const bool cv5 = c.version == ProtocolVersion::kV5;
    w.string("MQTT");
    w.u8(static_cast<uint8_t>(c.version));
    uint8_t flags = c.clean_start ? 0x02 : 0;
    if (c.will) {
      flags |= 0x04 | static_cast<uint8_t>(c.will->qos << 3) | (c.will->retain ? 0x20 : 0);
    }
    if (c.password) flags |= 0x40;
    if (c.username) flags |= 0x80;
    w.u8(flags);
    w.u16(c.keep_alive);
    if (cv5) encode_properties(c.props, w);
    w.string(c.client_id);
    if (c.will) {
      if (cv5) encode_properties(c.will->props, w);
      w.string(c.will->topic);
      w.binary(c.will->payload);
    }
    if (c.username) w.string(*c.username);
    if (c.password) w.binary(*c.password);
  }
  void operator()(const ConnAck& a) const {
    w.u8(a.session_present ? 1 : 0);
    w.u8(a.reason);
    if (v5) encode_properties(a.props, w);
  }
  void operator()(const Publish& p) const {
    w.string(p.topic);
    if (p.qos > 0) w.u16(p.packet_id);
    if (v5) encode_properties(p.props, w);
    w.bytes(p.payload);
  }
  void operator()(const AckFields& a) const {
    w.u16(a.packet_id);
    if (v5) write_reason_and_props(a.reason, a.props, w);
  }
  void operator()(const Subscribe& s) const {
    w.u16(s.packet_id);
    if (v5) encode_properties(s.props, w);
    for (const auto& sub : s.subscriptions) {
      w.string(sub.filter);
      w.u8(subscription_options_byte(sub.options, v5));
    }
  }
  void operator()(const SubAck& a) const {
    w.u16(a.packet_id);
    if (v5) encode_properties(a.props, w);
    w.bytes(a.reasons);
  }
  void operator()(const Unsubscribe& u) const {
    w.u16(u.packet_id);
    if (v5) encode_properties(u.props, w);
    for (const auto& f : u.filters)
      w.string(f);
  }
  void operator()(const UnsubAck& a) const {
    w.u16(a.packet_id);
    if (!v5) return;  // 3.1.1 UNSUBACK has no payload
    encode_properties(a.props, w);
    w.bytes(a.reasons);
  }
  void operator()(const PingReq&) const {}
  void operator()(const PingResp&) const {}
  void operator()(const Disconnect& d) const {
    if (v5) write_reason_and_props(d.reason, d.props, w);
  }
  void operator()(const Auth& a) const { write_reason_and_props(a.reason, a.props, w); }
};

uint8_t first_byte(const Packet& p) {
  const auto type = static_cast<uint8_t>(packet_type(p));
  uint8_t flags = 0;
  switch (packet_type(p)) {
    case PacketType::kPublish: {
      const auto& pub = std::get<Publish>(p);
      flags = static_cast<uint8_t>((pub.dup ? 0x08 : 0) | (pub.qos << 1) | (pub.retain ? 1 : 0));
      break;
    }
    case PacketType::kPubRel:
    case PacketType::kSubscribe:
    case PacketType::kUnsubscribe:
      flags = 0x02;
      break;
    default:
      break;
  }
  return static_cast<uint8_t>(type << 4 | flags);
}

}  // namespace

void encode(const Packet& p, ProtocolVersion version, std::vector<uint8_t>& out) {
  const bool v5 = version == ProtocolVersion::kV5;
  const size_t body = std::visit(BodySize{v5}, p);
  out.reserve(out.size() + 1 + varint_size(static_cast<uint32_t>(body)) + body);
  ByteWriter w(out);
  w.u8(first_byte(p));
  w.varint(static_cast<uint32_t>(body));
  std::visit(BodyWriter{v5, w}, p);
}

std::vector<uint8_t> encode(const Packet& p, ProtocolVersion version) {
  std::vector<uint8_t> out;
  encode(p, version, out);
  return out;
}

size_t encoded_size(const Packet& p, ProtocolVersion version) {
  const size_t body = std::visit(BodySize{version == ProtocolVersion::kV5}, p);
  return 1 + varint_size(static_cast<uint32_t>(body)) + body;
}

}  // namespace mquictt::codec
