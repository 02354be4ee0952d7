// LatencyHistogram: a log-linear bucket histogram of durations in the spirit of HdrHistogram.
//
// Values are nanoseconds. Below 128 ns every nanosecond has its own bucket; above, each
// power-of-two range is split into 128 equal buckets, so any recorded value is known to
// within 1/128 (< 0.8%) of itself. The range ends at 2^34 ns (~17 s); larger values land in
// the last bucket and are counted as `clamped`. Recording is a few instructions and touches
// one counter: each load-generating thread owns a histogram and the results are merged at the
// end, so there are no locks or atomics on the hot path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

namespace thrifty::bench {

class LatencyHistogram {
 public:
  static constexpr int kSubBits = 7;                      // 128 buckets per power of two
  static constexpr int kMaxBits = 34;                     // 2^34 ns ~ 17.2 s
  static constexpr uint64_t kSub = uint64_t{1} << kSubBits;
  static constexpr size_t kBuckets = (kMaxBits - kSubBits + 1) * kSub;
  static constexpr uint64_t kMaxValue = (uint64_t{1} << kMaxBits) - 1;

  void record(uint64_t ns) {
    if (ns > kMaxValue) {
      ns = kMaxValue;
      ++clamped_;
    }
    ++counts_[Index(ns)];
    ++count_;
    sum_ += ns;
    if (ns < min_) min_ = ns;
    if (ns > max_) max_ = ns;
  }

  void merge(const LatencyHistogram& other);
  void reset();

  uint64_t count() const { return count_; }
  uint64_t clamped() const { return clamped_; }
  uint64_t min() const { return count_ ? min_ : 0; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ ? static_cast<double>(sum_) / static_cast<double>(count_) : 0; }

  // The value below which `q` (0..1) of the recorded values fall: the midpoint of the bucket
  // holding the ceil(q * count)-th smallest value, never outside [min, max]; the smallest and
  // the largest value exactly. 0 when empty.
  uint64_t quantile(double q) const;

  // Bucket arithmetic, public for tests.
  static size_t Index(uint64_t ns) {
    if (ns < kSub) return static_cast<size_t>(ns);
    const int top = 63 - __builtin_clzll(ns);  // >= kSubBits
    const int shift = top - kSubBits;
    // Octave (top - kSubBits + 1) holds values [2^top, 2^(top+1)) in kSub buckets.
    return static_cast<size_t>((shift + 1) * kSub + ((ns >> shift) - kSub));
  }
  static uint64_t LowerBound(size_t index);
  static uint64_t UpperBound(size_t index);  // inclusive

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  uint64_t clamped_ = 0;
  uint64_t sum_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
};

}  // namespace thrifty::bench
