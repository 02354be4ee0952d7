// xxHash (libxxhash): XXH64 and XXH3-64, both with seed 0. The fastest choices here.
#pragma once

#include <cstdint>
#include <string_view>

#include "locator/hash/hash_function.h"

namespace thrifty::hash {

// "xxh64": XXH64(data, seed 0).
class Xxh64Hash final : public HashFunction {
 public:
  Xxh64Hash() = default;
  uint64_t hash(std::string_view data) const override;
  std::string_view name() const override { return "xxh64"; }
};

// "xxh3": XXH3_64bits(data), i.e. seed 0 and the default secret.
class Xxh3Hash final : public HashFunction {
 public:
  Xxh3Hash() = default;
  uint64_t hash(std::string_view data) const override;
  std::string_view name() const override { return "xxh3"; }
};

}  // namespace thrifty::hash
