#pragma once
// Time is injected: everything below lib/server takes a Clock& (or a TimePoint) instead of reading
// the system clock, so expiry, keepalive and will-delay are unit-testable with ManualClock.

#include <cstdint>

namespace mquictt {

// Monotonic time in milliseconds since an arbitrary epoch.
using TimeMs = int64_t;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimeMs now_ms() const = 0;
};

// Test clock: time moves only when advance() is called.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeMs start = 1'000'000) : now_(start) {}
  TimeMs now_ms() const override { return now_; }
  void advance(TimeMs ms) { now_ += ms; }

 private:
  TimeMs now_;
};

}  // namespace mquictt
