// HandoffStream's pipelined sender, over a memory engine and a fake peer whose handoff_async
// holds every batch until the test answers it: batches in flight stay within their bounds,
// acknowledgements settle in any order, a failed batch keeps its records, and a record
// rewritten while its batch was on its way is kept.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <thrift/transport/TTransportException.h>

#include "diststore/service/handoff_stream.h"
#include "tests/net/wait_for.h"
#include "tests/service/service_fakes.h"

namespace thrifty::diststore::testing {
namespace {

// A peer client whose handoff_async only queues the batch; the test answers it (any order,
// success or failure) with answer(). Tracks what was in flight at the most.
class HeldPeers : public PeerClient {
 public:
  struct Call {
    std::string peer;
    std::vector<wire::Record> records;
    rpc::OutcomeHandler<wire::HandoffAck> done;
  };

  std::vector<wire::Record> owner_get(const Location&, const std::vector<std::string>&, bool) override {
    throw std::logic_error("not used");
  }
  void owner_put(const Location&, const std::vector<wire::Record>&, wire::Consistency::type) override {
    throw std::logic_error("not used");
  }
  wire::HandoffAck handoff(const Location&, const std::vector<wire::Record>&, const Location&) override {
    throw std::logic_error("the stream sends with handoff_async");
  }
  void handoff_async(const Location& peer, std::vector<wire::Record> records, Location,
                     rpc::OutcomeHandler<wire::HandoffAck> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    const std::string name = MemberName(peer);
    ++in_flight_[name];
    max_per_peer_ = std::max(max_per_peer_, in_flight_[name]);
    max_total_ = std::max(max_total_, ++total_);
    bytes_ += Bytes(records);
    max_bytes_ = std::max(max_bytes_, bytes_);
    held_.push_back(Call{name, std::move(records), std::move(done)});
    ++sent_;
  }

  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  // Takes every held call, newest first (answers then arrive out of order).
  std::vector<Call> take_newest_first() {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<Call> calls(std::make_move_iterator(held_.rbegin()),
                            std::make_move_iterator(held_.rend()));
    held_.clear();
    return calls;
  }
  // Answers one taken call: acknowledged (the records land in `received`) or failed.
  void answer(Call& call, bool ok) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_[call.peer];
      --total_;
      bytes_ -= Bytes(call.records);
      if (ok) {
        for (const auto& r : call.records) received_[r.key] = r;
      }
    }
    rpc::Outcome<wire::HandoffAck> outcome;
    if (ok) {
      outcome.value.emplace();
      outcome.value->applied = static_cast<int64_t>(call.records.size());
    } else {
      outcome.error = std::make_exception_ptr(apache::thrift::transport::TTransportException(
          apache::thrift::transport::TTransportException::TIMED_OUT, "held batch failed"));
    }
    call.done(std::move(outcome));
  }
  size_t max_per_peer() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_per_peer_;
  }
  size_t max_total() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_total_;
  }
  // Record bytes in flight at the most, counted as HandoffStream counts them.
  size_t max_bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return max_bytes_;
  }
  size_t sent() {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  std::map<std::string, wire::Record> received() {
    std::lock_guard<std::mutex> lock(mu_);
    return received_;
  }

 private:
  static size_t Bytes(const std::vector<wire::Record>& records) {
    size_t bytes = 0;
    for (const auto& r : records) bytes += r.key.size() + r.value.size() + 32;
    return bytes;
  }

  std::mutex mu_;
  std::vector<Call> held_;
  std::map<std::string, size_t> in_flight_;
  size_t total_ = 0, max_per_peer_ = 0, max_total_ = 0, sent_ = 0, bytes_ = 0, max_bytes_ = 0;
  std::map<std::string, wire::Record> received_;
};

constexpr int kKeys = 3000;

std::string KeyAt(int i) {
  char key[16];
  std::snprintf(key, sizeof(key), "key%05d", i);  // every key 8 bytes: equal batch sizes
  return key;
}

class HandoffStreamTest : public ::testing::Test {
 protected:
  HandoffStreamTest() : cluster(kSelf), moving(MovingKeysOptions{}, true) {
    for (int i = 0; i < kKeys; ++i) {
      engine->merge(KeyAt(i), storage::Record{std::string(100, 'v'), 1000 + i, false});
    }
  }
  // The keys the ring gives to others (misplaced here), and how many batches of
  // `batch_records` they make, owner by owner.
  std::map<std::string, int> Misplaced(size_t batch_records, size_t* batches) {
    std::map<std::string, int> misplaced;
    std::map<std::string, size_t> per_owner;
    const auto ring = moving.routing_ring(*cluster.snapshot());
    for (int i = 0; i < kKeys; ++i) {
      const auto& owner = ring->owner(KeyAt(i));
      if (cluster.is_self(owner)) continue;
      misplaced[KeyAt(i)] = i;
      ++per_owner[MemberName(owner)];
    }
    *batches = 0;
    for (const auto& [name, n] : per_owner) *batches += (n + batch_records - 1) / batch_records;
    return misplaced;
  }
  // Runs one sweep on its own thread. `answer` gets the calls held each time the sweep has
  // sent all it may (`full` held) or all it will (`batches` sent in this sweep), until the
  // sweep finished.
  SweepResult Sweep(HandoffStream& stream, size_t full, size_t batches,
                    const std::function<void(std::vector<HeldPeers::Call>&)>& answer) {
    const size_t sent_before = peers.sent();
    std::atomic<bool> finished{false};
    SweepResult result;
    std::thread sweeper([&] {
      result = stream.sweep_once();
      finished = true;
    });
    while (!finished) {
      EXPECT_TRUE(thrifty::testing::PollUntil(
          [&] {
            return finished || peers.held() >= full ||
                   (peers.held() > 0 && peers.sent() - sent_before == batches);
          },
          10000))
          << "the sweep neither filled its window nor finished";
      if (finished) break;
      auto calls = peers.take_newest_first();
      answer(calls);
    }
    sweeper.join();
    EXPECT_EQ(peers.held(), 0u);
    return result;
  }

  FakeCluster cluster;
  HeldPeers peers;
  std::unique_ptr<storage::Engine> engine = storage::NewMemoryEngine();
  MovingKeys moving;
};

// Three batches per owner in flight, answered newest first, the second batch sent fails: the
// window fills to the bound and no further, every acknowledged record is deleted here and
// lands on the owner, the failed batch's records stay here (for the next sweep).
TEST_F(HandoffStreamTest, PipelinesUpToTheBoundAndSettlesAcknowledgementsInAnyOrder) {
  cluster.set({MemberAt(kSelf), MemberAt(kB)});
  size_t batches = 0;
  const auto misplaced = Misplaced(100, &batches);
  ASSERT_GT(misplaced.size(), 1000u);
  HandoffOptions options;
  options.batch_records = 100;
  options.batches_in_flight_per_owner = 3;
  HandoffStream stream(cluster, *engine, peers, moving, options);

  std::vector<std::string> failed_keys;
  size_t answered = 0;
  const SweepResult result = Sweep(stream, 3, batches, [&](std::vector<HeldPeers::Call>& calls) {
    for (auto& call : calls) {
      const bool fail = answered++ == 1;  // the second answered: the first window's middle one
      if (fail) {
        for (const auto& r : call.records) failed_keys.push_back(r.key);
      }
      peers.answer(call, !fail);
    }
  });

  EXPECT_EQ(peers.max_per_peer(), 3u);  // pipelined, within the bound
  EXPECT_EQ(failed_keys.size(), 100u);
  EXPECT_EQ(result.failed, 100u);
  EXPECT_EQ(result.sent, misplaced.size() - 100);
  EXPECT_EQ(result.batches, peers.sent());
  const auto received = peers.received();
  EXPECT_EQ(received.size(), misplaced.size() - 100);
  for (const auto& [key, i] : misplaced) {
    const bool failed = std::find(failed_keys.begin(), failed_keys.end(), key) != failed_keys.end();
    EXPECT_EQ(engine->get(key).has_value(), failed) << key;
    EXPECT_EQ(received.count(key), failed ? 0u : 1u) << key;
  }
  EXPECT_EQ(engine->count_live(), static_cast<uint64_t>(kKeys - misplaced.size() + 100));
  EXPECT_EQ(cluster.failures().count(MemberName(MemberAt(kB).location)), 1u);

  // The next sweep sends what failed, and nothing else.
  const SweepResult again = Sweep(stream, 3, 1, [&](std::vector<HeldPeers::Call>& calls) {
    for (auto& call : calls) peers.answer(call, true);
  });
  EXPECT_EQ(again.sent, 100u);
  EXPECT_EQ(again.failed, 0u);
  EXPECT_EQ(engine->count_live(), static_cast<uint64_t>(kKeys - misplaced.size()));
}

// The bytes in flight bound all owners together: with room for two full batches, two owners
// never have a third full one between them, though each may have 8 batches in flight.
TEST_F(HandoffStreamTest, BytesInFlightBoundAllOwnersTogether) {
  cluster.set({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
  size_t batches = 0;
  const auto misplaced = Misplaced(50, &batches);
  HandoffOptions options;
  options.batch_records = 50;
  options.batches_in_flight_per_owner = 8;
  // A batch of 50 records of an 8-byte key and a 100-byte value: 50 * (108 + 32) bytes, so
  // two full batches fit, a third does not (a short last batch may).
  options.bytes_in_flight = 2 * 50 * (108 + 32) + 1000;
  HandoffStream stream(cluster, *engine, peers, moving, options);
  const SweepResult result = Sweep(stream, 2, batches, [&](std::vector<HeldPeers::Call>& calls) {
    for (auto& call : calls) peers.answer(call, true);
  });
  EXPECT_LE(peers.max_bytes(), options.bytes_in_flight);
  EXPECT_GE(peers.max_total(), 2u);
  EXPECT_LE(peers.max_per_peer(), 2u);
  EXPECT_EQ(result.sent, misplaced.size());
  EXPECT_EQ(result.failed, 0u);
  EXPECT_EQ(engine->count_live(), static_cast<uint64_t>(kKeys - misplaced.size()));
}

// A record written anew while its batch is on its way is not deleted by the acknowledgement
// (the owner has the older version; the next sweep sends the newer one).
TEST_F(HandoffStreamTest, ARecordRewrittenWhileItsBatchIsInFlightIsKept) {
  cluster.set({MemberAt(kSelf), MemberAt(kB)});
  size_t batches = 0;
  const auto misplaced = Misplaced(100, &batches);
  HandoffOptions options;
  options.batch_records = 100;
  options.batches_in_flight_per_owner = 2;
  HandoffStream stream(cluster, *engine, peers, moving, options);
  std::optional<std::string> rewritten;
  const SweepResult result = Sweep(stream, 2, batches, [&](std::vector<HeldPeers::Call>& calls) {
    if (!rewritten) {
      rewritten = calls.back().records.front().key;
      engine->merge(*rewritten, storage::Record{"newer", 1'000'000, false});
    }
    for (auto& call : calls) peers.answer(call, true);
  });
  ASSERT_TRUE(rewritten.has_value());
  EXPECT_EQ(result.sent, misplaced.size());
  ASSERT_TRUE(engine->get(*rewritten).has_value());
  EXPECT_EQ(engine->get(*rewritten)->value, "newer");
  EXPECT_EQ(engine->count_live(), static_cast<uint64_t>(kKeys - misplaced.size() + 1));
}

}  // namespace
}  // namespace thrifty::diststore::testing
