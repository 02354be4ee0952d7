#include "locator/membership/replay_guard.h"

#include <algorithm>
#include <stdexcept>

namespace thrifty::membership {

ReplayGuard::ReplayGuard(int64_t window_ms, size_t capacity)
    : window_ms_(window_ms), capacity_(capacity) {
  if (window_ms <= 0) throw std::invalid_argument("replay guard: window must be > 0");
  if (capacity == 0) throw std::invalid_argument("replay guard: capacity must be >= 1");
}

void ReplayGuard::forget_oldest() {
  const Entry& oldest = by_age_.top();
  floor_ms_ = std::max(floor_ms_, oldest.sent_ms);
  macs_.erase(oldest.mac);
  by_age_.pop();
}

ReplayGuard::Verdict ReplayGuard::admit(const KeyRing::Mac& mac, int64_t sent_ms,
                                        int64_t now_ms) {
  // Sent before `horizon`: stale for the codec, so its entry is no longer needed. Saturated:
  // a hostile now_ms must not overflow the subtraction.
  const int64_t horizon = now_ms < std::numeric_limits<int64_t>::min() + window_ms_
                              ? std::numeric_limits<int64_t>::min()
                              : now_ms - window_ms_;
  while (!by_age_.empty() && by_age_.top().sent_ms < horizon) forget_oldest();
  if (sent_ms <= floor_ms_ || sent_ms < horizon) return Verdict::stale;
  if (macs_.count(mac) != 0) return Verdict::replay;
  if (macs_.size() >= capacity_) {
    // Forgetting the oldest would raise the floor to or past this packet: refuse it instead.
    if (sent_ms <= by_age_.top().sent_ms) return Verdict::stale;
    forget_oldest();
  }
  macs_.insert(mac);
  by_age_.push(Entry{sent_ms, mac});
  return Verdict::fresh;
}

}  // namespace thrifty::membership
