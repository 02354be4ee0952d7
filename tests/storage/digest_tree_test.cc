// DigestTree: a tree kept up to date change by change equals one built from the final records,
// whatever the order; DifferingLeaves finds exactly the leaves of the records that differ.
#include "diststore/storage/digest_tree.h"

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace thrifty::storage {
namespace {

struct Stored {
  int64_t version;
  bool tombstone;
};

DigestTree Build(const std::map<std::string, Stored>& records) {
  DigestTree tree;
  for (const auto& [key, r] : records) tree.toggle(key, r.version, r.tombstone);
  return tree;
}

TEST(DigestTree, KeptUpToDateEqualsBuiltFromScratch) {
  std::mt19937_64 random(42);
  DigestTree incremental;
  std::map<std::string, Stored> records;
  for (int step = 0; step < 20000; ++step) {
    const std::string key = "key-" + std::to_string(random() % 3000);
    auto it = records.find(key);
    if (it != records.end()) incremental.toggle(key, it->second.version, it->second.tombstone);
    if (random() % 10 == 0) {  // a purge or a handoff's delete: the record goes
      if (it != records.end()) records.erase(it);
      continue;
    }
    const Stored now{static_cast<int64_t>(step + 1), random() % 4 == 0};
    records[key] = now;
    incremental.toggle(key, now.version, now.tombstone);
  }
  EXPECT_EQ(incremental, Build(records));
  EXPECT_NE(incremental.root(), 0u);
  // Removing every record leaves the empty tree.
  for (const auto& [key, r] : records) incremental.toggle(key, r.version, r.tombstone);
  EXPECT_EQ(incremental, DigestTree{});
}

TEST(DigestTree, ParentsAreTheXorOfTheirChildren) {
  DigestTree tree;
  for (int i = 0; i < 500; ++i) tree.toggle("k" + std::to_string(i), i + 1, false);
  for (int level = 0; level < DigestTree::kLeafLevel; ++level) {
    for (int index = 0; index < DigestTree::LevelSize(level); ++index) {
      uint64_t children = 0;
      for (int child : ChildrenOf(index)) children ^= tree.hash(level + 1, child);
      ASSERT_EQ(tree.hash(level, index), children) << "level " << level << " index " << index;
    }
  }
}

TEST(DigestTree, DifferingLeavesAreExactlyThoseOfTheDifferingRecords) {
  std::map<std::string, Stored> a;
  for (int i = 0; i < 10000; ++i) a["key-" + std::to_string(i)] = {i + 1, false};
  auto b = a;
  std::set<int> expected;
  b["key-17"].version += 1;               // a newer version
  expected.insert(DigestTree::LeafOf("key-17"));
  b["key-4242"].tombstone = true;         // deleted at the same version
  expected.insert(DigestTree::LeafOf("key-4242"));
  b.erase("key-999");                     // missing on one side
  expected.insert(DigestTree::LeafOf("key-999"));
  b["extra"] = {5, false};                // only on the other side
  expected.insert(DigestTree::LeafOf("extra"));
  const auto differing = DifferingLeaves(Build(a), Build(b));
  EXPECT_EQ(std::set<int>(differing.begin(), differing.end()), expected);
  EXPECT_TRUE(std::is_sorted(differing.begin(), differing.end()));
  EXPECT_TRUE(DifferingLeaves(Build(a), Build(a)).empty());
}

TEST(DigestTree, RecordHashDependsOnKeyVersionAndTombstone) {
  const uint64_t h = DigestTree::RecordHash("k", 10, false);
  EXPECT_NE(h, DigestTree::RecordHash("k", 11, false));
  EXPECT_NE(h, DigestTree::RecordHash("k", 10, true));
  EXPECT_NE(h, DigestTree::RecordHash("j", 10, false));
  EXPECT_EQ(h, DigestTree::RecordHash("k", 10, false));
  for (const std::string key : {"", "a", "key-1"}) {
    const int leaf = DigestTree::LeafOf(key);
    EXPECT_TRUE(leaf >= 0 && leaf < DigestTree::kLeaves);
  }
}

}  // namespace
}  // namespace thrifty::storage
