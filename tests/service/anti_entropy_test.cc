// Anti-entropy's parts without processes: RangeDigests kept up to date equals the trees built
// from the data; the tombstone GC rule; the GC pass; the size and fingerprint checks of the
// repair RPCs a peer serves.
#include "diststore/service/anti_entropy.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include <gtest/gtest.h>

#include "diststore/service/tombstone_gc.h"
#include "diststore/storage/hlc.h"
#include "tests/service/service_fakes.h"

namespace thrifty::diststore::testing {
namespace {

using storage::DigestTree;
using storage::HybridLogicalClock;
using storage::Record;

const std::vector<locator::wire::Member> kFiveNodes = {MemberAt(kSelf), MemberAt(kB), MemberAt(kC),
                                                       MemberAt(7004), MemberAt(7005)};

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
int64_t VersionAt(int64_t ms) { return HybridLogicalClock::make(ms, 0); }

// One replicated node's anti-entropy over a memory engine and fakes.
struct AntiEntropyNode {
  explicit AntiEntropyNode(int replicas = 3, AntiEntropyLimits limits = {}) : cluster(kSelf) {
    cluster.set(kFiveNodes);
    replication.replicas = replicas;
    replication.gc_grace_ms = 10000;
    moving = std::make_unique<MovingKeys>(MovingKeysOptions{}, false);
    owner = std::make_unique<OwnerStore>(cluster, *engine, peers, *moving, store_limits,
                                         replication, counters);
    anti_entropy = std::make_unique<AntiEntropy>(cluster, *engine, *owner, peers, replication, limits);
  }
  uint64_t fingerprint() { return anti_entropy->digests()->FingerprintOf(*cluster.snapshot()); }

  FakeCluster cluster;
  FakePeers peers;
  std::unique_ptr<storage::Engine> engine = storage::NewMemoryEngine();
  StoreLimits store_limits;
  ReplicationOptions replication;
  StoreCounters counters;
  rpc::FanOut fan_out{2};
  std::unique_ptr<MovingKeys> moving;
  std::unique_ptr<OwnerStore> owner;
  std::unique_ptr<AntiEntropy> anti_entropy;  // last: destroyed first
};

TEST(RangeDigests, KeptUpToDateEqualsTreesBuiltFromTheData) {
  AntiEntropyNode node;
  for (int i = 0; i < 500; ++i) node.engine->merge("k" + std::to_string(i), Record{"v", 1, false});
  RangeDigests& digests = *node.anti_entropy->digests();
  digests.rebuild(node.cluster.snapshot());
  EXPECT_EQ(digests.ready_fingerprint(), node.fingerprint());
  for (int i = 0; i < 2000; ++i) {
    const std::string key = "k" + std::to_string(i % 700);
    if (i % 7 == 0) {
      node.engine->erase_if_version(key, 1);
    } else {
      node.engine->merge(key, Record{"v", 2 + i, i % 3 == 0});
    }
  }
  // From scratch: every record into its range's tree.
  std::map<uint64_t, DigestTree> expected;
  node.engine->scan([&](std::string_view key, const Record& r) {
    const auto where = digests.range_of(std::string(key));
    EXPECT_TRUE(where.has_value());
    expected[where->range_id].toggle(key, r.version, r.tombstone);
    EXPECT_EQ(where->names.size(), 3u);
    EXPECT_TRUE(std::is_sorted(where->names.begin(), where->names.end()));
    return true;
  });
  EXPECT_GT(expected.size(), 1u);
  for (const auto& [id, tree] : expected) EXPECT_EQ(digests.tree(id), tree) << "range " << id;
  // The ranges this node is told of hold it, and are all of the non-empty ones that do.
  const auto with_self = digests.ranges_with(MemberName(node.cluster.self()));
  for (const auto& range : with_self) {
    EXPECT_TRUE(std::count(range.names.begin(), range.names.end(), MemberName(node.cluster.self())));
    EXPECT_EQ(range.replicas.size(), 3u);
  }
}

TEST(TombstoneGc, TheRule) {
  const int64_t now = 1'000'000'000, grace = 10'000;
  // One replica: gc-grace alone.
  EXPECT_EQ(PurgeBeforeMs(now, grace, 1, std::nullopt), now - grace);
  // More: never before an agreeing repair, then the earlier of the two.
  EXPECT_EQ(PurgeBeforeMs(now, grace, 3, std::nullopt), std::nullopt);
  EXPECT_EQ(PurgeBeforeMs(now, grace, 3, now - 50'000), now - 50'000);
  EXPECT_EQ(PurgeBeforeMs(now, grace, 3, now - 1'000), now - grace);
  const auto at = [](int64_t ms) { return HybridLogicalClock::make(ms, 7); };
  EXPECT_TRUE(Purgeable(true, at(now - grace - 1), now - grace));
  EXPECT_FALSE(Purgeable(true, at(now - grace), now - grace));
  EXPECT_FALSE(Purgeable(false, at(0), now - grace));  // never a live value
  EXPECT_FALSE(Purgeable(true, at(0), std::nullopt));
  EXPECT_TRUE(OlderThanGrace(at(now - grace - 1), now, grace));
  EXPECT_FALSE(OlderThanGrace(at(now - grace + 1), now, grace));
}

TEST(TombstoneGc, WithReplicasNothingIsPurgedBeforeEveryReplicaAgreed) {
  AntiEntropyNode node;
  const int64_t old_ms = NowMs() - 60'000;
  for (int i = 0; i < 50; ++i) {
    node.engine->merge("dead-" + std::to_string(i), Record{"", VersionAt(old_ms), true});
  }
  node.engine->merge("fresh", Record{"", VersionAt(NowMs()), true});
  node.engine->merge("live", Record{"v", VersionAt(old_ms), false});
  node.anti_entropy->digests()->rebuild(node.cluster.snapshot());
  // The fake peers do not serve repair calls: no range is agreed, nothing goes.
  const wire::RepairReport report = node.anti_entropy->repair_now();
  EXPECT_EQ(report.peers_skipped, 4);
  EXPECT_EQ(report.tombstones_purged, 0);
  EXPECT_EQ(node.engine->get("dead-0")->tombstone, true);
}

TEST(TombstoneGc, WithOneCopyOldTombstonesOfOwnedKeysArePurged) {
  AntiEntropyNode node(1);
  node.cluster.set({MemberAt(kSelf)});
  const int64_t old_ms = NowMs() - 60'000;
  node.engine->merge("old", Record{"", VersionAt(old_ms), true});
  node.engine->merge("fresh", Record{"", VersionAt(NowMs()), true});
  node.engine->merge("live", Record{"v", VersionAt(old_ms), false});
  EXPECT_EQ(node.anti_entropy->collect_garbage(), 1);
  EXPECT_FALSE(node.engine->get("old"));
  EXPECT_TRUE(node.engine->get("fresh"));
  EXPECT_TRUE(node.engine->get("live"));
  EXPECT_EQ(node.anti_entropy->stats().at("tombstones_purged"), 1);
}

// Calls a served RPC and returns the StoreError's message (empty if none was thrown).
template <typename Call>
std::string ErrorOf(Call&& call) {
  try {
    call();
  } catch (const wire::StoreError& e) {
    return e.message;
  }
  return {};
}

TEST(RepairRpcs, TreeCallsAreBoundedAndCheckTheRing) {
  AntiEntropyNode node;
  node.engine->merge("k", Record{"v", 5, false});
  AntiEntropy& ae = *node.anti_entropy;
  const auto fp = static_cast<int64_t>(node.fingerprint());
  // Trees not built yet: refused, saying so.
  EXPECT_NE(ErrorOf([&] { ae.tree_hashes(1, 0, {0}, fp); }).find("being built"), std::string::npos);
  EXPECT_EQ(ae.roots_for(rpc::MakeLocation("127.0.0.1", kB), fp + 1).ring_fingerprint, 0);
  ae.digests()->rebuild(node.cluster.snapshot());

  const auto where = *ae.digests()->range_of("k");
  const auto id = static_cast<int64_t>(where.range_id);
  EXPECT_EQ(ae.tree_hashes(id, 0, {0}, fp),
            std::vector<int64_t>{static_cast<int64_t>(ae.digests()->tree(where.range_id).root())});
  std::vector<int32_t> all_leaves(DigestTree::kLeaves);
  for (int i = 0; i < DigestTree::kLeaves; ++i) all_leaves[static_cast<size_t>(i)] = i;
  EXPECT_EQ(ae.tree_hashes(id, 3, all_leaves, fp).size(), 4096u);  // the limit itself is fine
  all_leaves.push_back(0);
  EXPECT_NE(ErrorOf([&] { ae.tree_hashes(id, 3, all_leaves, fp); }).find("at most 4096"),
            std::string::npos);
  EXPECT_NE(ErrorOf([&] { ae.tree_hashes(id, 4, {0}, fp); }).find("level 4"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ae.tree_hashes(id, 1, {16}, fp); }).find("index 16"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ae.tree_hashes(id, 0, {0}, fp + 1); }).find("another ring"),
            std::string::npos);

  // The roots a peer is told of: the ranges holding it, this one among them if it does.
  const auto roots = ae.roots_for(rpc::MakeLocation("127.0.0.1", kB), fp);
  EXPECT_EQ(roots.ring_fingerprint, fp);
  const bool b_holds =
      std::count(where.names.begin(), where.names.end(), "127.0.0.1:" + std::to_string(kB)) > 0;
  EXPECT_EQ(std::count_if(roots.ranges.begin(), roots.ranges.end(),
                          [&](const wire::RangeRoot& r) { return r.range_id == id; }),
            b_holds ? 1 : 0);
}

TEST(RepairRpcs, LeafPagesAreBoundedAndResumeAfterTheLastKey) {
  AntiEntropyLimits limits;
  limits.max_page_entries = 7;
  limits.max_leaf_refs = 100;
  AntiEntropyNode node(3, limits);
  for (int i = 0; i < 300; ++i) node.engine->merge("k" + std::to_string(i), Record{"v", 5, false});
  AntiEntropy& ae = *node.anti_entropy;
  ae.digests()->rebuild(node.cluster.snapshot());
  const auto fp = static_cast<int64_t>(node.fingerprint());
  // Every (range, leaf) of the first 40 keys.
  std::set<std::pair<int64_t, int>> refs_set;
  std::set<std::string> expected;
  for (int i = 0; i < 40; ++i) {
    const auto where = *ae.digests()->range_of("k" + std::to_string(i));
    refs_set.emplace(static_cast<int64_t>(where.range_id), where.leaf);
  }
  std::vector<wire::LeafRef> refs;
  for (const auto& [range, leaf] : refs_set) {
    wire::LeafRef ref;
    ref.range_id = range;
    ref.leaf = leaf;
    refs.push_back(ref);
  }
  node.engine->scan([&](std::string_view key, const Record&) {
    const auto where = *ae.digests()->range_of(std::string(key));
    if (refs_set.count({static_cast<int64_t>(where.range_id), where.leaf})) {
      expected.insert(std::string(key));
    }
    return true;
  });
  std::set<std::string> got;
  std::string after;
  int pages = 0;
  while (true) {
    const wire::LeafPage page = ae.leaf_page(refs, after, fp);
    ++pages;
    EXPECT_LE(page.entries.size(), 7u);
    for (const auto& e : page.entries) {
      EXPECT_GT(e.key, after);
      EXPECT_TRUE(got.insert(e.key).second) << "twice: " << e.key;
      EXPECT_EQ(e.version, 5);
    }
    if (!page.more) break;
    after = page.entries.back().key;
    ASSERT_LT(pages, 100);
  }
  EXPECT_EQ(got, expected);
  EXPECT_GE(pages, static_cast<int>(expected.size() / 7));

  std::vector<wire::LeafRef> too_many(101, refs.front());
  EXPECT_NE(ErrorOf([&] { ae.leaf_page(too_many, "", fp); }).find("at most 100"), std::string::npos);
  wire::LeafRef bad = refs.front();
  bad.leaf = 4096;
  EXPECT_NE(ErrorOf([&] { ae.leaf_page({bad}, "", fp); }).find("leaf 4096"), std::string::npos);
  EXPECT_NE(ErrorOf([&] { ae.leaf_page(refs, "", fp + 1); }).find("another ring"), std::string::npos);
}

}  // namespace
}  // namespace thrifty::diststore::testing
