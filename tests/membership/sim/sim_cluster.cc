#include "tests/membership/sim/sim_cluster.h"

#include <stdexcept>

namespace thrifty::membership::sim {

void EventLoop::at(int64_t time_ms, std::function<void()> fn) {
  queue_.push(Event{std::max(time_ms, now_), next_order_++, std::move(fn)});
}

void EventLoop::run_until(int64_t time_ms) {
  while (!queue_.empty() && queue_.top().time <= time_ms) {
    // Moved out before pop: the callback may schedule more events.
    Event event = std::move(const_cast<Event&>(queue_.top()));
    queue_.pop();
    now_ = event.time;
    ++events_run_;
    event.fn();
  }
  now_ = std::max(now_, time_ms);
}

struct SimCluster::Node {
  std::string name;
  Member self;
  std::unique_ptr<Env> env;
  std::unique_ptr<MemberTable> table;
  std::unique_ptr<SwimDetector> detector;
  bool crashed = false;
};

// One member's view of the world: the cluster's clock and network.
class SimCluster::Env final : public Scheduler, public PacketTransport {
 public:
  Env(SimCluster* cluster, size_t index) : cluster_(cluster), index_(index) {}
  int64_t now_ms() override { return cluster_->loop_.now(); }
  int64_t wall_ms() override { return kSimEpochMs + cluster_->loop_.now(); }
  void schedule(int64_t delay_ms, std::function<void()> fn) override {
    SimCluster* cluster = cluster_;
    const size_t index = index_;
    cluster_->loop_.at(cluster_->loop_.now() + std::max<int64_t>(0, delay_ms),
                       [cluster, index, fn = std::move(fn)] {
                         if (!cluster->nodes_[index]->crashed) fn();
                       });
  }
  void send(const Location& to, const std::string& bytes) override {
    cluster_->send(index_, to, bytes);
  }

 private:
  SimCluster* cluster_;
  size_t index_;
};

SimCluster::SimCluster(const SimOptions& options)
    : options_(options), keys_(KeyRing::DevelopmentKey()), net_rng_(options.seed * 7919 + 17) {
  for (size_t i = 0; i < options_.nodes; ++i) make_node();
  // Everyone knows everyone, as after the joins (and before the detectors: their own news
  // is what they gossip at start).
  for (auto& node : nodes_) {
    for (auto& other : nodes_) node->table->apply(other->self);
  }
  for (size_t i = 0; i < nodes_.size(); ++i) attach_detector(i);
  for (auto& node : nodes_) node->detector->start();
}

bool SimCluster::crashed(size_t i) const { return nodes_[i]->crashed; }
const std::string& SimCluster::name(size_t i) const { return nodes_[i]->name; }
MemberTable& SimCluster::table(size_t i) { return *nodes_[i]->table; }
SwimDetector& SimCluster::detector(size_t i) { return *nodes_[i]->detector; }

SimCluster::~SimCluster() {
  // Detectors first: they unregister from the tables.
  for (auto& node : nodes_) node->detector.reset();
}

Location SimCluster::gossip_location(size_t i) const {
  return GossipEndpoint(nodes_[i]->self);
}

size_t SimCluster::make_node() {
  const size_t i = nodes_.size();
  auto node = std::make_unique<Node>();
  node->self.location.address =
      "10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
      std::to_string(i % 256);
  node->self.location.port = 9000;
  node->self.gossip_port = 7946;
  node->self.incarnation = 1;
  node->name = MemberName(node->self.location);
  node->env = std::make_unique<Env>(this, i);
  EventLoop* loop = &loop_;
  node->table = std::make_unique<MemberTable>(
      node->self, [loop] { return kSimEpochMs + loop->now(); });
  node->table->add_listener([this, i](const std::optional<Member>& before, const Member& after) {
    if (!before || before->state != after.state) {
      observations_.push_back(Observation{loop_.now(), i, MemberName(after.location), after.state});
    }
  });
  by_endpoint_[MemberName(GossipEndpoint(node->self))] = i;
  by_name_[node->name] = i;
  side_.push_back(0);
  nodes_.push_back(std::move(node));
  return i;
}

void SimCluster::attach_detector(size_t i) {
  Node& node = *nodes_[i];
  SwimDetector::PushPullHook hook;
  if (options_.push_pull) {
    hook = [this, i](const Member& peer) { push_pull(i, peer); };
  }
  node.detector = std::make_unique<SwimDetector>(options_.config, *node.table, keys_, *node.env,
                                                 *node.env, options_.seed * 1000003 + i, hook);
}

size_t SimCluster::add_node(size_t seed_node) {
  const size_t i = make_node();
  // The join: the new node gets the seed's view, the seed learns of the new node.
  for (const Member& m : nodes_[seed_node]->table->all()) nodes_[i]->table->apply(m);
  attach_detector(i);
  nodes_[seed_node]->table->apply(nodes_[i]->self);
  nodes_[i]->detector->start();
  return i;
}

bool SimCluster::run_until(const std::function<bool()>& pred, int64_t limit_ms, int64_t step_ms) {
  const int64_t end = loop_.now() + limit_ms;
  while (!pred()) {
    if (loop_.now() >= end) return false;
    loop_.run_until(std::min(end, loop_.now() + step_ms));
  }
  return true;
}

void SimCluster::crash(size_t i) {
  Node& node = *nodes_[i];
  if (node.crashed) return;
  for (const auto& [name, value] : node.detector->stats()) crashed_totals_[name] += value;
  node.crashed = true;
  node.detector.reset();
}

void SimCluster::partition(const std::function<int(size_t)>& side) {
  for (size_t i = 0; i < nodes_.size(); ++i) side_[i] = side(i);
}

void SimCluster::heal() {
  for (auto& s : side_) s = 0;
}

std::optional<MemberState::type> SimCluster::view(size_t i, size_t j) const {
  auto m = nodes_[i]->table->find(nodes_[j]->name);
  if (!m) return std::nullopt;
  return m->state;
}

int64_t SimCluster::total(const std::string& counter) const {
  int64_t sum = 0;
  auto it = crashed_totals_.find(counter);
  if (it != crashed_totals_.end()) sum += it->second;
  for (const auto& node : nodes_) {
    if (node->crashed) continue;
    auto stats = node->detector->stats();
    auto found = stats.find(counter);
    if (found == stats.end()) throw std::invalid_argument("no counter " + counter);
    sum += found->second;
  }
  return sum;
}

void SimCluster::inject(size_t i, const Location& from, const std::string& bytes) {
  if (!nodes_[i]->crashed) nodes_[i]->detector->on_packet(from, bytes);
}

void SimCluster::send(size_t from, const Location& to, const std::string& bytes) {
  auto it = by_endpoint_.find(MemberName(to));
  if (it == by_endpoint_.end()) return;
  const size_t dest = it->second;
  if (side_[from] != side_[dest]) return;
  if (options_.loss > 0 && std::uniform_real_distribution<double>(0, 1)(net_rng_) < options_.loss) {
    return;
  }
  const int64_t delay =
      options_.min_delay_ms +
      std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(0, options_.jitter_ms))(net_rng_);
  const Location source = gossip_location(from);
  loop_.at(loop_.now() + delay, [this, dest, source, bytes] {
    if (!nodes_[dest]->crashed) nodes_[dest]->detector->on_packet(source, bytes);
  });
}

void SimCluster::push_pull(size_t from, const Member& peer) {
  auto it = by_name_.find(MemberName(peer.location));
  if (it == by_name_.end()) return;
  const size_t to = it->second;
  // Over TCP in production: it fails when either end is down or they are cut apart.
  loop_.at(loop_.now() + options_.push_pull_rtt_ms, [this, from, to] {
    if (nodes_[from]->crashed || nodes_[to]->crashed || side_[from] != side_[to]) return;
    // Locator.sync: the callee merges the caller's view and answers with its own.
    for (const Member& m : nodes_[from]->table->all()) nodes_[to]->table->apply(m);
    for (const Member& m : nodes_[to]->table->all()) nodes_[from]->table->apply(m);
  });
}

}  // namespace thrifty::membership::sim
