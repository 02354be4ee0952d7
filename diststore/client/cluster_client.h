// ClusterClient: the ring-aware C++ client of a thrifty cluster.
//
// It fetches the cluster's view from a seed node, places keys itself with the cluster's
// placement, and sends each request straight to the key's owner over pooled connections
// (batches grouped per owner, in parallel). When the owner cannot be reached it refreshes the
// view and falls back to any live node, which forwards. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "Store.h"
#include "diststore/limits/store_limits.h"
#include "locator/rpc/connection_pool.h"
#include "locator/rpc/fan_out.h"
#include "locator/service/ring.h"

namespace thrifty::client {

using locator::wire::Location;

// A request could not be served; what() says why in one line.
class ClientError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ClientOptions {
  std::vector<Location> seeds;  // at least one node of the cluster
  // false: every request goes to the first reachable seed, which forwards (no ring in the client).
  bool ring_aware = true;
  rpc::PoolOptions pool;
  int64_t refresh_interval_ms = 5000;  // how old the cached view may get
  // Replicas each request waits for (with --replicas > 1); DEFAULT: the node's default.
  diststore::wire::Consistency::type consistency = diststore::wire::Consistency::DEFAULT;
};

class ClusterClient {
 public:
  // Fetches the view. Throws ClientError if no seed answers.
  explicit ClusterClient(ClientOptions options);

  // The value, or std::nullopt when the key is absent. Throws ClientError (limits, failures).
  std::optional<std::string> get(const std::string& key);
  void put(const std::string& key, const std::string& value);
  void erase(const std::string& key);
  // Values of the keys that exist.
  std::map<std::string, std::string> multi_get(const std::vector<std::string>& keys);
  void multi_put(const std::vector<diststore::wire::Entry>& entries);

  locator::wire::View view();                              // refreshed from the cluster
  // How many times the view was fetched again after construction.
  int64_t refreshes() const { return refreshes_.load(); }
  Location owner(const std::string& key);        // from the cached ring
  std::map<std::string, int64_t> stats(const Location& node);
  rpc::ConnectionPool<diststore::wire::StoreClient>& pool() { return pool_; }

 private:
  struct Snapshot {
    locator::wire::View view;
    std::shared_ptr<const locator::Ring> ring;
    int64_t fetched_ms = 0;
  };
  std::shared_ptr<const Snapshot> snapshot(bool force_refresh);
  std::shared_ptr<const Snapshot> fetch();
  Location entry_node();  // a node to send a request to when not routing ourselves
  // Runs fn on the key's owner; when that fails for the transport, on any other node (which
  // forwards). A request too large for the nodes' frames is tried on none.
  template <typename Fn>
  auto with_owner(const std::string& key, Fn&& fn) -> decltype(fn(std::declval<diststore::wire::StoreClient&>()));
  ClientError too_large(const rpc::RequestTooLarge& e) const;

  ClientOptions options_;
  rpc::ConnectionPool<diststore::wire::StoreClient> pool_;
  rpc::FanOut fan_out_;
  std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::mutex refresh_mu_;  // one refresh at a time
  std::atomic<int64_t> refreshes_{0};
  // The cluster's limits (from a node's stats): a batch is checked whole before it is split
  // per owner, so an oversized entry fails it before any part is written. The nodes' frame
  // limit goes to the pool: a request over it fails here, naming the limit, instead of
  // being sent to a node that drops the connection.
  diststore::StoreLimits limits_;
};

}  // namespace thrifty::client
