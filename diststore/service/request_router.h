// RequestRouter: where a client request goes. Any node accepts any request; the router sends
// each key to its owner (this node's OwnerStore, or one hop away with owner_get/owner_put),
// groups batches per owner and calls them in parallel (Scatter), and answers.
//
// Each request takes one ClusterSnapshot and routes by it alone. If an owner fails and the
// cluster's ring has changed since (it left or died while the request was in flight), the
// request is routed once more on the new snapshot (`rerouted`). Thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "Store.h"
#include "diststore/limits/store_limits.h"
#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/scatter.h"
#include "diststore/service/store_counters.h"
#include "locator/rpc/fan_out.h"

namespace thrifty::diststore {

class RequestRouter {
 public:
  // Every reference must outlive this object.
  RequestRouter(ClusterView& cluster, OwnerStore& owner, PeerClient& peers, MovingKeys& moving,
                rpc::FanOut& fan_out, const StoreLimits& limits, StoreCounters& counters);

  // Each throws wire::NotFound (get), or wire::StoreError (a limit, an unreachable owner, a
  // storage failure, a key whose owner is DEAD), with nothing changed unless it says so.
  std::string get(const std::string& key);
  void put(const std::string& key, const std::string& value);
  void erase(const std::string& key);
  std::map<std::string, std::string> multi_get(const std::vector<std::string>& keys);
  void multi_put(const std::vector<wire::Entry>& entries);

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
  // A remote owner's failure as the client sees it: its own StoreError's message, or, for any
  // other failure, "owner ... is unreachable (...)", reported to the cluster view.
  std::string describe_failure(const locator::wire::Location& owner,
                               const std::exception_ptr& error);

  ClusterView& cluster_;
  OwnerStore& owner_;
  PeerClient& peers_;
  MovingKeys& moving_;
  rpc::FanOut& fan_out_;
  const StoreLimits& limits_;
  StoreCounters& counters_;
  const std::string self_name_;
};

}  // namespace thrifty::diststore
