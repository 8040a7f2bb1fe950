#include "broker/connection_state.h"

#include <algorithm>

#include "codec/frame_splitter.h"
#include "codec/reason_code.h"

namespace mquictt::broker {

Result<Negotiated> negotiate(const codec::Connect& c, const BrokerConfig& cfg) {
  using codec::ProtocolVersion;
  namespace rc = codec::rc;
  const bool v5 = c.version == ProtocolVersion::kV5;
  Negotiated n;

  if (c.will) {
    if (c.will->qos > cfg.maximum_qos) return Error{rc::kQosNotSupported, "will QoS not supported"};
    if (c.will->retain && !cfg.retain_available) {
      return Error{rc::kRetainNotSupported, "will retain not supported"};
    }
  }

  n.keep_alive_s = c.keep_alive;
  if (cfg.max_keepalive_s != 0 && (c.keep_alive == 0 || c.keep_alive > cfg.max_keepalive_s)) {
    if (!v5) return Error{rc::kClientIdentifierNotValid, "keep alive above max_keepalive"};
    n.keep_alive_s = cfg.max_keepalive_s;
    n.server_keep_alive = cfg.max_keepalive_s;
  }

  if (v5) {
    const uint32_t requested = c.props.session_expiry_interval.value_or(0);
    n.session_expiry_s = std::min(requested, cfg.max_session_expiry_interval_s);
    n.session_expiry_changed = n.session_expiry_s != requested;
    const uint16_t cap = cfg.max_inflight_messages == 0 ? 65535 : cfg.max_inflight_messages;
    n.send_window = std::min<uint16_t>(c.props.receive_maximum.value_or(65535), cap);
    n.max_outbound_packet = c.props.maximum_packet_size.value_or(0);
    n.outbound_alias_max =
        std::min<uint16_t>(c.props.topic_alias_maximum.value_or(0), cfg.max_topic_alias_outbound);
    n.request_problem_info = c.props.request_problem_information.value_or(1) != 0;
  } else {
    n.session_expiry_s = c.clean_start ? 0 : cfg.max_session_expiry_interval_s;
    n.send_window = cfg.max_inflight_messages == 0 ? 65535 : cfg.max_inflight_messages;
  }
  return n;
}

codec::Properties connack_properties(const Negotiated& n, const BrokerConfig& cfg,
                                     const std::optional<std::string>& assigned_client_id) {
  codec::Properties p;
  if (n.session_expiry_changed) p.session_expiry_interval = n.session_expiry_s;
  if (cfg.receive_maximum != 65535) p.receive_maximum = cfg.receive_maximum;
  if (cfg.maximum_qos < 2) p.maximum_qos = cfg.maximum_qos;
  if (!cfg.retain_available) p.retain_available = 0;
  if (cfg.max_packet_size_bytes != 0 && cfg.max_packet_size_bytes < codec::kMaxPacketSizeLimit) {
    p.maximum_packet_size = cfg.max_packet_size_bytes;
  }
  if (assigned_client_id) p.assigned_client_identifier = *assigned_client_id;
  if (cfg.topic_alias_maximum != 0) p.topic_alias_maximum = cfg.topic_alias_maximum;
  if (!cfg.wildcard_subscription_available) p.wildcard_subscription_available = 0;
  if (!cfg.subscription_identifiers_available) p.subscription_identifier_available = 0;
  if (!cfg.shared_subscription_available) p.shared_subscription_available = 0;
  if (n.server_keep_alive) p.server_keep_alive = *n.server_keep_alive;
  return p;
}

}  // namespace mquictt::broker
