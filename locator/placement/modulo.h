// ModuloPlacement: hash(key) mod N over a fixed number of buckets (nodes in the order added).
//
// Changing N remaps almost every key (N/(N+1) of them when a node is added), and removing a node
// that is not the last renumbers the ones after it: only for a fixed bucket count, and for
// comparison with the consistent schemes. Weights: 1 only.
//
// Preference lists: the owner's bucket b, then b+1, b+2, ... wrapping at size().
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "locator/hash/hash_function.h"
#include "locator/placement/placement.h"

namespace thrifty::placement {

class ModuloPlacement final : public Placement {
 public:
  // Requires a non-null hash; the name is "modulo/" + hash->name().
  explicit ModuloPlacement(std::shared_ptr<const hash::HashFunction> hash);

  std::unique_ptr<Placement> clone() const override;

 private:
  ModuloPlacement(const ModuloPlacement& other) = default;

  void nodes_changed() override {}
  void check_weight(std::string_view node, double weight) const override;
  size_t locate(std::string_view key) const override;
  void collect(std::string_view key, size_t n, std::vector<size_t>* out) const override;

  std::shared_ptr<const hash::HashFunction> hash_;
};

}  // namespace thrifty::placement
