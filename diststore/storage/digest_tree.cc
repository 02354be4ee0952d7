#include "diststore/storage/digest_tree.h"

#include <xxhash.h>

namespace thrifty::storage {

int DigestTree::LevelSize(int level) {
  switch (level) {
    case 0: return 1;
    case 1: return 16;
    case 2: return 256;
    case 3: return kLeaves;
    default: return 0;
  }
}

int DigestTree::LeafOf(std::string_view key) {
  return static_cast<int>(XXH3_64bits(key.data(), key.size()) >> 52);  // top 12 bits
}

uint64_t DigestTree::RecordHash(std::string_view key, int64_t version, bool tombstone) {
  const uint64_t seed = (static_cast<uint64_t>(version) << 1) | (tombstone ? 1u : 0u);
  // A second, differently seeded pass keeps a (key, version) pair whose seeds collide after
  // the shift (versions differing only in the top bit) apart.
  return XXH3_64bits_withSeed(key.data(), key.size(), seed) ^
         (static_cast<uint64_t>(version) * 0x9E3779B97F4A7C15ull);
}

void DigestTree::toggle(std::string_view key, int64_t version, bool tombstone) {
  toggle_leaf(LeafOf(key), RecordHash(key, version, tombstone));
}

void DigestTree::toggle_leaf(int leaf, uint64_t hash) {
  leaves_[static_cast<size_t>(leaf)] ^= hash;
  level2_[static_cast<size_t>(leaf / kFanout)] ^= hash;
  level1_[static_cast<size_t>(leaf / (kFanout * kFanout))] ^= hash;
  root_ ^= hash;
}

uint64_t DigestTree::hash(int level, int index) const {
  const auto i = static_cast<size_t>(index);
  switch (level) {
    case 0: return root_;
    case 1: return level1_[i];
    case 2: return level2_[i];
    default: return leaves_[i];
  }
}

bool DigestTree::operator==(const DigestTree& other) const {
  return root_ == other.root_ && level1_ == other.level1_ && level2_ == other.level2_ &&
         leaves_ == other.leaves_;
}

std::vector<int> ChildrenOf(int index) {
  std::vector<int> out;
  out.reserve(DigestTree::kFanout);
  for (int c = 0; c < DigestTree::kFanout; ++c) out.push_back(index * DigestTree::kFanout + c);
  return out;
}

std::vector<int> DifferingLeaves(const DigestTree& a, const DigestTree& b) {
  std::vector<int> differing;
  if (a.root() != b.root()) differing.push_back(0);
  for (int level = 1; level < DigestTree::kLevels; ++level) {
    std::vector<int> next;
    for (int parent : differing) {
      for (int child : ChildrenOf(parent)) {
        if (a.hash(level, child) != b.hash(level, child)) next.push_back(child);
      }
    }
    differing = std::move(next);
  }
  return differing;
}

}  // namespace thrifty::storage
