// The detector's parts: configuration, broadcast queue, Lifeguard suspicion and awareness.
#include <gtest/gtest.h>

#include <cmath>

#include "locator/membership/awareness.h"
#include "locator/membership/broadcast_queue.h"
#include "locator/membership/member_table.h"
#include "locator/membership/suspicion.h"
#include "locator/membership/swim_config.h"

namespace thrifty::membership {
namespace {

wire::MemberUpdate Update(int member, int64_t incarnation,
                         MemberState::type state = MemberState::ALIVE) {
  wire::MemberUpdate u;
  u.member.location.address = "10.0.0." + std::to_string(member);
  u.member.location.port = 9000;
  u.member.incarnation = incarnation;
  u.member.state = state;
  return u;
}

std::vector<std::string> Names(const std::vector<wire::MemberUpdate>& updates) {
  std::vector<std::string> out;
  for (const auto& u : updates) {
    out.push_back(MemberName(u.member.location) + "@" + std::to_string(u.member.incarnation));
  }
  return out;
}

TEST(SwimConfig, DefaultsAreValidAndMatchTheLanProfile) {
  const SwimConfig c;
  EXPECT_EQ(c.validate(), "");
  EXPECT_EQ(c.probe_interval_ms, 1000);
  EXPECT_EQ(c.probe_timeout_ms, 500);
  EXPECT_EQ(c.indirect_checks, 3);
  EXPECT_EQ(c.suspicion_mult, 4);
  EXPECT_EQ(c.suspicion_max_timeout_mult, 6);
  EXPECT_EQ(c.retransmit_mult, 4);
  EXPECT_EQ(c.packet_size_limit, 1400u);
  EXPECT_EQ(c.push_pull_interval_ms, 30000);
  EXPECT_EQ(c.awareness_max_multiplier, 8);
  EXPECT_EQ(c.replay_guard_capacity, 65536u);
}

TEST(SwimConfig, ValidationNamesTheBadField) {
  SwimConfig c;
  c.probe_timeout_ms = 1000;
  EXPECT_EQ(c.validate(),
            "swim config: probe_timeout_ms must be shorter than probe_interval_ms (1000) to "
            "leave time for indirect probes");
  c = SwimConfig();
  c.packet_size_limit = 100;
  EXPECT_EQ(c.validate(), "swim config: packet_size_limit must be in [256, 65507] (a UDP payload)");
  c = SwimConfig();
  c.replay_guard_capacity = 100;
  EXPECT_NE(c.validate().find("replay_guard_capacity"), std::string::npos);
  c = SwimConfig();
  c.suspicion_mult = 0;
  EXPECT_NE(c.validate().find("suspicion_mult"), std::string::npos);
  c = SwimConfig();
  c.probe_interval_ms = 0;
  EXPECT_NE(c.validate().find("probe_interval_ms must be > 0"), std::string::npos);
  c = SwimConfig();
  c.push_pull_interval_ms = 0;
  EXPECT_EQ(c.validate(), "") << "0 disables push-pull";
}

TEST(SwimConfig, DerivedTimeoutsAndLimits) {
  // memberlist: mult * max(1, log10(n)) * interval.
  EXPECT_EQ(SuspicionMinTimeoutMs(4, 1, 1000), 4000);
  EXPECT_EQ(SuspicionMinTimeoutMs(4, 10, 1000), 4000);
  EXPECT_EQ(SuspicionMinTimeoutMs(4, 100, 1000), 8000);
  EXPECT_EQ(SuspicionMinTimeoutMs(4, 200, 1000), 9204);
  EXPECT_EQ(SuspicionMinTimeoutMs(5, 1000, 200), 3000);
  // mult * ceil(log10(n + 1)).
  EXPECT_EQ(RetransmitLimit(4, 1), 4);
  EXPECT_EQ(RetransmitLimit(4, 9), 4);
  EXPECT_EQ(RetransmitLimit(4, 10), 8);
  EXPECT_EQ(RetransmitLimit(4, 99), 8);
  EXPECT_EQ(RetransmitLimit(4, 200), 12);
  EXPECT_EQ(RetransmitLimit(4, 0), 1) << "never zero";
}

TEST(BroadcastQueue, NewerNewsReplacesOlderAboutTheSameMember) {
  BroadcastQueue q;
  EXPECT_TRUE(q.enqueue(Update(1, 5), 10));
  EXPECT_TRUE(q.enqueue(Update(2, 5), 10));
  EXPECT_TRUE(q.enqueue(Update(1, 5, MemberState::SUSPECT), 10));
  EXPECT_EQ(q.size(), 2u);
  EXPECT_EQ(q.pending("10.0.0.1:9000")->member.state, MemberState::SUSPECT);
  // Older news is dropped: lower incarnation, or the same with an earlier state.
  EXPECT_FALSE(q.enqueue(Update(1, 4, MemberState::DEAD), 10));
  EXPECT_FALSE(q.enqueue(Update(1, 5, MemberState::ALIVE), 10));
  EXPECT_EQ(q.pending("10.0.0.1:9000")->member.state, MemberState::SUSPECT);
  EXPECT_TRUE(q.enqueue(Update(1, 6), 10)) << "the refutation";
  EXPECT_EQ(q.pending("10.0.0.1:9000")->member.incarnation, 6);
  EXPECT_EQ(q.pending("10.0.0.9:9000"), nullptr);
}

TEST(BroadcastQueue, LeastSentFirstThenNewestFirst) {
  BroadcastQueue q;
  q.enqueue(Update(1, 1), 10);
  q.enqueue(Update(2, 1), 10);
  EXPECT_EQ(Names(q.take(10, 5)), (std::vector<std::string>{"10.0.0.2:9000@1"}));
  q.enqueue(Update(3, 1), 10);
  // 3 and 1 were never sent (3 is newer), 2 was sent once.
  EXPECT_EQ(Names(q.take(1000, 5)),
            (std::vector<std::string>{"10.0.0.3:9000@1", "10.0.0.1:9000@1", "10.0.0.2:9000@1"}));
  EXPECT_EQ(q.transmits("10.0.0.2:9000"), 2);
  EXPECT_EQ(q.transmits("10.0.0.1:9000"), 1);
  // A replacement starts from zero and goes first.
  q.enqueue(Update(2, 2), 10);
  EXPECT_EQ(Names(q.take(10, 5)), (std::vector<std::string>{"10.0.0.2:9000@2"}));
}

TEST(BroadcastQueue, SkipsWhatDoesNotFitAndKeepsIt) {
  BroadcastQueue q;
  q.enqueue(Update(1, 1), 100);
  q.enqueue(Update(2, 1), 30);
  q.enqueue(Update(3, 1), 50);  // newest
  EXPECT_EQ(Names(q.take(85, 5)),
            (std::vector<std::string>{"10.0.0.3:9000@1", "10.0.0.2:9000@1"}));
  EXPECT_EQ(q.transmits("10.0.0.1:9000"), 0);
  EXPECT_TRUE(q.take(0, 5).empty());
  EXPECT_EQ(Names(q.take(100, 5)), (std::vector<std::string>{"10.0.0.1:9000@1"}));
}

TEST(BroadcastQueue, EachUpdateIsSentLimitTimes) {
  BroadcastQueue q;
  q.enqueue(Update(1, 1), 10);
  q.enqueue(Update(2, 1), 10);
  int sent = 0;
  for (int round = 0; round < 10; ++round) sent += static_cast<int>(q.take(1000, 3).size());
  EXPECT_EQ(sent, 6);
  EXPECT_TRUE(q.empty());
}

TEST(Suspicion, TimeoutShrinksFromMaxToMinWithConfirmations) {
  const int64_t min = 10'000, max = 60'000;
  EXPECT_EQ(Suspicion::Timeout(0, 3, min, max), max);
  EXPECT_EQ(Suspicion::Timeout(3, 3, min, max), min);
  // memberlist: max - log(c + 1) / log(k + 1) * (max - min), floored to ms.
  const double expected = 60'000 - std::log(2.0) / std::log(4.0) * 50'000;
  EXPECT_EQ(Suspicion::Timeout(1, 3, min, max), static_cast<int64_t>(std::floor(expected)));
  EXPECT_GT(Suspicion::Timeout(1, 3, min, max), Suspicion::Timeout(2, 3, min, max));
  EXPECT_EQ(Suspicion::Timeout(9, 3, min, max), min) << "never below min";
  EXPECT_EQ(Suspicion::Timeout(0, 0, min, max), min) << "no confirmations expected";
}

TEST(Suspicion, OnlyDistinctNewWitnessesConfirm) {
  Suspicion s("a", 2, 10'000, 60'000, 1'000);
  EXPECT_EQ(s.deadline_ms(), 61'000);
  EXPECT_FALSE(s.confirm("a")) << "the starter";
  EXPECT_TRUE(s.confirm("b"));
  EXPECT_FALSE(s.confirm("b")) << "a repeat";
  const int64_t after_one = s.deadline_ms();
  EXPECT_LT(after_one, 61'000);
  EXPECT_TRUE(s.confirm("c"));
  EXPECT_EQ(s.deadline_ms(), 11'000);
  EXPECT_FALSE(s.confirm("d")) << "k reached";
  EXPECT_EQ(s.confirmations(), 2);
}

TEST(Awareness, ScoreIsClampedAndScalesTimeouts) {
  Awareness a(8);
  EXPECT_EQ(a.score(), 0);
  EXPECT_EQ(a.scale(500), 500);
  a.apply_delta(-1);
  EXPECT_EQ(a.score(), 0);
  a.apply_delta(3);
  EXPECT_EQ(a.score(), 3);
  EXPECT_EQ(a.scale(1000), 4000);
  a.apply_delta(100);
  EXPECT_EQ(a.score(), 7);
  EXPECT_EQ(a.scale(1000), 8000) << "at most the max multiplier";
  a.apply_delta(-2);
  EXPECT_EQ(a.score(), 5);
  Awareness one(1);
  one.apply_delta(5);
  EXPECT_EQ(one.score(), 0) << "max 1: awareness off";
}

}  // namespace
}  // namespace thrifty::membership
