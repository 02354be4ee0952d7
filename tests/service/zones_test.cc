// Zones and the sloppy quorum over the service-layer fakes: replica sets spread over distinct
// zones first (fewer zones than N, nodes without a zone, DEAD members keeping theirs, the same
// sets whatever the node and the order of members), zone names, the hint holders of a key, and
// a leader's write whose DEAD replicas' hints count toward W only with --hints-count-for-w.
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/service/durability.h"
#include "diststore/service/hinted_handoff.h"
#include "diststore/service/range_digests.h"
#include "diststore/service/replica_set.h"
#include "diststore/service/store_node.h"
#include "locator/service/zone.h"
#include "tests/service/service_fakes.h"

namespace thrifty::diststore {
namespace {

using namespace testing;  // the fakes

constexpr int kD = 7004, kE = 7005, kF = 7006;

locator::wire::Member InZone(int port, const std::string& zone,
                             MemberState::type state = MemberState::ALIVE) {
  locator::wire::Member m = MemberAt(port, state);
  if (!zone.empty()) m.metadata[locator::kZoneKey] = zone;
  m.metadata[kHostIdKey] = "host-" + std::to_string(port);
  return m;
}

// 7001 and 7002 in zone "a", 7003 and 7004 in "b", 7005 and 7006 in "c".
std::vector<locator::wire::Member> SixNodesInThreeZones() {
  return {InZone(kSelf, "a"), InZone(kB, "a"), InZone(kC, "b"),
          InZone(kD, "b"),    InZone(kE, "c"), InZone(kF, "c")};
}

std::string Key(int i) { return "key-" + std::to_string(i); }

std::vector<std::string> ZonesOf(const ClusterSnapshot& snapshot, const ReplicaSet& set) {
  std::vector<std::string> zones;
  for (const std::string& name : set.names) zones.push_back(snapshot.zone_of(name));
  return zones;
}

// Positions of the set's nodes in the key's whole preference list (on the ring with DEAD).
std::vector<size_t> Positions(const ClusterSnapshot& snapshot, const std::string& key,
                              const ReplicaSet& set) {
  const locator::Ring& ring =
      snapshot.ring_with_dead() ? *snapshot.ring_with_dead() : *snapshot.ring();
  std::vector<std::string> list;
  for (const auto& l : ring.preference_list(key, ring.size())) list.push_back(MemberName(l));
  std::vector<size_t> out;
  for (const std::string& name : set.names) {
    out.push_back(static_cast<size_t>(std::find(list.begin(), list.end(), name) - list.begin()));
  }
  return out;
}

TEST(Zones, ReplicasGoToDistinctZonesFirstInPreferenceOrder) {
  FakeCluster cluster(kSelf);
  cluster.set(SixNodesInThreeZones());
  const auto snapshot = cluster.snapshot();
  const ReplicaPlacement placement(*snapshot, 3, false);
  size_t differs_from_plain = 0;
  for (int i = 0; i < 500; ++i) {
    const ReplicaSet set = placement.of(Key(i));
    ASSERT_EQ(set.size(), 3u);
    std::vector<std::string> zones = ZonesOf(*snapshot, set);
    std::sort(zones.begin(), zones.end());
    EXPECT_EQ(zones, (std::vector<std::string>{"a", "b", "c"})) << Key(i);
    // Preference order, and its first node is the key's owner (where clients send it).
    const std::vector<size_t> positions = Positions(*snapshot, Key(i), set);
    EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end())) << Key(i);
    EXPECT_EQ(positions.front(), 0u) << Key(i);
    EXPECT_EQ(set.names.front(), MemberName(snapshot->ring()->owner(Key(i))));
    if (positions.back() != 2) ++differs_from_plain;
  }
  // With 2 nodes per zone the plain first 3 often repeat a zone: zones changed those sets.
  EXPECT_GT(differs_from_plain, 100u);
}

TEST(Zones, FewerZonesThanNFillsWithTheNextNodesInPreferenceOrder) {
  FakeCluster cluster(kSelf);
  // Zone "a" has four nodes, "b" one: every set holds the "b" node and the first two "a"
  // nodes of the key's preference list.
  cluster.set({InZone(kSelf, "a"), InZone(kB, "a"), InZone(kC, "a"), InZone(kD, "a"),
               InZone(kE, "b")});
  const auto snapshot = cluster.snapshot();
  const ReplicaPlacement placement(*snapshot, 3, false);
  for (int i = 0; i < 300; ++i) {
    const ReplicaSet set = placement.of(Key(i));
    ASSERT_EQ(set.size(), 3u);
    EXPECT_TRUE(set.contains("127.0.0.1:7005")) << Key(i);
    std::vector<std::string> first_a;
    for (const auto& l : snapshot->ring()->preference_list(Key(i), 5)) {
      if (MemberName(l) != "127.0.0.1:7005" && first_a.size() < 2) first_a.push_back(MemberName(l));
    }
    for (const std::string& a : first_a) EXPECT_TRUE(set.contains(a)) << Key(i) << " " << a;
    const std::vector<size_t> positions = Positions(*snapshot, Key(i), set);
    EXPECT_TRUE(std::is_sorted(positions.begin(), positions.end())) << Key(i);
  }
  // One zone only (nobody names one): the plain first N of the preference list.
  FakeCluster plain(kSelf);
  plain.set({MemberAt(kSelf), MemberAt(kB), MemberAt(kC), MemberAt(kD)});
  const ReplicaPlacement one_zone(*plain.snapshot(), 3, false);
  for (int i = 0; i < 100; ++i) {
    const auto list = plain.snapshot()->ring()->preference_list(Key(i), 3);
    const ReplicaSet set = one_zone.of(Key(i));
    ASSERT_EQ(set.size(), 3u);
    for (size_t r = 0; r < 3; ++r) EXPECT_EQ(set.names[r], MemberName(list[r]));
  }
}

TEST(Zones, NodesWithoutAZoneFormTheZoneEmpty) {
  FakeCluster cluster(kSelf);
  cluster.set({InZone(kSelf, ""), InZone(kB, ""), InZone(kC, "x"), InZone(kD, "x")});
  const auto snapshot = cluster.snapshot();
  EXPECT_EQ(snapshot->zone_of("127.0.0.1:7001"), "");
  EXPECT_EQ(snapshot->zone_of("127.0.0.1:7003"), "x");
  const ReplicaPlacement placement(*snapshot, 2, false);
  for (int i = 0; i < 200; ++i) {
    std::vector<std::string> zones = ZonesOf(*snapshot, placement.of(Key(i)));
    std::sort(zones.begin(), zones.end());
    EXPECT_EQ(zones, (std::vector<std::string>{"", "x"})) << Key(i);
  }
}

TEST(Zones, EveryNodeComputesTheSameSetsAndRanges) {
  const std::vector<locator::wire::Member> members = {
      InZone(kSelf, "a"), InZone(kB, "b"), InZone(kC, "c"), InZone(kD, "a"),
      InZone(kE, "b", MemberState::DEAD), InZone(kF, "c")};
  std::vector<locator::wire::Member> reversed(members.rbegin(), members.rend());
  FakeCluster one(kSelf), other(kC);  // two nodes, members listed in two orders
  one.set(members);
  other.set(reversed);
  const ReplicaPlacement a(*one.snapshot(), 3, false), b(*other.snapshot(), 3, false);
  auto engine_a = storage::NewMemoryEngine(), engine_b = storage::NewMemoryEngine();
  RangeDigests digests_a(*engine_a, 3), digests_b(*engine_b, 3);
  EXPECT_EQ(digests_a.FingerprintOf(*one.snapshot()), digests_b.FingerprintOf(*other.snapshot()));
  digests_a.rebuild(one.snapshot());
  digests_b.rebuild(other.snapshot());
  for (int i = 0; i < 300; ++i) {
    EXPECT_EQ(a.of(Key(i)).names, b.of(Key(i)).names) << Key(i);
    EXPECT_EQ(a.of(Key(i)).names, a.of(Key(i)).names);
    EXPECT_EQ(digests_a.range_of(Key(i))->range_id, digests_b.range_of(Key(i))->range_id);
  }
  // Another zone for one node is another ring: its trees are not compared with these, and
  // the node's ring listeners run (handoff, trees).
  std::vector<locator::wire::Member> moved = members;
  moved[1].metadata[locator::kZoneKey] = "c";
  FakeCluster changed(kSelf);
  changed.set(moved);
  EXPECT_NE(digests_a.FingerprintOf(*one.snapshot()), digests_a.FingerprintOf(*changed.snapshot()));
  EXPECT_TRUE(changed.snapshot()->ring_differs(*one.snapshot()));
  EXPECT_FALSE(one.snapshot()->ring_differs(*other.snapshot()));
}

TEST(Zones, ADeadMemberKeepsItsZoneAndItsPlace) {
  FakeCluster cluster(kSelf);
  std::vector<locator::wire::Member> members = SixNodesInThreeZones();
  cluster.set(members);
  const auto before = cluster.snapshot();
  members[2].state = MemberState::DEAD;  // 7003, zone "b"
  cluster.set(members);
  const auto after = cluster.snapshot();
  EXPECT_EQ(after->zone_of("127.0.0.1:7003"), "b");
  const ReplicaPlacement was(*before, 3, false), is(*after, 3, false);
  size_t with_dead = 0;
  for (int i = 0; i < 300; ++i) {
    const ReplicaSet set = is.of(Key(i));
    EXPECT_EQ(set.names, was.of(Key(i)).names) << Key(i);  // skipped, not replaced
    if (!set.contains("127.0.0.1:7003")) continue;
    ++with_dead;
    EXPECT_EQ(set.alive_count(), 2u);
    EXPECT_FALSE(set.contains("127.0.0.1:7004")) << "the other 'b' node took the DEAD one's place";
  }
  EXPECT_GT(with_dead, 50u);
}

TEST(Zones, DrainingLeavesSelfOutAndKeepsZonesDistinct) {
  FakeCluster cluster(kSelf);
  cluster.set(SixNodesInThreeZones());
  const auto snapshot = cluster.snapshot();
  const ReplicaPlacement draining(*snapshot, 3, true);
  for (int i = 0; i < 200; ++i) {
    const ReplicaSet set = draining.of(Key(i));
    ASSERT_EQ(set.size(), 3u);
    EXPECT_FALSE(set.contains("127.0.0.1:7001"));
    std::vector<std::string> zones = ZonesOf(*snapshot, set);
    std::sort(zones.begin(), zones.end());
    EXPECT_EQ(zones, (std::vector<std::string>{"a", "b", "c"})) << Key(i);
  }
}

TEST(Zones, NamesAreCheckedWithAClearMessage) {
  EXPECT_EQ(locator::ZoneProblem(""), "");
  EXPECT_EQ(locator::ZoneProblem("us-east-1a"), "");
  EXPECT_EQ(locator::ZoneProblem("rack_7.row-2"), "");
  EXPECT_EQ(locator::ZoneProblem(std::string(64, 'z')), "");
  const std::string long_name = locator::ZoneProblem(std::string(65, 'z'));
  EXPECT_NE(long_name.find("65 bytes"), std::string::npos) << long_name;
  EXPECT_NE(long_name.find("at most 64"), std::string::npos) << long_name;
  for (const std::string bad : {"a b", "zone/1", "é", "a\nb", "a=b"}) {
    const std::string why = locator::ZoneProblem(bad);
    EXPECT_NE(why.find("may hold only ASCII letters, digits"), std::string::npos) << bad;
  }
  StoreOptions options;
  options.memory = true;
  options.zone = "bad zone";
  EXPECT_NE(options.validate().find("--zone: zone 'bad zone'"), std::string::npos)
      << options.validate();
  options.zone = "good";
  EXPECT_EQ(options.validate(), "");
  options.replication.hints_count_for_w = true;
  options.hints.enabled = false;
  EXPECT_NE(options.validate().find("--hints-count-for-w"), std::string::npos);
}

TEST(SloppyQuorum, HintHoldersAreTheLiveNonReplicasInPreferenceOrder) {
  FakeCluster cluster(kSelf);
  cluster.set({InZone(kSelf, ""), InZone(kB, ""), InZone(kC, "", MemberState::DEAD),
               InZone(kD, ""), InZone(kE, "", MemberState::DEAD)});
  const auto snapshot = cluster.snapshot();
  const ReplicaPlacement placement(*snapshot, 3, false);
  for (int i = 0; i < 300; ++i) {
    const ReplicaSet set = placement.of(Key(i));
    const auto holders = placement.hint_holders_of(Key(i), set);
    const size_t dead = set.size() - set.alive_count();
    // Live nodes outside the set, in the preference list's order, at most one per DEAD one.
    std::vector<std::string> expected;
    for (const auto& l : snapshot->ring_with_dead()->preference_list(Key(i), 5)) {
      const std::string name = MemberName(l);
      if (!set.contains(name) && snapshot->dead().count(name) == 0 && expected.size() < dead) {
        expected.push_back(name);
      }
    }
    std::vector<std::string> got;
    for (const auto& h : holders) got.push_back(MemberName(h));
    EXPECT_EQ(got, expected) << Key(i);
    if (dead == 0) {
      EXPECT_TRUE(holders.empty());
    }
  }
}

// A key of the 5-node ring below whose replicas are this node and the two DEAD ones.
std::string KeyWithTwoDeadReplicas(const ReplicaPlacement& placement) {
  for (int i = 0; i < 100000; ++i) {
    const ReplicaSet set = placement.of(Key(i));
    if (set.alive_count() == 1 && set.names[static_cast<size_t>(set.leader())] == "127.0.0.1:7001") {
      return Key(i);
    }
  }
  return "";
}

struct SloppyNode {
  explicit SloppyNode(bool hints_count_for_w) : node(false, 3) {
    node.replication.hints_count_for_w = hints_count_for_w;
    node.change({InZone(kSelf, ""), InZone(kB, ""), InZone(kC, "", MemberState::DEAD),
                 InZone(kD, "", MemberState::DEAD), InZone(kE, "")});
    HintOptions options;
    options.replay_interval_ms = 3600 * 1000;  // no replay during the test
    hints = std::make_unique<HintedHandoff>(node.cluster, hint_store, node.peers, options);
    const ReplicaPaths paths{node.cluster, *node.owner, node.peers, *node.moving,
                             replica_calls, node.replication, node.counters};
    writer = std::make_unique<ReplicaWriter>(paths, hints.get());
  }
  wire::Record Unversioned(const std::string& key, const std::string& value) {
    wire::Record r;
    r.key = key;
    r.value = value;
    return r;
  }
  Node node;
  storage::HintStore hint_store{node.engine->hints_table()};
  std::unique_ptr<HintedHandoff> hints;
  // Calls that finish after a write answered keep hints: the pool goes first.
  rpc::FanOut replica_calls{4};
  std::unique_ptr<ReplicaWriter> writer;
};

TEST(SloppyQuorum, WithoutTheFlagHintsDoNotCountTowardW) {
  SloppyNode self(false);
  const auto snapshot = self.node.cluster.snapshot();
  const std::string key =
      KeyWithTwoDeadReplicas(ReplicaPlacement(*snapshot, 3, false));
  ASSERT_FALSE(key.empty());
  try {
    self.writer->lead(*snapshot, {self.Unversioned(key, "v")}, wire::Consistency::QUORUM);
    FAIL() << "a QUORUM write with 1 live replica of 3 succeeded";
  } catch (const wire::Unavailable& e) {
    EXPECT_EQ(e.replicas_required, 2);
    EXPECT_EQ(e.replicas_alive, 1);
  }
  EXPECT_EQ(self.node.peers.calls(kB) + self.node.peers.calls(kE), 0);  // nothing sent
  // ONE still goes through, and the leader keeps the DEAD replicas' hints itself.
  self.writer->lead(*snapshot, {self.Unversioned(key, "v")}, wire::Consistency::ONE);
  EXPECT_EQ(self.hint_store.peek("host-7003", 10).size(), 1u);
  EXPECT_EQ(self.hint_store.peek("host-7004", 10).size(), 1u);
}

TEST(SloppyQuorum, WithTheFlagHintHoldersAcknowledgeForTheDeadReplicas) {
  SloppyNode self(true);
  const auto snapshot = self.node.cluster.snapshot();
  const ReplicaPlacement placement(*snapshot, 3, false);
  const std::string key = KeyWithTwoDeadReplicas(placement);
  ASSERT_FALSE(key.empty());
  self.writer->lead(*snapshot, {self.Unversioned(key, "v")}, wire::Consistency::ALL);
  // Each DEAD replica's write is on its own holder (the live non-replicas 7002 and 7005, in
  // the key's preference order), kept for that replica's host ID; the leader keeps none.
  const auto holders = placement.hint_holders_of(key, placement.of(key));
  ASSERT_EQ(holders.size(), 2u);
  const ReplicaSet set = placement.of(key);
  size_t dead_index = 0;
  for (size_t r = 0; r < set.size(); ++r) {
    if (set.alive[r]) continue;
    const int holder = holders[dead_index++].port;
    const auto hint = self.node.peers.hint(holder, "host-" + std::to_string(set.replicas[r].port), key);
    ASSERT_TRUE(hint) << "holder " << holder << " has no hint for " << set.names[r];
    EXPECT_EQ(hint->value, "v");
    EXPECT_GT(hint->version, 0);
  }
  EXPECT_EQ(self.hint_store.peek("host-7003", 10).size(), 0u);
  EXPECT_EQ(self.hint_store.peek("host-7004", 10).size(), 0u);

  // A holder that is down: its hint stays with the leader, and it does not count.
  self.node.peers.set_down(holders[0].port, true);
  EXPECT_THROW(
      self.writer->lead(*snapshot, {self.Unversioned(key, "w")}, wire::Consistency::ALL),
      wire::TimedOut);
  EXPECT_EQ(self.hint_store.peek("host-7003", 10).size() + self.hint_store.peek("host-7004", 10).size(),
            1u);
  // QUORUM needs one holder besides the leader: the other one answers.
  self.writer->lead(*snapshot, {self.Unversioned(key, "x")}, wire::Consistency::QUORUM);

  // Not enough holders either: Unavailable, nothing sent.
  self.node.change({InZone(kSelf, ""), InZone(kB, "", MemberState::DEAD),
                    InZone(kC, "", MemberState::DEAD), InZone(kD, "", MemberState::DEAD),
                    InZone(kE, "", MemberState::DEAD)});
  const auto lonely = self.node.cluster.snapshot();
  try {
    self.writer->lead(*lonely, {self.Unversioned(key, "y")}, wire::Consistency::QUORUM);
    FAIL() << "a QUORUM write with no hint holder succeeded";
  } catch (const wire::Unavailable& e) {
    EXPECT_EQ(e.replicas_required, 2);
    EXPECT_EQ(e.replicas_alive, 1);
    EXPECT_NE(e.message.find("hint holders"), std::string::npos) << e.message;
  }
}

}  // namespace
}  // namespace thrifty::diststore
