// FNV-1a, 64-bit (Fowler/Noll/Vo): tiny and fast, but weak on similar keys; offered for
// compatibility with systems that place keys with it.
#pragma once

#include <cstdint>
#include <string_view>

#include "locator/hash/hash_function.h"

namespace thrifty::hash {

// Returns FNV-1a 64 of `data` (offset basis 0xcbf29ce484222325, prime 0x100000001b3).
constexpr uint64_t Fnv1a64(std::string_view data) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (char c : data) {
    h ^= static_cast<uint8_t>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

// "fnv1a".
class Fnv1aHash final : public HashFunction {
 public:
  Fnv1aHash() = default;
  uint64_t hash(std::string_view data) const override { return Fnv1a64(data); }
  std::string_view name() const override { return "fnv1a"; }
};

}  // namespace thrifty::hash
