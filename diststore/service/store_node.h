// StoreNode: a diststore node as a library object. It owns the membership node, the storage
// engine and the service layer built on them:
//
//   StoreHandler (one per connection) -> RequestRouter (client requests)
//                                      -> OwnerStore    (node-to-node calls, the owner's side)
//   RequestRouter, OwnerStore, HandoffStream -> ClusterView (snapshots), PeerClient (RPCs),
//                                               MovingKeys (where keys may be while they move)
//
// Lifecycle: construct (binds the port, and the HTTP port if any; opens the engine) -> start()
// (serves, joins) -> leave() (drain: hand every key to its owner, then leave) or stop(). Not
// copyable; leave(), stop() and stats() may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "diststore/limits/store_limits.h"
#include "diststore/ops/store_latency.h"
#include "diststore/service/anti_entropy.h"
#include "diststore/service/cluster_view.h"
#include "diststore/service/handoff_stream.h"
#include "diststore/service/hinted_handoff.h"
#include "diststore/service/inline_calls.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replica_reader.h"
#include "diststore/service/replica_writer.h"
#include "diststore/service/replication.h"
#include "diststore/service/request_router.h"
#include "diststore/service/store_counters.h"
#include "diststore/storage/engine.h"
#include "locator/http/http_server.h"
#include "locator/rpc/client_loops.h"
#include "locator/rpc/fan_out.h"
#include "locator/service/locator_node.h"

namespace thrifty::diststore {

class ChannelPeerClient;

class StoreHttp;

// Everything a store node is configured with; the defaults are the documented ones.
struct StoreOptions {
  // Membership, placement, Thrift server and client settings. Its server and pool limits are
  // replaced by ones sized for limits.max_value_bytes (RpcLimits::ForValueSize).
  locator::NodeOptions node;
  // RocksDB data directory; empty: "data/<port>" under the working directory. Created (with
  // missing parents, mode 0700) if it does not exist.
  std::string data_dir;
  bool memory = false;  // keep data in memory only (lost on exit); excludes data_dir
  bool sync = false;    // fsync the write-ahead log on every write
  // --zone: this node's failure domain (locator/service/zone.h), in its member metadata; with
  // replicas a key's copies go to distinct zones first (replica_set.h). Empty: the zone "".
  std::string zone;
  StoreLimits limits;
  // Copies per key and the default consistency levels (replication.h).
  ReplicationOptions replication;
  // Hinted handoff for replicas that miss a write (hinted_handoff.h; only with replicas).
  HintOptions hints;
  MovingKeysOptions moving_keys;
  HandoffOptions handoff;
  // Calls to other store nodes: one call's deadline (a handoff batch of 1 MiB to a busy node
  // may take seconds), the event-loop threads that carry them all, and the connections to
  // each peer the calls are spread over (rpc/peer_channel.h).
  int peer_call_timeout_ms = 30000;
  size_t peer_loops = 2;
  int peer_connections = 2;
  // Calls to other nodes are asynchronous; two small pools run what may block around them,
  // off the peer channels' loops. fan_out_threads: after a call to a write's leader failed,
  // reporting it and routing to the next leader. replica_work_threads: after a replica call
  // failed, reporting it and keeping the hint (an engine write); this node's share of a read
  // repair; the timers of speculative reads. Neither runs a call per thread, so neither grows with load.
  size_t fan_out_threads = 2;
  size_t replica_work_threads = 4;
  // How long a clean leave may take to hand off its keys before it leaves anyway.
  int64_t drain_timeout_ms = 300000;
  // The HTTP endpoint (/metrics, /health, the status page: diststore/ops/store_http.h); none
  // when unset. It listens on node.bind_address, like the Thrift port.
  std::optional<http::HttpOptions> http;

  // Empty when usable, else what is wrong, naming the option.
  std::string validate() const;
};

class StoreNode {
 public:
  // Validates the options (std::invalid_argument), binds the port, makes the data dir
  // (storage::DataDirError), opens the engine (storage::StorageError) and sets the member
  // metadata (durability, host ID).
  explicit StoreNode(StoreOptions options);
  ~StoreNode();  // stop()
  StoreNode(const StoreNode&) = delete;
  StoreNode& operator=(const StoreNode&) = delete;

  // Serves and joins the cluster (or starts one); returns what it did, in one line. Throws
  // std::runtime_error if no given peer admits this node.
  std::string start();
  // Clean leave: routes as if this node were gone, hands every key to its owner (at most
  // drain_timeout_ms), then leaves. Returns false if some keys could not be handed off (they
  // stay in this node's data).
  bool leave();
  // Stops serving and background work without telling anyone.
  void stop();

  locator::LocatorNode& node() { return *node_; }
  storage::Engine& engine() { return *engine_; }
  RequestRouter& router() { return *router_; }
  OwnerStore& owner() { return *owner_; }
  HintedHandoff& hints() { return *hinted_; }
  HandoffStream& handoff() { return *handoff_; }
  AntiEntropy& anti_entropy() { return *anti_entropy_; }
  const StoreOptions& options() const { return options_; }
  // "rocksdb <dir>" or "memory".
  std::string describe_engine() const;
  const std::string& host_id() const { return host_id_; }

  // The node's stats plus the store's: requests, handoff, limits, the HTTP endpoint's; the
  // node itself: data_bytes (its data dir's size on disk, or the keys and values a --memory
  // node holds; -1 if it cannot be read), uptime_s (since this object was made),
  // version_major/minor/patch (thrifty/version.h), phase_joining/serving/draining/stopped
  // (1 for phase(), 0 for the others); and keys: kExact counts live keys ("keys", a scan of
  // the engine); kEstimate gives the engine's cheap estimate of its records instead
  // ("keys_estimate"), for scrapes.
  enum class KeyCount { kExact, kEstimate };
  std::map<std::string, int64_t> stats(KeyCount keys = KeyCount::kExact);

  // Where the node is in its life (what /health says): joining until start() returns, serving,
  // draining once leave() began, stopped after it left or stop().
  enum class Phase { kJoining, kServing, kDraining, kStopped };
  Phase phase() const { return phase_.load(); }
  // Latency histograms of client requests and of calls to other nodes.
  StoreLatency& latency() { return latency_; }
  // The HTTP endpoint, or null without options().http.
  const StoreHttp* http() const { return http_.get(); }

 private:
  // Bytes of the node's data (see stats()).
  int64_t data_bytes();

  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  StoreOptions options_;
  std::unique_ptr<locator::LocatorNode> node_;
  std::string data_path_;
  std::string host_id_;
  bool new_host_id_ = false;  // made at this start (a new data dir, or --memory)
  std::unique_ptr<storage::Engine> engine_;
  std::unique_ptr<NodeClusterView> cluster_;
  StoreLatency latency_;
  // The event loops of the calls to other nodes (peer channels); they outlive the client.
  std::unique_ptr<rpc::ClientLoops> peer_loops_;
  std::shared_ptr<rpc::PeerCallCounters> peer_calls_ = std::make_shared<rpc::PeerCallCounters>();
  // A TimedPeerClient over a ChannelPeerClient (channels_): calls are timed in latency_.
  std::unique_ptr<PeerClient> peers_;
  ChannelPeerClient* channels_ = nullptr;
  std::unique_ptr<storage::HintStore> hint_store_;
  std::unique_ptr<HintedHandoff> hinted_;
  StoreCounters counters_;
  std::unique_ptr<MovingKeys> moving_;
  // Declared after what their tasks use, so they are joined before those are destroyed.
  // Their tasks never wait for other tasks (store_node.h, StoreOptions::fan_out_threads).
  std::unique_ptr<rpc::FanOut> fan_out_;
  std::unique_ptr<rpc::FanOut> replica_work_;
  std::unique_ptr<OwnerStore> owner_;
  std::unique_ptr<ReplicaReader> reader_;
  std::unique_ptr<ReplicaWriter> writer_;
  std::unique_ptr<RequestRouter> router_;
  std::unique_ptr<InlineCalls> inline_calls_;
  std::unique_ptr<HandoffStream> handoff_;
  std::unique_ptr<AntiEntropy> anti_entropy_;
  std::atomic<Phase> phase_{Phase::kJoining};
  // Last: stopped and destroyed before anything its handlers read.
  std::unique_ptr<StoreHttp> http_;
  bool stopped_ = false;
};

}  // namespace thrifty::diststore
