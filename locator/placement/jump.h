// JumpPlacement: jump consistent hash (Lamping & Veach, 2014) over a fixed number of buckets.
//
// Nodes are buckets 0..size()-1 in the order they were added. Growing from N to N+1 buckets
// moves only the keys the new bucket takes (about 1/(N+1)); removing the LAST node moves only
// its keys; but removing any other node renumbers the nodes after it and remaps most keys. So
// it suits a fixed bucket count (storeselect, sharded batch jobs), not a cluster whose members
// come and go: the locator uses ketama or rendezvous. Weights: 1 only.
//
// Preference lists: the owner's bucket b, then b+1, b+2, ... wrapping at size().
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "locator/hash/hash_function.h"
#include "locator/placement/placement.h"

namespace thrifty::placement {

// The bucket in [0, buckets) of a 64-bit key, per the paper. Requires buckets >= 1.
uint32_t JumpConsistentHash(uint64_t key, uint32_t buckets);

class JumpPlacement final : public Placement {
 public:
  // Requires a non-null hash; the name is "jump/" + hash->name().
  explicit JumpPlacement(std::shared_ptr<const hash::HashFunction> hash);

  std::unique_ptr<Placement> clone() const override;

 private:
  JumpPlacement(const JumpPlacement& other) = default;

  void nodes_changed() override {}
  void check_weight(std::string_view node, double weight) const override;
  size_t locate(std::string_view key) const override;
  void collect(std::string_view key, size_t n, std::vector<size_t>* out) const override;

  std::shared_ptr<const hash::HashFunction> hash_;
};

}  // namespace thrifty::placement
