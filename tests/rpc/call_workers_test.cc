// CallWorkers: threads follow the calls waiting, up to the limit, and go away when idle.
#include "locator/rpc/call_workers.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "tests/net/gate.h"
#include "tests/net/wait_for.h"

namespace thrifty::rpc {
namespace {


using thrifty::testing::Gate;
using thrifty::testing::PollUntil;

TEST(CallWorkers, GrowsWithBlockedCallsUpToTheLimitAndRunsTheRestAfter) {
  CallWorkers workers(/*min_threads=*/2, /*max_threads=*/8, /*idle_retire_ms=*/100);
  EXPECT_EQ(workers.threads(), 2);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) {
    workers.submit([&] {
      gate.pass();
      ++done;
    });
  }
  // Eight run (and block) at once; no more threads than that.
  ASSERT_TRUE(PollUntil([&] { return gate.waiting() == 8; }, 5000)) << gate.waiting();
  EXPECT_EQ(workers.threads(), 8);
  EXPECT_EQ(workers.busy(), 8);
  gate.release();
  ASSERT_TRUE(PollUntil([&] { return done.load() == 20; }, 5000));
  // Idle past the retirement time: back to the minimum.
  EXPECT_TRUE(PollUntil([&] { return workers.threads() == 2; }, 5000)) << workers.threads();
  // And still working after threads retired.
  std::atomic<bool> ran{false};
  workers.submit([&] { ran = true; });
  EXPECT_TRUE(PollUntil([&] { return ran.load(); }, 5000));
}

TEST(CallWorkers, ABurstOfQuickCallsDoesNotGrowThePool) {
  // A thread is added only for a task that waited the stall time (here 50 ms): a burst of
  // quick calls, all queued at once, is taken by the threads there are.
  CallWorkers workers(/*min_threads=*/2, /*max_threads=*/64, /*idle_retire_ms=*/1000,
                      /*stall_ms=*/50);
  std::atomic<int> done{0};
  for (int round = 0; round < 5; ++round) {
    for (int i = 0; i < 1000; ++i) workers.submit([&] { ++done; });
    ASSERT_TRUE(PollUntil([&] { return done.load() == 1000 * (round + 1); }, 5000));
  }
  EXPECT_LE(workers.threads(), 4);
}

TEST(CallWorkers, DestructionRunsWhatWasSubmittedAndJoins) {
  std::atomic<int> done{0};
  {
    CallWorkers workers(1, 2, 1000);
    for (int i = 0; i < 50; ++i) {
      workers.submit([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        ++done;
      });
    }
  }
  EXPECT_EQ(done.load(), 50);
}

}  // namespace
}  // namespace thrifty::rpc
