// Replication over the service-layer fakes: consistency levels, replica sets with DEAD and
// draining members, the leader's quorum writes (Unavailable before sending, TimedOut with
// fewer acknowledgements than W), quorum reads that take the newest and repair the stale.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/service/replica_set.h"
#include "diststore/service/replication.h"
#include "tests/service/service_fakes.h"

namespace thrifty::diststore {
namespace {

using namespace testing;  // the fakes

constexpr int kD = 7004;

TEST(Replication, RequiredRepliesPerLevel) {
  EXPECT_EQ(RequiredReplies(wire::Consistency::ONE, 3), 1u);
  EXPECT_EQ(RequiredReplies(wire::Consistency::QUORUM, 3), 2u);
  EXPECT_EQ(RequiredReplies(wire::Consistency::ALL, 3), 3u);
  EXPECT_EQ(RequiredReplies(wire::Consistency::QUORUM, 1), 1u);
  EXPECT_EQ(RequiredReplies(wire::Consistency::QUORUM, 4), 3u);
  EXPECT_EQ(RequiredReplies(wire::Consistency::QUORUM, 5), 3u);
  EXPECT_EQ(Resolve(wire::Consistency::DEFAULT, wire::Consistency::ALL), wire::Consistency::ALL);
  // What a request sends is an i32: a value that is no level is refused, not guessed.
  EXPECT_EQ(LevelFromWire(0), wire::Consistency::DEFAULT);
  EXPECT_EQ(LevelFromWire(3), wire::Consistency::ALL);
  for (int32_t bad : {-1, 4, 42}) {
    try {
      LevelFromWire(bad);
      ADD_FAILURE() << bad << " was taken as a level";
    } catch (const wire::StoreError& e) {
      EXPECT_NE(e.message.find("unknown consistency level " + std::to_string(bad)),
                std::string::npos)
          << e.message;
    }
  }
  EXPECT_EQ(Resolve(wire::Consistency::ONE, wire::Consistency::ALL), wire::Consistency::ONE);
  EXPECT_EQ(ParseConsistency("QUORUM"), wire::Consistency::QUORUM);
  EXPECT_THROW(ParseConsistency("two"), std::invalid_argument);
  ReplicationOptions options;
  options.replicas = 0;
  EXPECT_NE(options.validate().find("--replicas"), std::string::npos);
}

TEST(Replication, AJoinWithAnotherFactorIsRefused) {
  locator::wire::Member member = MemberAt(kB);
  member.metadata[kReplicasKey] = "3";
  locator::wire::JoinInfo joiner;
  joiner.metadata[kReplicasKey] = "2";
  const std::string why = ReplicationMismatch(MemberAt(kC).location, joiner, {member});
  EXPECT_NE(why.find("--replicas"), std::string::npos) << why;
  EXPECT_NE(why.find("127.0.0.1:7002"), std::string::npos) << why;
  joiner.metadata[kReplicasKey] = "3";
  EXPECT_EQ(ReplicationMismatch(MemberAt(kC).location, joiner, {member}), "");
}

TEST(ReplicaPlacement, DeadReplicasStayInTheSetAndDrainingLeavesSelfOut) {
  FakeCluster cluster(kSelf);
  cluster.set({MemberAt(kSelf), MemberAt(kB), MemberAt(kC, MemberState::DEAD), MemberAt(kD)});
  const auto snapshot = cluster.snapshot();
  const ReplicaPlacement placement(*snapshot, 3, false);
  EXPECT_EQ(placement.effective_n(), 3u);
  size_t with_dead = 0;
  for (int i = 0; i < 200; ++i) {
    const ReplicaSet set = placement.of("k" + std::to_string(i));
    ASSERT_EQ(set.size(), 3u);
    // The order is the ring's preference list, DEAD included.
    const auto list = snapshot->ring_with_dead()->preference_list("k" + std::to_string(i), 3);
    for (size_t r = 0; r < 3; ++r) EXPECT_EQ(set.names[r], MemberName(list[r]));
    if (set.contains("127.0.0.1:7003")) {
      ++with_dead;
      EXPECT_EQ(set.alive_count(), 2u);
      EXPECT_NE(set.names[static_cast<size_t>(set.leader())], "127.0.0.1:7003");
    }
  }
  EXPECT_GT(with_dead, 100u);  // 3 of 4 nodes: most keys have the DEAD one

  const ReplicaPlacement draining(*snapshot, 3, true);
  EXPECT_EQ(draining.effective_n(), 3u);
  for (int i = 0; i < 100; ++i) {
    const ReplicaSet set = draining.of("k" + std::to_string(i));
    EXPECT_EQ(set.size(), 3u);
    EXPECT_FALSE(set.contains(MemberName(cluster.self())));
  }
  // Fewer nodes than N: N is capped.
  FakeCluster two(kSelf);
  two.set({MemberAt(kSelf), MemberAt(kB)});
  EXPECT_EQ(ReplicaPlacement(*two.snapshot(), 3, false).effective_n(), 2u);
}

// A key whose first replica (its leader) is this node, on a 3-node ring with N = 3.
std::string KeyLedBy(const ClusterSnapshot& snapshot, int port) {
  for (int i = 0; i < 100000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    if (snapshot.ring()->owner(key).port == port) return key;
  }
  return {};
}

struct Replicated : ::testing::Test {
  Replicated() : node(false, 3) {
    node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
    node.advance(60000);  // no keys moving
  }
  Node node;
};

TEST_F(Replicated, AWriteLedHereReachesEveryLiveReplica) {
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kSelf);
  node.router->put(key, "v1", wire::Consistency::ALL);
  EXPECT_EQ(node.peers.held(kB, key), "v1");
  EXPECT_EQ(node.peers.held(kC, key), "v1");
  EXPECT_EQ(node.engine->get(key)->value, "v1");
  // One stamp for all three copies.
  EXPECT_EQ(node.engine->get(key)->version, node.peers.record(kB, key)->version);
  EXPECT_EQ(node.router->get(key, wire::Consistency::ALL), "v1");
}

TEST_F(Replicated, AWriteLedElsewhereGoesToItsLeaderUnstamped) {
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kB);
  node.router->put(key, "v1");
  // The fake leader stamps and stores it; the real one would send it on.
  EXPECT_EQ(node.peers.held(kB, key), "v1");
  EXPECT_EQ(node.peers.calls(kC), 0);
  EXPECT_EQ(node.counters.forwarded.load(), 1);
}

TEST_F(Replicated, QuorumSurvivesOneUnreachableReplicaAndAllDoesNot) {
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kSelf);
  node.peers.set_down(kC, true);
  EXPECT_NO_THROW(node.router->put(key, "q", wire::Consistency::QUORUM));
  EXPECT_EQ(node.peers.held(kB, key), "q");
  EXPECT_EQ(node.router->get(key, wire::Consistency::QUORUM), "q");
  try {
    node.router->put(key, "a", wire::Consistency::ALL);
    FAIL() << "ALL with a replica unreachable must not succeed";
  } catch (const wire::TimedOut& e) {
    // This node stored it (B too, maybe before the answer): it may be read later, so it is
    // not "failed". The write answers as soon as ALL became impossible.
    EXPECT_GE(e.replicas_acknowledged, 1);
    EXPECT_LE(e.replicas_acknowledged, 2);
    EXPECT_EQ(e.replicas_required, 3);
  }
  EXPECT_THROW(node.router->get(key, wire::Consistency::ALL), wire::StoreError);
  EXPECT_GE(node.counters.timed_out.load(), 1);
}

TEST_F(Replicated, TooFewLiveReplicasIsUnavailableAndSendsNothing) {
  node.change({MemberAt(kSelf), MemberAt(kB, MemberState::DEAD), MemberAt(kC, MemberState::DEAD)});
  const std::string key = "any-key";
  const int calls_before = node.peers.calls(kB) + node.peers.calls(kC);
  try {
    node.router->put(key, "v", wire::Consistency::QUORUM);
    FAIL() << "a quorum of 3 with 1 alive must be unavailable";
  } catch (const wire::Unavailable& e) {
    EXPECT_EQ(e.replicas_required, 2);
    EXPECT_EQ(e.replicas_alive, 1);
    EXPECT_NE(e.message.find("nothing was done"), std::string::npos) << e.message;
  }
  EXPECT_THROW(node.router->get(key, wire::Consistency::QUORUM), wire::Unavailable);
  EXPECT_FALSE(node.engine->get(key).has_value());
  EXPECT_EQ(node.peers.calls(kB) + node.peers.calls(kC), calls_before);
  // ONE still works with the one replica alive.
  node.router->put(key, "one", wire::Consistency::ONE);
  EXPECT_EQ(node.router->get(key, wire::Consistency::ONE), "one");
  EXPECT_GE(node.counters.unavailable.load(), 2);
}

TEST_F(Replicated, AQuorumReadTakesTheNewestAndRepairsTheStale) {
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kSelf);
  node.peers.store(kB, key, "old", 100);
  node.peers.store(kC, key, "new", 200);
  EXPECT_EQ(node.router->get(key, wire::Consistency::ALL), "new");
  // Repaired before the read answered: this node and B now hold the newest.
  EXPECT_EQ(node.peers.held(kB, key), "new");
  ASSERT_TRUE(node.engine->get(key).has_value());
  EXPECT_EQ(node.engine->get(key)->value, "new");
  EXPECT_GE(node.counters.read_repairs.load(), 2);
}

TEST_F(Replicated, AValueOnOneReplicaOnlyIsNeverReadThenUnread) {
  // Monotonic reads: once a quorum read returned it, every later quorum read does.
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kSelf);
  node.peers.store(kC, key, "lonely", 500);
  node.peers.set_down(kB, true);
  EXPECT_EQ(node.router->get(key, wire::Consistency::QUORUM), "lonely");  // self + C
  node.peers.set_down(kB, false);
  node.peers.set_down(kC, true);
  EXPECT_EQ(node.router->get(key, wire::Consistency::QUORUM), "lonely");  // self + B
}

TEST_F(Replicated, ARebuildingNodeDoesNotCountTowardRButTakesWrites) {
  // This node came back with a new host ID and holds nothing yet; B has an old copy, C the
  // newest. Were its "nothing" an answer, QUORUM could be self + B: the old value.
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kSelf);
  node.peers.store(kB, key, "old", 100);
  node.peers.store(kC, key, "new", 200);
  node.owner->set_rebuilding(true);
  node.peers.set_down(kC, true);
  try {
    node.router->get(key, wire::Consistency::QUORUM);
    FAIL() << "a quorum read must not count a rebuilding node";
  } catch (const wire::StoreError& e) {
    EXPECT_NE(e.message.find("1 of 2 replicas answered"), std::string::npos) << e.message;
  }
  node.peers.set_down(kC, false);
  EXPECT_EQ(node.router->get(key, wire::Consistency::QUORUM), "new");  // B + C
  // As a peer: a replica read is refused, an anti-entropy pull (fallback=true) served.
  EXPECT_THROW(node.owner->owner_get({key}, false), wire::StoreError);
  EXPECT_NO_THROW(node.owner->owner_get({key}, true));
  // Writes go through.
  node.router->put(key, "newest", wire::Consistency::ALL);
  EXPECT_EQ(node.engine->get(key)->value, "newest");
  node.owner->set_rebuilding(false);
  EXPECT_EQ(node.owner->owner_get({key}, false).at(0).value, "newest");
}

TEST_F(Replicated, AReplicaThatRefusesAsRebuildingCountsLikeOneThatDidNotAnswer) {
  const std::string key = KeyLedBy(*node.cluster.snapshot(), kSelf);
  node.peers.store(kB, key, "old", 100);
  node.peers.store(kC, key, "new", 200);
  node.peers.set_refusing(kC, "127.0.0.1:C is rebuilding its replicas");
  // Self (nothing) + B (old) make a quorum without C: the newest there is B's.
  EXPECT_EQ(node.router->get(key, wire::Consistency::QUORUM), "old");
  node.peers.set_down(kB, true);
  EXPECT_THROW(node.router->get(key, wire::Consistency::QUORUM), wire::StoreError)
      << "self alone is no quorum";
  EXPECT_EQ(node.cluster.failures().count("127.0.0.1:" + std::to_string(kC)), 0u)
      << "a refusal is no failure of the node";
}

TEST_F(Replicated, MultiPutAndMultiGetSpanLeaders) {
  std::vector<wire::Entry> entries;
  std::vector<std::string> keys;
  for (int i = 0; i < 30; ++i) {
    wire::Entry e;
    e.key = "m" + std::to_string(i);
    e.value = "v" + std::to_string(i);
    keys.push_back(e.key);
    entries.push_back(e);
  }
  node.router->multi_put(entries, wire::Consistency::QUORUM);
  // Every key is on this node (N = 3 of 3 nodes): the ones it leads it stamped itself; the
  // others reached their leader (the fake peers keep them).
  const auto got = node.router->multi_get(keys, wire::Consistency::ALL);
  EXPECT_EQ(got.size(), keys.size());
  for (const auto& e : entries) {
    auto it = got.find(e.key);
    ASSERT_NE(it, got.end()) << e.key;
    EXPECT_EQ(it->second, e.value);
  }
}

}  // namespace
}  // namespace thrifty::diststore
