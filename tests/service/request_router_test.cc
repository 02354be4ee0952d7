// RequestRouter and OwnerStore against a fake cluster (snapshots built by hand), fake peers
// (maps, failures on demand) and a fake steady clock: routing, fallback reads while keys
// move, the DEAD-owner path, rerouting, and a scatter that waits for every call.
#include <atomic>
#include <condition_variable>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/transport/TTransportException.h>

#include "diststore/service/cluster_view.h"
#include "diststore/service/moving_keys.h"
#include "diststore/service/owner_store.h"
#include "diststore/service/peer_client.h"
#include "diststore/service/request_router.h"
#include "diststore/storage/engine.h"
#include "locator/membership/member_table.h"
#include "locator/rpc/address.h"

namespace thrifty::diststore {
namespace {

using locator::ClusterSnapshot;
using membership::MemberName;
using locator::wire::Location;
using locator::wire::Member;
using locator::wire::MemberState;

Member MemberAt(int port, MemberState::type state = MemberState::ALIVE) {
  Member m;
  m.location = rpc::MakeLocation("127.0.0.1", port);
  m.state = state;
  m.incarnation = 1;
  return m;
}

class FakeCluster : public ClusterView {
 public:
  explicit FakeCluster(int self_port) : self_(rpc::MakeLocation("127.0.0.1", self_port)) {}
  // Publishes the members as the next generation.
  void set(std::vector<Member> members) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = ClusterSnapshot::Build(++generation_, std::move(members), MemberName(self_),
                                       "ketama", snapshot_);
  }
  std::shared_ptr<const ClusterSnapshot> snapshot() const override {
    std::lock_guard<std::mutex> lock(mu_);
    return snapshot_;
  }
  const Location& self() const override { return self_; }
  void report_failure(const Location& peer) override {
    std::lock_guard<std::mutex> lock(mu_);
    failures_.insert(MemberName(peer));
  }
  void report_success(const Location&) override {}
  std::set<std::string> failures() const {
    std::lock_guard<std::mutex> lock(mu_);
    return failures_;
  }

 private:
  Location self_;
  mutable std::mutex mu_;
  uint64_t generation_ = 0;
  std::shared_ptr<const ClusterSnapshot> snapshot_;
  std::set<std::string> failures_;
};

// Peers answer from their own maps; a peer can be down (NOT_OPEN, as an unreachable node), or
// run a hook before it answers.
class FakePeers : public PeerClient {
 public:
  std::vector<wire::Record> owner_get(const Location& peer,
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
  void owner_put(const Location& peer, const std::vector<wire::Record>& records) override {
    before(peer, "owner_put");
    std::lock_guard<std::mutex> lock(mu_);
    for (auto r : records) {
      r.version = ++clock_;
      data_[MemberName(peer)][r.key] = r;
    }
  }
  wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                          const Location&) override {
    before(peer, "handoff");
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& r : records) data_[MemberName(peer)][r.key] = r;
    wire::HandoffAck ack;
    ack.applied = static_cast<int64_t>(records.size());
    return ack;
  }

  void store(int port, const std::string& key, const std::string& value, int64_t version) {
    std::lock_guard<std::mutex> lock(mu_);
    wire::Record r;
    r.key = key;
    r.value = value;
    r.version = version;
    data_["127.0.0.1:" + std::to_string(port)][key] = r;
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
  int calls(int port) {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_["127.0.0.1:" + std::to_string(port)];
  }
  // Runs before every call (outside the lock): tests stall or change the cluster here.
  std::function<void(const Location&, const char* method)> hook;

 private:
  void before(const Location& peer, const char* method) {
    if (hook) hook(peer, method);
    std::lock_guard<std::mutex> lock(mu_);
    ++calls_[MemberName(peer)];
    if (down_.count(MemberName(peer))) {
      throw apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::NOT_OPEN, "connection refused");
    }
  }
  std::mutex mu_;
  std::map<std::string, std::map<std::string, wire::Record>> data_;
  std::set<std::string> down_;
  std::map<std::string, int> calls_;
  int64_t clock_ = 1000;
};

// The memory engine, with a hook that runs before every batch is merged (tests stall it).
class HookedEngine : public storage::Engine {
 public:
  std::function<void()> before_merge;
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
  explicit Node(bool started_with_data = false) : cluster(kSelf) {
    cluster.set({MemberAt(kSelf)});
    MovingKeysOptions options;
    options.steady_ms = [this] { return now_ms.load(); };
    moving = std::make_unique<MovingKeys>(options, started_with_data);
    owner = std::make_unique<OwnerStore>(cluster, *engine, peers, *moving, fan_out, limits,
                                         counters);
    router = std::make_unique<RequestRouter>(cluster, *owner, peers, *moving, fan_out, limits,
                                             counters);
  }
  // A ring change, as the node's listener reports it.
  void change(std::vector<Member> members) {
    cluster.set(std::move(members));
    moving->on_ring_change();
  }
  void advance(int64_t ms) { now_ms += ms; }

  std::atomic<int64_t> now_ms{1'000'000};
  FakeCluster cluster;
  FakePeers peers;
  std::unique_ptr<HookedEngine> engine = std::make_unique<HookedEngine>();
  StoreLimits limits;
  StoreCounters counters;
  rpc::FanOut fan_out{4};
  std::unique_ptr<MovingKeys> moving;
  std::unique_ptr<OwnerStore> owner;
  std::unique_ptr<RequestRouter> router;
};

// Keys the given snapshot's ring gives to `port`.
std::vector<std::string> KeysOwnedBy(const ClusterSnapshot& snapshot, int port, size_t n) {
  std::vector<std::string> out;
  for (int i = 0; out.size() < n && i < 100000; ++i) {
    const std::string key = "key-" + std::to_string(i);
    if (snapshot.ring()->owner(key).port == port) out.push_back(key);
  }
  return out;
}

TEST(RequestRouter, SendsEachKeyToItsOwner) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB)});
  node.advance(60000);  // no keys moving
  const auto remote = KeysOwnedBy(*node.cluster.snapshot(), kB, 3);
  const auto local = KeysOwnedBy(*node.cluster.snapshot(), kSelf, 3);
  for (const auto& key : remote) node.router->put(key, "v-" + key);
  for (const auto& key : local) node.router->put(key, "v-" + key);
  for (const auto& key : remote) EXPECT_EQ(node.peers.held(kB, key), "v-" + key);
  for (const auto& key : local) {
    EXPECT_FALSE(node.peers.held(kB, key).has_value());
    EXPECT_EQ(node.router->get(key), "v-" + key);
  }
  EXPECT_EQ(node.router->get(remote[0]), "v-" + remote[0]);
  std::vector<std::string> all = remote;
  all.insert(all.end(), local.begin(), local.end());
  EXPECT_EQ(node.router->multi_get(all).size(), all.size());
  EXPECT_GE(node.counters.forwarded.load(), 4);
}

// A join: this node now owns keys that are still on their previous owner (handoff in
// flight). A read that misses here asks there, for the fallback window only.
TEST(RequestRouter, AMissWhileKeysMoveAsksThePreviousOwner) {
  Node node;
  node.change({MemberAt(kB)});  // before: only B (this node was not in the ring)
  node.change({MemberAt(kSelf), MemberAt(kB)});
  const auto mine = KeysOwnedBy(*node.cluster.snapshot(), kSelf, 2);
  node.peers.store(kB, mine[0], "moving", 5);
  EXPECT_EQ(node.router->get(mine[0]), "moving");
  EXPECT_GE(node.counters.fallback_reads.load(), 1);
  EXPECT_THROW(node.router->get(mine[1]), wire::NotFound);  // absent everywhere

  node.advance(31000);  // the window closed: no more asking
  const int calls = node.peers.calls(kB);
  EXPECT_THROW(node.router->get(mine[0]), wire::NotFound);
  EXPECT_EQ(node.peers.calls(kB), calls);

  // Handoff traffic arriving opens it again.
  node.owner->handoff({}, rpc::MakeLocation("127.0.0.1", kB));
  EXPECT_EQ(node.router->get(mine[0]), "moving");
}

// The newer copy wins: a node that restarted on old data compares with the other holder.
TEST(RequestRouter, ARestartedNodeServesTheNewerCopy) {
  Node node(/*started_with_data=*/true);
  node.change({MemberAt(kSelf), MemberAt(kB)});
  const auto mine = KeysOwnedBy(*node.cluster.snapshot(), kSelf, 1);
  wire::Record old_copy;
  old_copy.key = mine[0];
  old_copy.value = "before the crash";
  old_copy.version = 10;
  node.owner->handoff({old_copy}, rpc::MakeLocation("127.0.0.1", kB));
  // Written on B (the owner without this node) while this node was away.
  node.peers.store(kB, mine[0], "while away", 20);
  EXPECT_EQ(node.router->get(mine[0]), "while away");
}

// A missing key whose owner is DEAD is unavailable, not NotFound.
TEST(RequestRouter, AKeyOfADeadOwnerIsUnavailableNotMissing) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
  const auto of_c = KeysOwnedBy(*node.cluster.snapshot(), kC, 40);
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC, MemberState::DEAD)});
  node.advance(60000);
  size_t checked = 0;
  for (const auto& key : of_c) {
    // A key C's death gave to another node is that node's to answer (its OwnerStore does
    // the same check); the fake peers here only hold data.
    const auto& owner = node.cluster.snapshot()->ring()->owner(key);
    if (owner.port != kSelf) continue;
    ++checked;
    try {
      node.router->get(key);
      ADD_FAILURE() << key << " answered";
    } catch (const wire::StoreError& e) {
      EXPECT_NE(e.message.find("DEAD"), std::string::npos) << e.message;
      EXPECT_NE(e.message.find("127.0.0.1:" + std::to_string(kC)), std::string::npos) << e.message;
    } catch (const wire::NotFound&) {
      ADD_FAILURE() << key << ": NotFound for a key whose owner is DEAD (now owned by "
                    << MemberName(owner) << ")";
    }
  }
  EXPECT_GT(checked, 0u);
  // Once C has LEFT (its keys were handed off or are gone for good), a miss is a miss.
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC, MemberState::LEFT)});
  node.advance(60000);
  const auto mine = KeysOwnedBy(*node.cluster.snapshot(), kSelf, 1);
  EXPECT_THROW(node.router->get(mine[0]), wire::NotFound);
}

// The owner left while the request was in flight and this node heard of it meanwhile: the
// request is routed once more, on the new ring, instead of failing.
TEST(RequestRouter, ARequestWhoseOwnerLeftMidFlightIsRoutedAgain) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
  node.advance(60000);
  const auto of_b = KeysOwnedBy(*node.cluster.snapshot(), kB, 1);
  node.peers.set_down(kB, true);
  node.peers.hook = [&](const Location& peer, const char*) {
    if (peer.port == kB) node.change({MemberAt(kSelf), MemberAt(kC), MemberAt(kB, MemberState::LEFT)});
  };
  node.router->put(of_b[0], "after");
  EXPECT_EQ(node.counters.rerouted.load(), 1);
  const auto& now_owner = node.cluster.snapshot()->ring()->owner(of_b[0]);
  if (now_owner.port == kC) {
    EXPECT_EQ(node.peers.held(kC, of_b[0]), "after");
  } else {
    node.peers.hook = nullptr;
    EXPECT_EQ(node.router->get(of_b[0]), "after");
  }
  EXPECT_TRUE(node.cluster.failures().count("127.0.0.1:" + std::to_string(kB)));

  // Without a ring change, an unreachable owner is a clear error naming it.
  node.peers.hook = nullptr;
  node.peers.set_down(kC, true);
  const auto of_c = KeysOwnedBy(*node.cluster.snapshot(), kC, 1);
  try {
    node.router->put(of_c[0], "x");
    ADD_FAILURE() << "a put to a down owner succeeded";
  } catch (const wire::StoreError& e) {
    EXPECT_NE(e.message.find("unreachable"), std::string::npos) << e.message;
  }
  EXPECT_EQ(node.counters.rerouted.load(), 1);
}

// multi_get used to unwind while pool tasks still read the request's local map, when the
// local share threw (a DEAD owner's key): a use-after-free (ASan). Every remote call now
// finishes before the error leaves.
TEST(RequestRouter, ABatchWaitsForEveryRemoteCallBeforeItFails) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC), MemberAt(7004)});
  const auto of_dead = KeysOwnedBy(*node.cluster.snapshot(), 7004, 20);
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC), MemberAt(7004, MemberState::DEAD)});
  node.advance(60000);
  std::vector<std::string> batch;
  for (const auto& key : of_dead) {  // DEAD owner's keys this node now owns: unavailable here
    if (node.cluster.snapshot()->ring()->owner(key).port == kSelf) batch.push_back(key);
  }
  ASSERT_FALSE(batch.empty());
  for (int port : {kB, kC}) {
    for (const auto& key : KeysOwnedBy(*node.cluster.snapshot(), port, 5)) batch.push_back(key);
  }
  std::atomic<int> finished{0};
  node.peers.hook = [&](const Location&, const char*) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ++finished;
  };
  EXPECT_THROW(node.router->multi_get(batch), wire::StoreError);
  EXPECT_EQ(finished.load(), 2) << "the request failed while remote calls were still running";
}

// A refused version (far ahead of this node's clock) writes nothing of its batch.
TEST(OwnerStore, RefusesVersionsFarAheadAndWritesNothing) {
  Node node;
  node.advance(60000);
  wire::Record ok;
  ok.key = "ok";
  ok.value = "v";
  ok.version = 0;
  wire::Record ahead;
  ahead.key = "ahead";
  ahead.value = "v";
  ahead.version = storage::HybridLogicalClock::make(membership::NowMs() + 3'600'000, 0);
  EXPECT_THROW(node.owner->owner_put({ok, ahead}), wire::StoreError);
  EXPECT_THROW(node.owner->handoff({ahead}, rpc::MakeLocation("127.0.0.1", kB)), wire::StoreError);
  EXPECT_EQ(node.counters.versions_refused.load(), 2);
  EXPECT_THROW(node.router->get("ok"), wire::NotFound);
}

// Chaos harness, join-leave (seed 105): an acknowledged write lost on a clean leave. A write
// that chose this node just before the drain began was stored after the drain's last sweep
// and left with the node. start_draining() now waits for it, so the sweep sees it.
TEST(MovingKeys, ADrainWaitsForWritesThatChoseThisNode) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB)});
  node.advance(60000);
  const auto mine = KeysOwnedBy(*node.cluster.snapshot(), kSelf, 1);
  std::mutex mu;
  std::condition_variable cv;
  bool in_merge = false, release = false;
  node.engine->before_merge = [&] {
    std::unique_lock<std::mutex> lock(mu);
    in_merge = true;
    cv.notify_all();
    cv.wait(lock, [&] { return release; });
  };
  std::thread writer([&] { node.router->put(mine[0], "acknowledged"); });
  {
    std::unique_lock<std::mutex> lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(5), [&] { return in_merge; }));
  }
  std::atomic<bool> drained{false};
  std::thread drainer([&] {
    node.moving->start_draining();
    drained = true;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(drained.load()) << "draining began while a write that chose this node was in flight";
  {
    std::lock_guard<std::mutex> lock(mu);
    release = true;
  }
  cv.notify_all();
  writer.join();
  drainer.join();
  node.engine->before_merge = nullptr;
  EXPECT_TRUE(node.engine->get(mine[0]).has_value());  // where the drain's sweep will see it

  // From now on writes go to the ring without this node, and handoffs are refused.
  node.router->put(mine[0], "after");
  EXPECT_EQ(node.peers.held(kB, mine[0]), "after");
  wire::Record r;
  r.key = "k";
  r.value = "v";
  r.version = storage::HybridLogicalClock::make(membership::NowMs(), 0);
  EXPECT_THROW(node.owner->handoff({r}, rpc::MakeLocation("127.0.0.1", kB)), wire::StoreError);
  EXPECT_FALSE(node.engine->get("k").has_value());
}

// Chaos harness, kill (seed 101): a false NotFound. The request reached a node whose view
// still gave the key to the crashed owner; the owner did not answer, and the miss was
// answered as "not found". Now a key whose owner did not answer is unavailable.
TEST(OwnerStore, AMissWhoseOwnerDidNotAnswerIsUnavailableNotMissing) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB)});
  node.advance(60000);
  const auto of_b = KeysOwnedBy(*node.cluster.snapshot(), kB, 3);
  node.peers.set_down(kB, true);
  // A sender whose view already dropped B sent B's keys here (fallback read).
  try {
    node.owner->owner_get(of_b, true);
    ADD_FAILURE() << "B's keys answered as absent while B did not answer";
  } catch (const wire::StoreError& e) {
    EXPECT_NE(e.message.find("did not answer"), std::string::npos) << e.message;
    EXPECT_NE(e.message.find("127.0.0.1:" + std::to_string(kB)), std::string::npos) << e.message;
  }
  EXPECT_TRUE(node.cluster.failures().count("127.0.0.1:" + std::to_string(kB)));
  // A key this node holds itself is still answered.
  wire::Record r;
  r.key = of_b[0];
  r.value = "here";
  r.version = storage::HybridLogicalClock::make(membership::NowMs(), 0);
  node.owner->handoff({r}, rpc::MakeLocation("127.0.0.1", kB));
  EXPECT_EQ(node.owner->owner_get({of_b[0]}, true).at(0).value, "here");
}

}  // namespace
}  // namespace thrifty::diststore
