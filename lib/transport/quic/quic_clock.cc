#include "transport/quic/quic_clock.h"

#include <ctime>

namespace mquictt::quic {

Timestamp MonotonicClock::now() const {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<Timestamp>(ts.tv_sec) * kNanosPerSecond + static_cast<Timestamp>(ts.tv_nsec);
}

QuicClock& monotonic_clock() {
  static MonotonicClock clock;
  return clock;
}

}  // namespace mquictt::quic
