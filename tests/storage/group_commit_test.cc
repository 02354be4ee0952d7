#include "diststore/storage/group_commit.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/net/wait_for.h"
#include "tests/net/gate.h"

namespace thrifty::storage {
namespace {

struct Write {
  int id = 0;
  bool committed = false;
  std::thread::id committed_on;
};

TEST(GroupCommitTest, ALoneWriteIsCommittedOnItsOwnThreadAtOnce) {
  GroupCommit<Write> committer(100);
  Write w;
  w.id = 1;
  std::vector<size_t> sizes;
  committer.run(&w, 1, [&](const std::vector<Write*>& group) {
    sizes.push_back(group.size());
    for (Write* each : group) {
      each->committed = true;
      each->committed_on = std::this_thread::get_id();
    }
  });
  EXPECT_TRUE(w.committed);
  EXPECT_EQ(w.committed_on, std::this_thread::get_id());
  EXPECT_EQ(sizes, std::vector<size_t>{1});
  EXPECT_EQ(committer.waiting(), 0u);
}

// While one group commits, the writes that arrive wait; the next leader takes them all (up to
// the weight bound), and every caller returns only after its write was committed.
TEST(GroupCommitTest, WritesThatArriveDuringACommitFormTheNextGroups) {
  constexpr int kQueued = 5;
  GroupCommit<Write> committer(/*max_group_weight=*/25);  // weight 10 each: two per group
  thrifty::testing::Gate gate;
  std::mutex mu;
  std::vector<std::vector<int>> groups;
  const auto commit = [&](const std::vector<Write*>& group) {
    std::vector<int> ids;
    for (Write* w : group) ids.push_back(w->id);
    bool first;
    {
      std::lock_guard<std::mutex> lock(mu);
      first = groups.empty();
      groups.push_back(ids);
    }
    if (first) gate.pass();  // holds the first group until released
    for (Write* w : group) {
      w->committed = true;
      w->committed_on = std::this_thread::get_id();
    }
  };
  std::vector<Write> writes(kQueued + 1);
  for (int i = 0; i <= kQueued; ++i) writes[i].id = i;
  std::vector<std::thread> threads;
  threads.emplace_back([&] { committer.run(&writes[0], 10, commit); });
  ASSERT_TRUE(testing::PollUntil([&] { return gate.entered(); }, 10000));
  for (int i = 1; i <= kQueued; ++i) {
    threads.emplace_back([&, i] {
      committer.run(&writes[i], 10, commit);
      EXPECT_TRUE(writes[i].committed);  // committed before run returned
    });
  }
  ASSERT_TRUE(testing::PollUntil([&] { return committer.waiting() == kQueued; }, 10000));
  gate.release();
  for (auto& t : threads) t.join();

  ASSERT_EQ(groups.size(), 4u);
  EXPECT_EQ(groups[0], std::vector<int>{0});
  std::vector<int> later;
  for (size_t g = 1; g < groups.size(); ++g) {
    EXPECT_EQ(groups[g].size(), g < 3 ? 2u : 1u);
    later.insert(later.end(), groups[g].begin(), groups[g].end());
  }
  std::sort(later.begin(), later.end());
  EXPECT_EQ(later, (std::vector<int>{1, 2, 3, 4, 5}));
  // Each queued group was committed by its own leader, a thread of that group.
  for (size_t g = 1; g < groups.size(); ++g) {
    for (int id : groups[g]) {
      EXPECT_EQ(writes[id].committed_on, writes[groups[g][0]].committed_on);
    }
  }
  EXPECT_EQ(committer.waiting(), 0u);
}

TEST(GroupCommitTest, AWriteHeavierThanTheBoundStillGoesAlone) {
  GroupCommit<Write> committer(10);
  Write w;
  w.id = 7;
  size_t seen = 0;
  committer.run(&w, 1000, [&](const std::vector<Write*>& group) { seen = group.size(); });
  EXPECT_EQ(seen, 1u);
}

// Many threads: commits never overlap (a plain counter stays exact, and ThreadSanitizer sees
// the ordering), and every write is committed exactly once.
TEST(GroupCommitTest, CommitsRunOneAtATimeAndTakeEveryWriteOnce) {
  constexpr int kThreads = 8;
  constexpr int kWrites = 2000;
  GroupCommit<Write> committer(1 << 20);
  int in_commit = 0;  // plain on purpose: only one commit may run at a time
  int overlaps = 0;
  long committed = 0;
  std::atomic<int> unfinished{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kWrites; ++i) {
        Write w;
        committer.run(&w, 1, [&](const std::vector<Write*>& group) {
          if (++in_commit != 1) ++overlaps;
          for (Write* each : group) {
            if (each->committed) ++overlaps;  // taken twice
            each->committed = true;
            ++committed;
          }
          --in_commit;
        });
        if (!w.committed) ++unfinished;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(overlaps, 0);
  EXPECT_EQ(unfinished.load(), 0);
  EXPECT_EQ(committed, long{kThreads} * kWrites);
}

}  // namespace
}  // namespace thrifty::storage
