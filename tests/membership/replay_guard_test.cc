// ReplayGuard: a MAC is admitted once within the window, and a full guard never re-admits.
#include "locator/membership/replay_guard.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <random>
#include <vector>

namespace thrifty::membership {
namespace {

using Verdict = ReplayGuard::Verdict;

constexpr int64_t kWindow = 60'000;
constexpr int64_t kNow = 1'700'000'000'000;

KeyRing::Mac MacOf(uint64_t n) {
  KeyRing::Mac mac{};
  // Spread like real HMAC output (the guard hashes the first bytes).
  std::mt19937_64 rng(n);
  for (size_t i = 0; i < mac.size(); i += 8) {
    const uint64_t word = rng();
    for (size_t j = 0; j < 8; ++j) mac[i + j] = static_cast<uint8_t>(word >> (8 * j));
  }
  return mac;
}

TEST(ReplayGuard, AdmitsOnceAndRefusesTheReplay) {
  ReplayGuard guard(kWindow, 16);
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow), Verdict::fresh);
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow), Verdict::replay);
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow + kWindow), Verdict::replay) << "window's last ms";
  // Other packets, same millisecond, are not replays.
  EXPECT_EQ(guard.admit(MacOf(2), kNow, kNow), Verdict::fresh);
  EXPECT_EQ(guard.admit(MacOf(3), kNow, kNow + 5), Verdict::fresh);
  EXPECT_EQ(guard.size(), 3u);
  EXPECT_EQ(guard.floor_ms(), std::numeric_limits<int64_t>::min());
}

TEST(ReplayGuard, PacketsFromAheadOrBehindInTheWindowAreRemembered) {
  ReplayGuard guard(kWindow, 16);
  // A sender whose clock is ahead: its packet stays acceptable until sent + window.
  EXPECT_EQ(guard.admit(MacOf(1), kNow + 30'000, kNow), Verdict::fresh);
  EXPECT_EQ(guard.admit(MacOf(1), kNow + 30'000, kNow + 89'000), Verdict::replay);
  // One from behind, received late in its window.
  EXPECT_EQ(guard.admit(MacOf(2), kNow - 59'000, kNow), Verdict::fresh);
  EXPECT_EQ(guard.admit(MacOf(2), kNow - 59'000, kNow + 1'000), Verdict::replay);
}

TEST(ReplayGuard, EntriesExpireWithTheirWindow) {
  ReplayGuard guard(kWindow, 16);
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow), Verdict::fresh);
  EXPECT_EQ(guard.admit(MacOf(2), kNow + 10'000, kNow + 10'000), Verdict::fresh);
  // Past kNow + window the first packet is stale: its entry goes, the second stays.
  EXPECT_EQ(guard.admit(MacOf(3), kNow + kWindow + 1, kNow + kWindow + 1), Verdict::fresh);
  EXPECT_EQ(guard.size(), 2u);
  EXPECT_EQ(guard.floor_ms(), kNow);
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow + kWindow + 1), Verdict::stale);
  EXPECT_EQ(guard.admit(MacOf(2), kNow + 10'000, kNow + kWindow + 1), Verdict::replay);
  // An hour later everything has expired.
  EXPECT_EQ(guard.admit(MacOf(4), kNow + 3'600'000, kNow + 3'600'000), Verdict::fresh);
  EXPECT_EQ(guard.size(), 1u);
}

TEST(ReplayGuard, AClockSteppingBackDoesNotReadmitForgottenPackets) {
  ReplayGuard guard(kWindow, 16);
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow), Verdict::fresh);
  EXPECT_EQ(guard.admit(MacOf(2), kNow + 2 * kWindow, kNow + 2 * kWindow), Verdict::fresh);
  EXPECT_EQ(guard.size(), 1u) << "the first expired";
  // The receiver's wall clock steps back: by the codec's clock packet 1 is acceptable again,
  // but the floor covers it.
  EXPECT_EQ(guard.admit(MacOf(1), kNow, kNow + 1), Verdict::stale);
  EXPECT_EQ(guard.admit(MacOf(5), kNow + 1, kNow + 1), Verdict::fresh);
}

TEST(ReplayGuard, AFullGuardForgetsTheOldestAndRaisesTheFloor) {
  constexpr size_t kCap = 8;
  ReplayGuard guard(kWindow, kCap);
  // Sent out of order (senders' clocks differ), all within the window.
  const int64_t sent[kCap] = {500, 100, 700, 300, 200, 800, 600, 400};
  for (size_t i = 0; i < kCap; ++i) {
    ASSERT_EQ(guard.admit(MacOf(i), kNow + sent[i], kNow + 1'000), Verdict::fresh) << i;
  }
  EXPECT_EQ(guard.size(), kCap);
  // One more: the oldest (sent 100, MAC 1) is forgotten and the floor rises to it.
  EXPECT_EQ(guard.admit(MacOf(100), kNow + 900, kNow + 1'000), Verdict::fresh);
  EXPECT_EQ(guard.size(), kCap);
  EXPECT_EQ(guard.floor_ms(), kNow + 100);
  // Its replay is refused as stale, never admitted again.
  EXPECT_EQ(guard.admit(MacOf(1), kNow + 100, kNow + 1'000), Verdict::stale);
  // Every other packet's replay is still a replay.
  for (size_t i = 0; i < kCap; ++i) {
    if (i == 1) continue;
    EXPECT_EQ(guard.admit(MacOf(i), kNow + sent[i], kNow + 1'000), Verdict::replay) << i;
  }
  // A new packet no newer than the oldest remembered one (200) cannot get in: admitting it
  // would mean forgetting the newer one.
  EXPECT_EQ(guard.admit(MacOf(101), kNow + 150, kNow + 1'000), Verdict::stale);
  EXPECT_EQ(guard.admit(MacOf(102), kNow + 200, kNow + 1'000), Verdict::stale);
  EXPECT_EQ(guard.floor_ms(), kNow + 100);
  EXPECT_EQ(guard.admit(MacOf(103), kNow + 250, kNow + 1'000), Verdict::fresh);
  EXPECT_EQ(guard.floor_ms(), kNow + 200);
  EXPECT_EQ(guard.admit(MacOf(4), kNow + 200, kNow + 1'000), Verdict::stale);
}

TEST(ReplayGuard, StaysBoundedUnderAStreamAndNeverReadmits) {
  // 20,000 packets, 50 per millisecond of the senders' clocks, delivered up to 49 ms late and
  // so out of order; each replayed at once and again 5,000 deliveries later.
  struct Packet {
    int64_t sent, arrives;
    uint64_t id;
  };
  std::mt19937_64 rng(7);
  std::vector<Packet> packets;
  for (uint64_t i = 0; i < 20'000; ++i) {
    const int64_t sent = kNow + static_cast<int64_t>(i / 50);
    packets.push_back({sent, sent + static_cast<int64_t>(rng() % 50), i});
  }
  // std::sort with a total order, not std::stable_sort: this test binary replaces operator
  // new, and stable_sort's nothrow buffer then trips ASan's alloc-dealloc check.
  std::sort(packets.begin(), packets.end(), [](const Packet& a, const Packet& b) {
    return a.arrives != b.arrives ? a.arrives < b.arrives : a.id < b.id;
  });
  // 4,000 entries cover the 50 ms of reordering (2,500 packets); 500 do not.
  for (const size_t capacity : {size_t{4000}, size_t{500}}) {
    ReplayGuard guard(kWindow, capacity);
    int64_t fresh = 0, admitted_twice = 0;
    for (size_t k = 0; k < packets.size(); ++k) {
      const Packet& p = packets[k];
      fresh += guard.admit(MacOf(p.id), p.sent, p.arrives) == Verdict::fresh;
      admitted_twice += guard.admit(MacOf(p.id), p.sent, p.arrives) == Verdict::fresh;
      if (k >= 5'000) {
        const Packet& old = packets[k - 5'000];
        admitted_twice += guard.admit(MacOf(old.id), old.sent, p.arrives) == Verdict::fresh;
      }
      ASSERT_LE(guard.size(), capacity);
    }
    EXPECT_EQ(admitted_twice, 0) << capacity;
    if (capacity == 4000) {
      EXPECT_EQ(fresh, 20'000) << "a guard larger than the reordering drops nothing legitimate";
    } else {
      EXPECT_GT(fresh, 0);
      EXPECT_LT(fresh, 20'000) << "late packets fall behind the floor";
    }
  }
}

TEST(ReplayGuard, RejectsAZeroCapacityOrWindow) {
  EXPECT_THROW(ReplayGuard(kWindow, 0), std::invalid_argument);
  EXPECT_THROW(ReplayGuard(0, 16), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::membership
