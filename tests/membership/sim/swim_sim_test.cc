// Deterministic simulations of the SWIM detector: crash detection, packet loss, partitions
// and healing, and the per-member cost as the cluster grows.
#include <glog/logging.h>
#include <gtest/gtest.h>

#include <algorithm>

#include "tests/membership/sim/sim_cluster.h"
#include "tests/membership/sim/sim_scenarios.h"

namespace thrifty::membership::sim {
namespace {

class SwimSimTest : public ::testing::Test {
 protected:
  void SetUp() override { FLAGS_minloglevel = 2; }  // thousands of simulated state changes
};

bool AllSee(SimCluster& cluster, MemberState::type state, const std::vector<size_t>& observers,
            const std::vector<size_t>& subjects) {
  for (size_t i : observers) {
    for (size_t j : subjects) {
      if (i != j && cluster.view(i, j) != state) return false;
    }
  }
  return true;
}

std::vector<size_t> Range(size_t from, size_t to) {
  std::vector<size_t> out;
  for (size_t i = from; i < to; ++i) out.push_back(i);
  return out;
}

// (a) A crashed member is DEAD on every live member within the bound computed from the
// configuration, and nobody else is declared dead.
TEST_F(SwimSimTest, CrashedMemberIsDeadEverywhereWithinBound) {
  for (size_t n : {10, 50, 200}) {
    SCOPED_TRACE("N=" + std::to_string(n));
    const ScaleResult r = MeasureScale(n, /*seed=*/7, /*steady_s=*/20);
    ASSERT_GE(r.last_dead_s, 0) << "not every live member marked the crashed one DEAD within "
                                << r.bound_ms << " ms";
    EXPECT_LE(r.last_dead_s * 1000, static_cast<double>(r.bound_ms));
    EXPECT_LE(r.first_dead_s, r.last_dead_s);
    EXPECT_EQ(r.false_deaths, 0);
    // In practice detection is much faster than the worst case: the first of N-1 probers
    // comes early, and the news of the suspicion reaches everyone well within the Lifeguard
    // maximum. Deterministic for the seed; a regression in dissemination shows here.
    SwimConfig config;
    const int64_t s_max = config.suspicion_max_timeout_mult *
                          SuspicionMinTimeoutMs(config.suspicion_mult, n, config.probe_interval_ms);
    EXPECT_LE(r.last_dead_s * 1000, static_cast<double>(s_max + 10 * config.probe_interval_ms));
  }
}

// (b) 10% packet loss and no failure: suspicions happen and are refuted, never a death.
TEST_F(SwimSimTest, PacketLossCausesNoDeaths) {
  SimOptions options;
  options.nodes = 100;
  options.seed = 11;
  options.loss = 0.10;
  SimCluster cluster(options);
  cluster.run_for(10 * 60 * 1000);
  int64_t deaths = 0;
  int64_t suspicions = 0;
  for (const auto& o : cluster.observations()) {
    if (o.state == MemberState::DEAD || o.state == MemberState::LEFT) ++deaths;
    if (o.state == MemberState::SUSPECT) ++suspicions;
  }
  EXPECT_EQ(deaths, 0);
  EXPECT_EQ(cluster.total("swim_deaths"), 0);
  // The loss is real: probes failed and members were suspected, then refuted.
  EXPECT_GT(cluster.total("swim_probe_failures"), 0);
  EXPECT_GT(suspicions, 0);
  EXPECT_GT(cluster.total("swim_refutations"), 0);
  // The simulated network loses and reorders but never duplicates: no packet of the members'
  // own is taken for a replay (or for stale by a full replay guard).
  EXPECT_EQ(cluster.total("swim_dropped_replay"), 0);
  EXPECT_EQ(cluster.total("swim_dropped_stale"), 0);
  // Once the network is clean again every suspicion is refuted everywhere.
  cluster.set_loss(0);
  const auto all = Range(0, cluster.size());
  EXPECT_TRUE(cluster.run_until([&] { return AllSee(cluster, MemberState::ALIVE, all, all); },
                                60'000));
  EXPECT_EQ(cluster.total("swim_deaths"), 0);
}

// (c) A partition long enough for each half to declare the other DEAD, then healed: push-pull
// with DEAD members lets the halves meet again, refutations raise the incarnations, and
// every member sees every other ALIVE.
TEST_F(SwimSimTest, HealedPartitionConverges) {
  SimOptions options;
  options.nodes = 40;
  options.seed = 5;
  SimCluster cluster(options);
  const size_t n = cluster.size();
  const auto left = Range(0, n / 2);
  const auto right = Range(n / 2, n);
  cluster.run_for(5'000);
  cluster.partition([n](size_t i) { return i < n / 2 ? 1 : 2; });
  const int64_t bound = CrashDetectionBoundMs(options.config, n);
  ASSERT_TRUE(cluster.run_until(
      [&] {
        return AllSee(cluster, MemberState::DEAD, left, right) &&
               AllSee(cluster, MemberState::DEAD, right, left);
      },
      bound))
      << "the halves did not declare each other DEAD within " << bound << " ms";
  // Within each half nobody died.
  EXPECT_TRUE(AllSee(cluster, MemberState::ALIVE, left, left));
  EXPECT_TRUE(AllSee(cluster, MemberState::ALIVE, right, right));

  cluster.heal();
  const int64_t healed_at = cluster.now();
  // Bound: within one dead push-pull interval every member has exchanged state with a member
  // of the other half (learning of its own death, so it refutes); the refutations then
  // spread by gossip and push-pull. Two intervals plus the suspicion maximum cover it.
  const SwimConfig& c = options.config;
  const int64_t heal_bound = 2 * std::max(c.dead_push_pull_interval_ms, c.push_pull_interval_ms) +
                             c.suspicion_max_timeout_mult *
                                 SuspicionMinTimeoutMs(c.suspicion_mult, n, c.probe_interval_ms);
  const auto all = Range(0, n);
  EXPECT_TRUE(cluster.run_until([&] { return AllSee(cluster, MemberState::ALIVE, all, all); },
                                heal_bound))
      << "not converged " << heal_bound << " ms after the heal";
  RecordProperty("heal_ms", std::to_string(cluster.now() - healed_at));
  // And it stays that way.
  cluster.run_for(30'000);
  EXPECT_TRUE(AllSee(cluster, MemberState::ALIVE, all, all));
}

// (d) The cost per member stays flat as the cluster grows: about one PING and one ACK per
// member per period, whatever N.
TEST_F(SwimSimTest, MessagesPerMemberStayConstant) {
  std::vector<ScaleResult> results;
  for (size_t n : {10, 50, 200}) results.push_back(MeasureScale(n, /*seed=*/3, /*steady_s=*/30));
  for (const auto& r : results) {
    SCOPED_TRACE("N=" + std::to_string(r.n));
    EXPECT_GE(r.packets_per_member_per_period, 1.8);
    EXPECT_LE(r.packets_per_member_per_period, 2.5);
    EXPECT_LE(r.packets_per_member_per_period_crash, 4.0);
  }
  EXPECT_LE(results.back().packets_per_member_per_period,
            1.25 * results.front().packets_per_member_per_period);
  // Detection time grows with log N (the suspicion timeout), not with N.
  EXPECT_LE(results.back().last_dead_s, 4 * results.front().last_dead_s);
}

}  // namespace
}  // namespace thrifty::membership::sim
