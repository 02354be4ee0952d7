#include "locator/membership/member_table.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace thrifty::membership {
namespace {

Member Make(const std::string& address, int port, int64_t incarnation,
            MemberState::type state = MemberState::ALIVE) {
  Member m;
  m.location.address = address;
  m.location.port = port;
  m.incarnation = incarnation;
  m.state = state;
  m.gossip_port = port + 1000;
  return m;
}

struct Change {
  std::optional<Member> before;
  Member after;
};

class MemberTableTest : public ::testing::Test {
 protected:
  MemberTableTest() : table_(Make("10.0.0.1", 9000, 100), [this] { return now_; }) {
    table_.add_listener([this](const std::optional<Member>& before, const Member& after) {
      changes_.push_back({before, after});
    });
  }
  int64_t now_ = 1'000'000;
  MemberTable table_;
  std::vector<Change> changes_;
};

TEST_F(MemberTableTest, StrangerIsAddedWhenAliveOrSuspectOnly) {
  EXPECT_TRUE(table_.apply(Make("10.0.0.2", 9000, 1)));
  EXPECT_TRUE(table_.apply(Make("10.0.0.3", 9000, 1, MemberState::SUSPECT)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.4", 9000, 1, MemberState::DEAD)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.5", 9000, 1, MemberState::LEFT)));
  EXPECT_EQ(table_.all().size(), 3u);
  ASSERT_EQ(changes_.size(), 2u);
  EXPECT_FALSE(changes_[0].before.has_value());
  EXPECT_EQ(MemberName(changes_[0].after.location), "10.0.0.2:9000");
}

TEST_F(MemberTableTest, LearningAJoinedViewKeepsItsDeadStrangersButNotTheLeft) {
  // A joiner that dropped the DEAD members of the view it joined would place replicas on
  // another ring than every other node (the ring that keeps DEAD members).
  EXPECT_TRUE(table_.learn(Make("10.0.0.4", 9000, 1, MemberState::DEAD)));
  EXPECT_FALSE(table_.learn(Make("10.0.0.5", 9000, 1, MemberState::LEFT)));
  const auto dead = table_.find("10.0.0.4:9000");
  ASSERT_TRUE(dead.has_value());
  EXPECT_EQ(dead->state, MemberState::DEAD);
  EXPECT_FALSE(table_.find("10.0.0.5:9000").has_value());
  // apply() still ignores them: gossip brings back no member reaped here.
  EXPECT_FALSE(table_.apply(Make("10.0.0.6", 9000, 1, MemberState::DEAD)));
  EXPECT_EQ(table_.all().size(), 2u);
}

TEST_F(MemberTableTest, HigherIncarnationWinsThenStateRank) {
  const std::string name = "10.0.0.2:9000";
  table_.apply(Make("10.0.0.2", 9000, 5));
  // Same incarnation: SUSPECT beats ALIVE, DEAD beats SUSPECT, not the other way round.
  EXPECT_TRUE(table_.apply(Make("10.0.0.2", 9000, 5, MemberState::SUSPECT)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.2", 9000, 5, MemberState::ALIVE)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.2", 9000, 5, MemberState::SUSPECT)));
  EXPECT_TRUE(table_.apply(Make("10.0.0.2", 9000, 5, MemberState::DEAD)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.2", 9000, 5, MemberState::SUSPECT)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.2", 9000, 4, MemberState::ALIVE)));
  EXPECT_EQ(table_.find(name)->state, MemberState::DEAD);
  // A higher incarnation overrides any state: the member refuted or came back.
  EXPECT_TRUE(table_.apply(Make("10.0.0.2", 9000, 6, MemberState::ALIVE)));
  EXPECT_EQ(table_.find(name)->state, MemberState::ALIVE);
  EXPECT_EQ(table_.find(name)->incarnation, 6);
  // LEFT ranks with DEAD: equal rank does not replace.
  EXPECT_TRUE(table_.apply(Make("10.0.0.2", 9000, 6, MemberState::LEFT)));
  EXPECT_FALSE(table_.apply(Make("10.0.0.2", 9000, 6, MemberState::DEAD)));
  EXPECT_EQ(table_.find(name)->state, MemberState::LEFT);
}

TEST_F(MemberTableTest, MetadataTravelsWithTheIncarnation) {
  Member m = Make("10.0.0.2", 9000, 5);
  m.metadata["zone"] = "a";
  table_.apply(m);
  m.metadata["zone"] = "b";
  EXPECT_FALSE(table_.apply(m)) << "same incarnation, same state: not newer";
  m.incarnation = 6;
  EXPECT_TRUE(table_.apply(m));
  EXPECT_EQ(table_.find("10.0.0.2:9000")->metadata.at("zone"), "b");
}

TEST_F(MemberTableTest, SuspicionOfSelfIsRefuted) {
  changes_.clear();
  EXPECT_TRUE(table_.apply(Make("10.0.0.1", 9000, 100, MemberState::SUSPECT)));
  EXPECT_EQ(table_.self().state, MemberState::ALIVE);
  EXPECT_EQ(table_.self().incarnation, 101);
  EXPECT_EQ(table_.refutations(), 1u);
  ASSERT_EQ(changes_.size(), 1u);
  EXPECT_EQ(changes_[0].before->incarnation, 100);
  EXPECT_EQ(changes_[0].after.incarnation, 101);
  // Death at a higher incarnation (a previous life's): refuted above it.
  EXPECT_TRUE(table_.apply(Make("10.0.0.1", 9000, 300, MemberState::DEAD)));
  EXPECT_EQ(table_.self().incarnation, 301);
  // Old news is ignored.
  EXPECT_FALSE(table_.apply(Make("10.0.0.1", 9000, 200, MemberState::SUSPECT)));
  EXPECT_EQ(table_.refutations(), 2u);
}

TEST_F(MemberTableTest, ForeignAliveRecordOfSelfIsOverridden) {
  const Member self = table_.self();
  // Our own record coming back: nothing to do.
  EXPECT_FALSE(table_.apply(self));
  // A record we did not make (a previous run's, with other metadata or a higher
  // incarnation) would shadow ours everywhere: override it.
  Member foreign = self;
  foreign.metadata["old"] = "run";
  EXPECT_TRUE(table_.apply(foreign));
  EXPECT_EQ(table_.self().incarnation, self.incarnation + 1);
  EXPECT_TRUE(table_.self().metadata.empty());
  foreign = table_.self();
  foreign.incarnation += 10;
  EXPECT_TRUE(table_.apply(foreign));
  EXPECT_EQ(table_.self().incarnation, foreign.incarnation + 1);
}

TEST_F(MemberTableTest, LeavingNodeDoesNotRefute) {
  table_.set_self_state(MemberState::LEFT);
  const int64_t incarnation = table_.self().incarnation;
  EXPECT_FALSE(table_.apply(Make("10.0.0.1", 9000, incarnation + 5, MemberState::DEAD)));
  EXPECT_EQ(table_.self().state, MemberState::LEFT);
}

TEST_F(MemberTableTest, MarkIsTheDetectorsVerdict) {
  table_.apply(Make("10.0.0.2", 9000, 5));
  EXPECT_FALSE(table_.mark("10.0.0.9:9000", MemberState::SUSPECT)) << "unknown";
  EXPECT_FALSE(table_.mark(table_.self_name(), MemberState::SUSPECT)) << "never self";
  EXPECT_TRUE(table_.mark("10.0.0.2:9000", MemberState::SUSPECT));
  EXPECT_FALSE(table_.mark("10.0.0.2:9000", MemberState::SUSPECT));
  EXPECT_EQ(table_.find("10.0.0.2:9000")->incarnation, 5) << "at the incarnation it knows";
  EXPECT_TRUE(table_.mark("10.0.0.2:9000", MemberState::DEAD));
  EXPECT_FALSE(table_.mark("10.0.0.2:9000", MemberState::SUSPECT));
}

TEST_F(MemberTableTest, SelfChangesBumpIncarnation) {
  changes_.clear();
  const Member after = table_.set_self_metadata("weight", "2");
  EXPECT_EQ(after.incarnation, 101);
  EXPECT_EQ(after.metadata.at("weight"), "2");
  ASSERT_EQ(changes_.size(), 1u);
  const Member left = table_.set_self_state(MemberState::LEFT);
  EXPECT_EQ(left.incarnation, 102);
  EXPECT_EQ(left.state, MemberState::LEFT);
  EXPECT_EQ(table_.refutations(), 0u) << "own changes are not refutations";
}

TEST_F(MemberTableTest, ReapForgetsOldDeathsOnly) {
  table_.apply(Make("10.0.0.2", 9000, 5));
  table_.apply(Make("10.0.0.3", 9000, 5));
  table_.mark("10.0.0.2:9000", MemberState::DEAD);
  const uint64_t generation = table_.generation();
  now_ += 5'000;
  EXPECT_EQ(table_.reap(now_, 10'000), 0u) << "too recent";
  now_ += 5'000;
  EXPECT_EQ(table_.reap(now_, 10'000), 1u);
  EXPECT_GT(table_.generation(), generation);
  EXPECT_FALSE(table_.find("10.0.0.2:9000"));
  EXPECT_TRUE(table_.find("10.0.0.3:9000"));
  EXPECT_TRUE(table_.find(table_.self_name()));
  // Forgotten means a stranger again: any ALIVE statement adds it back.
  EXPECT_TRUE(table_.apply(Make("10.0.0.2", 9000, 1)));
}

TEST_F(MemberTableTest, ViewsAndCounts) {
  table_.apply(Make("10.0.0.2", 9000, 1));
  table_.apply(Make("10.0.0.3", 9000, 1, MemberState::SUSPECT));
  table_.apply(Make("10.0.0.4", 9000, 1));
  table_.mark("10.0.0.4:9000", MemberState::DEAD);
  EXPECT_EQ(table_.all().size(), 4u);
  EXPECT_EQ(table_.in_ring().size(), 3u);
  EXPECT_EQ(table_.in_ring_count(), 3u);
  const auto states = table_.states();
  ASSERT_EQ(states.size(), 4u);
  EXPECT_EQ(states[3].first, "10.0.0.4:9000");
  EXPECT_EQ(states[3].second, MemberState::DEAD);
}

TEST_F(MemberTableTest, RemovedListenerIsNotCalled) {
  int calls = 0;
  const auto id = table_.add_listener([&](const std::optional<Member>&, const Member&) { ++calls; });
  table_.apply(Make("10.0.0.2", 9000, 1));
  table_.remove_listener(id);
  table_.apply(Make("10.0.0.3", 9000, 1));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(changes_.size(), 2u);
}

TEST(MemberTableConcurrency, ListenersSeeEveryChangeFromEveryThread) {
  MemberTable table(Make("10.0.0.1", 9000, 1));
  std::atomic<int> calls{0};
  table.add_listener([&](const std::optional<Member>&, const Member&) { ++calls; });
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&table, t] {
      for (int i = 0; i < 200; ++i) {
        table.apply(Make("10.1." + std::to_string(t) + "." + std::to_string(i), 9000, 1));
        table.set_self_metadata("k" + std::to_string(t), std::to_string(i));
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(table.all().size(), 801u);
  EXPECT_EQ(calls.load(), 1600);
  EXPECT_EQ(table.self().incarnation, 801);
}

TEST(MemberTable, RejectsSelfWithoutLocation) {
  EXPECT_THROW(MemberTable(Make("", 9000, 1)), std::invalid_argument);
  EXPECT_THROW(MemberTable(Make("10.0.0.1", 0, 1)), std::invalid_argument);
}

}  // namespace
}  // namespace thrifty::membership
