#pragma once
// Time for ngtcp2: CLOCK_MONOTONIC in nanoseconds (ngtcp2_tstamp). Everything in lib/transport/quic
// reads time through a QuicClock so tests can substitute a manual one.

#include <cstdint>

namespace mquictt::quic {

// Nanoseconds on the monotonic clock, as ngtcp2 expects. UINT64_MAX means "never" in ngtcp2.
using Timestamp = uint64_t;

inline constexpr Timestamp kNanosPerMilli = 1'000'000;
inline constexpr Timestamp kNanosPerSecond = 1'000'000'000;

class QuicClock {
 public:
  virtual ~QuicClock() = default;
  virtual Timestamp now() const = 0;
};

// clock_gettime(CLOCK_MONOTONIC).
class MonotonicClock final : public QuicClock {
 public:
  Timestamp now() const override;
};

// A process-wide MonotonicClock, the default everywhere.
QuicClock& monotonic_clock();

// Test clock: moves only when told to.
class ManualQuicClock final : public QuicClock {
 public:
  explicit ManualQuicClock(Timestamp start = kNanosPerSecond) : now_(start) {}
  Timestamp now() const override { return now_; }
  void advance(Timestamp ns) { now_ += ns; }

 private:
  Timestamp now_;
};

}  // namespace mquictt::quic
