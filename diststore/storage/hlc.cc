#include "diststore/storage/hlc.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "locator/rpc/failpoints.h"

namespace thrifty::storage {
namespace {

// Plus a test-only offset (locator/rpc/failpoints.h) so the chaos harness can skew a node.
int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
             .count() +
         rpc::failpoints::ClockOffsetMs();
}

}  // namespace

HybridLogicalClock::HybridLogicalClock(int64_t max_offset_ms)
    : HybridLogicalClock(SystemClockMs, max_offset_ms) {}

HybridLogicalClock::HybridLogicalClock(PhysicalClock clock, int64_t max_offset_ms)
    : clock_(std::move(clock)), max_offset_ms_(std::max<int64_t>(0, max_offset_ms)) {}

int64_t HybridLogicalClock::now() {
  const int64_t wall = make(std::clamp<int64_t>(clock_(), 0, kMaxPhysicalMs), 0);
  int64_t last = last_.load(std::memory_order_relaxed);
  for (;;) {
    const int64_t next = std::max(wall, last + 1);
    if (last_.compare_exchange_weak(last, next, std::memory_order_acq_rel,
                                    std::memory_order_relaxed)) {
      return next;
    }
  }
}

HybridLogicalClock::Admission HybridLogicalClock::check(int64_t remote) const {
  if (remote <= 0 || remote > kMaxTimestamp) return Admission::out_of_range;
  const int64_t wall = std::clamp<int64_t>(clock_(), 0, kMaxPhysicalMs);
  // Both are at most kMaxPhysicalMs (2^46), so neither the sum nor the comparison overflows.
  if (physical_ms(remote) > wall + std::min<int64_t>(max_offset_ms_, kMaxPhysicalMs)) {
    return Admission::too_far_ahead;
  }
  return Admission::ok;
}

HybridLogicalClock::Admission HybridLogicalClock::observe(int64_t remote) {
  const Admission admission = check(remote);
  if (admission != Admission::ok) return admission;
  int64_t last = last_.load(std::memory_order_relaxed);
  while (last < remote && !last_.compare_exchange_weak(last, remote, std::memory_order_acq_rel,
                                                       std::memory_order_relaxed)) {
  }
  return Admission::ok;
}

}  // namespace thrifty::storage
