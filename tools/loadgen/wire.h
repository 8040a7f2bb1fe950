#pragma once
// The MQTT bytes the load generator sends and reads. Every packet is encoded by the codec; the
// per-message hot path re-uses a frame the codec encoded once and patches the packet id and the
// stamp, because building a codec::Packet per message (with its owned payload vector) would make
// the generator slower than the brokers it measures. On the receive side PUBLISH and the four
// acks are read through zero-copy views; everything else (and, with --verify, everything) goes
// through codec::decode.

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "codec/packet.h"

namespace mquictt::loadgen {

// Every benchmark payload starts with this stamp, so a subscriber can compute latency and credit
// the publisher without any shared table. Host byte order: both ends are this process.
struct Stamp {
  int64_t send_ns = 0;  // steady clock (see now_ns())
  uint32_t publisher = 0;
  uint32_t seq = 0;  // per publisher, from 0
};
inline constexpr size_t kStampSize = 16;

inline void write_stamp(uint8_t* p, const Stamp& s) {
  std::memcpy(p, &s.send_ns, 8);
  std::memcpy(p + 8, &s.publisher, 4);
  std::memcpy(p + 12, &s.seq, 4);
}
inline Stamp read_stamp(const uint8_t* p) {
  Stamp s;
  std::memcpy(&s.send_ns, p, 8);
  std::memcpy(&s.publisher, p + 8, 4);
  std::memcpy(&s.seq, p + 12, 4);
  return s;
}

// A PUBLISH frame encoded once; append() copies it and patches packet id and stamp.
class PublishTemplate {
 public:
  // Throws std::runtime_error if the codec's encoding does not decode back to the same packet.
  PublishTemplate(const std::string& topic, uint8_t qos, uint32_t payload_size,
                  codec::ProtocolVersion version);

  size_t frame_size() const { return frame_.size(); }
  void append(std::vector<uint8_t>& out, uint16_t packet_id, const Stamp& stamp) const {
    size_t at = out.size();
    out.insert(out.end(), frame_.begin(), frame_.end());
    uint8_t* f = out.data() + at;
    if (has_packet_id_) {
      f[packet_id_offset_] = static_cast<uint8_t>(packet_id >> 8);
      f[packet_id_offset_ + 1] = static_cast<uint8_t>(packet_id);
    }
    write_stamp(f + payload_offset_, stamp);
  }

 private:
  std::vector<uint8_t> frame_;
  size_t packet_id_offset_ = 0;
  size_t payload_offset_ = 0;
  bool has_packet_id_ = false;
};

// PUBACK, PUBREC, PUBREL, PUBCOMP with reason Success and no properties: 4 bytes in both
// versions. Encoded by the codec once; append() patches the packet id.
class AckTemplates {
 public:
  explicit AckTemplates(codec::ProtocolVersion version);
  void append(std::vector<uint8_t>& out, codec::PacketType type, uint16_t packet_id) const;

 private:
  // Indexed by type - kPubAck.
  std::array<std::array<uint8_t, 4>, 4> frames_{};
};

inline codec::PacketType frame_type(std::span<const uint8_t> frame) {
  return static_cast<codec::PacketType>(frame[0] >> 4);
}

struct PublishView {
  uint8_t qos = 0;
  uint16_t packet_id = 0;
  std::span<const uint8_t> payload;
};
// The fields of a complete PUBLISH frame the benchmark needs; nullopt if it is truncated.
std::optional<PublishView> view_publish(std::span<const uint8_t> frame,
                                        codec::ProtocolVersion version);
// The packet id of a complete PUBACK/PUBREC/PUBREL/PUBCOMP frame.
std::optional<uint16_t> view_ack_id(std::span<const uint8_t> frame);

std::vector<uint8_t> encode_connect(const std::string& client_id, codec::ProtocolVersion version,
                                    uint16_t keep_alive);
std::vector<uint8_t> encode_subscribe(uint16_t packet_id, const std::string& filter, uint8_t qos,
                                      codec::ProtocolVersion version);
std::vector<uint8_t> encode_disconnect(codec::ProtocolVersion version);

}  // namespace mquictt::loadgen
