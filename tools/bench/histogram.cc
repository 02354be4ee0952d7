#include "tools/bench/histogram.h"

#include <algorithm>
#include <cmath>

namespace thrifty::bench {

uint64_t LatencyHistogram::LowerBound(size_t index) {
  if (index < kSub) return index;
  const size_t octave = index / kSub;  // >= 1
  const size_t sub = index % kSub;
  return static_cast<uint64_t>(kSub + sub) << (octave - 1);
}

uint64_t LatencyHistogram::UpperBound(size_t index) {
  if (index < kSub) return index;
  const size_t octave = index / kSub;
  return LowerBound(index) + (uint64_t{1} << (octave - 1)) - 1;
}

void LatencyHistogram::merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  clamped_ += other.clamped_;
  sum_ += other.sum_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

void LatencyHistogram::reset() { *this = LatencyHistogram(); }

uint64_t LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  uint64_t rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  if (rank == 1) return min();
  if (rank == count_) return max_;
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t mid = LowerBound(i) + (UpperBound(i) - LowerBound(i)) / 2;
      return std::clamp(mid, min(), max_);
    }
  }
  return max_;
}

}  // namespace thrifty::bench
