// QuorumCall driven by completions: it returns once enough replicas answered, while a call
// still running holds no thread and its late outcome is dropped; failures come back in words
// (a StoreError as a refusal); a call that completes before its start returns is counted.
#include "diststore/service/quorum_call.h"

#include <unistd.h>

#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>
#include <thrift/transport/TTransportException.h>

#include "locator/rpc/address.h"
#include "tests/cluster/harness.h"
#include "tests/net/wait_for.h"

namespace thrifty::diststore {
namespace {

using Location = locator::wire::Location;

// Calls whose outcomes a test hands out by hand, from whatever thread.
class HeldCalls {
 public:
  StartReplicaCall<int> start() {
    return [this](rpc::OutcomeHandler<int> done) {
      std::lock_guard<std::mutex> lock(mu_);
      held_.push_back(std::move(done));
    };
  }
  size_t size() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  void answer(size_t i, int value) { take(i)(rpc::Outcome<int>{value, nullptr}); }
  void fail(size_t i, std::exception_ptr error) { take(i)(rpc::Outcome<int>{std::nullopt, error}); }

 private:
  rpc::OutcomeHandler<int> take(size_t i) {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.at(i);
  }
  std::mutex mu_;
  std::vector<rpc::OutcomeHandler<int>> held_;
};

bool TwoAnswered(const std::vector<ReplicaReply<int>>& replies) {
  int ok = 0;
  for (const auto& r : replies) ok += r.done && r.result ? 1 : 0;
  return ok >= 2;
}

TEST(QuorumCall, ReturnsAtTheQuorumWithoutAThreadPerCallAndDropsLateOutcomes) {
  HeldCalls held;
  std::vector<std::pair<Location, StartReplicaCall<int>>> calls;
  for (int port = 1; port <= 3; ++port) {
    calls.emplace_back(rpc::MakeLocation("127.0.0.1", port), held.start());
  }
  const int threads_before = testing::ProcStatus(getpid(), "Threads:");
  std::vector<ReplicaReply<int>> replies;
  std::thread caller([&] { replies = QuorumCall<int>(std::move(calls), nullptr, TwoAnswered); });
  ASSERT_TRUE(testing::PollUntil([&] { return held.size() == 3; }, 5000));
  // Three calls started; the only new threads are this test's caller (and, under TSan, the
  // runtime's background thread, started with the first thread): not one per call.
  EXPECT_LE(testing::ProcStatus(getpid(), "Threads:"), threads_before + 2);
  held.answer(0, 10);
  held.answer(2, 30);
  caller.join();  // returns with call 1 still open
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(*replies[0].result, 10);
  EXPECT_FALSE(replies[1].done);
  EXPECT_EQ(*replies[2].result, 30);
  held.answer(1, 20);  // after the caller returned: dropped, nothing to wait for
}

TEST(QuorumCall, FailuresComeBackInWordsAndEarlyCompletionsCount) {
  HeldCalls held;
  std::vector<std::pair<Location, StartReplicaCall<int>>> calls;
  calls.emplace_back(rpc::MakeLocation("127.0.0.1", 1), held.start());
  calls.emplace_back(rpc::MakeLocation("127.0.0.1", 2), held.start());
  // Answers before its start returns (a refused call, or a fake answering on this thread).
  calls.emplace_back(rpc::MakeLocation("127.0.0.1", 3), [](rpc::OutcomeHandler<int> done) {
    done(rpc::Outcome<int>{7, nullptr});
  });
  std::vector<ReplicaReply<int>> replies;
  std::thread caller([&] {
    replies = QuorumCall<int>(std::move(calls), nullptr,
                              [](const std::vector<ReplicaReply<int>>&) { return false; });
  });
  ASSERT_TRUE(testing::PollUntil([&] { return held.size() == 2; }, 5000));
  wire::StoreError refusal;
  refusal.message = "disk full";
  held.fail(0, std::make_exception_ptr(refusal));
  held.fail(1, std::make_exception_ptr(apache::thrift::transport::TTransportException(
                   apache::thrift::transport::TTransportException::TIMED_OUT, "no reply")));
  caller.join();  // every call done
  EXPECT_TRUE(replies[0].refused);
  EXPECT_EQ(replies[0].error, "disk full");
  EXPECT_FALSE(replies[1].refused);
  EXPECT_EQ(replies[1].error, "no reply");
  EXPECT_EQ(*replies[2].result, 7);
}

}  // namespace
}  // namespace thrifty::diststore
