#pragma once
// An application message as the router sees it: immutable once built, shared by every
// subscriber, queue and the retained store through MessagePtr (one copy of topic and payload no
// matter how many subscribers).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "codec/properties.h"
#include "util/clock.h"

namespace mquictt::broker {

// Process-unique id of a Session; never reused while the broker runs. The router and queues hold
// ids, never pointers.
using SessionId = uint64_t;
inline constexpr SessionId kNoSession = 0;

// The stream of a connection a subscription belongs to, and that a delivery goes out on (MQTT
// over QUIC with data streams, see protocol_handler.h "Streams"). kControlStream is the
// connection's first stream: the only one of TCP and single-stream QUIC clients. The broker hands
// out the other values and never reuses one, so a tag left over from an earlier connection never
// names a stream of a later one (it falls back to the control stream).
using StreamTag = uint64_t;
inline constexpr StreamTag kControlStream = 0;

struct Message {
  std::string topic;
  std::vector<uint8_t> payload;
  uint8_t qos = 0;      // QoS the publisher used
  bool retain = false;  // RETAIN flag as published
  // PUBLISH properties forwarded to subscribers: payload format, content type, response topic,
  // correlation data, user properties. Never Topic Alias or Subscription Identifier (those are
  // per-delivery), and message_expiry_interval is recomputed per delivery from expires_at_ms.
  codec::Properties props;
  TimeMs received_at_ms = 0;
  std::optional<TimeMs> expires_at_ms;  // from Message Expiry Interval
  SessionId origin = kNoSession;        // publisher's session, for No Local

  bool expired(TimeMs now) const { return expires_at_ms && now >= *expires_at_ms; }
  // Remaining Message Expiry Interval in whole seconds (rounded up), if the message expires.
  std::optional<uint32_t> remaining_expiry_s(TimeMs now) const {
    if (!expires_at_ms) return std::nullopt;
    TimeMs left = *expires_at_ms - now;
    if (left <= 0) return 0u;
    return static_cast<uint32_t>((left + 999) / 1000);
  }
};

using MessagePtr = std::shared_ptr<const Message>;

}  // namespace mquictt::broker
