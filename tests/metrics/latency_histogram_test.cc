#include "locator/metrics/latency_histogram.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace thrifty::metrics {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::nanoseconds;
using std::chrono::seconds;

TEST(LatencyHistogram, EachDurationLandsInTheFirstBucketThatHoldsIt) {
  LatencyHistogram h;
  h.record(microseconds(10));    // <= 50 us: bucket 0
  h.record(microseconds(50));    // exactly on a bound: that bucket (le is "less or equal")
  h.record(microseconds(51));    // bucket 1 (<= 100 us)
  h.record(milliseconds(3));     // bucket 6 (<= 5 ms)
  h.record(seconds(5));          // the last finite bucket
  h.record(seconds(6));          // +Inf
  h.record(nanoseconds(-5));     // a clock step backwards counts as 0
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 7u);
  EXPECT_EQ(s.counts[0], 3u);
  EXPECT_EQ(s.counts[1], 1u);
  EXPECT_EQ(s.counts[6], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBuckets - 2], 1u);
  EXPECT_EQ(s.counts[LatencyHistogram::kBuckets - 1], 1u);
  EXPECT_NEAR(s.sum_seconds, 11.003111, 1e-9);
}

TEST(LatencyHistogram, BoundsRunFrom50MicrosecondsTo5Seconds) {
  EXPECT_DOUBLE_EQ(LatencyHistogram::UpperBoundSeconds(0), 50e-6);
  EXPECT_DOUBLE_EQ(LatencyHistogram::UpperBoundSeconds(LatencyHistogram::kUpperBoundsNs.size() - 1), 5.0);
  for (size_t i = 1; i < LatencyHistogram::kUpperBoundsNs.size(); ++i) {
    EXPECT_LT(LatencyHistogram::kUpperBoundsNs[i - 1], LatencyHistogram::kUpperBoundsNs[i]);
  }
}

TEST(LatencyHistogram, ConcurrentRecordingLosesNothing) {
  LatencyHistogram h;
  std::vector<std::thread> threads;
  std::atomic<bool> stop{false};
  // A reader takes snapshots throughout: each must be a consistent histogram.
  std::thread reader([&] {
    while (!stop.load()) {
      const auto s = h.snapshot();
      uint64_t total = 0;
      for (uint64_t c : s.counts) total += c;
      ASSERT_EQ(total, s.count);
    }
  });
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 100000; ++i) h.record(microseconds((i % 7) * 100 + t));
    });
  }
  for (auto& t : threads) t.join();
  stop = true;
  reader.join();
  EXPECT_EQ(h.snapshot().count, 400000u);
}

TEST(ScopedLatency, RecordsOnceWhenItGoesOutOfScopeEvenThroughAnException) {
  LatencyHistogram h;
  { ScopedLatency timer(h); }
  try {
    ScopedLatency timer(h);
    throw std::runtime_error("failed operation");
  } catch (const std::runtime_error&) {
  }
  EXPECT_EQ(h.snapshot().count, 2u);
}

}  // namespace
}  // namespace thrifty::metrics
