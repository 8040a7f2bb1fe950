#pragma once
// Protocol timers of many connections (QUIC: up to 10,000 idle ones per loop) without scanning
// them all on every turn: a min-heap of (due time, slot) with lazy deletion. Each slot remembers
// the time it is armed for; heap entries that no longer match are skipped when they come up.
// Times are now_ns() nanoseconds.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <queue>
#include <utility>
#include <vector>

namespace mquictt::loadgen {

class TimerHeap {
 public:
  explicit TimerHeap(size_t slots) : armed_(slots, kNever) {}

  static constexpr int64_t kNever = INT64_MAX;

  // Arms `slot` for `due` (kNever disarms). Cheap if nothing changed.
  void arm(size_t slot, int64_t due) {
    if (armed_[slot] == due) return;
    armed_[slot] = due;
    if (due != kNever) heap_.emplace(due, slot);
  }

  // Pops every slot due at `now` (disarming it) and calls fire(slot); fire may re-arm.
  template <typename Fn>
  void run_due(int64_t now, Fn&& fire) {
    while (!heap_.empty() && heap_.top().first <= now) {
      auto [due, slot] = heap_.top();
      heap_.pop();
      if (armed_[slot] != due) continue;  // stale: re-armed or disarmed since
      armed_[slot] = kNever;
      fire(slot);
    }
  }

  // The earliest armed time, kNever if none. Drops stale entries from the top.
  int64_t next() {
    while (!heap_.empty() && armed_[heap_.top().second] != heap_.top().first)
      heap_.pop();
    return heap_.empty() ? kNever : heap_.top().first;
  }

 private:
  using Entry = std::pair<int64_t, size_t>;
  std::priority_queue<Entry, std::vector<Entry>, std::greater<>> heap_;
  std::vector<int64_t> armed_;
};

}  // namespace mquictt::loadgen
