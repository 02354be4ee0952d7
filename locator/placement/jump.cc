#include "locator/placement/jump.h"

#include <string>

#include "locator/placement/fixed_buckets.h"

namespace thrifty::placement {

uint32_t JumpConsistentHash(uint64_t key, uint32_t buckets) {
  // The paper's loop: a 64-bit LCG drives the jumps; each jump goes to a bucket the key would
  // move to as the bucket count grows, and the last one below `buckets` is the answer.
  int64_t b = -1;
  int64_t j = 0;
  while (j < static_cast<int64_t>(buckets)) {
    b = j;
    key = key * 2862933555777941757ULL + 1;
    j = static_cast<int64_t>(static_cast<double>(b + 1) * (static_cast<double>(int64_t{1} << 31) /
                                                           static_cast<double>((key >> 33) + 1)));
  }
  return static_cast<uint32_t>(b);
}

JumpPlacement::JumpPlacement(std::shared_ptr<const hash::HashFunction> hash)
    : Placement("jump/" + std::string(hash->name())), hash_(std::move(hash)) {}

std::unique_ptr<Placement> JumpPlacement::clone() const {
  return std::unique_ptr<Placement>(new JumpPlacement(*this));
}

void JumpPlacement::check_weight(std::string_view node, double weight) const {
  internal::RequireUnitWeight("jump", node, weight);
}

size_t JumpPlacement::locate(std::string_view key) const {
  return JumpConsistentHash(hash_->hash(key), static_cast<uint32_t>(size()));
}

void JumpPlacement::collect(std::string_view key, size_t n, std::vector<size_t>* out) const {
  internal::AppendBucketsFrom(locate(key), size(), n, out);
}

}  // namespace thrifty::placement
