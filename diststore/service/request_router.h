// RequestRouter: where a client request goes. Any node accepts any request; the router sends
// each key to its owner (this node's OwnerStore, or one hop away with owner_get/owner_put),
// groups batches per owner and calls them in parallel (Scatter), and answers.
//
// Each request takes one ClusterSnapshot and routes by it alone. If an owner fails and the
// cluster's ring has changed since (it left or died while the request was in flight), the
// request is routed once more on the new snapshot (`rerouted`).
//
// With --replicas > 1 each key has a ReplicaSet instead of one owner: reads go to the
// ReplicaReader (R replies, newest wins, read repair), writes to each key's leader (its
// first live replica: this node's ReplicaWriter, or one hop away with owner_put), which
// stamps them and waits for W replicas. Each call names its consistency level or takes the
// node's default. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "Store.h"
#include "diststore/limits/store_limits.h"
#include "diststore/service/cluster_view.h"
#include "diststore/service/lifetime.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replica_reader.h"
#include "diststore/service/replica_set.h"
#include "diststore/service/replica_writer.h"
#include "diststore/service/replication.h"
#include "diststore/service/scatter.h"
#include "diststore/service/store_counters.h"
#include "locator/rpc/fan_out.h"

namespace thrifty::diststore {

class RequestRouter {
 public:
  // Every reference must outlive this object. `fan_out` runs what may block after a leader's
  // call failed (reporting it, routing to the next leader); it must be joined after this
  // object is destroyed. Its tasks never wait.
  RequestRouter(ClusterView& cluster, OwnerStore& owner, PeerClient& peers, MovingKeys& moving,
                ReplicaReader& reader, ReplicaWriter& writer, rpc::FanOut& fan_out,
                const StoreLimits& limits, const ReplicationOptions& replication,
                StoreCounters& counters);

  // Client requests, answered through `done` instead of returned: `done` runs exactly once,
  // with the result or the exception the request fails with, on this thread (before this
  // returns) or on a peer channel's loop thread (where it must not block). A key another node
  // owns is forwarded with an asynchronous call, so no thread waits for the owner (the Store
  // connection's continuation calls, store_calls.h, answer from `done`). What stays on this
  // node runs here before this returns.
  //
  // The failures: wire::NotFound (get), or wire::StoreError (a limit, an unreachable owner, a
  // storage failure, a key whose owner is DEAD), with nothing changed unless it says so; with
  // replicas also wire::Unavailable (fewer live replicas than `level` needs: nothing done)
  // and, for writes, wire::TimedOut (some replicas stored it, fewer than needed). A multi_get
  // leaves out the keys that do not exist; a multi_put that fails on one owner says whether
  // other owners' keys were written.
  void get_async(std::string key, Consistency level, rpc::OutcomeHandler<std::string> done);
  void put_async(std::string key, std::string value, Consistency level,
                 rpc::OutcomeHandler<bool> done);
  void erase_async(std::string key, Consistency level, rpc::OutcomeHandler<bool> done);
  void multi_get_async(std::vector<std::string> keys, Consistency level,
                       rpc::OutcomeHandler<std::map<std::string, std::string>> done);
  void multi_put_async(std::vector<wire::Entry> entries, Consistency level,
                       rpc::OutcomeHandler<bool> done);

  // owner_put as a peer sent it, answered the same way: with replicas, unversioned records are
  // led here (ReplicaWriter::lead_async, which waits for the other replicas through `done`),
  // versioned ones are this node's copy (OwnerStore, here).
  void owner_put_async(std::vector<wire::Record> records, Consistency level,
                       rpc::OutcomeHandler<bool> done);

  // The same, waiting: each returns once its `done` ran, or throws what `done` got. Never on a
  // peer channel's loop thread (the calls it waits for complete there).
  std::string get(const std::string& key, Consistency level = wire::Consistency::DEFAULT);
  void put(const std::string& key, const std::string& value,
           Consistency level = wire::Consistency::DEFAULT);
  void erase(const std::string& key, Consistency level = wire::Consistency::DEFAULT);
  std::map<std::string, std::string> multi_get(const std::vector<std::string>& keys,
                                               Consistency level = wire::Consistency::DEFAULT);
  void multi_put(const std::vector<wire::Entry>& entries,
                 Consistency level = wire::Consistency::DEFAULT);
  void owner_put(std::vector<wire::Record> records, Consistency level);

 private:
  using Found = std::map<std::string, std::string>;
  // Sends each record to its leader: its first live replica not in `unreachable` (this node's
  // ReplicaWriter, or owner_put_async), and returns; `done` runs once when every leader
  // answered (on this thread, a peer channel's loop or `fan_out_`). A leader that cannot be
  // reached (no connection, or closed before answering) is added to `unreachable` and the
  // next one leads (from `fan_out_`: reporting the failure may block).
  void write_via_leaders(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                         std::vector<wire::Record> records, Consistency level,
                         std::set<std::string> unreachable, rpc::OutcomeHandler<bool> done);
  // The single-copy forms as of `snapshot`, answered through `done`. On a StoreError after the
  // ring changed (an owner left or died while the request was in flight, and this node heard
  // of it meanwhile) the request is routed once more on the new snapshot, unless `rerouted`.
  void get_async_on(std::string key, std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                    bool rerouted, rpc::OutcomeHandler<std::string> done);
  // Each owner's keys in one call, all owners at once, this node's share read here.
  void multi_get_async_on(std::shared_ptr<const std::vector<std::string>> keys,
                          std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                          bool rerouted, rpc::OutcomeHandler<Found> done);
  // put, erase and multi_put: each owner's records in one call, this node's share written here.
  void write_async_on(std::shared_ptr<const std::vector<wire::Record>> records,
                      std::shared_ptr<const locator::ClusterSnapshot> snapshot, bool rerouted,
                      rpc::OutcomeHandler<bool> done);
  // Runs `retry` on the fan-out pool: a reroute never runs on a peer channel's loop (the new
  // owner may be this node, whose read can wait on other peers through that very loop).
  void run_rerouted(std::function<void()> retry);
  // Unless the request was `rerouted` already: the current snapshot if its routing ring
  // differs from `before`'s (the ring changed since the request routed by `before`; counted as
  // rerouted), else null.
  std::shared_ptr<const locator::ClusterSnapshot> reroute(const locator::ClusterSnapshot& before,
                                                          bool rerouted);
  bool replicated() const { return replication_.replicas > 1; }
  // A remote owner's failure as the client sees it: its own StoreError's message, or, for any
  // other failure, "owner ... is unreachable (...)", reported to the cluster view.
  std::string describe_failure(const locator::wire::Location& owner, const std::exception_ptr& error);

  ClusterView& cluster_;
  OwnerStore& owner_;
  PeerClient& peers_;
  MovingKeys& moving_;
  ReplicaReader& reader_;
  ReplicaWriter& writer_;
  rpc::FanOut& fan_out_;
  const StoreLimits& limits_;
  const ReplicationOptions& replication_;
  StoreCounters& counters_;
  const std::string self_name_;
  Lifetime life_;  // last: ends first
};

}  // namespace thrifty::diststore
