#include "diststore/storage/written_keys.h"

#include <xxhash.h>

namespace thrifty::storage {

namespace {

constexpr size_t kBitsPerKey = 10;
constexpr int kProbes = 7;
constexpr uint64_t kBlockBits = 512;  // one cache line: a key's probes touch only its block

}  // namespace

WrittenKeys::WrittenKeys(size_t capacity) : capacity_(capacity) {
  if (capacity == 0) return;
  const size_t blocks = (capacity * kBitsPerKey + kBlockBits - 1) / kBlockBits;
  bits_.assign(blocks * (kBlockBits / 64), 0);
}

// Calls visit(word, mask) for each of the key's probes, until it returns false. A blocked
// Bloom filter: the hash's high half picks the key's 512-bit block (one cache miss per key,
// where probes over the whole array would take one each), and each probe takes its own 9
// bits of the hash remixed, so two keys of one block rarely share a pattern. About 1.2%
// false positives at 10 bits per key.
template <typename Visit>
bool WrittenKeys::probe(std::string_view key, Visit&& visit) const {
  const uint64_t hash = XXH3_64bits(key.data(), key.size());
  const uint64_t blocks = bits_.size() / (kBlockBits / 64);
  const size_t first_word = static_cast<size_t>((hash >> 32) % blocks) * (kBlockBits / 64);
  uint64_t bits = hash * 0x9e3779b97f4a7c15u;  // 7 probes x 9 bits of it
  for (int i = 0; i < kProbes; ++i, bits >>= 9) {
    const uint64_t bit = bits % kBlockBits;
    if (!visit(first_word + bit / 64, uint64_t{1} << (bit % 64))) return false;
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
    stop();
    return;
  }
  probe(key, [&](size_t word, uint64_t mask) {
    bits_[word] |= mask;
    return true;
  });
}

}  // namespace thrifty::storage
