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
using rpc::Location;
using rpc::Member;
using rpc::MemberState;

namespace {

constexpr std::chrono::milliseconds kJoinBroadcastWait{300};

std::string AdvertiseAddress(const NodeOptions& options) {
  if (!options.advertise_address.empty()) return options.advertise_address;
  if (options.bind_address == "0.0.0.0" || options.bind_address == "::") return "127.0.0.1";
  return options.bind_address;
}

// Throws rpc::LocatorError("CALL refused: why") unless `location` is a usable address.
void RefuseBadLocation(const char* call, const Location& location) {
  try {
    rpc::ValidateLocation(location);
  } catch (const std::invalid_argument& e) {
    rpc::LocatorError error;
    error.message = std::string(call) + " refused: " + e.what();
    throw error;
  }
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
      pool_(options_.pool),
      fan_out_(16) {
  if (service_types_.empty()) throw std::invalid_argument("LocatorNode needs a service type");
  // Fail early on a bad placement spec, before binding anything; spell it one way
  // ("rendezvous" and "rendezvous/xxh3" are the same placement).
  options_.placement = placement::ParsePlacementSpec(options_.placement).ToString();
  if (!(options_.weight > 0)) throw std::invalid_argument("--weight must be > 0");
  keys_ = options_.keys;
  if (!keys_) {
    if (!membership::IsLoopback(options_.bind_address) ||
        !membership::IsLoopback(AdvertiseAddress(options_))) {
      throw std::runtime_error("a node that listens on " + options_.bind_address +
                               " needs --cluster-key-file (the development key is for loopback only)");
    }
    keys_ = std::make_shared<const membership::KeyRing>(membership::KeyRing::DevelopmentKey());
    LOG(WARNING) << "no --cluster-key-file: using the development key (loopback only)";
  }
  if (options_.gossip) {
    const std::string problem = options_.swim.validate();
    if (!problem.empty()) throw std::invalid_argument("gossip configuration: " + problem);
  }
}

LocatorNode::~LocatorNode() { stop(); }

bool LocatorNode::bind_at(int port) {
  try {
    socket_ = std::make_shared<rpc::BoundServerSocket>(options_.bind_address, port);
  } catch (const apache::thrift::transport::TTransportException& e) {
    if (options_.port != 0) {
      throw std::runtime_error("cannot listen on " + options_.bind_address + ":" +
                               std::to_string(port) + ": " + e.what());
    }
    return false;
  }
  self_ = rpc::MakeLocation(AdvertiseAddress(options_), socket_->getPort());
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
  rebuild_ring();
}

std::string LocatorNode::self_name() const { return MemberName(self_); }

std::string LocatorNode::start(std::shared_ptr<apache::thrift::TProcessor> processor) {
  if (!socket_) bind();
  // The socket already listens: connections made during the join wait in its backlog and are
  // served once this node knows the cluster, so it never answers from a ring of itself alone.
  server_ = std::make_unique<rpc::RpcServer>(std::move(processor), socket_, options_.server);
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
      throw std::runtime_error("could not join through any of the given peers (see the log)");
    }
  } else if (auto seed = DiscoverPeer("127.0.0.1", options_.discover_first,
                                      options_.discover_last, self_.port, service_type())) {
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
  return outcome;
}

bool LocatorNode::join_through(const Location& seed) {
  try {
    View view;
    // Learn the cluster before it learns of us: the moment the seed admits this node, others
    // route requests here, and this node must already know the ring to answer them.
    pool_.call(seed, [&](rpc::LocatorClient& client) { client.get_view(view); });
    if (view.placement != options_.placement) {
      LOG(ERROR) << "join: " << rpc::ToString(seed) << " uses placement " << view.placement
                 << ", this node " << options_.placement;
      return false;
    }
    for (const Member& member : view.members) table_->apply(member);
    JoinInfo info = self_join_info();
    info.proof = make_proof(membership::JoinProof::kJoin, self_name());
    pool_.call(seed, [&](rpc::LocatorClient& client) { client.join(view, self_, info); });
    for (const Member& member : view.members) table_->apply(member);
    LOG(INFO) << "joined through " << rpc::ToString(seed) << ": " << view.members.size()
              << " members";
    return true;
  } catch (const rpc::LocatorError& e) {
    LOG(ERROR) << "join refused by " << rpc::ToString(seed) << ": " << e.message;
  } catch (const rpc::Unauthorized& e) {
    LOG(ERROR) << "join refused by " << rpc::ToString(seed) << ": " << e.message;
  } catch (const std::exception& e) {
    LOG(ERROR) << "join through " << rpc::ToString(seed) << " failed: " << e.what();
  }
  return false;
}

JoinInfo LocatorNode::self_join_info() const {
  const Member self = table_->self();
  JoinInfo info;
  info.incarnation = self.incarnation;
  info.metadata = self.metadata;
  info.gossip_port = self.gossip_port;
  info.placement = options_.placement;
  info.service_type = service_type();
  return info;
}

void LocatorNode::leave() {
  if (!running_.load() || leaving_.exchange(true)) return;
  const auto peers = other_ring_members();
  if (swim_) {
    swim_->leave(std::chrono::milliseconds(2000));  // marks self LEFT and gossips it
  } else {
    table_->set_self_state(MemberState::LEFT);
  }
  LOG(INFO) << "leaving: telling " << peers.size() << " peers";
  const std::string proof = make_proof(membership::JoinProof::kRemove, self_name());
  auto results = fan_out_.map(peers, [&](const Location& peer) {
    pool_.call(peer, [&](rpc::LocatorClient& client) {
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
  if (!running_.exchange(false)) return;
  stop_cv_.notify_all();
  if (sync_thread_.joinable()) sync_thread_.join();
  if (server_) server_->stop();
  swim_.reset();  // after the server: handlers may still touch the table until then
}

std::shared_ptr<const Ring> LocatorNode::ring() const {
  std::lock_guard<std::mutex> lock(ring_mu_);
  return ring_;
}

std::shared_ptr<const Ring> LocatorNode::previous_ring() const {
  std::lock_guard<std::mutex> lock(ring_mu_);
  return previous_ring_;
}

void LocatorNode::add_ring_listener(RingListener listener) {
  std::lock_guard<std::mutex> lock(ring_mu_);
  ring_listeners_.push_back(std::move(listener));
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
  if (after.state == MemberState::DEAD || after.state == MemberState::LEFT) {
    pool_.forget(after.location);
  }
  rebuild_ring();
}

void LocatorNode::rebuild_ring() {
  auto next = std::make_shared<const Ring>(table_->in_ring(), options_.placement);
  std::shared_ptr<const Ring> before;
  std::vector<RingListener> listeners;
  {
    std::lock_guard<std::mutex> lock(ring_mu_);
    if (ring_ && ring_->signature() == next->signature()) return;
    before = ring_ ? ring_ : next;
    previous_ring_ = before;
    ring_ = next;
    listeners = ring_listeners_;
  }
  LOG(INFO) << "ring: " << next->size() << " nodes";
  for (const auto& listener : listeners) listener(before, next);
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
    }
  }
}

void LocatorNode::note_peer_success(const Location& peer) {
  std::lock_guard<std::mutex> lock(failures_mu_);
  failures_.erase(MemberName(peer));
}

// ---- RPCs ----

View LocatorNode::view() const {
  View view;
  view.members = table_->all();
  view.placement = options_.placement;
  view.service_type = service_type();
  return view;
}

std::string LocatorNode::make_proof(const char* purpose, const std::string& caller) const {
  return membership::JoinProof::Make(*keys_, purpose, caller, NowMs());
}

void LocatorNode::check_proof(const char* purpose, const std::string& caller,
                              const std::string& proof, const char* call) const {
  const auto result = membership::JoinProof::Verify(*keys_, purpose, caller, proof, NowMs());
  if (result == membership::JoinProof::Result::ok) return;
  LOG(WARNING) << call << " for " << caller << " refused: proof of the cluster key is "
               << membership::JoinProof::ResultName(result);
  rpc::Unauthorized denied;
  denied.message = std::string(call) + " refused: the proof of the cluster key is " +
                   membership::JoinProof::ResultName(result) +
                   " (do both nodes use the same --cluster-key-file and a correct clock?)";
  throw denied;
}

View LocatorNode::handle_join(const Location& location, const JoinInfo& info) {
  check_proof(membership::JoinProof::kJoin, MemberName(location), info.proof, "join");
  RefuseBadLocation("join", location);
  if (!info.placement.empty() && info.placement != options_.placement) {
    rpc::LocatorError error;
    error.message = "join refused: this cluster places keys with '" + options_.placement +
                    "', the joining node with '" + info.placement + "'";
    throw error;
  }
  if (!info.service_type.empty() && info.service_type != service_type()) {
    rpc::LocatorError error;
    error.message = "join refused: this cluster serves '" + service_type() +
                    "', the joining node '" + info.service_type + "'";
    throw error;
  }
  if (MemberName(location) == self_name()) {
    rpc::LocatorError error;
    error.message = "join refused: " + rpc::ToString(location) + " is this node's own address";
    throw error;
  }
  check_weight("join", location, info);
  ++joins_handled_;
  Member member;
  member.location = location;
  member.state = MemberState::ALIVE;
  member.incarnation = info.incarnation;
  member.metadata = info.metadata;
  member.gossip_port = info.gossip_port;
  table_->apply(member);
  note_peer_success(location);
  LOG(INFO) << "join: admitted " << rpc::ToString(location);
  JoinInfo forwarded = info;
  forwarded.proof = make_proof(membership::JoinProof::kAdd, MemberName(location));
  // A join returns once every established member has heard of it, so the joiner's first
  // requests find it known. A member that is itself still joining answers only when its own
  // join returns: that wait is capped, and the call goes on in the background (gossip and
  // anti-entropy spread the join too).
  const auto deadline = std::chrono::steady_clock::now() + kJoinBroadcastWait;
  for (auto& call : broadcast_add(location, forwarded, {self_, location})) {
    if (call.wait_until(deadline) != std::future_status::ready) {
      LOG(INFO) << "join of " << rpc::ToString(location)
                << ": not every member confirmed it yet; the rest continues in the background";
      break;
    }
  }
  return view();
}

void LocatorNode::check_weight(const char* call, const Location& location,
                               const JoinInfo& info) const {
  Member candidate;
  candidate.location = location;
  candidate.metadata = info.metadata;
  const std::string problem = WeightProblem(candidate, options_.placement);
  if (problem.empty()) return;
  LOG(WARNING) << call << " of " << rpc::ToString(location) << " refused: " << problem;
  rpc::LocatorError error;
  error.message = std::string(call) + " refused: " + problem;
  throw error;
}

std::vector<std::future<void>> LocatorNode::broadcast_add(
    const Location& location, const JoinInfo& info, const std::vector<Location>& authorities) {
  std::vector<std::future<void>> calls;
  for (const Location& peer : other_ring_members()) {
    bool told = false;
    for (const Location& a : authorities) told = told || MemberName(a) == MemberName(peer);
    if (told) continue;
    calls.push_back(fan_out_.submit([this, peer, location, info, authorities] {
      try {
        pool_.call(peer, [&](rpc::LocatorClient& client) {
          client.add(location, authorities, info);
        });
        note_peer_success(peer);
      } catch (const std::exception& e) {
        LOG(WARNING) << "could not tell " << rpc::ToString(peer) << " about "
                     << rpc::ToString(location) << ": " << e.what();
        note_peer_failure(peer);
      }
    }));
  }
  return calls;
}

void LocatorNode::handle_add(const Location& location, const std::vector<Location>&,
                             const JoinInfo& info) {
  check_proof(membership::JoinProof::kAdd, MemberName(location), info.proof, "add");
  RefuseBadLocation("add", location);
  if (!info.placement.empty() && info.placement != options_.placement) {
    rpc::LocatorError error;
    error.message = "add refused: placement '" + info.placement + "' differs from '" +
                    options_.placement + "'";
    throw error;
  }
  check_weight("add", location, info);
  Member member;
  member.location = location;
  member.state = MemberState::ALIVE;
  member.incarnation = info.incarnation;
  member.metadata = info.metadata;
  member.gossip_port = info.gossip_port;
  table_->apply(member);
  note_peer_success(location);
}

void LocatorNode::handle_remove(const Location& location, const std::vector<Location>&,
                                const std::string& proof) {
  check_proof(membership::JoinProof::kRemove, MemberName(location), proof, "remove");
  RefuseBadLocation("remove", location);
  const std::string name = MemberName(location);
  auto known = table_->find(name);
  if (!known) return;  // nothing to forget
  Member statement = *known;
  statement.state = MemberState::LEFT;
  table_->apply(statement);  // refuted by the member itself if it is still alive
}

View LocatorNode::handle_sync(const std::vector<Member>& members, const std::string& proof) {
  check_proof(membership::JoinProof::kSync, "", proof, "sync");
  for (const Member& member : members) RefuseBadLocation("sync", member.location);
  for (const Member& member : members) table_->apply(member);
  return view();
}

// ---- anti-entropy ----

void LocatorNode::sync_loop() {
  while (running_.load()) {
    {
      std::unique_lock<std::mutex> lock(stop_mu_);
      stop_cv_.wait_for(lock, std::chrono::milliseconds(options_.sync_interval_ms),
                        [this] { return !running_.load(); });
    }
    if (!running_.load()) break;
    sync_once();
    table_->reap(NowMs(), options_.reap_after_ms);
  }
}

void LocatorNode::sync_once() {
  auto peers = other_ring_members();
  if (peers.empty()) return;
  static thread_local std::mt19937_64 rng(std::random_device{}());
  sync_with(peers[std::uniform_int_distribution<size_t>(0, peers.size() - 1)(rng)]);
}

void LocatorNode::sync_with(const Location& peer) {
  ++syncs_sent_;
  try {
    View theirs;
    const std::string proof = make_proof(membership::JoinProof::kSync, "");
    pool_.call(peer, [&](rpc::LocatorClient& client) {
      client.sync(theirs, table_->all(), proof);
    });
    note_peer_success(peer);
    for (const Member& member : theirs.members) table_->apply(member);
  } catch (const std::exception& e) {
    ++syncs_failed_;
    VLOG(1) << "sync with " << rpc::ToString(peer) << " failed: " << e.what();
    note_peer_failure(peer);
  }
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
  out["syncs_sent"] = syncs_sent_.load();
  out["syncs_failed"] = syncs_failed_.load();
  out["peer_failures"] = peer_failures_.load();
  rpc::ExportServerStats(options_.server, &out);
  if (swim_) {
    for (const auto& [key, value] : swim_->stats()) out[key] = value;
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
