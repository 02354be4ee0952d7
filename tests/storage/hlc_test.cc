#include "diststore/storage/hlc.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>
#include <vector>

namespace thrifty::storage {
namespace {

using Hlc = HybridLogicalClock;

int64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

TEST(HlcTest, PacksPhysicalAndLogical) {
  const int64_t ts = Hlc::make(1700000000123, 45);
  EXPECT_EQ(Hlc::physical_ms(ts), 1700000000123);
  EXPECT_EQ(Hlc::logical(ts), 45);
  EXPECT_LT(Hlc::make(1000, Hlc::kLogicalMask), Hlc::make(1001, 0));
}

TEST(HlcTest, FollowsTheWallClock) {
  Hlc clock;
  const int64_t before = WallMs();
  const int64_t ts = clock.now();
  const int64_t after = WallMs();
  EXPECT_GE(Hlc::physical_ms(ts), before);
  EXPECT_LE(Hlc::physical_ms(ts), after);
  EXPECT_EQ(clock.last(), ts);
}

TEST(HlcTest, MonotonicAndDistinctAcrossThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 100000;
  Hlc clock;
  const int64_t start_ms = WallMs();
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&clock, &out = seen[t]] {
      out.reserve(kPerThread);
      for (int i = 0; i < kPerThread; ++i) out.push_back(clock.now());
    });
  }
  for (auto& thread : threads) thread.join();
  const int64_t end_ms = WallMs();

  std::vector<int64_t> all;
  for (const auto& per_thread : seen) {
    for (size_t i = 1; i < per_thread.size(); ++i) ASSERT_LT(per_thread[i - 1], per_thread[i]);
    all.insert(all.end(), per_thread.begin(), per_thread.end());
  }
  std::sort(all.begin(), all.end());
  EXPECT_EQ(std::adjacent_find(all.begin(), all.end()), all.end()) << "a timestamp repeated";
  EXPECT_GE(Hlc::physical_ms(all.front()), start_ms);
  // Logical overflow may run ahead of the wall clock by one ms per 65536 stamps within one ms.
  EXPECT_LE(Hlc::physical_ms(all.back()), end_ms + kThreads * kPerThread / 65536 + 1);
}

TEST(HlcTest, BackwardsWallClockKeepsLastPhysicalTime) {
  int64_t wall = 1000;
  Hlc clock([&wall] { return wall; });
  EXPECT_EQ(clock.now(), Hlc::make(1000, 0));
  wall = 500;
  EXPECT_EQ(clock.now(), Hlc::make(1000, 1));
  EXPECT_EQ(clock.now(), Hlc::make(1000, 2));
  wall = 1000;
  EXPECT_EQ(clock.now(), Hlc::make(1000, 3));
  wall = 1001;
  EXPECT_EQ(clock.now(), Hlc::make(1001, 0));
}

TEST(HlcTest, LogicalOverflowRollsIntoTheNextMillisecond) {
  Hlc clock([] { return int64_t{1000}; });
  int64_t ts = 0;
  for (int64_t i = 0; i <= Hlc::kLogicalMask; ++i) ts = clock.now();
  EXPECT_EQ(ts, Hlc::make(1000, Hlc::kLogicalMask));
  EXPECT_EQ(clock.now(), Hlc::make(1001, 0));
  EXPECT_EQ(clock.now(), Hlc::make(1001, 1));
}

TEST(HlcTest, ObservedFutureTimestampIsExceeded) {
  Hlc clock;
  const int64_t remote = Hlc::make(WallMs() + 30000, 7);
  EXPECT_EQ(clock.observe(remote), Hlc::Admission::ok);
  const int64_t ts = clock.now();
  EXPECT_GT(ts, remote);
  EXPECT_EQ(ts, remote + 1);
  // An older remote changes nothing.
  clock.observe(remote - 100);
  EXPECT_EQ(clock.now(), remote + 2);
}

TEST(HlcTest, ObservedPastTimestampDoesNotHoldTheClockBack) {
  int64_t wall = 5000;
  Hlc clock([&wall] { return wall; });
  clock.observe(Hlc::make(4000, 9));
  EXPECT_EQ(clock.now(), Hlc::make(5000, 0));
}

TEST(HlcTest, IgnoresImpossibleRemoteTimestamps) {
  int64_t wall = 5000;
  Hlc clock([&wall] { return wall; }, Hlc::kMaxPhysicalMs);
  EXPECT_EQ(clock.observe(0), Hlc::Admission::out_of_range);
  EXPECT_EQ(clock.observe(-42), Hlc::Admission::out_of_range);
  EXPECT_EQ(clock.observe(INT64_MAX), Hlc::Admission::out_of_range);
  EXPECT_EQ(clock.observe(Hlc::kMaxTimestamp + 1), Hlc::Admission::out_of_range);
  EXPECT_EQ(clock.now(), Hlc::make(5000, 0));
  // With an unbounded offset the last timestamp of the range is still one a clock can reach.
  EXPECT_EQ(clock.observe(Hlc::kMaxTimestamp), Hlc::Admission::ok);
  EXPECT_GT(clock.now(), Hlc::kMaxTimestamp);
}

// CockroachDB's max-offset rule: a remote timestamp further ahead of the physical clock than
// the offset is refused, and the clock does not move (a forged INT64_MAX-like version used to
// drag the clock, and so every later write, into the future).
TEST(HlcTest, RefusesATimestampTooFarAhead) {
  int64_t wall = 1'000'000;
  Hlc clock([&wall] { return wall; }, 60000);
  EXPECT_EQ(clock.check(Hlc::make(wall + 60000, Hlc::kLogicalMask)), Hlc::Admission::ok);
  EXPECT_EQ(clock.check(Hlc::make(wall + 60001, 0)), Hlc::Admission::too_far_ahead);
  EXPECT_EQ(clock.observe(Hlc::make(wall + 60001, 0)), Hlc::Admission::too_far_ahead);
  EXPECT_EQ(clock.observe(Hlc::kMaxTimestamp), Hlc::Admission::too_far_ahead);
  EXPECT_EQ(clock.now(), Hlc::make(wall, 0));
  // The limit moves with the physical clock.
  wall += 1000;
  EXPECT_EQ(clock.observe(Hlc::make(wall + 59000, 3)), Hlc::Admission::ok);
  EXPECT_EQ(clock.now(), Hlc::make(wall + 59000, 4));
}

TEST(HlcTest, ClampsAWallClockOutOfRange) {
  int64_t wall = -7;
  Hlc clock([&wall] { return wall; });
  const int64_t first = clock.now();
  EXPECT_GT(first, 0);
  EXPECT_EQ(Hlc::physical_ms(first), 0);
  wall = INT64_MAX;
  EXPECT_EQ(clock.now(), Hlc::make(Hlc::kMaxPhysicalMs, 0));
}

TEST(HlcTest, ObserveRacesWithNow) {
  Hlc clock(Hlc::kMaxPhysicalMs);
  const int64_t base = Hlc::make(WallMs() + 3600000, 0);
  std::thread observer([&] {
    for (int64_t i = 0; i < 20000; ++i) clock.observe(base + i * 3);
  });
  int64_t prev = 0;
  for (int i = 0; i < 20000; ++i) {
    const int64_t ts = clock.now();
    ASSERT_GT(ts, prev);
    prev = ts;
  }
  observer.join();
  EXPECT_GT(clock.now(), base + 19999 * 3);
}

}  // namespace
}  // namespace thrifty::storage
