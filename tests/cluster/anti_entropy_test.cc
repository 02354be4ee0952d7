// Anti-entropy and tombstone GC with real storeservers (--replicas 3) on 127.0.0.1:
// - precision: on 5 nodes, one replica misses exactly one write (the other nodes' failpoints
//   block its Thrift port while the write runs; --strict-quorum keeps no hint, --no-read-repair
//   no repair by reads); one `storectl repair` moves exactly that key, a second moves nothing
//   and, the replicas being identical, exchanges only the roots of their trees (counted in
//   hashes and in bytes: repair_bytes_sent / repair_bytes_received);
// - no zombies: a key deleted while one replica is down keeps its tombstone on the others past
//   --gc-grace-s (that replica has not agreed); when it comes back with the old live value and
//   repair runs, the key stays deleted, and the tombstone is then purged everywhere.
// Every wait is bounded; every process is killed by pid when a test ends.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

using membership::MemberName;
using Level = diststore::wire::Consistency::type;
using Json = nlohmann::json;

constexpr int kReplicas = 3;

std::vector<std::string> Args(const Cluster& cluster, int i, std::vector<std::string> extra) {
  extra.push_back("--replicas=3");
  extra.push_back("--strict-quorum");
  extra.push_back("--no-read-repair");
  extra.push_back("--anti-entropy-interval-s=0");
  extra.push_back("--probe-interval-ms=200");
  extra.push_back("--probe-timeout-ms=100");
  // Gossip on ports of their own: a failpoint that blocks a node's Thrift port then leaves the
  // failure detector alone, so the blocked node stays ALIVE and keeps its place.
  extra.push_back("--gossip-port=" + std::to_string(cluster.first_port() + 20 + i));
  return extra;
}

// Node indexes of the key's replicas, in preference order, by node i's view.
std::vector<int> ReplicasOf(Cluster& cluster, int i, const std::string& key) {
  std::map<std::string, int> index;
  for (int n = 0; n < cluster.size(); ++n) index[MemberName(cluster.location(n))] = n;
  std::vector<int> out;
  for (const auto& l : RingFromView(cluster, i)->preference_list(key, kReplicas)) {
    out.push_back(index.at(MemberName(l)));
  }
  return out;
}

// Replaces the failpoint rules file atomically and waits until every node has read it (they
// look at most every 100 ms: failpoints.h).
void SetRules(const std::string& path, const std::string& text) {
  { std::ofstream(path + ".new") << text; }
  std::filesystem::rename(path + ".new", path);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
}

// storectl repair (on every node in turn, or on `only`), as JSON; fails the test on a failure.
Json Repair(Cluster& cluster, int entry, bool only_entry = false) {
  std::vector<std::string> argv = {BinDir() + "/storectl",
                                   "--peer=" + rpc::ToString(cluster.location(entry)), "--json",
                                   "repair"};
  if (!only_entry) {
    argv = {BinDir() + "/storectl", "--json", "repair"};
    for (const auto& a : cluster.discovery_args()) argv.insert(argv.begin() + 1, a);
  }
  const auto result = RunCommand(argv, "", 120000);
  EXPECT_EQ(result.status, 0) << result.out << result.err;
  try {
    return Json::parse(result.out);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "storectl repair printed no JSON: " << result.out << result.err;
    return Json::object();
  }
}

int64_t Total(const Json& report, const char* field) {
  return report.contains("total") ? report["total"][field].get<int64_t>() : -1;
}

TEST(AntiEntropy, OneRepairMovesExactlyTheKeyAReplicaMissedAndASecondMovesNothing) {
  Cluster cluster;
  const std::string rules = cluster.dir() + "/failpoints";
  { std::ofstream(rules) << "# nothing blocked yet\n"; }
  constexpr int kNodes = 5;
  constexpr int kVictim = 4;
  const int base = cluster.first_port();
  for (int i = 0; i < kNodes; ++i) {
    if (i != kVictim) setenv("THRIFTY_FAILPOINTS", rules.c_str(), 1);
    ASSERT_EQ(cluster.start(Args(cluster, i, {"--memory"}), base + i), i);
    unsetenv("THRIFTY_FAILPOINTS");
  }
  std::vector<int> all;
  for (int i = 0; i < kNodes; ++i) all.push_back(i);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, all, all); }, 20000, 100));

  // Keys in every range, on all their replicas.
  const auto keys = KeyRange(500);
  for (const auto& key : keys) {
    cluster.client_pool().call(cluster.location(0), [&](diststore::wire::StoreClient& c) {
      c.put(key, "v-" + key, diststore::wire::Consistency::ALL);
    });
  }
  // The one the victim will miss: it keeps a copy but does not lead its writes.
  std::string missed;
  for (int i = 0; missed.empty(); ++i) {
    const std::string key = "missed-" + std::to_string(i);
    const auto replicas = ReplicasOf(cluster, 0, key);
    if (replicas[0] != kVictim && (replicas[1] == kVictim || replicas[2] == kVictim)) missed = key;
  }
  // Trees are built and level: a repair now moves nothing.
  const Json before = Repair(cluster, 0);
  EXPECT_EQ(Total(before, "keys_moved"), 0) << before.dump();

  SetRules(rules, "block " + rpc::ToString(cluster.location(kVictim)) + "\n");
  cluster.client_pool().call(cluster.location(0), [&](diststore::wire::StoreClient& c) {
    c.put(missed, "late", diststore::wire::Consistency::QUORUM);
  });
  SetRules(rules, "# unblocked\n");
  EXPECT_TRUE(Held(cluster, kVictim, {missed}).empty()) << "the victim should have missed it";
  EXPECT_EQ(SumOfStat(cluster, all, "hints_stored"), 0);

  const auto start = std::chrono::steady_clock::now();
  const Json first = Repair(cluster, 0);
  const double first_s = Seconds(start);
  EXPECT_EQ(Total(first, "keys_moved"), 1) << first.dump();
  EXPECT_GE(Total(first, "ranges_differing"), 1) << first.dump();
  EXPECT_EQ(Total(first, "peers_skipped"), 0) << first.dump();
  EXPECT_EQ(SumOfStat(cluster, all, "repair_keys_moved"), 1);
  const auto held = Held(cluster, kVictim, {missed});
  ASSERT_EQ(held.count(missed), 1u);
  EXPECT_EQ(held.at(missed).value, "late");
  EXPECT_EQ(held.at(missed).version, Held(cluster, ReplicasOf(cluster, 0, missed)[0], {missed}).at(missed).version);

  const int64_t sent_before = SumOfStat(cluster, all, "repair_bytes_sent");
  const int64_t received_before = SumOfStat(cluster, all, "repair_bytes_received");
  EXPECT_GT(received_before, 0);
  const Json second = Repair(cluster, 0);
  const int64_t sent = SumOfStat(cluster, all, "repair_bytes_sent") - sent_before;
  const int64_t received = SumOfStat(cluster, all, "repair_bytes_received") - received_before;
  EXPECT_EQ(Total(second, "keys_moved"), 0) << second.dump();
  EXPECT_EQ(Total(second, "ranges_differing"), 0) << second.dump();
  // Identical replicas exchange only roots: one hash per range from each of its 2 other
  // replicas, on every node.
  for (const auto& node : second["nodes"]) {
    EXPECT_GT(node["ranges_compared"].get<int64_t>(), 0) << node.dump();
    EXPECT_EQ(node["hashes_exchanged"].get<int64_t>(), 2 * node["ranges_compared"].get<int64_t>())
        << node.dump();
  }
  // Bytes: one repair_roots call to each other node (its asker and ring fingerprint, under
  // 100 bytes), and roots of about 100 bytes each (a range id, a hash, 3 replica addresses).
  const int64_t calls = kNodes * (kNodes - 1);
  EXPECT_GT(sent, 0);
  EXPECT_LE(sent, 100 * calls) << calls << " repair_roots calls";
  EXPECT_GT(received, 0);
  EXPECT_LE(received, 100 * calls + 120 * Total(second, "hashes_exchanged")) << second.dump();
  EXPECT_EQ(SumOfStat(cluster, all, "repair_keys_moved"), 1);
  EXPECT_EQ(SumOfStat(cluster, all, "repair_runs"), 3 * kNodes);
  std::cout << "repair of " << kNodes << " nodes (" << keys.size() + 1
            << " keys, one missing on one replica): " << first_s << " s; ranges compared "
            << Total(first, "ranges_compared") << ", hashes " << Total(first, "hashes_exchanged")
            << " (then " << Total(second, "hashes_exchanged") << " when level: " << sent
            << " bytes sent, " << received << " received)" << std::endl;
}

TEST(AntiEntropy, ADeleteMissedByADownReplicaStaysDeletedAndItsTombstoneIsPurgedAfterRepair) {
  Cluster cluster;
  constexpr int kGraceS = 2;
  std::vector<int> nodes;
  for (int i = 0; i < 3; ++i) {
    auto args = RocksArgs(cluster, "node" + std::to_string(i));
    for (auto& a : Args(cluster, i, {"--gc-grace-s=" + std::to_string(kGraceS)})) args.push_back(a);
    ASSERT_EQ(cluster.start(args, cluster.first_port() + i), i);
    nodes.push_back(i);
  }
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));
  const std::string key = "deleted-key";
  cluster.client_pool().call(cluster.location(0), [&](diststore::wire::StoreClient& c) {
    c.put(key, "old", diststore::wire::Consistency::ALL);
  });
  const int down = 2;
  cluster.kill9(down);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, {0, 1}, {0, 1}); }, 20000, 100));
  cluster.client_pool().call(cluster.location(0), [&](diststore::wire::StoreClient& c) {
    c.erase(key, diststore::wire::Consistency::QUORUM);
  });
  // Past gc-grace, with the replica still down: repairs purge nothing.
  std::this_thread::sleep_for(std::chrono::seconds(kGraceS + 1));
  for (int i : {0, 1}) {
    const Json r = Repair(cluster, i, true);
    EXPECT_EQ(Total(r, "tombstones_purged"), 0) << r.dump();
    const auto held = Held(cluster, i, {key});
    ASSERT_EQ(held.count(key), 1u) << "node " << i << " purged a tombstone a replica lacks";
    EXPECT_TRUE(held.at(key).tombstone);
  }
  EXPECT_EQ(SumOfStat(cluster, {0, 1}, "tombstones_purged"), 0);

  // It comes back with the old live value.
  cluster.restart(down);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));
  const auto stale = Held(cluster, down, {key});
  const bool had_old = stale.count(key) && !stale.at(key).tombstone;
  // Repair rounds until every node purged; the key never reads back meanwhile.
  const auto deleted_everywhere = [&] {
    for (int i : nodes) {
      const auto held = Held(cluster, i, {key});
      if (held.count(key) && !held.at(key).tombstone) return false;
    }
    return true;
  };
  int rounds = 0;
  bool purged_everywhere = false;
  while (rounds < 3 && !purged_everywhere) {
    ++rounds;
    const Json r = Repair(cluster, 0);
    EXPECT_EQ(Total(r, "peers_skipped"), 0) << r.dump();
    EXPECT_TRUE(deleted_everywhere()) << "round " << rounds << ": " << r.dump();
    purged_everywhere = true;
    for (int i : nodes) purged_everywhere = purged_everywhere && Held(cluster, i, {key}).empty();
  }
  EXPECT_TRUE(purged_everywhere) << "after " << rounds << " repair rounds";
  for (int i : nodes) {
    EXPECT_GE(Stats(cluster, i).at("tombstones_purged"), 1) << "node " << i;
    EXPECT_THROW(cluster.client_pool().call(cluster.location(i),
                                            [&](diststore::wire::StoreClient& c) {
                                              std::string value;
                                              c.get(value, key, diststore::wire::Consistency::ALL);
                                            }),
                 diststore::wire::NotFound)
        << "node " << i;
  }
  // And once more: nothing comes back, nothing moves.
  const Json again = Repair(cluster, 0);
  EXPECT_EQ(Total(again, "keys_moved"), 0) << again.dump();
  EXPECT_TRUE(deleted_everywhere());
  std::cout << "the returning replica " << (had_old ? "had" : "no longer had")
            << " the old value; tombstone purged everywhere after " << rounds
            << " repair rounds" << std::endl;
}

// A replica that comes back with a wiped data dir (a new host ID) rebuilds its ranges from the
// other two before it counts toward R. Failpoints: nodes 0 and 2 can be kept from reaching
// node 1 (so one write reaches only 0 and 2), and the returning node 2 can be held in its
// rebuild (hold_rebuild) and kept from reaching node 0.
TEST(AntiEntropy, AWipedReplicaRebuildsItsRangesBeforeItCountsTowardR) {
  Cluster cluster;
  const std::string rules = cluster.dir() + "/failpoints";
  const std::string rules2 = cluster.dir() + "/failpoints-returning";
  { std::ofstream(rules) << "# nothing blocked yet\n"; }
  std::vector<int> nodes;
  for (int i = 0; i < 3; ++i) {
    auto args = RocksArgs(cluster, "node" + std::to_string(i));
    for (auto& a : Args(cluster, i, {})) args.push_back(a);
    if (i != 1) setenv("THRIFTY_FAILPOINTS", rules.c_str(), 1);
    ASSERT_EQ(cluster.start(args, cluster.first_port() + i), i);
    unsetenv("THRIFTY_FAILPOINTS");
    nodes.push_back(i);
  }
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));
  ASSERT_TRUE(WaitFor([&] { return SumOfStat(cluster, nodes, "rebuilding") == 0; }, 20000, 100));
  auto put = [&](int via, const std::string& key, const std::string& value, Level level) {
    cluster.client_pool().call(cluster.location(via), [&](diststore::wire::StoreClient& c) {
      c.put(key, value, level);
    });
  };
  auto get = [&](int via, const std::string& key, Level level) {
    std::string value;
    cluster.client_pool().call(cluster.location(via), [&](diststore::wire::StoreClient& c) {
      c.get(value, key, level);
    });
    return value;
  };
  const auto keys = KeyRange(300);
  for (const auto& key : keys) put(0, key, "v-" + key, diststore::wire::Consistency::QUORUM);
  const std::string hot = "hot-key";
  put(0, hot, "v1", diststore::wire::Consistency::ALL);
  // v2 reaches nodes 0 and 2 only (--strict-quorum: no hint for node 1).
  SetRules(rules, "block " + rpc::ToString(cluster.location(1)) + "\n");
  put(0, hot, "v2", diststore::wire::Consistency::QUORUM);
  SetRules(rules, "# unblocked\n");
  ASSERT_EQ(Held(cluster, 1, {hot}).at(hot).value, "v1");
  ASSERT_EQ(Held(cluster, 2, {hot}).at(hot).value, "v2");

  // Node 2 goes, its data dir is wiped; keys written meanwhile are on 0 and 1 only.
  cluster.kill9(2);
  std::filesystem::remove_all(cluster.dir() + "/node2");
  const auto later = KeyRange(100, [](int i) { return "later-" + std::to_string(i); });
  for (const auto& key : later) put(0, key, "v-" + key, diststore::wire::Consistency::QUORUM);
  { std::ofstream(rules2) << "hold_rebuild\n"; }
  setenv("THRIFTY_FAILPOINTS", rules2.c_str(), 1);
  cluster.restart(2);
  unsetenv("THRIFTY_FAILPOINTS");
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, nodes, nodes); }, 20000, 100));
  EXPECT_EQ(Stats(cluster, 2).at("rebuilding"), 1);

  // Rebuilding: a replica read of node 2 is refused ...
  try {
    Held(cluster, 2, {hot});
    ADD_FAILURE() << "a rebuilding node answered a replica read";
  } catch (const diststore::wire::StoreError& e) {
    EXPECT_NE(e.message.find("rebuilding"), std::string::npos) << e.message;
  }
  // ... and its own share does not count: with node 0 out of its reach, a QUORUM read through
  // it has node 1 (v1) alone, which is no quorum (counting itself it would answer v1).
  SetRules(rules2, "hold_rebuild\nblock " + rpc::ToString(cluster.location(0)) + "\n");
  try {
    const std::string value = get(2, hot, diststore::wire::Consistency::QUORUM);
    ADD_FAILURE() << "a QUORUM read counted the rebuilding node and answered " << value;
  } catch (const diststore::wire::StoreError&) {
  } catch (const diststore::wire::Unavailable&) {
  }
  SetRules(rules2, "hold_rebuild\n");
  // With node 0 reachable: nodes 0 and 1 make the quorum, the newest wins.
  std::string through2, through1;
  EXPECT_TRUE(WaitFor([&] {
    try {
      through2 = get(2, hot, diststore::wire::Consistency::QUORUM);
      through1 = get(1, hot, diststore::wire::Consistency::QUORUM);
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }, 10000, 200));
  EXPECT_EQ(through2, "v2");
  EXPECT_EQ(through1, "v2");
  EXPECT_EQ(Stats(cluster, 2).at("rebuilding"), 1);
  EXPECT_EQ(Stats(cluster, 2).at("rebuilds"), 0);

  // Released: the rebuild finishes.
  const auto start = std::chrono::steady_clock::now();
  SetRules(rules2, "# released\n");
  ASSERT_TRUE(WaitFor([&] { return Stats(cluster, 2).at("rebuilding") == 0; }, 30000, 100))
      << cluster.log(2);
  const double rebuild_s = Seconds(start);
  const auto stats = Stats(cluster, 2);
  EXPECT_EQ(stats.at("rebuilds"), 1);
  // Whatever way they came (the rebuild's pulls, or a handoff and hint replays from the others
  // that reached the returning node first): every key of its ranges, and they came.
  EXPECT_GE(stats.at("rebuild_keys") + stats.at("handoff_records_in"),
            static_cast<int64_t>(keys.size() + later.size() + 1))
      << cluster.log(2);

  // Node 2 alone has everything, at ONE.
  cluster.kill9(0);
  cluster.kill9(1);
  int right = 0;
  std::string wrong;
  auto check = [&](const std::string& key, const std::string& want) {
    try {
      const std::string value = get(2, key, diststore::wire::Consistency::ONE);
      if (value == want) {
        ++right;
      } else if (wrong.empty()) {
        wrong = key + " = " + value;
      }
    } catch (const std::exception& e) {
      if (wrong.empty()) wrong = key + ": " + e.what();
    }
  };
  for (const auto& key : keys) check(key, "v-" + key);
  for (const auto& key : later) check(key, "v-" + key);
  check(hot, "v2");
  EXPECT_EQ(right, static_cast<int>(keys.size() + later.size() + 1)) << "first wrong: " << wrong;
  std::cout << "rebuild of a wiped replica (" << stats.at("rebuild_keys")
            << " records taken) finished " << rebuild_s << " s after its hold was released"
            << std::endl;
}

}  // namespace
}  // namespace thrifty::testing
