#pragma once
// Which of one publisher's sequence numbers a subscriber has seen, over the last 1024, so that a
// message arriving out of order is not mistaken for a duplicate (and then counted as lost).

#include <array>
#include <cstdint>

namespace mquictt::loadgen {

class SeqWindow {
 public:
  enum class Kind : uint8_t { kNew, kReordered, kDuplicate };

  Kind add(uint32_t seq) {
    if (seq >= next_) {
      // The slots of the sequence numbers skipped over (not seen yet) held numbers from 1024
      // back, which can no longer be told apart anyway.
      if (seq - next_ >= kBits) {
        bits_.fill(0);
      } else {
        for (uint32_t s = next_; s < seq; ++s)
          clear(s);
      }
      set(seq);
      next_ = seq + 1;
      return Kind::kNew;
    }
    // Older than the window: MQTT keeps per-topic order, so this is a redelivery.
    if (next_ - seq > kBits || test(seq)) return Kind::kDuplicate;
    set(seq);
    return Kind::kReordered;
  }

 private:
  static constexpr uint32_t kBits = 1024;
  void set(uint32_t s) { bits_[(s % kBits) / 64] |= uint64_t{1} << (s % 64); }
  void clear(uint32_t s) { bits_[(s % kBits) / 64] &= ~(uint64_t{1} << (s % 64)); }
  bool test(uint32_t s) const { return (bits_[(s % kBits) / 64] >> (s % 64)) & 1; }

  std::array<uint64_t, kBits / 64> bits_{};
  uint32_t next_ = 0;  // highest sequence number seen + 1
};

}  // namespace mquictt::loadgen
