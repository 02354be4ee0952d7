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

#include "tests/service/service_fakes.h"

namespace thrifty::diststore {
namespace {

using namespace testing;  // the fakes


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
  node.peers.hook = [&](const locator::wire::Location& peer, const char*) {
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
  node.peers.hook = [&](const locator::wire::Location&, const char*) {
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


// A read that asks another holder (keys moving, one copy) holds no thread while it waits:
// owner_get_async returns before the holder answered, and answers when it does. (The peer's
// owner_get and the router's own share of a request are served this way: StoreCalls.)
TEST(OwnerStore, AReadThatAsksAnotherHolderWaitsForItHoldingNoThread) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB)});
  node.advance(60000);
  const auto of_b = KeysOwnedBy(*node.cluster.snapshot(), kB, 2);
  node.peers.store(kB, of_b[0], "at b", 5);
  node.peers.hold_owner_gets();
  std::optional<rpc::Outcome<std::vector<wire::Record>>> answer;
  node.owner->owner_get_async(of_b, true, [&](rpc::Outcome<std::vector<wire::Record>> outcome) {
    answer = std::move(outcome);
  });
  EXPECT_FALSE(answer.has_value()) << "answered before the holder did";
  EXPECT_EQ(node.peers.owner_gets_waiting(), 1u);
  node.peers.release_owner_gets();
  ASSERT_TRUE(answer.has_value());
  ASSERT_FALSE(answer->error);
  ASSERT_EQ(answer->value->size(), 1u);  // the key B lacks is absent, not an error
  EXPECT_EQ(answer->value->at(0).key, of_b[0]);
  EXPECT_EQ(answer->value->at(0).value, "at b");
}

// Cluster test WeightedJoinReadsNeverMiss: a false NotFound during a join. A read took its
// snapshot before this node heard of the joiner; by the time it read its engine, the handoff
// (started by the newer ring) had moved the key to the joiner and deleted it here, and the
// old snapshot's fallback holders did not have it either. A miss now looks again as of the
// current ring.
TEST(OwnerStore, AMissOnASnapshotOlderThanAHandoffLooksAgainOnTheCurrentRing) {
  Node node;
  node.change({MemberAt(kSelf), MemberAt(kB)});
  node.advance(60000);  // no keys moving
  const auto before = node.cluster.snapshot();
  node.change({MemberAt(kSelf), MemberAt(kB), MemberAt(kC)});
  std::string moved;
  for (const auto& key : KeysOwnedBy(*before, kSelf, 200)) {
    if (node.cluster.snapshot()->ring()->owner(key).port == kC) {
      moved = key;
      break;
    }
  }
  ASSERT_FALSE(moved.empty());
  node.peers.store(kC, moved, "at the joiner", 5);  // handed off: no copy left here
  const auto found = node.owner->read(before, {moved}, true);
  ASSERT_TRUE(found[0].has_value()) << "answered NotFound for a key the joiner holds";
  EXPECT_EQ(found[0]->value, "at the joiner");
  EXPECT_EQ(node.counters.rerouted.load(), 1);
  // On the current snapshot the same read finds it in one pass.
  EXPECT_EQ(node.owner->read(node.cluster.snapshot(), {moved}, true)[0]->value, "at the joiner");
  EXPECT_EQ(node.counters.rerouted.load(), 1);
}

}  // namespace
}  // namespace thrifty::diststore
