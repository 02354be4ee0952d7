// DigestTree: a fixed-shape hash tree over a set of records, for anti-entropy: two replicas that
// hold the same (key, version, tombstone) triples have equal trees, and where they differ the
// differing leaves name the keys to compare (Dynamo's Merkle trees).
//
// Shape: 4 levels, fan-out 16: one root (level 0), 16, 256 and 4096 leaves (level 3). A key
// belongs to leaf LeafOf(key) (the top 12 bits of its XXH3 hash). Every node holds the XOR of
// RecordHash(key, version, tombstone) over the records below it, so a change is O(1): toggle()
// the old record out and the new one in, at its leaf and its 3 ancestors; the result does not
// depend on the order of the changes, and a tree built from scratch equals one kept up to date.
// Not thread-safe (the owner locks); 35 KiB.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <vector>

namespace thrifty::storage {

class DigestTree {
 public:
  static constexpr int kFanout = 16;
  static constexpr int kLevels = 4;        // 0 (root) .. 3 (leaves)
  static constexpr int kLeafLevel = kLevels - 1;
  static constexpr int kLeaves = 4096;     // kFanout ^ kLeafLevel

  // Nodes at `level` (1, 16, 256, 4096); 0 for a level out of range.
  static int LevelSize(int level);
  // The leaf `key` belongs to, in 0..kLeaves-1.
  static int LeafOf(std::string_view key);
  // The 64-bit hash of one stored record (XXH3 of the key, seeded with version and tombstone).
  static uint64_t RecordHash(std::string_view key, int64_t version, bool tombstone);

  // XORs RecordHash(key, version, tombstone) into the key's leaf and its ancestors: adds the
  // record if absent, removes it if present.
  void toggle(std::string_view key, int64_t version, bool tombstone);
  // XORs `hash` into `leaf` and its ancestors. Requires 0 <= leaf < kLeaves.
  void toggle_leaf(int leaf, uint64_t hash);

  // The hash of node `index` at `level`. Requires both in range (see Valid).
  uint64_t hash(int level, int index) const;
  uint64_t root() const { return root_; }
  static bool Valid(int level, int index) { return index >= 0 && index < LevelSize(level); }

  bool operator==(const DigestTree& other) const;
  bool operator!=(const DigestTree& other) const { return !(*this == other); }

 private:
  uint64_t root_ = 0;
  std::array<uint64_t, 16> level1_{};
  std::array<uint64_t, 256> level2_{};
  std::array<uint64_t, kLeaves> leaves_{};
};

// The children of node `index` at `level` (< kLeafLevel): indexes at level + 1.
std::vector<int> ChildrenOf(int index);

// The leaves whose hashes differ between `a` and `b`, found as a replica does over the wire:
// from the root, descending only into children whose hashes differ. In increasing order.
std::vector<int> DifferingLeaves(const DigestTree& a, const DigestTree& b);

}  // namespace thrifty::storage
