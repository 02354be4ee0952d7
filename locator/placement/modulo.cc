#include "locator/placement/modulo.h"

#include <string>

#include "locator/placement/fixed_buckets.h"

namespace thrifty::placement {

ModuloPlacement::ModuloPlacement(std::shared_ptr<const hash::HashFunction> hash)
    : Placement("modulo/" + std::string(hash->name())), hash_(std::move(hash)) {}

std::unique_ptr<Placement> ModuloPlacement::clone() const {
  return std::unique_ptr<Placement>(new ModuloPlacement(*this));
}

void ModuloPlacement::check_weight(std::string_view node, double weight) const {
  internal::RequireUnitWeight("modulo", node, weight);
}

size_t ModuloPlacement::locate(std::string_view key) const { return hash_->hash(key) % size(); }

void ModuloPlacement::collect(std::string_view key, size_t n, std::vector<size_t>* out) const {
  internal::AppendBucketsFrom(locate(key), size(), n, out);
}

}  // namespace thrifty::placement
