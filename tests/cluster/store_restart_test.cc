// Crashes and restarts of storeserver processes on their RocksDB data dirs: a node killed with
// SIGKILL (no handoff, one replica per key) is unavailable, not empty, while it is down; it
// rejoins on its data with every key; writes made while it was down come back to it and the
// newest version of a key wins.
#include <atomic>
#include <chrono>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/client/cluster_client.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"
#include "locator/service/ring.h"
#include "tests/cluster/harness.h"
#include "tests/cluster/store_checks.h"

namespace thrifty::testing {
namespace {

using membership::MemberName;
using locator::wire::Location;
using Clock = std::chrono::steady_clock;

constexpr int kKeys = 20000;
// How long survivors may take to drop a crashed node from their rings (failure detection).
constexpr int kDropTimeoutMs = 40000;

std::string NewKey(int i) { return "new-" + std::to_string(i); }
std::string Value(const std::string& key, const std::string& generation) {
  return generation + ":" + key + ":" + std::string(key.size() * 3, 'a' + key.size() % 26);
}

void Write(client::ClusterClient& client, const std::vector<std::string>& keys,
           const std::string& generation) {
  std::vector<diststore::wire::Entry> batch;
  for (size_t i = 0; i < keys.size(); ++i) {
    diststore::wire::Entry e;
    e.key = keys[i];
    e.value = Value(keys[i], generation);
    batch.push_back(std::move(e));
    if (batch.size() == 1000 || i + 1 == keys.size()) {
      client.multi_put(batch);
      batch.clear();
    }
  }
}

// Waits until every survivor has dropped a crashed node from its ring, asking each survivor for
// one of the crashed node's keys meanwhile (a failed call to a peer is evidence against it).
bool WaitUntilDropped(Cluster& cluster, const std::vector<int>& survivors,
                      const std::string& victim_key, int timeout_ms) {
  return WaitFor(
      [&] {
        if (RingsAre(cluster, survivors, survivors)) return true;
        for (int i : survivors) {
          try {
            std::string value;
            cluster.pool().call(cluster.location(i),
                                [&](diststore::wire::StoreClient& c) { c.get(value, victim_key, diststore::wire::Consistency::DEFAULT); });
          } catch (const std::exception&) {
          }
        }
        return false;
      },
      timeout_ms, 100);
}

std::vector<std::string> OwnedBy(const locator::Ring& ring, const Location& node,
                                 const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  for (const auto& key : keys) {
    if (MemberName(ring.owner(key)) == MemberName(node)) out.push_back(key);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

// With one replica per key, the keys of a crashed node are unavailable until it returns. A read
// of them must say so (a StoreError), never answer NotFound as if they had been erased: before
// the survivors notice the crash, and after they have dropped the node from their rings.
TEST(StoreRestart, KeysOfACrashedNodeAreUnavailableNotMissing) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(3000);
  Write(*RingAwareClient(cluster, live), keys, "v1");
  const int victim = live[2];
  const std::vector<int> survivors = {live[0], live[1]};
  const Location victim_at = cluster.location(victim);
  const auto victim_keys = OwnedBy(*RingFromView(cluster, live[0]), victim_at, keys);
  ASSERT_GT(victim_keys.size(), 500u);
  const std::vector<std::string> sample(victim_keys.begin(), victim_keys.begin() + 100);

  cluster.kill9(victim);

  // 1. The survivors still have it in their rings: a clear error naming the unreachable owner.
  try {
    std::map<std::string, std::string> got;
    cluster.pool().call(cluster.location(survivors[0]),
                        [&](diststore::wire::StoreClient& c) { c.multi_get(got, sample, diststore::wire::Consistency::DEFAULT); });
    ADD_FAILURE() << "multi_get of a crashed node's keys answered " << got.size() << " of "
                  << sample.size() << " keys and no error";
  } catch (const diststore::wire::StoreError& e) {
    EXPECT_NE(e.message.find(rpc::ToString(victim_at)), std::string::npos) << e.message;
  }
  try {
    std::string value;
    cluster.pool().call(cluster.location(survivors[1]),
                        [&](diststore::wire::StoreClient& c) { c.get(value, sample[0], diststore::wire::Consistency::DEFAULT); });
    ADD_FAILURE() << "get of a crashed node's key answered a value";
  } catch (const diststore::wire::StoreError& e) {
    EXPECT_NE(e.message.find("unreachable"), std::string::npos) << e.message;
  } catch (const diststore::wire::NotFound&) {
    ADD_FAILURE() << "get of a crashed node's key answered NotFound";
  }
  // The other keys stay readable.
  const auto others = OwnedBy(*RingFromView(cluster, live[0]), cluster.location(live[0]), keys);
  EXPECT_EQ(ReadThrough(cluster, survivors[1], others).size(), others.size());

  // 2. Once the survivors have dropped it from their rings.
  ASSERT_TRUE(WaitUntilDropped(cluster, survivors, sample[0], kDropTimeoutMs))
      << "the survivors did not drop the crashed node in time";
  for (int i : survivors) {
    size_t answered = 0;
    std::string error;
    try {
      answered = ReadThrough(cluster, i, sample).size();
    } catch (const diststore::wire::StoreError& e) {
      error = e.message;
    }
    EXPECT_TRUE(!error.empty() || answered == sample.size())
        << "through " << rpc::ToString(cluster.location(i)) << ": multi_get of " << sample.size()
        << " keys of the crashed node answered " << answered
        << " of them and no error: the rest look erased";
    if (!error.empty()) {
      EXPECT_NE(error.find(rpc::ToString(victim_at)), std::string::npos)
          << "the error does not name the crashed node: " << error;
    }
    try {
      std::string value;
      cluster.pool().call(cluster.location(i),
                          [&](diststore::wire::StoreClient& c) { c.get(value, sample[0], diststore::wire::Consistency::DEFAULT); });
      ADD_FAILURE() << "get of a crashed node's key answered a value";
    } catch (const diststore::wire::NotFound&) {
      ADD_FAILURE() << "get of " << sample[0] << " (on the crashed node) through "
                    << rpc::ToString(cluster.location(i)) << " answered NotFound";
    } catch (const diststore::wire::StoreError& e) {
      EXPECT_NE(e.message.find(rpc::ToString(victim_at)), std::string::npos) << e.message;
    }
  }
  // The C++ client says so too, rather than "absent".
  auto client = RingAwareClient(cluster, survivors);
  EXPECT_THROW(client->get(sample[0]), client::ClientError);
  EXPECT_THROW(client->multi_get(sample), client::ClientError);
}

TEST(StoreRestart, CrashedNodeRestartsOnItsDataAndServesEveryKey) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(kKeys);
  Write(*RingAwareClient(cluster, live), keys, "v1");
  const int victim = live[1];
  const std::vector<int> survivors = {live[0], live[2]};
  const int64_t victim_keys = KeysOn(cluster, victim);
  ASSERT_GT(victim_keys, 0);
  const auto sample = OwnedBy(*RingFromView(cluster, live[0]), cluster.location(victim), keys);

  cluster.kill9(victim);
  ASSERT_TRUE(WaitUntilDropped(cluster, survivors, sample[0], kDropTimeoutMs))
      << "the survivors did not drop the crashed node in time";

  const auto t0 = Clock::now();
  cluster.restart(victim);
  ASSERT_TRUE(cluster.running(victim));
  ASSERT_TRUE(WaitFor([&] { return Settled(cluster, live, keys, kKeys); }, 30000, 200))
      << "the restarted node did not rejoin with its keys";
  std::cout << "restart and rejoin took " << Seconds(t0) << " s" << std::endl;
  EXPECT_NE(cluster.log(victim).find("joined its cluster"), std::string::npos) << cluster.log(victim);

  // It came back with exactly the keys it had; nothing moved.
  EXPECT_EQ(KeysOn(cluster, victim), victim_keys);
  for (int i : live) {
    const auto got = ReadThrough(cluster, i, keys);
    int wrong = 0;
    for (const auto& key : keys) {
      auto it = got.find(key);
      wrong += it == got.end() || it->second != Value(key, "v1");
    }
    EXPECT_EQ(wrong, 0) << "through " << rpc::ToString(cluster.location(i));
  }
}

// Reads the keys rewritten or erased while a node was down, in a loop, and counts answers older
// than the newest write (the pre-crash value of a rewritten key, or any value of an erased one).
class StaleReader {
 public:
  StaleReader(std::vector<Location> nodes, std::vector<std::string> rewritten,
              std::vector<std::string> erased)
      : nodes_(std::move(nodes)), rewritten_(std::move(rewritten)), erased_(std::move(erased)) {}
  ~StaleReader() { stop(); }
  void start() {
    started_ = Clock::now();
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int64_t stale() const { return old_values_.load() + resurrected_.load(); }
  int64_t rounds() const { return rounds_.load(); }
  std::string report() const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::to_string(old_values_.load()) + " reads of a rewritten key answered its value "
           "from before the crash, " + std::to_string(resurrected_.load()) +
           " reads of an erased key answered a value; the first " +
           std::to_string(first_ms_) + " ms and the last " + std::to_string(last_ms_) +
           " ms after the reader started; e.g. " + example_;
  }

 private:
  void run() {
    rpc::ConnectionPool<diststore::wire::StoreClient> pool;
    std::vector<std::string> keys = rewritten_;
    keys.insert(keys.end(), erased_.begin(), erased_.end());
    const std::set<std::string> erased(erased_.begin(), erased_.end());
    while (!stop_.load()) {
      for (const Location& node : nodes_) {
        std::map<std::string, std::string> got;
        try {
          pool.call(node, [&](diststore::wire::StoreClient& c) { c.multi_get(got, keys, diststore::wire::Consistency::DEFAULT); });
        } catch (const std::exception&) {
          continue;  // the restarted node is not up yet
        }
        for (const auto& [key, value] : got) {
          const bool was_erased = erased.count(key) != 0;
          if (was_erased || value != Value(key, "v2")) {
            ++(was_erased ? resurrected_ : old_values_);
            const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                   Clock::now() - started_).count();
            std::lock_guard<std::mutex> lock(mu_);
            if (first_ms_ < 0) first_ms_ = ms;
            last_ms_ = ms;
            if (example_.empty()) {
              example_ = key + " read as '" + value.substr(0, 20) + "...' through " +
                         rpc::ToString(node) + (erased.count(key) ? " after it was erased" : "");
            }
          }
        }
      }
      ++rounds_;
    }
  }

  std::vector<Location> nodes_;
  std::vector<std::string> rewritten_, erased_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> old_values_{0}, resurrected_{0}, rounds_{0};
  Clock::time_point started_;
  mutable std::mutex mu_;
  int64_t first_ms_ = -1, last_ms_ = -1;
  std::string example_;
};

// A node crashes; while it is down, some of its keys are rewritten or erased and new keys are
// written (they go to the survivors); then it restarts on its data. With `watch_reads`, a reader
// watches the rewritten and erased keys through every node while the writes come back to it;
// without, the end state is checked: every write where it belongs, the newest version winning.
void WritesWhileDownScenario(bool watch_reads) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto old_keys = KeyRange(kKeys);
  const auto new_keys = KeyRange(3000, NewKey);
  Write(*RingAwareClient(cluster, live), old_keys, "v1");
  const int victim = live[2];
  const Location victim_at = cluster.location(victim);
  const std::vector<int> survivors = {live[0], live[1]};
  const auto full_ring = RingFromView(cluster, live[0]);
  const auto victim_old = OwnedBy(*full_ring, victim_at, old_keys);
  const auto victim_new = OwnedBy(*full_ring, victim_at, new_keys);
  ASSERT_GT(victim_old.size(), 2000u);
  ASSERT_GT(victim_new.size(), 300u);

  cluster.kill9(victim);
  ASSERT_TRUE(WaitUntilDropped(cluster, survivors, victim_old[0], kDropTimeoutMs))
      << "the survivors did not drop the crashed node in time";

  // While it is down: rewrite 500 of its keys, erase 200 more, write 3000 new keys (about a
  // third of them its own once it is back).
  const std::vector<std::string> rewritten(victim_old.begin(), victim_old.begin() + 500);
  const std::vector<std::string> erased(victim_old.begin() + 500, victim_old.begin() + 700);
  auto writer = RingAwareClient(cluster, survivors);
  Write(*writer, rewritten, "v2");
  for (const auto& key : erased) writer->erase(key);
  Write(*writer, new_keys, "n1");
  // They went to the survivors, and read back there.
  int64_t on_survivors = 0;
  for (int i : survivors) on_survivors += static_cast<int64_t>(Held(cluster, i, victim_new).size());
  EXPECT_EQ(on_survivors, static_cast<int64_t>(victim_new.size()));
  for (const auto& key : {rewritten[0], new_keys[0]}) {
    EXPECT_EQ(writer->get(key).value_or("(none)"), Value(key, key == rewritten[0] ? "v2" : "n1"));
  }
  EXPECT_FALSE(writer->get(erased[0]).has_value());

  // Restart it on its data (watching the rewritten and erased keys through every node).
  StaleReader reader({cluster.location(survivors[0]), cluster.location(survivors[1]), victim_at},
                     rewritten, erased);
  if (watch_reads) reader.start();
  const auto t0 = Clock::now();
  cluster.restart(victim);
  std::vector<std::string> all_keys = old_keys;
  all_keys.insert(all_keys.end(), new_keys.begin(), new_keys.end());
  const int64_t expected_live = kKeys - static_cast<int64_t>(erased.size()) + 3000;
  const bool settled = WaitFor([&] { return Settled(cluster, live, all_keys, expected_live); },
                               30000, 200);
  const double settle_s = Seconds(t0);
  reader.stop();
  std::cout << "restart and handback took " << settle_s << " s" << std::endl;
  ASSERT_TRUE(settled) << "the writes made while the node was down did not come back to it";

  if (watch_reads) {
    std::cout << "reader: " << reader.rounds() << " rounds, " << reader.stale()
              << " answers older than the newest write" << std::endl;
    // No read went back to the value from before the crash, nor brought an erased key back.
    EXPECT_EQ(reader.stale(), 0) << reader.report();
    return;
  }

  // Everything it owns is back on it: its old keys, and the new ones written elsewhere.
  const auto held = Held(cluster, victim, victim_new);
  EXPECT_EQ(held.size(), victim_new.size());
  EXPECT_GE(Stats(cluster, victim).at("handoff_records_in"),
            static_cast<int64_t>(victim_new.size() + rewritten.size() + erased.size()));

  // Through every node: the newest write wins.
  const std::set<std::string> rewritten_set(rewritten.begin(), rewritten.end());
  const std::set<std::string> erased_set(erased.begin(), erased.end());
  for (int i : live) {
    const auto got = ReadThrough(cluster, i, all_keys);
    int wrong = 0;
    std::string example;
    for (const auto& key : all_keys) {
      auto it = got.find(key);
      bool ok;
      if (erased_set.count(key)) {
        ok = it == got.end();
      } else {
        const std::string want = rewritten_set.count(key) ? "v2" : key.rfind("new-", 0) == 0 ? "n1" : "v1";
        ok = it != got.end() && it->second == Value(key, want);
      }
      if (!ok && wrong++ == 0) example = key;
    }
    EXPECT_EQ(wrong, 0) << "through " << rpc::ToString(cluster.location(i)) << ", e.g. " << example;
  }
}

TEST(StoreRestart, WritesMadeWhileANodeWasDownComeBackToItAndTheNewestWins) {
  WritesWhileDownScenario(false);
}

// While the writes made during its absence come back to a restarted node, it already serves its
// old data: a read must not answer the value from before the crash for a key rewritten since,
// nor a value for a key erased since.
// The race this found: the restarted node read its own old copy, then a handoff batch brought
// the newer one and the holder deleted it before the holder was asked; the node now reads
// its own data once more after asking.
TEST(StoreRestart, ReadsNeverGoBackToTheValueFromBeforeTheCrash) {
  WritesWhileDownScenario(true);
}

}  // namespace
}  // namespace thrifty::testing
