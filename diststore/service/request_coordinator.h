// RequestCoordinator: where a client request goes. Any node accepts any request; the
// coordinator sends it to the key's owner (this node, or one hop away) and answers.
//
// Routing uses the node's ring, or the ring without this node while it drains before a
// clean leave. A key this node should own but lacks is looked up on the node that would own it
// if this one did not exist (its previous owner while keys move to a joiner, its new owner
// while this node drains): a read never answers NotFound for a key that exists because data
// is in flight.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "Store.h"
#include "diststore/limits/store_limits.h"
#include "diststore/storage/engine.h"
#include "diststore/storage/hlc.h"
#include "locator/rpc/connection_pool.h"
#include "locator/rpc/fan_out.h"
#include "locator/service/locator_node.h"

namespace thrifty::diststore {

using rpc::Location;

class RequestCoordinator {
 public:
  RequestCoordinator(locator::LocatorNode& node, storage::Engine& engine, StoreLimits limits,
                     rpc::PoolOptions pool_options);

  // ---- client requests (from any node's Store service) ----
  // Throws rpc::NotFound, or rpc::StoreError (limits, owner unreachable, storage failure).
  std::string get(const std::string& key);
  void put(const std::string& key, const std::string& value);
  void erase(const std::string& key);
  std::map<std::string, std::string> multi_get(const std::vector<std::string>& keys);
  void multi_put(const std::vector<rpc::Entry>& entries);

  // ---- node to node ----
  // Records held here (tombstones too); with `fallback`, missing keys are looked up once on
  // their alternate holder.
  std::vector<rpc::Record> owner_get(const std::vector<std::string>& keys, bool fallback);
  // Version 0 is stamped here. Records for keys this node does not own (the sender's view was
  // stale) are stamped and handed to the owner: never more than one extra hop.
  void owner_put(std::vector<rpc::Record> records);
  rpc::HandoffAck handoff(const std::vector<rpc::Record>& records, const Location& sender);

  // ---- lifecycle ----
  // From now on route as if this node were not in the ring (before a clean leave).
  void start_draining();
  bool draining() const { return draining_.load(); }
  // The ring used for routing (the node's ring, or the ring without this node when draining).
  std::shared_ptr<const locator::Ring> routing_ring() const;
  // Where a key this node lacks may still be: the owner in the ring without this node.
  std::shared_ptr<const locator::Ring> others_ring() const;
  bool is_self(const Location& location) const;

  storage::Engine& engine() { return engine_; }
  storage::HybridLogicalClock& clock() { return clock_; }
  rpc::ConnectionPool<rpc::StoreClient>& pool() { return pool_; }
  locator::LocatorNode& node() { return node_; }
  const StoreLimits& limits() const { return limits_; }
  std::map<std::string, int64_t> stats() const;

  // Called by the node on every ring change.
  void on_ring_change();

  // Counts handoff traffic that reached this node (keeps the fallback window open).
  void note_handoff_received();

 private:
  std::optional<storage::Record> read_local(const std::string& key);
  std::vector<std::optional<storage::Record>> read_owned(const std::vector<std::string>& keys,
                                                         bool fallback);
  bool fallback_open() const;
  // Asks each holder (name -> location) for its own copies of keys[i], i in asked[name], in
  // parallel, and keeps every record newer than found[i]. An unreachable holder is skipped.
  void merge_newer_from(const std::map<std::string, Location>& holders,
                        const std::map<std::string, std::vector<size_t>>& asked,
                        const std::vector<std::string>& keys,
                        std::vector<std::optional<storage::Record>>& found);
  // Throws StoreError if a key still missing belongs to a DEAD member (its data exists but is
  // unreachable): "not found" would be a lie.
  void check_unavailable(const std::vector<std::string>& keys,
                         const std::vector<std::optional<storage::Record>>& found) const;
  void write_local(std::vector<std::pair<std::string, storage::Record>> records);
  // Throws StoreError (nothing written, counted) unless the clock admits every nonzero
  // version of `records`: in the clock's range and at most max_clock_drift_ms ahead. `call`
  // names the request in the message.
  void check_versions(const std::vector<rpc::Record>& records, const std::string& call);
  [[noreturn]] void owner_failed(const Location& owner, const std::exception& e);
  // Runs fn(StoreClient&) on `owner`; a StoreError passes through, any other failure becomes
  // owner_failed's StoreError.
  template <typename Fn>
  void call_owner(const Location& owner, Fn&& fn);
  // Runs fn(ring) on the routing ring; if it throws StoreError and the ring has changed since,
  // once more on the new ring (a request in flight when its owner left is not lost).
  template <typename Fn>
  auto routed(Fn&& fn) -> decltype(fn(std::declval<const locator::Ring&>()));
  // The client requests on a given ring (checks and counters are done by the callers).
  std::string get_on(const locator::Ring& ring, const std::string& key);
  std::map<std::string, std::string> multi_get_on(const locator::Ring& ring,
                                                  const std::vector<std::string>& keys);
  void erase_on(const locator::Ring& ring, const rpc::Record& record);
  void multi_put_on(const locator::Ring& ring, const std::vector<rpc::Entry>& entries);

  locator::LocatorNode& node_;
  storage::Engine& engine_;
  StoreLimits limits_;
  storage::HybridLogicalClock clock_;
  rpc::ConnectionPool<rpc::StoreClient> pool_;
  rpc::FanOut fan_out_;
  std::string self_name_;
  const int64_t created_ms_;
  const bool started_with_data_;  // the engine held records when this node started

  std::atomic<bool> draining_{false};
  std::atomic<int64_t> last_ring_change_ms_{0};
  std::atomic<int64_t> last_handoff_received_ms_{0};

  mutable std::atomic<int64_t> gets_{0}, puts_{0}, erases_{0}, forwarded_{0}, rerouted_{0},
      fallback_reads_{0}, not_found_{0}, errors_{0}, handoff_records_in_{0},
      versions_refused_{0};
};

// The Thrift/engine record conversions.
rpc::Record ToRpc(const std::string& key, const storage::Record& record);
storage::Record FromRpc(const rpc::Record& record);

}  // namespace thrifty::diststore
