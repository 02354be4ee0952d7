// OwnerStore: a node's side as the owner of keys. It reads and writes its engine, stamps
// client writes with its hybrid logical clock (so one owner orders every write of a key), and
// takes the node-to-node calls owner_get, owner_put and handoff.
//
// Reads while keys move also ask the other places a key may be (MovingKeys::plan) and keep the
// newer record; a key missing everywhere whose owner is DEAD is unavailable, never NotFound.
// Writes for keys the current ring gives to another node are stamped here and handed on (one
// extra hop at most while views differ). Versions from peers are bounded (see
// HybridLogicalClock::check). Thread-safe.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "Store.h"
#include "diststore/limits/store_limits.h"
#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replication.h"
#include "diststore/service/scatter.h"
#include "diststore/service/store_counters.h"
#include "diststore/storage/engine.h"
#include "diststore/storage/hlc.h"

namespace thrifty::diststore {

class OwnerStore {
 public:
  // Every reference must outlive this object.
  OwnerStore(ClusterView& cluster, storage::Engine& engine, PeerClient& peers,
             MovingKeys& moving, const StoreLimits& limits,
             const ReplicationOptions& replication, StoreCounters& counters);

  // ---- the node-to-node RPCs (each takes the current snapshot) ----
  // Records held here for `keys` (tombstones too); with `fallback`, merged with the copies of
  // the other places a key may be while keys move. Throws wire::StoreError (limits, storage,
  // a missing key whose owner is DEAD).
  std::vector<wire::Record> owner_get(const std::vector<std::string>& keys, bool fallback);
  // The same through `done` (as read_async): a peer's owner_get that asks other holders holds
  // no thread while they answer.
  void owner_get_async(std::vector<std::string> keys, bool fallback,
                       rpc::OutcomeHandler<std::vector<wire::Record>> done);
  // Writes: version 0 is stamped here; other versions are merged (newer wins) if the clock
  // admits them. Throws wire::StoreError, nothing of the batch written for a refused version.
  void owner_put(std::vector<wire::Record> records);
  // The same through `done` (as write_async).
  void owner_put_async(std::vector<wire::Record> records, rpc::OutcomeHandler<bool> done);
  // One batch of a handoff: merged, newer wins, never forwarded.
  wire::HandoffAck handoff(const std::vector<wire::Record>& records, const locator::wire::Location& sender);

  // ---- for the router's local share of a request ----
  using Found = std::vector<std::optional<storage::Record>>;
  // What this node has of `keys` (found[i] for keys[i]); with `fallback` (and one copy of each
  // key), merged with the copies of the holders a moving key may still be on (MovingKeys::plan)
  // as of `snapshot`, and a miss looked up once more as of the current ring if it changed.
  // `done` runs once with the records or a wire::StoreError (storage; a key whose owner is DEAD
  // or did not answer): here, before this returns, when no holder is asked; else on a peer
  // channel's loop thread once the holders answered (the engine's second look runs there).
  void read_async(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                  std::shared_ptr<const std::vector<std::string>> keys, bool fallback,
                  rpc::OutcomeHandler<Found> done);
  // The same, waiting (never on a peer channel's loop thread).
  Found read(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
             const std::vector<std::string>& keys, bool fallback);
  // This node's engine alone. Throws wire::StoreError (storage).
  Found read_here(const std::vector<std::string>& keys);
  // Stores the records `snapshot`'s routing ring gives this node (with replicas: whose replica
  // set holds it) and hands the rest on to their owners (a sender with an older view). `done`
  // runs once with true or a wire::StoreError (a limit, a refused version, storage, an owner
  // that did not take its records): here, before this returns, when nothing is handed on; else
  // on a peer channel's loop thread. `snapshot` is not used after this returns.
  void write_async(const locator::ClusterSnapshot& snapshot, std::vector<wire::Record> records,
                   rpc::OutcomeHandler<bool> done);
  // The same, waiting (never on a peer channel's loop thread).
  void write(const locator::ClusterSnapshot& snapshot, std::vector<wire::Record> records);

  // A node that started with a new host ID (a first join, a wiped data dir, a --memory restart) lacks what its
  // replicas hold until anti-entropy rebuilt its ranges (AntiEntropy::start). Meanwhile it is
  // no replica for reads: owner_get(fallback=false), the replica read of ReplicaReader, throws
  // a StoreError that says so (the reader counts it like a replica that did not answer), and
  // ReplicaReader does not count this node's own share. Writes go through as always. With
  // --replicas > 1 a replicated node ignores `fallback`, so anti-entropy pulls ask with
  // fallback=true and are served.
  void set_rebuilding(bool rebuilding) { rebuilding_.store(rebuilding); }
  bool rebuilding() const { return rebuilding_.load(); }

  // Throws StoreError (versions_refused + 1) naming `call` if a versioned record of `records`
  // is out of the clock's range or more than --max-clock-drift-ms ahead of it: a peer is
  // trusted with the key, not with its clock.
  void check_versions(const std::vector<wire::Record>& records, const std::string& call);

  storage::Engine& engine() { return engine_; }
  storage::HybridLogicalClock& clock() { return clock_; }

 private:
  // read_async() as of `snapshot` alone.
  void read_as_of_async(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                        std::shared_ptr<const std::vector<std::string>> keys,
                        rpc::OutcomeHandler<Found> done);
  // Keeps every record of the holders' answers (`outcomes`, one per holder of `asks`, in its
  // order) newer than found[i]; an unreachable holder is skipped (what we have is the best
  // answer). Returns the names of the holders that failed.
  std::set<std::string> merge_newer_from(
      const HolderAsks& asks, const std::vector<std::string>& keys,
      std::vector<CallOutcome<std::vector<wire::Record>>>& outcomes, Found& found);
  // Throws StoreError if a key still missing is owned, on the routing ring, by a holder that
  // failed: its data exists there, so "not found" would be a lie.
  void check_owners_answered(const locator::ClusterSnapshot& snapshot,
                             const std::vector<std::string>& keys,
                             const std::vector<std::optional<storage::Record>>& found,
                             const HolderAsks& asks, const std::set<std::string>& failed) const;
  void check_unavailable(const locator::ClusterSnapshot& snapshot,
                         const std::vector<std::string>& keys,
                         const std::vector<std::optional<storage::Record>>& found) const;
  void write_local(std::vector<std::pair<std::string, storage::Record>> records);
  // Stamps `records`, stores the ones the routing ring gives this node (with --replicas > 1:
  // the ones whose replica set holds it) and returns the rest by owner (by each live
  // replica). The caller holds MovingKeys::hold_routing().
  void write_mine(const locator::ClusterSnapshot& snapshot, std::vector<wire::Record>& records,
                  std::map<std::string, std::vector<wire::Record>>* elsewhere,
                  std::map<std::string, locator::wire::Location>* owners);
  [[noreturn]] void storage_failed(const std::exception& e) const;

  ClusterView& cluster_;
  storage::Engine& engine_;
  PeerClient& peers_;
  MovingKeys& moving_;
  const StoreLimits& limits_;
  const ReplicationOptions& replication_;
  StoreCounters& counters_;
  storage::HybridLogicalClock clock_;
  const std::string self_name_;
  std::atomic<bool> rebuilding_{false};
};

// The Thrift/engine record conversions.
wire::Record ToRpc(const std::string& key, const storage::Record& record);
storage::Record FromRpc(const wire::Record& record);
// The records found[i] of keys[i] that exist (tombstones included), as the RPCs carry them.
std::vector<wire::Record> ToRpc(const std::vector<std::string>& keys,
                                const std::vector<std::optional<storage::Record>>& found);

}  // namespace thrifty::diststore
