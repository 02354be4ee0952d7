// HybridLogicalClock: the version stamp of every write. A timestamp is
//
//   physical milliseconds since the Unix epoch << 16 | logical counter (16 bits)
//
// so it stays close to wall time (operators can read it, and "last writer wins" means roughly
// what a person expects) while still ordering events that a skewed or stalled wall clock
// would not: each clock's timestamps strictly increase, and a node that has seen a remote
// timestamp only issues greater ones afterwards.
//
// Thread-safe and lock-free: the whole state is one atomic int64.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>

namespace thrifty::storage {

class HybridLogicalClock {
 public:
  // Milliseconds since the Unix epoch. Tests pass their own to drive the clock by hand.
  using PhysicalClock = std::function<int64_t()>;

  static constexpr int kLogicalBits = 16;
  static constexpr int64_t kLogicalMask = (int64_t{1} << kLogicalBits) - 1;
  // Physical times are clamped to [0, kMaxPhysicalMs] (about the year 4200), which keeps every
  // timestamp far below INT64_MAX so that adding 1 can never overflow.
  static constexpr int64_t kMaxPhysicalMs = (int64_t{1} << 46) - 1;
  static constexpr int64_t kMaxTimestamp = (kMaxPhysicalMs << kLogicalBits) | kLogicalMask;

  // How far ahead of this node's physical clock a remote timestamp may be (CockroachDB's
  // max-offset rule): one further ahead is refused rather than observed, so that one node with
  // a wrong clock, or one forged version, cannot drag every clock (and the versions of every
  // later write) into the future, where writes would silently lose to it.
  static constexpr int64_t kDefaultMaxOffsetMs = 60000;

  // What check() says of a remote timestamp.
  enum class Admission { ok, out_of_range, too_far_ahead };

  // Reads the system clock.
  explicit HybridLogicalClock(int64_t max_offset_ms = kDefaultMaxOffsetMs);
  explicit HybridLogicalClock(PhysicalClock clock, int64_t max_offset_ms = kDefaultMaxOffsetMs);

  HybridLogicalClock(const HybridLogicalClock&) = delete;
  HybridLogicalClock& operator=(const HybridLogicalClock&) = delete;

  // Returns a timestamp greater than every one this clock returned or observed before: the
  // current physical time with logical 0 when that is ahead, otherwise the last timestamp + 1
  // (so when the wall clock goes backwards the last physical time is kept and the logical
  // counter grows, and a full counter carries into the next millisecond).
  int64_t now();

  // ok when `remote` is a timestamp this clock may observe: in 1..kMaxTimestamp (others
  // cannot come from a working clock) and not more than max_offset_ms() ahead of this node's
  // physical clock now.
  Admission check(int64_t remote) const;

  // Records a timestamp seen from another node when check() admits it (afterwards
  // now() > remote) and returns check()'s verdict; a refused timestamp leaves the clock as it
  // was.
  Admission observe(int64_t remote);

  int64_t max_offset_ms() const { return max_offset_ms_; }
  // Milliseconds since the epoch by this clock's physical source (what check() compares with).
  int64_t physical_now_ms() const { return clock_(); }

  // The greatest timestamp returned or observed so far (0 before the first).
  int64_t last() const { return last_.load(std::memory_order_acquire); }

  static int64_t physical_ms(int64_t ts) { return ts >> kLogicalBits; }
  static int64_t logical(int64_t ts) { return ts & kLogicalMask; }
  // Requires 0 <= physical_ms <= kMaxPhysicalMs and 0 <= logical <= kLogicalMask.
  static int64_t make(int64_t physical_ms, int64_t logical) {
    return (physical_ms << kLogicalBits) | logical;
  }

 private:
  PhysicalClock clock_;
  int64_t max_offset_ms_;
  std::atomic<int64_t> last_{0};
};

}  // namespace thrifty::storage
