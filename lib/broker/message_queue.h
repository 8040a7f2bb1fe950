#pragma once
// MessageQueue: a session's FIFO of Outgoing messages that are not (yet) in the inflight window --
// the offline queue while the client is away, and the overflow of a slow or window-limited
// connected client. Bounded by message count and bytes (BrokerConfig max_queued_messages /
// max_queued_bytes; 0 = unlimited for either).
//
// Expiry (MQTT 5 §3.3.2.3.3): messages keep their absolute expires_at; purge_expired() drops the
// ones that ran out while waiting, and earliest_expiry() tells the broker when to call it next.
// The sender also checks expiry when it takes a message out (pop_front_live).
//
// Ownership: the queue owns its Outgoing entries (which share their Message).

#include <cstddef>
#include <cstdint>
#include <optional>

#include "broker/outgoing.h"
#include "util/clock.h"
#include "util/lazy_deque.h"

namespace mquictt::broker {

struct QueueLimits {
  uint32_t max_messages = 0;  // 0 = unlimited
  uint64_t max_bytes = 0;     // 0 = unlimited
};

class MessageQueue {
 public:
  // False (and the message is not queued) if it would exceed a limit.
  bool push(Outgoing out, const QueueLimits& limits);
  // Puts a message back at the head (it was taken out but could not be sent). Never fails.
  void push_front(Outgoing out);

  // The first message that has not expired at `now`; expired ones before it are dropped and
  // counted in *expired.
  std::optional<Outgoing> pop_front_live(TimeMs now, uint64_t* expired);
  const Outgoing* front() const { return q_.empty() ? nullptr : &q_.front(); }

  // Drops every expired message; returns how many.
  size_t purge_expired(TimeMs now);
  // Earliest expires_at among queued messages (O(n); called after a purge or a push).
  std::optional<TimeMs> earliest_expiry() const;

  void clear();
  bool empty() const { return q_.empty(); }
  size_t size() const { return q_.size(); }
  uint64_t bytes() const { return bytes_; }

 private:
  LazyDeque<Outgoing> q_;  // no memory while empty (most sessions, most of the time)
  uint64_t bytes_ = 0;
};

}  // namespace mquictt::broker
