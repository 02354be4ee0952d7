#include "diststore/service/store_node.h"

#include <glog/logging.h>

#include "diststore/ops/store_http.h"
#include "diststore/ops/timed_peer_client.h"
#include "diststore/service/channel_peer_client.h"
#include "diststore/service/durability.h"
#include "diststore/service/store_calls.h"
#include "diststore/service/store_handler.h"
#include "diststore/storage/data_dir.h"
#include "diststore/storage/host_id.h"
#include "locator/rpc/limits.h"
#include "locator/rpc/per_connection.h"
#include "locator/service/zone.h"
#include "thrifty/version.h"

namespace thrifty::diststore {

namespace {

bool HoldsAnyRecord(storage::Engine& engine) {
  bool any = false;
  engine.scan([&any](std::string_view, const storage::Record&) {
    any = true;
    return false;  // one record is enough
  });
  return any;
}

StoreOptions Validated(StoreOptions options) {
  const std::string problem = options.validate();
  if (!problem.empty()) throw std::invalid_argument(problem);
  const rpc::RpcLimits limits = rpc::RpcLimits::ForValueSize(options.limits.max_value_bytes);
  options.node.server.limits = limits;
  options.node.pool.limits = limits;
  // A cluster is all durable or all --memory (durability.h).
  options.node.metadata[kDurableKey] = options.memory ? "false" : "true";
  // ... and keeps one number of copies per key (replication.h).
  options.node.metadata[kReplicasKey] = std::to_string(options.replication.replicas);
  // ... and where it stands (zone.h).
  if (!options.zone.empty()) options.node.metadata[locator::kZoneKey] = options.zone;
  options.node.admit = [](const locator::wire::Location& location, const locator::wire::JoinInfo& joiner,
                          const std::vector<locator::wire::Member>& members) {
    std::string why = DurabilityMismatch(location, joiner, members);
    if (why.empty()) why = ReplicationMismatch(location, joiner, members);
    if (const auto zone = joiner.metadata.find(locator::kZoneKey);
        why.empty() && zone != joiner.metadata.end()) {
      why = locator::ZoneProblem(zone->second);
    }
    return why;
  };
  if (options.http) options.http->bind_address = options.node.bind_address;
  return options;
}

}  // namespace

std::string StoreOptions::validate() const {
  if (memory && !data_dir.empty()) return "--memory and --data-dir exclude each other";
  if (limits.max_key_bytes < 1 || limits.max_key_bytes > (1 << 20)) {
    return "--max-key-bytes must be in 1..1048576";
  }
  if (limits.max_value_bytes < 0 || limits.max_value_bytes > (256 << 20)) {
    return "--max-value-bytes must be in 0..268435456";
  }
  if (limits.max_batch_entries < 1) return "max_batch_entries must be >= 1";
  if (limits.max_clock_drift_ms < 1 || limits.max_clock_drift_ms > 86400000) {
    return "--max-clock-drift-ms must be in 1..86400000";
  }
  if (const std::string m = locator::ZoneProblem(zone); !m.empty()) return "--zone: " + m;
  if (const std::string m = replication.validate(); !m.empty()) return m;
  if (const std::string m = hints.validate(); !m.empty()) return m;
  if (replication.hints_count_for_w && !hints.enabled) {
    return "--hints-count-for-w counts hints, and --strict-quorum keeps none: give one of them";
  }
  if (const std::string m = moving_keys.validate(); !m.empty()) return "moving keys: " + m;
  if (handoff.batch_records < 1 || handoff.batch_bytes < 1 ||
      handoff.batches_in_flight_per_owner < 1 || handoff.bytes_in_flight < 1) {
    return "handoff batch sizes and in-flight bounds must be >= 1";
  }
  if (peer_loops < 1 || peer_connections < 1 || peer_call_timeout_ms < 1 || fan_out_threads < 1 ||
      replica_work_threads < 1) {
    return "peer loops, connections, call timeout and fan-out sizes must be >= 1";
  }
  if (drain_timeout_ms < 0) return "--drain-timeout-s must be >= 0";
  if (http) {
    if (const std::string h = http->validate(); !h.empty()) return h;
  }
  return {};
}

StoreNode::StoreNode(StoreOptions options) : options_(Validated(std::move(options))) {
  // A given data dir is checked before anything else happens (the default one needs the port).
  if (!options_.memory && !options_.data_dir.empty()) storage::MakeDataDir(options_.data_dir);
  // Quick calls that stay on this node run on the event loops (inline_calls.h); made below,
  // used once the server starts.
  options_.node.server.runs_inline = [this](const std::string& frame) {
    return inline_calls_->runs_inline(frame);
  };
  node_ = std::make_unique<locator::LocatorNode>(
      options_.node, std::vector<std::string>{"locator.Base", "locator.Locator", "diststore.Store"});
  node_->bind();
  if (options_.memory) {
    engine_ = storage::NewMemoryEngine();
    host_id_ = storage::NewHostId();
    new_host_id_ = true;
  } else {
    data_path_ = options_.data_dir.empty()
                     ? "data/" + std::to_string(node_->self_location().port)
                     : options_.data_dir;
    storage::MakeDataDir(data_path_);
    storage::EngineOptions engine_options;
    engine_options.path = data_path_;
    engine_options.sync = options_.sync;
    engine_ = storage::OpenRocksDbEngine(engine_options);
    // Who this node is: kept with its data, so a wiped data dir makes a new node.
    host_id_ = storage::LoadOrCreateHostId(data_path_, &new_host_id_);
  }
  node_->members().set_self_metadata(kHostIdKey, host_id_);
  LOG(INFO) << "data: " << describe_engine() << "; host ID " << host_id_;

  cluster_ = std::make_unique<NodeClusterView>(*node_);
  rpc::ChannelOptions channel;
  channel.connections = options_.peer_connections;
  channel.connect_timeout_ms = options_.node.pool.connect_timeout_ms;
  channel.limits = options_.node.pool.limits;
  channel.tls = options_.node.channel_tls;
  channel.prologue = node_->peer_auth().channel_prologue(channel.limits);
  channel.counters = peer_calls_;
  peer_loops_ = std::make_unique<rpc::ClientLoops>(options_.peer_loops);
  auto channels = std::make_unique<ChannelPeerClient>(*peer_loops_, std::move(channel),
                                                      options_.peer_call_timeout_ms);
  channels_ = channels.get();
  peers_ = std::make_unique<TimedPeerClient>(std::move(channels), latency_);
  hint_store_ = std::make_unique<storage::HintStore>(engine_->hints_table());
  HintOptions hint_options = options_.hints;
  hint_options.enabled = hint_options.enabled && options_.replication.replicas > 1;
  hint_options.gc_grace_ms = options_.replication.gc_grace_ms;
  hinted_ = std::make_unique<HintedHandoff>(*cluster_, *hint_store_, *peers_, hint_options);
  moving_ = std::make_unique<MovingKeys>(options_.moving_keys, HoldsAnyRecord(*engine_));
  fan_out_ = std::make_unique<rpc::FanOut>(options_.fan_out_threads);
  replica_work_ = std::make_unique<rpc::FanOut>(options_.replica_work_threads);
  owner_ = std::make_unique<OwnerStore>(*cluster_, *engine_, *peers_, *moving_,
                                        options_.limits, options_.replication, counters_);
  const ReplicaPaths replica_paths{*cluster_, *owner_, *peers_, *moving_, *replica_work_,
                                   options_.replication, counters_};
  reader_ = std::make_unique<ReplicaReader>(replica_paths);
  writer_ = std::make_unique<ReplicaWriter>(replica_paths,
                                            hinted_->enabled() ? hinted_.get() : nullptr);
  router_ = std::make_unique<RequestRouter>(*cluster_, *owner_, *peers_, *moving_, *reader_,
                                            *writer_, *fan_out_, options_.limits,
                                            options_.replication, counters_);
  inline_calls_ = std::make_unique<InlineCalls>(*cluster_, *moving_, options_.replication,
                                                options_.node.server.limits, options_.sync);
  handoff_ = std::make_unique<HandoffStream>(*cluster_, *engine_, *peers_, *moving_,
                                             options_.handoff, options_.replication.replicas);
  anti_entropy_ = std::make_unique<AntiEntropy>(*cluster_, *engine_, *owner_, *peers_,
                                                 options_.replication);
  node_->add_ring_listener([this](const auto&, const auto&) {
    moving_->on_ring_change();
    handoff_->request_sweep();
    anti_entropy_->request_rebuild();
  });
  if (options_.http) http_ = std::make_unique<StoreHttp>(*this, *options_.http);
  // A new host ID holds none of its ranges' data: no replica for reads from the first request
  // on, until start() knows whether it joined a cluster to rebuild from (AntiEntropy).
  if (new_host_id_ && options_.replication.replicas > 1) owner_->set_rebuilding(true);
}

StoreNode::~StoreNode() { stop(); }

std::string StoreNode::describe_engine() const {
  return options_.memory ? std::string("memory") : "rocksdb " + data_path_;
}

std::string StoreNode::start() {
  if (http_) {
    http_->start();  // /health says "joining" until the join is done
    LOG(INFO) << "HTTP endpoint on " << http_->url();
  }
  const std::string outcome =
      node_->start(std::make_shared<rpc::PerConnection<StoreCalls, StoreHandler>>(
          [this](const rpc::ConnectionPeer& peer) {
            return std::make_shared<StoreHandler>(*this, peer);
          }));
  handoff_->request_sweep();  // keys that moved while this node was away
  // Builds the trees on the joined ring (a node with a new host ID that joined others then
  // takes its ranges: rebuild_kind.h), then runs periodically.
  const auto ring = node_->snapshot()->ring();
  const bool joined = ring && ring->size() > 1;
  const RebuildKind kind =
      RebuildKindOf(options_.replication.replicas > 1, joined, new_host_id_, host_id_,
                    node_->self_before_join());
  if (kind != RebuildKind::kNone) LOG(INFO) << "start: " << RebuildKindName(kind);
  anti_entropy_->start(kind);
  phase_ = Phase::kServing;
  return outcome;
}

bool StoreNode::leave() {
  phase_ = Phase::kDraining;
  node_->withdraw_from_discovery();  // no joiner picks a node that is leaving
  moving_->start_draining();
  LOG(INFO) << "draining: requests now go to the ring without this node";
  bool handed_off = true;
  if (node_->snapshot()->ring_without_self()->empty()) {
    LOG(WARNING) << "last node of the cluster: keys stay in this node's data";
  } else if (!handoff_->drain(options_.drain_timeout_ms)) {
    LOG(ERROR) << "some keys could not be handed off within " << options_.drain_timeout_ms / 1000
               << " s; they stay in this node's data";
    handed_off = false;
  }
  node_->leave();
  phase_ = Phase::kStopped;
  return handed_off;
}

void StoreNode::stop() {
  if (stopped_) return;
  stopped_ = true;
  phase_ = Phase::kStopped;
  if (http_) http_->stop();  // its handlers read the parts below
  node_->stop();  // first: no request may reach the parts below once they go
  anti_entropy_->stop();
  // The peer calls still in flight fail now, and their completions (a continuation call's, a
  // quorum's) run while every part they use is here; later calls are refused at once.
  channels_->close();
  peer_loops_->stop();
}

std::map<std::string, int64_t> StoreNode::stats(KeyCount keys) {
  std::map<std::string, int64_t> out = node_->stats();
  for (const auto& [k, v] : counters_.snapshot()) out[k] = v;
  for (const auto& [k, v] : handoff_->stats()) out[k] = v;
  for (const auto& [k, v] : hinted_->stats()) out[k] = v;
  for (const auto& [k, v] : anti_entropy_->stats()) out[k] = v;
  for (const auto& [k, v] : engine_->stats()) out[k] = v;
  peer_calls_->Export(&out);
  out["replicas"] = options_.replication.replicas;
  if (http_) {
    for (const auto& [k, v] : http_->stats()) out[k] = v;
  }
  ExportLimits(options_.limits, &out);
  out["data_bytes"] = data_bytes();
  out["uptime_s"] = std::chrono::duration_cast<std::chrono::seconds>(
                        std::chrono::steady_clock::now() - started_)
                        .count();
  out["version_major"] = THRIFTY_VERSION_MAJOR;
  out["version_minor"] = THRIFTY_VERSION_MINOR;
  out["version_patch"] = THRIFTY_VERSION_PATCH;
  const Phase now = phase_.load();
  out["phase_joining"] = now == Phase::kJoining;
  out["phase_serving"] = now == Phase::kServing;
  out["phase_draining"] = now == Phase::kDraining;
  out["phase_stopped"] = now == Phase::kStopped;
  const char* const name = keys == KeyCount::kExact ? "keys" : "keys_estimate";
  try {
    out[name] = static_cast<int64_t>(keys == KeyCount::kExact ? engine_->count_live()
                                                              : engine_->estimate_records());
  } catch (const std::exception&) {
    out[name] = -1;
  }
  return out;
}

int64_t StoreNode::data_bytes() {
  try {
    if (const auto held = engine_->memory_bytes()) return static_cast<int64_t>(*held);
    return static_cast<int64_t>(storage::DirectoryBytes(data_path_));
  } catch (const std::exception&) {
    return -1;
  }
}

}  // namespace thrifty::diststore
