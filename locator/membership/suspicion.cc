#include "locator/membership/suspicion.h"

#include <algorithm>
#include <cmath>

namespace thrifty::membership {

Suspicion::Suspicion(const std::string& from, int k, int64_t min_ms, int64_t max_ms,
                     int64_t start_ms)
    : k_(k), min_ms_(min_ms), max_ms_(std::max(min_ms, max_ms)), start_ms_(start_ms) {
  heard_from_.insert(from);
}

bool Suspicion::confirm(const std::string& from) {
  if (confirmations_ >= k_) return false;
  if (!heard_from_.insert(from).second) return false;
  ++confirmations_;
  return true;
}

int64_t Suspicion::Timeout(int c, int k, int64_t min_ms, int64_t max_ms) {
  if (k < 1 || max_ms <= min_ms) return min_ms;
  const double frac = std::log(static_cast<double>(c) + 1.0) / std::log(static_cast<double>(k) + 1.0);
  const double raw = static_cast<double>(max_ms) - frac * static_cast<double>(max_ms - min_ms);
  return std::max(min_ms, static_cast<int64_t>(std::floor(raw)));
}

}  // namespace thrifty::membership
