// Membership changes with replicas (--replicas 3) and real storeservers on 127.0.0.1:
// - two nodes join and two leave cleanly under a steady load at QUORUM (writers that overwrite
//   their keys with rising sequence numbers, readers that check each value against the newest
//   one acknowledged before the read began): no request fails, no read is stale, and every
//   acknowledged write is readable at QUORUM through every node afterwards.
// - a first join and a wiped return are told apart: with a DEAD member, a node that joins anew
//   takes its ranges and serves; one that comes back wiped at a known address waits for the
//   DEAD replica, until `storectl removenode` forgets it (refused for a live member) or
//   `storectl finish-rebuild` lets it finish with the live replicas.
// Every wait is bounded; every process is killed by pid when a test ends.
#include <algorithm>
#include <filesystem>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

using membership::MemberName;
using diststore::wire::Consistency;

std::vector<std::string> ReplicatedArgs(Cluster& cluster, const std::string& name) {
  auto args = RocksArgs(cluster, name);
  for (const char* a : {"--replicas=3", "--probe-interval-ms=200", "--probe-timeout-ms=100"}) {
    args.push_back(a);
  }
  return args;
}

// What the load learned: per key, the highest sequence number acknowledged and the highest
// attempted (a write that failed may still have landed), and what went wrong.
class LoadHistory {
 public:
  void attempted(const std::string& key, int64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    attempted_[key] = std::max(attempted_[key], seq);
  }
  void acked(const std::string& key, int64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    acked_[key] = std::max(acked_[key], seq);
    ++acks_;
  }
  int64_t acked_of(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    const auto it = acked_.find(key);
    return it == acked_.end() ? -1 : it->second;
  }
  void failed(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.push_back(what);
  }
  void stale(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu_);
    stale_.push_back(what);
  }
  void read_ok() { ++reads_; }
  int64_t acks() { return acks_.load(); }
  int64_t reads() { return reads_.load(); }
  std::map<std::string, int64_t> acked_map() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_;
  }
  std::map<std::string, int64_t> attempted_map() {
    std::lock_guard<std::mutex> lock(mu_);
    return attempted_;
  }
  std::vector<std::string> failures() {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }
  std::vector<std::string> stale_reads() {
    std::lock_guard<std::mutex> lock(mu_);
    return stale_;
  }

 private:
  std::mutex mu_;
  std::map<std::string, int64_t> acked_, attempted_;
  std::vector<std::string> failures_, stale_;
  std::atomic<int64_t> acks_{0}, reads_{0};
};

// Writes key -> "v-" + key for every key through node `via` at QUORUM, 500 to a batch.
void PutAllAtQuorum(Cluster& cluster, int via, const std::vector<std::string>& keys) {
  for (size_t from = 0; from < keys.size(); from += 500) {
    std::vector<diststore::wire::Entry> batch;
    for (size_t i = from; i < std::min(keys.size(), from + 500); ++i) {
      diststore::wire::Entry e;
      e.key = keys[i];
      e.value = "v-" + keys[i];
      batch.push_back(std::move(e));
    }
    cluster.client_pool().call(cluster.location(via), [&](diststore::wire::StoreClient& c) {
      c.multi_put(batch, Consistency::QUORUM);
    });
  }
}

// Node i's stat `name`, or -1 if it does not answer.
int64_t StatOr(Cluster& cluster, int i, const std::string& name) {
  try {
    return Stats(cluster, i).at(name);
  } catch (const std::exception&) {
    return -1;
  }
}

// The value a writer puts for sequence number `seq`, and the number back from one.
std::string ValueOf(int64_t seq) { return "seq-" + std::to_string(seq); }
int64_t SeqOf(const std::string& value) {
  if (value.rfind("seq-", 0) != 0) return -2;
  try {
    return std::stoll(value.substr(4));
  } catch (const std::exception&) {
    return -2;
  }
}

TEST(MembershipChange, TwoJoinsAndTwoLeavesUnderQuorumLoadLoseNothingAndReadNothingStale) {
  Cluster cluster;
  std::vector<int> live;
  for (int i = 0; i < 3; ++i) {
    const int n = cluster.start(ReplicatedArgs(cluster, "node" + std::to_string(i)));
    ASSERT_EQ(n, i);
    live.push_back(n);
  }
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, live, live); }, 20000, 100));
  ASSERT_TRUE(WaitFor([&] { return SumOfStat(cluster, live, "rebuilding") == 0; }, 30000, 100));
  // Keys written once before the changes, so that the joiners have ranges to take while the
  // load runs.
  const auto bulk = KeyRange(20000);
  PutAllAtQuorum(cluster, 0, bulk);

  // Two writers, each overwriting its own 1000 keys in turn, and two readers, each through one
  // of the nodes that stay (0 and 1): every request at QUORUM.
  LoadHistory history;
  std::atomic<bool> stop{false};
  constexpr int kKeysPerWriter = 1000;
  auto key_of = [](int writer, int i) {
    return "w" + std::to_string(writer) + "-" + std::to_string(i % kKeysPerWriter);
  };
  std::vector<std::thread> load;
  for (int w = 0; w < 2; ++w) {
    load.emplace_back([&, w] {
      for (int64_t seq = 0; !stop; ++seq) {
        const std::string key = key_of(w, static_cast<int>(seq));
        history.attempted(key, seq);
        try {
          cluster.client_pool().call(cluster.location(w), [&](diststore::wire::StoreClient& c) {
            c.put(key, ValueOf(seq), Consistency::QUORUM);
          });
          history.acked(key, seq);
        } catch (const std::exception& e) {
          history.failed("put " + key + " via node " + std::to_string(w) + ": " + e.what());
        }
      }
    });
    load.emplace_back([&, w] {
      for (int i = 0; !stop; ++i) {
        const std::string key = key_of(i % 2, i * 7919);
        const int64_t before = history.acked_of(key);
        if (before < 0) continue;
        try {
          std::string value;
          cluster.client_pool().call(cluster.location(1 - w), [&](diststore::wire::StoreClient& c) {
            c.get(value, key, Consistency::QUORUM);
          });
          const int64_t seq = SeqOf(value);
          if (seq < before) {
            history.stale("get " + key + " via node " + std::to_string(1 - w) + " read '" +
                          value + "', acknowledged before the read: " + ValueOf(before));
          }
          history.read_ok();
        } catch (const std::exception& e) {
          history.failed("get " + key + " via node " + std::to_string(1 - w) + ": " + e.what());
        }
      }
    });
  }
  auto more_load = [&](int64_t acks) {
    const int64_t from = history.acks();
    return WaitFor([&] { return history.acks() >= from + acks; }, 30000, 20);
  };

  EXPECT_TRUE(more_load(1500));
  // Two nodes join, one after the other, with the load running.
  for (int j = 0; j < 2; ++j) {
    const int joiner = cluster.start(ReplicatedArgs(cluster, "joiner" + std::to_string(j)));
    ASSERT_GE(joiner, 0);
    live.push_back(joiner);
    EXPECT_TRUE(WaitFor([&] { return RingsAre(cluster, live, live); }, 20000, 100));
    EXPECT_TRUE(more_load(1500));
    // One join at a time (as Cassandra bootstraps): two joiners that both take a range at
    // once leave it one replica that counts toward R, and QUORUM reads of it fail meanwhile.
    EXPECT_TRUE(WaitFor([&] { return StatOr(cluster, joiner, "rebuilding") == 0; }, 60000, 100))
        << "joiner " << j << " did not finish taking its ranges";
  }
  EXPECT_TRUE(more_load(1500));
  // Two leave cleanly: one of the first three, and the first joiner.
  for (int leaver : {2, 3}) {
    EXPECT_EQ(cluster.terminate(leaver), 0) << cluster.log(leaver);
    live.erase(std::find(live.begin(), live.end(), leaver));
    EXPECT_TRUE(WaitFor([&] { return RingsAre(cluster, live, live); }, 20000, 100));
    EXPECT_TRUE(more_load(1500));
  }
  stop = true;
  for (auto& t : load) t.join();

  const auto failures = history.failures();
  const auto stale = history.stale_reads();
  std::cout << "under joins and leaves: " << history.acks() << " writes acknowledged, "
            << history.reads() << " reads, " << failures.size() << " failed, " << stale.size()
            << " stale" << std::endl;
  EXPECT_TRUE(stale.empty()) << stale.size() << " stale reads, the first: " << stale.front();
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed requests, the first: "
                                << failures.front();
  EXPECT_GT(history.reads(), 500);

  // Every acknowledged write, read back at QUORUM through each remaining node: the newest
  // acknowledged value, or a newer one that was attempted.
  const auto acked = history.acked_map();
  const auto attempted = history.attempted_map();
  std::vector<std::string> keys;
  for (const auto& [key, seq] : acked) keys.push_back(key);
  for (int via : live) {
    std::map<std::string, std::string> got;
    cluster.client_pool().call(cluster.location(via), [&](diststore::wire::StoreClient& c) {
      c.multi_get(got, keys, Consistency::QUORUM);
    });
    size_t lost = 0;
    std::string example;
    for (const auto& key : keys) {
      const auto it = got.find(key);
      const int64_t seq = it == got.end() ? -1 : SeqOf(it->second);
      if (seq < acked.at(key) || seq > attempted.at(key)) {
        if (lost++ == 0) {
          example = key + " read " + (it == got.end() ? "nothing" : it->second) + ", acknowledged " +
                    ValueOf(acked.at(key));
        }
      }
    }
    EXPECT_EQ(lost, 0u) << "via " << MemberName(cluster.location(via)) << ": e.g. " << example;
    const auto read = ReadThrough(cluster, via, bulk);
    size_t bulk_lost = 0;
    for (const auto& key : bulk) {
      const auto it = read.find(key);
      if (it == read.end() || it->second != "v-" + key) ++bulk_lost;
    }
    EXPECT_EQ(bulk_lost, 0u) << "via " << MemberName(cluster.location(via)) << " of "
                             << bulk.size() << " keys written before the changes";
  }
}


// storectl COMMAND... against node `via`; its result.
CommandResult Storectl(Cluster& cluster, int via, std::vector<std::string> command) {
  std::vector<std::string> argv = {BinDir() + "/storectl",
                                   "--peer=" + rpc::ToString(cluster.location(via))};
  argv.insert(argv.end(), command.begin(), command.end());
  return RunCommand(argv, "", 60000);
}

// Reads every key at QUORUM through each node of `via`; the first key that is not "v-" + key.
std::string FirstWrongRead(Cluster& cluster, const std::vector<int>& via,
                           const std::vector<std::string>& keys) {
  for (int n : via) {
    std::map<std::string, std::string> got;
    try {
      got = ReadThrough(cluster, n, keys);
    } catch (const std::exception& e) {
      return "via node " + std::to_string(n) + ": " + e.what();
    }
    for (const auto& key : keys) {
      const auto it = got.find(key);
      if (it == got.end() || it->second != "v-" + key) {
        return key + " via node " + std::to_string(n) + ": " + (it == got.end() ? "missing" : it->second);
      }
    }
  }
  return "";
}

// Four nodes with keys written at QUORUM, then node 3 killed and declared DEAD by the others.
class WithADeadMember : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int i = 0; i < 4; ++i) {
      ASSERT_EQ(cluster_.start(ReplicatedArgs(cluster_, "node" + std::to_string(i))), i);
      live_.push_back(i);
    }
    ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster_, live_, live_); }, 20000, 100));
    ASSERT_TRUE(WaitFor([&] { return SumOfStat(cluster_, live_, "rebuilding") == 0; }, 30000, 100));
    PutAllAtQuorum(cluster_, 0, keys_);
    cluster_.kill9(kDead);
    live_.pop_back();
    ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster_, live_, live_); }, 20000, 100));
  }

  // Wipes node 2's data dir and restarts it (a new host ID at a known address), held from
  // nothing; returns once it answers.
  void WipeAndRestartNode2() {
    cluster_.kill9(2);
    std::filesystem::remove_all(cluster_.dir() + "/node2");
    cluster_.restart(2);
    ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster_, live_, live_); }, 20000, 100));
  }

  // Node 2 waits for the DEAD node: still rebuilding after its log says so.
  void ExpectNode2WaitsForTheDeadNode() {
    const std::string dead = MemberName(cluster_.location(kDead));
    EXPECT_TRUE(WaitFor([&] { return cluster_.log(2).find("waiting for " + dead) != std::string::npos; },
                        30000, 100))
        << cluster_.log(2);
    EXPECT_EQ(StatOr(cluster_, 2, "rebuilding"), 1);
    EXPECT_EQ(StatOr(cluster_, 2, "rebuild_kind"), 2);  // a wiped return
  }

  static constexpr int kDead = 3;
  Cluster cluster_;
  std::vector<int> live_;
  const std::vector<std::string> keys_ = KeyRange(3000);
};

TEST_F(WithADeadMember, AFirstJoinServesWithoutItAndAWipedReturnWaitsUntilItIsRemoved) {
  // A node the cluster never had: not held back by the DEAD replica of its ranges.
  // (On a port of its own: at the DEAD node's address it would replace that node.)
  const int joiner = cluster_.start(ReplicatedArgs(cluster_, "joiner"), cluster_.first_port() + 30);
  ASSERT_EQ(joiner, 4);
  live_.push_back(joiner);
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster_, live_, live_); }, 20000, 100));
  EXPECT_EQ(StatOr(cluster_, joiner, "rebuild_kind"), 1);  // a first join
  EXPECT_TRUE(WaitFor([&] { return StatOr(cluster_, joiner, "rebuilding") == 0; }, 30000, 100))
      << cluster_.log(joiner);
  EXPECT_EQ(FirstWrongRead(cluster_, live_, keys_), "");

  // A wiped node at a known address: it waits for the DEAD replica of its ranges.
  WipeAndRestartNode2();
  ExpectNode2WaitsForTheDeadNode();
  // removenode of a live member, or of an address the cluster never had, is refused.
  auto refused = Storectl(cluster_, 0, {"removenode", rpc::ToString(cluster_.location(1))});
  EXPECT_EQ(refused.status, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("only a DEAD member can be removed"), std::string::npos) << refused.err;
  refused = Storectl(cluster_, 0, {"removenode", "127.0.0.1:1"});
  EXPECT_EQ(refused.status, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("no member of this cluster"), std::string::npos) << refused.err;
  EXPECT_TRUE(RingsAre(cluster_, live_, live_));
  EXPECT_EQ(StatOr(cluster_, 2, "rebuilding"), 1);

  // removenode of the DEAD one: its ranges move on, the wiped node's rebuild finishes.
  const auto removed = Storectl(cluster_, 0, {"removenode", rpc::ToString(cluster_.location(kDead))});
  EXPECT_EQ(removed.status, 0) << removed.out << removed.err;
  EXPECT_NE(removed.out.find("removed " + MemberName(cluster_.location(kDead))), std::string::npos)
      << removed.out;
  EXPECT_TRUE(WaitFor([&] { return StatOr(cluster_, 2, "rebuilding") == 0; }, 60000, 100))
      << cluster_.log(2);
  EXPECT_EQ(StatOr(cluster_, 2, "rebuilds_with_live"), 0);
  for (int n : live_) {
    const auto view = StatesSeenBy(cluster_, n);
    const auto it = view.find(kDead);
    EXPECT_TRUE(it != view.end() && it->second == locator::wire::MemberState::LEFT)
        << "node " << n << " does not hold the removed node LEFT";
  }
  EXPECT_EQ(FirstWrongRead(cluster_, live_, keys_), "");
}

TEST_F(WithADeadMember, FinishRebuildLetsAWipedReturnServeWithTheLiveReplicas) {
  const auto idle = Storectl(cluster_, 0, {"finish-rebuild"});
  EXPECT_EQ(idle.status, 0) << idle.out << idle.err;
  EXPECT_NE(idle.out.find("is not rebuilding"), std::string::npos) << idle.out;
  WipeAndRestartNode2();
  ExpectNode2WaitsForTheDeadNode();
  const auto finish = Storectl(cluster_, 2, {"finish-rebuild"});
  EXPECT_EQ(finish.status, 0) << finish.out << finish.err;
  EXPECT_TRUE(WaitFor([&] { return StatOr(cluster_, 2, "rebuilding") == 0; }, 30000, 100))
      << cluster_.log(2);
  EXPECT_EQ(StatOr(cluster_, 2, "rebuilds_with_live"), 1);
  // Its ranges came from nodes 0 and 1, which had every key: reads stay right.
  EXPECT_EQ(FirstWrongRead(cluster_, live_, keys_), "");
}

}  // namespace
}  // namespace thrifty::testing
