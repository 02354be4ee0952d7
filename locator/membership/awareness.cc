#include "locator/membership/awareness.h"

namespace thrifty::membership {

void Awareness::apply_delta(int delta) {
  const int64_t next = static_cast<int64_t>(score_) + delta;
  score_ = next < 0 ? 0 : next > max_ - 1 ? max_ - 1 : static_cast<int>(next);
}

}  // namespace thrifty::membership
