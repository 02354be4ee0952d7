#include "diststore/storage/key_locks.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace thrifty::storage {
namespace {

TEST(KeyLocksTest, NeedsAStripe) { EXPECT_THROW(KeyLocks(0), std::invalid_argument); }

TEST(KeyLocksTest, LockAllTakesEachStripeOnce) {
  KeyLocks one(1);
  // Every key shares the only stripe; taking it twice would deadlock this thread.
  auto held = one.lock_all({"a", "b", "c", "a"});
  EXPECT_EQ(held.size(), 1u);
  EXPECT_TRUE(held[0].owns_lock());

  KeyLocks many(1024);
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) keys.push_back("key" + std::to_string(i));
  std::vector<std::string_view> views(keys.begin(), keys.end());
  views.push_back(views[3]);
  auto all = many.lock_all(views);
  EXPECT_LE(all.size(), 50u);
  EXPECT_GE(all.size(), 40u);  // 50 keys over 1024 stripes: a few collisions at most
}

TEST(KeyLocksTest, SerializesOneKeyAcrossThreads) {
  KeyLocks locks(16);
  int64_t counter = 0;  // guarded by the stripe of "k"
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (i % 2 == 0) {
          auto lock = locks.lock("k");
          ++counter;
        } else {
          auto held = locks.lock_all({"x", "k", "y", "z"});
          ++counter;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(counter, 4 * 20000);
}

}  // namespace
}  // namespace thrifty::storage
