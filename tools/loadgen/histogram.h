#pragma once
// Log-linear latency histogram: exact below 128 ns, then 128 sub-buckets per power of two, so any
// recorded value is reported within 0.8 %. Fixed memory (~60 KiB), O(1) record, mergeable across
// threads after the run.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mquictt::loadgen {

class Histogram {
 public:
  Histogram();

  void record(uint64_t value) {
    ++counts_[index_of(value)];
    ++count_;
    sum_ += value;
    if (value > max_) max_ = value;
  }
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / count_ : 0.0; }
  // Value at percentile p (0..100): the middle of the bucket holding that rank; 0 when empty.
  uint64_t percentile(double p) const;

 private:
  static constexpr unsigned kSubBits = 7;
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;

  static size_t index_of(uint64_t v);
  static uint64_t bucket_middle(size_t index);

  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

}  // namespace mquictt::loadgen
