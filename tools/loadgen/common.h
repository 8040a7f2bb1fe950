#pragma once
// Small shared definitions of the load generator: the clock and the run phases.

#include <chrono>
#include <cstdint>

namespace mquictt::loadgen {

// Steady clock in nanoseconds. CLOCK_MONOTONIC is system-wide, so stamps written by one thread
// can be subtracted from readings taken by another.
inline int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

inline constexpr int64_t kNsPerSec = 1'000'000'000;
inline constexpr int64_t kNsPerMs = 1'000'000;

inline int64_t seconds_to_ns(double s) {
  return static_cast<int64_t>(s * 1e9);
}

// Lifecycle of a run, driven by the main thread and observed by the workers.
enum class Phase : int {
  kSetup,  // open connections, CONNECT, SUBSCRIBE
  kRun,    // generate load (warmup, then measurement), then drain
  kStop,   // DISCONNECT and close everything
};

}  // namespace mquictt::loadgen
