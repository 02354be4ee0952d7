// LocatorNode: one member of a flat thrifty cluster. It keeps the member table and the ring,
// serves a Thrift processor (the Locator service or one that extends it), joins the cluster,
// keeps its view in step with its peers, and leaves cleanly.
//
// Its parts, one file each: locator_node.cc (lifecycle: bind, start, leave, stop; failure
// reports; stats), locator_node_join.cc (joining, and the join/add/remove RPCs),
// locator_node_sync.cc (anti-entropy and the sync RPC), admission.h (the checks before a
// joiner enters the view), snapshot_publisher.h (one ClusterSnapshot per generation),
// peer_auth.h (who may make node-to-node calls).
//
// Lifecycle: construct -> bind() -> start(processor) -> ... -> leave() (or stop()).
// Every method is thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <thrift/TProcessor.h>

#include "Locator.h"
#include "locator/discovery/etcd_discovery.h"
#include "locator/membership/join_proof.h"
#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/membership/swim_agent.h"
#include "locator/membership/swim_config.h"
#include "locator/rpc/connection_pool.h"
#include "locator/rpc/fan_out.h"
#include "locator/rpc/rpc_server.h"
#include "locator/service/cluster_snapshot.h"
#include "locator/service/peer_auth.h"
#include "locator/service/ring.h"
#include "locator/service/snapshot_publisher.h"

namespace thrifty::locator {

using wire::JoinInfo;
using wire::View;

struct NodeOptions {
  std::string bind_address = "127.0.0.1";
  // Address peers use to reach this node; defaults to bind_address (127.0.0.1 for 0.0.0.0).
  std::string advertise_address;
  int port = 0;  // 0: the first free port from discover_first
  // Seeds to join through, tried in order. Empty: discovery through etcd if `etcd` is set, else
  // on 127.0.0.1; a new cluster if that finds no node.
  std::vector<wire::Location> peers;
  // Discovery through etcd (--discovery): the seeds are the nodes registered there, tried in
  // order (none, or none admits this node: a new cluster), and this node registers itself once
  // it serves (locator/discovery/etcd_discovery.h). Not together with `peers`.
  std::optional<discovery::EtcdDiscoveryOptions> etcd;
  int discover_first = 9900;
  int discover_last = 9939;
  std::string placement = "ketama";
  double weight = 1.0;
  std::map<std::string, std::string> metadata;
  rpc::ServerOptions server;
  rpc::PoolOptions pool;
  // TLS of the node's peer channels (rpc/peer_channel.h; tls.h: MakeClientTlsContext), the
  // same files as pool.tls; null: plain TCP.
  std::shared_ptr<boost::asio::ssl::context> channel_tls;
  // SWIM failure detection and gossip over UDP (on by default).
  bool gossip = true;
  int gossip_port = 0;  // 0: the Thrift port's number
  membership::SwimConfig swim;
  // Cluster keys (gossip HMAC and proofs on join/add/remove/sync). Null: the development key,
  // allowed only when the node binds and advertises a loopback address.
  std::shared_ptr<const membership::KeyRing> keys;
  // Without gossip: every interval one random peer gets our view and sends back its own, and
  // a peer that fails `failure_threshold` calls in a row is declared DEAD.
  int sync_interval_ms = 1000;
  int failure_threshold = 3;
  // DEAD and LEFT members are forgotten after this long.
  int64_t reap_after_ms = 10 * 60 * 1000;
  // A join returns once every member confirmed the news, or after this long: a member that
  // is itself still joining answers late, and gossip spreads the join anyway.
  int join_broadcast_wait_ms = 300;
  // A clean leave waits this long for a member to acknowledge the gossiped LEFT.
  int leave_gossip_timeout_ms = 2000;
  // Threads for parallel calls to peers (join and leave fan-out, pushes to sync).
  size_t fan_out_threads = 16;
  // A service's own rule for joins (checked by the seed after placement, service type and
  // weight): returns why `joiner` at `location` may not join a cluster of `members`, or ""
  // to admit it. Null: every join that passes the locator's checks is admitted.
  std::function<std::string(const wire::Location& location, const wire::JoinInfo& joiner,
                            const std::vector<wire::Member>& members)>
      admit;
};

// Member metadata key of a node's host ID (who it is, not where it listens: see
// diststore/storage/host_id.h). A member that comes back at a known address with another host
// ID is logged and counted (host_id_changes) as a new node.
constexpr char kHostIdMetadataKey[] = "host_id";

class LocatorNode {
 public:
  // Called after every published snapshot whose ring differs from the one before.
  using RingListener = SnapshotPublisher::Listener;

  // `service_types`: the service chain this node speaks, most basic first
  // (e.g. {"locator.Base", "locator.Locator"}); the last one is its service_type().
  LocatorNode(NodeOptions options, std::vector<std::string> service_types);
  ~LocatorNode();

  LocatorNode(const LocatorNode&) = delete;
  LocatorNode& operator=(const LocatorNode&) = delete;

  // Binds the Thrift port. Throws std::runtime_error if the port (or every port of the
  // discovery range, when port == 0) is taken.
  void bind();

  // Serves the processors (one per connection: see rpc/per_connection.h, and PeerAuth for
  // why), joins the cluster and starts the background sync. Returns one line saying what it
  // did. Throws std::runtime_error if no given --peer admits it.
  std::string start(std::shared_ptr<apache::thrift::TProcessorFactory> processors);

  // Clean leave: withdraws the etcd registration, announces LEFT to every peer (in parallel,
  // bounded), then stops serving.
  void leave();
  // Stops serving and background work without telling anyone (an etcd registration expires
  // with its lease).
  void stop();
  // Forgets a DEAD member for good (an operator's "removenode"): marks it LEFT here and tells
  // every ring member (`remove`, in parallel, bounded), so it leaves every ring, DEAD ones
  // included, and its ranges move to the next nodes. Throws wire::LocatorError, changing
  // nothing, if `location` is no member, is this node, or is not DEAD (a live member leaves by
  // itself, cleanly). Returns the members told, and appends those that failed to `untold`.
  int remove_dead_member(const wire::Location& location, std::vector<std::string>* untold);
  // The entry the cluster had for this node's own address when this node joined (the seed's
  // view before the join), if it had one: with another host ID in its metadata, this node
  // replaces an earlier one at its address (a wiped return) rather than joining anew.
  std::optional<wire::Member> self_before_join() const;

  // Revokes this node's etcd registration at once (nothing without one), so no joiner picks a
  // node that is about to leave. leave() does it first; a store calls it before it drains.
  void withdraw_from_discovery();

  const wire::Location& self_location() const { return self_; }
  std::string self_name() const;
  const std::string& service_type() const { return service_types_.back(); }
  const std::vector<std::string>& service_types() const { return service_types_; }
  const NodeOptions& options() const { return options_; }

  // The cluster as of the latest membership generation: take one per request and route by it
  // alone. Never null after bind(). Published in generation order, never replaced by an older
  // one: by the thread that changed the table for the Locator RPCs and the node's own calls
  // (so a join returns with the joiner in the ring), and otherwise by the publisher thread
  // (so gossip's detector thread never builds rings).
  std::shared_ptr<const ClusterSnapshot> snapshot() const;
  // snapshot()->ring() and snapshot()->previous_ring().
  std::shared_ptr<const Ring> ring() const { return snapshot()->ring(); }
  std::shared_ptr<const Ring> previous_ring() const { return snapshot()->previous_ring(); }
  membership::MemberTable& members() { return *table_; }
  bool leaving() const { return leaving_.load(); }

  // Called after every ring change, in generation order, on the publishing thread. Must not
  // block for long, nor change the member table.
  void add_ring_listener(RingListener listener);

  std::map<std::string, int64_t> stats() const;
  std::string debug() const;

  // Counts a failed call to `peer`; enough in a row and the peer is declared DEAD.
  void note_peer_failure(const wire::Location& peer);
  void note_peer_success(const wire::Location& peer);

  // ---- Locator RPCs (the handler forwards here) ----
  // Each checks the caller's proof of the cluster key first (wire::Unauthorized if missing or
  // wrong), then the request (wire::LocatorError, nothing changed).
  View handle_join(const wire::Location& location, const JoinInfo& info);
  void handle_add(const wire::Location& location, const std::vector<wire::Location>& authorities,
                  const JoinInfo& info);
  void handle_remove(const wire::Location& location, const std::vector<wire::Location>& authorities,
                     const std::string& proof);
  View handle_sync(const std::vector<wire::Member>& members, const std::string& proof);
  View view() const;

  rpc::ConnectionPool<wire::LocatorClient>& peers() { return pool_; }
  // Who may make node-to-node calls; its pool_options() authenticate outgoing connections.
  PeerAuth& peer_auth() { return peer_auth_; }
  rpc::FanOut& fan_out() { return fan_out_; }

 private:
  JoinInfo self_join_info() const;
  std::string make_proof(const char* purpose, const std::string& caller) const;
  void check_proof(const char* purpose, const std::string& caller, const std::string& proof,
                   const char* call) const;
  void sync_with(const wire::Location& peer);
  bool bind_at(int port);
  void on_member_change(const std::optional<wire::Member>& before, const wire::Member& after);
  // SnapshotPublisher::publish (for this node's own calls and the Locator RPCs) and
  // ::request (for changes made on threads that must not build rings).
  void publish();
  void request_publish();
  bool join_through(const wire::Location& seed);
  // The etcd path of start(): lists the registered nodes and joins through the first that
  // admits this node. Returns what it did; throws std::runtime_error if etcd fails.
  std::string join_by_etcd();
  void note_join_error(const wire::Location& seed, const std::string& why);
  // Puts an admitted joiner into the member table and publishes the snapshot.
  void admit_member(const wire::Location& location, const JoinInfo& info);
  void sync_loop();
  void sync_once();
  // Tells every ring member but the authorities about `location`, each call on the fan-out
  // pool; the futures complete when each call did (failures are logged, never thrown).
  std::vector<std::future<void>> broadcast_add(const wire::Location& location, const JoinInfo& info,
                                               const std::vector<wire::Location>& authorities);
  std::vector<wire::Location> other_ring_members() const;

  NodeOptions options_;
  std::vector<std::string> service_types_;
  wire::Location self_;
  std::shared_ptr<const membership::KeyRing> keys_;
  PeerAuth peer_auth_;
  std::unique_ptr<membership::MemberTable> table_;
  std::unique_ptr<SnapshotPublisher> publisher_;  // after table_: destroyed before it
  std::unique_ptr<membership::SwimAgent> swim_;
  std::shared_ptr<rpc::Listener> socket_;
  std::unique_ptr<rpc::RpcServer> server_;
  rpc::ConnectionPool<wire::LocatorClient> pool_;
  // Made by the constructor with options_.etcd (no I/O before start()); never reset.
  std::unique_ptr<discovery::EtcdDiscovery> etcd_;

  std::mutex failures_mu_;
  std::map<std::string, int> failures_;

  std::atomic<bool> leaving_{false};
  std::atomic<bool> running_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  std::thread sync_thread_;

  std::atomic<int64_t> joins_handled_{0}, joins_refused_{0}, syncs_sent_{0}, syncs_failed_{0},
      peer_failures_{0}, host_id_changes_{0};
  mutable std::mutex join_error_mu_;
  std::string last_join_error_;  // why the last join_through failed, for start()'s error
  std::optional<wire::Member> self_before_join_;  // guarded by join_error_mu_

  // Last, so it is destroyed first: joining its threads lets queued calls finish while every
  // member they use still exists.
  rpc::FanOut fan_out_;
};

}  // namespace thrifty::locator
