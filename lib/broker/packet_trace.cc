#include "broker/packet_trace.h"

#include <type_traits>
#include <variant>

namespace mquictt::broker {

PacketTrace trace_of(const codec::Packet& p, size_t length, bool sent, bool v5) {
  PacketTrace t;
  t.sent = sent;
  t.type = codec::packet_type(p);
  t.length = length;
  std::visit(
      [&](const auto& pkt) {
        using T = std::decay_t<decltype(pkt)>;
        if constexpr (std::is_same_v<T, codec::Connect>) {
          t.client_id = pkt.client_id;
          t.protocol_version = static_cast<uint8_t>(pkt.version);
          t.clean_start = pkt.clean_start;
          t.keep_alive = pkt.keep_alive;
        } else if constexpr (std::is_same_v<T, codec::ConnAck>) {
          t.reason_code = pkt.reason;
          t.session_present = pkt.session_present;
        } else if constexpr (std::is_same_v<T, codec::Publish>) {
          t.topic = pkt.topic;
          t.qos = pkt.qos;
          t.dup = pkt.dup;
          t.retain = pkt.retain;
          if (pkt.qos > 0) t.packet_id = pkt.packet_id;
          t.topic_alias = pkt.props.topic_alias;
          t.payload_length = pkt.payload.size();
        } else if constexpr (std::is_base_of_v<codec::AckFields, T>) {
          t.packet_id = pkt.packet_id;
          if (v5) t.reason_code = pkt.reason;
        } else if constexpr (std::is_same_v<T, codec::Subscribe>) {
          t.packet_id = pkt.packet_id;
          t.subscriptions = pkt.subscriptions;
        } else if constexpr (std::is_same_v<T, codec::SubAck> ||
                             std::is_same_v<T, codec::UnsubAck>) {
          t.packet_id = pkt.packet_id;
          t.reason_codes = pkt.reasons;
        } else if constexpr (std::is_same_v<T, codec::Unsubscribe>) {
          t.packet_id = pkt.packet_id;
          t.filters = pkt.filters;
        } else if constexpr (std::is_same_v<T, codec::Disconnect> ||
                             std::is_same_v<T, codec::Auth>) {
          if (v5) t.reason_code = pkt.reason;
        }
      },
      p);
  return t;
}

}  // namespace mquictt::broker
