// A deterministic simulation of a SWIM cluster: many SwimDetectors in one process on a
// virtual clock, talking through a simulated network with per-packet loss, delay jitter and
// partitions. Everything random comes from seeded generators: a run is a pure function of its
// options.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <string>
#include <vector>

#include "locator/membership/key_ring.h"
#include "locator/membership/member_table.h"
#include "locator/membership/swim_config.h"
#include "locator/membership/swim_detector.h"

namespace thrifty::membership::sim {

// Virtual time: callbacks ordered by (time, insertion order).
class EventLoop {
 public:
  int64_t now() const { return now_; }
  void at(int64_t time_ms, std::function<void()> fn);
  // Runs every event up to and including `time_ms`, then sets the clock to it.
  void run_until(int64_t time_ms);
  size_t events_run() const { return events_run_; }

 private:
  struct Event {
    int64_t time;
    uint64_t order;
    std::function<void()> fn;
  };
  struct Later {
    bool operator()(const Event& a, const Event& b) const {
      return a.time != b.time ? a.time > b.time : a.order > b.order;
    }
  };
  int64_t now_ = 0;
  uint64_t next_order_ = 0;
  size_t events_run_ = 0;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
};

struct SimOptions {
  size_t nodes = 10;
  uint64_t seed = 1;
  SwimConfig config;
  double loss = 0.0;          // probability that a packet is lost
  int64_t min_delay_ms = 1;   // one-way delay = min + uniform[0, jitter]
  int64_t jitter_ms = 4;
  bool push_pull = true;      // the hook merges both tables (what the node does over TCP)
  int64_t push_pull_rtt_ms = 5;
};

// A state change one node observed about another.
struct Observation {
  int64_t time_ms;
  size_t observer;
  std::string subject;
  MemberState::type state;
};

class SimCluster {
 public:
  // Starts `nodes` members that all know each other (as after their joins), each detector
  // started at a random point of its first probe period.
  explicit SimCluster(const SimOptions& options);
  ~SimCluster();

  size_t size() const { return nodes_.size(); }
  int64_t now() const { return loop_.now(); }
  void run_for(int64_t ms) { loop_.run_until(loop_.now() + ms); }
  // Runs in steps of `step_ms` until pred() or `limit_ms` from now. Returns pred().
  bool run_until(const std::function<bool()>& pred, int64_t limit_ms, int64_t step_ms = 100);

  // The member stops for good: no more timers, packets to it vanish.
  void crash(size_t i);
  bool crashed(size_t i) const;
  // Packets (and push-pull) pass only between nodes of the same side.
  void partition(const std::function<int(size_t)>& side);
  void heal();
  void set_loss(double loss) { options_.loss = loss; }

  const std::string& name(size_t i) const;
  MemberTable& table(size_t i);
  SwimDetector& detector(size_t i);
  KeyRing& keys() { return keys_; }
  // What node i thinks of node j (nullopt if unknown).
  std::optional<MemberState::type> view(size_t i, size_t j) const;

  // Every state change each live node made to its view, in time order.
  const std::vector<Observation>& observations() const { return observations_; }
  // Sum of one counter over all nodes (crashed ones too, up to their crash).
  int64_t total(const std::string& counter) const;

  // Delivers a raw datagram to node i as if it came from `from` (tests of bad input).
  void inject(size_t i, const Location& from, const std::string& bytes);
  // Adds a brand-new member that knows only node `seed_node` (as after a Thrift join through
  // it; `seed_node` learns of it too). Returns its index.
  size_t add_node(size_t seed_node);

 private:
  struct Node;
  class Env;
  void send(size_t from, const Location& to, const std::string& bytes);
  void push_pull(size_t from, const Member& peer);
  size_t make_node();
  void attach_detector(size_t i);
  Location gossip_location(size_t i) const;

  SimOptions options_;
  EventLoop loop_;
  KeyRing keys_;
  std::mt19937_64 net_rng_;
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, size_t> by_endpoint_;  // "ip:gossip_port"
  std::map<std::string, size_t> by_name_;      // "ip:thrift_port"
  std::vector<int> side_;
  std::vector<Observation> observations_;
  std::map<std::string, int64_t> crashed_totals_;
};

// The number of the simulation's wall clock at virtual time 0.
constexpr int64_t kSimEpochMs = 1'700'000'000'000;

}  // namespace thrifty::membership::sim
