// LatencyHistogram: how long one kind of operation took, counted in fixed buckets from 50 us to
// 5 s (1-2.5-5 steps per decade), for Prometheus histograms.
//
// record() is lock-free and wait-free (three relaxed atomic adds), so it can sit on every
// request's path. snapshot() may run concurrently with record(): it sees each recording whole or
// not at all per bucket, and its count is the sum of its buckets, so a snapshot is always a
// consistent Prometheus histogram (the sum may lag a recording in flight by its duration).
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace thrifty::metrics {

class LatencyHistogram {
 public:
  // Upper bounds of the finite buckets, in nanoseconds, ascending; one more bucket (+Inf) holds
  // everything slower.
  static constexpr std::array<int64_t, 16> kUpperBoundsNs = {
      50'000,      100'000,     250'000,     500'000,       1'000'000,     2'500'000,
      5'000'000,   10'000'000,  25'000'000,  50'000'000,    100'000'000,   250'000'000,
      500'000'000, 1'000'000'000, 2'500'000'000, 5'000'000'000};
  static constexpr size_t kBuckets = kUpperBoundsNs.size() + 1;

  struct Snapshot {
    // counts[i]: recordings in bucket i alone (not cumulative); the last one is +Inf.
    std::array<uint64_t, kBuckets> counts{};
    uint64_t count = 0;         // the sum of counts
    double sum_seconds = 0;     // the sum of every recorded duration
  };

  LatencyHistogram() = default;
  LatencyHistogram(const LatencyHistogram&) = delete;
  LatencyHistogram& operator=(const LatencyHistogram&) = delete;

  // Counts one operation that took `elapsed` (negative counts as 0). Thread-safe.
  void record(std::chrono::nanoseconds elapsed);
  Snapshot snapshot() const;

  // The upper bound of finite bucket i in seconds (i < kUpperBoundsNs.size()).
  static double UpperBoundSeconds(size_t i) { return static_cast<double>(kUpperBoundsNs[i]) / 1e9; }

 private:
  std::array<std::atomic<uint64_t>, kBuckets> counts_{};
  std::atomic<uint64_t> sum_ns_{0};
};

// Records the time from its construction to its destruction in a histogram: RAII, so an
// operation that throws is timed too.
class ScopedLatency {
 public:
  explicit ScopedLatency(LatencyHistogram& histogram)
      : histogram_(histogram), start_(std::chrono::steady_clock::now()) {}
  ~ScopedLatency() { histogram_.record(std::chrono::steady_clock::now() - start_); }
  ScopedLatency(const ScopedLatency&) = delete;
  ScopedLatency& operator=(const ScopedLatency&) = delete;

 private:
  LatencyHistogram& histogram_;
  const std::chrono::steady_clock::time_point start_;
};

}  // namespace thrifty::metrics
