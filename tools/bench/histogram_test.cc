#include "tools/bench/histogram.h"

#include <cmath>
#include <random>

#include <gtest/gtest.h>

namespace thrifty::bench {
namespace {

TEST(LatencyHistogram, BucketsCoverTheRangeWithoutGapsOrOverlaps) {
  uint64_t expected_lower = 0;
  for (size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    ASSERT_EQ(LatencyHistogram::LowerBound(i), expected_lower) << i;
    ASSERT_GE(LatencyHistogram::UpperBound(i), LatencyHistogram::LowerBound(i));
    ASSERT_EQ(LatencyHistogram::Index(LatencyHistogram::LowerBound(i)), i);
    ASSERT_EQ(LatencyHistogram::Index(LatencyHistogram::UpperBound(i)), i);
    expected_lower = LatencyHistogram::UpperBound(i) + 1;
  }
  EXPECT_EQ(expected_lower - 1, LatencyHistogram::kMaxValue);
  EXPECT_GT(LatencyHistogram::kMaxValue, uint64_t{10'000'000'000});  // 10 s in ns
}

TEST(LatencyHistogram, BucketsAreWithinOnePercentFromOneMicrosecond) {
  for (size_t i = LatencyHistogram::Index(1000); i < LatencyHistogram::kBuckets; ++i) {
    const double lo = static_cast<double>(LatencyHistogram::LowerBound(i));
    const double width = static_cast<double>(LatencyHistogram::UpperBound(i)) - lo + 1;
    ASSERT_LE(width / lo, 0.01) << i;
  }
}

TEST(LatencyHistogram, QuantilesOfAUniformSpread) {
  LatencyHistogram h;
  for (uint64_t v = 1; v <= 100000; ++v) h.record(v * 1000);  // 1 us .. 100 ms
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.5)), 50e6, 50e6 * 0.01);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.99)), 99e6, 99e6 * 0.01);
  EXPECT_NEAR(static_cast<double>(h.quantile(0.999)), 99.9e6, 99.9e6 * 0.01);
  EXPECT_EQ(h.quantile(0), 1000u);      // clamped to the smallest value
  EXPECT_EQ(h.quantile(1), 100000000u);  // and to the largest
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_NEAR(h.mean(), 50000500.0, 1.0);
}

TEST(LatencyHistogram, MergeEqualsRecordingEverythingInOne) {
  std::mt19937_64 rng(7);
  std::lognormal_distribution<double> dist(10.0, 1.5);
  LatencyHistogram a, b, both;
  for (int i = 0; i < 50000; ++i) {
    const auto v = static_cast<uint64_t>(dist(rng));
    (i % 3 ? a : b).record(v);
    both.record(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  for (double q : {0.0, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0}) EXPECT_EQ(a.quantile(q), both.quantile(q)) << q;
  EXPECT_EQ(a.min(), both.min());
  EXPECT_EQ(a.max(), both.max());
}

TEST(LatencyHistogram, ValuesBeyondTheRangeAreClampedAndCounted) {
  LatencyHistogram h;
  h.record(uint64_t{100'000'000'000});  // 100 s
  EXPECT_EQ(h.clamped(), 1u);
  EXPECT_EQ(h.max(), LatencyHistogram::kMaxValue);
  EXPECT_EQ(LatencyHistogram().quantile(0.5), 0u);
}

}  // namespace
}  // namespace thrifty::bench
