// Awareness: Lifeguard's local health score, 0 (healthy) to max - 1.
//
// A node that misses acks is more likely slow itself (CPU starved, overloaded network) than
// surrounded by failed peers; probing more slowly and waiting longer then avoids false
// suspicions of healthy members. Missed acks and NACK-less failed probes raise the score,
// having to refute a suspicion about oneself raises it, every successful probe lowers it.
// Probe interval and probe timeout are multiplied by (score + 1).
//
// Not thread-safe: used on the detector's thread only.
#pragma once

#include <cstdint>

namespace thrifty::membership {

class Awareness {
 public:
  explicit Awareness(int max_multiplier) : max_(max_multiplier < 1 ? 1 : max_multiplier) {}

  // Adds delta, clamped to [0, max - 1].
  void apply_delta(int delta);
  int score() const { return score_; }
  int64_t scale(int64_t timeout_ms) const { return timeout_ms * (score_ + 1); }

 private:
  int max_;
  int score_ = 0;
};

}  // namespace thrifty::membership
