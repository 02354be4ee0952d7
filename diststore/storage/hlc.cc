#include "diststore/storage/hlc.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace thrifty::storage {
namespace {

int64_t SystemClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

HybridLogicalClock::HybridLogicalClock() : clock_(SystemClockMs) {}

HybridLogicalClock::HybridLogicalClock(PhysicalClock clock) : clock_(std::move(clock)) {}

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

void HybridLogicalClock::observe(int64_t remote) {
  if (remote <= 0 || remote > kMaxTimestamp) return;
  int64_t last = last_.load(std::memory_order_relaxed);
  while (last < remote && !last_.compare_exchange_weak(last, remote, std::memory_order_acq_rel,
                                                       std::memory_order_relaxed)) {
  }
}

}  // namespace thrifty::storage
