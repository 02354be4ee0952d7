// Store clusters of real storeserver processes (RocksDB data dirs): a join moves a quarter of
// the keys while reads never miss, a clean leave hands every key off, erases (tombstones) move
// with their keys, batches span owners, and oversized requests are refused with a clear error.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
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
constexpr size_t kPutBatch = 1000;

// Deterministic, of varying length, different per generation.
std::string Value(int i, const std::string& generation = "v1") {
  return generation + ":" + std::to_string(i * 7919) + ":" + std::string(i % 61, 'a' + i % 26);
}

// Writes keys [0, n) with Value(i, generation), in batches.
void Prime(client::ClusterClient& client, int n, const std::string& generation = "v1") {
  std::vector<diststore::wire::Entry> batch;
  for (int i = 0; i < n; ++i) {
    diststore::wire::Entry e;
    e.key = Key(i);
    e.value = Value(i, generation);
    batch.push_back(std::move(e));
    if (batch.size() == kPutBatch || i == n - 1) {
      client.multi_put(batch);
      batch.clear();
    }
  }
}

// What is wrong when Settled() stays false: each node's ring and keys, the layout, and the end
// of each node's log.
std::string Diagnose(Cluster& cluster, const std::vector<int>& live,
                     const std::vector<std::string>& keys) {
  std::string out;
  try {
    for (int i : live) {
      out += "node " + std::to_string(i) + " " + rpc::ToString(cluster.location(i)) + ": ring {";
      for (const auto& name : RingOf(cluster, i)) out += " " + name;
      out += " }, keys " + std::to_string(Stats(cluster, i).at("keys")) + "\n";
    }
    const Layout layout = Inspect(cluster, live, keys);
    out += "misplaced " + std::to_string(layout.misplaced) + ", duplicated " +
           std::to_string(layout.duplicated) + ", absent " + std::to_string(layout.absent) +
           (layout.example.empty() ? "" : ", e.g. " + layout.example) + "\n";
  } catch (const std::exception& e) {
    out += std::string("(inspection failed: ") + e.what() + ")\n";
  }
  for (int i : live) {
    const std::string log = cluster.log(i);
    out += "---- end of node " + std::to_string(i) + "'s log:\n" +
           log.substr(log.size() > 3000 ? log.size() - 3000 : 0);
  }
  return out;
}

// The lines of the nodes' logs that say when their rings changed and what they handed off.
std::string RingAndHandoffLines(Cluster& cluster, const std::vector<int>& live) {
  std::string out;
  for (int i : live) {
    std::istringstream log(cluster.log(i));
    std::string line;
    while (std::getline(log, line)) {
      if (line.find("] ring: ") != std::string::npos || line.find("] handoff") != std::string::npos) {
        out += "node " + std::to_string(i) + " (" + rpc::ToString(cluster.location(i)) + "): " + line + "\n";
      }
    }
  }
  return out;
}

// Every key of [0, n) reads back as Value(i) through each of `nodes` (each one forwards what
// it does not own); a test failure names the node and the first wrong key.
void ExpectEveryKeyReadsThrough(Cluster& cluster, const std::vector<int>& nodes, int n) {
  for (int node : nodes) {
    const auto got = ReadThrough(cluster, node, KeyRange(n));
    int wrong = 0;
    std::string example;
    for (int k = 0; k < n; ++k) {
      auto it = got.find(Key(k));
      if (it == got.end() || it->second != Value(k)) {
        if (wrong++ == 0) example = Key(k) + (it == got.end() ? " missing" : " has a wrong value");
      }
    }
    EXPECT_EQ(wrong, 0) << "through " << rpc::ToString(cluster.location(node)) << ": " << example;
  }
}

// Reads the primed keys in a loop while the cluster changes: batches through each node directly
// (non-owners forward) and through a ring-aware client, plus single gets. Counts keys reported
// missing (NotFound, or absent from a multi_get answer) and failed requests separately.
class Reader {
 public:
  Reader(std::vector<Location> nodes, std::vector<Location> seeds, int keys)
      : nodes_(std::move(nodes)), seeds_(std::move(seeds)), keys_(keys) {}
  ~Reader() { stop(); }

  void add_node(const Location& node) {
    std::lock_guard<std::mutex> lock(mu_);
    nodes_.push_back(node);
  }
  void start() {
    client::ClientOptions options;
    options.seeds = seeds_;
    options.refresh_interval_ms = 1000;
    ring_client_ = std::make_unique<client::ClusterClient>(options);
    thread_ = std::thread([this] { run(); });
  }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Waits (bounded) until the reader has gone over every key at least `passes` more times.
  bool wait_passes(int passes, int timeout_ms) {
    const int64_t target = passes_.load() + passes;
    return WaitFor([&] { return passes_.load() >= target; }, timeout_ms, 20);
  }

  int64_t missing() const { return missing_.load(); }
  int64_t wrong() const { return wrong_.load(); }
  int64_t errors() const { return errors_.load(); }
  int64_t reads() const { return reads_.load(); }
  std::set<std::string> missing_keys() const {
    std::lock_guard<std::mutex> lock(mu_);
    return missing_keys_;
  }
  std::string report() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::string out = std::to_string(reads_.load()) + " keys read, " +
                      std::to_string(missing_.load()) + " missing, " +
                      std::to_string(wrong_.load()) + " wrong, " + std::to_string(errors_.load()) +
                      " failed requests";
    for (const auto& s : samples_) out += "\n  " + s;
    return out;
  }

 private:
  static std::string Stamp(std::chrono::system_clock::time_point when) {
    const std::time_t t = std::chrono::system_clock::to_time_t(when);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                        when.time_since_epoch()).count() % 1000000;
    std::tm local{};
    localtime_r(&t, &local);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%H:%M:%S", &local);
    char micro[16];
    std::snprintf(micro, sizeof micro, ".%06d", static_cast<int>(us));
    return std::string(stamp) + micro;
  }

  // Keeps the first few samples, with the wall-clock times the request was sent and answered
  // (to compare with the nodes' logs).
  void note(std::atomic<int64_t>& counter, const std::string& what, int64_t n = 1) {
    counter += n;
    std::lock_guard<std::mutex> lock(mu_);
    if (samples_.size() >= 10) return;
    samples_.push_back("sent " + Stamp(sent_at_) + ", answered " +
                       Stamp(std::chrono::system_clock::now()) + ": " + what);
  }

  void check(const std::string& via, const std::vector<int>& ids,
             const std::map<std::string, std::string>& got) {
    reads_ += static_cast<int64_t>(ids.size());
    for (int k : ids) {
      auto it = got.find(Key(k));
      if (it == got.end()) {
        {
          std::lock_guard<std::mutex> lock(mu_);
          missing_keys_.insert(Key(k));
        }
        note(missing_, Key(k) + " missing via " + via);
      } else if (it->second != Value(k)) {
        note(wrong_, Key(k) + " wrong value via " + via);
      }
    }
  }

  void run() {
    rpc::PoolOptions pool_options;
    pool_options.call_timeout_ms = 10000;
    rpc::ConnectionPool<diststore::wire::StoreClient> pool(pool_options);
    size_t round = 0;
    while (!stop_.load()) {
      for (int from = 0; from < keys_ && !stop_.load(); from += 250, ++round) {
        std::vector<int> ids;
        std::vector<std::string> keys;
        for (int k = from; k < std::min(keys_, from + 250); ++k) {
          ids.push_back(k);
          keys.push_back(Key(k));
        }
        std::vector<Location> nodes;
        {
          std::lock_guard<std::mutex> lock(mu_);
          nodes = nodes_;
        }
        const size_t target = round % (nodes.size() + 1);
        sent_at_ = std::chrono::system_clock::now();
        if (target == nodes.size()) {
          try {
            check("ring-aware client", ids, ring_client_->multi_get(keys));
          } catch (const std::exception& e) {
            note(errors_, std::string("ring-aware multi_get: ") + e.what());
          }
          continue;
        }
        const Location node = nodes[target];
        const std::string via = rpc::ToString(node);
        try {
          std::map<std::string, std::string> got;
          pool.call(node, [&](diststore::wire::StoreClient& c) { c.multi_get(got, keys, diststore::wire::Consistency::DEFAULT); });
          check(via, ids, got);
        } catch (const std::exception& e) {
          note(errors_, "multi_get via " + via + ": " + e.what());
        }
        // One single get per batch: the get path answers NotFound as an exception.
        const int k = ids[round % ids.size()];
        sent_at_ = std::chrono::system_clock::now();
        try {
          std::string value;
          pool.call(node, [&](diststore::wire::StoreClient& c) { c.get(value, Key(k), diststore::wire::Consistency::DEFAULT); });
          check(via + " (get)", {k}, {{Key(k), value}});
        } catch (const diststore::wire::NotFound&) {
          reads_ += 1;
          {
            std::lock_guard<std::mutex> lock(mu_);
            missing_keys_.insert(Key(k));
          }
          note(missing_, Key(k) + " NotFound via get on " + via);
        } catch (const std::exception& e) {
          note(errors_, "get via " + via + ": " + e.what());
        }
      }
      ++passes_;
    }
  }

  mutable std::mutex mu_;
  std::vector<Location> nodes_;
  std::vector<Location> seeds_;
  const int keys_;
  std::unique_ptr<client::ClusterClient> ring_client_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> passes_{0}, reads_{0}, missing_{0}, wrong_{0}, errors_{0};
  std::vector<std::string> samples_;
  std::set<std::string> missing_keys_;
  std::chrono::system_clock::time_point sent_at_;  // of the request being checked
};

std::vector<Location> Locations(Cluster& cluster, const std::vector<int>& nodes) {
  std::vector<Location> out;
  for (int i : nodes) out.push_back(cluster.location(i));
  return out;
}

// ---------------------------------------------------------------------------------------------

TEST(StoreCluster, JoinMovesAQuarterOfTheKeys) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(kKeys);
  auto t0 = Clock::now();
  Prime(*RingAwareClient(cluster, live), kKeys);
  std::cout << "primed " << kKeys << " keys in " << Seconds(t0) << " s" << std::endl;
  ASSERT_EQ(SumOfKeys(cluster, live), kKeys);

  t0 = Clock::now();
  const int joiner = cluster.start(RocksArgs(cluster, "node3"));
  ASSERT_GE(joiner, 0);
  live.push_back(joiner);
  ASSERT_TRUE(WaitFor([&] { return Settled(cluster, live, keys, kKeys); }, 60000, 200))
      << "handoff not done within 60 s\n" << Diagnose(cluster, live, keys);
  std::cout << "join handoff done in " << Seconds(t0) << " s" << std::endl;

  // No key stored twice, none lost, and the joiner holds about a quarter.
  EXPECT_EQ(SumOfKeys(cluster, live), kKeys);
  const auto joiner_stats = Stats(cluster, joiner);
  const double moved = static_cast<double>(joiner_stats.at("keys")) / kKeys;
  std::cout << "moved fraction " << moved << std::endl;
  EXPECT_GE(moved, 0.25 / 1.25);
  EXPECT_LE(moved, 0.25 * 1.25);
  EXPECT_EQ(joiner_stats.at("handoff_records_in"), joiner_stats.at("keys"))
      << "the joiner got exactly its keys, each once";
  const int64_t out = SumOfStat(cluster, live, "handoff_records_out");
  EXPECT_EQ(out, joiner_stats.at("keys")) << "only the moved keys were sent";

  // Every key reads back through every node, directly.
  ExpectEveryKeyReadsThrough(cluster, live, kKeys);
}

// A reader goes over every key, through each node directly (non-owners forward) and through a
// ring-aware client, from before a fourth node starts until the handoff is done: no key that
// exists may ever be reported missing.
TEST(StoreCluster, ReadsNeverMissDuringAJoin) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(kKeys);
  Prime(*RingAwareClient(cluster, live), kKeys);

  Reader reader(Locations(cluster, live), Locations(cluster, live), kKeys);
  reader.start();
  ASSERT_TRUE(reader.wait_passes(1, 60000)) << reader.report();
  const int joiner = cluster.start(RocksArgs(cluster, "node3"));
  ASSERT_GE(joiner, 0);
  reader.add_node(cluster.location(joiner));
  live.push_back(joiner);
  const bool settled = WaitFor([&] { return Settled(cluster, live, keys, kKeys); }, 60000, 200);
  // Keep reading over the settled cluster once more, then stop.
  const bool read_after = reader.wait_passes(1, 60000);
  reader.stop();
  std::cout << "reader: " << reader.report() << std::endl;
  ASSERT_TRUE(settled) << "handoff not done within 60 s\n" << Diagnose(cluster, live, keys);
  EXPECT_TRUE(read_after);
  EXPECT_GT(reader.reads(), 2 * kKeys);
  EXPECT_EQ(reader.missing(), 0) << reader.report() << "\njoiner's log:\n" << cluster.log(joiner);
  EXPECT_EQ(reader.wrong(), 0) << reader.report();
  EXPECT_EQ(reader.errors(), 0) << reader.report();
}

// The same with a joiner of weight 2 (ketama, libmemcached's weighted continuum): it should end
// up with about 2/5 of the keys, and reads must not miss while they move.
TEST(StoreCluster, WeightedJoinReadsNeverMiss) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(kKeys);
  Prime(*RingAwareClient(cluster, live), kKeys);

  Reader reader(Locations(cluster, live), Locations(cluster, live), kKeys);
  reader.start();
  ASSERT_TRUE(reader.wait_passes(1, 60000)) << reader.report();
  auto args = RocksArgs(cluster, "node3");
  args.push_back("--weight=2");
  const int joiner = cluster.start(args);
  ASSERT_GE(joiner, 0);
  reader.add_node(cluster.location(joiner));
  live.push_back(joiner);
  const bool settled = WaitFor([&] { return Settled(cluster, live, keys, kKeys); }, 60000, 200);
  const bool read_after = reader.wait_passes(1, 60000);
  reader.stop();
  std::cout << "weighted join reader: " << reader.report() << std::endl;
  ASSERT_TRUE(settled) << "handoff not done within 60 s\n" << Diagnose(cluster, live, keys);
  EXPECT_TRUE(read_after);
  // Where the keys that were reported missing moved: to the joiner, or between old nodes.
  const auto after = RingFromView(cluster, live[0]);
  int to_joiner = 0, between_old = 0;
  for (const auto& key : reader.missing_keys()) {
    if (MemberName(after->owner(key)) == MemberName(cluster.location(joiner))) {
      ++to_joiner;
    } else {
      ++between_old;
    }
  }
  EXPECT_EQ(reader.missing(), 0) << reader.report() << "\nmissing keys that moved to the joiner: "
                                 << to_joiner << ", that moved between old nodes: " << between_old
                                 << "\n" << RingAndHandoffLines(cluster, live);
  EXPECT_EQ(reader.wrong(), 0) << reader.report();
  EXPECT_EQ(reader.errors(), 0) << reader.report();

  EXPECT_EQ(SumOfKeys(cluster, live), kKeys);
  const auto joiner_stats = Stats(cluster, joiner);
  const double share = static_cast<double>(joiner_stats.at("keys")) / kKeys;
  const int64_t out = SumOfStat(cluster, live, "handoff_records_out");
  std::cout << "weight-2 joiner holds " << share << " of the keys; " << out
            << " records were handed off, " << joiner_stats.at("handoff_records_in")
            << " of them to the joiner" << std::endl;
  EXPECT_GE(share, 0.4 / 1.25);
  EXPECT_LE(share, 0.4 * 1.25);
  ExpectEveryKeyReadsThrough(cluster, live, kKeys);
}

TEST(StoreCluster, CleanLeaveHandsEveryKeyOffAndReadsNeverMiss) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(kKeys);
  Prime(*RingAwareClient(cluster, live), kKeys);
  const int leaver = live[1];
  const int64_t leaver_keys = Stats(cluster, leaver).at("keys");
  ASSERT_GT(leaver_keys, 0);

  const std::vector<int> survivors = {live[0], live[2]};
  Reader reader(Locations(cluster, survivors), Locations(cluster, survivors), kKeys);
  reader.start();
  ASSERT_TRUE(reader.wait_passes(1, 60000)) << reader.report();

  const auto t0 = Clock::now();
  const int status = cluster.terminate(leaver);
  const double leave_s = Seconds(t0);
  EXPECT_EQ(status, 0) << cluster.log(leaver);
  // Its log says it handed its keys off after the signal, all of them, then left.
  const std::string log = cluster.log(leaver);
  const size_t signal_at = log.find("handing keys off before leaving");
  ASSERT_NE(signal_at, std::string::npos) << log;
  const std::string after = log.substr(signal_at);
  // Every "handed off N in ..." line after the signal.
  int64_t handed_off = 0;
  const std::string marker = "handed off ";
  for (size_t at = after.find(marker); at != std::string::npos; at = after.find(marker, at + 1)) {
    const size_t from = at + marker.size();
    const size_t to = after.find_first_not_of("0123456789", from);
    if (to == from || to == std::string::npos || after.compare(to, 4, " in ") != 0) continue;
    handed_off += std::stoll(after.substr(from, to - from));
  }
  EXPECT_EQ(handed_off, leaver_keys) << after;
  EXPECT_NE(after.find("left the cluster"), std::string::npos) << after;

  ASSERT_TRUE(WaitFor([&] { return Settled(cluster, survivors, keys, kKeys); }, 30000, 200))
      << "the survivors did not settle on 20000 keys\n" << Diagnose(cluster, survivors, keys);
  ASSERT_TRUE(reader.wait_passes(1, 60000)) << reader.report();
  reader.stop();
  std::cout << "clean leave took " << leave_s << " s; reader: " << reader.report() << std::endl;
  EXPECT_EQ(reader.missing(), 0) << reader.report();
  EXPECT_EQ(reader.wrong(), 0) << reader.report();
  EXPECT_EQ(reader.errors(), 0) << reader.report();

  EXPECT_EQ(SumOfKeys(cluster, survivors), kKeys);
  ExpectEveryKeyReadsThrough(cluster, survivors, kKeys);
  // The survivors know the leaver as LEFT.
  for (int i : survivors) {
    std::vector<locator::wire::Member> members;
    cluster.pool().call(cluster.location(i), [&](diststore::wire::StoreClient& c) { c.members(members); });
    bool left = false;
    for (const auto& member : members) {
      if (MemberName(member.location) == MemberName(cluster.location(leaver))) {
        left = member.state == locator::wire::MemberState::LEFT;
      }
    }
    EXPECT_TRUE(left) << "node " << i << " does not know the leaver as LEFT";
  }
}

TEST(StoreCluster, EraseThroughANonOwnerAndItsTombstoneMovesOnAJoin) {
  constexpr int kN = 4000;
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  Prime(*RingAwareClient(cluster, live), kN);
  const auto keys = KeyRange(kN);

  // Erase every fourth key, each through a node that does not own it.
  auto ring = RingFromView(cluster, live[0]);
  std::set<std::string> erased;
  for (int k = 0; k < kN; k += 4) {
    const std::string owner = MemberName(ring->owner(Key(k)));
    int via = -1;
    for (int i : live) {
      if (MemberName(cluster.location(i)) != owner) via = i;
    }
    ASSERT_GE(via, 0);
    cluster.pool().call(cluster.location(via), [&](diststore::wire::StoreClient& c) { c.erase(Key(k), diststore::wire::Consistency::DEFAULT); });
    erased.insert(Key(k));
  }
  // Erasing a key that does not exist is not an error.
  cluster.pool().call(cluster.location(live[0]),
                      [&](diststore::wire::StoreClient& c) { c.erase("never-written", diststore::wire::Consistency::DEFAULT); });

  auto check_erased = [&](const std::vector<int>& nodes) {
    for (int i : nodes) {
      const auto got = ReadThrough(cluster, i, keys);
      int wrong = 0;
      for (int k = 0; k < kN; ++k) {
        const bool gone = erased.count(Key(k)) != 0;
        auto it = got.find(Key(k));
        if (gone ? it != got.end() : (it == got.end() || it->second != Value(k))) ++wrong;
      }
      EXPECT_EQ(wrong, 0) << "through node " << i;
      // The single-key path says NotFound too.
      for (int k = 0; k < kN; k += 400) {
        std::string value;
        EXPECT_THROW(cluster.pool().call(cluster.location(i),
                                         [&](diststore::wire::StoreClient& c) { c.get(value, Key(k), diststore::wire::Consistency::DEFAULT); }),
                     diststore::wire::NotFound)
            << Key(k) << " through node " << i;
      }
    }
  };
  check_erased(live);
  EXPECT_EQ(SumOfKeys(cluster, live), kN - static_cast<int64_t>(erased.size()));

  // A fourth node joins: the erased keys it now owns arrive as tombstones.
  const int joiner = cluster.start(RocksArgs(cluster, "node3"));
  ASSERT_GE(joiner, 0);
  live.push_back(joiner);
  ASSERT_TRUE(WaitFor([&] { return Settled(cluster, live, keys, kN - erased.size()); }, 60000, 200))
      << "handoff did not settle\n" << Diagnose(cluster, live, keys);
  check_erased(live);

  ring = RingFromView(cluster, joiner);
  const auto held = Held(cluster, joiner, std::vector<std::string>(erased.begin(), erased.end()));
  int joiner_owns = 0;
  for (const auto& key : erased) {
    if (MemberName(ring->owner(key)) != MemberName(cluster.location(joiner))) continue;
    ++joiner_owns;
    auto it = held.find(key);
    ASSERT_NE(it, held.end()) << "the tombstone of " << key << " did not move to the joiner";
    EXPECT_TRUE(it->second.tombstone) << key;
    EXPECT_GT(it->second.version, 0) << key;
  }
  EXPECT_GT(joiner_owns, 100) << "the joiner should own some erased keys";
  EXPECT_EQ(held.size(), static_cast<size_t>(joiner_owns));
}

TEST(StoreCluster, BatchesAcrossOwnersThroughANonOwner) {
  constexpr int kN = 3000;
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  const auto keys = KeyRange(kN);
  auto ring = RingFromView(cluster, live[0]);

  // A batch sent to node 0 holding only keys node 0 does not own, spread over both others.
  const std::string entry_name = MemberName(cluster.location(live[0]));
  std::vector<diststore::wire::Entry> entries;
  std::vector<std::string> foreign;
  std::map<std::string, int> per_owner;
  for (int k = 0; k < kN; ++k) {
    const std::string owner = MemberName(ring->owner(Key(k)));
    if (owner == entry_name) continue;
    diststore::wire::Entry e;
    e.key = Key(k);
    e.value = Value(k);
    entries.push_back(e);
    foreign.push_back(Key(k));
    ++per_owner[owner];
  }
  ASSERT_EQ(per_owner.size(), 2u);
  cluster.pool().call(cluster.location(live[0]), [&](diststore::wire::StoreClient& c) { c.multi_put(entries, diststore::wire::Consistency::DEFAULT); });
  EXPECT_EQ(Stats(cluster, live[0]).at("keys"), 0) << "the entry node stored keys it does not own";
  EXPECT_GE(Stats(cluster, live[0]).at("forwarded"), 2);

  // Each owner holds exactly its share.
  for (int i : {live[1], live[2]}) {
    const auto held = Held(cluster, i, foreign);
    EXPECT_EQ(static_cast<int>(held.size()), per_owner[MemberName(cluster.location(i))]);
    for (const auto& [key, record] : held) {
      EXPECT_EQ(MemberName(ring->owner(key)), MemberName(cluster.location(i))) << key;
    }
  }

  // A batch over every key (all three owners) through node 1, then multi_get through node 0
  // with absent keys mixed in.
  entries.clear();
  for (int k = 0; k < kN; ++k) {
    diststore::wire::Entry e;
    e.key = Key(k);
    e.value = Value(k);
    entries.push_back(e);
  }
  cluster.pool().call(cluster.location(live[1]), [&](diststore::wire::StoreClient& c) { c.multi_put(entries, diststore::wire::Consistency::DEFAULT); });
  EXPECT_EQ(SumOfKeys(cluster, live), kN);
  std::vector<std::string> wanted = keys;
  for (int k = 0; k < 50; ++k) wanted.push_back("absent-" + std::to_string(k));
  std::map<std::string, std::string> got;
  cluster.pool().call(cluster.location(live[0]), [&](diststore::wire::StoreClient& c) { c.multi_get(got, wanted, diststore::wire::Consistency::DEFAULT); });
  EXPECT_EQ(got.size(), static_cast<size_t>(kN));
  int wrong = 0;
  for (int k = 0; k < kN; ++k) wrong += got[Key(k)] != Value(k);
  EXPECT_EQ(wrong, 0);
  EXPECT_TRUE(Settled(cluster, live, keys, kN));

  // A batch over the limit of 10000 entries is refused whole.
  std::vector<std::string> too_many(10001);
  for (size_t k = 0; k < too_many.size(); ++k) too_many[k] = "many-" + std::to_string(k);
  try {
    cluster.pool().call(cluster.location(live[0]), [&](diststore::wire::StoreClient& c) { c.multi_get(got, too_many, diststore::wire::Consistency::DEFAULT); });
    ADD_FAILURE() << "a multi_get of 10001 keys was accepted";
  } catch (const diststore::wire::StoreError& e) {
    EXPECT_NE(e.message.find("10000"), std::string::npos) << e.message;
  }
}

// Requests a node forwards wait for the owner holding no call worker (continuation calls,
// store_calls.h). With the owner stopped (SIGSTOP), 15 gets, puts, erases, multi_gets and
// multi_puts forwarded to it (the batches with a key of this node too) wait on a node with 4
// workers; that node still answers a key it owns at once; once the owner goes on, every
// forwarded request is answered. (With a worker held per forwarded call, the 4 workers wait
// for the stopped owner and the local read waits behind them.)
TEST(StoreCluster, RequestsWaitingOnAStoppedOwnerHoldNoWorker) {
  constexpr size_t kWaiting = 15;
  SingleCopyCluster cluster;
  // Slow failure detection: the stopped owner must stay a member while the requests wait (a
  // sanitized build polls slowly; once it is DEAD, requests reroute and are answered).
  const int a = cluster.start({"--rpc-threads=4", "--probe-interval-ms=20000"});
  const int b = cluster.start({"--probe-interval-ms=20000"});
  ASSERT_TRUE(WaitFor([&] { return RingsAre(cluster, {a, b}, {a, b}); }, 20000, 50));
  const auto ring = RingFromView(cluster, a);
  std::vector<std::string> of_b, of_a;
  for (int i = 0; (of_b.size() < kWaiting || of_a.empty()) && i < 10000; ++i) {
    const std::string key = "wait-" + std::to_string(i);
    const bool owned_by_b = ring->owner(key).port == cluster.port(b);
    if (owned_by_b && of_b.size() < kWaiting) of_b.push_back(key);
    if (!owned_by_b && of_a.empty()) of_a.push_back(key);
  }
  ASSERT_EQ(of_b.size(), kWaiting);
  auto& pool = cluster.client_pool();
  for (const auto& key : of_b) {
    pool.call(cluster.location(a), [&](diststore::wire::StoreClient& c) {
      c.put(key, "v-" + key, diststore::wire::Consistency::DEFAULT);
    });
  }
  pool.call(cluster.location(a), [&](diststore::wire::StoreClient& c) {
    c.put(of_a[0], "mine", diststore::wire::Consistency::DEFAULT);
  });
  const int64_t forwarded_before = Stats(cluster, a).at("forwarded");

  std::atomic<int> answered{0}, right{0};
  std::mutex answered_mu;
  std::string answered_early;  // "i (kind) after N ms; ..." of each answer, for a failure
  const auto stopped_at = std::chrono::steady_clock::now();
  StoppedProcess owner(cluster.pid(b));  // whatever happens below, it goes on at the end
  ASSERT_TRUE(owner.stopped());
  for (size_t i = 0; i < of_b.size(); ++i) {
    owner.threads.emplace_back([&, i] {
      rpc::PoolOptions options;
      options.call_timeout_ms = 20000;
      rpc::ConnectionPool<diststore::wire::StoreClient> own(options);  // a connection each
      const std::string& key = of_b[i];
      try {
        own.call(cluster.location(a), [&](diststore::wire::StoreClient& c) {
          switch (i % 5) {
            case 0: {
              std::string value;
              c.get(value, key, diststore::wire::Consistency::DEFAULT);
              if (value == "v-" + key) ++right;
              break;
            }
            case 1:
              c.put(key, "v2-" + key, diststore::wire::Consistency::DEFAULT);
              ++right;
              break;
            case 2:
              c.erase(key, diststore::wire::Consistency::DEFAULT);
              ++right;
              break;
            case 3: {
              std::map<std::string, std::string> found;
              c.multi_get(found, {key, of_a[0]}, diststore::wire::Consistency::DEFAULT);
              const std::map<std::string, std::string> expected = {{key, "v-" + key},
                                                                   {of_a[0], "mine"}};
              if (found == expected) ++right;
              break;
            }
            default: {
              std::vector<diststore::wire::Entry> batch(2);
              batch[0].key = key;
              batch[0].value = "v2-" + key;
              batch[1].key = of_a[0];
              batch[1].value = "mine";
              c.multi_put(batch, diststore::wire::Consistency::DEFAULT);
              ++right;
            }
          }
        });
      } catch (const std::exception& e) {
        ADD_FAILURE() << "forwarded request " << i << " failed: " << e.what();
      }
      {
        static const char* const kKinds[] = {"get", "put", "erase", "multi_get", "multi_put"};
        std::lock_guard<std::mutex> lock(answered_mu);
        answered_early += std::to_string(i) + " (" + kKinds[i % 5] + ") after " +
                          std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::steady_clock::now() - stopped_at)
                                             .count()) +
                          " ms; ";
      }
      ++answered;
    });
  }
  const bool all_waiting = WaitFor(
      [&] {
        try {
          return Stats(cluster, a).at("forwarded") >=
                 forwarded_before + static_cast<int64_t>(kWaiting);
        } catch (const std::exception&) {
          return false;  // no worker free to answer (what this test is about)
        }
      },
      10000, 20);
  EXPECT_TRUE(all_waiting) << "the forwarded requests did not all reach the owner's channel";
  {
    std::lock_guard<std::mutex> lock(answered_mu);
    EXPECT_EQ(answered.load(), 0) << "answered while the owner was stopped: " << answered_early
                                  << "a's stats: forwarded " << Stats(cluster, a).at("forwarded")
                                  << " (before " << forwarded_before << "), rerouted "
                                  << Stats(cluster, a).at("rerouted");
  }
  // A key the node owns, on another connection: answered within the pool's call deadline.
  rpc::PoolOptions quick;
  quick.call_timeout_ms = 3000;
  rpc::ConnectionPool<diststore::wire::StoreClient> other(quick);
  std::string mine;
  EXPECT_NO_THROW(other.call(cluster.location(a), [&](diststore::wire::StoreClient& c) {
    c.get(mine, of_a[0], diststore::wire::Consistency::DEFAULT);
  })) << "the node's workers were all held by requests waiting on the stopped owner";
  EXPECT_EQ(mine, "mine");

  ASSERT_TRUE(owner.resume());
  EXPECT_EQ(answered.load(), static_cast<int>(kWaiting));
  EXPECT_EQ(right.load(), static_cast<int>(kWaiting));
}

TEST(StoreCluster, OversizedKeysAndValuesAreRefusedWithAClearErrorAndNothingIsStored) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  auto ring_client = RingAwareClient(cluster, live);
  client::ClientOptions direct_options;
  direct_options.seeds = {cluster.location(live[0])};
  direct_options.ring_aware = false;
  client::ClusterClient direct(direct_options);

  const std::string big_key(64 * 1024 + 1, 'k');
  const std::string max_key(64 * 1024, 'k');
  const std::string big_value(16 * 1024 * 1024 + 1, 'v');

  for (client::ClusterClient* c : {ring_client.get(), &direct}) {
    try {
      c->put(big_key, "x");
      ADD_FAILURE() << "a key of 65537 bytes was stored";
    } catch (const client::ClientError& e) {
      EXPECT_NE(std::string(e.what()).find("65536"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--max-key-bytes"), std::string::npos) << e.what();
    }
    try {
      c->put("big-value", big_value);
      ADD_FAILURE() << "a value of 16 MiB + 1 was stored";
    } catch (const client::ClientError& e) {
      EXPECT_NE(std::string(e.what()).find("16777216"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("--max-value-bytes"), std::string::npos) << e.what();
    }
    EXPECT_THROW(c->get(big_key), client::ClientError);
    EXPECT_THROW(c->put("", "x"), client::ClientError);
  }
  EXPECT_FALSE(ring_client->get("big-value").has_value());
  EXPECT_EQ(SumOfKeys(cluster, live), 0);

  // At the limits exactly: stored and read back.
  ring_client->put(max_key, "at the key limit");
  EXPECT_EQ(ring_client->get(max_key).value_or(""), "at the key limit");
  const std::string max_value(16 * 1024 * 1024, 'm');
  direct.put("max-value", max_value);
  EXPECT_EQ(ring_client->get("max-value").value_or("").size(), max_value.size());
  EXPECT_EQ(SumOfKeys(cluster, live), 2);
}

// A value far over the limit (more than twice it, past what the node's Thrift protocol reads
// into memory) must still get an error that names the limit, not a dropped connection.
TEST(StoreCluster, AValueFarOverTheLimitGetsAClearErrorToo) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  auto client = RingAwareClient(cluster, live);
  const std::string huge(40 * 1024 * 1024, 'h');
  try {
    client->put("huge", huge);
    ADD_FAILURE() << "a value of 40 MiB was stored";
  } catch (const client::ClientError& e) {
    EXPECT_NE(std::string(e.what()).find("--max-value-bytes"), std::string::npos)
        << "the error does not name the limit: " << e.what();
  }
  EXPECT_FALSE(client->get("huge").has_value());
  EXPECT_EQ(SumOfKeys(cluster, live), 0);
}

// A batch with one oversized value among keys of several owners fails whole: nothing of it is
// stored, whichever client sends it.
TEST(StoreCluster, OversizedValueInABatchStoresNothingOfTheBatch) {
  SingleCopyCluster cluster;
  std::vector<int> live = StartNodes(cluster, 3);
  ASSERT_EQ(live.size(), 3u);
  std::vector<diststore::wire::Entry> entries;
  for (int k = 0; k < 300; ++k) {
    diststore::wire::Entry e;
    e.key = Key(k);
    e.value = Value(k);
    entries.push_back(e);
  }
  entries[150].value = std::string(16 * 1024 * 1024 + 1, 'v');

  client::ClientOptions direct_options;
  direct_options.seeds = {cluster.location(live[0])};
  direct_options.ring_aware = false;
  client::ClusterClient direct(direct_options);
  EXPECT_THROW(direct.multi_put(entries), client::ClientError);
  EXPECT_EQ(SumOfKeys(cluster, live), 0) << "a non-ring-aware batch was partly stored";

  auto ring_client = RingAwareClient(cluster, live);
  try {
    ring_client->multi_put(entries);
    ADD_FAILURE() << "a batch with a value of 16 MiB + 1 was accepted";
  } catch (const client::ClientError& e) {
    EXPECT_NE(std::string(e.what()).find("--max-value-bytes"), std::string::npos) << e.what();
  }
  EXPECT_EQ(SumOfKeys(cluster, live), 0) << "a ring-aware batch was partly stored";
}

}  // namespace
}  // namespace thrifty::testing
