#include "histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace mquictt::loadgen {

namespace {
// Values up to 2^64 - 1: 57 shifted ranges of kSub buckets above the exact range.
constexpr size_t kBuckets = (64 - 7 + 1) * 128;
}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::index_of(uint64_t v) {
  if (v < kSub) return static_cast<size_t>(v);
  unsigned shift = static_cast<unsigned>(std::bit_width(v)) - 1 - kSubBits;
  // (v >> shift) is in [kSub, 2 * kSub): its low kSubBits bits pick the sub-bucket.
  return static_cast<size_t>((shift + 1) * kSub + ((v >> shift) - kSub));
}

uint64_t Histogram::bucket_middle(size_t index) {
  if (index < kSub) return index;
  unsigned shift = static_cast<unsigned>(index / kSub) - 1;
  uint64_t mantissa = index % kSub + kSub;
  uint64_t low = mantissa << shift;
  uint64_t width = uint64_t{1} << shift;
  return low + width / 2;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i)
    counts_[i] += other.counts_[i];
  count_ += other.count_;
  sum_ += other.sum_;
  max_ = std::max(max_, other.max_);
}

uint64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(bucket_middle(i), max_);
  }
  return max_;
}

}  // namespace mquictt::loadgen
