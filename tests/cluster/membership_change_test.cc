// Membership changes with replicas (--replicas 3) and real storeservers on 127.0.0.1:
// - two nodes join and two leave cleanly under a steady load at QUORUM (writers that overwrite
//   their keys with rising sequence numbers, readers that check each value against the newest
//   one acknowledged before the read began): no request fails, no read is stale, and every
//   acknowledged write is readable at QUORUM through every node afterwards.
// Every wait is bounded; every process is killed by pid when a test ends.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
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
  for (size_t from = 0; from < bulk.size(); from += 500) {
    std::vector<diststore::wire::Entry> batch;
    for (size_t i = from; i < from + 500; ++i) {
      diststore::wire::Entry e;
      e.key = bulk[i];
      e.value = "v-" + bulk[i];
      batch.push_back(std::move(e));
    }
    cluster.client_pool().call(cluster.location(0), [&](diststore::wire::StoreClient& c) {
      c.multi_put(batch, Consistency::QUORUM);
    });
  }

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
  }
  EXPECT_TRUE(WaitFor([&] { return SumOfStat(cluster, live, "rebuilding") == 0; }, 60000, 100))
      << "a joiner did not finish taking its ranges";
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

}  // namespace
}  // namespace thrifty::testing
