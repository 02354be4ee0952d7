// Checks shared by the storeserver cluster tests (store_cluster_test, store_restart_test): key
// names, starting RocksDB nodes, and reading a node's ring, stats and stored records to judge
// whether handoff is done. Every function that talks to a node goes through cluster.pool() and
// lets its errors (rpc exceptions, transport errors) propagate unless its comment says otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "Store.h"
#include "diststore/client/cluster_client.h"
#include "locator/service/ring.h"
#include "tests/cluster/harness.h"

namespace thrifty::testing {

// "key-<i>".
std::string Key(int i);
// name(0) .. name(n - 1), in that order (by default "key-0" .. "key-<n-1>").
std::vector<std::string> KeyRange(int n, std::string (*name)(int) = Key);

// Seconds from `since` to now.
double Seconds(std::chrono::steady_clock::time_point since);

// A ring-aware client seeded with the given nodes of `cluster`.
std::unique_ptr<client::ClusterClient> RingAwareClient(Cluster& cluster, const std::vector<int>& nodes);

// The node arguments for a RocksDB data dir named `name` under the cluster's directory.
std::vector<std::string> RocksArgs(Cluster& cluster, const std::string& name);

// Starts n RocksDB nodes (data dirs "node<index>", each with `extra` arguments too) and waits
// up to `timeout_ms` until they agree on the ring. Returns their indexes; on failure, fails the
// test and returns an empty vector.
std::vector<int> StartNodes(Cluster& cluster, int n, const std::vector<std::string>& extra = {},
                            int timeout_ms = 10000);

// The member names in node i's ring (get_all). Throws if the node does not answer.
std::set<std::string> RingOf(Cluster& cluster, int i);

// True if every node in `asked` has exactly the nodes in `expected` in its ring; false if one
// differs or does not answer (never throws).
bool RingsAre(Cluster& cluster, const std::vector<int>& asked, const std::vector<int>& expected);

// Node i's member states by node index (members it does not list are absent). Throws if the
// node does not answer.
std::map<int, locator::wire::MemberState::type> StatesSeenBy(Cluster& cluster, int i);

// Node i's stats counters. Throws if the node does not answer.
std::map<std::string, int64_t> Stats(Cluster& cluster, int i);
// Node i's "keys" counter (live keys it stores). Throws if the node does not answer.
int64_t KeysOn(Cluster& cluster, int i);
// The sum of stat `name` over `nodes`. Throws if a node does not answer or lacks the stat.
int64_t SumOfStat(Cluster& cluster, const std::vector<int>& nodes, const std::string& name);
// The sum of the "keys" counters of the nodes in `live`. Throws if one does not answer.
int64_t SumOfKeys(Cluster& cluster, const std::vector<int>& live);

// The ring node i routes with, rebuilt here from its view (ALIVE and SUSPECT members). Throws if
// the node does not answer.
std::shared_ptr<const locator::Ring> RingFromView(Cluster& cluster, int i);

// What node i has stored for `keys` (tombstones too), by key: owner_get without fallback reads
// only its own engine. Throws if the node does not answer.
std::map<std::string, diststore::wire::Record> Held(Cluster& cluster, int i, const std::vector<std::string>& keys);

// multi_get of `keys` sent to node i itself (it forwards to the owners), in batches; the keys
// found and their values. Throws on the first batch that fails (e.g. a StoreError).
std::map<std::string, std::string> ReadThrough(Cluster& cluster, int i,
                                               const std::vector<std::string>& keys);

// Where `keys` are stored over the live nodes, judged by the ring of live.front().
struct Layout {
  std::map<int, int64_t> held;  // records (tombstones too) per node
  int64_t misplaced = 0;        // records on a node that does not own the key
  int64_t duplicated = 0;       // keys stored on more than one node
  int64_t absent = 0;           // keys stored nowhere
  std::string example;          // one misplaced or duplicated key, for messages
};
// Throws if a node does not answer.
Layout Inspect(Cluster& cluster, const std::vector<int>& live, const std::vector<std::string>& keys);

// Handoff is done: the live nodes agree on the ring (of exactly `live`), each of `keys` is stored
// exactly once and on its owner, and the live keys add up to `live_keys`. False otherwise, and
// false if a node does not answer (never throws).
bool Settled(Cluster& cluster, const std::vector<int>& live, const std::vector<std::string>& keys,
             int64_t live_keys);

// put and get of one key sent to node `via` as a client, at `level` (replicated clusters).
// Throw what the node answers (Unavailable, TimedOut, NotFound, ...).
void PutAtLevel(Cluster& cluster, int via, const std::string& key, const std::string& value,
                diststore::wire::Consistency::type level);
std::string GetAtLevel(Cluster& cluster, int via, const std::string& key,
                       diststore::wire::Consistency::type level);

}  // namespace thrifty::testing
