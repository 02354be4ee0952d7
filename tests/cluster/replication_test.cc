// Replication with real storeservers (--replicas 3) on 127.0.0.1: which consistency levels
// succeed as replicas die (Unavailable at once, not after a timeout), a kill -9 under a steady
// QUORUM writer and reader (no failed request, no stale read, nothing lost), a join and a
// clean leave (every key on its 3 replicas after each), and a node with another factor
// refused at join. Every process is killed by pid when a test ends.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "locator/membership/member_table.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

using membership::MemberName;
using Level = diststore::wire::Consistency::type;

constexpr int kReplicas = 3;
const std::vector<std::string> kFastDetection = {"--probe-interval-ms=200",
                                                 "--probe-timeout-ms=100"};

// The arguments of a replicated node here: three replicas, fast failure detection (unless
// `detection` says otherwise).
std::vector<std::string> ReplicatedArgs(std::vector<std::string> extra = {},
                                        const std::vector<std::string>& detection = kFastDetection) {
  extra.push_back("--replicas=" + std::to_string(kReplicas));
  extra.insert(extra.end(), detection.begin(), detection.end());
  return extra;
}

// Starts n replicated nodes and waits (bounded) until none is still rebuilding: a node that
// joined takes its ranges first and refuses replica reads meanwhile, so an ALL read right after
// the start could find one replica short.
std::vector<int> StartReplicated(Cluster& cluster, int n, std::vector<std::string> extra = {},
                                 const std::vector<std::string>& detection = kFastDetection) {
  auto live = StartNodes(cluster, n, ReplicatedArgs(std::move(extra), detection), 15000);
  const bool rebuilt = WaitFor(
      [&] {
        for (int i : live) {
          if (Stats(cluster, i).at("rebuilding") != 0) return false;
        }
        return true;
      },
      30000, 100);
  EXPECT_TRUE(rebuilt) << "a node did not finish taking its ranges";
  return live;
}

// Writes key -> "v-" + key for every key through node `via`, in batches, at `level`.
void PutAll(Cluster& cluster, int via, const std::vector<std::string>& keys, size_t batch_size,
            Level level) {
  for (size_t from = 0; from < keys.size(); from += batch_size) {
    std::vector<diststore::wire::Entry> batch;
    for (size_t i = from; i < std::min(keys.size(), from + batch_size); ++i) {
      diststore::wire::Entry e;
      e.key = keys[i];
      e.value = "v-" + keys[i];
      batch.push_back(std::move(e));
    }
    cluster.client_pool().call(cluster.location(via),
                               [&](diststore::wire::StoreClient& c) { c.multi_put(batch, level); });
  }
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

const char* Name(Level level) {
  return level == diststore::wire::Consistency::ONE ? "ONE" : level == diststore::wire::Consistency::QUORUM ? "QUORUM" : "ALL";
}

TEST(Replication, EachLevelSucceedsExactlyWhileEnoughReplicasLive) {
  Cluster cluster;
  const auto live = StartReplicated(cluster, 5);
  ASSERT_EQ(live.size(), 5u);
  const std::string key = "matrix-key";
  const auto replicas = ReplicasOf(cluster, 0, key);
  ASSERT_EQ(replicas.size(), 3u);
  int coordinator = -1;  // a node that is not a replica: it stays up throughout
  for (int n : live) {
    if (std::find(replicas.begin(), replicas.end(), n) == replicas.end()) coordinator = n;
  }
  ASSERT_GE(coordinator, 0);
  PutAtLevel(cluster, coordinator, key, "v0", diststore::wire::Consistency::ALL);

  int version = 0;
  std::string last = "v0";
  std::vector<int> survivors = live;
  for (int killed = 0; killed <= 3; ++killed) {
    if (killed > 0) {
      const int victim = replicas[static_cast<size_t>(killed - 1)];
      cluster.kill9(victim);
      survivors.erase(std::find(survivors.begin(), survivors.end(), victim));
      // The write's leader (a surviving replica) decides with its own view: wait for all.
      ASSERT_TRUE(WaitFor(
          [&] {
            for (int n : survivors) {
              if (StatesSeenBy(cluster, n)[victim] != locator::wire::MemberState::DEAD) return false;
            }
            return true;
          },
          20000, 100))
          << "the survivors did not all declare " << MemberName(cluster.location(victim)) << " DEAD";
    }
    const int alive = 3 - killed;
    for (Level level : {diststore::wire::Consistency::ONE, diststore::wire::Consistency::QUORUM, diststore::wire::Consistency::ALL}) {
      const int required = level == diststore::wire::Consistency::ONE ? 1 : level == diststore::wire::Consistency::QUORUM ? 2 : 3;
      const std::string value = "v" + std::to_string(++version);
      SCOPED_TRACE(std::string(Name(level)) + " with " + std::to_string(alive) + " replicas alive");
      const auto start = std::chrono::steady_clock::now();
      if (alive >= required) {
        ASSERT_NO_THROW(PutAtLevel(cluster, coordinator, key, value, level));
        last = value;
        if (level == diststore::wire::Consistency::ONE) {
          // R + W <= N: a read may miss it for a moment, never for long.
          EXPECT_TRUE(WaitFor([&] { return GetAtLevel(cluster, coordinator, key, level) == last; }, 5000));
        } else {
          // R + W > N: a read at the same level sees it at once.
          EXPECT_EQ(GetAtLevel(cluster, coordinator, key, level), last);
        }
      } else {
        try {
          PutAtLevel(cluster, coordinator, key, value, level);
          FAIL() << "the write must be refused";
        } catch (const diststore::wire::Unavailable& e) {
          EXPECT_EQ(e.replicas_required, required);
          EXPECT_EQ(e.replicas_alive, alive);
        }
        const double put_s = Seconds(start);
        EXPECT_THROW(GetAtLevel(cluster, coordinator, key, level), diststore::wire::Unavailable);
        // Refused from the view at once, not after a call timed out.
        EXPECT_LT(put_s, 1.0) << "Unavailable took " << put_s << " s";
      }
    }
  }
}

TEST(Replication, KillNineUnderQuorumLoadFailsNothingAndLosesNothing) {
  Cluster cluster;
  const auto live = StartReplicated(cluster, 4);
  ASSERT_EQ(live.size(), 4u);
  const int coordinator = live[0], victim = live[2];

  // One writer of fresh keys and one reader of acknowledged ones, both at QUORUM through the
  // coordinator (which never dies), before, during and after the kill and the restart.
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<std::string> acked;
  std::vector<std::string> failures;
  std::atomic<int> reads{0};
  std::thread writer([&] {
    for (int i = 0; !stop; ++i) {
      const std::string key = "load-" + std::to_string(i);
      try {
        PutAtLevel(cluster, coordinator, key, "value-" + key, diststore::wire::Consistency::QUORUM);
        std::lock_guard<std::mutex> lock(mu);
        acked.push_back(key);
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back("put " + key + ": " + e.what());
      }
    }
  });
  std::thread reader([&] {
    for (size_t n = 0; !stop; ++n) {
      std::string key;
      {
        std::lock_guard<std::mutex> lock(mu);
        if (acked.empty()) continue;
        key = acked[(n * 7919) % acked.size()];
      }
      try {
        const std::string value = GetAtLevel(cluster, coordinator, key, diststore::wire::Consistency::QUORUM);
        if (value != "value-" + key) {
          std::lock_guard<std::mutex> lock(mu);
          failures.push_back("get " + key + " read '" + value + "'");
        }
      } catch (const std::exception& e) {
        std::lock_guard<std::mutex> lock(mu);
        failures.push_back("get " + key + ": " + e.what());
      }
      ++reads;
    }
  });
  auto acked_count = [&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size();
  };
  ASSERT_TRUE(WaitFor([&] { return acked_count() >= 300; }, 30000));
  cluster.kill9(victim);
  const size_t at_kill = acked_count();
  // Until the others declared it DEAD and some more, then back on its data.
  EXPECT_TRUE(WaitFor([&] { return RingsAre(cluster, {coordinator}, {live[0], live[1], live[3]}); },
                      20000, 100));
  EXPECT_TRUE(WaitFor([&] { return acked_count() >= at_kill + 300; }, 30000));
  cluster.restart(victim);
  EXPECT_TRUE(WaitFor([&] { return RingsAre(cluster, live, live); }, 20000, 100));
  const size_t at_restart = acked_count();
  EXPECT_TRUE(WaitFor([&] { return acked_count() >= at_restart + 300; }, 30000));
  stop = true;
  writer.join();
  reader.join();

  std::lock_guard<std::mutex> lock(mu);
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed requests, the first: "
                                << failures.front();
  EXPECT_GT(reads.load(), 100);
  // Every acknowledged write, read back at QUORUM through each node.
  for (int via : live) {
    size_t missing = 0;
    std::string example;
    for (size_t from = 0; from < acked.size(); from += 1000) {
      std::vector<std::string> part(acked.begin() + static_cast<long>(from),
                                    acked.begin() + static_cast<long>(std::min(acked.size(), from + 1000)));
      std::map<std::string, std::string> got;
      cluster.client_pool().call(cluster.location(via), [&](diststore::wire::StoreClient& c) {
        c.multi_get(got, part, diststore::wire::Consistency::QUORUM);
      });
      for (const auto& key : part) {
        auto it = got.find(key);
        if (it == got.end() || it->second != "value-" + key) {
          if (missing++ == 0) example = key;
        }
      }
    }
    EXPECT_EQ(missing, 0u) << "via " << MemberName(cluster.location(via)) << " of " << acked.size()
                           << " acknowledged writes, e.g. " << example;
  }
}

TEST(Replication, AJoinAndACleanLeaveKeepEveryKeyOnItsReplicas) {
  Cluster cluster;
  auto live = StartReplicated(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(2000);
  PutAll(cluster, live[0], keys, 500, diststore::wire::Consistency::ALL);
  // Copies of each key over `nodes`, judged by the ring of nodes.front(): on exactly its
  // replicas, with the value written.
  auto placed = [&](const std::vector<int>& nodes, std::string* why) {
    try {
      if (!RingsAre(cluster, nodes, nodes)) {
        *why = "rings differ";
        return false;
      }
      std::map<int, std::map<std::string, diststore::wire::Record>> held;
      for (int n : nodes) held[n] = Held(cluster, n, keys);
      for (const auto& key : keys) {
        const auto replicas = ReplicasOf(cluster, nodes.front(), key);
        for (int n : nodes) {
          const bool is_replica = std::find(replicas.begin(), replicas.end(), n) != replicas.end();
          const bool has = held[n].count(key) && held[n][key].value == "v-" + key;
          if (is_replica != has) {
            *why = key + (is_replica ? " missing on replica " : " still on non-replica ") +
                   MemberName(cluster.location(n));
            return false;
          }
        }
      }
      return true;
    } catch (const std::exception& e) {
      *why = e.what();
      return false;
    }
  };
  std::string why;
  EXPECT_TRUE(placed(live, &why)) << why;

  // A fourth node joins: it takes its share of replicas; the nodes that stop being a
  // replica of a key drop it.
  auto args = RocksArgs(cluster, "joiner");
  for (const auto& arg : ReplicatedArgs()) args.push_back(arg);
  const int joiner = cluster.start(args);
  ASSERT_GE(joiner, 0);
  live.push_back(joiner);
  EXPECT_TRUE(WaitFor([&] { return placed(live, &why); }, 30000, 250)) << why;

  // The first node leaves cleanly: every key it replicated is on the three remaining.
  const int leaver = live[0];
  EXPECT_EQ(cluster.terminate(leaver), 0);
  live.erase(live.begin());
  EXPECT_TRUE(WaitFor([&] { return placed(live, &why); }, 30000, 250)) << why;
  for (int via : live) {
    EXPECT_EQ(ReadThrough(cluster, via, keys).size(), keys.size());
  }
}

TEST(Replication, ANodeWithAnotherFactorIsRefusedAtJoin) {
  Cluster cluster;
  const auto live = StartReplicated(cluster, 1);
  ASSERT_EQ(live.size(), 1u);
  const auto result = RunCommand(
      {BinDir() + "/storeserver", "--data-dir=" + cluster.dir() + "/other", "--replicas=2",
       "--peer=" + rpc::ToString(cluster.location(live[0])),
       "--port=" + std::to_string(cluster.last_port())},
      "", 30000);
  EXPECT_EQ(result.status, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("--replicas"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(MemberName(cluster.location(live[0]))), std::string::npos) << result.err;
}

// Test 3 of the replication issue: a replica that missed writes while it was down gets every
// one of them from the hints, with read repair off (so nothing else could have delivered them).
TEST(Replication, HintsDeliverEveryWriteAReplicaMissedWhileDown) {
  Cluster cluster;
  const auto live = StartReplicated(cluster, 3, {"--no-read-repair"});
  ASSERT_EQ(live.size(), 3u);
  const int victim = live[2];
  cluster.kill9(victim);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, {live[0], live[1]}, {live[0], live[1]}); },
                      20000, 100));
  constexpr int kKeys = 100000;
  const auto keys = KeyRange(kKeys);
  const auto write_start = std::chrono::steady_clock::now();
  for (size_t from = 0; from < keys.size(); from += 1000) {  // through both survivors
    const std::vector<std::string> part(keys.begin() + static_cast<long>(from),
                                        keys.begin() + static_cast<long>(from + 1000));
    PutAll(cluster, live[(from / 1000) % 2], part, 1000, diststore::wire::Consistency::QUORUM);
  }
  const double write_s = Seconds(write_start);
  // Every key's leader kept one hint for the DEAD replica.
  EXPECT_EQ(SumOfStat(cluster, {live[0], live[1]}, "hints_pending"), kKeys);

  cluster.restart(victim);
  const auto drain_start = std::chrono::steady_clock::now();
  EXPECT_TRUE(WaitFor(
      [&] {
        try {
          return SumOfStat(cluster, {live[0], live[1]}, "hints_pending") == 0;
        } catch (const std::exception&) {
          return false;
        }
      },
      120000, 200));
  const double drain_s = Seconds(drain_start);
  std::cout << "wrote " << kKeys << " keys at QUORUM with one replica DEAD in " << write_s
            << " s; its hints drained in " << drain_s << " s after it restarted" << std::endl;
  EXPECT_EQ(SumOfStat(cluster, {live[0], live[1]}, "hints_replayed"), kKeys);
  const auto held = Held(cluster, victim, keys);
  size_t wrong = 0;
  for (const auto& key : keys) {
    auto it = held.find(key);
    if (it == held.end() || it->second.value != "v-" + key) ++wrong;
  }
  EXPECT_EQ(wrong, 0u) << "of " << kKeys << " keys the restarted replica should hold";
  EXPECT_EQ(Stats(cluster, victim).at("read_repairs"), 0);

  // And it serves them alone, at ONE, with the other replicas gone.
  cluster.kill9(live[0]);
  cluster.kill9(live[1]);
  for (int i = 0; i < kKeys; i += 997) {
    EXPECT_EQ(GetAtLevel(cluster, victim, keys[static_cast<size_t>(i)], diststore::wire::Consistency::ONE),
              "v-" + keys[static_cast<size_t>(i)]);
  }
}

TEST(Replication, StrictQuorumKeepsNoHints) {
  Cluster cluster;
  const auto live = StartReplicated(cluster, 3, {"--strict-quorum"});
  ASSERT_EQ(live.size(), 3u);
  cluster.kill9(live[2]);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, {live[0], live[1]}, {live[0], live[1]}); },
                      20000, 100));
  for (int i = 0; i < 50; ++i) PutAtLevel(cluster, live[0], Key(i), "v", diststore::wire::Consistency::QUORUM);
  EXPECT_EQ(SumOfStat(cluster, {live[0], live[1]}, "hints_pending"), 0);
  EXPECT_EQ(SumOfStat(cluster, {live[0], live[1]}, "hints_stored"), 0);
}

// A peer's owner_put that this node leads waits for the other replicas holding no call worker
// (store_calls.h). Node 0 has the fewest workers a node may have (4) and leads 24 keys that
// node 4 is a replica of; with node 4 stopped (SIGSTOP, slow failure detection: it stays a
// member), 24 writes at ALL sent to nodes 1, 2 and 3 are forwarded to node 0 and wait there
// for node 4, on the coordinators' peer connections (up to 2 each). Node 0 still answers a read
// at once; once node 4 goes on, every write is answered. (With a worker held per owner_put,
// the coordinators' connections hold all of node 0's workers and the read waits behind them.)
TEST(Replication, WritesALeaderWaitsOnHoldNoWorkerThere) {
  constexpr size_t kWrites = 24;
  Cluster cluster;
  const auto live = StartReplicated(cluster, 5, {"--rpc-threads=4"}, {"--probe-interval-ms=20000"});
  ASSERT_EQ(live.size(), 5u);
  const int leader = live[0], stopped = live[4];
  const std::vector<int> coordinators = {live[1], live[2], live[3]};
  std::vector<std::string> led;
  for (int i = 0; led.size() < kWrites && i < 10000; ++i) {
    const std::string key = "led-" + std::to_string(i);
    const auto replicas = ReplicasOf(cluster, leader, key);
    if (replicas.front() == leader &&
        std::find(replicas.begin(), replicas.end(), stopped) != replicas.end()) {
      led.push_back(key);
    }
  }
  ASSERT_EQ(led.size(), kWrites);
  for (const auto& key : led) PutAtLevel(cluster, coordinators[0], key, "v-" + key, Level::ALL);

  std::atomic<int> answered{0};
  StoppedProcess replica(cluster.pid(stopped));  // whatever happens below, it goes on at the end
  ASSERT_TRUE(replica.stopped());
  const int64_t forwarded_before = SumOfStat(cluster, coordinators, "forwarded");
  for (size_t i = 0; i < led.size(); ++i) {
    replica.threads.emplace_back([&, i] {
      rpc::PoolOptions options;
      options.call_timeout_ms = 25000;
      rpc::ConnectionPool<diststore::wire::StoreClient> own(options);  // a connection each
      try {
        own.call(cluster.location(coordinators[i % coordinators.size()]), [&](diststore::wire::StoreClient& c) {
          c.put(led[i], "v2-" + led[i], Level::ALL);
        });
      } catch (const std::exception& e) {
        ADD_FAILURE() << "the write of " << led[i] << " failed: " << e.what();
      }
      ++answered;
    });
  }
  EXPECT_TRUE(WaitFor(
      [&] {
        return SumOfStat(cluster, coordinators, "forwarded") >=
               forwarded_before + static_cast<int64_t>(kWrites);
      },
      10000, 20))
      << "the writes were not all forwarded to their leader";
  EXPECT_EQ(answered.load(), 0) << "a write at ALL was answered while a replica was stopped";
  // A read on the leader, on another connection: answered within the pool's call deadline.
  rpc::PoolOptions quick;
  quick.call_timeout_ms = 3000;
  rpc::ConnectionPool<diststore::wire::StoreClient> other(quick);
  std::string value;
  EXPECT_NO_THROW(other.call(cluster.location(leader), [&](diststore::wire::StoreClient& c) {
    c.get(value, led[0], Level::ONE);
  })) << "the leader's workers were all held by owner_puts waiting on the stopped replica";
  EXPECT_TRUE(value == "v-" + led[0] || value == "v2-" + led[0]) << value;

  ASSERT_TRUE(replica.resume());
  EXPECT_EQ(answered.load(), static_cast<int>(kWrites));
  for (const auto& key : led) {
    EXPECT_EQ(GetAtLevel(cluster, stopped, key, Level::ALL), "v2-" + key);
  }
}

}  // namespace
}  // namespace thrifty::testing
