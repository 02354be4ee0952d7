// The replica paths on asynchronous calls, over the service-layer fakes: a read asks R
// replicas first (this node first) and the others only when one of those fails or is slower
// than the speculative delay; ALL asks every replica; a replica whose write failed has its
// hint kept before the write answers; every request's `done` runs exactly once, late
// completions included.
#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "diststore/service/durability.h"
#include "diststore/service/hinted_handoff.h"
#include "diststore/service/replica_set.h"
#include "diststore/storage/hint_store.h"
#include "tests/net/wait_for.h"
#include "tests/service/service_fakes.h"

namespace thrifty::diststore {
namespace {

using namespace testing;  // the fakes

// FakePeers whose asynchronous calls to some peers are held until a test releases them (a
// slow replica); the others answer at once, on the caller's thread.
class HeldPeers : public PeerClient {
 public:
  explicit HeldPeers(FakePeers& inner) : inner_(inner) {}
  std::vector<wire::Record> owner_get(const Location& peer, const std::vector<std::string>& keys,
                                      bool fallback) override {
    return inner_.owner_get(peer, keys, fallback);
  }
  void owner_put(const Location& peer, const std::vector<wire::Record>& records,
                 wire::Consistency::type consistency) override {
    inner_.owner_put(peer, records, consistency);
  }
  wire::HandoffAck handoff(const Location& peer, const std::vector<wire::Record>& records,
                           const Location& sender) override {
    return inner_.handoff(peer, records, sender);
  }
  void owner_get_async(const Location& peer, std::vector<std::string> keys, bool fallback,
                       rpc::OutcomeHandler<std::vector<wire::Record>> done) override {
    if (is_held(peer)) {
      std::lock_guard<std::mutex> lock(mu_);
      held_gets_.push_back([this, peer, keys, fallback, done] {
        done(rpc::OutcomeOf<std::vector<wire::Record>>(
            [&] { return inner_.owner_get(peer, keys, fallback); }));
      });
      return;
    }
    PeerClient::owner_get_async(peer, std::move(keys), fallback, std::move(done));
  }
  void owner_put_async(const Location& peer, std::vector<wire::Record> records,
                       wire::Consistency::type consistency, rpc::OutcomeHandler<bool> done) override {
    if (is_held(peer)) {
      std::lock_guard<std::mutex> lock(mu_);
      held_gets_.push_back([this, peer, records, consistency, done] {
        done(rpc::OutcomeOf<bool>([&] {
          inner_.owner_put(peer, records, consistency);
          return true;
        }));
      });
      return;
    }
    PeerClient::owner_put_async(peer, std::move(records), consistency, std::move(done));
  }
  void hold(int port) {
    std::lock_guard<std::mutex> lock(mu_);
    held_ports_.insert(port);
  }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_gets_.size();
  }
  // Answers every held call now, from another thread (as a channel's loop would).
  void release() {
    std::vector<std::function<void()>> calls;
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls.swap(held_gets_);
      held_ports_.clear();
    }
    std::thread([calls] {
      for (const auto& call : calls) call();
    }).join();
  }

 private:
  bool is_held(const Location& peer) {
    std::lock_guard<std::mutex> lock(mu_);
    return held_ports_.count(peer.port) > 0;
  }
  FakePeers& inner_;
  std::mutex mu_;
  std::set<int> held_ports_;
  std::vector<std::function<void()>> held_gets_;
};

// A node of a 3-node ring with N = 3 whose reader and writer call the replicas through
// HeldPeers, with a hint store.
struct ThreeReplicas : ::testing::Test {
  ThreeReplicas() : node(false, 3) {
    node.change({HostAt(kSelf), HostAt(kB), HostAt(kC)});
    node.advance(60000);  // no keys moving
    node.replication.speculative_retry_ms = kDelayMs;
    HintOptions options;
    options.replay_interval_ms = 3600 * 1000;  // no replay during the test
    hints = std::make_unique<HintedHandoff>(node.cluster, hint_store, held, options);
    const ReplicaPaths paths{node.cluster, *node.owner, held, *node.moving,
                             work, node.replication, node.counters};
    reader = std::make_unique<ReplicaReader>(paths);
    writer = std::make_unique<ReplicaWriter>(paths, hints.get());
  }
  ~ThreeReplicas() override {
    held.release();  // calls still held complete into the (ended) reader and writer
  }
  static locator::wire::Member HostAt(int port) {
    locator::wire::Member m = MemberAt(port);
    m.metadata[kHostIdKey] = "host-" + std::to_string(port);
    return m;
  }
  // The replicas of `key` other than this node, in ring order.
  std::vector<int> others(const std::string& key) {
    const ReplicaSet set = ReplicaPlacement(*node.cluster.snapshot(), 3, false).of(key);
    std::vector<int> out;
    for (const auto& r : set.replicas) {
      if (r.port != kSelf) out.push_back(r.port);
    }
    return out;
  }
  int remote_gets() { return node.peers.calls(kB) + node.peers.calls(kC); }
  static wire::Record Unversioned(const std::string& key, const std::string& value) {
    wire::Record r;
    r.key = key;
    r.value = value;
    return r;
  }

  static constexpr int kDelayMs = 100;
  Node node;
  HeldPeers held{node.peers};
  storage::HintStore hint_store{node.engine->hints_table()};
  std::unique_ptr<HintedHandoff> hints;
  // Declared after what its tasks use and before the reader and writer: joined after they
  // ended, before the rest goes.
  rpc::FanOut work{2};
  std::unique_ptr<ReplicaReader> reader;
  std::unique_ptr<ReplicaWriter> writer;
};

TEST_F(ThreeReplicas, AQuorumReadAsksThisNodeAndOneOtherReplicaOnly) {
  const std::string key = "k1";
  const std::vector<int> rest = others(key);
  ASSERT_EQ(rest.size(), 2u);
  node.peers.store(rest[0], key, "v", 5000);
  node.peers.store(rest[1], key, "v", 5000);
  const auto found = reader->read(*node.cluster.snapshot(), {key}, wire::Consistency::QUORUM);
  ASSERT_TRUE(found[0]);
  EXPECT_EQ(found[0]->value, "v");
  // This node (empty: repaired) and the next replica in ring order; the third is not asked.
  EXPECT_EQ(node.peers.calls(rest[0]), 1);
  EXPECT_EQ(node.peers.calls(rest[1]), 0);
  EXPECT_EQ(node.engine->get(key)->value, "v");  // read repair of the replica that was asked

  // ONE: this node's own copy is enough, no call at all; ALL asks every replica.
  EXPECT_EQ(reader->read(*node.cluster.snapshot(), {key}, wire::Consistency::ONE)[0]->value, "v");
  EXPECT_EQ(remote_gets(), 1);
  EXPECT_EQ(reader->read(*node.cluster.snapshot(), {key}, wire::Consistency::ALL)[0]->value, "v");
  EXPECT_EQ(node.peers.calls(rest[0]), 2);
  EXPECT_EQ(node.peers.calls(rest[1]), 1);
}

TEST_F(ThreeReplicas, ASlowReplicaIsPassedByTheSpeculativeRetry) {
  const std::string key = "k2";
  const std::vector<int> rest = others(key);
  node.peers.store(rest[1], key, "v", 5000);
  held.hold(rest[0]);  // the replica asked first does not answer
  const auto start = std::chrono::steady_clock::now();
  const auto found = reader->read(*node.cluster.snapshot(), {key}, wire::Consistency::QUORUM);
  const auto waited = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(found[0]);
  EXPECT_EQ(found[0]->value, "v");
  EXPECT_EQ(held.held(), 1u);                 // asked first, still not answered
  EXPECT_EQ(node.peers.calls(rest[1]), 1);    // asked after the delay, and answered
  EXPECT_GE(waited, std::chrono::milliseconds(kDelayMs));
  held.release();  // its late answer is dropped
  EXPECT_EQ(node.peers.calls(rest[0]), 1);
}

TEST_F(ThreeReplicas, AFailedReplicaIsPassedAtOnceAndReported) {
  node.replication.speculative_retry_ms = 60000;  // only the failure can ask the third
  const std::string key = "k3";
  const std::vector<int> rest = others(key);
  node.peers.store(rest[1], key, "v", 5000);
  node.peers.set_down(rest[0], true);
  const auto found = reader->read(*node.cluster.snapshot(), {key}, wire::Consistency::QUORUM);
  ASSERT_TRUE(found[0]);
  EXPECT_EQ(found[0]->value, "v");
  EXPECT_EQ(node.peers.calls(rest[1]), 1);
  // Reported (off the loop) before the failure counted.
  EXPECT_EQ(node.cluster.failures().count("127.0.0.1:" + std::to_string(rest[0])), 1u);

  // Neither the first nor the other answers: the read fails, naming who did not answer.
  node.peers.set_down(rest[1], true);
  node.owner->set_rebuilding(true);  // and this node's share is no answer
  try {
    reader->read(*node.cluster.snapshot(), {key}, wire::Consistency::QUORUM);
    FAIL() << "a QUORUM read with no replica answering succeeded";
  } catch (const wire::StoreError& e) {
    EXPECT_NE(e.message.find("0 of 2 replicas answered"), std::string::npos) << e.message;
  }
}

TEST_F(ThreeReplicas, AFailedReplicaWriteKeepsItsHintBeforeTheWriteAnswers) {
  const std::string key = "k4";
  const std::vector<int> rest = others(key);
  node.peers.set_down(rest[0], true);
  std::atomic<int> answers{0};
  std::atomic<size_t> hints_at_answer{0};
  std::promise<std::exception_ptr> outcome;
  writer->lead_async(*node.cluster.snapshot(), {Unversioned(key, "v")}, wire::Consistency::ALL,
                     [&](rpc::Outcome<bool> result) {
                       hints_at_answer =
                           hint_store.peek("host-" + std::to_string(rest[0]), 10).size();
                       if (++answers == 1) outcome.set_value(result.error);
                     });
  auto error = outcome.get_future().get();
  ASSERT_TRUE(error);
  EXPECT_THROW(std::rethrow_exception(error), wire::TimedOut);
  EXPECT_EQ(hints_at_answer.load(), 1u);  // kept before the failure counted
  EXPECT_EQ(node.peers.held(rest[1], key), "v");
  EXPECT_EQ(answers.load(), 1);
}

TEST_F(ThreeReplicas, EveryWriteAnswersExactlyOnceLateCompletionsIncluded) {
  const std::string key = "k5";
  const std::vector<int> rest = others(key);
  held.hold(rest[1]);  // answers after the quorum
  std::atomic<int> answers{0};
  std::atomic<bool> ok{false};
  writer->lead_async(*node.cluster.snapshot(), {Unversioned(key, "v")},
                     wire::Consistency::QUORUM, [&](rpc::Outcome<bool> result) {
                       ok = result.value.has_value();
                       ++answers;
                     });
  EXPECT_EQ(answers.load(), 1);  // this node and the first replica: answered already
  EXPECT_TRUE(ok.load());
  ASSERT_EQ(held.held(), 1u);
  held.release();  // the late acknowledgement changes nothing
  EXPECT_EQ(answers.load(), 1);
  EXPECT_EQ(node.peers.held(rest[1], key), "v");

  // Refused before anything is sent: answered once too, with the error.
  answers = 0;
  wire::Record versioned = Unversioned(key, "w");
  versioned.version = 42;
  writer->lead_async(*node.cluster.snapshot(), {versioned}, wire::Consistency::QUORUM,
                     [&](rpc::Outcome<bool> result) {
                       ok = result.value.has_value();
                       ++answers;
                     });
  EXPECT_EQ(answers.load(), 1);
  EXPECT_FALSE(ok.load());

  // A read's too, with a replica held past the quorum at ALL's opposite: ONE answers at once.
  held.hold(rest[0]);
  answers = 0;
  reader->read_async(*node.cluster.snapshot(), {key}, wire::Consistency::ONE,
                     [&](rpc::Outcome<ReplicaReader::Found> result) {
                       ok = result.value.has_value();
                       ++answers;
                     });
  EXPECT_EQ(answers.load(), 1);
  EXPECT_TRUE(ok.load());
  held.release();
  EXPECT_EQ(answers.load(), 1);
}

}  // namespace
}  // namespace thrifty::diststore
