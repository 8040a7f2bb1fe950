#pragma once
// Outgoing: one message on its way to one session -- the unit that sits in a session's queue and
// in its outbound inflight window. The Message itself is shared (MessagePtr); only the
// per-subscriber delivery parameters live here.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "broker/message.h"

namespace mquictt::broker {

struct Outgoing {
  MessagePtr msg;
  uint8_t qos = 0;      // delivery QoS: min(message QoS, granted QoS)
  bool retain = false;  // RETAIN flag to send (retained-on-subscribe, or Retain As Published)
  std::vector<uint32_t> subscription_ids;  // MQTT 5 Subscription Identifiers, may be empty
  // The subscription's stream; in the inflight window, the stream the PUBLISH went out on. A tag
  // whose stream is not open on the current connection means the control stream.
  StreamTag stream = kControlStream;

  // What a queued copy costs, for max_queued_bytes: topic + payload (the Message is shared, but a
  // session that keeps it alive is charged for it).
  size_t cost_bytes() const { return msg ? msg->topic.size() + msg->payload.size() : 0; }
};

}  // namespace mquictt::broker
