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

  // Each throws wire::NotFound (get), or wire::StoreError (a limit, an unreachable owner, a
  // storage failure, a key whose owner is DEAD), with nothing changed unless it says so; with
  // replicas also wire::Unavailable (fewer live replicas than `level` needs: nothing done) and,
  // for writes, wire::TimedOut (some replicas stored it, fewer than needed).
  std::string get(const std::string& key, Consistency level = wire::Consistency::DEFAULT);
  void put(const std::string& key, const std::string& value,
           Consistency level = wire::Consistency::DEFAULT);
  void erase(const std::string& key, Consistency level = wire::Consistency::DEFAULT);
  std::map<std::string, std::string> multi_get(const std::vector<std::string>& keys,
                                               Consistency level = wire::Consistency::DEFAULT);
  void multi_put(const std::vector<wire::Entry>& entries,
                 Consistency level = wire::Consistency::DEFAULT);

  // get(), put() and erase() answered through `done` instead of returned (request_router_async.cc):
  // `done` runs exactly once, with the result or the exception the blocking form throws, on
  // this thread or on a peer channel's loop thread. A key another node owns is forwarded with
  // an asynchronous call, so no thread waits for the owner (the Store connection's
  // continuation call, store_calls.h, answers from `done`). What stays on this node runs here
  // before this returns.
  void get_async(std::string key, Consistency level, rpc::OutcomeHandler<std::string> done);
  void put_async(std::string key, std::string value, Consistency level,
                 rpc::OutcomeHandler<bool> done);
  void erase_async(std::string key, Consistency level, rpc::OutcomeHandler<bool> done);

  // owner_put as a peer sent it: with replicas, unversioned records are led here
  // (ReplicaWriter), versioned ones are this node's copy (OwnerStore).
  void owner_put(std::vector<wire::Record> records, Consistency level);

 private:
  // Runs fn(snapshot, ring) on the routing ring of the current snapshot; if it throws
  // StoreError and the ring has changed since, once more on the new one.
  template <typename Fn>
  auto routed(Fn&& fn)
      -> decltype(fn(std::declval<const locator::ClusterSnapshot&>(),
                     std::declval<const locator::Ring&>()));
  std::string get_on(const locator::ClusterSnapshot& snapshot, const locator::Ring& ring,
                     const std::string& key);
  std::map<std::string, std::string> multi_get_on(const locator::ClusterSnapshot& snapshot,
                                                  const locator::Ring& ring,
                                                  const std::vector<std::string>& keys);
  void write_on(const locator::ClusterSnapshot& snapshot, const locator::Ring& ring,
                const std::vector<wire::Record>& records);
  // The replicated paths (--replicas > 1).
  std::vector<std::optional<storage::Record>> read_replicated(const std::vector<std::string>& keys,
                                                              Consistency level);
  void write_replicated(const std::vector<wire::Record>& records, Consistency level);
  // Sends each record to its leader: its first live replica not in `unreachable` (this node's
  // ReplicaWriter, or owner_put_async), and returns; `done` runs once when every leader
  // answered (on this thread, a peer channel's loop or `fan_out_`). A leader that cannot be
  // reached (no connection, or closed before answering) is added to `unreachable` and the
  // next one leads (from `fan_out_`: reporting the failure may block).
  void write_via_leaders(std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                         std::vector<wire::Record> records, Consistency level,
                         std::set<std::string> unreachable, rpc::OutcomeHandler<bool> done);
  // The single-copy get and write of one key as of `snapshot`, answered through `done`; on a
  // failure after the ring changed, once more on the new one (as routed()), unless `rerouted`.
  void get_async_on(std::string key, std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                    bool rerouted, rpc::OutcomeHandler<std::string> done);
  void put_async_on(wire::Record record, std::shared_ptr<const locator::ClusterSnapshot> snapshot,
                    bool rerouted, rpc::OutcomeHandler<bool> done);
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
