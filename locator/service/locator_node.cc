#include "locator/service/locator_node.h"

#include <charconv>
#include <chrono>
#include <random>
#include <sstream>

#include <glog/logging.h>

#include "locator/rpc/address.h"
#include "locator/service/discovery.h"

namespace thrifty::locator {

using membership::MemberName;
using membership::NowMs;
using wire::Location;
using wire::Member;
using wire::MemberState;

namespace {

std::string AdvertiseAddress(const NodeOptions& options) {
  if (!options.advertise_address.empty()) return options.advertise_address;
  if (options.bind_address == "0.0.0.0" || options.bind_address == "::") return "127.0.0.1";
  return options.bind_address;
}

// The node's keys: the cluster's, or the development key on loopback only.
std::shared_ptr<const membership::KeyRing> ResolveKeys(const NodeOptions& options) {
  if (options.keys) return options.keys;
  if (!membership::IsLoopback(options.bind_address) ||
      !membership::IsLoopback(AdvertiseAddress(options))) {
    throw std::runtime_error("a node that listens on " + options.bind_address +
                             " needs --cluster-key-file (the development key is for loopback only)");
  }
  LOG(WARNING) << "no --cluster-key-file: using the development key (loopback only)";
  return std::make_shared<const membership::KeyRing>(membership::KeyRing::DevelopmentKey());
}

// The shortest text that reads back as exactly `weight`: every node must build the same ring.
std::string FormatWeight(double weight) {
  char text[32];
  const auto result = std::to_chars(text, text + sizeof text, weight);
  return std::string(text, result.ptr);
}

}  // namespace

LocatorNode::LocatorNode(NodeOptions options, std::vector<std::string> service_types)
    : options_(std::move(options)),
      service_types_(std::move(service_types)),
      keys_(ResolveKeys(options_)),
      peer_auth_(keys_),
      pool_(peer_auth_.pool_options(options_.pool)),
      fan_out_(options_.fan_out_threads) {
  if (service_types_.empty()) throw std::invalid_argument("LocatorNode needs a service type");
  if (options_.etcd) {
    if (!options_.peers.empty()) {
      throw std::invalid_argument("--discovery and --peer cannot be combined: the seeds come "
                                  "from one or the other");
    }
    if (const std::string problem = options_.etcd->validate(); !problem.empty()) {
      throw std::invalid_argument(problem);
    }
    etcd_ = std::make_unique<discovery::EtcdDiscovery>(*options_.etcd);
  }
  // Fail early on a bad placement spec, before binding anything; spell it one way
  // ("rendezvous" and "rendezvous/xxh3" are the same placement).
  options_.placement = placement::ParsePlacementSpec(options_.placement).ToString();
  if (!(options_.weight > 0)) throw std::invalid_argument("--weight must be > 0");
  if (options_.gossip) {
    const std::string problem = options_.swim.validate();
    if (!problem.empty()) throw std::invalid_argument("gossip configuration: " + problem);
  }
}

LocatorNode::~LocatorNode() { stop(); }

bool LocatorNode::bind_at(int port) {
  try {
    socket_ = std::make_shared<rpc::Listener>(options_.bind_address, port);
  } catch (const rpc::BindError& e) {
    if (options_.port != 0) throw std::runtime_error(e.what());
    return false;
  }
  self_ = rpc::MakeLocation(AdvertiseAddress(options_), socket_->port());
  rpc::ValidateLocation(self_);

  Member self;
  self.location = self_;
  self.state = MemberState::ALIVE;
  // Start time as incarnation: a restarted node's word beats what was said about it before.
  self.incarnation = NowMs();
  for (const auto& [key, value] : options_.metadata) self.metadata[key] = value;
  self.metadata[kWeightKey] = FormatWeight(options_.weight);
  if (options_.gossip) {
    self.gossip_port = options_.gossip_port != 0 ? options_.gossip_port : self_.port;
  }
  auto table = std::make_unique<membership::MemberTable>(std::move(self));
  if (options_.gossip) {
    try {
      swim_ = std::make_unique<membership::SwimAgent>(
          options_.swim, *table, *keys_,
          [this](const Member& peer) {
            const Location where = peer.location;
            fan_out_.submit([this, where] { sync_with(where); });
          });
    } catch (const std::runtime_error& e) {
      socket_.reset();
      if (options_.port != 0) throw;  // the user asked for this port: say why it failed
      LOG(INFO) << "gossip port of " << port << " is taken (" << e.what() << "); next port";
      return false;
    }
  }
  table_ = std::move(table);
  return true;
}

void LocatorNode::bind() {
  if (options_.port != 0) {
    bind_at(options_.port);
  } else {
    for (int port = options_.discover_first; !table_ && port <= options_.discover_last + 60; ++port) {
      bind_at(port);
    }
    if (!table_) {
      throw std::runtime_error("no free port on " + options_.bind_address + " from " +
                               std::to_string(options_.discover_first));
    }
  }
  table_->add_listener([this](const std::optional<Member>& before, const Member& after) {
    on_member_change(before, after);
  });
  table_->set_reap_hook([this] { request_publish(); });
  publisher_ = std::make_unique<SnapshotPublisher>(*table_, self_name(), options_.placement);
}

std::string LocatorNode::self_name() const { return MemberName(self_); }

std::string LocatorNode::start(std::shared_ptr<apache::thrift::TProcessorFactory> processors) {
  if (!socket_) bind();
  // The socket already listens: connections made during the join wait in its backlog and are
  // served once this node knows the cluster, so it never answers from a ring of itself alone.
  server_ = std::make_unique<rpc::RpcServer>(std::move(processors), socket_, options_.server);
  running_ = true;

  std::string outcome;
  if (!options_.peers.empty()) {
    for (const Location& seed : options_.peers) {
      if (MemberName(seed) == self_name()) continue;
      if (join_through(seed)) {
        outcome = "joined the cluster through " + rpc::ToString(seed);
        break;
      }
    }
    if (outcome.empty()) {
      stop();
      std::string why;
      {
        std::lock_guard<std::mutex> lock(join_error_mu_);
        why = last_join_error_;
      }
      throw std::runtime_error("could not join through any of the given peers" +
                               (why.empty() ? std::string(" (see the log)") : ": " + why));
    }
  } else if (etcd_) {
    outcome = join_by_etcd();
  } else if (auto seed = DiscoverPeer("127.0.0.1", options_.discover_first,
                                      options_.discover_last, self_.port, service_type(), 300,
                                      options_.pool.tls)) {
    if (join_through(*seed)) {
      outcome = "discovered " + rpc::ToString(*seed) + " and joined its cluster";
    } else {
      outcome = "discovered " + rpc::ToString(*seed) + " but it refused; started a new cluster";
    }
  } else {
    outcome = "no " + service_type() + " node found on 127.0.0.1:" +
              std::to_string(options_.discover_first) + "-" +
              std::to_string(options_.discover_last) + "; started a new cluster";
  }
  outcome += " (" + std::to_string(ring()->size()) + " nodes in the ring)";
  server_->start();
  if (swim_) {
    // Started after the join so the view learned from the seed is not re-gossiped as news.
    swim_->start();
    LOG(INFO) << "gossip on udp " << rpc::ToString(swim_->gossip_endpoint()) << ", key "
              << keys_->fingerprint() << (keys_->is_development() ? " (development key)" : "");
  } else {
    sync_thread_ = std::thread([this] { sync_loop(); });
  }
  // Registered last: a joiner that finds this node in etcd finds it serving.
  if (etcd_) etcd_->registered();
  return outcome;
}

void LocatorNode::leave() {
  if (!running_.load() || leaving_.exchange(true)) return;
  withdraw_from_discovery();
  const auto peers = other_ring_members();
  if (swim_) {
    // Marks self LEFT and gossips it.
    swim_->leave(std::chrono::milliseconds(options_.leave_gossip_timeout_ms));
  } else {
    table_->set_self_state(MemberState::LEFT);
  }
  publish();
  LOG(INFO) << "leaving: telling " << peers.size() << " peers";
  const std::string proof = make_proof(membership::JoinProof::kRemove, self_name());
  auto results = fan_out_.map(peers, [&](const Location& peer) {
    pool_.call(peer, [&](wire::LocatorClient& client) {
      client.remove(self_, std::vector<Location>{self_}, proof);
    });
  });
  for (size_t i = 0; i < results.size(); ++i) {
    try {
      results[i].get();
    } catch (const std::exception& e) {
      LOG(WARNING) << "leave: " << rpc::ToString(peers[i]) << " was not told: " << e.what();
    }
  }
  stop();
}

void LocatorNode::stop() {
  bool was_running = false;
  {
    // Under stop_mu_: the sync loop checks running_ and starts waiting under it, so the
    // notification cannot fall between its check and its wait (a lost wake-up left stop()
    // joining a thread that slept on; under TSan its timed wait did not end).
    std::lock_guard<std::mutex> lock(stop_mu_);
    was_running = running_.exchange(false);
  }
  if (was_running) {
    stop_cv_.notify_all();
    if (sync_thread_.joinable()) sync_thread_.join();
    if (server_) server_->stop();
    // Stopped, not destroyed: calls still queued on the fan-out pool may read it (stats,
    // note_peer_failure) until the pool is joined in the destructor.
    if (swim_) swim_->stop();
    if (etcd_) etcd_->abandon();
  }
  if (publisher_) publisher_->stop();
}

void LocatorNode::withdraw_from_discovery() {
  if (etcd_) etcd_->withdraw();
}

std::shared_ptr<const ClusterSnapshot> LocatorNode::snapshot() const {
  return publisher_->current();
}

void LocatorNode::add_ring_listener(RingListener listener) {
  publisher_->add_listener(std::move(listener));
}

void LocatorNode::publish() { publisher_->publish(); }

void LocatorNode::request_publish() {
  if (publisher_) publisher_->request();
}

void LocatorNode::on_member_change(const std::optional<Member>& before, const Member& after) {
  const std::string name = MemberName(after.location);
  if (!before) {
    LOG(INFO) << "member " << name << " added as " << membership::StateName(after.state);
  } else if (before->state != after.state) {
    LOG(INFO) << "member " << name << ": " << membership::StateName(before->state) << " -> "
              << membership::StateName(after.state) << " (incarnation " << after.incarnation
              << ")";
  }
  if (before) {
    auto was = before->metadata.find(kHostIdMetadataKey);
    auto now = after.metadata.find(kHostIdMetadataKey);
    if (was != before->metadata.end() && now != after.metadata.end() && was->second != now->second) {
      ++host_id_changes_;
      pool_.forget(after.location);
      LOG(WARNING) << "member " << name << " came back with another host ID (" << was->second
                   << " -> " << now->second
                   << "): a new node without the old one's data, not the old node restarted";
    }
  }
  if (after.state == MemberState::DEAD || after.state == MemberState::LEFT) {
    pool_.forget(after.location);
  }
  request_publish();
}

std::vector<Location> LocatorNode::other_ring_members() const {
  std::vector<Location> out;
  for (const Location& node : ring()->nodes()) {
    if (MemberName(node) != MemberName(self_)) out.push_back(node);
  }
  return out;
}

void LocatorNode::note_peer_failure(const Location& peer) {
  ++peer_failures_;
  const std::string name = MemberName(peer);
  int count;
  {
    std::lock_guard<std::mutex> lock(failures_mu_);
    count = ++failures_[name];
  }
  if (!swim_ && count >= options_.failure_threshold) {
    if (table_->mark(name, MemberState::DEAD)) {
      LOG(WARNING) << "member " << name << " declared DEAD after " << count
                   << " failed calls in a row";
      publish();
    }
  }
}

void LocatorNode::note_peer_success(const Location& peer) {
  std::lock_guard<std::mutex> lock(failures_mu_);
  failures_.erase(MemberName(peer));
}

// ---- introspection ----

std::map<std::string, int64_t> LocatorNode::stats() const {
  std::map<std::string, int64_t> out;
  int64_t by_state[4] = {0, 0, 0, 0};
  for (const Member& m : table_->all()) {
    const int s = static_cast<int>(m.state);
    if (s >= 0 && s < 4) ++by_state[s];
  }
  out["members_alive"] = by_state[MemberState::ALIVE];
  out["members_suspect"] = by_state[MemberState::SUSPECT];
  out["members_dead"] = by_state[MemberState::DEAD];
  out["members_left"] = by_state[MemberState::LEFT];
  out["ring_nodes"] = static_cast<int64_t>(ring()->size());
  out["joins_handled"] = joins_handled_.load();
  out["joins_refused"] = joins_refused_.load();
  out["host_id_changes"] = host_id_changes_.load();
  out["syncs_sent"] = syncs_sent_.load();
  out["syncs_failed"] = syncs_failed_.load();
  out["peer_failures"] = peer_failures_.load();
  for (const auto& [key, value] : peer_auth_.stats()) out[key] = value;
  rpc::ExportServerStats(options_.server, &out);
  if (swim_) {
    for (const auto& [key, value] : swim_->stats()) out[key] = value;
  }
  if (etcd_) {
    for (const auto& [key, value] : etcd_->stats()) out[key] = value;
  }
  return out;
}

std::string LocatorNode::debug() const {
  std::ostringstream out;
  out << "node " << MemberName(self_) << " (" << service_type() << ", placement "
      << options_.placement << ")\n";
  for (const Member& m : table_->all()) {
    out << "  " << MemberName(m.location) << " " << membership::StateName(m.state)
        << " incarnation=" << m.incarnation;
    for (const auto& [key, value] : m.metadata) out << " " << key << "=" << value;
    out << "\n";
  }
  out << "ring: " << ring()->size() << " nodes\n";
  return out.str();
}

}  // namespace thrifty::locator
