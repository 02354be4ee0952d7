// Fakes for the store's service layer (no process, no socket): a cluster whose snapshots
// tests build by hand, peers that answer from maps and fail on demand, an engine with a hook,
// and one node's service layer wired over them with a fake steady clock.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <thrift/transport/TTransportException.h>

#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/replica_reader.h"
#include "diststore/service/replica_writer.h"
#include "diststore/service/request_router.h"
#include "diststore/storage/engine.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"

namespace thrifty::diststore::testing {

using locator::ClusterSnapshot;
using membership::MemberName;
using locator::wire::MemberState;

inline locator::wire::Member MemberAt(int port, MemberState::type state = MemberState::ALIVE) {
  locator::wire::Member m;
  m.location = rpc::MakeLocation("127.0.0.1", port);
  m.state = state;
  m.incarnation = 1;
  return m;
}

class FakeCluster : public ClusterView {
 public:
  explicit FakeCluster(int self_port) : self_(rpc::MakeLocation("127.0.0.1", self_port)) {}
  // Publishes the members as the next generation.
  void set(std::vector<locator::wire::Member> members) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = ClusterSnapshot::Build(++generation_, std::move(members), MemberName(self_),
                                       "ketama", snapshot_);
  }
  std::shared_ptr<const ClusterSnapshot> snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshot_;
  }
  const locator::wire::Location& self() const override { return self_; }
  void report_failure(const locator::wire::Location& peer) override {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.insert(MemberName(peer));
  }
  void report_success(const locator::wire::Location&) override {}
  std::set<std::string> failures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

 private:
  locator::wire::Location self_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  std::shared_ptr<const ClusterSnapshot> snapshot_;
  std::set<std::string> failures_;
};

// Peers answer from their own maps; a peer can be down (NOT_OPEN, as an unreachable node), or
// run a hook before it answers.
class FakePeers : public PeerClient {
 public:
  std::vector<wire::Record> owner_get(const locator::wire::Location& peer,
                                     const std::vector<std::string>& keys, bool) override {
    before(peer, "owner_get");
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<wire::Record> out;
    for (const auto& key : keys) {
      auto it = data_[MemberName(peer)].find(key);
      if (it != data_[MemberName(peer)].end()) out.push_back(it->second);
    }
    return out;
  }
  // Unversioned records are stamped (the owner, or a replicated write's leader, does that);
  // versioned ones are a replica's copy: kept if newer.
  void owner_put(const locator::wire::Location& peer, const std::vector<wire::Record>& records,
                 wire::Consistency::type) override {
    before(peer, "owner_put");
    std::lock_guard<std::mutex> lock(mu_);
    for (auto r : records) {
      if (r.version == 0) r.version = ++clock_;
      auto& held = data_[MemberName(peer)];
      auto it = held.find(r.key);
      if (it == held.end() || it->second.version < r.version) held[r.key] = r;
    }
  }
  wire::HandoffAck handoff(const locator::wire::Location& peer, const std::vector<wire::Record>& records,
                          const locator::wire::Location&) override {
    before(peer, "handoff");
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : records) data_[MemberName(peer)][r.key] = r;
    wire::HandoffAck ack;
    ack.applied = static_cast<int64_t>(records.size());
    return ack;
  }
  // Hints kept on `peer` for the member with `target_host_id` (--hints-count-for-w).
  void keep_hints(const locator::wire::Location& peer, const std::vector<wire::Record>& records,
                  const std::string& target_host_id, const locator::wire::Location&) override {
    before(peer, "keep_hints");
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : records) hints_[MemberName(peer)][target_host_id][r.key] = r;
  }
  // The hint `port` keeps of `key` for the member with `host_id`.
  std::optional<wire::Record> hint(int port, const std::string& host_id, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& held = hints_["127.0.0.1:" + std::to_string(port)][host_id];
    auto it = held.find(key);
    if (it == held.end()) return std::nullopt;
    return it->second;
  }

  void store(int port, const std::string& key, const std::string& value, int64_t version) {
    std::lock_guard<std::mutex> lock(mu_);
    wire::Record r;
    r.key = key;
    r.value = value;
    r.version = version;
    data_["127.0.0.1:" + std::to_string(port)][key] = r;
  }
  std::optional<wire::Record> record(int port, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& held = data_["127.0.0.1:" + std::to_string(port)];
    auto it = held.find(key);
    if (it == held.end()) return std::nullopt;
    return it->second;
  }
  std::optional<std::string> held(int port, const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto& held = data_["127.0.0.1:" + std::to_string(port)];
    auto it = held.find(key);
    if (it == held.end()) return std::nullopt;
    return it->second.value;
  }
  void set_down(int port, bool down) {
    std::lock_guard<std::mutex> lock(mu_);
    if (down) {
      down_.insert("127.0.0.1:" + std::to_string(port));
    } else {
      down_.erase("127.0.0.1:" + std::to_string(port));
    }
  }
  // The peer answers every call with a StoreError carrying `message` (it is up but refuses,
  // as a replica that is rebuilding); empty: it answers again.
  void set_refusing(int port, const std::string& message) {
    std::lock_guard<std::mutex> lock(mu_);
    refusing_["127.0.0.1:" + std::to_string(port)] = message;
  }
  int calls(int port) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_["127.0.0.1:" + std::to_string(port)];
  }
  // Runs before every call (outside the lock): tests stall or change the cluster here.
  std::function<void(const locator::wire::Location&, const char* method)> hook;

  // While held, owner_get_async starts nothing and returns: the call waits here, unanswered,
  // until release_owner_gets() answers every waiting call (on the releasing thread), as a
  // peer channel would from its loop.
  void owner_get_async(const locator::wire::Location& peer, std::vector<std::string> keys,
                       bool fallback,
                       rpc::OutcomeHandler<std::vector<wire::Record>> done) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (hold_owner_gets_) {
        held_owner_gets_.push_back([this, peer, keys, fallback, done] {
          PeerClient::owner_get_async(peer, keys, fallback, done);
        });
        return;
      }
    }
    PeerClient::owner_get_async(peer, std::move(keys), fallback, std::move(done));
  }
  void hold_owner_gets() {
    std::lock_guard<std::mutex> lock(mu_);
    hold_owner_gets_ = true;
  }
  size_t owner_gets_waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_owner_gets_.size();
  }
  void release_owner_gets() {
    std::vector<std::function<void()>> waiting;
    {
      std::lock_guard<std::mutex> lock(mu_);
      hold_owner_gets_ = false;
      waiting.swap(held_owner_gets_);
    }
    for (auto& call : waiting) call();
  }

 private:
  void before(const locator::wire::Location& peer, const char* method) {
    if (hook) hook(peer, method);
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[MemberName(peer)];
    if (down_.count(MemberName(peer))) {
      throw apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::NOT_OPEN, "connection refused");
    }
    if (auto it = refusing_.find(MemberName(peer)); it != refusing_.end() && !it->second.empty()) {
      wire::StoreError error;
      error.message = it->second;
      throw error;
    }
  }
  std::mutex mu_;
  std::map<std::string, std::map<std::string, wire::Record>> data_;
  // holder -> target host ID -> key -> hint
  std::map<std::string, std::map<std::string, std::map<std::string, wire::Record>>> hints_;
  std::set<std::string> down_;
  std::map<std::string, std::string> refusing_;
  std::map<std::string, int> calls_;
  int64_t clock_ = 1000;
  bool hold_owner_gets_ = false;
  std::vector<std::function<void()>> held_owner_gets_;
};

// The memory engine, with a hook that runs before every batch is merged (tests stall it).
class HookedEngine : public storage::Engine {
 public:
  std::function<void()> before_merge;
  storage::SideTable& hints_table() override { return inner_->hints_table(); }
  std::optional<storage::Record> get(std::string_view key) override { return inner_->get(key); }
  std::vector<std::optional<storage::Record>> multi_get(
      const std::vector<std::string>& keys) override {
    return inner_->multi_get(keys);
  }
  bool merge(std::string_view key, const storage::Record& record) override {
    return inner_->merge(key, record);
  }
  size_t merge_batch(const std::vector<std::pair<std::string, storage::Record>>& records) override {
    if (before_merge) before_merge();
    return inner_->merge_batch(records);
  }
  bool erase_if_version(std::string_view key, int64_t version) override {
    return inner_->erase_if_version(key, version);
  }
  size_t erase_batch_if_versions(
      const std::vector<std::pair<std::string, int64_t>>& keys) override {
    return inner_->erase_batch_if_versions(keys);
  }
  void scan(const std::function<bool(std::string_view, const storage::Record&)>& fn) override {
    inner_->scan(fn);
  }
  uint64_t count_live() override { return inner_->count_live(); }
  std::string name() const override { return "hooked memory"; }

 private:
  std::unique_ptr<storage::Engine> inner_ = storage::NewMemoryEngine();
};

constexpr int kSelf = 7001, kB = 7002, kC = 7003;

// One node's service layer over the fakes.
struct Node {
  explicit Node(bool started_with_data = false, int replicas = 1) : cluster(kSelf) {
    cluster.set({MemberAt(kSelf)});
    replication.replicas = replicas;
    MovingKeysOptions options;
    options.steady_ms = [this] { return now_ms.load(); };
    moving = std::make_unique<MovingKeys>(options, started_with_data);
    owner = std::make_unique<OwnerStore>(cluster, *engine, peers, *moving, limits,
                                         replication, counters);
    const ReplicaPaths paths{cluster, *owner, peers, *moving, fan_out, replication, counters};
    reader = std::make_unique<ReplicaReader>(paths);
    writer = std::make_unique<ReplicaWriter>(paths);
    router = std::make_unique<RequestRouter>(cluster, *owner, peers, *moving, *reader, *writer,
                                             fan_out, limits, replication, counters);
  }
  // A ring change, as the node's listener reports it.
  void change(std::vector<locator::wire::Member> members) {
    cluster.set(std::move(members));
    moving->on_ring_change();
  }
  void advance(int64_t ms) { now_ms += ms; }

  std::atomic<int64_t> now_ms{1'000'000};
  FakeCluster cluster;
  FakePeers peers;
  std::unique_ptr<HookedEngine> engine = std::make_unique<HookedEngine>();
  StoreLimits limits;
  ReplicationOptions replication;
  StoreCounters counters;
  rpc::FanOut fan_out{4};
  std::unique_ptr<MovingKeys> moving;
  std::unique_ptr<OwnerStore> owner;
  std::unique_ptr<ReplicaReader> reader;
  std::unique_ptr<ReplicaWriter> writer;
  std::unique_ptr<RequestRouter> router;
};

}  // namespace thrifty::diststore::testing
