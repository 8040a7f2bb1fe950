#pragma once
// ConnectionState: what one network connection negotiated in its CONNECT / CONNACK. It lives in
// the ProtocolHandler and dies with the connection; a resumed session gets a fresh one built
// from the new CONNECT (the send quota, aliases and limits of the old connection never carry
// over -- MQTT 5 §4.9, §3.3.2.3.4).
//
// negotiate() is the pure part of CONNECT handling (no sessions, no I/O):
//   input                                   outcome
//   keep alive k, max_keepalive_s m = 0     keep alive k
//   v5, m > 0, k = 0 or k > m               keep alive m, CONNACK Server Keep Alive m
//   v3.1.1, m > 0, k = 0 or k > m           error 0x85 -> CONNACK 0x02 Identifier rejected (3.1.1
//                                           cannot tell the client another value; mosquitto
//                                           rejects the same way)
//   v5 Session Expiry e (absent: 0)         min(e, max_session_expiry_interval_s); CONNACK carries
//                                           it when it differs from the request
//   v3.1.1 clean session 0 / 1              0xFFFFFFFF capped by max_session_expiry / 0
//   Receive Maximum r (absent: 65535)       send window min(r, max_inflight_messages or 65535)
//   Maximum Packet Size p (absent: none)    outbound limit p
//   Topic Alias Maximum t (absent: 0)       outbound aliases min(t, max_topic_alias_outbound)
//   will QoS > maximum_qos                  0x9B QoS not supported
//   will retain, !retain_available          0x9A Retain not supported

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>

#include "broker/broker_config.h"
#include "broker/message.h"
#include "broker/topic_aliases.h"
#include "codec/packet.h"
#include "util/result.h"

namespace mquictt::broker {

struct Negotiated {
  uint16_t keep_alive_s = 0;                  // what the server enforces (0 = none)
  std::optional<uint16_t> server_keep_alive;  // set when it differs from the client's (MQTT 5)
  uint32_t session_expiry_s = 0;              // granted
  bool session_expiry_changed = false;        // CONNACK must carry Session Expiry Interval
  uint16_t send_window = 65535;               // outbound QoS 1/2 in flight
  uint32_t max_outbound_packet = 0;           // client's Maximum Packet Size; 0 = no limit
  uint16_t outbound_alias_max = 0;
  bool request_problem_info = true;
};

Result<Negotiated> negotiate(const codec::Connect& connect, const BrokerConfig& config);

// CONNACK properties for an accepted MQTT 5 CONNECT (ascending identifiers are the encoder's job):
// only values that differ from the spec defaults are sent.
codec::Properties connack_properties(const Negotiated& n, const BrokerConfig& config,
                                     const std::optional<std::string>& assigned_client_id);

struct ConnectionState {
  std::shared_ptr<const BrokerConfig> config;  // snapshot taken at accept()
  codec::ProtocolVersion version = codec::ProtocolVersion::kV311;
  Negotiated negotiated;
  bool connect_session_expiry_zero = true;  // CONNECT had expiry 0: DISCONNECT may not raise it
  InboundTopicAliases inbound_aliases;
  OutboundTopicAliases outbound_aliases;
  // Inbound QoS 2 ids accepted on THIS connection and not yet released: what counts against our
  // Receive Maximum in MQTT 5 (ids left over from an earlier connection don't). Mapped to the
  // stream the PUBLISH came on: a data stream that ends takes its ids with it (any version).
  std::unordered_map<uint16_t, StreamTag> inbound_quota;
  std::optional<std::string> auth_method;  // MQTT 5 enhanced authentication method, if used
};

}  // namespace mquictt::broker
