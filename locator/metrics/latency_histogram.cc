#include "locator/metrics/latency_histogram.h"

#include <algorithm>

namespace thrifty::metrics {

void LatencyHistogram::record(std::chrono::nanoseconds elapsed) {
  const int64_t ns = std::max<int64_t>(0, elapsed.count());
  // The first bucket whose upper bound is >= ns (Prometheus buckets are "less or equal").
  const size_t bucket = static_cast<size_t>(
      std::lower_bound(kUpperBoundsNs.begin(), kUpperBoundsNs.end(), ns) - kUpperBoundsNs.begin());
  counts_[bucket].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(ns), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot out;
  for (size_t i = 0; i < kBuckets; ++i) {
    out.counts[i] = counts_[i].load(std::memory_order_relaxed);
    out.count += out.counts[i];
  }
  out.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
  return out;
}

}  // namespace thrifty::metrics
