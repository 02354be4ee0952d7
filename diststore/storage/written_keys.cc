#include "diststore/storage/written_keys.h"

#include <xxhash.h>

namespace thrifty::storage {

namespace {

constexpr size_t kBitsPerKey = 10;
constexpr int kProbes = 7;  // ~ln 2 * bits per key: about 1% false positives at capacity

}  // namespace

WrittenKeys::WrittenKeys(size_t capacity) : capacity_(capacity) {
  if (capacity > 0) bits_.assign((capacity * kBitsPerKey + 63) / 64, 0);
}

// Calls visit(word, mask) for each of the key's probes: Kirsch-Mitzenmacher, probe i is
// h1 + i * h2 over the two halves of one 64-bit hash. Stops when visit returns false.
template <typename Visit>
bool WrittenKeys::probe(std::string_view key, Visit&& visit) const {
  const uint64_t hash = XXH3_64bits(key.data(), key.size());
  const uint64_t size = bits_.size() * 64;
  uint64_t position = hash & 0xffffffffu;
  const uint64_t step = (hash >> 32) | 1;
  for (int i = 0; i < kProbes; ++i, position += step) {
    const uint64_t bit = position % size;
    if (!visit(bit / 64, uint64_t{1} << (bit % 64))) return false;
  }
  return true;
}

bool WrittenKeys::maybe_written(std::string_view key) const {
  if (bits_.empty()) return true;
  return probe(key, [&](size_t word, uint64_t mask) { return (bits_[word] & mask) != 0; });
}

void WrittenKeys::add(std::string_view key) {
  if (bits_.empty()) return;
  if (++added_ > capacity_) {
    std::vector<uint64_t>().swap(bits_);  // off for good: every key reads as "maybe"
    return;
  }
  probe(key, [&](size_t word, uint64_t mask) {
    bits_[word] |= mask;
    return true;
  });
}

}  // namespace thrifty::storage
