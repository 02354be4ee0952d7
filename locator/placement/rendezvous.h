// RendezvousPlacement: highest random weight (Thaler & Ravishankar), weighted. Each node scores
// every key; the highest score owns it. Adding a node moves only the keys it now wins; removing
// one moves only its own keys; no ring to build, but a lookup hashes once per node (O(nodes)).
//
// score(node, key) = -weight / ln(u), u = hash(node ‖ key) mapped into (0, 1) (never 0 or 1)
// from its top 52 bits. With this score a node's chance to win is weight / total weight
// (the logarithmic method of Schindelhauer & Schomaker). Ties go to the larger raw hash, then
// to the smaller node id, so the result never depends on the order nodes were added.
//
// Preference lists are the nodes by descending score.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "locator/hash/hash_function.h"
#include "locator/placement/placement.h"

namespace thrifty::placement {

class RendezvousPlacement final : public Placement {
 public:
  // Requires a non-null hash; the name is "rendezvous/" + hash->name().
  explicit RendezvousPlacement(std::shared_ptr<const hash::HashFunction> hash);

  std::unique_ptr<Placement> clone() const override;

  // u in (0, 1) for a 64-bit hash: ((h >> 12) + 0.5) / 2^52, in [2^-53, 1 - 2^-53].
  static double UnitInterval(uint64_t h);
  // The score of a node of `weight` whose hash(node ‖ key) is `h`.
  static double Score(double weight, uint64_t h);

 private:
  struct Candidate {
    double score;
    uint64_t h;
    size_t index;
  };

  RendezvousPlacement(const RendezvousPlacement& other) = default;

  void nodes_changed() override;
  size_t locate(std::string_view key) const override;
  void collect(std::string_view key, size_t n, std::vector<size_t>* out) const override;

  bool Better(const Candidate& a, const Candidate& b) const;
  template <typename Visit>
  void ForEachCandidate(std::string_view key, Visit&& visit) const;

  std::shared_ptr<const hash::HashFunction> hash_;  // immutable, shared by clones
  // All weights equal: the score is then monotonic in the raw hash, so lookups skip the log
  // and compare hashes (same order, ties included).
  bool uniform_ = true;
  size_t longest_node_ = 0;
};

}  // namespace thrifty::placement
