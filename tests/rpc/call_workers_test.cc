// CallWorkers: threads follow the calls waiting, up to the limit, and go away when idle.
#include "locator/rpc/call_workers.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

namespace thrifty::rpc {
namespace {

using Clock = std::chrono::steady_clock;

template <typename Fn>
bool WaitFor(Fn done, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!done()) {
    if (Clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// Tasks that block until released.
class Gate {
 public:
  void wait() {
    std::unique_lock<std::mutex> lock(mu_);
    ++waiting_;
    cv_.wait(lock, [this] { return open_; });
    --waiting_;
  }
  void open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  int waiting() {
    std::lock_guard<std::mutex> lock(mu_);
    return waiting_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int waiting_ = 0;
};

TEST(CallWorkers, GrowsWithBlockedCallsUpToTheLimitAndRunsTheRestAfter) {
  CallWorkers workers(/*min_threads=*/2, /*max_threads=*/8, /*idle_retire_ms=*/100);
  EXPECT_EQ(workers.threads(), 2);
  Gate gate;
  std::atomic<int> done{0};
  for (int i = 0; i < 20; ++i) {
    workers.submit([&] {
      gate.wait();
      ++done;
    });
  }
  // Eight run (and block) at once; no more threads than that.
  ASSERT_TRUE(WaitFor([&] { return gate.waiting() == 8; }, 5000)) << gate.waiting();
  EXPECT_EQ(workers.threads(), 8);
  EXPECT_EQ(workers.busy(), 8);
  gate.open();
  ASSERT_TRUE(WaitFor([&] { return done.load() == 20; }, 5000));
  // Idle past the retirement time: back to the minimum.
  EXPECT_TRUE(WaitFor([&] { return workers.threads() == 2; }, 5000)) << workers.threads();
  // And still working after threads retired.
  std::atomic<bool> ran{false};
  workers.submit([&] { ran = true; });
  EXPECT_TRUE(WaitFor([&] { return ran.load(); }, 5000));
}

TEST(CallWorkers, ShortCallsDoNotGrowThePool) {
  CallWorkers workers(2, 64, 1000);
  std::atomic<int> done{0};
  for (int i = 0; i < 2000; ++i) {
    workers.submit([&] { ++done; });
    if (i % 100 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_TRUE(WaitFor([&] { return done.load() == 2000; }, 5000));
  // A new thread starts only when a task waits with no idle thread to take it; quick tasks are
  // taken by the idle ones (a burst may add a few).
  EXPECT_LT(workers.threads(), 64);
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
