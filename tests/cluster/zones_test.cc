// Zones and the sloppy quorum with real storeservers on 127.0.0.1 (--replicas 3): six nodes in
// three zones keep every key on three zones and stay available at QUORUM, losing nothing,
// with a whole zone down; and a write whose live replicas cannot make W is Unavailable unless
// --hints-count-for-w lets hints on live non-replicas count, in which case it succeeds and
// the hints reach the replicas when they are back. Every process is killed by pid.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/service/replica_set.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/service/cluster_snapshot.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

using membership::MemberName;
using Level = diststore::wire::Consistency::type;
using diststore::wire::Consistency;

constexpr int kReplicas = 3;
const std::vector<std::string> kFastDetection = {"--probe-interval-ms=200",
                                                 "--probe-timeout-ms=100"};

// Starts a RocksDB node with three replicas, fast failure detection and `extra`.
int StartNode(Cluster& cluster, std::vector<std::string> extra) {
  auto args = RocksArgs(cluster, "node" + std::to_string(cluster.size()));
  args.push_back("--replicas=" + std::to_string(kReplicas));
  args.insert(args.end(), kFastDetection.begin(), kFastDetection.end());
  args.insert(args.end(), extra.begin(), extra.end());
  return cluster.start(args);
}

locator::wire::View ViewOf(Cluster& cluster, int i) {
  locator::wire::View view;
  cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.get_view(view); });
  return view;
}

// Node indexes of the key's replicas by node i's view, as the nodes place them.
std::vector<int> ReplicasOf(Cluster& cluster, int i, const std::string& key) {
  const locator::wire::View view = ViewOf(cluster, i);
  const auto snapshot =
      locator::ClusterSnapshot::Build(0, view.members, "", view.placement, nullptr);
  const diststore::ReplicaPlacement placement(*snapshot, kReplicas, false);
  std::vector<int> out;
  for (const std::string& name : placement.of(key).names) {
    for (int n = 0; n < cluster.size(); ++n) {
      if (MemberName(cluster.location(n)) == name) out.push_back(n);
    }
  }
  return out;
}

// True once every node in `asked` holds every node in `dead` DEAD.
bool AllSeeDead(Cluster& cluster, const std::vector<int>& asked, const std::vector<int>& dead) {
  for (int i : asked) {
    try {
      const locator::wire::View view = ViewOf(cluster, i);
      for (int d : dead) {
        bool is_dead = false;
        for (const auto& m : view.members) {
          is_dead = is_dead || (MemberName(m.location) == MemberName(cluster.location(d)) &&
                                m.state == locator::wire::MemberState::DEAD);
        }
        if (!is_dead) return false;
      }
    } catch (const std::exception&) {
      return false;
    }
  }
  return true;
}

TEST(Zones, ReplicasSpanThreeZonesAndAQuorumSurvivesALostZone) {
  Cluster cluster;
  const std::vector<std::string> zones = {"zone-a", "zone-a", "zone-b", "zone-b", "zone-c", "zone-c"};
  std::vector<int> nodes;
  for (const std::string& zone : zones) {
    const int node = StartNode(cluster, {"--zone=" + zone});
    ASSERT_GE(node, 0);
    nodes.push_back(node);
  }
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));

  // Every key lands on three nodes, one in each zone (read from the nodes' own engines).
  const std::vector<std::string> keys = KeyRange(300);
  for (size_t k = 0; k < keys.size(); ++k) {
    PutAtLevel(cluster, nodes[k % nodes.size()], keys[k], "v1-" + keys[k], Consistency::ALL);
  }
  std::map<std::string, std::set<std::string>> zones_of_key;
  std::map<std::string, int> copies;
  for (int n : nodes) {
    for (const auto& [key, record] : Held(cluster, n, keys)) {
      if (record.tombstone || record.value != "v1-" + key) continue;
      ++copies[key];
      zones_of_key[key].insert(zones[static_cast<size_t>(n)]);
    }
  }
  for (const std::string& key : keys) {
    EXPECT_EQ(copies[key], kReplicas) << key;
    EXPECT_EQ(zones_of_key[key].size(), 3u) << key << " is not on three zones";
  }
  // storectl's effective ownership places replicas as the nodes do: it sums to N.
  const auto status = RunCommand({BinDir() + "/storectl", "status", "--json", "--peer",
                                  rpc::ToString(cluster.location(nodes[0]))});
  ASSERT_EQ(status.status, 0) << status.err;
  EXPECT_NE(status.out.find("zone-b"), std::string::npos) << status.out;

  // Zone "zone-a" goes down whole (kill -9 of both its nodes).
  cluster.kill9(nodes[0]);
  cluster.kill9(nodes[1]);
  const std::vector<int> survivors = {nodes[2], nodes[3], nodes[4], nodes[5]};
  ASSERT_TRUE(WaitFor([&] { return AllSeeDead(cluster, survivors, {nodes[0], nodes[1]}); }, 20000,
                      100))
      << "the survivors did not declare zone-a's nodes DEAD";
  // Every key still has two live replicas: QUORUM reads see the acknowledged value, QUORUM
  // writes succeed, and what they wrote is read back.
  std::vector<std::string> failures;
  for (size_t k = 0; k < keys.size(); ++k) {
    const int via = survivors[k % survivors.size()];
    try {
      const std::string before = GetAtLevel(cluster, via, keys[k], Consistency::QUORUM);
      if (before != "v1-" + keys[k]) failures.push_back(keys[k] + " read '" + before + "'");
      PutAtLevel(cluster, via, keys[k], "v2-" + keys[k], Consistency::QUORUM);
      const std::string after =
          GetAtLevel(cluster, survivors[(k + 1) % survivors.size()], keys[k], Consistency::QUORUM);
      if (after != "v2-" + keys[k]) failures.push_back(keys[k] + " read '" + after + "' after v2");
    } catch (const std::exception& e) {
      failures.push_back(keys[k] + ": " + e.what());
    }
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures, the first: " << failures.front();
}

// A key of which node `coordinator` is no replica (it stays up and forwards to the leader).
std::string KeyAwayFrom(Cluster& cluster, int coordinator) {
  for (int i = 0; i < 10000; ++i) {
    const std::string key = "sloppy-" + std::to_string(i);
    const auto replicas = ReplicasOf(cluster, coordinator, key);
    if (std::find(replicas.begin(), replicas.end(), coordinator) == replicas.end()) return key;
  }
  return "";
}

// Five nodes, two of a key's three replicas killed: W = 2 or 3 cannot be met by live replicas,
// but two live non-replicas can hold hints.
void SloppyQuorumRun(bool hints_count_for_w) {
  Cluster cluster;
  std::vector<int> nodes;
  for (int i = 0; i < 5; ++i) {
    const int node = StartNode(cluster, hints_count_for_w ? std::vector<std::string>{"--hints-count-for-w"}
                                                          : std::vector<std::string>{});
    ASSERT_GE(node, 0);
    nodes.push_back(node);
  }
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));
  const int coordinator = nodes[0];
  const std::string key = KeyAwayFrom(cluster, coordinator);
  ASSERT_FALSE(key.empty());
  const auto replicas = ReplicasOf(cluster, coordinator, key);
  ASSERT_EQ(replicas.size(), 3u);
  PutAtLevel(cluster, coordinator, key, "before", Consistency::ALL);

  const std::vector<int> down = {replicas[1], replicas[2]};
  for (int d : down) cluster.kill9(d);
  std::vector<int> survivors;
  for (int n : nodes) {
    if (std::find(down.begin(), down.end(), n) == down.end()) survivors.push_back(n);
  }
  ASSERT_TRUE(WaitFor([&] { return AllSeeDead(cluster, survivors, down); }, 20000, 100));

  if (!hints_count_for_w) {
    for (Level level : {Consistency::QUORUM, Consistency::ALL}) {
      try {
        PutAtLevel(cluster, coordinator, key, "during", level);
        ADD_FAILURE() << "a write at level " << level << " with one live replica succeeded";
      } catch (const diststore::wire::Unavailable& e) {
        EXPECT_EQ(e.replicas_required, level == Consistency::QUORUM ? 2 : 3);
        EXPECT_EQ(e.replicas_alive, 1);
      }
    }
    EXPECT_EQ(GetAtLevel(cluster, coordinator, key, Consistency::ONE), "before");
    return;
  }

  // With the flag both levels succeed: the live replica and two hint holders acknowledged.
  ASSERT_NO_THROW(PutAtLevel(cluster, coordinator, key, "quorum", Consistency::QUORUM));
  ASSERT_NO_THROW(PutAtLevel(cluster, coordinator, key, "all", Consistency::ALL));
  // The replicas come back on their data: the holders replay the hints to them.
  const int64_t replayed_before = SumOfStat(cluster, survivors, "hints_replayed");
  for (int d : down) cluster.restart(d);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));
  for (int d : down) {
    EXPECT_TRUE(WaitFor(
        [&] {
          const auto held = Held(cluster, d, {key});
          const auto it = held.find(key);
          return it != held.end() && it->second.value == "all";
        },
        30000, 100))
        << "replica " << MemberName(cluster.location(d)) << " never got the hinted write";
  }
  // Counted by the holders once the replica acknowledged the batch: a moment after it stored it.
  EXPECT_TRUE(WaitFor(
      [&] { return SumOfStat(cluster, survivors, "hints_replayed") > replayed_before; }, 10000))
      << "the value came back without a hint being replayed";
}

TEST(SloppyQuorum, WithoutTheFlagAWriteShortOfLiveReplicasIsUnavailable) { SloppyQuorumRun(false); }

TEST(SloppyQuorum, WithTheFlagHintHoldersCountAndTheHintsReachTheReplicas) {
  SloppyQuorumRun(true);
}

}  // namespace
}  // namespace thrifty::testing
