#include "locator/hash/xxhash.h"

#include <xxhash.h>

namespace thrifty::hash {

uint64_t Xxh64Hash::hash(std::string_view data) const { return XXH64(data.data(), data.size(), 0); }

uint64_t Xxh3Hash::hash(std::string_view data) const {
  return XXH3_64bits(data.data(), data.size());
}

}  // namespace thrifty::hash
