#include "wire.h"

#include <stdexcept>

#include "codec/decoder.h"
#include "codec/encoder.h"

namespace mquictt::loadgen {

namespace {

// Remaining Length varint starting at frame[1]: (value, bytes) or nullopt.
std::optional<std::pair<uint32_t, size_t>> read_varint(std::span<const uint8_t> bytes) {
  uint32_t value = 0;
  for (size_t i = 0; i < 4 && i < bytes.size(); ++i) {
    value |= uint32_t{bytes[i] & 0x7Fu} << (7 * i);
    if ((bytes[i] & 0x80) == 0) return std::pair{value, i + 1};
  }
  return std::nullopt;
}

}  // namespace

PublishTemplate::PublishTemplate(const std::string& topic, uint8_t qos, uint32_t payload_size,
                                 codec::ProtocolVersion version) {
  codec::Publish p;
  p.qos = qos;
  p.topic = topic;
  p.packet_id = qos > 0 ? 1 : 0;
  // Filler after the stamp: printable, so a payload dump in a broker log stays readable.
  p.payload.assign(payload_size, static_cast<uint8_t>('x'));
  Stamp zero;
  write_stamp(p.payload.data(), zero);
  frame_ = codec::encode(codec::Packet{p}, version);

  // Locate the fields from the frame the codec produced rather than assuming a layout.
  auto view = view_publish(frame_, version);
  if (!view || view->payload.size() != payload_size || view->qos != qos) {
    throw std::runtime_error("PUBLISH template: unexpected frame from the codec");
  }
  payload_offset_ = static_cast<size_t>(view->payload.data() - frame_.data());
  has_packet_id_ = qos > 0;
  if (has_packet_id_) {
    auto varint = read_varint(std::span<const uint8_t>(frame_).subspan(1));
    packet_id_offset_ = 1 + varint->second + 2 + topic.size();
  }

  // The round trip through the decoder checks the offsets and the codec together.
  auto decoded = codec::decode(frame_, version);
  if (!decoded.ok() || !std::holds_alternative<codec::Publish>(*decoded) ||
      std::get<codec::Publish>(*decoded) != p) {
    throw std::runtime_error("PUBLISH template does not survive a codec round trip");
  }
}

AckTemplates::AckTemplates(codec::ProtocolVersion version) {
  auto fill = [&](codec::PacketType t, const codec::Packet& packet) {
    auto bytes = codec::encode(packet, version);
    if (bytes.size() != 4) throw std::runtime_error("ack template is not 4 bytes");
    auto& slot = frames_[static_cast<size_t>(t) - static_cast<size_t>(codec::PacketType::kPubAck)];
    std::copy(bytes.begin(), bytes.end(), slot.begin());
  };
  codec::PubAck ack;
  ack.packet_id = 1;
  fill(codec::PacketType::kPubAck, ack);
  codec::PubRec rec;
  rec.packet_id = 1;
  fill(codec::PacketType::kPubRec, rec);
  codec::PubRel rel;
  rel.packet_id = 1;
  fill(codec::PacketType::kPubRel, rel);
  codec::PubComp comp;
  comp.packet_id = 1;
  fill(codec::PacketType::kPubComp, comp);
}

void AckTemplates::append(std::vector<uint8_t>& out, codec::PacketType type,
                          uint16_t packet_id) const {
  const auto& f =
      frames_[static_cast<size_t>(type) - static_cast<size_t>(codec::PacketType::kPubAck)];
  out.push_back(f[0]);
  out.push_back(f[1]);
  out.push_back(static_cast<uint8_t>(packet_id >> 8));
  out.push_back(static_cast<uint8_t>(packet_id));
}

std::optional<PublishView> view_publish(std::span<const uint8_t> frame,
                                        codec::ProtocolVersion version) {
  if (frame.size() < 2) return std::nullopt;
  auto varint = read_varint(frame.subspan(1));
  if (!varint) return std::nullopt;
  size_t pos = 1 + varint->second;
  if (frame.size() != pos + varint->first) return std::nullopt;
  PublishView v;
  v.qos = static_cast<uint8_t>((frame[0] >> 1) & 0x03);
  if (pos + 2 > frame.size()) return std::nullopt;
  size_t topic_len = (size_t{frame[pos]} << 8) | frame[pos + 1];
  pos += 2 + topic_len;
  if (v.qos > 0) {
    if (pos + 2 > frame.size()) return std::nullopt;
    v.packet_id = static_cast<uint16_t>((frame[pos] << 8) | frame[pos + 1]);
    pos += 2;
  }
  if (version == codec::ProtocolVersion::kV5) {
    if (pos >= frame.size()) return std::nullopt;
    auto props = read_varint(frame.subspan(pos));
    if (!props) return std::nullopt;
    pos += props->second + props->first;
  }
  if (pos > frame.size()) return std::nullopt;
  v.payload = frame.subspan(pos);
  return v;
}

std::optional<uint16_t> view_ack_id(std::span<const uint8_t> frame) {
  // Acks never carry enough properties to need a multi-byte Remaining Length from a broker
  // under benchmark; the full decoder handles anything else (--verify).
  if (frame.size() < 4 || (frame[1] & 0x80) != 0) return std::nullopt;
  return static_cast<uint16_t>((frame[2] << 8) | frame[3]);
}

std::vector<uint8_t> encode_connect(const std::string& client_id, codec::ProtocolVersion version,
                                    uint16_t keep_alive) {
  codec::Connect c;
  c.version = version;
  c.clean_start = true;
  c.keep_alive = keep_alive;
  c.client_id = client_id;
  return codec::encode(codec::Packet{c}, version);
}

std::vector<uint8_t> encode_subscribe(uint16_t packet_id, const std::string& filter, uint8_t qos,
                                      codec::ProtocolVersion version) {
  codec::Subscribe s;
  s.packet_id = packet_id;
  codec::Subscription sub;
  sub.filter = filter;
  sub.options.qos = qos;
  s.subscriptions.push_back(sub);
  return codec::encode(codec::Packet{s}, version);
}

std::vector<uint8_t> encode_disconnect(codec::ProtocolVersion version) {
  return codec::encode(codec::Packet{codec::Disconnect{}}, version);
}

}  // namespace mquictt::loadgen
