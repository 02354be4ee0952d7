// Suspicion: Lifeguard's timer for one suspected member (memberlist's suspicion.go).
//
// A suspicion starts at `max_ms` and shrinks towards `min_ms` as independent confirmations
// arrive: timeout(c) = max - log(c + 1) / log(k + 1) * (max - min), never below min, where c
// counts confirmations from distinct members other than the one that started it and k is
// the number expected. With few peers (k < 1) it is simply `min_ms`. The more members agree,
// the sooner a dead member is declared; a lone (possibly slow or partitioned) accuser has to
// wait the longest, giving the member time to refute.
//
// Time is passed in: the class holds no timer, the detector schedules a check at deadline().
#pragma once

#include <cstdint>
#include <set>
#include <string>

namespace thrifty::membership {

class Suspicion {
 public:
  // `from` started the suspicion and counts as already heard from.
  Suspicion(const std::string& from, int k, int64_t min_ms, int64_t max_ms, int64_t start_ms);

  // An independent confirmation from `from`. Returns true if it is new (then the deadline
  // may have moved closer); false for a repeat, the starter, or once k were counted.
  bool confirm(const std::string& from);

  int confirmations() const { return confirmations_; }
  int64_t start_ms() const { return start_ms_; }
  int64_t timeout_ms() const { return Timeout(confirmations_, k_, min_ms_, max_ms_); }
  int64_t deadline_ms() const { return start_ms_ + timeout_ms(); }

  // The total timeout after c of k confirmations.
  static int64_t Timeout(int c, int k, int64_t min_ms, int64_t max_ms);

 private:
  int k_;
  int64_t min_ms_;
  int64_t max_ms_;
  int64_t start_ms_;
  int confirmations_ = 0;
  std::set<std::string> heard_from_;
};

}  // namespace thrifty::membership
