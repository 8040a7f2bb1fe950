#pragma once
// DeadlineQueue: the broker's one timer structure. Every timed duty (connect timeout, keepalive,
// will delay, session expiry, queued-message expiry, retained expiry) is an entry keyed by its
// due time, so Broker::tick() pops only what is due and next_deadline() is O(1).
//
// Entries name their target by kind + numeric id (a connection id or a SessionId), never by
// pointer: the target may be gone when the entry fires, and the handler of a kind looks the id
// up and ignores stale entries. cancel() is O(log n); cancelling an unknown / fired id is a no-op.
// Not thread-safe (loop thread only).

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "util/clock.h"

namespace mquictt::broker {

enum class TimerKind : uint8_t {
  kConnectTimeout,  // target: connection id
  kKeepAlive,       // target: connection id
  kWillDelay,       // target: SessionId
  kSessionExpiry,   // target: SessionId
  kQueueExpiry,     // target: SessionId (expired messages waiting in its queue)
  kRetainedExpiry,  // target: unused
};

struct TimerTarget {
  TimerKind kind;
  uint64_t id;
};

using TimerId = uint64_t;
inline constexpr TimerId kNoTimer = 0;

class DeadlineQueue {
 public:
  TimerId schedule(TimeMs at, TimerTarget target);
  void cancel(TimerId id);
  // Cancels *id (if set) and resets it to kNoTimer.
  void cancel_and_reset(TimerId& id) {
    cancel(id);
    id = kNoTimer;
  }

  std::optional<TimeMs> next() const;
  // Removes and returns the earliest entry due at `now`, if any.
  std::optional<std::pair<TimerId, TimerTarget>> pop_due(TimeMs now);

  size_t size() const { return order_.size(); }

 private:
  std::set<std::pair<TimeMs, TimerId>> order_;
  std::map<TimerId, std::pair<TimeMs, TimerTarget>> entries_;
  TimerId next_id_ = 1;
};

}  // namespace mquictt::broker
